/* SPDX-License-Identifier: MIT */
/*
 * Summaries: a test's result.json objects as rows, configurations and
 * aggregates, written as TSV and JSON (the picture is plot.c's).
 *
 * Built in three passes over the runs (sorted by run number): the columns
 * (services, metrics, settings that vary), the rows' values, then per
 * configuration the statistics. Every order is fixed by the input (first
 * appearance in run order), never by a hash, so the same runs give the
 * same bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results_internal.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static const char *const stat_names[ST_N] = { "min", "median", "mean", "max", "stddev" };

void results_fmt_number(double v, char *out, size_t n)
{
	if (v == 0)
		v = 0; /* -0 */
	snprintf(out, n, "%.15g", v);
}

char *results_setting_text(const json_t *v)
{
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	char num[64];
	size_t i;
	json_t *it;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		return pfs_strdup_printf("%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		results_fmt_number(json_real_value(v), num, sizeof(num));
		return strdup(num);
	case JSON_TRUE:
		return strdup("true");
	case JSON_FALSE:
		return strdup("false");
	case JSON_NULL:
		return strdup("null");
	case JSON_ARRAY:
		json_array_foreach(v, i, it) {
			char *t = results_setting_text(it);

			if (!t || pfs_buf_printf(&b, "%s%s", i ? "," : "", t) < 0) {
				free(t);
				pfs_buf_release(&b);
				return NULL;
			}
			free(t);
		}
		return pfs_buf_steal(&b, NULL);
	case JSON_OBJECT:
	default: {
		char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

		return t;
	}
	}
}

/* ---- building --------------------------------------------------------------------------------- */

static ssize_t find_str(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return (ssize_t)i;
	return -1;
}

static int push_str(char ***v, size_t *n, const char *s)
{
	char **nv;

	if (find_str(*v, *n, s) >= 0)
		return 0;
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static ssize_t find_mcol(const struct summary *s, const char *key)
{
	for (size_t i = 0; i < s->n_m; i++)
		if (!strcmp(s->m[i].key, key))
			return (ssize_t)i;
	return -1;
}

static int add_mcol(struct summary *s, const char *svc, const char *metric, const char *unit)
{
	char *key = pfs_strdup_printf("%s.%s", svc, metric);
	struct mcol *nm;

	if (!key)
		return -ENOMEM;
	if (find_mcol(s, key) >= 0) {
		free(key);
		return 0;
	}
	nm = realloc(s->m, (s->n_m + 1) * sizeof(*s->m));
	if (!nm) {
		free(key);
		return -ENOMEM;
	}
	s->m = nm;
	nm[s->n_m] = (struct mcol){ key, strdup(svc), strdup(metric), strdup(unit ? unit : "") };
	s->n_m++;
	return nm[s->n_m - 1].service && nm[s->n_m - 1].metric && nm[s->n_m - 1].unit ? 0 : -ENOMEM;
}

struct ent {
	json_t *res;
	int run;
	size_t input;
};

static int cmp_ent(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	return x->run < y->run ? -1 : x->run > y->run;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static bool is_impl_or_version(const struct summary *s, const char *key)
{
	for (size_t i = 0; i < s->n_svc; i++) {
		size_t l = strlen(s->svc[i]);

		if (!strncmp(key, s->svc[i], l) && key[l] == '.' &&
		    (!strcmp(key + l + 1, "implementation") || !strcmp(key + l + 1, "version")))
			return true;
	}
	return false;
}

/* The identity of a run's configuration: its settings and its services' implementations and versions. */
static char *config_key(const struct srow *r)
{
	json_t *k = json_pack("{s:O,s:O}", "settings", r->settings, "services", r->services);
	char *t = k ? json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(k);
	return t;
}

static int compute_stats(struct summary *s)
{
	double *vals = malloc((s->n_rows + 1) * sizeof(*vals));

	if (!vals)
		return -ENOMEM;
	for (size_t c = 0; c < s->n_conf; c++) {
		struct sconf *cf = &s->conf[c];

		cf->n_vals = calloc(s->n_m + 1, sizeof(*cf->n_vals));
		cf->stat = calloc(s->n_m + 1, sizeof(*cf->stat));
		cf->has_stat = calloc(s->n_m + 1, sizeof(*cf->has_stat));
		if (!cf->n_vals || !cf->stat || !cf->has_stat) {
			free(vals);
			return -ENOMEM;
		}
		for (size_t m = 0; m < s->n_m; m++) {
			size_t n = 0;
			long double sum = 0, sq = 0, mean;

			for (size_t i = 0; i < s->n_rows; i++)
				if (s->rows[i].config == cf->id && s->rows[i].has[m])
					vals[n++] = s->rows[i].val[m];
			cf->n_vals[m] = n;
			if (!n)
				continue;
			qsort(vals, n, sizeof(*vals), cmp_double);
			for (size_t i = 0; i < n; i++)
				sum += vals[i];
			mean = sum / (long double)n;
			for (size_t i = 0; i < n; i++)
				sq += (vals[i] - mean) * (vals[i] - mean);
			cf->stat[m][ST_MIN] = vals[0];
			cf->stat[m][ST_MAX] = vals[n - 1];
			cf->stat[m][ST_MEDIAN] = n % 2 ? vals[n / 2] : (vals[n / 2 - 1] + vals[n / 2]) / 2;
			cf->stat[m][ST_MEAN] = (double)mean;
			for (int k = ST_MIN; k <= ST_MAX; k++)
				cf->has_stat[m][k] = true;
			if (n >= 2) {
				cf->stat[m][ST_STDDEV] = (double)sqrtl(sq / (long double)(n - 1));
				cf->has_stat[m][ST_STDDEV] = true;
			}
		}
	}
	free(vals);
	return 0;
}

static int fill_row(struct summary *s, struct srow *row, json_t *res)
{
	json_t *set = json_object_get(res, "settings"), *svcs = json_object_get(res, "services"), *it;
	const char *k, *t = json_string_value(json_object_get(res, "time"));
	const char *v = json_string_value(json_object_get(res, "verdict"));

	row->iteration = json_is_integer(json_object_get(res, "iteration")) ?
			 (int)json_integer_value(json_object_get(res, "iteration")) : 1;
	row->iterations = json_is_integer(json_object_get(res, "iterations")) ?
			  (int)json_integer_value(json_object_get(res, "iterations")) : 1;
	row->time = strdup(t ? t : "");
	row->verdict = strdup(v ? v : "");
	row->settings = json_object();
	row->services = json_object();
	if (!row->time || !row->verdict || !row->settings || !row->services)
		return -ENOMEM;
	json_object_foreach(json_is_object(set) ? set : NULL, k, it) {
		char *txt = results_setting_text(it);

		if (!txt || json_object_set_new(row->settings, k, json_string(txt)) < 0) {
			free(txt);
			return -ENOMEM;
		}
		free(txt);
	}
	json_object_foreach(json_is_object(svcs) ? svcs : NULL, k, it) {
		const char *im = json_string_value(json_object_get(it, "implementation"));
		const char *ve = json_string_value(json_object_get(it, "version"));

		if (json_object_set_new(row->services, k, json_pack("{s:s,s:s}", "implementation", im ? im : "",
								     "version", ve ? ve : "")) < 0 ||
		    push_str(&s->svc, &s->n_svc, k) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int fill_metrics(struct summary *s, struct srow *row, json_t *res)
{
	json_t *svcs = json_object_get(res, "services"), *it, *m;
	const char *k, *mk;

	row->val = calloc(s->n_m + 1, sizeof(*row->val));
	row->has = calloc(s->n_m + 1, sizeof(*row->has));
	if (!row->val || !row->has)
		return -ENOMEM;
	json_object_foreach(json_is_object(svcs) ? svcs : NULL, k, it)
		json_object_foreach(json_object_get(it, "metrics"), mk, m) {
			char key[300];
			json_t *val = json_object_get(m, "value");
			ssize_t c;

			snprintf(key, sizeof(key), "%s.%s", k, mk);
			c = find_mcol(s, key);
			if (c >= 0 && json_is_number(val) && isfinite(json_number_value(val))) {
				row->val[c] = json_number_value(val);
				row->has[c] = true;
			}
		}
	return 0;
}

int summary_build(const char *test, json_t *const *results, size_t n, struct summary **out, struct pfs_err *err)
{
	struct summary *s = calloc(1, sizeof(*s));
	struct ent *e = NULL;
	json_t *ids = json_object();   /* configuration key -> id: a hash, for 10^5 runs */
	char **allset = NULL;
	size_t n_allset = 0;
	int r = -ENOMEM;

	if (!s)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	if (n > RESULTS_MAX_RUNS) {
		r = pfs_err_set(err, -E2BIG, "%zu runs: a summary takes at most %d", n, RESULTS_MAX_RUNS);
		goto out;
	}
	s->test = strdup(test ? test : "");
	e = calloc(n + 1, sizeof(*e));
	s->rows = calloc(n + 1, sizeof(*s->rows));
	s->conf = calloc(n + 1, sizeof(*s->conf));
	if (!s->test || !e || !s->rows || !s->conf || !ids)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		json_t *run = json_object_get(results[i], "run");

		if (!json_is_object(results[i]) || !json_is_integer(run) || json_integer_value(run) < 0 ||
		    json_integer_value(run) > 1000000000) {
			r = pfs_err_set(err, -EINVAL, "result %zu: not a result.json object with a run number", i);
			goto out;
		}
		e[i] = (struct ent){ results[i], (int)json_integer_value(run), i };
	}
	qsort(e, n, sizeof(*e), cmp_ent);
	for (size_t i = 1; i < n; i++)
		if (e[i].run == e[i - 1].run) {
			r = pfs_err_set(err, -EINVAL, "run %d: two results (entries %zu and %zu)", e[i].run,
					PFS_MIN(e[i - 1].input, e[i].input), PFS_MAX(e[i - 1].input, e[i].input));
			goto out;
		}

	/* pass 1: rows, services, metric columns, configurations */
	for (size_t i = 0; i < n; i++) {
		struct srow *row = &s->rows[s->n_rows++];
		json_t *svcs = json_object_get(e[i].res, "services"), *it, *m;
		const char *k, *mk;
		json_int_t id;
		char *ck;

		row->run = e[i].run;
		if (fill_row(s, row, e[i].res) < 0)
			goto oom;
		json_object_foreach(json_is_object(svcs) ? svcs : NULL, k, it)
			json_object_foreach(json_object_get(it, "metrics"), mk, m)
				if (add_mcol(s, k, mk, json_string_value(json_object_get(m, "unit"))) < 0)
					goto oom;
		{
			const char *sk;
			json_t *sv;

			json_object_foreach(row->settings, sk, sv)
				if (push_str(&allset, &n_allset, sk) < 0)
					goto oom;
		}
		ck = config_key(row);
		if (!ck)
			goto oom;
		id = json_integer_value(json_object_get(ids, ck));
		if (!id) {
			struct sconf *cf = &s->conf[s->n_conf++];

			cf->id = (int)s->n_conf;
			cf->first = i;
			id = cf->id;
			if (json_object_set_new(ids, ck, json_integer(id)) < 0) {
				free(ck);
				goto oom;
			}
		}
		free(ck);
		row->config = (int)id;
		s->conf[row->config - 1].n_runs++;
		s->conf[row->config - 1].n_passed += !strcmp(row->verdict, "succeeded");
	}
	/* pass 2: values, now that every metric column is known */
	for (size_t i = 0; i < n; i++)
		if (fill_metrics(s, &s->rows[i], e[i].res) < 0)
			goto oom;
	/* settings that vary between runs */
	for (size_t k = 0; k < n_allset; k++) {
		const char *first = NULL;
		bool varies = false;

		if (is_impl_or_version(s, allset[k]))
			continue;
		for (size_t i = 0; i < n && !varies; i++) {
			const char *v = json_string_value(json_object_get(s->rows[i].settings, allset[k]));

			if (i == 0)
				first = v;
			else
				varies = (!v != !first) || (v && strcmp(v, first));
		}
		if (varies && push_str(&s->set, &s->n_set, allset[k]) < 0)
			goto oom;
	}
	if (compute_stats(s) < 0)
		goto oom;
	r = 0;
	goto out;
oom:
	r = pfs_err_set(err, -ENOMEM, "out of memory");
out:
	json_decref(ids);
	for (size_t i = 0; i < n_allset; i++)
		free(allset[i]);
	free(allset);
	free(e);
	if (r < 0) {
		summary_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void summary_free(struct summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_rows; i++) {
		free(s->rows[i].time);
		free(s->rows[i].verdict);
		json_decref(s->rows[i].settings);
		json_decref(s->rows[i].services);
		free(s->rows[i].val);
		free(s->rows[i].has);
	}
	free(s->rows);
	for (size_t i = 0; i < s->n_svc; i++)
		free(s->svc[i]);
	free(s->svc);
	for (size_t i = 0; i < s->n_set; i++)
		free(s->set[i]);
	free(s->set);
	for (size_t i = 0; i < s->n_m; i++) {
		free(s->m[i].key);
		free(s->m[i].service);
		free(s->m[i].metric);
		free(s->m[i].unit);
	}
	free(s->m);
	for (size_t i = 0; s->conf && i < s->n_conf; i++) {
		free(s->conf[i].n_vals);
		free(s->conf[i].stat);
		free(s->conf[i].has_stat);
	}
	free(s->conf);
	free(s->test);
	free(s);
}

size_t summary_n_runs(const struct summary *s) { return s->n_rows; }
size_t summary_n_configs(const struct summary *s) { return s->n_conf; }

/* ---- TSV -------------------------------------------------------------------------------------- */

/* One field: never a raw control character (C0, DEL, C1), never a raw tab or newline. */
static int tsv_field(struct pfs_buf *b, const char *s)
{
	int r = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && r == 0; p++) {
		if (*p == '\t')
			r = pfs_buf_addstr(b, "\\t");
		else if (*p == '\n')
			r = pfs_buf_addstr(b, "\\n");
		else if (*p == '\r')
			r = pfs_buf_addstr(b, "\\r");
		else if (*p == '\\')
			r = pfs_buf_addstr(b, "\\\\");
		else if (*p < 0x20 || *p == 0x7f)
			r = pfs_buf_printf(b, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			r = pfs_buf_printf(b, "\\u%04x", p[1]), p++;
		else
			r = pfs_buf_addc(b, (char)*p);
	}
	return r;
}

static int tsv_num(struct pfs_buf *b, double v)
{
	char num[64];

	results_fmt_number(v, num, sizeof(num));
	return pfs_buf_addstr(b, num);
}

static const char *svc_field(const json_t *services, const char *svc, const char *what)
{
	return json_string_value(json_object_get(json_object_get(services, svc), what)) ?: "";
}

/* The columns every row has before verdict: services and varied settings. */
static int tsv_config_cols(const struct summary *s, struct pfs_buf *b, const struct srow *row)
{
	int r = 0;

	for (size_t i = 0; i < s->n_svc && r == 0; i++) {
		r = pfs_buf_addc(b, '\t');
		if (r == 0)
			r = tsv_field(b, svc_field(row->services, s->svc[i], "implementation"));
		if (r == 0)
			r = pfs_buf_addc(b, '\t');
		if (r == 0)
			r = tsv_field(b, svc_field(row->services, s->svc[i], "version"));
	}
	for (size_t i = 0; i < s->n_set && r == 0; i++) {
		r = pfs_buf_addc(b, '\t');
		if (r == 0)
			r = tsv_field(b, json_string_value(json_object_get(row->settings, s->set[i])) ?: "");
	}
	return r;
}

int summary_tsv(const struct summary *s, struct pfs_buf *b)
{
	int r = pfs_buf_addstr(b, "kind\trun\titeration\ttime\tconfig");

	for (size_t i = 0; i < s->n_svc && r == 0; i++) {
		r = pfs_buf_addc(b, '\t');
		if (r == 0)
			r = tsv_field(b, s->svc[i]);
		if (r == 0)
			r = pfs_buf_addstr(b, ".implementation\t");
		if (r == 0)
			r = tsv_field(b, s->svc[i]);
		if (r == 0)
			r = pfs_buf_addstr(b, ".version");
	}
	for (size_t i = 0; i < s->n_set && r == 0; i++) {
		r = pfs_buf_addc(b, '\t');
		if (r == 0)
			r = tsv_field(b, s->set[i]);
	}
	if (r == 0)
		r = pfs_buf_addstr(b, "\tverdict");
	for (size_t m = 0; m < s->n_m && r == 0; m++) {
		r = pfs_buf_addc(b, '\t');
		if (r == 0)
			r = tsv_field(b, s->m[m].key);
		if (r == 0 && s->m[m].unit[0]) {
			r = pfs_buf_addc(b, '[');
			if (r == 0)
				r = tsv_field(b, s->m[m].unit);
			if (r == 0)
				r = pfs_buf_addc(b, ']');
		}
	}
	if (r == 0)
		r = pfs_buf_addc(b, '\n');

	for (size_t i = 0; i < s->n_rows && r == 0; i++) {
		const struct srow *row = &s->rows[i];

		r = pfs_buf_printf(b, "run\t%d\t%d/%d\t", row->run, row->iteration, row->iterations);
		if (r == 0)
			r = tsv_field(b, row->time);
		if (r == 0)
			r = pfs_buf_printf(b, "\t%d", row->config);
		if (r == 0)
			r = tsv_config_cols(s, b, row);
		if (r == 0)
			r = pfs_buf_addc(b, '\t');
		if (r == 0)
			r = tsv_field(b, row->verdict);
		for (size_t m = 0; m < s->n_m && r == 0; m++) {
			r = pfs_buf_addc(b, '\t');
			if (r == 0 && row->has[m])
				r = tsv_num(b, row->val[m]);
		}
		if (r == 0)
			r = pfs_buf_addc(b, '\n');
	}

	for (size_t c = 0; c < s->n_conf && r == 0; c++) {
		const struct sconf *cf = &s->conf[c];
		const struct srow *first = &s->rows[cf->first];

		for (int k = -2; k < ST_N && r == 0; k++) {
			/* -2: count, -1: pass_rate, then the statistics */
			r = pfs_buf_printf(b, "%s\t\t\t\t%d", k == -2 ? "count" : k == -1 ? "pass_rate" : stat_names[k],
					   cf->id);
			if (r == 0)
				r = tsv_config_cols(s, b, first);
			if (r == 0)
				r = pfs_buf_addc(b, '\t');
			if (r == 0 && k == -2)
				r = pfs_buf_printf(b, "%zu", cf->n_runs);
			if (r == 0 && k == -1)
				r = tsv_num(b, (double)cf->n_passed / (double)cf->n_runs);
			for (size_t m = 0; m < s->n_m && r == 0; m++) {
				r = pfs_buf_addc(b, '\t');
				if (r == 0 && k == -2)
					r = pfs_buf_printf(b, "%zu", cf->n_vals[m]);
				else if (r == 0 && k >= 0 && cf->has_stat[m][k])
					r = tsv_num(b, cf->stat[m][k]);
			}
			if (r == 0)
				r = pfs_buf_addc(b, '\n');
		}
	}
	return r;
}

/* ---- JSON ------------------------------------------------------------------------------------- */

static json_t *num_json(double v)
{
	if (v == floor(v) && fabs(v) <= 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static json_t *varied(const struct summary *s, const json_t *settings)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < s->n_set; i++) {
		json_t *v = json_object_get(settings, s->set[i]);

		json_object_set(o, s->set[i], v ? v : json_null());
	}
	return o;
}

json_t *summary_json(const struct summary *s)
{
	json_t *root = json_object(), *cols = json_object(), *svcs = json_array(), *set = json_array();
	json_t *mc = json_array(), *runs = json_array(), *confs = json_array();
	bool ok = root && cols && svcs && set && mc && runs && confs;

	for (size_t i = 0; ok && i < s->n_svc; i++)
		ok = json_array_append_new(svcs, json_string(s->svc[i])) == 0;
	for (size_t i = 0; ok && i < s->n_set; i++)
		ok = json_array_append_new(set, json_string(s->set[i])) == 0;
	for (size_t m = 0; ok && m < s->n_m; m++)
		ok = json_array_append_new(mc, json_pack("{s:s,s:s,s:s,s:s}", "key", s->m[m].key, "service",
							 s->m[m].service, "metric", s->m[m].metric, "unit",
							 s->m[m].unit)) == 0;
	for (size_t i = 0; ok && i < s->n_rows; i++) {
		const struct srow *row = &s->rows[i];
		json_t *met = json_object();

		for (size_t m = 0; met && m < s->n_m; m++)
			json_object_set_new(met, s->m[m].key, row->has[m] ? num_json(row->val[m]) : json_null());
		ok = met && json_array_append_new(runs, json_pack("{s:i,s:i,s:i,s:s,s:i,s:s,s:O,s:o,s:o}", "run",
								   row->run, "iteration", row->iteration,
								   "iterations", row->iterations, "time", row->time,
								   "config", row->config, "verdict", row->verdict,
								   "services", row->services, "settings",
								   varied(s, row->settings), "metrics", met)) == 0;
	}
	for (size_t c = 0; ok && c < s->n_conf; c++) {
		const struct sconf *cf = &s->conf[c];
		const struct srow *first = &s->rows[cf->first];
		json_t *met = json_object();

		for (size_t m = 0; met && m < s->n_m; m++) {
			json_t *o = json_pack("{s:s,s:I}", "unit", s->m[m].unit, "count", (json_int_t)cf->n_vals[m]);

			for (int k = 0; o && k < ST_N; k++)
				json_object_set_new(o, stat_names[k],
						    cf->has_stat[m][k] ? num_json(cf->stat[m][k]) : json_null());
			json_object_set_new(met, s->m[m].key, o);
		}
		ok = met && json_array_append_new(confs, json_pack("{s:i,s:O,s:O,s:o,s:I,s:I,s:o,s:o}", "config",
								    cf->id, "services", first->services, "settings",
								    first->settings, "varied", varied(s, first->settings),
								    "runs", (json_int_t)cf->n_runs, "passed",
								    (json_int_t)cf->n_passed, "pass_rate",
								    num_json((double)cf->n_passed / (double)cf->n_runs),
								    "metrics", met)) == 0;
	}
	if (ok)
		ok = json_object_set_new(cols, "services", svcs) == 0 && json_object_set_new(cols, "settings", set) == 0 &&
		     json_object_set_new(cols, "metrics", mc) == 0;
	else {
		json_decref(svcs);
		json_decref(set);
		json_decref(mc);
	}
	svcs = set = mc = NULL;
	if (ok)
		ok = json_object_set_new(root, "test", json_string(s->test)) == 0 &&
		     json_object_set_new(root, "columns", cols) == 0 && json_object_set_new(root, "runs", runs) == 0 &&
		     json_object_set_new(root, "configs", confs) == 0;
	else {
		json_decref(cols);
		json_decref(runs);
		json_decref(confs);
	}
	if (!ok) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/* ---- the root's summary --------------------------------------------------------------------- */

static int cmp_test(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "test")) ?: "";
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "test")) ?: "";

	return strcmp(x, y);
}

int summary_root_tsv(json_t *const *last, size_t n, struct pfs_buf *b)
{
	json_t **v = calloc(n + 1, sizeof(*v));
	size_t k = 0;
	int r;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (json_is_object(last[i]))
			v[k++] = last[i];
	qsort(v, k, sizeof(*v), cmp_test);
	r = pfs_buf_addstr(b, "test\trun\titeration\ttime\tverdict\treason\tservices\tmetrics\n");
	for (size_t i = 0; i < k && r == 0; i++) {
		json_t *res = v[i], *svcs = json_object_get(res, "services"), *it, *m;
		struct pfs_buf f = PFS_BUF_INIT(1u << 20);
		const char *name, *mk;
		bool first = true;

		r = tsv_field(b, json_string_value(json_object_get(res, "test")) ?: "");
		if (r == 0)
			r = pfs_buf_printf(b, "\t%lld\t%lld/%lld\t", (long long)json_integer_value(json_object_get(res, "run")),
					   json_is_integer(json_object_get(res, "iteration")) ?
					   (long long)json_integer_value(json_object_get(res, "iteration")) : 1LL,
					   json_is_integer(json_object_get(res, "iterations")) ?
					   (long long)json_integer_value(json_object_get(res, "iterations")) : 1LL);
		for (const char *const *key = (const char *const[]){ "time", "verdict", "reason", NULL }; *key && r == 0;
		     key++) {
			r = tsv_field(b, json_string_value(json_object_get(res, *key)) ?: "");
			if (r == 0)
				r = pfs_buf_addc(b, '\t');
		}
		json_object_foreach(json_is_object(svcs) ? svcs : NULL, name, it)
			if (r == 0)
				r = pfs_buf_printf(&f, "%s%s=%s/%s", f.len ? ", " : "", name,
						   json_string_value(json_object_get(it, "implementation")) ?: "",
						   json_string_value(json_object_get(it, "version")) ?: "");
		if (r == 0)
			r = tsv_field(b, pfs_buf_str(&f));
		pfs_buf_reset(&f);
		if (r == 0)
			r = pfs_buf_addc(b, '\t');
		json_object_foreach(json_is_object(svcs) ? svcs : NULL, name, it)
			json_object_foreach(json_object_get(it, "metrics"), mk, m) {
				json_t *val = json_object_get(m, "value");
				char num[64];

				if (r < 0 || !json_is_number(val))
					continue;
				results_fmt_number(json_number_value(val), num, sizeof(num));
				r = pfs_buf_printf(&f, "%s%s.%s=%s%s%s", first ? "" : ", ", name, mk, num,
						   json_string_value(json_object_get(m, "unit")) ? " " : "",
						   json_string_value(json_object_get(m, "unit")) ?: "");
				first = false;
			}
		if (r == 0)
			r = tsv_field(b, pfs_buf_str(&f));
		if (r == 0)
			r = pfs_buf_addc(b, '\n');
		pfs_buf_release(&f);
	}
	free(v);
	return r;
}
