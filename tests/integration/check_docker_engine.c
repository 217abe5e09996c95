/* SPDX-License-Identifier: MIT */
/*
 * The Docker client against the real engine: negotiation, builds (good and
 * failing), the container life cycle with exact log bytes, the events
 * stream, networks, and fairness between streams and short calls.
 *
 * Everything created carries the label pantherfs.testrun=<this run>, and an
 * unchecked teardown (run by the parent process even when a test's child
 * failed) sweeps containers, networks and images with that label.
 * Needs the base image debian:bookworm-slim (tests/prepare-docker-engine.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pfs_check.h"
#include "itest.h"
#include "pantherfs/docker.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define BASE_IMAGE "debian:bookworm-slim"

static char run_label[64];   /* "pantherfs.testrun=<pid>-<time>" */
static char run_value[48];

static struct docker_client *new_client(void)
{
	struct docker_client *c = NULL;
	struct docker_client_opts o = { .timeout_ms = 30000 };
	struct pfs_err err = { 0 };

	ck_assert_int_eq(docker_client_new(&o, &c, &err), 0);
	return c;
}

static void sweep(void)
{
	struct docker_client *c = itest_client(30000);
	const char *labels[] = { run_label, NULL };
	json_t *list = NULL, *it;
	size_t i;

	if (!c)
		return;
	itest_sweep_label(c, run_label);
	if (docker_image_list(c, labels, &list, NULL) == 0)
		json_array_foreach(list, i, it)
			docker_image_remove(c, json_string_value(json_object_get(it, "Id")), true, NULL);
	json_decref(list);
	docker_client_free(c);
}

static int count_labeled(const char *what)
{
	struct docker_client *c = new_client();
	const char *labels[] = { run_label, NULL };
	json_t *list = NULL;
	int n, r;

	if (!strcmp(what, "containers"))
		r = docker_container_list(c, labels, true, &list, NULL);
	else if (!strcmp(what, "networks"))
		r = docker_network_list(c, labels, &list, NULL);
	else
		r = docker_image_list(c, labels, &list, NULL);
	ck_assert_int_eq(r, 0);
	n = (int)json_array_size(list);
	if (n) {
		char *dump = json_dumps(list, JSON_COMPACT);
		fprintf(stderr, "left behind: %.2000s\n", dump);
		free(dump);
	}
	json_decref(list);
	docker_client_free(c);
	return n;
}

/* labels for create calls: k, v pairs */
#define LABELS_KV "pantherfs.testrun", run_value

static char *start_container(struct docker_client *c, const char *const *cmd, const char *network,
			     const char *const *aliases)
{
	const char *labels[] = { LABELS_KV, NULL };
	struct docker_container_spec s = { .image = BASE_IMAGE, .cmd = cmd, .labels = labels,
					   .network = network, .aliases = aliases };
	struct pfs_err err = { 0 };
	char *id = NULL;

	ck_assert_msg(docker_container_create(c, &s, &id, &err) == 0, "create: %s", err.msg);
	ck_assert_msg(docker_container_start(c, id, &err) == 0, "start: %s", err.msg);
	return id;
}

/* ---- ping and negotiation ---------------------------------------------------- */

START_TEST(ping_negotiates_version)
{
	struct docker_client *c = new_client();
	struct docker_ping_info pi;
	struct pfs_err err = { 0 };
	json_t *v = NULL, *info = NULL;
	char expect[16];

	ck_assert_msg(docker_ping(c, &pi, &err) == 0, "%s", err.msg);
	ck_assert_str_ne(pi.server_api, "");
	/* min(engine, ours), never a hard-coded number */
	if (docker_client_api_cmp(c, DOCKER_API_MAX) < 0)
		snprintf(expect, sizeof(expect), "%s", pi.server_api);
	else
		snprintf(expect, sizeof(expect), "%s", DOCKER_API_MAX);
	ck_assert_str_eq(pi.api_version, expect);
	ck_assert_int_eq(docker_version(c, &v, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(v, "ApiVersion")), pi.server_api);
	ck_assert_int_eq(docker_info(c, &info, &err), 0);
	ck_assert(json_is_string(json_object_get(info, "ServerVersion")));
	json_decref(v);
	json_decref(info);
	docker_client_free(c);
}
END_TEST

START_TEST(base_image_present)
{
	struct docker_client *c = new_client();
	struct pfs_err err = { 0 };
	json_t *img = NULL;

	ck_assert_msg(docker_image_inspect(c, BASE_IMAGE, &img, &err) == 0,
		      "%s missing (run tests/prepare-docker-engine.sh): %s", BASE_IMAGE, err.msg);
	json_decref(img);
	ck_assert_int_eq(docker_image_inspect(c, "pantherfs-no-such-image:0", &img, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "No such image"));
	docker_client_free(c);
}
END_TEST

/* ---- builds ------------------------------------------------------------------------ */

struct build_watch {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
	int err;
	char msg[PFS_ERR_MSG_MAX];
	char id[128];
	int last_step, steps, nlines;
	struct pfs_buf lines;
};

static void bw_line(void *ud, const char *t, size_t n)
{
	struct build_watch *b = ud;

	pthread_mutex_lock(&b->m);
	pfs_buf_add(&b->lines, t, n);
	pfs_buf_addc(&b->lines, '\n');
	b->nlines++;
	pthread_mutex_unlock(&b->m);
}

static void bw_step(void *ud, int step, int steps)
{
	struct build_watch *b = ud;

	pthread_mutex_lock(&b->m);
	ck_assert_int_eq(step, b->last_step + 1);
	b->last_step = step;
	b->steps = steps;
	pthread_mutex_unlock(&b->m);
}

static void bw_done(void *ud, const struct docker_result *r, const char *id)
{
	struct build_watch *b = ud;

	pthread_mutex_lock(&b->m);
	b->err = r->err;
	snprintf(b->msg, sizeof(b->msg), "%s", r->message);
	snprintf(b->id, sizeof(b->id), "%s", id ? id : "");
	b->done = true;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->m);
}

static void build_dir(struct docker_client *c, const char *dir, const char *tag,
		      struct build_watch *b, char sha[65])
{
	const char *labels[] = { LABELS_KV, NULL };
	const char *args[] = { "GREETING", "hello from pantherfs", NULL };
	struct docker_build_opts o = { .context_dir = dir, .tag = tag, .labels = labels,
				       .buildargs = args };
	struct docker_build_cbs cbs = { .on_line = bw_line, .on_step = bw_step, .on_done = bw_done,
					.ud = b };
	struct pfs_err err = { 0 };
	struct docker_call *call;

	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->m, NULL);
	pthread_cond_init(&b->cv, NULL);
	pfs_buf_init(&b->lines, 1 << 20);
	call = docker_build(c, &o, &cbs, sha, &err);
	ck_assert_msg(call != NULL, "%s", err.msg);
	pthread_mutex_lock(&b->m);
	while (!b->done)
		pthread_cond_wait(&b->cv, &b->m);
	pthread_mutex_unlock(&b->m);
	docker_call_unref(call);
}

static void write_ctx(char *dir, const char *dockerfile)
{
	char path[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/Dockerfile", dir);
	ck_assert_int_eq(pfs_write_file_atomic(path, dockerfile, strlen(dockerfile)), 0);
	snprintf(path, sizeof(path), "%s/payload.txt", dir);
	ck_assert_int_eq(pfs_write_file_atomic(path, "payload\n", 8), 0);
}

START_TEST(build_from_directory)
{
	char dir[] = "/tmp/pfs-build-XXXXXX", tag[128], sha[65];
	struct docker_client *c = new_client();
	struct build_watch b;
	struct pfs_err err = { 0 };
	json_t *img = NULL, *lbl;
	struct pfs_buf out = PFS_BUF_INIT(4096);

	write_ctx(dir, "FROM " BASE_IMAGE "\n"
		       "ARG GREETING\n"
		       "COPY payload.txt /payload.txt\n"
		       "RUN echo \"$GREETING\" > /greeting && echo built-ok\n");
	snprintf(tag, sizeof(tag), "pantherfs-test/hello:%s", run_value);
	build_dir(c, dir, tag, &b, sha);
	ck_assert_msg(b.err == 0, "build failed: %s\n%s", b.msg, pfs_buf_str(&b.lines));
	ck_assert_str_eq(b.msg, "");
	/* the engine adds the labels as one more step */
	ck_assert_int_eq(b.steps, 5);
	ck_assert_int_eq(b.last_step, 5);
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&b.lines), "built-ok\n"));
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&b.lines), "Step 4/5 : RUN echo"));
	ck_assert_uint_eq(strlen(sha), 64);
	ck_assert_str_ne(b.id, "");

	/* the image carries our labels and the build arg took effect */
	ck_assert_int_eq(docker_image_inspect(c, tag, &img, &err), 0);
	lbl = json_object_get(json_object_get(img, "Config"), "Labels");
	ck_assert_str_eq(json_string_value(json_object_get(lbl, "pantherfs.testrun")), run_value);
	ck_assert_str_eq(json_string_value(json_object_get(img, "Id")), b.id);
	json_decref(img);
	{
		const char *cmd[] = { "cat", "/greeting", "/payload.txt", NULL };
		const char *labels[] = { LABELS_KV, NULL };
		struct docker_container_spec s = { .image = tag, .cmd = cmd, .labels = labels };
		char *id = NULL;
		int code = -1;

		ck_assert_int_eq(docker_container_create(c, &s, &id, &err), 0);
		ck_assert_int_eq(docker_container_start(c, id, &err), 0);
		ck_assert_int_eq(docker_container_wait_sync(c, id, 60000, &code, &err), 0);
		ck_assert_int_eq(code, 0);
		ck_assert_int_eq(docker_container_logs_sync(c, id, false, &out, NULL, &err), 0);
		ck_assert_str_eq(pfs_buf_str(&out), "hello from pantherfs\npayload\n");
		ck_assert_int_eq(docker_container_remove(c, id, true, &err), 0);
		free(id);
	}
	ck_assert_int_eq(docker_image_remove(c, tag, true, &err), 0);
	ck_assert_int_eq(docker_image_inspect(c, tag, &img, &err), -ENOENT);
	pfs_buf_release(&out);
	pfs_buf_release(&b.lines);
	pfs_rm_rf(dir);
	docker_client_free(c);
}
END_TEST

START_TEST(failing_build_reports_error)
{
	char dir[] = "/tmp/pfs-build-XXXXXX", tag[128], sha[65];
	struct docker_client *c = new_client();
	struct build_watch b;

	write_ctx(dir, "FROM " BASE_IMAGE "\nRUN echo about to fail && exit 3\n");
	snprintf(tag, sizeof(tag), "pantherfs-test/fail:%s", run_value);
	build_dir(c, dir, tag, &b, sha);
	ck_assert_int_eq(b.err, -EIO);
	ck_assert_msg(strstr(b.msg, "returned a non-zero code: 3") != NULL, "%s", b.msg);
	ck_assert_str_eq(b.id, "");
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&b.lines), "about to fail\n"));
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&b.lines), "ERROR: "));
	pfs_buf_release(&b.lines);
	pfs_rm_rf(dir);

	/* a base image that does not exist locally and cannot be pulled */
	char dir2[] = "/tmp/pfs-build-XXXXXX";
	write_ctx(dir2, "FROM pantherfs-test/never-built:0\nRUN true\n");
	build_dir(c, dir2, tag, &b, sha);
	ck_assert_int_lt(b.err, 0);
	ck_assert_str_ne(b.msg, "");
	pfs_buf_release(&b.lines);
	pfs_rm_rf(dir2);
	docker_client_free(c);
}
END_TEST

/* ---- container life cycle -------------------------------------------------------------- */

START_TEST(container_lifecycle_exact_logs)
{
	struct docker_client *c = new_client();
	const char *cmd[] = { "sh", "-c",
			      "printf 'out1\\nout2 with  spaces\\n'; printf 'err1\\n' >&2; "
			      "printf 'tab\\there\\n'; printf 'err2\\n' >&2; exit 7",
			      NULL };
	struct pfs_buf out = PFS_BUF_INIT(65536), errb = PFS_BUF_INIT(65536);
	struct docker_container_state st;
	struct pfs_err err = { 0 };
	json_t *j = NULL;
	char *id;
	int code = -1;

	id = start_container(c, cmd, NULL, NULL);
	ck_assert_int_eq(docker_container_wait_sync(c, id, 60000, &code, &err), 0);
	ck_assert_int_eq(code, 7);
	ck_assert_int_eq(docker_container_inspect(c, id, &j, &err), 0);
	ck_assert_int_eq(docker_inspect_state(j, &st), 0);
	ck_assert_str_eq(st.status, "exited");
	ck_assert(!st.running);
	ck_assert_int_eq(st.exit_code, 7);
	ck_assert(!st.tty);
	json_decref(j);
	ck_assert_int_eq(docker_container_logs_sync(c, id, false, &out, &errb, &err), 0);
	ck_assert_str_eq(pfs_buf_str(&out), "out1\nout2 with  spaces\ntab\there\n");
	ck_assert_str_eq(pfs_buf_str(&errb), "err1\nerr2\n");

	/* removal, then the container is gone */
	ck_assert_int_eq(docker_container_remove(c, id, false, &err), 0);
	ck_assert_int_eq(docker_container_inspect(c, id, &j, &err), -ENOENT);
	free(id);
	pfs_buf_release(&out);
	pfs_buf_release(&errb);
	docker_client_free(c);
}
END_TEST

struct entries_seen {
	pthread_mutex_t m;
	pthread_cond_t cv;
	struct pfs_buf out;
	int n;
	bool done;
	int err;
};

static int seen_entry(void *ud, enum docker_log_stream s, const char *ts, size_t tslen,
		      const char *p, size_t n)
{
	struct entries_seen *e = ud;

	(void)ts;

	pthread_mutex_lock(&e->m);
	pfs_buf_printf(&e->out, "%d:%s:%.*s", (int)s, tslen > 20 ? "ts" : "nots", (int)n, p);
	e->n++;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->m);
	return 0;
}

static void seen_done(void *ud, const struct docker_result *r)
{
	struct entries_seen *e = ud;

	pthread_mutex_lock(&e->m);
	e->done = true;
	e->err = r->err;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->m);
}

START_TEST(follow_running_container_then_stop)
{
	struct docker_client *c = new_client();
	/* prints, then sleeps as PID 1 (ignores SIGTERM): stop must kill it */
	const char *cmd[] = { "sh", "-c", "echo started; echo warn >&2; exec sleep 300", NULL };
	struct docker_logs_opts o = { .follow = true, .timestamps = true, .tty = -1 };
	struct docker_logs_cbs cbs = { .on_entry = seen_entry, .on_done = seen_done };
	struct entries_seen e = { .n = 0 };
	struct docker_container_state st;
	struct pfs_err err = { 0 };
	struct docker_call *call;
	json_t *j = NULL;
	char *id;
	int code = -1;

	pthread_mutex_init(&e.m, NULL);
	pthread_cond_init(&e.cv, NULL);
	pfs_buf_init(&e.out, 65536);
	cbs.ud = &e;
	id = start_container(c, cmd, NULL, NULL);
	call = docker_container_logs(c, id, &o, &cbs, &err);
	ck_assert_msg(call != NULL, "%s", err.msg);
	pthread_mutex_lock(&e.m);
	while (e.n < 2 && !e.done)
		pthread_cond_wait(&e.cv, &e.m);
	ck_assert(!e.done);
	pthread_mutex_unlock(&e.m);

	ck_assert_int_eq(docker_container_inspect(c, id, &j, &err), 0);
	docker_inspect_state(j, &st);
	ck_assert(st.running);
	ck_assert_str_eq(st.status, "running");
	json_decref(j);

	ck_assert_int_eq(docker_container_stop(c, id, 1, &err), 0);
	ck_assert_int_eq(docker_container_wait_sync(c, id, 60000, &code, &err), 0);
	ck_assert_int_eq(code, 137);
	/* the follow ends by itself when the container stops */
	pthread_mutex_lock(&e.m);
	while (!e.done)
		pthread_cond_wait(&e.cv, &e.m);
	pthread_mutex_unlock(&e.m);
	ck_assert_int_eq(e.err, 0);
	/* stdout and stderr are separate pipes: their relative order is not kept */
	ck_assert_msg(!strcmp(pfs_buf_str(&e.out), "1:ts:started\n2:ts:warn\n") ||
			      !strcmp(pfs_buf_str(&e.out), "2:ts:warn\n1:ts:started\n"),
		      "%s", pfs_buf_str(&e.out));
	docker_call_unref(call);
	/* stopping a stopped container is fine; killing one is EBUSY (409) */
	ck_assert_int_eq(docker_container_stop(c, id, 1, &err), 0);
	ck_assert_int_eq(docker_container_kill(c, id, NULL, &err), -EBUSY);
	ck_assert_int_eq(docker_container_remove(c, id, false, &err), 0);
	free(id);
	pfs_buf_release(&e.out);
	docker_client_free(c);
}
END_TEST

/* ---- events --------------------------------------------------------------------------------- */

struct ev_seen {
	pthread_mutex_t m;
	pthread_cond_t cv;
	char actions[512];
	char exit_code[16];
	bool done;
};

static void ev_cb(void *ud, json_t *ev)
{
	struct ev_seen *s = ud;
	const char *a = json_string_value(json_object_get(ev, "Action"));
	json_t *attrs = json_object_get(json_object_get(ev, "Actor"), "Attributes");
	size_t n;

	if (!a || strcmp(json_string_value(json_object_get(ev, "Type")) ?: "", "container"))
		return;
	pthread_mutex_lock(&s->m);
	n = strlen(s->actions);
	snprintf(s->actions + n, sizeof(s->actions) - n, "%s;", a);
	if (!strcmp(a, "die"))
		snprintf(s->exit_code, sizeof(s->exit_code), "%s",
			 json_string_value(json_object_get(attrs, "exitCode")) ?: "?");
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->m);
}

static void ev_done(void *ud, const struct docker_result *r)
{
	struct ev_seen *s = ud;

	(void)r;
	pthread_mutex_lock(&s->m);
	s->done = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->m);
}

START_TEST(events_see_labeled_container)
{
	struct docker_client *c = new_client();
	const char *filter[] = { run_label, NULL };
	const char *cmd[] = { "sh", "-c", "exit 5", NULL };
	struct docker_events_cbs cbs = { .on_event = ev_cb, .on_done = ev_done };
	struct ev_seen s = { .done = false };
	struct pfs_err err = { 0 };
	struct docker_call *call;
	struct timespec dl;
	char *id;
	int code;

	pthread_mutex_init(&s.m, NULL);
	pthread_cond_init(&s.cv, NULL);
	cbs.ud = &s;
	call = docker_events(c, filter, 0, &cbs, &err);
	ck_assert_ptr_nonnull(call);
	/* the subscription is live once the engine answered a later call */
	ck_assert_int_eq(docker_ping(c, NULL, &err), 0);
	usleep(200000);
	id = start_container(c, cmd, NULL, NULL);
	ck_assert_int_eq(docker_container_wait_sync(c, id, 60000, &code, &err), 0);
	ck_assert_int_eq(code, 5);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 20;
	pthread_mutex_lock(&s.m);
	while (!strstr(s.actions, "die;") && !s.done)
		if (pthread_cond_timedwait(&s.cv, &s.m, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&s.m);
	ck_assert_msg(strstr(s.actions, "create;") && strstr(s.actions, "start;") &&
			      strstr(s.actions, "die;"),
		      "events seen: %s", s.actions);
	ck_assert(strstr(s.actions, "create;") < strstr(s.actions, "start;"));
	ck_assert(strstr(s.actions, "start;") < strstr(s.actions, "die;"));
	ck_assert_str_eq(s.exit_code, "5");
	docker_call_cancel(call);
	pthread_mutex_lock(&s.m);
	while (!s.done)
		pthread_cond_wait(&s.cv, &s.m);
	pthread_mutex_unlock(&s.m);
	docker_call_unref(call);
	ck_assert_int_eq(docker_container_remove(c, id, true, &err), 0);
	free(id);
	docker_client_free(c);
}
END_TEST

/* ---- networks ------------------------------------------------------------------------------------ */

START_TEST(network_two_containers)
{
	struct docker_client *c = new_client();
	const char *labels[] = { LABELS_KV, NULL };
	const char *cmd_a[] = { "sleep", "120", NULL };
	const char *alias_a[] = { "alpha", NULL };
	const char *alias_b[] = { "beta", NULL };
	const char *cmd_b[] = { "sh", "-c", "getent hosts alpha | cut -d' ' -f1; sleep 120", NULL };
	struct pfs_buf out = PFS_BUF_INIT(4096);
	struct pfs_err err = { 0 };
	char name[96], ipa[64], ipb[64], *net = NULL, *a, *b;
	json_t *ja = NULL, *jb = NULL, *jn = NULL;

	snprintf(name, sizeof(name), "pantherfs-test-%s", run_value);
	ck_assert_msg(docker_network_create(c, name, labels, false, &net, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(docker_network_create(c, name, labels, false, &a, &err) < 0, 1);
	a = start_container(c, cmd_a, name, alias_a);
	b = start_container(c, cmd_b, name, alias_b);
	ck_assert_int_eq(docker_container_inspect(c, a, &ja, &err), 0);
	ck_assert_int_eq(docker_container_inspect(c, b, &jb, &err), 0);
	ck_assert_int_eq(docker_inspect_ip(ja, name, ipa, sizeof(ipa)), 0);
	ck_assert_int_eq(docker_inspect_ip(jb, name, ipb, sizeof(ipb)), 0);
	ck_assert_str_ne(ipa, ipb);
	ck_assert_int_eq(docker_inspect_ip(ja, "no-such-network", ipb, sizeof(ipb)), -ENOENT);
	/* b resolved a's alias to a's address on the test network */
	for (int i = 0; i < 100 && out.len == 0; i++) {
		usleep(100000);
		ck_assert_int_eq(docker_container_logs_sync(c, b, false, &out, NULL, &err), 0);
	}
	pfs_buf_truncate(&out, strcspn(pfs_buf_str(&out), "\n"));
	ck_assert_str_eq(pfs_buf_str(&out), ipa);

	ck_assert_int_eq(docker_network_inspect(c, net, &jn, &err), 0);
	ck_assert_int_eq((int)json_object_size(json_object_get(jn, "Containers")), 2);
	/* a network with endpoints cannot go */
	ck_assert_int_lt(docker_network_remove(c, net, &err), 0);
	ck_assert_int_eq(docker_container_remove(c, a, true, &err), 0);
	ck_assert_int_eq(docker_container_remove(c, b, true, &err), 0);
	ck_assert_int_eq(docker_network_remove(c, net, &err), 0);
	ck_assert_int_eq(docker_network_inspect(c, net, &jn, &err), -ENOENT);
	json_decref(ja);
	json_decref(jb);
	json_decref(jn);
	free(a);
	free(b);
	free(net);
	pfs_buf_release(&out);
	docker_client_free(c);
}
END_TEST

/* ---- fairness ------------------------------------------------------------------------------------- */

struct stream_state {
	pthread_mutex_t m;
	int entries;
	bool done;
};

static int ss_entry(void *ud, enum docker_log_stream s, const char *ts, size_t tl, const char *p,
		    size_t n)
{
	struct stream_state *st = ud;

	(void)s, (void)ts, (void)tl, (void)p, (void)n;
	pthread_mutex_lock(&st->m);
	st->entries++;
	pthread_mutex_unlock(&st->m);
	return 0;
}

static void ss_done(void *ud, const struct docker_result *r)
{
	struct stream_state *st = ud;

	(void)r;
	pthread_mutex_lock(&st->m);
	st->done = true;
	pthread_mutex_unlock(&st->m);
}

struct worker {
	struct docker_client *c;
	const char *id;
	int ok;
};

static void *short_calls(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 5; i++) {
		json_t *j = NULL;

		if (i % 2 == 0 ? docker_container_inspect(w->c, w->id, &j, NULL) == 0
			       : docker_ping(w->c, NULL, NULL) == 0)
			w->ok++;
		json_decref(j);
	}
	return NULL;
}

START_TEST(short_calls_not_starved_by_streams)
{
	struct docker_client *c = new_client();
	const char *cmd[] = { "sh", "-c", "while true; do echo tick; sleep 0.2; done", NULL };
	struct docker_logs_opts o = { .follow = true, .timestamps = true, .tty = 0 };
	struct stream_state st[5];
	struct docker_call *calls[5];
	struct worker w[10];
	pthread_t th[10];
	char *ids[5];
	int ok = 0;

	for (int i = 0; i < 5; i++) {
		struct docker_logs_cbs cbs = { .on_entry = ss_entry, .on_done = ss_done, .ud = &st[i] };

		memset(&st[i], 0, sizeof(st[i]));
		pthread_mutex_init(&st[i].m, NULL);
		ids[i] = start_container(c, cmd, NULL, NULL);
		calls[i] = docker_container_logs(c, ids[i], &o, &cbs, NULL);
		ck_assert_ptr_nonnull(calls[i]);
	}
	/* every stream is delivering before the short calls begin */
	for (int i = 0; i < 5; i++)
		for (int k = 0; k < 200; k++) {
			pthread_mutex_lock(&st[i].m);
			int n = st[i].entries;
			pthread_mutex_unlock(&st[i].m);
			if (n > 0)
				break;
			usleep(50000);
		}
	for (int i = 0; i < 10; i++) {
		w[i] = (struct worker){ .c = c, .id = ids[i % 5] };
		pthread_create(&th[i], NULL, short_calls, &w[i]);
	}
	for (int i = 0; i < 10; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
	}
	ck_assert_int_eq(ok, 50);
	/* all 50 answered while the five streams were still open and delivering */
	for (int i = 0; i < 5; i++) {
		pthread_mutex_lock(&st[i].m);
		ck_assert(!st[i].done);
		ck_assert_int_gt(st[i].entries, 0);
		pthread_mutex_unlock(&st[i].m);
	}
	for (int i = 0; i < 5; i++) {
		docker_call_cancel(calls[i]);
		docker_call_unref(calls[i]);
		ck_assert_int_eq(docker_container_remove(c, ids[i], true, NULL), 0);
		free(ids[i]);
	}
	docker_client_free(c);
	for (int i = 0; i < 5; i++)
		ck_assert(st[i].done);
}
END_TEST

START_TEST(nothing_left_behind)
{
	/* runs last in its case: the earlier tests removed what they made */
	ck_assert_int_eq(count_labeled("containers"), 0);
	ck_assert_int_eq(count_labeled("networks"), 0);
	ck_assert_int_eq(count_labeled("images"), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("docker_engine");
	TCase *t = tcase_create("engine");

	tcase_set_timeout(t, 300);
	tcase_add_unchecked_fixture(t, sweep, sweep);
	tcase_add_test(t, ping_negotiates_version);
	tcase_add_test(t, base_image_present);
	tcase_add_test(t, build_from_directory);
	tcase_add_test(t, failing_build_reports_error);
	tcase_add_test(t, container_lifecycle_exact_logs);
	tcase_add_test(t, follow_running_container_then_stop);
	tcase_add_test(t, events_see_labeled_container);
	tcase_add_test(t, network_two_containers);
	tcase_add_test(t, short_calls_not_starved_by_streams);
	tcase_add_test(t, nothing_left_behind);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	int r;

	snprintf(run_value, sizeof(run_value), "%ld-%ld", (long)getpid(), (long)time(NULL));
	snprintf(run_label, sizeof(run_label), "pantherfs.testrun=%s", run_value);
	r = itest_docker_or_skip();
	if (r)
		return r;
	return pfs_check_run(suite());
}
