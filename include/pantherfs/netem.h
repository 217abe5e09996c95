/* SPDX-License-Identifier: MIT */
/*
 * The netem helper: a small container (docker/netem/, image planned and
 * built like any service's: struct pfs_config.netem) that owns a service's
 * network namespace, shapes its egress and captures it. The
 * implementation's image is never changed.
 *
 * Order, so the conditions hold from the service's first packet:
 *   1. netem_helper_start(): the helper is created on the run's network with
 *      the service's aliases (its DNS name), NET_ADMIN and NET_RAW, and runs
 *      netem_script(): ip link (mtu), tc tbf (bandwidth), pfs-netem on an
 *      NFQUEUE fed by iptables (latency, jitter, loss, duplicate, corrupt,
 *      reorder, blackhole), tcpdump -U into <capture_dir>/capture.pcap;
 *   2. netem_helper_wait(): until the helper says "applied" (or fails, or
 *      the bound passes), with the settings as applied, for the
 *      network.shaped event;
 *   3. the service is created with NetworkMode netem_network_mode() (it
 *      joins the helper's namespace: its address is the helper's) and the
 *      binds of netem_service_mounts() (qlog/, keys.log);
 *   4. at the end, the service first, then netem_helper_remove() (a stop
 *      with a grace period, so tcpdump closes the pcap, then removal).
 * A helper that dies takes the service's network with it: follow it like a
 * service.
 *
 * Why the helper owns the namespace instead of joining the service's: a
 * service started first sends its first packets before any helper could
 * shape them (docker start of a helper takes hundreds of milliseconds),
 * unless its command were changed to wait; owning it, the helper is done
 * before the service exists.
 *
 * Why user space for delay and loss: see docker/netem/pfs-netem.c (kernels
 * without sch_netem). Rates use the kernel's tbf.
 *
 * Functions return 0 or -errno and fill the optional pfs_err; the Docker
 * calls are short (the client's timeout) but netem_helper_wait() polls up to
 * its bound: call them from a run's thread, never from a FUSE callback, and
 * hold no lock across them.
 */
#ifndef PANTHERFS_NETEM_H
#define PANTHERFS_NETEM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "pantherfs/buf.h"
#include "pantherfs/config.h"
#include "pantherfs/docker.h"
#include "pantherfs/err.h"
#include "pantherfs/netcond.h"

#define NETEM_IFACE "eth0"
#define NETEM_QUEUE 0
#define NETEM_MARK 0x7066              /* the emulator's own copies pass the queue rule */
#define NETEM_CAPTURE_DIR "/pantherfs/capture"
#define NETEM_CAPTURE_FILE "capture.pcap"
#define NETEM_KEYLOG_FILE "keys.log"
#define NETEM_QLOG_DIR "qlog"
#define NETEM_REPORT "pantherfs-netem: "
#define NETEM_WAIT_MS 30000            /* a sensible bound for netem_helper_wait() */

/* ---- pure ---------------------------------------------------------------------------- */

/*
 * The helper's shell script (for sh -c) applying nc, and capturing into
 * NETEM_CAPTURE_DIR/NETEM_CAPTURE_FILE when capture. It reports each
 * setting as applied on lines starting with NETEM_REPORT, then
 * "pantherfs-netem: applied", and stays up until SIGTERM; on a failure it
 * says "pantherfs-netem: error: <why>" and exits 1. Appends to out;
 * -E2BIG/-ENOMEM from the buffer.
 */
int netem_script(const struct netcond *nc, bool capture, struct pfs_buf *out);

/* tbf's bucket and queue for a rate: 10 ms of it (at least 2 MTUs), 100 ms of queue. */
void netem_tbf_sizes(unsigned long long rate_bps, int mtu, unsigned long long *burst,
		     unsigned long long *limit);

/*
 * Reads a helper's log (stdout and stderr as they came). Returns 1 when it
 * says applied (*out: {"interface", "address", "mtu", "qdisc", "emulator",
 * "capture"}, those it reported; new reference), 0 when not yet (*out
 * untouched), -EIO when it failed (err says why, with its words).
 */
int netem_report_parse(const char *log, size_t len, json_t **out, struct pfs_err *err);

/* "pantherfs-netem-<instance>-<test>-<run>-<service>": no service container
 * name (pantherfs-<instance>-...) can take it, the instance being hex. */
void netem_helper_name(const char *instance, const char *test, int run, const char *service, char *out,
		       size_t n);

/* "container:<id>": the service's NetworkMode. */
void netem_network_mode(const char *helper_id, char *out, size_t n);

/* ---- Docker ---------------------------------------------------------------------------- */

struct netem_helper_opts {
	const char *name;               /* netem_helper_name() */
	const char *image;              /* the built helper image (image_plan_compute(cfg->netem)) */
	const char *network;            /* the run's network */
	const char *const *aliases;     /* the service's DNS names there; NULL-terminated */
	const char *const *labels;      /* the service's labels (k, v, ..., NULL); pantherfs.helper=netem is added */
	const struct netcond *nc;
	const char *capture_dir;        /* host dir that receives capture.pcap (the service's
					 * state dir), or NULL: no capture */
};

/*
 * Creates and starts the helper; a helper of that name that exists already
 * (pantherfs restarted) is adopted and started if it is not running. *id is
 * malloc'd (the caller frees it).
 */
int netem_helper_start(struct docker_client *dc, const struct netem_helper_opts *o, char **id,
		       struct pfs_err *err);

/*
 * Polls the helper's log (every 100 ms, up to timeout_ms) until it says
 * applied: *applied is then netem_report_parse()'s object (new reference).
 * -EIO when it failed or exited (err holds its words), -ETIME at the
 * bound (with the helper's last words), or the Docker call's error.
 */
int netem_helper_wait(struct docker_client *dc, const char *id, long timeout_ms, json_t **applied,
		      struct pfs_err *err);

/* Stops (grace_s, so the pcap is closed) and removes it; a helper gone already is fine. */
int netem_helper_remove(struct docker_client *dc, const char *id, int grace_s, struct pfs_err *err);

/*
 * What the service container needs besides its usual binds: "<svc_dir>/qlog:
 * CONFIG_QLOG_DIR" when s->qlog, "<svc_dir>/keys.log:CONFIG_KEYLOG_FILE" when
 * s->keylog. Creates qlog/ and an empty keys.log (a bind of a missing file
 * would make a directory of it). binds is NULL-terminated; release it.
 */
struct netem_mounts {
	char *binds[3];
};

int netem_service_mounts(const struct cfg_service *s, const char *svc_dir, struct netem_mounts *m,
			 struct pfs_err *err);
void netem_mounts_release(struct netem_mounts *m);

#endif
