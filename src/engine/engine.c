/* SPDX-License-Identifier: MIT */
/*
 * The engine: tests, the Docker connection, and what callers may read.
 *
 * The monitor thread owns the connection: it pings until the engine
 * answers, subscribes to Docker's events for pantherfs's labels, and when
 * the stream ends (or a driver reports a failing call) pings again; on every
 * (re)connection it bumps conn_gen, which wakes the drivers waiting in
 * engine_wait_connected() so they reconcile their runs with what Docker now
 * has (Docker replays only its last 256 events: never trust the stream
 * alone). It also removes what removed tests left in Docker.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "engine_internal.h"
#include "pantherfs/log.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define MAX_TESTS 4096

/* ---- small things ------------------------------------------------------------------------- */

bool engine_lost(int err)
{
	return err == -ENOTCONN || err == -ECONNRESET || err == -ETIMEDOUT || err == -EPROTONOSUPPORT ||
	       err == -EPROTO || err == -ECANCELED || err == -ESHUTDOWN;
}

void engine_notify(struct engine *e, enum engine_change what, const char *test, int run,
		   const char *service)
{
	if (e->notify)
		e->notify(e->nud, what, test, run, service);
}

uint64_t engine_conn_gen(struct engine *e)
{
	uint64_t g;

	pthread_mutex_lock(&e->lock);
	g = e->conn_gen;
	pthread_mutex_unlock(&e->lock);
	return g;
}

bool engine_is_connected(struct engine *e)
{
	bool c;

	pthread_mutex_lock(&e->lock);
	c = e->connected;
	pthread_mutex_unlock(&e->lock);
	return c;
}

bool engine_wait_connected(struct engine *e, uint64_t gen)
{
	bool ok;

	pthread_mutex_lock(&e->lock);
	e->events_ended = true; /* tell the monitor to check the engine now */
	pthread_cond_broadcast(&e->conn_cv);
	while (!e->stopping && (!e->connected || e->conn_gen <= gen))
		pthread_cond_wait(&e->conn_cv, &e->lock);
	ok = !e->stopping;
	pthread_mutex_unlock(&e->lock);
	return ok;
}

const struct catalog *engine_catalog(struct engine *e)
{
	return e->cat;
}

void engine_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static char *read_text(const char *dir, const char *name)
{
	struct pfs_buf b = PFS_BUF_INIT(CONFIG_MAX_BYTES);
	char *path = pfs_strdup_printf("%s/%s", dir, name);
	char *out = NULL;

	if (path && pfs_read_file(path, &b) == 0)
		out = pfs_buf_steal(&b, NULL);
	pfs_buf_free(&b);
	free(path);
	return out;
}

static void write_text(struct test *t, const char *name, const char *text)
{
	char *path = pfs_strdup_printf("%s/%s", t->dir, name);

	if (path && pfs_write_file_replace(path, text ? text : "", text ? strlen(text) : 0) < 0)
		pfs_warn("%s: cannot write", path);
	free(path);
}

/* ---- tests ------------------------------------------------------------------------------------ */

struct test *engine_test_get(struct engine *e, const char *name)
{
	struct test *t = NULL;

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->n_tests; i++)
		if (!strcmp(e->tests[i]->name, name) && !e->tests[i]->removed) {
			t = e->tests[i];
			t->refs++;
			break;
		}
	pthread_mutex_unlock(&e->lock);
	return t;
}

static void test_free(struct test *t)
{
	for (size_t i = 0; i < t->n_runs; i++) {
		run_join(t->runs[i]);
		run_free(t->runs[i]);
	}
	free(t->runs);
	free(t->name);
	free(t->dir);
	free(t->config_text);
	free(t->error_text);
	free(t->warnings_text);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void engine_test_put(struct test *t)
{
	struct engine *e;
	bool last;

	if (!t)
		return;
	e = t->e;
	pthread_mutex_lock(&e->lock);
	last = --t->refs == 0;
	pthread_mutex_unlock(&e->lock);
	if (last)
		test_free(t);
}

static struct test *test_alloc(struct engine *e, const char *name)
{
	struct test *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->e = e;
	t->name = strdup(name);
	t->dir = pfs_strdup_printf("%s/tests/%s", e->state_dir, name);
	t->refs = 1;
	t->next_run = 1;
	pthread_mutex_init(&t->lock, NULL);
	now_ts(&t->config_mtime);
	t->error_mtime = t->warnings_mtime = t->events_mtime = t->config_mtime;
	if (!t->name || !t->dir) {
		test_free(t);
		return NULL;
	}
	return t;
}

static int add_test(struct engine *e, struct test *t)
{
	struct test **nt;

	pthread_mutex_lock(&e->lock);
	if (e->n_tests >= MAX_TESTS) {
		pthread_mutex_unlock(&e->lock);
		return -ENOSPC;
	}
	nt = realloc(e->tests, (e->n_tests + 1) * sizeof(*nt));
	if (!nt) {
		pthread_mutex_unlock(&e->lock);
		return -ENOMEM;
	}
	e->tests = nt;
	e->tests[e->n_tests++] = t;
	pthread_mutex_unlock(&e->lock);
	return 0;
}

static void save_test_json(struct test *t)
{
	json_t *j = json_pack("{s:s,s:I,s:i}", "name", t->name, "created_ms", (json_int_t)t->created_ms,
			      "next_run", t->next_run);
	char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (txt)
		write_text(t, "test.json", txt);
	free(txt);
	json_decref(j);
}

int engine_test_create(struct engine *e, const char *name, struct pfs_err *err)
{
	struct test *t, *old;
	int r;

	if (!pfs_name_valid(name))
		return pfs_err_set(err, -EINVAL, "\"%s\": a test name is 1-64 characters of [A-Za-z0-9._-], "
						 "not starting with . or -", name);
	old = engine_test_get(e, name);
	if (old) {
		engine_test_put(old);
		return pfs_err_set(err, -EEXIST, "test %s exists", name);
	}
	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->n_tests; i++)
		if (e->tests[i]->removed && !strcmp(e->tests[i]->name, name)) {
			pthread_mutex_unlock(&e->lock);
			return pfs_err_set(err, -EBUSY, "test %s is being removed: its run is stopping", name);
		}
	pthread_mutex_unlock(&e->lock);
	t = test_alloc(e, name);
	if (!t)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	r = pfs_mkdir_p(t->dir, 0755);
	if (r < 0) {
		test_free(t);
		return pfs_err_set(err, r, "cannot create the state of test %s: %s", name, strerror(-r));
	}
	t->created_ms = pfs_wall_ms();
	save_test_json(t);
	r = add_test(e, t);
	if (r < 0) {
		pfs_rm_rf(t->dir);
		test_free(t);
		return pfs_err_set(err, r, "too many tests");
	}
	event_add(t, NULL, "test.created", NULL, NULL);
	engine_notify(e, ENGINE_TESTS, name, 0, NULL);
	return 0;
}

static struct run *current_run(struct test *t)
{
	return t->n_runs ? t->runs[t->n_runs - 1] : NULL;
}

int engine_test_remove(struct engine *e, const char *name, struct pfs_err *err)
{
	struct test *t = engine_test_get(e, name);
	struct run *r;

	if (!t)
		return pfs_err_set(err, -ENOENT, "no test %s", name);
	pthread_mutex_lock(&t->lock);
	r = current_run(t);
	if (r && (run_state_live(r->state) || (r->thread && !r->finalized))) {
		bool stopping = r->stop_req && !r->stop_then_start;

		if (stopping) {
			/*
			 * `echo stop > ctl; rmdir t`: the stop is under way, so the test
			 * leaves the tree now and its state goes when the run has ended
			 * (the marker makes a restart finish the job).
			 */
			char *marker = pfs_strdup_printf("%s/removing", t->dir);

			if (marker)
				pfs_write_file_atomic(marker, "", 0);
			free(marker);
		}
		pthread_mutex_unlock(&t->lock);
		if (!stopping) {
			engine_test_put(t);
			return pfs_err_set(err, -EBUSY, "test %s has a live run: echo stop > ctl first", name);
		}
		pthread_mutex_lock(&e->lock);
		t->removed = true; /* stays listed (hidden) until the monitor reaps it */
		pthread_cond_broadcast(&e->conn_cv);
		pthread_mutex_unlock(&e->lock);
		engine_test_put(t);
		engine_notify(e, ENGINE_TESTS, name, 0, NULL);
		return 0;
	}
	pthread_mutex_unlock(&t->lock);

	pthread_mutex_lock(&e->lock);
	t->removed = true;
	for (size_t i = 0; i < e->n_tests; i++)
		if (e->tests[i] == t) {
			memmove(&e->tests[i], &e->tests[i + 1], (e->n_tests - i - 1) * sizeof(*e->tests));
			e->n_tests--;
			t->refs--; /* the list's reference */
			break;
		}
	/* its containers and network go in the monitor's sweep, off this thread */
	e->events_ended = true;
	pthread_cond_broadcast(&e->conn_cv);
	pthread_mutex_unlock(&e->lock);
	pfs_rm_rf(t->dir);
	engine_test_put(t);
	engine_notify(e, ENGINE_TESTS, name, 0, NULL);
	return 0;
}

/* Starts run n+1 with the test's config (t->lock not held). */
static int start_run(struct test *t, bool rebuild)
{
	struct engine *e = t->e;
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	struct run *r, **nr;
	int n, rc;

	pthread_mutex_lock(&t->lock);
	if (!t->config_text || t->removed) {
		pthread_mutex_unlock(&t->lock);
		return -ENOEXEC;
	}
	rc = config_load(e->cat, "config.yaml", t->config_text, t->config_len, &cfg, &rep);
	cfg_report_free(&rep);
	if (rc < 0) {
		pthread_mutex_unlock(&t->lock);
		return rc;
	}
	n = t->next_run++;
	save_test_json(t);
	r = run_new(t, n, t->config_text, t->config_len, cfg);
	nr = r ? realloc(t->runs, (t->n_runs + 1) * sizeof(*nr)) : NULL;
	if (!nr) {
		if (r)
			run_free(r);
		else
			config_free(cfg);
		pthread_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	t->runs = nr;
	t->runs[t->n_runs++] = r;
	r->force_build = rebuild || cfg->force_build;
	r->no_cache = rebuild || cfg->no_cache;
	run_save(r);
	rc = run_start_thread(r);
	if (rc < 0) {
		r->state = RS_ERROR;
		snprintf(r->reason, sizeof(r->reason), "cannot start its thread: %s", strerror(-rc));
		run_save(r);
	}
	pthread_mutex_unlock(&t->lock);
	engine_notify(e, ENGINE_RUNS, t->name, n, NULL);
	engine_notify(e, ENGINE_STATUS, t->name, 0, NULL);
	return rc;
}

void engine_start_next_run(struct test *t, bool rebuild)
{
	int rc = start_run(t, rebuild);

	if (rc < 0 && rc != -ENOEXEC)
		pfs_err_log("test %s: cannot start a run: %s", t->name, strerror(-rc));
}

/* Asks the live run to stop; true when there was one (t->lock held). */
static bool request_stop(struct test *t, bool kill, bool then_start, bool rebuild)
{
	struct run *r = current_run(t);

	if (!r || !(run_state_live(r->state) || (r->thread && !r->finalized)))
		return false;
	if (r->finalized)
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

int engine_test_apply_config(struct engine *e, const char *name, const char *data, size_t len,
			     struct cfg_report *rep)
{
	struct test *t = engine_test_get(e, name);
	struct pfs_config *cfg = NULL;
	bool live;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if (!t)
		return -ENOENT;
	rc = config_load(e->cat, "config.yaml", data, len, &cfg, rep);
	pthread_mutex_lock(&t->lock);
	if (rc == 0 && t->error_text && t->config_text && t->config_len == len && !memcmp(t->config_text, data, len)) {
		/*
		 * The accepted config written back right after a refusal: an editor
		 * restoring its backup after close() failed (vim does). Not a new
		 * config: no run starts, and `error` keeps saying why the save failed.
		 */
		event_add_locked(t, NULL, "config.restored", NULL, json_pack("{s:I}", "bytes", (json_int_t)len));
		pthread_mutex_unlock(&t->lock);
		config_free(cfg);
		engine_notify(e, ENGINE_EVENTS, name, 0, NULL);
		engine_test_put(t);
		return 0;
	}
	if (rc < 0) {
		struct pfs_buf b = PFS_BUF_INIT(1u << 20);
		json_t *errs = json_array();

		for (size_t i = 0; i < rep->n_errors; i++) {
			pfs_buf_printf(&b, "%s\n", rep->errors[i]);
			json_array_append_new(errs, json_string(rep->errors[i]));
		}
		free(t->error_text);
		t->error_text = pfs_buf_steal(&b, NULL);
		write_text(t, "error", t->error_text);
		now_ts(&t->error_mtime);
		event_add_locked(t, NULL, "config.rejected", NULL, json_pack("{s:o}", "errors", errs));
		pthread_mutex_unlock(&t->lock);
		engine_notify(e, ENGINE_STATUS, name, 0, NULL);
		engine_notify(e, ENGINE_EVENTS, name, 0, NULL);
		engine_test_put(t);
		return rc;
	}
	config_free(cfg);
	{
		struct pfs_buf b = PFS_BUF_INIT(1u << 20);
		char *path = pfs_strdup_printf("%s/config.yaml", t->dir);
		char *copy = malloc(len + 1);

		if (!path || !copy || pfs_write_file_atomic(path, data, len) < 0) {
			free(path);
			free(copy);
			pthread_mutex_unlock(&t->lock);
			engine_test_put(t);
			return -EIO;
		}
		free(path);
		memcpy(copy, data, len);
		copy[len] = '\0';
		free(t->config_text);
		t->config_text = copy;
		t->config_len = len;
		now_ts(&t->config_mtime);
		for (size_t i = 0; i < rep->n_warnings; i++)
			pfs_buf_printf(&b, "%s\n", rep->warnings[i]);
		free(t->warnings_text);
		t->warnings_text = pfs_buf_steal(&b, NULL);
		write_text(t, "warnings", t->warnings_text);
		free(t->error_text);
		t->error_text = NULL;
		write_text(t, "error", "");
		t->warnings_mtime = t->error_mtime = t->config_mtime;
		event_add_locked(t, NULL, "config.accepted", NULL,
				 json_pack("{s:I,s:i}", "bytes", (json_int_t)len, "warnings", (int)rep->n_warnings));
		for (size_t i = 0; i < rep->n_warnings; i++)
			event_add_locked(t, NULL, "config.warning", NULL, json_pack("{s:s}", "warning", rep->warnings[i]));
		for (size_t i = 0; i < rep->n_notes; i++)
			event_add_locked(t, NULL, "config.note", NULL, json_pack("{s:s}", "note", rep->notes[i]));
	}
	live = request_stop(t, false, true, false);
	pthread_mutex_unlock(&t->lock);
	engine_notify(e, ENGINE_CONFIG, name, 0, NULL);
	engine_notify(e, ENGINE_STATUS, name, 0, NULL);
	engine_notify(e, ENGINE_EVENTS, name, 0, NULL);
	if (!live)
		rc = start_run(t, false);
	engine_test_put(t);
	return rc < 0 && rc != -ENOEXEC ? rc : 0;
}

int engine_test_ctl(struct engine *e, const char *name, const char *verb, struct pfs_err *err)
{
	struct test *t;
	bool live, start = false, rebuild = false;
	int rc = 0;

	if (strcmp(verb, "start") && strcmp(verb, "stop") && strcmp(verb, "restart") && strcmp(verb, "rebuild") &&
	    strcmp(verb, "kill"))
		return pfs_err_set(err, -EINVAL, "unknown verb \"%s\" (start, stop, restart, rebuild, kill)", verb);
	t = engine_test_get(e, name);
	if (!t)
		return pfs_err_set(err, -ENOENT, "no test %s", name);
	pthread_mutex_lock(&t->lock);
	if (!t->config_text && strcmp(verb, "stop") && strcmp(verb, "kill")) {
		pthread_mutex_unlock(&t->lock);
		engine_test_put(t);
		return pfs_err_set(err, -ENOEXEC, "test %s has no config yet", name);
	}
	event_add_locked(t, current_run(t), "ctl", NULL, json_pack("{s:s}", "verb", verb));
	if (!strcmp(verb, "stop") || !strcmp(verb, "kill")) {
		request_stop(t, !strcmp(verb, "kill"), false, false);
	} else if (!strcmp(verb, "start")) {
		struct run *r = current_run(t);

		start = !r || (!run_state_live(r->state) && (!r->thread || r->finalized));
		if (!start && r && (run_state_live(r->state) || !r->finalized))
			start = false;
	} else {
		rebuild = !strcmp(verb, "rebuild");
		live = request_stop(t, false, true, rebuild);
		start = !live;
	}
	pthread_mutex_unlock(&t->lock);
	engine_notify(e, ENGINE_EVENTS, name, 0, NULL);
	if (start)
		rc = start_run(t, rebuild);
	engine_test_put(t);
	if (rc < 0)
		return pfs_err_set(err, rc, "cannot start a run: %s", strerror(-rc));
	return 0;
}

/* ---- the monitor ------------------------------------------------------------------------------ */

/* One subscription to Docker's events: only the current one may say it ended. */
struct sub {
	struct engine *e;
	uint64_t seq;
};

static void on_docker_event(void *ud, json_t *ev)
{
	struct engine *e = ((struct sub *)ud)->e;
	json_t *attrs = json_object_get(json_object_get(ev, "Actor"), "Attributes");
	const char *action = json_string_value(json_object_get(ev, "Action"));
	const char *test = json_string_value(json_object_get(attrs, "pantherfs.test"));
	const char *run = json_string_value(json_object_get(attrs, "pantherfs.run"));
	const char *id = json_string_value(json_object_get(json_object_get(ev, "Actor"), "ID"));
	const char *code = json_string_value(json_object_get(attrs, "exitCode"));
	struct test *t;
	long n, c = -1;

	if (!action || !test || !run || !id || strcmp(json_string_value(json_object_get(ev, "Type")) ?: "", "container"))
		return;
	if (strcmp(action, "die") || pfs_parse_long(run, 1, INT_MAX, &n) < 0)
		return;
	if (code)
		pfs_parse_long(code, -1, 1000, &c);
	t = engine_test_get(e, test);
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n_runs; i++)
		if (t->runs[i]->n == n && run_state_live(t->runs[i]->state))
			run_container_died(t->runs[i], id, (int)c);
	pthread_mutex_unlock(&t->lock);
	engine_notify(e, ENGINE_STATUS, test, 0, NULL);
	engine_notify(e, ENGINE_EVENTS, test, 0, NULL);
	engine_test_put(t);
}

static void on_docker_events_done(void *ud, const struct docker_result *r)
{
	struct sub *sb = ud;
	struct engine *e = sb->e;

	(void)r;
	pthread_mutex_lock(&e->lock);
	if (sb->seq == e->events_seq) {
		e->events_ended = true;
		pthread_cond_broadcast(&e->conn_cv);
	}
	pthread_mutex_unlock(&e->lock);
	free(sb);
}

/* Containers and networks of tests that no longer exist. */
static void sweep_removed(struct engine *e)
{
	const char *labels[] = { e->instance_label, NULL };
	json_t *list = NULL, *it;
	size_t i;

	if (docker_container_list(e->dc, labels, true, &list, NULL) == 0)
		json_array_foreach(list, i, it) {
			const char *test = json_string_value(json_object_get(json_object_get(it, "Labels"), "pantherfs.test"));
			struct test *t = test ? engine_test_get(e, test) : NULL;

			if (test && !t)
				docker_container_remove(e->dc, json_string_value(json_object_get(it, "Id")), true, NULL);
			engine_test_put(t);
		}
	json_decref(list);
	list = NULL;
	if (docker_network_list(e->dc, labels, &list, NULL) == 0)
		json_array_foreach(list, i, it) {
			const char *test = json_string_value(json_object_get(json_object_get(it, "Labels"), "pantherfs.test"));
			struct test *t = test ? engine_test_get(e, test) : NULL;

			if (test && !t)
				docker_network_remove(e->dc, json_string_value(json_object_get(it, "Id")), NULL);
			engine_test_put(t);
		}
	json_decref(list);
}

/* Records an engine event in every test with a live run. */
/*
 * Tells every live run that the Docker engine went away (up false) or came
 * back: an event, and the status line's "(waiting for the Docker engine)".
 */
static void engine_change_live_tests(struct engine *e, bool up, const char *type, json_t *data)
{
	struct test **ts;
	size_t n;

	pthread_mutex_lock(&e->lock);
	n = e->n_tests;
	ts = calloc(n + 1, sizeof(*ts));
	for (size_t i = 0; ts && i < n; i++) {
		ts[i] = e->tests[i];
		ts[i]->refs++;
	}
	pthread_mutex_unlock(&e->lock);
	for (size_t i = 0; ts && i < n; i++) {
		struct run *r;

		pthread_mutex_lock(&ts[i]->lock);
		r = current_run(ts[i]);
		if (r && run_state_live(r->state)) {
			event_add_locked(ts[i], r, type, NULL, json_deep_copy(data));
			r->waiting_engine = !up;
			now_ts(&r->status_mtime);
		}
		pthread_mutex_unlock(&ts[i]->lock);
		engine_notify(e, ENGINE_EVENTS, ts[i]->name, 0, NULL);
		engine_notify(e, ENGINE_STATUS, ts[i]->name, 0, NULL);
		engine_test_put(ts[i]);
	}
	free(ts);
	json_decref(data);
}

static void subscribe(struct engine *e)
{
	const char *labels[] = { e->instance_label, NULL };
	struct docker_events_cbs cbs = { .on_event = on_docker_event, .on_done = on_docker_events_done };
	struct docker_call *old, *call;
	struct sub *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return;
	pthread_mutex_lock(&e->lock);
	old = e->events_call;
	e->events_call = NULL;
	sb->e = e;
	sb->seq = ++e->events_seq;
	pthread_mutex_unlock(&e->lock);
	cbs.ud = sb;
	if (old) {
		docker_call_cancel(old);
		docker_call_unref(old);
	}
	call = docker_events(e->dc, labels, 0, &cbs, NULL);
	if (!call)
		free(sb);
	pthread_mutex_lock(&e->lock);
	e->events_call = call;
	e->events_ended = call == NULL;
	pthread_mutex_unlock(&e->lock);
}

/* Tests removed while their run was stopping: done once the run has ended. */
static void reap_removed(struct engine *e)
{
	for (;;) {
		struct test *t = NULL;

		pthread_mutex_lock(&e->lock);
		for (size_t i = 0; i < e->n_tests && !t; i++) {
			struct test *c = e->tests[i];
			bool done = true;

			if (!c->removed)
				continue;
			pthread_mutex_lock(&c->lock);
			for (size_t k = 0; k < c->n_runs; k++)
				done &= !run_state_live(c->runs[k]->state) && (!c->runs[k]->thread || c->runs[k]->finalized);
			pthread_mutex_unlock(&c->lock);
			if (done) {
				t = c;
				memmove(&e->tests[i], &e->tests[i + 1], (e->n_tests - i - 1) * sizeof(*e->tests));
				e->n_tests--;
			}
		}
		if (t)
			e->events_ended = true; /* sweep its containers at the next turn */
		pthread_mutex_unlock(&e->lock);
		if (!t)
			return;
		pfs_rm_rf(t->dir);
		engine_test_put(t); /* the list's reference */
	}
}

/*
 * One loop: ping. Unreachable: say so once, wait with backoff. Reachable
 * after being away, or with the event stream gone, or a driver asking:
 * subscribe again, sweep, bump the generation (drivers reconcile). Then
 * wait up to 10 s for trouble and ping again (an engine can hang without
 * closing its sockets).
 */
static void *monitor_main(void *arg)
{
	struct engine *e = arg;
	int backoff = 1;
	bool ever = false;

	for (;;) {
		struct docker_ping_info pi;
		struct pfs_err err = { 0 };
		json_t *v = NULL;
		bool stop, resync, was;
		int rc;

		pthread_mutex_lock(&e->lock);
		stop = e->stopping;
		pthread_mutex_unlock(&e->lock);
		if (stop)
			break;
		reap_removed(e);

		rc = docker_ping(e->dc, &pi, &err);
		if (rc == 0)
			rc = docker_version(e->dc, &v, &err);
		if (rc < 0) {
			pthread_mutex_lock(&e->lock);
			was = e->connected || !e->line[0];
			e->connected = false;
			snprintf(e->line, sizeof(e->line), "disconnected: %s", err.msg);
			pthread_mutex_unlock(&e->lock);
			if (was) {
				pfs_warn("Docker engine: %s", err.msg);
				if (ever)
					engine_change_live_tests(e, false, "engine.disconnected", json_pack("{s:s}", "reason", err.msg));
				engine_notify(e, ENGINE_ENGINE, NULL, 0, NULL);
			}
			pthread_mutex_lock(&e->lock);
			if (!e->stopping) {
				struct timespec ts;

				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += backoff;
				pthread_cond_timedwait(&e->conn_cv, &e->lock, &ts);
			}
			pthread_mutex_unlock(&e->lock);
			backoff = backoff < 8 ? backoff * 2 : 8;
			continue;
		}
		backoff = 1;

		pthread_mutex_lock(&e->lock);
		was = e->connected;
		resync = !e->connected || e->events_ended;
		pthread_mutex_unlock(&e->lock);
		if (resync) {
			subscribe(e);
			sweep_removed(e);
			pthread_mutex_lock(&e->lock);
			e->connected = true;
			e->conn_gen++;
			snprintf(e->line, sizeof(e->line), "connected %s api %s",
				 json_string_value(json_object_get(v, "Version")) ?: "?", pi.api_version);
			pthread_cond_broadcast(&e->conn_cv);
			pthread_mutex_unlock(&e->lock);
			if (!was) {
				if (ever)
					engine_change_live_tests(e, true, "engine.connected", json_pack("{s:s}", "api", pi.api_version));
				engine_notify(e, ENGINE_ENGINE, NULL, 0, NULL);
			}
			ever = true;
		}
		json_decref(v);

		pthread_mutex_lock(&e->lock);
		if (!e->stopping && !e->events_ended) {
			struct timespec ts;
			bool pending = false;

			for (size_t i = 0; i < e->n_tests; i++)
				pending |= e->tests[i]->removed;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += pending ? 1 : 10;
			pthread_cond_timedwait(&e->conn_cv, &e->lock, &ts);
		}
		pthread_mutex_unlock(&e->lock);
	}
	return NULL;
}

/* ---- loading ----------------------------------------------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void load_test(struct engine *e, const char *name)
{
	struct test *t = test_alloc(e, name);
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	char *p, *runs_dir;
	struct dirent *de;
	struct stat st;
	int *nums = NULL;
	size_t nn = 0;
	DIR *d;

	if (!t)
		return;
	p = pfs_strdup_printf("%s/removing", t->dir);
	if (p && access(p, F_OK) == 0) {
		/* removed while its run was stopping: finish (the monitor sweeps Docker) */
		free(p);
		pfs_rm_rf(t->dir);
		test_free(t);
		return;
	}
	free(p);
	p = pfs_strdup_printf("%s/test.json", t->dir);
	if (p && pfs_read_file(p, &b) == 0) {
		json_t *j = json_loadb(b.ptr, b.len, 0, NULL);

		t->created_ms = (uint64_t)json_integer_value(json_object_get(j, "created_ms"));
		t->next_run = (int)json_integer_value(json_object_get(j, "next_run"));
		json_decref(j);
	}
	free(p);
	pfs_buf_free(&b);
	if (t->next_run < 1)
		t->next_run = 1;
	t->config_text = read_text(t->dir, "config.yaml");
	t->config_len = t->config_text ? strlen(t->config_text) : 0;
	t->error_text = read_text(t->dir, "error");
	if (t->error_text && !*t->error_text) {
		free(t->error_text);
		t->error_text = NULL;
	}
	t->warnings_text = read_text(t->dir, "warnings");
	p = pfs_strdup_printf("%s/events", t->dir);
	if (p) {
		t->seq = event_last_seq(p, &t->events_size);
		if (stat(p, &st) == 0)
			t->events_mtime = st.st_mtim;
	}
	free(p);

	runs_dir = pfs_strdup_printf("%s/runs", t->dir);
	d = runs_dir ? opendir(runs_dir) : NULL;
	while (d && (de = readdir(d))) {
		long n;
		int *nn2;

		if (pfs_parse_long(de->d_name, 1, INT_MAX, &n) < 0)
			continue;
		nn2 = realloc(nums, (nn + 1) * sizeof(*nums));
		if (!nn2)
			break;
		nums = nn2;
		nums[nn++] = (int)n;
	}
	if (d)
		closedir(d);
	free(runs_dir);
	if (nn)
		qsort(nums, nn, sizeof(*nums), cmp_int);
	t->runs = calloc(nn + 1, sizeof(*t->runs));
	for (size_t i = 0; t->runs && i < nn; i++) {
		struct run *r = NULL;

		if (run_load(t, nums[i], &r) < 0) {
			pfs_warn("test %s: run %d cannot be read back; it is left out", name, nums[i]);
			continue;
		}
		t->runs[t->n_runs++] = r;
		if (nums[i] >= t->next_run)
			t->next_run = nums[i] + 1;
	}
	free(nums);
	if (add_test(e, t) < 0) {
		test_free(t);
		return;
	}
	/* a run that was live goes on; earlier live ones (a crash mid-switch) are over */
	for (size_t i = 0; i < t->n_runs; i++) {
		struct run *r = t->runs[i];

		if (!run_state_live(r->state))
			continue;
		if (i + 1 < t->n_runs) {
			r->state = RS_FAILED;
			snprintf(r->reason, sizeof(r->reason), "interrupted: a newer run started");
			run_save(r);
			continue;
		}
		event_add(t, r, "run.resumed", NULL, json_pack("{s:s}", "state", run_state_name(r->state)));
		run_start_thread(r);
	}
}

static void load_state(struct engine *e)
{
	char *dir = pfs_strdup_printf("%s/tests", e->state_dir);
	struct dirent **ents = NULL;
	int n = dir ? scandir(dir, &ents, NULL, alphasort) : -1;

	for (int i = 0; i < n; i++) {
		if (pfs_name_valid(ents[i]->d_name))
			load_test(e, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	free(dir);
}

/*
 * A random id per state dir, in every name and label pantherfs gives Docker
 * objects: two pantherfs on one engine (or a state dir made anew) never
 * adopt or sweep each other's containers.
 */
static int load_instance(struct engine *e)
{
	char *path = pfs_strdup_printf("%s/instance", e->state_dir);
	struct pfs_buf b = PFS_BUF_INIT(64);
	unsigned char raw[8];
	int r = 0;

	if (!path)
		return -ENOMEM;
	if (pfs_read_file(path, &b) == 0 && b.len >= 16) {
		snprintf(e->instance, sizeof(e->instance), "%.16s", b.ptr);
	} else if (RAND_bytes(raw, sizeof(raw)) == 1) {
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(e->instance + 2 * i, 3, "%02x", raw[i]);
		r = pfs_write_file_atomic(path, e->instance, 16);
	} else {
		r = -EIO;
	}
	snprintf(e->instance_label, sizeof(e->instance_label), "pantherfs.instance=%s", e->instance);
	pfs_buf_free(&b);
	free(path);
	return r;
}

int engine_new(const struct engine_opts *o, struct engine **out, struct pfs_err *err)
{
	struct docker_client_opts dopts = { .host = o->docker_host, .timeout_ms = 30000 };
	struct engine *e = calloc(1, sizeof(*e));
	char real[PATH_MAX], *tests;
	int r;

	if (!e)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->conn_cv, NULL);
	e->notify = o->notify;
	e->nud = o->notify_ud;
	e->grace_s = o->stop_grace_s > 0 ? o->stop_grace_s : 5;
	e->ready_s = o->ready_timeout_s > 0 ? o->ready_timeout_s : 30;
	r = pfs_mkdir_p(o->state_dir, 0755);
	if (r < 0 || !realpath(o->state_dir, real)) {
		r = r < 0 ? r : -errno;
		pfs_err_set(err, r, "state dir %s: %s", o->state_dir, strerror(-r));
		goto fail;
	}
	e->state_dir = strdup(real);
	tests = pfs_strdup_printf("%s/tests", real);
	r = tests ? pfs_mkdir_p(tests, 0755) : -ENOMEM;
	free(tests);
	if (r < 0) {
		pfs_err_set(err, r, "state dir %s: %s", real, strerror(-r));
		goto fail;
	}
	r = load_instance(e);
	if (r < 0) {
		pfs_err_set(err, r, "state dir %s: cannot keep its instance id: %s", real, strerror(-r));
		goto fail;
	}
	r = catalog_load(o->data_dir ? o->data_dir : catalog_default_data_dir(), &e->cat, err);
	if (r < 0)
		goto fail;
	r = docker_client_new(&dopts, &e->dc, err);
	if (r < 0)
		goto fail;
	snprintf(e->line, sizeof(e->line), "disconnected: not checked yet");
	load_state(e);
	r = pthread_create(&e->monitor, NULL, monitor_main, e);
	if (r) {
		r = pfs_err_set(err, -r, "cannot start the monitor thread");
		goto fail;
	}
	*out = e;
	return 0;
fail:
	e->stopping = true;
	for (size_t i = 0; i < e->n_tests; i++) {
		for (size_t k = 0; k < e->tests[i]->n_runs; k++)
			run_wake(e->tests[i]->runs[k]);
	}
	pthread_cond_broadcast(&e->conn_cv);
	for (size_t i = 0; i < e->n_tests; i++)
		engine_test_put(e->tests[i]);
	free(e->tests);
	docker_client_free(e->dc);
	catalog_free(e->cat);
	free(e->state_dir);
	free(e);
	return r;
}

void engine_free(struct engine *e)
{
	struct docker_call *ev;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	ev = e->events_call;
	e->events_call = NULL;
	pthread_cond_broadcast(&e->conn_cv);
	pthread_mutex_unlock(&e->lock);
	if (ev) {
		docker_call_cancel(ev);
		docker_call_unref(ev);
	}
	/* wake every driver; they leave their runs as they are */
	for (size_t i = 0; i < e->n_tests; i++) {
		struct test *t = e->tests[i];

		pthread_mutex_lock(&t->lock);
		for (size_t k = 0; k < t->n_runs; k++) {
			if (t->runs[k]->build_call)
				docker_call_cancel(t->runs[k]->build_call);
			run_wake(t->runs[k]);
		}
		pthread_mutex_unlock(&t->lock);
	}
	pthread_join(e->monitor, NULL);
	for (size_t i = 0; i < e->n_tests; i++)
		for (size_t k = 0; k < e->tests[i]->n_runs; k++)
			run_join(e->tests[i]->runs[k]);
	for (size_t i = 0; i < e->n_tests; i++)
		engine_test_put(e->tests[i]);
	free(e->tests);
	docker_client_free(e->dc);
	catalog_free(e->cat);
	free(e->state_dir);
	pthread_cond_destroy(&e->conn_cv);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

/* ---- reading ----------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **engine_test_names(struct engine *e)
{
	char **v;
	size_t n = 0;

	pthread_mutex_lock(&e->lock);
	v = calloc(e->n_tests + 1, sizeof(*v));
	for (size_t i = 0; v && i < e->n_tests; i++)
		if (!e->tests[i]->removed)
			v[n++] = strdup(e->tests[i]->name);
	pthread_mutex_unlock(&e->lock);
	if (v)
		qsort(v, n, sizeof(*v), cmp_str);
	return v;
}

char *engine_line(struct engine *e)
{
	char *s;

	pthread_mutex_lock(&e->lock);
	s = pfs_strdup_printf("%s\n", e->line);
	pthread_mutex_unlock(&e->lock);
	return s;
}

/* run 0: the current run; NULL when there is none. t->lock held. */
static struct run *find_run(struct test *t, int run)
{
	if (run == 0)
		return current_run(t);
	for (size_t i = 0; i < t->n_runs; i++)
		if (t->runs[i]->n == run)
			return t->runs[i];
	return NULL;
}

static struct svc *find_svc(struct run *r, const char *name)
{
	for (size_t i = 0; r && i < r->n_svcs; i++)
		if (!strcmp(r->svcs[i].name, name))
			return &r->svcs[i];
	return NULL;
}

static void small(struct engine_file *f, const char *text, const struct timespec *mt)
{
	f->data = strdup(text ? text : "");
	f->len = f->data ? strlen(f->data) : 0;
	f->mtime = *mt;
}

static void small_line(struct engine_file *f, const char *text, const struct timespec *mt)
{
	char *s = pfs_strdup_printf("%s%s", text, *text ? "\n" : "");

	f->data = s;
	f->len = s ? strlen(s) : 0;
	f->mtime = *mt;
}

static void growing(struct engine_file *f, char *path, off_t size, const struct timespec *mt)
{
	f->path = path;
	f->len = (size_t)size;
	f->mtime = *mt;
	f->growing = true;
}

int engine_file_get(struct engine *e, const char *test, int run, const char *service,
		    const char *name, struct engine_file *f)
{
	struct test *t = engine_test_get(e, test);
	struct run *r;
	int rc = 0;

	memset(f, 0, sizeof(*f));
	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	r = find_run(t, run);
	if (run && !r) {
		rc = -ENOENT;
	} else if (service) {
		struct svc *s = find_svc(r, service);

		if (!s)
			rc = -ENOENT;
		else if (!strcmp(name, "command"))
			small_line(f, s->command ? s->command : "", &s->command_mtime);
		else if (!strcmp(name, "status"))
			small_line(f, s->status, &s->status_mtime);
		else if (!strcmp(name, "address"))
			small_line(f, s->address, &s->status_mtime);
		else if (!strcmp(name, "container"))
			small_line(f, s->container, &s->status_mtime);
		else if (!strcmp(name, "image"))
			small_line(f, s->image, &s->status_mtime);
		else if (!strcmp(name, "logs"))
			growing(f, strdup(s->logs_path), s->log_size, &s->log_mtime);
		else
			rc = -ENOENT;
	} else if (!strcmp(name, "status")) {
		char line[640] = "empty";

		if (r)
			run_status_line(r, line, sizeof(line));
		else if (t->config_text)
			snprintf(line, sizeof(line), "pending");
		small_line(f, line, r ? &r->status_mtime : &t->config_mtime);
	} else if (!strcmp(name, "status.json")) {
		json_t *j = r ? run_status_json(r) : json_pack("{s:s,s:s,s:s}", "test", t->name, "state",
								t->config_text ? "pending" : "empty", "status",
								t->config_text ? "pending" : "empty");
		char *txt = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

		if (txt) {
			char *with_nl = pfs_strdup_printf("%s\n", txt);
			free(txt);
			txt = with_nl;
		}
		f->data = txt;
		f->len = txt ? strlen(txt) : 0;
		f->mtime = r ? r->status_mtime : t->config_mtime;
		json_decref(j);
	} else if (!strcmp(name, "config.yaml")) {
		if (run)
			small(f, r->config_text, &r->status_mtime);
		else
			small(f, t->config_text, &t->config_mtime);
	} else if (!strcmp(name, "error") && !run) {
		small(f, t->error_text, &t->error_mtime);
	} else if (!strcmp(name, "warnings") && !run) {
		small(f, t->warnings_text, &t->warnings_mtime);
	} else if (!strcmp(name, "events")) {
		if (run)
			growing(f, pfs_strdup_printf("%s/events", r->dir), r->events_size, &r->events_mtime);
		else
			growing(f, pfs_strdup_printf("%s/events", t->dir), t->events_size, &t->events_mtime);
	} else if (!strcmp(name, "build.log")) {
		if (r)
			growing(f, pfs_strdup_printf("%s/build.log", r->dir), r->build_size, &r->build_mtime);
		else
			small(f, "", &t->config_mtime);
	} else {
		rc = -ENOENT;
	}
	pthread_mutex_unlock(&t->lock);
	engine_test_put(t);
	if (rc == 0 && !f->data && !f->path)
		rc = -ENOMEM;
	return rc;
}

void engine_file_release(struct engine_file *f)
{
	if (!f)
		return;
	free(f->data);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

char **engine_service_names(struct engine *e, const char *test, int run)
{
	struct test *t = engine_test_get(e, test);
	char **v = NULL;
	struct run *r;

	if (!t)
		return NULL;
	pthread_mutex_lock(&t->lock);
	r = find_run(t, run);
	v = calloc((r ? r->n_svcs : 0) + 1, sizeof(*v));
	for (size_t i = 0; v && r && i < r->n_svcs; i++)
		v[i] = strdup(r->svcs[i].name);
	pthread_mutex_unlock(&t->lock);
	engine_test_put(t);
	return v;
}

int *engine_run_numbers(struct engine *e, const char *test, size_t *n)
{
	struct test *t = engine_test_get(e, test);
	int *v = NULL;

	*n = 0;
	if (!t)
		return NULL;
	pthread_mutex_lock(&t->lock);
	v = calloc(t->n_runs + 1, sizeof(*v));
	for (size_t i = 0; v && i < t->n_runs; i++)
		v[(*n)++] = t->runs[i]->n;
	pthread_mutex_unlock(&t->lock);
	engine_test_put(t);
	return v;
}

bool engine_run_live(struct engine *e, const char *test, int run)
{
	struct test *t = engine_test_get(e, test);
	struct run *r;
	bool live = false;

	if (!t)
		return false;
	pthread_mutex_lock(&t->lock);
	r = find_run(t, run);
	live = r && (run_state_live(r->state) || (r->thread && !r->finalized));
	pthread_mutex_unlock(&t->lock);
	engine_test_put(t);
	return live;
}

int engine_test_state(struct engine *e, const char *test, char *out, size_t outlen)
{
	struct test *t = engine_test_get(e, test);
	struct run *r;

	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	r = current_run(t);
	snprintf(out, outlen, "%s", r ? run_state_name(r->state) : t->config_text ? "pending" : "empty");
	pthread_mutex_unlock(&t->lock);
	engine_test_put(t);
	return 0;
}
