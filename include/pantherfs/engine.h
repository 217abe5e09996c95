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
 *   tests/<test>/test.json               created time, next run number, whether
 *                                        a stop ended the series of iterations
 *   tests/<test>/config.yaml             the accepted config
 *   tests/<test>/events                  every event of the test (JSON lines)
 *   tests/<test>/error, warnings         the last rejection, the keys not applied
 *   tests/<test>/runs/<n>/config.yaml    the config that run ran
 *   tests/<test>/runs/<n>/run.json       its state (rewritten atomically)
 *   tests/<test>/runs/<n>/events         its events
 *   tests/<test>/runs/<n>/build.log      its image builds
 *   tests/<test>/runs/<n>/certs/         a generated key pair, when a server needs one
 *   tests/<test>/runs/<n>/services/<s>/{command,logs,logs.pos,results/}
 *   tests/<test>/runs/<n>/services/<s>/{capture.pcap,keys.log,qlog/}   as the config asks
 *
 * Docker objects carry labels pantherfs.managed=1, pantherfs.test=<test>,
 * pantherfs.run=<n>, pantherfs.service=<s>; containers are named
 * pantherfs-<test>-<n>-<service>, networks pantherfs-<test>-<n>. A run's
 * containers stay after it ends (for inspection) and are removed when the
 * next run starts or the test is removed. A shaped or captured service has a
 * netem helper (pantherfs-netem-<instance>-<test>-<n>-<service>, label
 * pantherfs.helper=netem) that owns its network namespace; helpers go when
 * their run ends. Images are a shared cache.
 *
 * On a Docker Swarm (--docker-host of a manager; src/engine/swarm_run.c
 * opens with how): a run's services are Swarm services (pantherfs-<id>,
 * labelled as containers are), on an attachable overlay network of the
 * run, its key pair in Swarm configs; they are removed when the run ends,
 * with their network and configs, as the logs are in the state dir.
 *
 * Restart: engine_new() loads every test; a run that was live is taken up
 * again by label: running containers are followed again from where their
 * logs stopped, exited ones give their exit codes, missing ones fail the
 * run as "lost".
 *
 * Series: a config with iterations: N runs N runs one after the other
 * (run.json and the events say which; status "running iteration i/N");
 * a stop or kill ends the series, a new config or start, restart, rebuild
 * begins a new one; a restart takes an unfinished series up again.
 *
 * Results: result.json of each run and of the current one, a test's
 * summaries and the root's summary.tsv are made from the run dirs
 * (results.h) off the callers' threads, kept in memory and served by
 * engine_file_get(); after a restart they are read back from the run dirs.
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
#include "pantherfs/names.h"

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

/* Whether runs go to a Docker Swarm (engine_opts.swarm). */
enum engine_swarm {
	ENGINE_SWARM_AUTO,   /* a manager's runs go to its Swarm; an inactive Swarm is one engine */
	ENGINE_SWARM_ON,     /* runs need a Swarm manager: anything else ends them in error */
	ENGINE_SWARM_OFF,    /* one engine, even on a manager (its own node runs everything) */
};

struct engine_opts {
	const char *state_dir;    /* created if missing */
	const char *data_dir;     /* NULL: catalog_default_data_dir() */
	const char *sources_dir;  /* source tarballs; NULL: each implementation's in the data dir */
	const char *docker_host;  /* NULL: $DOCKER_HOST, else the default socket */
	engine_notify_fn notify;
	void *notify_ud;
	/* Grace period for graceful stops, seconds (default 5). */
	int stop_grace_s;
	/* Bound on a server's readiness, seconds (default 30, capped by the run's timeout). */
	int ready_timeout_s;
	/*
	 * HOST:PORT of a registry the engine (and every Swarm node) reaches, or
	 * NULL. An image pantherfs builds is pushed there once; before building,
	 * the engine pulls it from there when the registry has it. Checked with
	 * docker_registry_check(): -EINVAL from engine_new() otherwise.
	 */
	const char *registry;
	enum engine_swarm swarm;
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

/* Test names, sorted (NULL-terminated, caller frees with pfs_strv_free). */
char **engine_test_names(struct engine *e);
/* The same as pfs_strv_free (util.h). */
void engine_strv_free(char **v);

/* "connected <version> api <v>" or "disconnected: <reason>". malloc'd. */
char *engine_line(struct engine *e);

/*
 * A readable file of a test (names.h), as one consistent snapshot.
 *   run 0: the test level (PFS_AT_TEST) and the current run's services
 *          (PFS_AT_SVC);
 *   run n: runs/<n>/ (PFS_AT_RUN, PFS_AT_RUN_SVC; frozen once the run ended).
 *   test NULL: the mount root's files (PFS_AT_ROOT).
 * service: NULL for the test's or run's files.
 * Small files come as data (malloc'd, caller frees). Growing files (events,
 * build.log, logs) come as a path in the state dir and the size published so
 * far: read at most that many bytes from it.
 * mtime is the last change. -ENOENT when there is no such file there.
 * Results (result.json, summary.*) are built off the caller's thread and
 * kept: -EAGAIN while one is being built for the first time (a run that
 * just began, the moment after pantherfs started), -EIO when it could not
 * be built (the log says why).
 */
struct engine_file {
	char *data;        /* small files */
	size_t len;
	char *path;        /* growing files: read [0, len) of this file */
	struct timespec mtime;
	bool growing;
};

int engine_file_get(struct engine *e, const char *test, int run, const char *service,
		    enum pfs_file id, struct engine_file *f);
/*
 * The size and mtime engine_file_get() would give, without copying: a
 * stat does not render status.json again while the run has not changed.
 */
int engine_file_stat(struct engine *e, const char *test, int run, const char *service,
		     enum pfs_file id, size_t *size, struct timespec *mtime);
void engine_file_release(struct engine_file *f);
/*
 * Where the state dir holds a service's PFS_N_DISK_DIR or PFS_N_DISK_FILE
 * name (results/, qlog/, capture.pcap, keys.log), which programs write
 * there themselves (malloc'd), or NULL. It may not exist (yet).
 */
char *engine_svc_dir(struct engine *e, const char *test, int run, const char *service, enum pfs_file id);

/* Services of run n (0: current), in plan order. NULL-terminated; pfs_strv_free. */
char **engine_service_names(struct engine *e, const char *test, int run);
/* Numbers of the runs of a test, ascending; *n set. malloc'd (free()). */
int *engine_run_numbers(struct engine *e, const char *test, size_t *n);

/*
 * True while run n (0: current) may still change (its driver has not let
 * go of it). Every change of this answer is followed by a notification
 * (ENGINE_STATUS), after it: a reader that checks after parking never
 * misses the end.
 */
bool engine_run_live(struct engine *e, const char *test, int run);

/* The status line's first word for the current run ("empty" without config). */
int engine_test_state(struct engine *e, const char *test, char *out, size_t outlen);

/* ---- matrices (matrix.h) ---------------------------------------------------------------------- */

/*
 * A matrix: servers x clients x test cases, a test per cell
 * ("<m>.<server>.<client>.<case>"), its cells run `parallel` at a time by
 * the engine's matrix thread, as a user would run them (config.yaml
 * written, the run followed). Its files, served from memory:
 *   matrix.yaml   as accepted (empty until written)
 *   matrix.tsv    a row per cell: server client testcase test run verdict reason
 *   matrix.txt    the readable table, a line per pair, a column per case
 *   status        "empty", "running 1 of 28 cells, 3 ended: 3 succeeded",
 *                 "done 28 cells: ...", "error <why>"
 *   error         the last refusal, every problem with its line and column
 * The tables follow the cells within about a second of a change.
 */
extern const char *const engine_matrix_files[];   /* NULL-terminated, in listing order */

/* -EINVAL (bad name), -EEXIST, -ENOMEM, -EIO. */
int engine_matrix_create(struct engine *e, const char *name, struct pfs_err *err);
/* -ENOENT. Its cells are tests and stay; queued ones never start; a live one runs to its end. */
int engine_matrix_remove(struct engine *e, const char *name, struct pfs_err *err);
/*
 * Applies a matrix file: checks it and every cell's config (rep is filled
 * either way; free it); when valid, saves it and starts a round, every
 * cell queued (a cell's test with a live run of its own waits for it). When
 * invalid nothing changes but `error`. 0, -EINVAL, -EFBIG, -ENOENT.
 */
int engine_matrix_apply(struct engine *e, const char *name, const char *data, size_t len, struct cfg_report *rep);
/* Names, in creation order (NULL-terminated, pfs_strv_free), or NULL. */
char **engine_matrix_names(struct engine *e);
bool engine_matrix_exists(struct engine *e, const char *name);
/* A file of engine_matrix_files[] as one snapshot (data, malloc'd). -ENOENT. */
int engine_matrix_file(struct engine *e, const char *name, const char *file, struct engine_file *f);

#endif
