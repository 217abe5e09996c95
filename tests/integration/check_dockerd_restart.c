/* SPDX-License-Identifier: MIT */
/*
 * The Docker engine stopped and started again while a run is live: the
 * engine (hosted by tests/support/engine-host) must notice (an
 * engine.disconnected event), reconnect (engine.connected) and end the run
 * correctly. A server-only soak of 25 s runs on ngtcp2; dockerd, started by
 * tests/prepare-docker-engine.sh with --live-restore (its pid in
 * /run/pantherfs-dockerd.pid, its argv one per line in
 * /run/pantherfs-dockerd.cmd), is stopped with SIGTERM mid-soak (the
 * containers live on), then started again the same way (setsid, output
 * appended to /var/log/pantherfs-dockerd.log, the new pid written back). The
 * run must succeed "servers ran their 25 s", its events be whole JSON lines
 * numbered without gap, its server never lost, its log equal to Docker's.
 *
 * It stops the engine every other suite uses: meson runs it alone
 * (is_parallel : false). An unchecked teardown, run by the parent even when
 * the case's child failed, starts dockerd again if nothing answers, kills the
 * host if it lives, removes what carries the state dir's
 * pantherfs.instance label and deletes the state dir; the last case asserts
 * nothing is left.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pfs_check.h"
#include "itest.h"
#include "recovery.h"
#include "pantherfs/docker.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define TEST STATE_TEST
#define POLL_US 5000
#define DOCKERD_PID "/run/pantherfs-dockerd.pid"
#define DOCKERD_CMD "/run/pantherfs-dockerd.cmd"
#define DOCKERD_LOG "/var/log/pantherfs-dockerd.log"
#define PREPARE_HINT "run tests/prepare-docker-engine.sh first: it starts dockerd with --live-restore and " \
		     "records its pid in " DOCKERD_PID " and its command line in " DOCKERD_CMD
#define SOAK_S 25

static char root[PATH_MAX];
static const char *host_exe, *src_dir;
static char instances[8][17];
static int n_instances;

/* ---- small things ------------------------------------------------------------------------ */

/* While dockerd may be down: a connection is given up after 2 s. */
static struct docker_client *client(long timeout_ms)
{
	return itest_client_connect(timeout_ms, 2000);
}

static bool engine_answers(void)
{
	struct docker_client *c = client(3000);
	bool ok = c && docker_ping(c, NULL, NULL) == 0;

	docker_client_free(c);
	return ok;
}

/* Kills (kill_them) or counts the recorded hosts still alive (the leftover check quotes this name). */
static int recorded_hosts(bool kill_them)
{
	return hosts_alive(root, kill_them);
}

/* ---- dockerd ------------------------------------------------------------------------------- */

/* The argv prepare-docker-engine.sh started dockerd with (NULL-terminated), or NULL. */
static char **dockerd_argv(void)
{
	struct pfs_buf b = PFS_BUF_INIT(65536);
	char **v = NULL, *save = NULL;
	size_t n = 0;

	if (pfs_read_file(DOCKERD_CMD, &b) < 0 || !b.len) {
		pfs_buf_release(&b);
		return NULL;
	}
	v = calloc(b.len + 2, sizeof(*v));
	for (char *l = strtok_r(b.ptr, "\n", &save); v && l; l = strtok_r(NULL, "\n", &save))
		v[n++] = strdup(l);
	pfs_buf_release(&b);
	if (v && !n) {
		free(v);
		v = NULL;
	}
	return v;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static pid_t dockerd_pid(void)
{
	struct pfs_buf b = PFS_BUF_INIT(64);
	long pid = 0;

	if (pfs_read_file(DOCKERD_PID, &b) == 0 && b.len) {
		b.ptr[strcspn(b.ptr, "\n")] = '\0';
		if (pfs_parse_long(b.ptr, 2, INT_MAX, &pid) < 0)
			pid = 0;
	}
	pfs_buf_release(&b);
	return (pid_t)pid;
}

/* /proc/<pid>/cmdline's first word ends with "dockerd". */
static bool is_dockerd(pid_t pid)
{
	char path[64], buf[512];
	ssize_t k;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	k = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (k <= 0)
		return false;
	buf[k] = '\0';
	k = (ssize_t)strlen(buf);
	return k >= 7 && !strcmp(buf + k - 7, "dockerd") && proc_start(pid) != 0;
}

/* setsid, output appended to the log, the pid written back. Returns the pid or -errno. */
static pid_t dockerd_spawn(char **argv)
{
	char tmp[] = DOCKERD_PID ".tmp", line[32];
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int out = open(DOCKERD_LOG, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int in = open("/dev/null", O_RDONLY);

		setsid();
		if (out < 0 || in < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		/* nothing of ours (meson's pipes, the host's) outlives us in dockerd */
		if (close_range(3, ~0U, 0) < 0)
			for (int f = 3; f < 65536; f++)
				close(f);
		execvp(argv[0], argv);
		_exit(127);
	}
	snprintf(line, sizeof(line), "%ld\n", (long)pid);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		pfs_write_all(fd, line, strlen(line));
		close(fd);
		rename(tmp, DOCKERD_PID);
	}
	return pid;
}

/* Starts dockerd and waits (up to secs) until it answers; 0, or -1 with why. */
static int dockerd_start(char **argv, int secs, char *why, size_t n)
{
	uint64_t until = pfs_now_ms() + (uint64_t)secs * 1000;
	pid_t pid = dockerd_spawn(argv);
	int st;

	if (pid < 0)
		return snprintf(why, n, "cannot fork: %s", strerror(-pid)), -1;
	while (!engine_answers()) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return snprintf(why, n, "dockerd (pid %ld) exited with status 0x%x; see " DOCKERD_LOG, (long)pid, st),
			       -1;
		if (pfs_now_ms() >= until)
			return snprintf(why, n, "dockerd (pid %ld) did not answer within %d s; see " DOCKERD_LOG, (long)pid,
					secs),
			       -1;
		usleep(100000);
	}
	return 0;
}

/* ---- the state dir (tests/support/recovery.h) ------------------------------------------------ */

/* Polls until run.json has `state` (NULL: any) and an event of `type` (of svc) exists. */
static void wait_for(const char *state, const char *st, const char *type, const char *svc, int secs)
{
	uint64_t until = pfs_now_ms() + (uint64_t)secs * 1000;
	char now[1024];

	for (;;) {
		json_t *j = run_json(state), *evs = events_loose(state);
		bool ok = (!st || !strcmp(json_string_value(json_object_get(j, "state")) ?: "", st)) &&
			  (!type || find_event(evs, type, svc, 0));

		json_decref(j);
		json_decref(evs);
		if (ok)
			return;
		if (pfs_now_ms() >= until) {
			run_where(state, now, sizeof(now));
			ck_abort_msg("waited %d s for run.json \"%s\" and a %s event; %s", secs, st ? st : "(any)",
				     type ? type : "(any)", now);
		}
		usleep(POLL_US);
	}
}

static void logs_match(const char *state, const char *svc)
{
	struct docker_client *c = client(120000);
	struct pfs_buf diff = PFS_BUF_INIT(1u << 16);

	ck_assert_ptr_nonnull(c);
	ck_assert_msg(!logs_differ(c, state, svc, &diff, NULL), "%s", pfs_buf_str(&diff));
	pfs_buf_release(&diff);
	docker_client_free(c);
}

/* ---- fixture ------------------------------------------------------------------------------- */

/* Parent, after the case: dockerd back if the case left it down, then the usual sweep. */
static void teardown(void)
{
	struct docker_client *c;

	recorded_hosts(true);
	if (!engine_answers()) {
		char **argv = dockerd_argv(), why[512];

		if (argv && dockerd_start(argv, 90, why, sizeof(why)) < 0)
			fprintf(stderr, "teardown: cannot start dockerd again: %s\n", why);
		strv_free(argv);
	}
	c = client(120000);
	sweep_state_dirs(c, root, NULL, NULL, instances, (int)PFS_ARRAY_SIZE(instances), &n_instances);
	docker_client_free(c);
}

/* ---- the case --------------------------------------------------------------------------------- */

START_TEST(dockerd_restart_mid_run)
{
	static const char soak[] = "services:\n"
				   "  server:\n"
				   "    timeout: 25\n"
				   "    implementation: {name: ngtcp2}\n"
				   "    protocol: {role: server}\n";
	char **argv = dockerd_argv(), state[PATH_MAX], cfg[PATH_MAX + 32], ans[1024], id[128], id_after[128], why[512];
	pid_t old = dockerd_pid();
	uint64_t until, t_term, t_down, t_up, t_noticed, t_over;
	struct host h;
	json_t *evs, *j, *disc, *conn;
	long long deadline_ms, wall_up;

	ck_assert_msg(argv != NULL, DOCKERD_CMD " is missing or empty: " PREPARE_HINT);
	ck_assert_msg(old > 0, DOCKERD_PID " is missing or empty: " PREPARE_HINT);
	ck_assert_msg(is_dockerd(old), "pid %ld of " DOCKERD_PID " is not a running dockerd: " PREPARE_HINT, (long)old);
	ck_assert_msg(engine_answers(), "no Docker engine answers before the test");

	/* a live soak, its server ready */
	snprintf(state, sizeof(state), "%s/soak", root);
	snprintf(cfg, sizeof(cfg), "%s/soak.yaml", root);
	ck_assert_int_eq(pfs_write_file_atomic(cfg, soak, strlen(soak)), 0);
	host_start(&h, host_exe, root, state, src_dir);
	host_cmd(&h, 60, ans, sizeof(ans), "create %s", TEST);
	ck_assert_str_eq(ans, "ok");
	host_cmd(&h, 60, ans, sizeof(ans), "apply %s %s", TEST, cfg);
	ck_assert_str_eq(ans, "ok");
	wait_for(state, "running", "service.ready", "server", 120);
	run_svc_str(state, "server", "container", id, sizeof(id));
	ck_assert_msg(id[0], "run.json has no server container");

	/* dockerd stops: the pid goes, the socket stops answering, the engine notices */
	t_term = pfs_now_ms();
	ck_assert_int_eq(kill(old, SIGTERM), 0);
	until = pfs_now_ms() + 60000;
	while (proc_start(old) != 0) {
		ck_assert_msg(pfs_now_ms() < until, "dockerd (pid %ld) still runs 60 s after SIGTERM", (long)old);
		usleep(20000);
	}
	until = pfs_now_ms() + 30000;
	while (engine_answers()) {
		ck_assert_msg(pfs_now_ms() < until, "the socket still answers 30 s after dockerd exited");
		usleep(20000);
	}
	t_down = pfs_now_ms();
	wait_for(state, NULL, "engine.disconnected", NULL, 30);
	t_noticed = pfs_now_ms();
	/* status says why nothing moves */
	host_cmd(&h, 30, ans, sizeof(ans), "status %s", TEST);
	ck_assert_msg(strstr(ans, "status running") == ans && strstr(ans, "(waiting for the Docker engine)"),
		      "status while dockerd is down: %s", ans);

	/* and starts again the same way */
	ck_assert_msg(dockerd_start(argv, 90, why, sizeof(why)) == 0, "%s", why);
	t_up = pfs_now_ms();
	strv_free(argv);

	host_cmd(&h, 180, ans, sizeof(ans), "wait %s %d", TEST, 150);
	t_over = pfs_now_ms();
	j = run_json(state);
	deadline_ms = (long long)json_integer_value(json_object_get(j, "deadline_ms"));
	json_decref(j);
	wall_up = (long long)pfs_wall_ms() - (long long)(pfs_now_ms() - t_up);
	ck_assert_msg(!strcmp(ans, "done succeeded servers ran their 25 s"),
		      "after the dockerd restart (down %.1f s, answering again %lld ms before the run's deadline): %s",
		      (double)(t_up - t_down) / 1000, deadline_ms - wall_up, ans);
	host_quit(&h);
	fprintf(stderr,
		"dockerd_restart: dockerd gone %.1f s after SIGTERM, engine.disconnected seen %.1f s after that, "
		"dockerd answering again %.1f s after it went, run over %.1f s later (%lld ms after its deadline)\n",
		(double)(t_down - t_term) / 1000, (double)(t_noticed - t_down) / 1000, (double)(t_up - t_down) / 1000,
		(double)(t_over - t_up) / 1000, (long long)pfs_wall_ms() - (long long)(pfs_now_ms() - t_over) - deadline_ms);

	/* events: whole, numbered, disconnected then connected, no resume, no loss */
	evs = events_strict(state, false);
	disc = find_event(evs, "engine.disconnected", NULL, 0);
	ck_assert_ptr_nonnull(disc);
	conn = find_event(evs, "engine.connected", NULL, ev_seq(disc));
	ck_assert_msg(conn != NULL, "no engine.connected after engine.disconnected (seq %lld)", (long long)ev_seq(disc));
	ck_assert_int_eq(count_events(evs, "run.resumed", NULL), 0);
	ck_assert_int_eq(count_events(evs, "service.lost", NULL), 0);
	ck_assert_int_eq(count_events(evs, "service.created", "server"), 1);
	ck_assert_int_eq(count_events(evs, "service.exited", "server"), 1);
	ck_assert_int_eq(count_events(evs, "run.succeeded", NULL), 1);
	ck_assert_int_eq(count_events(evs, "run.failed", NULL), 0);
	ck_assert_msg(ev_seq(find_event(evs, "run.succeeded", NULL, 0)) > ev_seq(conn),
		      "the verdict came before the engine was back");
	json_decref(evs);

	/* the same container all along (live-restore), its log whole */
	j = run_json(state);
	ck_assert_str_eq(json_string_value(json_object_get(j, "state")) ?: "", "succeeded");
	json_decref(j);
	run_svc_str(state, "server", "container", id_after, sizeof(id_after));
	ck_assert_str_eq(id_after, id);
	logs_match(state, "server");
}
END_TEST

START_TEST(nothing_left)
{
	struct docker_client *c = client(60000);

	ck_assert_msg(engine_answers(), "no Docker engine answers after the test");
	ck_assert_ptr_nonnull(c);
	assert_instances_gone(c, instances, n_instances);
	ck_assert_int_eq(recorded_hosts(false), 0);
	assert_no_state_dir(root);
	docker_client_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dockerd_restart");
	TCase *t = tcase_create("dockerd_restart");

	tcase_set_timeout(t, 600);
	tcase_add_unchecked_fixture(t, NULL, teardown);
	tcase_add_test(t, dockerd_restart_mid_run);
	suite_add_tcase(s, t);
	t = tcase_create("leftovers");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, nothing_left);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	int r;

	r = recovery_main_init(&host_exe, &src_dir, root, sizeof(root), "/tmp/pfs-dockerd-XXXXXX");
	if (r)
		return r;
	r = pfs_check_run(suite());
	recorded_hosts(true);
	pfs_rm_rf(root);
	return r;
}
