/* SPDX-License-Identifier: MIT */
/*
 * One run, driven by its own thread through its phases:
 *   build images -> network -> servers (each until it answers QUIC) ->
 *   clients -> wait for the verdict -> stop what still runs.
 *
 * Every step is written to be re-entered: it looks at what exists (by the
 * container's recorded id, else its deterministic name) and adopts it, so
 * the same code starts a fresh run, resumes one after pantherfs was killed,
 * and reconciles after the Docker engine came back. When a Docker call says
 * the engine is gone, the driver waits for the monitor to reconnect and
 * walks the phases again.
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
#include "pantherfs/probe.h"
#include "pantherfs/render.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define LOST (-ENOTCONN)          /* the engine went away: wait, then reconcile */
#define INSPECT_EVERY_MS 3000     /* fallback for a missed "die" event */
#define TAIL_WAIT_MS 5000         /* an exited client's last log lines */

static const char *const state_names[] = { "pending", "building", "starting", "running", "stopping",
					   "succeeded", "failed", "stopped", "error" };

const char *run_state_name(enum run_state s)
{
	return state_names[s];
}

static enum run_state state_from(const char *s)
{
	for (size_t i = 0; s && i < PFS_ARRAY_SIZE(state_names); i++)
		if (!strcmp(s, state_names[i]))
			return (enum run_state)i;
	return RS_FAILED;
}

void now_ts(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/* ---- life cycle ----------------------------------------------------------------------- */

static void svc_init(struct run *r, struct svc *s, const struct cfg_service *c)
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
	now_ts(&s->status_mtime);
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

static void render_svc(struct run *r, struct svc *s, json_t *addresses)
{
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	struct pfs_err err = { 0 };

	if (render_command(r->t->e->cat, r->cfg, s->cfg, addresses, &b, &err) < 0) {
		pfs_buf_free(&b);
		pfs_buf_addstr(&b, "");
		pfs_buf_printf(&b, "# cannot render: %s", err.msg);
	}
	free(s->command);
	s->command = pfs_buf_steal(&b, NULL);
	now_ts(&s->command_mtime);
	write_command(s);
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
	now_ts(&r->status_mtime);
	r->events_mtime = r->build_mtime = r->status_mtime;
	snprintf(r->net_name, sizeof(r->net_name), "pantherfs-%s-%s-%d", t->e->instance, t->name, n);
	if (!r->dir || !r->config_text || pfs_mkdir_p(r->dir, 0755) < 0) {
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
			pfs_mkdir_p(dir, 0777);
		if (dir)
			chmod(dir, 0777); /* the program in the container may run as any user */
		free(dir);
		render_svc(r, &r->svcs[i], NULL);
		svc_logs_open(&r->svcs[i]);
	}
	return r;
}

void run_free(struct run *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->svcs && i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];

		docker_call_unref(s->follow);
		if (s->logs_fd >= 0)
			close(s->logs_fd);
		free(s->name);
		free(s->command);
		free(s->seen);
		free(s->logs_path);
	}
	free(r->svcs);
	if (r->build_fd >= 0)
		close(r->build_fd);
	docker_call_unref(r->build_call);
	config_free(r->cfg);
	free(r->config_text);
	free(r->dir);
	pthread_cond_destroy(&r->cv);
	free(r);
}

/* ---- persistence --------------------------------------------------------------------------- */

json_t *run_status_json(struct run *r)
{
	json_t *svcs = json_object(), *j;
	char line[640];

	for (size_t i = 0; i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:b,s:b,s:b,s:I}",
				      "role", s->cfg->role == CFG_SERVER ? "server" : "client",
				      "status", s->status, "command", s->command ? s->command : "",
				      "container", s->container, "address", s->address, "image", s->image,
				      "exit_code", s->exit_code >= 0 ? json_integer(s->exit_code) : json_null(),
				      "ready", s->ready, "finished", s->finished, "success", s->success,
				      "lines_seen", (json_int_t)s->n_seen);

		if (o) {
			json_object_set_new(o, "lines_expected", json_integer((json_int_t)s->n_lines));
			json_object_set_new(o, "created", json_boolean(s->created));
			json_object_set_new(o, "started", json_boolean(s->started));
			json_object_set_new(o, "stop_sent", json_boolean(s->stop_sent));
			json_object_set_new(o, "lost", json_boolean(s->lost));
		}
		json_object_set_new(svcs, s->name, o);
	}
	run_status_line(r, line, sizeof(line));
	j = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:s,s:b,s:b,s:b,s:o,s:O}",
		      "test", r->t->name, "run", r->n, "state", run_state_name(r->state), "reason", r->reason,
		      "verdict", r->state == RS_STOPPING ? run_state_name(r->verdict) : "",
		      "status", line, "created_ms", (json_int_t)r->created_ms, "started_ms", (json_int_t)r->started_ms,
		      "ended_ms", (json_int_t)r->ended_ms, "deadline_ms", (json_int_t)r->deadline_ms,
		      "network", r->net_name, "network_id", r->net_id, "force_build", r->force_build,
		      "no_cache", r->no_cache, "cleaned_previous", r->cleaned_previous, "services", svcs,
		      "plan", r->cfg ? r->cfg->summary : json_null());
	if (j)
		json_object_set_new(j, "waiting_for_engine", json_boolean(r->waiting_engine));
	return j;
}

int run_save(struct run *r)
{
	json_t *j = run_status_json(r);
	char *txt = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	char *path = pfs_strdup_printf("%s/run.json", r->dir);
	int rc = txt && path ? pfs_write_file_replace(path, txt, strlen(txt)) : -ENOMEM;

	if (rc < 0)
		pfs_err_log("%s: cannot save: %s", path ? path : r->dir, strerror(-rc));
	free(path);
	free(txt);
	json_decref(j);
	now_ts(&r->status_mtime);
	return rc;
}

/*
 * A kill can fall between an event and the run.json that follows it (or
 * before it): the run's events say what was already announced, so a resumed
 * run neither repeats an event nor loses what it did (a container created
 * and announced, but not yet in run.json).
 */
static void reconcile_events(struct run *r)
{
	char *path = pfs_strdup_printf("%s/events", r->dir), *save = NULL;
	struct pfs_buf b = PFS_BUF_INIT(256u << 20);

	if (!path || pfs_read_file(path, &b) < 0) {
		free(path);
		return;
	}
	free(path);
	for (char *l = strtok_r(b.ptr, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		json_t *ev = json_loads(l, 0, NULL), *data = json_object_get(ev, "data");
		const char *type = json_string_value(json_object_get(ev, "type")) ?: "";
		const char *svc = json_string_value(json_object_get(ev, "service"));
		struct svc *s = NULL;

		for (size_t i = 0; svc && i < r->n_svcs; i++)
			if (!strcmp(r->svcs[i].name, svc))
				s = &r->svcs[i];
		if (!strcmp(type, "run.started") && r->state == RS_PENDING)
			r->state = RS_BUILDING;
		else if (!strcmp(type, "network.created"))
			r->net_announced = true;
		else if (s && !strcmp(type, "service.created")) {
			s->created = true;
			if (!s->container[0] && json_string_value(json_object_get(data, "container")))
				snprintf(s->container, sizeof(s->container), "%s",
					 json_string_value(json_object_get(data, "container")));
		} else if (s && !strcmp(type, "service.started"))
			s->started = true;
		else if (s && !strcmp(type, "service.ready"))
			s->ready = true;
		else if (s && !strcmp(type, "service.exited") && !s->exited) {
			s->exited = true;
			s->exit_code = (int)json_integer_value(json_object_get(data, "exit_code"));
		}
		json_decref(ev);
	}
	pfs_buf_free(&b);
}

int run_load(struct test *t, int n, struct run **out)
{
	char *dir = pfs_strdup_printf("%s/runs/%d", t->dir, n), *p;
	struct pfs_buf cfgtext = PFS_BUF_INIT(CONFIG_MAX_BYTES), js = PFS_BUF_INIT(16u << 20);
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	json_t *j = NULL, *svcs;
	struct run *r;
	int rc;

	if (!dir)
		return -ENOMEM;
	p = pfs_strdup_printf("%s/config.yaml", dir);
	rc = p ? pfs_read_file(p, &cfgtext) : -ENOMEM;
	free(p);
	if (rc == 0) {
		p = pfs_strdup_printf("%s/run.json", dir);
		rc = p ? pfs_read_file(p, &js) : -ENOMEM;
		free(p);
	}
	free(dir);
	if (rc == 0) {
		j = json_loadb(js.ptr, js.len, 0, NULL);
		rc = j ? 0 : -EINVAL;
	}
	if (rc == 0 && config_load(t->e->cat, "config.yaml", cfgtext.ptr, cfgtext.len, &cfg, &rep) < 0) {
		/* the catalogue changed under this run: keep it readable, fail it if live */
		cfg_report_free(&rep);
		rc = -EINVAL;
	} else if (rc == 0) {
		cfg_report_free(&rep);
	}
	if (rc < 0) {
		pfs_buf_free(&cfgtext);
		pfs_buf_free(&js);
		json_decref(j);
		return rc;
	}
	r = calloc(1, sizeof(*r));
	r->t = t;
	r->n = n;
	r->build_fd = -1;
	r->dir = pfs_strdup_printf("%s/runs/%d", t->dir, n);
	r->config_text = pfs_buf_steal(&cfgtext, &r->config_len);
	r->cfg = cfg;
	pthread_cond_init(&r->cv, NULL);
	r->state = state_from(json_string_value(json_object_get(j, "state")));
	snprintf(r->reason, sizeof(r->reason), "%s", json_string_value(json_object_get(j, "reason")) ?: "");
	r->verdict = r->state == RS_STOPPING ? state_from(json_string_value(json_object_get(j, "verdict")))
					     : RS_FAILED;
	r->created_ms = (uint64_t)json_integer_value(json_object_get(j, "created_ms"));
	r->started_ms = (uint64_t)json_integer_value(json_object_get(j, "started_ms"));
	r->ended_ms = (uint64_t)json_integer_value(json_object_get(j, "ended_ms"));
	r->deadline_ms = (uint64_t)json_integer_value(json_object_get(j, "deadline_ms"));
	r->force_build = json_is_true(json_object_get(j, "force_build"));
	r->no_cache = json_is_true(json_object_get(j, "no_cache"));
	r->cleaned_previous = json_is_true(json_object_get(j, "cleaned_previous"));
	snprintf(r->net_name, sizeof(r->net_name), "pantherfs-%s-%s-%d", t->e->instance, t->name, n);
	snprintf(r->net_id, sizeof(r->net_id), "%s", json_string_value(json_object_get(j, "network_id")) ?: "");
	now_ts(&r->status_mtime);
	r->events_mtime = r->build_mtime = r->status_mtime;
	r->svcs = calloc(cfg->n_svc, sizeof(*r->svcs));
	r->n_svcs = cfg->n_svc;
	svcs = json_object_get(j, "services");
	for (size_t i = 0; i < cfg->n_svc; i++) {
		struct svc *s = &r->svcs[i];
		json_t *o = json_object_get(svcs, cfg->svc[i].name);
		struct stat st;
		char *cp;

		svc_init(r, s, &cfg->svc[i]);
		snprintf(s->status, sizeof(s->status), "%s", json_string_value(json_object_get(o, "status")) ?: "waiting");
		snprintf(s->container, sizeof(s->container), "%s", json_string_value(json_object_get(o, "container")) ?: "");
		snprintf(s->address, sizeof(s->address), "%s", json_string_value(json_object_get(o, "address")) ?: "");
		snprintf(s->image, sizeof(s->image), "%s", json_string_value(json_object_get(o, "image")) ?: "");
		s->command = strdup(json_string_value(json_object_get(o, "command")) ?: "");
		s->exit_code = json_is_integer(json_object_get(o, "exit_code")) ?
				       (int)json_integer_value(json_object_get(o, "exit_code")) : -1;
		s->exited = s->exit_code >= 0;
		s->ready = json_is_true(json_object_get(o, "ready"));
		s->finished = json_is_true(json_object_get(o, "finished"));
		s->success = json_is_true(json_object_get(o, "success"));
		s->created = json_is_true(json_object_get(o, "created"));
		s->started = json_is_true(json_object_get(o, "started"));
		s->stop_sent = json_is_true(json_object_get(o, "stop_sent"));
		s->lost = json_is_true(json_object_get(o, "lost"));
		cp = pfs_strdup_printf("%s/services/%s/command", r->dir, s->name);
		if (cp && stat(cp, &st) == 0)
			s->command_mtime = st.st_mtim;
		free(cp);
		svc_logs_open(s);
		svc_rescan_lines(s);
	}
	reconcile_events(r);
	{
		struct stat st;
		char *bp = pfs_strdup_printf("%s/build.log", r->dir), *ep = pfs_strdup_printf("%s/events", r->dir);

		if (bp && stat(bp, &st) == 0) {
			r->build_size = st.st_size;
			r->build_mtime = st.st_mtim;
		}
		if (ep)
			event_last_seq(ep, &r->events_size);
		if (ep && stat(ep, &st) == 0)
			r->events_mtime = st.st_mtim;
		free(bp);
		free(ep);
	}
	json_decref(j);
	pfs_buf_free(&js);
	*out = r;
	return 0;
}

/* ---- small helpers (t->lock held unless said) --------------------------------------------- */

void run_wake(struct run *r)
{
	pthread_cond_broadcast(&r->cv);
}

static void status_word_reason(struct run *r, char *out, size_t n)
{
	size_t up = 0;

	switch (r->state) {
	case RS_BUILDING:
		if (r->pulling)
			snprintf(out, n, "building: pulling %s", r->build_what);
		else if (r->build_steps)
			snprintf(out, n, "building %s step %d/%d", r->build_what, r->build_step, r->build_steps);
		else
			snprintf(out, n, "building %s", r->build_what[0] ? r->build_what : "images");
		return;
	case RS_RUNNING:
		for (size_t i = 0; i < r->n_svcs; i++)
			up += r->svcs[i].started && !r->svcs[i].exited;
		snprintf(out, n, "running %zu/%zu services", up, r->n_svcs);
		return;
	default:
		snprintf(out, n, "%s%s%s", run_state_name(r->state), r->reason[0] ? " " : "", r->reason);
	}
}

void run_status_line(struct run *r, char *out, size_t n)
{
	size_t k;

	status_word_reason(r, out, n);
	k = strlen(out);
	if (r->waiting_engine && run_state_live(r->state) && k < n)
		snprintf(out + k, n - k, " (waiting for the Docker engine)");
}

static void set_state(struct run *r, enum run_state st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_state(struct run *r, enum run_state st, const char *fmt, ...)
{
	va_list ap;

	r->state = st;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	run_save(r);
}

static void svc_status(struct svc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void svc_status(struct svc *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->status, sizeof(s->status), fmt, ap);
	va_end(ap);
	now_ts(&s->status_mtime);
}

static void changed(struct run *r, enum engine_change what, const char *svc)
{
	engine_notify(r->t->e, what, r->t->name, r->n, svc);
}

static void lock(struct run *r) { pthread_mutex_lock(&r->t->lock); }
static void unlock(struct run *r) { pthread_mutex_unlock(&r->t->lock); }

static bool stopping_engine(struct run *r)
{
	bool s;

	pthread_mutex_lock(&r->t->e->lock);
	s = r->t->e->stopping;
	pthread_mutex_unlock(&r->t->e->lock);
	return s;
}

/* Waits on the run's condition for up to ms (t->lock held). */
static void nap(struct run *r, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&r->cv, &r->t->lock, &ts);
}

static const char *const *labels_for(struct run *r, const char *svc, char *runbuf, size_t n)
{
	static __thread const char *kv[11];

	snprintf(runbuf, n, "%d", r->n);
	kv[0] = "pantherfs.managed";
	kv[1] = "1";
	kv[2] = "pantherfs.instance";
	kv[3] = r->t->e->instance;
	kv[4] = "pantherfs.test";
	kv[5] = r->t->name;
	kv[6] = "pantherfs.run";
	kv[7] = runbuf;
	kv[8] = svc ? "pantherfs.service" : NULL;
	kv[9] = svc;
	kv[10] = NULL;
	return kv;
}

/* ---- recording what containers did (t->lock held) ------------------------------------------- */

static void record_exit(struct svc *s, int code)
{
	if (s->exited)
		return;
	s->exited = true;
	s->exit_code = code;
	if (s->stop_sent)
		svc_status(s, "stopped");
	else
		svc_status(s, "exited %d", code);
	event_add_locked(s->r->t, s->r, "service.exited", s->name, json_pack("{s:i}", "exit_code", code));
	run_save(s->r);
	run_wake(s->r);
}

void run_container_died(struct run *r, const char *container, int code)
{
	for (size_t i = 0; i < r->n_svcs; i++)
		if (r->svcs[i].container[0] && !strcmp(r->svcs[i].container, container))
			record_exit(&r->svcs[i], code);
}

/* ---- phases ------------------------------------------------------------------------------------- */

static int engine_call(struct run *r, int rc)
{
	(void)r;
	return engine_lost(rc) ? LOST : rc;
}

/* A pantherfs.run label that is not this run's number. */
static bool atoi_safe_differs(const char *label, int n)
{
	long v;

	return pfs_parse_long(label, 0, 1L << 30, &v) < 0 || v != n;
}

/* Removes the containers and network of this test's earlier runs. */
static int clean_previous(struct run *r)
{
	struct docker_client *dc = r->t->e->dc;
	char label[300];
	const char *labels[] = { label, NULL, NULL };
	json_t *list = NULL, *it;
	size_t i;
	int rc;

	snprintf(label, sizeof(label), "pantherfs.test=%s", r->t->name);
	labels[1] = r->t->e->instance_label;
	rc = docker_container_list(dc, labels, true, &list, NULL);
	if (rc < 0)
		return engine_call(r, rc);
	json_array_foreach(list, i, it) {
		const char *run = json_string_value(json_object_get(json_object_get(it, "Labels"), "pantherfs.run"));

		if (run && atoi_safe_differs(run, r->n)) {
			rc = docker_container_remove(dc, json_string_value(json_object_get(it, "Id")), true, NULL);
			if (engine_lost(rc)) {
				json_decref(list);
				return LOST;
			}
		}
	}
	json_decref(list);
	list = NULL;
	rc = docker_network_list(dc, labels, &list, NULL);
	if (rc < 0)
		return engine_call(r, rc);
	json_array_foreach(list, i, it) {
		const char *run = json_string_value(json_object_get(json_object_get(it, "Labels"), "pantherfs.run"));

		if (run && atoi_safe_differs(run, r->n) &&
		    engine_lost(docker_network_remove(dc, json_string_value(json_object_get(it, "Id")), NULL))) {
			json_decref(list);
			return LOST;
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

static void b_line(void *ud, const char *text, size_t len)
{
	struct run *r = ud;

	lock(r);
	if (r->build_fd >= 0 && pfs_write_all(r->build_fd, text, len) == 0 &&
	    pfs_write_all(r->build_fd, "\n", 1) == 0) {
		r->build_size += (off_t)len + 1;
		now_ts(&r->build_mtime);
	}
	if (len) {
		char line[sizeof(r->build_last_lines[0])];

		snprintf(line, sizeof(line), "%.*s", (int)len, text);
		strip_ansi(line);
		if (!build_noise(line)) {
			memmove(r->build_last_lines[0], r->build_last_lines[1], sizeof(r->build_last_lines[0]) * 2);
			memcpy(r->build_last_lines[2], line, sizeof(line));
		}
	}
	unlock(r);
	changed(r, ENGINE_BUILD_LOG, NULL);
}

static void b_step(void *ud, int step, int steps)
{
	struct run *r = ud;

	lock(r);
	r->build_step = step;
	r->build_steps = steps;
	event_add_locked(r->t, r, "image.build_step", NULL,
			 json_pack("{s:s,s:i,s:i}", "image", r->build_what, "step", step, "steps", steps));
	now_ts(&r->status_mtime);
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	changed(r, ENGINE_STATUS, NULL);
}

static void b_done(void *ud, const struct docker_result *res, const char *id)
{
	struct run *r = ud;

	(void)id;
	lock(r);
	r->build_done = true;
	r->build_err = res->err;
	snprintf(r->build_msg, sizeof(r->build_msg), "%s", res->message);
	run_wake(r);
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
		nap(r, 1000);
	stop = !r->build_done;
	unlock(r);
	if (stop) {
		docker_call_cancel(call);
		lock(r);
		while (!r->build_done)
			nap(r, 1000);
		unlock(r);
	}
	lock(r);
	r->build_call = NULL;
	unlock(r);
	docker_call_unref(call);
	return stop;
}

static int build_one(struct run *r, struct svc *s, const struct image_plan *p, bool *failed)
{
	struct docker_client *dc = r->t->e->dc;
	struct docker_build_cbs cbs = { .on_line = b_line, .on_step = b_step, .on_done = b_done, .ud = r };
	struct pfs_err err = { 0 };
	struct docker_call *call;
	json_t *args = json_object();
	char why[PFS_ERR_MSG_MAX + 300];
	bool stop;
	int rc;

	for (size_t k = 0; s->cfg->image.args && s->cfg->image.args[k] && s->cfg->image.args[k + 1]; k += 2)
		json_object_set_new(args, s->cfg->image.args[k], json_string(s->cfg->image.args[k + 1]));
	lock(r);
	snprintf(r->build_what, sizeof(r->build_what), "%s:%s", s->cfg->implementation, s->cfg->version_name);
	r->pulling = false;
	r->build_step = r->build_steps = 0;
	r->build_done = false;
	memset(r->build_last_lines, 0, sizeof(r->build_last_lines));
	event_add_locked(r->t, r, "image.build_started", NULL,
			 json_pack("{s:s,s:s,s:s,s:o,s:b}", "image", p->ref, "implementation", s->cfg->implementation,
				   "version", s->cfg->version_name, "args", args, "no_cache", r->no_cache));
	run_save(r);
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	changed(r, ENGINE_STATUS, NULL);

	call = image_build(dc, s->cfg, p, r->no_cache, &cbs, &err);
	if (!call)
		return engine_call(r, err.code ? err.code : -EIO);
	stop = await_image_call(r, call);

	rc = r->build_err;
	if (rc == 0) {
		json_t *img = NULL;

		docker_image_inspect(dc, p->ref, &img, NULL);
		event_add(r->t, r, "image.build_completed", NULL,
			  json_pack("{s:s,s:s}", "image", p->ref, "id", json_string_value(json_object_get(img, "Id")) ?: ""));
		json_decref(img);
		return 0;
	}
	if (rc == -ECANCELED && stop)
		return 0; /* a stop request: the wait phase ends the run */
	if (engine_lost(rc))
		return LOST;
	build_reason(r, why, sizeof(why));
	lock(r);
	event_add_locked(r->t, r, "image.build_failed", NULL,
			 json_pack("{s:s,s:s}", "image", p->ref, "error", why));
	free(r->t->error_text);
	r->t->error_text = pfs_strdup_printf("run %d: image %s: build %s\n(the daemon said: %s)\n", r->n, p->ref, why,
					     r->build_msg);
	now_ts(&r->t->error_mtime);
	{
		char *ep = pfs_strdup_printf("%s/error", r->t->dir);
		if (ep && r->t->error_text)
			pfs_write_file_replace(ep, r->t->error_text, strlen(r->t->error_text));
		free(ep);
	}
	set_state(r, RS_ERROR, "image %s:%s: build %s", s->cfg->implementation, s->cfg->version_name, why);
	unlock(r);
	*failed = true;
	return 0;
}

/* Fails the run with an error state (t->lock not held). */
static void run_error(struct run *r, bool *failed, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void run_error(struct run *r, bool *failed, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lock(r);
	set_state(r, RS_ERROR, "%s", msg);
	unlock(r);
	*failed = true;
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
static int pull_one(struct run *r, struct svc *s, const struct image_plan *p, bool *failed)
{
	struct docker_client *dc = r->t->e->dc;
	struct docker_build_cbs cbs = { .on_line = b_line, .on_done = b_done, .ud = r };
	struct pfs_err err = { 0 };
	struct docker_call *call;
	json_t *img = NULL;
	bool stop;
	int rc;

	lock(r);
	snprintf(r->build_what, sizeof(r->build_what), "%s", p->ref);
	r->pulling = true;
	r->build_step = r->build_steps = 0;
	r->build_done = false;
	memset(r->build_last_lines, 0, sizeof(r->build_last_lines));
	event_add_locked(r->t, r, "image.pull_started", s->name, json_pack("{s:s}", "image", p->ref));
	run_save(r);
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	changed(r, ENGINE_STATUS, NULL);
	log_line(r, "pulling %s", p->ref);

	call = docker_image_pull(dc, p->ref, &cbs, &err);
	if (!call)
		return engine_call(r, err.code ? err.code : -EIO);
	stop = await_image_call(r, call);

	rc = r->build_err;
	if (rc == -ECANCELED && stop)
		return 0;
	if (engine_lost(rc))
		return LOST;
	if (rc == 0) {
		rc = docker_image_inspect(dc, p->ref, &img, &err);
		if (engine_lost(rc))
			return LOST;
		if (rc == 0) {
			event_add(r->t, r, "image.pulled", s->name,
				  json_pack("{s:s,s:s}", "image", p->ref,
					    "id", json_string_value(json_object_get(img, "Id")) ?: ""));
			json_decref(img);
			return 0;
		}
		snprintf(r->build_msg, sizeof(r->build_msg), "the pull ended but the engine has no such image");
	}
	log_line(r, "cannot pull %s: %s", p->ref, r->build_msg);
	event_add(r->t, r, "image.pull_failed", s->name,
		  json_pack("{s:s,s:s}", "image", p->ref, "error", r->build_msg));
	run_error(r, failed, "image %s of %s: cannot pull it: %s (build it with build_from_source: true, or "
		  "load it into the engine first)", p->ref, s->name, r->build_msg);
	return 0;
}

/* Makes sure the image of one service exists: cached, pulled or built now. */
static int ensure_image(struct run *r, struct svc *s, const struct image_plan *p, bool *failed)
{
	struct docker_client *dc = r->t->e->dc;
	bool force = (r->force_build || r->no_cache) && !s->cfg->image.prebuilt;
	struct pfs_err err = { 0 };
	json_t *img = NULL;
	int ir, rc;

	ir = force ? -ENOENT : docker_image_inspect(dc, p->ref, &img, &err);
	if (engine_lost(ir))
		return LOST;
	if (ir == 0) {
		event_add(r->t, r, "image.cached", NULL,
			  json_pack("{s:s,s:s}", "image", p->ref, "id", json_string_value(json_object_get(img, "Id")) ?: ""));
		json_decref(img);
		return 0;
	}
	if (ir != -ENOENT) {
		run_error(r, failed, "image %s: %s", p->ref, err.msg);
		return 0;
	}
	if (s->cfg->image.prebuilt)
		return pull_one(r, s, p, failed);
	rc = build_one(r, s, p, failed);
	return rc;
}

static int phase_build(struct run *r, bool *failed)
{
	struct docker_client *dc = r->t->e->dc;
	char *bp = pfs_strdup_printf("%s/build.log", r->dir);
	int rc = 0;

	lock(r);
	if (r->state == RS_PENDING)
		event_add_locked(r->t, r, "run.started", NULL,
				 json_pack("{s:i,s:I}", "services", (int)r->n_svcs, "timeout", (json_int_t)r->cfg->timeout_s));
	r->state = RS_BUILDING;
	run_save(r);
	if (r->build_fd < 0 && bp)
		r->build_fd = open(bp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	unlock(r);
	free(bp);
	changed(r, ENGINE_STATUS, NULL);
	changed(r, ENGINE_EVENTS, NULL);

	for (size_t i = 0; i < r->n_svcs && rc == 0 && !*failed; i++) {
		struct svc *s = &r->svcs[i];
		struct image_plan p;
		struct pfs_err err = { 0 };
		const char *shared = NULL;
		json_t *img = NULL;
		bool stop;

		if (image_plan_compute(s->cfg, &p, &err) < 0) {
			run_error(r, failed, "image of %s: %s", s->name, err.msg);
			break;
		}
		/* services of one implementation and version share an image */
		for (size_t k = 0; k < i && !shared; k++)
			if (!strncmp(r->svcs[k].image, p.ref, strlen(p.ref)) && r->svcs[k].image[strlen(p.ref)] == ' ')
				shared = r->svcs[k].image;
		if (!shared) {
			rc = ensure_image(r, s, &p, failed);
			lock(r);
			stop = r->stop_req || r->kill_req;
			unlock(r);
			if (rc < 0 || *failed || stop)
				break;
			if (engine_lost(docker_image_inspect(dc, p.ref, &img, NULL))) {
				rc = LOST;
				break;
			}
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
	return rc;
}

/* -- network -- */

static int ensure_network(struct run *r)
{
	struct docker_client *dc = r->t->e->dc;
	char runbuf[16], *id = NULL;
	const char *const *labels = labels_for(r, NULL, runbuf, sizeof(runbuf));
	struct pfs_err err = { 0 };
	json_t *j = NULL;
	int rc;

	char l1[96], l2[160], l3[48];
	const char *filter[] = { l1, l2, l3, NULL };

	/* by its labels: Docker lets two networks share a name, and then a name is "ambiguous" */
	snprintf(l1, sizeof(l1), "%s", r->t->e->instance_label);
	snprintf(l2, sizeof(l2), "pantherfs.test=%s", r->t->name);
	snprintf(l3, sizeof(l3), "pantherfs.run=%d", r->n);
	rc = docker_network_list(dc, filter, &j, &err);
	if (rc < 0) {
		snprintf(r->docker_msg, sizeof(r->docker_msg), "network %s: %s", r->net_name, err.msg);
		return engine_call(r, rc);
	}
	if (json_array_size(j) > 0) {
		lock(r);
		snprintf(r->net_id, sizeof(r->net_id), "%s",
			 json_string_value(json_object_get(json_array_get(j, 0), "Id")) ?: "");
		if (!r->net_announced) {
			/* created just before pantherfs was killed: announce it now */
			event_add_locked(r->t, r, "network.created", NULL,
					 json_pack("{s:s,s:s}", "name", r->net_name, "id", r->net_id));
			r->net_announced = true;
		}
		unlock(r);
		/* a second one of this run (a create answered to no one): gone */
		for (size_t i = 1; i < json_array_size(j); i++)
			docker_network_remove(dc, json_string_value(json_object_get(json_array_get(j, i), "Id")), NULL);
		json_decref(j);
		return 0;
	}
	json_decref(j);
	j = NULL;
	rc = docker_network_create(dc, r->net_name, labels, false, &id, &err);
	if (rc < 0) {
		/* e.g. "could not find an available, non-overlapping IPv4 address pool" */
		snprintf(r->docker_msg, sizeof(r->docker_msg), "cannot create the network %s: %s", r->net_name,
			 err.msg);
		return engine_call(r, rc);
	}
	lock(r);
	snprintf(r->net_id, sizeof(r->net_id), "%s", id);
	event_add_locked(r->t, r, "network.created", NULL, json_pack("{s:s,s:s}", "name", r->net_name, "id", id));
	r->net_announced = true;
	run_save(r);
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	free(id);
	return 0;
}

/* -- containers -- */

static void image_ref(const struct svc *s, char *out, size_t n)
{
	snprintf(out, n, "%.*s", (int)strcspn(s->image, " "), s->image);
}

/* Creates and starts a service's container, or adopts the one that exists. */
static int ensure_container(struct run *r, struct svc *s, bool *failed)
{
	struct docker_client *dc = r->t->e->dc;
	char name[300], ref[300], runbuf[16], results[600], certs[600], *id = NULL;
	const char *binds[3] = { results, NULL, NULL };
	const char *argv[] = { "sh", "-c", s->command, NULL };
	const char *aliases[] = { s->name, NULL };
	static const char *const ptrace_cap[] = { "SYS_PTRACE", NULL };
	bool tracer = false;
	struct docker_container_state st;
	struct pfs_err err = { 0 };
	bool changed_later = false;
	json_t *j = NULL;
	int rc;

	snprintf(name, sizeof(name), "pantherfs-%s-%s-%d-%s", r->t->e->instance, r->t->name, r->n, s->name);
	rc = docker_container_inspect(dc, s->container[0] ? s->container : name, &j, NULL);
	if (rc == -ENOENT && s->created) {
		lock(r);
		s->lost = true;
		svc_status(s, "lost");
		event_add_locked(r->t, r, "service.lost", s->name, json_pack("{s:s}", "container", s->container));
		set_state(r, RS_FAILED, "lost: the container of %s is gone", s->name);
		unlock(r);
		changed(r, ENGINE_STATUS, s->name);
		*failed = true;
		return 0;
	}
	if (rc == -ENOENT) {
		const char *const *labels = labels_for(r, s->name, runbuf, sizeof(runbuf));
		struct docker_container_spec sp = { .name = name, .cmd = argv, .env = (const char *const *)s->cfg->env,
						    .labels = labels, .network = r->net_name, .aliases = aliases,
						    .binds = binds, .init = true };

		image_ref(s, ref, sizeof(ref));
		sp.image = ref;
		snprintf(results, sizeof(results), "%s/services/%s/results:%s", r->dir, s->name, CONFIG_RESULTS_DIR);
		if (s->cfg->gen_certs) {
			snprintf(certs, sizeof(certs), "%s/certs:%s:ro", r->dir, CONFIG_CERTS_DIR);
			binds[1] = certs;
		}
		for (size_t i = 0; r->cfg->exec_envs && r->cfg->exec_envs[i]; i++)
			tracer |= !strcmp(r->cfg->exec_envs[i], "strace") || !strcmp(r->cfg->exec_envs[i], "gdb");
		if (tracer)
			sp.cap_add = ptrace_cap; /* function scope: it must outlive this block */
		rc = docker_container_create(dc, &sp, &id, &err);
		if (rc < 0) {
			if (engine_lost(rc))
				return LOST;
			run_error(r, failed, "cannot create the container of %s: %s", s->name, err.msg);
			return 0;
		}
		lock(r);
		snprintf(s->container, sizeof(s->container), "%s", id);
		s->created = true;
		svc_status(s, "created");
		event_add_locked(r->t, r, "service.created", s->name,
				 json_pack("{s:s,s:s,s:s}", "container", id, "name", name, "image", ref));
		run_save(r);
		unlock(r);
		free(id);
		changed(r, ENGINE_STATUS, s->name);
		changed(r, ENGINE_EVENTS, NULL);
	} else if (rc < 0) {
		return engine_call(r, rc);
	} else {
		lock(r);
		snprintf(s->container, sizeof(s->container), "%s", json_string_value(json_object_get(j, "Id")) ?: "");
		if (!s->created) {
			/* created just before pantherfs was killed: found by its name, announced now */
			event_add_locked(r->t, r, "service.created", s->name,
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
		return engine_call(r, rc);
	docker_inspect_state(j, &st);
	if (!st.running && !strcmp(st.status, "created")) {
		rc = docker_container_start(dc, s->container, &err);
		if (rc == -EIO) {
			/* containerd can refuse for a moment around an engine restart ("task ... already exists") */
			lock(r);
			nap(r, 1000);
			unlock(r);
			rc = docker_container_start(dc, s->container, &err);
		}
		if (rc < 0) {
			json_decref(j);
			if (engine_lost(rc))
				return LOST;
			run_error(r, failed, "cannot start %s: %s", s->name, err.msg);
			return 0;
		}
		lock(r);
		s->started = true;
		svc_status(s, "starting");
		event_add_locked(r->t, r, "service.started", s->name, json_pack("{s:s}", "container", s->container));
		run_save(r);
		unlock(r);
		changed(r, ENGINE_EVENTS, NULL);
		json_decref(j);
		j = NULL;
		rc = docker_container_inspect(dc, s->container, &j, NULL);
		if (rc < 0)
			return engine_call(r, rc);
		docker_inspect_state(j, &st);
	}
	lock(r);
	if (!s->started) {
		/* started while pantherfs was away (killed during the start call): say so once */
		event_add_locked(r->t, r, "service.started", s->name,
				 json_pack("{s:s,s:b}", "container", s->container, "adopted", 1));
		changed_later = true;
	}
	s->started = true;
	if (!s->address[0])
		docker_inspect_ip(j, r->net_name, s->address, sizeof(s->address));
	if (st.running && !s->ready && strcmp(s->status, "running"))
		svc_status(s, "running");
	if (!st.running && !s->exited)
		record_exit(s, st.exit_code);
	run_save(r);
	unlock(r);
	json_decref(j);
	changed(r, ENGINE_STATUS, s->name);
	if (changed_later)
		changed(r, ENGINE_EVENTS, NULL);
	/* follow what it prints; an exited container gives what is left and ends */
	svc_follow_start(s, true);
	return 0;
}

/* -- readiness -- */

static int wait_ready(struct run *r, struct svc *s, bool *failed)
{
	int bound = r->t->e->ready_s;
	uint64_t until, now = pfs_wall_ms();
	uint32_t versions[16];

	if (s->ready)
		return 0;
	until = now + (uint64_t)bound * 1000;
	for (;;) {
		size_t n = PFS_ARRAY_SIZE(versions);
		bool exited, stop;
		int code;

		lock(r);
		exited = s->exited;
		code = s->exit_code;
		stop = r->stop_req || r->kill_req;
		unlock(r);
		if (stop)
			return 0;
		if (exited) {
			lock(r);
			set_state(r, RS_FAILED, "server %s exited %d before it answered QUIC", s->name, code);
			unlock(r);
			*failed = true;
			return 0;
		}
		if (quic_probe(s->address, (int)s->cfg->port, 250, versions, &n) == 0) {
			json_t *vs = json_array();

			for (size_t i = 0; i < n; i++) {
				char hex[16];

				snprintf(hex, sizeof(hex), "0x%08x", versions[i]);
				json_array_append_new(vs, json_string(hex));
			}
			lock(r);
			s->ready = true;
			svc_status(s, "ready");
			event_add_locked(r->t, r, "service.ready", s->name,
					 json_pack("{s:s,s:I,s:o}", "address", s->address, "port", (json_int_t)s->cfg->port,
						   "versions", vs));
			run_save(r);
			unlock(r);
			changed(r, ENGINE_STATUS, s->name);
			changed(r, ENGINE_EVENTS, NULL);
			return 0;
		}
		if (pfs_wall_ms() >= until) {
			lock(r);
			set_state(r, RS_FAILED, "server %s did not answer QUIC at %s:%ld within %d s", s->name,
				  s->address, s->cfg->port, (int)((until - now + 999) / 1000));
			unlock(r);
			*failed = true;
			return 0;
		}
		lock(r);
		nap(r, 200);
		unlock(r);
	}
}

static int phase_start(struct run *r, bool *failed)
{
	json_t *addr = json_object();
	int rc;

	lock(r);
	r->state = RS_STARTING;
	snprintf(r->reason, sizeof(r->reason), "network");
	if (!r->started_ms)
		r->started_ms = pfs_wall_ms();
	run_save(r);
	unlock(r);
	changed(r, ENGINE_STATUS, NULL);

	rc = ensure_network(r);
	for (size_t i = 0; i < r->n_svcs && rc == 0 && !*failed; i++)
		if (r->svcs[i].cfg->gen_certs) {
			char *dir = pfs_strdup_printf("%s/certs", r->dir), *key = pfs_strdup_printf("%s/certs/key.pem", r->dir);
			struct pfs_err err = { 0 };

			if (dir && key && access(key, R_OK) < 0 &&
			    (pfs_mkdir_p(dir, 0755) < 0 || certs_generate(dir, r->svcs[i].name, &err) < 0))
				run_error(r, failed, "cannot make a certificate for %s: %s", r->svcs[i].name, err.msg);
			free(dir);
			free(key);
			break;
		}
	/* servers, each until it answers QUIC; then clients with their addresses */
	for (int pass = 0; pass < 2 && rc == 0 && !*failed; pass++)
		for (size_t i = 0; i < r->n_svcs && rc == 0 && !*failed; i++) {
			struct svc *s = &r->svcs[i];
			bool stop;

			if ((pass == 0) != (s->cfg->role == CFG_SERVER))
				continue;
			lock(r);
			stop = r->stop_req || r->kill_req;
			if (!stop) {
				snprintf(r->reason, sizeof(r->reason), "%s", s->name);
				if (pass == 1 && !s->created) {
					unlock(r);
					render_svc(r, s, addr);
					lock(r);
				}
			}
			unlock(r);
			if (stop)
				break;
			changed(r, ENGINE_STATUS, s->name);
			rc = ensure_container(r, s, failed);
			if (rc == 0 && !*failed && pass == 0) {
				rc = wait_ready(r, s, failed);
				json_object_set_new(addr, s->name, json_string(s->address));
			}
		}
	json_decref(addr);
	if (rc == 0 && !*failed) {
		lock(r);
		if (!r->stop_req && !r->kill_req) {
			r->state = RS_RUNNING;
			r->reason[0] = '\0';
			/* the test's timeout is how long its services run, once all are up */
			if (!r->deadline_ms)
				r->deadline_ms = pfs_wall_ms() + (uint64_t)r->cfg->timeout_s * 1000;
			run_save(r);
		}
		unlock(r);
		changed(r, ENGINE_STATUS, NULL);
	}
	return rc;
}

/* -- waiting for the verdict -- */

/* Judges finished clients; returns true with the verdict when the run is over. */
static bool verdict(struct run *r, enum run_state *st, char *why, size_t n)
{
	size_t clients = 0, done = 0, ok = 0;
	uint64_t now = pfs_wall_ms();

	for (size_t i = 0; i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];

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
			s->finished = true;
			s->success = (!s->cfg->success.exit_code || s->exit_code == 0) && s->n_seen == s->n_lines;
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
		if (ok == clients) {
			snprintf(why, n, "%zu client%s finished", clients, clients == 1 ? "" : "s");
		} else {
			for (size_t i = 0; i < r->n_svcs; i++) {
				struct svc *s = &r->svcs[i];

				if (s->cfg->role != CFG_CLIENT || s->success)
					continue;
				if (s->cfg->success.exit_code && s->exit_code != 0 && !s->stop_sent)
					snprintf(why, n, "client %s exited %d", s->name, s->exit_code);
				else
					snprintf(why, n, "client %s: %zu of %zu expected lines seen", s->name, s->n_seen,
						 s->n_lines);
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
	if (now >= r->deadline_ms) {
		if (!clients) {
			*st = RS_SUCCEEDED;
			snprintf(why, n, "servers ran their %ld s", r->cfg->timeout_s);
		} else {
			*st = RS_FAILED;
			snprintf(why, n, "timeout after %ld s", r->cfg->timeout_s);
		}
		return true;
	}
	return false;
}

static int stop_container(struct run *r, struct svc *s, bool kill)
{
	struct docker_client *dc = r->t->e->dc;
	int rc;

	lock(r);
	if (!s->container[0] || s->exited || !s->started) {
		unlock(r);
		return 0;
	}
	s->stop_sent = true;
	run_save(r);
	unlock(r);
	rc = kill ? docker_container_kill(dc, s->container, "SIGKILL", NULL)
		  : docker_container_stop(dc, s->container, r->t->e->grace_s, NULL);
	if (rc == -EBUSY || rc == -ENOENT)
		rc = 0; /* not running (any more) */
	if (rc < 0)
		return engine_call(r, rc);
	lock(r);
	event_add_locked(r->t, r, "service.stopped", s->name,
			 json_pack("{s:s}", "how", kill ? "killed" : "stopped"));
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	return 0;
}

/* Inspects started containers for an exit the event stream did not tell. */
static int inspect_all(struct run *r)
{
	for (size_t i = 0; i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];
		struct docker_container_state st;
		char id[96];
		json_t *j = NULL;
		int rc;

		lock(r);
		snprintf(id, sizeof(id), "%s", s->container);
		bool check = id[0] && s->started && !s->exited;
		unlock(r);
		if (!check)
			continue;
		rc = docker_container_inspect(r->t->e->dc, id, &j, NULL);
		if (rc == -ENOENT) {
			lock(r);
			s->lost = true;
			svc_status(s, "lost");
			record_exit(s, -1);
			unlock(r);
			continue;
		}
		if (rc < 0)
			return engine_call(r, rc);
		docker_inspect_state(j, &st);
		json_decref(j);
		if (!st.running) {
			lock(r);
			record_exit(s, st.exit_code);
			unlock(r);
			changed(r, ENGINE_STATUS, s->name);
		}
	}
	return 0;
}

static int phase_wait(struct run *r, enum run_state *end, char *why, size_t n)
{
	uint64_t last_inspect = 0;
	uint64_t gen = engine_conn_gen(r->t->e);

	for (;;) {
		struct svc *to_stop[CONFIG_MAX_SERVICES];
		size_t nstop = 0;
		bool over;
		int rc;

		if (stopping_engine(r))
			return LOST;
		/* streams of a lost connection: follow again */
		for (size_t i = 0; i < r->n_svcs; i++) {
			struct svc *s = &r->svcs[i];

			lock(r);
			bool again = s->container[0] && !s->following && s->follow_gen != engine_conn_gen(r->t->e) &&
				     s->started;
			unlock(r);
			if (again)
				svc_follow_start(s, true);
		}
		if (pfs_now_ms() - last_inspect >= INSPECT_EVERY_MS || gen != engine_conn_gen(r->t->e)) {
			gen = engine_conn_gen(r->t->e);
			rc = inspect_all(r);
			if (rc < 0)
				return rc;
			last_inspect = pfs_now_ms();
		}
		lock(r);
		over = verdict(r, end, why, n);
		if (!over)
			for (size_t i = 0; i < r->n_svcs; i++) {
				struct svc *s = &r->svcs[i];

				/* a client that never exits is done when its lines are all there */
				if (s->cfg->role == CFG_CLIENT && s->cfg->success.finish_on_lines && !s->stop_sent &&
				    !s->exited && s->n_lines && s->n_seen == s->n_lines)
					to_stop[nstop++] = s;
			}
		if (!over && !nstop)
			nap(r, 1000);
		unlock(r);
		if (over)
			return 0;
		for (size_t i = 0; i < nstop; i++) {
			rc = stop_container(r, to_stop[i], false);
			if (rc < 0)
				return rc;
		}
	}
}

/* -- the end -- */

static int phase_end(struct run *r, enum run_state end, const char *why)
{
	bool kill;
	int rc = 0;

	lock(r);
	kill = r->kill_req;
	if (run_state_live(r->state)) {
		/* the verdict is decided: saved with the state, a restart ends the run the same way */
		r->state = RS_STOPPING;
		r->verdict = end;
		snprintf(r->reason, sizeof(r->reason), "%s", why);
		run_save(r);
	}
	unlock(r);
	changed(r, ENGINE_STATUS, NULL);
	for (size_t i = 0; i < r->n_svcs && rc == 0; i++)
		rc = stop_container(r, &r->svcs[i], kill);
	if (rc < 0)
		return rc;
	/* record the exits and let the log streams drain */
	rc = inspect_all(r);
	if (rc < 0)
		return rc;
	/*
	 * The network goes now (the containers stay, stopped, for inspection):
	 * an engine has only a few dozen address pools, and every finished run
	 * keeping one would soon leave none for live runs.
	 */
	if (r->net_id[0] || r->net_name[0]) {
		rc = docker_network_remove(r->t->e->dc, r->net_id[0] ? r->net_id : r->net_name, NULL);
		if (engine_lost(rc))
			return LOST;
		if (rc == 0) {
			lock(r);
			event_add_locked(r->t, r, "network.removed", NULL, json_pack("{s:s}", "name", r->net_name));
			r->net_id[0] = '\0';
			unlock(r);
		}
		rc = 0;
	}
	lock(r);
	for (int tries = 0; tries < 50; tries++) {
		bool all = true;

		for (size_t i = 0; i < r->n_svcs; i++)
			all &= !r->svcs[i].following;
		if (all)
			break;
		nap(r, 200);
	}
	for (size_t i = 0; i < r->n_svcs; i++)
		svc_pos_save(&r->svcs[i]);
	r->state = end;
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	r->ended_ms = pfs_wall_ms();
	run_save(r);
	event_add_locked(r->t, r,
			 end == RS_SUCCEEDED ? "run.succeeded" : end == RS_STOPPED ? "run.stopped" : "run.failed",
			 NULL, json_pack("{s:s}", "reason", why));
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	changed(r, ENGINE_STATUS, NULL);
	changed(r, ENGINE_RUNS, NULL);
	return 0;
}

/* Stops whatever is still running of a run that failed before the wait phase. */
static int end_failed(struct run *r)
{
	enum run_state st;
	char why[512];

	lock(r);
	st = r->state;
	snprintf(why, sizeof(why), "%s", r->reason);
	unlock(r);
	return phase_end(r, st == RS_STOPPING ? RS_FAILED : st, why);
}

/* ---- the driver ------------------------------------------------------------------------------ */

/*
 * A phase met a Docker error that does not mean "the engine is gone" (a
 * refused request, an exhausted address pool): the run cannot go on, and
 * says why, instead of waiting forever.
 */
static int docker_failed(struct run *r, int rc, const char *phase)
{
	lock(r);
	set_state(r, RS_ERROR, "%s: %s", phase, r->docker_msg[0] ? r->docker_msg : strerror(-rc));
	free(r->t->error_text);
	r->t->error_text = pfs_strdup_printf("run %d: %s: %s\n", r->n, phase,
					     r->docker_msg[0] ? r->docker_msg : strerror(-rc));
	now_ts(&r->t->error_mtime);
	unlock(r);
	return end_failed(r);
}

static int drive(struct run *r)
{
	enum run_state end, st;
	bool failed = false, stop;
	char why[512];
	int rc;

	lock(r);
	st = r->state;
	stop = r->stop_req || r->kill_req;
	unlock(r);
	if (!run_state_live(st))
		return 0;
	if (stop && st == RS_PENDING)
		return phase_end(r, RS_STOPPED, r->kill_req ? "killed" : "stopped");
	r->docker_msg[0] = '\0';
	if (!r->cleaned_previous && (rc = clean_previous(r)) < 0)
		return rc == LOST ? rc : docker_failed(r, rc, "removing the previous run");
	if (st == RS_STOPPING) {
		/* pantherfs stopped (or lost the engine) while ending this run: end it again, as decided */
		lock(r);
		snprintf(why, sizeof(why), "%s", r->reason);
		end = r->verdict;
		unlock(r);
		rc = phase_end(r, end, why[0] ? why : "interrupted");
		return rc == LOST || rc >= 0 ? rc : docker_failed(r, rc, "stopping");
	}
	if (st <= RS_BUILDING) {
		rc = phase_build(r, &failed);
		if (rc < 0)
			return rc == LOST ? rc : docker_failed(r, rc, "images");
		if (failed)
			return end_failed(r);
	}
	lock(r);
	stop = r->stop_req || r->kill_req;
	unlock(r);
	if (!stop && st <= RS_STARTING) {
		rc = phase_start(r, &failed);
		if (rc < 0)
			return rc == LOST ? rc : docker_failed(r, rc, "starting");
		if (failed)
			return end_failed(r);
	} else if (!stop) {
		/* running: adopt every container again (resumed run, or after a reconnect) */
		for (size_t i = 0; i < r->n_svcs && !failed; i++) {
			rc = r->svcs[i].created ? ensure_container(r, &r->svcs[i], &failed) : 0;
			if (rc < 0)
				return rc == LOST ? rc : docker_failed(r, rc, "taking the run up again");
		}
		if (failed)
			return end_failed(r);
	}
	rc = phase_wait(r, &end, why, sizeof(why));
	if (rc < 0)
		return rc == LOST ? rc : docker_failed(r, rc, "running");
	return phase_end(r, end, why);
}

static void *run_main(void *arg)
{
	struct run *r = arg;
	struct engine *e = r->t->e;
	bool next, rebuild;

	for (;;) {
		uint64_t gen = engine_conn_gen(e);
		int rc = drive(r);

		if (rc == LOST) {
			bool back;

			if (stopping_engine(r))
				break;
			lock(r);
			r->waiting_engine = true;
			now_ts(&r->status_mtime);
			unlock(r);
			changed(r, ENGINE_STATUS, NULL);
			back = engine_wait_connected(e, gen);
			lock(r);
			r->waiting_engine = false;
			now_ts(&r->status_mtime);
			unlock(r);
			changed(r, ENGINE_STATUS, NULL);
			if (!back)
				break;
			continue;
		}
		break;
	}
	for (size_t i = 0; i < r->n_svcs; i++)
		svc_follow_stop(&r->svcs[i]);
	lock(r);
	while (true) {
		bool any = false;

		for (size_t i = 0; i < r->n_svcs; i++)
			any |= r->svcs[i].following;
		if (!any)
			break;
		nap(r, 200);
	}
	next = r->stop_then_start && !run_state_live(r->state);
	rebuild = r->rebuild_next;
	r->finalized = !run_state_live(r->state);
	unlock(r);
	if (next && !stopping_engine(r))
		engine_start_next_run(r->t, rebuild);
	return NULL;
}

int run_start_thread(struct run *r)
{
	int rc = pthread_create(&r->th, NULL, run_main, r);

	if (rc)
		return -rc;
	r->thread = true;
	return 0;
}

void run_join(struct run *r)
{
	if (r->thread) {
		pthread_join(r->th, NULL);
		r->thread = false;
	}
}
