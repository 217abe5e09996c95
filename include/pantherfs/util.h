/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every layer: strings, names, time, files.
 * All return 0 or -errno unless documented otherwise; returned strings are
 * malloc'd and owned by the caller.
 */
#ifndef PANTHERFS_UTIL_H
#define PANTHERFS_UTIL_H

#include <stdarg.h>
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
/* The wall clock now (CLOCK_REALTIME), for mtimes. */
void pfs_realtime_ts(struct timespec *ts);
char *pfs_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *pfs_strdup_vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Frees a NULL-terminated vector of malloc'd strings and the vector (NULL is fine). */
void pfs_strv_free(char **v);

/*
 * A NULL-terminated vector of malloc'd strings being built: zero-initialise
 * it, push, then take the vector (the caller owns it, frees it with
 * pfs_strv_free) or release what was pushed. Not locked: one owner.
 */
struct pfs_strv {
	char **v;          /* NULL-terminated once something was pushed */
	size_t n, alloc;
};
/* Appends str and owns it: on failure str is freed. str NULL (a failed strdup): -ENOMEM. */
int pfs_strv_push_owned(struct pfs_strv *s, char *str);
/* Appends a copy of str. 0 or -ENOMEM. */
int pfs_strv_push(struct pfs_strv *s, const char *str);
/* The vector (empty, not NULL, when nothing was pushed; NULL only when out of memory); s is emptied. */
char **pfs_strv_take(struct pfs_strv *s);
/* Frees what was pushed; s is emptied. */
void pfs_strv_release(struct pfs_strv *s);
/* Appends item (owned; freed on failure) to a plain NULL-terminated vector *v (NULL is empty). */
int pfs_strv_append(char ***v, char *item);

/*
 * A test or service name: 1-64 characters of [A-Za-z0-9._-], not starting
 * with '.' or '-' (the contract's rule for mkdir and config names).
 */
bool pfs_name_valid(const char *name);
/*
 * A name users may give a file of their own in a test's directory (an
 * editor's scratch file): 1-255 bytes, no '/', no control character, not
 * "." or "..". Dots and dashes may lead (.config.yaml.swp, .#config.yaml).
 */
bool pfs_name_valid_file(const char *name);

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
/*
 * Overwrites the first len bytes of path in place (creating it 0644), with
 * no temp file and no rename: a small record rewritten many times a second
 * costs one pwrite, where a rename costs a journal commit. A reader sees
 * the old or the new record (one write of less than a page); the caller
 * writes every record at the same length, or pads it, so no tail of a
 * longer one is left behind.
 */
int pfs_write_file_inplace(const char *path, const void *data, size_t len);
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

/*
 * Text for showing (src/util/escape.c): every control character escaped so
 * that nothing a terminal acts on is ever shown raw, and one line stays one
 * line. LF, CR, tab and ESC become \n \r \t \e; other C0 controls and DEL
 * \xNN; C1 controls (U+0080-U+009F) and the bidirectional overrides and
 * isolates (U+202A-U+202E, U+2066-U+2069) \uNNNN; a byte that is not part
 * of well-formed UTF-8 \xNN. Everything else passes unchanged, backslashes
 * included: text without controls is shown exactly as it is (a shell-quoted
 * command stays copy-pastable), so the escaping is for reading, not
 * reversible.
 *
 * PFS_ESC_KEEP_NL keeps '\n' (a multi-line file such as `error`).
 * pfs_escape_ctl() appends s[0..len) to b (which grows at most 6 bytes per
 * input byte); a failed append frees b, as every pfs_buf does.
 */
#define PFS_ESC_KEEP_NL 1u
int pfs_escape_ctl(struct pfs_buf *b, const char *s, size_t len, unsigned flags);
/* The same as a new string (malloc'd; NULL s is ""), NULL on allocation failure. */
char *pfs_escape_ctl_dup(const char *s, unsigned flags);
/* Offset of the first byte pfs_escape_ctl() would escape (without flags), len when none. */
size_t pfs_find_ctl(const char *s, size_t len);

/* Lowercase hex SHA-256 of data into out (65 bytes). */
void pfs_sha256_hex(const void *data, size_t len, char out[65]);

#endif
