/* SPDX-License-Identifier: MIT */
/*
 * Results as the mount shows them: result.json (a run's, and the current
 * run's beside status), a test's summary.tsv, summary.json and
 * summary.svg, and the root's summary.tsv, all kept in memory. src/results/
 * makes them from run dirs and result.json objects; this file decides when
 * and on which thread, and serves them.
 *
 *  - A run's final result.json is read from its run dir on its driver's
 *    thread once the run has ended and its log streams are done, before
 *    the driver lets go of the run (results_run_ended): whoever saw
 *    events.follow end, or the next iteration begin, reads the final one.
 *  - Everything else is the worker's, one thread:
 *      the current runs' result.json while they go on, read again when the
 *      run wrote something (events, logs, its state), at most every
 *      LIVE_MIN_MS and never sooner than LIVE_COST_FACTOR times what the
 *      last read took (a long log costs its reading, not the run);
 *      a test's summaries when its results changed (libplot draws on this
 *      thread alone);
 *      the root's summary.tsv, each test's last ended run;
 *      after a restart, the result.json of every ended run: only the run
 *      dirs are kept, and results_from_run_dir gives the same bytes from
 *      them.
 *  - Nothing is built in a FUSE callback: until a file has been built once
 *    it reads EAGAIN; afterwards readers get the last one built. A
 *    summary waits until every ended run of its test has its result, so
 *    it is never partial.
 *  - Memory: per run its result (the JSON tree and its text, a few KB),
 *    per test its three summaries, and the root's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"
#include "pantherfs/log.h"
#include "pantherfs/results.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define LIVE_MIN_MS 333        /* a live result.json: at most 3 reads a second */
#define LIVE_COST_FACTOR 10    /* ... and at most a tenth of the worker's time per run */

/* ---- documents ---------------------------------------------------------------------------------- */

static void doc_set(struct res_doc *d, char *text, size_t len, const struct timespec *mtime)
{
	free(d->text);
	d->text = text;
	d->len = len;
	if (mtime)
		d->mtime = *mtime;
	else
		pfs_realtime_ts(&d->mtime);
}

static void doc_clear(struct res_doc *d)
{
	free(d->text);
	memset(d, 0, sizeof(*d));
}

/* A copy of d for engine_file_get (want_data), or its size alone; -EAGAIN until built. */
static int doc_copy(const struct res_doc *d, struct engine_file *f, bool want_data)
{
	if (!d->text)
		return -EAGAIN;
	f->len = d->len;
	f->mtime = d->mtime;
	if (!want_data)
		return 0;
	f->data = malloc(d->len + 1);
	if (!f->data)
		return -ENOMEM;
	memcpy(f->data, d->text, d->len);
	f->data[d->len] = '\0';
	return 0;
}

/* ---- one run's result.json ---------------------------------------------------------------------- */

/* Reads a run's result.json from its run dir (no lock held: it reads the logs). */
static int read_result(struct run *r, json_t **json, char **text, size_t *len, struct pfs_err *err)
{
	struct pfs_buf b = PFS_BUF_INIT(RESULTS_TEXT_CAP);
	json_t *j = NULL;
	int rc;

	rc = results_from_run_dir(r->t->x->cat, r->dir, r->t->name, r->n, &j, err);
	if (rc == 0) {
		rc = results_text(j, &b);
		if (rc < 0)
			pfs_err_set(err, rc, "cannot write result.json: %s", strerror(-rc));
	}
	if (rc < 0) {
		json_decref(j);
		pfs_buf_release(&b);
		return rc;
	}
	*json = j;
	*text = pfs_buf_steal(&b, len);
	return 0;
}

/* What the run has written so far: its events and logs only grow, and its state. t->lock held. */
static uint64_t run_sig(const struct run *r)
{
	uint64_t n = (uint64_t)r->events_size;

	for (size_t i = 0; i < r->n_svcs; i++)
		n += (uint64_t)r->svcs[i].log_size;
	return n * RS_COUNT + r->state;
}

/* Keeps a final result (or why there is none). Takes t->lock. */
static void store_final(struct run *r, int rc, json_t *json, char *text, size_t len, const struct pfs_err *err)
{
	struct test *t = r->t;
	struct timespec ended;
	bool kept = false;

	pthread_mutex_lock(&t->lock);
	if (!r->result_final) {
		kept = true;
		r->result_final = true;
		r->result_err = rc < 0 ? rc : 0;
		json_decref(r->result);
		r->result = rc == 0 ? json : NULL;
		if (rc == 0) {
			/* the moment it ended: a result read back after a restart keeps its time */
			ended.tv_sec = (time_t)(r->ended_ms / 1000);
			ended.tv_nsec = (long)(r->ended_ms % 1000) * 1000000L;
			doc_set(&r->result_doc, text, len, r->ended_ms ? &ended : NULL);
		} else {
			doc_clear(&r->result_doc);
		}
		t->results_gen++;
	}
	pthread_mutex_unlock(&t->lock);
	if (!kept) {
		json_decref(json);
		free(text);
	} else if (rc < 0 && rc != -ENOENT) {
		/* (-ENOENT: the run dir went away with its test) */
		pfs_err_log("test %s run %d: no result.json: %s", t->name, r->n, err->msg);
	}
}

static void build_final(struct run *r)
{
	struct pfs_err err = { 0 };
	json_t *json = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc = read_result(r, &json, &text, &len, &err);

	store_final(r, rc, json, text, len, &err);
}

void results_run_ended(struct run *r)
{
	build_final(r);
	results_kick(r->t->x);
}

/* ---- the worker's parts (each takes t->lock for moments, never across a read) ---------------------- */

static bool worker_stopping(struct results_worker *w)
{
	bool s;

	pthread_mutex_lock(&w->lock);
	s = w->stopping;
	pthread_mutex_unlock(&w->lock);
	return s;
}

/* Ended runs without a result (after a restart, or ended without a driver). True when any was read. */
static bool read_back_ended(struct results_worker *w, struct test *t)
{
	bool any = false;

	while (!worker_stopping(w)) {
		struct run *r = NULL;

		pthread_mutex_lock(&t->lock);
		for (size_t i = 0; i < t->n_runs && !r; i++)
			if (!run_active(t->runs[i]) && !t->runs[i]->result_final)
				r = t->runs[i];
		pthread_mutex_unlock(&t->lock);
		if (!r)
			break;
		/* runs stay until their test is freed, and this pass holds a reference to it */
		build_final(r);
		any = true;
	}
	return any;
}

/* The test's summaries, when its results changed. True when they were rebuilt. */
static bool summaries(struct test *t)
{
	struct pfs_buf tsv = PFS_BUF_INIT(RESULTS_TEXT_CAP), js = PFS_BUF_INIT(RESULTS_TEXT_CAP);
	struct pfs_buf svg = PFS_BUF_INIT(RESULTS_TEXT_CAP);
	struct pfs_err err = { 0 };
	struct summary *s = NULL;
	json_t **v, *sj = NULL;
	size_t n = 0;
	uint64_t gen;
	int rc;

	pthread_mutex_lock(&t->lock);
	if (t->sum_built && t->sum_gen == t->results_gen) {
		pthread_mutex_unlock(&t->lock);
		return false;
	}
	for (size_t i = 0; i < t->n_runs; i++)
		if (!run_active(t->runs[i]) && !t->runs[i]->result_final) {
			/* not every ended run is read yet: a summary is whole or not shown */
			pthread_mutex_unlock(&t->lock);
			return false;
		}
	gen = t->results_gen;
	v = calloc(t->n_runs + 1, sizeof(*v));
	for (size_t i = 0; v && i < t->n_runs; i++)
		if (t->runs[i]->result_final && t->runs[i]->result)
			v[n++] = json_incref(t->runs[i]->result);
	pthread_mutex_unlock(&t->lock);
	if (!v)
		return false; /* out of memory: the next pass tries again */

	/* the JSON trees are never changed once published: read here without the lock */
	rc = summary_build(t->name, v, n, &s, &err);
	if (rc == 0) {
		sj = summary_json(s);
		rc = summary_tsv(s, &tsv);
		if (rc == 0)
			rc = sj ? results_text(sj, &js) : -ENOMEM;
		if (rc < 0)
			pfs_err_set(&err, rc, "%s", strerror(-rc));
	}
	if (rc == 0)
		rc = summary_svg(s, &svg, &err);
	pthread_mutex_lock(&t->lock);
	if (!t->sum_built || gen > t->sum_gen) {
		t->sum_built = true;
		t->sum_gen = gen;
		t->sum_err = rc < 0 ? rc : 0;
		if (rc == 0) {
			size_t len;
			char *txt;

			txt = pfs_buf_steal(&tsv, &len);
			doc_set(&t->sum_tsv, txt, len, NULL);
			txt = pfs_buf_steal(&js, &len);
			doc_set(&t->sum_json, txt, len, NULL);
			txt = pfs_buf_steal(&svg, &len);
			doc_set(&t->sum_svg, txt, len, NULL);
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (rc < 0)
		pfs_err_log("test %s: no summaries: %s", t->name, err.msg);
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
	json_decref(sj);
	summary_free(s);
	pfs_buf_release(&tsv);
	pfs_buf_release(&js);
	pfs_buf_release(&svg);
	return true;
}

/* The current run's result so far, when it is due. True while the test has a live run. */
static bool live_result(struct test *t)
{
	struct pfs_err err = { 0 };
	json_t *json = NULL;
	char *text = NULL;
	size_t len = 0;
	uint64_t sig, t0, cost;
	struct run *r;
	bool due;
	int rc;

	pthread_mutex_lock(&t->lock);
	r = test_current_run(t);
	if (!r || !run_state_live(r->state) || r->result_final) {
		pthread_mutex_unlock(&t->lock);
		return false;
	}
	sig = run_sig(r);
	t0 = pfs_now_ms();
	due = !r->result_at_ms || ((sig != r->result_sig || !r->result) &&
				   t0 >= r->result_at_ms + PFS_MAX(LIVE_MIN_MS, LIVE_COST_FACTOR * r->result_cost_ms));
	pthread_mutex_unlock(&t->lock);
	if (!due)
		return true;
	rc = read_result(r, &json, &text, &len, &err);
	cost = pfs_now_ms() - t0;
	pthread_mutex_lock(&t->lock);
	/* a run that ended meanwhile has its final result, or is about to: never replaced by an older one */
	if (!r->result_final) {
		r->result_at_ms = PFS_MAX(pfs_now_ms(), 1);
		r->result_cost_ms = cost;
		if (rc == 0) {
			r->result_sig = sig;
			json_decref(r->result);
			r->result = json;
			doc_set(&r->result_doc, text, len, NULL);
			json = NULL;
			text = NULL;
		}
	}
	pthread_mutex_unlock(&t->lock);
	json_decref(json);
	free(text);
	return true;
}

/* The root's summary.tsv: each test's last ended run. */
static void root_summary(struct results_worker *w, struct test **ts, size_t n)
{
	struct pfs_buf b = PFS_BUF_INIT(RESULTS_TEXT_CAP);
	json_t **v = calloc(n + 1, sizeof(*v));
	size_t m = 0, len;
	char *text;
	int rc;

	if (!v) {
		pthread_mutex_lock(&w->lock);
		w->root_dirty = true;
		pthread_mutex_unlock(&w->lock);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct test *t = ts[i];

		pthread_mutex_lock(&t->lock);
		for (size_t k = t->n_runs; k-- > 0;)
			if (t->runs[k]->result_final && t->runs[k]->result) {
				v[m++] = json_incref(t->runs[k]->result);
				break;
			}
		pthread_mutex_unlock(&t->lock);
	}
	rc = summary_root_tsv(v, m, &b);
	text = rc == 0 ? pfs_buf_steal(&b, &len) : NULL;
	pthread_mutex_lock(&w->lock);
	if (text)
		doc_set(&w->root, text, len, NULL);
	else
		w->root_dirty = true; /* again at the next pass */
	pthread_mutex_unlock(&w->lock);
	if (rc < 0)
		pfs_err_log("the root's summary.tsv: %s", strerror(-rc));
	for (size_t i = 0; i < m; i++)
		json_decref(v[i]);
	free(v);
	pfs_buf_release(&b);
}

/* One pass over every test. True while some run is live (the worker then ticks). */
static bool pass(struct results_worker *w)
{
	struct engine *e = w->e;
	struct test **ts;
	size_t n = 0;
	bool live = false, root;

	pthread_mutex_lock(&w->lock);
	root = w->root_dirty;
	w->root_dirty = false;
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_lock(&e->lock);
	ts = calloc(e->n_tests + 1, sizeof(*ts));
	for (size_t i = 0; ts && i < e->n_tests; i++)
		if (!e->tests[i]->removed) {
			ts[n] = e->tests[i];
			ts[n++]->refs++;
		}
	pthread_mutex_unlock(&e->lock);
	if (!ts) {
		/* out of memory: everything again at the next tick */
		pthread_mutex_lock(&w->lock);
		w->root_dirty |= root;
		pthread_mutex_unlock(&w->lock);
		return true;
	}
	for (size_t i = 0; i < n && !worker_stopping(w); i++) {
		root |= read_back_ended(w, ts[i]);
		root |= summaries(ts[i]);
		live |= live_result(ts[i]);
	}
	if (root && !worker_stopping(w))
		root_summary(w, ts, n);
	for (size_t i = 0; i < n; i++)
		engine_test_put(ts[i]);
	free(ts);
	return live;
}

static void *worker_main(void *arg)
{
	struct results_worker *w = arg;
	bool live = false;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		if (!w->kicked && !w->stopping) {
			if (live) {
				struct timespec ts;

				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += LIVE_MIN_MS * 1000000L;
				ts.tv_sec += ts.tv_nsec / 1000000000L;
				ts.tv_nsec %= 1000000000L;
				pthread_cond_timedwait(&w->cv, &w->lock, &ts);
			} else {
				pthread_cond_wait(&w->cv, &w->lock);
			}
		}
		if (w->stopping)
			break;
		w->kicked = false;
		pthread_mutex_unlock(&w->lock);
		live = pass(w);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* ---- life cycle ------------------------------------------------------------------------------------ */

void results_init(struct engine *e)
{
	struct results_worker *w = &e->x.rw;

	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->e = e;
	/* the first pass reads everything back and builds every summary */
	w->kicked = w->root_dirty = true;
}

int results_start(struct engine *e)
{
	struct results_worker *w = &e->x.rw;
	int rc = pthread_create(&w->th, NULL, worker_main, w);

	if (rc)
		return -rc;
	w->running = true;
	return 0;
}

void results_stop(struct engine_ctx *x)
{
	struct results_worker *w = &x->rw;

	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->th, NULL);
	w->running = false;
}

void results_release(struct engine_ctx *x)
{
	struct results_worker *w = &x->rw;

	if (!w->e)
		return;
	doc_clear(&w->root);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->lock);
	w->e = NULL;
}

void results_kick(struct engine_ctx *x)
{
	struct results_worker *w = &x->rw;

	if (!w->e)
		return;
	pthread_mutex_lock(&w->lock);
	w->kicked = w->root_dirty = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->lock);
}

void results_run_clear(struct run *r)
{
	json_decref(r->result);
	r->result = NULL;
	doc_clear(&r->result_doc);
}

void results_test_clear(struct test *t)
{
	doc_clear(&t->sum_tsv);
	doc_clear(&t->sum_json);
	doc_clear(&t->sum_svg);
}

/* ---- serving (engine_file_get, engine_file_stat) --------------------------------------------------- */

/* result.json of a test that has no run yet: what status.json says then. t->lock held. */
static int no_run_result(struct test *t, struct engine_file *f, bool want_data)
{
	json_t *j = json_pack("{s:s,s:n,s:s}", "test", t->name, "run", "verdict",
			      t->config_text ? "pending" : "empty");
	struct pfs_buf b = PFS_BUF_INIT(1u << 16);
	int rc = j ? results_text(j, &b) : -ENOMEM;

	json_decref(j);
	if (rc == 0) {
		f->len = b.len;
		f->mtime = t->config_mtime;
		if (want_data)
			f->data = pfs_buf_steal(&b, NULL);
	}
	pfs_buf_release(&b);
	return rc;
}

int results_file(struct test *t, struct run *r, enum pfs_file id, struct engine_file *f, bool want_data)
{
	switch (id) {
	case PFS_F_RESULT_JSON:
		if (!r)
			return no_run_result(t, f, want_data);
		if (r->result_final && r->result_err)
			return -EIO;
		return doc_copy(&r->result_doc, f, want_data);
	case PFS_F_SUMMARY_TSV:
	case PFS_F_SUMMARY_JSON:
	case PFS_F_SUMMARY_SVG:
		if (t->sum_built && t->sum_err)
			return -EIO;
		return doc_copy(id == PFS_F_SUMMARY_TSV ? &t->sum_tsv : id == PFS_F_SUMMARY_JSON ? &t->sum_json :
			&t->sum_svg, f, want_data);
	default:
		return -ENOENT;
	}
}

int results_root_file(struct engine_ctx *x, enum pfs_file id, struct engine_file *f, bool want_data)
{
	struct results_worker *w = &x->rw;
	int rc;

	if (id != PFS_F_SUMMARY_TSV)
		return -ENOENT;
	if (!w->e)
		return -EAGAIN;
	pthread_mutex_lock(&w->lock);
	rc = doc_copy(&w->root, f, want_data);
	pthread_mutex_unlock(&w->lock);
	return rc;
}
