/* SPDX-License-Identifier: MIT */
/*
 * Template parser: recursive descent with Jinja's grammar and precedence
 * (jinja2/parser.py), restricted to what template.h documents.
 *
 * Two limits keep every later recursion bounded, whatever the input:
 *  - p->nest counts the parser's own recursion (parentheses, list items,
 *    subscripts, filter arguments, "not", unary minus, "else" of an inline
 *    if) so "((((..." cannot overflow the C stack;
 *  - every node records its depth in the tree, capped at TMPL_MAX_DEPTH, so
 *    the evaluator's recursion is bounded too.
 * Runs of one binary operator (a ~ b ~ c ..., a and b and c ...) become one
 * n-ary node instead of a left-deep tree: a long but flat command line must
 * not look "deep".
 *
 * Everything is allocated in the template's arena, so an error at any depth
 * is a plain return.
 *
 * Names: Jinja resolves them statically, like Python locals. A name that a
 * scope (the template, a for body, a for's else body) sets is that scope's
 * local in every loop nested in it, even before the set runs, so
 *   {% for f in flags %}{{ prefix }}{% endfor %}{% set prefix = "x" %}
 * fails in Jinja although "prefix" is in the context. We resolve names at
 * run time, so we refuse exactly that shape at compile time (and a few
 * harmless cases with it: the check is conservative): a set of N in scope S
 * after a loop nested in S read N, unless the loop's targets or an earlier
 * unconditional set between the two already bound N.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_internal.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

/* Where set binds: the template, a for body, a for's else body. */
struct scope {
	struct scope *up;
	unsigned id;
	const char *k, *v; /* loop targets bound here */
	int in_if;         /* inside an if of this scope: a set is conditional */
};

/* What a scope knows of a name: hash table slot keyed by (scope, name). */
struct name_slot {
	const char *name; /* NULL: free slot */
	unsigned scope;
	int read_line;    /* a nested loop read it before any set here (0: no) */
	bool set;         /* set unconditionally here (so far) */
};

struct parser {
	struct tmpl *t;
	struct lexer lx;
	struct token la[2]; /* lookahead */
	int nla;
	size_t last_end;    /* end of the last consumed token */
	int nest;           /* expression recursion */
	int blocks;         /* open if/for blocks */
	int items_seen;     /* E_ITEMS nodes made so far */
	int items_line;
	struct scope *scope;
	unsigned nscopes;
	struct name_slot *names;
	size_t nnames, names_alloc; /* names_alloc: a power of two */
	struct pfs_err *err;
};

/* The statements that end the body being parsed, and who opened it. */
struct ends {
	const char *kw[3];
	int n;
	const char *opener;
	int opener_line;
};

static const char *const keywords[] = {
	"and", "or", "not", "in", "is", "if", "else",
};

/* x.name means the method, not the key, in Jinja when x is a dict. */
static const char *const dict_methods[] = {
	"clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault",
	"update", "values",
};

static const char *const unassignable[] = {
	"and", "or", "not", "in", "is", "if", "else", "true", "false", "True", "False",
	"none", "None", "loop",
};

__attribute__((format(printf, 4, 5)))
static int fail(struct parser *p, int code, int line, const char *fmt, ...)
{
	char msg[PFS_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return tmpl_errorf(p->err, code, p->t->name, line, "%s", msg);
}

static int nomem(struct parser *p, int line)
{
	return fail(p, -ENOMEM, line, "out of memory");
}

/* ---- tokens -------------------------------------------------------------- */

static int peek(struct parser *p, int k, struct token **tok)
{
	while (p->nla <= k) {
		int r = tmpl_lex(&p->lx, &p->la[p->nla]);

		if (r < 0)
			return r;
		p->nla++;
	}
	*tok = &p->la[k];
	return 0;
}

static int next(struct parser *p, struct token *tok)
{
	struct token *t;
	int r = peek(p, 0, &t);

	if (r < 0)
		return r;
	*tok = *t;
	p->la[0] = p->la[1];
	p->nla--;
	p->last_end = tok->off + tok->len;
	return 0;
}

static bool tok_is(const struct parser *p, const struct token *tok, const char *name)
{
	size_t n = strlen(name);

	return tok->type == TK_NAME && tok->len == n && memcmp(p->t->src + tok->off, name, n) == 0;
}

static bool tok_in(const struct parser *p, const struct token *tok, const char *const *names,
		   size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tok_is(p, tok, names[i]))
			return true;
	return false;
}

static bool tok_op(const struct token *tok, enum op op)
{
	return tok->type == TK_OP && tok->op == op;
}

/* "\"foo\"" or "end of template", into buf. */
static const char *describe(const struct parser *p, const struct token *tok, char *buf, size_t n)
{
	size_t len = tok->len > 40 ? 40 : tok->len;

	if (tok->type == TK_EOF)
		return "end of template";
	snprintf(buf, n, "\"%.*s%s\"", (int)len, p->t->src + tok->off, tok->len > len ? "..." : "");
	return buf;
}

static int unexpected(struct parser *p, const struct token *tok, const char *expected)
{
	char d[64];

	return fail(p, -EINVAL, tok->line, "unexpected %s, expected %s",
		    describe(p, tok, d, sizeof(d)), expected);
}

static int expect_op(struct parser *p, enum op op, const char *what)
{
	struct token tok;
	int r = next(p, &tok);

	if (r == 0 && !tok_op(&tok, op))
		r = unexpected(p, &tok, what);
	return r;
}

static int expect_type(struct parser *p, enum tok_type type, const char *what)
{
	struct token tok;
	int r = next(p, &tok);

	if (r == 0 && tok.type != type)
		r = unexpected(p, &tok, what);
	return r;
}

static int expect_name(struct parser *p, const char *name)
{
	struct token tok;
	char what[32];
	int r = next(p, &tok);

	if (r == 0 && !tok_is(p, &tok, name)) {
		snprintf(what, sizeof(what), "\"%s\"", name);
		r = unexpected(p, &tok, what);
	}
	return r;
}

/* ---- nodes --------------------------------------------------------------- */

static struct expr *new_expr(struct parser *p, enum expr_kind kind, int line, size_t start)
{
	struct expr *e = tmpl_alloc(p->t, sizeof(*e));

	if (e) {
		e->kind = kind;
		e->line = line;
		e->off = start;
	}
	return e;
}

static int depth_of(const struct expr *e)
{
	return e ? e->depth : 0;
}

static int max_depth(const struct operand *o)
{
	int d = 0;

	for (; o; o = o->next)
		if (o->e->depth > d)
			d = o->e->depth;
	return d;
}

/* Sets e's source span (up to the last token consumed) and checks its depth. */
static int finish(struct parser *p, struct expr *e)
{
	int d = 0;

	e->len = p->last_end > e->off ? p->last_end - e->off : 0;
	switch (e->kind) {
	case E_CONST:
	case E_NAME:
		break;
	case E_ATTR:
		d = depth_of(e->u.attr.base);
		break;
	case E_ITEM:
		d = PFS_MAX(depth_of(e->u.item.base), depth_of(e->u.item.key));
		break;
	case E_ITEMS:
	case E_NOT:
	case E_NEG:
	case E_POS:
		d = depth_of(e->u.un.base);
		break;
	case E_LIST:
	case E_OR:
	case E_AND:
	case E_CMP:
	case E_ADD:
	case E_CAT:
	case E_MUL:
		d = max_depth(e->u.list.first);
		break;
	case E_COND:
		d = PFS_MAX(depth_of(e->u.cond.then), PFS_MAX(depth_of(e->u.cond.cond),
							      depth_of(e->u.cond.otherwise)));
		break;
	case E_FILTER:
		d = PFS_MAX(depth_of(e->u.filter.base), max_depth(e->u.filter.args));
		break;
	case E_TEST:
		d = depth_of(e->u.test.base);
		break;
	}
	e->depth = d + 1;
	if (e->depth > TMPL_MAX_DEPTH)
		return fail(p, -ELOOP, e->line, "expression nested too deeply (limit %d)",
			    TMPL_MAX_DEPTH);
	return 0;
}

/* An n-ary node under construction. */
struct chain {
	struct expr *e;
	struct operand **tail;
};

static int chain_add(struct parser *p, struct chain *c, enum expr_kind kind, struct expr *first,
		     enum op op, struct expr *e)
{
	struct operand *o;

	if (!c->e) {
		c->e = new_expr(p, kind, first->line, first->off);
		o = tmpl_alloc(p->t, sizeof(*o));
		if (!c->e || !o)
			return nomem(p, first->line);
		o->e = first;
		c->e->u.list.first = o;
		c->e->u.list.n = 1;
		c->tail = &o->next;
	}
	o = tmpl_alloc(p->t, sizeof(*o));
	if (!o)
		return nomem(p, e->line);
	o->e = e;
	o->op = op;
	*c->tail = o;
	c->tail = &o->next;
	c->e->u.list.n++;
	return 0;
}

/* first alone, or the finished chain. */
static int chain_end(struct parser *p, struct chain *c, struct expr *first, struct expr **out)
{
	if (!c->e) {
		*out = first;
		return 0;
	}
	*out = c->e;
	return finish(p, c->e);
}

/* ---- name scopes ---------------------------------------------------------- */

static size_t name_hash(unsigned scope, const char *name)
{
	size_t h = 2166136261u ^ scope;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

/* The slot of (scope, name); created (empty) when create, else NULL if absent. */
static int name_slot(struct parser *p, unsigned scope, const char *name, bool create,
		     struct name_slot **out)
{
	size_t mask, i;

	*out = NULL;
	if (create && (p->nnames + 1) * 2 > p->names_alloc) {
		size_t n = p->names_alloc ? p->names_alloc * 2 : 64;
		struct name_slot *t = calloc(n, sizeof(*t));

		if (!t)
			return nomem(p, p->lx.line);
		for (size_t k = 0; k < p->names_alloc; k++) {
			if (!p->names[k].name)
				continue;
			for (i = name_hash(p->names[k].scope, p->names[k].name) & (n - 1); t[i].name;
			     i = (i + 1) & (n - 1))
				;
			t[i] = p->names[k];
		}
		free(p->names);
		p->names = t;
		p->names_alloc = n;
	}
	if (!p->names_alloc)
		return 0;
	mask = p->names_alloc - 1;
	for (i = name_hash(scope, name) & mask; p->names[i].name; i = (i + 1) & mask) {
		if (p->names[i].scope == scope && strcmp(p->names[i].name, name) == 0) {
			*out = &p->names[i];
			return 0;
		}
	}
	if (create) {
		p->names[i] = (struct name_slot){ .name = name, .scope = scope };
		p->nnames++;
		*out = &p->names[i];
	}
	return 0;
}

/* A read of name: remember it in every outer scope it may resolve to. */
static int note_read(struct parser *p, const char *name, int line)
{
	for (struct scope *s = p->scope; s; s = s->up) {
		struct name_slot *n;
		int r;

		if ((s->k && strcmp(s->k, name) == 0) || (s->v && strcmp(s->v, name) == 0))
			return 0;
		r = name_slot(p, s->id, name, s != p->scope, &n);
		if (r < 0)
			return r;
		if (n && n->set)
			return 0;
		if (n && !n->read_line)
			n->read_line = line;
	}
	return 0;
}

static int note_set(struct parser *p, const char *name, int line)
{
	struct name_slot *n;
	int r = name_slot(p, p->scope->id, name, true, &n);

	if (r < 0)
		return r;
	if (n->read_line)
		return fail(p, -EINVAL, line,
			    "\"%s\" is set here after a loop read it (line %d), where Jinja would "
			    "find it undefined: set it before that loop or use another name",
			    name, n->read_line);
	if (!p->scope->in_if)
		n->set = true;
	return 0;
}

static void push_scope(struct parser *p, struct scope *s, const char *k, const char *v)
{
	*s = (struct scope){ .up = p->scope, .id = p->nscopes++, .k = k, .v = v };
	p->scope = s;
}

/* ---- expressions --------------------------------------------------------- */

static int parse_expr(struct parser *p, struct expr **out);
static int parse_unary(struct parser *p, bool with_filter, struct expr **out);

static int enter(struct parser *p, int line)
{
	if (++p->nest > TMPL_MAX_DEPTH)
		return fail(p, -ELOOP, line, "expression nested too deeply (limit %d)",
			    TMPL_MAX_DEPTH);
	return 0;
}

static int parse_string(struct parser *p, struct token *first, struct expr **out)
{
	struct pfs_buf b = PFS_BUF_INIT(TMPL_MAX_SOURCE);
	struct token tok = *first, *pk = NULL;
	struct expr *e = new_expr(p, E_CONST, first->line, first->off);
	int r = e ? 0 : -ENOMEM;

	for (;;) {
		const char *s = p->t->src + tok.off + 1;
		size_t n = tok.len - 2;

		for (size_t i = 0; i < n && r == 0; i++) {
			char c = s[i];

			if (c == '\\') {
				c = s[++i]; /* the lexer checked the escape */
				c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
			}
			r = pfs_buf_addc(&b, c);
		}
		if (r == 0)
			r = peek(p, 0, &pk);
		if (r < 0 || pk->type != TK_STRING)
			break;
		r = next(p, &tok);
	}
	if (r == -ENOMEM || r == -E2BIG)
		r = nomem(p, first->line);
	if (r < 0)
		goto out;
	e->u.c.k = C_STR;
	e->u.c.slen = pfs_buf_len(&b);
	e->u.c.s = tmpl_strndup(p->t, pfs_buf_str(&b), e->u.c.slen);
	if (!e->u.c.s) {
		r = nomem(p, first->line);
		goto out;
	}
	r = finish(p, e);
	*out = e;
out:
	pfs_buf_release(&b);
	return r;
}

static int parse_number(struct parser *p, const struct token *tok, struct expr **out)
{
	struct expr *e = new_expr(p, E_CONST, tok->line, tok->off);
	const char *s = p->t->src + tok->off;

	if (!e)
		return nomem(p, tok->line);
	if (tok->type == TK_INT) {
		json_int_t v = 0;

		if (tok->len > 1 && s[0] == '0')
			return fail(p, -EINVAL, tok->line, "integer literal %.*s has a leading zero",
				    (int)PFS_MIN(tok->len, 40), s);
		for (size_t i = 0; i < tok->len; i++) {
			int d = s[i] - '0';

			if (v > (LLONG_MAX - d) / 10)
				return fail(p, -EINVAL, tok->line, "integer literal %.*s out of range",
					    (int)PFS_MIN(tok->len, 40), s);
			v = v * 10 + d;
		}
		e->u.c.k = C_INT;
		e->u.c.i = v;
	} else {
		char *copy = tmpl_strndup(p->t, s, tok->len);

		if (!copy)
			return nomem(p, tok->line);
		e->u.c.k = C_REAL;
		e->u.c.d = strtod(copy, NULL);
		if (!isfinite(e->u.c.d))
			return fail(p, -EINVAL, tok->line, "float literal %.*s out of range",
				    (int)PFS_MIN(tok->len, 40), s);
	}
	*out = e;
	return finish(p, e);
}

/* [a, b, ...] after the "[". */
static int parse_list(struct parser *p, const struct token *open, struct expr **out)
{
	struct expr *e = new_expr(p, E_LIST, open->line, open->off);
	struct operand **tail;
	struct token *pk, comma;
	int r;

	if (!e)
		return nomem(p, open->line);
	tail = &e->u.list.first;
	for (;;) {
		struct operand *o;

		r = peek(p, 0, &pk);
		if (r < 0)
			return r;
		if (tok_op(pk, OP_RBRACKET))
			break;
		o = tmpl_alloc(p->t, sizeof(*o));
		if (!o)
			return nomem(p, pk->line);
		r = parse_expr(p, &o->e);
		if (r < 0)
			return r;
		*tail = o;
		tail = &o->next;
		e->u.list.n++;
		r = peek(p, 0, &pk);
		if (r < 0)
			return r;
		if (!tok_op(pk, OP_COMMA))
			break;
		r = next(p, &comma);
		if (r < 0)
			return r;
	}
	r = expect_op(p, OP_RBRACKET, "\",\" or \"]\"");
	if (r < 0)
		return r;
	*out = e;
	return finish(p, e);
}

static int parse_primary(struct parser *p, struct expr **out)
{
	struct token tok, *pk;
	struct expr *e;
	char d[64];
	int r = next(p, &tok);

	if (r < 0)
		return r;
	switch (tok.type) {
	case TK_NAME:
		if (tok_in(p, &tok, keywords, PFS_ARRAY_SIZE(keywords)))
			break;
		e = new_expr(p, E_CONST, tok.line, tok.off);
		if (!e)
			return nomem(p, tok.line);
		if (tok_is(p, &tok, "true") || tok_is(p, &tok, "True") ||
		    tok_is(p, &tok, "false") || tok_is(p, &tok, "False")) {
			e->u.c.k = C_BOOL;
			e->u.c.b = p->t->src[tok.off] == 't' || p->t->src[tok.off] == 'T';
		} else if (tok_is(p, &tok, "none") || tok_is(p, &tok, "None")) {
			e->u.c.k = C_NONE;
		} else {
			e->kind = E_NAME;
			e->u.name.name = tmpl_strndup(p->t, p->t->src + tok.off, tok.len);
			if (!e->u.name.name)
				return nomem(p, tok.line);
			r = note_read(p, e->u.name.name, tok.line);
			if (r < 0)
				return r;
		}
		*out = e;
		return finish(p, e);
	case TK_STRING:
		return parse_string(p, &tok, out);
	case TK_INT:
	case TK_FLOAT:
		return parse_number(p, &tok, out);
	case TK_OP:
		if (tok.op == OP_LPAREN) {
			r = parse_expr(p, out);
			if (r < 0)
				return r;
			r = peek(p, 0, &pk);
			if (r == 0 && tok_op(pk, OP_COMMA))
				return fail(p, -EINVAL, pk->line, "tuples are not supported");
			if (r == 0)
				r = expect_op(p, OP_RPAREN, "\")\"");
			return r;
		}
		if (tok.op == OP_LBRACKET)
			return parse_list(p, &tok, out);
		if (tok.op == OP_LBRACE)
			return fail(p, -EINVAL, tok.line, "dict literals are not supported");
		break;
	default:
		break;
	}
	return fail(p, -EINVAL, tok.line, "expected an expression, got %s",
		    describe(p, &tok, d, sizeof(d)));
}

static int not_callable(struct parser *p, const struct expr *e, const struct token *paren)
{
	return fail(p, -EINVAL, paren->line, "calling \"%.*s\" is not supported",
		    (int)PFS_MIN(e->len, 60), p->t->src + e->off);
}

/* .name, .items(), [key] */
static int parse_postfix(struct parser *p, struct expr **inout)
{
	struct expr *base = *inout, *e;
	struct token tok, *pk;
	int r;

	for (;;) {
		r = peek(p, 0, &pk);
		if (r < 0)
			return r;
		if (tok_op(pk, OP_LPAREN))
			return not_callable(p, base, pk);
		if (!tok_op(pk, OP_DOT) && !tok_op(pk, OP_LBRACKET))
			break;
		r = next(p, &tok);
		if (r < 0)
			return r;
		if (tok.op == OP_DOT) {
			struct token name;

			r = next(p, &name);
			if (r < 0)
				return r;
			if (name.type != TK_NAME)
				return unexpected(p, &name, "a name after \".\"");
			r = peek(p, 0, &pk);
			if (r < 0)
				return r;
			if (tok_is(p, &name, "items") && tok_op(pk, OP_LPAREN)) {
				r = next(p, &tok);
				if (r == 0)
					r = expect_op(p, OP_RPAREN, "\")\" (items() takes no arguments)");
				if (r < 0)
					return r;
				e = new_expr(p, E_ITEMS, base->line, base->off);
				if (!e)
					return nomem(p, tok.line);
				e->u.un.base = base;
				p->items_seen++;
				p->items_line = tok.line;
			} else if (tok_in(p, &name, dict_methods, PFS_ARRAY_SIZE(dict_methods)) ||
				   (name.len >= 2 && memcmp(p->t->src + name.off, "__", 2) == 0)) {
				return fail(p, -EINVAL, name.line,
					    "\".%.*s\" is a Python attribute in Jinja, not a key: write [\"%.*s\"]",
					    (int)PFS_MIN(name.len, 40), p->t->src + name.off,
					    (int)PFS_MIN(name.len, 40), p->t->src + name.off);
			} else {
				e = new_expr(p, E_ATTR, base->line, base->off);
				if (!e)
					return nomem(p, tok.line);
				e->u.attr.base = base;
				e->u.attr.name = tmpl_strndup(p->t, p->t->src + name.off, name.len);
				if (!e->u.attr.name)
					return nomem(p, tok.line);
			}
		} else {
			e = new_expr(p, E_ITEM, base->line, base->off);
			if (!e)
				return nomem(p, tok.line);
			e->u.item.base = base;
			r = parse_expr(p, &e->u.item.key);
			if (r < 0)
				return r;
			r = peek(p, 0, &pk);
			if (r < 0)
				return r;
			if (tok_op(pk, OP_COLON))
				return fail(p, -EINVAL, pk->line, "slices are not supported");
			r = expect_op(p, OP_RBRACKET, "\"]\"");
			if (r < 0)
				return r;
		}
		r = finish(p, e);
		if (r < 0)
			return r;
		base = e;
	}
	*inout = base;
	return 0;
}

/* | name(args) */
static int parse_filter(struct parser *p, struct expr **inout)
{
	struct expr *base = *inout, *e;
	struct operand **tail;
	struct token tok, *pk, *pk2;
	const struct tmpl_filter *f;
	int line, r = next(p, &tok); /* the pipe */

	if (r == 0)
		r = next(p, &tok);
	if (r < 0)
		return r;
	if (tok.type != TK_NAME)
		return unexpected(p, &tok, "a filter name after \"|\"");
	line = tok.line;
	f = tmpl_filter_find(p->t->src + tok.off, tok.len);
	if (!f)
		return fail(p, -EINVAL, tok.line, "filter \"%.*s\" does not exist",
			    (int)PFS_MIN(tok.len, 40), p->t->src + tok.off);
	e = new_expr(p, E_FILTER, base->line, base->off);
	if (!e)
		return nomem(p, tok.line);
	e->u.filter.base = base;
	e->u.filter.f = f;
	tail = &e->u.filter.args;
	r = peek(p, 0, &pk);
	if (r < 0)
		return r;
	if (tok_op(pk, OP_LPAREN)) {
		r = next(p, &tok);
		while (r == 0) {
			struct operand *o;

			r = peek(p, 0, &pk);
			if (r < 0 || tok_op(pk, OP_RPAREN))
				break;
			if (pk->type == TK_NAME) {
				r = peek(p, 1, &pk2);
				if (r < 0)
					return r;
				r = peek(p, 0, &pk);
				if (r < 0)
					return r;
				if (tok_op(pk2, OP_ASSIGN))
					return fail(p, -EINVAL, pk->line,
						    "keyword arguments are not supported");
			}
			o = tmpl_alloc(p->t, sizeof(*o));
			if (!o)
				return nomem(p, pk->line);
			r = parse_expr(p, &o->e);
			if (r < 0)
				return r;
			*tail = o;
			tail = &o->next;
			e->u.filter.nargs++;
			r = peek(p, 0, &pk);
			if (r < 0 || !tok_op(pk, OP_COMMA))
				break;
			r = next(p, &tok);
		}
		if (r == 0)
			r = expect_op(p, OP_RPAREN, "\",\" or \")\"");
		if (r < 0)
			return r;
	}
	if (e->u.filter.nargs < f->min_args || e->u.filter.nargs > f->max_args) {
		const char *how = f->min_args == f->max_args ? "exactly" :
				  e->u.filter.nargs < f->min_args ? "at least" : "at most";
		int n = e->u.filter.nargs < f->min_args ? f->min_args : f->max_args;

		return fail(p, -EINVAL, line, "filter \"%s\" takes %s %d argument%s (%d given)",
			    f->name, how, n, n == 1 ? "" : "s", e->u.filter.nargs);
	}
	*inout = e;
	return finish(p, e);
}

/* is [not] defined|none */
static int parse_test(struct parser *p, struct expr **inout)
{
	struct expr *e = new_expr(p, E_TEST, (*inout)->line, (*inout)->off);
	struct token tok, *pk;
	int r = next(p, &tok); /* "is" */

	if (r < 0)
		return r;
	if (!e)
		return nomem(p, tok.line);
	e->u.test.base = *inout;
	r = peek(p, 0, &pk);
	if (r == 0 && tok_is(p, pk, "not")) {
		e->u.test.negate = true;
		r = next(p, &tok);
	}
	if (r == 0)
		r = next(p, &tok);
	if (r < 0)
		return r;
	if (tok.type != TK_NAME)
		return unexpected(p, &tok, "a test name after \"is\"");
	if (tok_is(p, &tok, "defined"))
		e->u.test.test = T_DEFINED;
	else if (tok_is(p, &tok, "none"))
		e->u.test.test = T_NONE;
	else
		return fail(p, -EINVAL, tok.line, "test \"%.*s\" does not exist",
			    (int)PFS_MIN(tok.len, 40), p->t->src + tok.off);
	/*
	 * Jinja reads a name (but else/or/and), literal or bracket right after
	 * a test as its argument ("x is divisibleby 3"), so "x is defined if c
	 * else y" does not mean what it seems: refuse it too.
	 */
	r = peek(p, 0, &pk);
	if (r < 0)
		return r;
	if ((pk->type == TK_NAME && !tok_is(p, pk, "else") && !tok_is(p, pk, "or") &&
	     !tok_is(p, pk, "and")) ||
	    pk->type == TK_STRING || pk->type == TK_INT || pk->type == TK_FLOAT ||
	    tok_op(pk, OP_LPAREN) || tok_op(pk, OP_LBRACKET) || tok_op(pk, OP_LBRACE)) {
		char d[64];

		return fail(p, -EINVAL, pk->line,
			    "unexpected %s after \"is %s%.*s\" (tests take no arguments; use parentheses)",
			    describe(p, pk, d, sizeof(d)), e->u.test.negate ? "not " : "",
			    (int)tok.len, p->t->src + tok.off);
	}
	*inout = e;
	return finish(p, e);
}

static int parse_unary(struct parser *p, bool with_filter, struct expr **out)
{
	struct token tok, *pk;
	struct expr *e = NULL;
	int r = peek(p, 0, &pk);

	if (r < 0)
		return r;
	if (tok_op(pk, OP_SUB) || tok_op(pk, OP_ADD)) {
		r = next(p, &tok);
		if (r < 0)
			return r;
		r = enter(p, tok.line);
		if (r == 0) {
			e = new_expr(p, tok.op == OP_SUB ? E_NEG : E_POS, tok.line, tok.off);
			r = e ? parse_unary(p, false, &e->u.un.base) : nomem(p, tok.line);
		}
		p->nest--;
		if (r == 0)
			r = finish(p, e);
	} else {
		r = parse_primary(p, &e);
	}
	if (r == 0)
		r = parse_postfix(p, &e);
	while (r == 0 && with_filter) {
		r = peek(p, 0, &pk);
		if (r < 0)
			break;
		if (tok_op(pk, OP_PIPE))
			r = parse_filter(p, &e);
		else if (tok_is(p, pk, "is"))
			r = parse_test(p, &e);
		else if (tok_op(pk, OP_LPAREN))
			r = not_callable(p, e, pk);
		else
			break;
	}
	if (r == 0)
		*out = e;
	return r;
}

/*
 * The left-associative binary levels, tightest first: * / // %, then ~,
 * then + - (Jinja's order). Each level is a chain of operands of the level
 * before it; the first level's operands are unary expressions.
 */
static const struct binary_level {
	enum expr_kind kind;
	enum op ops[4];
	size_t n_ops;
} binary_levels[] = {
	{ E_MUL, { OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD }, 4 },
	{ E_CAT, { OP_TILDE }, 1 },
	{ E_ADD, { OP_ADD, OP_SUB }, 2 },
};

static int parse_binary(struct parser *p, size_t level, struct expr **out);

static int parse_binary_operand(struct parser *p, size_t level, struct expr **out)
{
	return level ? parse_binary(p, level - 1, out) : parse_unary(p, true, out);
}

static int parse_binary(struct parser *p, size_t level, struct expr **out)
{
	const struct binary_level *l = &binary_levels[level];
	struct chain c = { 0 };
	struct expr *first, *rhs;
	struct token tok, *pk;
	int r = parse_binary_operand(p, level, &first);

	while (r == 0) {
		bool mine = false;

		r = peek(p, 0, &pk);
		for (size_t i = 0; r == 0 && i < l->n_ops && !mine; i++)
			mine = tok_op(pk, l->ops[i]);
		if (!mine)
			break;
		r = next(p, &tok);
		if (r == 0)
			r = parse_binary_operand(p, level, &rhs);
		if (r == 0)
			r = chain_add(p, &c, l->kind, first, tok.op, rhs);
	}
	return r < 0 ? r : chain_end(p, &c, first, out);
}

/* + - and what binds tighter */
static int parse_math1(struct parser *p, struct expr **out)
{
	return parse_binary(p, PFS_ARRAY_SIZE(binary_levels) - 1, out);
}

/* == != < > <= >= in, not in */
static int parse_compare(struct parser *p, struct expr **out)
{
	struct chain c = { 0 };
	struct expr *first, *rhs;
	struct token tok, *pk, *pk2;
	int r = parse_math1(p, &first);

	while (r == 0) {
		enum op op = OP_NONE;

		r = peek(p, 0, &pk);
		if (r < 0)
			break;
		if (pk->type == TK_OP && pk->op >= OP_EQ && pk->op <= OP_GE) {
			op = pk->op;
		} else if (tok_is(p, pk, "in")) {
			op = OP_IN;
		} else if (tok_is(p, pk, "not")) {
			r = peek(p, 1, &pk2);
			if (r < 0)
				break;
			if (tok_is(p, pk2, "in")) {
				op = OP_NOTIN;
				r = next(p, &tok);
			}
		}
		if (r < 0 || op == OP_NONE)
			break;
		r = next(p, &tok);
		if (r == 0)
			r = parse_math1(p, &rhs);
		if (r == 0)
			r = chain_add(p, &c, E_CMP, first, op, rhs);
	}
	return r < 0 ? r : chain_end(p, &c, first, out);
}

static int parse_not(struct parser *p, struct expr **out)
{
	struct token tok, *pk;
	struct expr *e = NULL;
	int r = peek(p, 0, &pk);

	if (r < 0)
		return r;
	if (!tok_is(p, pk, "not"))
		return parse_compare(p, out);
	r = next(p, &tok);
	if (r < 0)
		return r;
	r = enter(p, tok.line);
	if (r == 0) {
		e = new_expr(p, E_NOT, tok.line, tok.off);
		r = e ? parse_not(p, &e->u.un.base) : nomem(p, tok.line);
	}
	p->nest--;
	if (r == 0) {
		*out = e;
		r = finish(p, e);
	}
	return r;
}

static int parse_logic(struct parser *p, bool is_or, struct expr **out)
{
	struct chain c = { 0 };
	struct expr *first, *rhs;
	struct token tok, *pk;
	int r = is_or ? parse_logic(p, false, &first) : parse_not(p, &first);

	while (r == 0) {
		r = peek(p, 0, &pk);
		if (r < 0 || !tok_is(p, pk, is_or ? "or" : "and"))
			break;
		r = next(p, &tok);
		if (r == 0)
			r = is_or ? parse_logic(p, false, &rhs) : parse_not(p, &rhs);
		if (r == 0)
			r = chain_add(p, &c, is_or ? E_OR : E_AND, first, is_or ? OP_OR : OP_AND, rhs);
	}
	return r < 0 ? r : chain_end(p, &c, first, out);
}

/*
 * a if c else b. Jinja parses the conditions of if, elif and for without a
 * top-level inline if (with_condexpr=False): so do we, with_cond false.
 */
static int parse_expr_cond(struct parser *p, bool with_cond, struct expr **out)
{
	struct token tok, *pk;
	struct expr *e = NULL, *c;
	int r = peek(p, 0, &pk);

	if (r < 0)
		return r;
	r = enter(p, pk->line);
	if (r == 0)
		r = parse_logic(p, true, &e);
	if (r == 0 && with_cond)
		r = peek(p, 0, &pk);
	if (r == 0 && with_cond && tok_is(p, pk, "if")) {
		r = next(p, &tok);
		c = new_expr(p, E_COND, e->line, e->off);
		if (r == 0 && !c)
			r = nomem(p, tok.line);
		if (r == 0) {
			c->u.cond.then = e;
			r = parse_logic(p, true, &c->u.cond.cond);
		}
		if (r == 0)
			r = expect_name(p, "else");
		if (r == 0)
			r = parse_expr(p, &c->u.cond.otherwise);
		if (r == 0)
			r = finish(p, c);
		e = c;
	}
	p->nest--;
	if (r == 0)
		*out = e;
	return r;
}

static int parse_expr(struct parser *p, struct expr **out)
{
	return parse_expr_cond(p, true, out);
}

/* An expression outside "for ... in": .items() is not allowed in it. */
static int parse_expr_top(struct parser *p, bool with_cond, struct expr **out)
{
	int seen = p->items_seen;
	int r = parse_expr_cond(p, with_cond, out);

	if (r == 0 && p->items_seen != seen)
		r = fail(p, -EINVAL, p->items_line,
			 ".items() is only supported in \"for k, v in x.items()\"");
	return r;
}

/* ---- statements ---------------------------------------------------------- */

static struct stmt *new_stmt(struct parser *p, enum stmt_kind kind, int line)
{
	struct stmt *s = tmpl_alloc(p->t, sizeof(*s));

	if (s) {
		s->kind = kind;
		s->line = line;
	}
	return s;
}

static int parse_body(struct parser *p, const struct ends *ends, struct stmt **out,
		      const char **found);

static int expect_block_end(struct parser *p)
{
	return expect_type(p, TK_BLOCK_END, "\"%}\"");
}

static int open_block(struct parser *p, int line)
{
	if (++p->blocks > TMPL_MAX_DEPTH)
		return fail(p, -ELOOP, line, "blocks nested too deeply (limit %d)", TMPL_MAX_DEPTH);
	return 0;
}

/* A name to bind (set, for): not a keyword, literal or "loop". */
static int target_name(struct parser *p, const char **out)
{
	struct token tok;
	int r = next(p, &tok);

	if (r < 0)
		return r;
	if (tok.type != TK_NAME)
		return unexpected(p, &tok, "a name");
	if (tok_in(p, &tok, unassignable, PFS_ARRAY_SIZE(unassignable)))
		return fail(p, -EINVAL, tok.line, "cannot assign to \"%.*s\"", (int)tok.len,
			    p->t->src + tok.off);
	*out = tmpl_strndup(p->t, p->t->src + tok.off, tok.len);
	return *out ? 0 : nomem(p, tok.line);
}

static int parse_if(struct parser *p, int line, struct stmt **out)
{
	struct stmt *s = new_stmt(p, S_IF, line);
	struct ends ends = { { "elif", "else", "endif" }, 3, "if", line };
	struct branch **tail, *b;
	const char *found = NULL;
	int r = open_block(p, line);

	if (r == 0 && !s)
		r = nomem(p, line);
	if (r < 0)
		goto out;
	p->scope->in_if++;
	tail = &s->u.if_.branches;
	for (;;) {
		b = tmpl_alloc(p->t, sizeof(*b));
		if (!b) {
			r = nomem(p, line);
			break;
		}
		if (!found || strcmp(found, "elif") == 0)
			r = parse_expr_top(p, false, &b->cond);
		if (r == 0)
			r = expect_block_end(p);
		if (r == 0)
			r = parse_body(p, &ends, &b->body, &found);
		if (r < 0)
			break;
		*tail = b;
		tail = &b->next;
		if (strcmp(found, "endif") == 0) {
			r = expect_block_end(p);
			break;
		}
		if (strcmp(found, "else") == 0)
			ends = (struct ends){ { "endif" }, 1, "if", line };
	}
	p->scope->in_if--;
	*out = s;
out:
	p->blocks--;
	return r;
}

static int parse_for(struct parser *p, int line, struct stmt **out)
{
	struct stmt *s = new_stmt(p, S_FOR, line);
	struct ends ends = { { "else", "endfor" }, 2, "for", line };
	struct token tok, *pk;
	const char *found = NULL;
	struct expr *iter = NULL;
	struct scope body;
	int seen, r = open_block(p, line);

	if (r == 0 && !s)
		r = nomem(p, line);
	if (r == 0)
		r = target_name(p, &s->u.for_.k);
	if (r == 0)
		r = peek(p, 0, &pk);
	if (r == 0 && tok_op(pk, OP_COMMA)) {
		r = next(p, &tok);
		if (r == 0)
			r = target_name(p, &s->u.for_.v);
		s->u.for_.items = true;
	}
	if (r == 0)
		r = expect_name(p, "in");
	seen = p->items_seen;
	if (r == 0)
		r = parse_expr_cond(p, false, &iter);
	if (r < 0)
		goto out;
	if (s->u.for_.items) {
		if (iter->kind != E_ITEMS || p->items_seen != seen + 1) {
			r = fail(p, -EINVAL, iter->line,
				 "\"for k, v\" needs an object's .items(), as in \"for k, v in x.items()\"");
			goto out;
		}
		iter = iter->u.un.base;
	} else if (p->items_seen != seen) {
		r = fail(p, -EINVAL, p->items_line,
			 ".items() needs two names, as in \"for k, v in x.items()\"");
		goto out;
	}
	s->u.for_.iter = iter;
	r = expect_block_end(p);
	push_scope(p, &body, s->u.for_.k, s->u.for_.v);
	if (r == 0)
		r = parse_body(p, &ends, &s->u.for_.body, &found);
	p->scope = body.up;
	if (r == 0 && strcmp(found, "else") == 0) {
		ends = (struct ends){ { "endfor" }, 1, "for", line };
		r = expect_block_end(p);
		push_scope(p, &body, NULL, NULL);
		if (r == 0)
			r = parse_body(p, &ends, &s->u.for_.else_body, &found);
		p->scope = body.up;
	}
	if (r == 0)
		r = expect_block_end(p);
	*out = s;
out:
	p->blocks--;
	return r;
}

static int parse_set(struct parser *p, int line, struct stmt **out)
{
	struct stmt *s = new_stmt(p, S_SET, line);
	int r = s ? target_name(p, &s->u.set.name) : nomem(p, line);

	if (r == 0)
		r = expect_op(p, OP_ASSIGN, "\"=\"");
	if (r == 0)
		r = parse_expr_top(p, true, &s->u.set.e);
	if (r == 0)
		r = expect_block_end(p);
	if (r == 0)
		r = note_set(p, s->u.set.name, line);
	*out = s;
	return r;
}

/* An end/middle keyword that does not belong here. */
static int stray(struct parser *p, const struct ends *ends, const struct token *kw)
{
	char d[64];

	if (ends)
		return fail(p, -EINVAL, kw->line,
			    "unexpected %s, expected \"%s\" (the \"%s\" on line %d is not closed)",
			    describe(p, kw, d, sizeof(d)), ends->kw[ends->n - 1], ends->opener,
			    ends->opener_line);
	if (tok_is(p, kw, "endfor"))
		return fail(p, -EINVAL, kw->line, "\"endfor\" without matching \"for\"");
	if (tok_is(p, kw, "else"))
		return fail(p, -EINVAL, kw->line, "\"else\" without matching \"if\" or \"for\"");
	return fail(p, -EINVAL, kw->line, "\"%.*s\" without matching \"if\"", (int)kw->len,
		    p->t->src + kw->off);
}

static const char *const middles[] = { "elif", "else", "endif", "endfor" };

/*
 * Statements up to the end of the template (ends NULL) or up to a block
 * tag whose keyword is one of ends->kw: *found points at that keyword and the
 * rest of the tag is left to the caller.
 */
static int parse_body(struct parser *p, const struct ends *ends, struct stmt **out,
		      const char **found)
{
	struct stmt *head = NULL, **tail = &head, *s = NULL;
	struct token tok;
	char d[64];
	int r;

	for (;;) {
		r = next(p, &tok);
		if (r < 0)
			return r;
		switch (tok.type) {
		case TK_EOF:
			if (ends)
				return fail(p, -EINVAL, tok.line,
					    "unexpected end of template, expected \"%s\" (the \"%s\" on line %d is not closed)",
					    ends->kw[ends->n - 1], ends->opener, ends->opener_line);
			*out = head;
			return 0;
		case TK_TEXT:
			s = new_stmt(p, S_TEXT, tok.line);
			if (!s)
				return nomem(p, tok.line);
			s->u.text.off = tok.off;
			s->u.text.len = tok.len;
			break;
		case TK_VAR_BEGIN:
			s = new_stmt(p, S_OUT, tok.line);
			if (!s)
				return nomem(p, tok.line);
			r = parse_expr_top(p, true, &s->u.out.e);
			if (r == 0)
				r = expect_type(p, TK_VAR_END, "\"}}\"");
			if (r < 0)
				return r;
			break;
		case TK_BLOCK_BEGIN:
			r = next(p, &tok);
			if (r < 0)
				return r;
			if (tok.type != TK_NAME)
				return fail(p, -EINVAL, tok.line, "expected a statement, got %s",
					    describe(p, &tok, d, sizeof(d)));
			for (int i = 0; ends && i < ends->n; i++) {
				if (tok_is(p, &tok, ends->kw[i])) {
					*found = ends->kw[i];
					*out = head;
					return 0;
				}
			}
			if (tok_is(p, &tok, "if"))
				r = parse_if(p, tok.line, &s);
			else if (tok_is(p, &tok, "for"))
				r = parse_for(p, tok.line, &s);
			else if (tok_is(p, &tok, "set"))
				r = parse_set(p, tok.line, &s);
			else if (tok_in(p, &tok, middles, PFS_ARRAY_SIZE(middles)))
				r = stray(p, ends, &tok);
			else
				r = fail(p, -EINVAL, tok.line, "unknown statement \"%.*s\"",
					 (int)PFS_MIN(tok.len, 40), p->t->src + tok.off);
			if (r < 0)
				return r;
			break;
		default:
			return fail(p, -EINVAL, tok.line, "unexpected %s",
				    describe(p, &tok, d, sizeof(d)));
		}
		*tail = s;
		tail = &s->next;
	}
}

int tmpl_parse(struct tmpl *t, struct pfs_err *err)
{
	struct parser p = { .t = t, .err = err };
	struct scope top;
	int r;

	tmpl_lex_init(&p.lx, t->name, t->src, t->len, &t->opts, err);
	push_scope(&p, &top, NULL, NULL);
	r = parse_body(&p, NULL, &t->body, NULL);
	free(p.names);
	return r;
}
