/* SPDX-License-Identifier: MIT */
/*
 * The Swarm cluster of tests/support/swarm.sh, from C: bring it up and
 * down, read its state file, talk to its engines, sweep what a test made in
 * it. A cluster is named by an id of 1-8 [a-z0-9]; its state lives in
 * /run/pfsw/<id>/state (see swarm.sh for every key). Node k is 1-based;
 * node 1 is the manager.
 *
 * Nothing here allocates what the caller must free but the clients of
 * swarmtest_client().
 */
#ifndef PFS_SWARMTEST_H
#define PFS_SWARMTEST_H

#include <stdbool.h>
#include <sys/types.h>

#include "pantherfs/buf.h"

#define SWARMTEST_MAX_NODES 3

struct docker_client;

struct swarmtest_node {
	char host[160];        /* "unix:///run/pfsw/<id>/n<k>/docker.sock" */
	char addr[32];         /* its address on the cluster's bridge */
	char hostname[64];     /* its hostname, for node.hostname== constraints */
	char ns[64];           /* its network namespace */
	pid_t pid;             /* its dockerd */
};

struct swarmtest_cluster {
	char id[16];
	int nodes;
	char registry[64];     /* "10.213.0.1:5000", reached by every node */
	pid_t registry_pid;
	struct swarmtest_node node[SWARMTEST_MAX_NODES + 1]; /* [1..nodes] */
};

/*
 * Runs argv (argv[0] searched in PATH) with stdout and stderr into out
 * (capped: what does not fit is dropped) and stdin from /dev/null. Returns
 * its exit status, or -1 when it could not run or was killed.
 */
int swarmtest_run(const char *const *argv, struct pfs_buf *out);

/*
 * swarm.sh up ID --nodes N [--image REF]... (the script is found through
 * $PFS_SOURCE_DIR). out gets what it printed. Returns its exit status.
 */
int swarmtest_up(const char *id, int nodes, const char *const *images, struct pfs_buf *out);
/* swarm.sh down ID: idempotent, unchecked; out may be NULL. Returns its exit status. */
int swarmtest_down(const char *id, struct pfs_buf *out);
/* swarm.sh stop-node ID K. Returns its exit status. */
int swarmtest_stop_node(const char *id, int k, struct pfs_buf *out);
/* swarm.sh fingerprint: the main engine's docker0 and NAT rules, into out. */
int swarmtest_fingerprint(struct pfs_buf *out);

/*
 * Whether pid has ended: no such process, or a zombie (the script's
 * processes are reparented to init, which reaps them in its own time).
 */
bool swarmtest_pid_gone(pid_t pid);

/* Reads /run/pfsw/<id>/state. -ENOENT when there is none, -EPROTO when incomplete. */
int swarmtest_load(const char *id, struct swarmtest_cluster *cl);

/* A client to node k with this timeout for short calls; NULL when it cannot be made. */
struct docker_client *swarmtest_client(const struct swarmtest_cluster *cl, int k, long timeout_ms);

/*
 * Through a manager: removes every service, then every config, then every
 * network carrying label ("key=value"), and every container with it on the
 * engine of c (helpers attached to an overlay). Unchecked, as a teardown
 * wants.
 */
void swarmtest_sweep(struct docker_client *c, const char *label);

#endif
