/* SPDX-License-Identifier: MIT */
/*
 * The monitor thread owns the connection: it pings until the engine
 * answers, subscribes to Docker's events for pantherfs's labels, and when
 * the stream ends (or a driver reports a failing call: conn_kick) pings
 * again; on every (re)connection it bumps the connection's generation,
 * which wakes the drivers waiting in conn_wait() so they reconcile their
 * runs with what Docker now has (Docker replays only its last 256 events:
 * never trust the stream alone).
 *
 * Docker's events arrive on the client's I/O thread, which must not block:
 * a container's "die" is queued there (conn.lock) and recorded here (the
 * event, run.json), at once.
 *
 * It also removes what is left in Docker: containers and networks of this
 * instance whose test is gone, and networks and netem helpers of runs that
 * have ended (a removal refused while a container was still attached is
 * retried here; a helper its run could not remove goes here),
 * and finishes removing tests that were removed while their run stopped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "pantherfs/docker_swarm.h"
#include "pantherfs/log.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define MAX_QUEUED_DIES 4096

/* One subscription to Docker's events: only the current one may say it ended. */
struct sub {
	struct engine *e;
	uint64_t seq;
};

struct conn_die {
	char test[72], id[80];
	int run, code;
	struct conn_die *next;
};

/* I/O thread: queue a "die", wake the monitor. */
static void on_docker_event(void *ud, json_t *ev)
{
	struct engine *e = ((struct sub *)ud)->e;
	json_t *attrs = json_object_get(json_object_get(ev, "Actor"), "Attributes");
	const char *action = json_string_value(json_object_get(ev, "Action"));
	const char *test = json_string_value(json_object_get(attrs, "pantherfs.test"));
	const char *run = json_string_value(json_object_get(attrs, "pantherfs.run"));
	const char *id = json_string_value(json_object_get(json_object_get(ev, "Actor"), "ID"));
	const char *code = json_string_value(json_object_get(attrs, "exitCode"));
	struct conn_die *d;
	long n, c = -1;

	if (!action || !test || !run || !id || strcmp(json_string_value(json_object_get(ev, "Type")) ?: "", "container"))
		return;
	if (strcmp(action, "die") || pfs_parse_long(run, 1, INT_MAX, &n) < 0 || !pfs_name_valid(test))
		return;
	if (code)
		pfs_parse_long(code, -1, 1000, &c);
	d = calloc(1, sizeof(*d));
	if (!d)
		return; /* the driver's periodic inspection finds the exit */
	snprintf(d->test, sizeof(d->test), "%s", test);
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->run = (int)n;
	d->code = (int)c;
	pthread_mutex_lock(&e->x.conn.lock);
	if (e->x.conn.n_dies < MAX_QUEUED_DIES) {
		d->next = e->x.conn.dies;
		e->x.conn.dies = d;
		e->x.conn.n_dies++;
		d = NULL;
	}
	pthread_cond_broadcast(&e->x.conn.cv);
	pthread_mutex_unlock(&e->x.conn.lock);
	free(d);
}

/* Monitor thread: records the queued exits, oldest first. */
static void record_dies(struct engine *e)
{
	struct conn_die *list, *rev = NULL, *next;

	pthread_mutex_lock(&e->x.conn.lock);
	list = e->x.conn.dies;
	e->x.conn.dies = NULL;
	e->x.conn.n_dies = 0;
	pthread_mutex_unlock(&e->x.conn.lock);
	for (; list; list = next) {
		next = list->next;
		list->next = rev;
		rev = list;
	}
	for (; rev; rev = next) {
		struct test *t = engine_test_get(e, rev->test);

		next = rev->next;
		if (t) {
			pthread_mutex_lock(&t->lock);
			for (size_t i = 0; i < t->n_runs; i++)
				if (t->runs[i]->n == rev->run && run_state_live(t->runs[i]->state))
					run_container_died(t->runs[i], rev->id, rev->code);
			pthread_mutex_unlock(&t->lock);
			engine_ctx_notify(&e->x, ENGINE_STATUS, rev->test, 0, NULL);
			engine_ctx_notify(&e->x, ENGINE_EVENTS, rev->test, 0, NULL);
			engine_test_put(t);
		}
		free(rev);
	}
}

static void on_docker_events_done(void *ud, const struct docker_result *r)
{
	struct sub *sb = ud;
	struct conn *c = &sb->e->x.conn;

	(void)r;
	pthread_mutex_lock(&c->lock);
	if (sb->seq == c->events_seq) {
		c->check = true;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->lock);
	free(sb);
}

/*
 * Whether a labelled object of this instance is still needed: its test
 * exists, and for a run's network or netem helper (per_run), its run is
 * active.
 */
static bool still_needed(struct engine *e, json_t *labels, bool per_run)
{
	const char *test = json_string_value(json_object_get(labels, "pantherfs.test"));
	const char *run = json_string_value(json_object_get(labels, "pantherfs.run"));
	struct test *t = test ? engine_test_get(e, test) : NULL;
	struct run *r;
	bool needed;
	long n;

	if (!test)
		return true; /* not a run's: not ours to judge */
	if (!t)
		return false;
	needed = true;
	if (per_run && run && pfs_parse_long(run, 1, INT_MAX, &n) == 0) {
		pthread_mutex_lock(&t->lock);
		r = test_find_run(t, (int)n);
		/* a run's network goes when it ends (containers stay for inspection) */
		needed = r && run_active(r);
		pthread_mutex_unlock(&t->lock);
	}
	engine_test_put(t);
	return needed;
}

/*
 * On a Swarm manager: services and configs of runs that have ended (a run
 * removes its own; these are what a kill or a refused removal left), before
 * the networks they hold.
 */
static void sweep_swarm(struct engine *e)
{
	const char *labels[] = { e->x.instance_label, NULL };
	json_t *list = NULL, *it;
	size_t i;

	if (docker_service_list(e->x.dc, labels, &list, NULL) == 0)
		json_array_foreach(list, i, it)
			if (!still_needed(e, json_object_get(json_object_get(it, "Spec"), "Labels"), true))
				docker_service_remove(e->x.dc, json_string_value(json_object_get(it, "ID")), NULL);
	json_decref(list);
	list = NULL;
	if (docker_config_list(e->x.dc, labels, &list, NULL) == 0)
		json_array_foreach(list, i, it)
			if (!still_needed(e, json_object_get(json_object_get(it, "Spec"), "Labels"), true))
				docker_config_remove(e->x.dc, json_string_value(json_object_get(it, "ID")), NULL);
	json_decref(list);
}

static void sweep(struct engine *e)
{
	const char *labels[] = { e->x.instance_label, NULL };
	json_t *list = NULL, *it;
	size_t i;
	bool manager;

	pthread_mutex_lock(&e->x.conn.lock);
	manager = e->x.conn.swarm_manager;
	pthread_mutex_unlock(&e->x.conn.lock);
	if (manager)
		sweep_swarm(e);

	if (docker_container_list(e->x.dc, labels, true, &list, NULL) == 0)
		json_array_foreach(list, i, it) {
			json_t *l = json_object_get(it, "Labels");

			/* a netem or probe helper, like a network, is needed only while its run is active */
			if (!still_needed(e, l, json_object_get(l, "pantherfs.helper") != NULL))
				docker_container_remove(e->x.dc, json_string_value(json_object_get(it, "Id")), true, NULL);
		}
	json_decref(list);
	list = NULL;
	if (docker_network_list(e->x.dc, labels, &list, NULL) == 0)
		json_array_foreach(list, i, it)
			if (!still_needed(e, json_object_get(it, "Labels"), true))
				docker_network_remove(e->x.dc, json_string_value(json_object_get(it, "Id")), NULL);
	json_decref(list);
}

/*
 * Tells every live run that the Docker engine went away (up false) or came
 * back: an event, and the status line's "(waiting for the Docker engine)".
 */
static void change_live_tests(struct engine *e, bool up, const char *type, json_t *data)
{
	struct test **ts;
	size_t n;

	pthread_mutex_lock(&e->lock);
	n = e->n_tests;
	ts = calloc(n + 1, sizeof(*ts));
	for (size_t i = 0; ts && i < n; i++) {
		ts[i] = e->tests[i];
		ts[i]->refs++;
	}
	pthread_mutex_unlock(&e->lock);
	for (size_t i = 0; ts && i < n; i++) {
		struct run *r;

		pthread_mutex_lock(&ts[i]->lock);
		r = test_current_run(ts[i]);
		if (r && run_state_live(r->state)) {
			evlog_add_locked(ts[i], r, type, NULL, json_deep_copy(data));
			r->waiting_engine = !up;
			pfs_realtime_ts(&r->status_mtime);
		}
		pthread_mutex_unlock(&ts[i]->lock);
		engine_ctx_notify(&e->x, ENGINE_EVENTS, ts[i]->name, 0, NULL);
		engine_ctx_notify(&e->x, ENGINE_STATUS, ts[i]->name, 0, NULL);
		engine_test_put(ts[i]);
	}
	free(ts);
	json_decref(data);
}

static void subscribe(struct engine *e)
{
	const char *labels[] = { e->x.instance_label, NULL };
	struct docker_events_cbs cbs = { .on_event = on_docker_event, .on_done = on_docker_events_done };
	struct conn *c = &e->x.conn;
	struct docker_call *old, *call;
	struct sub *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return;
	pthread_mutex_lock(&c->lock);
	old = c->events_call;
	c->events_call = NULL;
	sb->e = e;
	sb->seq = ++c->events_seq;
	pthread_mutex_unlock(&c->lock);
	cbs.ud = sb;
	if (old) {
		docker_call_cancel(old);
		docker_call_unref(old);
	}
	call = docker_events(e->x.dc, labels, 0, &cbs, NULL);
	if (!call)
		free(sb);
	pthread_mutex_lock(&c->lock);
	c->events_call = call;
	c->check = call == NULL;
	pthread_mutex_unlock(&c->lock);
}

/* Tests removed while their run was stopping: done once the run has ended. True if any is left. */
static bool reap_removed(struct engine *e)
{
	bool pending = false;

	for (;;) {
		struct test *t = NULL;

		pending = false;
		pthread_mutex_lock(&e->lock);
		for (size_t i = 0; i < e->n_tests && !t; i++) {
			struct test *c = e->tests[i];
			bool done = true;

			if (!c->removed)
				continue;
			pthread_mutex_lock(&c->lock);
			for (size_t k = 0; k < c->n_runs; k++)
				done &= !run_active(c->runs[k]);
			pthread_mutex_unlock(&c->lock);
			if (done) {
				t = c;
				memmove(&e->tests[i], &e->tests[i + 1], (e->n_tests - i - 1) * sizeof(*e->tests));
				e->n_tests--;
			} else {
				pending = true;
			}
		}
		pthread_mutex_unlock(&e->lock);
		if (!t)
			return pending;
		conn_kick(&e->x.conn); /* sweep its containers at the next turn */
		pfs_rm_rf(t->dir);
		engine_test_put(t); /* the list's reference */
	}
}

/* What the engine line adds about the Swarm: where runs go. */
static const char *swarm_words(const struct engine_ctx *x, const struct docker_swarm_info *si)
{
	static __thread char w[96];

	if (!si || !si->active)
		return x->swarm == ENGINE_SWARM_ON ? ", no swarm: --swarm=on runs cannot start" : "";
	if (!si->manager)
		return x->swarm == ENGINE_SWARM_OFF ? ", swarm worker, runs on this engine (--swarm=off)"
						    : ", swarm worker: runs need a manager";
	if (x->swarm == ENGINE_SWARM_OFF)
		return ", swarm manager, runs on this engine (--swarm=off)";
	snprintf(w, sizeof(w), ", swarm manager of %d node%s", si->nodes, si->nodes == 1 ? "" : "s");
	return w;
}

/*
 * One loop: ping. Unreachable: say so once, wait with backoff. Reachable
 * after being away, or with the event stream gone, or a driver asking:
 * subscribe again, bump the generation (drivers reconcile). Sweep. Then
 * wait up to 10 s for trouble, recording container exits as they come
 * (nothing else in their way), and ping again (an engine can hang without
 * closing its sockets).
 */
static void *monitor_main(void *arg)
{
	struct engine *e = arg;
	struct conn *c = &e->x.conn;
	int backoff = 1;
	bool ever = false;

	for (;;) {
		struct docker_ping_info pi;
		struct pfs_err err = { 0 };
		struct timespec ts;
		json_t *v = NULL;
		bool resync, was, pending;
		int rc;

		if (conn_stopping(c))
			break;
		record_dies(e);
		pending = reap_removed(e);

		rc = docker_ping(e->x.dc, &pi, &err);
		if (rc == 0)
			rc = docker_version(e->x.dc, &v, &err);
		if (rc < 0) {
			pthread_mutex_lock(&c->lock);
			was = c->connected || !ever;
			c->connected = false;
			snprintf(c->line, sizeof(c->line), "disconnected: %s", err.msg);
			pthread_cond_broadcast(&c->cv);
			pthread_mutex_unlock(&c->lock);
			if (was) {
				pfs_warn("Docker engine: %s", err.msg);
				if (ever)
					change_live_tests(e, false, "engine.disconnected", json_pack("{s:s}", "reason", err.msg));
				engine_ctx_notify(&e->x, ENGINE_ENGINE, NULL, 0, NULL);
			}
			pthread_mutex_lock(&c->lock);
			if (!c->stopping) {
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += backoff;
				pthread_cond_timedwait(&c->cv, &c->lock, &ts);
			}
			pthread_mutex_unlock(&c->lock);
			backoff = backoff < 8 ? backoff * 2 : 8;
			continue;
		}
		backoff = 1;

		pthread_mutex_lock(&c->lock);
		was = c->connected;
		resync = !c->connected || c->check;
		c->check = false;
		pthread_mutex_unlock(&c->lock);
		if (resync) {
			struct docker_swarm_info si = { .state = "" };
			bool known = docker_swarm_detect(e->x.dc, &si, NULL) == 0;

			subscribe(e);
			pthread_mutex_lock(&c->lock);
			c->connected = true;
			c->gen++;
			c->swarm_known = known;
			c->swarm_manager = known && si.active && si.manager;
			c->swarm_worker = known && si.active && !si.manager;
			c->swarm_nodes = si.nodes;
			snprintf(c->line, sizeof(c->line), "connected %s api %s%s",
				 json_string_value(json_object_get(v, "Version")) ?: "?", pi.api_version,
				 swarm_words(&e->x, known ? &si : NULL));
			pthread_cond_broadcast(&c->cv);
			pthread_mutex_unlock(&c->lock);
			if (!was) {
				if (ever)
					change_live_tests(e, true, "engine.connected", json_pack("{s:s}", "api", pi.api_version));
				engine_ctx_notify(&e->x, ENGINE_ENGINE, NULL, 0, NULL);
			}
			ever = true;
		}
		json_decref(v);
		sweep(e);

		pthread_mutex_lock(&c->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += pending ? 1 : 10;
		for (;;) {
			bool timed_out = false;

			while (!c->stopping && !c->check && !c->dies) {
				if (pthread_cond_timedwait(&c->cv, &c->lock, &ts) == ETIMEDOUT) {
					timed_out = true;
					break;
				}
			}
			if (timed_out || c->stopping || c->check || !c->dies)
				break;
			/*
			 * Exits only: recorded at once, and back to waiting until the
			 * same deadline. The ping, the version and the sweep (Docker
			 * calls, 10-20 ms on a busy engine) are not in their way: they
			 * made the p99 of exit -> service.exited 20 ms past Docker's
			 * own event (issue 16's benchmark).
			 */
			pthread_mutex_unlock(&c->lock);
			record_dies(e);
			pthread_mutex_lock(&c->lock);
		}
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

int monitor_start(struct engine *e)
{
	int r = pthread_create(&e->monitor, NULL, monitor_main, e);

	return r ? -r : 0;
}

/* Cancels and drops the events subscription, if any. Takes conn.lock. */
static void drop_events_call(struct engine *e)
{
	struct docker_call *ev;

	pthread_mutex_lock(&e->x.conn.lock);
	ev = e->x.conn.events_call;
	e->x.conn.events_call = NULL;
	pthread_mutex_unlock(&e->x.conn.lock);
	if (ev) {
		docker_call_cancel(ev);
		docker_call_unref(ev);
	}
}

void monitor_join(struct engine *e)
{
	struct conn_die *d;

	drop_events_call(e);
	pthread_join(e->monitor, NULL);
	/*
	 * Again once the thread is gone: a subscribe() that was between
	 * docker_events() and storing its call when the first drop ran has stored
	 * it since, and nobody else would cancel it (LeakSanitizer saw the call
	 * and its curl handle leak at exit).
	 */
	drop_events_call(e);
	pthread_mutex_lock(&e->x.conn.lock);
	while ((d = e->x.conn.dies)) {
		e->x.conn.dies = d->next;
		free(d);
	}
	e->x.conn.n_dies = 0;
	pthread_mutex_unlock(&e->x.conn.lock);
}
