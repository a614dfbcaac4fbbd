#include "h.h"
static int table[16];
static int __attribute__((noinline)) fill(int seed)
{
	for (int i = 0; i < 16; i++)
		table[i] = clamp(seed * i - 40);
	return table[seed & 15];
}
int bar(int x)
{
	switch (x & 3) {
	case 0:
		return fill(x);
	case 1:
		return fill(x + 1) * 3;
	default:
		return clamp(x);
	}
}
