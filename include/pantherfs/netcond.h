/* SPDX-License-Identifier: MIT */
/*
 * Network conditions: what a config says about the network a service sees.
 *
 * Two places may say it: network_environment.network (every service of the
 * test) and a service's own network block, which overrides the test's key by
 * key. The keys (PANTHER's shadow_ns spelling where it has one):
 *   latency, jitter        milliseconds, one way, on the service's egress
 *   packet_loss, duplicate, corrupt, reorder   percent (0-100)
 *   bandwidth              a tc rate: 10Mbit, 500kbit, 1gbit (bps is bytes/s)
 *   mtu                    bytes (68-65535)
 *   blackhole: {on: S, off: S}   the interop runner's scenario: the link
 *                          works for `on` seconds, then drops everything for
 *                          `off` seconds, and again
 * plus network_environment.capture (a pcap per service) and a service's
 * config.qlog (read by the implementation's keys, see implementation.yaml).
 *
 * netcond_parse() checks one block and reports through a sink, so the
 * config module keeps its own report format (file:line:col: path: message).
 * Everything here is pure: no I/O, no Docker. The helper that applies the
 * conditions is netem.h's.
 */
#ifndef PANTHERFS_NETCOND_H
#define PANTHERFS_NETCOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Which keys a block gave (a service's block overrides exactly these). */
enum netcond_key {
	NC_LATENCY = 1u << 0,
	NC_JITTER = 1u << 1,
	NC_LOSS = 1u << 2,
	NC_DUPLICATE = 1u << 3,
	NC_CORRUPT = 1u << 4,
	NC_REORDER = 1u << 5,
	NC_BANDWIDTH = 1u << 6,
	NC_MTU = 1u << 7,
	NC_BLACKHOLE = 1u << 8,
};

#define NETCOND_MAX_DELAY_MS 60000.0
#define NETCOND_MAX_BLACKHOLE_S 3600.0
#define NETCOND_MIN_RATE 8ull                  /* bit/s */
#define NETCOND_MAX_RATE 100000000000ull       /* 100 Gbit/s */

struct netcond {
	unsigned set;            /* NC_* bits of the keys given */
	double latency_ms, jitter_ms;
	double loss, duplicate, corrupt, reorder;   /* percent */
	uint64_t rate_bps;       /* bits per second; 0: no limit */
	int mtu;                 /* 0: the network's */
	double blackhole_on_s, blackhole_off_s;     /* both 0: none */
};

/*
 * How a block's problems are told: error() refuses the config, warn() lists
 * a key accepted but not applied, note() is a remark. parent/key locate the
 * problem (at_key: the key's position, else its value's); path is the
 * dotted path of the key; msg is the text after "path: ".
 */
struct netcond_sink {
	void (*error)(void *ud, json_t *parent, const char *key, bool at_key, const char *path,
		      const char *msg);
	void (*warn)(void *ud, json_t *parent, const char *key, const char *path, const char *msg);
	void (*note)(void *ud, const char *msg);
	void *ud;
};

/*
 * Checks block (a mapping; path "network_environment.network" or
 * "services.<s>.network") into *out (zeroed first). Every problem goes to
 * the sink; the keys that passed are set even when others failed. Returns
 * the number of errors reported. pantherfs_keys false: PANTHER's own
 * service network keys (interface, port, host) are also known here and are
 * warned about as not applied.
 */
int netcond_parse(json_t *block, const char *path, bool service_block, const struct netcond_sink *sink,
		  struct netcond *out);

/* The service's conditions: svc's keys over test's. */
void netcond_merge(const struct netcond *test, const struct netcond *svc, struct netcond *out);

/* True when anything is to be applied (a helper is needed for it). */
bool netcond_active(const struct netcond *nc);

/*
 * Parses a tc rate ("10Mbit", "500kbit", "1.5gbit", "100kbps" = bytes/s,
 * "kibit" = 1024) into bit/s. -EINVAL for anything else (no unit, unknown
 * unit, not a number), -ERANGE outside NETCOND_MIN_RATE..NETCOND_MAX_RATE.
 */
int netcond_parse_rate(const char *s, uint64_t *bps);

/* "latency 100 ms, jitter 5 ms, loss 1 %, bandwidth 10 Mbit/s, mtu 1400, ..."
 * or "none". Always NUL-terminated. */
void netcond_describe(const struct netcond *nc, char *out, size_t n);

/* {"latency_ms":100,"bandwidth_bps":10000000,...}: the keys that apply. New reference. */
json_t *netcond_json(const struct netcond *nc);

/* ---- the plan (config.c calls these) ---------------------------------------------- */

struct cfg_service;

/*
 * Completes a planned service: its conditions (test's, then its own), its
 * capture, and what the implementation can add to it, from its
 * implementation.yaml:
 *   keylog: {env: NAME}        with capture: NAME=CONFIG_KEYLOG_FILE joins
 *                              the service's environment (s->keylog);
 *   keylog: {unsupported: why} with capture: a warning at netenv's
 *                              "capture" key (netenv: network_environment);
 *   keys.qlog.<program>: {template: qlog, roles: [...], reason: why}
 *                              qlog: true in a role not listed: a warning,
 *                              and the template's qlog is set false.
 * A reorder without a latency is a warning where it was written. The
 * template context gets qlog_dir (CONFIG_QLOG_DIR) always. node is the
 * service's mapping. Returns 0 or -ENOMEM.
 */
int netcond_plan_service(struct cfg_service *s, json_t *impl, json_t *node, const char *svc_path,
			 const struct netcond *test, const struct netcond *own, bool capture,
			 json_t *netenv, const struct netcond_sink *sink);

/* The helper's own plan entry (name "netem", its image built from
 * <data_dir>/docker/netem like any other), for struct pfs_config.netem. */
struct cfg_service *netcond_helper_new(const char *data_dir);
void netcond_helper_free(struct cfg_service *s);

#endif
