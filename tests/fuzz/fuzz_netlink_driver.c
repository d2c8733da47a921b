// SPDX-License-Identifier: MIT
/*
 * A driver of LLVMFuzzerTestOneInput for builds without libFuzzer: random
 * inputs and inputs mutated from recorded kernel messages and from
 * requests the codec builds, with a fixed seed, bounded by a number of
 * iterations and a time limit, so the test suite runs it (also under
 * AddressSanitizer).
 *
 *   fuzz_netlink [ITERATIONS [SEED [SECONDS]]]
 *   fuzz_netlink --corpus DIR      write the seeds as files, a libFuzzer corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netlink/codec.h"
#include "netlink_corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

#define MAX_SEED 4096
#define NR_SEEDS 16

static uint8_t seeds[NR_SEEDS][MAX_SEED];
static size_t seed_len[NR_SEEDS];
static unsigned int nr_seeds;

static void add_seed(const void *data, int len)
{
	if (len <= 0 || nr_seeds == NR_SEEDS)
		return;
	if ((size_t)len > MAX_SEED)
		len = MAX_SEED;
	memcpy(seeds[nr_seeds], data, (size_t)len);
	seed_len[nr_seeds++] = (size_t)len;
}

/* Recorded kernel messages, and valid requests of both families. */
static void make_seeds(void)
{
	static uint8_t buf[MAX_SEED];
	struct nlc_queue_id q[3] = { { 0, 0 }, { 1, 0 }, { 7, 0 } };
	struct nlc_obj f = { 0 };
	struct nlc_msg m;

	for (size_t i = 0; i < sizeof(rec_msgs) / sizeof(rec_msgs[0]); i++)
		add_seed(rec_msgs[i].data, (int)rec_msgs[i].len);
	add_seed(buf, nlc_netdev_bind_rx_req(buf, sizeof(buf), 20, 1, 2, 3, q, 3, 8192));
	add_seed(buf, nlc_netdev_bind_tx_req(buf, sizeof(buf), 20, 1, 2, 3));
	f.present = 1u << NETDEV_A_QSTATS_IFINDEX | 1u << NETDEV_A_QSTATS_SCOPE;
	f.v[NETDEV_A_QSTATS_IFINDEX] = 1;
	f.v[NETDEV_A_QSTATS_SCOPE] = 1;
	add_seed(buf, nlc_netdev_get_req(buf, sizeof(buf), 20, 1, NETDEV_CMD_QSTATS_GET, true, &f));
	add_seed(buf, nlc_ethtool_features_set_req(buf, sizeof(buf), 21, 1, 2, "rx-gro", true));
	if (!nlc_ethtool_start(&m, buf, sizeof(buf), 21, 1, ETHTOOL_MSG_RINGS_SET, 2, 0)) {
		nlc_put_u8(&m, ETHTOOL_A_RINGS_TCP_DATA_SPLIT, 2);
		nlc_put_u32(&m, ETHTOOL_A_RINGS_HDS_THRESH, 0);
		add_seed(buf, nlc_msg_end(&m));
	}
}

static size_t mutate(uint8_t *data, size_t len, size_t cap)
{
	unsigned int n = 1 + (unsigned int)rnd_below(4);

	while (n--) {
		size_t at = rnd_below(len ? len : 1);

		switch (rnd_below(7)) {
		case 0: /* flip a bit */
			if (len)
				data[at] ^= (uint8_t)(1u << rnd_below(8));
			break;
		case 1: /* a random 16-bit value where lengths and types live */
			at &= ~(size_t)3;
			if (at + 2 <= len) {
				data[at] = (uint8_t)rnd();
				data[at + 1] = (uint8_t)rnd_below(3);
			}
			break;
		case 2: /* truncate */
			len = rnd_below(len + 1);
			break;
		case 3: /* extend with random bytes */
			while (len < cap && rnd_below(16))
				data[len++] = (uint8_t)rnd();
			break;
		case 4: /* an interesting value */
			if (at + 4 <= len) {
				static const uint32_t v[] = { 0,	  1,	  4,
							      0xffff,	  0x8000, 0xffffffff,
							      0x7fffffff, 4096,	  12 };

				memcpy(data + at, &v[rnd_below(sizeof(v) / sizeof(v[0]))], 4);
			}
			break;
		case 5: /* the message length follows the buffer, or not */
			if (len >= 4) {
				uint32_t l = (uint32_t)(rnd_below(2) ? len : rnd_below(len + 8));

				memcpy(data, &l, 4);
			}
			break;
		default: /* splice another seed in */
		{
			unsigned int s = (unsigned int)rnd_below(nr_seeds);
			size_t from = rnd_below(seed_len[s]),
			       n_copy = rnd_below(seed_len[s] - from + 1);

			if (at + n_copy > cap)
				n_copy = cap - at;
			memcpy(data + at, seeds[s] + from, n_copy);
			if (at + n_copy > len)
				len = at + n_copy;
			break;
		}
		}
	}
	return len;
}

static int write_corpus(const char *dir)
{
	char path[4096];

	for (unsigned int i = 0; i < nr_seeds; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-%02u", dir, i);
		f = fopen(path, "wb");
		if (!f || fwrite(seeds[i], 1, seed_len[i], f) != seed_len[i]) {
			perror(path);
			if (f)
				fclose(f);
			return 1;
		}
		fclose(f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long iterations = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5eed;
	double seconds = argc > 3 ? strtod(argv[3], NULL) : 30;
	static uint8_t input[MAX_SEED * 2];
	struct timespec start, now;
	unsigned long i;

	make_seeds();
	if (argc > 2 && !strcmp(argv[1], "--corpus"))
		return write_corpus(argv[2]);
	rnd_state = seed ? seed : 1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < iterations; i++) {
		size_t len;

		if (rnd_below(8) == 0) {
			len = rnd_below(256);
			for (size_t j = 0; j < len; j++)
				input[j] = (uint8_t)rnd();
		} else {
			unsigned int s = (unsigned int)rnd_below(nr_seeds);

			memcpy(input, seeds[s], seed_len[s]);
			len = mutate(input, seed_len[s], sizeof(input));
		}
		LLVMFuzzerTestOneInput(input, len);
		if ((i & 1023) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((double)(now.tv_sec - start.tv_sec) +
				    (double)(now.tv_nsec - start.tv_nsec) / 1e9 >
			    seconds)
				break;
		}
	}
	printf("fuzz_netlink: %lu inputs from %u seeds (seed 0x%llx), no fault\n", i, nr_seeds,
	       (unsigned long long)seed);
	return 0;
}
