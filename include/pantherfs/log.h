/* SPDX-License-Identifier: MIT */
/*
 * Logging: one sink for the whole process (stderr, or syslog for the daemon).
 *
 * The level is checked before any formatting happens, so debug calls on hot
 * paths cost one comparison when debug is off. The fs layer installs
 * pfs_log_install_fuse_sink() as libfuse's log function so everything lands here.
 * Thread-safe: one line is written with one write(2).
 */
#ifndef PANTHERFS_LOG_H
#define PANTHERFS_LOG_H

#include <stdarg.h>

enum pfs_log_level {
	PFS_LOG_ERR = 3,
	PFS_LOG_WARNING = 4,
	PFS_LOG_NOTICE = 5,
	PFS_LOG_INFO = 6,
	PFS_LOG_DEBUG = 7,
};

extern int pfs_log_max_level;

void pfs_log_set_level(enum pfs_log_level lvl);
/* true: lines go to syslog (daemon mode); false: to stderr. */
void pfs_log_use_syslog(int on);

void pfs_log_write(enum pfs_log_level lvl, const char *file, int line,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void pfs_log_vwrite(enum pfs_log_level lvl, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/*
 * Sends libfuse's own messages through this sink (its levels are syslog's),
 * so they reach syslog once the daemon has detached. Call before
 * fuse_session_new().
 */
void pfs_log_install_fuse_sink(void);

#define pfs_log(lvl, ...)                                                    \
	do {                                                                 \
		if ((int)(lvl) <= pfs_log_max_level)                          \
			pfs_log_write((lvl), __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#define pfs_err_log(...) pfs_log(PFS_LOG_ERR, __VA_ARGS__)
#define pfs_warn(...) pfs_log(PFS_LOG_WARNING, __VA_ARGS__)
#define pfs_info(...) pfs_log(PFS_LOG_INFO, __VA_ARGS__)
#define pfs_debug(...) pfs_log(PFS_LOG_DEBUG, __VA_ARGS__)

#endif
