/* SPDX-License-Identifier: MIT */
/*
 * The Swarm calls of the Docker client against a scripted HTTP server:
 * what each request carries (path, query, JSON body, the X-Registry-Auth
 * header), how answers decode (swarm state, tasks, nodes), and the errors a
 * manager gives (a name in use, a worker that is no manager, a push the
 * registry refuses inside its 200 answer). The answers are trimmed copies of
 * what Docker 20.10 (API 1.41) gave on a three-node cluster.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fakehttp.h"
#include "pfs_check.h"
#include "pantherfs/docker.h"
#include "pantherfs/docker_swarm.h"
#include "pantherfs/util.h"

static struct docker_client *client_for(struct fakehttp *f)
{
	struct docker_client_opts o = { .host = fakehttp_host(f), .timeout_ms = 5000,
					.connect_timeout_ms = 2000 };
	struct docker_client *c = NULL;

	ck_assert_int_eq(docker_client_new(&o, &c, NULL), 0);
	return c;
}

static struct fakehttp *serve(const struct fake_route *r, size_t n)
{
	struct fakehttp *f = NULL;

	ck_assert_int_eq(fakehttp_start(r, n, "1.41", &f), 0);
	return f;
}

/* The last body sent to prefix equals the JSON text want (key order aside). */
static void assert_body(struct fakehttp *f, const char *prefix, const char *want)
{
	size_t len = 0;
	char *body = fakehttp_last_body(f, prefix, &len);
	json_t *got, *exp;

	ck_assert_msg(body != NULL, "no request %s", prefix);
	got = json_loadb(body, len, 0, NULL);
	exp = json_loads(want, 0, NULL);
	ck_assert_msg(exp != NULL, "bad expectation %s", want);
	ck_assert_msg(got && json_equal(got, exp), "sent %s\nwant %s", body, want);
	json_decref(got);
	json_decref(exp);
	free(body);
}

/* ---- detection ------------------------------------------------------------------------ */

static const char info_manager[] =
	"{\"ID\":\"X\",\"Swarm\":{\"NodeID\":\"72wk1fg8gn3uqd3ngmydk4xbg\",\"NodeAddr\":\"10.213.0.11\","
	"\"LocalNodeState\":\"active\",\"ControlAvailable\":true,\"Error\":\"\","
	"\"RemoteManagers\":[{\"NodeID\":\"72wk1fg8gn3uqd3ngmydk4xbg\",\"Addr\":\"10.213.0.11:2377\"}],"
	"\"Nodes\":3,\"Managers\":1,\"Cluster\":{\"ID\":\"lw0h0y6o02fk19mxxsfo1fh19\"}}}";
static const char info_worker[] =
	"{\"Swarm\":{\"NodeID\":\"dxc8kmj4f5zo0sunzzat5w51g\",\"NodeAddr\":\"10.213.0.12\","
	"\"LocalNodeState\":\"active\",\"ControlAvailable\":false,\"Error\":\"\","
	"\"RemoteManagers\":[{\"NodeID\":\"72wk1fg8gn3uqd3ngmydk4xbg\",\"Addr\":\"10.213.0.11:2377\"}]}}";
static const char info_single[] =
	"{\"Swarm\":{\"NodeID\":\"\",\"NodeAddr\":\"\",\"LocalNodeState\":\"inactive\","
	"\"ControlAvailable\":false,\"Error\":\"\",\"RemoteManagers\":null}}";

START_TEST(detect_manager_worker_single)
{
	static const struct fake_route r[] = { { "GET /v1.41/info", 200, NULL, info_manager } };
	struct fakehttp *f = serve(r, 1);
	struct docker_client *c = client_for(f);
	struct docker_swarm_info si;
	struct pfs_err err = { 0 };
	json_t *j;

	ck_assert_int_eq(docker_swarm_detect(c, &si, &err), 0);
	ck_assert(si.active && si.manager);
	ck_assert_str_eq(si.state, "active");
	ck_assert_str_eq(si.node_id, "72wk1fg8gn3uqd3ngmydk4xbg");
	ck_assert_str_eq(si.node_addr, "10.213.0.11");
	ck_assert_str_eq(si.cluster_id, "lw0h0y6o02fk19mxxsfo1fh19");
	ck_assert_int_eq(si.nodes, 3);
	ck_assert_int_eq(si.managers, 1);

	j = json_loads(info_worker, 0, NULL);
	ck_assert_int_eq(docker_swarm_info_parse(j, &si), 0);
	ck_assert(si.active && !si.manager);
	ck_assert_str_eq(si.node_id, "dxc8kmj4f5zo0sunzzat5w51g");
	ck_assert_str_eq(si.cluster_id, "");
	ck_assert_int_eq(si.nodes, 0);
	json_decref(j);

	j = json_loads(info_single, 0, NULL);
	ck_assert_int_eq(docker_swarm_info_parse(j, &si), 0);
	ck_assert(!si.active && !si.manager);
	ck_assert_str_eq(si.state, "inactive");
	json_decref(j);

	/* an engine without Swarm support says nothing about it */
	j = json_loads("{\"ID\":\"x\"}", 0, NULL);
	ck_assert_int_eq(docker_swarm_info_parse(j, &si), -EPROTO);
	json_decref(j);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

/* ---- services ---------------------------------------------------------------------------- */

static const struct fake_route service_routes[] = {
	{ "POST /v1.41/services/create", 201, NULL,
	  "{\"ID\":\"xnbjhrqd0ctm43q0p7fxnwi57\",\"Warnings\":null}" },
	{ "GET /v1.41/services?filters=%7B%22label%22%3A%5B%22pantherfs.testrun%3Dt1%22%5D%7D", 200, NULL,
	  "[{\"ID\":\"xnbjhrqd0ctm43q0p7fxnwi57\"}]" },
	{ "DELETE /v1.41/services/gone", 404, NULL, "{\"message\":\"service gone not found\"}" },
	{ "DELETE /v1.41/services/xnbjhrqd0ctm43q0p7fxnwi57", 200, NULL, "" },
};

static const char server_spec_json[] =
	"{\"Name\":\"pfs-t1-server\","
	" \"Labels\":{\"pantherfs.testrun\":\"t1\",\"pantherfs.service\":\"server\"},"
	" \"TaskTemplate\":{"
	"  \"ContainerSpec\":{\"Image\":\"10.213.0.1:5000/pantherfs/ngtcp2:t1\","
	"   \"Args\":[\"sh\",\"-c\",\"exec gtlsserver\"],\"Env\":[\"A=1\"],"
	"   \"Labels\":{\"pantherfs.testrun\":\"t1\"},\"Init\":true,"
	"   \"StopGracePeriod\":3000000000,"
	"   \"Configs\":[{\"File\":{\"Name\":\"/pantherfs/certs/key.pem\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":256},"
	"                \"ConfigID\":\"cfg1\",\"ConfigName\":\"pfs-t1-key\"}]},"
	"  \"RestartPolicy\":{\"Condition\":\"none\",\"MaxAttempts\":0},"
	"  \"Placement\":{\"Constraints\":[\"node.hostname==pfsw-t1-n2\"]},"
	"  \"Networks\":[{\"Target\":\"pfs-t1-net\",\"Aliases\":[\"server\"]}]},"
	" \"Mode\":{\"Replicated\":{\"Replicas\":1}},"
	" \"EndpointSpec\":{\"Mode\":\"dnsrr\"}}";

START_TEST(service_create_sends_the_whole_spec)
{
	struct fakehttp *f = serve(service_routes, PFS_ARRAY_SIZE(service_routes));
	struct docker_client *c = client_for(f);
	const char *argv[] = { "sh", "-c", "exec gtlsserver", NULL };
	const char *env[] = { "A=1", NULL };
	const char *labels[] = { "pantherfs.testrun", "t1", "pantherfs.service", "server", NULL };
	const char *clabels[] = { "pantherfs.testrun", "t1", NULL };
	const char *where[] = { "node.hostname==pfsw-t1-n2", NULL };
	const char *aliases[] = { "server", NULL };
	struct docker_service_net net = { "pfs-t1-net", aliases };
	struct docker_service_file key = { "cfg1", "pfs-t1-key", "/pantherfs/certs/key.pem", 0400 };
	struct docker_service_spec s = {
		.name = "pfs-t1-server", .image = "10.213.0.1:5000/pantherfs/ngtcp2:t1", .cmd = argv,
		.env = env, .labels = labels, .container_labels = clabels, .constraints = where,
		.networks = &net, .n_networks = 1, .files = &key, .n_files = 1, .init = true,
		.dnsrr = true, .stop_grace_s = 3,
	};
	struct pfs_err err = { 0 };
	char *id = NULL, *auth;

	ck_assert_msg(docker_service_create(c, &s, &id, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(id, "xnbjhrqd0ctm43q0p7fxnwi57");
	free(id);
	assert_body(f, "POST /v1.41/services/create", server_spec_json);
	/* no credentials: no header, the nodes pull anonymously */
	ck_assert_ptr_null(fakehttp_last_header(f, "POST /v1.41/services/create", "X-Registry-Auth"));

	/* the smallest spec: an image; default endpoint mode, no name, an empty placement */
	memset(&s, 0, sizeof(s));
	s.image = "busybox";
	s.registry_auth = "eyJ1c2VybmFtZSI6InUifQ==";
	ck_assert_int_eq(docker_service_create(c, &s, &id, &err), 0);
	free(id);
	assert_body(f, "POST /v1.41/services/create",
		    "{\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"},"
		    "\"RestartPolicy\":{\"Condition\":\"none\",\"MaxAttempts\":0},"
		    "\"Placement\":{\"Constraints\":[]},\"Networks\":[]},"
		    "\"Mode\":{\"Replicated\":{\"Replicas\":1}},\"EndpointSpec\":{\"Mode\":\"vip\"}}");
	auth = fakehttp_last_header(f, "POST /v1.41/services/create", "X-Registry-Auth");
	ck_assert_ptr_nonnull(auth);
	ck_assert_str_eq(auth, "eyJ1c2VybmFtZSI6InUifQ==");
	free(auth);
	ck_assert_int_eq(fakehttp_count(f, "POST /v1.41/services/create"), 2);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

START_TEST(service_create_refuses_bad_specs_without_asking)
{
	struct fakehttp *f = serve(service_routes, PFS_ARRAY_SIZE(service_routes));
	struct docker_client *c = client_for(f);
	struct docker_service_file rel = { "cfg1", "k", "certs/key.pem", 0 };
	struct docker_service_net anon = { NULL, NULL };
	struct docker_service_spec s = { .image = "x", .files = &rel, .n_files = 1 };
	struct pfs_err err = { 0 };
	char *id = NULL;

	ck_assert_int_eq(docker_service_create(c, &s, &id, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "service create: file 0 needs a config and an absolute path");
	s.n_files = 0;
	s.networks = &anon;
	s.n_networks = 1;
	ck_assert_int_eq(docker_service_create(c, &s, &id, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "service create: network 0 has no name");
	s.n_networks = 0;
	s.image = "";
	ck_assert_int_eq(docker_service_create(c, &s, &id, &err), -EINVAL);
	ck_assert_ptr_null(id);
	ck_assert_int_eq(fakehttp_count(f, "POST"), 0);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

START_TEST(service_errors_carry_the_managers_message)
{
	static const struct fake_route r[] = {
		{ "POST /v1.41/services/create", 409, NULL,
		  "{\"message\":\"rpc error: code = AlreadyExists desc = name conflicts with an existing object: service pfs-t1-server already exists\"}" },
		{ "GET /v1.41/nodes", 503, NULL,
		  "{\"message\":\"This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.\"}" },
	};
	struct fakehttp *f = serve(r, PFS_ARRAY_SIZE(r));
	struct docker_client *c = client_for(f);
	struct docker_service_spec s = { .name = "pfs-t1-server", .image = "x" };
	struct pfs_err err = { 0 };
	json_t *j = NULL;
	char *id = NULL;

	ck_assert_int_eq(docker_service_create(c, &s, &id, &err), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err.msg, "service pfs-t1-server already exists"));
	ck_assert_ptr_null(id);
	ck_assert_int_eq(docker_node_list(c, &j, &err), -EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "This node is not a swarm manager."));
	ck_assert_ptr_null(j);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

START_TEST(service_list_and_remove)
{
	struct fakehttp *f = serve(service_routes, PFS_ARRAY_SIZE(service_routes));
	struct docker_client *c = client_for(f);
	const char *labels[] = { "pantherfs.testrun=t1", NULL };
	struct pfs_err err = { 0 };
	json_t *j = NULL;

	ck_assert_int_eq(docker_service_list(c, labels, &j, &err), 0);
	ck_assert_int_eq(json_array_size(j), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "ID")),
			 "xnbjhrqd0ctm43q0p7fxnwi57");
	json_decref(j);
	ck_assert_int_eq(docker_service_remove(c, "xnbjhrqd0ctm43q0p7fxnwi57", &err), 0);
	ck_assert_int_eq(docker_service_remove(c, "gone", &err), -ENOENT);
	ck_assert_str_eq(err.msg, "service gone not found");
	ck_assert_int_eq(docker_service_remove(c, "", &err), -EINVAL);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

/* ---- stop: a constraint no node meets, the task kept -------------------------------------------- */

static const char svc_inspect_json[] =
	"{\"ID\":\"s1\",\"Version\":{\"Index\":42},\"Spec\":{\"Name\":\"pfs-a\",\"Labels\":{\"k\":\"v\"},"
	"\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"r/i@sha256:1\"},"
	"\"Placement\":{\"Constraints\":[\"node.hostname==n2\"]},\"RestartPolicy\":{\"Condition\":\"none\"}},"
	"\"Mode\":{\"Replicated\":{\"Replicas\":1}}}}";
static const char svc_inspect_bare[] =
	"{\"ID\":\"s2\",\"Version\":{\"Index\":7},\"Spec\":{\"Name\":\"pfs-b\",\"TaskTemplate\":"
	"{\"ContainerSpec\":{\"Image\":\"i\"}}}}";
static const char svc_inspect_held[] =
	"{\"ID\":\"s3\",\"Version\":{\"Index\":9},\"Spec\":{\"TaskTemplate\":{\"ContainerSpec\":{},"
	"\"Placement\":{\"Constraints\":[\"" DOCKER_SERVICE_HELD "\"]}}}}";

START_TEST(service_stop_holds_the_task_with_a_constraint)
{
	static const struct fake_route r[] = {
		{ "GET /v1.41/services/s1", 200, NULL, svc_inspect_json },
		{ "POST /v1.41/services/s1/update?version=42", 200, NULL, "{\"Warnings\":null}" },
		{ "GET /v1.41/services/s2", 200, NULL, svc_inspect_bare },
		{ "POST /v1.41/services/s2/update?version=7", 200, NULL, "{}" },
		{ "GET /v1.41/services/s3", 200, NULL, svc_inspect_held },
		{ "GET /v1.41/services/s4", 200, NULL, svc_inspect_bare },
		{ "POST /v1.41/services/s4/update", 500, NULL,
		  "{\"message\":\"rpc error: code = Unknown desc = update out of sequence\"}" },
		{ "GET /v1.41/services/s5", 200, NULL, "{\"ID\":\"s5\"}" },
		{ "GET /v1.41/services/gone", 404, NULL, "{\"message\":\"service gone not found\"}" },
	};
	struct fakehttp *f = serve(r, PFS_ARRAY_SIZE(r));
	struct docker_client *c = client_for(f);
	struct pfs_err err = { 0 };

	/* the whole spec goes back, with the version it was read at and one constraint more */
	ck_assert_int_eq(docker_service_stop(c, "s1", &err), 0);
	assert_body(f, "POST /v1.41/services/s1/update",
		    "{\"Name\":\"pfs-a\",\"Labels\":{\"k\":\"v\"},\"TaskTemplate\":{\"ContainerSpec\":"
		    "{\"Image\":\"r/i@sha256:1\"},\"Placement\":{\"Constraints\":[\"node.hostname==n2\",\""
		    DOCKER_SERVICE_HELD "\"]},\"RestartPolicy\":{\"Condition\":\"none\"}},"
		    "\"Mode\":{\"Replicated\":{\"Replicas\":1}}}");
	/* a spec without placement gets one */
	ck_assert_int_eq(docker_service_stop(c, "s2", &err), 0);
	assert_body(f, "POST /v1.41/services/s2/update",
		    "{\"Name\":\"pfs-b\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"i\"},"
		    "\"Placement\":{\"Constraints\":[\"" DOCKER_SERVICE_HELD "\"]}}}");
	/* held already: no second update */
	ck_assert_int_eq(docker_service_stop(c, "s3", &err), 0);
	ck_assert_int_eq(fakehttp_count(f, "POST /v1.41/services/s3/update"), 0);
	ck_assert_int_eq(docker_service_stop(c, "s4", &err), -EAGAIN);
	ck_assert_msg(strstr(err.msg, "out of sequence"), "%s", err.msg);
	ck_assert_int_eq(docker_service_stop(c, "s5", &err), -EPROTO);
	ck_assert_int_eq(docker_service_stop(c, "gone", &err), -ENOENT);
	ck_assert_str_eq(err.msg, "service gone not found");
	ck_assert_int_eq(docker_service_stop(c, "", &err), -EINVAL);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

/* ---- tasks ---------------------------------------------------------------------------------- */

START_TEST(tasks_of_services_by_label)
{
	static const struct fake_route r[] = {
		/* {"label":["pantherfs.test=a","pantherfs.run=2"]} */
		{ "GET /v1.41/tasks?filters=%7B%22label%22%3A%5B%22pantherfs.test%3Da%22%2C%22pantherfs.run%3D2%22%5D%7D",
		  200, NULL, "[{\"ID\":\"t1\",\"Status\":{\"State\":\"running\"}}]" },
	};
	struct fakehttp *f = serve(r, PFS_ARRAY_SIZE(r));
	struct docker_client *c = client_for(f);
	const char *labels[] = { "pantherfs.test=a", "pantherfs.run=2", NULL };
	struct pfs_err err = { 0 };
	json_t *j = NULL;

	ck_assert_int_eq(docker_task_list_labels(c, labels, &j, &err), 0);
	ck_assert_int_eq(json_array_size(j), 1);
	json_decref(j);
	j = NULL;
	/* never every task of the cluster by mistake */
	ck_assert_int_eq(docker_task_list_labels(c, (const char *[]){ NULL }, &j, &err), -EINVAL);
	ck_assert_int_eq(docker_task_list_labels(c, NULL, &j, &err), -EINVAL);
	ck_assert_ptr_null(j);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

#define NET_ATT "\"NetworksAttachments\":[{\"Network\":{\"ID\":\"m9p9xt51b5iwpo6cce3nzpyan\"," \
	"\"Spec\":{\"Name\":\"pfs-t1-net\"}},\"Addresses\":[\"10.216.1.4/24\"]}]"

static const char tasks_json[] =
	"[{\"ID\":\"m8mj7en5b52i\",\"ServiceID\":\"4iwz71a27hpe\",\"NodeID\":\"j40md3s73non\",\"Slot\":1,"
	"  \"Status\":{\"Timestamp\":\"2026-12-03T10:34:01.51653337Z\",\"State\":\"complete\",\"Message\":\"finished\","
	"   \"ContainerStatus\":{\"ContainerID\":\"acef8abec6a3\",\"PID\":0,\"ExitCode\":0}},"
	"  \"DesiredState\":\"shutdown\"," NET_ATT "},"
	" {\"ID\":\"f1\",\"ServiceID\":\"s2\",\"NodeID\":\"n2\",\"Slot\":1,"
	"  \"Status\":{\"State\":\"failed\",\"Message\":\"started\",\"Err\":\"task: non-zero exit (3)\","
	"   \"ContainerStatus\":{\"ContainerID\":\"c2\",\"PID\":0,\"ExitCode\":3}},\"DesiredState\":\"shutdown\"},"
	" {\"ID\":\"r1\",\"ServiceID\":\"s3\",\"NodeID\":\"n3\",\"Slot\":1,"
	"  \"Status\":{\"State\":\"running\",\"Message\":\"started\","
	"   \"ContainerStatus\":{\"ContainerID\":\"c3\",\"PID\":4242,\"ExitCode\":0}},\"DesiredState\":\"shutdown\"},"
	" {\"ID\":\"x1\",\"ServiceID\":\"s4\",\"Slot\":1,"
	"  \"Status\":{\"State\":\"rejected\",\"Message\":\"preparing\","
	"   \"Err\":\"No such image: 10.213.0.1:5000/none:1\"},\"DesiredState\":\"shutdown\"},"
	" {\"ID\":\"f2\",\"Status\":{\"State\":\"failed\",\"Err\":\"starting container failed: oci runtime error\"},"
	"  \"DesiredState\":\"shutdown\"},"
	" {\"Status\":{}}]";

START_TEST(tasks_decode_state_exit_and_address)
{
	static const struct fake_route r[] = {
		{ "GET /v1.41/tasks?filters=%7B%22service%22%3A%5B%224iwz71a27hpe%22%5D%7D", 200, NULL, tasks_json },
	};
	struct fakehttp *f = serve(r, 1);
	struct docker_client *c = client_for(f);
	struct pfs_err err = { 0 };
	struct docker_task t;
	json_t *j = NULL;
	char ip[64];

	ck_assert_msg(docker_task_list(c, "4iwz71a27hpe", &j, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(json_array_size(j), 6);

	/* finished: its exit code counts */
	ck_assert_int_eq(docker_task_parse(json_array_get(j, 0), &t), 0);
	ck_assert_str_eq(t.id, "m8mj7en5b52i");
	ck_assert_str_eq(t.service_id, "4iwz71a27hpe");
	ck_assert_str_eq(t.node_id, "j40md3s73non");
	ck_assert_str_eq(t.state, "complete");
	ck_assert_str_eq(t.desired, "shutdown");
	ck_assert_str_eq(t.message, "finished");
	ck_assert_str_eq(t.container_id, "acef8abec6a3");
	ck_assert_str_eq(t.timestamp, "2026-12-03T10:34:01.51653337Z");
	ck_assert(t.exited);
	ck_assert_int_eq(t.exit_code, 0);
	ck_assert(docker_task_state_final(t.state));
	ck_assert_int_eq(docker_task_addr(json_array_get(j, 0), "pfs-t1-net", ip, sizeof(ip)), 0);
	ck_assert_str_eq(ip, "10.216.1.4");
	memset(ip, 0, sizeof(ip));
	ck_assert_int_eq(docker_task_addr(json_array_get(j, 0), "m9p9xt51b5iwpo6cce3nzpyan", ip, sizeof(ip)), 0);
	ck_assert_str_eq(ip, "10.216.1.4");
	ck_assert_int_eq(docker_task_addr(json_array_get(j, 0), "ingress", ip, sizeof(ip)), -ENOENT);
	/* too small a buffer is no address, not a cut one */
	ck_assert_int_eq(docker_task_addr(json_array_get(j, 0), "pfs-t1-net", ip, 8), -ENOENT);

	/* failed with the program's exit code and Swarm's reason */
	ck_assert_int_eq(docker_task_parse(json_array_get(j, 1), &t), 0);
	ck_assert(t.exited);
	ck_assert_int_eq(t.exit_code, 3);
	ck_assert_str_eq(t.error, "task: non-zero exit (3)");

	/* running on a node that went away: shutdown wanted, never reported; not final */
	ck_assert_int_eq(docker_task_parse(json_array_get(j, 2), &t), 0);
	ck_assert_str_eq(t.state, "running");
	ck_assert_str_eq(t.desired, "shutdown");
	ck_assert(!t.exited);
	ck_assert(!docker_task_state_final(t.state));
	ck_assert_int_eq(docker_task_addr(json_array_get(j, 2), "pfs-t1-net", ip, sizeof(ip)), -ENOENT);

	/* rejected before any container: final, no exit code, the reason kept */
	ck_assert_int_eq(docker_task_parse(json_array_get(j, 3), &t), 0);
	ck_assert_str_eq(t.state, "rejected");
	ck_assert_str_eq(t.node_id, "");
	ck_assert_str_eq(t.container_id, "");
	ck_assert(!t.exited);
	ck_assert(docker_task_state_final(t.state));
	ck_assert_str_eq(t.error, "No such image: 10.213.0.1:5000/none:1");

	/* failed without a container: no exit code, so never a success by exit 0 */
	ck_assert_int_eq(docker_task_parse(json_array_get(j, 4), &t), 0);
	ck_assert_str_eq(t.state, "failed");
	ck_assert(!t.exited);
	ck_assert_str_eq(t.error, "starting container failed: oci runtime error");

	ck_assert_int_eq(docker_task_parse(json_array_get(j, 5), &t), -EPROTO);
	json_decref(j);

	ck_assert_int_eq(docker_task_list(c, NULL, &j, &err), -EINVAL);
	ck_assert(!docker_task_state_final("preparing"));
	ck_assert(!docker_task_state_final(NULL));
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

/* ---- nodes ------------------------------------------------------------------------------------ */

static const char nodes_json[] =
	"[{\"ID\":\"72wk1fg8gn3uqd3ngmydk4xbg\",\"Spec\":{\"Role\":\"manager\",\"Availability\":\"active\"},"
	"  \"Description\":{\"Hostname\":\"pfsw-t1-n1\"},\"Status\":{\"State\":\"ready\",\"Addr\":\"10.213.0.11\"},"
	"  \"ManagerStatus\":{\"Leader\":true,\"Reachability\":\"reachable\",\"Addr\":\"10.213.0.11:2377\"}},"
	" {\"ID\":\"dxc8kmj4f5zo0sunzzat5w51g\",\"Spec\":{\"Role\":\"worker\",\"Availability\":\"drain\"},"
	"  \"Description\":{\"Hostname\":\"pfsw-t1-n2\"},"
	"  \"Status\":{\"State\":\"down\",\"Message\":\"heartbeat failure\",\"Addr\":\"10.213.0.12\"}},"
	" {\"Spec\":{}}]";

START_TEST(nodes_decode)
{
	static const struct fake_route r[] = { { "GET /v1.41/nodes", 200, NULL, nodes_json } };
	struct fakehttp *f = serve(r, 1);
	struct docker_client *c = client_for(f);
	struct pfs_err err = { 0 };
	struct docker_node n;
	json_t *j = NULL;

	ck_assert_int_eq(docker_node_list(c, &j, &err), 0);
	ck_assert_int_eq(fakehttp_count(f, "GET /v1.41/nodes?"), 0); /* no empty filter */
	ck_assert_int_eq(docker_node_parse(json_array_get(j, 0), &n), 0);
	ck_assert_str_eq(n.id, "72wk1fg8gn3uqd3ngmydk4xbg");
	ck_assert_str_eq(n.hostname, "pfsw-t1-n1");
	ck_assert_str_eq(n.state, "ready");
	ck_assert_str_eq(n.role, "manager");
	ck_assert_str_eq(n.availability, "active");
	ck_assert_str_eq(n.addr, "10.213.0.11");
	ck_assert(n.leader);
	ck_assert_int_eq(docker_node_parse(json_array_get(j, 1), &n), 0);
	ck_assert_str_eq(n.hostname, "pfsw-t1-n2");
	ck_assert_str_eq(n.state, "down");
	ck_assert_str_eq(n.message, "heartbeat failure");
	ck_assert_str_eq(n.role, "worker");
	ck_assert_str_eq(n.availability, "drain");
	ck_assert(!n.leader);
	ck_assert_int_eq(docker_node_parse(json_array_get(j, 2), &n), -EPROTO);
	json_decref(j);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

/* ---- configs ------------------------------------------------------------------------------------ */

START_TEST(config_create_sends_base64)
{
	static const struct fake_route r[] = {
		{ "POST /v1.41/configs/create", 201, NULL, "{\"ID\":\"cfg1\"}" },
		{ "DELETE /v1.41/configs/used", 409, NULL,
		  "{\"message\":\"config 'used' is in use by the following service: pfs-t1-server\"}" },
	};
	struct fakehttp *f = serve(r, PFS_ARRAY_SIZE(r));
	struct docker_client *c = client_for(f);
	const char *labels[] = { "pantherfs.testrun", "t1", NULL };
	static const char data[] = "ke\0y\n\xff";
	struct pfs_err err = { 0 };
	char *id = NULL, *big;

	ck_assert_int_eq(docker_config_create(c, "pfs-t1-key", labels, data, 6, &id, &err), 0);
	ck_assert_str_eq(id, "cfg1");
	free(id);
	/* "ke\0y\n\xff" in base64, the NUL and the high byte kept */
	assert_body(f, "POST /v1.41/configs/create",
		    "{\"Name\":\"pfs-t1-key\",\"Labels\":{\"pantherfs.testrun\":\"t1\"},\"Data\":\"a2UAeQr/\"}");
	ck_assert_int_eq(docker_config_remove(c, "used", &err), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err.msg, "is in use by the following service"));

	/* over Swarm's cap: refused here, not after an upload */
	big = calloc(1, 600 * 1024);
	ck_assert_ptr_nonnull(big);
	id = NULL;
	ck_assert_int_eq(docker_config_create(c, "big", NULL, big, 600 * 1024, &id, &err), -EFBIG);
	ck_assert_ptr_null(id);
	free(big);
	ck_assert_int_eq(fakehttp_count(f, "POST /v1.41/configs/create"), 1);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

/* ---- networks --------------------------------------------------------------------------------------- */

START_TEST(overlay_network_is_attachable)
{
	static const struct fake_route r[] = {
		{ "POST /v1.41/networks/create", 201, NULL, "{\"Id\":\"m9p9xt51b5iwpo6cce3nzpyan\",\"Warning\":\"\"}" },
	};
	struct fakehttp *f = serve(r, 1);
	struct docker_client *c = client_for(f);
	const char *labels[] = { "pantherfs.testrun", "t1", NULL };
	struct pfs_err err = { 0 };
	char *id = NULL;

	ck_assert_int_eq(docker_network_create_overlay(c, "pfs-t1-net", labels, &id, &err), 0);
	ck_assert_str_eq(id, "m9p9xt51b5iwpo6cce3nzpyan");
	free(id);
	assert_body(f, "POST /v1.41/networks/create",
		    "{\"Name\":\"pfs-t1-net\",\"Driver\":\"overlay\",\"CheckDuplicate\":true,"
		    "\"Internal\":false,\"Attachable\":true,\"Labels\":{\"pantherfs.testrun\":\"t1\"}}");
	/* the bridge networks of a single engine are unchanged: no Attachable */
	ck_assert_int_eq(docker_network_create(c, "pfs-t1-br", labels, true, &id, &err), 0);
	free(id);
	assert_body(f, "POST /v1.41/networks/create",
		    "{\"Name\":\"pfs-t1-br\",\"Driver\":\"bridge\",\"CheckDuplicate\":true,"
		    "\"Internal\":true,\"Labels\":{\"pantherfs.testrun\":\"t1\"}}");
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

/* ---- push and tag ---------------------------------------------------------------------------------- */

struct progress {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
	int err;
	char msg[PFS_ERR_MSG_MAX];
	char lines[2048];
	char digest[128];
	bool had_digest;
};

static void p_line(void *ud, const char *t, size_t n)
{
	struct progress *p = ud;
	size_t k = strlen(p->lines);

	snprintf(p->lines + k, sizeof(p->lines) - k, "%.*s|", (int)n, t);
}

static void p_done(void *ud, const struct docker_result *r, const char *id)
{
	struct progress *p = ud;

	pthread_mutex_lock(&p->m);
	p->err = r->err;
	snprintf(p->msg, sizeof(p->msg), "%s", r->message);
	p->had_digest = id != NULL;
	snprintf(p->digest, sizeof(p->digest), "%s", id ? id : "");
	p->done = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->m);
}

static void push_one(struct fakehttp *f, const char *ref, const char *auth, struct progress *p)
{
	struct docker_client *c = client_for(f);
	struct docker_build_cbs cbs = { .on_line = p_line, .on_done = p_done, .ud = p };
	struct docker_call *call;
	struct pfs_err err = { 0 };

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->m, NULL);
	pthread_cond_init(&p->cv, NULL);
	call = docker_image_push(c, ref, auth, &cbs, &err);
	ck_assert_msg(call != NULL, "%s", err.msg);
	pthread_mutex_lock(&p->m);
	while (!p->done)
		pthread_cond_wait(&p->cv, &p->m);
	pthread_mutex_unlock(&p->m);
	docker_call_unref(call);
	docker_client_free(c);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->m);
}

static const char push_ok[] =
	"{\"status\":\"The push refers to repository [10.213.0.1:5000/pantherfs/ngtcp2]\"}\n"
	"{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"841f472af3bd\"}\n"
	"{\"status\":\"Pushing\",\"progressDetail\":{\"current\":512,\"total\":4096},\"progress\":\"[==> ]\",\"id\":\"841f472af3bd\"}\n"
	"{\"status\":\"Pushed\",\"progressDetail\":{},\"id\":\"841f472af3bd\"}\n"
	"{\"status\":\"Layer already exists\",\"progressDetail\":{},\"id\":\"2ca4ac7469d6\"}\n"
	"{\"status\":\"t1: digest: sha256:4ce459746787 size: 954\"}\n"
	"{\"progressDetail\":{},\"aux\":{\"Tag\":\"t1\",\"Digest\":\"sha256:4ce459746787\",\"Size\":954}}\n";

static const char push_refused[] =
	"{\"status\":\"The push refers to repository [10.213.0.1:5000/lab/x]\"}\n"
	"{\"errorDetail\":{\"message\":\"Get \\\"https://10.213.0.1:5000/v2/\\\": http: server gave HTTP response to HTTPS client\"},"
	"\"error\":\"Get \\\"https://10.213.0.1:5000/v2/\\\": http: server gave HTTP response to HTTPS client\"}\n";

static const struct fake_route push_routes[] = {
	{ "POST /v1.41/images/10.213.0.1%3A5000%2Fpantherfs%2Fngtcp2/push?tag=t1", 200, NULL, push_ok, 0, FAKE_CHUNKED, 29 },
	{ "POST /v1.41/images/10.213.0.1%3A5000%2Flab%2Fx/push?tag=latest", 200, NULL, push_refused, 0, FAKE_CHUNKED, 0 },
	{ "POST /v1.41/images/lab%2Fnodigest/push?tag=2", 200, NULL, "{\"status\":\"Pushed\",\"id\":\"a\"}\n" },
	{ "POST /v1.41/images/pantherfs%2Fngtcp2%3Arfc9000-4c1b319b243c/tag?repo=10.213.0.1%3A5000%2Fpantherfs%2Fngtcp2&tag=t1",
	  201, NULL, "" },
	{ "POST /v1.41/images/missing/tag", 404, NULL, "{\"message\":\"No such image: missing:latest\"}" },
};

START_TEST(push_sends_auth_and_reports_the_digest)
{
	struct fakehttp *f = serve(push_routes, PFS_ARRAY_SIZE(push_routes));
	struct progress p;
	char *auth;

	push_one(f, "10.213.0.1:5000/pantherfs/ngtcp2:t1", NULL, &p);
	ck_assert_msg(p.err == 0, "%s", p.msg);
	ck_assert(p.had_digest);
	ck_assert_str_eq(p.digest, "sha256:4ce459746787");
	/* layer states, not byte counts */
	ck_assert_str_eq(p.lines, "The push refers to repository [10.213.0.1:5000/pantherfs/ngtcp2]|"
				  "841f472af3bd: Preparing|841f472af3bd: Pushed|"
				  "2ca4ac7469d6: Layer already exists|t1: digest: sha256:4ce459746787 size: 954|");
	/* anonymous: "{}", which the engine needs to see */
	auth = fakehttp_last_header(f, "POST /v1.41/images/10.213.0.1%3A5000%2Fpantherfs%2Fngtcp2/push", "X-Registry-Auth");
	ck_assert_ptr_nonnull(auth);
	ck_assert_str_eq(auth, "e30=");
	free(auth);

	push_one(f, "10.213.0.1:5000/pantherfs/ngtcp2:t1", "eyJ1IjoxfQ==", &p);
	ck_assert_int_eq(p.err, 0);
	auth = fakehttp_last_header(f, "POST /v1.41/images/10.213.0.1%3A5000%2Fpantherfs%2Fngtcp2/push", "X-Registry-Auth");
	ck_assert_str_eq(auth, "eyJ1IjoxfQ==");
	free(auth);
	fakehttp_stop(f);
}
END_TEST

START_TEST(push_failures)
{
	struct fakehttp *f = serve(push_routes, PFS_ARRAY_SIZE(push_routes));
	struct docker_client *c;
	struct docker_build_cbs cbs = { .on_line = p_line, .on_done = p_done };
	struct pfs_err err = { 0 };
	struct progress p;

	/* a registry the engine does not trust: the error inside the 200 */
	push_one(f, "10.213.0.1:5000/lab/x", NULL, &p);
	ck_assert_int_eq(p.err, -EIO);
	ck_assert_str_eq(p.msg, "Get \"https://10.213.0.1:5000/v2/\": http: server gave HTTP response to HTTPS client");
	ck_assert(!p.had_digest);

	/* a push whose answer ends without a digest did not say it succeeded */
	push_one(f, "lab/nodigest:2", NULL, &p);
	ck_assert_int_eq(p.err, -EPROTO);
	ck_assert_str_eq(p.msg, "the push ended without a digest");

	/* a digest names what is there, not what to push */
	c = client_for(f);
	ck_assert_ptr_null(docker_image_push(c, "lab/x@sha256:00ff", NULL, &cbs, &err));
	ck_assert_int_eq(err.code, -EINVAL);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

START_TEST(tag_names_the_registry_repo)
{
	struct fakehttp *f = serve(push_routes, PFS_ARRAY_SIZE(push_routes));
	struct docker_client *c = client_for(f);
	struct pfs_err err = { 0 };

	ck_assert_msg(docker_image_tag(c, "pantherfs/ngtcp2:rfc9000-4c1b319b243c",
				       "10.213.0.1:5000/pantherfs/ngtcp2:t1", &err) == 0, "%s", err.msg);
	ck_assert_int_eq(docker_image_tag(c, "missing", "x:1", &err), -ENOENT);
	ck_assert_str_eq(err.msg, "No such image: missing:latest");
	ck_assert_int_eq(docker_image_tag(c, "a", "b@sha256:00", &err), -EINVAL);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

/* ---- service logs ------------------------------------------------------------------------------------ */

/* first match wins: the logs routes before the inspect routes they start with */
static const struct fake_route logs_routes[] = {
	{ "GET /v1.41/services/cli/logs?stdout=1&stderr=1&follow=0&timestamps=0", 200, NULL,
	  "\x01\0\0\0\0\0\0\x07" "1M: OK\n" "\x02\0\0\0\0\0\0\x1d" "sendmsg: Message too long\r\n\r\n", 52,
	  FAKE_CHUNKED, 5 },
	{ "GET /v1.41/services/tty/logs", 200, NULL, "raw\r\n", 0, FAKE_CHUNKED, 2 },
	{ "GET /v1.41/services/cli", 200, NULL,
	  "{\"ID\":\"cli\",\"Spec\":{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}}" },
	{ "GET /v1.41/services/tty", 200, NULL,
	  "{\"ID\":\"tty\",\"Spec\":{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\",\"TTY\":true}}}}" },
};

START_TEST(service_logs_demultiplexed)
{
	struct fakehttp *f = serve(logs_routes, PFS_ARRAY_SIZE(logs_routes));
	struct docker_client *c = client_for(f);
	struct pfs_buf out = PFS_BUF_INIT(1 << 16), errb = PFS_BUF_INIT(1 << 16);
	struct pfs_err err = { 0 };

	/* API 1.41 has no Content-Type for logs: the service's spec says framed */
	ck_assert_msg(docker_service_logs_sync(c, "cli", false, &out, &errb, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(pfs_buf_str(&out), "1M: OK\n");
	ck_assert_str_eq(pfs_buf_str(&errb), "sendmsg: Message too long\r\n\r\n");
	/* one inspect, one logs call */
	ck_assert_int_eq(fakehttp_count(f, "GET /v1.41/services/cli"), 2);
	ck_assert_int_eq(fakehttp_count(f, "GET /v1.41/services/cli/logs"), 1);
	pfs_buf_release(&out);
	pfs_buf_release(&errb);

	/* and raw for a service with a TTY */
	pfs_buf_init(&out, 1 << 16);
	ck_assert_int_eq(docker_service_logs_sync(c, "tty", false, &out, NULL, &err), 0);
	ck_assert_str_eq(pfs_buf_str(&out), "raw\r\n");
	pfs_buf_release(&out);
	docker_client_free(c);
	fakehttp_stop(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("docker_swarm");
	TCase *t = tcase_create("fake manager");

	tcase_set_timeout(t, 30);
	tcase_add_test(t, detect_manager_worker_single);
	tcase_add_test(t, service_create_sends_the_whole_spec);
	tcase_add_test(t, service_create_refuses_bad_specs_without_asking);
	tcase_add_test(t, service_errors_carry_the_managers_message);
	tcase_add_test(t, service_list_and_remove);
	tcase_add_test(t, service_stop_holds_the_task_with_a_constraint);
	tcase_add_test(t, tasks_of_services_by_label);
	tcase_add_test(t, tasks_decode_state_exit_and_address);
	tcase_add_test(t, nodes_decode);
	tcase_add_test(t, config_create_sends_base64);
	tcase_add_test(t, overlay_network_is_attachable);
	tcase_add_test(t, push_sends_auth_and_reports_the_digest);
	tcase_add_test(t, push_failures);
	tcase_add_test(t, tag_names_the_registry_repo);
	tcase_add_test(t, service_logs_demultiplexed);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
