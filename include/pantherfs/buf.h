/* SPDX-License-Identifier: MIT */
/*
 * pfs_buf: a growable byte buffer with a hard size cap.
 *
 * Modelled on curl's dynbuf. Every buffer is created with a cap; input from
 * outside (HTTP bodies, YAML files, log lines) can never grow it beyond that.
 *
 * Invariants:
 *  - ptr is NULL until the first append, afterwards always NUL-terminated
 *    (the NUL is not counted in len), so pfs_buf_str() is always a C string.
 *  - len <= cap at all times.
 *  - A failed append (-ENOMEM, or -E2BIG when the cap would be exceeded)
 *    FREES the buffer and leaves it empty, like curl's Curl_dyn_add(). The
 *    caller reports the error; it never continues with a half-built value.
 *
 * Ownership: the buffer owns ptr. pfs_buf_steal() hands it to the caller
 * (free() it) and leaves the buffer empty and reusable.
 */
#ifndef PANTHERFS_BUF_H
#define PANTHERFS_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

struct pfs_buf {
	char *ptr;
	size_t len;
	size_t alloc;
	size_t cap;
};

#define PFS_BUF_INIT(c) { NULL, 0, 0, (c) }

void pfs_buf_init(struct pfs_buf *b, size_t cap);
/* Frees the memory; the buffer can be used again (same cap). NULL is fine. */
void pfs_buf_release(struct pfs_buf *b);
/* Empties the buffer but keeps its memory. */
void pfs_buf_reset(struct pfs_buf *b);

int pfs_buf_add(struct pfs_buf *b, const void *data, size_t len);
int pfs_buf_addstr(struct pfs_buf *b, const char *s);
int pfs_buf_addc(struct pfs_buf *b, char c);
int pfs_buf_printf(struct pfs_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int pfs_buf_vprintf(struct pfs_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Drops the first n bytes (n > len drops everything). */
void pfs_buf_consume(struct pfs_buf *b, size_t n);
/* Shortens to n bytes; n >= len is a no-op. */
void pfs_buf_truncate(struct pfs_buf *b, size_t n);
/*
 * Writes len bytes at off as pwrite(2) would, zero-filling a gap: -EINVAL
 * for off < 0, -EFBIG past the cap (nothing changed), -ENOMEM (freed, as
 * any failed append).
 */
int pfs_buf_pwrite(struct pfs_buf *b, const void *data, size_t len, off_t off);

/* Always a valid C string ("" for an empty buffer); owned by the buffer. */
const char *pfs_buf_str(const struct pfs_buf *b);
static inline size_t pfs_buf_len(const struct pfs_buf *b) { return b->len; }

/*
 * Hands the memory to the caller (NUL-terminated, never NULL: an empty buffer
 * yields a fresh ""). Returns NULL only on allocation failure. *len may be NULL.
 */
char *pfs_buf_steal(struct pfs_buf *b, size_t *len);

#endif
