/* SPDX-License-Identifier: MIT */
/*
 * Interop matrices: servers x clients x test cases, one test per cell, after
 * the QUIC interop runner's result tables.
 *
 * The file (matrices/<m>/matrix.yaml through the mount):
 *
 *   servers:                        # name: a service's block without protocol
 *     ngtcp2: {implementation: {name: ngtcp2}}
 *     mvfst: {implementation: {name: mvfst, version: rfc9000}}
 *   clients:
 *     ngtcp2: {implementation: {name: ngtcp2}}
 *     mvfst: {implementation: {name: mvfst, version: rfc9000}, config: {qlog: true}}
 *   testcases: [handshake, transfer]   # the cases, in columns (default: all)
 *   timeout: 60                     # each cell's test timeout (default 60 s)
 *   parallel: 1                     # cells run at once (1-8, default 1)
 *   description: text
 *
 * Each cell is a test named "<m>.<server>.<client>.<case>" (pfs_name_valid,
 * so at most 64 characters) whose config.yaml is generated: the server
 * entry with protocol {role: server}, the client entry with {role: client,
 * target: server}, and `testcase`. Every cell's config is checked here with
 * config_load(): a matrix is refused whole when any cell would be, its
 * problems shown at the entry they come from ("matrix.yaml:4:5:
 * servers.mvfst: services.server.config.x: unknown key ...", each once).
 *
 * The tables are pure functions of the plan and each cell's state, so the
 * engine can rebuild them whenever a cell changes and serve them from
 * memory:
 *   matrix.tsv   a header, then a row per cell (in file order: servers,
 *                then clients, then cases): server client testcase test
 *                run verdict reason (tabs and newlines of a reason escaped)
 *   matrix.txt   the readable table: a line per server-client pair and a
 *                column per case holding its verdict word, then the counts.
 *
 * Owns everything it returns; no lock, no Docker, no FUSE.
 */
#ifndef PANTHERFS_MATRIX_H
#define PANTHERFS_MATRIX_H

#include <stdbool.h>
#include <stddef.h>

#include "pantherfs/buf.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"

#define MATRIX_MAX_ENTRIES 16       /* servers, and clients */
#define MATRIX_MAX_PARALLEL 8
#define MATRIX_DEFAULT_TIMEOUT 60

struct matrix_cell {
	char *test;          /* "<m>.<server>.<client>.<case>" */
	const char *server;  /* borrowed from the plan's servers */
	const char *client;
	int testcase;        /* enum tc_id */
	char *config;        /* the cell's config.yaml */
	size_t config_len;
	bool unsupported;    /* the pair cannot run the case: its run ends unsupported */
};

struct matrix_plan {
	char *name;
	char *description;   /* or NULL */
	char **servers, **clients;
	size_t n_servers, n_clients;
	int cases[16];       /* enum tc_id, in column order */
	size_t n_cases;
	long timeout_s, parallel;
	struct matrix_cell *cells;  /* n_servers * n_clients * n_cases, server-major */
	size_t n_cells;
};

/*
 * Parses and checks a matrix file for the matrix `name` (whose cells are
 * named after it). file is the name used in messages ("matrix.yaml").
 * Returns 0 with *out, or -EINVAL (-EFBIG past CONFIG_MAX_BYTES) with
 * rep->errors (positions as config_load's); rep is always filled
 * (release it with cfg_report_release). Notes say how many cells and which are unsupported.
 */
int matrix_load(const struct catalog *cat, const char *name, const char *file, const char *data, size_t len,
		struct matrix_plan **out, struct cfg_report *rep);
void matrix_plan_free(struct matrix_plan *p);

/* What the engine knows of a cell: its run and its status line (NULL: not started yet). */
struct matrix_state {
	int run;             /* 0: not started */
	const char *status;  /* "succeeded testcase transfer: ...", "running 2/2 services"; NULL: queued */
};

/* matrix.tsv and matrix.txt of the plan with one state per cell, appended to out. -ENOMEM, -E2BIG. */
int matrix_tsv(const struct matrix_plan *p, const struct matrix_state *st, struct pfs_buf *out);
int matrix_table(const struct matrix_plan *p, const struct matrix_state *st, struct pfs_buf *out);

/* The first word of a cell's status ("queued" when not started). */
void matrix_state_word(const struct matrix_state *st, char *out, size_t n);

#endif
