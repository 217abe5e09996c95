/* SPDX-License-Identifier: MIT */
/*
 * Shared support of the recovery and dockerd_restart suites (see
 * recovery.h): the engine-host process, the state dir, the cleanup.
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
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "recovery.h"
#include "itest.h"
#include "pfs_check.h"
#include "pantherfs/docker.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define TEST STATE_TEST
#define LOGS_CAP (1024u << 20)

/* ---- the host process ------------------------------------------------------------------ */

static void record_pid(const char *root, pid_t pid)
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

void host_line(struct host *h, int secs, char *out, size_t n)
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

void host_start(struct host *h, const char *exe, const char *root, const char *state, const char *data)
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
		execl(exe, exe, state, data, (char *)NULL);
		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	h->in = in[1];
	h->out = out[0];
	record_pid(root, h->pid);
	snprintf(h->last, sizeof(h->last), "(start on %s)", state);
	host_line(h, 60, line, sizeof(line));
	ck_assert_msg(!strcmp(line, "ready"), "engine-host on %s said \"%s\", not ready", state, line);
}

void host_cmd(struct host *h, int secs, char *out, size_t n, const char *fmt, ...)
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

static void host_close(struct host *h)
{
	if (h->in > 0)
		close(h->in);
	if (h->out > 0)
		close(h->out);
	h->in = h->out = -1;
	h->pid = 0;
}

uint64_t host_kill(struct host *h)
{
	uint64_t killed;
	int st = 0;

	ck_assert_int_eq(kill(h->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(h->pid, &st, 0), h->pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "engine-host had exited (status 0x%x) before the kill",
		      st);
	killed = pfs_now_ms();
	host_close(h);
	return killed;
}

void host_quit(struct host *h)
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

unsigned long long proc_start(pid_t pid)
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

int hosts_alive(const char *root, bool kill_them)
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
			waitpid((pid_t)pid, NULL, 0); /* ours only with CK_FORK=no; else init reaps it */
		}
	}
	fclose(f);
	return n;
}

/* ---- the state dir ------------------------------------------------------------------------ */

static json_t *load_json(const char *path)
{
	struct pfs_buf b = PFS_BUF_INIT(16u << 20);
	json_t *j = NULL;

	if (pfs_read_file(path, &b) == 0)
		j = json_loadb(b.ptr ? b.ptr : "", b.len, 0, NULL);
	pfs_buf_release(&b);
	return j;
}

json_t *run_json(const char *state)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/tests/" TEST "/runs/1/run.json", state);
	return load_json(path);
}

void run_svc_str(const char *state, const char *svc, const char *key, char *out, size_t n)
{
	json_t *j = run_json(state);

	snprintf(out, n, "%s",
		 json_string_value(json_object_get(json_object_get(json_object_get(j, "services"), svc), key)) ?: "");
	json_decref(j);
}

json_t *events_loose(const char *state)
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
	pfs_buf_release(&b);
	return arr;
}

json_t *events_strict(const char *state, bool check_type)
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
		if (check_type)
			ck_assert(json_is_string(json_object_get(ev, "type")));
		want++;
		json_array_append_new(arr, ev);
		start = i + 1;
	}
	pfs_buf_release(&b);
	return arr;
}

const char *ev_type(json_t *ev)
{
	return json_string_value(json_object_get(ev, "type")) ?: "";
}

json_int_t ev_seq(json_t *ev)
{
	return json_integer_value(json_object_get(ev, "seq"));
}

json_t *find_event(json_t *evs, const char *type, const char *svc, json_int_t after)
{
	json_t *ev;
	size_t i;

	json_array_foreach(evs, i, ev)
		if (ev_seq(ev) > after && !strcmp(ev_type(ev), type) &&
		    (!svc || !strcmp(json_string_value(json_object_get(ev, "service")) ?: "", svc)))
			return ev;
	return NULL;
}

int count_events(json_t *evs, const char *type, const char *svc)
{
	json_t *ev;
	size_t i;
	int n = 0;

	json_array_foreach(evs, i, ev)
		n += !strcmp(ev_type(ev), type) &&
		     (!svc || !strcmp(json_string_value(json_object_get(ev, "service")) ?: "", svc));
	return n;
}

void run_where(const char *state, char *out, size_t n)
{
	json_t *j = run_json(state), *evs = events_loose(state);
	size_t k = json_array_size(evs);

	snprintf(out, n, "run.json state \"%s\" status \"%s\", last event %s", json_string_value(json_object_get(j, "state")) ?: "",
		 json_string_value(json_object_get(j, "status")) ?: "", k ? ev_type(json_array_get(evs, k - 1)) : "(none)");
	json_decref(j);
	json_decref(evs);
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

bool logs_differ(struct docker_client *c, const char *state, const char *svc, struct pfs_buf *diff,
		 size_t *got_len)
{
	struct pfs_buf want = PFS_BUF_INIT(LOGS_CAP), got = PFS_BUF_INIT(LOGS_CAP);
	struct pfs_err err = { 0 };
	char id[128], path[PATH_MAX + 64];
	size_t i, line = 1, common;
	bool differ;

	run_svc_str(state, svc, "container", id, sizeof(id));
	ck_assert_msg(id[0], "run.json has no container for %s", svc);
	snprintf(path, sizeof(path), "%s/tests/" TEST "/runs/1/services/%s/logs", state, svc);
	ck_assert_msg(pfs_read_file(path, &got) == 0, "%s: cannot read", path);
	ck_assert_msg(docker_container_logs_sync(c, id, false, &want, &want, &err) == 0, "logs of %s: %s", svc,
		      err.msg);
	common = PFS_MIN(got.len, want.len);
	for (i = 0; i < common && got.ptr[i] == want.ptr[i]; i++)
		line += got.ptr[i] == '\n';
	differ = i < common || got.len != want.len;
	if (differ) {
		size_t from = i > 40 ? i - 40 : 0;

		char a[600], b[600];

		pfs_buf_printf(diff,
			       "%s: logs has %zu bytes, Docker has %zu; they differ from byte %zu (line %zu):"
			       " logs \"%s\", docker \"%s\"",
			       svc, got.len, want.len, i, line, printable(got.ptr ? got.ptr + from : NULL, got.len - from < 100 ? got.len - from : 100, a, sizeof(a)),
			       printable(want.ptr ? want.ptr + from : NULL, want.len - from < 100 ? want.len - from : 100, b, sizeof(b)));
	}
	if (got_len)
		*got_len = got.len;
	pfs_buf_release(&want);
	pfs_buf_release(&got);
	return differ;
}

/* ---- cleanup of the scratch root ---------------------------------------------------------------- */

void sweep_state_dirs(struct docker_client *c, const char *root, const char *skip, const char *keep,
		      char (*ids)[17], int cap, int *n)
{
	struct dirent **ents = NULL;
	int k = scandir(root, &ents, NULL, alphasort);

	for (int i = 0; i < k; i++) {
		char dir[PATH_MAX + 300], id[17];

		snprintf(dir, sizeof(dir), "%s/%s", root, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && (!skip || strcmp(ents[i]->d_name, skip)) &&
		    itest_instance_id(dir, id) >= 16) {
			if (c)
				itest_sweep_instance(c, id);
			if (*n < cap)
				memcpy(ids[(*n)++], id, sizeof(id));
			if (keep) /* a copy for a bug report */
				run_argv((const char *const[]){ "cp", "-a", dir, keep, NULL });
			pfs_rm_rf(dir);
		}
		free(ents[i]);
	}
	free(ents);
}

void assert_instances_gone(struct docker_client *c, char (*ids)[17], int n)
{
	ck_assert_msg(n > 0, "the teardown found no state dir to clean");
	for (int i = 0; i < n; i++) {
		size_t nc = itest_count_instance(c, ids[i], false), nn = itest_count_instance(c, ids[i], true);

		ck_assert_msg(nc == 0 && nn == 0, "pantherfs.instance=%s: %zu containers, %zu networks left", ids[i],
			      nc, nn);
	}
}

/* ---- main -------------------------------------------------------------------------------------------- */

int recovery_main_init(const char **host_exe, const char **src_dir, char *root, size_t n, const char *tmpl)
{
	int r;

	signal(SIGPIPE, SIG_IGN); /* a dead host's stdin */
	*host_exe = getenv("ENGINE_HOST");
	*src_dir = getenv("PFS_SOURCE_DIR");
	if (!*host_exe || !*src_dir) {
		printf("Bail out! ENGINE_HOST and PFS_SOURCE_DIR must be set (meson test sets them)\n");
		return 1;
	}
	r = itest_docker_or_skip();
	if (r)
		return r;
	snprintf(root, n, "%s", tmpl);
	if (!mkdtemp(root)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
