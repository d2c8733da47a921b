// SPDX-License-Identifier: MIT
#include "stress.h"

int main(void)
{
	printf("stress_ww_mutex: ok (not written yet)\n");
	return 0;
}
