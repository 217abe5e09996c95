/* SPDX-License-Identifier: MIT */
/*
 * Metric rules and their extraction from logs.
 *
 * Patterns are literal text with numeric holes rather than regular
 * expressions: the lines they describe ("Received 5 bytes in 3 seconds.",
 * "Overall throughput: 5402.9Mb/s") are full of characters a regex would
 * need escaped (. / ( )), and a hole that only takes a number cannot
 * swallow half a line. The matcher is small: a literal is found with
 * memmem, a number is scanned by hand (decimal only, so strtod never sees
 * "inf", "nan" or hex) and converted by strtod, and a number that leaves
 * the rest of the pattern unmatched is retried shorter ("3." before ".").
 *
 * The extraction keeps one line and, per rule, the captures of its last
 * matching line or a count: a 1 GB log costs the same memory as a short one.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pantherfs/metrics.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define NAME_MAX_LEN 64
#define UNIT_MAX_LEN 32
#define NUM_MAX_LEN 64
#define MAX_SEGS (2 * MX_MAX_CAPTURES + 4)
#define READ_CHUNK (64u << 10)

enum seg_kind { SEG_LIT, SEG_NUM, SEG_MSG };

struct seg {
	enum seg_kind kind;
	char *text;     /* SEG_LIT: braces unescaped */
	size_t len;
	int cap;        /* SEG_NUM: capture index */
};

struct pattern {
	char *src;      /* as written, for reasons */
	struct seg segs[MAX_SEGS];
	size_t n_segs;
	char *names[MX_MAX_CAPTURES];
	size_t n_caps;
};

enum src_kind { SRC_LINE, SRC_COUNT, SRC_SETTING };

struct source {
	enum src_kind kind;
	struct pattern pat;   /* SRC_LINE, SRC_COUNT */
	int a, b;             /* SRC_LINE: the value is cap a, or cap a <op> cap b */
	char op;              /* 0, '/', '*' */
	double scale;
	char *setting;        /* SRC_SETTING */
};

struct rule {
	char *name, *unit;
	struct source src[MX_MAX_SOURCES];
	size_t n_src;
};

struct mrules {
	struct rule *r;
	size_t n;
};

/* ---- messages with positions ------------------------------------------------------- */

struct pctx {
	const struct ydoc *doc;
	const char *file;
	struct pfs_err *err;
};

static int bad(struct pctx *x, const json_t *parent, const char *key, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int bad(struct pctx *x, const json_t *parent, const char *key, const char *path, const char *fmt, ...)
{
	struct ydoc_pos p = { 0, 0 };
	char msg[512];
	va_list ap;

	if (x->doc && parent && key)
		p = ydoc_value_pos(x->doc, parent, key);
	if (x->doc && !p.line && parent)
		p = ydoc_pos(x->doc, parent);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!x->doc)
		return pfs_err_set(x->err, -EINVAL, "%s: %s: %s", x->file ? x->file : "<rules>", path, msg);
	return pfs_err_set(x->err, -EINVAL, "%s:%d:%d: %s: %s", x->file ? x->file : "<rules>", p.line, p.col,
			   path, msg);
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = 0;

	if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_')
			return false;
	return n <= max;
}

/* ---- patterns ---------------------------------------------------------------------------- */

static void pattern_release(struct pattern *p)
{
	free(p->src);
	for (size_t i = 0; i < p->n_segs; i++)
		free(p->segs[i].text);
	for (size_t i = 0; i < p->n_caps; i++)
		free(p->names[i]);
	memset(p, 0, sizeof(*p));
}

static int add_lit(struct pattern *p, struct pfs_buf *lit)
{
	struct seg *s;

	if (!lit->len)
		return 0;
	s = &p->segs[p->n_segs++];
	s->kind = SEG_LIT;
	s->text = pfs_buf_steal(lit, &s->len);
	return s->text ? 0 : -ENOMEM;
}

/* Compiles src; errors name path and the position of parent[key]. */
static int pattern_parse(struct pctx *x, const json_t *parent, const char *key, const char *path,
			 const char *src, struct pattern *p)
{
	struct pfs_buf lit = PFS_BUF_INIT(MX_PATTERN_MAX + 1);
	size_t n = strlen(src), i = 0, litlen = 0;
	bool prev_hole = false, has_msg = false;
	int r = 0;

	memset(p, 0, sizeof(*p));
	if (n == 0)
		return bad(x, parent, key, path, "empty pattern");
	if (n > MX_PATTERN_MAX)
		return bad(x, parent, key, path, "pattern longer than %u bytes", MX_PATTERN_MAX);
	for (size_t k = 0; k < n; k++)
		if (((unsigned char)src[k] < 0x20 && src[k] != '\t') || src[k] == 0x7f)
			return bad(x, parent, key, path, "control character (byte 0x%02x) at offset %zu",
				   (unsigned char)src[k], k);
	while (i < n && r == 0) {
		if ((src[i] == '{' && src[i + 1] == '{') || (src[i] == '}' && src[i + 1] == '}')) {
			r = pfs_buf_addc(&lit, src[i]);
			litlen++;
			prev_hole = false;
			i += 2;
			continue;
		}
		if (src[i] == '}') {
			r = bad(x, parent, key, path, "a lone } at offset %zu (write }} for a brace)", i);
			break;
		}
		if (src[i] != '{') {
			r = pfs_buf_addc(&lit, src[i]);
			litlen++;
			prev_hole = false;
			i++;
			continue;
		}
		/* a placeholder */
		const char *close = strchr(src + i, '}');
		char name[NAME_MAX_LEN + 1];
		size_t nl;

		if (!close) {
			r = bad(x, parent, key, path, "unclosed { at offset %zu (write {{ for a brace)", i);
			break;
		}
		nl = (size_t)(close - (src + i + 1));
		if (nl == 0 || nl > NAME_MAX_LEN) {
			r = bad(x, parent, key, path, "placeholder at offset %zu: a name of 1-%d letters, digits or _",
				i, NAME_MAX_LEN);
			break;
		}
		memcpy(name, src + i + 1, nl);
		name[nl] = '\0';
		if (!name_ok(name, NAME_MAX_LEN)) {
			r = bad(x, parent, key, path, "placeholder {%s}: a name is letters, digits and _", name);
			break;
		}
		if (prev_hole) {
			r = bad(x, parent, key, path, "{%s} follows another placeholder: put text between them", name);
			break;
		}
		if (p->n_segs + 2 > MAX_SEGS) {
			r = bad(x, parent, key, path, "too many placeholders");
			break;
		}
		r = add_lit(p, &lit);
		if (r < 0)
			break;
		if (!strcmp(name, "message")) {
			if (has_msg) {
				r = bad(x, parent, key, path, "{message} appears twice");
				break;
			}
			has_msg = true;
			p->segs[p->n_segs++].kind = SEG_MSG;
		} else {
			for (size_t k = 0; k < p->n_caps; k++)
				if (!strcmp(p->names[k], name))
					r = bad(x, parent, key, path, "placeholder {%s} appears twice", name);
			if (r == 0 && p->n_caps == MX_MAX_CAPTURES)
				r = bad(x, parent, key, path, "more than %d placeholders", MX_MAX_CAPTURES);
			if (r < 0)
				break;
			p->names[p->n_caps] = strdup(name);
			if (!p->names[p->n_caps]) {
				r = -ENOMEM;
				break;
			}
			p->segs[p->n_segs].kind = SEG_NUM;
			p->segs[p->n_segs].cap = (int)p->n_caps++;
			p->n_segs++;
		}
		prev_hole = true;
		i = (size_t)(close - src) + 1;
	}
	if (r == 0)
		r = add_lit(p, &lit);
	if (r == 0 && litlen == 0)
		r = bad(x, parent, key, path, "a pattern needs some text besides its placeholders");
	if (r == 0) {
		p->src = strdup(src);
		if (!p->src)
			r = -ENOMEM;
	}
	if (r == -ENOMEM)
		pfs_err_set(x->err, r, "out of memory");
	pfs_buf_release(&lit);
	if (r < 0)
		pattern_release(p);
	return r;
}

static int cap_index(const struct pattern *p, const char *name)
{
	for (size_t i = 0; i < p->n_caps; i++)
		if (!strcmp(p->names[i], name))
			return (int)i;
	return -1;
}

static void cap_list(const struct pattern *p, char *out, size_t n)
{
	size_t k = 0;

	out[0] = '\0';
	for (size_t i = 0; i < p->n_caps && k < n; i++)
		k += (size_t)snprintf(out + k, n - k, "%s%s", i ? ", " : "", p->names[i]);
}

/* ---- rules --------------------------------------------------------------------------------- */

static void rule_release(struct rule *r)
{
	free(r->name);
	free(r->unit);
	for (size_t i = 0; i < r->n_src; i++) {
		pattern_release(&r->src[i].pat);
		free(r->src[i].setting);
	}
}

void mrules_free(struct mrules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		rule_release(&r->r[i]);
	free(r->r);
	free(r);
}

static bool only_keys(const json_t *o, const char *const *keys, const char **bad_key)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		bool ok = false;

		for (size_t i = 0; keys[i]; i++)
			ok |= !strcmp(k, keys[i]);
		if (!ok) {
			*bad_key = k;
			return false;
		}
	}
	return true;
}

static char *trim(char *w)
{
	size_t e;

	while (*w == ' ')
		w++;
	for (e = strlen(w); e && w[e - 1] == ' '; e--)
		w[e - 1] = '\0';
	return w;
}

/* "a", "a / b", "a * b" over the line's placeholders. */
static int parse_value(struct pctx *x, const json_t *o, const char *path, struct source *s)
{
	const json_t *v = json_object_get(o, "value");
	char buf[2 * NAME_MAX_LEN + 8], caps[256], *op, *l, *rr;
	size_t n;

	cap_list(&s->pat, caps, sizeof(caps));
	if (!v) {
		if (s->pat.n_caps != 1)
			return bad(x, o, "line", path, "value: needed, the line has %zu placeholders (%s)",
				   s->pat.n_caps, s->pat.n_caps ? caps : "none: a line rule reads a number");
		s->a = 0;
		return 0;
	}
	if (!json_is_string(v) || (n = strlen(json_string_value(v))) >= sizeof(buf))
		return bad(x, o, "value", path, "value: must be a placeholder's name, or \"a / b\" or \"a * b\"");
	memcpy(buf, json_string_value(v), n + 1);
	op = strpbrk(buf, "/*");
	if (op) {
		s->op = *op;
		*op = '\0';
	}
	l = trim(buf);
	rr = op ? trim(op + 1) : NULL;
	if (rr && (!rr[0] || strpbrk(rr, "/*")))
		return bad(x, o, "value", path, "value: one operation at most (a / b or a * b)");
	s->a = cap_index(&s->pat, l);
	if (s->a < 0)
		return bad(x, o, "value", path, "value: \"%s\" is not a placeholder of the line (it has: %s)", l,
			   s->pat.n_caps ? caps : "none");
	if (rr) {
		s->b = cap_index(&s->pat, rr);
		if (s->b < 0)
			return bad(x, o, "value", path, "value: \"%s\" is not a placeholder of the line (it has: %s)",
				   rr, s->pat.n_caps ? caps : "none");
	}
	return 0;
}

static int parse_source(struct pctx *x, const json_t *o, const char *path, bool in_from, struct source *s)
{
	static const char *const src_keys[] = { "line", "count", "setting", "value", "scale", NULL };
	static const char *const kinds[] = { "line", "count", "setting" };
	const json_t *sc = json_object_get(o, "scale");
	const char *kind = NULL, *bk = NULL;
	int r;

	if (in_from && !only_keys(o, src_keys, &bk))
		return bad(x, o, bk, path, "unknown key \"%s\" (a source has line, count or setting, value, scale)", bk);
	for (size_t i = 0; i < PFS_ARRAY_SIZE(kinds); i++) {
		if (!json_object_get(o, kinds[i]))
			continue;
		if (kind)
			return bad(x, o, kinds[i], path, "%s and %s: one source at a time (list alternatives under from:)",
				   kind, kinds[i]);
		kind = kinds[i];
	}
	if (!kind)
		return bad(x, o, NULL, path, "needs line, count or setting%s", in_from ? "" : " (or from:)");
	s->scale = 1;
	if (sc) {
		if (!json_is_number(sc))
			return bad(x, o, "scale", path, "scale: must be a number%s",
				   json_is_string(sc) ? " (YAML reads 1e-6 as text: write 0.000001 or 1.0e-6)" : "");
		s->scale = json_number_value(sc);
		if (!isfinite(s->scale) || s->scale == 0)
			return bad(x, o, "scale", path, "scale: must be a finite number other than 0");
	}
	if (!strcmp(kind, "setting")) {
		const char *v = json_string_value(json_object_get(o, "setting"));

		s->kind = SRC_SETTING;
		if (!name_ok(v, NAME_MAX_LEN))
			return bad(x, o, "setting", path, "setting: the name of a template value (messages, duration, ...)");
		if (json_object_get(o, "value"))
			return bad(x, o, "value", path, "value: only for line rules");
		s->setting = strdup(v);
		return s->setting ? 0 : pfs_err_set(x->err, -ENOMEM, "out of memory");
	}
	if (!json_is_string(json_object_get(o, kind)))
		return bad(x, o, kind, path, "%s: must be a pattern (text with {name} placeholders)", kind);
	{
		char kp[320];

		snprintf(kp, sizeof(kp), "%s.%s", path, kind);
		r = pattern_parse(x, o, kind, kp, json_string_value(json_object_get(o, kind)), &s->pat);
	}
	if (r < 0)
		return r;
	if (!strcmp(kind, "count")) {
		s->kind = SRC_COUNT;
		if (json_object_get(o, "value"))
			return bad(x, o, "value", path, "value: only for line rules (a count counts lines)");
		return 0;
	}
	s->kind = SRC_LINE;
	return parse_value(x, o, path, s);
}

static int parse_rule(struct pctx *x, const json_t *role, const char *name, const char *path, struct rule *ru)
{
	static const char *const rule_keys[] = { "unit", "line", "count", "setting", "value", "scale", "from", NULL };
	const json_t *o = json_object_get(role, name), *from, *it;
	const char *unit, *bk = NULL;
	char p[320];
	size_t i;
	int r;

	snprintf(p, sizeof(p), "%s.%s", path, name);
	if (!name_ok(name, NAME_MAX_LEN))
		return bad(x, role, name, p, "a metric's name is 1-%d letters, digits and _, starting with a letter",
			   NAME_MAX_LEN);
	if (!json_is_object(o))
		return bad(x, role, name, p, "must be a mapping (unit and line, count, setting or from)");
	if (!only_keys(o, rule_keys, &bk))
		return bad(x, o, bk, p, "unknown key \"%s\" (known: unit, line, count, setting, value, scale, from)", bk);
	unit = json_string_value(json_object_get(o, "unit"));
	if (!unit || !unit[0] || strlen(unit) > UNIT_MAX_LEN)
		return bad(x, o, json_object_get(o, "unit") ? "unit" : NULL, p,
			   "unit: needed, 1-%d characters (B, s, bit/s, messages, ...)", UNIT_MAX_LEN);
	for (const char *c = unit; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return bad(x, o, "unit", p, "unit: printable characters without spaces");
	ru->name = strdup(name);
	ru->unit = strdup(unit);
	if (!ru->name || !ru->unit)
		return pfs_err_set(x->err, -ENOMEM, "out of memory");
	from = json_object_get(o, "from");
	if (!from)
		return parse_source(x, o, p, false, &ru->src[ru->n_src++]);
	for (const char *const *k = (const char *const[]){ "line", "count", "setting", "value", "scale", NULL }; *k; k++)
		if (json_object_get(o, *k))
			return bad(x, o, *k, p, "%s: goes inside each item of from:", *k);
	if (!json_is_array(from) || json_array_size(from) == 0 || json_array_size(from) > MX_MAX_SOURCES)
		return bad(x, o, "from", p, "from: a list of 1-%d sources, tried in order", MX_MAX_SOURCES);
	json_array_foreach(from, i, it) {
		char fp[340];

		snprintf(fp, sizeof(fp), "%s.from[%zu]", p, i);
		if (!json_is_object(it))
			return bad(x, o, "from", fp, "must be a mapping (line, count or setting)");
		r = parse_source(x, it, fp, true, &ru->src[ru->n_src++]);
		if (r < 0)
			return r;
	}
	return 0;
}

int mrules_parse(const json_t *role_rules, const struct ydoc *doc, const char *file, const char *path,
		 struct mrules **out, struct pfs_err *err)
{
	struct pctx x = { doc, file, err };
	struct mrules *m = calloc(1, sizeof(*m));
	const char *name;
	json_t *v;
	int r = 0;

	if (!m)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	if (role_rules && !json_is_object(role_rules)) {
		r = bad(&x, role_rules, NULL, path, "must map metric names to rules");
		goto out;
	}
	if (json_object_size(role_rules) > MX_MAX_METRICS) {
		r = bad(&x, role_rules, NULL, path, "more than %d metrics", MX_MAX_METRICS);
		goto out;
	}
	m->r = calloc(json_object_size(role_rules) + 1, sizeof(*m->r));
	if (!m->r) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	json_object_foreach((json_t *)role_rules, name, v) {
		r = parse_rule(&x, role_rules, name, path, &m->r[m->n++]);
		if (r < 0)
			goto out;
	}
out:
	if (r < 0) {
		mrules_free(m);
		return r;
	}
	*out = m;
	return 0;
}

int mrules_check(const json_t *metrics, const struct ydoc *doc, const char *file, const char *path,
		 struct pfs_err *err)
{
	struct pctx x = { doc, file, err };
	const char *role;
	json_t *v;

	if (!json_is_object(metrics))
		return bad(&x, metrics, NULL, path, "must map roles (server, client) to metric rules");
	json_object_foreach((json_t *)metrics, role, v) {
		struct mrules *m = NULL;
		char p[320];
		int r;

		snprintf(p, sizeof(p), "%s.%s", path, role);
		if (strcmp(role, "server") && strcmp(role, "client"))
			return bad(&x, metrics, role, p, "roles are server and client");
		r = mrules_parse(v, doc, file, p, &m, err);
		mrules_free(m);
		if (r < 0)
			return r;
	}
	return 0;
}

size_t mrules_count(const struct mrules *r) { return r ? r->n : 0; }
const char *mrules_name(const struct mrules *r, size_t i) { return r && i < r->n ? r->r[i].name : NULL; }
const char *mrules_unit(const struct mrules *r, size_t i) { return r && i < r->n ? r->r[i].unit : NULL; }

/* ---- matching ------------------------------------------------------------------------------- */

struct srcstate {
	bool seen;
	unsigned long long count;
	double cap[MX_MAX_CAPTURES];
};

struct mx {
	const struct mrules *rules;
	json_t *ctx;
	const char **msgs;       /* borrowed from ctx */
	size_t n_msgs;
	struct srcstate st[MX_MAX_METRICS][MX_MAX_SOURCES];
	bool any_input;
	size_t len;              /* bytes of line[] in use */
	bool pending;            /* a line has begun (possibly beyond MX_LINE_MAX) */
	char line[MX_LINE_MAX];
};

/* Length of the longest decimal number at s: [-+]?(d+(.d*)?|.d+)([eE][-+]?d+)? */
static size_t scan_number(const char *s, const char *end)
{
	const char *p = s, *mant;
	size_t digits = 0;

	if (p < end && (*p == '-' || *p == '+'))
		p++;
	mant = p;
	while (p < end && isdigit((unsigned char)*p))
		p++, digits++;
	if (p < end && *p == '.') {
		p++;
		while (p < end && isdigit((unsigned char)*p))
			p++, digits++;
	}
	if (!digits)
		return 0;
	if (p == mant + 1 && *mant == '.')
		return 0;
	if (p < end && (*p == 'e' || *p == 'E')) {
		const char *q = p + 1;

		if (q < end && (*q == '-' || *q == '+'))
			q++;
		if (q < end && isdigit((unsigned char)*q)) {
			while (q < end && isdigit((unsigned char)*q))
				q++;
			p = q;
		}
	}
	return (size_t)(p - s);
}

/* A prefix of a number is itself a number (or nothing): used to back off. */
static bool is_number(const char *s, size_t n)
{
	return n && scan_number(s, s + n) == n;
}

static bool match_from(const struct pattern *p, size_t si, const char *s, const char *end, double *caps,
		       const char *const *msgs, size_t n_msgs)
{
	const struct seg *g;

	if (si == p->n_segs)
		return true;
	g = &p->segs[si];
	switch (g->kind) {
	case SEG_LIT:
		return (size_t)(end - s) >= g->len && !memcmp(s, g->text, g->len) &&
		       match_from(p, si + 1, s + g->len, end, caps, msgs, n_msgs);
	case SEG_NUM: {
		size_t n = scan_number(s, end);

		if (n > NUM_MAX_LEN)
			return false;
		for (; n; n--) {
			char num[NUM_MAX_LEN + 1];

			if (!is_number(s, n))
				continue;
			if (!match_from(p, si + 1, s + n, end, caps, msgs, n_msgs))
				continue;
			memcpy(num, s, n);
			num[n] = '\0';
			caps[g->cap] = strtod(num, NULL);
			return true;
		}
		return false;
	}
	case SEG_MSG:
		for (size_t i = 0; i < n_msgs; i++) {
			size_t ml = strlen(msgs[i]);
			const char *after = s + ml;

			if (!ml || (size_t)(end - s) < ml || memcmp(s, msgs[i], ml))
				continue;
			/* the whole message, not a prefix of a longer one ("echo hi" in "echo hit") */
			if (si + 1 == p->n_segs && after != end && *after != ' ' && *after != '\t')
				continue;
			if (match_from(p, si + 1, after, end, caps, msgs, n_msgs))
				return true;
		}
		return false;
	}
	return false;
}

static bool number_starts(const char *line, const char *s, const char *end)
{
	if (s > line && (isdigit((unsigned char)s[-1]) || s[-1] == '.'))
		return false;
	return scan_number(s, end) > 0;
}

static bool pattern_match(const struct pattern *p, const char *line, size_t len, double *caps,
			  const char *const *msgs, size_t n_msgs)
{
	const char *s = line, *end = line + len;

	if (p->segs[0].kind == SEG_LIT) {
		const struct seg *g = &p->segs[0];

		while (s < end) {
			const char *hit = memmem(s, (size_t)(end - s), g->text, g->len);

			if (!hit)
				return false;
			if (match_from(p, 0, hit, end, caps, msgs, n_msgs))
				return true;
			s = hit + 1;
		}
		return false;
	}
	for (; s < end; s++)
		if ((p->segs[0].kind == SEG_MSG || number_starts(line, s, end)) &&
		    match_from(p, 0, s, end, caps, msgs, n_msgs))
			return true;
	return false;
}

static void process_line(struct mx *x)
{
	size_t len = x->len;

	if (len && x->line[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < x->rules->n; i++) {
		const struct rule *ru = &x->rules->r[i];

		for (size_t k = 0; k < ru->n_src; k++) {
			const struct source *src = &ru->src[k];
			struct srcstate *st = &x->st[i][k];
			double caps[MX_MAX_CAPTURES];

			if (src->kind == SRC_SETTING)
				continue;
			if (!pattern_match(&src->pat, x->line, len, caps, x->msgs, x->n_msgs))
				continue;
			if (src->kind == SRC_COUNT) {
				st->count++;
			} else {
				st->seen = true;
				memcpy(st->cap, caps, sizeof(caps));
			}
		}
	}
	x->len = 0;
	x->pending = false;
}

void mx_feed(struct mx *x, const char *data, size_t len)
{
	if (len)
		x->any_input = true;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		size_t room = MX_LINE_MAX - x->len;

		/* past MX_LINE_MAX the rest of the line is dropped: patterns see its start */
		memcpy(x->line + x->len, data, PFS_MIN(take, room));
		x->len += PFS_MIN(take, room);
		x->pending = true;
		if (!nl)
			return;
		process_line(x);
		data = nl + 1;
		len -= take + 1;
	}
}

int mx_feed_file(struct mx *x, const char *path)
{
	char *buf;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	buf = malloc(READ_CHUNK);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		if (n <= 0)
			break;
		mx_feed(x, buf, (size_t)n);
	}
	free(buf);
	close(fd);
	return r;
}

int mx_new(const struct mrules *rules, const json_t *ctx, struct mx **out)
{
	struct mx *x = calloc(1, sizeof(*x));
	json_t *msgs, *m;
	size_t i;

	if (!x)
		return -ENOMEM;
	x->rules = rules;
	x->ctx = ctx ? json_deep_copy(ctx) : json_object();
	if (!x->ctx) {
		free(x);
		return -ENOMEM;
	}
	msgs = json_object_get(x->ctx, "messages");
	x->msgs = calloc(json_array_size(msgs) + 1, sizeof(*x->msgs));
	if (!x->msgs) {
		mx_free(x);
		return -ENOMEM;
	}
	json_array_foreach(msgs, i, m)
		if (json_is_string(m))
			x->msgs[x->n_msgs++] = json_string_value(m);
	*out = x;
	return 0;
}

void mx_free(struct mx *x)
{
	if (!x)
		return;
	free(x->msgs);
	json_decref(x->ctx);
	free(x);
}

/* ---- results ------------------------------------------------------------------------------ */

static json_t *number_json(double v)
{
	if (v == floor(v) && fabs(v) <= 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

/* The value of one source, or false with why (appended to reason). */
static bool source_value(const struct mx *x, const struct source *src, const struct srcstate *st, double *out,
			 struct pfs_buf *reason, bool *no_line)
{
	double v;

	*no_line = false;
	switch (src->kind) {
	case SRC_COUNT:
		v = (double)st->count;
		break;
	case SRC_SETTING: {
		json_t *s = json_object_get(x->ctx, src->setting);

		if (json_is_array(s))
			v = (double)json_array_size(s);
		else if (json_is_number(s))
			v = json_number_value(s);
		else {
			pfs_buf_printf(reason, "%sthe service has %s setting \"%s\"", reason->len ? "; " : "",
				       s ? "no numeric or list" : "no", src->setting);
			return false;
		}
		break;
	}
	case SRC_LINE:
	default:
		if (!st->seen) {
			*no_line = true;
			return false;
		}
		v = st->cap[src->a];
		if (src->op == '*')
			v *= st->cap[src->b];
		else if (src->op == '/') {
			if (st->cap[src->b] == 0) {
				pfs_buf_printf(reason, "%s\"%s\" gave %s = 0: cannot divide by it", reason->len ? "; " : "",
					       src->pat.src, src->pat.names[src->b]);
				return false;
			}
			v /= st->cap[src->b];
		}
		break;
	}
	v *= src->scale;
	if (!isfinite(v)) {
		pfs_buf_printf(reason, "%sthe value is out of range", reason->len ? "; " : "");
		return false;
	}
	*out = v;
	return true;
}

static json_t *rule_result(const struct mx *x, size_t i, const struct mx_end *end)
{
	const struct rule *ru = &x->rules->r[i];
	struct pfs_buf reason = PFS_BUF_INIT(4096), missing = PFS_BUF_INIT(2048);
	const char *role = end && end->role ? end->role : "service";
	json_t *o = json_pack("{s:n,s:s}", "value", "unit", ru->unit);
	size_t n_missing = 0;

	if (!o)
		return NULL;
	if (end && end->how == MX_NEVER_STARTED && !x->any_input) {
		pfs_buf_printf(&reason, "the %s never started", role);
		goto null;
	}
	for (size_t k = 0; k < ru->n_src; k++) {
		double v;
		bool no_line;

		if (source_value(x, &ru->src[k], &x->st[i][k], &v, &reason, &no_line)) {
			json_object_set_new(o, "value", number_json(v));
			goto out;
		}
		if (no_line)
			pfs_buf_printf(&missing, "%s\"%s\"", n_missing++ ? " nor " : "", ru->src[k].pat.src);
	}
	if (n_missing) {
		struct pfs_buf why = PFS_BUF_INIT(8192);

		pfs_buf_printf(&why, "no line matched %s", pfs_buf_str(&missing));
		if (!end || end->how == MX_RUNNING)
			pfs_buf_addstr(&why, " yet");
		else if (end->how == MX_EXITED)
			pfs_buf_printf(&why, " (the %s exited %d before printing it)", role, end->exit_code);
		else if (end->how == MX_STOPPED)
			pfs_buf_printf(&why, " (the %s was stopped before printing it)", role);
		if (reason.len)
			pfs_buf_printf(&why, "; %s", pfs_buf_str(&reason));
		pfs_buf_release(&reason);
		reason = why;
	}
null:
	json_object_set_new(o, "reason", json_string(reason.len ? pfs_buf_str(&reason) : "no value"));
out:
	pfs_buf_release(&reason);
	pfs_buf_release(&missing);
	return o;
}

json_t *mx_result(struct mx *x, const struct mx_end *end)
{
	json_t *res = json_object();

	if (!res)
		return NULL;
	if (end && end->how != MX_RUNNING && x->pending)
		process_line(x);
	for (size_t i = 0; i < x->rules->n; i++) {
		json_t *o = rule_result(x, i, end);

		if (!o || json_object_set_new(res, x->rules->r[i].name, o) < 0) {
			json_decref(res);
			return NULL;
		}
	}
	return res;
}
