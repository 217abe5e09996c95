/* SPDX-License-Identifier: MIT */
/*
 * The run state machine (src/engine/runstate.c) without Docker: the
 * transition table, what each transition records (fields, events,
 * run.json, notifications), run_active(), and run.json written and read
 * back through the one field table; runs of a series (status, events,
 * when the series goes on) and a run's result.json (results.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pfs_check.h"
#include "../../src/engine/engine_internal.h"
#include "pantherfs/util.h"

static const char config[] = "timeout: 7\nservices:\n"
			     "  server: {implementation: {name: ngtcp2}, protocol: {role: server}}\n"
			     "  client: {implementation: {name: ngtcp2}, protocol: {role: client, target: server},"
			     " config: {download: 1K}}\n";

static int notes[ENGINE_ENGINE + 1];

static void on_notify(void *ud, enum engine_change what, const char *test, int run, const char *service)
{
	(void)ud;
	(void)test;
	(void)run;
	(void)service;
	notes[what]++;
}

struct fixture {
	char dir[64];
	struct engine e;
	struct test *t;
	struct run *r;
};

static struct run *new_run(struct fixture *f, int n)
{
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	struct run *r;

	ck_assert_int_eq(config_load(f->e.x.cat, "config.yaml", config, strlen(config), &cfg, &rep), 0);
	cfg_report_release(&rep);
	r = run_new(f->t, n, config, strlen(config), cfg);
	ck_assert_ptr_nonnull(r);
	return r;
}

static void setup(struct fixture *f)
{
	struct pfs_err err = { 0 };
	const char *src = getenv("PFS_SOURCE_DIR");

	memset(f, 0, sizeof(*f));
	memset(notes, 0, sizeof(notes));
	snprintf(f->dir, sizeof(f->dir), "/tmp/pfs-runstate.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	pthread_mutex_init(&f->e.lock, NULL);
	conn_init(&f->e.x.conn);
	f->e.x.state_dir = f->dir;
	snprintf(f->e.x.instance, sizeof(f->e.x.instance), "0123456789abcdef");
	f->e.x.notify = on_notify;
	ck_assert_msg(catalog_load(src ? src : ".", &f->e.x.cat, &err) == 0, "%s", err.msg);
	f->t = engine_test_alloc(&f->e, "t1");
	ck_assert_ptr_nonnull(f->t);
	ck_assert_int_eq(pfs_mkdir_p(f->t->dir, 0700), 0);
	f->r = new_run(f, 1);
}

static void teardown(struct fixture *f)
{
	run_free(f->r);
	f->t->n_runs = 0;
	engine_test_free(f->t);
	catalog_free(f->e.x.cat);
	conn_destroy(&f->e.x.conn);
	pfs_rm_rf(f->dir);
}

static json_t *load_json(const char *dir, const char *name)
{
	char *path = pfs_strdup_printf("%s/%s", dir, name);
	json_t *j = json_load_file(path, 0, NULL);

	free(path);
	ck_assert_ptr_nonnull(j);
	return j;
}

/* The types of the events file, in order, space-separated. */
static char *event_types(const char *dir)
{
	char *path = pfs_strdup_printf("%s/events", dir);
	struct pfs_buf b = PFS_BUF_INIT(1u << 20), out = PFS_BUF_INIT(1u << 16);
	char *save = NULL;

	if (pfs_read_file(path, &b) == 0)
		for (char *l = strtok_r(b.ptr, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			json_t *ev = json_loads(l, 0, NULL);

			pfs_buf_printf(&out, "%s%s", out.len ? " " : "", json_string_value(json_object_get(ev, "type")));
			json_decref(ev);
		}
	free(path);
	pfs_buf_release(&b);
	return pfs_buf_steal(&out, NULL);
}

START_TEST(table)
{
	/* the live path, and only through stopping to an end */
	ck_assert(run_transition_allowed(RS_PENDING, RS_BUILDING));
	ck_assert(run_transition_allowed(RS_BUILDING, RS_STARTING));
	ck_assert(run_transition_allowed(RS_STARTING, RS_RUNNING));
	ck_assert(run_transition_allowed(RS_RUNNING, RS_STOPPING));
	for (enum run_state s = RS_SUCCEEDED; s < RS_COUNT; s++) {
		ck_assert(run_transition_allowed(RS_STOPPING, s));
		for (enum run_state to = 0; to < RS_COUNT; to++)
			ck_assert_msg(!run_transition_allowed(s, to), "%s -> %s", run_state_name(s), run_state_name(to));
	}
	ck_assert(!run_transition_allowed(RS_RUNNING, RS_SUCCEEDED));
	ck_assert(!run_transition_allowed(RS_RUNNING, RS_STOPPED));
	ck_assert(!run_transition_allowed(RS_PENDING, RS_RUNNING));
	ck_assert(!run_transition_allowed(RS_RUNNING, RS_STARTING));
	ck_assert(!run_transition_allowed(RS_STOPPING, RS_RUNNING));
	/* unsupported: decided before anything starts, through stopping only */
	ck_assert(run_transition_allowed(RS_STOPPING, RS_UNSUPPORTED));
	ck_assert(!run_transition_allowed(RS_PENDING, RS_UNSUPPORTED));
	ck_assert(!run_transition_allowed(RS_RUNNING, RS_UNSUPPORTED));
	ck_assert_str_eq(run_state_name(RS_UNSUPPORTED), "unsupported");
	ck_assert_int_eq(run_state_parse("unsupported"), RS_UNSUPPORTED);
	/* recovery's edges: interrupted, no thread */
	ck_assert(run_transition_allowed(RS_RUNNING, RS_FAILED));
	ck_assert(run_transition_allowed(RS_PENDING, RS_ERROR));
	/* re-entered phases */
	ck_assert(run_transition_allowed(RS_BUILDING, RS_BUILDING));
	ck_assert(run_transition_allowed(RS_STARTING, RS_STARTING));
	ck_assert_int_eq(run_state_parse("stopping"), RS_STOPPING);
	ck_assert_int_eq(run_state_parse("bogus"), -1);
}
END_TEST

START_TEST(a_run_from_start_to_end)
{
	struct fixture f;
	json_t *j;
	char *types;
	uint64_t before = pfs_wall_ms();

	setup(&f);
	ck_assert_int_eq(f.r->state, RS_PENDING);
	ck_assert(run_active(f.r));
	ck_assert_int_eq(run_transition(f.r, RS_BUILDING, RS_BUILDING, "images"), 0);
	ck_assert_int_eq(notes[ENGINE_STATUS], 1);
	ck_assert_int_eq(notes[ENGINE_EVENTS], 1);
	ck_assert_int_eq(run_transition(f.r, RS_STARTING, RS_STARTING, "network"), 0);
	ck_assert_uint_ge(f.r->started_ms, before);
	ck_assert_int_eq(run_transition(f.r, RS_RUNNING, RS_RUNNING, "%s", ""), 0);
	/* the timeout counts from here */
	ck_assert_uint_ge(f.r->deadline_ms, before + 7000);
	ck_assert_uint_le(f.r->deadline_ms, pfs_wall_ms() + 7000);
	/* forbidden: nothing changes */
	ck_assert_int_eq(run_transition(f.r, RS_SUCCEEDED, RS_SUCCEEDED, "no"), -EINVAL);
	ck_assert_int_eq(f.r->state, RS_RUNNING);
	ck_assert_int_eq(run_transition(f.r, RS_STOPPING, RS_SUCCEEDED, "1 client finished"), 0);
	ck_assert_int_eq(f.r->verdict, RS_SUCCEEDED);
	/* a second decision while stopping does not change the verdict */
	ck_assert_int_eq(run_transition(f.r, RS_STOPPING, RS_FAILED, "timeout"), 0);
	ck_assert_int_eq(f.r->verdict, RS_SUCCEEDED);
	j = load_json(f.r->dir, "run.json");
	ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "stopping");
	ck_assert_str_eq(json_string_value(json_object_get(j, "verdict")), "succeeded");
	json_decref(j);
	ck_assert_int_eq(run_transition(f.r, RS_SUCCEEDED, RS_SUCCEEDED, "1 client finished"), 0);
	ck_assert_uint_ge(f.r->ended_ms, f.r->started_ms);
	ck_assert(!run_active(f.r));
	ck_assert_int_eq(notes[ENGINE_RUNS], 1);
	j = load_json(f.r->dir, "run.json");
	ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "succeeded");
	ck_assert_str_eq(json_string_value(json_object_get(j, "reason")), "1 client finished");
	ck_assert_str_eq(json_string_value(json_object_get(j, "verdict")), "");
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "succeeded 1 client finished");
	json_decref(j);
	types = event_types(f.r->dir);
	ck_assert_str_eq(types, "run.started run.succeeded");
	free(types);
	teardown(&f);
}
END_TEST

START_TEST(an_unsupported_run)
{
	struct fixture f;
	char *types;
	json_t *j;

	setup(&f);
	/* what run_drive does for a plan that says unsupported: nothing built, no run.started */
	ck_assert_int_eq(run_transition(f.r, RS_STOPPING, RS_UNSUPPORTED,
					"testcase retry: hq of mvfst rfc9000 cannot run retry as a server"), 0);
	ck_assert_int_eq(f.r->verdict, RS_UNSUPPORTED);
	j = load_json(f.r->dir, "run.json");
	ck_assert_str_eq(json_string_value(json_object_get(j, "verdict")), "unsupported");
	json_decref(j);
	/* as phase_end ends it, with the reason stopping gave */
	ck_assert_int_eq(run_transition(f.r, RS_UNSUPPORTED, RS_UNSUPPORTED, "%s",
					"testcase retry: hq of mvfst rfc9000 cannot run retry as a server"), 0);
	ck_assert(!run_state_live(f.r->state));
	ck_assert_int_eq(notes[ENGINE_RUNS], 1);
	/* a final word: nothing follows */
	ck_assert_int_eq(run_transition(f.r, RS_STOPPING, RS_FAILED, "again"), -EINVAL);
	j = load_json(f.r->dir, "run.json");
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")),
			 "unsupported testcase retry: hq of mvfst rfc9000 cannot run retry as a server");
	json_decref(j);
	types = event_types(f.r->dir);
	ck_assert_str_eq(types, "run.unsupported");
	free(types);
	teardown(&f);
}
END_TEST

START_TEST(active_until_the_driver_lets_go)
{
	struct fixture f;

	setup(&f);
	run_transition(f.r, RS_STOPPING, RS_STOPPED, "stopped");
	run_transition(f.r, RS_STOPPED, RS_STOPPED, "stopped");
	f.r->thread = true;
	ck_assert(run_active(f.r)); /* its thread still follows the logs */
	f.r->finalized = true;
	ck_assert(!run_active(f.r));
	f.r->thread = false;
	ck_assert(!run_active(f.r));
	teardown(&f);
}
END_TEST

START_TEST(run_json_read_back)
{
	struct fixture f;
	struct run *back;
	json_t *j;

	setup(&f);
	run_transition(f.r, RS_BUILDING, RS_BUILDING, "images");
	pthread_mutex_lock(&f.t->lock);
	f.r->force_build = true;
	snprintf(f.r->net_id, sizeof(f.r->net_id), "net123");
	snprintf(f.r->svcs[0].container, sizeof(f.r->svcs[0].container), "c0ffee");
	snprintf(f.r->svcs[0].address, sizeof(f.r->svcs[0].address), "10.0.0.2");
	f.r->svcs[0].created = f.r->svcs[0].started = f.r->svcs[0].ready = true;
	svc_set_status(&f.r->svcs[0], "ready");
	f.r->svcs[1].created = true;
	svc_record_exit(&f.r->svcs[1], 3);
	f.r->svcs[1].judged = true;
	snprintf(f.r->svcs[1].judgement, sizeof(f.r->svcs[1].judgement), "2 of 3 files identical");
	pthread_mutex_unlock(&f.t->lock);
	run_transition(f.r, RS_STOPPING, RS_FAILED, "client client exited 3");

	back = new_run(&f, 2);
	j = load_json(f.r->dir, "run.json");
	run_json_read(back, j);
	json_decref(j);
	ck_assert_int_eq(back->state, RS_STOPPING);
	ck_assert_int_eq(back->verdict, RS_FAILED);
	ck_assert_str_eq(back->reason, "client client exited 3");
	ck_assert(back->force_build);
	ck_assert(!back->no_cache);
	ck_assert_str_eq(back->net_id, "net123");
	ck_assert_uint_eq(back->created_ms, f.r->created_ms);
	ck_assert_str_eq(back->svcs[0].container, "c0ffee");
	ck_assert_str_eq(back->svcs[0].address, "10.0.0.2");
	ck_assert_str_eq(back->svcs[0].status, "ready");
	ck_assert(back->svcs[0].ready && back->svcs[0].started);
	ck_assert_int_eq(back->svcs[0].exit_code, -1);
	ck_assert(!back->svcs[0].exited);
	ck_assert_int_eq(back->svcs[1].exit_code, 3);
	ck_assert(back->svcs[1].exited);
	ck_assert_str_eq(back->svcs[1].status, "exited 3");
	ck_assert_str_eq(back->svcs[1].command, f.r->svcs[1].command);
	/* a testcase client's judgement, made once: read back, never made again */
	ck_assert(back->svcs[1].judged);
	ck_assert(!back->svcs[1].judge_ok);
	ck_assert_str_eq(back->svcs[1].judgement, "2 of 3 files identical");
	ck_assert(!back->svcs[0].judged);
	/* a state it cannot read is not taken up as live */
	j = json_pack("{s:s}", "state", "weird");
	run_json_read(back, j);
	json_decref(j);
	ck_assert_int_eq(back->state, RS_FAILED);
	run_free(back);
	teardown(&f);
}
END_TEST

START_TEST(progress_inside_a_build_step)
{
	struct fixture f;
	char line[640];
	json_t *j, *b;

	setup(&f);
	run_transition(f.r, RS_BUILDING, RS_BUILDING, "images");
	pthread_mutex_lock(&f.t->lock);
	snprintf(f.r->build_what, sizeof(f.r->build_what), "mvfst:rfc9000");
	f.r->build_step = 33;
	f.r->build_steps = 55;
	f.r->build_started_ms = pfs_wall_ms() - 125000;
	f.r->build_estimate_ms = 28 * 60000 - 1;
	run_build_progress_line(f.r, "pantherfs: building folly");
	run_status_line(f.r, line, sizeof(line));
	ck_assert_str_eq(line, "building mvfst:rfc9000 step 33/55: folly (2 min of about 28)");
	run_build_progress_line(f.r, "[250/669] Building CXX object folly/CMakeFiles/x.dir/y.cpp.o");
	run_build_progress_line(f.r, "not a ninja line [1/2]");
	run_status_line(f.r, line, sizeof(line));
	ck_assert_str_eq(line, "building mvfst:rfc9000 step 33/55: folly 250/669 (2 min of about 28)");
	j = run_status_json(f.r);
	b = json_object_get(j, "build");
	ck_assert_str_eq(json_string_value(json_object_get(b, "progress")), "folly 250/669");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "estimate_ms")), 28 * 60000 - 1);
	ck_assert_int_ge(json_integer_value(json_object_get(b, "elapsed_ms")), 125000);
	json_decref(j);
	pthread_mutex_unlock(&f.t->lock);
	teardown(&f);
}
END_TEST

/* A netem helper: its id and network.shaped's data kept in run.json; its end, fatal only while live. */
START_TEST(a_helper_in_run_json_and_its_end)
{
	struct fixture f;
	struct run *back;
	json_t *j, *net;
	char *types;

	setup(&f);
	run_transition(f.r, RS_BUILDING, RS_BUILDING, "images");
	run_transition(f.r, RS_STARTING, RS_STARTING, "network");
	pthread_mutex_lock(&f.t->lock);
	snprintf(f.r->netem_image, sizeof(f.r->netem_image), "pantherfs/netem:bookworm-0123 sha256:42");
	snprintf(f.r->svcs[1].helper, sizeof(f.r->svcs[1].helper), "he1per");
	snprintf(f.r->svcs[1].container, sizeof(f.r->svcs[1].container), "c11e47");
	f.r->svcs[1].network = json_pack("{s:s,s:{s:f},s:{s:s}}", "helper", "he1per", "conditions", "latency_ms",
					 100.0, "applied", "qdisc", "noqueue");
	run_save(f.r);
	pthread_mutex_unlock(&f.t->lock);

	back = new_run(&f, 2);
	j = load_json(f.r->dir, "run.json");
	run_json_read(back, j);
	json_decref(j);
	ck_assert_str_eq(back->netem_image, "pantherfs/netem:bookworm-0123 sha256:42");
	ck_assert_str_eq(back->svcs[1].helper, "he1per");
	ck_assert_str_eq(back->svcs[0].helper, "");
	ck_assert_ptr_null(back->svcs[0].network);
	net = back->svcs[1].network;
	ck_assert_ptr_nonnull(net);
	ck_assert(json_equal(net, f.r->svcs[1].network));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(net, "applied"), "qdisc")), "noqueue");
	run_free(back);

	/* the service's own exit is an exit; its helper's, the loss of its network */
	pthread_mutex_lock(&f.t->lock);
	run_container_died(f.r, "he1per", 137);
	pthread_mutex_unlock(&f.t->lock);
	ck_assert(f.r->svcs[1].net_lost);
	ck_assert_int_eq(f.r->svcs[1].net_lost_code, 137);
	ck_assert(!f.r->svcs[1].exited);
	ck_assert(!f.r->svcs[0].net_lost);
	/* said once */
	pthread_mutex_lock(&f.t->lock);
	run_container_died(f.r, "he1per", 1);
	pthread_mutex_unlock(&f.t->lock);
	ck_assert_int_eq(f.r->svcs[1].net_lost_code, 137);
	types = event_types(f.r->dir);
	ck_assert_str_eq(types, "run.started network.lost");
	free(types);
	teardown(&f);
}
END_TEST

/* A push to the registry is image work too, and the status says which. */
START_TEST(a_push_in_status)
{
	struct fixture f;
	char line[640];

	setup(&f);
	run_transition(f.r, RS_BUILDING, RS_BUILDING, "images");
	pthread_mutex_lock(&f.t->lock);
	f.r->pulling = f.r->pushing = true;
	snprintf(f.r->build_what, sizeof(f.r->build_what), "10.0.0.5:5000/pantherfs/ngtcp2:rfc9000-0123");
	run_status_line(f.r, line, sizeof(line));
	ck_assert_str_eq(line, "building: pushing 10.0.0.5:5000/pantherfs/ngtcp2:rfc9000-0123");
	f.r->pushing = false;
	run_status_line(f.r, line, sizeof(line));
	ck_assert_str_eq(line, "building: pulling 10.0.0.5:5000/pantherfs/ngtcp2:rfc9000-0123");
	pthread_mutex_unlock(&f.t->lock);
	teardown(&f);
}
END_TEST

/* A run on a Swarm: where it went, each service's service, task and node, kept in run.json and shown. */
START_TEST(a_swarm_run_in_run_json_and_status)
{
	struct fixture f;
	struct run *back;
	json_t *j;

	setup(&f);
	run_transition(f.r, RS_BUILDING, RS_BUILDING, "images");
	pthread_mutex_lock(&f.t->lock);
	snprintf(f.r->mode, sizeof(f.r->mode), "swarm");
	snprintf(f.r->swarm_net, sizeof(f.r->swarm_net), "pantherfs-0a1b2c3d4e5f");
	snprintf(f.r->svcs[0].service_id, sizeof(f.r->svcs[0].service_id), "tl6da1wvq036jwdjxmk1ryn3x");
	snprintf(f.r->svcs[0].task_id, sizeof(f.r->svcs[0].task_id), "tegl4qqnggvms6mfo92z88j8e");
	snprintf(f.r->svcs[0].node_id, sizeof(f.r->svcs[0].node_id), "b2jy0d86edeb4dwffeneykeqx");
	snprintf(f.r->svcs[0].node, sizeof(f.r->svcs[0].node), "pfsw-a-n2");
	f.r->svcs[0].placed = true;
	run_save(f.r);
	j = run_status_json(f.r);
	pthread_mutex_unlock(&f.t->lock);
	/* status.json names the overlay network, and each service's node */
	ck_assert_str_eq(json_string_value(json_object_get(j, "network")), "pantherfs-0a1b2c3d4e5f");
	ck_assert_str_eq(json_string_value(json_object_get(j, "mode")), "swarm");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(j, "services"), "server"),
							   "node")), "pfsw-a-n2");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(j, "services"), "client"),
							   "node")), "");
	json_decref(j);

	back = new_run(&f, 2);
	ck_assert(!run_on_swarm(back));
	j = load_json(f.r->dir, "run.json");
	run_json_read(back, j);
	json_decref(j);
	/* a resumed run goes on where it began */
	ck_assert(run_on_swarm(back));
	ck_assert_str_eq(back->swarm_net, "pantherfs-0a1b2c3d4e5f");
	ck_assert_str_eq(back->svcs[0].service_id, "tl6da1wvq036jwdjxmk1ryn3x");
	ck_assert_str_eq(back->svcs[0].task_id, "tegl4qqnggvms6mfo92z88j8e");
	ck_assert_str_eq(back->svcs[0].node_id, "b2jy0d86edeb4dwffeneykeqx");
	ck_assert_str_eq(back->svcs[0].node, "pfsw-a-n2");
	ck_assert(back->svcs[0].placed);
	ck_assert(!back->svcs[1].placed);
	ck_assert_str_eq(back->svcs[1].service_id, "");
	run_free(back);
	teardown(&f);
}
END_TEST

START_TEST(a_helper_removed_while_stopping_is_no_loss)
{
	struct fixture f;

	setup(&f);
	run_transition(f.r, RS_BUILDING, RS_BUILDING, "images");
	run_transition(f.r, RS_STOPPING, RS_SUCCEEDED, "1 client finished");
	pthread_mutex_lock(&f.t->lock);
	snprintf(f.r->svcs[0].helper, sizeof(f.r->svcs[0].helper), "he1per");
	run_container_died(f.r, "he1per", 0);
	pthread_mutex_unlock(&f.t->lock);
	ck_assert(!f.r->svcs[0].net_lost);
	teardown(&f);
}
END_TEST

/* The JSON of the events file's lines, in order (a new array). */
static json_t *events_of(const char *dir)
{
	char *path = pfs_strdup_printf("%s/events", dir);
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	json_t *all = json_array();
	char *save = NULL;

	ck_assert_int_eq(pfs_read_file(path, &b), 0);
	for (char *l = strtok_r(b.ptr, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		json_array_append_new(all, json_loads(l, 0, NULL));
	free(path);
	pfs_buf_release(&b);
	return all;
}

static void status_is(struct run *r, const char *want)
{
	char line[640];

	run_status_line(r, line, sizeof(line));
	ck_assert_str_eq(line, want);
}

START_TEST(a_run_of_a_series_says_which)
{
	struct fixture f;
	json_t *evs, *ev, *j;
	struct run *back;
	size_t i;

	setup(&f);
	f.r->iteration = 2;
	f.r->iterations = 5;
	status_is(f.r, "pending iteration 2/5");
	run_transition(f.r, RS_BUILDING, RS_BUILDING, "images");
	status_is(f.r, "building iteration 2/5: images");
	pthread_mutex_lock(&f.t->lock);
	f.r->pulling = true;
	snprintf(f.r->build_what, sizeof(f.r->build_what), "debian:bookworm-slim");
	status_is(f.r, "building iteration 2/5: pulling debian:bookworm-slim");
	f.r->pulling = false;
	pthread_mutex_unlock(&f.t->lock);
	run_transition(f.r, RS_STARTING, RS_STARTING, "network");
	status_is(f.r, "starting iteration 2/5: network");
	run_transition(f.r, RS_RUNNING, RS_RUNNING, "%s", "");
	status_is(f.r, "running iteration 2/5: 0/2 services");
	run_transition(f.r, RS_STOPPING, RS_SUCCEEDED, "1 client finished");
	run_transition(f.r, RS_SUCCEEDED, RS_SUCCEEDED, "1 client finished");
	status_is(f.r, "succeeded iteration 2/5: 1 client finished");

	/* run.started says i of N; every event of the run carries i */
	evs = events_of(f.r->dir);
	ck_assert_int_eq(json_array_size(evs), 2);
	ev = json_array_get(evs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "type")), "run.started");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ev, "data"), "iteration")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ev, "data"), "iterations")), 5);
	json_array_foreach(evs, i, ev)
		ck_assert_int_eq(json_integer_value(json_object_get(ev, "iteration")), 2);
	json_decref(evs);

	/* and run.json keeps it for a restart */
	back = new_run(&f, 2);
	j = load_json(f.r->dir, "run.json");
	run_json_read(back, j);
	json_decref(j);
	ck_assert_int_eq(back->iteration, 2);
	ck_assert_int_eq(back->iterations, 5);
	run_free(back);
	teardown(&f);
}
END_TEST

START_TEST(a_single_run_says_nothing_of_series)
{
	struct fixture f;
	json_t *evs, *ev;
	size_t i;

	setup(&f);
	f.r->iteration = 1;
	f.r->iterations = 1;
	run_transition(f.r, RS_BUILDING, RS_BUILDING, "images");
	status_is(f.r, "building images");
	run_transition(f.r, RS_STOPPING, RS_STOPPED, "stopped");
	run_transition(f.r, RS_STOPPED, RS_STOPPED, "stopped");
	status_is(f.r, "stopped stopped");
	evs = events_of(f.r->dir);
	ev = json_array_get(evs, 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ev, "data"), "iteration")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ev, "data"), "iterations")), 1);
	json_array_foreach(evs, i, ev)
		ck_assert_ptr_null(json_object_get(ev, "iteration"));
	json_decref(evs);
	teardown(&f);
}
END_TEST

/* Ends f.r with the verdict (through stopping). */
static void end_as(struct fixture *f, enum run_state verdict)
{
	run_transition(f->r, RS_STOPPING, verdict, "decided");
	run_transition(f->r, verdict, verdict, "decided");
}

START_TEST(when_a_series_goes_on)
{
	static const enum run_state ends[] = { RS_SUCCEEDED, RS_FAILED, RS_STOPPED, RS_ERROR };
	struct fixture f;
	struct run *other;

	setup(&f);
	f.t->runs = calloc(2, sizeof(*f.t->runs));
	f.t->runs[0] = f.r;
	f.t->n_runs = 1;
	f.t->config_text = strdup(config);
	f.t->config_len = strlen(config);
	f.r->iteration = 1;
	f.r->iterations = 3;
	ck_assert(!test_series_goes_on(f.t, f.r)); /* still live */
	run_transition(f.r, RS_STOPPING, RS_SUCCEEDED, "decided");
	ck_assert(!test_series_goes_on(f.t, f.r)); /* stopping is live too */
	for (size_t k = 0; k < PFS_ARRAY_SIZE(ends); k++) {
		f.r->state = ends[k]; /* each end, without another run of the table */
		ck_assert_msg(test_series_goes_on(f.t, f.r) == (ends[k] == RS_SUCCEEDED || ends[k] == RS_FAILED),
			      "after %s", run_state_name(ends[k]));
	}
	f.r->state = RS_SUCCEEDED;
	f.r->iteration = 3;
	ck_assert(!test_series_goes_on(f.t, f.r)); /* the last iteration */
	f.r->iteration = 2;
	ck_assert(test_series_goes_on(f.t, f.r));
	f.t->series_stopped = true;
	ck_assert(!test_series_goes_on(f.t, f.r));
	f.t->series_stopped = false;
	f.t->config_text[0] = '#'; /* another config was accepted since */
	ck_assert(!test_series_goes_on(f.t, f.r));
	memcpy(f.t->config_text, config, 1);
	ck_assert(test_series_goes_on(f.t, f.r));
	f.r->iterations = 1;
	ck_assert(!test_series_goes_on(f.t, f.r)); /* no series */
	f.r->iterations = 3;
	/* not the current run any more */
	other = new_run(&f, 2);
	f.t->runs[1] = other;
	f.t->n_runs = 2;
	ck_assert(!test_series_goes_on(f.t, f.r));
	run_free(other);
	f.t->n_runs = 0;
	teardown(&f);
}
END_TEST

START_TEST(result_json_of_a_run)
{
	struct engine_file ef = { 0 };
	struct fixture f;
	json_t *j;

	setup(&f);
	/* a test with no run yet says so */
	pthread_mutex_lock(&f.t->lock);
	ck_assert_int_eq(results_file(f.t, NULL, PFS_F_RESULT_JSON, &ef, true), 0);
	j = json_loadb(ef.data, ef.len, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "verdict")), "empty");
	ck_assert(json_is_null(json_object_get(j, "run")));
	json_decref(j);
	engine_file_release(&ef);
	/* nothing is built in a reader's call: until the run is read, EAGAIN */
	ck_assert_int_eq(results_file(f.t, f.r, PFS_F_RESULT_JSON, &ef, true), -EAGAIN);
	ck_assert_int_eq(results_file(f.t, f.r, PFS_F_SUMMARY_TSV, &ef, false), -EAGAIN);
	pthread_mutex_unlock(&f.t->lock);
	ck_assert_int_eq(results_root_file(&f.e.x, PFS_F_SUMMARY_TSV, &ef, true), -EAGAIN);

	f.r->iteration = 1;
	f.r->iterations = 2;
	run_transition(f.r, RS_BUILDING, RS_BUILDING, "images");
	end_as(&f, RS_FAILED);
	results_run_ended(f.r);
	pthread_mutex_lock(&f.t->lock);
	ck_assert(f.r->result_final);
	ck_assert_uint_eq(f.t->results_gen, 1);
	ck_assert_int_eq(results_file(f.t, f.r, PFS_F_RESULT_JSON, &ef, false), 0);
	ck_assert_ptr_null(ef.data); /* a stat: the size alone */
	ck_assert_uint_eq(ef.len, f.r->result_doc.len);
	ck_assert_int_eq(results_file(f.t, f.r, PFS_F_RESULT_JSON, &ef, true), 0);
	pthread_mutex_unlock(&f.t->lock);
	ck_assert_uint_eq(strlen(ef.data), ef.len);
	ck_assert_int_eq(ef.mtime.tv_sec, (time_t)(f.r->ended_ms / 1000));
	j = json_loadb(ef.data, ef.len, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "test")), "t1");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "run")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(j, "verdict")), "failed");
	ck_assert_str_eq(json_string_value(json_object_get(j, "reason")), "decided");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "iteration")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "iterations")), 2);
	/* the client never started: its metrics are null, with the reason */
	ck_assert(json_is_null(json_object_get(json_object_get(json_object_get(json_object_get(
		json_object_get(j, "services"), "client"), "metrics"), "received_bytes"), "value")));
	json_decref(j);
	engine_file_release(&ef);
	/* final: read once, never replaced */
	results_run_ended(f.r);
	ck_assert_uint_eq(f.t->results_gen, 1);
	teardown(&f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("runstate");
	TCase *t = tcase_create("machine");

	tcase_add_test(t, table);
	tcase_add_test(t, a_run_from_start_to_end);
	tcase_add_test(t, an_unsupported_run);
	tcase_add_test(t, active_until_the_driver_lets_go);
	tcase_add_test(t, run_json_read_back);
	tcase_add_test(t, progress_inside_a_build_step);

	tcase_add_test(t, a_helper_in_run_json_and_its_end);
	tcase_add_test(t, a_helper_removed_while_stopping_is_no_loss);
	tcase_add_test(t, a_run_of_a_series_says_which);
	tcase_add_test(t, a_single_run_says_nothing_of_series);
	tcase_add_test(t, when_a_series_goes_on);
	tcase_add_test(t, result_json_of_a_run);
	tcase_add_test(t, a_push_in_status);
	tcase_add_test(t, a_swarm_run_in_run_json_and_status);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
