#include "h.h"
int g;
int f(int x)
{
	if (x > 3)
		g++;
	return x * 2;
}
int sum(const int *v, int n)
{
	int t = 0;
	for (int i = 0; i < n; i++)
		t += clamp(v[i]);
	return t;
}
