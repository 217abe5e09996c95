/* SPDX-License-Identifier: MIT */
/*
 * A run's network conditions: the netem helper (netem.h) of each service
 * that is shaped or captured, from its start to its removal.
 *
 * The helper owns the service's network namespace, so it comes first:
 * started on the run's network with the service's name as its alias, it
 * applies the conditions and reports them; only then is the service made
 * (run.c: NetworkMode container:<helper>), and its address is the
 * helper's. network.shaped says what was applied, once per run: a
 * pantherfs killed at any point finds the helper again by its
 * deterministic name, and the events (recovery.c) or run.json say whether
 * it was announced.
 *
 * A helper that ends while the run is live takes the service's network
 * with it: Docker's "die" (runstate.c: net_lost) or the inspection here
 * tells, and the run fails saying so. At the end the helpers are stopped
 * after their services (tcpdump closes the pcap on TERM) and removed; they
 * are found by label, so a helper created just before a kill and never
 * recorded goes too. The monitor's sweep removes what is left of runs
 * that ended.
 *
 * Layer: below run.c, above runstate.c; no lock is held across a Docker call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "pantherfs/netem.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define PROBE_BASE_MS 250         /* a probe's wait on an unshaped network (run.c's) */
#define PROBE_MAX_MS 20000

static void lock(struct run *r) { pthread_mutex_lock(&r->t->lock); }
static void unlock(struct run *r) { pthread_mutex_unlock(&r->t->lock); }

bool svc_shaped(const struct svc *s)
{
	return netcond_active(&s->cfg->net) || s->cfg->capture;
}

/* A Docker call's error as a result: the engine gone is RUN_LOST. */
static int docker_rc(int rc)
{
	return conn_lost(rc) ? RUN_LOST : rc;
}

/* Starts (or adopts) the helper of a service not created yet; *id malloc'd. */
static int start_helper(struct run *r, struct svc *s, const char *name, char **id, struct pfs_err *err)
{
	const char *aliases[] = { s->name, NULL };
	char runbuf[16], image[320], net[sizeof(r->net_id) > sizeof(r->net_name) ? sizeof(r->net_id) : sizeof(r->net_name)];
	char *dir = NULL;
	int rc;

	run_net_ref(r, net, sizeof(net));
	lock(r);
	snprintf(image, sizeof(image), "%.*s", (int)strcspn(r->netem_image, " "), r->netem_image);
	unlock(r);
	if (!image[0])
		return pfs_err_set(err, -ENOENT, "the netem helper's image was not built");
	if (s->cfg->capture && !(dir = pfs_strdup_printf("%s/services/%s", r->dir, s->name)))
		return pfs_err_set(err, -ENOMEM, "out of memory");
	{
		struct netem_helper_opts o = {
			.name = name, .image = image, .network = net, .aliases = aliases,
			.labels = run_labels(r, s->name, runbuf, sizeof(runbuf)), .nc = &s->cfg->net,
			.capture_dir = dir,
		};

		rc = netem_helper_start(r->t->x->dc, &o, id, err);
	}
	free(dir);
	return rc;
}

/* The helper of a created service: it must still run, or the service has no network. */
static int find_helper(struct run *r, struct svc *s, const char *name, char **id, struct pfs_err *err)
{
	struct docker_container_state st;
	char known[80];
	json_t *j = NULL;
	int rc;

	lock(r);
	snprintf(known, sizeof(known), "%s", s->helper);
	unlock(r);
	rc = docker_container_inspect(r->t->x->dc, known[0] ? known : name, &j, err);
	if (rc == -ENOENT)
		return pfs_err_set(err, -ENETDOWN, "the netem helper of %s is gone: %s lost its network", s->name,
				   s->name);
	if (rc < 0)
		return rc;
	docker_inspect_state(j, &st);
	if (!st.running)
		rc = pfs_err_set(err, -ENETDOWN, "the netem helper of %s exited %d: %s lost its network", s->name,
				 st.exit_code, s->name);
	else if (!(*id = strdup(json_string_value(json_object_get(j, "Id")) ?: "")))
		rc = pfs_err_set(err, -ENOMEM, "out of memory");
	json_decref(j);
	return rc;
}

int shape_ensure(struct run *r, struct svc *s, struct pfs_err *err)
{
	struct docker_client *dc = r->t->x->dc;
	char name[300], addr[64];
	json_t *j = NULL, *applied = NULL;
	bool created, announced;
	char *id = NULL;
	int rc;

	if (!svc_shaped(s))
		return 0;
	netem_helper_name(r->t->x->instance, r->t->name, r->n, s->name, name, sizeof(name));
	lock(r);
	created = s->created;
	announced = s->network != NULL;
	unlock(r);
	rc = created ? find_helper(r, s, name, &id, err) : start_helper(r, s, name, &id, err);
	if (rc < 0)
		goto out;
	lock(r);
	if (strcmp(s->helper, id)) {
		/* recorded before it is waited for: a kill now leaves nothing unknown */
		snprintf(s->helper, sizeof(s->helper), "%s", id);
		run_save(r);
	}
	unlock(r);
	/* applied already when it was announced (a resumed run): its report is in its log */
	if (!announced) {
		rc = netem_helper_wait(dc, id, NETEM_WAIT_MS, &applied, err);
		if (rc < 0)
			goto out;
	}
	rc = docker_container_inspect(dc, id, &j, err);
	if (rc < 0)
		goto out;
	if (docker_inspect_ip(j, r->net_name, addr, sizeof(addr)) < 0) {
		rc = pfs_err_set(err, -EADDRNOTAVAIL, "the netem helper of %s has no address on %s", s->name,
				 r->net_name);
		goto out;
	}
	lock(r);
	snprintf(s->address, sizeof(s->address), "%s", addr);
	pfs_realtime_ts(&s->status_mtime);
	if (!s->network && applied) {
		json_t *data = json_pack("{s:s,s:o,s:O}", "helper", id, "conditions", netcond_json(&s->cfg->net),
					 "applied", applied);

		s->network = json_incref(data);
		evlog_add_locked(r->t, r, "network.shaped", s->name, data);
	}
	run_save(r);
	unlock(r);
	engine_ctx_notify(r->t->x, ENGINE_EVENTS, r->t->name, r->n, NULL);
	engine_ctx_notify(r->t->x, ENGINE_STATUS, r->t->name, r->n, s->name);
out:
	json_decref(j);
	json_decref(applied);
	free(id);
	return rc < 0 ? docker_rc(rc) : 0;
}

int shape_inspect(struct run *r)
{
	for (size_t i = 0; i < r->n_svcs; i++) {
		struct svc *s = &r->svcs[i];
		struct docker_container_state st;
		char id[80];
		json_t *j = NULL;
		bool check;
		int rc;

		lock(r);
		snprintf(id, sizeof(id), "%s", s->helper);
		check = id[0] && s->network && !s->net_lost && r->state < RS_STOPPING;
		unlock(r);
		if (!check)
			continue;
		rc = docker_container_inspect(r->t->x->dc, id, &j, NULL);
		if (rc < 0 && rc != -ENOENT)
			return docker_rc(rc);
		if (rc == 0)
			docker_inspect_state(j, &st);
		json_decref(j);
		if (rc == 0 && st.running)
			continue;
		lock(r);
		/* the same record as Docker's "die" would have made */
		run_container_died(r, id, rc == 0 ? st.exit_code : -1);
		unlock(r);
		engine_ctx_notify(r->t->x, ENGINE_EVENTS, r->t->name, r->n, NULL);
	}
	return 0;
}

/* tcpdump's counters, which the helper prints when it is stopped (NULL when it did not capture). */
static json_t *capture_counters(struct docker_client *dc, const char *id)
{
	static const char mark[] = NETEM_REPORT "tcpdump: ";
	struct pfs_buf log = PFS_BUF_INIT(1u << 20);
	json_t *lines = NULL;

	if (docker_container_logs_sync(dc, id, false, &log, &log, NULL) == 0) {
		for (const char *p = pfs_buf_str(&log); (p = strstr(p, mark)); ) {
			size_t n;

			p += sizeof(mark) - 1;
			n = strcspn(p, "\r\n");
			if (!lines)
				lines = json_array();
			json_array_append_new(lines, json_stringn(p, n));
			p += n;
		}
	}
	pfs_buf_release(&log);
	return lines;
}

int shape_end(struct run *r, bool kill)
{
	struct docker_client *dc = r->t->x->dc;
	char runbuf[16], test[300], run[48];
	const char *filter[] = { r->t->x->instance_label, test, run, "pantherfs.helper=netem", NULL };
	json_t *list = NULL, *it;
	size_t i;
	int rc;

	snprintf(test, sizeof(test), "pantherfs.test=%s", r->t->name);
	snprintf(runbuf, sizeof(runbuf), "%d", r->n);
	snprintf(run, sizeof(run), "pantherfs.run=%s", runbuf);
	rc = docker_container_list(dc, filter, true, &list, NULL);
	if (rc < 0)
		return docker_rc(rc);
	json_array_foreach(list, i, it) {
		const char *id = json_string_value(json_object_get(it, "Id")) ?: "";
		const char *svc = json_string_value(json_object_get(json_object_get(it, "Labels"), "pantherfs.service"));
		struct pfs_err err = { 0 };
		json_t *counters;

		/* a grace period even for kill: what it shaped is gone, the pcap should be whole */
		rc = docker_container_stop(dc, id, kill ? 1 : r->t->x->grace_s, &err);
		if (conn_lost(rc))
			break;
		counters = capture_counters(dc, id);
		rc = netem_helper_remove(dc, id, 0, &err);
		if (conn_lost(rc)) {
			json_decref(counters);
			break;
		}
		evlog_add(r->t, r, rc == 0 ? "network.unshaped" : "network.unshape_failed", svc,
			  rc == 0 ? json_pack("{s:s,s:o*}", "helper", id, "capture", counters)
				  : json_pack("{s:s,s:s}", "helper", id, "error", err.msg));
		if (rc != 0)
			json_decref(counters);
		rc = 0; /* not removed: the monitor's sweep takes it later (its run is over) */
	}
	json_decref(list);
	engine_ctx_notify(r->t->x, ENGINE_EVENTS, r->t->name, r->n, NULL);
	return rc < 0 ? RUN_LOST : 0;
}

void shape_note(const struct svc *s, char *out, size_t n)
{
	char desc[320];
	size_t k = strlen(out);

	if (!netcond_active(&s->cfg->net) || k >= n)
		return;
	netcond_describe(&s->cfg->net, desc, sizeof(desc));
	snprintf(out + k, n - k, "; %s's network: %s", s->name, desc);
}

int shape_probe_ms(const struct svc *s)
{
	const struct netcond *nc = &s->cfg->net;
	double ms = PROBE_BASE_MS + nc->latency_ms + 4 * nc->jitter_ms;

	/* the answer waits in the helper's egress: the delay and its spread */
	return ms < PROBE_MAX_MS ? (int)ms : PROBE_MAX_MS;
}
