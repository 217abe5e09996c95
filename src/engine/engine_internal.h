/* SPDX-License-Identifier: MIT */
/*
 * Shared between the files of src/engine. Calls go one way, down this list;
 * a callee that needs a value from above gets it as an argument:
 *
 *   matrix.c    matrices: their cells started through engine.c's calls, as a
 *               user would, and their tables (above everything else)
 *   engine.c    the public API: the test list, configs, ctl, what readers see
 *   monitor.c   the monitor thread: the Docker connection, Docker's events,
 *               sweeping what removed tests left
 *   recovery.c  loading the state dir at start: which source wins
 *   test.c      a test's runs: starting one, asking it to stop, its thread,
 *               the series of iterations
 *   results.c   result.json, the summaries and the root's summary.tsv, kept
 *               in memory: a run's final result on its driver's thread, the
 *               rest on the results worker's (which walks the test list as
 *               monitor.c does)
 *   run.c       one run's driver: the phases, each returning a result
 *   shape.c     a run's network conditions: each shaped service's netem
 *               helper, from its start to its removal
 *   runstate.c  the run state machine (one transition function), run.json
 *   follow.c    following a container's logs into the state dir
 *   evlog.c     events
 *   conn.c      the connection state every layer may read (a leaf)
 *   probe.c     the QUIC readiness probe (no state)
 *
 * LOCK ORDER (the filesystem's locks come before all of these, see
 * src/fs/fs_internal.h):
 *
 *     e->lock  ->  t->lock  ->  x->conn.lock
 *                         ->  x->rw.lock
 *                         ->  x->lw.lock
 *
 * A thread holding a lock takes only locks to its right. conn.lock and
 * rw.lock are leaves: nothing is called while one is held. mx.lock
 * (matrix.c) is a leaf too: the filesystem's readers and the matrix thread
 * take it alone, and nothing is called while it is held; mx.write_lock
 * comes before it (the writers of a matrix and the matrix thread storing a
 * round), and no engine call is made while holding either. No lock is
 * held across a Docker call, a notification (x->notify), a wait on
 * another thread (but a run's driver sleeping on r->cv, which releases
 * t->lock), or a disk read of more than a small file. Each field below says which lock
 * guards it; "const" fields are set before the object is shared and never
 * change; "driver" fields belong to the run's driver thread alone.
 */
#ifndef PANTHERFS_ENGINE_INTERNAL_H
#define PANTHERFS_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/docker.h"
#include "pantherfs/engine.h"
#include "pantherfs/image.h"

/* ---- conn.c: the connection, as every layer sees it ------------------------------------------------ */

struct conn {
	pthread_mutex_t lock;           /* a leaf */
	pthread_cond_t cv;              /* signalled on every change below */
	bool connected;                 /* lock */
	uint64_t gen;                   /* lock: bumped at every (re)connection */
	char line[512];                 /* lock: what `engine` shows */
	bool stopping;                  /* lock: the engine is being freed */
	bool check;                     /* lock: the monitor should look at the engine now */
	uint64_t events_seq;            /* lock: the current subscription to Docker's events */
	struct docker_call *events_call;/* lock */
	struct conn_die *dies;          /* lock: container exits the I/O thread queued for the monitor */
	size_t n_dies;                  /* lock */
	/* what the engine says of its Swarm (GET /info at every connection) */
	bool swarm_known;               /* lock */
	bool swarm_manager, swarm_worker; /* lock */
	int swarm_nodes;                /* lock */
};

void conn_init(struct conn *c);
void conn_destroy(struct conn *c);
uint64_t conn_gen(struct conn *c);
bool conn_stopping(struct conn *c);
bool conn_connected(struct conn *c);
/* Asks the monitor to check the engine now (a call failed, a test went away). */
void conn_kick(struct conn *c);
/* Blocks until connected with a generation > gen (true), or stopping (false). Kicks first. */
bool conn_wait(struct conn *c, uint64_t gen);
/* A Docker error that means "the engine went away": wait for it, then reconcile. */
bool conn_lost(int err);

/* ---- results.c: what the mount shows of results ------------------------------------------------ */

/* A file kept in memory, replaced whole when rebuilt. */
struct res_doc {
	char *text;                     /* NULL: not built yet */
	size_t len;
	struct timespec mtime;
};

/* The worker that keeps live results, summaries and the root's summary.tsv. */
struct results_worker {
	struct engine *e;               /* const (results_init); NULL: no worker (unit tests) */
	pthread_mutex_t lock;           /* a leaf */
	pthread_cond_t cv;
	pthread_t th;
	bool running;                   /* the thread that starts and stops it */
	bool stopping, kicked, root_dirty;   /* lock */
	struct res_doc root;            /* lock: the mount root's summary.tsv */
};

/* ---- logw.c: the log writer (its own thread; the I/O thread never writes a file) ------------- */

#define LOGW_CAP (8u << 20)  /* queued bytes past which the pushing stream is paused */

struct logw_item;
/*
 * After a piece is written (rc: 0 or -errno), on the writer's thread with no
 * lock held; owner's calls come in push order. A marker (no bytes) too.
 */
typedef void (*logw_done_fn)(void *owner, const struct logw_item *it, int rc);

struct logw_item {
	struct logw_item *next;         /* lock */
	int fd;                         /* where the bytes go; -1: a marker */
	void *owner;
	logw_done_fn done;
	unsigned *pending;              /* the owner's count of queued pieces (w->lock), or NULL */
	char ts[48];                    /* the owner's position after this piece (follow.c) */
	int n;
	size_t len;
	char data[];
};

/* What logw_push copies: the bytes, and what `done` needs to publish them. */
struct logw_piece {
	int fd;
	const void *data;
	size_t len;
	bool nl;                        /* a newline after data (build.log's lines) */
	void *owner;
	logw_done_fn done;
	unsigned *pending;
	const char *ts;
	int n;
	struct docker_call *producer;   /* paused while the queue is over LOGW_CAP; may be NULL */
};

struct logw {
	pthread_mutex_t lock;           /* a leaf, but for docker_call_pause (the client's own leaf lock) */
	pthread_cond_t cv;              /* a piece was queued, or stopping */
	pthread_cond_t idle;            /* a piece was written */
	pthread_t th;
	bool running, stopping;         /* lock */
	struct logw_item *head, *tail;  /* lock */
	size_t bytes;                   /* lock: queued bytes */
	uint64_t pushed, written, pauses; /* lock */
	struct docker_call **paused;    /* lock: streams to resume (a reference each) */
	size_t n_paused, cap_paused;    /* lock */
};

void logw_init(struct logw *w);
int logw_start(struct logw *w);
/* Writes what is queued, then ends the thread; later pushes write at once. */
void logw_stop(struct logw *w);
void logw_release(struct logw *w);
/*
 * Queues a copy of piece p: 1, and p->done runs once it is written; or, with
 * no writer thread, writes it at once: 0 (or -errno), and done is NOT
 * called (the caller publishes). -ENOMEM: nothing queued or written. Any
 * lock may be held but w->lock (it takes the client's lock to pause).
 */
int logw_push(struct logw *w, const struct logw_piece *p);
/* Until the owner's queued pieces are written and done. No lock held that a `done` takes. */
void logw_wait_owner(struct logw *w, const unsigned *pending);
void logw_stats(struct logw *w, size_t *bytes, uint64_t *pauses);

/*
 * What the layers below engine.c share: set up by engine_new() before any
 * thread starts, read-only afterwards (but conn and rw, which have their
 * own locks).
 */
struct engine_ctx {
	char *state_dir;                /* const */
	char instance[17];              /* const: this state dir's id, in names and labels */
	char instance_label[48];        /* const: "pantherfs.instance=<id>" */
	struct catalog *cat;            /* const */
	struct docker_client *dc;       /* const (thread-safe) */
	engine_notify_fn notify;        /* const: called with no lock held */
	void *nud;                      /* const */
	int grace_s, ready_s;           /* const */
	char registry[256];             /* const: --registry HOST:PORT, "" when none */
	enum engine_swarm swarm;        /* const: --swarm */
	struct conn conn;
	struct results_worker rw;       /* its own lock */
	struct logw lw;                 /* its own lock: appends logs and build.log */
};

/* Tells the filesystem what changed. No lock may be held. */
void engine_ctx_notify(struct engine_ctx *x, enum engine_change what, const char *test, int run, const char *service);

/* ---- the objects -------------------------------------------------------------------------------- */

enum run_state {
	RS_PENDING,
	RS_BUILDING,
	RS_STARTING,
	RS_RUNNING,
	RS_STOPPING,
	RS_SUCCEEDED,
	RS_FAILED,
	RS_STOPPED,
	RS_ERROR,
	/* never started: a pair of its test cannot run the test's testcase
	 * (a final word of its own, as in the interop runner's matrices: not
	 * a failure of the pair, and nothing ran to fail) */
	RS_UNSUPPORTED,
	RS_COUNT
};

struct test;
struct run;

struct svc {
	struct run *r;                   /* const */
	char *name;                      /* const */
	const struct cfg_service *cfg;   /* const: borrowed from r->cfg */
	char *command;                   /* t->lock: rendered; a placeholder address until known */
	struct timespec command_mtime;   /* t->lock */
	char status[48];                 /* t->lock: waiting, created, starting, running, ready, exited <n>, stopped, lost */
	char container[80];              /* t->lock */
	char address[64];                /* t->lock */
	char image[320];                 /* t->lock: "<ref> <id>" */
	int exit_code;                   /* t->lock: -1: none yet */
	bool created, started, ready, exited, finished, success, stop_sent, lost;   /* t->lock */
	bool *seen;                      /* t->lock: one per expected success line */
	/* a client of a testcase: what it fetched and its log, judged once it exited 0 (testcase.h) */
	bool judged, judge_ok;           /* t->lock */
	char judgement[384];             /* t->lock: why, for the verdict */
	size_t n_lines;                  /* const */
	size_t n_seen;                   /* t->lock */
	struct timespec status_mtime;    /* t->lock */

	/* logs: the file, what is published, where the follow resumes (follow.c) */
	char *logs_path;                 /* const */
	int logs_fd;                     /* t->lock */
	off_t log_size;                  /* t->lock: published: readers read [0, log_size) */
	struct timespec log_mtime;       /* t->lock */
	char last_ts[48];                /* t->lock: of the last entry received (written or queued) */
	int n_at_ts;                     /* t->lock: entries received with that stamp */
	char wr_ts[48];                  /* t->lock: of the last entry on disk (logs.pos) */
	int wr_n;                        /* t->lock: entries on disk with that stamp */
	bool log_broken;                 /* t->lock: a write failed: nothing more is published */
	unsigned lw_pending;             /* x->lw.lock: pieces of this log in the writer's queue */
	char skip_ts[48];                /* t->lock: resuming: entries up to this stamp ... */
	int skip_n;                      /* t->lock: ... with this many at it, were written before */
	uint64_t pos_written_ms;         /* t->lock */
	struct docker_call *follow;      /* t->lock */
	bool following, follow_done;     /* t->lock */
	uint64_t follow_gen;             /* t->lock: the connection the stream belongs to */

	/* the network it sees (shape.c): its netem helper, when it is shaped or captured */
	char helper[80];                 /* t->lock: the helper's container id */
	json_t *network;                 /* t->lock: network.shaped's data once announced, else NULL */
	bool net_lost;                   /* t->lock: the helper ended while the run was live */
	int net_lost_code;               /* t->lock: how it ended (its exit code, -1: gone) */

	/* on a Swarm (swarm_run.c): its service and the task that runs it */
	char service_id[64];             /* t->lock */
	char task_id[64];                /* t->lock: a stop leaves a pending task beside it */
	char node_id[64];                /* t->lock: the node of that task */
	char node[256];                  /* t->lock: its hostname */
	bool placed;                     /* t->lock: service.placed recorded */
};

struct run {
	struct test *t;                 /* const */
	int n;                          /* const */
	char *dir;                      /* const */
	char *config_text;              /* const */
	size_t config_len;              /* const */
	struct pfs_config *cfg;         /* const */
	int iteration, iterations;      /* const: run i of a series of N (run.json); 0 or 1: no series */
	struct svc *svcs;               /* const array; fields as struct svc says */
	size_t n_svcs;                  /* const */
	char net_name[160];             /* const */
	char netem_image[320];          /* t->lock: the netem helper's image, "<ref> <id>", when a service needs it */

	/* the state machine (runstate.c changes these, and saves them in run.json) */
	enum run_state state;           /* t->lock */
	enum run_state verdict;         /* t->lock: while stopping, how the run ends */
	char reason[512];               /* t->lock */
	struct timespec status_mtime;   /* t->lock */
	char *status_json;              /* t->lock: status.json as last rendered, for stat ... */
	struct timespec status_json_key;/* t->lock: ... of the state as of this change */
	uint64_t created_ms, started_ms, ended_ms, deadline_ms;   /* t->lock: wall clock */
	char net_id[96];                /* t->lock */
	bool force_build, no_cache;     /* t->lock */
	bool cleaned_previous;          /* t->lock */
	bool net_announced;             /* t->lock: network.created recorded */
	bool waiting_engine;            /* t->lock: the driver waits for the Docker engine */

	off_t events_size;              /* t->lock */
	struct timespec events_mtime;   /* t->lock */
	int build_fd;                   /* t->lock */
	off_t build_size;               /* t->lock: published: what the log writer has written */
	unsigned lw_pending;            /* x->lw.lock: build.log's lines in the writer's queue */
	struct timespec build_mtime;    /* t->lock */
	char build_what[160];           /* t->lock: "mvfst:rfc9000" while building, the ref while pulling */
	bool pulling;                   /* t->lock: the image work is a pull, not a build */
	int build_step, build_steps;    /* t->lock */
	char build_unit[48];            /* t->lock: the source tree being built ("folly") */
	char build_progress[96];        /* t->lock: inside a step: "folly 250/669" */
	uint64_t build_started_ms;      /* t->lock: when the current build began (wall clock) */
	uint64_t build_estimate_ms;     /* t->lock: how long the last build of that image took; 0: none */
	bool build_done;                /* t->lock */
	int build_err;                  /* t->lock */
	char build_msg[PFS_ERR_MSG_MAX];/* t->lock */
	char build_last_lines[3][512];  /* t->lock: the last meaningful builder lines, for the error */
	struct docker_call *build_call; /* t->lock */
	char docker_msg[PFS_ERR_MSG_MAX]; /* driver: the last Docker error a phase met */
	bool pushing;                   /* t->lock: the image work is a push to the registry */
	/* where it runs (swarm_run.c): decided once, before its first Docker object */
	char mode[8];                   /* t->lock (the driver alone writes it): "", "engine", "swarm" */
	char swarm_net[64];             /* t->lock: its overlay network's name, on a Swarm */

	pthread_t th;                   /* test.c */
	bool thread;                    /* t->lock: th runs (joined on free) */
	pthread_cond_t cv;              /* with t->lock: the driver's sleep */
	bool stop_req, kill_req;        /* t->lock: ctl stop / kill, or a new config */
	bool stop_then_start;           /* t->lock: after stopping: start run n+1 (restart, new config) */
	bool rebuild_next;              /* t->lock: ... with images rebuilt */
	bool finalized;                 /* t->lock: the thread has let go of the run */
	bool save_pending;              /* t->lock: run.json is behind (an exit recorded off the driver) */

	/* result.json (results.c) */
	json_t *result;                 /* t->lock: as last built; never changed once published */
	struct res_doc result_doc;      /* t->lock: its text */
	bool result_final;              /* t->lock: built after the run ended, never again */
	int result_err;                 /* t->lock: a final result that could not be built (-errno) */
	uint64_t result_sig;            /* t->lock: live: how much the run had written when built */
	uint64_t result_at_ms, result_cost_ms;   /* t->lock: live: when it was built (monotonic), its cost */
};

struct test {
	struct engine *e;               /* const: engine.c's alone (the list, refs) */
	struct engine_ctx *x;           /* const */
	char *name;                     /* const */
	char *dir;                      /* const */
	pthread_mutex_t lock;
	int refs;                       /* e->lock */
	bool removed;                   /* e->lock */
	uint64_t created_ms;            /* const after load */
	char *config_text;              /* t->lock: accepted; NULL while empty */
	size_t config_len;              /* t->lock */
	struct timespec config_mtime;   /* t->lock */
	char *error_text, *warnings_text;                 /* t->lock */
	struct timespec error_mtime, warnings_mtime;      /* t->lock */
	uint64_t seq;                   /* t->lock: the last event's number */
	off_t events_size;              /* t->lock */
	struct timespec events_mtime;   /* t->lock */
	struct run **runs;              /* t->lock: ascending; the last is the current one */
	size_t n_runs;                  /* t->lock */
	int next_run;                   /* t->lock */
	bool series_stopped;            /* t->lock: a stop or kill ended the series (test.json) */

	/* summary.tsv, .json, .svg (results.c) */
	struct res_doc sum_tsv, sum_json, sum_svg;   /* t->lock */
	uint64_t results_gen;           /* t->lock: bumped at every final result stored */
	uint64_t sum_gen;               /* t->lock: the results_gen the summaries show */
	bool sum_built;                 /* t->lock */
	int sum_err;                    /* t->lock: the last build failed (-errno) */
};

/* Matrices (matrix.c): every field under lock, a leaf. */
struct matrix;
struct matrices {
	/* writers of a matrix's files (apply, remove) one at a time, so the
	 * state dir and memory agree; taken before lock, held across disk writes
	 * (no reader ever waits on it) */
	pthread_mutex_t write_lock;
	pthread_mutex_t lock;
	pthread_cond_t cv;              /* the thread's sleep; signalled by a poke */
	struct matrix **v;              /* lock */
	size_t n;                       /* lock */
	bool stopping, poked;           /* lock */
	pthread_t th;
	bool th_started;                /* const after matrices_start */
};

struct engine {
	struct engine_ctx x;
	pthread_mutex_t lock;
	struct test **tests;            /* e->lock (removed ones stay until reaped) */
	size_t n_tests;                 /* e->lock */
	pthread_t monitor;
	struct matrices mx;
};


/* ---- engine.c ------------------------------------------------------------------------------------- */

struct test *engine_test_get(struct engine *e, const char *name);   /* a reference, or NULL; takes e->lock */
void engine_test_put(struct test *t);                               /* takes e->lock */
struct test *engine_test_alloc(struct engine *e, const char *name);
int engine_test_add(struct engine *e, struct test *t);              /* takes e->lock */
void engine_test_free(struct test *t);                              /* the last reference */
void engine_test_save_json(struct test *t);                         /* t->lock held */

/* ---- matrix.c ------------------------------------------------------------------------------------- */

/* Loads the state dir's matrices and starts their thread (after the tests are loaded). */
int matrices_start(struct engine *e);
/* Joins the thread and frees the matrices (first thing engine_free does: it calls the engine). */
void matrices_stop(struct engine *e);

/* ---- monitor.c ------------------------------------------------------------------------------------ */

int monitor_start(struct engine *e);
/* After conn says stopping: joins the thread. */
void monitor_join(struct engine *e);

/* ---- recovery.c ----------------------------------------------------------------------------------- */

int recovery_instance(struct engine_ctx *x);
/* Loads every test of the state dir, and takes live runs up again (their threads start). */
void recovery_load(struct engine *e);
int recovery_run_load(struct test *t, int n, struct run **out);

/* ---- test.c ----------------------------------------------------------------------------------------- */

/* run 0: the current run; NULL when there is none. t->lock held. */
struct run *test_find_run(struct test *t, int run);
struct run *test_current_run(struct test *t);
/*
 * Starts run n+1 with the test's config, as iteration 1 of a new series of
 * the config's `iterations` (a stop no longer ends it), unless a run is
 * active: then the new series starts when that run has ended. t->lock not
 * held. -ENOEXEC: no config.
 */
int test_start_run(struct test *t, bool rebuild);
/*
 * Whether r's series goes on after r: r is the current run, it ended
 * succeeded or failed (a stop, a kill or an error ends a series) as
 * iteration i < N, no stop came since, and the test's config is still the
 * one r ran. t->lock held.
 */
bool test_series_goes_on(struct test *t, struct run *r);
/*
 * Starts iteration i + 1 of r's series as run n+1, with the images r used
 * (never rebuilt). t->lock held; the caller notifies (ENGINE_RUNS,
 * ENGINE_STATUS) and kicks the results worker after unlocking.
 */
int test_next_iteration_locked(struct test *t, struct run *r);
/* Asks the active run to stop; true when there was one (t->lock held). */
bool test_request_stop(struct test *t, bool kill, bool then_start, bool rebuild);
/* Starts the driver of a loaded (or new) run (t->lock held). */
int test_run_thread(struct run *r);

/* ---- results.c ------------------------------------------------------------------------------------ */

/* Sets the worker up (engine_new, before anything can kick it); it does nothing until started. */
void results_init(struct engine *e);
/*
 * Starts the worker (after recovery_load): its first pass reads back the
 * results of every ended run and builds every summary; later passes keep
 * the current runs' result.json up to date (never more than 3 times a
 * second, and less when reading a run back costs more), rebuild a test's
 * summaries after a run ended and the root's after any change.
 */
int results_start(struct engine *e);
/* Ends the worker and joins it (the engine is stopping); NULL-safe, and a no-op when not started. */
void results_stop(struct engine_ctx *x);
/* Frees what the worker kept (after results_stop and every run thread). */
void results_release(struct engine_ctx *x);
/* Something changed: a run began or ended, a test came or went. No lock held. */
void results_kick(struct engine_ctx *x);
/*
 * A run has ended (its driver's thread, after the last transition and the
 * log streams, before it lets go of the run; no lock held): builds its
 * result.json for good from its run dir and asks the worker for the
 * summaries.
 */
void results_run_ended(struct run *r);
/*
 * The content of result.json (run r, NULL: the test has none) and of the
 * summaries (test t), as engine_file_get gives it (t->lock held): with
 * want_data false only len and mtime. -EAGAIN while it is being built
 * (a run just began, or pantherfs just started), -EIO when it could not be.
 */
int results_file(struct test *t, struct run *r, enum pfs_file id, struct engine_file *f, bool want_data);
/* The mount root's files (names.h PFS_AT_ROOT); takes rw.lock. */
int results_root_file(struct engine_ctx *x, enum pfs_file id, struct engine_file *f, bool want_data);
/* What a run or a test keeps (their _free call these). */
void results_run_clear(struct run *r);
void results_test_clear(struct test *t);

/* ---- runstate.c -------------------------------------------------------------------------------------- */

const char *run_state_name(enum run_state s);
/* The state of that name; -1 for none. */
int run_state_parse(const char *s);

static inline bool run_state_live(enum run_state s)
{
	return s <= RS_STOPPING;
}

/* Whether the transition table allows from -> to. */
bool run_transition_allowed(enum run_state from, enum run_state to);

/*
 * THE way a run changes state. Under t->lock (taken inside): checks the
 * table, sets state, reason (and, for RS_STOPPING, the verdict it will end
 * with), the timestamps that go with it (started_ms, ended_ms), records
 * the event that announces it (run.started, run.succeeded, run.failed,
 * run.stopped), saves run.json; then, unlocked, notifies. -EINVAL (logged,
 * nothing changed) for a transition the table forbids.
 */
int run_transition(struct run *r, enum run_state to, enum run_state verdict, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same with t->lock held; the caller notifies (ENGINE_STATUS, ENGINE_EVENTS) after unlocking. */
int run_transition_locked(struct run *r, enum run_state to, enum run_state verdict, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The run may still change: live, or its driver has not let go of it. t->lock held. */
bool run_active(const struct run *r);

struct run *run_new(struct test *t, int n, const char *config, size_t len, struct pfs_config *cfg);
void run_free(struct run *r);
int run_save(struct run *r);                   /* writes run.json (t->lock held) */
/* Fills r from a run.json (the fields of the table; services by name). */
void run_json_read(struct run *r, json_t *j);
json_t *run_status_json(struct run *r);        /* t->lock held */
void run_status_line(struct run *r, char *out, size_t n);   /* t->lock held */
void run_wake(struct run *r);                  /* t->lock held */
/*
 * Docker "die" for a container of this run (monitor thread; t->lock held):
 * a service's exit, or its netem helper's end (net_lost: before stopping,
 * the service has lost its network).
 */
void run_container_died(struct run *r, const char *container, int exit_code);
/* The removal of the run's network ended with rc (err: why): its event, the network forgotten (t->lock taken). */
void run_network_removed(struct run *r, const char *name, int rc, const struct pfs_err *err);
/* How containers name the run's network: its id once known (a name can be ambiguous). Takes t->lock. */
void run_net_ref(struct run *r, char *out, size_t n);
/* The labels of the run's Docker objects (svc: a service's), k, v, ..., NULL: valid until the
 * next call on this thread; runbuf holds the run's number. */
const char *const *run_labels(struct run *r, const char *svc, char *runbuf, size_t n);
/* Records a service's exit (t->lock held). */
void svc_record_exit(struct svc *s, int code);
void svc_set_status(struct svc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- run.c --------------------------------------------------------------------------------------------- */

/*
 * Drives the run from its state to its end. Returns 0 when it has ended
 * (or the engine stops), RUN_LOST when the Docker engine went away: the
 * caller waits for it (conn_wait) and calls again.
 */
#define RUN_LOST (-ENOTCONN)
int run_drive(struct run *r);
void svc_init(struct run *r, struct svc *s, const struct cfg_service *c);
/*
 * Renders a service's command (addresses: the servers' by name, or NULL
 * before they are known) and writes services/<s>/command. A command that
 * does not render is left NULL, never replaced by a stand-in: creating the
 * container then fails the run. t->lock not held.
 */
int run_render_command(struct run *r, struct svc *s, json_t *addresses);
/* Sleeps on r->cv for up to ms (t->lock held: released while asleep). */
void run_nap(struct run *r, long ms);
/* Reads one builder line for the progress inside a step ("folly 250/669"). t->lock held. */
void run_build_progress_line(struct run *r, const char *line);
/* After the driver returns for good: ends the log streams and waits for them (t->lock not held). */
void run_release_streams(struct run *r);

/* For registry.c and swarm_run.c, which are phases' parts: */
#define PHASE_END 1               /* the run is stopping with its verdict decided */
/* Decides the run's end (end_run): stopping with that verdict. Returns PHASE_END. */
int run_end(struct run *r, enum run_state verdict, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool run_stop_asked(struct run *r);
/* The test's `error` (t->lock held). */
void run_test_error(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line of pantherfs's own into build.log. */
void run_log_line(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Builds an image as phase_build does: 0, PHASE_END, RUN_LOST, -errno. */
int run_image_build(struct run *r, const struct cfg_service *c, const struct image_plan *p);
/*
 * A pull or a push with its progress in build.log and status ("building:
 * pulling <what>"): begin fills cbs for the call, await waits for its end
 * (a stop cancels it: *stopped) and returns its result (r->build_msg: why).
 */
void run_image_begin(struct run *r, const char *what, bool push, struct docker_build_cbs *cbs);
int run_image_await(struct run *r, struct docker_call *call, bool *stopped);
/* How long a stopped service may take to end. */
int run_stop_grace(struct run *r);

static inline bool run_on_swarm(const struct run *r)
{
	return r->mode[0] == 's';
}

/* ---- registry.c ------------------------------------------------------------------------------------------ */

/*
 * Makes sure a built image (not a prebuilt one) is in the engine and in the
 * registry (x->registry set): in the engine with a digest of the registry
 * (image.cached), or pulled from there (image.pulled), or built and pushed
 * (image.pushed). 0, PHASE_END, RUN_LOST or -errno (r->docker_msg).
 * t->lock not held.
 */
int registry_ensure_image(struct run *r, const struct cfg_service *c, const struct image_plan *p);
/* "<registry>/<repo>@sha256:..." of the local image ref as the registry has it; -ENOENT when never pushed. */
int registry_digest_ref(struct run *r, const char *ref, char *out, size_t n);

/* ---- swarm_run.c --------------------------------------------------------------------------------------- */

/*
 * Decides where the run goes (r->mode) when it has not yet: a Swarm
 * manager (and --swarm not off) is a Swarm, an inactive Swarm one engine, a
 * worker an error. Records what its mode cannot apply (warnings, and
 * config.warning events). 0, PHASE_END, RUN_LOST, -errno. t->lock not held.
 */
int swarm_decide(struct run *r);
/* The phases' Docker parts on a Swarm; each as the single-engine one it replaces. */
int swarm_ensure_network(struct run *r);
int swarm_ensure_service(struct run *r, struct svc *s);
int swarm_wait_ready(struct run *r, struct svc *s);
/* Tasks' states: exits, a node down (PHASE_END while live). */
int swarm_inspect(struct run *r);
int swarm_stop_service(struct run *r, struct svc *s, bool kill);
/* At the end, after the services stopped: the log streams, then services, configs, helpers, network. */
int swarm_end(struct run *r);
/* The run's labels as "k=v" filters (instance, test, run): into buf, pointers into out[4]. */
void swarm_run_filters(struct run *r, char buf[3][160], const char *out[4]);

/* ---- shape.c ------------------------------------------------------------------------------------------- */

/* Whether s needs a netem helper (conditions or a capture). */
bool svc_shaped(const struct svc *s);
/*
 * Before a service's container is made or adopted: its helper started (or
 * adopted by name), its conditions applied and announced (network.shaped,
 * once), its address the helper's. A created service whose helper is gone
 * or stopped: -ENETDOWN (its network went with it). RUN_LOST, or another
 * -errno with err saying why (the helper's own words when it failed).
 * t->lock not held.
 */
int shape_ensure(struct run *r, struct svc *s, struct pfs_err *err);
/* Inspects live helpers for an end the event stream did not tell (t->lock not held). */
int shape_inspect(struct run *r);
/* At the run's end, after its services: removes its helpers (by label: those never recorded too),
 * each stopped with a grace period so its capture is closed. 0 or RUN_LOST. t->lock not held. */
int shape_end(struct run *r, bool kill);
/* Appends "; <s>'s network: latency 100 ms, ..." to out when s is shaped (t->lock held or not: const data). */
void shape_note(const struct svc *s, char *out, size_t n);
/* How long a probe of a server waits for its answer: its egress delays it. */
int shape_probe_ms(const struct svc *s);

/* ---- follow.c ----------------------------------------------------------------------------------------- */

int svc_logs_open(struct svc *s);               /* opens/truncates per logs.pos */
/* Follows the container's logs (no lock held); gen: the connection it runs on. */
void svc_follow_start(struct svc *s, bool follow, uint64_t gen);
void svc_follow_stop(struct svc *s);            /* no lock held */
void svc_pos_save(struct svc *s);               /* t->lock held */
bool svc_line_matches(const char *text, size_t len, const char *pattern);
/* Scans the log file for the expected lines (resume). t->lock held. */
void svc_rescan_lines(struct svc *s);

/* ---- evlog.c ------------------------------------------------------------------------------------------ */

/* Appends under t->lock (taken inside), then notifies. data may be NULL (stolen). */
void evlog_add(struct test *t, struct run *r, const char *type, const char *service, json_t *data);
/* Same, with t->lock held; the caller notifies (ENGINE_EVENTS) after unlocking. */
void evlog_add_locked(struct test *t, struct run *r, const char *type, const char *service,
		      json_t *data);
/* Reads the last seq of an events file, cutting a torn last line. */
uint64_t event_last_seq(const char *path, off_t *size);

#endif
