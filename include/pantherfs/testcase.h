/* SPDX-License-Identifier: MIT */
/*
 * Interop test cases, after the QUIC interop runner's: one test-level key
 * (`testcase: transfer`) sets both ends of every client-server pair of a
 * test. A case is files the server serves and the client fetches over one
 * or two connections, and what the client's log must show about those
 * connections:
 *
 *   handshake     H  1 file of 1 KiB, 1 connection
 *   transfer      D  2, 3 and 5 MiB, 1 connection
 *   multiplexing  M  1999 files of 32 bytes, 1 connection (more streams than
 *                    a server lets open at once)
 *   http3         3  5 KiB, 10 KiB, 500 KiB over HTTP/3 (h3 or nothing)
 *   resumption    R  5 KiB then 10 KiB, 2 connections, the second resumed
 *   zerortt       Z  40 files of 32 bytes: the first, then 39 in 0-RTT
 *   retry         S  10 KiB, 1 connection, after a Retry from the server
 *
 * ALPN: the cases the runner runs over HTTP/0.9 prefer hq-interop, and take
 * h3 when one end speaks h3 only (Debian's ngtcp2 programs); http3 needs h3.
 *
 * Who does what:
 *  - the version configs say which program runs which case in which role,
 *    and which ALPNs it speaks (programs.<p>.testcases, version_configs/
 *    README.md); the catalogue checks that block with tc_check_program();
 *  - config.c plans a pair with tc_pair() (an ALPN, or why the pair cannot
 *    run the case: the run then ends `unsupported`) and hands templates
 *    tc_context();
 *  - the engine writes the case's files with random content per run
 *    (tc_make_files(), under the run dir, mounted read-only at
 *    CONFIG_WWW_DIR in servers) and, when a client exits, judges it
 *    (tc_judge(): every file byte for byte against what it downloaded into
 *    CONFIG_DOWNLOADS_DIR, and the lines of its log that its version
 *    config's testcases.evidence patterns count: TC_EVIDENCE_*).
 *
 * Pure table and file work: no lock, no Docker, no FUSE. tc_make_files and
 * tc_judge read and write files: call them from an engine thread, never
 * from a FUSE callback.
 */
#ifndef PANTHERFS_TESTCASE_H
#define PANTHERFS_TESTCASE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "pantherfs/err.h"

enum tc_id {
	TC_HANDSHAKE,
	TC_TRANSFER,
	TC_MULTIPLEXING,
	TC_HTTP3,
	TC_RESUMPTION,
	TC_ZERORTT,
	TC_RETRY,
	TC_COUNT
};

/*
 * What a client's log must show (programs.<p>.testcases.evidence of a
 * version config: a pattern per name, metrics.h's pattern text, counted
 * over the log): handshakes completed, of them resumed, of them with 0-RTT
 * accepted, Retry packets received. A program runs a case as a client only
 * if it has the patterns the case needs (tc_check_program).
 */
#define TC_EVIDENCE_HANDSHAKES "handshakes"
#define TC_EVIDENCE_RESUMED "resumed"
#define TC_EVIDENCE_ZERORTT "zerortt"
#define TC_EVIDENCE_RETRIES "retries"

/* The id of a case name; -1 when unknown. */
int tc_parse(const char *name);
const char *tc_name(enum tc_id id);
/* The interop runner's letter for it (H D M 3 R Z S). */
char tc_letter(enum tc_id id);
/* "handshake, transfer, ...": for messages. */
const char *tc_names(void);

/* Files, named "<case>-<k>" for k in 1..tc_n_files (no name starts with a digit or "/"). */
size_t tc_n_files(enum tc_id id);
size_t tc_file_size(enum tc_id id, size_t k);
/* 1 or 2; the second connection fetches every file but the first. */
int tc_connections(enum tc_id id);

/*
 * Checks programs.<p>.testcases of a version config:
 *   {alpns: [..], server: [cases], client: [cases], required: bool,
 *    evidence: {<name>: <pattern>}, why_not: {<case>: {roles: [..], reason: text}}}
 * roles the program has, known case names, an ALPN for each case it lists
 * (http3 needs h3), the evidence each client case needs, and the patterns
 * as metrics.h checks them. prog is programs.<p>. 0, or -EINVAL with why
 * (no position: the caller adds it).
 */
int tc_check_program(json_t *prog, char *why, size_t n);

/*
 * The evidence patterns of a program as count rules (metrics.h), for an
 * extraction over its client's log. *out is new (mrules_free). -EINVAL
 * (err says why: a catalogue that was not checked), -ENOMEM.
 */
struct mrules;
int tc_evidence_rules(json_t *prog, struct mrules **out, struct pfs_err *err);

/* Whether the program runs any case in that role ("server", "client"). */
bool tc_program_runs(json_t *prog, const char *role);
/* testcases.required: the program does nothing useful without a case. */
bool tc_program_requires(json_t *prog);

/*
 * A pair for a case: the ALPN both ends speak that the case takes (its
 * preferred one first), or why they cannot run it. server and client are
 * programs.<p> of each end's version, NULL when its version has no program
 * that runs test cases in that role; sname and cname say who they are in
 * the reason ("hq of mvfst rfc9000", or "mvfst draft29" for NULL).
 * Returns the ALPN (a static string), or NULL with why filled.
 */
const char *tc_pair(enum tc_id id, json_t *server, const char *sname, json_t *client, const char *cname,
		    char *why, size_t n);

/*
 * The template context's `testcase` for a service of a run of this case:
 *   {name, alpn, role, www (servers: where the files are), downloads
 *    (clients: where they go), prefix ("<case>-"), files (the count),
 *    connections: [{first, last}, ...] (file numbers fetched by each),
 *    retry (servers: send a Retry to every new connection), resume and
 *    early_data (clients: keep the session for the second connection, and
 *    send its requests in 0-RTT)}.
 * alpn may be NULL for a pair that cannot run it (then the case's own). A
 * new reference; NULL on allocation failure.
 */
json_t *tc_context(enum tc_id id, const char *alpn, bool server);

/*
 * Writes the case's files into dir (made when missing, 0700), content
 * from getrandom(): a run's files differ from every other run's. -errno with
 * err.
 */
int tc_make_files(enum tc_id id, const char *dir, struct pfs_err *err);

/*
 * Judges a client that exited 0: every file of www byte for byte against
 * the one of that name in downloads, then the counts evidence gives
 * (mx_result()'s object for tc_evidence_rules()) against what the case
 * needs. *ok and
 * a reason for status and events: "3 files identical, 1 handshake" or
 * "transfer-2: 1048576 of 3145728 bytes arrived". 0, or -errno when a file
 * of www cannot be read (why says so; *ok is false).
 */
int tc_judge(enum tc_id id, const char *www, const char *downloads, const json_t *evidence, bool *ok,
	     char *why, size_t n);

#endif
