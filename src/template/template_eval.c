/* SPDX-License-Identifier: MIT */
/*
 * Template renderer: walks the tree over jansson values.
 *
 * Values are jansson values (struct val.j); "undefined" is a val with no
 * value that remembers which expression was undefined and why, so the error
 * can quote the template's own text ("a.b") once something actually uses
 * it. Only "is defined" and "default" look at a val without calling need().
 *
 * The context is never written, not even its reference counts: jansson's
 * json_incref reads the count without synchronization before its atomic
 * add, so renders sharing one ctx would race (ThreadSanitizer says so), and
 * they would fight over the cache lines anyway. A val either BORROWS a value
 * inside ctx (owned false: ctx outlives the render) or OWNS a reference to a
 * value the render made. A child of an owned container is taken with a
 * reference (a private object); a borrowed value that goes into an array the
 * template builds is copied first, so private containers never point into
 * ctx.
 *
 * All render state lives in struct render on the caller's stack: the compiled
 * template is only read, so concurrent renders need no locking. Variables are
 * one stack of bindings; a for body's bindings start at r->scope and are cut
 * back at every iteration, which gives Jinja's scoping without maps.
 *
 * Cost is bounded three ways, because a template is code written by someone
 * other than the daemon's author: TMPL_MAX_ITERATIONS loop iterations;
 * TMPL_MAX_STEPS "steps", one per statement and expression evaluated, plus
 * whatever a single step does in proportion to its input (one per 16 bytes of
 * a string built, compared, searched or counted; one per array item joined or
 * copied, per value visited by ==, tojson or the depth check; one per 16
 * variables scanned), so every render ends within a few seconds and
 * allocates at most about 320 MiB in total; and TMPL_MAX_STRING /
 * TMPL_MAX_ARRAY for single values.
 * Recursion is bounded by the parser's depth limits and, for values, by
 * TMPL_MAX_DEPTH in tojson, == and list literals.
 *
 * No libm: the meson targets do not link it. That is why // and % take
 * integers only (Python's float versions are built on fmod, and an
 * approximation would print different digits than Jinja), and why the one
 * floor needed (comparing an integer with a float) is done by hand.
 */
#define _GNU_SOURCE /* memmem */
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

struct loop_state {
	size_t index0, length;
};

struct binding {
	const char *name;
	json_t *val;                   /* NULL for "loop" */
	bool owned;                    /* val is a reference of ours, else in ctx */
	const struct loop_state *loop; /* set for "loop" */
};

struct render {
	const struct tmpl *t;
	json_t *ctx;
	struct pfs_buf *out;
	size_t out_cap;
	struct pfs_err *err;
	struct binding *vars;
	size_t nvars, vars_alloc;
	size_t scope; /* first binding of the innermost for body */
	unsigned long steps, iterations;
};

enum undef_why { U_MISSING, U_RANGE, U_NOTCONTAINER, U_EMPTY };

struct val {
	json_t *j;             /* NULL: undefined */
	bool owned;            /* j is a reference of ours; else it is inside ctx */
	const struct expr *ue; /* undefined: the expression */
	enum undef_why why;
	const char *what;      /* U_NOTCONTAINER: the base's type; U_EMPTY: "array"/"string" */
	json_int_t idx;        /* U_RANGE */
	size_t n;              /* U_RANGE: the length */
};

/* An expression's source text for messages: "%.*s" arguments. */
#define TEXT_MAX 200
#define EXPR_TEXT(r, e) (int)PFS_MIN((e)->len, TEXT_MAX), (r)->t->src + (e)->off

static void val_clear(struct val *v)
{
	if (v->owned)
		json_decref(v->j);
	memset(v, 0, sizeof(*v));
}

/* Moves *from into *to (which must be clear). */
static void val_move(struct val *to, struct val *from)
{
	*to = *from;
	memset(from, 0, sizeof(*from));
}

/* out = j, a child of a container that is owned (take a reference) or borrowed (borrow). */
static void val_child(struct val *out, json_t *j, bool parent_owned)
{
	out->j = parent_owned ? json_incref(j) : j;
	out->owned = parent_owned;
}

static void undefined(struct val *v, const struct expr *e, enum undef_why why)
{
	memset(v, 0, sizeof(*v));
	v->ue = e;
	v->why = why;
}

__attribute__((format(printf, 4, 5)))
static int fail(struct render *r, int line, int code, const char *fmt, ...)
{
	char msg[PFS_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return tmpl_errorf(r->err, code, r->t->name, line, "%s", msg);
}

static int nomem(struct render *r, int line)
{
	return fail(r, line, -ENOMEM, "out of memory");
}

/* out owns j, a new value; -ENOMEM when the constructor returned NULL. */
static int set_json(struct render *r, int line, struct val *out, json_t *j)
{
	out->j = j;
	out->owned = j != NULL;
	return j ? 0 : nomem(r, line);
}

static int step(struct render *r, int line, unsigned long n)
{
	r->steps += n;
	if (r->steps > TMPL_MAX_STEPS)
		return fail(r, line, -ELOOP, "too many evaluation steps (limit %u)", TMPL_MAX_STEPS);
	return 0;
}

/* An error of a pfs_buf used to build a string value. */
static int string_error(struct render *r, int line, int code)
{
	if (code == -E2BIG)
		return fail(r, line, -E2BIG, "string longer than %u bytes", TMPL_MAX_STRING);
	return nomem(r, line);
}

/* Turns b (freed) into a string value. */
static int make_string(struct render *r, int line, struct pfs_buf *b, struct val *out)
{
	int rc = step(r, line, 1 + pfs_buf_len(b) / 16);

	if (rc == 0)
		rc = set_json(r, line, out, json_stringn_nocheck(pfs_buf_str(b), pfs_buf_len(b)));
	pfs_buf_release(b);
	return rc;
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a float";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "none";
	}
	return "a value";
}

static int undefined_error(struct render *r, const struct val *v)
{
	const struct expr *e = v->ue, *base;

	switch (v->why) {
	case U_RANGE:
		return fail(r, e->line, -EINVAL,
			    "undefined name \"%.*s\" (index %" JSON_INTEGER_FORMAT
			    " out of range for length %zu)", EXPR_TEXT(r, e), v->idx, v->n);
	case U_NOTCONTAINER:
		base = e->kind == E_ATTR ? e->u.attr.base : e->u.item.base;
		return fail(r, e->line, -EINVAL, "undefined name \"%.*s\" (\"%.*s\" is %s)",
			    EXPR_TEXT(r, e), EXPR_TEXT(r, base), v->what);
	case U_EMPTY:
		return fail(r, e->line, -EINVAL, "undefined value \"%.*s\" (empty %s)",
			    EXPR_TEXT(r, e), v->what);
	case U_MISSING:
		break;
	}
	return fail(r, e->line, -EINVAL, "undefined name \"%.*s\"", EXPR_TEXT(r, e));
}

/* Anything but "is defined" and "default" calls this before using a value. */
static int need(struct render *r, const struct val *v)
{
	return v->j ? 0 : undefined_error(r, v);
}

static bool truthy(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return json_object_size(j) != 0;
	case JSON_ARRAY:
		return json_array_size(j) != 0;
	case JSON_STRING:
		return json_string_length(j) != 0;
	case JSON_INTEGER:
		return json_integer_value(j) != 0;
	case JSON_REAL:
		return json_real_value(j) != 0.0;
	case JSON_TRUE:
		return true;
	case JSON_FALSE:
	case JSON_NULL:
		break;
	}
	return false;
}

/* ---- numbers and text -------------------------------------------------------- */

/* floor() without libm. */
static double dfloor(double d)
{
	double t;

	if (!(d > -4503599627370496.0 && d < 4503599627370496.0)) /* |d| >= 2^52: integral */
		return d;
	t = (double)(long long)d;
	return t > d ? t - 1.0 : t;
}

/*
 * Python's repr of a finite double: the fewest digits that read back as d,
 * positional for exponents -4..15, else d.ddde+XX; always a "." or an "e".
 */
static void format_real(double d, char out[40])
{
	char tmp[40], digits[24];
	size_t nd = 0, o = 0;
	int prec, exp;
	const char *p;

	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
	p = tmp;
	if (*p == '-')
		out[o++] = *p++;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	exp = (int)strtol(p + 1, NULL, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (exp >= -4 && exp < 16) {
		if (exp < 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (int i = -1; i > exp; i--)
				out[o++] = '0';
			for (size_t i = 0; i < nd; i++)
				out[o++] = digits[i];
		} else {
			for (int i = 0; i <= exp; i++)
				out[o++] = (size_t)i < nd ? digits[i] : '0';
			out[o++] = '.';
			if ((size_t)exp + 1 >= nd)
				out[o++] = '0';
			for (size_t i = (size_t)exp + 1; i < nd; i++)
				out[o++] = digits[i];
		}
		out[o] = '\0';
		return;
	}
	out[o++] = digits[0];
	if (nd > 1) {
		out[o++] = '.';
		for (size_t i = 1; i < nd; i++)
			out[o++] = digits[i];
	}
	snprintf(out + o, 40 - o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

/*
 * The text of a scalar, as output prints it: *s and *n point into j or num.
 * false for none, arrays and objects.
 */
static bool text_of(const json_t *j, char num[40], const char **s, size_t *n)
{
	switch (json_typeof(j)) {
	case JSON_STRING:
		*s = json_string_value(j);
		*n = json_string_length(j);
		return true;
	case JSON_INTEGER:
		snprintf(num, 40, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		break;
	case JSON_REAL:
		format_real(json_real_value(j), num);
		break;
	case JSON_TRUE:
		snprintf(num, 40, "true");
		break;
	case JSON_FALSE:
		snprintf(num, 40, "false");
		break;
	default:
		return false;
	}
	*s = num;
	*n = strlen(num);
	return true;
}

static bool is_ascii_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t utf8_count(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* Byte offset of code point k (k <= count; count gives n). */
static size_t utf8_offset(const char *s, size_t n, size_t k)
{
	size_t i = 0;

	for (; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (k == 0)
				return i;
			k--;
		}
	}
	return n;
}

/* Bytes of the code point at offset i. */
static size_t utf8_span(const char *s, size_t n, size_t i)
{
	size_t e = i + 1;

	while (e < n && ((unsigned char)s[e] & 0xc0) == 0x80)
		e++;
	return e - i;
}

static int num_cmp_int_real(json_int_t i, double d)
{
	double fl;

	if (d >= 9223372036854775808.0)
		return -1;
	if (d < -9223372036854775808.0)
		return 1;
	fl = dfloor(d);
	if (i < (json_int_t)fl)
		return -1;
	if (i > (json_int_t)fl)
		return 1;
	return d > fl ? -1 : 0;
}

/* An integer value: integers, and booleans as 0/1 (only == and "in" use those). */
static json_int_t int_of(const json_t *j)
{
	return json_is_integer(j) ? json_integer_value(j) : json_is_true(j);
}

/* Exact comparison (-1, 0, 1) of two numbers or booleans, at least one a number. */
static int num_cmp(const json_t *a, const json_t *b)
{
	if (!json_is_real(a) && !json_is_real(b)) {
		json_int_t x = int_of(a), y = int_of(b);

		return x < y ? -1 : x > y;
	}
	if (json_is_real(a) && json_is_real(b)) {
		double x = json_real_value(a), y = json_real_value(b);

		return x < y ? -1 : x > y;
	}
	if (json_is_real(b))
		return num_cmp_int_real(int_of(a), json_real_value(b));
	return -num_cmp_int_real(int_of(b), json_real_value(a));
}

static double num_value(const json_t *j)
{
	return json_is_integer(j) ? (double)json_integer_value(j) : json_real_value(j);
}

/* ---- deep operations on values ---------------------------------------------- */

static int too_deep(struct render *r, int line, const char *what)
{
	return fail(r, line, -ELOOP, "value nested too deeply for %s (limit %d)", what,
		    TMPL_MAX_DEPTH);
}

static int value_depth(struct render *r, const json_t *j, int limit);

/* Python's ==: 1 == 1.0, and true == 1 (bool is an int in Python). */
static int equal(struct render *r, int line, const json_t *a, const json_t *b, int depth, bool *eq)
{
	int rc;

	r->steps++;
	if (depth > TMPL_MAX_DEPTH)
		return too_deep(r, line, "==");
	*eq = false;
	if ((json_is_number(a) || json_is_boolean(a)) && (json_is_number(b) || json_is_boolean(b)) &&
	    (json_is_number(a) || json_is_number(b))) {
		*eq = num_cmp(a, b) == 0;
		return 0;
	}
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_STRING:
		r->steps += json_string_length(a) / 16;
		*eq = json_string_length(a) == json_string_length(b) &&
		      memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
		return 0;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++) {
			rc = equal(r, line, json_array_get(a, i), json_array_get(b, i), depth + 1, eq);
			if (rc < 0 || !*eq)
				return rc;
		}
		*eq = true;
		return 0;
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return 0;
		for (void *it = json_object_iter((json_t *)a); it;
		     it = json_object_iter_next((json_t *)a, it)) {
			const json_t *vb = json_object_get(b, json_object_iter_key(it));

			if (!vb)
				return 0;
			rc = equal(r, line, json_object_iter_value(it), vb, depth + 1, eq);
			if (rc < 0 || !*eq)
				return rc;
		}
		*eq = true;
		return 0;
	default:
		*eq = true; /* true, false, null: same type is enough */
		return 0;
	}
}

/*
 * Nesting of j: 0 for a scalar, 1 + the deepest item for a container. Stops
 * looking once past limit: the result is > limit exactly when the nesting is.
 */
static int value_depth(struct render *r, const json_t *j, int limit)
{
	int d = 0;

	r->steps++;
	if (!json_is_array(j) && !json_is_object(j))
		return 0;
	if (limit <= 0)
		return 1;
	if (json_is_array(j)) {
		for (size_t i = 0; i < json_array_size(j) && d < limit; i++) {
			int c = value_depth(r, json_array_get(j, i), limit - 1);

			d = PFS_MAX(d, c); /* a macro: never pass it the call */
		}
	} else {
		for (void *it = json_object_iter((json_t *)j); it && d < limit;
		     it = json_object_iter_next((json_t *)j, it)) {
			int c = value_depth(r, json_object_iter_value(it), limit - 1);

			d = PFS_MAX(d, c);
		}
	}
	return d + 1;
}

/*
 * A private copy of j (from ctx) for an array the template builds, with at
 * most limit levels of containers; too deep is -ELOOP. Charged like other
 * work.
 */
static int copy_value(struct render *r, int line, const json_t *j, int limit, json_t **out)
{
	json_t *c = NULL;
	int rc = 0;

	*out = NULL;
	r->steps++;
	switch (json_typeof(j)) {
	case JSON_STRING:
		r->steps += json_string_length(j) / 16;
		c = json_stringn_nocheck(json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		c = json_integer(json_integer_value(j));
		break;
	case JSON_REAL:
		c = json_real(json_real_value(j));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		c = (json_t *)j; /* static singletons, no reference count */
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		if (limit <= 0)
			return too_deep(r, line, "a list");
		c = json_is_array(j) ? json_array() : json_object();
		if (json_is_array(j)) {
			for (size_t i = 0; c && rc == 0 && i < json_array_size(j); i++) {
				json_t *item;

				rc = copy_value(r, line, json_array_get(j, i), limit - 1, &item);
				if (rc == 0 && json_array_append_new(c, item) < 0)
					rc = nomem(r, line);
			}
		} else {
			for (void *it = json_object_iter((json_t *)j); c && rc == 0 && it;
			     it = json_object_iter_next((json_t *)j, it)) {
				json_t *item;

				rc = copy_value(r, line, json_object_iter_value(it), limit - 1, &item);
				if (rc == 0 && json_object_set_new_nocheck(c, json_object_iter_key(it),
									   item) < 0)
					rc = nomem(r, line);
			}
		}
		if (rc < 0) {
			json_decref(c);
			return rc;
		}
		break;
	}
	*out = c;
	return c ? 0 : nomem(r, line);
}

/* Appends v (moved) to the private array a: copied when borrowed. */
static int append_val(struct render *r, int line, json_t *a, struct val *v)
{
	json_t *item = v->j;
	int rc = 0;

	if (!v->owned)
		rc = copy_value(r, line, v->j, TMPL_MAX_DEPTH - 1, &item);
	else if (value_depth(r, v->j, TMPL_MAX_DEPTH - 1) > TMPL_MAX_DEPTH - 1)
		rc = too_deep(r, line, "a list");
	else
		v->owned = false; /* the array takes our reference */
	if (rc == 0 && json_array_append_new(a, item) < 0)
		rc = nomem(r, line);
	val_clear(v);
	return rc;
}

static int json_escape(struct pfs_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	int rc = pfs_buf_addc(b, '"');

	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t k = i;

		while (k < n && (unsigned char)s[k] >= 0x20 && s[k] != '"' && s[k] != '\\')
			k++;
		if (k > i) {
			rc = pfs_buf_add(b, s + i, k - i);
			i = k - 1;
			continue;
		}
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			rc = pfs_buf_add(b, e, 2);
		} else if (c == '\n') {
			rc = pfs_buf_add(b, "\\n", 2);
		} else if (c == '\t') {
			rc = pfs_buf_add(b, "\\t", 2);
		} else if (c == '\r') {
			rc = pfs_buf_add(b, "\\r", 2);
		} else if (c == '\b') {
			rc = pfs_buf_add(b, "\\b", 2);
		} else if (c == '\f') {
			rc = pfs_buf_add(b, "\\f", 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			rc = pfs_buf_add(b, e, 6);
		}
	}
	if (rc == 0)
		rc = pfs_buf_addc(b, '"');
	return rc;
}

/* Compact JSON of j into b: 0, a pfs_buf error, or -ELOOP past TMPL_MAX_DEPTH. */
static int json_encode(struct render *r, struct pfs_buf *b, const json_t *j, int depth)
{
	char num[40];
	const char *s = NULL;
	size_t n = 0;
	int rc = 0;

	r->steps++;
	if (depth > TMPL_MAX_DEPTH)
		return -ELOOP;
	switch (json_typeof(j)) {
	case JSON_NULL:
		return pfs_buf_add(b, "null", 4);
	case JSON_STRING:
		return json_escape(b, json_string_value(j), json_string_length(j));
	case JSON_ARRAY:
		rc = pfs_buf_addc(b, '[');
		for (size_t i = 0; i < json_array_size(j) && rc == 0; i++) {
			if (i)
				rc = pfs_buf_addc(b, ',');
			if (rc == 0)
				rc = json_encode(r, b, json_array_get(j, i), depth + 1);
		}
		return rc ? rc : pfs_buf_addc(b, ']');
	case JSON_OBJECT:
		rc = pfs_buf_addc(b, '{');
		for (void *it = json_object_iter((json_t *)j), *first = it; it && rc == 0;
		     it = json_object_iter_next((json_t *)j, it)) {
			const char *key = json_object_iter_key(it);

			if (it != first)
				rc = pfs_buf_addc(b, ',');
			if (rc == 0)
				rc = json_escape(b, key, strlen(key));
			if (rc == 0)
				rc = pfs_buf_addc(b, ':');
			if (rc == 0)
				rc = json_encode(r, b, json_object_iter_value(it), depth + 1);
		}
		return rc ? rc : pfs_buf_addc(b, '}');
	default:
		text_of(j, num, &s, &n);
		return pfs_buf_add(b, s, n);
	}
}

/* ---- variables ---------------------------------------------------------------- */

/* Innermost binding of name. Scans are charged: thousands of sets are possible. */
static const struct binding *lookup(struct render *r, const char *name)
{
	for (size_t i = r->nvars; i-- > 0;) {
		if (strcmp(r->vars[i].name, name) == 0) {
			r->steps += (r->nvars - i) / 16;
			return &r->vars[i];
		}
	}
	r->steps += r->nvars / 16;
	return NULL;
}

/*
 * Binds name in the current scope, replacing a binding made there, to v
 * (moved; NULL for "loop", then loop is set).
 */
static int bind(struct render *r, int line, const char *name, struct val *v,
		const struct loop_state *loop)
{
	struct binding nb = { name, v ? v->j : NULL, v ? v->owned : false, loop };
	struct binding *b;

	if (v)
		memset(v, 0, sizeof(*v));
	r->steps += (r->nvars - r->scope) / 16;
	for (size_t i = r->nvars; i-- > r->scope;) {
		if (strcmp(r->vars[i].name, name) == 0) {
			if (r->vars[i].owned)
				json_decref(r->vars[i].val);
			r->vars[i] = nb;
			return 0;
		}
	}
	if (r->nvars == r->vars_alloc) {
		size_t n = r->vars_alloc ? r->vars_alloc * 2 : 16;

		b = realloc(r->vars, n * sizeof(*b));
		if (!b) {
			if (nb.owned)
				json_decref(nb.val);
			return nomem(r, line);
		}
		r->vars = b;
		r->vars_alloc = n;
	}
	r->vars[r->nvars++] = nb;
	return 0;
}

static void unbind_to(struct render *r, size_t n)
{
	while (r->nvars > n) {
		struct binding *b = &r->vars[--r->nvars];

		if (b->owned)
			json_decref(b->val);
	}
}

static const char *const loop_keys[] = {
	"index", "index0", "revindex", "revindex0", "first", "last", "length",
};

static json_t *loop_value(const struct loop_state *ls, size_t k)
{
	switch (k) {
	case 0:
		return json_integer((json_int_t)ls->index0 + 1);
	case 1:
		return json_integer((json_int_t)ls->index0);
	case 2:
		return json_integer((json_int_t)(ls->length - ls->index0));
	case 3:
		return json_integer((json_int_t)(ls->length - ls->index0 - 1));
	case 4:
		return json_boolean(ls->index0 == 0);
	case 5:
		return json_boolean(ls->index0 + 1 == ls->length);
	default:
		return json_integer((json_int_t)ls->length);
	}
}

/* LoopContext members of Jinja that are not supported here. */
static const char *const loop_unsupported[] = {
	"depth", "depth0", "previtem", "nextitem", "cycle", "changed",
};

/* ---- expressions --------------------------------------------------------------- */

static int eval(struct render *r, const struct expr *e, struct val *out);

static int eval_const(struct render *r, const struct expr *e, struct val *out)
{
	json_t *j;

	switch (e->u.c.k) {
	case C_BOOL:
		j = json_boolean(e->u.c.b);
		break;
	case C_INT:
		j = json_integer(e->u.c.i);
		break;
	case C_REAL:
		j = json_real(e->u.c.d);
		break;
	case C_STR:
		j = json_stringn_nocheck(e->u.c.s, e->u.c.slen);
		break;
	default:
		j = json_null();
		break;
	}
	return set_json(r, e->line, out, j);
}

static int eval_name(struct render *r, const struct expr *e, struct val *out)
{
	const struct binding *b = lookup(r, e->u.name.name);
	json_t *j;

	if (b && b->loop)
		return fail(r, e->line, -EINVAL,
			    "\"loop\" can only be used as loop.index, loop.index0, loop.revindex, "
			    "loop.revindex0, loop.first, loop.last or loop.length");
	if (b) {
		val_child(out, b->val, b->owned);
		return 0;
	}
	j = r->ctx ? json_object_get(r->ctx, e->u.name.name) : NULL;
	if (j)
		val_child(out, j, false);
	else
		undefined(out, e, U_MISSING);
	return 0;
}

static int eval_attr(struct render *r, const struct expr *e, struct val *out)
{
	const struct expr *be = e->u.attr.base;
	struct val base;
	json_t *j;
	int rc;

	if (be->kind == E_NAME) {
		const struct binding *b = lookup(r, be->u.name.name);

		if (b && b->loop) {
			for (size_t k = 0; k < PFS_ARRAY_SIZE(loop_keys); k++)
				if (strcmp(e->u.attr.name, loop_keys[k]) == 0)
					return set_json(r, e->line, out, loop_value(b->loop, k));
			for (size_t k = 0; k < PFS_ARRAY_SIZE(loop_unsupported); k++)
				if (strcmp(e->u.attr.name, loop_unsupported[k]) == 0)
					return fail(r, e->line, -EINVAL, "loop.%s is not supported",
						    e->u.attr.name);
			undefined(out, e, U_MISSING);
			return 0;
		}
	}
	rc = eval(r, be, &base);
	if (rc == 0)
		rc = need(r, &base);
	if (rc < 0)
		goto out;
	if (json_is_object(base.j)) {
		j = json_object_get(base.j, e->u.attr.name);
		if (j)
			val_child(out, j, base.owned);
		else
			undefined(out, e, U_MISSING);
	} else {
		undefined(out, e, U_NOTCONTAINER);
		out->what = type_name(base.j);
	}
out:
	val_clear(&base);
	return rc;
}

/* Normalizes a possibly negative index; false when out of range. */
static bool index_ok(json_int_t k, size_t n, size_t *i)
{
	if (k < 0)
		k += (json_int_t)n;
	if (k < 0 || (size_t)k >= n)
		return false;
	*i = (size_t)k;
	return true;
}

static int eval_item(struct render *r, const struct expr *e, struct val *out)
{
	struct val base, key;
	json_t *b, *k, *j = NULL;
	size_t i, n;
	int rc;

	memset(&key, 0, sizeof(key));
	rc = eval(r, e->u.item.base, &base);
	if (rc == 0)
		rc = need(r, &base);
	if (rc == 0)
		rc = eval(r, e->u.item.key, &key);
	if (rc == 0)
		rc = need(r, &key);
	if (rc < 0)
		goto out;
	b = base.j;
	k = key.j;
	if (!json_is_string(k) && !json_is_integer(k)) {
		rc = fail(r, e->line, -EINVAL, "subscript must be a string or an integer, not %s",
			  type_name(k));
		goto out;
	}
	if (json_is_object(b)) {
		if (json_is_string(k) && !memchr(json_string_value(k), 0, json_string_length(k)))
			j = json_object_get(b, json_string_value(k));
		if (j)
			val_child(out, j, base.owned);
		else
			undefined(out, e, U_MISSING);
	} else if ((json_is_array(b) || json_is_string(b)) && json_is_integer(k)) {
		if (json_is_string(b))
			r->steps += json_string_length(b) / 16;
		n = json_is_array(b) ? json_array_size(b) :
		    utf8_count(json_string_value(b), json_string_length(b));
		if (!index_ok(json_integer_value(k), n, &i)) {
			undefined(out, e, U_RANGE);
			out->idx = json_integer_value(k);
			out->n = n;
		} else if (json_is_array(b)) {
			val_child(out, json_array_get(b, i), base.owned);
		} else {
			const char *s = json_string_value(b);
			size_t len = json_string_length(b), off = utf8_offset(s, len, i);

			rc = set_json(r, e->line, out,
				      json_stringn_nocheck(s + off, utf8_span(s, len, off)));
		}
	} else {
		undefined(out, e, U_NOTCONTAINER);
		out->what = type_name(b);
	}
out:
	val_clear(&base);
	val_clear(&key);
	return rc;
}

static int eval_list(struct render *r, const struct expr *e, struct val *out)
{
	int rc = set_json(r, e->line, out, json_array());

	for (const struct operand *o = e->u.list.first; o && rc == 0; o = o->next) {
		struct val v;

		rc = eval(r, o->e, &v);
		if (rc == 0)
			rc = need(r, &v);
		if (rc == 0)
			rc = append_val(r, e->line, out->j, &v);
		val_clear(&v);
	}
	return rc;
}

static int op_error(struct render *r, int line, const char *op, const json_t *a, const json_t *b)
{
	if (!b)
		return fail(r, line, -EINVAL, "operator \"%s\" does not accept %s", op, type_name(a));
	return fail(r, line, -EINVAL, "operator \"%s\" does not accept %s and %s", op,
		    type_name(a), type_name(b));
}

static int eval_unary(struct render *r, const struct expr *e, struct val *out)
{
	struct val v;
	json_t *j = NULL;
	int rc = eval(r, e->u.un.base, &v);

	if (rc == 0)
		rc = need(r, &v);
	if (rc < 0)
		goto out;
	if (e->kind == E_NOT) {
		rc = set_json(r, e->line, out, json_boolean(!truthy(v.j)));
		goto out;
	}
	if (json_is_integer(v.j) && e->kind == E_NEG) {
		if (json_integer_value(v.j) == LLONG_MIN) {
			rc = fail(r, e->line, -EINVAL, "integer overflow");
			goto out;
		}
		j = json_integer(-json_integer_value(v.j));
	} else if (json_is_real(v.j) && e->kind == E_NEG) {
		j = json_real(-json_real_value(v.j));
	} else if (json_is_number(v.j)) {
		val_move(out, &v); /* unary + */
		goto out;
	} else {
		rc = op_error(r, e->line, e->kind == E_NEG ? "-" : "+", v.j, NULL);
		goto out;
	}
	rc = set_json(r, e->line, out, j);
out:
	val_clear(&v);
	return rc;
}

static int eval_logic(struct render *r, const struct expr *e, struct val *out)
{
	for (const struct operand *o = e->u.list.first; o; o = o->next) {
		bool t;
		int rc;

		val_clear(out);
		rc = eval(r, o->e, out);
		if (rc == 0)
			rc = need(r, out);
		if (rc < 0)
			return rc;
		t = truthy(out->j);
		if (e->kind == E_OR ? t : !t)
			break;
	}
	return 0;
}

static const char *op_name(enum op op)
{
	switch (op) {
	case OP_EQ: return "==";
	case OP_NE: return "!=";
	case OP_LT: return "<";
	case OP_GT: return ">";
	case OP_LE: return "<=";
	case OP_GE: return ">=";
	case OP_IN: return "in";
	case OP_NOTIN: return "not in";
	case OP_ADD: return "+";
	case OP_SUB: return "-";
	case OP_MUL: return "*";
	case OP_DIV: return "/";
	case OP_FLOORDIV: return "//";
	case OP_MOD: return "%";
	case OP_TILDE: return "~";
	default: return "?";
	}
}

/* "item in container" */
static int contains(struct render *r, int line, enum op op, const json_t *item,
		    const json_t *c, bool *res)
{
	*res = false;
	if (json_is_array(c)) {
		for (size_t i = 0; i < json_array_size(c) && !*res; i++) {
			int rc = equal(r, line, item, json_array_get(c, i), 0, res);

			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (json_is_object(c)) {
		if (json_is_array(item) || json_is_object(item)) /* unhashable in Python */
			return op_error(r, line, op_name(op), item, c);
		*res = json_is_string(item) &&
		       !memchr(json_string_value(item), 0, json_string_length(item)) &&
		       json_object_get(c, json_string_value(item));
		return 0;
	}
	if (json_is_string(c) && json_is_string(item)) {
		r->steps += json_string_length(c) / 16;
		*res = json_string_length(item) == 0 ||
		       memmem(json_string_value(c), json_string_length(c),
			      json_string_value(item), json_string_length(item)) != NULL;
		return 0;
	}
	return op_error(r, line, op_name(op), item, c);
}

static int compare(struct render *r, int line, enum op op, const json_t *a, const json_t *b,
		   bool *res)
{
	int c, rc;

	switch (op) {
	case OP_EQ:
	case OP_NE:
		rc = equal(r, line, a, b, 0, res);
		*res ^= op == OP_NE;
		return rc;
	case OP_IN:
	case OP_NOTIN:
		rc = contains(r, line, op, a, b, res);
		*res ^= op == OP_NOTIN;
		return rc;
	default:
		break;
	}
	if (json_is_number(a) && json_is_number(b)) {
		c = num_cmp(a, b);
	} else if (json_is_string(a) && json_is_string(b)) {
		size_t na = json_string_length(a), nb = json_string_length(b);

		r->steps += PFS_MIN(na, nb) / 16;
		c = memcmp(json_string_value(a), json_string_value(b), PFS_MIN(na, nb));
		if (c == 0)
			c = na < nb ? -1 : na > nb;
	} else {
		return op_error(r, line, op_name(op), a, b);
	}
	*res = op == OP_LT ? c < 0 : op == OP_GT ? c > 0 : op == OP_LE ? c <= 0 : c >= 0;
	return 0;
}

static int eval_cmp(struct render *r, const struct expr *e, struct val *out)
{
	const struct operand *o = e->u.list.first;
	struct val lhs, rhs;
	bool res = true;
	int rc;

	memset(&rhs, 0, sizeof(rhs));
	rc = eval(r, o->e, &lhs);
	if (rc == 0)
		rc = need(r, &lhs);
	for (o = o->next; o && rc == 0 && res; o = o->next) {
		rc = eval(r, o->e, &rhs);
		if (rc == 0)
			rc = need(r, &rhs);
		if (rc == 0)
			rc = compare(r, e->line, o->op, lhs.j, rhs.j, &res);
		val_clear(&lhs);
		lhs = rhs;
		memset(&rhs, 0, sizeof(rhs));
	}
	if (rc == 0)
		rc = set_json(r, e->line, out, json_boolean(res));
	val_clear(&lhs);
	return rc;
}

static int int_arith(struct render *r, int line, enum op op, json_int_t a, json_int_t b,
		     json_t **res)
{
	long long v = 0;
	bool ovf = false;

	switch (op) {
	case OP_ADD:
		ovf = __builtin_add_overflow(a, b, &v);
		break;
	case OP_SUB:
		ovf = __builtin_sub_overflow(a, b, &v);
		break;
	case OP_MUL:
		ovf = __builtin_mul_overflow(a, b, &v);
		break;
	case OP_FLOORDIV:
	case OP_MOD:
		if (b == 0)
			return fail(r, line, -EINVAL, "division by zero");
		if (b == -1) { /* LLONG_MIN / -1 and % -1 are undefined in C */
			ovf = op == OP_FLOORDIV && a == LLONG_MIN;
			v = op == OP_FLOORDIV && !ovf ? -a : 0;
			break;
		}
		v = op == OP_FLOORDIV ? a / b : a % b;
		if (a % b != 0 && ((a < 0) != (b < 0)))
			v = op == OP_FLOORDIV ? v - 1 : v + b;
		break;
	default:
		break;
	}
	if (ovf)
		return fail(r, line, -EINVAL, "integer overflow");
	*res = json_integer(v);
	return 0;
}

/* |v| > 2^53, where a double no longer holds every integer. */
static bool llabs_exact(json_int_t v)
{
	return v > (1LL << 53) || v < -(1LL << 53);
}

static int real_arith(struct render *r, int line, enum op op, double a, double b, json_t **res)
{
	double v;

	switch (op) {
	case OP_ADD:
		v = a + b;
		break;
	case OP_SUB:
		v = a - b;
		break;
	case OP_MUL:
		v = a * b;
		break;
	default: /* OP_DIV */
		if (b == 0.0)
			return fail(r, line, -EINVAL, "division by zero");
		v = a / b;
		break;
	}
	if (!isfinite(v))
		return fail(r, line, -EINVAL, "float result out of range");
	*res = json_real(v);
	return 0;
}

/* Concatenation of the arrays av and bv into a new private array. */
static int array_concat(struct render *r, int line, const struct val *av, const struct val *bv,
			json_t **res)
{
	size_t n = json_array_size(av->j) + json_array_size(bv->j);
	int rc = step(r, line, n);

	if (rc < 0)
		return rc;
	if (n > TMPL_MAX_ARRAY)
		return fail(r, line, -E2BIG, "array longer than %u items", TMPL_MAX_ARRAY);
	*res = json_array();
	if (!*res)
		return nomem(r, line);
	for (int k = 0; k < 2 && rc == 0; k++) {
		const struct val *src = k ? bv : av;

		for (size_t i = 0; i < json_array_size(src->j) && rc == 0; i++) {
			struct val item = { 0 };

			val_child(&item, json_array_get(src->j, i), src->owned);
			rc = append_val(r, line, *res, &item);
		}
	}
	if (rc < 0) {
		json_decref(*res);
		*res = NULL;
	}
	return rc;
}

/* a op b for + - * / // %; *res is new (NULL only after an error or ENOMEM). */
static int arith(struct render *r, int line, enum op op, const struct val *av,
		 const struct val *bv, json_t **res)
{
	const json_t *a = av->j, *b = bv->j;

	*res = NULL;
	if (op == OP_ADD && json_is_string(a) && json_is_string(b)) {
		struct pfs_buf buf = PFS_BUF_INIT(TMPL_MAX_STRING);
		int rc = pfs_buf_add(&buf, json_string_value(a), json_string_length(a));

		if (rc == 0)
			rc = pfs_buf_add(&buf, json_string_value(b), json_string_length(b));
		if (rc == 0)
			rc = step(r, line, pfs_buf_len(&buf) / 16);
		else
			rc = string_error(r, line, rc);
		if (rc == 0)
			*res = json_stringn_nocheck(pfs_buf_str(&buf), pfs_buf_len(&buf));
		pfs_buf_release(&buf);
		return rc;
	}
	if (op == OP_ADD && json_is_array(a) && json_is_array(b))
		return array_concat(r, line, av, bv, res);
	/* Python's float // and % go through fmod, which needs libm: integers only */
	if (!json_is_number(a) || !json_is_number(b) ||
	    ((op == OP_MOD || op == OP_FLOORDIV) && (!json_is_integer(a) || !json_is_integer(b))))
		return op_error(r, line, op_name(op), a, b);
	if (json_is_integer(a) && json_is_integer(b) && op != OP_DIV)
		return int_arith(r, line, op, json_integer_value(a), json_integer_value(b), res);
	/* Python divides big integers exactly; doubles only agree up to 2^53 */
	if (op == OP_DIV && json_is_integer(a) && json_is_integer(b) &&
	    (llabs_exact(json_integer_value(a)) || llabs_exact(json_integer_value(b))))
		return fail(r, line, -EINVAL, "integer too large for \"/\" (limit 2^53)");
	return real_arith(r, line, op, num_value(a), num_value(b), res);
}

static int eval_arith(struct render *r, const struct expr *e, struct val *out)
{
	const struct operand *o = e->u.list.first;
	int rc = eval(r, o->e, out);

	if (rc == 0)
		rc = need(r, out);
	for (o = o->next; o && rc == 0; o = o->next) {
		struct val rhs;
		json_t *res;

		rc = eval(r, o->e, &rhs);
		if (rc == 0)
			rc = need(r, &rhs);
		if (rc == 0)
			rc = arith(r, e->line, o->op, out, &rhs, &res);
		if (rc == 0) {
			val_clear(out);
			rc = set_json(r, e->line, out, res);
		}
		val_clear(&rhs);
	}
	return rc;
}

static int eval_cat(struct render *r, const struct expr *e, struct val *out)
{
	struct pfs_buf b = PFS_BUF_INIT(TMPL_MAX_STRING);
	int rc = 0;

	for (const struct operand *o = e->u.list.first; o && rc == 0; o = o->next) {
		struct val v;
		char num[40];
		const char *s = NULL;
		size_t n = 0;

		rc = eval(r, o->e, &v);
		if (rc == 0)
			rc = need(r, &v);
		if (rc == 0 && !text_of(v.j, num, &s, &n))
			rc = op_error(r, e->line, "~", v.j, NULL);
		if (rc == 0) {
			rc = pfs_buf_add(&b, s, n);
			if (rc < 0)
				rc = string_error(r, e->line, rc);
		}
		val_clear(&v);
	}
	if (rc == 0)
		return make_string(r, e->line, &b, out);
	pfs_buf_release(&b);
	return rc;
}

static int eval_cond(struct render *r, const struct expr *e, struct val *out)
{
	struct val c;
	int rc = eval(r, e->u.cond.cond, &c);

	if (rc == 0)
		rc = need(r, &c);
	if (rc == 0)
		rc = eval(r, truthy(c.j) ? e->u.cond.then : e->u.cond.otherwise, out);
	val_clear(&c);
	return rc;
}

static int filter_default(struct render *r, const struct expr *e, struct val *in,
			  struct val *args, struct val *out);

static int eval_filter(struct render *r, const struct expr *e, struct val *out)
{
	const struct tmpl_filter *f = e->u.filter.f;
	struct val in, args[2];
	int i = 0, rc;

	memset(args, 0, sizeof(args));
	rc = eval(r, e->u.filter.base, &in);
	if (rc == 0 && f->fn != filter_default)
		rc = need(r, &in);
	for (const struct operand *o = e->u.filter.args; o && rc == 0 && i < 2; o = o->next, i++) {
		rc = eval(r, o->e, &args[i]);
		if (rc == 0)
			rc = need(r, &args[i]);
	}
	if (rc == 0)
		rc = f->fn(r, e, &in, args, out);
	val_clear(&in);
	val_clear(&args[0]);
	val_clear(&args[1]);
	return rc;
}

static int eval_test(struct render *r, const struct expr *e, struct val *out)
{
	struct val v;
	bool res;
	int rc = eval(r, e->u.test.base, &v);

	if (rc == 0 && e->u.test.test == T_NONE)
		rc = need(r, &v);
	if (rc == 0) {
		res = e->u.test.test == T_DEFINED ? v.j != NULL : json_is_null(v.j);
		rc = set_json(r, e->line, out, json_boolean(res != e->u.test.negate));
	}
	val_clear(&v);
	return rc;
}

/* On failure *out is cleared; on success it may be undefined. */
static int eval(struct render *r, const struct expr *e, struct val *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = step(r, e->line, 1);
	if (rc < 0)
		return rc;
	switch (e->kind) {
	case E_CONST:
		rc = eval_const(r, e, out);
		break;
	case E_NAME:
		rc = eval_name(r, e, out);
		break;
	case E_ATTR:
		rc = eval_attr(r, e, out);
		break;
	case E_ITEM:
		rc = eval_item(r, e, out);
		break;
	case E_LIST:
		rc = eval_list(r, e, out);
		break;
	case E_NOT:
	case E_NEG:
	case E_POS:
		rc = eval_unary(r, e, out);
		break;
	case E_OR:
	case E_AND:
		rc = eval_logic(r, e, out);
		break;
	case E_CMP:
		rc = eval_cmp(r, e, out);
		break;
	case E_ADD:
	case E_MUL:
		rc = eval_arith(r, e, out);
		break;
	case E_CAT:
		rc = eval_cat(r, e, out);
		break;
	case E_COND:
		rc = eval_cond(r, e, out);
		break;
	case E_FILTER:
		rc = eval_filter(r, e, out);
		break;
	case E_TEST:
		rc = eval_test(r, e, out);
		break;
	case E_ITEMS: /* the parser only allows it as a for's iterable */
		rc = fail(r, e->line, -EINVAL, ".items() is only supported in \"for k, v in x.items()\"");
		break;
	}
	if (rc < 0)
		val_clear(out);
	return rc;
}

/* ---- filters ------------------------------------------------------------------ */

static int filter_type(struct render *r, const struct expr *e, const json_t *j)
{
	return fail(r, e->line, -EINVAL, "filter \"%s\" does not accept %s", e->u.filter.f->name,
		    type_name(j));
}

/* The text of in, or a type error. */
static int filter_text(struct render *r, const struct expr *e, const json_t *j, char num[40],
		       const char **s, size_t *n)
{
	return text_of(j, num, s, n) ? 0 : filter_type(r, e, j);
}

static int filter_default(struct render *r, const struct expr *e, struct val *in,
			  struct val *args, struct val *out)
{
	int nargs = e->u.filter.nargs;

	if (!in->j || (nargs == 2 && truthy(args[1].j) && !truthy(in->j))) {
		if (nargs == 0)
			return set_json(r, e->line, out, json_string(""));
		val_move(out, &args[0]);
		return 0;
	}
	val_move(out, in);
	return 0;
}

static int filter_quote(struct render *r, const struct expr *e, struct val *in,
			struct val *args, struct val *out)
{
	struct pfs_buf b = PFS_BUF_INIT(TMPL_MAX_STRING);
	char num[40];
	const char *s = NULL;
	size_t n = 0;
	int rc = filter_text(r, e, in->j, num, &s, &n);

	(void)args;
	if (rc < 0)
		return rc;
	if (memchr(s, 0, n))
		return fail(r, e->line, -EINVAL,
			    "filter \"quote\" does not accept a string containing a NUL byte");
	rc = pfs_shell_quote(&b, s);
	if (rc < 0)
		return string_error(r, e->line, rc);
	return make_string(r, e->line, &b, out);
}

static int filter_join(struct render *r, const struct expr *e, struct val *in,
		       struct val *args, struct val *out)
{
	struct pfs_buf b = PFS_BUF_INIT(TMPL_MAX_STRING);
	char num[40], sepnum[40];
	const char *s = NULL, *sep = "";
	size_t n = 0, seplen = 0;
	int rc = 0;

	if (!json_is_array(in->j))
		return filter_type(r, e, in->j);
	if (e->u.filter.nargs == 1 && !text_of(args[0].j, sepnum, &sep, &seplen))
		return fail(r, e->line, -EINVAL, "filter \"join\" does not accept %s as separator",
			    type_name(args[0].j));
	rc = step(r, e->line, json_array_size(in->j));
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < json_array_size(in->j) && rc == 0; i++) {
		const json_t *item = json_array_get(in->j, i);

		if (!text_of(item, num, &s, &n)) {
			rc = fail(r, e->line, -EINVAL,
				  "filter \"join\" does not accept %s as item %zu", type_name(item), i);
			break;
		}
		if (i)
			rc = pfs_buf_add(&b, sep, seplen);
		if (rc == 0)
			rc = pfs_buf_add(&b, s, n);
		if (rc < 0)
			rc = string_error(r, e->line, rc);
	}
	if (rc == 0)
		return make_string(r, e->line, &b, out);
	pfs_buf_release(&b);
	return rc;
}

/*
 * [+-]digits[.digits][e[+-]digits] or [+-].digits[...]: what Python's
 * float() reads, minus inf, nan and underscores.
 */
static bool decimal_syntax(const char *s, size_t n, bool *integral)
{
	size_t i = 0, d = 0, f = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, d++;
	*integral = i == n && d > 0;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, f++;
	}
	if (d + f == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t e = 0;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, e++;
		if (e == 0)
			return false;
	}
	return i == n;
}

/*
 * The trimmed string s (n bytes) as a decimal number: *is_int and *iv when it
 * is an integer that fits a long, else *dv. -EINVAL for other syntax.
 */
static int read_decimal(const char *s, size_t n, bool *is_int, long *iv, double *dv)
{
	bool integral;
	char *copy;

	if (!decimal_syntax(s, n, &integral))
		return -EINVAL;
	copy = strndup(s, n);
	if (!copy)
		return -ENOMEM;
	*is_int = integral && pfs_parse_long(copy, LONG_MIN, LONG_MAX, iv) == 0;
	if (!*is_int)
		*dv = strtod(copy, NULL);
	free(copy);
	return 0;
}

/* A number from a string, for the int and float filters. */
static int parse_number_text(struct render *r, const struct expr *e, const json_t *j,
			     bool want_int, json_t **res)
{
	const char *s = json_string_value(j);
	size_t n = json_string_length(j);
	bool is_int = false;
	double d = 0.0;
	long v = 0;
	int rc;

	*res = NULL;
	r->steps += n / 16;
	while (n && is_ascii_space(*s))
		s++, n--;
	while (n && is_ascii_space(s[n - 1]))
		n--;
	rc = read_decimal(s, n, &is_int, &v, &d);
	if (rc == -ENOMEM)
		return nomem(r, e->line);
	if (rc == 0 && is_int) {
		*res = want_int ? json_integer(v) : json_real((double)v);
		return 0;
	}
	if (rc == 0 && isfinite(d) &&
	    (!want_int || (d < 9223372036854775808.0 && d >= -9223372036854775808.0))) {
		*res = want_int ? json_integer((json_int_t)d) : json_real(d);
		return 0;
	}
	return fail(r, e->line, -EINVAL, "filter \"%s\" cannot convert \"%.*s\" to %s",
		    e->u.filter.f->name, (int)PFS_MIN(json_string_length(j), 60),
		    json_string_value(j), want_int ? "an integer" : "a float");
}

static int filter_int(struct render *r, const struct expr *e, struct val *in,
		      struct val *args, struct val *out)
{
	json_t *j = in->j, *res = NULL;
	int rc;

	(void)args;
	if (json_is_integer(j)) {
		res = json_integer(json_integer_value(j));
	} else if (json_is_real(j)) {
		double d = json_real_value(j);

		if (d >= 9223372036854775808.0 || d < -9223372036854775808.0) {
			char num[40];

			format_real(d, num);
			return fail(r, e->line, -EINVAL, "filter \"int\": %s is out of range", num);
		}
		res = json_integer((json_int_t)d);
	} else if (json_is_boolean(j)) {
		res = json_integer(json_is_true(j));
	} else if (json_is_string(j)) {
		rc = parse_number_text(r, e, j, true, &res);
		if (rc < 0)
			return rc;
	} else {
		return filter_type(r, e, j);
	}
	return set_json(r, e->line, out, res);
}

static int filter_float(struct render *r, const struct expr *e, struct val *in,
			struct val *args, struct val *out)
{
	json_t *j = in->j, *res = NULL;
	int rc;

	(void)args;
	if (json_is_number(j)) {
		res = json_real(num_value(j));
	} else if (json_is_boolean(j)) {
		res = json_real(json_is_true(j) ? 1.0 : 0.0);
	} else if (json_is_string(j)) {
		rc = parse_number_text(r, e, j, false, &res);
		if (rc < 0)
			return rc;
	} else {
		return filter_type(r, e, j);
	}
	return set_json(r, e->line, out, res);
}

static int filter_string(struct render *r, const struct expr *e, struct val *in,
			 struct val *args, struct val *out)
{
	char num[40];
	const char *s = NULL;
	size_t n = 0;
	int rc = filter_text(r, e, in->j, num, &s, &n);

	(void)args;
	if (rc == 0)
		rc = set_json(r, e->line, out, json_stringn_nocheck(s, n));
	return rc;
}

/* lower, upper, trim: the text of in, changed in place in a copy. */
static int text_filter(struct render *r, const struct expr *e, struct val *in, struct val *out,
		       int which)
{
	struct pfs_buf b = PFS_BUF_INIT(TMPL_MAX_STRING);
	char num[40];
	const char *s = NULL;
	size_t n = 0;
	int rc = filter_text(r, e, in->j, num, &s, &n);

	if (rc < 0)
		return rc;
	if (which == 't') {
		while (n && is_ascii_space(*s))
			s++, n--;
		while (n && is_ascii_space(s[n - 1]))
			n--;
	}
	rc = pfs_buf_add(&b, s, n);
	if (rc < 0)
		return string_error(r, e->line, rc);
	for (size_t i = 0; i < n; i++) {
		char c = b.ptr[i];

		if (which == 'l' && c >= 'A' && c <= 'Z')
			b.ptr[i] = (char)(c - 'A' + 'a');
		else if (which == 'u' && c >= 'a' && c <= 'z')
			b.ptr[i] = (char)(c - 'a' + 'A');
	}
	return make_string(r, e->line, &b, out);
}

static int filter_lower(struct render *r, const struct expr *e, struct val *in,
			struct val *args, struct val *out)
{
	(void)args;
	return text_filter(r, e, in, out, 'l');
}

static int filter_upper(struct render *r, const struct expr *e, struct val *in,
			struct val *args, struct val *out)
{
	(void)args;
	return text_filter(r, e, in, out, 'u');
}

static int filter_trim(struct render *r, const struct expr *e, struct val *in,
		       struct val *args, struct val *out)
{
	(void)args;
	return text_filter(r, e, in, out, 't');
}

static int filter_length(struct render *r, const struct expr *e, struct val *in,
			 struct val *args, struct val *out)
{
	const json_t *j = in->j;
	size_t n = 0;

	(void)args;
	if (json_is_string(j)) {
		r->steps += json_string_length(j) / 16;
		n = utf8_count(json_string_value(j), json_string_length(j));
	} else if (json_is_array(j)) {
		n = json_array_size(j);
	} else if (json_is_object(j)) {
		n = json_object_size(j);
	} else {
		return filter_type(r, e, j);
	}
	return set_json(r, e->line, out, json_integer((json_int_t)n));
}

static int filter_replace(struct render *r, const struct expr *e, struct val *in,
			  struct val *args, struct val *out)
{
	struct pfs_buf b = PFS_BUF_INIT(TMPL_MAX_STRING);
	char num[3][40];
	const char *s = NULL, *old = NULL, *new = NULL;
	size_t n = 0, nold = 0, nnew = 0, i = 0;
	int rc = filter_text(r, e, in->j, num[0], &s, &n);

	if (rc == 0 && !text_of(args[0].j, num[1], &old, &nold))
		rc = fail(r, e->line, -EINVAL, "filter \"replace\" does not accept %s as argument 1",
			  type_name(args[0].j));
	if (rc == 0 && !text_of(args[1].j, num[2], &new, &nnew))
		rc = fail(r, e->line, -EINVAL, "filter \"replace\" does not accept %s as argument 2",
			  type_name(args[1].j));
	if (rc < 0)
		return rc;
	rc = step(r, e->line, n / 16);
	while (rc == 0 && i < n) {
		const char *hit;

		if (nold == 0) { /* Python: new before every character and at the end */
			size_t span = utf8_span(s, n, i);

			rc = pfs_buf_add(&b, new, nnew);
			if (rc == 0)
				rc = pfs_buf_add(&b, s + i, span);
			i += span;
			continue;
		}
		hit = memmem(s + i, n - i, old, nold);
		if (!hit) {
			rc = pfs_buf_add(&b, s + i, n - i);
			break;
		}
		rc = pfs_buf_add(&b, s + i, (size_t)(hit - (s + i)));
		if (rc == 0)
			rc = pfs_buf_add(&b, new, nnew);
		i = (size_t)(hit - s) + nold;
	}
	if (rc == 0 && nold == 0)
		rc = pfs_buf_add(&b, new, nnew);
	if (rc == -E2BIG || rc == -ENOMEM)
		rc = string_error(r, e->line, rc);
	if (rc < 0) {
		pfs_buf_release(&b);
		return rc;
	}
	return make_string(r, e->line, &b, out);
}

static int first_last(struct render *r, const struct expr *e, struct val *in, struct val *out,
		      bool last)
{
	const json_t *j = in->j;
	const char *str;
	size_t n, i = 0;

	if (!json_is_array(j) && !json_is_string(j))
		return filter_type(r, e, j);
	n = json_is_array(j) ? json_array_size(j) : json_string_length(j);
	if (n == 0) {
		undefined(out, e, U_EMPTY);
		out->what = json_is_array(j) ? "array" : "string";
		return 0;
	}
	if (json_is_array(j)) {
		val_child(out, json_array_get(j, last ? n - 1 : 0), in->owned);
		return 0;
	}
	str = json_string_value(j);
	if (last)
		for (i = n - 1; i > 0 && ((unsigned char)str[i] & 0xc0) == 0x80; i--)
			;
	return set_json(r, e->line, out, json_stringn_nocheck(str + i, utf8_span(str, n, i)));
}

static int filter_first(struct render *r, const struct expr *e, struct val *in,
			struct val *args, struct val *out)
{
	(void)args;
	return first_last(r, e, in, out, false);
}

static int filter_last(struct render *r, const struct expr *e, struct val *in,
		       struct val *args, struct val *out)
{
	(void)args;
	return first_last(r, e, in, out, true);
}

static int filter_tojson(struct render *r, const struct expr *e, struct val *in,
			 struct val *args, struct val *out)
{
	struct pfs_buf b = PFS_BUF_INIT(TMPL_MAX_STRING);
	int rc = json_encode(r, &b, in->j, 0);

	(void)args;
	if (rc == -ELOOP) {
		pfs_buf_release(&b);
		return too_deep(r, e->line, "tojson");
	}
	if (rc < 0)
		return string_error(r, e->line, rc);
	return make_string(r, e->line, &b, out);
}

static int filter_bool(struct render *r, const struct expr *e, struct val *in,
		       struct val *args, struct val *out)
{
	(void)args;
	return set_json(r, e->line, out, json_boolean(truthy(in->j)));
}

static const struct tmpl_filter filters[] = {
	{ "bool", 0, 0, filter_bool },
	{ "default", 0, 2, filter_default },
	{ "first", 0, 0, filter_first },
	{ "float", 0, 0, filter_float },
	{ "int", 0, 0, filter_int },
	{ "join", 0, 1, filter_join },
	{ "last", 0, 0, filter_last },
	{ "length", 0, 0, filter_length },
	{ "lower", 0, 0, filter_lower },
	{ "quote", 0, 0, filter_quote },
	{ "replace", 2, 2, filter_replace },
	{ "string", 0, 0, filter_string },
	{ "tojson", 0, 0, filter_tojson },
	{ "trim", 0, 0, filter_trim },
	{ "upper", 0, 0, filter_upper },
};

const struct tmpl_filter *tmpl_filter_find(const char *name, size_t len)
{
	for (size_t i = 0; i < PFS_ARRAY_SIZE(filters); i++)
		if (strlen(filters[i].name) == len && memcmp(filters[i].name, name, len) == 0)
			return &filters[i];
	return NULL;
}

/* ---- statements ---------------------------------------------------------------- */

static int emit(struct render *r, int line, const char *s, size_t n)
{
	int rc = pfs_buf_add(r->out, s, n);

	if (rc == -E2BIG)
		return fail(r, line, -E2BIG, "output larger than the buffer's cap of %zu bytes",
			    r->out_cap);
	if (rc < 0)
		return nomem(r, line);
	return 0;
}

static int render_body(struct render *r, const struct stmt *s);

static int render_output(struct render *r, const struct stmt *s)
{
	const struct expr *e = s->u.out.e;
	struct val v;
	char num[40];
	const char *text = NULL;
	size_t n = 0;
	int rc = eval(r, e, &v);

	if (rc == 0)
		rc = need(r, &v);
	if (rc < 0)
		goto out;
	if (text_of(v.j, num, &text, &n))
		rc = emit(r, e->line, text, n);
	else if (json_is_null(v.j))
		rc = fail(r, e->line, -EINVAL, "cannot output none (\"%.*s\")", EXPR_TEXT(r, e));
	else
		rc = fail(r, e->line, -EINVAL, "cannot output %s (\"%.*s\"); use join or tojson",
			  type_name(v.j), EXPR_TEXT(r, e));
out:
	val_clear(&v);
	return rc;
}

static int render_if(struct render *r, const struct stmt *s)
{
	for (const struct branch *b = s->u.if_.branches; b; b = b->next) {
		struct val v;
		bool t;
		int rc;

		if (!b->cond)
			return render_body(r, b->body);
		rc = eval(r, b->cond, &v);
		if (rc == 0)
			rc = need(r, &v);
		t = rc == 0 && truthy(v.j);
		val_clear(&v);
		if (rc < 0)
			return rc;
		if (t)
			return render_body(r, b->body);
	}
	return 0;
}

/* One iteration: a fresh scope with loop, k and v (both moved; v unused unless items) bound. */
static int iterate(struct render *r, const struct stmt *s, const struct loop_state *ls,
		   struct val *k, struct val *v)
{
	int rc = 0;

	unbind_to(r, r->scope);
	if (++r->iterations > TMPL_MAX_ITERATIONS)
		rc = fail(r, s->line, -ELOOP, "too many loop iterations (limit %u)",
			  TMPL_MAX_ITERATIONS);
	if (rc == 0)
		rc = bind(r, s->line, "loop", NULL, ls);
	if (rc == 0)
		rc = bind(r, s->line, s->u.for_.k, k, NULL);
	if (rc == 0 && s->u.for_.v)
		rc = bind(r, s->line, s->u.for_.v, v, NULL);
	if (rc == 0)
		rc = render_body(r, s->u.for_.body);
	val_clear(k);
	val_clear(v);
	return rc;
}

static int render_for(struct render *r, const struct stmt *s)
{
	const struct expr *e = s->u.for_.iter;
	size_t saved_scope = r->scope, base = r->nvars;
	struct loop_state ls = { 0, 0 };
	struct val it;
	int rc = eval(r, e, &it);

	if (rc == 0)
		rc = need(r, &it);
	if (rc < 0)
		goto out;
	if (s->u.for_.items ? !json_is_object(it.j) : !json_is_object(it.j) && !json_is_array(it.j)) {
		rc = fail(r, e->line, -EINVAL, "cannot iterate over %s%s (\"%.*s\")",
			  s->u.for_.items ? "the items of " : "", type_name(it.j), EXPR_TEXT(r, e));
		goto out;
	}
	r->scope = base;
	ls.length = json_is_array(it.j) ? json_array_size(it.j) : json_object_size(it.j);
	if (ls.length == 0) {
		rc = render_body(r, s->u.for_.else_body);
		goto out;
	}
	if (json_is_array(it.j)) {
		for (; ls.index0 < ls.length && rc == 0; ls.index0++) {
			struct val k = { 0 }, v = { 0 };

			val_child(&k, json_array_get(it.j, ls.index0), it.owned);
			rc = iterate(r, s, &ls, &k, &v);
		}
		goto out;
	}
	for (void *i = json_object_iter(it.j); i && rc == 0;
	     i = json_object_iter_next(it.j, i), ls.index0++) {
		struct val k = { 0 }, v = { 0 };

		rc = set_json(r, s->line, &k, json_string_nocheck(json_object_iter_key(i)));
		val_child(&v, json_object_iter_value(i), it.owned);
		if (rc == 0)
			rc = iterate(r, s, &ls, &k, &v);
		val_clear(&k);
		val_clear(&v);
	}
out:
	unbind_to(r, base);
	r->scope = saved_scope;
	val_clear(&it);
	return rc;
}

static int render_set(struct render *r, const struct stmt *s)
{
	struct val v;
	int rc = eval(r, s->u.set.e, &v);

	if (rc == 0)
		rc = need(r, &v);
	if (rc == 0)
		rc = bind(r, s->line, s->u.set.name, &v, NULL); /* moves v */
	val_clear(&v);
	return rc;
}

static int render_body(struct render *r, const struct stmt *s)
{
	for (; s; s = s->next) {
		int rc = step(r, s->line, 1);

		if (rc < 0)
			return rc;
		switch (s->kind) {
		case S_TEXT:
			rc = emit(r, s->line, r->t->src + s->u.text.off, s->u.text.len);
			break;
		case S_OUT:
			rc = render_output(r, s);
			break;
		case S_IF:
			rc = render_if(r, s);
			break;
		case S_FOR:
			rc = render_for(r, s);
			break;
		case S_SET:
			rc = render_set(r, s);
			break;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int tmpl_render(const struct tmpl *t, json_t *ctx, struct pfs_buf *out, struct pfs_err *err)
{
	struct pfs_buf tmp;
	struct render r;
	int rc;

	if (!t || !out)
		return pfs_err_set(err, -EINVAL, "tmpl_render: invalid arguments");
	if (ctx && !json_is_object(ctx))
		return pfs_err_set(err, -EINVAL, "%s: the context is %s, not an object", t->name,
				   type_name(ctx));
	/* into a private buffer, so that a failed render appends nothing */
	pfs_buf_init(&tmp, out->cap > out->len ? out->cap - out->len : 0);
	memset(&r, 0, sizeof(r));
	r.t = t;
	r.ctx = ctx;
	r.out = &tmp;
	r.out_cap = out->cap;
	r.err = err;
	rc = render_body(&r, t->body);
	if (rc == 0 && !out->ptr) {
		*out = (struct pfs_buf){ tmp.ptr, tmp.len, tmp.alloc, out->cap };
		pfs_buf_init(&tmp, 0);
	} else if (rc == 0 && pfs_buf_add(out, tmp.ptr, tmp.len) < 0) {
		rc = pfs_err_set(err, -ENOMEM, "%s: out of memory", t->name);
	}
	pfs_buf_release(&tmp);
	unbind_to(&r, 0);
	free(r.vars);
	return rc;
}
