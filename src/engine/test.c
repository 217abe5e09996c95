/* SPDX-License-Identifier: MIT */
/*
 * A test's runs: starting one, asking the active one to stop, and the
 * thread that drives a run (run.c) and, when it asked for it, starts the
 * next one. A test has at most one active run (run_active()): a start
 * while one is active becomes a stop of it followed by the start, decided
 * under t->lock, so concurrent config writes and ctl verbs can never start
 * two.
 *
 * Series (`iterations: N`): each run knows it is iteration i of N. The
 * next iteration is created under t->lock in the same critical section
 * where the previous run lets go (run_main), so there is no moment
 * between two iterations when the test has no active run: a stop, a new
 * config or rmdir always meets one of them. A stop or kill sets
 * t->series_stopped (kept in test.json), which ends the series; a new
 * series (a config, start, restart, rebuild) clears it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "pantherfs/log.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

struct run *test_current_run(struct test *t)
{
	return t->n_runs ? t->runs[t->n_runs - 1] : NULL;
}

struct run *test_find_run(struct test *t, int run)
{
	if (run == 0)
		return test_current_run(t);
	for (size_t i = 0; i < t->n_runs; i++)
		if (t->runs[i]->n == run)
			return t->runs[i];
	return NULL;
}

bool test_request_stop(struct test *t, bool kill, bool then_start, bool rebuild)
{
	struct run *r = test_current_run(t);

	if (!r || !run_active(r) || r->finalized)
		return false;
	r->stop_req = true;
	r->kill_req |= kill;
	r->stop_then_start |= then_start;
	r->rebuild_next |= rebuild;
	if (r->build_call)
		docker_call_cancel(r->build_call);
	run_wake(r);
	return true;
}

/*
 * Run n+1 of the test's config as iteration i of n, its thread started
 * (t->lock held). *out: the run (also on a thread that could not start:
 * it is then in error).
 */
static int start_locked(struct test *t, bool rebuild, int iteration, int iterations, struct run **out)
{
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	struct run *r, **nr;
	int n, rc;

	rc = config_load(t->x->cat, "config.yaml", t->config_text, t->config_len, &cfg, &rep);
	cfg_report_release(&rep);
	if (rc < 0)
		return rc;
	if (iteration == 1) {
		iterations = (int)cfg->iterations;
		t->series_stopped = false;
	}
	n = t->next_run++;
	engine_test_save_json(t);
	r = run_new(t, n, t->config_text, t->config_len, cfg);
	nr = r ? realloc(t->runs, (t->n_runs + 1) * sizeof(*nr)) : NULL;
	if (!nr) {
		if (r)
			run_free(r);
		else
			config_free(cfg);
		return -ENOMEM;
	}
	t->runs = nr;
	t->runs[t->n_runs++] = r;
	r->iteration = iteration;
	r->iterations = iterations > 1 ? iterations : 1;
	/* a series builds its images once: its later iterations take them as they are */
	r->force_build = iteration == 1 && (rebuild || cfg->force_build);
	r->no_cache = iteration == 1 && (rebuild || cfg->no_cache);
	run_save(r);
	rc = test_run_thread(r);
	if (rc < 0)
		run_transition_locked(r, RS_ERROR, RS_ERROR, "cannot start its thread: %s", strerror(-rc));
	*out = r;
	return rc;
}

int test_start_run(struct test *t, bool rebuild)
{
	struct engine_ctx *x = t->x;
	struct run *r = NULL;
	int rc;

	pthread_mutex_lock(&t->lock);
	if (!t->config_text) {
		pthread_mutex_unlock(&t->lock);
		return -ENOEXEC;
	}
	if (test_request_stop(t, false, true, rebuild)) {
		/* one active run at a time: this start follows its end */
		pthread_mutex_unlock(&t->lock);
		engine_ctx_notify(x, ENGINE_STATUS, t->name, 0, NULL);
		return 0;
	}
	rc = start_locked(t, rebuild, 1, 1, &r);
	pthread_mutex_unlock(&t->lock);
	if (!r)
		return rc;
	engine_ctx_notify(x, ENGINE_RUNS, t->name, r->n, NULL);
	engine_ctx_notify(x, ENGINE_STATUS, t->name, 0, NULL);
	results_kick(x);
	return rc;
}

bool test_series_goes_on(struct test *t, struct run *r)
{
	return r == test_current_run(t) && r->iterations > 1 && r->iteration < r->iterations &&
	       (r->state == RS_SUCCEEDED || r->state == RS_FAILED) && !t->series_stopped && t->config_text &&
	       t->config_len == r->config_len && !memcmp(t->config_text, r->config_text, r->config_len);
}

int test_next_iteration_locked(struct test *t, struct run *r)
{
	struct run *next = NULL;

	return start_locked(t, false, r->iteration + 1, r->iterations, &next);
}

static void *run_main(void *arg)
{
	struct run *r = arg;
	struct test *t = r->t;
	struct conn *c = &t->x->conn;
	bool next, rebuild, ended, cont = false;
	int rc = 0;

	for (;;) {
		uint64_t gen = conn_gen(c);

		if (run_drive(r) != RUN_LOST || conn_stopping(c))
			break;
		pthread_mutex_lock(&t->lock);
		r->waiting_engine = true;
		pfs_realtime_ts(&r->status_mtime);
		pthread_mutex_unlock(&t->lock);
		engine_ctx_notify(t->x, ENGINE_STATUS, t->name, r->n, NULL);
		if (!conn_wait(c, gen))
			break;
		pthread_mutex_lock(&t->lock);
		r->waiting_engine = false;
		pfs_realtime_ts(&r->status_mtime);
		pthread_mutex_unlock(&t->lock);
		engine_ctx_notify(t->x, ENGINE_STATUS, t->name, r->n, NULL);
	}
	run_release_streams(r);
	pthread_mutex_lock(&t->lock);
	if (r->save_pending)
		run_save(r);
	ended = !run_state_live(r->state);
	pthread_mutex_unlock(&t->lock);
	/* its logs are whole now: result.json for good, before the run counts as over */
	if (ended)
		results_run_ended(r);
	pthread_mutex_lock(&t->lock);
	next = r->stop_then_start && ended;
	rebuild = r->rebuild_next;
	/* the next iteration is active before this run lets go: never a moment without one */
	if (!next && ended && !conn_stopping(c) && test_series_goes_on(t, r)) {
		cont = true;
		rc = test_next_iteration_locked(t, r);
	}
	r->finalized = ended;
	pthread_mutex_unlock(&t->lock);
	/*
	 * The run counted as active (run_active) until now, and every wake-up
	 * before this one found it so: a follow stream parked then would wait
	 * for good. This notification tells streams the run has ended.
	 */
	engine_ctx_notify(t->x, ENGINE_STATUS, t->name, r->n, NULL);
	if (cont) {
		if (rc < 0)
			pfs_err_log("test %s: cannot start iteration %d of %d: %s", t->name, r->iteration + 1,
				    r->iterations, strerror(-rc));
		engine_ctx_notify(t->x, ENGINE_RUNS, t->name, 0, NULL);
		results_kick(t->x);
	}
	if (next && !conn_stopping(c)) {
		rc = test_start_run(t, rebuild);

		if (rc < 0 && rc != -ENOEXEC)
			pfs_err_log("test %s: cannot start a run: %s", t->name, strerror(-rc));
	}
	return NULL;
}

int test_run_thread(struct run *r)
{
	int rc = pthread_create(&r->th, NULL, run_main, r);

	if (rc)
		return -rc;
	r->thread = true;
	return 0;
}
