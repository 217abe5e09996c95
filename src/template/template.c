/* SPDX-License-Identifier: MIT */
/*
 * Template entry points and the compile-time arena.
 *
 * The source copy has its line endings normalized to "\n" like Jinja's
 * lexer does, so text, messages and whitespace control see one kind of
 * newline.
 *
 * All nodes of a template come from one arena so that the parser can bail
 * out of any depth with a plain return: tmpl_free() releases everything, and
 * no node needs its own destructor. The source is validated as UTF-8 up
 * front, so that every string the renderer builds from it is valid UTF-8 and
 * jansson never has to reject one halfway through a render.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_internal.h"
#include "pantherfs/banned.h"

#define ARENA_CHUNK 16384u

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	alignas(max_align_t) unsigned char data[];
};

void *tmpl_alloc(struct tmpl *t, size_t n)
{
	struct arena_chunk *c = t->arena;
	size_t a = alignof(max_align_t);

	n = (n + a - 1) / a * a;
	if (!c || c->size - c->used < n) {
		size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->used = 0;
		c->size = size;
		/* a big one-off block goes behind the current chunk, keeping its room */
		if (n > ARENA_CHUNK && t->arena) {
			c->next = t->arena->next;
			t->arena->next = c;
		} else {
			c->next = t->arena;
			t->arena = c;
		}
	}
	c->used += n;
	return memset(c->data + c->used - n, 0, n);
}

char *tmpl_strndup(struct tmpl *t, const char *s, size_t n)
{
	char *p = tmpl_alloc(t, n + 1);

	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int tmpl_errorf(struct pfs_err *err, int code, const char *name, int line, const char *fmt, ...)
{
	char msg[PFS_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pfs_err_set(err, code, "%s:%d: %s", name, line, msg);
}

size_t tmpl_utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		return 2;
	if ((c & 0xf0) == 0xe0)
		return 3;
	if ((c & 0xf8) == 0xf0)
		return 4;
	return 1;
}

/* Length of the valid UTF-8 sequence at s (avail bytes), 0 when invalid. */
static size_t utf8_valid_seq(const unsigned char *s, size_t avail)
{
	size_t n = tmpl_utf8_len(s[0]);
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (n == 1 || s[0] > 0xf4 || avail < n)
		return 0;
	cp = s[0] & (0x7f >> n);
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), no NUL. */
static int check_source(const struct tmpl *t, struct pfs_err *err)
{
	const unsigned char *s = (const unsigned char *)t->src;
	int line = 1;

	for (size_t i = 0; i < t->len;) {
		size_t n = utf8_valid_seq(s + i, t->len - i);

		if (s[i] == 0)
			return tmpl_errorf(err, -EINVAL, t->name, line, "NUL byte in template");
		if (n == 0)
			return tmpl_errorf(err, -EINVAL, t->name, line, "invalid UTF-8");
		if (s[i] == '\n')
			line++;
		i += n;
	}
	return 0;
}

void tmpl_free(struct tmpl *t)
{
	struct arena_chunk *c, *next;

	if (!t)
		return;
	for (c = t->arena; c; c = next) {
		next = c->next;
		free(c);
	}
	free(t->name);
	free(t->src);
	free(t);
}

int tmpl_compile(const char *name, const char *src, size_t len, const struct tmpl_opts *opts,
		 struct tmpl **out, struct pfs_err *err)
{
	struct tmpl *t = NULL;
	int r;

	if (!name)
		name = "<template>";
	if (!out || (!src && len))
		return pfs_err_set(err, -EINVAL, "%s: tmpl_compile: invalid arguments", name);
	*out = NULL;
	if (len > TMPL_MAX_SOURCE)
		return pfs_err_set(err, -E2BIG, "%s: template larger than %u bytes", name,
				   TMPL_MAX_SOURCE);
	t = calloc(1, sizeof(*t));
	if (t) {
		t->name = strdup(name);
		t->src = malloc(len + 1);
	}
	if (!t || !t->name || !t->src) {
		r = pfs_err_set(err, -ENOMEM, "%s: out of memory", name);
		goto out;
	}
	t->len = 0;
	for (size_t i = 0; i < len; i++) { /* \r\n and \r become \n, as in Jinja */
		if (src[i] == '\r' && i + 1 < len && src[i + 1] == '\n')
			continue;
		t->src[t->len++] = src[i] == '\r' ? '\n' : src[i];
	}
	t->src[t->len] = '\0';
	t->opts = opts ? *opts : (struct tmpl_opts){ .trim_blocks = true, .lstrip_blocks = true };
	r = check_source(t, err);
	if (r == 0)
		r = tmpl_parse(t, err);
	if (r < 0)
		goto out;
	*out = t;
	t = NULL;
out:
	tmpl_free(t);
	return r;
}

int tmpl_render_string(const char *name, const char *src, json_t *ctx, struct pfs_buf *out,
		       struct pfs_err *err)
{
	struct tmpl *t = NULL;
	int r;

	if (!src)
		return pfs_err_set(err, -EINVAL, "%s: tmpl_render_string: no source",
				   name ? name : "<template>");
	r = tmpl_compile(name, src, strlen(src), NULL, &t, err);
	if (r == 0)
		r = tmpl_render(t, ctx, out, err);
	tmpl_free(t);
	return r;
}
