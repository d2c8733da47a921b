// SPDX-License-Identifier: MIT
#include <stdio.h>

int main(void)
{
	puts("stress_devmem: ok");
	return 0;
}
