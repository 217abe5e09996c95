/* SPDX-License-Identifier: MIT */
/*
 * Docker Swarm through the Engine API: detection, services, tasks, nodes and
 * configs, on top of the client of docker.h (same rules: short calls with
 * the client's timeout, 0 or -errno with the daemon's message in the
 * optional struct pfs_err, streams on the I/O thread). Every call goes to a
 * manager; a worker or a non-Swarm engine answers 503 (-EIO, "This node is
 * not a swarm manager...").
 *
 * How a run maps onto Swarm (for the orchestrator to wire in):
 *  - Detection: docker_swarm_detect() on the engine of --docker-host. Active
 *    and manager: Swarm mode. Active but a worker: refuse with "point
 *    --docker-host at a manager". Inactive: the single-engine mode of today.
 *  - Images reach the nodes through --registry=HOST:PORT; a node cannot see
 *    the manager's images. A built image is named HOST:PORT/pantherfs/<impl>:
 *    <version>-<hash12> (the same content-hash tag as today). Before a build
 *    the manager pulls that name (found: no build, image.cached); else it
 *    builds on the manager, docker_image_push() once (event with the
 *    digest), and services name ref@digest: an engine of API >= 1.30 does
 *    not pin a tag to a digest itself (the CLI does), and the digest makes
 *    every node run the same bytes.
 *  - One attachable overlay network per run, labelled as today
 *    (docker_network_create_overlay()); each service joins it with its name
 *    as alias, in endpoint mode dnsrr: no virtual IP, so QUIC's datagrams
 *    go straight to the task and the server sees the client's own address.
 *  - One Swarm service per config service: one replica, restart condition
 *    none, the run's labels on the service and on its containers, placement
 *    constraints from the service's node setting (node.hostname==X or
 *    node.id==X), env and the rendered command. A bind mount of the state
 *    dir means nothing on another node: the generated key pair goes in as
 *    Swarm configs (docker_config_create(), files at CONFIG_CERTS_DIR),
 *    labelled with the run and removed with it.
 *  - Servers first; when a server's task is running, its overlay address is
 *    docker_task_addr(). The host cannot reach overlay addresses, so the
 *    readiness probe runs in a helper container on the manager attached to
 *    the run's network (attachable), which sends quic_probe()'s datagram
 *    and exits 0 on a Version Negotiation answer (its exit code, through
 *    docker_container_wait(), is the answer). Then the clients, with the
 *    server's overlay address rendered in.
 *  - Following: docker_task_list() per service (state, desired state,
 *    container, node, exit code, error) on the engine's thread, and
 *    docker_service_logs() with follow and timestamps (the manager relays
 *    the node's logs). A task's exit code counts once its state is complete
 *    or failed; rejected (e.g. no such image on that node) is an error with
 *    the task's message. A service's timeout counts from its task running
 *    (a node may spend minutes pulling in "preparing").
 *  - A node that disappears: its task is not final, and never becomes so
 *    (the manager sets the desired state to shutdown; the state stays
 *    "running" because the node never reports again). What tells is the
 *    node: docker_node_list() shows it "down". The run then ends failed
 *    with "node <hostname> went down (service <s>)". Measured here (Docker
 *    20.10, default 5 s heartbeat period): 10-16 s after a node's engine
 *    stops, whether by SIGTERM or SIGKILL, the node is "down" with the
 *    message "heartbeat failure", and its task shows state running,
 *    desired state shutdown, no error.
 *  - Recovery after a pantherfs restart: services, configs and the network
 *    are found by label (docker_service_list(), docker_config_list(),
 *    docker_network_list()) and their tasks followed again. Removal: the
 *    services (their containers go on every node that is up), then configs,
 *    then the network, which refuses while a task is attached (retry,
 *    bounded).
 */
#ifndef PANTHERFS_DOCKER_SWARM_H
#define PANTHERFS_DOCKER_SWARM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "pantherfs/buf.h"
#include "pantherfs/docker.h"
#include "pantherfs/err.h"

/* ---- Detection --------------------------------------------------------------------- */

struct docker_swarm_info {
	char state[16];        /* LocalNodeState: inactive, pending, active, error, locked */
	bool active;           /* state is "active": this engine is a Swarm node */
	bool manager;          /* ControlAvailable: services can be made through it */
	char node_id[64];
	char node_addr[64];
	char cluster_id[64];   /* managers only, else "" */
	int nodes, managers;   /* managers only, else 0 */
	char error[PFS_ERR_MSG_MAX]; /* Swarm.Error, "" when none */
};

/* Reads the Swarm object of a GET /info answer; -EPROTO when it has none. */
int docker_swarm_info_parse(json_t *info, struct docker_swarm_info *out);
/* GET /info and docker_swarm_info_parse(). */
int docker_swarm_detect(struct docker_client *c, struct docker_swarm_info *out,
			struct pfs_err *err);

/* ---- Services ------------------------------------------------------------------------ */

struct docker_service_net {
	const char *target;                /* network name or id */
	const char *const *aliases;        /* NULL-terminated, or NULL */
};

/* A Swarm config given to the task's container as a file. */
struct docker_service_file {
	const char *config_id, *config_name;
	const char *path;                  /* absolute, inside the container */
	unsigned mode;                     /* 0: 0444 */
};

struct docker_service_spec {
	const char *name;                  /* NULL: the engine picks one */
	const char *image;
	const char *const *cmd;            /* argv (ContainerSpec.Args), or NULL: the image's */
	const char *const *entrypoint;     /* ContainerSpec.Command, or NULL: the image's */
	const char *const *env;            /* "K=V", NULL-terminated */
	const char *const *labels;         /* k, v, ..., NULL: on the service (lists filter them) */
	const char *const *container_labels; /* k, v, ..., NULL: on each task's container */
	const char *const *constraints;    /* "node.hostname==n2", "node.id==...", NULL-terminated */
	const struct docker_service_net *networks;
	size_t n_networks;
	const struct docker_service_file *files;
	size_t n_files;
	const char *const *cap_add;        /* NULL-terminated; needs API >= 1.41 */
	const char *working_dir;
	bool init, tty;
	bool dnsrr;                        /* endpoint mode dnsrr (no virtual IP) */
	int stop_grace_s;                  /* 0: the engine's default (10 s) */
	const char *registry_auth;         /* X-Registry-Auth passed to the nodes' pulls, or NULL */
};

/*
 * POST /services/create: one replica (Mode.Replicated.Replicas 1), restart
 * condition none, no mounts. *id_out (malloc'd) on success. -EBUSY (409)
 * when the name is taken; -EIO (503) when the engine is not a manager.
 */
int docker_service_create(struct docker_client *c, const struct docker_service_spec *s,
			  char **id_out, struct pfs_err *err);
int docker_service_inspect(struct docker_client *c, const char *id, json_t **out,
			   struct pfs_err *err);
/* Removes the service; its tasks' containers go on every node that is up. */
int docker_service_remove(struct docker_client *c, const char *id, struct pfs_err *err);
/*
 * Stops the service's running task the way `docker stop` stops a container,
 * and keeps it: Swarm has no stop, and a removal (or a scale to 0) deletes
 * the task with its exit code. So the service is updated with one more
 * placement constraint that no node meets (DOCKER_SERVICE_HELD): its node
 * stops the task (its stop signal, then SIGKILL after StopGracePeriod), the
 * task stays with state shutdown, its exit code and its logs, and its
 * replacement waits in "pending" for a node that never comes. Idempotent (a
 * held service is left as it is). An inspect and an update, each with the
 * client's timeout; -ENOENT when there is no such service, -EAGAIN when
 * another update came in between (out of sequence: try again).
 */
#define DOCKER_SERVICE_HELD "node.id==pantherfs-stopped"
int docker_service_stop(struct docker_client *c, const char *id, struct pfs_err *err);
/* GET /services?filters={"label":[...]}; *out is an array. */
int docker_service_list(struct docker_client *c, const char *const *labels, json_t **out,
			struct pfs_err *err);

/*
 * GET /services/{id}/logs: the logs of every task of the service, relayed by
 * the manager, with the framing and callbacks of docker_container_logs().
 * o->tty -1: learnt from the Content-Type (API >= 1.42), else from the
 * service's ContainerSpec.TTY (a short synchronous inspect first).
 */
struct docker_call *docker_service_logs(struct docker_client *c, const char *id,
					const struct docker_logs_opts *o,
					const struct docker_logs_cbs *cbs, struct pfs_err *err);
/* Non-follow service logs collected into out_stdout / out_stderr (either may be NULL). */
int docker_service_logs_sync(struct docker_client *c, const char *id, bool timestamps,
			     struct pfs_buf *out_stdout, struct pfs_buf *out_stderr,
			     struct pfs_err *err);

/* ---- Tasks ------------------------------------------------------------------------------ */

struct docker_task {
	char id[64], service_id[64], node_id[64];
	int slot;
	char state[16];        /* Status.State: new, pending, assigned, accepted, preparing,
				* starting, running, complete, failed, shutdown, rejected,
				* orphaned, remove */
	char desired[16];      /* DesiredState: running, shutdown, ... */
	char message[128];     /* Status.Message ("started", "finished", ...) */
	char error[PFS_ERR_MSG_MAX]; /* Status.Err ("task: non-zero exit (3)", "No such image"...) */
	char container_id[72]; /* "" until the node made the container */
	bool exited;           /* state complete or failed, with a container: exit_code holds */
	int exit_code;
	char timestamp[40];    /* Status.Timestamp: when the state last changed */
};

/* GET /tasks?filters={"service":[service]} (id or name); *out is an array. */
int docker_task_list(struct docker_client *c, const char *service, json_t **out,
		     struct pfs_err *err);
/*
 * GET /tasks?filters={"label":[...]}: the tasks of every service carrying all
 * of labels ("k=v", NULL-terminated; the services' labels, not the tasks'),
 * in one call. *out is an array.
 */
int docker_task_list_labels(struct docker_client *c, const char *const *labels, json_t **out,
			    struct pfs_err *err);
/* Decodes one element of docker_task_list(); -EPROTO when it is no task. */
int docker_task_parse(json_t *task, struct docker_task *t);
/*
 * The task's address on network (name or id) without its prefix length
 * ("10.216.1.4"); -ENOENT when it has none there (not attached yet).
 */
int docker_task_addr(json_t *task, const char *network, char *out, size_t outlen);
/* complete, failed, shutdown, rejected, orphaned, remove: the task will not run again. */
bool docker_task_state_final(const char *state);

/* ---- Nodes -------------------------------------------------------------------------------- */

struct docker_node {
	char id[64];
	char hostname[256];
	char state[16];        /* Status.State: unknown, down, ready, disconnected */
	char availability[16]; /* Spec.Availability: active, pause, drain */
	char role[16];         /* Spec.Role: worker, manager */
	char addr[64];         /* Status.Addr */
	char message[128];     /* Status.Message ("heartbeat failure", ...) */
	bool leader;           /* ManagerStatus.Leader */
};

/* GET /nodes; *out is an array. */
int docker_node_list(struct docker_client *c, json_t **out, struct pfs_err *err);
int docker_node_inspect(struct docker_client *c, const char *id, json_t **out,
			struct pfs_err *err);
/* Decodes one element of docker_node_list(); -EPROTO when it is no node. */
int docker_node_parse(json_t *node, struct docker_node *n);

/* ---- Configs -------------------------------------------------------------------------------- */

/* POST /configs/create with data (any bytes, sent base64) and labels (k, v, ..., NULL). */
int docker_config_create(struct docker_client *c, const char *name, const char *const *labels,
			 const void *data, size_t len, char **id_out, struct pfs_err *err);
/* -EBUSY (409) while a service uses it. */
int docker_config_remove(struct docker_client *c, const char *id, struct pfs_err *err);
int docker_config_list(struct docker_client *c, const char *const *labels, json_t **out,
		       struct pfs_err *err);

#endif
