/* SPDX-License-Identifier: MIT */
/* What a path names (src/fs/path.c): the mount's tree, from shapes alone. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "pfs_check.h"
#include "../../src/fs/fs_internal.h"

static struct fs_path parse_ok(const char *path)
{
	struct fs_path p;

	ck_assert_msg(fs_path_parse(path, &p) == 0, "\"%s\" should name something", path);
	return p;
}

static void parse_none(const char *path)
{
	struct fs_path p;

	ck_assert_msg(fs_path_parse(path, &p) == -ENOENT, "\"%s\" should name nothing", path);
}

START_TEST(top_and_catalogue)
{
	struct fs_path p;

	ck_assert_int_eq(parse_ok("").kind, FK_ROOT);
	ck_assert_int_eq(parse_ok("README").kind, FK_README);
	ck_assert_int_eq(parse_ok("engine").kind, FK_ENGINE);
	ck_assert_int_eq(parse_ok("tests").kind, FK_TESTS);
	ck_assert_int_eq(parse_ok("implementations").kind, FK_IMPLS);
	p = parse_ok("implementations/mvfst");
	ck_assert_int_eq(p.kind, FK_IMPL);
	ck_assert_str_eq(p.impl, "mvfst");
	ck_assert_int_eq(parse_ok("implementations/mvfst/versions").kind, FK_IMPL_VERSIONS);
	p = parse_ok("implementations/mvfst/draft27-vuln1.yaml");
	ck_assert_int_eq(p.kind, FK_IMPL_VERSION);
	ck_assert_str_eq(p.version, "draft27-vuln1");
	parse_none("implementations/mvfst/.yaml");
	parse_none("implementations/mvfst/rfc9000");
	parse_none("implementations/mvfst/rfc9000.yaml/x");
	parse_none("nothing");
	parse_none("README/x");
	/* the root's summary: one row per test */
	p = parse_ok("summary.tsv");
	ck_assert_int_eq(p.kind, FK_ROOT_FILE);
	ck_assert_int_eq(p.file, PFS_F_SUMMARY_TSV);
	ck_assert(!fs_path_is_dir(&p));
	parse_none("summary.json");
	parse_none("summary.svg");
	parse_none("result.json");
	parse_none("summary.tsv/x");
}
END_TEST

START_TEST(results_files)
{
	struct fs_path p = parse_ok("tests/t1/result.json");

	ck_assert_int_eq(p.kind, FK_FILE);
	ck_assert_int_eq(p.file, PFS_F_RESULT_JSON);
	ck_assert_int_eq(p.run, 0);
	ck_assert_int_eq(parse_ok("tests/t1/summary.tsv").file, PFS_F_SUMMARY_TSV);
	ck_assert_int_eq(parse_ok("tests/t1/summary.json").file, PFS_F_SUMMARY_JSON);
	ck_assert_int_eq(parse_ok("tests/t1/summary.svg").file, PFS_F_SUMMARY_SVG);
	p = parse_ok("tests/t1/runs/4/result.json");
	ck_assert_int_eq(p.file, PFS_F_RESULT_JSON);
	ck_assert_int_eq(p.run, 4);
	/* a run has its result, not the test's summaries; services have neither */
	parse_none("tests/t1/runs/4/summary.tsv");
	parse_none("tests/t1/runs/4/summary.svg");
	parse_none("tests/t1/services/client/result.json");
	parse_none("tests/t1/runs/4/services/client/result.json");
	/* the names are in the one table, where the engine finds them too */
	ck_assert_ptr_nonnull(pfs_name_lookup("summary.tsv", PFS_AT_ROOT));
	ck_assert_ptr_null(pfs_name_lookup("summary.svg", PFS_AT_ROOT));
	ck_assert_ptr_null(pfs_name_lookup("summary.json", PFS_AT_RUN));
}
END_TEST

START_TEST(matrices_and_their_files)
{
	struct fs_path p = parse_ok("matrices");

	ck_assert_int_eq(p.kind, FK_MATRICES);
	ck_assert(fs_path_is_dir(&p));
	p = parse_ok("matrices/m1");
	ck_assert_int_eq(p.kind, FK_MATRIX);
	ck_assert_str_eq(p.matrix, "m1");
	ck_assert(fs_path_is_dir(&p));
	p = parse_ok("matrices/m1/matrix.yaml");
	ck_assert_int_eq(p.kind, FK_MATRIX_FILE);
	ck_assert_str_eq(p.matrix, "m1");
	ck_assert_str_eq(p.name, "matrix.yaml");
	ck_assert(!fs_path_is_dir(&p));
	ck_assert_str_eq(parse_ok("matrices/m1/matrix.tsv").name, "matrix.tsv");
	ck_assert_str_eq(parse_ok("matrices/m1/matrix.txt").name, "matrix.txt");
	ck_assert_str_eq(parse_ok("matrices/m1/status").name, "status");
	ck_assert_str_eq(parse_ok("matrices/m1/error").name, "error");
	/* nothing else: no scratch files, no deeper paths, names as tests' */
	parse_none("matrices/m1/config.yaml");
	parse_none("matrices/m1/.matrix.yaml.swp");
	parse_none("matrices/m1/status/x");
	parse_none("matrices/.m");
	parse_none("matrices/m$");
}
END_TEST

START_TEST(a_test_and_its_files)
{
	struct fs_path p = parse_ok("tests/t1");

	ck_assert_int_eq(p.kind, FK_TEST);
	ck_assert_str_eq(p.test, "t1");
	ck_assert_int_eq(p.run, 0);
	p = parse_ok("tests/t1/config.yaml");
	ck_assert_int_eq(p.kind, FK_FILE);
	ck_assert_int_eq(p.file, PFS_F_CONFIG);
	ck_assert_int_eq(parse_ok("tests/t1/ctl").file, PFS_F_CTL);
	ck_assert_int_eq(parse_ok("tests/t1/status.json").file, PFS_F_STATUS_JSON);
	ck_assert_int_eq(parse_ok("tests/t1/events.follow").file, PFS_F_EVENTS_FOLLOW);
	ck_assert_int_eq(parse_ok("tests/t1/services").kind, FK_SERVICES);
	ck_assert_int_eq(parse_ok("tests/t1/runs").kind, FK_RUNS);
	/* anything else is an editor's scratch file, with the name it was given */
	p = parse_ok("tests/t1/.config.yaml.swp");
	ck_assert_int_eq(p.kind, FK_SCRATCH);
	ck_assert_str_eq(p.name, ".config.yaml.swp");
	ck_assert_int_eq(parse_ok("tests/t1/config.yaml~").kind, FK_SCRATCH);
	/* a test's name is [A-Za-z0-9._-], not leading . or - */
	parse_none("tests/.t");
	parse_none("tests/-t");
	parse_none("tests/t$");
	parse_none("tests/t1/status/x");
}
END_TEST

START_TEST(services_and_runs)
{
	struct fs_path p = parse_ok("tests/t1/services/server/logs.follow");

	ck_assert_int_eq(p.kind, FK_FILE);
	ck_assert_int_eq(p.file, PFS_F_LOGS_FOLLOW);
	ck_assert_str_eq(p.svc, "server");
	ck_assert_int_eq(parse_ok("tests/t1/services/server/status").file, PFS_F_SVC_STATUS);
	ck_assert_int_eq(parse_ok("tests/t1/services/server").kind, FK_SERVICE);
	p = parse_ok("tests/t1/services/server/results/cpu.prof");
	ck_assert_int_eq(p.kind, FK_DISK_FILE);
	ck_assert_int_eq(p.file, PFS_F_RESULTS);
	ck_assert_str_eq(p.name, "cpu.prof");
	parse_none("tests/t1/services/server/command/x");
	parse_none("tests/t1/services/server/results/.hidden");
	parse_none("tests/t1/services/server/nothing");
	parse_none("tests/t1/services/server/events.follow");

	p = parse_ok("tests/t1/runs/12");
	ck_assert_int_eq(p.kind, FK_RUN);
	ck_assert_int_eq(p.run, 12);
	ck_assert_int_eq(parse_ok("tests/t1/runs/12/events").file, PFS_F_EVENTS);
	ck_assert_int_eq(parse_ok("tests/t1/runs/12/config.yaml").file, PFS_F_CONFIG);
	p = parse_ok("tests/t1/runs/3/services/client/logs");
	ck_assert_int_eq(p.run, 3);
	ck_assert_int_eq(p.file, PFS_F_LOGS);
	/* runs are numbered as runs/ lists them: 1, 2, ...; frozen: no streams, no ctl */
	parse_none("tests/t1/runs/0");
	parse_none("tests/t1/runs/01");
	parse_none("tests/t1/runs/+1");
	parse_none("tests/t1/runs/1x");
	parse_none("tests/t1/runs/99999999999");
	parse_none("tests/t1/runs/1/ctl");
	parse_none("tests/t1/runs/1/error");
	parse_none("tests/t1/runs/1/events.follow");
	parse_none("tests/t1/runs/1/services/s/logs.follow");
	parse_none("tests/t1/runs/1/runs");
}
END_TEST

/* What a capture, a key log and qlog are, and where they may be. */
START_TEST(captures_keys_qlog)
{
	struct fs_path p = parse_ok("tests/t1/services/client/capture.pcap");

	ck_assert_int_eq(p.kind, FK_FILE);
	ck_assert_int_eq(p.file, PFS_F_CAPTURE);
	ck_assert(fs_path_on_disk(&p));
	ck_assert(!fs_path_is_dir(&p));
	p = parse_ok("tests/t1/runs/4/services/client/keys.log");
	ck_assert_int_eq(p.file, PFS_F_KEYLOG);
	ck_assert_int_eq(p.run, 4);
	ck_assert(fs_path_on_disk(&p));
	p = parse_ok("tests/t1/services/server/qlog");
	ck_assert_int_eq(p.file, PFS_F_QLOG);
	ck_assert(fs_path_is_dir(&p));
	ck_assert(!fs_path_on_disk(&p));
	p = parse_ok("tests/t1/runs/2/services/server/qlog/0a1b2c.sqlog");
	ck_assert_int_eq(p.kind, FK_DISK_FILE);
	ck_assert_int_eq(p.file, PFS_F_QLOG);
	ck_assert_str_eq(p.name, "0a1b2c.sqlog");
	ck_assert(fs_path_on_disk(&p));
	/* a service's files only: in a test's directory that name is an editor's scratch file */
	ck_assert_int_eq(parse_ok("tests/t1/capture.pcap").kind, FK_SCRATCH);
	parse_none("tests/t1/runs/1/keys.log");
	parse_none("tests/t1/services/server/capture.pcap/x");
	parse_none("tests/t1/services/server/qlog/.hidden");
	/* the names the engine serves are not the disk's */
	p = parse_ok("tests/t1/services/server/logs");
	ck_assert(!fs_path_on_disk(&p));
}
END_TEST

START_TEST(malformed_paths)
{
	parse_none("tests//t1");
	parse_none("tests/t1/");
	parse_none("/tests");
	parse_none("tests/./t1");
	parse_none("tests/t1/../t2");
	parse_none("tests/t1/runs/1/services/s/results/a/b");
}
END_TEST

START_TEST(directories)
{
	struct fs_path p;

	p = parse_ok("tests/t1/services/server/results");
	ck_assert(fs_path_is_dir(&p));
	p = parse_ok("tests/t1/runs/2/services");
	ck_assert(fs_path_is_dir(&p));
	p = parse_ok("tests/t1/status");
	ck_assert(!fs_path_is_dir(&p));
	p = parse_ok("tests/t1/x.tmp");
	ck_assert(!fs_path_is_dir(&p));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fs_path");
	TCase *t = tcase_create("parse");

	tcase_add_test(t, top_and_catalogue);
	tcase_add_test(t, matrices_and_their_files);
	tcase_add_test(t, a_test_and_its_files);
	tcase_add_test(t, results_files);
	tcase_add_test(t, services_and_runs);
	tcase_add_test(t, captures_keys_qlog);
	tcase_add_test(t, malformed_paths);
	tcase_add_test(t, directories);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
