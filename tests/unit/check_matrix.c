/* SPDX-License-Identifier: MIT */
/*
 * Matrix files (src/config/matrix.c) with the shipped catalogue: the
 * expansion into cells (their names, order and configs, each a config the
 * cell's test accepts), the problems of a matrix at their entries (once
 * each, however many cells share them), unsupported cells, and the tables
 * (matrix.tsv, matrix.txt) from cell states, compared whole.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfs_check.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/matrix.h"
#include "pantherfs/testcase.h"
#include "pantherfs/util.h"

static struct catalog *cat;

static void setup(void)
{
	struct pfs_err err = { 0 };
	const char *src = getenv("PFS_SOURCE_DIR");

	ck_assert_msg(catalog_load(src ? src : ".", &cat, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	catalog_free(cat);
}

static const char two_by_one[] =
	"description: ngtcp2 and draft29 servers\n"
	"servers:\n"
	"  ngtcp2: {implementation: {name: ngtcp2}, config: {congestion_control: bbr}}\n"
	"  draft29: {implementation: {name: mvfst, version: draft29}}\n"
	"clients:\n"
	"  ng: {implementation: {name: ngtcp2}}\n"
	"testcases: [retry, handshake]\n"
	"timeout: 30\n"
	"parallel: 2\n";

static struct matrix_plan *load(const char *name, const char *text, struct cfg_report *rep, int want)
{
	struct matrix_plan *p = NULL;
	int r = matrix_load(cat, name, "matrix.yaml", text, strlen(text), &p, rep);

	ck_assert_msg(r == want, "%d: %s", r, rep->n_errors ? rep->errors[0] : "no error");
	return p;
}

static bool has_line(char **lines, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(lines[i], want))
			return true;
	return false;
}

START_TEST(cells_of_a_matrix)
{
	struct cfg_report rep, crep;
	struct matrix_plan *p = load("m1", two_by_one, &rep, 0);
	struct pfs_config *cfg = NULL;
	char *flags;

	ck_assert_uint_eq(p->n_cells, 4);
	ck_assert_str_eq(p->description, "ngtcp2 and draft29 servers");
	ck_assert_int_eq(p->timeout_s, 30);
	ck_assert_int_eq(p->parallel, 2);
	/* server-major, then clients, then the cases in the file's order */
	ck_assert_str_eq(p->cells[0].test, "m1.ngtcp2.ng.retry");
	ck_assert_str_eq(p->cells[1].test, "m1.ngtcp2.ng.handshake");
	ck_assert_str_eq(p->cells[2].test, "m1.draft29.ng.retry");
	ck_assert_str_eq(p->cells[3].test, "m1.draft29.ng.handshake");
	ck_assert_int_eq(p->cells[0].testcase, TC_RETRY);
	ck_assert(!p->cells[0].unsupported);
	ck_assert(p->cells[3].unsupported);
	ck_assert(has_line(rep.notes, rep.n_notes, "cell m1.draft29.ng.handshake: unsupported: mvfst draft29 has no "
			   "program that runs the interop test cases as a server"));
	ck_assert(has_line(rep.notes, rep.n_notes, "matrix m1: 4 cells (2 servers x 1 client x 2 test cases), "
			   "2 unsupported, run 2 at a time"));
	/* each cell's config is one its test accepts, with the entries as written */
	ck_assert_int_eq(config_load(cat, "config.yaml", p->cells[0].config, p->cells[0].config_len, &cfg, &crep), 0);
	ck_assert_int_eq(cfg->testcase, TC_RETRY);
	ck_assert_int_eq(cfg->timeout_s, 30);
	ck_assert_str_eq(cfg->name, "m1: ngtcp2 x ng: retry");
	ck_assert_str_eq(config_find_service(cfg, "server")->program, "gtlsserver");
	ck_assert_str_eq(config_find_service(cfg, "client")->target, "server");
	flags = json_dumps(json_object_get(config_find_service(cfg, "server")->ctx, "flags"), JSON_COMPACT);
	ck_assert_str_eq(flags, "[{\"name\":\"cc\",\"value\":\"bbr\"}]");
	free(flags);
	ck_assert_ptr_nonnull(strstr(p->cells[0].config, "# A cell of the matrix m1"));
	config_free(cfg);
	cfg_report_release(&crep);
	matrix_plan_free(p);
	cfg_report_release(&rep);
}
END_TEST

START_TEST(every_case_by_default)
{
	struct cfg_report rep;
	struct matrix_plan *p = load("all", "servers: {s: {implementation: {name: ngtcp2}}}\n"
				     "clients: {c: {implementation: {name: ngtcp2}}}\n", &rep, 0);

	ck_assert_uint_eq(p->n_cases, TC_COUNT);
	ck_assert_uint_eq(p->n_cells, TC_COUNT);
	ck_assert_int_eq(p->timeout_s, MATRIX_DEFAULT_TIMEOUT);
	ck_assert_int_eq(p->parallel, 1);
	for (int i = 0; i < TC_COUNT; i++)
		ck_assert_int_eq(p->cells[i].testcase, i);
	matrix_plan_free(p);
	cfg_report_release(&rep);
}
END_TEST

START_TEST(problems_at_their_entries)
{
	struct cfg_report rep;

	/* a bad key of one entry, shared by every cell of it: said once, at the entry */
	load("m", "servers:\n  a: {implementation: {name: ngtcp2}, config: {bogus: 1}}\n"
	     "clients:\n  b: {implementation: {name: ngtcp2}}\n  c: {implementation: {name: ngtcp2}}\n", &rep, -EINVAL);
	ck_assert_uint_eq(rep.n_errors, 1);
	ck_assert_str_eq(rep.errors[0], "matrix.yaml:2:3: servers.a.config.bogus: unknown key for ngtcp2 rfc9000 (its "
			 "keys are listed in implementations/ngtcp2/, and any flag of gtlsserver)");
	cfg_report_release(&rep);

	load("m", "servers: {a: {implementation: {name: ngtcp2}}}\n"
	     "clients: {b: {implementation: {name: nope}}}\ntestcases: [handshake]\n", &rep, -EINVAL);
	ck_assert_uint_eq(rep.n_errors, 1);
	ck_assert_ptr_nonnull(strstr(rep.errors[0], "matrix.yaml:2:11: clients.b.implementation.name: unknown "
				     "implementation \"nope\""));
	cfg_report_release(&rep);

	load("m", "servers: [a]\nclients: {b: {protocol: {role: client}, implementation: {name: ngtcp2}}}\n"
	     "testcases: [handshake, handshake, x]\ntimeout: 0\nparallel: 9\nwho: me\n", &rep, -EINVAL);
	ck_assert(has_line(rep.errors, rep.n_errors, "matrix.yaml:1:10: servers: must map 1 to 16 names to services "
			   "(a list)"));
	ck_assert(has_line(rep.errors, rep.n_errors, "matrix.yaml:2:15: clients.b: protocol: the matrix sets it (the "
			   "role of the clients, and each client's target)"));
	ck_assert(has_line(rep.errors, rep.n_errors, "matrix.yaml:3:24: testcases[1]: listed twice"));
	ck_assert(has_line(rep.errors, rep.n_errors, "matrix.yaml:3:35: testcases[2]: not a test case (known: "
			   "handshake, transfer, multiplexing, http3, resumption, zerortt, retry)"));
	ck_assert(has_line(rep.errors, rep.n_errors, "matrix.yaml:4:10: timeout: must be a whole number from 1 to 604800"));
	ck_assert(has_line(rep.errors, rep.n_errors, "matrix.yaml:5:11: parallel: must be a whole number from 1 to 8"));
	ck_assert(has_line(rep.errors, rep.n_errors, "matrix.yaml:6:1: who: unknown key (known here: servers, clients, "
			   "testcases, timeout, parallel, description)"));
	cfg_report_release(&rep);

	/* a cell's test name is a test name: 64 characters at most */
	load("a-rather-long-matrix-name", "servers: {a-long-server-name: {implementation: {name: ngtcp2}}}\n"
	     "clients: {a-long-client-name: {implementation: {name: ngtcp2}}}\ntestcases: [multiplexing]\n",
	     &rep, -EINVAL);
	ck_assert_uint_eq(rep.n_errors, 1);
	ck_assert_str_eq(rep.errors[0], "matrix.yaml:2:11: the cell test \"a-rather-long-matrix-name.a-long-server-name."
			 "a-long-client-name.multiplexing\" would be longer than 64 characters: shorten the matrix's "
			 "name or its servers', clients' names");
	cfg_report_release(&rep);

	load("m", "", &rep, -EINVAL);
	ck_assert_str_eq(rep.errors[0], "matrix.yaml: a matrix is a mapping (servers, clients, testcases, ...), not empty");
	cfg_report_release(&rep);
}
END_TEST

START_TEST(tables_of_cell_states)
{
	static const char tsv[] =
		"server\tclient\ttestcase\ttest\trun\tverdict\treason\n"
		"ngtcp2\tng\tretry\tm1.ngtcp2.ng.retry\t3\tsucceeded\ttestcase retry: 1 file identical, 1 handshake, after a Retry\n"
		"ngtcp2\tng\thandshake\tm1.ngtcp2.ng.handshake\t1\tfailed\tclient client: testcase handshake: 0 of 1 files "
		"identical;\\thandshake-1 did not arrive\\n\n"
		"draft29\tng\tretry\tm1.draft29.ng.retry\t1\tunsupported\ttestcase retry: no\n"
		"draft29\tng\thandshake\tm1.draft29.ng.handshake\t\tqueued\t\n";
	static const char txt[] =
		"matrix m1: 2 servers x 1 client x 2 test cases\n"
		"ngtcp2 and draft29 servers\n"
		"\n"
		"server   client  retry        handshake\n"
		"ngtcp2   ng      succeeded    failed\n"
		"draft29  ng      unsupported  queued\n"
		"\n"
		"4 cells: 1 succeeded, 1 failed, 1 unsupported, 1 queued\n";
	struct matrix_state st[4] = {
		{ 3, "succeeded testcase retry: 1 file identical, 1 handshake, after a Retry" },
		{ 1, "failed client client: testcase handshake: 0 of 1 files identical;\thandshake-1 did not arrive\n" },
		{ 1, "unsupported testcase retry: no" },
		{ 0, NULL },
	};
	struct pfs_buf b = PFS_BUF_INIT(1u << 16);
	struct cfg_report rep;
	struct matrix_plan *p = load("m1", two_by_one, &rep, 0);
	char word[32];

	ck_assert_int_eq(matrix_tsv(p, st, &b), 0);
	ck_assert_str_eq(pfs_buf_str(&b), tsv);
	pfs_buf_release(&b);
	ck_assert_int_eq(matrix_table(p, st, &b), 0);
	ck_assert_str_eq(pfs_buf_str(&b), txt);
	pfs_buf_release(&b);
	/* while a cell runs: its live word, counted as running */
	st[3].run = 2;
	st[3].status = "running 2/2 services";
	ck_assert_int_eq(matrix_table(p, st, &b), 0);
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&b), "draft29  ng      unsupported  running\n"));
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&b), "4 cells: 1 succeeded, 1 failed, 1 unsupported, 1 running\n"));
	pfs_buf_release(&b);
	matrix_state_word(&st[0], word, sizeof(word));
	ck_assert_str_eq(word, "succeeded");
	matrix_state_word(NULL, word, sizeof(word));
	ck_assert_str_eq(word, "queued");
	matrix_plan_free(p);
	cfg_report_release(&rep);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("matrix");
	TCase *t = tcase_create("matrix");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, cells_of_a_matrix);
	tcase_add_test(t, every_case_by_default);
	tcase_add_test(t, problems_at_their_entries);
	tcase_add_test(t, tables_of_cell_states);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
