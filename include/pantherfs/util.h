/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every layer: strings, names, time, files.
 * All return 0 or -errno unless documented otherwise; returned strings are
 * malloc'd and owned by the caller.
 */
#ifndef PANTHERFS_UTIL_H
#define PANTHERFS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "pantherfs/buf.h"

#define PFS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PFS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PFS_MAX(a, b) ((a) > (b) ? (a) : (b))

/* malloc'd formatted string, NULL on allocation failure. */
char *pfs_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A test or service name: 1-64 characters of [A-Za-z0-9._-], not starting
 * with '.' or '-' (the contract's rule for mkdir and config names).
 */
bool pfs_name_valid(const char *name);

/* "2026-11-26T09:33:27.123456Z" (UTC, microseconds) into out (>= 32 bytes). */
void pfs_time_format(const struct timespec *ts, char *out, size_t outlen);
uint64_t pfs_now_ms(void);     /* CLOCK_MONOTONIC in milliseconds */
uint64_t pfs_wall_ms(void);    /* CLOCK_REALTIME in milliseconds */

/* strtol with full-string and range checks. */
int pfs_parse_long(const char *s, long min, long max, long *out);

/* Reads a whole file into b (which must be empty); -EFBIG past b's cap. */
int pfs_read_file(const char *path, struct pfs_buf *b);
/* Writes tmp file, fsyncs it, renames over path, fsyncs the directory. */
int pfs_write_file_atomic(const char *path, const void *data, size_t len);
/*
 * Like pfs_write_file_atomic without the fsyncs: readers see the old or the
 * new content, never a mix, and the order of syscalls survives a killed
 * process (not a power cut). For files rewritten often (positions).
 */
int pfs_write_file_replace(const char *path, const void *data, size_t len);
/* Appends and fsyncs (datasync); creates the file with 0644 when missing. */
int pfs_append_file(const char *path, const void *data, size_t len);
/* write(2) until done, retrying EINTR. */
int pfs_write_all(int fd, const void *data, size_t len);
int pfs_mkdir_p(const char *path, mode_t mode);
/* Recursive remove; a missing path is success. */
int pfs_rm_rf(const char *path);

/*
 * POSIX shell quoting for one word: returned unchanged when it only holds
 * [A-Za-z0-9_@%+=:,./-] and is not empty, else in single quotes with ' as
 * '\''. Appends to b.
 */
int pfs_shell_quote(struct pfs_buf *b, const char *word);

/* Lowercase hex SHA-256 of data into out (65 bytes). */
void pfs_sha256_hex(const void *data, size_t len, char out[65]);

#endif
