/* SPDX-License-Identifier: MIT */
/*
 * metrics: numbers read from a service's log by the rules its version config
 * gives (programs.<program>.metrics.<role>; the format is in
 * version_configs/README.md), e.g. tperf's "Received <N> bytes in <D>
 * seconds." as bytes, seconds and bits per second.
 *
 * Two parts:
 *  - rules: parsed and checked once (the catalogue checks every shipped file
 *    at load with mrules_check(), so a bad rule stops pantherfs at start
 *    with its file, line and column), then immutable and shareable between
 *    threads;
 *  - an extraction (struct mx): fed a service's log bytes in chunks of any
 *    size, as they arrive or from the file afterwards, and asked at the end
 *    for every metric's value, or null with the reason. Memory is bounded:
 *    one line (MX_LINE_MAX bytes; a longer line is matched on its first
 *    MX_LINE_MAX bytes) and a few numbers per rule, whatever the log's size.
 *
 * A module of its own, below config: it depends on util, jansson and
 * yamltree only (catalog.c calls it), never on the engine, Docker or FUSE.
 * An extraction is not thread-safe: one thread feeds it (or a lock around
 * it); separate extractions share nothing.
 *
 * Patterns: literal text with placeholders. {name} matches a decimal number
 * (sign, digits, fraction, exponent: "5402.9", "1.23457e+06") and captures
 * it; {message} matches one of the service's messages (the template
 * context's `messages`) as a whole word; {{ and }} are literal braces. A
 * pattern matches anywhere in a line (log prefixes such as glog's
 * "I0822 12:00:00.123 1234 File.cpp:NN] " do not matter); a trailing CR is
 * not part of the line.
 */
#ifndef PANTHERFS_METRICS_H
#define PANTHERFS_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "pantherfs/err.h"
#include "pantherfs/yamltree.h"

#define MX_LINE_MAX (16u << 10)   /* bytes of a line that patterns see */
#define MX_MAX_METRICS 32         /* per role */
#define MX_MAX_SOURCES 4          /* alternatives (from:) per metric */
#define MX_MAX_CAPTURES 8         /* {name} placeholders per pattern */
#define MX_PATTERN_MAX 512        /* bytes */

struct mrules;
struct mx;

/*
 * Checks programs.<p>.metrics of a version config: a mapping of roles
 * (server, client) to rule mappings. doc and file give positions to
 * messages, "version_configs/x/y.yaml:31:17: programs.tperf.metrics.client.
 * throughput: value: \"byte\" is not a placeholder of the line (it has:
 * bytes, seconds)"; doc may be NULL (no position), file NULL ("<rules>").
 * path is the node's path ("programs.tperf.metrics"). 0 or -EINVAL (err
 * filled), -ENOMEM.
 */
int mrules_check(const json_t *metrics, const struct ydoc *doc, const char *file, const char *path,
		 struct pfs_err *err);

/*
 * Parses the rules of one role (programs.<p>.metrics.<role>, a mapping of
 * metric names to rules), with the same checks and messages as
 * mrules_check(). NULL or an absent role gives rules with no metric. On
 * success *out is new (mrules_free it); it keeps no pointer into node.
 */
int mrules_parse(const json_t *role_rules, const struct ydoc *doc, const char *file, const char *path,
		 struct mrules **out, struct pfs_err *err);
void mrules_free(struct mrules *r);

size_t mrules_count(const struct mrules *r);
/* The i-th metric's name and unit, in the order the file writes them. */
const char *mrules_name(const struct mrules *r, size_t i);
const char *mrules_unit(const struct mrules *r, size_t i);

/* How a service ended, for the reasons given with missing values. */
enum mx_how {
	MX_RUNNING,        /* still going: values may come later ("yet") */
	MX_EXITED,         /* exited by itself with exit_code */
	MX_STOPPED,        /* stopped by pantherfs (end of the run, finish_on_lines, ctl stop) */
	MX_NEVER_STARTED,  /* no log at all: values are null, whatever the rule */
};

struct mx_end {
	enum mx_how how;
	int exit_code;      /* MX_EXITED */
	const char *role;   /* "client", "server": "the client exited 1 ..."; NULL: "the service" */
};

/*
 * A new extraction with rules (borrowed: they must outlive it) for one
 * service. ctx is the service's template context (struct cfg_service.ctx):
 * its `messages` stand for {message}, and `setting:` rules read it; it is
 * copied, NULL means none. -ENOMEM.
 */
int mx_new(const struct mrules *rules, const json_t *ctx, struct mx **out);
void mx_free(struct mx *x);

/* Log bytes, in order, in chunks of any size (lines may span chunks). */
void mx_feed(struct mx *x, const char *data, size_t len);

/*
 * Feeds a whole log file (services/<s>/logs) in chunks. A missing file is
 * no input (0). -errno for other read errors.
 */
int mx_feed_file(struct mx *x, const char *path);

/*
 * The metrics so far, as result.json holds them (a new object, in rule
 * order): {"<name>": {"value": <number>, "unit": "<unit>"}} or, when the
 * log did not give it, {"value": null, "unit": ..., "reason": "no line
 * matched \"Overall throughput: {mbps}Mb/s\" (the client exited 134 before
 * printing it)"}. A whole-valued number within +-2^53 is a JSON integer.
 * Once the service has ended (how is not MX_RUNNING) a last line without
 * a newline counts too. Returns NULL on allocation failure. May be called
 * several times (a live result while running, then the final one).
 */
json_t *mx_result(struct mx *x, const struct mx_end *end);

#endif
