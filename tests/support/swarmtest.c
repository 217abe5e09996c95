/* SPDX-License-Identifier: MIT */
/*
 * The test cluster from C (see swarmtest.h): the shell script does the
 * namespaces and processes; this file runs it, parses the state it writes,
 * and sweeps by label through the Swarm calls of the client.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "swarmtest.h"
#include "pantherfs/docker.h"
#include "pantherfs/docker_swarm.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

int swarmtest_run(const char *const *argv, struct pfs_buf *out)
{
	int p[2], st;
	pid_t pid;
	char buf[4096];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		/* past the cap, read on and drop: the child must not block on a full pipe */
		if (out && out->len + (size_t)n <= out->cap)
			pfs_buf_add(out, buf, (size_t)n);
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *script(void)
{
	static char path[4096];
	const char *src = getenv("PFS_SOURCE_DIR");

	snprintf(path, sizeof(path), "%s/tests/support/swarm.sh", src ? src : ".");
	return path;
}

int swarmtest_up(const char *id, int nodes, const char *const *images, struct pfs_buf *out)
{
	const char *argv[32] = { "bash", script(), "up", id, "--nodes" };
	char n[8];
	size_t k = 5;

	snprintf(n, sizeof(n), "%d", nodes);
	argv[k++] = n;
	for (size_t i = 0; images && images[i] && k + 3 < PFS_ARRAY_SIZE(argv); i++) {
		argv[k++] = "--image";
		argv[k++] = images[i];
	}
	argv[k] = NULL;
	return swarmtest_run(argv, out);
}

int swarmtest_down(const char *id, struct pfs_buf *out)
{
	const char *argv[] = { "bash", script(), "down", id, NULL };

	return swarmtest_run(argv, out);
}

int swarmtest_stop_node(const char *id, int k, struct pfs_buf *out)
{
	char n[8];
	const char *argv[] = { "bash", script(), "stop-node", id, n, NULL };

	snprintf(n, sizeof(n), "%d", k);
	return swarmtest_run(argv, out);
}

int swarmtest_fingerprint(struct pfs_buf *out)
{
	const char *argv[] = { "bash", script(), "fingerprint", NULL };

	return swarmtest_run(argv, out);
}

bool swarmtest_pid_gone(pid_t pid)
{
	struct pfs_buf b = PFS_BUF_INIT(4096);
	char path[64];
	const char *paren;
	bool gone;

	if (pid <= 0 || kill(pid, 0) < 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (pfs_read_file(path, &b) < 0)
		return true;
	/* "pid (comm) S ...": the state follows the last parenthesis */
	paren = strrchr(pfs_buf_str(&b), ')');
	gone = paren && paren[1] == ' ' && paren[2] == 'Z';
	pfs_buf_release(&b);
	return gone;
}

/* The value of key in the "key=value" lines of text (the last one wins). */
static bool state_get(const char *text, const char *key, char *out, size_t n)
{
	size_t klen = strlen(key);
	bool found = false;

	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);

		if (len > klen && !strncmp(l, key, klen) && l[klen] == '=') {
			snprintf(out, n, "%.*s", (int)(len - klen - 1), l + klen + 1);
			found = true;
		}
		l = end ? end + 1 : NULL;
	}
	return found;
}

int swarmtest_load(const char *id, struct swarmtest_cluster *cl)
{
	struct pfs_buf b = PFS_BUF_INIT(65536);
	char path[128], key[32], v[32];
	int r;

	memset(cl, 0, sizeof(*cl));
	snprintf(path, sizeof(path), "/run/pfsw/%s/state", id);
	r = pfs_read_file(path, &b);
	if (r < 0)
		return r;
	r = -EPROTO;
	snprintf(cl->id, sizeof(cl->id), "%s", id);
	if (!state_get(pfs_buf_str(&b), "nodes", v, sizeof(v)) ||
	    !state_get(pfs_buf_str(&b), "registry", cl->registry, sizeof(cl->registry)))
		goto out;
	cl->nodes = (int)strtol(v, NULL, 10);
	if (cl->nodes < 1 || cl->nodes > SWARMTEST_MAX_NODES)
		goto out;
	if (state_get(pfs_buf_str(&b), "registry_pid", v, sizeof(v)))
		cl->registry_pid = (pid_t)strtol(v, NULL, 10);
	for (int k = 1; k <= cl->nodes; k++) {
		struct swarmtest_node *nd = &cl->node[k];

		snprintf(key, sizeof(key), "node%d_host", k);
		if (!state_get(pfs_buf_str(&b), key, nd->host, sizeof(nd->host)))
			goto out;
		snprintf(key, sizeof(key), "node%d_addr", k);
		state_get(pfs_buf_str(&b), key, nd->addr, sizeof(nd->addr));
		snprintf(key, sizeof(key), "node%d_hostname", k);
		state_get(pfs_buf_str(&b), key, nd->hostname, sizeof(nd->hostname));
		snprintf(key, sizeof(key), "node%d_ns", k);
		state_get(pfs_buf_str(&b), key, nd->ns, sizeof(nd->ns));
		snprintf(key, sizeof(key), "node%d_pid", k);
		if (state_get(pfs_buf_str(&b), key, v, sizeof(v)))
			nd->pid = (pid_t)strtol(v, NULL, 10);
	}
	r = 0;
out:
	pfs_buf_release(&b);
	return r;
}

struct docker_client *swarmtest_client(const struct swarmtest_cluster *cl, int k, long timeout_ms)
{
	struct docker_client_opts o = { .host = cl->node[k].host, .timeout_ms = timeout_ms,
					.connect_timeout_ms = 5000 };
	struct docker_client *c = NULL;

	if (k < 1 || k > cl->nodes || docker_client_new(&o, &c, NULL) < 0)
		return NULL;
	return c;
}

static void remove_listed(struct docker_client *c, json_t *list, const char *key,
			  int (*rm)(struct docker_client *, const char *, struct pfs_err *))
{
	json_t *it;
	size_t i;

	json_array_foreach(list, i, it)
		rm(c, json_string_value(json_object_get(it, key)), NULL);
}

static int container_rm(struct docker_client *c, const char *id, struct pfs_err *err)
{
	return docker_container_remove(c, id, true, err);
}

void swarmtest_sweep(struct docker_client *c, const char *label)
{
	const char *labels[] = { label, NULL };
	json_t *list = NULL;

	if (!c)
		return;
	if (docker_service_list(c, labels, &list, NULL) == 0)
		remove_listed(c, list, "ID", docker_service_remove);
	json_decref(list);
	list = NULL;
	if (docker_container_list(c, labels, true, &list, NULL) == 0)
		remove_listed(c, list, "Id", container_rm);
	json_decref(list);
	list = NULL;
	/* a config in use by a service being removed refuses for a moment */
	for (int tries = 0; tries < 20; tries++) {
		size_t n;

		list = NULL;
		if (docker_config_list(c, labels, &list, NULL) < 0)
			break;
		remove_listed(c, list, "ID", docker_config_remove);
		n = json_array_size(list);
		json_decref(list);
		list = NULL;
		if (n == 0)
			break;
		usleep(250000);
	}
	/* and a network keeps its tasks' endpoints until their containers are gone */
	for (int tries = 0; tries < 40; tries++) {
		size_t n;

		if (docker_network_list(c, labels, &list, NULL) < 0)
			break;
		remove_listed(c, list, "Id", docker_network_remove);
		n = json_array_size(list);
		json_decref(list);
		list = NULL;
		if (n == 0)
			break;
		usleep(250000);
	}
}
