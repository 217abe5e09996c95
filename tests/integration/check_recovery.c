/* SPDX-License-Identifier: MIT */
/*
 * The engine killed with SIGKILL in each phase of a run and started again on
 * the same state dir, through tests/support/engine-host (a process hosting
 * the engine, driven over pipes). Real QUIC (ngtcp2) against the real Docker
 * engine. Each case:
 *   - starts a host, creates test "t", applies a config;
 *   - polls the state dir (run.json, events, logs) until the run is in the
 *     phase under test, then kill(SIGKILL)s the host and reaps it;
 *   - starts a host again on the same state dir and waits for the verdict;
 *   - checks the verdict is the one a run without the kill gets, the test's
 *     events are valid JSON lines numbered 1..N with no gap and no duplicate,
 *     there is one run.resumed after the kill and one exit per service, and
 *     each service's log file equals byte for byte what Docker has for its
 *     container.
 * Phases: building (a scratch data dir whose ngtcp2 Dockerfile ends with
 * RUN sleep 8, so the build is long and its earlier layers are cached),
 * starting (waiting for the server to answer QUIC; and right after its
 * container was created, with the start request completed by dockerd),
 * running (mid-download, mid-log), a client that exits while no engine runs,
 * and stopping (the run's verdict given, its server being stopped: the
 * server is paused so that `docker stop` lasts its whole grace).
 *
 * Every state dir lives under one scratch root. Host pids are recorded there
 * (with their start time, so a reused pid is never killed), and an unchecked
 * teardown, run by the parent after each case even when the case's child
 * failed, kills the hosts still alive, removes the containers and networks
 * labelled pantherfs.instance=<id> of every state dir, removes the image the
 * building case made, and deletes the state dirs (PFS_RECOVERY_KEEP=DIR: copied
 * into DIR first, for a bug report). The last case asserts that nothing of
 * theirs is left. Each case says how long it took on stderr.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "pfs_check.h"
#include "itest.h"
#include "recovery.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/docker.h"
#include "pantherfs/image.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define TEST STATE_TEST      /* "t", the test of every state dir */
#define POLL_US 5000              /* between two looks at the state dir */
#define VERDICT_S 300             /* bound on a run's end after the restart */

static char root[PATH_MAX];       /* everything this suite writes */
static char data_dir[PATH_MAX];   /* root/data: the source's data with RUN sleep 8 */
static char slow_ref[256];        /* the image the building case makes */
static const char *host_exe, *src_dir;

/* filled by the teardown (parent), read by the leftover check (forked after it) */
static char instances[32][17];
static int n_instances;

/* this case's times (ms, monotonic), said on stderr at its end */
static const char *case_name;
static uint64_t t_applied, t_killed, t_verdict;

/* ---- small things ------------------------------------------------------------------------ */

/* A build container the building case saw (no label: the teardown removes it by id). */
static void record_builder(const char *id)
{
	char path[PATH_MAX + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/builders", root);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		pfs_write_all(fd, id, strlen(id));
		pfs_write_all(fd, "\n", 1);
		close(fd);
	}
}

static void remove_builders(struct docker_client *c)
{
	char path[PATH_MAX + 32], id[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/builders", root);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fscanf(f, "%127s", id) == 1)
		docker_container_remove(c, id, true, NULL);
	fclose(f);
	unlink(path);
}

/* How many recorded hosts are still alive (the leftover check's message quotes this name). */
static int count_alive_hosts(void)
{
	return hosts_alive(root, false);
}

/* ---- the host process (tests/support/recovery.h) ------------------------------------------ */

static void host_ok(struct host *h, const char *fmt, const char *a, const char *b)
{
	char ans[1024];

	host_cmd(h, 60, ans, sizeof(ans), fmt, a, b);
	ck_assert_msg(!strcmp(ans, "ok"), "\"%s\": %s", h->last, ans);
}

/* ---- the state dir ------------------------------------------------------------------------ */

/* run.json's state ("" before it exists). */
static void run_state(const char *state, char *out, size_t n)
{
	json_t *j = run_json(state);

	snprintf(out, n, "%s", json_string_value(json_object_get(j, "state")) ?: "");
	json_decref(j);
}

/* "1 test.created, 2 config.accepted, ..., 9 service.started server, ..." for messages. */
static const char *summary(json_t *evs)
{
	static char out[4096];
	size_t len = 0;
	json_t *ev;
	size_t i;

	out[0] = '\0';
	json_array_foreach(evs, i, ev) {
		const char *svc = json_string_value(json_object_get(ev, "service"));
		int k = snprintf(out + len, sizeof(out) - len, "%s%lld %s%s%s", i ? ", " : "", (long long)ev_seq(ev),
				 ev_type(ev), svc ? " " : "", svc ? svc : "");

		if (k < 0 || (size_t)k >= sizeof(out) - len)
			break;
		len += (size_t)k;
	}
	return out;
}

static json_int_t last_seq(const char *state)
{
	json_t *evs = events_loose(state);
	size_t n = json_array_size(evs);
	json_int_t s = n ? ev_seq(json_array_get(evs, n - 1)) : 0;

	json_decref(evs);
	return s;
}

typedef bool (*cond_fn)(const char *state, const void *arg);

/* Polls the state dir until cond holds; fails saying what it waited for after secs. */
static void wait_until(const char *state, cond_fn cond, const void *arg, int secs, const char *what)
{
	uint64_t until = pfs_now_ms() + (uint64_t)secs * 1000;
	char now[1024];

	while (!cond(state, arg)) {
		if (pfs_now_ms() >= until) {
			run_where(state, now, sizeof(now));
			ck_abort_msg("waited %d s for %s; %s", secs, what, now);
		}
		usleep(POLL_US);
	}
}

struct phase {
	const char *state;       /* run.json's */
	const char *event;       /* an event of this type ... */
	const char *service;     /* ... of this service (NULL: any) */
	const char *image;       /* ... with data.image this (NULL: any) */
	const char *not_event;   /* no event of this type (of service) yet */
	const char *log_svc;     /* and this service's log file ... */
	off_t log_min;           /* ... at least this long */
	const char *file;        /* and this file of runs/1 ... */
	const char *contains;    /* ... holding this text */
};

static bool in_phase(const char *state, const void *arg)
{
	const struct phase *p = arg;
	char st[32];
	bool ok;

	run_state(state, st, sizeof(st));
	if (strcmp(st, p->state))
		return false;
	if (p->event) {
		json_t *evs = events_loose(state), *ev = find_event(evs, p->event, p->service, 0);

		ok = ev && (!p->image || !strcmp(json_string_value(json_object_get(json_object_get(ev, "data"), "image")) ?: "",
						 p->image));
		if (p->not_event && find_event(evs, p->not_event, p->service, 0))
			ok = false;
		json_decref(evs);
		if (!ok)
			return false;
	}
	if (p->log_svc) {
		char path[PATH_MAX + 64];
		struct stat sb;

		snprintf(path, sizeof(path), "%s/tests/" TEST "/runs/1/services/%s/logs", state, p->log_svc);
		if (stat(path, &sb) < 0 || sb.st_size < p->log_min)
			return false;
	}
	if (p->file) {
		struct pfs_buf b = PFS_BUF_INIT(64u << 20);
		char path[PATH_MAX + 64];

		snprintf(path, sizeof(path), "%s/tests/" TEST "/runs/1/%s", state, p->file);
		ok = pfs_read_file(path, &b) == 0 && b.len && memmem(b.ptr, b.len, p->contains, strlen(p->contains));
		pfs_buf_release(&b);
		if (!ok)
			return false;
	}
	return true;
}

/* ---- Docker ------------------------------------------------------------------------------- */

static bool container_running(const char *id)
{
	struct docker_client *c = itest_client(60000);
	struct docker_container_state st = { 0 };
	struct pfs_err err = { 0 };
	json_t *j = NULL;

	ck_assert_ptr_nonnull(c);
	ck_assert_msg(docker_container_inspect(c, id, &j, &err) == 0, "inspect %s: %s", id, err.msg);
	docker_inspect_state(j, &st);
	json_decref(j);
	docker_client_free(c);
	return st.running;
}

/*
 * A service's log file equals, byte for byte, what Docker has for its
 * container; a difference is added to problems.
 */
static void logs_match(const char *state, const char *svc, struct pfs_buf *problems)
{
	struct docker_client *c = itest_client(120000);
	struct pfs_buf diff = PFS_BUF_INIT(1u << 16);
	size_t got_len = 0;

	ck_assert_ptr_nonnull(c);
	if (logs_differ(c, state, svc, &diff, &got_len))
		pfs_buf_printf(problems, " | %s", pfs_buf_str(&diff));
	else if (!got_len)
		pfs_buf_printf(problems, " | %s: no logs at all", svc);
	pfs_buf_release(&diff);
	docker_client_free(c);
}

/* ---- fixtures -------------------------------------------------------------------------------- */

static void remove_slow_image(struct docker_client *c)
{
	json_t *j = NULL;

	if (slow_ref[0] && docker_image_inspect(c, slow_ref, &j, NULL) == 0)
		docker_image_remove(c, slow_ref, true, NULL);
	json_decref(j);
}

/* The building case must build: no image of that name from an earlier run. */
static void setup(void)
{
	struct docker_client *c = itest_client(120000);

	if (c)
		remove_slow_image(c);
	docker_client_free(c);
}

/* Parent, after each case: hosts, containers, networks, the test image, state dirs. */
static void teardown(void)
{
	struct docker_client *c;

	hosts_alive(root, true);
	c = itest_client(120000);
	sweep_state_dirs(c, root, "data", getenv("PFS_RECOVERY_KEEP"), instances, (int)PFS_ARRAY_SIZE(instances),
			 &n_instances);
	if (c) {
		remove_builders(c);
		remove_slow_image(c);
	}
	docker_client_free(c);
}

/* ---- the cases ------------------------------------------------------------------------------- */

/* Two services; the client downloads with verbose logs (many lines to follow). */
static const char pair_fmt[] =
	"services:\n"
	"  server:\n"
	"    timeout: 120\n"
	"    implementation: {name: ngtcp2}\n"
	"    protocol: {role: server}\n"
	"    config: {verbose: true}\n"
	"  client:\n"
	"    timeout: 120\n"
	"    implementation: {name: ngtcp2}\n"
	"    protocol: {role: client, target: server}\n"
	"    config: {download: 1M, verbose: true%s}\n";

static void start_case(struct host *h, const char *name, const char *data, const char *yaml, char *state, size_t n)
{
	char path[PATH_MAX + 64];

	snprintf(state, n, "%s/%s", root, name);
	snprintf(path, sizeof(path), "%s/%s.yaml", root, name);
	ck_assert_int_eq(pfs_write_file_atomic(path, yaml, strlen(yaml)), 0);
	host_start(h, host_exe, root, state, data);
	host_ok(h, "create %s%s", TEST, "");
	host_ok(h, "apply %s %s", TEST, path);
	case_name = name;
	t_applied = pfs_now_ms();
}

/*
 * Starts the host again and waits until the run is over; its status line
 * into verdict. Returns the seq the events had at the kill.
 */
static json_int_t restart_and_wait(struct host *h, const char *state, const char *data, char *verdict, size_t n)
{
	json_int_t at_kill = last_seq(state);
	char ans[1024];

	host_start(h, host_exe, root, state, data);
	host_cmd(h, VERDICT_S + 30, ans, sizeof(ans), "wait %s %d", TEST, VERDICT_S);
	ck_assert_msg(!strncmp(ans, "done ", 5), "the run did not end within %d s after the restart: %s", VERDICT_S, ans);
	snprintf(verdict, n, "%s", ans + 5);
	t_verdict = pfs_now_ms();
	host_quit(h);
	return at_kill;
}

/*
 * What every case checks after the restart: the verdict (as the host said
 * it, and run.json), the events (whole and numbered; one run.started, one
 * run.resumed after the kill, one verdict event, one service.started and one
 * service.exited per service, nothing lost) and each service's logs. Every
 * problem is listed before the case fails. Returns the events (caller
 * decrefs).
 */
static json_t *check_after(const char *state, json_int_t at_kill, const char *verdict, const char *want)
{
	struct pfs_buf pb = PFS_BUF_INIT(1u << 20);
	json_t *evs = events_strict(state, true), *j = run_json(state), *svcs, *o;
	const char *name, *st;
	int n;

	ck_assert_ptr_nonnull(j);
	if (strcmp(verdict, want))
		pfs_buf_printf(&pb, " | verdict after the restart: \"%s\"; a run without the kill gets \"%s\"", verdict,
			       want);
	st = json_string_value(json_object_get(j, "status")) ?: "";
	if (strcmp(st, want))
		pfs_buf_printf(&pb, " | run.json status \"%s\"", st);
	if (!find_event(evs, "run.resumed", NULL, at_kill))
		pfs_buf_printf(&pb, " | no run.resumed event after seq %lld (the last before the kill)", (long long)at_kill);
	if ((n = count_events(evs, "run.resumed", NULL)) != 1)
		pfs_buf_printf(&pb, " | %d run.resumed events for one restart", n);
	n = count_events(evs, "run.succeeded", NULL) + count_events(evs, "run.failed", NULL) +
	    count_events(evs, "run.stopped", NULL);
	if (n != 1)
		pfs_buf_printf(&pb, " | %d verdict events", n);
	if ((n = count_events(evs, "run.started", NULL)) != 1)
		pfs_buf_printf(&pb, " | %d run.started events", n);
	svcs = json_object_get(j, "services");
	ck_assert_uint_gt(json_object_size(svcs), 0);
	json_object_foreach(svcs, name, o) {
		if ((n = count_events(evs, "service.started", name)) != 1)
			pfs_buf_printf(&pb, " | %s: %d service.started events (run.json: started %s, status \"%s\")", name, n,
				       json_is_true(json_object_get(o, "started")) ? "true" : "false",
				       json_string_value(json_object_get(o, "status")) ?: "");
		if ((n = count_events(evs, "service.exited", name)) != 1)
			pfs_buf_printf(&pb, " | %s: %d service.exited events", name, n);
		if ((n = count_events(evs, "service.lost", name)) != 0)
			pfs_buf_printf(&pb, " | %s: lost", name);
		logs_match(state, name, &pb);
	}
	json_decref(j);
	fprintf(stderr, "recovery: %s: killed %.1f s after the config was applied, run over %.1f s after the kill, "
			"checked %.1f s later (%zu events)\n",
		case_name, (double)(t_killed - t_applied) / 1000, (double)(t_verdict - t_killed) / 1000,
		(double)(pfs_now_ms() - t_verdict) / 1000, json_array_size(evs));
	ck_assert_msg(pb.len == 0, "killed while %s, after event seq %lld%s | events: %s", case_name, (long long)at_kill,
		      pfs_buf_str(&pb), summary(evs));
	pfs_buf_release(&pb);
	return evs;
}

/* The client's exit recorded, 0, and the client judged a success. */
static void client_succeeded(const char *state)
{
	json_t *j = run_json(state), *cl = json_object_get(json_object_get(j, "services"), "client");

	ck_assert_msg(json_integer_value(json_object_get(cl, "exit_code")) == 0 && json_is_integer(json_object_get(cl, "exit_code")),
		      "client exit_code in run.json: %s", json_dumps(json_object_get(cl, "exit_code"), JSON_ENCODE_ANY));
	ck_assert(json_is_true(json_object_get(cl, "finished")));
	ck_assert(json_is_true(json_object_get(cl, "success")));
	json_decref(j);
}

START_TEST(sigkill_while_building)
{
	char yaml[1024], state[PATH_MAX], st[32];
	/* the builder is inside RUN sleep 8, in its intermediate container */
	struct phase p = { .state = "building", .event = "image.build_started", .image = slow_ref,
			   .file = "build.log", .contains = "RUN sleep 8\n ---> Running in " };
	struct docker_client *c;
	struct host h;
	json_t *evs, *j = NULL;
	json_int_t at_kill;
	char verdict[640];
	char image[320], path[PATH_MAX + 64], builder[80], *at;
	struct pfs_buf blog = PFS_BUF_INIT(64u << 20);
	uint64_t until;
	int r;

	snprintf(yaml, sizeof(yaml), pair_fmt, "");
	start_case(&h, "building", data_dir, yaml, state, sizeof(state));
	wait_until(state, in_phase, &p, 120,
		   "run.json \"building\", image.build_started of the slow image, and its RUN sleep 8 running");
	t_killed = host_kill(&h);
	run_state(state, st, sizeof(st));
	ck_assert_str_eq(st, "building");
	/* killed inside the build: the image is not there yet */
	c = itest_client(60000);
	ck_assert_msg(docker_image_inspect(c, slow_ref, &j, NULL) == -ENOENT,
		      "%s exists right after the kill: the build was over before it", slow_ref);
	json_decref(j);
	j = NULL;
	/* the builder's container for the sleep: it must not outlive the build (it has no label) */
	snprintf(path, sizeof(path), "%s/tests/" TEST "/runs/1/build.log", state);
	ck_assert_int_eq(pfs_read_file(path, &blog), 0);
	at = memmem(blog.ptr, blog.len, p.contains, strlen(p.contains));
	ck_assert_ptr_nonnull(at);
	snprintf(builder, sizeof(builder), "%.*s", (int)strcspn(at + strlen(p.contains), "\n"), at + strlen(p.contains));
	pfs_buf_release(&blog);
	ck_assert_msg(builder[0], "no container id after \"Running in\" in build.log");
	record_builder(builder);

	at_kill = restart_and_wait(&h, state, data_dir, verdict, sizeof(verdict));
	evs = check_after(state, at_kill, verdict, "succeeded 1 client finished");
	/* the build was done again (or found done) after the restart, and used */
	ck_assert_msg(find_event(evs, "image.build_completed", NULL, at_kill) || find_event(evs, "image.cached", NULL, at_kill),
		      "no image.build_completed or image.cached after the restart");
	ck_assert_int_eq(docker_image_inspect(c, slow_ref, &j, NULL), 0);
	json_decref(j);
	j = NULL;
	run_svc_str(state, "server", "image", image, sizeof(image));
	ck_assert_msg(!strncmp(image, slow_ref, strlen(slow_ref)) && image[strlen(slow_ref)] == ' ',
		      "server ran image \"%s\", not %s", image, slow_ref);
	client_succeeded(state);
	json_decref(evs);
	/* the killed build's intermediate container went with it */
	until = pfs_now_ms() + 30000;
	while ((r = docker_container_inspect(c, builder, &j, NULL)) == 0 && pfs_now_ms() < until) {
		json_decref(j);
		j = NULL;
		usleep(100000);
	}
	json_decref(j);
	ck_assert_msg(r == -ENOENT, "the killed build's container %s is still there 30 s after the run", builder);
	/* the image this case made goes (the teardown removes it too, when the case failed) */
	ck_assert_int_eq(docker_image_remove(c, slow_ref, true, NULL), 0);
	docker_client_free(c);
}
END_TEST

/*
 * Killed while the engine waits for the server to answer QUIC: the server
 * started and recorded, not ready yet. Both services run under the gdb
 * execution environment, so the server's container runs for a while (gdb
 * loading) before the program answers: a window the poll cannot miss even
 * on a loaded machine (without it, about 200 ms).
 */
START_TEST(sigkill_while_starting)
{
	char yaml[1100], state[PATH_MAX], st[32];
	struct phase p = { .state = "starting", .event = "service.started", .service = "server",
			   .not_event = "service.ready" };
	struct host h;
	json_t *evs;
	json_int_t at_kill;
	char verdict[640];

	snprintf(yaml, sizeof(yaml), "execution_environment: [{type: gdb}]\n");
	snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml), pair_fmt, "");
	start_case(&h, "starting", src_dir, yaml, state, sizeof(state));
	wait_until(state, in_phase, &p, 120, "run.json \"starting\", the server's service.started, no service.ready");
	t_killed = host_kill(&h);
	run_state(state, st, sizeof(st));
	ck_assert_msg(!strcmp(st, "starting"), "run.json says \"%s\" after the kill: it was not killed while starting", st);
	evs = events_loose(state);
	ck_assert_msg(!find_event(evs, "service.ready", NULL, 0), "the server was ready before the kill");
	json_decref(evs);

	at_kill = restart_and_wait(&h, state, src_dir, verdict, sizeof(verdict));
	evs = check_after(state, at_kill, verdict, "succeeded 1 client finished");
	ck_assert_int_eq(count_events(evs, "network.created", NULL), 1);
	ck_assert_int_eq(count_events(evs, "service.created", "server"), 1);
	ck_assert_int_eq(count_events(evs, "service.created", "client"), 1);
	ck_assert_int_eq(count_events(evs, "service.ready", "server"), 1);
	client_succeeded(state);
	json_decref(evs);
}
END_TEST

/*
 * Killed as soon as the server's container is created (run.json "starting",
 * service.created, no service.started): the engine's next call is the
 * container's start, and the kill usually lands while that request is with
 * dockerd, which carries it out. So that the case does not depend on which
 * side of the request the kill fell, the test makes the outcome the same
 * every time: when the container is still "created", it starts it itself
 * (what dockerd does with the engine's request). The restart must adopt the
 * running container and still record its service.started.
 */
START_TEST(sigkill_during_container_start)
{
	char yaml[1024], state[PATH_MAX], st[32], id[128];
	struct phase p = { .state = "starting", .event = "service.created", .service = "server",
			   .not_event = "service.started" };
	struct docker_container_state ds = { 0 };
	struct docker_client *c;
	struct pfs_err err = { 0 };
	struct host h;
	json_t *evs, *j = NULL;
	json_int_t at_kill;
	char verdict[640];

	snprintf(yaml, sizeof(yaml), pair_fmt, "");
	start_case(&h, "container-start", src_dir, yaml, state, sizeof(state));
	wait_until(state, in_phase, &p, 120, "run.json \"starting\" and the server's service.created, no service.started");
	t_killed = host_kill(&h);
	run_state(state, st, sizeof(st));
	ck_assert_msg(!strcmp(st, "starting"), "run.json says \"%s\" after the kill", st);
	/* the id as service.created gave it (run.json is rewritten just after that event) */
	evs = events_loose(state);
	ck_assert_msg(!find_event(evs, "service.started", "server", 0), "the server's start was recorded before the kill");
	snprintf(id, sizeof(id), "%s",
		 json_string_value(json_object_get(json_object_get(find_event(evs, "service.created", "server", 0), "data"),
						   "container")) ?: "");
	json_decref(evs);
	ck_assert_msg(id[0], "service.created of the server has no container id");
	c = itest_client(60000);
	ck_assert_msg(docker_container_inspect(c, id, &j, &err) == 0, "inspect %s: %s", id, err.msg);
	docker_inspect_state(j, &ds);
	json_decref(j);
	fprintf(stderr, "recovery: container-start: the server's container was \"%s\" at the kill%s\n", ds.status,
		strcmp(ds.status, "created") ? " (dockerd had the engine's start request)" : "; the test starts it");
	if (!strcmp(ds.status, "created"))
		ck_assert_msg(docker_container_start(c, id, &err) == 0, "start %s: %s", id, err.msg);
	docker_client_free(c);

	at_kill = restart_and_wait(&h, state, src_dir, verdict, sizeof(verdict));
	evs = check_after(state, at_kill, verdict, "succeeded 1 client finished");
	ck_assert_int_eq(count_events(evs, "service.created", "server"), 1);
	client_succeeded(state);
	json_decref(evs);
}
END_TEST

START_TEST(sigkill_while_running)
{
	char yaml[1024], state[PATH_MAX], st[32], id[128];
	/* mid-download: the client has logged 1 MiB of its packet trace (of about 11) */
	struct phase p = { .state = "running", .log_svc = "client", .log_min = 1 << 20 };
	struct host h;
	json_t *evs;
	json_int_t at_kill;
	char verdict[640];

	snprintf(yaml, sizeof(yaml), pair_fmt, ", rx-loss: 0.3");
	start_case(&h, "running", src_dir, yaml, state, sizeof(state));
	wait_until(state, in_phase, &p, 120, "run.json \"running\" and 1 MiB of client logs");
	t_killed = host_kill(&h);
	run_state(state, st, sizeof(st));
	ck_assert_str_eq(st, "running");
	run_svc_str(state, "client", "container", id, sizeof(id));
	ck_assert_msg(container_running(id), "the client had exited before the kill: slow its download down");

	at_kill = restart_and_wait(&h, state, src_dir, verdict, sizeof(verdict));
	evs = check_after(state, at_kill, verdict, "succeeded 1 client finished");
	client_succeeded(state);
	json_decref(evs);
}
END_TEST

START_TEST(sigkill_then_client_exits)
{
	char yaml[1024], state[PATH_MAX], id[128];
	struct phase p = { .state = "running", .event = "service.started", .service = "client" };
	struct docker_client *c;
	struct pfs_err err = { 0 };
	struct host h;
	json_t *evs, *ex;
	json_int_t at_kill, resumed;
	char verdict[640];
	int code = -1;

	snprintf(yaml, sizeof(yaml), pair_fmt, ", rx-loss: 0.1");
	start_case(&h, "client-exits", src_dir, yaml, state, sizeof(state));
	wait_until(state, in_phase, &p, 120, "run.json \"running\" and the client's service.started");
	t_killed = host_kill(&h);
	run_svc_str(state, "client", "container", id, sizeof(id));
	ck_assert_msg(id[0], "run.json has no client container");
	ck_assert_msg(container_running(id), "the client had exited before the kill");
	/* the client ends while no engine watches */
	c = itest_client(60000);
	ck_assert_msg(docker_container_wait_sync(c, id, 180000, &code, &err) == 0, "waiting for the client: %s", err.msg);
	ck_assert_int_eq(code, 0);
	docker_client_free(c);

	at_kill = restart_and_wait(&h, state, src_dir, verdict, sizeof(verdict));
	evs = check_after(state, at_kill, verdict, "succeeded 1 client finished");
	resumed = ev_seq(find_event(evs, "run.resumed", NULL, at_kill));
	ex = find_event(evs, "service.exited", "client", 0);
	ck_assert_ptr_nonnull(ex);
	ck_assert_msg(ev_seq(ex) > resumed, "the client's exit (seq %lld) was recorded before the restart (seq %lld)",
		      (long long)ev_seq(ex), (long long)resumed);
	ck_assert_msg(json_is_integer(json_object_get(json_object_get(ex, "data"), "exit_code")) &&
			      json_integer_value(json_object_get(json_object_get(ex, "data"), "exit_code")) == 0,
		      "service.exited of the client: %s", json_dumps(ex, JSON_COMPACT));
	client_succeeded(state);
	json_decref(evs);
}
END_TEST

/* A server that takes its whole grace to stop: paused, SIGTERM waits, SIGKILL resumes it. */
static void pause_container(const char *id)
{
	struct docker_client *c = itest_client(60000);
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct docker_result res = { 0 };
	struct pfs_err err = { 0 };
	char path[200];

	snprintf(path, sizeof(path), "/containers/%s/pause", id);
	rq.method = "POST";
	rq.path = path;
	ck_assert_msg(docker_request_sync(c, &rq, &res, &err) == 0, "pause %s: %s", id, err.msg);
	docker_result_release(&res);
	docker_client_free(c);
}

START_TEST(sigkill_while_stopping)
{
	static const char soak[] = "services:\n"
				   "  server:\n"
				   "    timeout: 8\n"
				   "    implementation: {name: ngtcp2}\n"
				   "    protocol: {role: server}\n";
	char state[PATH_MAX], st[32], id[128];
	struct phase ready = { .state = "running", .event = "service.ready", .service = "server" };
	struct phase stopping = { .state = "stopping" };
	struct host h;
	json_t *evs, *j;
	json_int_t at_kill;
	char verdict[640];
	char reason[600];

	start_case(&h, "stopping", src_dir, soak, state, sizeof(state));
	wait_until(state, in_phase, &ready, 120, "run.json \"running\" and the server's service.ready");
	run_svc_str(state, "server", "container", id, sizeof(id));
	pause_container(id);
	/* the deadline passes: verdict given, `docker stop` waits the host's 2 s grace */
	wait_until(state, in_phase, &stopping, 60, "run.json \"stopping\" after the 8 s soak");
	j = run_json(state);
	snprintf(reason, sizeof(reason), "%s", json_string_value(json_object_get(j, "reason")) ?: "");
	json_decref(j);
	ck_assert_str_eq(reason, "servers ran their 8 s");
	t_killed = host_kill(&h);
	run_state(state, st, sizeof(st));
	ck_assert_str_eq(st, "stopping");

	at_kill = restart_and_wait(&h, state, src_dir, verdict, sizeof(verdict));
	evs = check_after(state, at_kill, verdict, "succeeded servers ran their 8 s");
	json_decref(evs);
}
END_TEST

/* After every case: nothing with their labels, no test image, no host, no state dir. */
START_TEST(nothing_left)
{
	struct docker_client *c = itest_client(60000);
	json_t *j = NULL;

	ck_assert_ptr_nonnull(c);
	assert_instances_gone(c, instances, n_instances);
	ck_assert_msg(docker_image_inspect(c, slow_ref, &j, NULL) == -ENOENT, "image %s left", slow_ref);
	ck_assert_int_eq(count_alive_hosts(), 0);
	assert_no_state_dir(root);
	docker_client_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("recovery");
	struct {
		const char *name;
		const TTest *fn;
	} cases[] = {
		{ "building", sigkill_while_building },
		{ "starting", sigkill_while_starting },
		{ "container_start", sigkill_during_container_start },
		{ "running", sigkill_while_running },
		{ "client_exits", sigkill_then_client_exits },
		{ "stopping", sigkill_while_stopping },
	};
	TCase *t;

	/* one test case each: the teardown cleans up after every one */
	for (size_t i = 0; i < PFS_ARRAY_SIZE(cases); i++) {
		t = tcase_create(cases[i].name);
		tcase_set_timeout(t, 600);
		tcase_add_unchecked_fixture(t, setup, teardown);
		tcase_add_test(t, cases[i].fn);
		suite_add_tcase(s, t);
	}
	t = tcase_create("leftovers");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, nothing_left);
	suite_add_tcase(s, t);
	return s;
}

/* root/data: the source's data, the ngtcp2 Dockerfile ending with a slow step. */
static int prepare_data(char *why, size_t n)
{
	static const char slow[] = "\n# check_recovery: a build long enough to kill pantherfs inside it\nRUN sleep 8\n";
	const char *dirs[] = { "version_configs", "templates", "docker" };
	char src[PATH_MAX + 32], df[PATH_MAX + 64];
	struct catalog *cat = NULL;
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	struct image_plan p, normal;
	struct pfs_err err = { 0 };
	char yaml[1024];
	int fd;

	snprintf(data_dir, sizeof(data_dir), "%s/data", root);
	if (pfs_mkdir_p(data_dir, 0755) < 0)
		return snprintf(why, n, "mkdir %s", data_dir), -1;
	for (size_t i = 0; i < PFS_ARRAY_SIZE(dirs); i++) {
		snprintf(src, sizeof(src), "%s/%s", src_dir, dirs[i]);
		if (run_argv((const char *const[]){ "cp", "-r", src, data_dir, NULL }) != 0)
			return snprintf(why, n, "cp -r %s %s failed", src, data_dir), -1;
	}
	snprintf(df, sizeof(df), "%s/docker/ngtcp2/Dockerfile", data_dir);
	fd = open(df, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || pfs_write_all(fd, slow, sizeof(slow) - 1) < 0)
		return snprintf(why, n, "%s: %s", df, strerror(errno)), -1;
	close(fd);

	/* the image the scratch data dir gives, and that it is not the shared one */
	snprintf(yaml, sizeof(yaml), pair_fmt, "");
	for (int k = 0; k < 2; k++) {
		if (catalog_load(k ? data_dir : src_dir, &cat, &err) < 0)
			return snprintf(why, n, "catalog: %s", err.msg), -1;
		if (config_load(cat, "config.yaml", yaml, strlen(yaml), &cfg, &rep) < 0) {
			snprintf(why, n, "config: %s", rep.n_errors ? rep.errors[0] : "?");
			cfg_report_release(&rep);
			catalog_free(cat);
			return -1;
		}
		cfg_report_release(&rep);
		if (image_plan_compute(config_find_service(cfg, "server"), k ? &p : &normal, &err) < 0) {
			snprintf(why, n, "image plan: %s", err.msg);
			config_free(cfg);
			catalog_free(cat);
			return -1;
		}
		config_free(cfg);
		catalog_free(cat);
	}
	if (!strcmp(p.ref, normal.ref))
		return snprintf(why, n, "the slow Dockerfile gives the shared image's name %s", p.ref), -1;
	snprintf(slow_ref, sizeof(slow_ref), "%s", p.ref);
	return 0;
}

int main(void)
{
	char why[PATH_MAX + 300];
	int r;

	r = recovery_main_init(&host_exe, &src_dir, root, sizeof(root), "/tmp/pfs-recovery-XXXXXX");
	if (r)
		return r;
	if (prepare_data(why, sizeof(why)) < 0) {
		printf("Bail out! %s\n", why);
		pfs_rm_rf(root);
		return 1;
	}
	r = pfs_check_run(suite());
	hosts_alive(root, true);
	pfs_rm_rf(root);
	return r;
}
