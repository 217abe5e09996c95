/* SPDX-License-Identifier: MIT */
/*
 * results: what runs found, as the files users read with cat.
 *
 *   runs/<n>/result.json   one run: verdict and reason, timings, settings,
 *                          per service its exit code and metrics
 *   summary.tsv, summary.json, summary.svg
 *                          a test's runs, a row each, then aggregate rows
 *                          per distinct configuration, and the picture
 *   summary.tsv (root)     one row per test: its last run
 *
 * Everything here is a pure function of its inputs (structs, JSON, the
 * files of a run dir): no engine lock, no Docker call, no FUSE. The same
 * input always gives the same bytes (TSV, JSON and SVG), so a file rebuilt
 * after a restart is the file users saw before. Callers run these on a
 * thread that may block on the disk (results_from_run_dir reads files),
 * never in a FUSE callback, and serve the outputs from memory.
 *
 * Numbers: JSON holds whole values within +-2^53 as integers, others with
 * 15 significant digits; TSV writes numbers with printf's "%.15g". Both
 * rely on the C numeric locale, which pantherfs never changes.
 *
 * Errors: 0 or -errno; where users need the reason a `struct pfs_err` says
 * it (nothing is logged here).
 */
#ifndef PANTHERFS_RESULTS_H
#define PANTHERFS_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pantherfs/buf.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/err.h"
#include "pantherfs/metrics.h"

#define RESULTS_MAX_RUNS 100000   /* result.json objects a summary takes */
#define RESULTS_TEXT_CAP (64u << 20)  /* a summary's text or picture */

/* ---- result.json -------------------------------------------------------------------------- */

/*
 * Timings are milliseconds after the run was queued (written), -1 when the
 * moment never came (an image that failed, a service that never started).
 */
struct res_service {
	const char *name;
	const char *role;              /* "server" | "client" */
	const char *implementation, *version, *program;
	int64_t started_ms, ready_ms, finished_ms;
	int exit_code;                 /* -1: none (still running, never started) */
	bool stopped;                  /* pantherfs stopped it (exit_code is then the stop's) */
	json_t *metrics;               /* borrowed: mx_result()'s object; NULL: {} */
};

struct res_run {
	const char *test;
	int run;                       /* runs/<n> */
	int iteration, iterations;     /* iteration i of N; 0 means 1 of 1 */
	const char *verdict;           /* succeeded | failed | stopped | error | unsupported (or a live state) */
	const char *reason;
	int64_t queued_wall_ms;        /* when the run was queued, ms since the epoch (UTC) */
	int64_t image_ms;              /* every image ready */
	int64_t network_ms;            /* the test network created */
	int64_t client_finished_ms;    /* the last client finished */
	int64_t end_ms;                /* the run ended */
	json_t *settings;              /* borrowed: results_settings(); NULL: {} */
	const struct res_service *svc;
	size_t n_svc;
};

/*
 * The result.json object of a run:
 *   {"test", "run", "iteration", "iterations", "verdict", "reason",
 *    "time" (ISO 8601 UTC, when queued),
 *    "timings_ms": {"queued": 0, "image", "network", "client_finished", "end"},
 *    "settings": {...},
 *    "services": {"<name>": {"role", "implementation", "version", "program",
 *        "exit_code", "stopped", "timings_ms": {"started", "ready", "finished"},
 *        "metrics": {...}}}}
 * Unknown timings and exit codes are null. -EINVAL for a run without a test
 * name or a service without a name, -ENOMEM.
 */
int results_compose(const struct res_run *run, json_t **out);

/* result.json's text: 2-space indents, keys in order, a final newline. Appends to out. */
int results_text(const json_t *result, struct pfs_buf *out);

/*
 * A run's configuration as flat settings, the columns summaries compare:
 * "<service>.implementation", ".version", ".program", and every key of the
 * service's config block with dots ("client.congestion_control",
 * "client.transport_params.max_idle_timeout"; lists stay lists), plus
 * "execution_environment" ("strace,gdb") when there is one. Network
 * conditions come from results_settings_add_yaml(). NULL on allocation
 * failure.
 */
json_t *results_settings(const struct pfs_config *cfg);

/*
 * Adds to settings what the config text says that struct pfs_config does
 * not keep: network_environment's keys other than type as "network.<key>"
 * and each service's network block as "<service>.network.<key>" (network
 * conditions: latency, packet_loss, ...). The text was accepted before, so
 * a parse failure adds nothing (0). -ENOMEM.
 */
int results_settings_add_yaml(json_t *settings, const char *config_text, size_t len);

/*
 * The metric rules of a planned service (its version config's
 * programs.<program>.metrics.<role>); rules with no metric when there are
 * none. *out is new: mrules_free() it. -ENOMEM, -EINVAL (a catalogue that
 * was not checked; err says why).
 */
int results_service_rules(const struct cfg_service *s, struct mrules **out, struct pfs_err *err);

/*
 * result.json of a run from its dir in the state dir: config.yaml (planned
 * with cat), run.json (when queued), events (timings, exit codes, stops,
 * verdict, and the iteration that run.started carries as data.iteration
 * and data.iterations), services/<s>/logs (metrics). A run still going
 * gets its state as verdict and metrics "yet" to come. The metric rules are
 * the catalogue's as loaded now: a version config whose rules changed
 * gives the new reading of the same logs. -ENOENT (no
 * config.yaml), -EINVAL (a config the catalogue no longer accepts; err
 * says why), -ENOMEM, -EIO.
 */
int results_from_run_dir(const struct catalog *cat, const char *run_dir, const char *test, int run,
			 json_t **out, struct pfs_err *err);

/* ---- summaries ------------------------------------------------------------------------------ */

struct summary;

/*
 * Builds a test's summary from its runs' result.json objects (borrowed
 * during the call; any order: rows follow run numbers). A configuration is
 * the set of settings; configurations are numbered 1, 2, ... in the order
 * their first run appears. Aggregates count every run of a configuration
 * and take each metric over the runs that have it (null values are left
 * out): count, pass rate (runs that succeeded / runs), min, median (the
 * mean of the middle two for an even count), mean, max, and the sample
 * standard deviation (n - 1; empty below 2 values). -EINVAL (err names the
 * entry: not an object, no run number, a run number twice), -E2BIG (more
 * than RESULTS_MAX_RUNS), -ENOMEM.
 */
int summary_build(const char *test, json_t *const *results, size_t n, struct summary **out,
		  struct pfs_err *err);
void summary_free(struct summary *s);

size_t summary_n_runs(const struct summary *s);
size_t summary_n_configs(const struct summary *s);

/*
 * summary.tsv, appended to out. Header, then a "run" row per run, then per
 * configuration the rows "count", "pass_rate", "min", "median", "mean",
 * "max", "stddev". Columns:
 *   kind run iteration time config <s>.implementation <s>.version ...
 *   <varied settings> verdict <s>.<metric>[<unit>] ...
 * Settings appear as columns only when their values differ between runs.
 * In aggregate rows, verdict holds the run count ("count") and the pass
 * rate ("pass_rate"), the metric columns the statistic (count: values
 * present). A field never holds a raw control character: tab, newline, CR
 * and backslash are written \t \n \r \\, others \xNN (C1: \u00NN).
 */
int summary_tsv(const struct summary *s, struct pfs_buf *out);

/* summary.json: {"test", "columns", "runs": [...], "configs": [...]}; NULL on allocation failure. */
json_t *summary_json(const struct summary *s);

/*
 * summary.svg, appended to out: one panel per metric column, its runs as
 * points (filled: succeeded, hollow: not), grouped by configuration (c1,
 * c2, ... with a legend of their varied settings), y from 0 (or the
 * lowest value below 0) to a round value above the highest, labelled with
 * SI prefixes (5G, 250k). Drawn with GNU plotutils' libplot. -E2BIG past
 * out's cap, -EIO when libplot fails (err says so), -ENOMEM.
 */
int summary_svg(const struct summary *s, struct pfs_buf *out, struct pfs_err *err);

/*
 * The mount root's summary.tsv from each test's last result.json (borrowed;
 * sorted by test name): "test run iteration time verdict reason services
 * metrics", services as "server=mvfst/rfc9000, client=mvfst/rfc9000" and
 * metrics as "client.throughput=5665478656 bit/s, ..." (null ones left
 * out). Entries that are not objects are skipped. Appends to out.
 */
int summary_root_tsv(json_t *const *last, size_t n, struct pfs_buf *out);

#endif
