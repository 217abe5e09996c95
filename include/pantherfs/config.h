/* SPDX-License-Identifier: MIT */
/*
 * Test configurations: a PANTHER experiment document holding exactly one
 * test, or that test's mapping alone, checked against PANTHER's schema and
 * the catalogue, and turned into a plan the orchestrator can run.
 *
 * config_load() reports EVERY problem at once, one line each, in the form
 *   config.yaml:14:9: services.client.protocol.target: no service named "srv"
 * Paths are relative to the test (experiment-level keys keep their own
 * path: docker.no_docker_cache). Keys PANTHER defines that pantherfs cannot
 * apply are accepted and reported as warnings in the same form
 *   config.yaml:22:11: services.s.config.max_streams_bidi: not applied: <why>
 * and decisions worth knowing (which program a service runs, and why) as
 * notes. Nothing is silently ignored.
 *
 * A loaded config is immutable and self-contained (it keeps no pointer into
 * the input); it borrows cat_version pointers from the catalogue, which must
 * outlive it.
 */
#ifndef PANTHERFS_CONFIG_H
#define PANTHERFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "pantherfs/catalog.h"
#include "pantherfs/netcond.h"

#define CONFIG_MAX_BYTES (1u << 20)
#define CONFIG_MAX_SERVICES 64
#define CONFIG_DEFAULT_TIMEOUT 60
#define CONFIG_MAX_ITERATIONS 10000

/* Inside every container: where generated certificates and results are mounted. */
#define CONFIG_CERTS_DIR "/pantherfs/certs"
#define CONFIG_RESULTS_DIR "/pantherfs/results"
/* Where a service writes qlog files and TLS secrets (bind mounts of
 * runs/<n>/services/<s>/qlog/ and .../keys.log; see netem.h). */
#define CONFIG_QLOG_DIR "/pantherfs/qlog"
#define CONFIG_KEYLOG_FILE "/pantherfs/keys.log"
/* Interop test cases (testcase.h): the run's files, read-only in servers,
 * and where a client puts what it fetched (runs/<n>/www/ and
 * runs/<n>/services/<s>/downloads/). */
#define CONFIG_WWW_DIR "/pantherfs/www"
#define CONFIG_DOWNLOADS_DIR "/pantherfs/downloads"

struct cfg_report {
	char **errors;    /* each a full line without newline */
	size_t n_errors;
	char **warnings;
	size_t n_warnings;
	char **notes;
	size_t n_notes;
};

void cfg_report_release(struct cfg_report *r);

/*
 * A report's lines (its errors or its warnings) as the text of a file
 * (`error`, `warnings`): each line with its newline, as many as fit in cap
 * bytes, then "... and N more\n" when the others do not; with that line
 * the text stays within cap (cap >= CFG_TEXT_MIN_CAP). The first lines are
 * the ones kept: they are where a user starts fixing. malloc'd, NULL on
 * allocation failure.
 */
#define CFG_TEXT_MIN_CAP 64
char *cfg_report_text(char *const *lines, size_t n, size_t cap);

/*
 * The same lines for one event, bounded however many there are:
 * {"<key>": [the first CFG_EVENT_MAX_LINES], "count": n}, plus, when some
 * were left out, "more": "<n - shown> more in the file <file>". A new
 * reference, NULL on allocation failure.
 */
#define CFG_EVENT_MAX_LINES 20
json_t *cfg_report_event(char *const *lines, size_t n, const char *key, const char *file);

enum cfg_role {
	CFG_SERVER,
	CFG_CLIENT,
};

/* How a client's success is judged (servers: by not dying before the end). */
struct cfg_success {
	bool exit_code;         /* must exit 0 */
	char **lines;           /* NULL-terminated; each must appear in its log */
	bool finish_on_lines;   /* when all lines appeared the client is done: stop it */
};

/* Where a service's image comes from. */
struct cfg_image {
	bool prebuilt;          /* run `ref` as is (docker_image, build_from_source: false) */
	char *ref;              /* prebuilt: the user's image; else NULL */
	char *context_dir;      /* <data dir>/docker/<implementation> */
	char *dockerfile;       /* relative to context_dir */
	char **args;            /* build args: k, v, k, v, ..., NULL (pinned commits among them) */
	char *repo;             /* "pantherfs/mvfst" */
	char *tag_prefix;       /* "rfc9000": the engine appends the context hash */
};

struct cfg_service {
	char *name;
	enum cfg_role role;
	const struct cat_version *version;
	char *implementation;   /* "mvfst" */
	char *version_name;     /* "rfc9000" */
	char *program;          /* "echo" */
	char *program_path;     /* "/opt/mvfst/bin/echo" */
	char *template;         /* "mvfst/echo.jinja" */
	char *target;           /* clients: the server service; else NULL */
	long port;              /* servers: the port they listen on; clients: the target's */
	long timeout_s;
	char **env;             /* "K=V", NULL-terminated */
	/* A key pair generated for each run, mounted read-only at cert_path and
	 * key_path: the files the config names (certificate_file,
	 * private_key_file: the container has none, pantherfs mounts no
	 * volumes), else CONFIG_CERTS_DIR/{cert,key}.pem. NULL when !gen_certs. */
	bool gen_certs;
	char *cert_path;
	char *key_path;
	struct cfg_image image;
	struct cfg_success success;
	/* The template context, without the target's address and the wrapper
	 * (render.c adds both). Owned. */
	json_t *ctx;
	int line, col;          /* where the service is defined in the file */
	/* The network it sees (netcond.h): a netem helper applies these before
	 * the service starts, when netcond_active() or capture. */
	struct netcond net;     /* network_environment.network, then its own network block */
	bool capture;           /* capture.pcap (network_environment.capture) */
	bool keylog;            /* keys.log: env holds the program's key log variable */
	bool qlog;              /* qlog/: the command writes qlog to CONFIG_QLOG_DIR */
	/* Where a Swarm runs it (placement:); one engine runs every service itself. */
	char *node;             /* placement.node (or placement: <node>): that node's hostname, or NULL */
	char **constraints;     /* placement.constraints: Swarm constraints as written, NULL-terminated */
	char **apart_from;      /* placement.apart_from: services that start before it, NULL-terminated */
	int placement_line, placement_col;   /* the placement key; 0 when there is none */
};

struct pfs_config {
	char *name;             /* the test's name: field, or NULL */
	char *description;
	long timeout_s;         /* the run's bound: test timeout, else the largest service timeout */
	long iterations;        /* iterations: runs of this config back to back (1-CONFIG_MAX_ITERATIONS) */
	bool force_build;       /* docker.force_build_docker_image and friends */
	bool no_cache;
	char **exec_envs;       /* execution environments in order: "strace", "gdb", ... */
	struct cfg_service *svc;
	size_t n_svc;
	size_t n_clients;
	json_t *summary;        /* the whole plan as JSON, for status.json */
	struct netcond net;     /* network_environment.network as written */
	bool capture;           /* network_environment.capture */
	/* The netem helper's image (name and image only), when some service needs
	 * a helper; else NULL. Built like a service's image (image.h). */
	struct cfg_service *netem;
	/* testcase: an enum tc_id (testcase.h), -1 without one. Servers serve
	 * its files, clients fetch them and are judged by them. */
	int testcase;
	/* Why a client-server pair of this test cannot run its case (the run
	 * then ends `unsupported` without building anything); NULL: all can. */
	char *unsupported;
};

/*
 * Parses and checks a configuration. On success *out is the plan and rep may
 * hold warnings and notes. On failure returns -EINVAL (or -EFBIG past
 * CONFIG_MAX_BYTES), *out is untouched and rep->errors says why, each with
 * its line and column. rep is always filled; release it with cfg_report_release().
 */
int config_load(const struct catalog *cat, const char *name, const char *data, size_t len,
		struct pfs_config **out, struct cfg_report *rep);
void config_free(struct pfs_config *c);

const struct cfg_service *config_find_service(const struct pfs_config *c, const char *name);

#endif
