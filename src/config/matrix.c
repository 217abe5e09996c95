/* SPDX-License-Identifier: MIT */
/*
 * Matrix files: parsed with positions (yamltree), expanded into one test
 * config per cell, each checked by config_load() as the cell's test will
 * check it; and the tables of a matrix's cells.
 *
 * A cell's config is JSON (a subset of the YAML that config_load reads)
 * under a comment saying where it comes from: the user's entries go into
 * it as they are, so the cell's test checks exactly what the matrix said.
 * Its problems are shown at the matrix entry they come from, once each,
 * however many cells share the entry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pantherfs/matrix.h"
#include "pantherfs/testcase.h"
#include "pantherfs/util.h"
#include "pantherfs/yamltree.h"
#include "pantherfs/banned.h"

#define MAX_TIMEOUT (7L * 24 * 3600)
#define MAX_LINES 10000          /* report lines kept (the rest are counted) */

struct mctx {
	const char *file;
	struct ydoc *doc;
	char **lines[3];         /* errors, warnings, notes */
	size_t n[3], alloc[3];
	bool oom;
};

enum { M_ERR, M_WARN, M_NOTE };

static void push(struct mctx *m, int kind, char *line)
{
	if (!line) {
		m->oom = true;
		return;
	}
	for (size_t i = 0; i < m->n[kind]; i++)
		if (!strcmp(m->lines[kind][i], line)) {
			free(line); /* once each, however many cells say it */
			return;
		}
	if (m->n[kind] >= MAX_LINES) {
		free(line);
		return;
	}
	if (m->n[kind] + 2 > m->alloc[kind]) {
		size_t na = m->alloc[kind] ? m->alloc[kind] * 2 : 16;
		char **nv = realloc(m->lines[kind], na * sizeof(*nv));

		if (!nv) {
			free(line);
			m->oom = true;
			return;
		}
		m->lines[kind] = nv;
		m->alloc[kind] = na;
	}
	m->lines[kind][m->n[kind]++] = line;
	m->lines[kind][m->n[kind]] = NULL;
}

/* "<file>:<line>:<col>: <path>: <msg>" at key (at_key) or value of parent[key], else at parent. */
static void say(struct mctx *m, int kind, json_t *parent, const char *key, bool at_key, const char *path,
		const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void say(struct mctx *m, int kind, json_t *parent, const char *key, bool at_key, const char *path,
		const char *fmt, ...)
{
	struct ydoc_pos p = { 0, 0 };
	char msg[2048];
	va_list ap;

	if (parent && key)
		p = at_key ? ydoc_key_pos(m->doc, parent, key) : ydoc_value_pos(m->doc, parent, key);
	if (!p.line && parent)
		p = ydoc_pos(m->doc, parent);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p.line)
		push(m, kind, pfs_strdup_printf("%s:%d:%d: %s%s%s", m->file, p.line, p.col, path, *path ? ": " : "", msg));
	else
		push(m, kind, pfs_strdup_printf("%s: %s%s%s", m->file, path, *path ? ": " : "", msg));
}

static void report(struct mctx *m, struct cfg_report *rep)
{
	if (m->oom)
		push(m, M_ERR, strdup("out of memory while checking the matrix"));
	for (int k = 0; k < 3; k++) {
		/* shown text: control characters escaped, as config_load's reports */
		for (size_t i = 0; i < m->n[k]; i++) {
			char *e = pfs_escape_ctl_dup(m->lines[k][i], 0);

			if (e) {
				free(m->lines[k][i]);
				m->lines[k][i] = e;
			}
		}
		if (!m->lines[k]) {
			m->lines[k] = calloc(1, sizeof(char *));
			m->oom |= !m->lines[k];
		}
	}
	rep->errors = m->lines[M_ERR];
	rep->n_errors = m->n[M_ERR];
	rep->warnings = m->lines[M_WARN];
	rep->n_warnings = m->n[M_WARN];
	rep->notes = m->lines[M_NOTE];
	rep->n_notes = m->n[M_NOTE];
}

static const char *type_name(json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "a mapping";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "empty";
	}
	return "?";
}

/* servers: / clients: a mapping of names to service blocks without protocol. */
static char **entries(struct mctx *m, json_t *root, const char *key, size_t *n)
{
	json_t *map = json_object_get(root, key), *e;
	const char *name;
	char **v, path[160];
	size_t k = 0;

	*n = 0;
	if (!map) {
		say(m, M_ERR, root, NULL, false, key, "missing: name the %s of the matrix, each with its implementation",
		    key);
		return NULL;
	}
	if (!json_is_object(map) || json_object_size(map) == 0 || json_object_size(map) > MATRIX_MAX_ENTRIES) {
		say(m, M_ERR, root, key, false, key, "must map 1 to %d names to services (%s)", MATRIX_MAX_ENTRIES,
		    json_is_object(map) ? "it has none or too many" : type_name(map));
		return NULL;
	}
	v = calloc(json_object_size(map) + 1, sizeof(*v));
	if (!v) {
		m->oom = true;
		return NULL;
	}
	json_object_foreach(map, name, e) {
		snprintf(path, sizeof(path), "%s.%s", key, name);
		if (!pfs_name_valid(name))
			say(m, M_ERR, map, name, true, path,
			    "a name must be 1-64 characters of [A-Za-z0-9._-], not starting with . or -");
		else if (!json_is_object(e))
			say(m, M_ERR, map, name, false, path, "must be a service's mapping (implementation, config, ...), "
			    "not %s", type_name(e));
		else if (json_object_get(e, "protocol"))
			say(m, M_ERR, e, "protocol", true, path, "protocol: the matrix sets it (the role of the %s, "
			    "and each client's target)", key);
		else if (!json_object_get(e, "implementation"))
			say(m, M_ERR, map, name, true, path, "missing: implementation");
		v[k] = strdup(name);
		m->oom |= !v[k++];
	}
	*n = k;
	return v;
}

/* config_load's line for a cell, as the matrix's: "cell:3:5: services.server.config.x: msg". */
static void cell_line(struct mctx *m, int kind, json_t *root, const char *server, const char *client,
		      const char *line)
{
	const char *rest = line, *c;
	json_t *map, *parent;
	const char *key;
	char path[512];

	/* drop "cell:" and a "L:C: " position in the generated text */
	if (!strncmp(rest, "cell:", 5))
		rest += 5;
	c = rest;
	while (*c == ' ' || (*c >= '0' && *c <= '9') || *c == ':')
		c++;
	if (c > rest && c[-1] == ' ')
		rest = c;
	if (!strncmp(rest, "services.server", 15) && (rest[15] == '.' || rest[15] == ':')) {
		map = json_object_get(root, "servers");
		key = server;
		snprintf(path, sizeof(path), "servers.%s%s", server, rest + 15);
	} else if (!strncmp(rest, "services.client", 15) && (rest[15] == '.' || rest[15] == ':')) {
		map = json_object_get(root, "clients");
		key = client;
		snprintf(path, sizeof(path), "clients.%s%s", client, rest + 15);
	} else {
		map = root;
		key = NULL;
		snprintf(path, sizeof(path), "%s", rest);
	}
	parent = map;
	/* path holds "x.y: message": its own path and message */
	say(m, kind, parent, key, true, "", "%s", path);
}

static char *cell_config(const struct matrix_plan *p, json_t *root, const char *server, const char *client, int tc)
{
	json_t *cfg, *sv, *cl;
	char *body, *text;

	sv = json_deep_copy(json_object_get(json_object_get(root, "servers"), server));
	cl = json_deep_copy(json_object_get(json_object_get(root, "clients"), client));
	if (!sv || !cl) {
		json_decref(sv);
		json_decref(cl);
		return NULL;
	}
	json_object_set_new(sv, "protocol", json_pack("{s:s}", "role", "server"));
	json_object_set_new(cl, "protocol", json_pack("{s:s,s:s}", "role", "client", "target", "server"));
	cfg = json_pack("{s:o,s:s,s:I,s:{s:o,s:o}}", "name",
			json_sprintf("%s: %s x %s: %s", p->name, server, client, tc_name((enum tc_id)tc)), "testcase",
			tc_name((enum tc_id)tc), "timeout", (json_int_t)p->timeout_s, "services", "server", sv, "client", cl);
	if (!cfg)
		return NULL;
	body = json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(cfg);
	if (!body)
		return NULL;
	text = pfs_strdup_printf("# A cell of the matrix %s (matrices/%s/matrix.yaml): server %s, client %s, "
				 "testcase %s.\n# Written by pantherfs; write the matrix again to change it.\n%s\n",
				 p->name, p->name, server, client, tc_name((enum tc_id)tc), body);
	free(body);
	return text;
}

static void plan_cells(struct mctx *m, const struct catalog *cat, json_t *root, struct matrix_plan *p)
{
	size_t n = p->n_servers * p->n_clients * p->n_cases, k = 0, unsupported = 0;

	p->cells = calloc(n ? n : 1, sizeof(*p->cells));
	if (!p->cells) {
		m->oom = true;
		return;
	}
	for (size_t s = 0; s < p->n_servers; s++)
		for (size_t c = 0; c < p->n_clients; c++)
			for (size_t t = 0; t < p->n_cases; t++) {
				struct matrix_cell *cell = &p->cells[k++];
				struct pfs_config *cfg = NULL;
				struct cfg_report rep;
				int r;

				cell->server = p->servers[s];
				cell->client = p->clients[c];
				cell->testcase = p->cases[t];
				cell->test = pfs_strdup_printf("%s.%s.%s.%s", p->name, cell->server, cell->client,
							       tc_name((enum tc_id)cell->testcase));
				cell->config = cell_config(p, root, cell->server, cell->client, cell->testcase);
				p->n_cells = k;
				if (!cell->test || !cell->config) {
					m->oom = true;
					return;
				}
				cell->config_len = strlen(cell->config);
				if (!pfs_name_valid(cell->test)) {
					say(m, M_ERR, json_object_get(root, "clients"), cell->client, true, "",
					    "the cell test \"%s\" would be longer than 64 characters: shorten the "
					    "matrix's name or its servers', clients' names", cell->test);
					continue;
				}
				r = config_load(cat, "cell", cell->config, cell->config_len, &cfg, &rep);
				for (size_t i = 0; i < rep.n_errors; i++)
					cell_line(m, M_ERR, root, cell->server, cell->client, rep.errors[i]);
				for (size_t i = 0; i < rep.n_warnings; i++)
					cell_line(m, M_WARN, root, cell->server, cell->client, rep.warnings[i]);
				if (r == 0 && cfg->unsupported) {
					cell->unsupported = true;
					unsupported++;
					push(m, M_NOTE, pfs_strdup_printf("cell %s: unsupported: %s", cell->test,
									  cfg->unsupported));
				}
				config_free(cfg);
				cfg_report_release(&rep);
			}
	push(m, M_NOTE, pfs_strdup_printf("matrix %s: %zu cells (%zu server%s x %zu client%s x %zu test case%s), "
					  "%zu unsupported, run %ld at a time", p->name, p->n_cells, p->n_servers,
					  p->n_servers == 1 ? "" : "s", p->n_clients, p->n_clients == 1 ? "" : "s",
					  p->n_cases, p->n_cases == 1 ? "" : "s", unsupported, p->parallel));
}

static long number(struct mctx *m, json_t *root, const char *key, long dflt, long max)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return dflt;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max) {
		say(m, M_ERR, root, key, false, key, "must be a whole number from 1 to %ld", max);
		return dflt;
	}
	return (long)json_integer_value(v);
}

int matrix_load(const struct catalog *cat, const char *name, const char *file, const char *data, size_t len,
		struct matrix_plan **out, struct cfg_report *rep)
{
	static const char *const keys[] = { "servers", "clients", "testcases", "timeout", "parallel", "description",
					    NULL };
	struct mctx m = { .file = file };
	struct matrix_plan *p = NULL;
	struct pfs_err perr = { 0 };
	json_t *root, *v, *tcs;
	const char *k;
	int r = -EINVAL;

	memset(rep, 0, sizeof(*rep));
	if (len > CONFIG_MAX_BYTES) {
		push(&m, M_ERR, pfs_strdup_printf("%s: larger than 1 MiB", file));
		r = -EFBIG;
		goto out;
	}
	if (ydoc_parse(file, data, len, &m.doc, &perr) < 0) {
		push(&m, M_ERR, strdup(perr.msg));
		goto out;
	}
	root = ydoc_root(m.doc);
	if (!json_is_object(root)) {
		say(&m, M_ERR, root, NULL, false, "", "a matrix is a mapping (servers, clients, testcases, ...), not %s",
		    type_name(root));
		goto out;
	}
	json_object_foreach(root, k, v) {
		bool known = false;

		for (size_t i = 0; keys[i]; i++)
			known |= !strcmp(k, keys[i]);
		if (!known)
			say(&m, M_ERR, root, k, true, k, "unknown key (known here: servers, clients, testcases, timeout, "
			    "parallel, description)");
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->name = strdup(name))) {
		m.oom = true;
		goto out;
	}
	v = json_object_get(root, "description");
	if (v && !json_is_string(v))
		say(&m, M_ERR, root, "description", false, "description", "must be text");
	else if (v && !(p->description = strdup(json_string_value(v))))
		m.oom = true;
	p->servers = entries(&m, root, "servers", &p->n_servers);
	p->clients = entries(&m, root, "clients", &p->n_clients);
	tcs = json_object_get(root, "testcases");
	if (!tcs) {
		for (int i = 0; i < TC_COUNT; i++)
			p->cases[p->n_cases++] = i;
	} else if (!json_is_array(tcs) || json_array_size(tcs) == 0 || json_array_size(tcs) > TC_COUNT) {
		say(&m, M_ERR, root, "testcases", false, "testcases", "must list test cases (%s)", tc_names());
	} else {
		size_t i;

		json_array_foreach(tcs, i, v) {
			int id = tc_parse(json_string_value(v));
			struct ydoc_pos pos = ydoc_item_pos(m.doc, tcs, i);
			bool twice = false;

			for (size_t j = 0; j < p->n_cases; j++)
				twice |= p->cases[j] == id;
			if (id < 0 || twice)
				push(&m, M_ERR, pfs_strdup_printf("%s:%d:%d: testcases[%zu]: %s%s%s", file, pos.line, pos.col,
								  i, id < 0 ? "not a test case (known: " : "listed twice",
								  id < 0 ? tc_names() : "", id < 0 ? ")" : ""));
			else
				p->cases[p->n_cases++] = id;
		}
	}
	p->timeout_s = number(&m, root, "timeout", MATRIX_DEFAULT_TIMEOUT, MAX_TIMEOUT);
	p->parallel = number(&m, root, "parallel", 1, MATRIX_MAX_PARALLEL);
	if (m.n[M_ERR] || m.oom)
		goto out;
	plan_cells(&m, cat, root, p);
	if (m.n[M_ERR] || m.oom)
		goto out;
	r = 0;
out:
	ydoc_free(m.doc);
	if (r < 0 || m.n[M_ERR] || m.oom) {
		matrix_plan_free(p);
		report(&m, rep);
		return r == -EFBIG ? r : -EINVAL;
	}
	report(&m, rep);
	*out = p;
	return 0;
}

void matrix_plan_free(struct matrix_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_cells; i++) {
		free(p->cells[i].test);
		free(p->cells[i].config);
	}
	free(p->cells);
	pfs_strv_free(p->servers);
	pfs_strv_free(p->clients);
	free(p->name);
	free(p->description);
	free(p);
}

/* ---- tables ---------------------------------------------------------------------------------------------- */

void matrix_state_word(const struct matrix_state *st, char *out, size_t n)
{
	const char *s = st && st->status ? st->status : "queued";

	snprintf(out, n, "%.*s", (int)strcspn(s, " :"), s);
}

/* A TSV field: tab, newline, CR and backslash escaped; other controls \xNN. */
static int tsv_field(struct pfs_buf *out, const char *s)
{
	int r = 0;

	for (; s && *s && r == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\t')
			r = pfs_buf_add(out, "\\t", 2);
		else if (c == '\n')
			r = pfs_buf_add(out, "\\n", 2);
		else if (c == '\r')
			r = pfs_buf_add(out, "\\r", 2);
		else if (c == '\\')
			r = pfs_buf_add(out, "\\\\", 2);
		else if (c < 0x20 || c == 0x7f)
			r = pfs_buf_printf(out, "\\x%02x", c);
		else
			r = pfs_buf_add(out, s, 1);
	}
	return r;
}

int matrix_tsv(const struct matrix_plan *p, const struct matrix_state *st, struct pfs_buf *out)
{
	int r = pfs_buf_printf(out, "server\tclient\ttestcase\ttest\trun\tverdict\treason\n");

	for (size_t i = 0; r == 0 && i < p->n_cells; i++) {
		const struct matrix_cell *c = &p->cells[i];
		const char *reason = st[i].status ? st[i].status + strcspn(st[i].status, " ") : "";
		char word[32];

		while (*reason == ' ')
			reason++;
		matrix_state_word(&st[i], word, sizeof(word));
		r = pfs_buf_printf(out, "%s\t%s\t%s\t%s\t", c->server, c->client, tc_name((enum tc_id)c->testcase), c->test);
		if (r == 0 && st[i].run > 0)
			r = pfs_buf_printf(out, "%d", st[i].run);
		if (r == 0)
			r = pfs_buf_printf(out, "\t%s\t", word);
		if (r == 0)
			r = tsv_field(out, reason);
		if (r == 0)
			r = pfs_buf_add(out, "\n", 1);
	}
	return r;
}

static int pad(struct pfs_buf *out, const char *s, size_t width, bool last)
{
	size_t n = strlen(s);
	int r = pfs_buf_add(out, s, n);

	while (r == 0 && !last && n++ < width + 2)
		r = pfs_buf_add(out, " ", 1);
	return r;
}

int matrix_table(const struct matrix_plan *p, const struct matrix_state *st, struct pfs_buf *out)
{
	size_t ws = strlen("server"), wc = strlen("client"), wt[16], counts[8] = { 0 };
	static const char *const kinds[] = { "succeeded", "failed", "unsupported", "error", "stopped", "queued" };
	size_t other = 0;
	char word[32];
	int r;

	for (size_t i = 0; i < p->n_servers; i++)
		ws = PFS_MAX(ws, strlen(p->servers[i]));
	for (size_t i = 0; i < p->n_clients; i++)
		wc = PFS_MAX(wc, strlen(p->clients[i]));
	for (size_t t = 0; t < p->n_cases; t++)
		wt[t] = strlen(tc_name((enum tc_id)p->cases[t]));
	for (size_t i = 0; i < p->n_cells; i++) {
		size_t t = i % p->n_cases, k;

		matrix_state_word(&st[i], word, sizeof(word));
		wt[t] = PFS_MAX(wt[t], strlen(word));
		for (k = 0; k < PFS_ARRAY_SIZE(kinds) && strcmp(kinds[k], word); k++)
			;
		if (k < PFS_ARRAY_SIZE(kinds))
			counts[k]++;
		else
			other++;
	}
	r = pfs_buf_printf(out, "matrix %s: %zu server%s x %zu client%s x %zu test case%s\n", p->name, p->n_servers,
			   p->n_servers == 1 ? "" : "s", p->n_clients, p->n_clients == 1 ? "" : "s", p->n_cases,
			   p->n_cases == 1 ? "" : "s");
	if (r == 0 && p->description)
		r = pfs_buf_printf(out, "%s\n", p->description);
	if (r == 0)
		r = pfs_buf_add(out, "\n", 1);
	if (r == 0)
		r = pad(out, "server", ws, false);
	if (r == 0)
		r = pad(out, "client", wc, false);
	for (size_t t = 0; r == 0 && t < p->n_cases; t++)
		r = pad(out, tc_name((enum tc_id)p->cases[t]), wt[t], t + 1 == p->n_cases);
	if (r == 0)
		r = pfs_buf_add(out, "\n", 1);
	for (size_t i = 0; r == 0 && i < p->n_cells; i += p->n_cases) {
		r = pad(out, p->cells[i].server, ws, false);
		if (r == 0)
			r = pad(out, p->cells[i].client, wc, false);
		for (size_t t = 0; r == 0 && t < p->n_cases; t++) {
			matrix_state_word(&st[i + t], word, sizeof(word));
			r = pad(out, word, wt[t], t + 1 == p->n_cases);
		}
		if (r == 0)
			r = pfs_buf_add(out, "\n", 1);
	}
	if (r == 0)
		r = pfs_buf_printf(out, "\n%zu cell%s:", p->n_cells, p->n_cells == 1 ? "" : "s");
	for (size_t k = 0, first = 1; r == 0 && k < PFS_ARRAY_SIZE(kinds); k++)
		if (counts[k]) {
			r = pfs_buf_printf(out, "%s %zu %s", first ? "" : ",", counts[k], kinds[k]);
			first = 0;
		}
	if (r == 0 && other)
		r = pfs_buf_printf(out, "%s %zu running", counts[0] + counts[1] + counts[2] + counts[3] + counts[4] +
				   counts[5] ? "," : "", other);
	if (r == 0)
		r = pfs_buf_add(out, "\n", 1);
	return r;
}
