/* SPDX-License-Identifier: MIT */
/*
 * yamltree: YAML through libyaml's event API into a jansson tree, plus side
 * tables of positions.
 *
 * Events rather than libyaml's document loader: the loader would build a
 * second whole tree before we could refuse anything; with events we build
 * the jansson tree in one pass and stop at the first problem (depth, size,
 * duplicate key) while libyaml has read only that far.
 *
 * Positions live beside the tree, not in it, so consumers use plain jansson.
 * Nodes are keyed by pointer (not chosen by the file: a cheap mix is enough).
 * Keys are keyed by (mapping, text), which a hostile file chooses: seeded
 * SipHash. Each key also records where its value is written, because
 * jansson's true/false/null are shared singletons a pointer cannot place.
 *
 * Aliases share the anchor's json_t, so memory stays linear, but whoever
 * walks the tree later (validation, templates, json_dumps) pays for the
 * expanded size and depth. So each anchor carries its expanded node count,
 * text bytes and height, and each alias adds them to the document's totals
 * before it is accepted ("billion laughs" stops at the first alias too many).
 *
 * UTF-8 and binary content are checked here before libyaml runs: libyaml
 * gives reader errors a byte offset only, and one pass here gives every such
 * error a line and column and the same wording.
 *
 * Nodes that end up outside the tree (merge values, anchored keys) are kept
 * alive in d->keep until ydoc_free(), so no pointer in the tables is reused.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l */
#endif
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <yaml.h>

#include "pantherfs/yamltree.h"
#include "pantherfs/banned.h"

_Static_assert(sizeof(json_int_t) >= sizeof(int64_t), "json_int_t must hold int64");

#define YTAG "tag:yaml.org,2002:"
#define QUOTE_CHARS 64          /* characters of a key/value shown in a message */
#define QUOTE_BUF 300           /* QUOTE_CHARS * 4 + quotes, "..." and NUL */
#define STR_BLOCK 16384

/* ---- the document ---------------------------------------------------------- */

struct node_ent {
	const json_t *node;     /* NULL: free slot */
	struct ydoc_pos pos;
	size_t items;           /* sequences: their first position in d->items */
	size_t nitems;
};

struct key_ent {
	const json_t *obj;      /* NULL: free slot */
	const char *key;        /* in d->strings */
	size_t keylen;
	uint64_t hash;
	struct ydoc_pos kpos, vpos;
};

struct str_block {
	struct str_block *next;
	size_t used, size;
	char data[];
};

struct ydoc {
	json_t *root;
	struct ydoc_pos root_pos;
	json_t *keep;
	struct node_ent *nodes;
	size_t nodes_n, nodes_cap;      /* cap: 0 or a power of two */
	struct key_ent *keys;
	size_t keys_n, keys_cap;
	uint64_t seed[2];
	struct ydoc_pos *items;
	size_t items_n, items_cap;
	struct str_block *strings;
};

static const struct ydoc_pos no_pos = {0, 0};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                        \
	do {                                                            \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

/* SipHash-1-3: keys come from the file, so the table must not be steerable. */
static uint64_t siphash13(const uint64_t k[2], const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ k[0];
	uint64_t v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < left; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static struct node_ent *node_slot(const struct ydoc *d, const json_t *node)
{
	size_t mask = d->nodes_cap - 1, i = mix64((uintptr_t)node) & mask;

	while (d->nodes[i].node && d->nodes[i].node != node)
		i = (i + 1) & mask;
	return &d->nodes[i];
}

static const struct node_ent *node_find(const struct ydoc *d, const json_t *node)
{
	const struct node_ent *e;

	if (!d->nodes_cap)
		return NULL;
	e = node_slot(d, node);
	return e->node ? e : NULL;
}

static int node_grow(struct ydoc *d)
{
	size_t cap = d->nodes_cap ? d->nodes_cap * 2 : 64, old = d->nodes_cap;
	struct node_ent *oldv = d->nodes;

	d->nodes = calloc(cap, sizeof(*d->nodes));
	if (!d->nodes) {
		d->nodes = oldv;
		return -ENOMEM;
	}
	d->nodes_cap = cap;
	for (size_t i = 0; i < old; i++)
		if (oldv[i].node)
			*node_slot(d, oldv[i].node) = oldv[i];
	free(oldv);
	return 0;
}

static bool is_singleton(const json_t *v)
{
	return json_is_true(v) || json_is_false(v) || json_is_null(v);
}

static int node_add(struct ydoc *d, const json_t *node, struct ydoc_pos pos,
		    size_t items, size_t nitems)
{
	struct node_ent *e;

	if (is_singleton(node))
		return 0;       /* shared by every true/false/null: no single place */
	if ((d->nodes_n + 1) * 2 > d->nodes_cap && node_grow(d) < 0)
		return -ENOMEM;
	e = node_slot(d, node);
	if (!e->node)
		d->nodes_n++;
	e->node = node;
	e->pos = pos;
	e->items = items;
	e->nitems = nitems;
	return 0;
}

static uint64_t key_hash(const struct ydoc *d, const json_t *obj, const char *k, size_t n)
{
	return siphash13(d->seed, k, n) ^ mix64((uintptr_t)obj);
}

static struct key_ent *key_slot(const struct ydoc *d, const json_t *obj,
				const char *k, size_t n, uint64_t h)
{
	size_t mask = d->keys_cap - 1, i = h & mask;

	for (;; i = (i + 1) & mask) {
		struct key_ent *e = &d->keys[i];

		if (!e->obj || (e->hash == h && e->obj == obj && e->keylen == n &&
				memcmp(e->key, k, n) == 0))
			return e;
	}
}

static const struct key_ent *key_find(const struct ydoc *d, const json_t *obj,
				      const char *k, size_t n)
{
	const struct key_ent *e;

	if (!d->keys_cap)
		return NULL;
	e = key_slot(d, obj, k, n, key_hash(d, obj, k, n));
	return e->obj ? e : NULL;
}

static int key_grow(struct ydoc *d)
{
	size_t cap = d->keys_cap ? d->keys_cap * 2 : 64, old = d->keys_cap;
	struct key_ent *oldv = d->keys;

	d->keys = calloc(cap, sizeof(*d->keys));
	if (!d->keys) {
		d->keys = oldv;
		return -ENOMEM;
	}
	d->keys_cap = cap;
	for (size_t i = 0; i < old; i++) {
		const struct key_ent *o = &oldv[i];

		if (o->obj)
			*key_slot(d, o->obj, o->key, o->keylen, o->hash) = *o;
	}
	free(oldv);
	return 0;
}

/* key must already live in d->strings. */
static int key_add(struct ydoc *d, const json_t *obj, const char *key, size_t n,
		   struct ydoc_pos kpos, struct ydoc_pos vpos)
{
	struct key_ent *e;
	uint64_t h;

	if ((d->keys_n + 1) * 2 > d->keys_cap && key_grow(d) < 0)
		return -ENOMEM;
	h = key_hash(d, obj, key, n);
	e = key_slot(d, obj, key, n, h);
	if (!e->obj)
		d->keys_n++;
	e->obj = obj;
	e->key = key;
	e->keylen = n;
	e->hash = h;
	e->kpos = kpos;
	e->vpos = vpos;
	return 0;
}

static const char *str_save(struct ydoc *d, const char *s, size_t n)
{
	struct str_block *b = d->strings;
	char *p;

	if (!b || b->size - b->used < n + 1) {
		size_t size = n + 1 > STR_BLOCK ? n + 1 : STR_BLOCK;

		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->next = d->strings;
		b->used = 0;
		b->size = size;
		d->strings = b;
	}
	p = b->data + b->used;
	memcpy(p, s, n);
	p[n] = '\0';
	b->used += n + 1;
	return p;
}

void ydoc_free(struct ydoc *d)
{
	struct str_block *b, *next;

	if (!d)
		return;
	json_decref(d->root);
	json_decref(d->keep);
	free(d->nodes);
	free(d->keys);
	free(d->items);
	for (b = d->strings; b; b = next) {
		next = b->next;
		free(b);
	}
	free(d);
}

json_t *ydoc_root(const struct ydoc *d)
{
	return d ? d->root : NULL;
}

struct ydoc_pos ydoc_pos(const struct ydoc *d, const json_t *node)
{
	const struct node_ent *e;

	if (!d || !node)
		return no_pos;
	if (node == d->root)
		return d->root_pos;
	e = node_find(d, node);
	return e ? e->pos : no_pos;
}

struct ydoc_pos ydoc_key_pos(const struct ydoc *d, const json_t *obj, const char *key)
{
	const struct key_ent *e;

	if (!d || !obj || !key)
		return no_pos;
	e = key_find(d, obj, key, strlen(key));
	return e ? e->kpos : no_pos;
}

struct ydoc_pos ydoc_value_pos(const struct ydoc *d, const json_t *obj, const char *key)
{
	const struct key_ent *e;

	if (!d || !obj || !key)
		return no_pos;
	e = key_find(d, obj, key, strlen(key));
	return e ? e->vpos : no_pos;
}

struct ydoc_pos ydoc_item_pos(const struct ydoc *d, const json_t *arr, size_t index)
{
	const struct node_ent *e;

	if (!d || !arr || !json_is_array(arr))
		return no_pos;
	e = node_find(d, arr);
	if (!e || index >= e->nitems)
		return no_pos;
	return d->items[e->items + index];
}

/* ---- bytes: UTF-8, binary content, positions -------------------------------- */

/* Length of the UTF-8 sequence at p (strict: no overlongs, surrogates or
 * values past U+10FFFF), 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned c = p[0];
	size_t len, i;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		len = 2; v = c & 0x1f; min = 0x80;
	} else if (c < 0xf0) {
		len = 3; v = c & 0x0f; min = 0x800;
	} else if (c < 0xf5) {
		len = 4; v = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq(p + i, n - i, &cp);

		if (!l)
			return false;
		i += l;
	}
	return true;
}

enum scan_res { SCAN_OK, SCAN_CTRL, SCAN_C1, SCAN_UTF8 };

/*
 * Walks data from the start to byte `stop` (or the first bad byte), counting
 * lines and columns as libyaml does: columns in characters, a leading BOM not
 * counted, CR LF one break, U+0085/U+2028/U+2029 breaks too.
 */
static enum scan_res scan_text(const char *data, size_t len, size_t stop,
			       struct ydoc_pos *pos, uint32_t *bad)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0;
	int line = 1, col = 1;
	enum scan_res res = SCAN_OK;
	uint32_t cp;

	if (stop > len)
		stop = len;
	if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < stop) {
		size_t l;

		if (p[i] == '\n') {
			line++; col = 1; i++;
			continue;
		}
		if (p[i] == '\r') {
			i += (i + 1 < len && p[i + 1] == '\n') ? 2 : 1;
			line++; col = 1;
			continue;
		}
		l = utf8_seq(p + i, len - i, &cp);
		if (!l) {
			res = SCAN_UTF8;
			*bad = p[i];
			break;
		}
		if ((cp < 0x20 && cp != '\t') || cp == 0x7f) {
			res = SCAN_CTRL;
			*bad = cp;
			break;
		}
		if ((cp >= 0x80 && cp <= 0x9f && cp != 0x85) || cp == 0xfffe || cp == 0xffff) {
			res = SCAN_C1;
			*bad = cp;
			break;
		}
		i += l;
		if (cp == 0x85 || cp == 0x2028 || cp == 0x2029) {
			line++; col = 1;
		} else {
			col++;
		}
	}
	pos->line = line;
	pos->col = col;
	return res;
}

/* ---- errors ----------------------------------------------------------------- */

__attribute__((format(printf, 5, 0)))
static int failv(const char *name, struct pfs_err *err, int code, struct ydoc_pos pos,
		 const char *fmt, va_list ap)
{
	char msg[PFS_ERR_MSG_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (pos.line > 0)
		return pfs_err_set(err, code, "%s:%d:%d: %s", name, pos.line, pos.col, msg);
	return pfs_err_set(err, code, "%s: %s", name, msg);
}

__attribute__((format(printf, 5, 6)))
static int fail_at(const char *name, struct pfs_err *err, int code, struct ydoc_pos pos,
		   const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = failv(name, err, code, pos, fmt, ap);
	va_end(ap);
	return r;
}

/* s as "text" for a message: quotes, backslashes and controls escaped, long
 * text cut (at a character boundary) with "...". */
static const char *quote(char buf[QUOTE_BUF], const char *s, size_t n)
{
	size_t o = 0, chars = 0;

	buf[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch & 0xc0) != 0x80 && chars++ == QUOTE_CHARS) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (ch == '\t') {
			buf[o++] = '\\';
			buf[o++] = 't';
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(buf + o, 5, "\\x%02x", ch);
			o += 4;
		} else {
			buf[o++] = (char)ch;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* ---- the parser --------------------------------------------------------------- */

struct anchor {
	json_t *node;           /* own reference; NULL for an anchored "<<" key */
	char *text;             /* scalars: the text as written, for use as a key */
	size_t textlen;
	struct ydoc_pos pos;
	uint64_t nodes, bytes;  /* expanded size */
	int height;             /* nesting levels inside it (0: a scalar) */
	bool done;              /* false while its own content is being read */
};

struct frame {
	json_t *node;           /* own reference */
	bool is_map;
	struct ydoc_pos pos;
	size_t anchor;          /* index + 1 in ctx.anchors, 0 for none */
	uint64_t nodes, bytes;  /* expanded size so far, itself included */
	int height;             /* highest child (0 while only scalars) */
	/* mappings */
	bool have_key, key_merge;
	const char *key;        /* in d->strings */
	size_t keylen;
	struct ydoc_pos kpos;
	json_t *merges;         /* mappings to merge, in PyYAML's order */
	/* sequences */
	struct ydoc_pos *items;
	size_t nitems, aitems;
};

struct ctx {
	struct ydoc *d;
	const char *name;
	struct pfs_err *err;
	const char *data;
	size_t len;
	struct frame stack[YDOC_MAX_DEPTH];
	int depth;
	struct anchor *anchors;
	size_t nanchors, aanchors;
	json_t *anchor_idx;     /* name -> index in anchors */
	uint64_t nodes, bytes;  /* whole document, aliases counted as copies */
	bool seen_alias;
	size_t skipped;         /* a leading BOM, not given to libyaml */
	locale_t cloc;
};

__attribute__((format(printf, 4, 5)))
static int fail(struct ctx *c, int code, struct ydoc_pos pos, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = failv(c->name, c->err, code, pos, fmt, ap);
	va_end(ap);
	return r;
}

/*
 * Where the scalar being read sits, as config paths are written
 * ("services.server.config.server_port", "tests[0].services"): the keys and
 * indexes of the open containers. For a key, the path of its mapping.
 */
static void value_path(const struct ctx *c, char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < c->depth && o < n; i++) {
		const struct frame *f = &c->stack[i];

		if (f->is_map && !f->have_key)
			break;
		if (!f->is_map)
			o += (size_t)snprintf(out + o, n - o, "[%zu]", f->nitems);
		else if (f->key_merge)
			o += (size_t)snprintf(out + o, n - o, "%s<<", o ? "." : "");
		else
			o += (size_t)snprintf(out + o, n - o, "%s%.*s", o ? "." : "", (int)f->keylen, f->key);
	}
}

/* fail() for a bad value: the message names its key path. */
__attribute__((format(printf, 4, 5)))
static int fail_value(struct ctx *c, int code, struct ydoc_pos pos, const char *fmt, ...)
{
	char path[256], msg[PFS_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	value_path(c, path, sizeof(path));
	if (!path[0])
		return fail(c, code, pos, "%s", msg);
	return fail(c, code, pos, "%s: %s", path, msg);
}

static int nomem(struct ctx *c)
{
	return fail(c, -ENOMEM, no_pos, "out of memory");
}

/* libyaml marks are 0-based. */
static struct ydoc_pos mark_pos(const yaml_mark_t *m)
{
	struct ydoc_pos p = {(int)m->line + 1, (int)m->column + 1};

	return p;
}

static const char *kind_name(const json_t *v)
{
	if (json_is_object(v))
		return "a mapping";
	if (json_is_array(v))
		return "a sequence";
	return "a scalar";
}

static int account(struct ctx *c, uint64_t nodes, uint64_t bytes, struct ydoc_pos pos)
{
	c->nodes += nodes;
	c->bytes += bytes;
	if (c->nodes > YDOC_MAX_NODES || c->bytes > YDOC_MAX_BYTES)
		return fail(c, -EFBIG, pos, "%s", c->seen_alias ?
			    "aliases expand beyond the size limit" :
			    "document expands beyond the size limit");
	return 0;
}

/* ---- scalars ---- */

enum tag_kind { TK_NONE, TK_BANG, TK_STR, TK_INT, TK_FLOAT, TK_BOOL, TK_NULL,
		TK_MAP, TK_SEQ, TK_OTHER };

static enum tag_kind tag_kind(const char *tag)
{
	static const struct { const char *name; enum tag_kind k; } known[] = {
		{"str", TK_STR}, {"int", TK_INT}, {"float", TK_FLOAT}, {"bool", TK_BOOL},
		{"null", TK_NULL}, {"map", TK_MAP}, {"seq", TK_SEQ},
	};

	if (!tag)
		return TK_NONE;
	if (!strcmp(tag, "!"))
		return TK_BANG;
	if (strncmp(tag, YTAG, strlen(YTAG)) != 0)
		return TK_OTHER;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(tag + strlen(YTAG), known[i].name))
			return known[i].k;
	return TK_OTHER;
}

/* "!!int" for the tags we know, else the tag quoted ("!!binary", "!foo"). */
static const char *tag_show(char buf[QUOTE_BUF], const char *tag)
{
	char tmp[QUOTE_BUF];

	if (!strncmp(tag, YTAG, strlen(YTAG))) {
		const char *rest = tag + strlen(YTAG);

		if (tag_kind(tag) != TK_OTHER) {
			snprintf(buf, QUOTE_BUF, "!!%s", rest);
			return buf;
		}
		/* quote() the short form: "!!binary" (it cuts long ones) */
		snprintf(tmp, sizeof(tmp), "!!%s", rest);
		return quote(buf, tmp, strlen(tmp));
	}
	return quote(buf, tag, strlen(tag));
}

static bool eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool is_null_text(const char *s, size_t n)
{
	return n == 0 || eq(s, n, "~") || eq(s, n, "null") || eq(s, n, "Null") || eq(s, n, "NULL");
}

/* PyYAML's implicit bool words: 1, 0, or -1 for none. */
static int bool_text(const char *s, size_t n)
{
	static const char *const yes[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
	static const char *const no[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (eq(s, n, yes[i]))
			return 1;
		if (eq(s, n, no[i]))
			return 0;
	}
	return -1;
}

/* !!bool: PyYAML looks the lowercased text up. */
static int bool_text_ci(const char *s, size_t n)
{
	static const char *const words[] = {"yes", "true", "on", "no", "false", "off"};
	char low[8];

	if (n >= sizeof(low))
		return -1;
	for (size_t i = 0; i < n; i++)
		low[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	for (size_t i = 0; i < 6; i++)
		if (eq(low, n, words[i]))
			return i < 3;
	return -1;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_odigit(char ch) { return ch >= '0' && ch <= '7'; }
static bool is_bdigit(char ch) { return ch == '0' || ch == '1'; }
static bool is_hexdigit(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Index after the longest run of characters from set (plus '_' when us). */
static size_t span(const char *s, size_t i, size_t n, bool (*set)(char), bool us)
{
	while (i < n && (set(s[i]) || (us && s[i] == '_')))
		i++;
	return i;
}

/*
 * (":" [0-5]?[0-9])+ starting at s[i]; stops before the first character that
 * is not part of it. Returns the index after, or 0 when not even one part.
 */
static size_t sexagesimal_tail(const char *s, size_t i, size_t n)
{
	size_t start = i;

	while (i < n && s[i] == ':') {
		size_t j = span(s, i + 1, n, is_digit, false), k = j - (i + 1);

		if (k == 0 || k > 2 || (k == 2 && s[i + 1] > '5'))
			return 0;
		i = j;
	}
	return i > start ? i : 0;
}

/* PyYAML's int pattern:
 *   [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*)
 *   | [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+        */
static bool match_int(const char *s, size_t n)
{
	size_t i = 0, j;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i >= n)
		return false;
	if (s[i] == '0') {
		if (i + 1 == n)
			return true;
		if (s[i + 1] == 'b')
			return i + 2 < n && span(s, i + 2, n, is_bdigit, true) == n;
		if (s[i + 1] == 'x')
			return i + 2 < n && span(s, i + 2, n, is_hexdigit, true) == n;
		return span(s, i + 1, n, is_odigit, true) == n;
	}
	if (s[i] < '1' || s[i] > '9')
		return false;
	j = span(s, i + 1, n, is_digit, true);
	if (j == n)
		return true;
	return sexagesimal_tail(s, j, n) == n;
}

/* Exponent part "[eE][-+][0-9]+" at the end, or nothing. */
static bool float_exp_end(const char *s, size_t i, size_t n)
{
	if (i == n)
		return true;
	if ((s[i] != 'e' && s[i] != 'E') || i + 2 >= n || (s[i + 1] != '-' && s[i + 1] != '+'))
		return false;
	return span(s, i + 2, n, is_digit, false) == n;
}

/* PyYAML's float pattern:
 *   [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
 *   | \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
 *   | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
 *   | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)                        */
static bool match_float(const char *s, size_t n)
{
	size_t i = 0, j;
	bool sign = false;

	if (n == 0)
		return false;
	if (s[0] == '-' || s[0] == '+') {
		sign = true;
		i = 1;
	}
	if (i < n && s[i] == '.') {
		const char *r = s + i + 1;
		size_t m = n - i - 1;

		if (eq(r, m, "inf") || eq(r, m, "Inf") || eq(r, m, "INF"))
			return true;
		if (sign)
			return false;
		if (eq(r, m, "nan") || eq(r, m, "NaN") || eq(r, m, "NAN"))
			return true;
		if (m == 0 || !is_digit(r[0]))
			return false;
		return float_exp_end(s, span(s, i + 2, n, is_digit, true), n);
	}
	if (i >= n || !is_digit(s[i]))
		return false;
	j = span(s, i + 1, n, is_digit, true);
	if (j < n && s[j] == '.')
		return float_exp_end(s, span(s, j + 1, n, is_digit, true), n);
	if (j < n && s[j] == ':') {
		size_t k = sexagesimal_tail(s, j, n);

		return k && k < n && s[k] == '.' && span(s, k + 1, n, is_digit, true) == n;
	}
	return false;
}

/* v * m + a, false when past limit. */
static bool mul_add(uint64_t *v, unsigned m, unsigned a, uint64_t limit)
{
	if (*v > (limit - a) / m)
		return false;
	*v = *v * m + a;
	return true;
}

static int digit_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return ch - 'A' + 10;
}

/* Value of text that match_int() accepted, as PyYAML's construct_yaml_int:
 * "_" dropped, 0b binary, 0x hex, leading 0 octal, ":" base 60. */
static int int_value(struct ctx *c, const char *s, size_t n, struct ydoc_pos pos, json_t **out)
{
	char q[QUOTE_BUF];
	uint64_t mag = 0, part = 0, limit;
	unsigned base = 10;
	size_t i = 0, digits = 0;
	bool neg = false, first = true;

	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (n - i >= 2 && s[i] == '0' && (s[i + 1] == 'b' || s[i + 1] == 'x')) {
		base = s[i + 1] == 'b' ? 2 : 16;
		i += 2;
	} else if (s[i] == '0') {
		base = 8;
	}
	for (; i <= n; i++) {
		if (i < n && s[i] == '_')
			continue;
		if (i == n || s[i] == ':') {
			/* end of a base-60 part (or of the number): mag = mag * 60 + part */
			if (!first && (mag > (limit - part) / 60))
				goto range;
			mag = first ? part : mag * 60 + part;
			first = false;
			part = 0;
			continue;
		}
		digits++;
		if (!mul_add(&part, base, (unsigned)digit_value(s[i]), limit))
			goto range;
	}
	if (!digits)
		return fail_value(c, -EINVAL, pos, "invalid integer %s", quote(q, s, n));
	if (neg)
		*out = json_integer(mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag);
	else
		*out = json_integer((int64_t)mag);
	return *out ? 0 : nomem(c);
range:
	return fail_value(c, -ERANGE, pos, "integer out of range (-2^63 to 2^63-1)");
}

/* "[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?": what Python's
 * float() takes that !!float may carry (underscores already removed). */
static bool decimal_syntax(const char *s)
{
	size_t i = 0, n = strlen(s), d0, d1 = 0;

	if (s[i] == '-' || s[i] == '+')
		i++;
	d0 = span(s, i, n, is_digit, false) - i;
	i += d0;
	if (i < n && s[i] == '.') {
		d1 = span(s, i + 1, n, is_digit, false) - (i + 1);
		i += 1 + d1;
	}
	if (!d0 && !d1)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t e;

		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		e = span(s, i, n, is_digit, false);
		if (e == i)
			return false;
		i = e;
	}
	return i == n;
}

/*
 * Value of a float, as PyYAML's construct_yaml_float: drop '_', lowercase,
 * ".inf"/".nan", base 60 with ':', else Python float(). tagged: the text came
 * with !!float, so ints and "1e3" are fine too.
 */
static int float_value(struct ctx *c, const char *s, size_t n, struct ydoc_pos pos,
		       const char *tag, json_t **out)
{
	char q[QUOTE_BUF], tq[QUOTE_BUF];
	char *clean = malloc(n + 1), *p, *end;
	size_t m = 0;
	double v = 0, sign = 1;
	int r = 0;

	if (!clean)
		return nomem(c);
	if (!c->cloc && !(c->cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0))) {
		r = nomem(c);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			clean[m++] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	clean[m] = '\0';
	p = clean;
	if (*p == '-' || *p == '+') {
		sign = *p == '-' ? -1 : 1;
		p++;
	}
	if (!strcmp(p, ".inf") || !strcmp(p, ".nan")) {
		r = fail_value(c, -ERANGE, pos, "float out of range (JSON has no infinity or NaN)");
		goto out;
	}
	if (tag && !match_float(s, n) && !(match_int(s, n) && memchr(s, ':', n)) &&
	    !decimal_syntax(clean)) {
		r = fail_value(c, -EINVAL, pos, "value %s does not fit tag %s", quote(q, s, n),
			       tag_show(tq, tag));
		goto out;
	}
	if (strchr(p, ':')) {
		/* PyYAML: sum of float(part) * 60**k, from the last part up */
		double base = 1;
		char *e = p + strlen(p);

		for (;;) {
			char *colon = e;
			double part;

			while (colon > p && colon[-1] != ':')
				colon--;
			*e = '\0';
			part = strtod_l(colon, &end, c->cloc);
			if (end != e || colon == e)
				goto bad;
			v += part * base;
			base *= 60;
			if (colon == p)
				break;
			e = colon - 1;
		}
	} else {
		v = strtod_l(p, &end, c->cloc);
		if (end == p || *end)
			goto bad;
	}
	v *= sign;
	if (!isfinite(v)) {
		r = fail_value(c, -ERANGE, pos, "float out of range (JSON has no infinity or NaN)");
		goto out;
	}
	*out = json_real(v);
	if (!*out)
		r = nomem(c);
	goto out;
bad:
	r = fail_value(c, -EINVAL, pos, "invalid float %s", quote(q, s, n));
out:
	free(clean);
	return r;
}

static int make_str(struct ctx *c, const char *s, size_t n, json_t **out)
{
	*out = json_stringn_nocheck(s, n);
	return *out ? 0 : nomem(c);
}

static int resolve_plain(struct ctx *c, const char *s, size_t n, struct ydoc_pos pos,
			 bool is_key, json_t **out)
{
	int b;

	if (is_null_text(s, n)) {
		*out = json_null();
		return 0;
	}
	b = bool_text(s, n);
	if (b >= 0) {
		*out = json_boolean(b);
		return 0;
	}
	if (match_int(s, n))
		return int_value(c, s, n, pos, out);
	if (match_float(s, n))
		return float_value(c, s, n, pos, NULL, out);
	if (!is_key && (eq(s, n, "<<") || eq(s, n, "=")))
		return fail_value(c, -EINVAL, pos,
				  "plain \"%s\" used as a value (PyYAML cannot load it either; quote it)",
				  n == 1 ? "=" : "<<");
	return make_str(c, s, n, out);
}

/* The json value of a scalar event. is_key: the scalar is a mapping key
 * (only reached for keys with a tag or an anchor). */
static int resolve(struct ctx *c, const yaml_event_t *ev, struct ydoc_pos pos,
		   bool is_key, json_t **out)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	char q[QUOTE_BUF], tq[QUOTE_BUF];
	int b;

	*out = NULL;
	switch (tag_kind(tag)) {
	case TK_NONE:
		if (ev->data.scalar.plain_implicit)
			return resolve_plain(c, s, n, pos, is_key, out);
		return make_str(c, s, n, out);
	case TK_BANG:
		/* PyYAML resolves "!" text as plain, even quoted: ! "12" is 12 */
		return resolve_plain(c, s, n, pos, is_key, out);
	case TK_STR:
		return make_str(c, s, n, out);
	case TK_NULL:
		if (!is_null_text(s, n))
			break;
		*out = json_null();
		return 0;
	case TK_BOOL:
		b = bool_text_ci(s, n);
		if (b < 0)
			break;
		*out = json_boolean(b);
		return 0;
	case TK_INT:
		if (!match_int(s, n))
			break;
		return int_value(c, s, n, pos, out);
	case TK_FLOAT:
		return float_value(c, s, n, pos, tag, out);
	case TK_MAP:
	case TK_SEQ:
		return fail_value(c, -EINVAL, pos, "tag %s needs a %s, found a scalar", tag_show(tq, tag),
				  tag_kind(tag) == TK_MAP ? "mapping" : "sequence");
	case TK_OTHER:
		return fail_value(c, -EINVAL, pos, "unsupported tag %s", tag_show(tq, tag));
	}
	return fail_value(c, -EINVAL, pos, "value %s does not fit tag %s", quote(q, s, n), tag_show(tq, tag));
}

/* ---- anchors ---- */

static int anchor_add(struct ctx *c, const char *name, json_t *node, const char *text,
		      size_t textlen, struct ydoc_pos pos, size_t *idx)
{
	char q[QUOTE_BUF];
	json_t *e = json_object_get(c->anchor_idx, name);
	struct anchor *a;

	if (e) {
		a = &c->anchors[json_integer_value(e)];
		return fail(c, -EINVAL, pos, "duplicate anchor %s (first at line %d)",
			    quote(q, name, strlen(name)), a->pos.line);
	}
	if (c->nanchors == c->aanchors) {
		size_t na = c->aanchors ? c->aanchors * 2 : 16;
		struct anchor *v = realloc(c->anchors, na * sizeof(*v));

		if (!v)
			return nomem(c);
		c->anchors = v;
		c->aanchors = na;
	}
	a = &c->anchors[c->nanchors];
	memset(a, 0, sizeof(*a));
	if (text) {
		a->text = malloc(textlen + 1);
		if (!a->text)
			return nomem(c);
		memcpy(a->text, text, textlen);
		a->text[textlen] = '\0';
		a->textlen = textlen;
		a->nodes = 1;
		a->bytes = textlen;
		a->done = true;
	}
	a->node = json_incref(node);
	a->pos = pos;
	c->nanchors++;
	if (json_object_set_new(c->anchor_idx, name, json_integer((json_int_t)(c->nanchors - 1))) < 0)
		return nomem(c);
	*idx = c->nanchors - 1;
	return 0;
}

static int anchor_get(struct ctx *c, const yaml_event_t *ev, struct ydoc_pos pos,
		      struct anchor **out)
{
	char q[QUOTE_BUF];
	const char *name = (const char *)ev->data.alias.anchor;
	json_t *e = json_object_get(c->anchor_idx, name);

	*out = NULL;
	if (!e)
		return fail(c, -EINVAL, pos, "undefined alias %s", quote(q, name, strlen(name)));
	*out = &c->anchors[json_integer_value(e)];
	if (!(*out)->done)
		return fail(c, -EINVAL, pos, "recursive alias %s (anchor used inside itself)",
			    quote(q, name, strlen(name)));
	c->seen_alias = true;
	return account(c, (*out)->nodes, (*out)->bytes, pos);
}

/* ---- building ---- */

static struct frame *top(struct ctx *c)
{
	return c->depth ? &c->stack[c->depth - 1] : NULL;
}

static bool at_key(struct ctx *c)
{
	struct frame *f = top(c);

	return f && f->is_map && !f->have_key;
}

static void frame_clear(struct frame *f)
{
	json_decref(f->node);
	json_decref(f->merges);
	free(f->items);
	memset(f, 0, sizeof(*f));
}

/*
 * A "<<" value: remember the mappings it names, in PyYAML's flattened order
 * (each "<<" in turn; "<<: [*a, *b]" as b then a), where a later one wins.
 */
static int merge_add(struct ctx *c, struct frame *f, json_t *v, struct ydoc_pos pos)
{
	size_t i, n;

	/* out of the tree, but the tables may name it: keep it alive */
	if (json_array_append_new(c->d->keep, v) < 0)
		return nomem(c);
	if (!f->merges && !(f->merges = json_array()))
		return nomem(c);
	if (json_is_object(v))
		return json_array_append(f->merges, v) < 0 ? nomem(c) : 0;
	if (!json_is_array(v))
		return fail(c, -EINVAL, pos,
			    "expected a mapping or list of mappings for merging, but found %s",
			    kind_name(v));
	n = json_array_size(v);
	for (i = 0; i < n; i++) {
		json_t *m = json_array_get(v, i);

		if (!json_is_object(m)) {
			struct ydoc_pos ip = ydoc_item_pos(c->d, v, i);

			return fail(c, -EINVAL, ip.line ? ip : pos,
				    "expected a mapping for merging, but found %s", kind_name(m));
		}
	}
	for (i = n; i-- > 0;)
		if (json_array_append(f->merges, json_array_get(v, i)) < 0)
			return nomem(c);
	return 0;
}

/* Hands a finished value (reference stolen) to the open container. */
static int put_value(struct ctx *c, json_t *v, struct ydoc_pos pos, uint64_t nodes,
		     uint64_t bytes, int height)
{
	struct frame *f = top(c);

	if (!f) {
		c->d->root = v;
		c->d->root_pos = pos;
		return 0;
	}
	f->nodes += nodes;
	f->bytes += bytes;
	if (height > f->height)
		f->height = height;
	if (!f->is_map) {
		if (f->nitems == f->aitems) {
			size_t na = f->aitems ? f->aitems * 2 : 8;
			struct ydoc_pos *p = realloc(f->items, na * sizeof(*p));

			if (!p) {
				json_decref(v);
				return nomem(c);
			}
			f->items = p;
			f->aitems = na;
		}
		if (json_array_append_new(f->node, v) < 0)
			return nomem(c);
		f->items[f->nitems++] = pos;
		return 0;
	}
	f->have_key = false;
	if (f->key_merge)
		return merge_add(c, f, v, pos);
	if (json_object_set_new_nocheck(f->node, f->key, v) < 0)
		return nomem(c);
	if (key_add(c->d, f->node, f->key, f->keylen, f->kpos, pos) < 0)
		return nomem(c);
	return 0;
}

/* A mapping key with text s (already counted). merge: a plain "<<". */
static int set_key(struct ctx *c, struct frame *f, const char *s, size_t n, bool merge,
		   struct ydoc_pos pos)
{
	char q[QUOTE_BUF];

	if (!merge) {
		const struct key_ent *e = key_find(c->d, f->node, s, n);

		if (e)
			return fail(c, -EINVAL, pos, "duplicate key %s (first at line %d)",
				    quote(q, s, n), e->kpos.line);
		f->key = str_save(c->d, s, n);
		if (!f->key)
			return nomem(c);
	}
	f->keylen = n;
	f->key_merge = merge;
	f->kpos = pos;
	f->have_key = true;
	return 0;
}

static int on_key_scalar(struct ctx *c, struct frame *f, const yaml_event_t *ev,
			 struct ydoc_pos pos)
{
	const char *s = (const char *)ev->data.scalar.value;
	const char *anchor = (const char *)ev->data.scalar.anchor;
	size_t n = ev->data.scalar.length, idx;
	enum tag_kind tk = tag_kind((const char *)ev->data.scalar.tag);
	bool merge = eq(s, n, "<<") &&
		     ((tk == TK_NONE && ev->data.scalar.plain_implicit) || tk == TK_BANG);
	json_t *node = NULL;
	int r = 0;

	f->nodes += 1;
	f->bytes += n;
	if (!merge && (ev->data.scalar.tag || anchor)) {
		/* checks the tag; an anchored key may be used as a value later */
		r = resolve(c, ev, pos, true, &node);
		if (r < 0)
			goto out;
	}
	if (anchor) {
		r = anchor_add(c, anchor, node, s, n, pos, &idx);
		if (r < 0)
			goto out;
		if (node && (json_array_append(c->d->keep, node) < 0 ||
			     node_add(c->d, node, pos, 0, 0) < 0)) {
			r = nomem(c);
			goto out;
		}
	}
	r = set_key(c, f, s, n, merge, pos);
out:
	json_decref(node);
	return r;
}

static int on_scalar(struct ctx *c, const yaml_event_t *ev)
{
	struct ydoc_pos pos = mark_pos(&ev->start_mark);
	const char *s = (const char *)ev->data.scalar.value;
	const char *anchor = (const char *)ev->data.scalar.anchor;
	size_t n = ev->data.scalar.length, idx;
	json_t *v = NULL;
	int r;

	if (memchr(s, '\0', n))
		return fail_value(c, -EINVAL, pos, "string contains a NUL character");
	if (!utf8_valid(s, n))
		return fail_value(c, -EINVAL, pos, "not valid UTF-8");
	r = account(c, 1, n, pos);
	if (r < 0)
		return r;
	if (at_key(c))
		return on_key_scalar(c, top(c), ev, pos);
	r = resolve(c, ev, pos, false, &v);
	if (r < 0)
		return r;
	if (anchor) {
		r = anchor_add(c, anchor, v, s, n, pos, &idx);
		if (r < 0)
			goto fail;
	}
	if (node_add(c->d, v, pos, 0, 0) < 0) {
		r = nomem(c);
		goto fail;
	}
	return put_value(c, v, pos, 1, n, 0);
fail:
	json_decref(v);
	return r;
}

static int on_alias(struct ctx *c, const yaml_event_t *ev)
{
	struct ydoc_pos pos = mark_pos(&ev->start_mark);
	struct frame *f = top(c);
	struct anchor *a = NULL;
	int r = anchor_get(c, ev, pos, &a);

	if (r < 0)
		return r;
	if (at_key(c)) {
		if (!a->text)
			return fail(c, -EINVAL, pos, "%s cannot be a mapping key", kind_name(a->node));
		f->nodes += a->nodes;
		f->bytes += a->bytes;
		return set_key(c, f, a->text, a->textlen, !a->node && eq(a->text, a->textlen, "<<"), pos);
	}
	if (c->depth + a->height > YDOC_MAX_DEPTH)
		return fail(c, -ELOOP, pos, "nesting deeper than %d levels", YDOC_MAX_DEPTH);
	if (!a->node)
		return fail(c, -EINVAL, pos,
			    "plain \"<<\" used as a value (PyYAML cannot load it either; quote it)");
	return put_value(c, json_incref(a->node), pos, a->nodes, a->bytes, a->height);
}

static int on_start(struct ctx *c, const yaml_event_t *ev, bool is_map)
{
	struct ydoc_pos pos = mark_pos(&ev->start_mark);
	const char *tag = (const char *)(is_map ? ev->data.mapping_start.tag
					: ev->data.sequence_start.tag);
	const char *anchor = (const char *)(is_map ? ev->data.mapping_start.anchor
					   : ev->data.sequence_start.anchor);
	const char *what = is_map ? "mapping" : "sequence";
	char tq[QUOTE_BUF];
	struct frame *f;
	size_t idx;
	int r;

	if (at_key(c))
		return fail(c, -EINVAL, pos, "a %s cannot be a mapping key", what);
	if (c->depth >= YDOC_MAX_DEPTH)
		return fail(c, -ELOOP, pos, "nesting deeper than %d levels", YDOC_MAX_DEPTH);
	switch (tag_kind(tag)) {
	case TK_NONE:
	case TK_BANG:
		break;
	case TK_MAP:
	case TK_SEQ:
		if ((tag_kind(tag) == TK_MAP) == is_map)
			break;
		return fail(c, -EINVAL, pos, "tag %s needs a %s, found a %s", tag_show(tq, tag),
			    is_map ? "sequence" : "mapping", what);
	case TK_OTHER:
		return fail(c, -EINVAL, pos, "unsupported tag %s", tag_show(tq, tag));
	default:
		return fail(c, -EINVAL, pos, "tag %s needs a scalar, found a %s", tag_show(tq, tag), what);
	}
	r = account(c, 1, 0, pos);
	if (r < 0)
		return r;
	f = &c->stack[c->depth];
	memset(f, 0, sizeof(*f));
	f->node = is_map ? json_object() : json_array();
	if (!f->node)
		return nomem(c);
	c->depth++;
	f->is_map = is_map;
	f->pos = pos;
	f->nodes = 1;
	if (anchor) {
		r = anchor_add(c, anchor, f->node, NULL, 0, pos, &idx);
		if (r < 0)
			return r;
		f->anchor = idx + 1;
	}
	return 0;
}

/*
 * Rebuilds a mapping that had "<<" keys the way PyYAML's dict comes out: keys
 * in order of first appearance in (merged pairs, flattened) + (own pairs),
 * the last value winning, so own keys win over merged ones. Rebuilt in place:
 * anchors already hold this json_t.
 */
static int apply_merges(struct ctx *c, struct frame *f)
{
	json_t *own = json_object(), *val;
	const char *k;
	int r = 0;

	if (!own || json_object_update(own, f->node) < 0) {
		r = nomem(c);
		goto out;
	}
	json_object_clear(f->node);
	for (size_t i = 0; i < json_array_size(f->merges); i++) {
		json_t *src = json_array_get(f->merges, i);

		json_object_foreach(src, k, val) {
			size_t kl = strlen(k);
			const struct key_ent *e;
			const char *saved;

			if (json_object_set_nocheck(f->node, k, val) < 0) {
				r = nomem(c);
				goto out;
			}
			if (json_object_get(own, k))
				continue;       /* keeps its own position */
			e = key_find(c->d, src, k, kl);
			saved = e ? e->key : str_save(c->d, k, kl);
			if (!saved || key_add(c->d, f->node, saved, kl, e ? e->kpos : no_pos,
					      e ? e->vpos : no_pos) < 0) {
				r = nomem(c);
				goto out;
			}
		}
	}
	json_object_foreach(own, k, val) {
		if (json_object_set_nocheck(f->node, k, val) < 0) {
			r = nomem(c);
			goto out;
		}
	}
out:
	json_decref(own);
	return r;
}

static int on_end(struct ctx *c)
{
	struct frame *f = top(c);
	size_t base = 0;
	json_t *node;
	struct ydoc_pos pos;
	uint64_t nodes, bytes;
	int height, r;

	if (f->is_map && f->merges) {
		r = apply_merges(c, f);
		if (r < 0)
			return r;
	} else if (f->nitems) {
		struct ydoc *d = c->d;

		if (d->items_n + f->nitems > d->items_cap) {
			size_t na = d->items_cap ? d->items_cap : 64;
			struct ydoc_pos *p;

			while (na < d->items_n + f->nitems)
				na *= 2;
			p = realloc(d->items, na * sizeof(*p));
			if (!p)
				return nomem(c);
			d->items = p;
			d->items_cap = na;
		}
		base = d->items_n;
		memcpy(d->items + base, f->items, f->nitems * sizeof(*f->items));
		d->items_n += f->nitems;
	}
	if (node_add(c->d, f->node, f->pos, base, f->is_map ? 0 : f->nitems) < 0)
		return nomem(c);
	height = f->height + 1;
	if (f->anchor) {
		struct anchor *a = &c->anchors[f->anchor - 1];

		a->nodes = f->nodes;
		a->bytes = f->bytes;
		a->height = height;
		a->done = true;
	}
	node = f->node;
	f->node = NULL;
	pos = f->pos;
	nodes = f->nodes;
	bytes = f->bytes;
	frame_clear(f);
	c->depth--;
	return put_value(c, node, pos, nodes, bytes, height);
}

/*
 * Whether libyaml stopped at a tab that indents its line (only blanks
 * before it): its own words ("found character that cannot start any
 * token") do not say that YAML forbids tabs there. Marks count characters.
 */
static bool tab_indents(const struct ctx *c, const yaml_mark_t *m)
{
	const char *s = c->data + c->skipped, *line = s;
	size_t len = c->len - c->skipped, k = 0, i;

	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		if (k++ == m->index)
			break;
		if (s[i] == '\n')
			line = s + i + 1;
	}
	if (i >= len || s[i] != '\t')
		return false;
	for (const char *b = line; b < s + i; b++)
		if (*b != ' ' && *b != '\t')
			return false;
	return true;
}

static int yaml_fail(struct ctx *c, const yaml_parser_t *p)
{
	struct ydoc_pos pos = no_pos;
	uint32_t bad;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return nomem(c);
	case YAML_READER_ERROR:
		scan_text(c->data, c->len, p->problem_offset + c->skipped, &pos, &bad);
		break;
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		pos = mark_pos(&p->problem_mark);
		if (p->error == YAML_SCANNER_ERROR && tab_indents(c, &p->problem_mark))
			return fail(c, -EINVAL, pos, "tab character used for indentation; YAML indents with spaces");
		break;
	default:
		break;
	}
	return fail(c, -EINVAL, pos, "%s", p->problem ? p->problem : "invalid YAML");
}

static int on_event(struct ctx *c, const yaml_event_t *ev, int *docs, bool *done)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if ((*docs)++ > 0)
			return fail(c, -EINVAL, mark_pos(&ev->start_mark),
				    "several YAML documents in one file");
		return 0;
	case YAML_STREAM_END_EVENT:
		*done = true;
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(c, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(c, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(c, ev, false);
	case YAML_MAPPING_START_EVENT:
		return on_start(c, ev, true);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return c->depth ? on_end(c) : 0;
	default:
		return 0;
	}
}

static void ctx_free(struct ctx *c)
{
	if (!c)
		return;
	while (c->depth > 0)
		frame_clear(&c->stack[--c->depth]);
	for (size_t i = 0; i < c->nanchors; i++) {
		json_decref(c->anchors[i].node);
		free(c->anchors[i].text);
	}
	free(c->anchors);
	json_decref(c->anchor_idx);
	if (c->cloc)
		freelocale(c->cloc);
	free(c);
}

static void seed_init(struct ydoc *d)
{
	struct timespec ts;

	if (getrandom(d->seed, sizeof(d->seed), GRND_NONBLOCK) == (ssize_t)sizeof(d->seed))
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	d->seed[0] = mix64((uintptr_t)d ^ (uint64_t)ts.tv_nsec);
	d->seed[1] = mix64((uint64_t)ts.tv_sec ^ ((uint64_t)ts.tv_nsec << 20) ^ (uintptr_t)&ts);
}

int ydoc_parse(const char *name, const char *data, size_t len, struct ydoc **out,
	       struct pfs_err *err)
{
	yaml_parser_t parser;
	bool have_parser = false, done = false;
	struct ctx *c = NULL;
	struct ydoc *d = NULL;
	struct ydoc_pos pos;
	uint32_t bad = 0;
	int r = 0, docs = 0;

	if (!name)
		name = "<input>";
	if (out)
		*out = NULL;
	if (!out || (!data && len)) {
		r = fail_at(name, err, -EINVAL, no_pos, "invalid arguments");
		goto out;
	}
	if (len > YDOC_MAX_BYTES) {
		r = fail_at(name, err, -EFBIG, no_pos, "larger than 1 MiB (%zu bytes)", len);
		goto out;
	}
	if (!data)
		data = "";
	switch (scan_text(data, len, len, &pos, &bad)) {
	case SCAN_OK:
		break;
	case SCAN_UTF8:
		r = fail_at(name, err, -EINVAL, pos, "not valid UTF-8");
		goto out;
	case SCAN_CTRL:
		r = fail_at(name, err, -EINVAL, pos, "binary content (byte 0x%02x)", (unsigned)bad);
		goto out;
	case SCAN_C1:
		r = fail_at(name, err, -EINVAL, pos, "binary content (U+%04X)", (unsigned)bad);
		goto out;
	}

	d = calloc(1, sizeof(*d));
	c = calloc(1, sizeof(*c));
	if (!d || !c || !(d->keep = json_array()) || !(c->anchor_idx = json_object())) {
		r = fail_at(name, err, -ENOMEM, no_pos, "out of memory");
		goto out;
	}
	seed_init(d);
	c->d = d;
	c->name = name;
	c->err = err;
	c->data = data;
	c->len = len;
	/* libyaml, told the encoding, would keep a BOM as a character at
	 * column 1 and shift the first line's indentation */
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
		c->skipped = 3;
	if (!yaml_parser_initialize(&parser)) {
		r = nomem(c);
		goto out;
	}
	have_parser = true;
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data + c->skipped,
				     len - c->skipped);

	while (!done && r == 0) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			r = yaml_fail(c, &parser);
			break;
		}
		r = on_event(c, &ev, &docs, &done);
		yaml_event_delete(&ev);
	}
	if (r == 0 && !d->root)
		d->root = json_null();
out:
	if (have_parser)
		yaml_parser_delete(&parser);
	ctx_free(c);
	if (r < 0)
		ydoc_free(d);
	else
		*out = d;
	return r;
}
