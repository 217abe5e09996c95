/* SPDX-License-Identifier: MIT */
/*
 * The table behind names.h. Listing order: the files users look at first,
 * then the directories.
 */
#include <stddef.h>
#include <string.h>

#include "pantherfs/names.h"
#include "pantherfs/banned.h"

#define T PFS_AT_TEST
#define R PFS_AT_RUN
#define S PFS_AT_SVC
#define RS PFS_AT_RUN_SVC
#define ROOT PFS_AT_ROOT

const struct pfs_name pfs_names[] = {
	{ "config.yaml", PFS_F_CONFIG, T | R, PFS_N_WRITABLE },
	{ "ctl", PFS_F_CTL, T, PFS_N_WRITABLE },
	{ "status", PFS_F_STATUS, T | R, 0 },
	{ "status.json", PFS_F_STATUS_JSON, T | R, 0 },
	{ "error", PFS_F_ERROR, T, 0 },
	{ "warnings", PFS_F_WARNINGS, T, 0 },
	{ "result.json", PFS_F_RESULT_JSON, T | R, 0 },
	{ "summary.tsv", PFS_F_SUMMARY_TSV, T | ROOT, 0 },
	{ "summary.json", PFS_F_SUMMARY_JSON, T, 0 },
	{ "summary.svg", PFS_F_SUMMARY_SVG, T, 0 },
	{ "events", PFS_F_EVENTS, T | R, PFS_N_GROWING },
	{ "events.follow", PFS_F_EVENTS_FOLLOW, T, PFS_N_FOLLOW },
	{ "build.log", PFS_F_BUILD_LOG, T | R, PFS_N_GROWING },
	{ "services", PFS_F_SERVICES, T | R, PFS_N_DIR },
	{ "runs", PFS_F_RUNS, T, PFS_N_DIR },
	{ "command", PFS_F_COMMAND, S | RS, 0 },
	{ "status", PFS_F_SVC_STATUS, S | RS, 0 },
	{ "logs", PFS_F_LOGS, S | RS, PFS_N_GROWING },
	{ "logs.follow", PFS_F_LOGS_FOLLOW, S, PFS_N_FOLLOW },
	{ "address", PFS_F_ADDRESS, S | RS, 0 },
	{ "container", PFS_F_CONTAINER, S | RS, 0 },
	{ "image", PFS_F_IMAGE, S | RS, 0 },
	{ "capture.pcap", PFS_F_CAPTURE, S | RS, PFS_N_DISK_FILE | PFS_N_IF_PRESENT },
	{ "keys.log", PFS_F_KEYLOG, S | RS, PFS_N_DISK_FILE | PFS_N_IF_PRESENT },
	{ "results", PFS_F_RESULTS, S | RS, PFS_N_DIR | PFS_N_DISK_DIR },
	{ "qlog", PFS_F_QLOG, S | RS, PFS_N_DIR | PFS_N_DISK_DIR | PFS_N_IF_PRESENT },
	{ NULL, PFS_F_NONE, 0, 0 },
};

const struct pfs_name *pfs_name_lookup(const char *name, unsigned where)
{
	for (const struct pfs_name *n = pfs_names; n->name; n++)
		if ((n->where & where) && !strcmp(n->name, name))
			return n;
	return NULL;
}

const struct pfs_name *pfs_name_of(enum pfs_file id)
{
	for (const struct pfs_name *n = pfs_names; n->name; n++)
		if (n->id == id)
			return n;
	return NULL;
}
