/* SPDX-License-Identifier: MIT */
/*
 * The Swarm cluster of the tests and what the Docker client sees of it:
 * three extra engines in namespaces of their own and a registry
 * (tests/support/swarm.sh), which main() brings up before the tests and
 * down after them, by pid.
 *
 *  - each engine says what it is (manager, worker; the main engine: none),
 *    the manager lists the three nodes, and a worker or an engine outside
 *    any Swarm refuses what only a manager does, with the engine's words;
 *  - the cluster taken down leaves no namespace, process, state or data,
 *    and the main engine's docker0 and NAT rules are as before.
 * Services, tasks, nodes, configs, pushes and pulls are exercised through
 * the product, on a cluster of its own, by fs-swarm.sh (a real mount
 * pointed at the manager: pairs on two nodes, 20 runs at once, a node that
 * goes down, SIGKILL and restart), and each call's request and decoding by
 * the unit suite docker_swarm.
 * Everything made in the cluster carries pantherfs.testrun=<cluster id> and
 * is swept by an unchecked teardown; the cluster itself is taken down by
 * the last test, again by main(), and by a SIGTERM/SIGINT handler.
 * Nothing is created in the main engine. Measured times are printed as TAP
 * comments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pfs_check.h"
#include "itest.h"
#include "swarmtest.h"
#include "pantherfs/docker.h"
#include "pantherfs/docker_swarm.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define NODES 3

/* Set by main() before the tests fork. */
static char cid[16];                 /* the cluster's id, also the test run's */
static char run_label[64];           /* pantherfs.testrun=<cid> */
static char fp_before[4096];         /* swarm.sh fingerprint before the cluster */
static pid_t main_pid;

static const char *const labels_kv[] = { "pantherfs.testrun", cid, NULL };

static void load(struct swarmtest_cluster *cl)
{
	ck_assert_msg(swarmtest_load(cid, cl) == 0, "no state for cluster %s", cid);
	ck_assert_int_eq(cl->nodes, NODES);
}

static struct docker_client *node_client(const struct swarmtest_cluster *cl, int k)
{
	struct docker_client *c = swarmtest_client(cl, k, 60000);

	ck_assert_msg(c != NULL, "no client for node %d", k);
	return c;
}

static void sweep(void)
{
	struct swarmtest_cluster cl;
	struct docker_client *c;

	if (swarmtest_load(cid, &cl) < 0)
		return;
	c = swarmtest_client(&cl, 1, 30000);
	swarmtest_sweep(c, run_label);
	docker_client_free(c);
}

/* ---- the cluster ------------------------------------------------------------------------- */

START_TEST(each_engine_says_what_it_is)
{
	struct swarmtest_cluster cl;
	struct docker_client *m, *w, *main_c;
	struct docker_swarm_info si;
	struct pfs_err err = { 0 };
	json_t *list = NULL, *it;
	char *id = NULL;
	int leaders = 0;
	size_t i;

	load(&cl);
	m = node_client(&cl, 1);
	w = node_client(&cl, 2);
	main_c = itest_client(10000);
	ck_assert_ptr_nonnull(main_c);

	ck_assert_msg(docker_swarm_detect(m, &si, &err) == 0, "%s", err.msg);
	ck_assert(si.active && si.manager);
	ck_assert_int_eq(si.nodes, NODES);
	ck_assert_int_eq(si.managers, 1);
	ck_assert_str_eq(si.node_addr, cl.node[1].addr);
	ck_assert_uint_gt(strlen(si.cluster_id), 0);

	ck_assert_int_eq(docker_swarm_detect(w, &si, &err), 0);
	ck_assert(si.active && !si.manager);
	ck_assert_str_eq(si.node_addr, cl.node[2].addr);

	/* the main engine runs with live-restore, which Swarm refuses: never a node */
	ck_assert_int_eq(docker_swarm_detect(main_c, &si, &err), 0);
	ck_assert(!si.active && !si.manager);
	ck_assert_str_eq(si.state, "inactive");

	ck_assert_int_eq(docker_node_list(m, &list, &err), 0);
	ck_assert_int_eq(json_array_size(list), NODES);
	json_array_foreach(list, i, it) {
		struct docker_node n;
		int k;

		ck_assert_int_eq(docker_node_parse(it, &n), 0);
		for (k = 1; k <= NODES; k++)
			if (!strcmp(n.hostname, cl.node[k].hostname))
				break;
		ck_assert_msg(k <= NODES, "unknown node %s", n.hostname);
		ck_assert_str_eq(n.addr, cl.node[k].addr);
		ck_assert_str_eq(n.state, "ready");
		ck_assert_str_eq(n.availability, "active");
		ck_assert_str_eq(n.role, k == 1 ? "manager" : "worker");
		leaders += n.leader;
		if (n.leader)
			ck_assert_int_eq(k, 1);
	}
	ck_assert_int_eq(leaders, 1);
	json_decref(list);
	list = NULL;

	/* a worker manages nothing, and says so */
	ck_assert_int_eq(docker_node_list(w, &list, &err), -EIO);
	ck_assert_msg(strstr(err.msg, "not a swarm manager"), "%s", err.msg);
	ck_assert_ptr_null(list);
	ck_assert_int_eq(docker_network_create_overlay(w, "pfs-never", labels_kv, &id, &err), -EPERM);
	ck_assert_msg(strstr(err.msg, "from a worker node"), "%s", err.msg);
	ck_assert_ptr_null(id);
	/* nor does an engine outside any Swarm */
	ck_assert_int_eq(docker_service_list(main_c, NULL, &list, &err), -EIO);
	ck_assert_msg(strstr(err.msg, "not a swarm manager"), "%s", err.msg);
	ck_assert_ptr_null(list);

	docker_client_free(main_c);
	docker_client_free(w);
	docker_client_free(m);
}
END_TEST

/* ---- and nothing left --------------------------------------------------------------------------- */

/* text as TAP comments, a line each */
static void comment(const char *text)
{
	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n");

		printf("# %.*s\n", (int)len, l);
		l += len + (l[len] == '\n');
	}
}

static bool path_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

START_TEST(down_leaves_nothing_and_the_main_engine_as_it_was)
{
	struct swarmtest_cluster cl;
	struct pfs_buf out = PFS_BUF_INIT(65536), fp = PFS_BUF_INIT(sizeof(fp_before));
	struct pfs_buf ns = PFS_BUF_INIT(65536);
	const char *ip_netns[] = { "ip", "netns", "list", NULL };
	struct docker_client *main_c;
	struct pfs_err err = { 0 };
	char path[128], prefix[32];
	json_t *list = NULL;
	uint64_t t0;

	load(&cl);
	t0 = pfs_now_ms();
	ck_assert_msg(swarmtest_down(cid, &out) == 0, "%s", pfs_buf_str(&out));
	printf("# cluster down in %.1f s\n", (pfs_now_ms() - t0) / 1000.0);
	comment(pfs_buf_str(&out));
	for (int k = 1; k <= NODES; k++)
		ck_assert_msg(swarmtest_pid_gone(cl.node[k].pid), "dockerd of node %d still runs", k);
	ck_assert(swarmtest_pid_gone(cl.registry_pid));
	ck_assert_int_eq(swarmtest_run(ip_netns, &ns), 0);
	snprintf(prefix, sizeof(prefix), "pfsw-%s-", cid);
	ck_assert_msg(!strstr(pfs_buf_str(&ns), prefix), "%s", pfs_buf_str(&ns));
	snprintf(path, sizeof(path), "/run/pfsw/%s", cid);
	ck_assert(!path_exists(path));
	snprintf(path, sizeof(path), "/var/lib/pfsw/%s", cid);
	ck_assert(!path_exists(path));
	snprintf(path, sizeof(path), "/sys/fs/cgroup/pids/pfsw-%s-n1", cid);
	ck_assert(!path_exists(path));
	/* again: nothing to do, and no error */
	ck_assert_int_eq(swarmtest_down(cid, NULL), 0);

	/* the main engine: docker0 and its NAT rules as before, answering, with nothing of ours */
	ck_assert_int_eq(swarmtest_fingerprint(&fp), 0);
	ck_assert_msg(strstr(pfs_buf_str(&fp), "docker0 "), "%s", pfs_buf_str(&fp));
	ck_assert_str_eq(pfs_buf_str(&fp), fp_before);
	main_c = itest_client(10000);
	ck_assert_int_eq(docker_ping(main_c, NULL, &err), 0);
	ck_assert_int_eq(docker_container_list(main_c, (const char *[]){ run_label, NULL }, true, &list, &err), 0);
	ck_assert_int_eq(json_array_size(list), 0);
	json_decref(list);
	docker_client_free(main_c);
	pfs_buf_release(&out);
	pfs_buf_release(&fp);
	pfs_buf_release(&ns);
}
END_TEST

/* ---- main ------------------------------------------------------------------------------------------ */

/* meson's timeout or a ^C: take the cluster down before going (main process only). */
static void on_signal(int sig)
{
	if (getpid() == main_pid) {
		char script[4096];
		const char *src = getenv("PFS_SOURCE_DIR");
		pid_t pid;

		snprintf(script, sizeof(script), "%s/tests/support/swarm.sh", src ? src : ".");
		pid = fork();
		if (pid == 0) {
			execlp("bash", "bash", script, "down", cid, (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
	}
	_exit(128 + sig);
}

/* The cluster up before the tests (they fork), and down after them whatever happened. */
int main(void)
{
	struct pfs_buf out = PFS_BUF_INIT(1u << 20), fp = PFS_BUF_INIT(sizeof(fp_before) - 1);
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t t0;
	int r;

	r = itest_docker_or_skip();
	if (r)
		return r;
	main_pid = getpid();
	snprintf(cid, sizeof(cid), "s%07x", (unsigned)((unsigned)getpid() ^ (unsigned)time(NULL)) & 0xfffffffu);
	snprintf(run_label, sizeof(run_label), "pantherfs.testrun=%s", cid);
	if (swarmtest_fingerprint(&fp) != 0 || !fp.len) {
		printf("Bail out! cannot read the main engine's network state: %s\n", pfs_buf_str(&fp));
		return 1;
	}
	snprintf(fp_before, sizeof(fp_before), "%s", pfs_buf_str(&fp));
	pfs_buf_release(&fp);

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	t0 = pfs_now_ms();
	r = swarmtest_up(cid, NODES, NULL, &out);
	if (r != 0) {
		printf("Bail out! swarm.sh up %s failed (%d)\n", cid, r);
		comment(pfs_buf_str(&out));
		swarmtest_down(cid, NULL);
		pfs_buf_release(&out);
		return 1;
	}
	printf("# cluster %s up with %d nodes in %.1f s\n", cid, NODES, (pfs_now_ms() - t0) / 1000.0);
	fflush(stdout);
	pfs_buf_release(&out);

	Suite *s = suite_create("swarm");
	TCase *t = tcase_create("swarm");

	tcase_set_timeout(t, 900);
	tcase_add_unchecked_fixture(t, NULL, sweep);
	tcase_add_test(t, each_engine_says_what_it_is);
	tcase_add_test(t, down_leaves_nothing_and_the_main_engine_as_it_was);
	suite_add_tcase(s, t);
	r = pfs_check_run(s);
	swarmtest_down(cid, NULL);
	return r;
}
