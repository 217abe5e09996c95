/* SPDX-License-Identifier: MIT */
/*
 * The orchestrator: tests, their runs, events, logs, persistence, recovery.
 * It knows nothing about FUSE; the filesystem layer reads its snapshots and
 * listens to its change notifications.
 *
 * Threads. Every call here returns promptly: configs are checked and saved
 * on the caller's thread (CPU and local disk only), Docker work happens on
 * other threads. Each live run has a driver thread that walks the run's
 * phases with Docker calls, holding no lock across them; a monitor thread
 * follows the engine (connection, Docker's event stream, reconnection with
 * backoff); log streams are written by the Docker client's I/O thread.
 *
 * State dir (everything a reader may see is written there before it is
 * published in memory, so a crash never shows something that is lost):
 *   tests/<test>/test.json               created time, next run number
 *   tests/<test>/config.yaml             the accepted config
 *   tests/<test>/events                  every event of the test (JSON lines)
 *   tests/<test>/error, warnings         the last rejection, the keys not applied
 *   tests/<test>/runs/<n>/config.yaml    the config that run ran
 *   tests/<test>/runs/<n>/run.json       its state (rewritten atomically)
 *   tests/<test>/runs/<n>/events         its events
 *   tests/<test>/runs/<n>/build.log      its image builds
 *   tests/<test>/runs/<n>/certs/         a generated key pair, when a server needs one
 *   tests/<test>/runs/<n>/services/<s>/{command,logs,logs.pos,results/}
 *
 * Docker objects carry labels pantherfs.managed=1, pantherfs.test=<test>,
 * pantherfs.run=<n>, pantherfs.service=<s>; containers are named
 * pantherfs-<test>-<n>-<service>, networks pantherfs-<test>-<n>. A run's
 * containers stay after it ends (for inspection) and are removed when the
 * next run starts or the test is removed. Images are a shared cache.
 *
 * Restart: engine_new() loads every test; a run that was live is taken up
 * again by label: running containers are followed again from where their
 * logs stopped, exited ones give their exit codes, missing ones fail the
 * run as "lost".
 */
#ifndef PANTHERFS_ENGINE_H
#define PANTHERFS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "pantherfs/config.h"
#include "pantherfs/err.h"

struct engine;

/* What changed, for the filesystem's invalidations and blocked readers. */
enum engine_change {
	ENGINE_TESTS,        /* a test appeared or went away */
	ENGINE_STATUS,       /* status, status.json, error, warnings, services' small files */
	ENGINE_CONFIG,       /* config.yaml */
	ENGINE_EVENTS,       /* events grew */
	ENGINE_BUILD_LOG,    /* build.log grew */
	ENGINE_LOGS,         /* a service's logs grew (service set) */
	ENGINE_RUNS,         /* a run began or ended (runs/ changed) */
	ENGINE_ENGINE,       /* the engine line */
};

/*
 * Called from engine threads (never from inside an engine_* call made by the
 * caller's thread... except engine_test_* calls, which may notify before
 * returning), with no engine lock held. Must not call back into the engine
 * synchronously for long; must not block.
 */
typedef void (*engine_notify_fn)(void *ud, enum engine_change what, const char *test, int run,
				 const char *service);

struct engine_opts {
	const char *state_dir;    /* created if missing */
	const char *data_dir;     /* NULL: catalog_default_data_dir() */
	const char *docker_host;  /* NULL: $DOCKER_HOST, else the default socket */
	engine_notify_fn notify;
	void *notify_ud;
	/* Grace period for graceful stops, seconds (default 5). */
	int stop_grace_s;
	/* Bound on a server's readiness, seconds (default 30, capped by the run's timeout). */
	int ready_timeout_s;
};

int engine_new(const struct engine_opts *o, struct engine **out, struct pfs_err *err);
/*
 * Stops following (run threads, streams) WITHOUT stopping containers: a live
 * run goes on in Docker and the next engine_new() on the same state dir
 * takes it up again. NULL is fine.
 */
void engine_free(struct engine *e);

const struct catalog *engine_catalog(struct engine *e);

/* ---- tests -------------------------------------------------------------------------- */

/* -EINVAL (bad name: see pfs_name_valid), -EEXIST. */
int engine_test_create(struct engine *e, const char *name, struct pfs_err *err);
/* -ENOENT, -EBUSY (a run is live: stop it first). Removes containers, network, state. */
int engine_test_remove(struct engine *e, const char *name, struct pfs_err *err);

/*
 * Applies a config: checks it (rep is filled either way; free it), and when
 * it is valid saves it, records config.accepted, and starts a new run (a
 * live run is stopped first, on the run's thread). When it is invalid,
 * nothing changes but `error` (all the problems) and a config.rejected
 * event. Returns 0, -EINVAL, -EFBIG, -ENOENT (no such test).
 */
int engine_test_apply_config(struct engine *e, const char *name, const char *data, size_t len,
			     struct cfg_report *rep);

/*
 * start | stop | restart | rebuild | kill. start with no config: -ENOEXEC;
 * start while live, stop/kill while not live: no-ops. Unknown verb: -EINVAL.
 */
int engine_test_ctl(struct engine *e, const char *name, const char *verb, struct pfs_err *err);

/* ---- reading ---------------------------------------------------------------------------- */

/* Test names, sorted (NULL-terminated, caller frees with engine_strv_free). */
char **engine_test_names(struct engine *e);
void engine_strv_free(char **v);

/* "connected <version> api <v>" or "disconnected: <reason>". malloc'd. */
char *engine_line(struct engine *e);

/*
 * A readable file of a test, as one consistent snapshot.
 *   run 0: the test level (status, status.json, error, warnings, config.yaml,
 *          events, build.log of the current run, services/<s>/... of it);
 *   run n: runs/<n>/ (frozen once the run ended).
 * name: "status", "status.json", "error", "warnings", "config.yaml", "events",
 *       "build.log"; with service set: "command", "status", "logs",
 *       "address", "container", "image".
 * Small files come as data (malloc'd, caller frees). Growing files (events,
 * build.log, logs) come as a path in the state dir and the size published so
 * far: read at most that many bytes from it.
 * mtime is the last change. -ENOENT when there is no such file.
 */
struct engine_file {
	char *data;        /* small files */
	size_t len;
	char *path;        /* growing files: read [0, len) of this file */
	struct timespec mtime;
	bool growing;
};

int engine_file_get(struct engine *e, const char *test, int run, const char *service,
		    const char *name, struct engine_file *f);
void engine_file_release(struct engine_file *f);

/* Services of run n (0: current), in plan order. NULL-terminated; engine_strv_free. */
char **engine_service_names(struct engine *e, const char *test, int run);
/* Numbers of the runs of a test, ascending; *n set. malloc'd (free()). */
int *engine_run_numbers(struct engine *e, const char *test, size_t *n);

/* True while run n (0: current) may still change. */
bool engine_run_live(struct engine *e, const char *test, int run);

/* The status line's first word for the current run ("empty" without config). */
int engine_test_state(struct engine *e, const char *test, char *out, size_t outlen);

#endif
