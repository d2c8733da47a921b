// SPDX-License-Identifier: MIT
/*
 * The `sudo` that `devmem run` puts first in PATH, so that a program's
 * `sudo ethtool ...` reaches the `ethtool` stand-in next to it (the
 * software NIC needs no privilege: it is the program's own).
 *
 * `sudo [options] ethtool ARGS` runs ethtool (the stand-in, first in PATH)
 * itself. Any other command goes to the real sudo further along PATH; when
 * there is none, the command is run as the shell would run it.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether @dir is the directory this program runs from. */
static bool is_own_dir(const char *dir)
{
	char self[PATH_MAX], real[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return false;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = 0;
	return realpath(dir, real) && !strcmp(real, self);
}

/* The real sudo further along PATH, into @buf; false when there is none. */
static bool find_real(char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char *copy = strdup(path ? path : ""), *save = NULL;
	bool found = false;

	for (char *dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		if (!dir[0] || is_own_dir(dir))
			continue;
		snprintf(buf, len, "%s/sudo", dir);
		found = !access(buf, X_OK);
	}
	free(copy);
	return found;
}

/* sudo's options that take a value */
static bool takes_value(const char *opt)
{
	static const char *const with_value[] = { "-u", "-g", "-C", "-D", "-h",
						  "-p", "-r", "-t", "-T", "-U" };

	for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++) {
		if (!strcmp(opt, with_value[i]))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	char real[PATH_MAX];
	const char *base;
	int i = 1;

	/* skip sudo's own options: the command starts at the first other word */
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (takes_value(argv[i]))
			i++;
		i++;
	}
	if (i >= argc) {
		if (find_real(real, sizeof(real))) {
			argv[0] = real;
			execv(real, argv);
		}
		fprintf(stderr, "usage: sudo command\n");
		return 1;
	}
	base = strrchr(argv[i], '/');
	base = base ? base + 1 : argv[i];
	if (strcmp(base, "ethtool") && find_real(real, sizeof(real))) {
		argv[0] = real;
		execv(real, argv);
	}
	/* ethtool by name, so PATH (the stand-in first) decides which one */
	execvp(!strcmp(base, "ethtool") ? "ethtool" : argv[i], argv + i);
	if (errno == ENOENT) {
		fprintf(stderr, "sudo: %s: command not found\n", argv[i]);
		return 1;
	}
	fprintf(stderr, "sudo: unable to execute %s: %s\n", argv[i], strerror(errno));
	return 126;
}
