/* SPDX-License-Identifier: MIT */
/*
 * Capped growable buffer. Growth doubles from 64 bytes, clamped to cap + 1
 * (room for the NUL), so a buffer near its cap never over-allocates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pantherfs/buf.h"
#include "pantherfs/banned.h"

void pfs_buf_init(struct pfs_buf *b, size_t cap)
{
	b->ptr = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void pfs_buf_release(struct pfs_buf *b)
{
	if (!b)
		return;
	free(b->ptr);
	b->ptr = NULL;
	b->len = 0;
	b->alloc = 0;
}

void pfs_buf_reset(struct pfs_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

static int grow(struct pfs_buf *b, size_t extra)
{
	size_t need, a;
	char *p;

	if (extra > b->cap || b->len > b->cap - extra) {
		pfs_buf_release(b);
		return -E2BIG;
	}
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	a = b->alloc ? b->alloc : 64;
	while (a < need)
		a = a > ((size_t)-1) / 2 ? need : a * 2;
	if (a > b->cap + 1)
		a = b->cap + 1;
	p = realloc(b->ptr, a);
	if (!p) {
		pfs_buf_release(b);
		return -ENOMEM;
	}
	b->ptr = p;
	b->alloc = a;
	return 0;
}

int pfs_buf_add(struct pfs_buf *b, const void *data, size_t len)
{
	int r = grow(b, len);

	if (r < 0)
		return r;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int pfs_buf_addstr(struct pfs_buf *b, const char *s)
{
	return pfs_buf_add(b, s, strlen(s));
}

int pfs_buf_addc(struct pfs_buf *b, char c)
{
	return pfs_buf_add(b, &c, 1);
}

int pfs_buf_vprintf(struct pfs_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, r;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		pfs_buf_release(b);
		return -EINVAL;
	}
	r = grow(b, (size_t)n);
	if (r < 0)
		return r;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int pfs_buf_printf(struct pfs_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = pfs_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void pfs_buf_consume(struct pfs_buf *b, size_t n)
{
	if (n >= b->len) {
		pfs_buf_reset(b);
		return;
	}
	memmove(b->ptr, b->ptr + n, b->len - n);
	b->len -= n;
	b->ptr[b->len] = '\0';
}

void pfs_buf_truncate(struct pfs_buf *b, size_t n)
{
	if (n >= b->len)
		return;
	b->len = n;
	b->ptr[n] = '\0';
}

const char *pfs_buf_str(const struct pfs_buf *b)
{
	return b->ptr ? b->ptr : "";
}

char *pfs_buf_steal(struct pfs_buf *b, size_t *len)
{
	char *p = b->ptr;

	if (!p) {
		p = calloc(1, 1);
		if (!p)
			return NULL;
	}
	if (len)
		*len = b->len;
	b->ptr = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}

int pfs_buf_pwrite(struct pfs_buf *b, const void *data, size_t len, off_t off)
{
	size_t end, overlap;

	if (off < 0)
		return -EINVAL;
	if ((size_t)off > b->cap || len > b->cap - (size_t)off)
		return -EFBIG;
	end = (size_t)off + len;
	while (b->len < (size_t)off)
		if (pfs_buf_addc(b, '\0') < 0)
			return -ENOMEM;
	if (!len)
		return 0; /* a truncate that grows: done above; b->ptr may still be NULL */
	if (end <= b->len) {
		memcpy(b->ptr + off, data, len);
		return 0;
	}
	overlap = b->len - (size_t)off;
	/* an empty buffer has no memory yet: memcpy must not see its NULL */
	if (overlap)
		memcpy(b->ptr + off, data, overlap);
	return pfs_buf_add(b, (const char *)data + overlap, len - overlap);
}
