/* SPDX-License-Identifier: MIT */
/*
 * What the suites that restart things under a live run share
 * (tests/integration/check_recovery.c: the engine killed with SIGKILL;
 * check_dockerd_restart.c: dockerd stopped and started): driving
 * tests/support/engine-host (a process hosting the engine, one command per
 * line on its stdin, one answer per line on its stdout), reading what the
 * engine wrote in a state dir (run.json, the events file, the logs), and the
 * cleanup of a scratch root holding the state dirs.
 *
 * Every state dir holds one test, STATE_TEST, with one run (runs/1).
 *
 * The names are the ones the suites had, so that their Check messages, which
 * quote the expressions (ck_assert_int_eq(count_events(evs, ...), 1)), read
 * as before.
 *
 * How things fail: a function documented as "checked" fails the current
 * Check test (ck_assert_msg / ck_abort_msg, which end the test's process
 * when Check forks); "unchecked" ones never fail the test and are for
 * teardowns and polling.
 */
#ifndef PFS_RECOVERY_H
#define PFS_RECOVERY_H

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

struct docker_client;
struct pfs_buf;

#define STATE_TEST "t"

/* ---- the engine-host process ---------------------------------------------------------------- */

/*
 * A running engine-host: owns the two pipe ends, which host_quit() and
 * host_kill() close; a host a failed test left running is killed by
 * hosts_alive(root, true) in the teardown.
 */
struct host {
	pid_t pid;
	int in, out;         /* its stdin (we write) and stdout (we read) */
	char buf[16384];     /* what it said that is not a whole line yet */
	size_t len;
	char last[256];      /* the last command, for messages */
};

/*
 * Starts `exe state data` (engine-host) with pipes on its stdin and stdout,
 * appends its pid and start time to root/pids (for hosts_alive()), and waits
 * up to 60 s for its "ready" line. Checked: fails the test when the pipes or
 * the fork fail, or it says anything else or nothing in time. *h is
 * overwritten; end it with host_quit() or host_kill().
 */
void host_start(struct host *h, const char *exe, const char *root, const char *state, const char *data);

/*
 * One line of the host's output within secs, without its newline, into out
 * (truncated to n). Checked: fails the test, naming h->last, when no whole
 * line comes in time, the host closes its output (it exited), or a line
 * outgrows h->buf.
 */
void host_line(struct host *h, int secs, char *out, size_t n);

/*
 * Sends the printf-formatted command (one line, which must fit in 2046 bytes) and
 * reads its answer as host_line() does. The command is kept in h->last.
 * Checked: fails the test when it cannot be written.
 */
void host_cmd(struct host *h, int secs, char *out, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * SIGKILL and reap; the host must not have exited on its own before.
 * Returns pfs_now_ms() right after the reaping. Checked. Closes h's pipes.
 */
uint64_t host_kill(struct host *h);

/*
 * Asks the host to quit and waits up to 60 s (polling every 20 ms) for it
 * to exit with status 0; kills it (SIGKILL) when it does not. Checked: fails
 * the test when it did not quit in time or exited otherwise. Closes h's
 * pipes.
 */
void host_quit(struct host *h);

/* Field 22 of /proc/<pid>/stat (start time), 0 when the process is gone or a zombie. */
unsigned long long proc_start(pid_t pid);

/*
 * The hosts recorded in root/pids that are still alive (same pid, same start
 * time, so a reused pid is never taken for one): how many, and when
 * kill_them, each is killed with SIGKILL and reaped (when it is our child).
 * Unchecked.
 */
int hosts_alive(const char *root, bool kill_them);

/* ---- the state dir ---------------------------------------------------------------------------- */

/* state/tests/STATE_TEST/runs/1/run.json parsed (caller decrefs), or NULL when absent or not JSON. */
json_t *run_json(const char *state);

/* A service's string `key` in run.json into out ("" when none). Unchecked. */
void run_svc_str(const char *state, const char *svc, const char *key, char *out, size_t n);

/*
 * The complete lines of the test's events file that parse, as an array
 * (caller decrefs; empty when there is no file). Unchecked: for polling
 * while the file is written.
 */
json_t *events_loose(const char *state);

/*
 * The test's events file, checked: it ends with a whole line, every line is
 * JSON with "test" STATE_TEST and "seq" 1..N without a gap or a duplicate,
 * and, when check_type, a string "type". Returns the events as an array
 * (caller decrefs).
 */
json_t *events_strict(const char *state, bool check_type);

/* An event's type ("" when none) and seq (0 when none). */
const char *ev_type(json_t *ev);
json_int_t ev_seq(json_t *ev);

/*
 * The first event of evs of that type (and service, when svc) with a seq
 * above `after`, or NULL. Borrowed from evs.
 */
json_t *find_event(json_t *evs, const char *type, const char *svc, json_int_t after);

/* How many events of evs have that type (and service, when svc). */
int count_events(json_t *evs, const char *type, const char *svc);

/* "run.json state "..." status "...", last event ..." for messages, into out. Unchecked. */
void run_where(const char *state, char *out, size_t n);

/*
 * Whether a service's log file (runs/1/services/<svc>/logs) differs from
 * what Docker has for its container (the "container" of run.json), fetched
 * through c (borrowed). When it does, appends "<svc>: logs has N bytes,
 * Docker has M; they differ from byte B (line L): logs "...", docker "..."
 * (100 bytes of each from 40 before the difference, controls escaped) to
 * diff and returns true. *got_len (when not NULL) is the log file's length.
 * Checked: fails the test when run.json names no container, the file cannot
 * be read, or Docker's logs cannot be had.
 */
bool logs_differ(struct docker_client *c, const char *state, const char *svc, struct pfs_buf *diff,
		 size_t *got_len);

/* ---- cleanup of the scratch root ---------------------------------------------------------------- */

/*
 * The teardown of root's state dirs: for each entry of root (in name order)
 * not starting with '.', other than skip (NULL: none), whose instance file
 * has 16 bytes or more: removes what carries pantherfs.instance=<id> (when c
 * is not NULL), records the id in ids (up to cap; *n counts them), copies
 * the dir into keep with `cp -a` (when keep is not NULL, for a bug report)
 * and deletes it. Unchecked.
 */
void sweep_state_dirs(struct docker_client *c, const char *root, const char *skip, const char *keep,
		      char (*ids)[17], int cap, int *n);

/*
 * The leftover check of the instances a teardown recorded: there is at
 * least one, and no container or network carries any of their labels.
 * Checked.
 */
void assert_instances_gone(struct docker_client *c, char (*ids)[17], int n);

/*
 * The leftover check's last step: no entry of root holds an instance file
 * any more (no state dir left). Checked. A macro, so that its checks are the
 * caller's: Check names a passed test in its TAP line after the file of the
 * last check it passed (the suites' own file, as before these helpers moved
 * here). It declares d and de in a block of its own.
 */
#define assert_no_state_dir(root) \
	do { \
		DIR *d; \
		struct dirent *de; \
\
		d = opendir((root)); \
		ck_assert_ptr_nonnull(d); \
		while ((de = readdir(d))) { \
			char path[PATH_MAX + 300]; \
\
			snprintf(path, sizeof(path), "%s/%s/instance", (root), de->d_name); \
			ck_assert_msg(access(path, F_OK) < 0, "state dir %s/%s left", (root), de->d_name); \
		} \
		closedir(d); \
	} while (0)

/* ---- main -------------------------------------------------------------------------------------------- */

/*
 * The start of such a suite's main(): ignores SIGPIPE (a dead host's
 * stdin), takes ENGINE_HOST and PFS_SOURCE_DIR from the environment into
 * *host_exe and *src_dir, skips when no Docker engine answers
 * (itest_docker_or_skip()), and makes the scratch root with mkdtemp from
 * tmpl ("/tmp/pfs-...-XXXXXX") into root. Returns 0 when the suite can run,
 * else the code main returns: 1 after a "Bail out!" line (a variable unset,
 * mkdtemp failed), 77 after the skip line.
 */
int recovery_main_init(const char **host_exe, const char **src_dir, char *root, size_t n, const char *tmpl);

#endif
