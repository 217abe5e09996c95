/* SPDX-License-Identifier: MIT */
/*
 * Taking the state dir up again when pantherfs starts.
 *
 * WHICH SOURCE WINS. Four sources describe a run, written in this order at
 * every step, so a kill can fall between any two of them:
 *   1. Docker: what containers and networks exist and do now. It wins for
 *      the present: a container found running is followed again, one found
 *      exited gives its exit code, one recorded but missing makes the run
 *      fail as "lost" (run.c adopts by recorded id, else by the
 *      deterministic name, so a container created but never recorded is
 *      adopted, not made twice).
 *   2. events: what was announced. It wins over run.json for the facts it
 *      records (run.started, network.created, network.shaped,
 *      service.created/started/ready/exited): a step announced and killed
 *      before run.json was rewritten is neither announced again nor lost
 *      (reconcile_events).
 *   3. run.json: everything else: the state and, while stopping, the
 *      verdict decided (so a run killed while stopping ends as decided),
 *      the deadline, the reason, services' commands and addresses.
 *   4. logs + logs.pos: the log file is cut back to the size logs.pos
 *      recorded, and following resumes after the stamp it recorded
 *      (follow.c), so the log is byte for byte what Docker has.
 * A torn last line of an events file is cut (it was never announced). A
 * run whose config no longer loads (the catalogue changed) is left out. Of
 * the live runs of a test only the last goes on; an earlier one (a crash
 * while switching) fails as interrupted. A test with a "removing" marker
 * (removed while its run stopped) is removed now. A series of iterations
 * whose last run ended before the next began (pantherfs killed between
 * them) goes on with its next iteration, unless a stop ended it
 * (test.json). result.json and the summaries are not kept: the results
 * worker reads them back from the run dirs (results.c).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "engine_internal.h"
#include "pantherfs/log.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static char *read_text(const char *dir, const char *name)
{
	struct pfs_buf b = PFS_BUF_INIT(CONFIG_MAX_BYTES);
	char *path = pfs_strdup_printf("%s/%s", dir, name);
	char *out = NULL;

	if (path && pfs_read_file(path, &b) == 0)
		out = pfs_buf_steal(&b, NULL);
	pfs_buf_release(&b);
	free(path);
	return out;
}

/*
 * A kill can fall between an event and the run.json that follows it (or
 * before it): the run's events say what was already announced, so a resumed
 * run neither repeats an event nor loses what it did (a container created
 * and announced, but not yet in run.json).
 */
static void reconcile_events(struct run *r)
{
	char *path = pfs_strdup_printf("%s/events", r->dir), *save = NULL;
	struct pfs_buf b = PFS_BUF_INIT(256u << 20);

	if (!path || pfs_read_file(path, &b) < 0) {
		free(path);
		return;
	}
	free(path);
	for (char *l = strtok_r(b.ptr, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		json_t *ev = json_loads(l, 0, NULL), *data = json_object_get(ev, "data");
		const char *type = json_string_value(json_object_get(ev, "type")) ?: "";
		const char *svc = json_string_value(json_object_get(ev, "service"));
		struct svc *s = NULL;

		for (size_t i = 0; svc && i < r->n_svcs; i++)
			if (!strcmp(r->svcs[i].name, svc))
				s = &r->svcs[i];
		/* reading back what was announced, not a transition: run.started is not repeated */
		if (!strcmp(type, "run.started") && r->state == RS_PENDING)
			r->state = RS_BUILDING;
		else if (!strcmp(type, "network.created"))
			r->net_announced = true;
		else if (!strcmp(type, "run.swarm") && !r->mode[0]) {
			snprintf(r->mode, sizeof(r->mode), "swarm");
			snprintf(r->swarm_net, sizeof(r->swarm_net), "%s",
				 json_string_value(json_object_get(data, "network")) ?: "");
		}
		else if (s && !strcmp(type, "service.created")) {
			s->created = true;
			if (!s->container[0] && json_string_value(json_object_get(data, "container")))
				snprintf(s->container, sizeof(s->container), "%s",
					 json_string_value(json_object_get(data, "container")));
			if (!s->service_id[0] && json_string_value(json_object_get(data, "service")))
				snprintf(s->service_id, sizeof(s->service_id), "%s",
					 json_string_value(json_object_get(data, "service")));
		} else if (s && !strcmp(type, "service.placed") && !s->placed) {
			/* on a Swarm: its task and node */
			s->placed = true;
			snprintf(s->task_id, sizeof(s->task_id), "%s", json_string_value(json_object_get(data, "task")) ?: "");
			snprintf(s->node_id, sizeof(s->node_id), "%s",
				 json_string_value(json_object_get(data, "node_id")) ?: "");
			snprintf(s->node, sizeof(s->node), "%s", json_string_value(json_object_get(data, "node")) ?: "");
		} else if (s && !strcmp(type, "service.started"))
			s->started = true;
		else if (s && !strcmp(type, "service.ready"))
			s->ready = true;
		else if (s && !strcmp(type, "network.shaped") && !s->network) {
			/* announced: not again; its helper is the one to adopt */
			s->network = json_incref(data);
			if (!s->helper[0] && json_string_value(json_object_get(data, "helper")))
				snprintf(s->helper, sizeof(s->helper), "%s",
					 json_string_value(json_object_get(data, "helper")));
		}
		else if (s && !strcmp(type, "service.exited") && !s->exited) {
			s->exited = true;
			s->exit_code = (int)json_integer_value(json_object_get(data, "exit_code"));
		}
		json_decref(ev);
	}
	pfs_buf_release(&b);
}

int recovery_run_load(struct test *t, int n, struct run **out)
{
	char *dir = pfs_strdup_printf("%s/runs/%d", t->dir, n), *p;
	struct pfs_buf cfgtext = PFS_BUF_INIT(CONFIG_MAX_BYTES), js = PFS_BUF_INIT(16u << 20);
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	json_t *j = NULL;
	struct run *r;
	int rc;

	if (!dir)
		return -ENOMEM;
	p = pfs_strdup_printf("%s/config.yaml", dir);
	rc = p ? pfs_read_file(p, &cfgtext) : -ENOMEM;
	free(p);
	if (rc == 0) {
		p = pfs_strdup_printf("%s/run.json", dir);
		rc = p ? pfs_read_file(p, &js) : -ENOMEM;
		free(p);
	}
	free(dir);
	if (rc == 0) {
		j = json_loadb(js.ptr, js.len, 0, NULL);
		rc = j ? 0 : -EINVAL;
	}
	if (rc == 0 && config_load(t->x->cat, "config.yaml", cfgtext.ptr, cfgtext.len, &cfg, &rep) < 0) {
		/* the catalogue changed under this run: keep it readable, fail it if live */
		cfg_report_release(&rep);
		rc = -EINVAL;
	} else if (rc == 0) {
		cfg_report_release(&rep);
	}
	if (rc < 0) {
		pfs_buf_release(&cfgtext);
		pfs_buf_release(&js);
		json_decref(j);
		return rc;
	}
	r = calloc(1, sizeof(*r));
	r->t = t;
	r->n = n;
	r->build_fd = -1;
	r->dir = pfs_strdup_printf("%s/runs/%d", t->dir, n);
	r->config_text = pfs_buf_steal(&cfgtext, &r->config_len);
	r->cfg = cfg;
	pthread_cond_init(&r->cv, NULL);
	snprintf(r->net_name, sizeof(r->net_name), "pantherfs-%s-%s-%d", t->x->instance, t->name, n);
	pfs_realtime_ts(&r->status_mtime);
	r->events_mtime = r->build_mtime = r->status_mtime;
	r->svcs = calloc(cfg->n_svc, sizeof(*r->svcs));
	r->n_svcs = cfg->n_svc;
	for (size_t i = 0; r->svcs && i < cfg->n_svc; i++)
		svc_init(r, &r->svcs[i], &cfg->svc[i]);
	/* the run's fields and its services' from run.json, through runstate.c's one table */
	run_json_read(r, j);
	for (size_t i = 0; r->svcs && i < cfg->n_svc; i++) {
		struct svc *s = &r->svcs[i];
		struct stat st;
		char *cp;

		cp = pfs_strdup_printf("%s/services/%s/command", r->dir, s->name);
		if (cp && stat(cp, &st) == 0)
			s->command_mtime = st.st_mtim;
		free(cp);
		svc_logs_open(s);
		svc_rescan_lines(s);
		/* a command not yet run is made again from the config, never taken from run.json */
		if (run_state_live(r->state) && !s->created)
			run_render_command(r, s, NULL);
	}
	reconcile_events(r);
	{
		struct stat st;
		char *bp = pfs_strdup_printf("%s/build.log", r->dir), *ep = pfs_strdup_printf("%s/events", r->dir);

		if (bp && stat(bp, &st) == 0) {
			r->build_size = st.st_size;
			r->build_mtime = st.st_mtim;
		}
		if (ep)
			event_last_seq(ep, &r->events_size);
		if (ep && stat(ep, &st) == 0)
			r->events_mtime = st.st_mtim;
		free(bp);
		free(ep);
	}
	json_decref(j);
	pfs_buf_release(&js);
	*out = r;
	return 0;
}

/* ---- small helpers (t->lock held unless said) --------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void load_test(struct engine *e, const char *name)
{
	struct test *t = engine_test_alloc(e, name);
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	char *p, *runs_dir;
	struct dirent *de;
	struct stat st;
	int *nums = NULL;
	size_t nn = 0;
	DIR *d;

	if (!t)
		return;
	p = pfs_strdup_printf("%s/removing", t->dir);
	if (p && access(p, F_OK) == 0) {
		/* removed while its run was stopping: finish (the monitor sweeps Docker) */
		free(p);
		pfs_rm_rf(t->dir);
		engine_test_free(t);
		return;
	}
	free(p);
	p = pfs_strdup_printf("%s/test.json", t->dir);
	if (p && pfs_read_file(p, &b) == 0) {
		json_t *j = json_loadb(b.ptr, b.len, 0, NULL);

		t->created_ms = (uint64_t)json_integer_value(json_object_get(j, "created_ms"));
		t->next_run = (int)json_integer_value(json_object_get(j, "next_run"));
		t->series_stopped = json_is_true(json_object_get(j, "series_stopped"));
		json_decref(j);
	}
	free(p);
	pfs_buf_release(&b);
	if (t->next_run < 1)
		t->next_run = 1;
	t->config_text = read_text(t->dir, "config.yaml");
	t->config_len = t->config_text ? strlen(t->config_text) : 0;
	t->error_text = read_text(t->dir, "error");
	if (t->error_text && !*t->error_text) {
		free(t->error_text);
		t->error_text = NULL;
	}
	t->warnings_text = read_text(t->dir, "warnings");
	p = pfs_strdup_printf("%s/events", t->dir);
	if (p) {
		t->seq = event_last_seq(p, &t->events_size);
		if (stat(p, &st) == 0)
			t->events_mtime = st.st_mtim;
	}
	free(p);

	runs_dir = pfs_strdup_printf("%s/runs", t->dir);
	d = runs_dir ? opendir(runs_dir) : NULL;
	while (d && (de = readdir(d))) {
		long n;
		int *nn2;

		if (pfs_parse_long(de->d_name, 1, INT_MAX, &n) < 0)
			continue;
		nn2 = realloc(nums, (nn + 1) * sizeof(*nums));
		if (!nn2)
			break;
		nums = nn2;
		nums[nn++] = (int)n;
	}
	if (d)
		closedir(d);
	free(runs_dir);
	if (nn)
		qsort(nums, nn, sizeof(*nums), cmp_int);
	t->runs = calloc(nn + 1, sizeof(*t->runs));
	for (size_t i = 0; t->runs && i < nn; i++) {
		struct run *r = NULL;

		if (recovery_run_load(t, nums[i], &r) < 0) {
			pfs_warn("test %s: run %d cannot be read back; it is left out", name, nums[i]);
			continue;
		}
		t->runs[t->n_runs++] = r;
		if (nums[i] >= t->next_run)
			t->next_run = nums[i] + 1;
	}
	free(nums);
	if (engine_test_add(e, t) < 0) {
		engine_test_free(t);
		return;
	}
	/* a run that was live goes on; earlier live ones (a crash mid-switch) are over */
	for (size_t i = 0; i < t->n_runs; i++) {
		struct run *r = t->runs[i];

		if (!run_state_live(r->state))
			continue;
		if (i + 1 < t->n_runs) {
			pthread_mutex_lock(&t->lock);
			run_transition_locked(r, RS_FAILED, RS_FAILED, "interrupted: a newer run started");
			pthread_mutex_unlock(&t->lock);
			continue;
		}
		evlog_add(t, r, "run.resumed", NULL, json_pack("{s:s}", "state", run_state_name(r->state)));
		pthread_mutex_lock(&t->lock);
		if (test_run_thread(r) < 0)
			run_transition_locked(r, RS_ERROR, RS_ERROR, "cannot take it up again: no thread");
		pthread_mutex_unlock(&t->lock);
	}
	/* a series whose next iteration had not begun when pantherfs stopped goes on */
	pthread_mutex_lock(&t->lock);
	if (t->n_runs && !run_state_live(t->runs[t->n_runs - 1]->state) &&
	    test_series_goes_on(t, t->runs[t->n_runs - 1])) {
		int rc = test_next_iteration_locked(t, t->runs[t->n_runs - 1]);

		if (rc < 0)
			pfs_warn("test %s: cannot go on with its series: %s", name, strerror(-rc));
	}
	pthread_mutex_unlock(&t->lock);
}

void recovery_load(struct engine *e)
{
	char *dir = pfs_strdup_printf("%s/tests", e->x.state_dir);
	struct dirent **ents = NULL;
	int n = dir ? scandir(dir, &ents, NULL, alphasort) : -1;

	for (int i = 0; i < n; i++) {
		if (pfs_name_valid(ents[i]->d_name))
			load_test(e, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	free(dir);
}

/*
 * A random id per state dir, in every name and label pantherfs gives Docker
 * objects: two pantherfs on one engine (or a state dir made anew) never
 * adopt or sweep each other's containers.
 */
int recovery_instance(struct engine_ctx *e)
{
	char *path = pfs_strdup_printf("%s/instance", e->state_dir);
	struct pfs_buf b = PFS_BUF_INIT(64);
	unsigned char raw[8];
	int r = 0;

	if (!path)
		return -ENOMEM;
	if (pfs_read_file(path, &b) == 0 && b.len >= 16) {
		snprintf(e->instance, sizeof(e->instance), "%.16s", b.ptr);
	} else if (RAND_bytes(raw, sizeof(raw)) == 1) {
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(e->instance + 2 * i, 3, "%02x", raw[i]);
		r = pfs_write_file_atomic(path, e->instance, 16);
	} else {
		r = -EIO;
	}
	snprintf(e->instance_label, sizeof(e->instance_label), "pantherfs.instance=%s", e->instance);
	pfs_buf_release(&b);
	free(path);
	return r;
}

