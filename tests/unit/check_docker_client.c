/* SPDX-License-Identifier: MIT */
/*
 * The Docker client's transport and error paths against a scripted HTTP
 * server on a unix socket: status mapping with the daemon's messages,
 * malformed answers, connections that close mid-stream, daemons that never
 * answer, version negotiation, caps, cancellation and shutdown.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fakehttp.h"
#include "pfs_check.h"
#include "pantherfs/docker.h"
#include "pantherfs/util.h"

static struct docker_client *client_for(struct fakehttp *f, long timeout_ms)
{
	struct docker_client_opts o = { .host = fakehttp_host(f), .timeout_ms = timeout_ms,
					.connect_timeout_ms = 2000 };
	struct docker_client *c = NULL;
	struct pfs_err err = { 0 };

	ck_assert_int_eq(docker_client_new(&o, &c, &err), 0);
	return c;
}

static struct fakehttp *serve(const struct fake_route *r, size_t n, const char *api)
{
	struct fakehttp *f = NULL;

	ck_assert_int_eq(fakehttp_start(r, n, api, &f), 0);
	return f;
}

/* ---- status mapping with the daemon's message -------------------------------- */

static const struct fake_route error_routes[] = {
	{ "GET /v1.41/containers/missing/json", 404, NULL, "{\"message\":\"No such container: missing\"}" },
	{ "DELETE /v1.41/containers/busy", 409, NULL,
	  "{\"message\":\"You cannot remove a running container busy\"}" },
	{ "POST /v1.41/containers/create", 500, NULL, "{\"message\":\"driver failed\"}" },
	{ "POST /v1.41/containers/bad/kill", 400, NULL, "not json at all\n" },
	{ "GET /v1.41/version", 200, NULL, "{\"Version\": \"20.10\", " },
	{ "POST /v1.41/containers/x/start", 304, NULL, "" },
	{ "POST /v1.41/containers/y/start", 204, NULL, "" },
	{ "POST /v1.41/containers/x/stop", 304, NULL, "" },
};

START_TEST(status_404_is_enoent_with_message)
{
	struct fakehttp *f = serve(error_routes, PFS_ARRAY_SIZE(error_routes), "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct pfs_err err = { 0 };
	json_t *j = NULL;

	ck_assert_int_eq(docker_container_inspect(c, "missing", &j, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "No such container: missing");
	ck_assert_ptr_null(j);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

/* ---- names inside paths ----------------------------------------------------------------- */

static const struct fake_route path_routes[] = {
	{ "GET /v1.41/images/library%2Fdebian%3A12%40sha256%3Aab/json", 200, NULL, "{\"Id\":\"sha256:1\"}" },
	{ "GET /v1.41/containers/json", 200, NULL, "[{\"Id\":\"reached\"}]" },
};

START_TEST(names_never_leave_their_path_segment)
{
	struct fakehttp *f = serve(path_routes, PFS_ARRAY_SIZE(path_routes), "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct pfs_err err = { 0 };
	json_t *j = NULL;

	/* '/', ':' and '@' are encoded: the engine decodes them into the name */
	ck_assert_int_eq(docker_image_inspect(c, "library/debian:12@sha256:ab", &j, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(j, "Id")), "sha256:1");
	json_decref(j);
	j = NULL;
	/* a name cannot climb to another endpoint (this one reached /containers/json) */
	ck_assert_int_eq(docker_image_inspect(c, "../containers", &j, &err), -ENOENT);
	ck_assert_ptr_null(j);
	ck_assert_int_eq(fakehttp_count(f, "GET /v1.41/images/..%2Fcontainers/json"), 1);
	ck_assert_int_eq(fakehttp_count(f, "GET /v1.41/containers"), 0);
	/* nor be a segment curl or the engine would resolve; nor be empty; no request made */
	ck_assert_int_eq(docker_image_inspect(c, "..", &j, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "\"..\" is not a name the Docker engine can look up");
	ck_assert_int_eq(docker_network_inspect(c, ".", &j, &err), -EINVAL);
	ck_assert_int_eq(docker_image_inspect(c, "", &j, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "\"\" is not a name the Docker engine can look up");
	ck_assert_int_eq(docker_image_inspect(c, NULL, &j, &err), -EINVAL);
	ck_assert_int_eq(fakehttp_count(f, "GET /v1.41/images"), 2);
	ck_assert_int_eq(fakehttp_count(f, "GET /v1.41/networks"), 0);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

START_TEST(status_409_is_ebusy)
{
	struct fakehttp *f = serve(error_routes, PFS_ARRAY_SIZE(error_routes), "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct pfs_err err = { 0 };

	ck_assert_int_eq(docker_container_remove(c, "busy", false, &err), -EBUSY);
	ck_assert_str_eq(err.msg, "You cannot remove a running container busy");
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

START_TEST(status_500_is_eio)
{
	struct fakehttp *f = serve(error_routes, PFS_ARRAY_SIZE(error_routes), "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct docker_container_spec s = { .image = "img" };
	struct pfs_err err = { 0 };
	char *id = NULL;

	ck_assert_int_eq(docker_container_create(c, &s, &id, &err), -EIO);
	ck_assert_str_eq(err.msg, "driver failed");
	ck_assert_ptr_null(id);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

START_TEST(status_400_plain_body_is_einval)
{
	struct fakehttp *f = serve(error_routes, PFS_ARRAY_SIZE(error_routes), "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct pfs_err err = { 0 };

	ck_assert_int_eq(docker_container_kill(c, "bad", NULL, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "not json at all");
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

START_TEST(malformed_json_is_eproto)
{
	struct fakehttp *f = serve(error_routes, PFS_ARRAY_SIZE(error_routes), "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct pfs_err err = { 0 };
	json_t *j = NULL;

	ck_assert_int_eq(docker_version(c, &j, &err), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, "malformed JSON"));
	ck_assert_ptr_null(j);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

START_TEST(not_modified_counts_as_success)
{
	struct fakehttp *f = serve(error_routes, PFS_ARRAY_SIZE(error_routes), "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct pfs_err err = { 0 };

	ck_assert_int_eq(docker_container_start(c, "x", &err), 0);
	ck_assert_int_eq(docker_container_start(c, "y", &err), 0);
	ck_assert_int_eq(docker_container_stop(c, "x", 1, &err), 0);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

/* ---- transport failures ---------------------------------------------------- */

START_TEST(no_socket_is_enotconn)
{
	struct docker_client_opts o = { .host = "unix:///nonexistent/pantherfs/docker.sock" };
	struct docker_client *c = NULL;
	struct pfs_err err = { 0 };

	ck_assert_int_eq(docker_client_new(&o, &c, &err), 0);
	ck_assert_int_eq(docker_ping(c, NULL, &err), -ENOTCONN);
	ck_assert_str_eq(err.msg, "cannot connect to the Docker engine at "
				  "unix:///nonexistent/pantherfs/docker.sock: No such file or directory");
	/* a versioned call fails the same way, through the negotiation */
	ck_assert_int_eq(docker_info(c, NULL, &err), -ENOTCONN);
	docker_client_free(c);
}
END_TEST

static const struct fake_route hang_routes[] = {
	{ "GET /v1.41/info", 200, NULL, "{}", 0, FAKE_HANG },
};

START_TEST(silent_daemon_times_out)
{
	struct fakehttp *f = serve(hang_routes, 1, "1.41");
	struct docker_client *c = client_for(f, 300);
	struct pfs_err err = { 0 };
	json_t *j = NULL;

	ck_assert_int_eq(docker_info(c, &j, &err), -ETIMEDOUT);
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(err.msg, "timed out") || strstr(err.msg, "Timeout"), "%s", err.msg);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

static const char events_body[] =
	"{\"Type\":\"container\",\"Action\":\"create\",\"Actor\":{\"ID\":\"a1\"}}\n"
	"{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"a1\"}}\n"
	"{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"a1\",\"Attributes\":{\"exitCode\":\"3\"}}}\n"
	"{\"Type\":\"container\",\"Action\":\"destroy\",\"Actor\":{\"ID\":\"a1\"}}\n";

static const struct fake_route stream_routes[] = {
	{ "GET /v1.41/events", 200, "Content-Type: application/json\r\n", events_body, 0, FAKE_CLOSE_MIDWAY, 13 },
	{ "GET /v1.41/containers/s/logs", 200,
	  "Content-Type: application/vnd.docker.multiplexed-stream\r\n",
	  "\x01\0\0\0\0\0\0\x06hello\n\x02\0\0\0\0\0\0\x04oops", 26, FAKE_OPEN, 5 },
	{ "GET /v1.41/containers/raw/logs", 200, "Content-Type: application/vnd.docker.raw-stream\r\n",
	  "tty line 1\r\ntty line 2\r\n", 0, FAKE_CHUNKED, 4 },
};

struct ev_log {
	pthread_mutex_t m;
	pthread_cond_t cv;
	char actions[256];
	int done_err;
	bool done;
	struct pfs_buf out, errb;
};

static void ev_init(struct ev_log *e)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->m, NULL);
	pthread_cond_init(&e->cv, NULL);
	pfs_buf_init(&e->out, 1 << 16);
	pfs_buf_init(&e->errb, 1 << 16);
}

static void ev_wait(struct ev_log *e)
{
	pthread_mutex_lock(&e->m);
	while (!e->done)
		pthread_cond_wait(&e->cv, &e->m);
	pthread_mutex_unlock(&e->m);
}

static void ev_release(struct ev_log *e)
{
	pfs_buf_release(&e->out);
	pfs_buf_release(&e->errb);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->m);
}

static void on_event(void *ud, json_t *ev)
{
	struct ev_log *e = ud;
	size_t n = strlen(e->actions);

	snprintf(e->actions + n, sizeof(e->actions) - n, "%s;",
		 json_string_value(json_object_get(ev, "Action")));
}

static void on_done(void *ud, const struct docker_result *r)
{
	struct ev_log *e = ud;

	pthread_mutex_lock(&e->m);
	e->done_err = r->err;
	e->done = true;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->m);
}

START_TEST(stream_cut_midway_is_econnreset)
{
	struct fakehttp *f = serve(stream_routes, PFS_ARRAY_SIZE(stream_routes), "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct docker_events_cbs cbs = { .on_event = on_event, .on_done = on_done };
	const char *labels[] = { "pantherfs.managed=1", NULL };
	struct ev_log e;
	struct docker_call *call;

	ev_init(&e);
	cbs.ud = &e;
	call = docker_events(c, labels, 0, &cbs, NULL);
	ck_assert_ptr_nonnull(call);
	ev_wait(&e);
	/* half the body arrived: the complete events before the cut are kept */
	ck_assert_str_eq(e.actions, "create;start;");
	ck_assert_int_eq(e.done_err, -ECONNRESET);
	docker_call_unref(call);
	ck_assert_int_eq(fakehttp_count(f, "GET /v1.41/events?filters=%7B%22label%22%3A%5B%22pantherfs.managed%3D1%22%5D%7D"), 1);
	docker_client_free(c);
	ev_release(&e);
	fakehttp_stop(f);
}
END_TEST

static int on_log(void *ud, enum docker_log_stream s, const char *d, size_t n)
{
	struct ev_log *e = ud;

	return pfs_buf_add(s == DOCKER_STDERR ? &e->errb : &e->out, d, n);
}

START_TEST(cancel_open_stream)
{
	struct fakehttp *f = serve(stream_routes, PFS_ARRAY_SIZE(stream_routes), "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct docker_logs_opts o = { .follow = true, .tty = 0 };
	struct docker_logs_cbs cbs = { .on_data = on_log, .on_done = on_done };
	struct ev_log e;
	struct docker_call *call;

	ev_init(&e);
	cbs.ud = &e;
	call = docker_container_logs(c, "s", &o, &cbs, NULL);
	ck_assert_ptr_nonnull(call);
	/* the stream stays open after its data: wait for the data, then cancel */
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&e.m);
		bool got = e.errb.len == 4;
		pthread_mutex_unlock(&e.m);
		if (got)
			break;
		usleep(10000);
	}
	docker_call_cancel(call);
	ev_wait(&e);
	ck_assert_int_eq(e.done_err, -ECANCELED);
	ck_assert_str_eq(pfs_buf_str(&e.out), "hello\n");
	ck_assert_str_eq(pfs_buf_str(&e.errb), "oops");
	docker_call_unref(call);
	docker_client_free(c);
	ev_release(&e);
	fakehttp_stop(f);
}
END_TEST

/* ---- flow control: a paused stream receives nothing until resumed ---- */

static const char paced_body[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN";

static const struct fake_route paced_routes[] = {
	{ "GET /v1.43/containers/paced/logs", 200, "Content-Type: application/vnd.docker.raw-stream\r\n",
	  paced_body, 0, FAKE_CHUNKED, 5 },
	{ "GET /v1.43/info", 200, NULL, "{\"ID\":\"x\"}" },
};

static int on_paced(void *ud, enum docker_log_stream s, const char *d, size_t n)
{
	struct ev_log *e = ud;
	int r;

	(void)s;
	pthread_mutex_lock(&e->m);
	r = pfs_buf_add(&e->out, d, n);
	pthread_mutex_unlock(&e->m);
	return r;
}

static size_t got_len(struct ev_log *e)
{
	size_t n;

	pthread_mutex_lock(&e->m);
	n = e->out.len;
	pthread_mutex_unlock(&e->m);
	return n;
}

START_TEST(paused_stream_waits_and_loses_nothing)
{
	struct fakehttp *f = serve(paced_routes, PFS_ARRAY_SIZE(paced_routes), "1.43");
	struct docker_client *c = client_for(f, 5000);
	struct docker_logs_opts o = { .follow = true, .tty = 1 };
	struct docker_logs_cbs cbs = { .on_data = on_paced, .on_done = on_done };
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct docker_result res = { 0 };
	struct pfs_err err = { 0 };
	struct docker_call *call;
	struct ev_log e;
	size_t at_pause, later;

	ev_init(&e);
	cbs.ud = &e;
	ck_assert_int_eq(docker_ping(c, NULL, &err), 0);
	call = docker_container_logs(c, "paced", &o, &cbs, NULL);
	ck_assert_ptr_nonnull(call);
	for (int i = 0; i < 500 && got_len(&e) == 0; i++)
		usleep(2000);
	ck_assert_uint_gt(got_len(&e), 0);
	docker_call_pause(call);
	at_pause = got_len(&e);
	/* the server sends a piece every 20 ms: 400 ms would bring 20 of them */
	usleep(400 * 1000);
	later = got_len(&e);
	/* at most the piece that was being delivered when the pause came */
	ck_assert_uint_le(later, at_pause + 5);
	ck_assert_uint_lt(later, sizeof(paced_body) - 1);
	/* the connection's other calls go on meanwhile */
	rq.method = "GET";
	rq.path = "/info";
	ck_assert_int_eq(docker_request_sync(c, &rq, &res, &err), 0);
	ck_assert_int_eq(res.status, 200);
	docker_result_release(&res);
	ck_assert_uint_eq(got_len(&e), later);
	docker_call_resume(call);
	ev_wait(&e);
	ck_assert_int_eq(e.done_err, 0);
	/* every byte, once, in order */
	ck_assert_str_eq(pfs_buf_str(&e.out), paced_body);
	docker_call_unref(call);
	docker_client_free(c);
	ev_release(&e);
	fakehttp_stop(f);
}
END_TEST

START_TEST(paused_stream_can_be_cancelled)
{
	struct fakehttp *f = serve(paced_routes, PFS_ARRAY_SIZE(paced_routes), "1.43");
	struct docker_client *c = client_for(f, 5000);
	struct docker_logs_opts o = { .follow = true, .tty = 1 };
	struct docker_logs_cbs cbs = { .on_data = on_paced, .on_done = on_done };
	struct pfs_err err = { 0 };
	struct docker_call *call;
	struct ev_log e;

	ev_init(&e);
	cbs.ud = &e;
	ck_assert_int_eq(docker_ping(c, NULL, &err), 0);
	call = docker_container_logs(c, "paced", &o, &cbs, NULL);
	ck_assert_ptr_nonnull(call);
	for (int i = 0; i < 500 && got_len(&e) == 0; i++)
		usleep(2000);
	docker_call_pause(call);
	usleep(100 * 1000);
	docker_call_cancel(call);
	ev_wait(&e);
	ck_assert_int_eq(e.done_err, -ECANCELED);
	ck_assert_uint_lt(got_len(&e), sizeof(paced_body) - 1);
	docker_call_unref(call);
	docker_client_free(c);
	ev_release(&e);
	fakehttp_stop(f);
}
END_TEST

static const struct fake_route raw_routes[] = {
	{ "GET /v1.43/containers/raw/logs", 200, "Content-Type: application/vnd.docker.raw-stream\r\n",
	  "tty line 1\r\ntty line 2\r\n", 0, FAKE_CHUNKED, 4 },
	{ "GET /v1.41/containers/old/json", 200, NULL,
	  "{\"State\":{\"Status\":\"exited\"},\"Config\":{\"Tty\":true}}" },
	{ "GET /v1.41/containers/old/logs", 200, NULL, "tty\r\n", 0, FAKE_CHUNKED, 2 },
};

START_TEST(raw_stream_by_content_type)
{
	struct fakehttp *f = serve(raw_routes, PFS_ARRAY_SIZE(raw_routes), "1.43");
	struct docker_client *c = client_for(f, 5000);
	struct pfs_buf out = PFS_BUF_INIT(1 << 16), errb = PFS_BUF_INIT(1 << 16);
	struct pfs_err err = { 0 };

	/* API 1.43: the Content-Type alone says raw; nothing is inspected */
	ck_assert_int_eq(docker_ping(c, NULL, &err), 0);
	ck_assert_int_eq(docker_container_logs_sync(c, "raw", false, &out, &errb, &err), 0);
	ck_assert_str_eq(pfs_buf_str(&out), "tty line 1\r\ntty line 2\r\n");
	ck_assert_uint_eq(errb.len, 0);
	ck_assert_int_eq(fakehttp_count(f, "GET /v1.43/containers/raw/json"), 0);
	docker_client_free(c);
	fakehttp_stop(f);
	pfs_buf_release(&out);
	pfs_buf_release(&errb);
}
END_TEST

START_TEST(raw_stream_before_1_42_by_inspect)
{
	struct fakehttp *f = serve(raw_routes, PFS_ARRAY_SIZE(raw_routes), "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct pfs_buf out = PFS_BUF_INIT(1 << 16);
	struct pfs_err err = { 0 };

	/* no Content-Type: framing would misread "tty\r\n" as a bad header */
	ck_assert_int_eq(docker_container_logs_sync(c, "old", false, &out, NULL, &err), 0);
	ck_assert_str_eq(pfs_buf_str(&out), "tty\r\n");
	ck_assert_int_eq(fakehttp_count(f, "GET /v1.41/containers/old/json"), 1);
	docker_client_free(c);
	fakehttp_stop(f);
	pfs_buf_release(&out);
}
END_TEST

START_TEST(shutdown_cancels_open_streams)
{
	struct fakehttp *f = serve(stream_routes, PFS_ARRAY_SIZE(stream_routes), "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct docker_logs_opts o = { .follow = true, .tty = 0 };
	struct docker_logs_cbs cbs = { .on_data = on_log, .on_done = on_done };
	struct ev_log e;
	struct docker_call *call;

	ev_init(&e);
	cbs.ud = &e;
	call = docker_container_logs(c, "s", &o, &cbs, NULL);
	ck_assert_ptr_nonnull(call);
	docker_client_free(c);
	/* on_done already ran, inside docker_client_free */
	ck_assert(e.done);
	ck_assert_int_eq(e.done_err, -ECANCELED);
	docker_call_unref(call);
	ev_release(&e);
	fakehttp_stop(f);
}
END_TEST

/* ---- negotiation ------------------------------------------------------------- */

static const struct fake_route any_info[] = {
	{ "GET /v1.30/info", 200, NULL, "{\"v\":\"1.30\"}" },
	{ "GET /v1.47/info", 200, NULL, "{\"v\":\"1.47\"}" },
};

START_TEST(negotiates_older_engine)
{
	struct fakehttp *f = serve(any_info, 2, "1.30");
	struct docker_client *c = client_for(f, 5000);
	struct pfs_err err = { 0 };
	json_t *j = NULL;
	char v[16];

	ck_assert_int_eq(docker_info(c, &j, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(j, "v")), "1.30");
	docker_client_api_version(c, v, sizeof(v));
	ck_assert_str_eq(v, "1.30");
	ck_assert_int_eq(fakehttp_count(f, "GET /_ping"), 1);
	json_decref(j);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

START_TEST(negotiates_newer_engine_down_to_ours)
{
	struct fakehttp *f = serve(any_info, 2, "1.52");
	struct docker_client *c = client_for(f, 5000);
	struct docker_ping_info pi;
	struct pfs_err err = { 0 };
	json_t *j = NULL;

	ck_assert_int_eq(docker_ping(c, &pi, &err), 0);
	ck_assert_str_eq(pi.api_version, DOCKER_API_MAX);
	ck_assert_str_eq(pi.server_api, "1.52");
	ck_assert_int_eq(docker_info(c, &j, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(j, "v")), "1.47");
	json_decref(j);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

START_TEST(refuses_ancient_engine)
{
	struct fakehttp *f = serve(any_info, 2, "1.12");
	struct docker_client *c = client_for(f, 5000);
	struct pfs_err err = { 0 };

	ck_assert_int_eq(docker_info(c, NULL, &err), -EPROTONOSUPPORT);
	ck_assert_str_eq(err.msg, "Docker engine API 1.12 is older than " DOCKER_API_MIN);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

/* ---- caps, concurrency, misuse ------------------------------------------------- */

static char big_body[300000];
static struct fake_route big_routes[] = {
	{ "GET /v1.41/containers/json", 200, NULL, big_body, sizeof(big_body) - 1 },
};

START_TEST(body_over_cap_is_efbig)
{
	struct fakehttp *f;
	struct docker_client *c;
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct docker_result res;
	struct pfs_err err = { 0 };

	memset(big_body, 'a', sizeof(big_body) - 1);
	f = serve(big_routes, 1, "1.41");
	c = client_for(f, 5000);
	rq.method = "GET";
	rq.path = "/containers/json";
	rq.body_cap = 1000;
	ck_assert_int_eq(docker_request_sync(c, &rq, &res, &err), -EFBIG);
	ck_assert_ptr_null(res.body);
	rq.body_cap = 0;
	ck_assert_int_eq(docker_request_sync(c, &rq, &res, &err), 0);
	ck_assert_uint_eq(res.body_len, sizeof(big_body) - 1);
	docker_result_release(&res);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

struct sync_from_cb {
	struct docker_client *c;
	int r;
	struct ev_log e;
};

static void try_sync(void *ud, const struct docker_result *r)
{
	struct sync_from_cb *s = ud;
	struct pfs_err err = { 0 };

	(void)r;
	s->r = docker_info(s->c, NULL, &err);
	on_done(&s->e, r);
}

START_TEST(sync_call_from_callback_is_edeadlk)
{
	struct fakehttp *f = serve(any_info, 2, "1.41");
	struct sync_from_cb s;
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct docker_call *call;

	ev_init(&s.e);
	s.c = client_for(f, 5000);
	rq.method = "GET";
	rq.path = "/_ping";
	rq.unversioned = true;
	rq.on_done = try_sync;
	rq.ud = &s;
	call = docker_submit(s.c, &rq);
	ck_assert_ptr_nonnull(call);
	ev_wait(&s.e);
	ck_assert_int_eq(s.r, -EDEADLK);
	docker_call_unref(call);
	docker_client_free(s.c);
	ev_release(&s.e);
	fakehttp_stop(f);
}
END_TEST

static const struct fake_route wait_routes[] = {
	{ "POST /v1.41/containers/w/wait", 200, NULL, "{\"Error\":null,\"StatusCode\":42}\n", 0, FAKE_CHUNKED },
	{ "POST /v1.41/containers/slow/wait", 200, NULL, "", 0, FAKE_HANG },
};

START_TEST(wait_reads_exit_code_from_body)
{
	struct fakehttp *f = serve(wait_routes, 2, "1.41");
	struct docker_client *c = client_for(f, 300);
	struct pfs_err err = { 0 };
	int code = -7;

	/* a wait is a stream: the client's 300 ms timeout must not cut it */
	ck_assert_int_eq(docker_container_wait_sync(c, "w", 10000, &code, &err), 0);
	ck_assert_int_eq(code, 42);
	code = -7;
	ck_assert_int_eq(docker_container_wait_sync(c, "slow", 500, &code, &err), -ETIMEDOUT);
	ck_assert_int_eq(code, -7);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

static const char build_fail[] =
	"{\"stream\":\"Step 1/2 : FROM debian:bookworm-slim\"}\n{\"stream\":\"\\n\"}\n"
	"{\"stream\":\"Step 2/2 : RUN exit 3\"}\n{\"stream\":\"\\n\"}\n"
	"{\"errorDetail\":{\"code\":3,\"message\":\"The command '/bin/sh -c exit 3' returned a non-zero code: 3\"},"
	"\"error\":\"The command '/bin/sh -c exit 3' returned a non-zero code: 3\"}\n";

static const struct fake_route build_routes[] = {
	{ "POST /v1.41/build", 200, NULL, build_fail, 0, FAKE_CHUNKED, 17 },
};

struct build_log {
	struct ev_log e;
	int steps[8];
	int nsteps;
	char lines[1024];
	char msg[PFS_ERR_MSG_MAX];
	bool had_id;
};

static void b_line(void *ud, const char *t, size_t n)
{
	struct build_log *b = ud;
	size_t k = strlen(b->lines);

	snprintf(b->lines + k, sizeof(b->lines) - k, "%.*s|", (int)n, t);
}

static void b_step(void *ud, int step, int steps)
{
	struct build_log *b = ud;

	if (b->nsteps < 8)
		b->steps[b->nsteps++] = step * 100 + steps;
}

static void b_done(void *ud, const struct docker_result *r, const char *id)
{
	struct build_log *b = ud;

	snprintf(b->msg, sizeof(b->msg), "%s", r->message);
	b->had_id = id != NULL;
	on_done(&b->e, r);
}

START_TEST(failed_build_inside_200_is_reported)
{
	struct fakehttp *f = serve(build_routes, 1, "1.41");
	struct docker_client *c = client_for(f, 5000);
	struct docker_ctx_file df = { "Dockerfile", "FROM x\n", 7, 0 };
	const char *args[] = { "MVFST_COMMIT", "abc123", NULL };
	struct docker_build_opts o = { .extra = &df, .n_extra = 1, .tag = "pfs/x:1", .buildargs = args };
	struct docker_build_cbs cbs = { .on_line = b_line, .on_step = b_step, .on_done = b_done };
	struct build_log b;
	struct docker_call *call;
	char sha[65];
	size_t blen = 0;
	char *body;

	memset(&b, 0, sizeof(b));
	ev_init(&b.e);
	cbs.ud = &b;
	call = docker_build(c, &o, &cbs, sha, NULL);
	ck_assert_ptr_nonnull(call);
	ev_wait(&b.e);
	ck_assert_int_eq(b.e.done_err, -EIO);
	ck_assert_str_eq(b.msg, "The command '/bin/sh -c exit 3' returned a non-zero code: 3");
	ck_assert(!b.had_id);
	ck_assert_int_eq(b.nsteps, 2);
	ck_assert_int_eq(b.steps[0], 102);
	ck_assert_int_eq(b.steps[1], 202);
	ck_assert_str_eq(b.lines, "Step 1/2 : FROM debian:bookworm-slim|Step 2/2 : RUN exit 3|"
				  "ERROR: The command '/bin/sh -c exit 3' returned a non-zero code: 3|");
	/* the request carried the tag, the build args as URL-encoded JSON, and a tar */
	ck_assert_int_eq(fakehttp_count(f, "POST /v1.41/build?t=pfs%2Fx%3A1&buildargs=%7B%22MVFST_COMMIT%22%3A%22abc123%22%7D&rm=1&forcerm=1"), 1);
	body = fakehttp_last_body(f, "POST /v1.41/build", &blen);
	ck_assert_ptr_nonnull(body);
	ck_assert_uint_ge(blen, 512);
	ck_assert_str_eq(body, "Dockerfile");
	free(body);
	docker_call_unref(call);
	docker_client_free(c);
	ev_release(&b.e);
	fakehttp_stop(f);
}
END_TEST

/* ---- pull ---------------------------------------------------------------------- */

static const char pull_ok[] =
	"{\"status\":\"Pulling from lab/quic\",\"id\":\"7\"}\n"
	"{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"a1b2\"}\n"
	"{\"status\":\"Downloading\",\"progressDetail\":{\"current\":10,\"total\":99},\"id\":\"a1b2\"}\n"
	"{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"a1b2\"}\n"
	"{\"status\":\"Digest: sha256:00ff\"}\n"
	"{\"status\":\"Status: Downloaded newer image for lab/quic:7\"}\n";

static const char pull_denied[] =
	"{\"status\":\"Pulling from lab/private\",\"id\":\"1\"}\n"
	"{\"errorDetail\":{\"message\":\"pull access denied for lab/private\"},"
	"\"error\":\"pull access denied for lab/private\"}\n";

static const struct fake_route pull_routes[] = {
	{ "POST /v1.41/images/create?fromImage=lab%2Fquic&tag=7", 200, NULL, pull_ok, 0, FAKE_CHUNKED, 23 },
	{ "POST /v1.41/images/create?fromImage=lab%2Fprivate&tag=latest", 200, NULL, pull_denied, 0, FAKE_CHUNKED, 0 },
	{ "POST /v1.41/images/create?fromImage=nowhere.test%3A5000%2Fx&tag=latest", 500, NULL,
	  "{\"message\":\"Get \\\"https://nowhere.test:5000/v2/\\\": no such host\"}" },
};

static void pull_one(struct fakehttp *f, const char *ref, struct build_log *b)
{
	struct docker_client *c = client_for(f, 5000);
	struct docker_build_cbs cbs = { .on_line = b_line, .on_done = b_done, .ud = b };
	struct docker_call *call;

	memset(b, 0, sizeof(*b));
	ev_init(&b->e);
	call = docker_image_pull(c, ref, &cbs, NULL);
	ck_assert_ptr_nonnull(call);
	ev_wait(&b->e);
	docker_call_unref(call);
	docker_client_free(c);
	ev_release(&b->e);
}

START_TEST(pull_reports_layers_not_progress)
{
	struct fakehttp *f = serve(pull_routes, 3, "1.41");
	struct build_log b;

	pull_one(f, "lab/quic:7", &b);
	ck_assert_int_eq(b.e.done_err, 0);
	ck_assert(!b.had_id);
	ck_assert_str_eq(b.lines, "7: Pulling from lab/quic|a1b2: Pulling fs layer|a1b2: Pull complete|"
				  "Digest: sha256:00ff|Status: Downloaded newer image for lab/quic:7|");
	fakehttp_stop(f);
}
END_TEST

START_TEST(pull_denied_inside_200_is_eio)
{
	struct fakehttp *f = serve(pull_routes, 3, "1.41");
	struct build_log b;

	pull_one(f, "lab/private", &b); /* no tag: latest */
	ck_assert_int_eq(b.e.done_err, -EIO);
	ck_assert_str_eq(b.msg, "pull access denied for lab/private");
	ck_assert_int_eq(fakehttp_count(f, "POST /v1.41/images/create?fromImage=lab%2Fprivate&tag=latest"), 1);
	fakehttp_stop(f);
}
END_TEST

START_TEST(pull_unreachable_registry_keeps_message)
{
	struct fakehttp *f = serve(pull_routes, 3, "1.41");
	struct build_log b;

	/* a registry host with a port: the colon is not a tag */
	pull_one(f, "nowhere.test:5000/x", &b);
	ck_assert_int_eq(b.e.done_err, -EIO);
	ck_assert_str_eq(b.msg, "Get \"https://nowhere.test:5000/v2/\": no such host");
	fakehttp_stop(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("docker_client");
	TCase *t = tcase_create("fake daemon");

	tcase_set_timeout(t, 30);
	tcase_add_test(t, status_404_is_enoent_with_message);
	tcase_add_test(t, names_never_leave_their_path_segment);
	tcase_add_test(t, status_409_is_ebusy);
	tcase_add_test(t, status_500_is_eio);
	tcase_add_test(t, status_400_plain_body_is_einval);
	tcase_add_test(t, malformed_json_is_eproto);
	tcase_add_test(t, not_modified_counts_as_success);
	tcase_add_test(t, no_socket_is_enotconn);
	tcase_add_test(t, silent_daemon_times_out);
	tcase_add_test(t, stream_cut_midway_is_econnreset);
	tcase_add_test(t, cancel_open_stream);
	tcase_add_test(t, paused_stream_waits_and_loses_nothing);
	tcase_add_test(t, paused_stream_can_be_cancelled);
	tcase_add_test(t, raw_stream_by_content_type);
	tcase_add_test(t, raw_stream_before_1_42_by_inspect);
	tcase_add_test(t, shutdown_cancels_open_streams);
	tcase_add_test(t, negotiates_older_engine);
	tcase_add_test(t, negotiates_newer_engine_down_to_ours);
	tcase_add_test(t, refuses_ancient_engine);
	tcase_add_test(t, body_over_cap_is_efbig);
	tcase_add_test(t, sync_call_from_callback_is_edeadlk);
	tcase_add_test(t, wait_reads_exit_code_from_body);
	tcase_add_test(t, failed_build_inside_200_is_reported);
	tcase_add_test(t, pull_reports_layers_not_progress);
	tcase_add_test(t, pull_denied_inside_200_is_eio);
	tcase_add_test(t, pull_unreachable_registry_keeps_message);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
