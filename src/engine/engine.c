/* SPDX-License-Identifier: MIT */
/*
 * The engine's public API (engine.h): the list of tests, configs, ctl
 * verbs, and what readers see. Every call returns promptly: configs are
 * checked and saved on the caller's thread (CPU and local disk only);
 * Docker work happens on the runs' threads (test.c, run.c) and the
 * monitor's (monitor.c). See engine_internal.h for the layers and the
 * lock order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_internal.h"
#include "pantherfs/docker_ref.h"
#include "pantherfs/log.h"
#include "pantherfs/names.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define MAX_TESTS 4096

const struct catalog *engine_catalog(struct engine *e)
{
	return e->x.cat;
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

void engine_test_free(struct test *t)
{
	for (size_t i = 0; i < t->n_runs; i++) {
		if (t->runs[i]->thread)
			pthread_join(t->runs[i]->th, NULL);
		run_free(t->runs[i]);
	}
	free(t->runs);
	free(t->name);
	free(t->dir);
	free(t->config_text);
	free(t->error_text);
	free(t->warnings_text);
	results_test_clear(t);
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
		engine_test_free(t);
}

struct test *engine_test_alloc(struct engine *e, const char *name)
{
	struct test *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->e = e;
	t->x = &e->x;
	t->name = strdup(name);
	t->dir = pfs_strdup_printf("%s/tests/%s", e->x.state_dir, name);
	t->refs = 1;
	t->next_run = 1;
	pthread_mutex_init(&t->lock, NULL);
	pfs_realtime_ts(&t->config_mtime);
	t->error_mtime = t->warnings_mtime = t->events_mtime = t->config_mtime;
	if (!t->name || !t->dir) {
		engine_test_free(t);
		return NULL;
	}
	return t;
}

int engine_test_add(struct engine *e, struct test *t)
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

void engine_test_save_json(struct test *t)
{
	json_t *j = json_pack("{s:s,s:I,s:i,s:b}", "name", t->name, "created_ms", (json_int_t)t->created_ms,
			      "next_run", t->next_run, "series_stopped", t->series_stopped);
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
	t = engine_test_alloc(e, name);
	if (!t)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	r = pfs_mkdir_p(t->dir, 0700);
	if (r < 0) {
		engine_test_free(t);
		return pfs_err_set(err, r, "cannot create the state of test %s: %s", name, strerror(-r));
	}
	t->created_ms = pfs_wall_ms();
	engine_test_save_json(t);
	r = engine_test_add(e, t);
	if (r < 0) {
		pfs_rm_rf(t->dir);
		engine_test_free(t);
		return pfs_err_set(err, r, "too many tests");
	}
	evlog_add(t, NULL, "test.created", NULL, NULL);
	engine_ctx_notify(&e->x, ENGINE_TESTS, name, 0, NULL);
	results_kick(&e->x);
	return 0;
}

int engine_test_remove(struct engine *e, const char *name, struct pfs_err *err)
{
	struct test *t = engine_test_get(e, name);
	struct run *r;

	if (!t)
		return pfs_err_set(err, -ENOENT, "no test %s", name);
	pthread_mutex_lock(&t->lock);
	r = test_current_run(t);
	if (r && run_active(r)) {
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
		pthread_mutex_unlock(&e->lock);
		conn_kick(&e->x.conn);
		engine_test_put(t);
		engine_ctx_notify(&e->x, ENGINE_TESTS, name, 0, NULL);
		results_kick(&e->x);
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
	pthread_mutex_unlock(&e->lock);
	/* its containers and network go in the monitor's sweep, off this thread */
	conn_kick(&e->x.conn);
	pfs_rm_rf(t->dir);
	engine_test_put(t);
	engine_ctx_notify(&e->x, ENGINE_TESTS, name, 0, NULL);
	results_kick(&e->x);
	return 0;
}

/* Starts run n+1 with the test's config (t->lock not held). */
int engine_test_apply_config(struct engine *e, const char *name, const char *data, size_t len,
			     struct cfg_report *rep)
{
	struct test *t = engine_test_get(e, name);
	struct pfs_config *cfg = NULL;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if (!t)
		return -ENOENT;
	rc = config_load(e->x.cat, "config.yaml", data, len, &cfg, rep);
	pthread_mutex_lock(&t->lock);
	if (rc == 0 && t->error_text && t->config_text && t->config_len == len && !memcmp(t->config_text, data, len)) {
		/*
		 * The accepted config written back right after a refusal: an editor
		 * restoring its backup after close() failed (vim does). Not a new
		 * config: no run starts, and `error` keeps saying why the save failed.
		 */
		evlog_add_locked(t, NULL, "config.restored", NULL, json_pack("{s:I}", "bytes", (json_int_t)len));
		pthread_mutex_unlock(&t->lock);
		config_free(cfg);
		engine_ctx_notify(&e->x, ENGINE_EVENTS, name, 0, NULL);
		engine_test_put(t);
		return 0;
	}
	if (rc < 0) {
		/* both bounded: the first errors, how many more, and where they are */
		free(t->error_text);
		t->error_text = cfg_report_text(rep->errors, rep->n_errors, 1u << 20);
		write_text(t, "error", t->error_text);
		pfs_realtime_ts(&t->error_mtime);
		evlog_add_locked(t, NULL, "config.rejected", NULL,
				 cfg_report_event(rep->errors, rep->n_errors, "errors", "error"));
		pthread_mutex_unlock(&t->lock);
		engine_ctx_notify(&e->x, ENGINE_STATUS, name, 0, NULL);
		engine_ctx_notify(&e->x, ENGINE_EVENTS, name, 0, NULL);
		engine_test_put(t);
		return rc;
	}
	config_free(cfg);
	{
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
		pfs_realtime_ts(&t->config_mtime);
		free(t->warnings_text);
		t->warnings_text = cfg_report_text(rep->warnings, rep->n_warnings, 1u << 20);
		write_text(t, "warnings", t->warnings_text);
		free(t->error_text);
		t->error_text = NULL;
		write_text(t, "error", "");
		t->warnings_mtime = t->error_mtime = t->config_mtime;
		evlog_add_locked(t, NULL, "config.accepted", NULL,
				 json_pack("{s:I,s:i}", "bytes", (json_int_t)len, "warnings", (int)rep->n_warnings));
		for (size_t i = 0; i < rep->n_warnings && i < CFG_EVENT_MAX_LINES; i++)
			evlog_add_locked(t, NULL, "config.warning", NULL, json_pack("{s:s}", "warning", rep->warnings[i]));
		if (rep->n_warnings > CFG_EVENT_MAX_LINES)
			evlog_add_locked(t, NULL, "config.warning", NULL,
					 json_pack("{s:s,s:I}", "warning", "... and more in the file warnings", "more",
						   (json_int_t)(rep->n_warnings - CFG_EVENT_MAX_LINES)));
		for (size_t i = 0; i < rep->n_notes; i++)
			evlog_add_locked(t, NULL, "config.note", NULL, json_pack("{s:s}", "note", rep->notes[i]));
	}
	pthread_mutex_unlock(&t->lock);
	engine_ctx_notify(&e->x, ENGINE_CONFIG, name, 0, NULL);
	engine_ctx_notify(&e->x, ENGINE_STATUS, name, 0, NULL);
	engine_ctx_notify(&e->x, ENGINE_EVENTS, name, 0, NULL);
	/* a new run, after the active one (if any) has stopped */
	rc = test_start_run(t, false);
	engine_test_put(t);
	return rc < 0 && rc != -ENOEXEC ? rc : 0;
}

int engine_test_ctl(struct engine *e, const char *name, const char *verb, struct pfs_err *err)
{
	struct test *t;
	bool start = false, rebuild = false;
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
	evlog_add_locked(t, test_current_run(t), "ctl", NULL, json_pack("{s:s}", "verb", verb));
	if (!strcmp(verb, "stop") || !strcmp(verb, "kill")) {
		/* the series ends too, also when its next iteration has not begun */
		if (!t->series_stopped) {
			t->series_stopped = true;
			engine_test_save_json(t);
		}
		test_request_stop(t, !strcmp(verb, "kill"), false, false);
	} else if (!strcmp(verb, "start")) {
		struct run *r = test_current_run(t);

		start = !r || !run_active(r);
	} else {
		rebuild = !strcmp(verb, "rebuild");
		start = true; /* restart, rebuild: after the active run stops (test_start_run) */
	}
	pthread_mutex_unlock(&t->lock);
	engine_ctx_notify(&e->x, ENGINE_EVENTS, name, 0, NULL);
	if (start)
		rc = test_start_run(t, rebuild);
	engine_test_put(t);
	if (rc < 0)
		return pfs_err_set(err, rc, "cannot start a run: %s", strerror(-rc));
	return 0;
}

/* ---- the monitor ------------------------------------------------------------------------------ */

/* ---- life cycle ----------------------------------------------------------------------------------- */

int engine_new(const struct engine_opts *o, struct engine **out, struct pfs_err *err)
{
	struct docker_client_opts dopts = { .host = o->docker_host, .timeout_ms = 30000 };
	struct engine *e = calloc(1, sizeof(*e));
	char real[PATH_MAX], *tests;
	int r;

	if (!e)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&e->lock, NULL);
	conn_init(&e->x.conn);
	logw_init(&e->x.lw);
	results_init(e);
	e->x.notify = o->notify;
	e->x.nud = o->notify_ud;
	e->x.grace_s = o->stop_grace_s > 0 ? o->stop_grace_s : 5;
	e->x.ready_s = o->ready_timeout_s > 0 ? o->ready_timeout_s : 30;
	e->x.swarm = o->swarm;
	if (o->registry) {
		r = docker_registry_check(o->registry, err);
		if (r == 0 && strlen(o->registry) >= sizeof(e->x.registry))
			r = pfs_err_set(err, -EINVAL, "--registry: longer than %zu characters", sizeof(e->x.registry) - 1);
		if (r < 0)
			goto fail;
		snprintf(e->x.registry, sizeof(e->x.registry), "%s", o->registry);
	}
	/* private: configs, logs, keys (0700 dirs, 0600 files) */
	umask(077);
	r = pfs_mkdir_p(o->state_dir, 0700);
	if (r < 0 || !realpath(o->state_dir, real)) {
		r = r < 0 ? r : -errno;
		pfs_err_set(err, r, "state dir %s: %s", o->state_dir, strerror(-r));
		goto fail;
	}
	e->x.state_dir = strdup(real);
	tests = pfs_strdup_printf("%s/tests", real);
	r = tests ? pfs_mkdir_p(tests, 0700) : -ENOMEM;
	free(tests);
	if (r < 0) {
		pfs_err_set(err, r, "state dir %s: %s", real, strerror(-r));
		goto fail;
	}
	r = recovery_instance(&e->x);
	if (r < 0) {
		pfs_err_set(err, r, "state dir %s: cannot keep its instance id: %s", real, strerror(-r));
		goto fail;
	}
	r = catalog_load(o->data_dir ? o->data_dir : catalog_default_data_dir(), &e->x.cat, err);
	if (r == 0 && o->sources_dir)
		r = catalog_set_sources_dir(e->x.cat, o->sources_dir, err);
	if (r < 0)
		goto fail;
	r = docker_client_new(&dopts, &e->x.dc, err);
	if (r < 0)
		goto fail;
	r = logw_start(&e->x.lw);
	if (r < 0) {
		r = pfs_err_set(err, r, "cannot start the log writer thread");
		goto fail;
	}
	recovery_load(e);
	r = results_start(e);
	if (r < 0) {
		r = pfs_err_set(err, r, "cannot start the results thread");
		goto fail;
	}
	r = monitor_start(e);
	if (r < 0) {
		r = pfs_err_set(err, r, "cannot start the monitor thread");
		goto fail;
	}
	r = matrices_start(e);
	if (r < 0) {
		/* the monitor runs: the ordinary teardown stops it */
		pfs_err_set(err, r, "cannot start the matrices: %s", strerror(-r));
		engine_free(e);
		return r;
	}
	*out = e;
	return 0;
fail:
	pthread_mutex_lock(&e->x.conn.lock);
	e->x.conn.stopping = true;
	pthread_cond_broadcast(&e->x.conn.cv);
	pthread_mutex_unlock(&e->x.conn.lock);
	results_stop(&e->x);
	logw_stop(&e->x.lw);
	for (size_t i = 0; i < e->n_tests; i++) {
		pthread_mutex_lock(&e->tests[i]->lock);
		for (size_t k = 0; k < e->tests[i]->n_runs; k++)
			run_wake(e->tests[i]->runs[k]);
		pthread_mutex_unlock(&e->tests[i]->lock);
	}
	for (size_t i = 0; i < e->n_tests; i++)
		engine_test_put(e->tests[i]);
	free(e->tests);
	results_release(&e->x);
	docker_client_free(e->x.dc);
	logw_release(&e->x.lw);
	catalog_free(e->x.cat);
	free(e->x.state_dir);
	conn_destroy(&e->x.conn);
	pthread_mutex_destroy(&e->lock);
	free(e);
	return r;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	/* its thread calls the engine: it goes first */
	matrices_stop(e);
	pthread_mutex_lock(&e->x.conn.lock);
	e->x.conn.stopping = true;
	pthread_cond_broadcast(&e->x.conn.cv);
	pthread_mutex_unlock(&e->x.conn.lock);
	/* wake every driver; they leave their runs as they are */
	pthread_mutex_lock(&e->lock);
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
	pthread_mutex_unlock(&e->lock);
	monitor_join(e);
	results_stop(&e->x);
	for (size_t i = 0; i < e->n_tests; i++)
		for (size_t k = 0; k < e->tests[i]->n_runs; k++)
			if (e->tests[i]->runs[k]->thread) {
				pthread_join(e->tests[i]->runs[k]->th, NULL);
				e->tests[i]->runs[k]->thread = false;
			}
	/* what the streams brought is written before their runs go; later pieces are written at once */
	logw_stop(&e->x.lw);
	for (size_t i = 0; i < e->n_tests; i++)
		engine_test_put(e->tests[i]);
	free(e->tests);
	results_release(&e->x);
	docker_client_free(e->x.dc);
	logw_release(&e->x.lw);
	catalog_free(e->x.cat);
	free(e->x.state_dir);
	conn_destroy(&e->x.conn);
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

void engine_strv_free(char **v)
{
	pfs_strv_free(v);
}

char *engine_line(struct engine *e)
{
	char *s, *shown;

	pthread_mutex_lock(&e->x.conn.lock);
	shown = pfs_escape_ctl_dup(e->x.conn.line, 0);
	pthread_mutex_unlock(&e->x.conn.lock);
	s = shown ? pfs_strdup_printf("%s\n", shown) : NULL;
	free(shown);
	return s;
}

static struct svc *find_svc(struct run *r, const char *name)
{
	for (size_t i = 0; r && name && i < r->n_svcs; i++)
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

/* Text pantherfs shows (error, warnings): lines kept, control characters escaped. */
static void small_shown(struct engine_file *f, const char *text, const struct timespec *mt)
{
	f->data = pfs_escape_ctl_dup(text, PFS_ESC_KEEP_NL);
	f->len = f->data ? strlen(f->data) : 0;
	f->mtime = *mt;
}

/* One line, whatever its text holds (a daemon's message, a config's value). */
static void small_line(struct engine_file *f, const char *text, const struct timespec *mt)
{
	char *e = pfs_escape_ctl_dup(text, 0);
	char *s = e ? pfs_strdup_printf("%s%s", e, *e ? "\n" : "") : NULL;

	free(e);
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

static bool ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* The last change of anything status.json shows (t->lock held). */
static struct timespec status_key(struct run *r)
{
	struct timespec k = r->status_mtime;

	for (size_t i = 0; i < r->n_svcs; i++) {
		if (ts_after(&r->svcs[i].status_mtime, &k))
			k = r->svcs[i].status_mtime;
		if (ts_after(&r->svcs[i].command_mtime, &k))
			k = r->svcs[i].command_mtime;
	}
	return k;
}

static char *status_json_text(struct test *t, struct run *r)
{
	json_t *j = r ? run_status_json(r) : json_pack("{s:s,s:s,s:s}", "test", t->name, "state",
						       t->config_text ? "pending" : "empty", "status",
						       t->config_text ? "pending" : "empty");
	char *txt = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	char *with_nl = txt ? pfs_strdup_printf("%s\n", txt) : NULL;

	free(txt);
	json_decref(j);
	return with_nl;
}

/*
 * The one table of what each file is made of (t->lock held). With
 * want_data false, growing files get no path (a stat: the size is enough).
 */
static int file_of(struct test *t, struct run *r, int run, const char *service, enum pfs_file id,
		   struct engine_file *f, bool want_path)
{
	struct svc *s = NULL;
	char line[640] = "empty";

	if (run && !r)
		return -ENOENT;
	if (service && !(s = find_svc(r, service)))
		return -ENOENT;
	switch (id) {
	case PFS_F_COMMAND:
		small_line(f, s->command ? s->command : "", &s->command_mtime);
		break;
	case PFS_F_SVC_STATUS:
		small_line(f, s->status, &s->status_mtime);
		break;
	case PFS_F_ADDRESS:
		small_line(f, s->address, &s->status_mtime);
		break;
	case PFS_F_CONTAINER:
		small_line(f, s->container, &s->status_mtime);
		break;
	case PFS_F_IMAGE:
		small_line(f, s->image, &s->status_mtime);
		break;
	case PFS_F_LOGS:
		growing(f, want_path ? strdup(s->logs_path) : NULL, s->log_size, &s->log_mtime);
		break;
	case PFS_F_STATUS:
		if (r)
			run_status_line(r, line, sizeof(line));
		else if (t->config_text)
			snprintf(line, sizeof(line), "pending");
		small_line(f, line, r ? &r->status_mtime : &t->config_mtime);
		break;
	case PFS_F_STATUS_JSON:
		f->data = status_json_text(t, r);
		f->len = f->data ? strlen(f->data) : 0;
		f->mtime = r ? status_key(r) : t->config_mtime;
		break;
	case PFS_F_CONFIG:
		if (run)
			small(f, r->config_text, &r->status_mtime);
		else
			small(f, t->config_text, &t->config_mtime);
		break;
	case PFS_F_ERROR:
		small_shown(f, t->error_text, &t->error_mtime);
		break;
	case PFS_F_WARNINGS:
		small_shown(f, t->warnings_text, &t->warnings_mtime);
		break;
	case PFS_F_EVENTS:
		if (run)
			growing(f, want_path ? pfs_strdup_printf("%s/events", r->dir) : NULL, r->events_size, &r->events_mtime);
		else
			growing(f, want_path ? pfs_strdup_printf("%s/events", t->dir) : NULL, t->events_size,
				&t->events_mtime);
		break;
	case PFS_F_BUILD_LOG:
		if (r)
			growing(f, want_path ? pfs_strdup_printf("%s/build.log", r->dir) : NULL, r->build_size,
				&r->build_mtime);
		else
			small(f, "", &t->config_mtime);
		break;
	case PFS_F_RESULT_JSON:
	case PFS_F_SUMMARY_TSV:
	case PFS_F_SUMMARY_JSON:
	case PFS_F_SUMMARY_SVG:
		/* kept in memory by results.c; a stat copies nothing */
		return results_file(t, r, id, f, want_path);
	default:
		return -ENOENT;
	}
	if (!f->data && !(f->growing && (f->path || !want_path)))
		return -ENOMEM;
	return 0;
}

static bool at_ok(const char *test, enum pfs_file id, int run, const char *service)
{
	const struct pfs_name *n = pfs_name_of(id);
	unsigned where = !test ? PFS_AT_ROOT : service ? (run ? PFS_AT_RUN_SVC : PFS_AT_SVC) :
			 (run ? PFS_AT_RUN : PFS_AT_TEST);

	return n && (n->where & where) && !(n->flags & (PFS_N_DIR | PFS_N_FOLLOW));
}

int engine_file_get(struct engine *e, const char *test, int run, const char *service, enum pfs_file id,
		    struct engine_file *f)
{
	struct test *t;
	int rc;

	memset(f, 0, sizeof(*f));
	if (!at_ok(test, id, run, service))
		return -ENOENT;
	if (!test)
		return results_root_file(&e->x, id, f, true);
	t = engine_test_get(e, test);
	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	rc = file_of(t, test_find_run(t, run), run, service, id, f, true);
	pthread_mutex_unlock(&t->lock);
	engine_test_put(t);
	if (rc < 0)
		engine_file_release(f);
	return rc;
}

int engine_file_stat(struct engine *e, const char *test, int run, const char *service, enum pfs_file id,
		     size_t *size, struct timespec *mtime)
{
	struct engine_file f = { 0 };
	struct timespec key;
	struct test *t;
	struct run *r;
	int rc;

	if (!at_ok(test, id, run, service))
		return -ENOENT;
	if (!test) {
		rc = results_root_file(&e->x, id, &f, false);
		if (rc == 0) {
			*size = f.len;
			*mtime = f.mtime;
		}
		return rc;
	}
	t = engine_test_get(e, test);
	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	r = test_find_run(t, run);
	key = r ? status_key(r) : (struct timespec){ 0 };
	if (id == PFS_F_STATUS_JSON && r && r->status_json && key.tv_sec == r->status_json_key.tv_sec &&
	    key.tv_nsec == r->status_json_key.tv_nsec) {
		/* rendered already for this state: its size is known */
		f.len = strlen(r->status_json);
		f.mtime = r->status_json_key;
		rc = 0;
	} else {
		rc = file_of(t, r, run, service, id, &f, false);
		if (rc == 0 && id == PFS_F_STATUS_JSON && r) {
			/* kept: the next stat of an unchanged run renders nothing */
			free(r->status_json);
			r->status_json = f.data;
			r->status_json_key = f.mtime;
			f.data = NULL;
			f.len = strlen(r->status_json);
		}
	}
	pthread_mutex_unlock(&t->lock);
	engine_test_put(t);
	if (rc == 0) {
		*size = f.len;
		*mtime = f.mtime;
	}
	engine_file_release(&f);
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

char *engine_svc_dir(struct engine *e, const char *test, int run, const char *service, enum pfs_file id)
{
	const struct pfs_name *n = pfs_name_of(id);
	struct test *t = engine_test_get(e, test);
	char *dir = NULL;
	struct run *r;

	if (!t)
		return NULL;
	pthread_mutex_lock(&t->lock);
	r = test_find_run(t, run);
	if (r && n && (n->flags & (PFS_N_DISK_DIR | PFS_N_DISK_FILE)) && find_svc(r, service))
		dir = pfs_strdup_printf("%s/services/%s/%s", r->dir, service, n->name);
	pthread_mutex_unlock(&t->lock);
	engine_test_put(t);
	return dir;
}

char **engine_service_names(struct engine *e, const char *test, int run)
{
	struct test *t = engine_test_get(e, test);
	char **v = NULL;
	struct run *r;

	if (!t)
		return NULL;
	pthread_mutex_lock(&t->lock);
	r = test_find_run(t, run);
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
	bool live;

	if (!t)
		return false;
	pthread_mutex_lock(&t->lock);
	r = test_find_run(t, run);
	live = r && run_active(r);
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
	r = test_current_run(t);
	snprintf(out, outlen, "%s", r ? run_state_name(r->state) : t->config_text ? "pending" : "empty");
	pthread_mutex_unlock(&t->lock);
	engine_test_put(t);
	return 0;
}
