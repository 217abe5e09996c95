/* SPDX-License-Identifier: MIT */
/*
 * Typed Docker Engine API calls on top of the transport in client.c.
 * Short calls are synchronous (the caller's thread waits; the I/O thread does
 * the work); streams take callbacks that run on the I/O thread, and each
 * stream's decoder state lives in a small context freed in its done callback.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "docker_internal.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

/* ---- encoding ---------------------------------------------------------------------- */

static bool unreserved(unsigned char ch, const char *keep)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '.' || ch == '~' || (keep && ch && strchr(keep, ch));
}

static char *escape(const char *s, const char *keep)
{
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int r;

		if (unreserved(*p, keep)) {
			r = pfs_buf_addc(&b, (char)*p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			r = pfs_buf_add(&b, e, 3);
		}
		if (r < 0)
			return NULL;
	}
	return pfs_buf_steal(&b, NULL);
}

char *docker_urlencode(const char *s)
{
	return escape(s, NULL);
}

/*
 * A name inside a path ("/images/<name>/json"): every byte but
 * [A-Za-z0-9._~-] percent-encoded, '/' included, so that no name can add a
 * path segment (the engine decodes "library%2Fdebian%3Abookworm" into the
 * image name its routes expect). "." and ".." would still be resolved as
 * segments by curl or the engine's router: refused, as is "".
 */
static bool path_name_ok(const char *s)
{
	return s && *s && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static char *path_escape(const char *s)
{
	return escape(s, NULL);
}

char *docker_filters_labels(const char *const *labels)
{
	json_t *root, *arr;
	char *out;

	if (!labels || !labels[0])
		return NULL;
	root = json_object();
	arr = json_array();
	for (size_t i = 0; labels[i]; i++)
		json_array_append_new(arr, json_string(labels[i]));
	json_object_set_new(root, "label", arr);
	out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return out;
}

char *docker_json_map(const char *const *kv)
{
	json_t *o = json_object();
	char *out;

	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
		json_object_set_new(o, kv[i], json_string(kv[i + 1]));
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}

json_t *docker_json_strv(const char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *docker_json_kv(const char *const *kv)
{
	json_t *o = json_object();

	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
		json_object_set_new(o, kv[i], json_string(kv[i + 1]));
	return o;
}

/* Appends "&name=<encoded value>" (or without & when b is empty). */
int docker_query_add(struct pfs_buf *b, const char *name, const char *value)
{
	char *enc;
	int r;

	if (!value)
		return 0;
	enc = docker_urlencode(value);
	if (!enc)
		return -ENOMEM;
	r = pfs_buf_printf(b, "%s%s=%s", b->len ? "&" : "", name, enc);
	free(enc);
	return r;
}

static int q_filters(struct pfs_buf *b, const char *const *labels)
{
	char *f = docker_filters_labels(labels);
	int r;

	if (!f)
		return 0;
	r = docker_query_add(b, "filters", f);
	free(f);
	return r;
}

/* ---- generic sync helpers ----------------------------------------------------------- */

struct sync_call {
	const char *method;
	const char *path;      /* already escaped */
	const char *query;
	json_t *body;          /* borrowed */
	long timeout_ms;
	json_t **out;          /* parsed response, optional */
};

static int do_sync(struct docker_client *c, const struct sync_call *s, struct pfs_err *err)
{
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct docker_result res;
	char *body = NULL;
	int r;

	rq.method = s->method;
	rq.path = s->path;
	rq.query = s->query && *s->query ? s->query : NULL;
	rq.timeout_ms = s->timeout_ms;
	if (s->body) {
		body = json_dumps(s->body, JSON_COMPACT);
		if (!body)
			return pfs_err_set(err, -ENOMEM, "out of memory");
		rq.body = body;
		rq.body_len = strlen(body);
	}
	r = docker_request_sync(c, &rq, &res, err);
	free(body);
	if (r < 0)
		return r;
	if (s->out) {
		json_error_t jerr;
		json_t *j = json_loadb(res.body ? res.body : "", res.body_len, 0, &jerr);

		if (!j) {
			r = pfs_err_set(err, -EPROTO, "%s %s: malformed JSON from the engine: %s",
					s->method, s->path, jerr.text);
			docker_result_release(&res);
			return r;
		}
		*s->out = j;
	}
	docker_result_release(&res);
	return 0;
}

int docker_json_call(struct docker_client *c, const char *method, const char *path,
		     const char *query, json_t *body, long timeout_ms, json_t **out,
		     struct pfs_err *err)
{
	struct sync_call s = { .method = method, .path = path, .query = query, .body = body,
			       .timeout_ms = timeout_ms, .out = out };

	return do_sync(c, &s, err);
}

/* path built from a format with one escaped name; NULL with errno EINVAL or ENOMEM */
char *docker_path1(const char *fmt, const char *name)
{
	char *e, *p;

	if (!path_name_ok(name)) {
		errno = EINVAL;
		return NULL;
	}
	e = path_escape(name);
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	p = pfs_strdup_printf(fmt, e);
	free(e);
	return p;
}

static int simple(struct docker_client *c, const char *method, const char *fmt, const char *name,
		  const char *query, long timeout_ms, json_t **out, struct pfs_err *err)
{
	struct sync_call s = { .method = method, .query = query, .timeout_ms = timeout_ms, .out = out };
	char *path;
	int r;

	if (!path_name_ok(name)) {
		char *shown = pfs_escape_ctl_dup(name, 0);

		r = pfs_err_set(err, -EINVAL, "\"%s\" is not a name the Docker engine can look up",
				shown ? shown : "");
		free(shown);
		return r;
	}
	path = docker_path1(fmt, name);
	if (!path)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	s.path = path;
	r = do_sync(c, &s, err);
	free(path);
	return r;
}

/* ---- system ------------------------------------------------------------------------------ */

int docker_ping(struct docker_client *c, struct docker_ping_info *info, struct pfs_err *err)
{
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct docker_result res;
	int r;

	rq.method = "GET";
	rq.path = "/_ping";
	rq.unversioned = true;
	r = docker_request_sync(c, &rq, &res, err);
	if (r < 0)
		return r;
	r = docker_client_negotiate(c, res.api_version, err);
	if (r == 0 && info) {
		memset(info, 0, sizeof(*info));
		docker_client_api_version(c, info->api_version, sizeof(info->api_version));
		snprintf(info->server_api, sizeof(info->server_api), "%s", res.api_version);
	}
	docker_result_release(&res);
	return r;
}

int docker_version(struct docker_client *c, json_t **out, struct pfs_err *err)
{
	struct sync_call s = { .method = "GET", .path = "/version", .out = out };

	return do_sync(c, &s, err);
}

int docker_info(struct docker_client *c, json_t **out, struct pfs_err *err)
{
	struct sync_call s = { .method = "GET", .path = "/info", .out = out };

	return do_sync(c, &s, err);
}

/* ---- images ---------------------------------------------------------------------------------- */

int docker_image_inspect(struct docker_client *c, const char *name, json_t **out,
			 struct pfs_err *err)
{
	return simple(c, "GET", "/images/%s/json", name, NULL, 0, out, err);
}

int docker_image_list(struct docker_client *c, const char *const *labels, json_t **out,
		      struct pfs_err *err)
{
	struct pfs_buf q = PFS_BUF_INIT(65536);
	struct sync_call s = { .method = "GET", .path = "/images/json", .out = out };
	int r;

	if (q_filters(&q, labels) < 0)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	s.query = pfs_buf_str(&q);
	r = do_sync(c, &s, err);
	pfs_buf_release(&q);
	return r;
}

int docker_image_remove(struct docker_client *c, const char *name, bool force, struct pfs_err *err)
{
	json_t *j = NULL;
	int r = simple(c, "DELETE", "/images/%s", name, force ? "force=1" : NULL, 120000, &j, err);

	json_decref(j);
	return r;
}

/* ---- containers -------------------------------------------------------------------------------- */

int docker_container_create(struct docker_client *c, const struct docker_container_spec *sp,
			    char **id_out, struct pfs_err *err)
{
	struct sync_call s = { .method = "POST", .path = "/containers/create" };
	json_t *body, *host, *out = NULL;
	char *q = NULL, *enc = NULL;
	int r;

	if (!sp->image || !*sp->image)
		return pfs_err_set(err, -EINVAL, "container create: no image");
	body = json_object();
	json_object_set_new(body, "Image", json_string(sp->image));
	if (sp->cmd)
		json_object_set_new(body, "Cmd", docker_json_strv(sp->cmd));
	if (sp->entrypoint)
		json_object_set_new(body, "Entrypoint", docker_json_strv(sp->entrypoint));
	if (sp->env)
		json_object_set_new(body, "Env", docker_json_strv(sp->env));
	json_object_set_new(body, "Labels", docker_json_kv(sp->labels));
	json_object_set_new(body, "Tty", json_boolean(sp->tty));
	json_object_set_new(body, "OpenStdin", json_boolean(sp->open_stdin));
	json_object_set_new(body, "AttachStdin", json_false());
	json_object_set_new(body, "AttachStdout", json_true());
	json_object_set_new(body, "AttachStderr", json_true());
	if (sp->working_dir)
		json_object_set_new(body, "WorkingDir", json_string(sp->working_dir));
	host = json_object();
	if (sp->network)
		json_object_set_new(host, "NetworkMode", json_string(sp->network));
	if (sp->binds)
		json_object_set_new(host, "Binds", docker_json_strv(sp->binds));
	if (sp->cap_add)
		json_object_set_new(host, "CapAdd", docker_json_strv(sp->cap_add));
	if (sp->init)
		json_object_set_new(host, "Init", json_true());
	if (sp->privileged)
		json_object_set_new(host, "Privileged", json_true());
	json_object_set_new(body, "HostConfig", host);
	/* container:<id> shares that container's endpoint: it has none of its own */
	if (sp->network && strncmp(sp->network, "container:", 10) != 0) {
		json_t *ep = json_object(), *eps = json_object(), *nc = json_object();

		if (sp->aliases)
			json_object_set_new(ep, "Aliases", docker_json_strv(sp->aliases));
		json_object_set_new(eps, sp->network, ep);
		json_object_set_new(nc, "EndpointsConfig", eps);
		json_object_set_new(body, "NetworkingConfig", nc);
	}
	if (sp->name) {
		enc = docker_urlencode(sp->name);
		q = enc ? pfs_strdup_printf("name=%s", enc) : NULL;
		if (!q) {
			json_decref(body);
			free(enc);
			return pfs_err_set(err, -ENOMEM, "out of memory");
		}
	}
	s.query = q;
	s.body = body;
	s.out = &out;
	r = do_sync(c, &s, err);
	json_decref(body);
	free(q);
	free(enc);
	if (r < 0)
		return r;
	if (!json_is_string(json_object_get(out, "Id"))) {
		json_decref(out);
		return pfs_err_set(err, -EPROTO, "container create: no Id in the engine's answer");
	}
	*id_out = strdup(json_string_value(json_object_get(out, "Id")));
	json_decref(out);
	return *id_out ? 0 : pfs_err_set(err, -ENOMEM, "out of memory");
}

int docker_container_start(struct docker_client *c, const char *id, struct pfs_err *err)
{
	int r = simple(c, "POST", "/containers/%s/start", id, NULL, 0, NULL, err);

	return r == -EALREADY ? 0 : r;
}

int docker_container_stop(struct docker_client *c, const char *id, int grace_s, struct pfs_err *err)
{
	char q[32];
	int r;

	snprintf(q, sizeof(q), "t=%d", grace_s < 0 ? 0 : grace_s);
	r = simple(c, "POST", "/containers/%s/stop", id, q, (grace_s + 30) * 1000L, NULL, err);
	return r == -EALREADY ? 0 : r;
}

int docker_container_kill(struct docker_client *c, const char *id, const char *signal,
			  struct pfs_err *err)
{
	char q[64];

	snprintf(q, sizeof(q), "signal=%s", signal ? signal : "SIGKILL");
	return simple(c, "POST", "/containers/%s/kill", id, q, 0, NULL, err);
}

int docker_container_remove(struct docker_client *c, const char *id, bool force,
			    struct pfs_err *err)
{
	return simple(c, "DELETE", "/containers/%s", id, force ? "force=1&v=1" : "v=1", 60000, NULL,
		      err);
}

int docker_container_inspect(struct docker_client *c, const char *id, json_t **out,
			     struct pfs_err *err)
{
	return simple(c, "GET", "/containers/%s/json", id, NULL, 0, out, err);
}

int docker_container_list(struct docker_client *c, const char *const *labels, bool all,
			  json_t **out, struct pfs_err *err)
{
	struct pfs_buf q = PFS_BUF_INIT(65536);
	struct sync_call s = { .method = "GET", .path = "/containers/json", .out = out };
	int r;

	if ((all && pfs_buf_addstr(&q, "all=1") < 0) || q_filters(&q, labels) < 0)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	s.query = pfs_buf_str(&q);
	r = do_sync(c, &s, err);
	pfs_buf_release(&q);
	return r;
}

static void copy_str(json_t *o, const char *key, char *out, size_t n)
{
	const char *v = json_string_value(json_object_get(o, key));

	snprintf(out, n, "%s", v ? v : "");
}

int docker_inspect_state(json_t *inspect, struct docker_container_state *st)
{
	json_t *s = json_object_get(inspect, "State");

	memset(st, 0, sizeof(*st));
	if (!json_is_object(s))
		return -EPROTO;
	copy_str(s, "Status", st->status, sizeof(st->status));
	st->running = json_is_true(json_object_get(s, "Running"));
	st->exit_code = (int)json_integer_value(json_object_get(s, "ExitCode"));
	st->oom_killed = json_is_true(json_object_get(s, "OOMKilled"));
	copy_str(s, "StartedAt", st->started_at, sizeof(st->started_at));
	copy_str(s, "FinishedAt", st->finished_at, sizeof(st->finished_at));
	st->tty = json_is_true(json_object_get(json_object_get(inspect, "Config"), "Tty"));
	return 0;
}

int docker_inspect_ip(json_t *inspect, const char *network, char *out, size_t outlen)
{
	json_t *nets = json_object_get(json_object_get(inspect, "NetworkSettings"), "Networks");
	json_t *n = json_object_get(nets, network);
	const char *ip = json_string_value(json_object_get(n, "IPAddress"));

	if (!ip || !*ip)
		return -ENOENT;
	snprintf(out, outlen, "%s", ip);
	return 0;
}

/* ---- wait ----------------------------------------------------------------------------------------- */

struct wait_ctx {
	struct pfs_buf body;
	docker_wait_cb cb;
	void *ud;
};

static int wait_data(void *ud, const char *d, size_t n)
{
	struct wait_ctx *w = ud;
	int r = pfs_buf_add(&w->body, d, n);

	return r == -E2BIG ? -EFBIG : r;
}

static void wait_done(void *ud, const struct docker_result *r)
{
	struct wait_ctx *w = ud;
	struct docker_result res = *r;
	int code = -1;

	if (res.err == 0) {
		json_error_t jerr;
		json_t *j = json_loadb(pfs_buf_str(&w->body), w->body.len, 0, &jerr);
		json_t *e = json_object_get(j, "Error");

		if (json_is_integer(json_object_get(j, "StatusCode"))) {
			code = (int)json_integer_value(json_object_get(j, "StatusCode"));
		} else {
			res.err = -EPROTO;
			snprintf(res.message, sizeof(res.message), "container wait: no StatusCode in the answer");
		}
		if (json_is_object(e) && json_string_value(json_object_get(e, "Message")) &&
		    *json_string_value(json_object_get(e, "Message"))) {
			res.err = -EIO;
			snprintf(res.message, sizeof(res.message), "%s",
				 json_string_value(json_object_get(e, "Message")));
		}
		json_decref(j);
	}
	if (w->cb)
		w->cb(w->ud, &res, code);
	pfs_buf_release(&w->body);
	free(w);
}

struct docker_call *docker_container_wait(struct docker_client *c, const char *id,
					  const char *condition, docker_wait_cb cb, void *ud)
{
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct docker_call *call;
	struct wait_ctx *w;
	char *path, q[64];

	w = calloc(1, sizeof(*w));
	path = docker_path1("/containers/%s/wait", id);
	if (!w || !path) {
		int e = path ? ENOMEM : errno;

		free(w);
		free(path);
		errno = e;
		return NULL;
	}
	pfs_buf_init(&w->body, 65536);
	w->cb = cb;
	w->ud = ud;
	snprintf(q, sizeof(q), "condition=%s", condition ? condition : "not-running");
	rq.method = "POST";
	rq.path = path;
	rq.query = q;
	rq.stream = true;
	rq.on_data = wait_data;
	rq.on_done = wait_done;
	rq.ud = w;
	call = docker_submit(c, &rq);
	free(path);
	if (!call)
		free(w);
	return call;
}

/* Waits for a stream call's done callback, with an optional bound. */
struct stream_waiter {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
	int err;
	int code;
	char msg[PFS_ERR_MSG_MAX];
};

static void sw_init(struct stream_waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->m, NULL);
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &a);
	pthread_condattr_destroy(&a);
}

static void sw_signal(struct stream_waiter *w, const struct docker_result *r, int code)
{
	pthread_mutex_lock(&w->m);
	w->err = r->err;
	w->code = code;
	snprintf(w->msg, sizeof(w->msg), "%s", r->message);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->m);
}

/* Returns false on timeout (the caller cancels and waits again unbounded). */
static bool sw_wait(struct stream_waiter *w, long timeout_ms)
{
	struct timespec ts;
	bool done;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (timeout_ms > 0) {
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&w->m);
	while (!w->done) {
		if (timeout_ms > 0) {
			if (pthread_cond_timedwait(&w->cv, &w->m, &ts) == ETIMEDOUT)
				break;
		} else {
			pthread_cond_wait(&w->cv, &w->m);
		}
	}
	done = w->done;
	pthread_mutex_unlock(&w->m);
	return done;
}

static void sw_destroy(struct stream_waiter *w)
{
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->m);
}

static void sw_wait_cb(void *ud, const struct docker_result *r, int code)
{
	sw_signal(ud, r, code);
}

int docker_container_wait_sync(struct docker_client *c, const char *id, long timeout_ms,
			       int *exit_code, struct pfs_err *err)
{
	struct stream_waiter w;
	struct docker_call *call;
	bool timed_out = false;
	int r;

	if (docker_on_io_thread(c))
		return pfs_err_set(err, -EDEADLK, "synchronous Docker call from the I/O thread");
	sw_init(&w);
	call = docker_container_wait(c, id, "not-running", sw_wait_cb, &w);
	if (!call) {
		r = -errno;
		sw_destroy(&w);
		return pfs_err_set(err, r, "container wait: %s", strerror(-r));
	}
	if (!sw_wait(&w, timeout_ms)) {
		timed_out = true;
		docker_call_cancel(call);
		sw_wait(&w, 0);
	}
	docker_call_unref(call);
	sw_destroy(&w);
	if (timed_out)
		return pfs_err_set(err, -ETIMEDOUT, "container %.12s still running after %ld ms", id,
				   timeout_ms);
	if (w.err < 0)
		return pfs_err_set(err, w.err, "%s", w.msg);
	*exit_code = w.code;
	return 0;
}

/* ---- logs ------------------------------------------------------------------------------------------ */

struct logs_ctx {
	struct docker_frames frames;
	struct docker_entries entries;
	int tty;  /* -1 unknown until the headers say */
	struct docker_logs_cbs cbs;
};

static int logs_frame(void *ud, enum docker_log_stream s, const char *d, size_t n, bool end)
{
	struct logs_ctx *l = ud;

	(void)end;
	return l->cbs.on_data ? l->cbs.on_data(l->cbs.ud, s, d, n) : 0;
}

static void logs_setup(struct logs_ctx *l)
{
	docker_frames_init(&l->frames, l->tty == 1);
	docker_entries_release(&l->entries);
	docker_entries_init(&l->entries, l->tty == 1, l->cbs.on_entry, l->cbs.ud);
}

static int logs_head(void *ud, long status, const char *ct)
{
	struct logs_ctx *l = ud;

	(void)status;
	if (ct && strstr(ct, "multiplexed-stream"))
		l->tty = 0;
	else if (ct && strstr(ct, "raw-stream"))
		l->tty = 1;
	if (l->tty < 0)
		l->tty = 0;
	logs_setup(l);
	return 0;
}

static int logs_data(void *ud, const char *d, size_t n)
{
	struct logs_ctx *l = ud;

	if (l->cbs.on_entry)
		return docker_entries_feed(&l->entries, d, n);
	return docker_frames_feed(&l->frames, d, n, logs_frame, l);
}

static void logs_done(void *ud, const struct docker_result *r)
{
	struct logs_ctx *l = ud;
	struct docker_result res = *r;
	const struct docker_frames *f = l->cbs.on_entry ? &l->entries.frames : &l->frames;

	if (res.err == 0 && l->cbs.on_entry)
		res.err = docker_entries_finish(&l->entries);
	if (res.err == 0 && !docker_frames_complete(f)) {
		res.err = -ECONNRESET;
		snprintf(res.message, sizeof(res.message), "log stream cut inside a frame");
	}
	if (l->cbs.on_done)
		l->cbs.on_done(l->cbs.ud, &res);
	docker_entries_release(&l->entries);
	free(l);
}

struct docker_call *docker_logs_at(struct docker_client *c, const char *path, int tty,
				   const struct docker_logs_opts *o, const struct docker_logs_cbs *cbs,
				   struct pfs_err *err)
{
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct pfs_buf q = PFS_BUF_INIT(4096);
	struct docker_call *call;
	struct logs_ctx *l;

	l = calloc(1, sizeof(*l));
	if (!l ||
	    pfs_buf_printf(&q, "stdout=%d&stderr=%d&follow=%d&timestamps=%d", !o->no_stdout,
			   !o->no_stderr, o->follow, o->timestamps) < 0 ||
	    docker_query_add(&q, "since", o->since) < 0) {
		free(l);
		pfs_buf_release(&q);
		pfs_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	l->tty = tty;
	l->cbs = *cbs;
	logs_setup(l);
	rq.method = "GET";
	rq.path = path;
	rq.query = pfs_buf_str(&q);
	rq.stream = true;
	rq.on_head = logs_head;
	rq.on_data = logs_data;
	rq.on_done = logs_done;
	rq.ud = l;
	call = docker_submit(c, &rq);
	if (!call) {
		pfs_err_set(err, -errno, "logs: %s", strerror(errno));
		free(l);
	}
	pfs_buf_release(&q);
	return call;
}

struct docker_call *docker_container_logs(struct docker_client *c, const char *id,
					  const struct docker_logs_opts *o,
					  const struct docker_logs_cbs *cbs, struct pfs_err *err)
{
	struct docker_call *call;
	char *path;
	int tty = o->tty;

	if (tty < 0 && !docker_on_io_thread(c)) {
		char ver[16];

		/* before API 1.42 no Content-Type tells raw from framed: ask the container */
		docker_client_api_version(c, ver, sizeof(ver));
		if (!ver[0] || docker_api_parse(ver) < 1042) {
			struct docker_container_state st;
			json_t *j = NULL;

			if (docker_container_inspect(c, id, &j, err) < 0)
				return NULL;
			docker_inspect_state(j, &st);
			json_decref(j);
			tty = st.tty;
		}
	}
	path = docker_path1("/containers/%s/logs", id);
	if (!path) {
		if (!path_name_ok(id))
			pfs_err_set(err, -EINVAL, "container logs: not a container name or id");
		else
			pfs_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	call = docker_logs_at(c, path, tty, o, cbs, err);
	free(path);
	return call;
}

struct logs_collect {
	struct stream_waiter w;
	struct pfs_buf *out, *errb;
	int fail;
};

static int collect_data(void *ud, enum docker_log_stream s, const char *d, size_t n)
{
	struct logs_collect *lc = ud;
	struct pfs_buf *b = s == DOCKER_STDERR ? lc->errb : lc->out;
	int r;

	if (!b)
		return 0;
	r = pfs_buf_add(b, d, n);
	return r == -E2BIG ? -EFBIG : r;
}

static void collect_done(void *ud, const struct docker_result *r)
{
	struct logs_collect *lc = ud;

	sw_signal(&lc->w, r, 0);
}

int docker_logs_collect(struct docker_client *c, docker_logs_fn start, const char *id,
			bool timestamps, struct pfs_buf *out_stdout, struct pfs_buf *out_stderr,
			struct pfs_err *err)
{
	struct docker_logs_opts o = { .timestamps = timestamps, .tty = -1,
				      .no_stdout = !out_stdout, .no_stderr = !out_stderr };
	struct docker_logs_cbs cbs = { .on_data = collect_data, .on_done = collect_done };
	struct logs_collect lc = { .out = out_stdout, .errb = out_stderr };
	struct docker_call *call;

	if (docker_on_io_thread(c))
		return pfs_err_set(err, -EDEADLK, "synchronous Docker call from the I/O thread");
	sw_init(&lc.w);
	cbs.ud = &lc;
	call = start(c, id, &o, &cbs, err);
	if (!call) {
		sw_destroy(&lc.w);
		return err ? err->code : -EIO;
	}
	sw_wait(&lc.w, 0);
	docker_call_unref(call);
	sw_destroy(&lc.w);
	if (lc.w.err < 0)
		return pfs_err_set(err, lc.w.err, "%s", lc.w.msg);
	return 0;
}

int docker_container_logs_sync(struct docker_client *c, const char *id, bool timestamps,
			       struct pfs_buf *out_stdout, struct pfs_buf *out_stderr,
			       struct pfs_err *err)
{
	return docker_logs_collect(c, docker_container_logs, id, timestamps, out_stdout, out_stderr,
				   err);
}

/* ---- networks ------------------------------------------------------------------------------------------ */

static int network_create(struct docker_client *c, const char *name, const char *driver,
			  const char *const *labels, bool internal, bool attachable, char **id_out,
			  struct pfs_err *err)
{
	struct sync_call s = { .method = "POST", .path = "/networks/create" };
	json_t *body = json_object(), *out = NULL;
	int r;

	json_object_set_new(body, "Name", json_string(name));
	json_object_set_new(body, "Driver", json_string(driver));
	json_object_set_new(body, "CheckDuplicate", json_true());
	json_object_set_new(body, "Internal", json_boolean(internal));
	if (attachable)
		json_object_set_new(body, "Attachable", json_true());
	json_object_set_new(body, "Labels", docker_json_kv(labels));
	s.body = body;
	s.out = &out;
	r = do_sync(c, &s, err);
	json_decref(body);
	if (r < 0)
		return r;
	if (!json_is_string(json_object_get(out, "Id"))) {
		json_decref(out);
		return pfs_err_set(err, -EPROTO, "network create: no Id in the engine's answer");
	}
	*id_out = strdup(json_string_value(json_object_get(out, "Id")));
	json_decref(out);
	return *id_out ? 0 : pfs_err_set(err, -ENOMEM, "out of memory");
}

int docker_network_create(struct docker_client *c, const char *name, const char *const *labels,
			  bool internal, char **id_out, struct pfs_err *err)
{
	return network_create(c, name, "bridge", labels, internal, false, id_out, err);
}

int docker_network_create_overlay(struct docker_client *c, const char *name,
				  const char *const *labels, char **id_out, struct pfs_err *err)
{
	return network_create(c, name, "overlay", labels, false, true, id_out, err);
}

int docker_network_inspect(struct docker_client *c, const char *id, json_t **out,
			   struct pfs_err *err)
{
	return simple(c, "GET", "/networks/%s", id, NULL, 0, out, err);
}

int docker_network_remove(struct docker_client *c, const char *id, struct pfs_err *err)
{
	return simple(c, "DELETE", "/networks/%s", id, NULL, 0, NULL, err);
}

int docker_network_list(struct docker_client *c, const char *const *labels, json_t **out,
			struct pfs_err *err)
{
	struct pfs_buf q = PFS_BUF_INIT(65536);
	struct sync_call s = { .method = "GET", .path = "/networks", .out = out };
	int r;

	if (q_filters(&q, labels) < 0)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	s.query = pfs_buf_str(&q);
	r = do_sync(c, &s, err);
	pfs_buf_release(&q);
	return r;
}

/* ---- events ---------------------------------------------------------------------------------------------- */

struct events_ctx {
	struct docker_ndjson nd;
	struct docker_events_cbs cbs;
};

static int events_line(void *ud, json_t *obj, const char *raw, size_t len)
{
	struct events_ctx *e = ud;

	(void)raw;
	(void)len;
	if (obj && e->cbs.on_event)
		e->cbs.on_event(e->cbs.ud, obj);
	return 0;
}

static int events_data(void *ud, const char *d, size_t n)
{
	struct events_ctx *e = ud;

	return docker_ndjson_feed(&e->nd, d, n, events_line, e);
}

static void events_done(void *ud, const struct docker_result *r)
{
	struct events_ctx *e = ud;

	if (r->err == 0)
		docker_ndjson_finish(&e->nd, events_line, e);
	if (e->cbs.on_done)
		e->cbs.on_done(e->cbs.ud, r);
	docker_ndjson_release(&e->nd);
	free(e);
}

struct docker_call *docker_events(struct docker_client *c, const char *const *labels, long since,
				  const struct docker_events_cbs *cbs, struct pfs_err *err)
{
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct pfs_buf q = PFS_BUF_INIT(65536);
	struct docker_call *call;
	struct events_ctx *e = calloc(1, sizeof(*e));

	if (!e || q_filters(&q, labels) < 0 ||
	    (since > 0 && pfs_buf_printf(&q, "%ssince=%ld", q.len ? "&" : "", since) < 0)) {
		free(e);
		pfs_buf_release(&q);
		pfs_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	docker_ndjson_init(&e->nd);
	e->cbs = *cbs;
	rq.method = "GET";
	rq.path = "/events";
	rq.query = q.len ? pfs_buf_str(&q) : NULL;
	rq.stream = true;
	rq.on_data = events_data;
	rq.on_done = events_done;
	rq.ud = e;
	call = docker_submit(c, &rq);
	if (!call) {
		pfs_err_set(err, -errno, "events: %s", strerror(errno));
		docker_ndjson_release(&e->nd);
		free(e);
	}
	pfs_buf_release(&q);
	return call;
}

/* ---- build ------------------------------------------------------------------------------------------------- */

struct build_ctx {
	struct docker_ndjson nd;
	struct docker_lines lines;
	struct docker_build_cbs cbs;
	char image_id[128];
	char error[PFS_ERR_MSG_MAX];
	bool failed;
	bool pull;      /* a pull or a push: no image id to wait for */
	bool push;      /* a push: image_id holds the digest the registry gave */
};

/*
 * "The command '<a RUN script of any length>' returned a non-zero code: 1":
 * keep the start of the script and the end of the sentence, which is what
 * says what happened.
 */
static void shorten_build_error(const char *text, char *out, size_t outlen)
{
	static const char head[] = "The command '";
	const char *tail = strstr(text, "' returned a non-zero code");
	size_t n = strlen(text);

	if (n < 240 || strncmp(text, head, sizeof(head) - 1) || !tail) {
		snprintf(out, outlen, "%s", text);
		return;
	}
	snprintf(out, outlen, "%.*s ...%s", (int)(sizeof(head) - 1 + 80), text, tail);
}

static int build_text_line(void *ud, const char *line, size_t len, bool partial)
{
	struct build_ctx *b = ud;
	const char *p = line;
	size_t n = len;

	(void)partial;
	if (b->cbs.on_line)
		b->cbs.on_line(b->cbs.ud, line, len);
	/* engines without aux.ID (old ones) only say it in text */
	if (!b->image_id[0] && n > 19 && !strncmp(p, "Successfully built ", 19)) {
		size_t k = n - 19 < sizeof(b->image_id) - 1 ? n - 19 : sizeof(b->image_id) - 1;
		memcpy(b->image_id, p + 19, k);
		b->image_id[k] = '\0';
	}
	return 0;
}

static int build_line(void *ud, json_t *obj, const char *raw, size_t len)
{
	struct build_ctx *b = ud;
	struct docker_build_msg m;

	if (!obj) {
		/* not JSON: pass it on as text, it is still the builder talking */
		docker_lines_feed(&b->lines, raw, len, build_text_line, b);
		return docker_lines_feed(&b->lines, "\n", 1, build_text_line, b);
	}
	docker_build_classify(obj, &m);
	if (b->push && m.kind == DOCKER_BUILD_OTHER) {
		const char *d = json_string_value(json_object_get(json_object_get(obj, "aux"), "Digest"));

		if (d)
			snprintf(b->image_id, sizeof(b->image_id), "%s", d);
		return 0;
	}
	if (b->pull && m.kind == DOCKER_BUILD_TEXT) {
		/* a pull's status lines: "<layer>: Downloading" without a newline,
		 * and a progress line per chunk, which build.log does not need */
		json_t *pd = json_object_get(obj, "progressDetail");
		const char *id = json_string_value(json_object_get(obj, "id"));
		char *t;
		int rc;

		if (json_is_object(pd) && json_object_get(pd, "current"))
			return 0;
		t = id ? pfs_strdup_printf("%s: %s\n", id, m.text) : pfs_strdup_printf("%s\n", m.text);
		if (!t)
			return -ENOMEM;
		rc = docker_lines_feed(&b->lines, t, strlen(t), build_text_line, b);
		free(t);
		return rc;
	}
	switch (m.kind) {
	case DOCKER_BUILD_STEP:
		if (b->cbs.on_step)
			b->cbs.on_step(b->cbs.ud, m.step, m.steps);
		/* the step line is output too */
		__attribute__((fallthrough));
	case DOCKER_BUILD_TEXT:
		return docker_lines_feed(&b->lines, m.text, strlen(m.text), build_text_line, b);
	case DOCKER_BUILD_IMAGE:
		snprintf(b->image_id, sizeof(b->image_id), "%s", m.text);
		return 0;
	case DOCKER_BUILD_ERROR:
		b->failed = true;
		shorten_build_error(m.text, b->error, sizeof(b->error));
		docker_lines_finish(&b->lines, build_text_line, b);
		if (b->cbs.on_line) {
			char *t = pfs_strdup_printf("ERROR: %s", m.text);
			if (t) {
				size_t tl = strlen(t);
				while (tl && t[tl - 1] == '\n')
					t[--tl] = '\0';
				b->cbs.on_line(b->cbs.ud, t, tl);
				free(t);
			}
		}
		return 0;
	case DOCKER_BUILD_OTHER:
		return 0;
	}
	return 0;
}

static int build_data(void *ud, const char *d, size_t n)
{
	struct build_ctx *b = ud;

	return docker_ndjson_feed(&b->nd, d, n, build_line, b);
}

static void build_done(void *ud, const struct docker_result *r)
{
	struct build_ctx *b = ud;
	struct docker_result res = *r;

	if (res.err == 0)
		docker_ndjson_finish(&b->nd, build_line, b);
	docker_lines_finish(&b->lines, build_text_line, b);
	if (res.err == 0 && b->failed) {
		res.err = -EIO;
		snprintf(res.message, sizeof(res.message), "%s", b->error);
	} else if (res.err == 0 && !b->image_id[0] && (!b->pull || b->push)) {
		res.err = -EPROTO;
		snprintf(res.message, sizeof(res.message), "the %s ended without %s",
			 b->push ? "push" : "build", b->push ? "a digest" : "an image id");
	}
	if (b->cbs.on_done)
		b->cbs.on_done(b->cbs.ud, &res,
			       res.err == 0 && (!b->pull || b->push) ? b->image_id : NULL);
	docker_ndjson_release(&b->nd);
	docker_lines_release(&b->lines);
	free(b);
}

struct docker_call *docker_build(struct docker_client *c, const struct docker_build_opts *o,
				 const struct docker_build_cbs *cbs, char context_sha[65],
				 struct pfs_err *err)
{
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct pfs_buf q = PFS_BUF_INIT(1u << 20);
	struct docker_call *call = NULL;
	struct build_ctx *b = NULL;
	char sha[65], *ba = NULL, *lb = NULL;
	off_t size;
	int fd, r;

	fd = open_tmpfile_for_context();
	if (fd < 0) {
		pfs_err_set(err, fd, "cannot create a temporary file for the build context: %s",
			    strerror(-fd));
		return NULL;
	}
	r = docker_context_tar(o->context_dir, o->extra, o->n_extra, fd, sha, err);
	if (r < 0)
		goto out;
	size = lseek(fd, 0, SEEK_END);
	if (size < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		pfs_err_set(err, -errno, "build context: %s", strerror(errno));
		goto out;
	}
	if (context_sha)
		memcpy(context_sha, sha, 65);

	if (o->buildargs && o->buildargs[0])
		ba = docker_json_map(o->buildargs);
	if (o->labels && o->labels[0])
		lb = docker_json_map(o->labels);
	if (docker_query_add(&q, "t", o->tag) < 0 || docker_query_add(&q, "dockerfile", o->dockerfile) < 0 ||
	    docker_query_add(&q, "buildargs", ba) < 0 || docker_query_add(&q, "labels", lb) < 0 ||
	    docker_query_add(&q, "target", o->target) < 0 ||
	    pfs_buf_printf(&q, "%srm=1&forcerm=1%s%s", q.len ? "&" : "", o->nocache ? "&nocache=1" : "",
			   o->pull ? "&pull=1" : "") < 0) {
		pfs_err_set(err, -ENOMEM, "build query too long");
		goto out;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	docker_ndjson_init(&b->nd);
	docker_lines_init(&b->lines, 65536);
	b->cbs = *cbs;

	rq.method = "POST";
	rq.path = "/build";
	rq.query = pfs_buf_str(&q);
	rq.content_type = "application/x-tar";
	rq.upload_fd = fd;
	rq.upload_len = size;
	rq.stream = true;
	rq.on_data = build_data;
	rq.on_done = build_done;
	rq.ud = b;
	fd = -1; /* the call owns it now, even on failure */
	call = docker_submit(c, &rq);
	if (!call) {
		pfs_err_set(err, -errno, "build: %s", strerror(errno));
		docker_ndjson_release(&b->nd);
		docker_lines_release(&b->lines);
		free(b);
	}
out:
	if (fd >= 0)
		close(fd);
	free(ba);
	free(lb);
	pfs_buf_release(&q);
	return call;
}

/*
 * Splits "repo:tag" (a colon after the last slash: "host:port/repo" has
 * none) into name and *tag; "repo" gets tag NULL, and so does "repo@digest",
 * which *digest tells.
 */
static void split_ref(const char *ref, char *name, size_t n, const char **tag, bool *digest)
{
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':'), *at = strchr(ref, '@');

	*digest = at != NULL;
	if (at || !colon || (slash && colon < slash)) {
		snprintf(name, n, "%s", ref);
		*tag = NULL;
	} else {
		snprintf(name, n, "%.*s", (int)(colon - ref), ref);
		*tag = colon + 1;
	}
}

/* A pull or push: its progress decoded as a pull's, through cbs. */
static struct docker_call *progress_call(struct docker_client *c, const char *path,
					 const char *query, bool push, const char *const *headers,
					 const struct docker_build_cbs *cbs, struct pfs_err *err)
{
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct docker_call *call;
	struct build_ctx *b = calloc(1, sizeof(*b));

	if (!b) {
		pfs_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	docker_ndjson_init(&b->nd);
	docker_lines_init(&b->lines, 65536);
	b->cbs = *cbs;
	b->pull = true;
	b->push = push;
	rq.method = "POST";
	rq.path = path;
	rq.query = query;
	rq.headers = headers;
	rq.stream = true;
	rq.on_data = build_data;
	rq.on_done = build_done;
	rq.ud = b;
	call = docker_submit(c, &rq);
	if (!call) {
		pfs_err_set(err, -errno, "%s: %s", push ? "push" : "pull", strerror(errno));
		docker_ndjson_release(&b->nd);
		docker_lines_release(&b->lines);
		free(b);
	}
	return call;
}

struct docker_call *docker_image_pull(struct docker_client *c, const char *ref,
				      const struct docker_build_cbs *cbs, struct pfs_err *err)
{
	struct pfs_buf q = PFS_BUF_INIT(4096);
	struct docker_call *call;
	const char *tag;
	char name[512];
	bool digest;

	split_ref(ref, name, sizeof(name), &tag, &digest);
	if (docker_query_add(&q, "fromImage", name) < 0 || (tag && docker_query_add(&q, "tag", tag) < 0) ||
	    (!tag && !digest && docker_query_add(&q, "tag", "latest") < 0)) {
		pfs_buf_release(&q);
		pfs_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	call = progress_call(c, "/images/create", pfs_buf_str(&q), false, NULL, cbs, err);
	pfs_buf_release(&q);
	return call;
}

struct docker_call *docker_image_push(struct docker_client *c, const char *ref, const char *auth,
				      const struct docker_build_cbs *cbs, struct pfs_err *err)
{
	struct pfs_buf q = PFS_BUF_INIT(4096);
	struct docker_call *call = NULL;
	char name[512], *path = NULL, *hdr;
	const char *tag;
	bool digest;

	split_ref(ref, name, sizeof(name), &tag, &digest);
	if (digest || !name[0]) {
		pfs_err_set(err, -EINVAL, "push: \"%s\" is not a name[:tag]", ref);
		return NULL;
	}
	/* the engine refuses a push without this header, even to an open registry */
	hdr = pfs_strdup_printf("X-Registry-Auth: %s", auth && *auth ? auth : DOCKER_AUTH_NONE);
	path = docker_path1("/images/%s/push", name);
	if (!hdr || !path || docker_query_add(&q, "tag", tag ? tag : "latest") < 0) {
		pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	call = progress_call(c, path, pfs_buf_str(&q), true, (const char *const[]){ hdr, NULL }, cbs,
			     err);
out:
	free(hdr);
	free(path);
	pfs_buf_release(&q);
	return call;
}

int docker_image_tag(struct docker_client *c, const char *source, const char *target,
		     struct pfs_err *err)
{
	struct pfs_buf q = PFS_BUF_INIT(4096);
	const char *tag;
	char name[512];
	bool digest;
	int r;

	split_ref(target, name, sizeof(name), &tag, &digest);
	if (digest || !name[0])
		return pfs_err_set(err, -EINVAL, "tag: \"%s\" is not a name[:tag]", target);
	if (docker_query_add(&q, "repo", name) < 0 || docker_query_add(&q, "tag", tag ? tag : "latest") < 0) {
		pfs_buf_release(&q);
		return pfs_err_set(err, -ENOMEM, "out of memory");
	}
	r = simple(c, "POST", "/images/%s/tag", source, pfs_buf_str(&q), 0, NULL, err);
	pfs_buf_release(&q);
	return r;
}
