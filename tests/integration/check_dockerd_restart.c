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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pfs_check.h"
#include "pantherfs/docker.h"
#include "pantherfs/util.h"

#define TEST "t"
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

static struct docker_client *client(long timeout_ms)
{
	struct docker_client_opts o = { .timeout_ms = timeout_ms, .connect_timeout_ms = 2000 };
	struct docker_client *c = NULL;

	if (docker_client_new(&o, &c, NULL) < 0)
		return NULL;
	return c;
}

static bool engine_answers(void)
{
	struct docker_client *c = client(3000);
	bool ok = c && docker_ping(c, NULL, NULL) == 0;

	docker_client_free(c);
	return ok;
}

/* Field 22 of /proc/<pid>/stat, 0 when the process is gone (or a zombie). */
static unsigned long long proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z')
		return 0;
	p += 2;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		start = strtoull(p, NULL, 10);
	return start;
}

static void record_pid(pid_t pid)
{
	char path[PATH_MAX + 16], line[64];
	int fd;

	snprintf(path, sizeof(path), "%s/pids", root);
	snprintf(line, sizeof(line), "%ld %llu\n", (long)pid, proc_start(pid));
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		pfs_write_all(fd, line, strlen(line));
		close(fd);
	}
}

/* Kills (alive > 0) or counts (alive == 0) the recorded hosts still alive. */
static int recorded_hosts(bool kill_them)
{
	char path[PATH_MAX + 16];
	long pid;
	unsigned long long start;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/pids", root);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fscanf(f, "%ld %llu", &pid, &start) == 2) {
		if (pid <= 1 || !start || proc_start((pid_t)pid) != start)
			continue;
		n++;
		if (kill_them) {
			kill((pid_t)pid, SIGKILL);
			waitpid((pid_t)pid, NULL, 0);
		}
	}
	fclose(f);
	return n;
}

/* ---- dockerd ------------------------------------------------------------------------------- */

/* The argv prepare-docker-engine.sh started dockerd with (NULL-terminated), or NULL. */
static char **dockerd_argv(void)
{
	struct pfs_buf b = PFS_BUF_INIT(65536);
	char **v = NULL, *save = NULL;
	size_t n = 0;

	if (pfs_read_file(DOCKERD_CMD, &b) < 0 || !b.len) {
		pfs_buf_free(&b);
		return NULL;
	}
	v = calloc(b.len + 2, sizeof(*v));
	for (char *l = strtok_r(b.ptr, "\n", &save); v && l; l = strtok_r(NULL, "\n", &save))
		v[n++] = strdup(l);
	pfs_buf_free(&b);
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
	pfs_buf_free(&b);
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

/* ---- the host process (as in check_recovery.c) ------------------------------------------- */

struct host {
	pid_t pid;
	int in, out;
	char buf[16384];
	size_t len;
	char last[256];
};

static void host_line(struct host *h, int secs, char *out, size_t n)
{
	uint64_t until = pfs_now_ms() + (uint64_t)secs * 1000;

	for (;;) {
		char *nl = memchr(h->buf, '\n', h->len);
		struct pollfd p = { .fd = h->out, .events = POLLIN };
		uint64_t now = pfs_now_ms();
		ssize_t k;
		int r;

		if (nl) {
			size_t l = (size_t)(nl - h->buf);

			snprintf(out, n, "%.*s", (int)l, h->buf);
			memmove(h->buf, nl + 1, h->len - l - 1);
			h->len -= l + 1;
			return;
		}
		ck_assert_msg(now < until, "engine-host (pid %ld) did not answer \"%s\" within %d s", (long)h->pid,
			      h->last, secs);
		r = poll(&p, 1, (int)(until - now));
		if (r < 0 && errno == EINTR)
			continue;
		ck_assert_msg(r >= 0, "poll: %s", strerror(errno));
		if (r == 0)
			continue;
		ck_assert_msg(h->len < sizeof(h->buf) - 1, "engine-host: a line longer than %zu bytes", sizeof(h->buf));
		k = read(h->out, h->buf + h->len, sizeof(h->buf) - 1 - h->len);
		if (k < 0 && errno == EINTR)
			continue;
		ck_assert_msg(k > 0, "engine-host (pid %ld) closed its output while we waited for \"%s\": it exited",
			      (long)h->pid, h->last);
		h->len += (size_t)k;
	}
}

static void host_start(struct host *h, const char *state, const char *data)
{
	int in[2], out[2];
	char line[256];

	memset(h, 0, sizeof(*h));
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	h->pid = fork();
	ck_assert_int_ge(h->pid, 0);
	if (h->pid == 0) {
		static const char msg[] = "cannot exec engine-host\n";

		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(host_exe, host_exe, state, data, (char *)NULL);
		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	h->in = in[1];
	h->out = out[0];
	record_pid(h->pid);
	snprintf(h->last, sizeof(h->last), "(start on %s)", state);
	host_line(h, 60, line, sizeof(line));
	ck_assert_msg(!strcmp(line, "ready"), "engine-host on %s said \"%s\", not ready", state, line);
}

static void host_cmd(struct host *h, int secs, char *out, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void host_cmd(struct host *h, int secs, char *out, size_t n, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	snprintf(h->last, sizeof(h->last), "%s", line);
	line[len++] = '\n';
	ck_assert_msg(pfs_write_all(h->in, line, (size_t)len) == 0, "engine-host: cannot send \"%s\"", h->last);
	host_line(h, secs, out, n);
}

static void host_quit(struct host *h)
{
	uint64_t until = pfs_now_ms() + 60000;
	int st = 0;
	pid_t r;

	pfs_write_all(h->in, "quit\n", 5);
	while ((r = waitpid(h->pid, &st, WNOHANG)) == 0 && pfs_now_ms() < until)
		usleep(20000);
	if (r == 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &st, 0);
	}
	ck_assert_msg(r == h->pid, "engine-host did not quit within 60 s");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "engine-host quit with status 0x%x", st);
	close(h->in);
	close(h->out);
	h->pid = 0;
}

/* ---- the state dir ------------------------------------------------------------------------ */

static json_t *load_json(const char *path)
{
	struct pfs_buf b = PFS_BUF_INIT(16u << 20);
	json_t *j = NULL;

	if (pfs_read_file(path, &b) == 0)
		j = json_loadb(b.ptr ? b.ptr : "", b.len, 0, NULL);
	pfs_buf_free(&b);
	return j;
}

static json_t *run_json(const char *state)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/tests/" TEST "/runs/1/run.json", state);
	return load_json(path);
}

static void run_svc_str(const char *state, const char *svc, const char *key, char *out, size_t n)
{
	json_t *j = run_json(state);

	snprintf(out, n, "%s",
		 json_string_value(json_object_get(json_object_get(json_object_get(j, "services"), svc), key)) ?: "");
	json_decref(j);
}

static json_t *events_loose(const char *state)
{
	struct pfs_buf b = PFS_BUF_INIT(64u << 20);
	char path[PATH_MAX + 64];
	json_t *arr = json_array();
	size_t start = 0;

	snprintf(path, sizeof(path), "%s/tests/" TEST "/events", state);
	if (pfs_read_file(path, &b) == 0)
		for (size_t i = 0; i < b.len; i++)
			if (b.ptr[i] == '\n') {
				json_t *ev = json_loadb(b.ptr + start, i - start, 0, NULL);

				if (ev)
					json_array_append_new(arr, ev);
				start = i + 1;
			}
	pfs_buf_free(&b);
	return arr;
}

static json_t *events_strict(const char *state)
{
	struct pfs_buf b = PFS_BUF_INIT(64u << 20);
	char path[PATH_MAX + 64];
	json_t *arr = json_array();
	json_int_t want = 1;
	size_t start = 0;

	snprintf(path, sizeof(path), "%s/tests/" TEST "/events", state);
	ck_assert_msg(pfs_read_file(path, &b) == 0, "%s: cannot read", path);
	ck_assert_msg(b.len > 0 && b.ptr[b.len - 1] == '\n', "%s: does not end with a whole line", path);
	for (size_t i = 0; i < b.len; i++) {
		json_t *ev;
		json_error_t je;

		if (b.ptr[i] != '\n')
			continue;
		ev = json_loadb(b.ptr + start, i - start, 0, &je);
		ck_assert_msg(ev != NULL, "events line %lld is not JSON (%s): %.*s", (long long)want, je.text,
			      (int)(i - start), b.ptr + start);
		ck_assert_msg(json_integer_value(json_object_get(ev, "seq")) == want,
			      "events: seq %lld where %lld was due (a gap or a duplicate): %.*s",
			      (long long)json_integer_value(json_object_get(ev, "seq")), (long long)want, (int)(i - start),
			      b.ptr + start);
		ck_assert_str_eq(json_string_value(json_object_get(ev, "test")) ?: "", TEST);
		want++;
		json_array_append_new(arr, ev);
		start = i + 1;
	}
	pfs_buf_free(&b);
	return arr;
}

static const char *ev_type(json_t *ev)
{
	return json_string_value(json_object_get(ev, "type")) ?: "";
}

static json_int_t ev_seq(json_t *ev)
{
	return json_integer_value(json_object_get(ev, "seq"));
}

static json_t *find_event(json_t *evs, const char *type, const char *svc, json_int_t after)
{
	json_t *ev;
	size_t i;

	json_array_foreach(evs, i, ev)
		if (ev_seq(ev) > after && !strcmp(ev_type(ev), type) &&
		    (!svc || !strcmp(json_string_value(json_object_get(ev, "service")) ?: "", svc)))
			return ev;
	return NULL;
}

static int count_events(json_t *evs, const char *type, const char *svc)
{
	json_t *ev;
	size_t i;
	int n = 0;

	json_array_foreach(evs, i, ev)
		n += !strcmp(ev_type(ev), type) &&
		     (!svc || !strcmp(json_string_value(json_object_get(ev, "service")) ?: "", svc));
	return n;
}

static void where(const char *state, char *out, size_t n)
{
	json_t *j = run_json(state), *evs = events_loose(state);
	size_t k = json_array_size(evs);

	snprintf(out, n, "run.json state \"%s\" status \"%s\", last event %s",
		 json_string_value(json_object_get(j, "state")) ?: "", json_string_value(json_object_get(j, "status")) ?: "",
		 k ? ev_type(json_array_get(evs, k - 1)) : "(none)");
	json_decref(j);
	json_decref(evs);
}

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
			where(state, now, sizeof(now));
			ck_abort_msg("waited %d s for run.json \"%s\" and a %s event; %s", secs, st ? st : "(any)",
				     type ? type : "(any)", now);
		}
		usleep(POLL_US);
	}
}

/* Up to n bytes of p as one printable line (\n and other controls escaped). */
static const char *printable(const char *p, size_t n, char *out, size_t outn)
{
	size_t k = 0;

	for (size_t i = 0; p && i < n && k + 5 < outn; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\n')
			k += (size_t)snprintf(out + k, outn - k, "\\n");
		else if (ch < 0x20 || ch == 0x7f)
			k += (size_t)snprintf(out + k, outn - k, "\\x%02x", ch);
		else
			out[k++] = (char)ch;
	}
	out[k] = '\0';
	return out;
}

static void logs_match(const char *state, const char *svc)
{
	struct docker_client *c = client(120000);
	struct pfs_buf want = PFS_BUF_INIT(1024u << 20), got = PFS_BUF_INIT(1024u << 20);
	struct pfs_err err = { 0 };
	char id[128], path[PATH_MAX + 64];
	size_t i, line = 1, common;

	ck_assert_ptr_nonnull(c);
	run_svc_str(state, svc, "container", id, sizeof(id));
	ck_assert_msg(id[0], "run.json has no container for %s", svc);
	snprintf(path, sizeof(path), "%s/tests/" TEST "/runs/1/services/%s/logs", state, svc);
	ck_assert_msg(pfs_read_file(path, &got) == 0, "%s: cannot read", path);
	ck_assert_msg(docker_container_logs_sync(c, id, false, &want, &want, &err) == 0, "logs of %s: %s", svc,
		      err.msg);
	docker_client_free(c);
	common = PFS_MIN(got.len, want.len);
	for (i = 0; i < common && got.ptr[i] == want.ptr[i]; i++)
		line += got.ptr[i] == '\n';
	if (i < common || got.len != want.len) {
		size_t from = i > 40 ? i - 40 : 0;

		char a[600], b[600];

		ck_abort_msg("%s: logs has %zu bytes, Docker has %zu; they differ from byte %zu (line %zu):"
			     " logs \"%s\", docker \"%s\"",
			     svc, got.len, want.len, i, line, printable(got.ptr ? got.ptr + from : NULL, got.len - from < 100 ? got.len - from : 100, a, sizeof(a)),
			     printable(want.ptr ? want.ptr + from : NULL, want.len - from < 100 ? want.len - from : 100, b, sizeof(b)));
	}
	pfs_buf_free(&want);
	pfs_buf_free(&got);
}

static void sweep_instance(struct docker_client *c, const char *id)
{
	char label[64];
	const char *labels[] = { label, NULL };
	json_t *list = NULL, *it;
	size_t i;

	snprintf(label, sizeof(label), "pantherfs.instance=%s", id);
	if (docker_container_list(c, labels, true, &list, NULL) == 0)
		json_array_foreach(list, i, it)
			docker_container_remove(c, json_string_value(json_object_get(it, "Id")), true, NULL);
	json_decref(list);
	list = NULL;
	if (docker_network_list(c, labels, &list, NULL) == 0)
		json_array_foreach(list, i, it)
			docker_network_remove(c, json_string_value(json_object_get(it, "Id")), NULL);
	json_decref(list);
}

static size_t count_labelled(struct docker_client *c, const char *id, bool networks)
{
	char label[64];
	const char *labels[] = { label, NULL };
	json_t *list = NULL;
	size_t n;
	int r;

	snprintf(label, sizeof(label), "pantherfs.instance=%s", id);
	r = networks ? docker_network_list(c, labels, &list, NULL) : docker_container_list(c, labels, true, &list, NULL);
	ck_assert_int_eq(r, 0);
	n = json_array_size(list);
	json_decref(list);
	return n;
}

/* ---- fixture ------------------------------------------------------------------------------- */

/* Parent, after the case: dockerd back if the case left it down, then the usual sweep. */
static void teardown(void)
{
	struct docker_client *c;
	struct dirent **ents = NULL;
	int n;

	recorded_hosts(true);
	if (!engine_answers()) {
		char **argv = dockerd_argv(), why[512];

		if (argv && dockerd_start(argv, 90, why, sizeof(why)) < 0)
			fprintf(stderr, "teardown: cannot start dockerd again: %s\n", why);
		strv_free(argv);
	}
	c = client(120000);
	n = scandir(root, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char dir[PATH_MAX + 300], path[PATH_MAX + 320];
		struct pfs_buf b = PFS_BUF_INIT(64);

		snprintf(dir, sizeof(dir), "%s/%s", root, ents[i]->d_name);
		snprintf(path, sizeof(path), "%s/instance", dir);
		if (ents[i]->d_name[0] != '.' && pfs_read_file(path, &b) == 0 && b.len >= 16) {
			char id[17];

			snprintf(id, sizeof(id), "%.16s", b.ptr);
			if (c)
				sweep_instance(c, id);
			if (n_instances < (int)PFS_ARRAY_SIZE(instances))
				memcpy(instances[n_instances++], id, sizeof(id));
			pfs_rm_rf(dir);
		}
		pfs_buf_free(&b);
		free(ents[i]);
	}
	free(ents);
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
	host_start(&h, state, src_dir);
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
	evs = events_strict(state);
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
	DIR *d;
	struct dirent *de;

	ck_assert_msg(engine_answers(), "no Docker engine answers after the test");
	ck_assert_ptr_nonnull(c);
	ck_assert_msg(n_instances > 0, "the teardown found no state dir to clean");
	for (int i = 0; i < n_instances; i++) {
		size_t nc = count_labelled(c, instances[i], false), nn = count_labelled(c, instances[i], true);

		ck_assert_msg(nc == 0 && nn == 0, "pantherfs.instance=%s: %zu containers, %zu networks left", instances[i],
			      nc, nn);
	}
	ck_assert_int_eq(recorded_hosts(false), 0);
	d = opendir(root);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		char path[PATH_MAX + 300];

		snprintf(path, sizeof(path), "%s/%s/instance", root, de->d_name);
		ck_assert_msg(access(path, F_OK) < 0, "state dir %s/%s left", root, de->d_name);
	}
	closedir(d);
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
	struct docker_client *c = NULL;
	struct docker_client_opts o = { .timeout_ms = 5000 };
	struct pfs_err err = { 0 };
	int r;

	signal(SIGPIPE, SIG_IGN);
	host_exe = getenv("ENGINE_HOST");
	src_dir = getenv("PFS_SOURCE_DIR");
	if (!host_exe || !src_dir) {
		printf("Bail out! ENGINE_HOST and PFS_SOURCE_DIR must be set (meson test sets them)\n");
		return 1;
	}
	if (docker_client_new(&o, &c, &err) < 0)
		return pfs_check_skip(err.msg);
	r = docker_ping(c, NULL, &err);
	docker_client_free(c);
	if (r == -ENOTCONN || r == -ENOENT)
		return pfs_check_skip(err.msg);

	snprintf(root, sizeof(root), "/tmp/pfs-dockerd-XXXXXX");
	if (!mkdtemp(root)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	r = pfs_check_run(suite());
	recorded_hosts(true);
	pfs_rm_rf(root);
	return r;
}
