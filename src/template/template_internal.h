/* SPDX-License-Identifier: MIT */
/*
 * Shared between the files of src/template; not part of the public API.
 *
 * template_lex.c turns source into tokens, template_parse.c tokens into the
 * tree below, template_eval.c renders the tree, template.c holds the public
 * entry points, the arena and the error helpers. Every node of a compiled
 * template lives in its arena and is freed with it; nothing in the tree is
 * ever written after tmpl_compile returns.
 */
#ifndef PANTHERFS_TEMPLATE_INTERNAL_H
#define PANTHERFS_TEMPLATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "pantherfs/err.h"
#include "pantherfs/template.h"

/* ---- tokens ------------------------------------------------------------- */

enum tok_type {
	TK_EOF,
	TK_TEXT,        /* template text, already trimmed */
	TK_VAR_BEGIN,   /* {{ */
	TK_VAR_END,     /* }} */
	TK_BLOCK_BEGIN, /* {% */
	TK_BLOCK_END,   /* %} */
	TK_NAME,
	TK_INT,
	TK_FLOAT,
	TK_STRING,      /* raw, quotes included; escapes checked by the lexer */
	TK_OP,
};

enum op {
	OP_NONE,
	OP_LPAREN, OP_RPAREN, OP_LBRACKET, OP_RBRACKET, OP_LBRACE, OP_RBRACE,
	OP_DOT, OP_COMMA, OP_COLON, OP_PIPE, OP_TILDE, OP_ASSIGN,
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW,
	OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE,
	/* not produced by the lexer: keyword operators in chains */
	OP_IN, OP_NOTIN, OP_AND, OP_OR,
};

struct token {
	enum tok_type type;
	enum op op;
	size_t off, len; /* into the source */
	int line;
};

struct lexer {
	const char *name;
	const char *src;
	size_t len, pos;
	int line;
	bool trim_blocks, lstrip_blocks;
	enum { LX_TEXT, LX_VAR, LX_BLOCK } mode;
	int tag_line; /* where the open tag started */
	struct pfs_err *err;
};

void tmpl_lex_init(struct lexer *lx, const char *name, const char *src, size_t len,
		   const struct tmpl_opts *opts, struct pfs_err *err);
int tmpl_lex(struct lexer *lx, struct token *tok);

/* ---- tree --------------------------------------------------------------- */

struct expr;
struct render;
struct val;

typedef int (*tmpl_filter_fn)(struct render *r, const struct expr *e, struct val *in,
			      struct val *args, struct val *out);

struct tmpl_filter {
	const char *name;
	int min_args, max_args;
	tmpl_filter_fn fn;
};

/* The filter called name (len bytes), NULL when there is none. */
const struct tmpl_filter *tmpl_filter_find(const char *name, size_t len);

enum expr_kind {
	E_CONST, E_NAME, E_ATTR, E_ITEM, E_ITEMS, E_LIST,
	E_NOT, E_NEG, E_POS,
	/* n-ary chains: operands in u.list, each with the operator before it */
	E_OR, E_AND, E_CMP, E_ADD, E_CAT, E_MUL,
	E_COND, E_FILTER, E_TEST,
};

enum const_kind { C_NONE, C_BOOL, C_INT, C_REAL, C_STR };
enum test_kind { T_DEFINED, T_NONE };

struct operand {
	struct expr *e;
	enum op op; /* the operator before e; OP_NONE for the first */
	struct operand *next;
};

struct expr {
	enum expr_kind kind;
	int line;
	int depth;       /* 1 + the deepest child */
	size_t off, len; /* source text, quoted in messages */
	union {
		struct {
			enum const_kind k;
			bool b;
			json_int_t i;
			double d;
			const char *s; /* decoded, NUL-terminated, valid UTF-8 */
			size_t slen;
		} c;
		struct {
			const char *name;
		} name;
		struct {
			struct expr *base;
			const char *name;
		} attr;
		struct {
			struct expr *base, *key;
		} item;
		struct {
			struct expr *base; /* E_ITEMS, E_NOT, E_NEG, E_POS */
		} un;
		struct {
			struct operand *first; /* E_LIST items, chain operands */
			size_t n;
		} list;
		struct {
			struct expr *then, *cond, *otherwise;
		} cond;
		struct {
			struct expr *base;
			const struct tmpl_filter *f;
			struct operand *args;
			int nargs;
		} filter;
		struct {
			struct expr *base;
			enum test_kind test;
			bool negate;
		} test;
	} u;
};

enum stmt_kind { S_TEXT, S_OUT, S_IF, S_FOR, S_SET };

struct branch {
	struct expr *cond; /* NULL: else */
	struct stmt *body;
	struct branch *next;
};

struct stmt {
	enum stmt_kind kind;
	int line;
	struct stmt *next;
	union {
		struct {
			size_t off, len;
		} text;
		struct {
			struct expr *e;
		} out;
		struct {
			struct branch *branches;
		} if_;
		struct {
			const char *k, *v; /* v: NULL unless items */
			bool items;        /* for k, v in iter.items() */
			struct expr *iter; /* for items: the object, without .items() */
			struct stmt *body, *else_body;
		} for_;
		struct {
			const char *name;
			struct expr *e;
		} set;
	} u;
};

struct arena_chunk;

struct tmpl {
	char *name;
	char *src; /* NUL-terminated copy */
	size_t len;
	struct tmpl_opts opts;
	struct stmt *body;
	struct arena_chunk *arena;
};

/* ---- template.c --------------------------------------------------------- */

/* Zeroed memory owned by t's arena; NULL when out of memory. */
void *tmpl_alloc(struct tmpl *t, size_t n);
/* A NUL-terminated copy of n bytes in t's arena. */
char *tmpl_strndup(struct tmpl *t, const char *s, size_t n);

/* pfs_err_set with "<name>:<line>: " in front; returns code. */
int tmpl_errorf(struct pfs_err *err, int code, const char *name, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

int tmpl_parse(struct tmpl *t, struct pfs_err *err);

/* Bytes of the UTF-8 sequence starting with c (1 for stray bytes). */
size_t tmpl_utf8_len(unsigned char c);

#endif
