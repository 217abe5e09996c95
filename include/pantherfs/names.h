/* SPDX-License-Identifier: MIT */
/*
 * The names of the files pantherfs shows for a test, in one table that the
 * filesystem (which resolves and lists them) and the engine (which serves
 * their content) share, so that a file cannot exist on one side only.
 *
 *   tests/<test>/<name>                          PFS_AT_TEST
 *   tests/<test>/runs/<n>/<name>                 PFS_AT_RUN
 *   tests/<test>/services/<s>/<name>             PFS_AT_SVC
 *   tests/<test>/runs/<n>/services/<s>/<name>    PFS_AT_RUN_SVC
 *   <name> at the mount's root                   PFS_AT_ROOT
 *
 * Pure data: no locks, nothing to free.
 */
#ifndef PANTHERFS_NAMES_H
#define PANTHERFS_NAMES_H

#include <stdbool.h>

enum pfs_file {
	PFS_F_NONE,
	/* a test's (and a run's) */
	PFS_F_CONFIG,        /* config.yaml: writable at the test level */
	PFS_F_CTL,           /* ctl: verbs */
	PFS_F_STATUS,
	PFS_F_STATUS_JSON,
	PFS_F_ERROR,
	PFS_F_WARNINGS,
	PFS_F_EVENTS,
	PFS_F_EVENTS_FOLLOW,
	PFS_F_BUILD_LOG,
	PFS_F_SERVICES,      /* services/ */
	PFS_F_RUNS,          /* runs/ */
	/* a service's */
	PFS_F_COMMAND,
	PFS_F_SVC_STATUS,
	PFS_F_LOGS,
	PFS_F_LOGS_FOLLOW,
	PFS_F_ADDRESS,
	PFS_F_CONTAINER,
	PFS_F_IMAGE,
	PFS_F_RESULTS,       /* results/: what the program or its wrapper wrote */
	PFS_F_CAPTURE,       /* capture.pcap: the service's packets, as its netem helper captured them */
	PFS_F_KEYLOG,        /* keys.log: the TLS secrets the program exported, for the capture */
	PFS_F_QLOG,          /* qlog/: the program's qlog files */
	/* what runs found (results.h): a run's, a test's, the root's */
	PFS_F_RESULT_JSON,   /* result.json */
	PFS_F_SUMMARY_TSV,   /* summary.tsv: a test's runs; at the root, one row per test */
	PFS_F_SUMMARY_JSON,
	PFS_F_SUMMARY_SVG,
	PFS_F_COUNT
};

/* Where a name appears (a bit set). */
enum {
	PFS_AT_TEST = 1u << 0,
	PFS_AT_RUN = 1u << 1,
	PFS_AT_SVC = 1u << 2,
	PFS_AT_RUN_SVC = 1u << 3,
	PFS_AT_ROOT = 1u << 4,
};

/* What it is. */
enum {
	PFS_N_DIR = 1u << 0,       /* a directory */
	PFS_N_WRITABLE = 1u << 1,  /* written by users (config.yaml, ctl) at the test level */
	PFS_N_FOLLOW = 1u << 2,    /* a stream: blocks for more, ends with the run */
	PFS_N_GROWING = 1u << 3,   /* append-only, served from the state dir up to a published size */
	PFS_N_DISK_DIR = 1u << 4,  /* a directory of the state dir shown as it is (results/) */
	PFS_N_DISK_FILE = 1u << 5, /* a file of the state dir a program writes, shown as it is: its size is
				    * the file's, read while it grows (capture.pcap, keys.log) */
	PFS_N_IF_PRESENT = 1u << 6,/* listed and found only when the state dir has it (what a config asked for) */
};

struct pfs_name {
	const char *name;
	enum pfs_file id;
	unsigned where;
	unsigned flags;
};

/* Every name, in the order directories list them; ends with { NULL }. */
extern const struct pfs_name pfs_names[];

/* The entry for name at where, or NULL. */
const struct pfs_name *pfs_name_lookup(const char *name, unsigned where);
/* The entry of id (never NULL for a valid id). */
const struct pfs_name *pfs_name_of(enum pfs_file id);

#endif
