/* SPDX-License-Identifier: MIT */
/*
 * Swarm calls: request bodies built with jansson, answers decoded into
 * fixed-size structs (docker_task, docker_node) so callers keep no JSON
 * around; the transport, error mapping and log framing are api.c's and
 * client.c's. How a run maps onto these calls: docker_swarm.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "docker_internal.h"
#include "pantherfs/docker_swarm.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static void copy_str(json_t *o, const char *key, char *out, size_t n)
{
	const char *v = json_string_value(json_object_get(o, key));

	snprintf(out, n, "%s", v ? v : "");
}

/* *id_out from the "ID" of a create's answer. */
static int take_id(json_t *out, const char *what, char **id_out, struct pfs_err *err)
{
	const char *id = json_string_value(json_object_get(out, "ID"));

	if (!id || !*id)
		return pfs_err_set(err, -EPROTO, "%s: no ID in the engine's answer", what);
	*id_out = strdup(id);
	return *id_out ? 0 : pfs_err_set(err, -ENOMEM, "out of memory");
}

/* A GET of path with filters={key:[values...]} (values NULL-terminated, none: no filter). */
static int list_call(struct docker_client *c, const char *path, const char *key,
		     const char *const *values, json_t **out, struct pfs_err *err)
{
	struct pfs_buf q = PFS_BUF_INIT(65536);
	char *f = NULL;
	int r;

	if (values && values[0]) {
		json_t *o = json_pack("{s:o}", key, docker_json_strv(values));

		f = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (!f || docker_query_add(&q, "filters", f) < 0) {
			free(f);
			pfs_buf_release(&q);
			return pfs_err_set(err, -ENOMEM, "out of memory");
		}
	}
	r = docker_json_call(c, "GET", path, q.len ? pfs_buf_str(&q) : NULL, NULL, 0, out, err);
	free(f);
	pfs_buf_release(&q);
	return r;
}

/* GET or DELETE of fmt with one escaped id. */
static int one_call(struct docker_client *c, const char *method, const char *fmt, const char *id,
		    json_t **out, struct pfs_err *err)
{
	char *path;
	int r;

	if (!id || !*id)
		return pfs_err_set(err, -EINVAL, "%s: empty id", fmt);
	path = docker_path1(fmt, id);
	if (!path)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	r = docker_json_call(c, method, path, NULL, NULL, 0, out, err);
	free(path);
	return r;
}

/* ---- detection ------------------------------------------------------------------------- */

int docker_swarm_info_parse(json_t *info, struct docker_swarm_info *out)
{
	json_t *sw = json_object_get(info, "Swarm");
	json_t *cl = json_object_get(sw, "Cluster");

	memset(out, 0, sizeof(*out));
	if (!json_is_object(sw))
		return -EPROTO;
	copy_str(sw, "LocalNodeState", out->state, sizeof(out->state));
	out->active = !strcmp(out->state, "active");
	out->manager = json_is_true(json_object_get(sw, "ControlAvailable"));
	copy_str(sw, "NodeID", out->node_id, sizeof(out->node_id));
	copy_str(sw, "NodeAddr", out->node_addr, sizeof(out->node_addr));
	copy_str(sw, "Error", out->error, sizeof(out->error));
	if (json_is_object(cl))
		copy_str(cl, "ID", out->cluster_id, sizeof(out->cluster_id));
	out->nodes = (int)json_integer_value(json_object_get(sw, "Nodes"));
	out->managers = (int)json_integer_value(json_object_get(sw, "Managers"));
	return 0;
}

int docker_swarm_detect(struct docker_client *c, struct docker_swarm_info *out,
			struct pfs_err *err)
{
	json_t *info = NULL;
	int r = docker_info(c, &info, err);

	if (r < 0)
		return r;
	r = docker_swarm_info_parse(info, out);
	json_decref(info);
	return r < 0 ? pfs_err_set(err, r, "the engine's /info has no Swarm section") : 0;
}

/* ---- services ---------------------------------------------------------------------------- */

static json_t *container_spec(const struct docker_service_spec *s)
{
	json_t *cs = json_object();

	json_object_set_new(cs, "Image", json_string(s->image));
	if (s->cmd)
		json_object_set_new(cs, "Args", docker_json_strv(s->cmd));
	if (s->entrypoint)
		json_object_set_new(cs, "Command", docker_json_strv(s->entrypoint));
	if (s->env)
		json_object_set_new(cs, "Env", docker_json_strv(s->env));
	if (s->container_labels)
		json_object_set_new(cs, "Labels", docker_json_kv(s->container_labels));
	if (s->working_dir)
		json_object_set_new(cs, "Dir", json_string(s->working_dir));
	if (s->init)
		json_object_set_new(cs, "Init", json_true());
	if (s->tty)
		json_object_set_new(cs, "TTY", json_true());
	if (s->cap_add)
		json_object_set_new(cs, "CapabilityAdd", docker_json_strv(s->cap_add));
	if (s->stop_grace_s > 0)
		json_object_set_new(cs, "StopGracePeriod",
				    json_integer((json_int_t)s->stop_grace_s * 1000000000));
	if (s->n_files) {
		json_t *a = json_array();

		for (size_t i = 0; i < s->n_files; i++) {
			const struct docker_service_file *f = &s->files[i];

			json_array_append_new(a, json_pack("{s:{s:s,s:s,s:s,s:i},s:s,s:s}",
				"File", "Name", f->path, "UID", "0", "GID", "0",
				"Mode", f->mode ? (int)f->mode : 0444,
				"ConfigID", f->config_id, "ConfigName", f->config_name));
		}
		json_object_set_new(cs, "Configs", a);
	}
	return cs;
}

static int check_spec(const struct docker_service_spec *s, struct pfs_err *err)
{
	if (!s->image || !*s->image)
		return pfs_err_set(err, -EINVAL, "service create: no image");
	for (size_t i = 0; i < s->n_networks; i++)
		if (!s->networks[i].target || !*s->networks[i].target)
			return pfs_err_set(err, -EINVAL, "service create: network %zu has no name", i);
	for (size_t i = 0; i < s->n_files; i++) {
		const struct docker_service_file *f = &s->files[i];

		if (!f->config_id || !f->config_name || !f->path || f->path[0] != '/')
			return pfs_err_set(err, -EINVAL,
					   "service create: file %zu needs a config and an absolute path", i);
	}
	return 0;
}

int docker_service_create(struct docker_client *c, const struct docker_service_spec *s,
			  char **id_out, struct pfs_err *err)
{
	struct docker_request rq = DOCKER_REQUEST_INIT;
	struct docker_result res;
	json_t *body = NULL, *tt, *nets, *out = NULL;
	char *text = NULL, *hdr = NULL;
	json_error_t jerr;
	int r;

	r = check_spec(s, err);
	if (r < 0)
		return r;
	tt = json_object();
	json_object_set_new(tt, "ContainerSpec", container_spec(s));
	/* a test's program runs once: a failed or finished one must stay so */
	json_object_set_new(tt, "RestartPolicy", json_pack("{s:s,s:i}", "Condition", "none",
							   "MaxAttempts", 0));
	json_object_set_new(tt, "Placement",
			    json_pack("{s:o}", "Constraints", docker_json_strv(s->constraints)));
	nets = json_array();
	for (size_t i = 0; i < s->n_networks; i++) {
		json_t *n = json_pack("{s:s}", "Target", s->networks[i].target);

		if (s->networks[i].aliases)
			json_object_set_new(n, "Aliases", docker_json_strv(s->networks[i].aliases));
		json_array_append_new(nets, n);
	}
	json_object_set_new(tt, "Networks", nets);
	body = json_pack("{s:o,s:o,s:{s:{s:i}},s:{s:s}}", "Labels", docker_json_kv(s->labels),
			 "TaskTemplate", tt, "Mode", "Replicated", "Replicas", 1,
			 "EndpointSpec", "Mode", s->dnsrr ? "dnsrr" : "vip");
	if (body && s->name)
		json_object_set_new(body, "Name", json_string(s->name));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (s->registry_auth)
		hdr = pfs_strdup_printf("X-Registry-Auth: %s", s->registry_auth);
	if (!text || (s->registry_auth && !hdr)) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	rq.method = "POST";
	rq.path = "/services/create";
	rq.body = text;
	rq.body_len = strlen(text);
	rq.headers = hdr ? (const char *const[]){ hdr, NULL } : NULL;
	r = docker_request_sync(c, &rq, &res, err);
	if (r < 0)
		goto out;
	out = json_loadb(res.body ? res.body : "", res.body_len, 0, &jerr);
	docker_result_release(&res);
	if (!out) {
		r = pfs_err_set(err, -EPROTO, "service create: malformed JSON from the engine: %s",
				jerr.text);
		goto out;
	}
	r = take_id(out, "service create", id_out, err);
out:
	json_decref(body);
	json_decref(out);
	free(text);
	free(hdr);
	return r;
}

int docker_service_inspect(struct docker_client *c, const char *id, json_t **out,
			   struct pfs_err *err)
{
	return one_call(c, "GET", "/services/%s", id, out, err);
}

int docker_service_remove(struct docker_client *c, const char *id, struct pfs_err *err)
{
	return one_call(c, "DELETE", "/services/%s", id, NULL, err);
}

int docker_service_stop(struct docker_client *c, const char *id, struct pfs_err *err)
{
	json_t *svc = NULL, *spec, *tt, *pl, *cons, *it;
	struct pfs_buf q = PFS_BUF_INIT(256);
	char *path = NULL, ver[32];
	json_int_t index;
	size_t i;
	int r;

	r = docker_service_inspect(c, id, &svc, err);
	if (r < 0)
		return r;
	spec = json_object_get(svc, "Spec");
	tt = json_object_get(spec, "TaskTemplate");
	index = json_integer_value(json_object_get(json_object_get(svc, "Version"), "Index"));
	if (!json_is_object(tt) || index <= 0) {
		r = pfs_err_set(err, -EPROTO, "service %s: no spec or version in the engine's answer", id);
		goto out;
	}
	pl = json_object_get(tt, "Placement");
	if (!json_is_object(pl)) {
		pl = json_object();
		json_object_set_new(tt, "Placement", pl);
	}
	cons = json_object_get(pl, "Constraints");
	if (!json_is_array(cons)) {
		cons = json_array();
		json_object_set_new(pl, "Constraints", cons);
	}
	json_array_foreach(cons, i, it)
		if (!strcmp(json_string_value(it) ?: "", DOCKER_SERVICE_HELD))
			goto out; /* held already */
	json_array_append_new(cons, json_string(DOCKER_SERVICE_HELD));
	snprintf(ver, sizeof(ver), "%lld", (long long)index);
	path = docker_path1("/services/%s/update", id);
	if (!path || docker_query_add(&q, "version", ver) < 0) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = docker_json_call(c, "POST", path, pfs_buf_str(&q), spec, 0, NULL, err);
	/* "update out of sequence": another update took the version first */
	if (r == -EIO && err && strstr(err->msg, "out of sequence"))
		r = -EAGAIN;
out:
	free(path);
	pfs_buf_release(&q);
	json_decref(svc);
	return r;
}

int docker_service_list(struct docker_client *c, const char *const *labels, json_t **out,
			struct pfs_err *err)
{
	return list_call(c, "/services", "label", labels, out, err);
}

struct docker_call *docker_service_logs(struct docker_client *c, const char *id,
					const struct docker_logs_opts *o,
					const struct docker_logs_cbs *cbs, struct pfs_err *err)
{
	struct docker_call *call;
	int tty = o->tty;
	char *path;

	if (tty < 0 && !docker_on_io_thread(c)) {
		char ver[16];

		/* before API 1.42 no Content-Type tells raw from framed: ask the service */
		docker_client_api_version(c, ver, sizeof(ver));
		if (!ver[0] || docker_api_parse(ver) < 1042) {
			json_t *j = NULL;

			if (docker_service_inspect(c, id, &j, err) < 0)
				return NULL;
			tty = json_is_true(json_object_get(json_object_get(json_object_get(
				json_object_get(j, "Spec"), "TaskTemplate"), "ContainerSpec"), "TTY"));
			json_decref(j);
		}
	}
	path = docker_path1("/services/%s/logs", id);
	if (!path) {
		pfs_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	call = docker_logs_at(c, path, tty, o, cbs, err);
	free(path);
	return call;
}

int docker_service_logs_sync(struct docker_client *c, const char *id, bool timestamps,
			     struct pfs_buf *out_stdout, struct pfs_buf *out_stderr,
			     struct pfs_err *err)
{
	return docker_logs_collect(c, docker_service_logs, id, timestamps, out_stdout, out_stderr,
				   err);
}

/* ---- tasks ------------------------------------------------------------------------------------ */

int docker_task_list(struct docker_client *c, const char *service, json_t **out,
		     struct pfs_err *err)
{
	if (!service || !*service)
		return pfs_err_set(err, -EINVAL, "task list: no service");
	return list_call(c, "/tasks", "service", (const char *const[]){ service, NULL }, out, err);
}

int docker_task_list_labels(struct docker_client *c, const char *const *labels, json_t **out,
			    struct pfs_err *err)
{
	if (!labels || !labels[0])
		return pfs_err_set(err, -EINVAL, "task list: no label");
	return list_call(c, "/tasks", "label", labels, out, err);
}

bool docker_task_state_final(const char *state)
{
	static const char *const final[] = { "complete", "failed", "shutdown", "rejected",
					     "orphaned", "remove" };

	for (size_t i = 0; state && i < PFS_ARRAY_SIZE(final); i++)
		if (!strcmp(state, final[i]))
			return true;
	return false;
}

int docker_task_parse(json_t *task, struct docker_task *t)
{
	json_t *st = json_object_get(task, "Status");
	json_t *cs = json_object_get(st, "ContainerStatus");

	memset(t, 0, sizeof(*t));
	if (!json_is_string(json_object_get(task, "ID")) || !json_is_object(st))
		return -EPROTO;
	copy_str(task, "ID", t->id, sizeof(t->id));
	copy_str(task, "ServiceID", t->service_id, sizeof(t->service_id));
	copy_str(task, "NodeID", t->node_id, sizeof(t->node_id));
	t->slot = (int)json_integer_value(json_object_get(task, "Slot"));
	copy_str(task, "DesiredState", t->desired, sizeof(t->desired));
	copy_str(st, "State", t->state, sizeof(t->state));
	copy_str(st, "Message", t->message, sizeof(t->message));
	copy_str(st, "Err", t->error, sizeof(t->error));
	copy_str(st, "Timestamp", t->timestamp, sizeof(t->timestamp));
	copy_str(cs, "ContainerID", t->container_id, sizeof(t->container_id));
	/* ExitCode is 0 while the container runs: it means something only at the end */
	t->exited = t->container_id[0] &&
		    (!strcmp(t->state, "complete") || !strcmp(t->state, "failed"));
	t->exit_code = t->exited ? (int)json_integer_value(json_object_get(cs, "ExitCode")) : 0;
	return 0;
}

int docker_task_addr(json_t *task, const char *network, char *out, size_t outlen)
{
	json_t *atts = json_object_get(task, "NetworksAttachments"), *a;
	size_t i;

	json_array_foreach(atts, i, a) {
		json_t *net = json_object_get(a, "Network");
		const char *id = json_string_value(json_object_get(net, "ID"));
		const char *name = json_string_value(
			json_object_get(json_object_get(net, "Spec"), "Name"));
		const char *addr = json_string_value(json_array_get(json_object_get(a, "Addresses"), 0));
		size_t n;

		if (!addr || !network || ((!id || strcmp(id, network)) && (!name || strcmp(name, network))))
			continue;
		n = strcspn(addr, "/");
		if (n == 0 || n >= outlen)
			return -ENOENT;
		memcpy(out, addr, n);
		out[n] = '\0';
		return 0;
	}
	return -ENOENT;
}

/* ---- nodes -------------------------------------------------------------------------------------- */

int docker_node_list(struct docker_client *c, json_t **out, struct pfs_err *err)
{
	return list_call(c, "/nodes", NULL, NULL, out, err);
}

int docker_node_inspect(struct docker_client *c, const char *id, json_t **out,
			struct pfs_err *err)
{
	return one_call(c, "GET", "/nodes/%s", id, out, err);
}

int docker_node_parse(json_t *node, struct docker_node *n)
{
	json_t *spec = json_object_get(node, "Spec"), *st = json_object_get(node, "Status");

	memset(n, 0, sizeof(*n));
	if (!json_is_string(json_object_get(node, "ID")) || !json_is_object(st))
		return -EPROTO;
	copy_str(node, "ID", n->id, sizeof(n->id));
	copy_str(json_object_get(node, "Description"), "Hostname", n->hostname, sizeof(n->hostname));
	copy_str(st, "State", n->state, sizeof(n->state));
	copy_str(st, "Addr", n->addr, sizeof(n->addr));
	copy_str(st, "Message", n->message, sizeof(n->message));
	copy_str(spec, "Availability", n->availability, sizeof(n->availability));
	copy_str(spec, "Role", n->role, sizeof(n->role));
	n->leader = json_is_true(json_object_get(json_object_get(node, "ManagerStatus"), "Leader"));
	return 0;
}

/* ---- configs -------------------------------------------------------------------------------------- */

int docker_config_create(struct docker_client *c, const char *name, const char *const *labels,
			 const void *data, size_t len, char **id_out, struct pfs_err *err)
{
	json_t *body = NULL, *out = NULL;
	unsigned char *b64;
	int r;

	if (!name || !*name)
		return pfs_err_set(err, -EINVAL, "config create: no name");
	/* Swarm caps a config at 500 KiB; the bound also keeps the int below exact */
	if (len > 500u * 1024)
		return pfs_err_set(err, -EFBIG, "config create: %zu bytes, more than 500 KiB", len);
	b64 = malloc(4 * ((len + 2) / 3) + 1);
	if (!b64)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	EVP_EncodeBlock(b64, data, (int)len);
	body = json_pack("{s:s,s:o,s:s}", "Name", name, "Labels", docker_json_kv(labels),
			 "Data", (const char *)b64);
	free(b64);
	if (!body)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	r = docker_json_call(c, "POST", "/configs/create", NULL, body, 0, &out, err);
	json_decref(body);
	if (r == 0)
		r = take_id(out, "config create", id_out, err);
	json_decref(out);
	return r;
}

int docker_config_remove(struct docker_client *c, const char *id, struct pfs_err *err)
{
	return one_call(c, "DELETE", "/configs/%s", id, NULL, err);
}

int docker_config_list(struct docker_client *c, const char *const *labels, json_t **out,
		       struct pfs_err *err)
{
	return list_call(c, "/configs", "label", labels, out, err);
}
