// SPDX-License-Identifier: MIT
/*
 * devmem run: run a program written to the kernel's devmem interfaces on
 * the software path, unmodified. The program starts with
 * libdevmem-preload.so first in LD_PRELOAD (src/preload/preload.h says
 * what it answers); this command only finds the shim, sets the
 * environment it reads, and execs the program in its own place, so the
 * program's exit status and signals are its own.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "tool.h"

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: devmem run [-v] [--ifname IF[,IF...]] [--] PROGRAM [ARGS...]\n\n"
		"Run PROGRAM, written to the kernel's devmem interfaces (udmabuf, dma-heaps,\n"
		"generic netlink netdev and ethtool, SIOCETHTOOL, ethtool command lines,\n"
		"recvmsg(MSG_SOCK_DEVMEM), SO_DEVMEM_DONTNEED, sendmsg with SCM_DEVMEM_DMABUF),\n"
		"on libdevmem's software path.\n\n"
		"  -v, --verbose     one line on stderr for every call the software path answers\n"
		"  --ifname IF,...   answer for these interfaces only (default: every interface);\n"
		"                    the others are the kernel's\n"
		"  -h, --help        this text\n\n"
		"The exit status is PROGRAM's; 127 when it cannot be found, 126 when it\n"
		"cannot be run. DEVMEM_PRELOAD names another libdevmem-preload.so.\n");
}

static bool file_exists(const char *path)
{
	return access(path, R_OK) == 0;
}

/*
 * The shim: $DEVMEM_PRELOAD, else the one next to this command in the build
 * tree, else the installed one.
 */
static const char *find_preload(char *buf, size_t len)
{
	const char *env = getenv("DEVMEM_PRELOAD");
	char exe[PATH_MAX - 64];
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(buf, len, "%s/../src/libdevmem-preload.so", exe) < (int)len &&
			    file_exists(buf))
				return buf;
		}
	}
	snprintf(buf, len, "%s", DEVMEM_PRELOAD_INSTALLED);
	return file_exists(buf) ? buf : NULL;
}

/*
 * The ethtool and sudo stand-ins of the build tree when this command runs
 * from one (the shim knows the installed ones): DEVMEM_RUN_TOOLDIR, unless
 * the user set it.
 */
static int set_tooldir(void)
{
	char exe[PATH_MAX - 64], dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (getenv("DEVMEM_RUN_TOOLDIR") || n <= 0)
		return 0;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	snprintf(dir, sizeof(dir), "%s/preload/ethtool", exe);
	if (access(dir, X_OK))
		return 0;
	snprintf(dir, sizeof(dir), "%s/preload", exe);
	return setenv("DEVMEM_RUN_TOOLDIR", dir, 1) ? -errno : 0;
}

/* LD_PRELOAD with @first (and a sanitizer's runtime before it) ahead of what was there. */
static int set_preload(const char *first)
{
	const char *old = getenv("LD_PRELOAD");
	const char *runtime = DEVMEM_PRELOAD_RUNTIME;
	char *val;
	int err;

	if (asprintf(&val, "%s%s%s%s%s", runtime, *runtime ? ":" : "", first,
		     old && *old ? ":" : "", old && *old ? old : "") < 0)
		return -ENOMEM;
	err = setenv("LD_PRELOAD", val, 1) ? -errno : 0;
	free(val);
	return err;
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "ifname", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char path[PATH_MAX], ifaces[512] = "";
	const char *preload;
	bool verbose = false;
	int c, err;

	/* '+': stop at PROGRAM, whose own options are its own */
	while ((c = getopt_long(argc, argv, "+:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'v':
			verbose = true;
			break;
		case 'i':
			if (!*optarg)
				return usage_error("run", "--ifname needs an interface name");
			if (strlen(ifaces) + strlen(optarg) + 2 > sizeof(ifaces))
				return usage_error("run", "too many interfaces");
			if (*ifaces)
				strcat(ifaces, ",");
			strcat(ifaces, optarg);
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			return getopt_error("run", c, longopts, argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("run", "no program to run");
	preload = find_preload(path, sizeof(path));
	if (!preload) {
		msg("run: libdevmem-preload.so is neither next to this command nor at %s "
		    "(set DEVMEM_PRELOAD)",
		    DEVMEM_PRELOAD_INSTALLED);
		return EXIT_RUNTIME;
	}
	err = set_preload(preload);
	if (!err)
		err = set_tooldir();
	if (!err && verbose)
		err = setenv("DEVMEM_RUN_TRACE", "1", 1) ? -errno : 0;
	if (!err && *ifaces)
		err = setenv("DEVMEM_RUN_IFACES", ifaces, 1) ? -errno : 0;
	if (!err) {
		/* exec keeps the pid: the shim knows the program from its children */
		char pid[24];

		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		err = setenv("DEVMEM_RUN_PID", pid, 1) ? -errno : 0;
	}
	if (err)
		return sys_fail(err, "run: setting the environment");
	execvp(argv[optind], argv + optind);
	err = errno;
	msg("run: %s: %s", argv[optind], strerror(err));
	return err == ENOENT ? 127 : 126;
}
