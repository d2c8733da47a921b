// SPDX-License-Identifier: MIT
#include "stress.h"

int main(void)
{
	printf("stress_dma_resv: ok (not written yet)\n");
	return 0;
}
