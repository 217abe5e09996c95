/* SPDX-License-Identifier: MIT */
/*
 * The run state machine, in one place.
 *
 *   pending --> building --> starting --> running --> stopping --> succeeded
 *      \            \            \            \          ^     --> failed
 *       `------------`------------`------------`---------'     --> stopped
 *                                                              --> error
 *                                                              --> unsupported
 *
 * A run ends only through stopping: whatever decides its end (every client
 * finished, a timeout, a stop, a build that failed, a server that died)
 * moves it to stopping with the verdict it will end with, saved, so that a
 * pantherfs killed while stopping ends the run the same way when it comes
 * back. Two more edges: a live state to itself (a phase re-entered when a
 * run is taken up again), and a live state straight to failed or error
 * (recovery: a run interrupted by a newer one; a run whose thread could not
 * start). A run whose testcase a pair of its test cannot run goes from
 * pending straight to stopping with the verdict unsupported: nothing is
 * built or started, and the end says why (not failed: the pair did not
 * fail, it was never asked to run). run_transition() is the only function
 * that changes r->state (recovery.c reads it back from run.json); the
 * tests in tests/unit/check_runstate.c walk the table.
 *
 * run.json and status.json are one JSON object written and read through
 * one field table (run_fields, svc_fields).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "pantherfs/log.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static const char *const state_names[RS_COUNT] = { "pending", "building", "starting", "running", "stopping",
						    "succeeded", "failed", "stopped", "error", "unsupported" };

const char *run_state_name(enum run_state s)
{
	return (unsigned)s < RS_COUNT ? state_names[s] : "?";
}

int run_state_parse(const char *s)
{
	for (size_t i = 0; s && i < RS_COUNT; i++)
		if (!strcmp(s, state_names[i]))
			return (int)i;
	return -1;
}

/* allowed[from] is the set of states it may go to */
#define B(s) (1u << (s))
#define LIVE_SELF_AND_ABORT(s) (B(s) | B(RS_STOPPING) | B(RS_FAILED) | B(RS_ERROR))
static const unsigned allowed[RS_COUNT] = {
	[RS_PENDING] = LIVE_SELF_AND_ABORT(RS_PENDING) | B(RS_BUILDING),
	[RS_BUILDING] = LIVE_SELF_AND_ABORT(RS_BUILDING) | B(RS_STARTING),
	[RS_STARTING] = LIVE_SELF_AND_ABORT(RS_STARTING) | B(RS_RUNNING),
	[RS_RUNNING] = LIVE_SELF_AND_ABORT(RS_RUNNING),
	[RS_STOPPING] = B(RS_STOPPING) | B(RS_SUCCEEDED) | B(RS_FAILED) | B(RS_STOPPED) | B(RS_ERROR) |
			B(RS_UNSUPPORTED),
};

bool run_transition_allowed(enum run_state from, enum run_state to)
{
	return (unsigned)from < RS_COUNT && (unsigned)to < RS_COUNT && (allowed[from] & B(to));
}

bool run_active(const struct run *r)
{
	return run_state_live(r->state) || (r->thread && !r->finalized);
}

static const char *end_event(enum run_state s)
{
	switch (s) {
	case RS_SUCCEEDED:
		return "run.succeeded";
	case RS_STOPPED:
		return "run.stopped";
	case RS_FAILED:
	case RS_ERROR:
		return "run.failed";
	case RS_UNSUPPORTED:
		return "run.unsupported";
	default:
		return NULL;
	}
}

static int transition_v(struct run *r, enum run_state to, enum run_state verdict, const char *fmt, va_list ap)
{
	enum run_state from = r->state;
	uint64_t now = pfs_wall_ms();

	if (!run_transition_allowed(from, to)) {
		pfs_err_log("test %s run %d: no transition from %s to %s", r->t->name, r->n, run_state_name(from),
			    run_state_name(to));
		return -EINVAL;
	}
	r->state = to;
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	if (to == RS_STOPPING && from != RS_STOPPING)
		r->verdict = verdict;
	if (to == RS_BUILDING && from == RS_PENDING)
		evlog_add_locked(r->t, r, "run.started", NULL,
				 json_pack("{s:i,s:I,s:i,s:i}", "services", (int)r->n_svcs, "timeout",
					   (json_int_t)r->cfg->timeout_s, "iteration", PFS_MAX(r->iteration, 1),
					   "iterations", PFS_MAX(r->iterations, 1)));
	if (to == RS_STARTING && !r->started_ms)
		r->started_ms = now;
	/* the test's timeout is how long its services run, once all are up */
	if (to == RS_RUNNING && !r->deadline_ms)
		r->deadline_ms = now + (uint64_t)r->cfg->timeout_s * 1000;
	if (!run_state_live(to)) {
		r->ended_ms = now;
		evlog_add_locked(r->t, r, end_event(to), NULL, json_pack("{s:s}", "reason", r->reason));
	}
	run_save(r);
	return 0;
}

int run_transition_locked(struct run *r, enum run_state to, enum run_state verdict, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = transition_v(r, to, verdict, fmt, ap);
	va_end(ap);
	return rc;
}

int run_transition(struct run *r, enum run_state to, enum run_state verdict, const char *fmt, ...)
{
	struct engine_ctx *x = r->t->x;
	va_list ap;
	int rc;

	pthread_mutex_lock(&r->t->lock);
	va_start(ap, fmt);
	rc = transition_v(r, to, verdict, fmt, ap);
	va_end(ap);
	run_wake(r);
	pthread_mutex_unlock(&r->t->lock);
	if (rc == 0) {
		engine_ctx_notify(x, ENGINE_STATUS, r->t->name, r->n, NULL);
		engine_ctx_notify(x, ENGINE_EVENTS, r->t->name, r->n, NULL);
		if (!run_state_live(to))
			engine_ctx_notify(x, ENGINE_RUNS, r->t->name, r->n, NULL);
	}
	return rc;
}

void run_wake(struct run *r)
{
	pthread_cond_broadcast(&r->cv);
}

/* ---- services' records (t->lock held) -------------------------------------------------------------- */

void svc_set_status(struct svc *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->status, sizeof(s->status), fmt, ap);
	va_end(ap);
	pfs_realtime_ts(&s->status_mtime);
}

void svc_record_exit(struct svc *s, int code)
{
	if (s->exited)
		return;
	s->exited = true;
	s->exit_code = code;
	if (s->stop_sent)
		svc_set_status(s, "stopped");
	else
		svc_set_status(s, "exited %d", code);
	evlog_add_locked(s->r->t, s->r, "service.exited", s->name, json_pack("{s:i}", "exit_code", code));
	/*
	 * run.json follows on the driver's thread (run_nap, or its end): an
	 * exit recorded from Docker's events must not wait for a file to be
	 * replaced before its event is published. The event is written first:
	 * a restart before the save learns the exit from it (recovery.c).
	 */
	s->r->save_pending = true;
	pfs_realtime_ts(&s->r->status_mtime);
	run_wake(s->r);
}

void run_container_died(struct run *r, const char *container, int code)
{
	for (size_t i = 0; i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];

		if (s->container[0] && !strcmp(s->container, container))
			svc_record_exit(s, code);
		/* a helper ends by design only once the run is stopping (shape_end) */
		if (s->helper[0] && !strcmp(s->helper, container) && r->state < RS_STOPPING && !s->net_lost) {
			s->net_lost = true;
			s->net_lost_code = code;
			evlog_add_locked(r->t, r, "network.lost", s->name,
					 json_pack("{s:s,s:i}", "helper", s->helper, "exit_code", code));
			run_save(r);
			run_wake(r);
		}
	}
}

const char *const *run_labels(struct run *r, const char *svc, char *runbuf, size_t n)
{
	static __thread const char *kv[11];

	snprintf(runbuf, n, "%d", r->n);
	kv[0] = "pantherfs.managed";
	kv[1] = "1";
	kv[2] = "pantherfs.instance";
	kv[3] = r->t->x->instance;
	kv[4] = "pantherfs.test";
	kv[5] = r->t->name;
	kv[6] = "pantherfs.run";
	kv[7] = runbuf;
	kv[8] = svc ? "pantherfs.service" : NULL;
	kv[9] = svc;
	kv[10] = NULL;
	return kv;
}

/* ---- the status line -------------------------------------------------------------------------------- */

static void status_word_reason(struct run *r, char *out, size_t n)
{
	size_t up = 0;

	switch (r->state) {
	case RS_BUILDING:
		if (r->pulling)
			snprintf(out, n, "building: %s %s", r->pushing ? "pushing" : "pulling", r->build_what);
		else if (r->build_steps) {
			size_t k = (size_t)snprintf(out, n, "building %s step %d/%d%s%s", r->build_what, r->build_step,
						    r->build_steps, r->build_progress[0] ? ": " : "", r->build_progress);

			if (r->build_estimate_ms && k < n)
				snprintf(out + k, n - k, " (%llu min of about %llu)",
					 (unsigned long long)((pfs_wall_ms() - r->build_started_ms) / 60000),
					 (unsigned long long)((r->build_estimate_ms + 59999) / 60000));
		}
		else
			snprintf(out, n, "building %s", r->build_what[0] ? r->build_what : "images");
		return;
	case RS_RUNNING:
		for (size_t i = 0; i < r->n_svcs; i++)
			up += r->svcs[i].started && !r->svcs[i].exited;
		snprintf(out, n, "running %zu/%zu services", up, r->n_svcs);
		return;
	default:
		snprintf(out, n, "%s%s%s", run_state_name(r->state), r->reason[0] ? " " : "", r->reason);
	}
}

void run_status_line(struct run *r, char *out, size_t n)
{
	size_t k;

	status_word_reason(r, out, n);
	if (r->iterations > 1) {
		/* "running iteration 2/5: 2/2 services": which run of the series, after the word */
		char rest[640];
		size_t w = strcspn(out, " :"), k2 = w;

		while (out[k2] == ' ' || out[k2] == ':')
			k2++;
		snprintf(rest, sizeof(rest), "%s", out + k2);
		snprintf(out + w, n - w, " iteration %d/%d%s%s", r->iteration, r->iterations, *rest ? ": " : "", rest);
	}
	k = strlen(out);
	if (r->waiting_engine && run_state_live(r->state) && k < n)
		snprintf(out + k, n - k, " (waiting for the Docker engine)");
	/* one line, whatever a reason holds */
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
}

/* ---- run.json: one field table for writing and reading ------------------------------------------------ */

enum ftype {
	F_STATE,      /* an enum run_state, by name */
	F_VERDICT,    /* the verdict: a name while stopping, "" otherwise */
	F_STR,        /* a char array */
	F_PSTR,       /* a malloc'd char * */
	F_U64,
	F_INT,
	F_INT_OR_NULL,/* an int, null when negative */
	F_BOOL,
	F_SIZE,       /* a size_t, written only */
	F_JSON,       /* a json_t * (owned reference), null when NULL */
	/* written only, computed */
	F_TEST, F_RUNNO, F_STATUS, F_NETNAME, F_SERVICES, F_PLAN, F_ROLE, F_EXPECTED, F_BUILD,
};

struct field {
	const char *key;
	enum ftype type;
	size_t off;
	size_t size;
	bool no_load;      /* written, never read back (derived or transient) */
};

#define RF(k, t, m) { k, t, offsetof(struct run, m), sizeof(((struct run *)0)->m), false }
#define SF(k, t, m) { k, t, offsetof(struct svc, m), sizeof(((struct svc *)0)->m), false }
#define OUT(k, t) { k, t, 0, 0, true }

static const struct field run_fields[] = {
	OUT("test", F_TEST),
	OUT("run", F_RUNNO),
	RF("state", F_STATE, state),
	RF("reason", F_STR, reason),
	RF("verdict", F_VERDICT, verdict),
	OUT("status", F_STATUS),
	RF("iteration", F_INT, iteration),
	RF("iterations", F_INT, iterations),
	RF("created_ms", F_U64, created_ms),
	RF("started_ms", F_U64, started_ms),
	RF("ended_ms", F_U64, ended_ms),
	RF("deadline_ms", F_U64, deadline_ms),
	OUT("network", F_NETNAME),
	RF("network_id", F_STR, net_id),
	RF("netem_image", F_STR, netem_image),
	RF("force_build", F_BOOL, force_build),
	RF("no_cache", F_BOOL, no_cache),
	RF("cleaned_previous", F_BOOL, cleaned_previous),
	RF("mode", F_STR, mode),
	RF("swarm_network", F_STR, swarm_net),
	{ "waiting_for_engine", F_BOOL, offsetof(struct run, waiting_engine), sizeof(bool), true },
	OUT("services", F_SERVICES),
	OUT("plan", F_PLAN),
	OUT("build", F_BUILD),
};

static const struct field svc_fields[] = {
	OUT("role", F_ROLE),
	SF("status", F_STR, status),
	SF("command", F_PSTR, command),
	SF("container", F_STR, container),
	SF("address", F_STR, address),
	SF("image", F_STR, image),
	SF("exit_code", F_INT_OR_NULL, exit_code),
	SF("ready", F_BOOL, ready),
	SF("finished", F_BOOL, finished),
	SF("success", F_BOOL, success),
	{ "lines_seen", F_SIZE, offsetof(struct svc, n_seen), sizeof(size_t), true },
	OUT("lines_expected", F_EXPECTED),
	SF("created", F_BOOL, created),
	SF("started", F_BOOL, started),
	SF("stop_sent", F_BOOL, stop_sent),
	SF("lost", F_BOOL, lost),
	SF("helper", F_STR, helper),
	SF("network", F_JSON, network),
	SF("judged", F_BOOL, judged),
	SF("testcase_passed", F_BOOL, judge_ok),
	SF("judgement", F_STR, judgement),
	SF("service", F_STR, service_id),
	SF("task", F_STR, task_id),
	SF("node_id", F_STR, node_id),
	SF("node", F_STR, node),
	SF("placed", F_BOOL, placed),
};

static json_t *services_json(struct run *r);

static json_t *field_out(const struct field *f, void *obj, struct run *r, struct svc *s)
{
	char *p = (char *)obj + f->off;
	char line[640];

	switch (f->type) {
	case F_STATE:
		return json_string(run_state_name(*(enum run_state *)p));
	case F_VERDICT:
		return json_string(r->state == RS_STOPPING ? run_state_name(*(enum run_state *)p) : "");
	case F_STR:
		return json_string(p);
	case F_PSTR:
		return json_string(*(char **)p ? *(char **)p : "");
	case F_U64:
		return json_integer((json_int_t) * (uint64_t *)p);
	case F_INT:
		return json_integer(*(int *)p);
	case F_INT_OR_NULL:
		return *(int *)p >= 0 ? json_integer(*(int *)p) : json_null();
	case F_BOOL:
		return json_boolean(*(bool *)p);
	case F_SIZE:
		return json_integer((json_int_t) * (size_t *)p);
	case F_JSON:
		return *(json_t **)p ? json_incref(*(json_t **)p) : json_null();
	case F_TEST:
		return json_string(r->t->name);
	case F_RUNNO:
		return json_integer(r->n);
	case F_STATUS:
		run_status_line(r, line, sizeof(line));
		return json_string(line);
	case F_NETNAME:
		return json_string(r->swarm_net[0] ? r->swarm_net : r->net_name);
	case F_SERVICES:
		return services_json(r);
	case F_BUILD:
		/* the image work now: which step, inside it, and how long the last build took */
		if (r->state != RS_BUILDING)
			return json_null();
		return json_pack("{s:s,s:b,s:i,s:i,s:s,s:I,s:I}", "image", r->build_what, "pulling", r->pulling, "step",
				 r->build_step, "steps", r->build_steps, "progress", r->build_progress, "elapsed_ms",
				 (json_int_t)(pfs_wall_ms() - r->build_started_ms), "estimate_ms",
				 (json_int_t)r->build_estimate_ms);
	case F_PLAN:
		return r->cfg && r->cfg->summary ? json_incref(r->cfg->summary) : json_null();
	case F_ROLE:
		return json_string(s->cfg->role == CFG_SERVER ? "server" : "client");
	case F_EXPECTED:
		return json_integer((json_int_t)s->n_lines);
	}
	return json_null();
}

static void field_in(const struct field *f, void *obj, json_t *v)
{
	char *p = (char *)obj + f->off;
	int st;

	if (f->no_load || !v)
		return;
	switch (f->type) {
	case F_STATE:
	case F_VERDICT:
		st = run_state_parse(json_string_value(v));
		if (st >= 0)
			*(enum run_state *)p = (enum run_state)st;
		else if (f->type == F_STATE)
			*(enum run_state *)p = RS_FAILED; /* unreadable: a live run must not be resumed */
		break;
	case F_STR:
		snprintf(p, f->size, "%s", json_string_value(v) ?: "");
		break;
	case F_PSTR:
		free(*(char **)p);
		*(char **)p = strdup(json_string_value(v) ?: "");
		break;
	case F_U64:
		*(uint64_t *)p = (uint64_t)json_integer_value(v);
		break;
	case F_INT:
		if (json_is_integer(v))
			*(int *)p = (int)json_integer_value(v);
		break;
	case F_INT_OR_NULL:
		*(int *)p = json_is_integer(v) ? (int)json_integer_value(v) : -1;
		break;
	case F_BOOL:
		*(bool *)p = json_is_true(v);
		break;
	case F_JSON:
		json_decref(*(json_t **)p);
		*(json_t **)p = json_is_null(v) ? NULL : json_incref(v);
		break;
	default:
		break;
	}
}

static json_t *services_json(struct run *r)
{
	json_t *svcs = json_object();

	for (size_t i = 0; svcs && i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];
		json_t *o = json_object();

		for (size_t k = 0; o && k < PFS_ARRAY_SIZE(svc_fields); k++)
			json_object_set_new(o, svc_fields[k].key, field_out(&svc_fields[k], s, r, s));
		json_object_set_new(svcs, s->name, o);
	}
	return svcs;
}

json_t *run_status_json(struct run *r)
{
	json_t *j = json_object();

	for (size_t k = 0; j && k < PFS_ARRAY_SIZE(run_fields); k++)
		json_object_set_new(j, run_fields[k].key, field_out(&run_fields[k], r, r, NULL));
	return j;
}

void run_json_read(struct run *r, json_t *j)
{
	json_t *svcs = json_object_get(j, "services");

	for (size_t k = 0; k < PFS_ARRAY_SIZE(run_fields); k++)
		field_in(&run_fields[k], r, json_object_get(j, run_fields[k].key));
	if (r->state != RS_STOPPING)
		r->verdict = RS_FAILED;
	for (size_t i = 0; i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];
		json_t *o = json_object_get(svcs, s->name);

		for (size_t k = 0; o && k < PFS_ARRAY_SIZE(svc_fields); k++)
			field_in(&svc_fields[k], s, json_object_get(o, svc_fields[k].key));
		s->exited = s->exit_code >= 0;
	}
}

int run_save(struct run *r)
{
	json_t *j = run_status_json(r);
	char *txt = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	char *path = pfs_strdup_printf("%s/run.json", r->dir);
	int rc = txt && path ? pfs_write_file_replace(path, txt, strlen(txt)) : -ENOMEM;

	r->save_pending = false;
	if (rc < 0)
		pfs_err_log("%s: cannot save: %s", path ? path : r->dir, strerror(-rc));
	free(path);
	free(txt);
	json_decref(j);
	pfs_realtime_ts(&r->status_mtime);
	return rc;
}
