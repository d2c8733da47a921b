// SPDX-License-Identifier: MIT
#include "stress.h"

int main(void)
{
	printf("stress_vram: ok (not written yet)\n");
	return 0;
}
