/* SPDX-License-Identifier: MIT */
/*
 * The orchestrator in-process against the real engine, with real QUIC
 * (ngtcp2): verdicts (success, a client exiting 1, a server dying, a client
 * hanging past the timeout, a server-only soak), events without gaps, logs
 * equal to what Docker has, a config replaced mid-run, ctl verbs, removal,
 * and twenty tests at once; prebuilt images pulled from a registry of the
 * suite's own (Debian's docker-registry), or failing to be. No FUSE. Each
 * test uses its own state dir; an unchecked teardown removes everything
 * labelled with their instance ids, and ends the registry.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pfs_check.h"
#include "itest.h"
#include "pantherfs/docker.h"
#include "pantherfs/engine.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static char root[] = "/tmp/pfs-engine-XXXXXX";

/* ---- helpers ------------------------------------------------------------------------------ */

static struct engine *eng(const char *name)
{
	struct engine_opts o = { .data_dir = getenv("PFS_SOURCE_DIR"), .stop_grace_s = 2 };
	struct engine *e = NULL;
	struct pfs_err err = { 0 };
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	o.state_dir = dir;
	ck_assert_msg(engine_new(&o, &e, &err) == 0, "%s", err.msg);
	return e;
}

static void apply(struct engine *e, const char *test, const char *yaml)
{
	struct cfg_report rep;
	int r = engine_test_apply_config(e, test, yaml, strlen(yaml), &rep);

	ck_assert_msg(r == 0, "apply: %d %s", r, rep.n_errors ? rep.errors[0] : "");
	cfg_report_release(&rep);
}

static char *file(struct engine *e, const char *test, int run, const char *svc, const char *name)
{
	struct engine_file f;
	char *out;

	unsigned where = svc ? (run ? PFS_AT_RUN_SVC : PFS_AT_SVC) : (run ? PFS_AT_RUN : PFS_AT_TEST);
	const struct pfs_name *n = pfs_name_lookup(name, where);

	ck_assert_msg(n != NULL, "no file %s there", name);
	ck_assert_msg(engine_file_get(e, test, run, svc, n->id, &f) == 0, "%s/%d/%s/%s", test, run,
		      svc ? svc : "", name);
	if (f.growing) {
		struct pfs_buf b = PFS_BUF_INIT(64u << 20);

		ck_assert_int_eq(pfs_read_file(f.path, &b), 0);
		ck_assert_uint_ge(b.len, f.len);
		pfs_buf_truncate(&b, f.len);
		out = pfs_buf_steal(&b, NULL);
	} else {
		out = strndup(f.data, f.len);
	}
	engine_file_release(&f);
	return out;
}

/* Waits until run `run` (0: current) is over; returns its status line. */
static char *wait_done(struct engine *e, const char *test, int run, int secs)
{
	uint64_t until = pfs_now_ms() + (uint64_t)secs * 1000;

	while (engine_run_live(e, test, run)) {
		ck_assert_msg(pfs_now_ms() < until, "%s still live after %d s: %s", test, secs,
			      file(e, test, run, NULL, "status"));
		usleep(100000);
	}
	return file(e, test, run, NULL, "status");
}

static void wait_state(struct engine *e, const char *test, const char *word, int secs)
{
	uint64_t until = pfs_now_ms() + (uint64_t)secs * 1000;
	char st[64] = "";

	for (;;) {
		ck_assert_int_eq(engine_test_state(e, test, st, sizeof(st)), 0);
		if (!strcmp(st, word))
			return;
		ck_assert_msg(pfs_now_ms() < until, "%s: waiting for %s, still %s", test, word, st);
		usleep(50000);
	}
}

/* Events: valid JSON lines numbered 1..N without gap; returns them as an array. */
static json_t *events(struct engine *e, const char *test)
{
	char *txt = file(e, test, 0, NULL, "events"), *save = NULL;
	json_t *arr = json_array();
	json_int_t want = 1;

	for (char *l = strtok_r(txt, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		json_t *ev = json_loads(l, 0, NULL);

		ck_assert_msg(ev != NULL, "not JSON: %s", l);
		ck_assert_msg(json_integer_value(json_object_get(ev, "seq")) == want, "seq %lld where %lld was due",
			      (long long)json_integer_value(json_object_get(ev, "seq")), (long long)want);
		ck_assert_str_eq(json_string_value(json_object_get(ev, "test")), test);
		ck_assert(json_is_string(json_object_get(ev, "time")));
		want++;
		json_array_append_new(arr, ev);
	}
	free(txt);
	return arr;
}

static int count_type(json_t *evs, const char *type, const char *svc)
{
	json_t *ev;
	size_t i;
	int n = 0;

	json_array_foreach(evs, i, ev)
		if (!strcmp(json_string_value(json_object_get(ev, "type")), type) &&
		    (!svc || !strcmp(json_string_value(json_object_get(ev, "service")) ?: "", svc)))
			n++;
	return n;
}

static struct docker_client *client(void)
{
	struct docker_client_opts o = { .timeout_ms = 60000 };
	struct docker_client *c = NULL;

	ck_assert_int_eq(docker_client_new(&o, &c, NULL), 0);
	return c;
}

/* A service's log file equals, byte for byte, what Docker has for its container. */
static void logs_match(struct engine *e, const char *test, int run, const char *svc)
{
	struct docker_client *c = client();
	struct pfs_buf want = PFS_BUF_INIT(64u << 20);
	char *id = file(e, test, run, svc, "container"), *got = file(e, test, run, svc, "logs");
	struct pfs_err err = { 0 };

	id[strcspn(id, "\n")] = '\0';
	ck_assert_str_ne(id, "");
	ck_assert_msg(docker_container_logs_sync(c, id, false, &want, &want, &err) == 0, "%s", err.msg);
	ck_assert_msg(strlen(got) == want.len && !memcmp(got, pfs_buf_str(&want), want.len),
		      "%s: %zu bytes logged, Docker has %zu", svc, strlen(got), want.len);
	free(id);
	free(got);
	pfs_buf_release(&want);
	docker_client_free(c);
}

static int containers_of(struct engine *e, const char *test, int run)
{
	struct docker_client *c = client();
	char inst[64], l1[128], l2[128], l3[64], path[300];
	const char *labels[] = { l1, l2, run ? l3 : NULL, NULL };
	struct pfs_buf b = PFS_BUF_INIT(64);
	json_t *list = NULL;
	int n;

	(void)e;
	snprintf(path, sizeof(path), "%s/%s/instance", root, test);
	ck_assert_int_eq(pfs_read_file(path, &b), 0);
	snprintf(inst, sizeof(inst), "%.16s", b.ptr);
	pfs_buf_release(&b);
	snprintf(l1, sizeof(l1), "pantherfs.instance=%s", inst);
	snprintf(l2, sizeof(l2), "pantherfs.test=%s", test);
	snprintf(l3, sizeof(l3), "pantherfs.run=%d", run);
	ck_assert_int_eq(docker_container_list(c, labels, true, &list, NULL), 0);
	n = (int)json_array_size(list);
	json_decref(list);
	docker_client_free(c);
	return n;
}

static const char pair[] =
	"services:\n"
	"  server:\n    timeout: 60\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n"
	"  client:\n    timeout: 60\n    implementation: {name: ngtcp2}\n    protocol: {role: client, target: server}\n"
	"    config: {download: 1M}\n";

/* ---- verdicts ---------------------------------------------------------------------------------- */

START_TEST(quic_run_succeeds)
{
	struct engine *e = eng("ok");
	struct pfs_err err = { 0 };
	char *st, *logs, *addr, *js;
	json_t *evs, *status;

	ck_assert_int_eq(engine_test_create(e, "ok", &err), 0);
	st = file(e, "ok", 0, NULL, "status");
	ck_assert_str_eq(st, "empty\n");
	free(st);
	apply(e, "ok", pair);
	st = wait_done(e, "ok", 0, 300);
	ck_assert_str_eq(st, "succeeded 1 client finished\n");
	free(st);
	logs = file(e, "ok", 0, "client", "logs");
	ck_assert_msg(strstr(logs, "1M: OK\n") != NULL, "%s", logs);
	free(logs);
	addr = file(e, "ok", 0, "server", "address");
	ck_assert_uint_gt(strlen(addr), 7);
	free(addr);
	logs_match(e, "ok", 0, "server");
	logs_match(e, "ok", 0, "client");
	js = file(e, "ok", 0, NULL, "status.json");
	status = json_loads(js, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(status, "state")), "succeeded");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(status, "services"),
									   "client"), "exit_code")), 0);
	json_decref(status);
	free(js);

	evs = events(e, "ok");
	/* the run's story, in order */
	{
		static const char *const order[] = { "test.created", "config.accepted", "run.started", "network.created",
						     "service.created", "service.started", "service.ready", "service.exited",
						     "run.succeeded" };
		size_t at = 0;
		json_t *ev;
		size_t i;

		json_array_foreach(evs, i, ev)
			if (at < PFS_ARRAY_SIZE(order) && !strcmp(json_string_value(json_object_get(ev, "type")), order[at]))
				at++;
		ck_assert_msg(at == PFS_ARRAY_SIZE(order), "events out of order: got to %s", at < PFS_ARRAY_SIZE(order) ? order[at] : "");
	}
	ck_assert_int_eq(count_type(evs, "service.ready", "server"), 1);
	ck_assert_int_eq(count_type(evs, "run.succeeded", NULL), 1);
	json_decref(evs);
	/* the run's files, frozen under runs/1 */
	st = file(e, "ok", 1, NULL, "status");
	ck_assert_str_eq(st, "succeeded 1 client finished\n");
	free(st);
	engine_free(e);
}
END_TEST

/*
 * No container ever runs a stand-in for a command. pantherfs once wrote
 * "# cannot render: ..." as the command of a service whose command could
 * not be made, and sh runs that comment with exit status 0: a run that
 * never ran its program could succeed. A run resumed from its state dir
 * makes the commands of the services not yet created from its config, and
 * never takes them from run.json.
 */
START_TEST(stand_in_command_never_runs)
{
	struct engine_opts o = { .data_dir = getenv("PFS_SOURCE_DIR"), .stop_grace_s = 2,
				 .docker_host = "unix:///nonexistent/pantherfs-no-engine.sock" };
	struct engine *e = NULL;
	struct pfs_err err = { 0 };
	char dir[256], path[512], *st, *cmd;
	json_t *run, *svcs;

	/* a run made while no engine answers: nothing of it exists in Docker yet */
	snprintf(dir, sizeof(dir), "%s/standin", root);
	o.state_dir = dir;
	ck_assert_msg(engine_new(&o, &e, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(engine_test_create(e, "standin", &err), 0);
	apply(e, "standin", pair);
	cmd = file(e, "standin", 0, "server", "command");
	ck_assert_msg(strstr(cmd, "/usr/sbin/gtlsserver") != NULL, "%s", cmd);
	free(cmd);
	engine_free(e);

	/* the stand-ins, where the resumed run reads its services */
	snprintf(path, sizeof(path), "%s/tests/standin/runs/1/run.json", dir);
	run = json_load_file(path, 0, NULL);
	ck_assert_ptr_nonnull(run);
	svcs = json_object_get(run, "services");
	ck_assert_int_eq(json_object_set_new(json_object_get(svcs, "server"), "command",
					     json_string("# cannot render: x")), 0);
	ck_assert_int_eq(json_object_set_new(json_object_get(svcs, "client"), "command",
					     json_string("# cannot render: y")), 0);
	ck_assert_int_eq(json_dump_file(run, path, JSON_INDENT(2)), 0);
	json_decref(run);

	/* the engine is back: the run goes on with the commands its config makes */
	e = eng("standin");
	st = wait_done(e, "standin", 0, 300);
	cmd = file(e, "standin", 0, "server", "command");
	ck_assert_msg(strstr(cmd, "/usr/sbin/gtlsserver") && !strstr(cmd, "cannot render"), "%s", cmd);
	free(cmd);
	cmd = file(e, "standin", 0, "client", "command");
	ck_assert_msg(strstr(cmd, "/usr/bin/gtlsclient") && !strstr(cmd, "cannot render"), "%s", cmd);
	free(cmd);
	ck_assert_str_eq(st, "succeeded 1 client finished\n");
	free(st);
	logs_match(e, "standin", 0, "server");
	engine_free(e);
}
END_TEST

static void expect_verdict(const char *name, const char *yaml, const char *want)
{
	struct engine *e = eng(name);
	struct pfs_err err = { 0 };
	char *st;

	ck_assert_int_eq(engine_test_create(e, name, &err), 0);
	apply(e, name, yaml);
	st = wait_done(e, name, 0, 300);
	ck_assert_str_eq(st, want);
	free(st);
	engine_free(e);
}

START_TEST(client_exiting_1_fails)
{
	expect_verdict("exit1",
		       "services:\n"
		       "  server: {timeout: 30, implementation: {name: ngtcp2}, protocol: {role: server}}\n"
		       "  client: {timeout: 30, implementation: {name: ngtcp2}, protocol: {role: client, target: server},\n"
		       "           config: {initial_rtt: garbage}}\n",
		       "failed client client exited 1\n");
}
END_TEST

/*
 * A prebuilt image the engine lacks is pulled; a registry that cannot be
 * reached (a closed port here: nothing leaves the machine) ends the run in
 * error with the daemon's reason and the way out, and build.log shows it.
 */
START_TEST(prebuilt_image_that_cannot_be_pulled_is_an_error)
{
	static const char want[] = "error image 127.0.0.1:9/pantherfs-test/absent:1 of server: cannot pull it: ";
	struct engine *e = eng("pull");
	struct pfs_err err = { 0 };
	json_t *evs;
	char *st, *log;

	ck_assert_int_eq(engine_test_create(e, "pull", &err), 0);
	apply(e, "pull",
	      "services:\n"
	      "  server: {timeout: 30, protocol: {role: server},\n"
	      "           implementation: {name: ngtcp2, docker_image: '127.0.0.1:9/pantherfs-test/absent:1',\n"
	      "                            build_from_source: false}}\n");
	st = wait_done(e, "pull", 0, 120);
	ck_assert_msg(!strncmp(st, want, sizeof(want) - 1), "%s", st);
	ck_assert_msg(strstr(st, "127.0.0.1:9") && strstr(st, "build_from_source: true"), "%s", st);
	evs = events(e, "pull");
	ck_assert_int_eq(count_type(evs, "image.pull_started", "server"), 1);
	ck_assert_int_eq(count_type(evs, "image.pull_failed", "server"), 1);
	ck_assert_int_eq(count_type(evs, "image.pulled", NULL), 0);
	ck_assert_int_eq(count_type(evs, "service.created", NULL), 0);
	json_decref(evs);
	log = file(e, "pull", 0, NULL, "build.log");
	ck_assert_msg(log && strstr(log, "pulling 127.0.0.1:9/pantherfs-test/absent:1\n") &&
			      strstr(log, "cannot pull 127.0.0.1:9/pantherfs-test/absent:1: "),
		      "%s", log ? log : "(no build.log)");
	free(log);
	ck_assert_int_eq(containers_of(e, "pull", 1), 0);
	free(st);
	engine_free(e);
}
END_TEST

/* ---- a registry of the suite's own ------------------------------------------------------------ */

/*
 * Debian's docker-registry serving on a free loopback port (the engine
 * trusts 127.0.0.0/8 without TLS), its storage under root/registry. Its pid
 * and the image it holds are written there first, so the teardown ends it
 * and untags the image even when a test failed midway.
 */
static int registry_start(pid_t *pid)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	char dir[300], cfg[1024], path[400], pidtxt[32];
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	port = ntohs(a.sin_port);
	close(fd);

	snprintf(dir, sizeof(dir), "%s/registry", root);
	ck_assert_int_eq(pfs_mkdir_p(dir, 0755), 0);
	snprintf(cfg, sizeof(cfg),
		 "version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: %s/data}}\n"
		 "http: {addr: '127.0.0.1:%d'}\n", dir, port);
	snprintf(path, sizeof(path), "%s/config.yml", dir);
	ck_assert_int_eq(pfs_write_file_atomic(path, cfg, strlen(cfg)), 0);
	*pid = fork();
	ck_assert_int_ge(*pid, 0);
	if (*pid == 0) {
		char logp[400];
		int lfd;

		snprintf(logp, sizeof(logp), "%s/log", dir);
		lfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (lfd >= 0) {
			dup2(lfd, 1);
			dup2(lfd, 2);
		}
		execlp("docker-registry", "docker-registry", "serve", path, (char *)NULL);
		_exit(127);
	}
	snprintf(pidtxt, sizeof(pidtxt), "%d", (int)*pid);
	snprintf(path, sizeof(path), "%s/pid", dir);
	ck_assert_int_eq(pfs_write_file_atomic(path, pidtxt, strlen(pidtxt)), 0);

	/* serving once it accepts connections; a registry that exits is a failure, with its log */
	for (int i = 0;; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0), st;
		bool up;

		a.sin_port = htons((uint16_t)port);
		up = connect(c, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(c);
		if (up)
			return port;
		if (waitpid(*pid, &st, WNOHANG) == *pid) {
			struct pfs_buf b = PFS_BUF_INIT(1u << 16);

			snprintf(path, sizeof(path), "%s/log", dir);
			pfs_read_file(path, &b);
			*pid = 0;
			ck_abort_msg("docker-registry exited (status %d; is it installed?): %s", st,
				     b.ptr ? b.ptr : "");
		}
		ck_assert_msg(i < 200, "docker-registry did not listen on 127.0.0.1:%d within 20 s", port);
		usleep(100000);
	}
}

/* Ends the registry (ours, by the pid written down) and untags what it served. */
static void registry_sweep(struct docker_client *c)
{
	struct pfs_buf b = PFS_BUF_INIT(4096);
	char path[400];
	long pid;

	snprintf(path, sizeof(path), "%s/registry/ref", root);
	if (pfs_read_file(path, &b) == 0 && b.len)
		docker_image_remove(c, pfs_buf_str(&b), true, NULL);
	pfs_buf_release(&b);
	b = (struct pfs_buf)PFS_BUF_INIT(64);
	snprintf(path, sizeof(path), "%s/registry/pid", root);
	if (pfs_read_file(path, &b) == 0 && pfs_parse_long(pfs_buf_str(&b), 2, 1L << 30, &pid) == 0 &&
	    kill((pid_t)pid, SIGTERM) == 0)
		waitpid((pid_t)pid, NULL, 0); /* ours only with CK_FORK=no; else init reaps it */
	pfs_buf_release(&b);
	unlink(path);
}

/*
 * The ngtcp2 image pantherfs builds, pushed to a registry of the suite's
 * own and untagged here: a service naming it with build_from_source: false
 * has it pulled (through the Engine API, the progress into build.log), and
 * the run exchanges real QUIC from it.
 */
START_TEST(prebuilt_image_is_pulled_and_runs)
{
	struct engine *e = eng("pulled");
	struct docker_client *c = client();
	struct pfs_err err = { 0 };
	char ref[160], yaml[1024], path[400], *st, *log, *logs;
	const char *built = NULL;
	json_t *evs, *ev;
	size_t i;
	pid_t pid;
	int port;

	/* the image pantherfs builds for ngtcp2 (cached after the first suite) */
	ck_assert_int_eq(engine_test_create(e, "src", &err), 0);
	apply(e, "src", "timeout: 1\nservices:\n  server: {implementation: {name: ngtcp2}, protocol: {role: server}}\n");
	st = wait_done(e, "src", 0, 600);
	ck_assert_str_eq(st, "succeeded servers ran their 1 s\n");
	free(st);
	evs = events(e, "src");
	json_array_foreach(evs, i, ev)
		if (!strcmp(json_string_value(json_object_get(ev, "type")), "image.cached") ||
		    !strcmp(json_string_value(json_object_get(ev, "type")), "image.build_completed"))
			built = json_string_value(json_object_get(json_object_get(ev, "data"), "image"));
	ck_assert_msg(built && !strncmp(built, "pantherfs/ngtcp2:", 17), "%s", built ? built : "(no image event)");

	port = registry_start(&pid);
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/pantherfs-test/ngtcp2:%s", port, strrchr(built, ':') + 1);
	snprintf(path, sizeof(path), "%s/registry/ref", root);
	ck_assert_int_eq(pfs_write_file_atomic(path, ref, strlen(ref)), 0);
	{
		const char *tag[] = { "docker", "tag", built, ref, NULL };
		const char *push[] = { "docker", "push", "-q", ref, NULL };

		ck_assert_int_eq(run_argv(tag), 0);
		ck_assert_int_eq(run_argv(push), 0);
	}
	json_decref(evs);
	ck_assert_msg(docker_image_remove(c, ref, false, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(docker_image_inspect(c, ref, NULL, NULL), -ENOENT);

	ck_assert_int_eq(engine_test_create(e, "pulled", &err), 0);
	snprintf(yaml, sizeof(yaml),
		 "services:\n"
		 "  server:\n    timeout: 60\n    protocol: {role: server}\n"
		 "    implementation: {name: ngtcp2, docker_image: '%s', build_from_source: false}\n"
		 "  client:\n    timeout: 60\n    protocol: {role: client, target: server}\n"
		 "    implementation: {name: ngtcp2, docker_image: '%s', build_from_source: false}\n"
		 "    config: {download: 1M}\n",
		 ref, ref);
	apply(e, "pulled", yaml);
	st = wait_done(e, "pulled", 0, 300);
	ck_assert_str_eq(st, "succeeded 1 client finished\n");
	free(st);
	logs = file(e, "pulled", 0, "client", "logs");
	ck_assert_msg(strstr(logs, "1M: OK\n") != NULL, "%s", logs);
	free(logs);
	st = file(e, "pulled", 0, "server", "image");
	ck_assert_msg(!strncmp(st, ref, strlen(ref)), "%s", st);
	free(st);

	/* pulled once, for the first service that runs it; both share it */
	evs = events(e, "pulled");
	ck_assert_int_eq(count_type(evs, "image.pull_started", "server"), 1);
	ck_assert_int_eq(count_type(evs, "image.pulled", "server"), 1);
	ck_assert_int_eq(count_type(evs, "image.pull_started", NULL), 1);
	ck_assert_int_eq(count_type(evs, "image.pull_failed", NULL), 0);
	json_decref(evs);
	log = file(e, "pulled", 0, NULL, "build.log");
	snprintf(path, sizeof(path), "Status: Downloaded newer image for %s\n", ref);
	ck_assert_msg(strstr(log, "pulling 127.0.0.1:") && strstr(log, path), "%s", log);
	free(log);
	ck_assert_int_eq(docker_image_inspect(c, ref, NULL, NULL), 0);

	ck_assert_int_eq(engine_test_remove(e, "pulled", &err), 0);
	ck_assert_int_eq(engine_test_remove(e, "src", &err), 0);
	registry_sweep(c);
	ck_assert_int_eq(docker_image_inspect(c, ref, NULL, NULL), -ENOENT);
	docker_client_free(c);
	engine_free(e);
}
END_TEST

START_TEST(server_dying_before_ready_fails)
{
	/* generate_new_certificates: false: the named files are the image's,
	 * which has none (else the run's pair is mounted there) */
	expect_verdict("early",
		       "services:\n"
		       "  server: {timeout: 30, implementation: {name: ngtcp2}, protocol: {role: server},\n"
		       "           generate_new_certificates: false,\n"
		       "           config: {certificate_file: /nonexistent/cert.pem, private_key_file: /nonexistent/key.pem}}\n"
		       "  client: {timeout: 30, implementation: {name: ngtcp2}, protocol: {role: client, target: server}}\n",
		       "failed server server exited 1 before it answered QUIC\n");
}
END_TEST

/*
 * The certificate files a server's config names: the run's generated pair,
 * mounted there (the image has no /certs), so the server starts and the
 * client connects; server_dying_before_ready_fails is the same without it.
 */
START_TEST(named_certificate_files_get_the_runs_pair)
{
	struct engine *e = eng("named");
	struct pfs_err err = { 0 };
	char *st, *cmd;

	ck_assert_int_eq(engine_test_create(e, "named", &err), 0);
	apply(e, "named",
	      "services:\n"
	      "  server: {timeout: 30, implementation: {name: ngtcp2}, protocol: {role: server},\n"
	      "           config: {certificate_file: /certs/test-cert.pem, private_key_file: /certs/test-key.pem}}\n"
	      "  client: {timeout: 30, implementation: {name: ngtcp2}, protocol: {role: client, target: server}}\n");
	st = wait_done(e, "named", 0, 300);
	ck_assert_str_eq(st, "succeeded 1 client finished\n");
	cmd = file(e, "named", 0, "server", "command");
	ck_assert_msg(strstr(cmd, " /certs/test-key.pem /certs/test-cert.pem"), "%s", cmd);
	free(cmd);
	free(st);
	engine_free(e);
}
END_TEST

START_TEST(server_dying_mid_run_fails)
{
	struct engine *e = eng("dies");
	struct docker_client *c = client();
	struct pfs_err err = { 0 };
	char *id, *st;
	json_t *evs;

	ck_assert_int_eq(engine_test_create(e, "dies", &err), 0);
	apply(e, "dies", "services:\n  server: {timeout: 120, implementation: {name: ngtcp2}, protocol: {role: server}}\n");
	wait_state(e, "dies", "running", 300);
	id = file(e, "dies", 0, "server", "container");
	id[strcspn(id, "\n")] = '\0';
	/* a crash, as far as the orchestrator can tell */
	ck_assert_int_eq(docker_container_kill(c, id, "SIGKILL", &err), 0);
	st = wait_done(e, "dies", 0, 60);
	ck_assert_str_eq(st, "failed server server exited 137\n");
	evs = events(e, "dies");
	ck_assert_int_eq(count_type(evs, "service.exited", "server"), 1);
	json_decref(evs);
	free(st);
	free(id);
	docker_client_free(c);
	engine_free(e);
}
END_TEST

START_TEST(client_hanging_is_stopped_at_timeout)
{
	struct engine *e = eng("hang");
	struct pfs_err err = { 0 };
	char *st, *cst;

	ck_assert_int_eq(engine_test_create(e, "hang", &err), 0);
	/* the client drops every packet it receives: it never finishes */
	apply(e, "hang",
	      "timeout: 6\n"
	      "services:\n"
	      "  server: {implementation: {name: ngtcp2}, protocol: {role: server}}\n"
	      "  client: {implementation: {name: ngtcp2}, protocol: {role: client, target: server},\n"
	      "           config: {rx-loss: 1.0}}\n");
	st = wait_done(e, "hang", 0, 300);
	ck_assert_str_eq(st, "failed timeout after 6 s\n");
	cst = file(e, "hang", 0, "client", "status");
	ck_assert_str_eq(cst, "stopped\n");
	free(cst);
	free(st);
	engine_free(e);
}
END_TEST

START_TEST(server_only_soak_succeeds)
{
	expect_verdict("soak", "timeout: 3\nservices:\n  server: {implementation: {name: ngtcp2}, protocol: {role: server}}\n",
		       "succeeded servers ran their 3 s\n");
}
END_TEST

START_TEST(execution_environment_wraps_and_writes_results)
{
	struct engine *e = eng("traced");
	struct pfs_err err = { 0 };
	struct pfs_buf b = PFS_BUF_INIT(256u << 20);
	char *st, *cmd, path[512];

	ck_assert_int_eq(engine_test_create(e, "traced", &err), 0);
	apply(e, "traced", "execution_environment: [{type: strace}]\n"
			   "services:\n"
			   "  server: {timeout: 60, implementation: {name: ngtcp2}, protocol: {role: server}}\n"
			   "  client: {timeout: 60, implementation: {name: ngtcp2}, protocol: {role: client, target: server},\n"
			   "           config: {download: 1K}}\n");
	st = wait_done(e, "traced", 0, 300);
	ck_assert_str_eq(st, "succeeded 1 client finished\n");
	free(st);
	cmd = file(e, "traced", 0, "server", "command");
	ck_assert_msg(!strncmp(cmd, "strace -f -tt -o /pantherfs/results/strace.txt /usr/sbin/gtlsserver ", 68), "%s", cmd);
	free(cmd);
	/* the wrapper wrote into the service's results dir, on the host */
	snprintf(path, sizeof(path), "%s/traced/tests/traced/runs/1/services/server/results/strace.txt", root);
	ck_assert_int_eq(pfs_read_file(path, &b), 0);
	ck_assert_msg(strstr(pfs_buf_str(&b), "recvmsg(") || strstr(pfs_buf_str(&b), "recvfrom("), "no socket reads traced");
	pfs_buf_release(&b);

	/* under gdb: the programs' own exit statuses come through (the client's 0) */
	ck_assert_int_eq(engine_test_create(e, "debugged", &err), 0);
	apply(e, "debugged", "execution_environment: [{type: gdb}]\n"
			     "services:\n"
			     "  server: {timeout: 60, implementation: {name: ngtcp2}, protocol: {role: server}}\n"
			     "  client: {timeout: 60, implementation: {name: ngtcp2}, protocol: {role: client, target: server},\n"
			     "           config: {download: 1K}}\n");
	st = wait_done(e, "debugged", 0, 300);
	ck_assert_str_eq(st, "succeeded 1 client finished\n");
	free(st);
	cmd = file(e, "debugged", 0, "client", "logs");
	ck_assert_msg(strstr(cmd, "1K: OK"), "%s", cmd);
	free(cmd);
	engine_free(e);
}
END_TEST

/* ---- changing a live test ------------------------------------------------------------------------- */

START_TEST(new_config_stops_and_archives)
{
	struct engine *e = eng("swap");
	struct pfs_err err = { 0 };
	static const char bad[] = "services: {s: {implementation: {name: ngtcp2}, protocol: {role: peer}}}\n";
	struct cfg_report rep;
	char *st, *cfg1;
	size_t nruns;
	int *runs;
	json_t *evs;

	ck_assert_int_eq(engine_test_create(e, "swap", &err), 0);
	apply(e, "swap", "services:\n  server: {timeout: 120, implementation: {name: ngtcp2}, protocol: {role: server}}\n");
	wait_state(e, "swap", "running", 300);
	/* a bad config changes nothing: the run goes on, error says why */
	ck_assert_int_eq(engine_test_apply_config(e, "swap", bad, strlen(bad), &rep), -EINVAL);
	cfg_report_release(&rep);
	ck_assert(engine_run_live(e, "swap", 1));
	st = file(e, "swap", 0, NULL, "error");
	ck_assert_msg(strstr(st, "config.yaml:1:65: services.s.protocol.role: \"peer\": must be server or client\n"), "%s", st);
	free(st);
	/* a good one stops run 1 and starts run 2 */
	apply(e, "swap", pair);
	st = wait_done(e, "swap", 1, 60);
	ck_assert_str_eq(st, "stopped stopped\n");
	free(st);
	cfg1 = file(e, "swap", 1, NULL, "config.yaml");
	ck_assert_ptr_nonnull(strstr(cfg1, "timeout: 120"));
	free(cfg1);
	st = wait_done(e, "swap", 2, 300);
	ck_assert_str_eq(st, "succeeded 1 client finished\n");
	free(st);
	/* run 1's containers went when run 2 started; run 2's stay for inspection */
	ck_assert_int_eq(containers_of(e, "swap", 1), 0);
	ck_assert_int_eq(containers_of(e, "swap", 2), 2);
	runs = engine_run_numbers(e, "swap", &nruns);
	ck_assert_uint_eq(nruns, 2);
	ck_assert_int_eq(runs[0], 1);
	ck_assert_int_eq(runs[1], 2);
	free(runs);
	evs = events(e, "swap");
	ck_assert_int_eq(count_type(evs, "config.rejected", NULL), 1);
	ck_assert_int_eq(count_type(evs, "run.stopped", NULL), 1);
	ck_assert_int_eq(count_type(evs, "run.succeeded", NULL), 1);
	json_decref(evs);
	engine_free(e);
}
END_TEST

START_TEST(ctl_verbs_and_removal)
{
	struct engine *e = eng("ctl");
	struct pfs_err err = { 0 };
	char *st;

	ck_assert_int_eq(engine_test_create(e, "ctl", &err), 0);
	ck_assert_int_eq(engine_test_create(e, "ctl", &err), -EEXIST);
	ck_assert_int_eq(engine_test_create(e, "bad name", &err), -EINVAL);
	ck_assert_int_eq(engine_test_ctl(e, "ctl", "start", &err), -ENOEXEC);
	ck_assert_int_eq(engine_test_ctl(e, "ctl", "frobnicate", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "unknown verb \"frobnicate\" (start, stop, restart, rebuild, kill)");
	ck_assert_int_eq(engine_test_ctl(e, "ctl", "stop", &err), 0); /* nothing to stop: fine */
	apply(e, "ctl", "services:\n  server: {timeout: 120, implementation: {name: ngtcp2}, protocol: {role: server}}\n");
	wait_state(e, "ctl", "running", 300);
	ck_assert_int_eq(engine_test_remove(e, "ctl", &err), -EBUSY);
	ck_assert_int_eq(engine_test_ctl(e, "ctl", "stop", &err), 0);
	st = wait_done(e, "ctl", 1, 60);
	ck_assert_str_eq(st, "stopped stopped\n");
	free(st);
	ck_assert_int_eq(engine_test_ctl(e, "ctl", "stop", &err), 0); /* stopped: a no-op */
	ck_assert_int_eq(engine_test_ctl(e, "ctl", "restart", &err), 0);
	wait_state(e, "ctl", "running", 300);
	ck_assert_int_eq(engine_test_ctl(e, "ctl", "kill", &err), 0);
	st = wait_done(e, "ctl", 2, 60);
	ck_assert_str_eq(st, "stopped killed\n");
	free(st);
	ck_assert_int_eq(containers_of(e, "ctl", 2), 1);
	ck_assert_int_eq(engine_test_remove(e, "ctl", &err), 0);
	ck_assert_int_eq(engine_test_remove(e, "ctl", &err), -ENOENT);
	/* the containers go with the test (the monitor sweeps them) */
	for (int i = 0; i < 100 && containers_of(e, "ctl", 0); i++)
		usleep(100000);
	ck_assert_int_eq(containers_of(e, "ctl", 0), 0);
	engine_free(e);
}
END_TEST

/* ---- many at once -------------------------------------------------------------------------------- */

START_TEST(twenty_tests_at_once)
{
	struct engine *e = eng("twenty");
	struct pfs_err err = { 0 };
	char name[32];

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "t%02d", i);
		ck_assert_int_eq(engine_test_create(e, name, &err), 0);
		apply(e, name, pair);
	}
	for (int i = 0; i < 20; i++) {
		char *st;

		snprintf(name, sizeof(name), "t%02d", i);
		st = wait_done(e, name, 0, 600);
		ck_assert_msg(!strcmp(st, "succeeded 1 client finished\n"), "%s: %s", name, st);
		free(st);
	}
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "t%02d", i);
		ck_assert_int_eq(engine_test_remove(e, name, &err), 0);
	}
	engine_free(e);
}
END_TEST

/* ---- cleanup -------------------------------------------------------------------------------------- */

static void sweep(void)
{
	struct docker_client *c = NULL;
	struct dirent *de;
	DIR *d = opendir(root);

	if (!d || !(c = itest_client(60000))) {
		if (d)
			closedir(d);
		return;
	}
	while ((de = readdir(d))) {
		char dir[512], id[17];

		snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
		if (de->d_name[0] == '.' || itest_instance_id(dir, id) < 0)
			continue;
		itest_sweep_instance(c, id);
	}
	closedir(d);
	docker_client_free(c);
}

static void teardown(void)
{
	struct docker_client *c = itest_client(60000);

	if (c) {
		registry_sweep(c);
		docker_client_free(c);
	}
	sweep();
	pfs_rm_rf(root);
}

START_TEST(nothing_left_behind)
{
	struct docker_client *c = client();
	int mine = 0;

	/* what the tests above made, by their instances (other suites may be running) */
	sweep();
	{
		struct dirent *de;
		DIR *d = opendir(root);

		while (d && (de = readdir(d))) {
			char dir[512], id[17], label[64];
			const char *l2[] = { label, NULL };
			json_t *cl = NULL, *nl = NULL;

			snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
			if (de->d_name[0] == '.' || itest_instance_id(dir, id) < 0)
				continue;
			snprintf(label, sizeof(label), "pantherfs.instance=%s", id);
			ck_assert_int_eq(docker_container_list(c, l2, true, &cl, NULL), 0);
			ck_assert_int_eq(docker_network_list(c, l2, &nl, NULL), 0);
			mine += (int)json_array_size(cl) + (int)json_array_size(nl);
			json_decref(cl);
			json_decref(nl);
		}
		if (d)
			closedir(d);
	}
	ck_assert_int_eq(mine, 0);
	docker_client_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("engine");
	TCase *t = tcase_create("engine");

	tcase_set_timeout(t, 900);
	tcase_add_unchecked_fixture(t, NULL, teardown);
	tcase_add_test(t, quic_run_succeeds);
	tcase_add_test(t, client_exiting_1_fails);
	tcase_add_test(t, stand_in_command_never_runs);
	tcase_add_test(t, prebuilt_image_that_cannot_be_pulled_is_an_error);
	tcase_add_test(t, prebuilt_image_is_pulled_and_runs);
	tcase_add_test(t, server_dying_before_ready_fails);
	tcase_add_test(t, named_certificate_files_get_the_runs_pair);
	tcase_add_test(t, server_dying_mid_run_fails);
	tcase_add_test(t, client_hanging_is_stopped_at_timeout);
	tcase_add_test(t, server_only_soak_succeeds);
	tcase_add_test(t, execution_environment_wraps_and_writes_results);
	tcase_add_test(t, new_config_stops_and_archives);
	tcase_add_test(t, ctl_verbs_and_removal);
	tcase_add_test(t, twenty_tests_at_once);
	tcase_add_test(t, nothing_left_behind);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	int r;

	if (!mkdtemp(root))
		return 1;
	r = itest_docker_or_skip();
	if (r)
		return r;
	return pfs_check_run(suite());
}
