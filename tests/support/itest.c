/* SPDX-License-Identifier: MIT */
/*
 * Shared support of the integration suites against the real Docker engine
 * (see itest.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "pfs_check.h"
#include "pantherfs/docker.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

struct docker_client *itest_client(long timeout_ms)
{
	return itest_client_connect(timeout_ms, 0);
}

struct docker_client *itest_client_connect(long timeout_ms, long connect_timeout_ms)
{
	struct docker_client_opts o = { .timeout_ms = timeout_ms, .connect_timeout_ms = connect_timeout_ms };
	struct docker_client *c = NULL;

	if (docker_client_new(&o, &c, NULL) < 0)
		return NULL;
	return c;
}

int itest_docker_or_skip(void)
{
	struct docker_client *c = NULL;
	struct docker_client_opts o = { .timeout_ms = 5000 };
	struct pfs_err err = { 0 };
	int r;

	if (docker_client_new(&o, &c, &err) < 0)
		return pfs_check_skip(err.msg);
	r = docker_ping(c, NULL, &err);
	docker_client_free(c);
	if (r == -ENOTCONN || r == -ENOENT)
		return pfs_check_skip(err.msg);
	return 0;
}

void itest_sweep_label(struct docker_client *c, const char *label)
{
	const char *labels[] = { label, NULL };
	json_t *list = NULL, *it;
	size_t i;

	if (docker_container_list(c, labels, true, &list, NULL) == 0)
		json_array_foreach(list, i, it)
			docker_container_remove(c, json_string_value(json_object_get(it, "Id")), true, NULL);
	json_decref(list);
	list = NULL;
	if (docker_network_list(c, labels, &list, NULL) == 0)
		json_array_foreach(list, i, it)
			docker_network_remove(c, json_string_value(json_object_get(it, "Id")), NULL);
	json_decref(list);
}

int itest_instance_id(const char *state_dir, char id[17])
{
	struct pfs_buf b = PFS_BUF_INIT(64);
	char path[PATH_MAX + 320];
	int r;

	id[0] = '\0';
	snprintf(path, sizeof(path), "%s/instance", state_dir);
	r = pfs_read_file(path, &b);
	if (r < 0)
		return r;
	snprintf(id, 17, "%.16s", b.ptr);
	r = (int)b.len;
	pfs_buf_release(&b);
	return r;
}

void itest_sweep_instance(struct docker_client *c, const char *id)
{
	char label[64];

	snprintf(label, sizeof(label), "pantherfs.instance=%s", id);
	itest_sweep_label(c, label);
}

size_t itest_count_instance(struct docker_client *c, const char *id, bool networks)
{
	char label[64];
	const char *labels[] = { label, NULL };
	json_t *list = NULL;
	size_t n;
	int r;

	snprintf(label, sizeof(label), "pantherfs.instance=%s", id);
	r = networks ? docker_network_list(c, labels, &list, NULL) : docker_container_list(c, labels, true, &list, NULL);
	ck_assert_int_eq(r, 0);
	n = json_array_size(list);
	json_decref(list);
	return n;
}

int run_argv(const char *const *argv)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
