/* SPDX-License-Identifier: MIT */
/*
 * A run on a Docker Swarm: the Docker parts of run.c's phases when the
 * engine of --docker-host is a manager (docker_swarm.h has the mapping and
 * what was measured). Every call goes to the manager; the nodes are never
 * reached directly.
 *
 *   decide    /info at the run's start: a manager is a Swarm (unless
 *             --swarm=off), a worker an error that says where to point,
 *             an inactive Swarm one engine. Kept in run.json (mode), so a
 *             resumed run goes on where it began. What the mode cannot
 *             apply is said once per run: a warning line (the test's
 *             `warnings`) and a config.warning event.
 *   network   an attachable overlay network per run, found again by its
 *             labels (network.created).
 *   services  one Swarm service per config service (one replica, restart
 *             none, endpoint mode dnsrr so QUIC's datagrams reach the task
 *             itself), labelled as containers are, with its placement:
 *             node.hostname==<node>, the constraints as written, and
 *             node.id!=<node> of each apart_from service, known by then
 *             (they start earlier). A generated key pair goes in as two
 *             Swarm configs. The driver waits for the task to run (a node
 *             may spend minutes pulling: a service's timeout counts from
 *             then), records service.placed with its node, and follows the
 *             service's logs through the manager (follow.c).
 *   ready     a helper container on the manager, attached to the overlay,
 *             sends the probe's datagram (probe.h: quic_probe_script) and
 *             prints the answer, judged here by the probe's parser; it
 *             stays until the run's end (see start_helper), and connection
 *             ids from the run's names let a restart judge the same helper.
 *   inspect   one task list per run (by the services' labels) every 3 s:
 *             exits, and a task whose node is down, which never becomes
 *             final: the run fails saying which node.
 *   stop      docker_service_stop(): the node stops the task and keeps it,
 *             exit code and logs; kill removes the service at once.
 *   end       log streams ended, then the services, configs, probe helpers
 *             and the network removed (by label: also what was never
 *             recorded). The monitor's sweep removes what is left of runs
 *             that ended.
 *
 * Layer: below run.c (whose phases call in), above runstate.c and follow.c.
 * No lock is held across a Docker call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "pantherfs/docker_swarm.h"
#include "pantherfs/log.h"
#include "pantherfs/netcond.h"
#include "pantherfs/probe.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define TASK_START_S 600       /* a node pulling a large image (mvfst: 700 MB) */
#define UNPLACEABLE_S 20       /* "no suitable node" this long: the placement cannot be met */
#define STOP_EXTRA_S 30        /* beyond the grace period, for a stopped task to be final */
#define HELPER_EXTRA_S 60      /* beyond the probe's bound, for its container to start and end */
#define HELPER_TRIES 4         /* a helper's attachment to the overlay refused under load */
#define END_NET_TRIES 120      /* 250 ms apart: a network waits for its tasks' endpoints */

static void lock(struct run *r) { pthread_mutex_lock(&r->t->lock); }
static void unlock(struct run *r) { pthread_mutex_unlock(&r->t->lock); }

static struct docker_client *dc_of(struct run *r)
{
	return r->t->x->dc;
}

static int docker_rc(int rc)
{
	return conn_lost(rc) ? RUN_LOST : rc;
}

static void changed(struct run *r, enum engine_change what, const char *svc)
{
	engine_ctx_notify(r->t->x, what, r->t->name, r->n, svc);
}

static void nap(struct run *r, long ms)
{
	lock(r);
	run_nap(r, ms);
	unlock(r);
}

/* ---- names: Swarm takes DNS labels (63 characters, no '.'), test names may be longer ----------------- */

/* 12 hex digits of the instance, test, run and (when given) service: the same every time. */
static void name_hash(struct run *r, const char *svc, char out[13])
{
	char text[400], hex[65];

	snprintf(text, sizeof(text), "%s/%s/%d/%s", r->t->x->instance, r->t->name, r->n, svc ? svc : "");
	pfs_sha256_hex(text, strlen(text), hex);
	memcpy(out, hex, 12);
	out[12] = '\0';
}

/* pantherfs-<hash>-<service, as a DNS label allows it> */
static void service_name(struct run *r, const struct svc *s, char *out, size_t n)
{
	char h[13], tail[32];
	size_t k = 0;

	name_hash(r, s->name, h);
	for (const char *p = s->name; *p && k < sizeof(tail) - 1; p++)
		tail[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ? *p : '-';
	while (k && tail[k - 1] == '-')
		k--;
	tail[k] = '\0';
	snprintf(out, n, "pantherfs-%s%s%s", h, k ? "-" : "", tail);
}

void swarm_run_filters(struct run *r, char buf[3][160], const char *out[4])
{
	snprintf(buf[0], 160, "%s", r->t->x->instance_label);
	snprintf(buf[1], 160, "pantherfs.test=%s", r->t->name);
	snprintf(buf[2], 160, "pantherfs.run=%d", r->n);
	out[0] = buf[0];
	out[1] = buf[1];
	out[2] = buf[2];
	out[3] = NULL;
}

/* The run's labels (of service svc, when given) and one pair more: k, v, ..., NULL in out[16]. */
static void labels_plus(struct run *r, const char *svc, const char *k, const char *v, char *runbuf, size_t rn,
			const char *out[16])
{
	const char *const *l = run_labels(r, svc, runbuf, rn);
	size_t i = 0;

	for (; l[i] && i < 12; i++)
		out[i] = l[i];
	out[i++] = k;
	out[i++] = v;
	out[i] = NULL;
}

/* ---- where the run goes -------------------------------------------------------------------------- */

/* Appends line to the test's warnings (once) and records it (t->lock held). */
static void warn_locked(struct run *r, const char *line)
{
	struct test *t = r->t;
	char *text, *path;
	size_t n = strlen(line);

	for (const char *p = t->warnings_text; p && (p = strstr(p, line)); p++)
		if ((p == t->warnings_text || p[-1] == '\n') && p[n] == '\n')
			goto event; /* said already (a restart, a second run of the config) */
	text = pfs_strdup_printf("%s%s\n", t->warnings_text ? t->warnings_text : "", line);
	if (!text)
		return;
	free(t->warnings_text);
	t->warnings_text = text;
	pfs_realtime_ts(&t->warnings_mtime);
	path = pfs_strdup_printf("%s/warnings", t->dir);
	if (path)
		pfs_write_file_replace(path, text, strlen(text));
	free(path);
event:
	evlog_add_locked(t, r, "config.warning", NULL, json_pack("{s:s}", "warning", line));
}

static void warn_swarm(struct run *r)
{
	bool envs = r->cfg->exec_envs && r->cfg->exec_envs[0];
	char line[1024];

	for (size_t i = 0; i < r->n_svcs; i++) {
		const struct cfg_service *c = r->svcs[i].cfg;

		if (netcond_active(&c->net) || c->capture) {
			snprintf(line, sizeof(line), "config.yaml:%d:%d: services.%s: network conditions and capture not "
				 "applied on a Swarm: they need a helper in the service's network namespace, on its "
				 "node, which pantherfs reaches only through the manager", c->line, c->col, c->name);
			warn_locked(r, line);
		}
		if (c->qlog || c->keylog) {
			snprintf(line, sizeof(line), "config.yaml:%d:%d: services.%s: %s%s%s stay%s empty on a Swarm: the "
				 "program writes %s on its node", c->line, c->col, c->name, c->qlog ? "qlog/" : "",
				 c->qlog && c->keylog ? " and " : "", c->keylog ? "keys.log" : "",
				 c->qlog && c->keylog ? "" : "s", c->qlog && c->keylog ? "them" : "it");
			warn_locked(r, line);
		}
		if (envs) {
			snprintf(line, sizeof(line), "config.yaml:%d:%d: services.%s: results/ stays empty on a Swarm: "
				 "its execution environment writes there on the node that ran it", c->line, c->col,
				 c->name);
			warn_locked(r, line);
		}
	}
}

static void warn_engine(struct run *r, bool off)
{
	char line[1024];

	for (size_t i = 0; i < r->n_svcs; i++) {
		const struct cfg_service *c = r->svcs[i].cfg;

		if (!c->placement_line)
			continue;
		snprintf(line, sizeof(line), "config.yaml:%d:%d: services.%s.placement: not applied: %s", c->placement_line,
			 c->placement_col, c->name,
			 off ? "--swarm=off: one engine runs every service"
			     : "the Docker engine is not a Swarm manager, and one engine runs every service");
		warn_locked(r, line);
	}
}

/* A run refused before it began: said in `error` too, where a user looks. */
static int refuse(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct run *r, const char *fmt, ...)
{
	char why[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	lock(r);
	run_test_error(r, "run %d: %s\n", r->n, why);
	unlock(r);
	return run_end(r, RS_ERROR, "%s", why);
}

int swarm_decide(struct run *r)
{
	struct engine_ctx *x = r->t->x;
	struct docker_swarm_info si = { .state = "" };
	struct pfs_err err = { 0 };
	bool swarm = false, built = false;
	char h[13];
	int rc;

	if (r->mode[0])
		return 0;
	if (x->swarm != ENGINE_SWARM_OFF) {
		rc = docker_swarm_detect(x->dc, &si, &err);
		if (rc < 0) {
			snprintf(r->docker_msg, sizeof(r->docker_msg), "%s", err.msg);
			return docker_rc(rc);
		}
		if (si.active && !si.manager)
			return refuse(r, "the Docker engine is a worker of a Swarm (node %s): runs need a "
				       "manager: point --docker-host at one (docker node ls there lists the nodes), or "
				       "mount with --swarm=off to run on this engine alone", si.node_addr);
		if (!si.active && strcmp(si.state, "inactive"))
			return refuse(r, "the Docker engine's Swarm is %s%s%s: runs cannot start until it is "
				       "active (or mount with --swarm=off)", si.state, si.error[0] ? ": " : "", si.error);
		if (!si.active && x->swarm == ENGINE_SWARM_ON)
			return refuse(r, "--swarm=on, but the Docker engine is in no Swarm (docker swarm init "
				       "makes one; or mount without --swarm=on)");
		swarm = si.active;
	}
	for (size_t i = 0; i < r->n_svcs; i++)
		built |= !r->svcs[i].cfg->image.prebuilt;
	if (swarm && si.nodes > 1 && built && !x->registry[0])
		return refuse(r, "a Swarm of %d nodes: the images pantherfs builds on the manager reach the "
			       "other nodes only through a registry: mount with --registry=HOST:PORT (one every node "
			       "reaches)", si.nodes);
	lock(r);
	snprintf(r->mode, sizeof(r->mode), "%s", swarm ? "swarm" : "engine");
	if (swarm) {
		name_hash(r, NULL, h);
		snprintf(r->swarm_net, sizeof(r->swarm_net), "pantherfs-%s", h);
		evlog_add_locked(r->t, r, "run.swarm", NULL,
				 json_pack("{s:s,s:i,s:i,s:s?,s:s}", "manager", si.node_addr, "nodes", si.nodes,
					   "managers", si.managers, "registry", x->registry[0] ? x->registry : NULL,
					   "network", r->swarm_net));
		warn_swarm(r);
	} else {
		warn_engine(r, x->swarm == ENGINE_SWARM_OFF);
	}
	run_save(r);
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	changed(r, ENGINE_STATUS, NULL);
	return 0;
}

/* ---- the network ---------------------------------------------------------------------------------------- */

/*
 * Removes the run's overlay networks but keep (its labels, filter): a create
 * that timed out here can still succeed in the engine, and an adopted one
 * may have a twin; one left behind outlives the run (seen in fs-swarm under
 * load: six networks left).
 */
static void drop_twins(struct run *r, const char *const *filter, const char *keep)
{
	json_t *j = NULL;

	if (docker_network_list(dc_of(r), filter, &j, NULL) < 0)
		return;
	for (size_t i = 0; i < json_array_size(j); i++) {
		const char *id = json_string_value(json_object_get(json_array_get(j, i), "Id"));

		if (id && strcmp(id, keep))
			docker_network_remove(dc_of(r), id, NULL);
	}
	json_decref(j);
}

/* How services and the probe name the overlay: its id once known (a name can be ambiguous). */
static void net_ref(struct run *r, char *out, size_t n)
{
	lock(r);
	snprintf(out, n, "%s", r->net_id[0] ? r->net_id : r->swarm_net);
	unlock(r);
}

int swarm_ensure_network(struct run *r)
{
	char fb[3][160], runbuf[16], keep[sizeof(r->net_id)], *id = NULL;
	const char *filter[4];
	struct pfs_err err = { 0 };
	json_t *j = NULL;
	int rc;

	swarm_run_filters(r, fb, filter);
	rc = docker_network_list(dc_of(r), filter, &j, &err);
	if (rc < 0) {
		snprintf(r->docker_msg, sizeof(r->docker_msg), "network %s: %s", r->swarm_net, err.msg);
		return docker_rc(rc);
	}
	if (json_array_size(j) > 0) {
		/* made before pantherfs was killed: adopted, announced now if it was not */
		lock(r);
		snprintf(r->net_id, sizeof(r->net_id), "%s",
			 json_string_value(json_object_get(json_array_get(j, 0), "Id")) ?: "");
		if (!r->net_announced)
			evlog_add_locked(r->t, r, "network.created", NULL,
					 json_pack("{s:s,s:s,s:s,s:b}", "name", r->swarm_net, "id", r->net_id, "driver",
						   "overlay", "adopted", 1));
		r->net_announced = true;
		run_save(r);
		snprintf(keep, sizeof(keep), "%s", r->net_id);
		unlock(r);
		json_decref(j);
		if (keep[0])
			drop_twins(r, filter, keep);
		return 0;
	}
	json_decref(j);
	rc = docker_network_create_overlay(dc_of(r), r->swarm_net, run_labels(r, NULL, runbuf, sizeof(runbuf)), &id,
					   &err);
	if (rc < 0) {
		snprintf(r->docker_msg, sizeof(r->docker_msg), "cannot create the overlay network %s: %s", r->swarm_net,
			 err.msg);
		return docker_rc(rc);
	}
	lock(r);
	snprintf(r->net_id, sizeof(r->net_id), "%s", id);
	evlog_add_locked(r->t, r, "network.created", NULL,
			 json_pack("{s:s,s:s,s:s}", "name", r->swarm_net, "id", id, "driver", "overlay"));
	r->net_announced = true;
	run_save(r);
	unlock(r);
	changed(r, ENGINE_EVENTS, NULL);
	drop_twins(r, filter, id);
	free(id);
	return 0;
}

/* ---- the key pair as Swarm configs ------------------------------------------------------------------------ */

/* The config of one file of runs/<n>/certs/, made once (found by its labels afterwards). */
static int cert_config(struct run *r, const char *file, char *id_out, size_t idn, char *name_out, size_t nn,
		       struct pfs_err *err)
{
	char fb[3][160], fl[80], runbuf[16], h[13], *path, *id = NULL;
	const char *filter[5], *labels[16];
	struct pfs_buf b = PFS_BUF_INIT(400u * 1024);
	json_t *j = NULL;
	int rc;

	swarm_run_filters(r, fb, filter);
	snprintf(fl, sizeof(fl), "pantherfs.file=%s", file);
	filter[3] = fl;
	filter[4] = NULL;
	name_hash(r, NULL, h);
	snprintf(name_out, nn, "pantherfs-%s-%s", h, file);
	rc = docker_config_list(dc_of(r), filter, &j, err);
	if (rc < 0)
		return rc;
	if (json_array_size(j)) {
		snprintf(id_out, idn, "%s", json_string_value(json_object_get(json_array_get(j, 0), "ID")) ?: "");
		json_decref(j);
		return 0;
	}
	json_decref(j);
	path = pfs_strdup_printf("%s/certs/%s", r->dir, file);
	rc = path ? pfs_read_file(path, &b) : -ENOMEM;
	free(path);
	if (rc < 0) {
		pfs_buf_release(&b);
		return pfs_err_set(err, rc, "certs/%s of the run: %s", file, strerror(-rc));
	}
	labels_plus(r, NULL, "pantherfs.file", file, runbuf, sizeof(runbuf), labels);
	rc = docker_config_create(dc_of(r), name_out, labels, b.ptr, b.len, &id, err);
	pfs_buf_release(&b);
	if (rc == 0)
		snprintf(id_out, idn, "%s", id);
	free(id);
	return rc;
}

/* ---- services ----------------------------------------------------------------------------------------------- */

/* The service of s by its labels (a create answered to no one is found so); *id malloc'd or NULL. */
static int find_service(struct run *r, struct svc *s, char **id, struct pfs_err *err)
{
	char fb[3][160], sl[160];
	const char *filter[5];
	json_t *j = NULL;
	int rc;

	*id = NULL;
	swarm_run_filters(r, fb, filter);
	snprintf(sl, sizeof(sl), "pantherfs.service=%s", s->name);
	filter[3] = sl;
	filter[4] = NULL;
	rc = docker_service_list(dc_of(r), filter, &j, err);
	if (rc == 0 && json_array_size(j))
		*id = strdup(json_string_value(json_object_get(json_array_get(j, 0), "ID")) ?: "");
	json_decref(j);
	return rc;
}

/* The image a service names: the registry's digest of what was built, or the prebuilt reference. */
static int service_image(struct run *r, struct svc *s, char *out, size_t n)
{
	char ref[320];

	if (s->cfg->image.prebuilt) {
		snprintf(out, n, "%s", s->cfg->image.ref);
		return 0;
	}
	snprintf(ref, sizeof(ref), "%.*s", (int)strcspn(s->image, " "), s->image);
	if (!r->t->x->registry[0]) {
		/* one node: it has what the manager built */
		snprintf(out, n, "%s", ref);
		return 0;
	}
	return registry_digest_ref(r, ref, out, n);
}

static int create_service(struct run *r, struct svc *s, const char *name)
{
	char image[700], runbuf[16], cons[CONFIG_MAX_SERVICES + 40][320];
	char key_id[96], key_name[96], cert_id[96], cert_name[96], local_id[128];
	json_t *cj;
	const char *constraints[CONFIG_MAX_SERVICES + 41], *aliases[] = { s->name, NULL };
	const char *argv[] = { "sh", "-c", NULL, NULL }, **env = NULL;
	static const char *const ptrace_cap[] = { "SYS_PTRACE", NULL };
	struct docker_service_file files[2];
	char netref[sizeof(r->net_id) > sizeof(r->swarm_net) ? sizeof(r->net_id) : sizeof(r->swarm_net)];
	struct docker_service_net net = { netref, aliases };
	const char *const *labels = run_labels(r, s->name, runbuf, sizeof(runbuf));
	struct pfs_err err = { 0 };
	size_t nc = 0, nenv = 0;
	char *script = NULL, *id = NULL;
	bool tracer = false;
	int rc;

	net_ref(r, netref, sizeof(netref));
	if (!s->command)
		return run_end(r, RS_ERROR, "the command of %s does not render (see the log)", s->name);
	rc = service_image(r, s, image, sizeof(image));
	if (rc < 0) {
		if (conn_lost(rc))
			return RUN_LOST;
		return run_end(r, RS_ERROR, "the image of %s (%.*s) has no digest from the registry %s: it was not "
			       "pushed", s->name, (int)strcspn(s->image, " "), s->image, r->t->x->registry);
	}
	/* placement: the node, the constraints, the nodes of the services to keep apart from */
	if (s->cfg->node)
		snprintf(cons[nc++], sizeof(cons[0]), "node.hostname==%s", s->cfg->node);
	for (size_t i = 0; s->cfg->constraints[i] && nc < PFS_ARRAY_SIZE(cons); i++)
		snprintf(cons[nc++], sizeof(cons[0]), "%s", s->cfg->constraints[i]);
	for (size_t i = 0; s->cfg->apart_from[i] && nc < PFS_ARRAY_SIZE(cons); i++)
		for (size_t k = 0; k < r->n_svcs; k++) {
			const struct svc *o = &r->svcs[k];

			lock(r);
			if (!strcmp(o->name, s->cfg->apart_from[i]) && o->node_id[0])
				snprintf(cons[nc++], sizeof(cons[0]), "node.id!=%s", o->node_id);
			unlock(r);
		}
	for (size_t i = 0; i < nc; i++)
		constraints[i] = cons[i];
	constraints[nc] = NULL;

	if (s->cfg->gen_certs) {
		rc = cert_config(r, "key.pem", key_id, sizeof(key_id), key_name, sizeof(key_name), &err);
		if (rc == 0)
			rc = cert_config(r, "cert.pem", cert_id, sizeof(cert_id), cert_name, sizeof(cert_name), &err);
		if (rc < 0) {
			if (conn_lost(rc))
				return RUN_LOST;
			return run_end(r, RS_ERROR, "the key pair of %s as Swarm configs: %s", s->name, err.msg);
		}
		files[0] = (struct docker_service_file){ key_id, key_name, CONFIG_CERTS_DIR "/key.pem", 0400 };
		files[1] = (struct docker_service_file){ cert_id, cert_name, CONFIG_CERTS_DIR "/cert.pem", 0444 };
	}
	/*
	 * As on one engine (run.c, create_container): init passes a stop to the
	 * whole group, the shell waits for the program. The directories a bind
	 * mount makes there are made here, so a wrapper can write its results.
	 */
	script = pfs_strdup_printf("mkdir -p %s %s 2>/dev/null; trap : TERM INT; %s", CONFIG_RESULTS_DIR,
				   CONFIG_QLOG_DIR, s->command);
	for (nenv = 0; s->cfg->env && s->cfg->env[nenv]; nenv++)
		;
	env = calloc(nenv + 2, sizeof(*env));
	if (!script || !env) {
		free(script);
		free(env);
		return run_end(r, RS_ERROR, "out of memory creating the service of %s", s->name);
	}
	for (size_t i = 0; i < nenv; i++)
		env[i] = s->cfg->env[i];
	env[nenv] = "TINI_KILL_PROCESS_GROUP=1";
	argv[2] = script;
	for (size_t i = 0; r->cfg->exec_envs && r->cfg->exec_envs[i]; i++)
		tracer |= !strcmp(r->cfg->exec_envs[i], "strace") || !strcmp(r->cfg->exec_envs[i], "gdb");
	{
		struct docker_service_spec sp = {
			.name = name, .image = image, .cmd = argv, .env = env, .labels = labels,
			.container_labels = labels, .constraints = constraints, .networks = &net, .n_networks = 1,
			.files = s->cfg->gen_certs ? files : NULL, .n_files = s->cfg->gen_certs ? 2 : 0,
			.cap_add = tracer ? ptrace_cap : NULL, .init = true, .dnsrr = true,
			.stop_grace_s = run_stop_grace(r),
		};

		rc = docker_service_create(dc_of(r), &sp, &id, &err);
	}
	free(script);
	free(env);
	if (rc == -EBUSY) {
		/* the name is taken: made by this run before a kill, listed only now */
		rc = find_service(r, s, &id, &err);
		if (rc == 0 && !id)
			rc = -EBUSY;
	}
	if (rc < 0) {
		if (conn_lost(rc))
			return RUN_LOST;
		return run_end(r, RS_ERROR, "cannot create the Swarm service of %s: %s", s->name, err.msg);
	}
	cj = json_array();
	for (size_t i = 0; i < nc; i++)
		json_array_append_new(cj, json_string(cons[i]));
	lock(r);
	snprintf(s->service_id, sizeof(s->service_id), "%s", id);
	s->created = true;
	svc_set_status(s, "created");
	/* "<what the service names> <the image's id>" */
	snprintf(local_id, sizeof(local_id), "%s", strchr(s->image, ' ') ? strchr(s->image, ' ') + 1 : "");
	snprintf(s->image, sizeof(s->image), "%s %s", image, local_id);
	evlog_add_locked(r->t, r, "service.created", s->name,
			 json_pack("{s:s,s:s,s:s,s:o}", "service", id, "name", name, "image", image, "constraints", cj));
	run_save(r);
	unlock(r);
	free(id);
	changed(r, ENGINE_STATUS, s->name);
	changed(r, ENGINE_EVENTS, NULL);
	return 0;
}

/* ---- tasks ---------------------------------------------------------------------------------------------------- */

/*
 * The task of a service in list: the one recorded, else (not placed yet)
 * the one with a node, else any. A stop leaves a second, pending task
 * beside the stopped one: the recorded id tells them apart.
 */
static json_t *pick_task(json_t *list, const char *service_id, const char *task_id)
{
	json_t *it, *best = NULL;
	size_t i;

	json_array_foreach(list, i, it) {
		const char *sid = json_string_value(json_object_get(it, "ServiceID"));
		const char *tid = json_string_value(json_object_get(it, "ID"));

		if (!sid || strcmp(sid, service_id))
			continue;
		if (task_id[0]) {
			if (tid && !strcmp(tid, task_id))
				return it;
			continue;
		}
		if (!best || (json_string_value(json_object_get(it, "NodeID")) &&
			      !json_string_value(json_object_get(best, "NodeID"))))
			best = it;
	}
	return best;
}

/* A task that ran a container and ended: its exit code (a stopped one ends "shutdown"). */
static bool task_exit(json_t *tj, const struct docker_task *t, int *code)
{
	json_t *cs = json_object_get(json_object_get(tj, "Status"), "ContainerStatus");

	if (!t->container_id[0] || !docker_task_state_final(t->state) ||
	    (strcmp(t->state, "complete") && strcmp(t->state, "failed") && strcmp(t->state, "shutdown")))
		return false;
	*code = (int)json_integer_value(json_object_get(cs, "ExitCode"));
	return true;
}

/* The node of id: down (or unknown to the manager) is true; n filled when it could be read. */
static int node_down(struct run *r, const char *id, struct docker_node *n, bool *down)
{
	json_t *j = NULL;
	int rc;

	memset(n, 0, sizeof(*n));
	*down = false;
	rc = docker_node_inspect(dc_of(r), id, &j, NULL);
	if (rc == -ENOENT) {
		snprintf(n->hostname, sizeof(n->hostname), "%s", id);
		*down = true;
		return 0;
	}
	if (rc == 0 && docker_node_parse(j, n) == 0)
		*down = !strcmp(n->state, "down") || !strcmp(n->state, "unknown") || !strcmp(n->state, "disconnected");
	json_decref(j);
	return rc;
}

/* service.placed, once: the task and its node (t->lock not held). */
static int place(struct run *r, struct svc *s, const struct docker_task *t)
{
	struct docker_node n;
	bool down, announce;
	int rc = node_down(r, t->node_id, &n, &down);

	if (conn_lost(rc))
		return RUN_LOST;
	lock(r);
	snprintf(s->task_id, sizeof(s->task_id), "%s", t->id);
	snprintf(s->node_id, sizeof(s->node_id), "%s", t->node_id);
	snprintf(s->node, sizeof(s->node), "%s", n.hostname[0] ? n.hostname : t->node_id);
	announce = !s->placed;
	if (announce)
		evlog_add_locked(r->t, r, "service.placed", s->name,
				 json_pack("{s:s,s:s,s:s,s:s}", "node", s->node, "node_id", t->node_id, "node_address",
					   n.addr, "task", t->id));
	s->placed = true;
	pfs_realtime_ts(&s->status_mtime);
	run_save(r);
	unlock(r);
	if (announce) {
		changed(r, ENGINE_EVENTS, NULL);
		changed(r, ENGINE_STATUS, s->name);
	}
	return 0;
}

/* A service lost (its service or task gone, or its node down): recorded, and the run ends so. */
static int lose(struct run *r, struct svc *s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lose(struct run *r, struct svc *s, const char *fmt, ...)
{
	char why[512];
	bool live;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	lock(r);
	live = r->state < RS_STOPPING && !s->stop_sent;
	if (!s->lost)
		evlog_add_locked(r->t, r, "service.lost", s->name,
				 json_pack("{s:s,s:s,s:s}", "reason", why, "node", s->node, "task", s->task_id));
	s->lost = true;
	svc_record_exit(s, -1);
	svc_set_status(s, "lost");
	run_save(r);
	unlock(r);
	changed(r, ENGINE_STATUS, s->name);
	changed(r, ENGINE_EVENTS, NULL);
	return live ? run_end(r, RS_FAILED, "%s", why) : 0;
}

/* Records a task that runs: its container, its address on the overlay, service.started once. */
static void record_running(struct run *r, struct svc *s, json_t *tj, const struct docker_task *t)
{
	bool announce;

	lock(r);
	snprintf(s->container, sizeof(s->container), "%s", t->container_id);
	if (!s->address[0])
		docker_task_addr(tj, r->swarm_net, s->address, sizeof(s->address));
	announce = !s->started;
	if (announce)
		evlog_add_locked(r->t, r, "service.started", s->name,
				 json_pack("{s:s,s:s,s:s,s:s}", "container", t->container_id, "task", t->id, "node", s->node,
					   "address", s->address));
	s->started = true;
	if (!s->ready && !s->exited && strcmp(s->status, "running"))
		svc_set_status(s, "running");
	run_save(r);
	unlock(r);
	changed(r, ENGINE_STATUS, s->name);
	if (announce)
		changed(r, ENGINE_EVENTS, NULL);
}

/*
 * Waits for the service's task to run (or to have run: a quick client),
 * placing it as soon as it has a node. A task refused (no such image on the
 * node, a placement no node meets) ends the run in error with Swarm's words.
 */
static int await_task(struct run *r, struct svc *s)
{
	uint64_t t0 = pfs_now_ms(), unplaceable = 0;
	char sid[64], tid[64], last[16] = "";

	for (;;) {
		struct pfs_err err = { 0 };
		struct docker_task t;
		json_t *list = NULL, *tj;
		bool down;
		int rc, code;

		if (run_stop_asked(r))
			return 0;
		lock(r);
		snprintf(sid, sizeof(sid), "%s", s->service_id);
		snprintf(tid, sizeof(tid), "%s", s->task_id);
		unlock(r);
		rc = docker_task_list(dc_of(r), sid, &list, &err);
		if (rc < 0) {
			snprintf(r->docker_msg, sizeof(r->docker_msg), "the task of %s: %s", s->name, err.msg);
			return docker_rc(rc);
		}
		tj = pick_task(list, sid, tid);
		if (tj && docker_task_parse(tj, &t) == 0) {
			if (t.node_id[0] && (!tid[0] || !s->placed)) {
				rc = place(r, s, &t);
				if (rc != 0) {
					json_decref(list);
					return rc;
				}
			}
			if (!strcmp(t.state, "running")) {
				record_running(r, s, tj, &t);
				json_decref(list);
				return 0;
			}
			if (task_exit(tj, &t, &code)) {
				record_running(r, s, tj, &t);
				lock(r);
				svc_record_exit(s, code);
				unlock(r);
				changed(r, ENGINE_STATUS, s->name);
				json_decref(list);
				return 0;
			}
			if (docker_task_state_final(t.state)) {
				json_decref(list);
				lock(r);
				run_test_error(r, "run %d: the task of %s was %s on node %s: %s\n", r->n, s->name, t.state,
					       s->node[0] ? s->node : "(none)", t.error[0] ? t.error : t.message);
				unlock(r);
				return run_end(r, RS_ERROR, "the task of %s was %s on node %s: %s", s->name, t.state,
					       s->node[0] ? s->node : "(none)", t.error[0] ? t.error : t.message);
			}
			/* "no suitable node (scheduling constraints not satisfied on 3 nodes)" */
			if (!strcmp(t.state, "pending") && strstr(t.error, "no suitable node")) {
				if (!unplaceable)
					unplaceable = pfs_now_ms();
				if (pfs_now_ms() - unplaceable >= UNPLACEABLE_S * 1000) {
					json_decref(list);
					return run_end(r, RS_ERROR, "%s cannot be placed: %s (see its placement, and "
						       "docker node ls on the manager)", s->name, t.error);
				}
			} else {
				unplaceable = 0;
			}
			if (s->node_id[0] && strcmp(t.state, "pending")) {
				struct docker_node n;

				rc = node_down(r, s->node_id, &n, &down);
				if (conn_lost(rc)) {
					json_decref(list);
					return RUN_LOST;
				}
				if (down) {
					json_decref(list);
					return lose(r, s, "node %s went down (service %s): its task is not final (state %s, "
						    "desired %s)", s->node, s->name, t.state, t.desired);
				}
			}
			if (strcmp(last, t.state)) {
				/* what a slow start waits for: "client: preparing on pfsw-n3" (a pull) */
				snprintf(last, sizeof(last), "%s", t.state);
				lock(r);
				svc_set_status(s, "starting");
				if (r->state == RS_STARTING) {
					snprintf(r->reason, sizeof(r->reason), "%s: %s%s%s", s->name, t.state,
						 s->node[0] ? " on " : "", s->node);
					pfs_realtime_ts(&r->status_mtime);
				}
				unlock(r);
				changed(r, ENGINE_STATUS, s->name);
			}
		}
		json_decref(list);
		if (pfs_now_ms() - t0 >= TASK_START_S * 1000UL)
			return run_end(r, RS_ERROR, "the task of %s did not start within %d s (state %s%s%s)", s->name,
				       TASK_START_S, last[0] ? last : "none", s->node[0] ? " on " : "", s->node);
		nap(r, pfs_now_ms() - t0 < 5000 ? 250 : 1000);
	}
}

int swarm_ensure_service(struct run *r, struct svc *s)
{
	char name[128], sid[64], *id = NULL;
	struct pfs_err err = { 0 };
	uint64_t gen = conn_gen(&r->t->x->conn);
	bool created;
	json_t *j = NULL;
	int rc;

	service_name(r, s, name, sizeof(name));
	lock(r);
	snprintf(sid, sizeof(sid), "%s", s->service_id);
	created = s->created;
	unlock(r);
	if (sid[0]) {
		rc = docker_service_inspect(dc_of(r), sid, &j, &err);
		json_decref(j);
		if (rc == -ENOENT)
			sid[0] = '\0';
		else if (rc < 0)
			return docker_rc(rc);
	}
	if (!sid[0]) {
		rc = find_service(r, s, &id, &err);
		if (rc < 0)
			return docker_rc(rc);
		if (id) {
			/* made just before pantherfs was killed: found by its labels, announced now */
			lock(r);
			snprintf(s->service_id, sizeof(s->service_id), "%s", id);
			if (!created)
				evlog_add_locked(r->t, r, "service.created", s->name,
						 json_pack("{s:s,s:s,s:b}", "service", id, "name", name, "adopted", 1));
			s->created = true;
			run_save(r);
			unlock(r);
			free(id);
		} else if (created) {
			return lose(r, s, "lost: the Swarm service of %s is gone", s->name);
		} else {
			rc = create_service(r, s, name);
			if (rc != 0)
				return rc;
		}
	}
	rc = await_task(r, s);
	if (rc == 0)
		svc_follow_start(s, true, gen);
	return rc;
}

/* ---- readiness, from the overlay network -------------------------------------------------------------- */

/* The task of s now: its state, an exit, a node down. 0, or lose()'s / run_end()'s result. */
static int check_server(struct run *r, struct svc *s)
{
	char sid[64], tid[64];
	struct docker_task t;
	struct docker_node n;
	json_t *list = NULL, *tj;
	bool down = false;
	int rc, code;

	lock(r);
	snprintf(sid, sizeof(sid), "%s", s->service_id);
	snprintf(tid, sizeof(tid), "%s", s->task_id);
	unlock(r);
	rc = docker_task_list(dc_of(r), sid, &list, NULL);
	if (rc < 0)
		return docker_rc(rc);
	tj = pick_task(list, sid, tid);
	rc = 0;
	if (!tj || docker_task_parse(tj, &t) < 0) {
		rc = lose(r, s, "lost: the task of %s is gone", s->name);
	} else if (task_exit(tj, &t, &code)) {
		lock(r);
		svc_record_exit(s, code);
		unlock(r);
		changed(r, ENGINE_STATUS, s->name);
		rc = run_end(r, RS_FAILED, "server %s exited %d before it answered QUIC", s->name, code);
	} else if (docker_task_state_final(t.state)) {
		rc = lose(r, s, "the task of %s ended %s: %s", s->name, t.state, t.error[0] ? t.error : t.message);
	} else {
		rc = node_down(r, t.node_id, &n, &down);
		rc = conn_lost(rc) ? RUN_LOST : 0;
		if (rc == 0 && down)
			rc = lose(r, s, "node %s went down (service %s): its task is not final (state %s, desired %s)",
				  s->node, s->name, t.state, t.desired);
	}
	json_decref(list);
	return rc;
}

/* The probe's connection ids of a server: the same after a restart, so a helper left running is judged. */
static void probe_ids(struct run *r, const struct svc *s, unsigned char dcid[8], unsigned char scid[8])
{
	char text[400], hex[65];

	snprintf(text, sizeof(text), "%s/%s/%d/%s/probe", r->t->x->instance, r->t->name, r->n, s->name);
	pfs_sha256_hex(text, strlen(text), hex);
	for (int i = 0; i < 16; i++) {
		unsigned v;

		sscanf(hex + 2 * i, "%2x", &v);
		(i < 8 ? dcid : scid)[i % 8] = (unsigned char)v;
	}
}

/*
 * The helper of a server's probe: made, or found from before a restart. It
 * stays after its verdict (hold) until the run's end removes it: removing
 * it, or its exit, lets the manager's engine tear its copy of the overlay
 * down, and a helper attached right then fails ("network ... not found",
 * seen after a SIGKILL with 20 runs at once), its attachment left behind
 * holding the network.
 */
static int start_helper(struct run *r, struct svc *s, const char *name, const char *addr, const char *image,
			const unsigned char dcid[8], const unsigned char scid[8], char **id)
{
	struct pfs_buf script = PFS_BUF_INIT(65536);
	const char *labels[16], *ep[] = { "bash", "-c", NULL, NULL };
	struct docker_container_spec sp = { 0 };
	struct pfs_err err = { 0 };
	char runbuf[16], netref[sizeof(r->net_id) > sizeof(r->swarm_net) ? sizeof(r->net_id) : sizeof(r->swarm_net)];
	json_t *j = NULL;
	int rc;

	rc = docker_container_inspect(dc_of(r), name, &j, NULL);
	if (rc == 0) {
		struct docker_container_state st = { .running = false };

		docker_inspect_state(j, &st);
		if (st.running) {
			*id = strdup(json_string_value(json_object_get(j, "Id")) ?: "");
			json_decref(j);
			return *id ? 0 : -ENOMEM;
		}
		/*
		 * A held helper never ends by itself: one that does not run was
		 * created, or its start failed (exit 128, its attachment refused),
		 * just before pantherfs was killed. Made again.
		 */
		json_decref(j);
		j = NULL;
		rc = docker_container_remove(dc_of(r), name, true, NULL);
		if (rc < 0 && rc != -ENOENT)
			return docker_rc(rc);
		rc = -ENOENT;
	}
	if (rc != -ENOENT)
		return docker_rc(rc);
	if (quic_probe_script(addr, (int)s->cfg->port, r->t->x->ready_s, true, dcid, scid, &script) < 0) {
		pfs_buf_release(&script);
		return run_end(r, RS_ERROR, "the readiness probe of %s at %s:%ld: cannot make it", s->name, addr,
			       s->cfg->port);
	}
	ep[2] = pfs_buf_str(&script);
	labels_plus(r, s->name, "pantherfs.helper", "probe", runbuf, sizeof(runbuf), labels);
	sp.name = name;
	sp.image = image;
	sp.entrypoint = ep;
	sp.labels = labels;
	net_ref(r, netref, sizeof(netref));
	sp.network = netref;
	for (int tries = 0;; tries++) {
		rc = docker_container_create(dc_of(r), &sp, id, &err);
		if (rc == 0)
			rc = docker_container_start(dc_of(r), *id, &err);
		/*
		 * A container joins an overlay through an attachment the manager
		 * grants; under load that can time out ("attaching to network
		 * failed ... context deadline exceeded", seen with 20 runs at once
		 * on this machine). Again, a moment later, a few times.
		 */
		if (rc >= 0 || conn_lost(rc) || tries == HELPER_TRIES - 1 ||
		    !(strstr(err.msg, "attaching to network failed") || strstr(err.msg, "not found")))
			break;
		if (*id)
			docker_container_remove(dc_of(r), *id, true, NULL);
		free(*id);
		*id = NULL;
		nap(r, 1000);
	}
	pfs_buf_release(&script);
	if (rc < 0) {
		if (conn_lost(rc))
			return RUN_LOST;
		return run_end(r, RS_ERROR, "the readiness probe's helper for %s (a container on the manager, on the "
			       "overlay network): %s", s->name, err.msg);
	}
	return 0;
}

int swarm_wait_ready(struct run *r, struct svc *s)
{
	struct engine_ctx *x = r->t->x;
	unsigned char dcid[8], scid[8];
	struct pfs_buf out = PFS_BUF_INIT(65536);
	char name[64], image[200], addr[64], h[13], *id = NULL;
	struct docker_container_state st = { .running = true };
	uint64_t t0, last_check = 0;
	uint32_t versions[16];
	size_t nv = PFS_ARRAY_SIZE(versions);
	int bound = x->ready_s, rc, verdict = -EAGAIN;

	lock(r);
	snprintf(addr, sizeof(addr), "%s", s->address);
	snprintf(image, sizeof(image), "%s", strchr(s->image, ' ') ? strchr(s->image, ' ') + 1 : "");
	unlock(r);
	if (!addr[0])
		return run_end(r, RS_ERROR, "server %s has no address on the overlay network %s", s->name, r->swarm_net);
	name_hash(r, s->name, h);
	snprintf(name, sizeof(name), "pantherfs-probe-%s", h);
	probe_ids(r, s, dcid, scid);
	rc = start_helper(r, s, name, addr, image, dcid, scid, &id);
	if (rc != 0)
		goto out;
	t0 = pfs_now_ms();
	while (verdict == -EAGAIN) {
		json_t *j = NULL;

		if (run_stop_asked(r)) {
			rc = 0;
			goto out;
		}
		if (pfs_now_ms() - last_check >= 1000) {
			/* the server may end, or its node go, while it is probed */
			last_check = pfs_now_ms();
			rc = check_server(r, s);
			if (rc != 0)
				goto out;
		}
		rc = docker_container_inspect(dc_of(r), id, &j, NULL);
		if (rc == 0)
			docker_inspect_state(j, &st);
		json_decref(j);
		pfs_buf_reset(&out);
		if (rc == 0)
			rc = docker_container_logs_sync(dc_of(r), id, false, &out, NULL, NULL);
		if (rc < 0) {
			rc = docker_rc(rc);
			if (rc != RUN_LOST)
				rc = run_end(r, RS_ERROR, "the readiness probe's helper for %s went away", s->name);
			goto out;
		}
		nv = PFS_ARRAY_SIZE(versions);
		verdict = quic_probe_helper_result(pfs_buf_str(&out), dcid, scid, versions, &nv);
		if (verdict == -EAGAIN && !st.running)
			verdict = -ENOEXEC; /* ended without a word: no bash, no od... */
		if (verdict == -EAGAIN && pfs_now_ms() - t0 >= (uint64_t)(bound + HELPER_EXTRA_S) * 1000) {
			rc = run_end(r, RS_FAILED, "server %s: its readiness probe did not end within %d s", s->name,
				     bound + HELPER_EXTRA_S);
			goto out;
		}
		if (verdict == -EAGAIN)
			nap(r, 250);
	}
	if (verdict == -ETIMEDOUT) {
		rc = run_end(r, RS_FAILED, "server %s did not answer QUIC at %s:%ld within %d s (probed from a helper "
			     "on the overlay network %s)", s->name, addr, s->cfg->port, bound, r->swarm_net);
		goto out;
	}
	if (verdict < 0) {
		char *shown = pfs_escape_ctl_dup(pfs_buf_str(&out), 0);

		rc = run_end(r, RS_ERROR, "the readiness probe of %s could not run in its image (it needs bash, timeout, "
			     "dd, od and sleep): exit %d: %.200s", s->name, st.exit_code, shown ? shown : "");
		free(shown);
		goto out;
	}
	{
		json_t *vs = json_array();

		for (size_t i = 0; i < nv; i++) {
			char hex[16];

			snprintf(hex, sizeof(hex), "0x%08x", versions[i]);
			json_array_append_new(vs, json_string(hex));
		}
		lock(r);
		s->ready = true;
		svc_set_status(s, "ready");
		evlog_add_locked(r->t, r, "service.ready", s->name,
				 json_pack("{s:s,s:I,s:o,s:s}", "address", addr, "port", (json_int_t)s->cfg->port,
					   "versions", vs, "probed_from", "overlay"));
		run_save(r);
		unlock(r);
		changed(r, ENGINE_STATUS, s->name);
		changed(r, ENGINE_EVENTS, NULL);
	}
	rc = 0;
out:
	/* the helper stays until the run's end (swarm_end removes it by label) */
	free(id);
	pfs_buf_release(&out);
	return rc;
}

/* ---- while it runs, and its end -------------------------------------------------------------------------- */

int swarm_inspect(struct run *r)
{
	char fb[3][160];
	const char *filter[4];
	json_t *list = NULL;
	int rc;

	swarm_run_filters(r, fb, filter);
	rc = docker_task_list_labels(dc_of(r), filter, &list, NULL);
	if (rc < 0)
		return docker_rc(rc);
	for (size_t i = 0; i < r->n_svcs && rc == 0; i++) {
		struct svc *s = &r->svcs[i];
		char sid[64], tid[64], node_id[64];
		struct docker_task t;
		struct docker_node n;
		bool check, down;
		json_t *tj;
		int code;

		lock(r);
		snprintf(sid, sizeof(sid), "%s", s->service_id);
		snprintf(tid, sizeof(tid), "%s", s->task_id);
		snprintf(node_id, sizeof(node_id), "%s", s->node_id);
		check = sid[0] && s->started && !s->exited;
		unlock(r);
		if (!check)
			continue;
		tj = pick_task(list, sid, tid);
		if (!tj || docker_task_parse(tj, &t) < 0) {
			rc = lose(r, s, "lost: the Swarm service of %s is gone", s->name);
		} else if (task_exit(tj, &t, &code)) {
			lock(r);
			svc_record_exit(s, code);
			unlock(r);
			changed(r, ENGINE_STATUS, s->name);
		} else if (docker_task_state_final(t.state)) {
			rc = lose(r, s, "the task of %s ended %s on node %s: %s", s->name, t.state, s->node,
				  t.error[0] ? t.error : t.message);
		} else if (node_id[0]) {
			/* a node that went away never reports its task final: the node tells */
			rc = node_down(r, node_id, &n, &down);
			rc = conn_lost(rc) ? RUN_LOST : 0;
			if (rc == 0 && down)
				rc = lose(r, s, "node %s went down (service %s): its task is not final (state %s, "
					  "desired %s%s%s)", s->node, s->name, t.state, t.desired, n.message[0] ? "; the "
					  "manager says: " : "", n.message);
		}
	}
	json_decref(list);
	return rc;
}

int swarm_stop_service(struct run *r, struct svc *s, bool kill)
{
	char sid[64], tid[64];
	struct pfs_err err = { 0 };
	uint64_t until;
	int rc;

	lock(r);
	if (!s->service_id[0] || s->exited || !s->started) {
		unlock(r);
		return 0;
	}
	s->stop_sent = true;
	snprintf(sid, sizeof(sid), "%s", s->service_id);
	run_save(r);
	unlock(r);
	if (kill) {
		/* at once: the node stops it on its own, and the exit code goes with the task */
		rc = docker_service_remove(dc_of(r), sid, &err);
		if (rc < 0 && rc != -ENOENT)
			return docker_rc(rc);
		lock(r);
		svc_record_exit(s, -1);
		unlock(r);
		evlog_add(r->t, r, "service.stopped", s->name, json_pack("{s:s}", "how", "killed"));
		return 0;
	}
	for (int tries = 0;; tries++) {
		rc = docker_service_stop(dc_of(r), sid, &err);
		if (rc != -EAGAIN || tries == 3)
			break;
	}
	if (rc == -ENOENT)
		return lose(r, s, "lost: the Swarm service of %s is gone", s->name);
	if (rc < 0) {
		snprintf(r->docker_msg, sizeof(r->docker_msg), "cannot stop the service of %s: %s", s->name, err.msg);
		return docker_rc(rc);
	}
	evlog_add(r->t, r, "service.stopped", s->name, json_pack("{s:s}", "how", "stopped"));
	/* as docker stop does: back when the program has ended (or its node went) */
	until = pfs_now_ms() + (uint64_t)(run_stop_grace(r) + STOP_EXTRA_S) * 1000;
	while (pfs_now_ms() < until) {
		struct docker_task t;
		struct docker_node n;
		json_t *list = NULL, *tj;
		bool down = false;
		int code;

		lock(r);
		snprintf(tid, sizeof(tid), "%s", s->task_id);
		unlock(r);
		rc = docker_task_list(dc_of(r), sid, &list, NULL);
		if (rc < 0)
			return docker_rc(rc);
		tj = pick_task(list, sid, tid);
		if (tj && docker_task_parse(tj, &t) == 0 && task_exit(tj, &t, &code)) {
			lock(r);
			svc_record_exit(s, code);
			unlock(r);
			changed(r, ENGINE_STATUS, s->name);
			json_decref(list);
			return 0;
		}
		if (!tj || docker_task_state_final(t.state) ||
		    (t.node_id[0] && node_down(r, t.node_id, &n, &down) == 0 && down)) {
			json_decref(list);
			return lose(r, s, "%s stopped without an exit code (its task %s)", s->name,
				    tj ? t.state : "is gone");
		}
		json_decref(list);
		nap(r, 250);
	}
	return 0;
}

/* Removes every object of kind the list call gives for this run (extra: one more filter). */
static int remove_all(struct run *r, int (*list)(struct docker_client *, const char *const *, json_t **,
						 struct pfs_err *),
		      int (*rm)(struct docker_client *, const char *, struct pfs_err *), const char *key,
		      const char *extra, size_t *left)
{
	char fb[3][160];
	const char *filter[5];
	json_t *l = NULL, *it;
	size_t i;
	int rc;

	swarm_run_filters(r, fb, filter);
	filter[3] = extra;
	filter[4] = NULL;
	*left = 0;
	rc = list(dc_of(r), filter, &l, NULL);
	if (rc < 0)
		return docker_rc(rc);
	json_array_foreach(l, i, it) {
		rc = rm(dc_of(r), json_string_value(json_object_get(it, key)), NULL);
		if (conn_lost(rc)) {
			json_decref(l);
			return RUN_LOST;
		}
		*left += rc < 0 && rc != -ENOENT;
	}
	json_decref(l);
	return 0;
}

static int container_list_all(struct docker_client *c, const char *const *labels, json_t **out,
			      struct pfs_err *err)
{
	return docker_container_list(c, labels, true, out, err);
}

static int container_rm(struct docker_client *c, const char *id, struct pfs_err *err)
{
	return docker_container_remove(c, id, true, err);
}

int swarm_end(struct run *r)
{
	struct pfs_err err = { 0 };
	size_t left = 0;
	int rc;

	/* the services go: their log streams deliver the last lines and end (follow.c) */
	rc = remove_all(r, docker_service_list, docker_service_remove, "ID", NULL, &left);
	if (rc < 0)
		return rc;
	lock(r);
	for (int tries = 0; tries < 25; tries++) {
		bool any = false;

		for (size_t i = 0; i < r->n_svcs; i++)
			any |= r->svcs[i].following;
		if (!any)
			break;
		run_nap(r, 200);
	}
	unlock(r);
	for (size_t i = 0; i < r->n_svcs; i++)
		svc_follow_stop(&r->svcs[i]);
	rc = remove_all(r, container_list_all, container_rm, "Id", "pantherfs.helper=probe", &left);
	/* a config stays in use until its service's tasks are gone */
	for (int tries = 0; rc == 0 && tries < 40; tries++) {
		rc = remove_all(r, docker_config_list, docker_config_remove, "ID", NULL, &left);
		if (rc < 0 || !left)
			break;
		nap(r, 250);
	}
	if (rc < 0)
		return rc;
	if (!r->net_id[0] && !r->net_announced)
		return 0;
	/* and the network, once its tasks' endpoints are gone on every node */
	for (int tries = 0; tries < END_NET_TRIES; tries++) {
		rc = docker_network_remove(dc_of(r), r->net_id[0] ? r->net_id : r->swarm_net, &err);
		if (conn_lost(rc))
			return RUN_LOST;
		if (rc == 0 || rc == -ENOENT)
			break;
		nap(r, 250);
	}
	if (rc == 0 || rc == -ENOENT) {
		/* and a twin, if a create answered to no one made one */
		char fb[3][160];
		const char *filter[4];

		swarm_run_filters(r, fb, filter);
		drop_twins(r, filter, "");
	}
	run_network_removed(r, r->swarm_net, rc, &err);
	changed(r, ENGINE_EVENTS, NULL);
	return 0;
}
