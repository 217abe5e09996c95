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
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/docker.h"
#include "pantherfs/image.h"
#include "pantherfs/util.h"

#define TEST "t"
#define POLL_US 5000              /* between two looks at the state dir */
#define VERDICT_S 300             /* bound on a run's end after the restart */
#define LOGS_CAP (1024u << 20)

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

static struct docker_client *client(long timeout_ms)
{
	struct docker_client_opts o = { .timeout_ms = timeout_ms };
	struct docker_client *c = NULL;

	if (docker_client_new(&o, &c, NULL) < 0)
		return NULL;
	return c;
}

/* Runs argv, returns its exit status (or -1). */
static int run_argv(const char *const *argv)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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

/* Kills every recorded host still alive (same pid, same start time). Returns how many. */
static int kill_recorded_hosts(void)
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
		kill((pid_t)pid, SIGKILL);
		waitpid((pid_t)pid, NULL, 0); /* ours only with CK_FORK=no; else init reaps it */
		n++;
	}
	fclose(f);
	return n;
}

static int count_alive_hosts(void)
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
	while (fscanf(f, "%ld %llu", &pid, &start) == 2)
		n += pid > 1 && start && proc_start((pid_t)pid) == start;
	fclose(f);
	return n;
}

/* ---- the host process ------------------------------------------------------------------ */

struct host {
	pid_t pid;
	int in, out;
	char buf[16384];
	size_t len;
	char last[256];    /* the last command, for messages */
};

/* One line of the host's output within secs (without its newline). */
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

static void host_ok(struct host *h, const char *fmt, const char *a, const char *b)
{
	char ans[1024];

	host_cmd(h, 60, ans, sizeof(ans), fmt, a, b);
	ck_assert_msg(!strcmp(ans, "ok"), "\"%s\": %s", h->last, ans);
}

static void host_close(struct host *h)
{
	if (h->in > 0)
		close(h->in);
	if (h->out > 0)
		close(h->out);
	h->in = h->out = -1;
	h->pid = 0;
}

/* SIGKILL, reaped: it must not have exited on its own before. */
static void host_kill(struct host *h)
{
	int st = 0;

	ck_assert_int_eq(kill(h->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(h->pid, &st, 0), h->pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "engine-host had exited (status 0x%x) before the kill",
		      st);
	t_killed = pfs_now_ms();
	host_close(h);
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
	host_close(h);
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

/* run.json's state ("" before it exists). */
static void run_state(const char *state, char *out, size_t n)
{
	json_t *j = run_json(state);

	snprintf(out, n, "%s", json_string_value(json_object_get(j, "state")) ?: "");
	json_decref(j);
}

/* A service's string in run.json ("" when none). */
static void run_svc_str(const char *state, const char *svc, const char *key, char *out, size_t n)
{
	json_t *j = run_json(state);

	snprintf(out, n, "%s",
		 json_string_value(json_object_get(json_object_get(json_object_get(j, "services"), svc), key)) ?: "");
	json_decref(j);
}

/* The complete lines of the test's events file that parse (while it is written). */
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

/* Every line valid JSON of this test, seq 1..N without gap or duplicate. */
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
		ck_assert(json_is_string(json_object_get(ev, "type")));
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

/* The first event of that type (and service, if given) after seq `after`, or NULL. */
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

/* The run's state, status and last event, for messages. */
static void where(const char *state, char *out, size_t n)
{
	json_t *j = run_json(state), *evs = events_loose(state);
	size_t k = json_array_size(evs);

	snprintf(out, n, "run.json state \"%s\" status \"%s\", last event %s", json_string_value(json_object_get(j, "state")) ?: "",
		 json_string_value(json_object_get(j, "status")) ?: "", k ? ev_type(json_array_get(evs, k - 1)) : "(none)");
	json_decref(j);
	json_decref(evs);
}

typedef bool (*cond_fn)(const char *state, const void *arg);

/* Polls the state dir until cond holds; fails saying what it waited for after secs. */
static void wait_until(const char *state, cond_fn cond, const void *arg, int secs, const char *what)
{
	uint64_t until = pfs_now_ms() + (uint64_t)secs * 1000;
	char now[1024];

	while (!cond(state, arg)) {
		if (pfs_now_ms() >= until) {
			where(state, now, sizeof(now));
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
		pfs_buf_free(&b);
		if (!ok)
			return false;
	}
	return true;
}

/* ---- Docker ------------------------------------------------------------------------------- */

static bool container_running(const char *id)
{
	struct docker_client *c = client(60000);
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

/*
 * A service's log file equals, byte for byte, what Docker has for its
 * container; a difference is added to problems.
 */
static void logs_match(const char *state, const char *svc, struct pfs_buf *problems)
{
	struct docker_client *c = client(120000);
	struct pfs_buf want = PFS_BUF_INIT(LOGS_CAP), got = PFS_BUF_INIT(LOGS_CAP);
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

		pfs_buf_printf(problems,
			       " | %s: logs has %zu bytes, Docker has %zu; they differ from byte %zu (line %zu):"
			       " logs \"%s\", docker \"%s\"",
			       svc, got.len, want.len, i, line, printable(got.ptr ? got.ptr + from : NULL, got.len - from < 100 ? got.len - from : 100, a, sizeof(a)),
			       printable(want.ptr ? want.ptr + from : NULL, want.len - from < 100 ? want.len - from : 100, b, sizeof(b)));
	} else if (!got.len) {
		pfs_buf_printf(problems, " | %s: no logs at all", svc);
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
	struct docker_client *c = client(120000);

	if (c)
		remove_slow_image(c);
	docker_client_free(c);
}

/* Parent, after each case: hosts, containers, networks, the test image, state dirs. */
static void teardown(void)
{
	struct docker_client *c;
	struct dirent **ents = NULL;
	int n;

	kill_recorded_hosts();
	c = client(120000);
	n = scandir(root, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char dir[PATH_MAX + 300], path[PATH_MAX + 320];
		struct pfs_buf b = PFS_BUF_INIT(64);
		struct stat sb;

		snprintf(dir, sizeof(dir), "%s/%s", root, ents[i]->d_name);
		snprintf(path, sizeof(path), "%s/instance", dir);
		if (ents[i]->d_name[0] != '.' && strcmp(ents[i]->d_name, "data") && stat(path, &sb) == 0 &&
		    pfs_read_file(path, &b) == 0 && b.len >= 16) {
			char id[17];

			snprintf(id, sizeof(id), "%.16s", b.ptr);
			if (c)
				sweep_instance(c, id);
			if (n_instances < (int)PFS_ARRAY_SIZE(instances))
				memcpy(instances[n_instances++], id, sizeof(id));
			if (getenv("PFS_RECOVERY_KEEP")) /* a copy for a bug report */
				run_argv((const char *const[]){ "cp", "-a", dir, getenv("PFS_RECOVERY_KEEP"), NULL });
			pfs_rm_rf(dir);
		}
		pfs_buf_free(&b);
		free(ents[i]);
	}
	free(ents);
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
	host_start(h, state, data);
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

	host_start(h, state, data);
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
	json_t *evs = events_strict(state), *j = run_json(state), *svcs, *o;
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
	pfs_buf_free(&pb);
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
	host_kill(&h);
	run_state(state, st, sizeof(st));
	ck_assert_str_eq(st, "building");
	/* killed inside the build: the image is not there yet */
	c = client(60000);
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
	pfs_buf_free(&blog);
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
	host_kill(&h);
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
	host_kill(&h);
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
	c = client(60000);
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
	host_kill(&h);
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
	host_kill(&h);
	run_svc_str(state, "client", "container", id, sizeof(id));
	ck_assert_msg(id[0], "run.json has no client container");
	ck_assert_msg(container_running(id), "the client had exited before the kill");
	/* the client ends while no engine watches */
	c = client(60000);
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
	struct docker_client *c = client(60000);
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct docker_result res = { 0 };
	struct pfs_err err = { 0 };
	char path[200];

	snprintf(path, sizeof(path), "/containers/%s/pause", id);
	rq.method = "POST";
	rq.path = path;
	ck_assert_msg(docker_request_sync(c, &rq, &res, &err) == 0, "pause %s: %s", id, err.msg);
	docker_result_free(&res);
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
	host_kill(&h);
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
	struct docker_client *c = client(60000);
	json_t *j = NULL;
	DIR *d;
	struct dirent *de;

	ck_assert_ptr_nonnull(c);
	ck_assert_msg(n_instances > 0, "the teardown found no state dir to clean");
	for (int i = 0; i < n_instances; i++) {
		size_t nc = count_labelled(c, instances[i], false), nn = count_labelled(c, instances[i], true);

		ck_assert_msg(nc == 0 && nn == 0, "pantherfs.instance=%s: %zu containers, %zu networks left", instances[i],
			      nc, nn);
	}
	ck_assert_msg(docker_image_inspect(c, slow_ref, &j, NULL) == -ENOENT, "image %s left", slow_ref);
	ck_assert_int_eq(count_alive_hosts(), 0);
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
			cfg_report_free(&rep);
			catalog_free(cat);
			return -1;
		}
		cfg_report_free(&rep);
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
	struct docker_client *c = NULL;
	struct docker_client_opts o = { .timeout_ms = 5000 };
	struct pfs_err err = { 0 };
	char why[PATH_MAX + 300];
	int r;

	signal(SIGPIPE, SIG_IGN); /* a dead host's stdin */
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

	snprintf(root, sizeof(root), "/tmp/pfs-recovery-XXXXXX");
	if (!mkdtemp(root)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	if (prepare_data(why, sizeof(why)) < 0) {
		printf("Bail out! %s\n", why);
		pfs_rm_rf(root);
		return 1;
	}
	r = pfs_check_run(suite());
	kill_recorded_hosts();
	pfs_rm_rf(root);
	return r;
}
