/* SPDX-License-Identifier: MIT */
/*
 * Shared between the files of src/engine. Locking:
 *   e->lock   the test list, the connection state, the engine line;
 *   t->lock   everything of one test and its runs (states, services, sizes).
 * Order: e->lock before t->lock. Neither is held across a Docker call, a
 * notification, or a wait on another thread. A run's driver sleeps on
 * r->cv with t->lock.
 */
#ifndef PANTHERFS_ENGINE_INTERNAL_H
#define PANTHERFS_ENGINE_INTERNAL_H

#include <pthread.h>
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
};

static inline bool run_state_live(enum run_state s)
{
	return s <= RS_STOPPING;
}

const char *run_state_name(enum run_state s);

struct test;
struct run;

struct svc {
	struct run *r;
	char *name;
	const struct cfg_service *cfg;   /* borrowed from r->cfg */
	char *command;                   /* rendered; a placeholder address until known */
	struct timespec command_mtime;
	char status[48];                 /* waiting, created, starting, running, ready, exited <n>, stopped, lost */
	char container[80];
	char address[64];
	char image[320];
	int exit_code;                   /* -1: none yet */
	bool created, started, ready, exited, finished, success, stop_sent, lost;
	bool *seen;                      /* one per expected success line */
	size_t n_lines, n_seen;
	struct timespec status_mtime;

	/* logs: the file, what is published, where the follow resumes */
	char *logs_path;
	int logs_fd;
	off_t log_size;
	struct timespec log_mtime;
	char last_ts[48];                /* of the last entry written */
	int n_at_ts;                     /* entries written with that stamp */
	char skip_ts[48];                /* resuming: entries up to this stamp ... */
	int skip_n;                      /* ... with this many at it, were written before */
	uint64_t pos_written_ms;
	struct docker_call *follow;
	bool following, follow_done;
	uint64_t follow_gen;             /* engine connection the stream belongs to */
};

struct run {
	struct test *t;
	int n;
	enum run_state state;
	char reason[512];
	enum run_state verdict;         /* while stopping: how the run ends (saved: a restart keeps it) */
	char *dir;
	char *config_text;
	size_t config_len;
	struct pfs_config *cfg;
	struct svc *svcs;
	size_t n_svcs;
	char net_name[160], net_id[96];
	bool force_build, no_cache, cleaned_previous;
	bool net_announced;             /* network.created recorded */
	uint64_t created_ms, started_ms, ended_ms, deadline_ms;   /* wall clock */
	struct timespec status_mtime;

	off_t events_size;
	struct timespec events_mtime;
	int build_fd;
	off_t build_size;
	struct timespec build_mtime;
	char build_what[160];           /* "mvfst:rfc9000" while building, the ref while pulling */
	bool pulling;                   /* the image work is a pull, not a build */
	bool waiting_engine;            /* the driver waits for the Docker engine to come back */
	int build_step, build_steps;
	bool build_done;
	int build_err;
	char build_msg[PFS_ERR_MSG_MAX];
	char build_last_lines[3][512];  /* the last meaningful builder lines, for the error */
	struct docker_call *build_call;
	char docker_msg[PFS_ERR_MSG_MAX]; /* the last Docker error a phase met (driver only) */

	pthread_t th;
	bool thread;                    /* th is running (joined on free) */
	pthread_cond_t cv;
	bool stop_req, kill_req;        /* ctl stop / kill, or a new config */
	bool stop_then_start;           /* after stopping: start run n+1 (restart, new config) */
	bool rebuild_next;              /* ... with images rebuilt */
	bool finalized;
};

struct test {
	struct engine *e;
	char *name;
	char *dir;
	pthread_mutex_t lock;
	int refs;                       /* e->lock */
	bool removed;
	uint64_t created_ms;
	char *config_text;              /* accepted; NULL while empty */
	size_t config_len;
	struct timespec config_mtime;
	char *error_text, *warnings_text;
	struct timespec error_mtime, warnings_mtime;
	uint64_t seq;
	off_t events_size;
	struct timespec events_mtime;
	struct run **runs;
	size_t n_runs;
	int next_run;
};

struct engine {
	char *state_dir;
	char instance[17];              /* this state dir's id: in names and labels */
	char instance_label[48];        /* "pantherfs.instance=<id>" */
	struct catalog *cat;
	struct docker_client *dc;
	engine_notify_fn notify;
	void *nud;
	int grace_s, ready_s;

	pthread_mutex_t lock;
	pthread_cond_t conn_cv;
	struct test **tests;
	size_t n_tests;
	bool connected;
	uint64_t conn_gen;
	char line[512];
	bool stopping;
	pthread_t monitor;
	bool events_ended;
	uint64_t events_seq;
	struct docker_call *events_call;
};

/* engine.c */
void engine_notify(struct engine *e, enum engine_change what, const char *test, int run,
		   const char *service);
struct test *engine_test_get(struct engine *e, const char *name);   /* a reference, or NULL */
void engine_test_put(struct test *t);
/* Blocks until the engine is connected with a generation > gen, or it stops (false). */
bool engine_wait_connected(struct engine *e, uint64_t gen);
uint64_t engine_conn_gen(struct engine *e);
/* Starts the next run with the test's config (called by a run that stopped for it). */
void engine_start_next_run(struct test *t, bool rebuild);
bool engine_is_connected(struct engine *e);
/* A Docker error that means "the engine went away" (wait and reconcile). */
bool engine_lost(int err);
void now_ts(struct timespec *ts);

/* evlog.c: appends under t->lock; notifies after unlocking. data may be NULL (stolen). */
void event_add(struct test *t, struct run *r, const char *type, const char *service, json_t *data);
/* Same, with t->lock already held; the caller notifies (ENGINE_EVENTS) after unlocking. */
void event_add_locked(struct test *t, struct run *r, const char *type, const char *service,
		      json_t *data);
/* Reads the last seq of an events file, cutting a torn last line. */
uint64_t event_last_seq(const char *path, off_t *size);

/* run.c */
struct run *run_new(struct test *t, int n, const char *config, size_t len, struct pfs_config *cfg);
void run_free(struct run *r);
int run_save(struct run *r);                   /* writes run.json (t->lock held) */
int run_load(struct test *t, int n, struct run **out);
int run_start_thread(struct run *r);
void run_wake(struct run *r);                  /* t->lock held */
json_t *run_status_json(struct run *r);        /* t->lock held */
void run_status_line(struct run *r, char *out, size_t n);   /* t->lock held */
void run_join(struct run *r);
/* Docker "die" for a container of this run (monitor thread). */
void run_container_died(struct run *r, const char *container, int exit_code);

/* follow.c */
int svc_logs_open(struct svc *s);               /* opens/truncates per logs.pos */
void svc_follow_start(struct svc *s, bool follow);   /* no lock held */
void svc_follow_stop(struct svc *s);            /* no lock held */
void svc_pos_save(struct svc *s);               /* t->lock held */
bool line_matches(const char *text, size_t len, const char *pattern);
/* Scans the log file for the expected lines (resume). t->lock held. */
void svc_rescan_lines(struct svc *s);

#endif
