static inline int clamp(int x)
{
	if (x < 0)
		return 0;
	return x > 100 ? 100 : x;
}
