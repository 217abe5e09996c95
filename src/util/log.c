/* SPDX-License-Identifier: MIT */
/*
 * The process's log sink. Formats into a stack buffer and writes the line
 * with a single write(2), so lines from different threads never interleave.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <fuse_log.h>

#include "pantherfs/log.h"
#include "pantherfs/banned.h"

int pfs_log_max_level = PFS_LOG_NOTICE;
static int use_syslog;

void pfs_log_set_level(enum pfs_log_level lvl)
{
	pfs_log_max_level = (int)lvl;
}

void pfs_log_use_syslog(int on)
{
	use_syslog = on;
	if (on)
		openlog("pantherfs", LOG_PID, LOG_DAEMON);
}

static const char *level_name(enum pfs_log_level lvl)
{
	switch (lvl) {
	case PFS_LOG_ERR: return "error";
	case PFS_LOG_WARNING: return "warning";
	case PFS_LOG_NOTICE: return "notice";
	case PFS_LOG_INFO: return "info";
	case PFS_LOG_DEBUG: return "debug";
	}
	return "log";
}

void pfs_log_vwrite(enum pfs_log_level lvl, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int k;

	if ((int)lvl > pfs_log_max_level)
		return;
	if (use_syslog) {
		vsyslog((int)lvl, fmt, ap);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%03ld pantherfs %s: ",
		     ts.tv_nsec / 1000000, level_name(lvl));
	if (k > 0)
		n += (size_t)k;
	if (n < sizeof(line)) {
		k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (k > 0)
			n += (size_t)k;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (n > 0 && line[n - 1] == '\n')
		n--;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}

void pfs_log_write(enum pfs_log_level lvl, const char *file, int line,
		   const char *fmt, ...)
{
	va_list ap;

	(void)file;
	(void)line;
	va_start(ap, fmt);
	pfs_log_vwrite(lvl, fmt, ap);
	va_end(ap);
}

/* libfuse's lines end in a newline of their own; ours add one. */
static void fuse_sink(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if ((int)level > pfs_log_max_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	pfs_log_write((enum pfs_log_level)(level < FUSE_LOG_ERR ? FUSE_LOG_ERR : level), "libfuse", 0, "fuse: %s", line);
}

void pfs_log_install_fuse_sink(void)
{
	fuse_set_log_func(fuse_sink);
}
