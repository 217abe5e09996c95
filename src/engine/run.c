/* SPDX-License-Identifier: MIT */
/*
 * One run's driver: its phases, on the run's own thread (test.c owns it).
 *
 *   build images -> network -> servers (each until it answers QUIC) ->
 *   clients -> wait for the verdict -> stop what still runs.
 *
 * Every phase returns one result: 0 (go on), PHASE_END (it decided how the
 * run ends and moved it to stopping with that verdict, through
 * run_transition()), RUN_LOST (the Docker engine went away), or another
 * -errno (a Docker call was refused; r->docker_msg says why: the run ends
 * in error). Nothing else reports an outcome.
 *
 * Every step is written to be re-entered: it looks at what exists (by the
 * container's recorded id, else its deterministic name) and adopts it, so
 * the same code starts a fresh run, resumes one after pantherfs was killed,
 * and reconciles after the Docker engine came back.
 *
 * State changes are written to run.json (and events appended) before they
 * are visible; notifications go out after t->lock is released.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_internal.h"
#include "pantherfs/certs.h"
#include "pantherfs/log.h"
#include "pantherfs/netem.h"
#include "pantherfs/metrics.h"
#include "pantherfs/probe.h"
#include "pantherfs/render.h"
#include "pantherfs/testcase.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define INSPECT_EVERY_MS 3000     /* fallback for a missed "die" event */
#define TAIL_WAIT_MS 5000         /* an exited client's last log lines */
#define PROFILE_GRACE_S 60        /* a profiled service's time to write its profile when stopped */

static void changed(struct run *r, enum engine_change what, const char *svc)
{
	engine_ctx_notify(r->t->x, what, r->t->name, r->n, svc);
}

static void lock(struct run *r) { pthread_mutex_lock(&r->t->lock); }
static void unlock(struct run *r) { pthread_mutex_unlock(&r->t->lock); }

static struct docker_client *dc_of(struct run *r)
{
	return r->t->x->dc;
}

/* A Docker call's result as a phase's: the engine gone is RUN_LOST. */
static int docker_rc(int rc)
{
	return conn_lost(rc) ? RUN_LOST : rc;
}

/* Decides the run's end: stopping, with the verdict it will end with. Returns PHASE_END. */
static int end_run(struct run *r, enum run_state verdict, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int end_run(struct run *r, enum run_state verdict, const char *fmt, ...)
{
	char why[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	run_transition(r, RS_STOPPING, verdict, "%s", why);
	return PHASE_END;
}

/* The test's `error`, for what users must know went wrong (t->lock held). */
static void set_test_error(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_test_error(struct run *r, const char *fmt, ...)
{
	struct test *t = r->t;
	char *text, *path;
	va_list ap;

	va_start(ap, fmt);
	text = pfs_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!text)
		return;
	free(t->error_text);
	t->error_text = text;
	pfs_realtime_ts(&t->error_mtime);
	path = pfs_strdup_printf("%s/error", t->dir);
	if (path)
		pfs_write_file_replace(path, text, strlen(text));
	free(path);
}

static bool stop_asked(struct run *r)
{
	bool s;

	lock(r);
	s = r->stop_req || r->kill_req;
	unlock(r);
	return s;
}

/* ---- life cycle ----------------------------------------------------------------------- */
void svc_init(struct run *r, struct svc *s, const struct cfg_service *c)
{
	s->r = r;
	s->name = strdup(c->name);
	s->cfg = c;
	s->exit_code = -1;
	s->logs_fd = -1;
	snprintf(s->status, sizeof(s->status), "waiting");
	for (s->n_lines = 0; c->success.lines && c->success.lines[s->n_lines]; s->n_lines++)
		;
	s->seen = calloc(s->n_lines + 1, sizeof(*s->seen));
	s->logs_path = pfs_strdup_printf("%s/services/%s/logs", r->dir, c->name);
	pfs_realtime_ts(&s->status_mtime);
	s->command_mtime = s->status_mtime;
}

static int write_command(struct svc *s)
{
	char *path = pfs_strdup_printf("%s/services/%s/command", s->r->dir, s->name);
	char *text = pfs_strdup_printf("%s\n", s->command ? s->command : "");
	int r = path && text ? pfs_write_file_replace(path, text, strlen(text)) : -ENOMEM;

	free(path);
	free(text);
	return r;
}

int run_render_command(struct run *r, struct svc *s, json_t *addresses)
{
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	struct pfs_err err = { 0 };

	int rc = render_command(r->t->x->cat, r->cfg, s->cfg, addresses, &b, &err);

	/*
	 * A command that does not render never runs: configs are refused when
	 * theirs do not render (config_load renders them), so this is a bug or
	 * a catalogue changed under a resumed run. The service keeps no
	 * command, and starting it fails the run (ensure_container).
	 */
	free(s->command);
	s->command = rc == 0 ? pfs_buf_steal(&b, NULL) : NULL;
	pfs_buf_release(&b);
	if (rc < 0)
		pfs_err_log("test %s run %d: the command of %s does not render: %s", r->t->name, r->n, s->name,
			    err.msg);
	pfs_realtime_ts(&s->command_mtime);
	write_command(s);
	return rc;
}

struct run *run_new(struct test *t, int n, const char *config, size_t len, struct pfs_config *cfg)
{
	struct run *r = calloc(1, sizeof(*r));
	char *path;

	if (!r)
		return NULL;
	r->t = t;
	r->n = n;
	r->state = RS_PENDING;
	r->build_fd = -1;
	r->dir = pfs_strdup_printf("%s/runs/%d", t->dir, n);
	r->config_text = malloc(len + 1);
	pthread_cond_init(&r->cv, NULL);
	r->cfg = cfg;
	r->created_ms = pfs_wall_ms();
	pfs_realtime_ts(&r->status_mtime);
	r->events_mtime = r->build_mtime = r->status_mtime;
	snprintf(r->net_name, sizeof(r->net_name), "pantherfs-%s-%s-%d", t->x->instance, t->name, n);
	if (!r->dir || !r->config_text || pfs_mkdir_p(r->dir, 0700) < 0) {
		r->cfg = NULL;
		run_free(r);
		return NULL;
	}
	memcpy(r->config_text, config, len);
	r->config_text[len] = '\0';
	r->config_len = len;
	path = pfs_strdup_printf("%s/config.yaml", r->dir);
	if (path)
		pfs_write_file_atomic(path, config, len);
	free(path);
	r->svcs = calloc(cfg->n_svc, sizeof(*r->svcs));
	r->n_svcs = cfg->n_svc;
	for (size_t i = 0; r->svcs && i < cfg->n_svc; i++) {
		char *dir;

		svc_init(r, &r->svcs[i], &cfg->svc[i]);
		dir = pfs_strdup_printf("%s/services/%s/results", r->dir, cfg->svc[i].name);
		if (dir)
			pfs_mkdir_p(dir, 0700);
		free(dir);
		run_render_command(r, &r->svcs[i], NULL);
		svc_logs_open(&r->svcs[i]);
	}
	return r;
}

void run_free(struct run *r)
{
	if (!r)
		return;
	/* the writer may still publish into these (its last `done` calls) */
	logw_wait_owner(&r->t->x->lw, &r->lw_pending);
	for (size_t i = 0; r->svcs && i < r->n_svcs; i++)
		logw_wait_owner(&r->t->x->lw, &r->svcs[i].lw_pending);
	for (size_t i = 0; r->svcs && i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];

		docker_call_unref(s->follow);
		if (s->logs_fd >= 0)
			close(s->logs_fd);
		free(s->name);
		free(s->command);
		free(s->seen);
		free(s->logs_path);
		json_decref(s->network);
	}
	free(r->svcs);
	if (r->build_fd >= 0)
		close(r->build_fd);
	docker_call_unref(r->build_call);
	results_run_clear(r);
	config_free(r->cfg);
	free(r->status_json);
	free(r->config_text);
	free(r->dir);
	pthread_cond_destroy(&r->cv);
	free(r);
}

/* ---- persistence --------------------------------------------------------------------------- */

void run_nap(struct run *r, long ms)
{
	struct timespec ts;

	/* an exit recorded off this thread: its run.json is written here, not on the I/O thread */
	if (r->save_pending)
		run_save(r);

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&r->cv, &r->t->lock, &ts);
}

/* ---- recording what containers did (t->lock held) ------------------------------------------- */

static bool atoi_safe_differs(const char *label, int n)
{
	long v;

	return pfs_parse_long(label, 0, 1L << 30, &v) < 0 || v != n;
}

/* Removes the containers and network of this test's earlier runs. */
static int clean_previous(struct run *r)
{
	struct docker_client *dc = dc_of(r);
	char label[300];
	const char *labels[] = { label, NULL, NULL };
	json_t *list = NULL, *it;
	size_t i;
	int rc;

	snprintf(label, sizeof(label), "pantherfs.test=%s", r->t->name);
	labels[1] = r->t->x->instance_label;
	rc = docker_container_list(dc, labels, true, &list, NULL);
	if (rc < 0)
		return docker_rc(rc);
	json_array_foreach(list, i, it) {
		const char *run = json_string_value(json_object_get(json_object_get(it, "Labels"), "pantherfs.run"));

		if (run && atoi_safe_differs(run, r->n)) {
			rc = docker_container_remove(dc, json_string_value(json_object_get(it, "Id")), true, NULL);
			if (conn_lost(rc)) {
				json_decref(list);
				return RUN_LOST;
			}
		}
	}
	json_decref(list);
	list = NULL;
	rc = docker_network_list(dc, labels, &list, NULL);
	if (rc < 0)
		return docker_rc(rc);
	json_array_foreach(list, i, it) {
		const char *run = json_string_value(json_object_get(json_object_get(it, "Labels"), "pantherfs.run"));

		if (run && atoi_safe_differs(run, r->n) &&
		    conn_lost(docker_network_remove(dc, json_string_value(json_object_get(it, "Id")), NULL))) {
			json_decref(list);
			return RUN_LOST;
		}
	}
	json_decref(list);
	lock(r);
	r->cleaned_previous = true;
	run_save(r);
	unlock(r);
	return 0;
}

/* -- images -- */

/* The text of a builder line without terminal colours (the builder paints stderr red). */
static void strip_ansi(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r == '\033' && r[1] == '[') {
			r += 2;
			while (*r && !(*r >= '@' && *r <= '~'))
				r++;
			if (!*r)
				break;
			continue;
		}
		*w++ = *r;
	}
	*w = '\0';
}

/* The builder's bookkeeping, not what went wrong. */
static bool build_noise(const char *l)
{
	return !*l || !strncmp(l, "ERROR: ", 7) || !strncmp(l, "Removing intermediate", 21) ||
	       !strncmp(l, " ---> ", 6) || !strncmp(l, "Step ", 5);
}

/*
 * Progress inside a long step: the Dockerfile says "pantherfs: building
 * NAME" as each source tree's build begins, and ninja numbers its jobs
 * "[N/M]". Together: "folly 250/669" (t->lock held).
 */
void run_build_progress_line(struct run *r, const char *line)
{
	static const char mark[] = "pantherfs: building ";
	unsigned long n, m;
	int used = 0;

	if (!strncmp(line, mark, sizeof(mark) - 1)) {
		snprintf(r->build_unit, sizeof(r->build_unit), "%.*s", (int)strcspn(line + sizeof(mark) - 1, " \t"),
			 line + sizeof(mark) - 1);
		snprintf(r->build_progress, sizeof(r->build_progress), "%s", r->build_unit);
		pfs_realtime_ts(&r->status_mtime);
	} else if (line[0] == '[' && sscanf(line, "[%lu/%lu]%n", &n, &m, &used) == 2 && used > 0 && n <= m) {
		snprintf(r->build_progress, sizeof(r->build_progress), "%s%s%lu/%lu", r->build_unit,
			 r->build_unit[0] ? " " : "", n, m);
		pfs_realtime_ts(&r->status_mtime);
	}
}

/* A line of build.log is on disk (the log writer's thread). */
static void b_written(void *owner, const struct logw_item *it, int rc)
{
	struct run *r = owner;

	lock(r);
	if (rc == 0) {
		r->build_size += (off_t)it->len;
		pfs_realtime_ts(&r->build_mtime);
	}
	unlock(r);
	changed(r, ENGINE_BUILD_LOG, NULL);
}

static void b_line(void *ud, const char *text, size_t len)
{
	struct run *r = ud;

	lock(r);
	if (r->build_fd >= 0) {
		/* to the log writer: the I/O thread never waits on the disk */
		struct logw_piece p = { .fd = r->build_fd, .data = text, .len = len, .nl = true, .owner = r,
					.done = b_written, .pending = &r->lw_pending, .producer = r->build_call };

		if (logw_push(&r->t->x->lw, &p) == 0) {
			r->build_size += (off_t)len + 1;
			pfs_realtime_ts(&r->build_mtime);
		}
	}
	if (len) {
		char line[sizeof(r->build_last_lines[0])];

		snprintf(line, sizeof(line), "%.*s", (int)len, text);
		strip_ansi(line);
		if (!build_noise(line)) {
			memmove(r->build_last_lines[0], r->build_last_lines[1], sizeof(r->build_last_lines[0]) * 2);
			memcpy(r->build_last_lines[2], line, sizeof(line));
		}
		run_build_progress_line(r, line);
	}
	unlock(r);
	changed(r, ENGINE_BUILD_LOG, NULL);
}

/* A step's event, in order with build.log's lines (on the log writer's thread, or at once). */
static void b_step_locked(struct run *r, int step)
{
	evlog_add_locked(r->t, r, "image.build_step", NULL,
			 json_pack("{s:s,s:i,s:i}", "image", r->build_what, "step", step, "steps", r->build_steps));
	pfs_realtime_ts(&r->status_mtime);
}

static void b_step_written(void *owner, const struct logw_item *it, int rc)
{
	struct run *r = owner;

	(void)rc;
	lock(r);
	b_step_locked(r, it->n);
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	changed(r, ENGINE_STATUS, NULL);
}

static void b_step(void *ud, int step, int steps)
{
	struct run *r = ud;
	struct logw_piece p = { .fd = -1, .owner = r, .done = b_step_written, .pending = &r->lw_pending, .n = step };
	bool now;

	lock(r);
	r->build_step = step;
	r->build_steps = steps;
	r->build_unit[0] = r->build_progress[0] = '\0';
	/* the event is a file append: the writer records it, after the lines before it */
	now = logw_push(&r->t->x->lw, &p) != 1;
	if (now)
		b_step_locked(r, step);
	unlock(r);
	if (now) {
		changed(r, ENGINE_EVENTS, NULL);
		changed(r, ENGINE_STATUS, NULL);
	}
}

/* The build is over once build.log and the step events are written. */
static void b_ended(void *owner, const struct logw_item *it, int rc)
{
	struct run *r = owner;

	(void)it;
	(void)rc;
	lock(r);
	r->build_done = true;
	run_wake(r);
	unlock(r);
}

static void b_done(void *ud, const struct docker_result *res, const char *id)
{
	struct run *r = ud;
	struct logw_piece p = { .fd = -1, .owner = r, .done = b_ended, .pending = &r->lw_pending };

	(void)id;
	lock(r);
	r->build_err = res->err;
	snprintf(r->build_msg, sizeof(r->build_msg), "%s", res->message);
	if (logw_push(&r->t->x->lw, &p) != 1) {
		r->build_done = true;
		run_wake(r);
	}
	unlock(r);
}

/*
 * Why a build failed, for status and error: the step, the command's exit
 * code, and the builder's last two meaningful lines (git's "Could not
 * resolve host", a compiler error), which say more than "non-zero code".
 */
static void build_reason(struct run *r, char *out, size_t n)
{
	const char *code = strstr(r->build_msg, "returned a non-zero code: ");
	const char *why[2] = { NULL, NULL };
	int k = 0;

	for (int i = 2; i >= 0 && k < 2; i--)
		if (!build_noise(r->build_last_lines[i]))
			why[k++] = r->build_last_lines[i];
	if (!k) {
		snprintf(out, n, "%s", r->build_msg);
		return;
	}
	snprintf(out, n, "failed at step %d/%d%s%s: %s%s%s", r->build_step, r->build_steps,
		 code ? ", exit " : "", code ? code + 26 : "", k == 2 ? why[1] : why[0], k == 2 ? " / " : "",
		 k == 2 ? why[0] : "");
}

/*
 * Waits for a build or pull stream (call, whose callbacks are b_*) to end.
 * A stop or kill asked meanwhile cancels it (dropping the connection ends the
 * daemon's work) and waits for its end callback all the same. Drops call.
 * Returns true when it was cancelled that way.
 */
static bool await_image_call(struct run *r, struct docker_call *call)
{
	bool stop;

	lock(r);
	r->build_call = call;
	while (!r->build_done && !r->stop_req && !r->kill_req)
		run_nap(r, 1000);
	stop = !r->build_done;
	unlock(r);
	if (stop) {
		docker_call_cancel(call);
		lock(r);
		while (!r->build_done)
			run_nap(r, 1000);
		unlock(r);
	}
	lock(r);
	r->build_call = NULL;
	unlock(r);
	docker_call_unref(call);
	return stop;
}


/* -- images -- */

/*
 * How long the last build of an implementation's version took, kept in the
 * state dir's build-times.json ({"mvfst:rfc9000": ms, ...}): the estimate
 * status shows while the next one builds. The driver's thread reads and
 * writes it (no lock: two runs writing at once lose one figure, nothing
 * else).
 */
static uint64_t build_time_get(struct run *r, const char *what)
{
	char *path = pfs_strdup_printf("%s/build-times.json", r->t->x->state_dir);
	json_t *j = path ? json_load_file(path, 0, NULL) : NULL;
	uint64_t ms = (uint64_t)json_integer_value(json_object_get(j, what));

	json_decref(j);
	free(path);
	return ms;
}

static void build_time_put(struct run *r, const char *what, uint64_t ms)
{
	char *path = pfs_strdup_printf("%s/build-times.json", r->t->x->state_dir);
	json_t *j = path ? json_load_file(path, 0, NULL) : NULL;
	char *txt;

	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	json_object_set_new(j, what, json_integer((json_int_t)ms));
	txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (path && txt)
		pfs_write_file_atomic(path, txt, strlen(txt));
	free(txt);
	free(path);
	json_decref(j);
}

static int build_one(struct run *r, const struct cfg_service *c, const struct image_plan *p)
{
	struct docker_build_cbs cbs = { .on_line = b_line, .on_step = b_step, .on_done = b_done, .ud = r };
	struct pfs_err err = { 0 };
	struct docker_call *call;
	json_t *args = json_object();
	char why[PFS_ERR_MSG_MAX + 300];
	bool stop;
	int rc;

	for (size_t k = 0; c->image.args && c->image.args[k] && c->image.args[k + 1]; k += 2)
		json_object_set_new(args, c->image.args[k], json_string(c->image.args[k + 1]));
	lock(r);
	snprintf(r->build_what, sizeof(r->build_what), "%s:%s", c->implementation, c->version_name);
	r->build_started_ms = pfs_wall_ms();
	r->build_estimate_ms = build_time_get(r, r->build_what);
	r->pulling = false;
	r->build_step = r->build_steps = 0;
	r->build_unit[0] = r->build_progress[0] = '\0';
	r->build_done = false;
	memset(r->build_last_lines, 0, sizeof(r->build_last_lines));
	evlog_add_locked(r->t, r, "image.build_started", NULL,
			 json_pack("{s:s,s:s,s:s,s:o,s:b}", "image", p->ref, "implementation", c->implementation,
				   "version", c->version_name, "args", args, "no_cache", r->no_cache));
	run_save(r);
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	changed(r, ENGINE_STATUS, NULL);

	call = image_build(dc_of(r), c, p, r->no_cache, &cbs, &err);
	if (!call) {
		snprintf(r->docker_msg, sizeof(r->docker_msg), "image %s: %s", p->ref, err.msg);
		return docker_rc(err.code ? err.code : -EIO);
	}
	stop = await_image_call(r, call);

	rc = r->build_err;
	if (rc == 0) {
		json_t *img = NULL;

		uint64_t took = pfs_wall_ms() - r->build_started_ms;

		docker_image_inspect(dc_of(r), p->ref, &img, NULL);
		build_time_put(r, r->build_what, took);
		evlog_add(r->t, r, "image.build_completed", NULL,
			  json_pack("{s:s,s:s,s:I}", "image", p->ref, "id", json_string_value(json_object_get(img, "Id")) ?: "",
				    "ms", (json_int_t)took));
		json_decref(img);
		return 0;
	}
	if (rc == -ECANCELED && stop)
		return 0; /* a stop request: the wait phase ends the run */
	if (conn_lost(rc))
		return RUN_LOST;
	lock(r);
	build_reason(r, why, sizeof(why));
	evlog_add_locked(r->t, r, "image.build_failed", NULL,
			 json_pack("{s:s,s:s}", "image", p->ref, "error", why));
	set_test_error(r, "run %d: image %s: build %s\n(the daemon said: %s)\n", r->n, p->ref, why, r->build_msg);
	unlock(r);
	return end_run(r, RS_ERROR, "image %s:%s: build %s", c->implementation, c->version_name, why);
}

/* One line of pantherfs's own into build.log, beside the daemon's. */
static void log_line(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(struct run *r, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	b_line(r, line, (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1);
}

/*
 * A prebuilt image (docker_image with build_from_source: false) that the
 * engine does not have: pull it, its progress going to build.log. A
 * failure ends the run with the registry's answer and what to do instead.
 */
static int pull_one(struct run *r, const struct cfg_service *c, const struct image_plan *p)
{
	struct docker_build_cbs cbs = { .on_line = b_line, .on_done = b_done, .ud = r };
	struct pfs_err err = { 0 };
	struct docker_call *call;
	json_t *img = NULL;
	bool stop;
	int rc;

	lock(r);
	snprintf(r->build_what, sizeof(r->build_what), "%s", p->ref);
	r->build_started_ms = pfs_wall_ms();
	r->build_estimate_ms = 0;
	r->pulling = true;
	r->build_step = r->build_steps = 0;
	r->build_done = false;
	memset(r->build_last_lines, 0, sizeof(r->build_last_lines));
	evlog_add_locked(r->t, r, "image.pull_started", c->name, json_pack("{s:s}", "image", p->ref));
	run_save(r);
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	changed(r, ENGINE_STATUS, NULL);
	log_line(r, "pulling %s", p->ref);

	call = docker_image_pull(dc_of(r), p->ref, &cbs, &err);
	if (!call) {
		snprintf(r->docker_msg, sizeof(r->docker_msg), "image %s: %s", p->ref, err.msg);
		return docker_rc(err.code ? err.code : -EIO);
	}
	stop = await_image_call(r, call);

	rc = r->build_err;
	if (rc == -ECANCELED && stop)
		return 0;
	if (conn_lost(rc))
		return RUN_LOST;
	if (rc == 0) {
		rc = docker_image_inspect(dc_of(r), p->ref, &img, &err);
		if (conn_lost(rc))
			return RUN_LOST;
		if (rc == 0) {
			evlog_add(r->t, r, "image.pulled", c->name,
				  json_pack("{s:s,s:s}", "image", p->ref,
					    "id", json_string_value(json_object_get(img, "Id")) ?: ""));
			json_decref(img);
			return 0;
		}
		snprintf(r->build_msg, sizeof(r->build_msg), "the pull ended but the engine has no such image");
	}
	log_line(r, "cannot pull %s: %s", p->ref, r->build_msg);
	evlog_add(r->t, r, "image.pull_failed", c->name,
		  json_pack("{s:s,s:s}", "image", p->ref, "error", r->build_msg));
	return end_run(r, RS_ERROR, "image %s of %s: cannot pull it: %s (build it with build_from_source: true, or "
		       "load it into the engine first)", p->ref, c->name, r->build_msg);
}

/* Makes sure the image of one service (or the netem helper) exists: cached, pulled or built now. */
static int ensure_image(struct run *r, const struct cfg_service *c, const struct image_plan *p)
{
	bool force = (r->force_build || r->no_cache) && !c->image.prebuilt;
	struct pfs_err err = { 0 };
	json_t *img = NULL;
	int ir;

	ir = force ? -ENOENT : docker_image_inspect(dc_of(r), p->ref, &img, &err);
	if (conn_lost(ir))
		return RUN_LOST;
	if (ir == 0) {
		evlog_add(r->t, r, "image.cached", NULL,
			  json_pack("{s:s,s:s}", "image", p->ref, "id", json_string_value(json_object_get(img, "Id")) ?: ""));
		json_decref(img);
		return 0;
	}
	if (ir != -ENOENT)
		return end_run(r, RS_ERROR, "image %s: %s", p->ref, err.msg);
	return c->image.prebuilt ? pull_one(r, c, p) : build_one(r, c, p);
}

/* Through the registry when there is one (registry.c): built once for every engine that pulls. */
static int ensure_image_or_registry(struct run *r, const struct cfg_service *c, const struct image_plan *p)
{
	if (r->t->x->registry[0] && !c->image.prebuilt)
		return registry_ensure_image(r, c, p);
	return ensure_image(r, c, p);
}

/* The netem helper's image (shape.c), when a service is shaped or captured: built like any other. */
static int ensure_netem_image(struct run *r)
{
	struct pfs_err err = { 0 };
	struct image_plan p;
	json_t *img = NULL;
	int rc;

	if (image_plan_compute(r->cfg->netem, &p, &err) < 0)
		return end_run(r, RS_ERROR, "image of the netem helper: %s", err.msg);
	rc = ensure_image(r, r->cfg->netem, &p);
	if (rc != 0 || stop_asked(r))
		return rc;
	rc = docker_image_inspect(dc_of(r), p.ref, &img, NULL);
	if (conn_lost(rc))
		return RUN_LOST;
	lock(r);
	snprintf(r->netem_image, sizeof(r->netem_image), "%s %s", p.ref,
		 json_string_value(json_object_get(img, "Id")) ?: "");
	run_save(r);
	unlock(r);
	json_decref(img);
	return 0;
}

static int phase_build(struct run *r)
{
	char *bp = pfs_strdup_printf("%s/build.log", r->dir);
	int rc = 0;

	lock(r);
	run_transition_locked(r, RS_BUILDING, RS_BUILDING, "images");
	if (r->build_fd < 0 && bp)
		r->build_fd = open(bp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	unlock(r);
	free(bp);
	changed(r, ENGINE_STATUS, NULL);
	changed(r, ENGINE_EVENTS, NULL);

	for (size_t i = 0; i < r->n_svcs && rc == 0; i++) {
		struct svc *s = &r->svcs[i];
		struct image_plan p;
		struct pfs_err err = { 0 };
		const char *shared = NULL;
		json_t *img = NULL;

		if (image_plan_compute(s->cfg, &p, &err) < 0)
			return end_run(r, RS_ERROR, "image of %s: %s", s->name, err.msg);
		/* services of one implementation and version share an image */
		for (size_t k = 0; k < i && !shared; k++)
			if (!strncmp(r->svcs[k].image, p.ref, strlen(p.ref)) && r->svcs[k].image[strlen(p.ref)] == ' ')
				shared = r->svcs[k].image;
		if (!shared) {
			rc = ensure_image_or_registry(r, s->cfg, &p);
			if (rc != 0 || stop_asked(r))
				break;
			if (conn_lost(docker_image_inspect(dc_of(r), p.ref, &img, NULL)))
				return RUN_LOST;
		}
		lock(r);
		if (shared)
			memmove(s->image, shared, strlen(shared) + 1);
		else
			snprintf(s->image, sizeof(s->image), "%s %s", p.ref,
				 json_string_value(json_object_get(img, "Id")) ?: "");
		run_save(r);
		unlock(r);
		json_decref(img);
	}
	/* a Swarm applies no network conditions (swarm_decide says so): no helper */
	if (rc == 0 && !stop_asked(r) && r->cfg->netem && !run_on_swarm(r))
		rc = ensure_netem_image(r);
	return rc;
}

/* -- network -- */

static int ensure_network(struct run *r)
{
	char runbuf[16], *id = NULL;
	const char *const *labels = run_labels(r, NULL, runbuf, sizeof(runbuf));
	struct pfs_err err = { 0 };
	json_t *j = NULL;
	int rc;
	char l1[96], l2[160], l3[48];
	const char *filter[] = { l1, l2, l3, NULL };

	if (run_on_swarm(r))
		return swarm_ensure_network(r);
	/* by its labels: Docker lets two networks share a name, and then a name is "ambiguous" */
	snprintf(l1, sizeof(l1), "%s", r->t->x->instance_label);
	snprintf(l2, sizeof(l2), "pantherfs.test=%s", r->t->name);
	snprintf(l3, sizeof(l3), "pantherfs.run=%d", r->n);
	rc = docker_network_list(dc_of(r), filter, &j, &err);
	if (rc < 0) {
		snprintf(r->docker_msg, sizeof(r->docker_msg), "network %s: %s", r->net_name, err.msg);
		return docker_rc(rc);
	}
	if (json_array_size(j) > 0) {
		lock(r);
		snprintf(r->net_id, sizeof(r->net_id), "%s",
			 json_string_value(json_object_get(json_array_get(j, 0), "Id")) ?: "");
		if (!r->net_announced) {
			/* created just before pantherfs was killed: announce it now */
			evlog_add_locked(r->t, r, "network.created", NULL,
					 json_pack("{s:s,s:s}", "name", r->net_name, "id", r->net_id));
			r->net_announced = true;
		}
		unlock(r);
		/* a second one of this run (a create answered to no one): gone */
		for (size_t i = 1; i < json_array_size(j); i++)
			docker_network_remove(dc_of(r), json_string_value(json_object_get(json_array_get(j, i), "Id")), NULL);
		json_decref(j);
		return 0;
	}
	json_decref(j);
	j = NULL;
	rc = docker_network_create(dc_of(r), r->net_name, labels, false, &id, &err);
	if (rc < 0) {
		/* e.g. "could not find an available, non-overlapping IPv4 address pool" */
		snprintf(r->docker_msg, sizeof(r->docker_msg), "cannot create the network %s: %s", r->net_name,
			 err.msg);
		return docker_rc(rc);
	}
	/*
	 * Another of this run's name may exist: a create that timed out here (an
	 * engine under load took 45 s) and was tried again can still succeed in
	 * the engine, and CheckDuplicate does not stop two creates at once. The
	 * containers name the network by id, and the others go.
	 */
	if (docker_network_list(dc_of(r), filter, &j, NULL) == 0)
		for (size_t i = 0; i < json_array_size(j); i++) {
			const char *other = json_string_value(json_object_get(json_array_get(j, i), "Id"));

			if (other && strcmp(other, id))
				docker_network_remove(dc_of(r), other, NULL);
		}
	json_decref(j);
	lock(r);
	snprintf(r->net_id, sizeof(r->net_id), "%s", id);
	evlog_add_locked(r->t, r, "network.created", NULL, json_pack("{s:s,s:s}", "name", r->net_name, "id", id));
	r->net_announced = true;
	run_save(r);
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	free(id);
	return 0;
}

/* -- containers -- */

void run_net_ref(struct run *r, char *out, size_t n)
{
	lock(r);
	snprintf(out, n, "%s", r->net_id[0] ? r->net_id : r->net_name);
	unlock(r);
}

static void image_ref(const struct svc *s, char *out, size_t n)
{
	snprintf(out, n, "%.*s", (int)strcspn(s->image, " "), s->image);
}

static int create_container(struct run *r, struct svc *s, const char *name)
{
	char ref[300], runbuf[16], results[600], cert[900], key[900], files[600], svc_dir[600], mode[120], *id = NULL;
	const char *binds[10] = { results, NULL };
	size_t nb = 1;
	struct netem_mounts nm = { { NULL } };
	char *script = NULL;
	const char *argv[] = { "sh", "-c", NULL, NULL };
	const char *aliases[] = { s->name, NULL };
	static const char *const ptrace_cap[] = { "SYS_PTRACE", NULL };
	const char *const *labels = run_labels(r, s->name, runbuf, sizeof(runbuf));
	const char **env = NULL;
	size_t nenv = 0;
	char net[sizeof(r->net_id) > sizeof(r->net_name) ? sizeof(r->net_id) : sizeof(r->net_name)];
	struct docker_container_spec sp = { .name = name, .cmd = argv,
					    .labels = labels, .network = net, .aliases = aliases,
					    .binds = binds, .init = true };
	struct pfs_err err = { 0 };
	bool tracer = false;
	int rc;

	/* by id: a name can be ambiguous (see ensure_network) */
	run_net_ref(r, net, sizeof(net));
	if (!s->command)
		return end_run(r, RS_ERROR, "the command of %s does not render (see the log)", s->name);
	/*
	 * How a stop reaches the program. Docker's init (tini) passes a signal
	 * to its child, the shell running the command, which dash does not
	 * exec: a TERM killed the shell, init exited, and the kernel killed the
	 * program without its TERM (a profiler never wrote its profile). With
	 * TINI_KILL_PROCESS_GROUP the TERM goes to the whole group, so the
	 * program gets it; the shell traps it and waits for the program, so
	 * init lives until the program has ended.
	 */
	script = pfs_strdup_printf("trap : TERM INT; %s", s->command);
	for (nenv = 0; s->cfg->env && s->cfg->env[nenv]; nenv++)
		;
	env = calloc(nenv + 2, sizeof(*env));
	if (!script || !env) {
		free(script);
		free(env);
		return end_run(r, RS_ERROR, "out of memory creating the container of %s", s->name);
	}
	for (size_t i = 0; i < nenv; i++)
		env[i] = s->cfg->env[i];
	env[nenv] = "TINI_KILL_PROCESS_GROUP=1";
	argv[2] = script;
	sp.env = env;
	image_ref(s, ref, sizeof(ref));
	sp.image = ref;
	snprintf(results, sizeof(results), "%s/services/%s/results:%s", r->dir, s->name, CONFIG_RESULTS_DIR);
	/* each file where the config (or CONFIG_CERTS_DIR) says the program reads it */
	if (s->cfg->gen_certs) {
		snprintf(cert, sizeof(cert), "%s/certs/cert.pem:%s:ro", r->dir, s->cfg->cert_path);
		snprintf(key, sizeof(key), "%s/certs/key.pem:%s:ro", r->dir, s->cfg->key_path);
		binds[nb++] = cert;
		binds[nb++] = key;
	}
	/* a testcase: servers serve the run's files, clients fetch into a folder of their own */
	if (r->cfg->testcase >= 0 && s->cfg->role == CFG_SERVER) {
		snprintf(files, sizeof(files), "%s/www:%s:ro", r->dir, CONFIG_WWW_DIR);
		binds[nb++] = files;
	} else if (r->cfg->testcase >= 0) {
		snprintf(files, sizeof(files), "%s/services/%s/downloads", r->dir, s->name);
		pfs_mkdir_p(files, 0700);
		snprintf(files + strlen(files), sizeof(files) - strlen(files), ":%s", CONFIG_DOWNLOADS_DIR);
		binds[nb++] = files;
	}
	/* qlog/ and keys.log, written by the program into its state dir (with or without a helper) */
	snprintf(svc_dir, sizeof(svc_dir), "%s/services/%s", r->dir, s->name);
	if (netem_service_mounts(s->cfg, svc_dir, &nm, &err) < 0)
		return end_run(r, RS_ERROR, "the container of %s: %s", s->name, err.msg);
	for (size_t i = 0; nm.binds[i]; i++)
		binds[nb++] = nm.binds[i];
	if (s->helper[0]) {
		/* in its helper's namespace: shaped from its first packet; its name is the helper's alias */
		netem_network_mode(s->helper, mode, sizeof(mode));
		sp.network = mode;
		sp.aliases = NULL;
	}
	for (size_t i = 0; r->cfg->exec_envs && r->cfg->exec_envs[i]; i++)
		tracer |= !strcmp(r->cfg->exec_envs[i], "strace") || !strcmp(r->cfg->exec_envs[i], "gdb");
	if (tracer)
		sp.cap_add = ptrace_cap;
	rc = docker_container_create(dc_of(r), &sp, &id, &err);
	free(script);
	free(env);
	netem_mounts_release(&nm);
	if (rc < 0) {
		if (conn_lost(rc))
			return RUN_LOST;
		return end_run(r, RS_ERROR, "cannot create the container of %s: %s", s->name, err.msg);
	}
	lock(r);
	snprintf(s->container, sizeof(s->container), "%s", id);
	s->created = true;
	svc_set_status(s, "created");
	evlog_add_locked(r->t, r, "service.created", s->name,
			 json_pack("{s:s,s:s,s:s}", "container", id, "name", name, "image", ref));
	run_save(r);
	unlock(r);
	free(id);
	changed(r, ENGINE_STATUS, s->name);
	changed(r, ENGINE_EVENTS, NULL);
	return 0;
}

/* The service's netem helper first (shape.c); what stops it ends the run, saying why. */
static int shape_service(struct run *r, struct svc *s)
{
	struct pfs_err err = { 0 };
	bool starting;
	int rc;

	if (!svc_shaped(s))
		return 0;
	lock(r);
	starting = r->state == RS_STARTING;
	if (starting) {
		snprintf(r->reason, sizeof(r->reason), "%s: network", s->name);
		pfs_realtime_ts(&r->status_mtime);
	}
	unlock(r);
	changed(r, ENGINE_STATUS, NULL);
	rc = shape_ensure(r, s, &err);
	if (rc == 0 && starting) {
		lock(r);
		snprintf(r->reason, sizeof(r->reason), "%s", s->name);
		pfs_realtime_ts(&r->status_mtime);
		unlock(r);
	}
	if (rc == 0 || rc == RUN_LOST)
		return rc;
	if (rc == -ENETDOWN)
		return end_run(r, RS_FAILED, "%s", err.msg);
	lock(r);
	set_test_error(r, "run %d: the network of %s: %s\n", r->n, s->name, err.msg);
	unlock(r);
	return end_run(r, RS_ERROR, "the network of %s: %s", s->name, err.msg);
}

/* Creates and starts a service's container, or adopts the one that exists. */
static int ensure_container(struct run *r, struct svc *s)
{
	struct docker_client *dc = dc_of(r);
	char name[300];
	struct docker_container_state st;
	struct pfs_err err = { 0 };
	bool changed_later = false;
	uint64_t gen = conn_gen(&r->t->x->conn);
	json_t *j = NULL;
	int rc;

	if (run_on_swarm(r))
		return swarm_ensure_service(r, s);
	rc = shape_service(r, s);
	if (rc != 0)
		return rc;
	snprintf(name, sizeof(name), "pantherfs-%s-%s-%d-%s", r->t->x->instance, r->t->name, r->n, s->name);
	rc = docker_container_inspect(dc, s->container[0] ? s->container : name, &j, NULL);
	if (rc == -ENOENT && s->created) {
		lock(r);
		s->lost = true;
		svc_set_status(s, "lost");
		evlog_add_locked(r->t, r, "service.lost", s->name, json_pack("{s:s}", "container", s->container));
		unlock(r);
		changed(r, ENGINE_STATUS, s->name);
		return end_run(r, RS_FAILED, "lost: the container of %s is gone", s->name);
	}
	if (rc == -ENOENT) {
		rc = create_container(r, s, name);
		if (rc != 0)
			return rc;
	} else if (rc < 0) {
		return docker_rc(rc);
	} else {
		lock(r);
		snprintf(s->container, sizeof(s->container), "%s", json_string_value(json_object_get(j, "Id")) ?: "");
		if (!s->created) {
			/* created just before pantherfs was killed: found by its name, announced now */
			evlog_add_locked(r->t, r, "service.created", s->name,
					 json_pack("{s:s,s:s,s:b}", "container", s->container, "name", name, "adopted", 1));
			changed_later = true;
		}
		s->created = true;
		run_save(r);
		unlock(r);
	}
	json_decref(j);
	j = NULL;

	rc = docker_container_inspect(dc, s->container, &j, NULL);
	if (rc < 0)
		return docker_rc(rc);
	docker_inspect_state(j, &st);
	if (!st.running && !strcmp(st.status, "created")) {
		rc = docker_container_start(dc, s->container, &err);
		if (rc == -EIO) {
			/* containerd can refuse for a moment around an engine restart ("task ... already exists") */
			lock(r);
			run_nap(r, 1000);
			unlock(r);
			rc = docker_container_start(dc, s->container, &err);
		}
		if (rc < 0) {
			json_decref(j);
			if (conn_lost(rc))
				return RUN_LOST;
			return end_run(r, RS_ERROR, "cannot start %s: %s", s->name, err.msg);
		}
		lock(r);
		s->started = true;
		svc_set_status(s, "starting");
		evlog_add_locked(r->t, r, "service.started", s->name, json_pack("{s:s}", "container", s->container));
		run_save(r);
		unlock(r);
		changed(r, ENGINE_EVENTS, NULL);
		json_decref(j);
		j = NULL;
		rc = docker_container_inspect(dc, s->container, &j, NULL);
		if (rc < 0)
			return docker_rc(rc);
		docker_inspect_state(j, &st);
	}
	lock(r);
	if (!s->started) {
		/* started while pantherfs was away (killed during the start call): say so once */
		evlog_add_locked(r->t, r, "service.started", s->name,
				 json_pack("{s:s,s:b}", "container", s->container, "adopted", 1));
		changed_later = true;
	}
	s->started = true;
	if (!s->address[0])
		docker_inspect_ip(j, r->net_name, s->address, sizeof(s->address));
	if (st.running && !s->ready && strcmp(s->status, "running"))
		svc_set_status(s, "running");
	if (!st.running && !s->exited)
		svc_record_exit(s, st.exit_code);
	run_save(r);
	unlock(r);
	json_decref(j);
	changed(r, ENGINE_STATUS, s->name);
	if (changed_later)
		changed(r, ENGINE_EVENTS, NULL);
	/* follow what it prints; an exited container gives what is left and ends */
	svc_follow_start(s, true, gen);
	return 0;
}

/* -- readiness -- */

/*
 * Probes a server until it answers QUIC: at once, then after 2, 5 and 10
 * ms, every 10 ms for the first 3 s, then backing off to every 100 ms
 * (quic_probe_interval_ms), so readiness is seen within milliseconds of the
 * server listening without hammering a slow one. One prober (one socket,
 * one pair of connection ids) serves the whole wait, so a late answer to an
 * earlier probe counts.
 */
static int wait_ready(struct run *r, struct svc *s)
{
	int bound = r->t->x->ready_s, rc = 0;
	uint64_t until, now = pfs_wall_ms(), first = pfs_now_ms();
	uint32_t versions[16];
	struct quic_prober *pr = NULL;
	unsigned attempt = 0;

	if (s->ready)
		return 0;
	if (run_on_swarm(r))
		return swarm_wait_ready(r, s);
	until = now + (uint64_t)bound * 1000;
	for (;;) {
		size_t n = PFS_ARRAY_SIZE(versions);
		bool exited, stop, net_lost;
		int code, lost_code, wait = quic_probe_interval_ms(attempt++, pfs_now_ms() - first);
		uint64_t sent = pfs_now_ms();

		lock(r);
		exited = s->exited;
		code = s->exit_code;
		stop = r->stop_req || r->kill_req;
		net_lost = s->net_lost;
		lost_code = s->net_lost_code;
		unlock(r);
		if (stop)
			goto out;
		if (exited) {
			rc = end_run(r, RS_FAILED, "server %s exited %d before it answered QUIC", s->name, code);
			goto out;
		}
		if (net_lost) {
			rc = end_run(r, RS_FAILED, "the netem helper of %s exited %d: %s lost its network", s->name,
				     lost_code, s->name);
			goto out;
		}
		if (!pr && quic_prober_new(s->address, (int)s->cfg->port, &pr) < 0)
			pr = NULL; /* no socket now: the next turn tries again */
		/* the interval is also the probe's wait for its answer (see probe.h) */
		if (pr && quic_prober_send(pr) == 0 && quic_prober_wait(pr, wait, versions, &n) == 0) {
			json_t *vs = json_array();

			for (size_t i = 0; i < n; i++) {
				char hex[16];

				snprintf(hex, sizeof(hex), "0x%08x", versions[i]);
				json_array_append_new(vs, json_string(hex));
			}
			lock(r);
			s->ready = true;
			svc_set_status(s, "ready");
			evlog_add_locked(r->t, r, "service.ready", s->name,
					 json_pack("{s:s,s:I,s:o}", "address", s->address, "port", (json_int_t)s->cfg->port,
						   "versions", vs));
			run_save(r);
			unlock(r);
			changed(r, ENGINE_STATUS, s->name);
			changed(r, ENGINE_EVENTS, NULL);
			goto out;
		}
		if (pfs_wall_ms() >= until) {
			char why[512];

			snprintf(why, sizeof(why), "server %s did not answer QUIC at %s:%ld within %d s", s->name,
				 s->address, s->cfg->port, (int)((until - now + 999) / 1000));
			/* a lossy or blackholed network is the likely reason: say it */
			shape_note(s, why, sizeof(why));
			rc = end_run(r, RS_FAILED, "%s", why);
			goto out;
		}
		if (pfs_now_ms() - sent < (uint64_t)wait) {
			lock(r);
			run_nap(r, wait - (long)(pfs_now_ms() - sent));
			unlock(r);
		}
	}
out:
	quic_prober_free(pr);
	return rc;
}

static int make_certs(struct run *r)
{
	for (size_t i = 0; i < r->n_svcs; i++)
		if (r->svcs[i].cfg->gen_certs) {
			char *dir = pfs_strdup_printf("%s/certs", r->dir), *key = pfs_strdup_printf("%s/certs/key.pem", r->dir);
			struct pfs_err err = { 0 };
			int rc = 0;

			if (dir && key && access(key, R_OK) < 0 &&
			    (pfs_mkdir_p(dir, 0700) < 0 || certs_generate(dir, r->svcs[i].name, &err) < 0))
				rc = end_run(r, RS_ERROR, "cannot make a certificate for %s: %s", r->svcs[i].name, err.msg);
			free(dir);
			free(key);
			return rc;
		}
	return 0;
}

/*
 * The testcase's files, fresh for every run (testcase.h): written aside and
 * renamed into runs/<n>/www, so a run taken up again never serves a half
 * written set.
 */
static int make_www(struct run *r)
{
	char *dir = pfs_strdup_printf("%s/www", r->dir), *tmp = pfs_strdup_printf("%s/www.tmp", r->dir);
	struct pfs_err err = { 0 };
	int rc = 0;

	if (!dir || !tmp) {
		rc = end_run(r, RS_ERROR, "out of memory making the files of testcase %s", tc_name(r->cfg->testcase));
		goto out;
	}
	if (access(dir, F_OK) == 0)
		goto out;
	pfs_rm_rf(tmp);
	if (tc_make_files(r->cfg->testcase, tmp, &err) < 0)
		rc = end_run(r, RS_ERROR, "cannot make the files of testcase %s: %s", tc_name(r->cfg->testcase), err.msg);
	else if (rename(tmp, dir) < 0)
		rc = end_run(r, RS_ERROR, "cannot make the files of testcase %s: %s: %s", tc_name(r->cfg->testcase), dir,
			     strerror(errno));
out:
	free(dir);
	free(tmp);
	return rc;
}

static int phase_start(struct run *r)
{
	json_t *addr = json_object();
	int rc;

	run_transition(r, RS_STARTING, RS_STARTING, "network");
	rc = ensure_network(r);
	if (rc == 0)
		rc = make_certs(r);
	if (rc == 0 && r->cfg->testcase >= 0)
		rc = make_www(r);
	/* servers, each until it answers QUIC; then clients with their addresses */
	for (int pass = 0; pass < 2 && rc == 0; pass++)
		for (size_t i = 0; i < r->n_svcs && rc == 0; i++) {
			struct svc *s = &r->svcs[i];

			if ((pass == 0) != (s->cfg->role == CFG_SERVER))
				continue;
			if (stop_asked(r))
				break;
			lock(r);
			snprintf(r->reason, sizeof(r->reason), "%s", s->name);
			pfs_realtime_ts(&r->status_mtime);
			unlock(r);
			if (pass == 1 && !s->created)
				run_render_command(r, s, addr);
			changed(r, ENGINE_STATUS, s->name);
			rc = ensure_container(r, s);
			if (rc == 0 && pass == 0) {
				rc = wait_ready(r, s);
				json_object_set_new(addr, s->name, json_string(s->address));
			}
		}
	json_decref(addr);
	if (rc == 0 && !stop_asked(r))
		run_transition(r, RS_RUNNING, RS_RUNNING, "%s", "");
	return rc;
}

/* A resumed run, or one after a reconnect: adopt every container again. */
static int phase_adopt(struct run *r)
{
	int rc = 0;

	for (size_t i = 0; i < r->n_svcs && rc == 0; i++)
		rc = r->svcs[i].created ? ensure_container(r, &r->svcs[i]) : 0;
	return rc;
}

/* -- waiting for the verdict -- */

/* Judges finished clients; true with the verdict when the run is over (t->lock held). */
static bool verdict(struct run *r, enum run_state *st, char *why, size_t n)
{
	size_t clients = 0, done = 0, ok = 0;
	uint64_t now = pfs_wall_ms();

	for (size_t i = 0; i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];

		if (s->net_lost) {
			/* its helper held its network namespace: nothing it does from now on means anything */
			*st = RS_FAILED;
			snprintf(why, n, "the netem helper of %s exited %d: %s lost its network", s->name, s->net_lost_code,
				 s->name);
			return true;
		}
		if (s->cfg->role == CFG_SERVER) {
			if (s->exited && !s->stop_sent) {
				*st = RS_FAILED;
				snprintf(why, n, "server %s exited %d", s->name, s->exit_code);
				return true;
			}
			continue;
		}
		clients++;
		if (!s->finished && s->exited && !s->stop_sent) {
			/* its last lines may still be on their way */
			if (s->n_lines && s->n_seen < s->n_lines && !s->follow_done &&
			    now - (uint64_t)s->status_mtime.tv_sec * 1000 < TAIL_WAIT_MS)
				continue;
			/* a testcase client that exited 0 is finished once judged (judge_clients) */
			if (r->cfg->testcase >= 0 && s->exit_code == 0 && !s->judged)
				continue;
			s->finished = true;
			s->success = (!s->cfg->success.exit_code || s->exit_code == 0) && s->n_seen == s->n_lines &&
				     (r->cfg->testcase < 0 || s->judge_ok);
		}
		if (!s->finished && s->stop_sent && s->exited) {
			s->finished = true;
			s->success = s->n_seen == s->n_lines;
		}
		done += s->finished;
		ok += s->finished && s->success;
	}
	if (clients && done == clients) {
		*st = ok == clients ? RS_SUCCEEDED : RS_FAILED;
		if (ok == clients && r->cfg->testcase >= 0) {
			for (size_t i = 0; i < r->n_svcs; i++)
				if (r->svcs[i].cfg->role == CFG_CLIENT) {
					snprintf(why, n, "testcase %s: %s%s%s", tc_name(r->cfg->testcase),
						 clients > 1 ? r->svcs[i].name : "", clients > 1 ? ": " : "",
						 r->svcs[i].judgement);
					break;
				}
		} else if (ok == clients) {
			snprintf(why, n, "%zu client%s finished", clients, clients == 1 ? "" : "s");
		} else {
			for (size_t i = 0; i < r->n_svcs; i++) {
				struct svc *s = &r->svcs[i];

				if (s->cfg->role != CFG_CLIENT || s->success)
					continue;
				if (s->cfg->success.exit_code && s->exit_code != 0 && !s->stop_sent)
					snprintf(why, n, "client %s exited %d", s->name, s->exit_code);
				else if (s->judged && !s->judge_ok)
					snprintf(why, n, "client %s: testcase %s: %s", s->name, tc_name(r->cfg->testcase),
						 s->judgement);
				else
					snprintf(why, n, "client %s: %zu of %zu expected lines seen", s->name, s->n_seen,
						 s->n_lines);
				/* the conditions it ran under, and its server's: often the reason */
				shape_note(s, why, n);
				for (size_t k = 0; s->cfg->target && k < r->n_svcs; k++)
					if (!strcmp(r->svcs[k].name, s->cfg->target))
						shape_note(&r->svcs[k], why, n);
				break;
			}
		}
		return true;
	}
	if (r->stop_req || r->kill_req) {
		*st = RS_STOPPED;
		snprintf(why, n, "%s", r->kill_req ? "killed" : "stopped");
		return true;
	}
	if (r->deadline_ms && now >= r->deadline_ms) {
		if (!clients) {
			*st = RS_SUCCEEDED;
			snprintf(why, n, "servers ran their %ld s", r->cfg->timeout_s);
		} else {
			*st = RS_FAILED;
			snprintf(why, n, "timeout after %ld s", r->cfg->timeout_s);
			for (size_t i = 0; i < r->n_svcs; i++)
				shape_note(&r->svcs[i], why, n);
		}
		return true;
	}
	return false;
}

/*
 * How long a stopped service may take to end: a profiled one writes its
 * profile and turns it into text first (templates/wrappers/gperf_*.jinja).
 */
static int stop_grace(struct run *r)
{
	for (size_t i = 0; r->cfg->exec_envs && r->cfg->exec_envs[i]; i++)
		if (!strncmp(r->cfg->exec_envs[i], "gperf_", 6))
			return r->t->x->grace_s > PROFILE_GRACE_S ? r->t->x->grace_s : PROFILE_GRACE_S;
	return r->t->x->grace_s;
}

static int stop_container(struct run *r, struct svc *s, bool kill)
{
	int rc;

	if (run_on_swarm(r))
		return swarm_stop_service(r, s, kill);
	lock(r);
	if (!s->container[0] || s->exited || !s->started) {
		unlock(r);
		return 0;
	}
	s->stop_sent = true;
	run_save(r);
	unlock(r);
	rc = kill ? docker_container_kill(dc_of(r), s->container, "SIGKILL", NULL)
		  : docker_container_stop(dc_of(r), s->container, stop_grace(r), NULL);
	if (rc == -EBUSY || rc == -ENOENT)
		rc = 0; /* not running (any more) */
	if (rc < 0)
		return docker_rc(rc);
	evlog_add(r->t, r, "service.stopped", s->name, json_pack("{s:s}", "how", kill ? "killed" : "stopped"));
	return 0;
}

/* Inspects started containers for an exit the event stream did not tell. */
static int inspect_all(struct run *r)
{
	if (run_on_swarm(r))
		return swarm_inspect(r);
	for (size_t i = 0; i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];
		struct docker_container_state st;
		char id[96];
		bool check;
		json_t *j = NULL;
		int rc;

		lock(r);
		snprintf(id, sizeof(id), "%s", s->container);
		check = id[0] && s->started && !s->exited;
		unlock(r);
		if (!check)
			continue;
		rc = docker_container_inspect(dc_of(r), id, &j, NULL);
		if (rc == -ENOENT) {
			lock(r);
			s->lost = true;
			svc_set_status(s, "lost");
			svc_record_exit(s, -1);
			unlock(r);
			continue;
		}
		if (rc < 0)
			return docker_rc(rc);
		docker_inspect_state(j, &st);
		json_decref(j);
		if (!st.running) {
			lock(r);
			svc_record_exit(s, st.exit_code);
			unlock(r);
			changed(r, ENGINE_STATUS, s->name);
		}
	}
	return 0;
}

/*
 * Records how the removal of the run's network (name) ended (rc from
 * docker_network_remove; err its reason) and forgets the network; a failure
 * wakes the monitor, whose sweep removes it later. Takes t->lock.
 */
void run_network_removed(struct run *r, const char *name, int rc, const struct pfs_err *err)
{
	lock(r);
	if (rc == 0)
		evlog_add_locked(r->t, r, "network.removed", NULL, json_pack("{s:s}", "name", name));
	else if (rc != -ENOENT)
		/* the monitor's sweep removes it later: it is labelled, and its run is over */
		evlog_add_locked(r->t, r, "network.remove_failed", NULL,
				 json_pack("{s:s,s:s}", "name", name, "error", err->msg));
	r->net_id[0] = '\0';
	r->net_announced = false;
	run_save(r);
	unlock(r);
	if (rc < 0 && rc != -ENOENT)
		conn_kick(&r->t->x->conn);
}

/* Follows again the logs of started containers whose stream is not of this connection. */
static void follow_again(struct run *r)
{
	uint64_t gen = conn_gen(&r->t->x->conn);

	for (size_t i = 0; i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];
		bool again;

		lock(r);
		again = s->container[0] && !s->following && s->follow_gen != gen && s->started;
		unlock(r);
		if (again)
			svc_follow_start(s, true, gen);
	}
}

/*
 * Judges the clients of a testcase that exited 0, once their log is
 * complete (its stream ended, or TAIL_WAIT_MS after the exit): what they
 * fetched byte for byte against the run's files, and what their log says
 * of their connections (their version config's testcases.evidence). The
 * files are read here, on the driver's thread with no lock held.
 */
static void judge_clients(struct run *r)
{
	for (size_t i = 0; r->cfg->testcase >= 0 && i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];
		struct mx_end end = { .how = MX_EXITED, .exit_code = 0, .role = "client" };
		char why[sizeof(s->judgement)], *www = NULL, *dl = NULL;
		struct pfs_err err = { 0 };
		struct mrules *rules = NULL;
		struct mx *x = NULL;
		json_t *m = NULL;
		bool due, ok = false;
		int rc;

		lock(r);
		due = s->cfg->role == CFG_CLIENT && s->exited && !s->stop_sent && s->exit_code == 0 && !s->judged &&
		      (s->follow_done || pfs_wall_ms() - (uint64_t)s->status_mtime.tv_sec * 1000 >= TAIL_WAIT_MS);
		unlock(r);
		if (!due)
			continue;
		www = pfs_strdup_printf("%s/www", r->dir);
		dl = pfs_strdup_printf("%s/services/%s/downloads", r->dir, s->name);
		rc = www && dl ? tc_evidence_rules(cat_version_program(s->cfg->version, s->cfg->program), &rules, &err)
			       : -ENOMEM;
		if (rc == 0)
			rc = mx_new(rules, s->cfg->ctx, &x);
		if (rc == 0)
			rc = mx_feed_file(x, s->logs_path);
		if (rc == 0 && !(m = mx_result(x, &end)))
			rc = -ENOMEM;
		if (rc == 0)
			tc_judge(r->cfg->testcase, www, dl, m, &ok, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "cannot read its log: %s", pfs_err_str(&err, rc));
		lock(r);
		s->judged = true;
		s->judge_ok = ok;
		snprintf(s->judgement, sizeof(s->judgement), "%s", why);
		evlog_add_locked(r->t, r, "service.judged", s->name,
				 json_pack("{s:s,s:b,s:s,s:O?}", "testcase", tc_name(r->cfg->testcase), "passed", ok,
					   "why", why, "evidence", m));
		run_save(r);
		unlock(r);
		changed(r, ENGINE_EVENTS, NULL);
		json_decref(m);
		mx_free(x);
		mrules_free(rules);
		free(www);
		free(dl);
	}
}

static int phase_wait(struct run *r)
{
	struct conn *c = &r->t->x->conn;
	uint64_t last_inspect = 0, gen = conn_gen(c);

	for (;;) {
		struct svc *to_stop[CONFIG_MAX_SERVICES];
		size_t nstop = 0;
		enum run_state end;
		char why[512];
		uint64_t now_gen;
		bool over;
		int rc;

		if (conn_stopping(c))
			return RUN_LOST;
		now_gen = conn_gen(c);
		/* streams of a lost connection: follow again */
		follow_again(r);
		if (pfs_now_ms() - last_inspect >= INSPECT_EVERY_MS || gen != now_gen) {
			gen = now_gen;
			rc = inspect_all(r);
			if (rc == 0)
				rc = shape_inspect(r);
			if (rc != 0)
				return rc;
			last_inspect = pfs_now_ms();
		}
		judge_clients(r);
		lock(r);
		over = verdict(r, &end, why, sizeof(why));
		if (!over)
			for (size_t i = 0; i < r->n_svcs; i++) {
				struct svc *s = &r->svcs[i];

				/* a client that never exits is done when its lines are all there */
				if (s->cfg->role == CFG_CLIENT && s->cfg->success.finish_on_lines && !s->stop_sent &&
				    !s->exited && s->n_lines && s->n_seen == s->n_lines)
					to_stop[nstop++] = s;
			}
		if (!over && !nstop)
			run_nap(r, 1000);
		unlock(r);
		if (over)
			return end_run(r, end, "%s", why);
		for (size_t i = 0; i < nstop; i++) {
			rc = stop_container(r, to_stop[i], false);
			if (rc < 0)
				return rc;
		}
	}
}

/* -- the end -- */

/*
 * A testcase run that passed leaves no copies of its files: they are random
 * bytes that proved identical (the judgement says so). A run that did not
 * pass keeps them, served and fetched, to be looked at.
 */
static void remove_testcase_files(struct run *r)
{
	char *p = pfs_strdup_printf("%s/www", r->dir);

	if (p)
		pfs_rm_rf(p);
	free(p);
	for (size_t i = 0; i < r->n_svcs; i++) {
		if (r->svcs[i].cfg->role != CFG_CLIENT)
			continue;
		p = pfs_strdup_printf("%s/services/%s/downloads", r->dir, r->svcs[i].name);
		if (p)
			pfs_rm_rf(p);
		free(p);
	}
}

/* From stopping to the verdict decided: stop what runs, record exits, drop the network. */
static int phase_end(struct run *r)
{
	struct pfs_err err = { 0 };
	enum run_state end;
	char why[512];
	bool kill;
	int rc = 0;

	lock(r);
	kill = r->kill_req;
	unlock(r);
	/*
	 * Follow what the services print to their end: a run taken up again
	 * while stopping comes here without adopting its containers, and what
	 * a program says as it stops (a profiler, a shell's "Terminated") must
	 * reach its log.
	 */
	follow_again(r);
	for (size_t i = 0; i < r->n_svcs && rc == 0; i++)
		rc = stop_container(r, &r->svcs[i], kill);
	/* then their helpers (their captures close), before the network they are attached to */
	if (rc == 0 && r->cfg->netem && !run_on_swarm(r))
		rc = shape_end(r, kill);
	if (rc < 0)
		return rc;
	/* record the exits and let the log streams drain */
	rc = inspect_all(r);
	if (rc == 0 && run_on_swarm(r))
		rc = swarm_end(r);
	if (rc < 0)
		return rc;
	/*
	 * The network goes now (the containers stay, stopped, for inspection):
	 * an engine has only a few dozen address pools, and every finished run
	 * keeping one would soon leave none for live runs.
	 */
	if (r->net_id[0] || r->net_announced) {
		rc = docker_network_remove(dc_of(r), r->net_id[0] ? r->net_id : r->net_name, &err);
		if (conn_lost(rc))
			return RUN_LOST;
		for (int tries = 0; rc < 0 && rc != -ENOENT && tries < 3; tries++) {
			/* an endpoint still going away: again, a moment later */
			lock(r);
			run_nap(r, 300);
			unlock(r);
			rc = docker_network_remove(dc_of(r), r->net_id[0] ? r->net_id : r->net_name, &err);
			if (conn_lost(rc))
				return RUN_LOST;
		}
		run_network_removed(r, r->net_name, rc, &err);
		rc = 0;
	}
	lock(r);
	for (int tries = 0; tries < 50; tries++) {
		bool all = true;

		for (size_t i = 0; i < r->n_svcs; i++)
			all &= !r->svcs[i].following;
		if (all)
			break;
		run_nap(r, 200);
	}
	for (size_t i = 0; i < r->n_svcs; i++)
		svc_pos_save(&r->svcs[i]);
	end = r->verdict;
	snprintf(why, sizeof(why), "%s", r->reason[0] ? r->reason : "interrupted");
	unlock(r);
	run_transition(r, end, end, "%s", why);
	if (r->cfg->testcase >= 0 && end == RS_SUCCEEDED)
		remove_testcase_files(r);
	return 0;
}

/* ---- the driver ------------------------------------------------------------------------------ */

int run_drive(struct run *r)
{
	const char *phase = "removing the previous run";
	enum run_state st;
	bool stop;
	int rc = 0;

	lock(r);
	st = r->state;
	stop = r->stop_req || r->kill_req;
	unlock(r);
	if (!run_state_live(st))
		return 0;
	r->docker_msg[0] = '\0';
	if (st == RS_PENDING && stop) {
		bool kill;

		lock(r);
		kill = r->kill_req;
		unlock(r);
		end_run(r, RS_STOPPED, "%s", kill ? "killed" : "stopped");
		st = RS_STOPPING;
	}
	if (st == RS_PENDING && r->cfg->unsupported) {
		/* a pair cannot run the testcase: nothing to build or start */
		end_run(r, RS_UNSUPPORTED, "testcase %s: %s", tc_name(r->cfg->testcase), r->cfg->unsupported);
		st = RS_STOPPING;
	}
	if (st != RS_STOPPING) {
		if (!r->cleaned_previous)
			rc = clean_previous(r);
		if (rc == 0)
			rc = swarm_decide(r);
		if (rc == 0 && st <= RS_BUILDING) {
			phase = "images";
			rc = phase_build(r);
		}
		if (rc == 0 && !stop_asked(r) && st <= RS_STARTING) {
			phase = "starting";
			rc = phase_start(r);
		} else if (rc == 0 && !stop_asked(r)) {
			phase = "taking the run up again";
			rc = phase_adopt(r);
		}
		if (rc == 0) {
			phase = "running";
			rc = phase_wait(r);
		}
		if (rc == RUN_LOST)
			return rc;
		if (rc < 0) {
			/* a Docker error that does not mean "the engine is gone": the run cannot go on */
			const char *msg = r->docker_msg[0] ? r->docker_msg : strerror(-rc);

			lock(r);
			set_test_error(r, "run %d: %s: %s\n", r->n, phase, msg);
			unlock(r);
			end_run(r, RS_ERROR, "%s: %s", phase, msg);
		}
	}
	rc = phase_end(r);
	if (rc == RUN_LOST)
		return rc;
	if (rc < 0) {
		/* stopping met a refusal: end the run all the same, saying so */
		char why[768];

		lock(r);
		snprintf(why, sizeof(why), "%s (stopping: %s)", r->reason, r->docker_msg[0] ? r->docker_msg : strerror(-rc));
		unlock(r);
		run_transition(r, RS_ERROR, RS_ERROR, "%s", why);
	}
	return 0;
}

void run_release_streams(struct run *r)
{
	for (size_t i = 0; i < r->n_svcs; i++)
		svc_follow_stop(&r->svcs[i]);
	lock(r);
	for (;;) {
		bool any = false;

		for (size_t i = 0; i < r->n_svcs; i++)
			any |= r->svcs[i].following;
		if (!any)
			break;
		run_nap(r, 200);
	}
	unlock(r);
}

/* ---- for registry.c and swarm_run.c (engine_internal.h) -------------------------------------- */

int run_end(struct run *r, enum run_state verdict, const char *fmt, ...)
{
	char why[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return end_run(r, verdict, "%s", why);
}

bool run_stop_asked(struct run *r)
{
	return stop_asked(r);
}

void run_test_error(struct run *r, const char *fmt, ...)
{
	char *text;
	va_list ap;

	va_start(ap, fmt);
	text = pfs_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (text)
		set_test_error(r, "%s", text);
	free(text);
}

void run_log_line(struct run *r, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_line(r, "%s", line);
}

int run_image_build(struct run *r, const struct cfg_service *c, const struct image_plan *p)
{
	return build_one(r, c, p);
}

void run_image_begin(struct run *r, const char *what, bool push, struct docker_build_cbs *cbs)
{
	*cbs = (struct docker_build_cbs){ .on_line = b_line, .on_done = b_done, .ud = r };
	lock(r);
	snprintf(r->build_what, sizeof(r->build_what), "%s", what);
	r->build_started_ms = pfs_wall_ms();
	r->build_estimate_ms = 0;
	r->pulling = true;
	r->pushing = push;
	r->build_step = r->build_steps = 0;
	r->build_done = false;
	r->build_err = 0;
	r->build_msg[0] = '\0';
	memset(r->build_last_lines, 0, sizeof(r->build_last_lines));
	pfs_realtime_ts(&r->status_mtime);
	unlock(r);
	changed(r, ENGINE_STATUS, NULL);
}

int run_image_await(struct run *r, struct docker_call *call, bool *stopped)
{
	*stopped = await_image_call(r, call);
	lock(r);
	r->pushing = false;
	unlock(r);
	return r->build_err;
}

int run_stop_grace(struct run *r)
{
	return stop_grace(r);
}
