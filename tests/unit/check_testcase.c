/* SPDX-License-Identifier: MIT */
/*
 * The interop test cases (src/config/testcase.c): the table, the checks of
 * a version config's testcases block, how a pair is planned (its ALPN, or
 * why it cannot run a case), the files of a run, and the judgement of a
 * client: real files compared byte for byte (identical, one byte changed,
 * cut short, missing) and the evidence counted from real client logs of
 * ngtcp2 runs (tests/fixtures/testcase/), each rule seen failing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pfs_check.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/metrics.h"
#include "pantherfs/testcase.h"
#include "pantherfs/util.h"

static const char *src_root(void)
{
	const char *s = getenv("PFS_SOURCE_DIR");

	return s ? s : ".";
}

/* A program's facts as a version config would give them. */
static json_t *prog(const char *json)
{
	json_error_t e;
	json_t *j = json_loads(json, 0, &e);

	ck_assert_msg(j != NULL, "%s: %s", json, e.text);
	return j;
}

#define EVIDENCE "\"evidence\": {\"handshakes\": \"HS\", \"resumed\": \"RES\", \"zerortt\": \"ZRTT\", \"retries\": \"RETRY\"}"
#define ALL "[\"handshake\", \"transfer\", \"multiplexing\", \"http3\", \"resumption\", \"zerortt\", \"retry\"]"

START_TEST(the_table)
{
	const char letters[] = "HDM3RZS";

	for (int i = 0; i < TC_COUNT; i++) {
		ck_assert_int_eq(tc_parse(tc_name((enum tc_id)i)), i);
		ck_assert_int_eq(tc_letter((enum tc_id)i), letters[i]);
		ck_assert_ptr_nonnull(strstr(tc_names(), tc_name((enum tc_id)i)));
	}
	ck_assert_int_eq(tc_parse("retries"), -1);
	ck_assert_int_eq(tc_parse(NULL), -1);
	/* the interop runner's sizes */
	ck_assert_uint_eq(tc_n_files(TC_TRANSFER), 3);
	ck_assert_uint_eq(tc_file_size(TC_TRANSFER, 1), 2u << 20);
	ck_assert_uint_eq(tc_file_size(TC_TRANSFER, 3), 5u << 20);
	ck_assert_uint_eq(tc_file_size(TC_TRANSFER, 4), 0);
	ck_assert_uint_eq(tc_n_files(TC_MULTIPLEXING), 1999);
	ck_assert_uint_eq(tc_file_size(TC_MULTIPLEXING, 1999), 32);
	ck_assert_int_eq(tc_connections(TC_ZERORTT), 2);
	ck_assert_int_eq(tc_connections(TC_RESUMPTION), 2);
	ck_assert_int_eq(tc_connections(TC_TRANSFER), 1);
}
END_TEST

START_TEST(program_blocks_checked)
{
	static const struct {
		const char *json;
		const char *why;    /* NULL: accepted */
	} cases[] = {
		{ "{\"roles\": [\"server\", \"client\"], \"testcases\": {\"alpns\": [\"hq-interop\", \"h3\"], \"server\": " ALL
		  ", \"client\": " ALL ", " EVIDENCE "}}", NULL },
		{ "{\"roles\": [\"server\"]}", NULL },
		{ "{\"roles\": [\"server\"], \"testcases\": []}", "must be a mapping" },
		{ "{\"roles\": [\"server\"], \"testcases\": {\"alpn\": [\"h3\"]}}", "unknown key alpn" },
		{ "{\"roles\": [\"server\"], \"testcases\": {\"server\": [\"handshake\"]}}", "testcases.alpns must list" },
		{ "{\"roles\": [\"server\"], \"testcases\": {\"alpns\": [\"h3\"], \"server\": [\"handshakes\"]}}",
		  "\"handshakes\" is not a test case" },
		{ "{\"roles\": [\"server\"], \"testcases\": {\"alpns\": [\"h3\"], \"client\": [\"handshake\"]}}",
		  "the program has no client role" },
		{ "{\"roles\": [\"server\"], \"testcases\": {\"alpns\": [\"hq-interop\"], \"server\": [\"http3\"]}}",
		  "http3 needs h3 among testcases.alpns" },
		{ "{\"roles\": [\"client\"], \"testcases\": {\"alpns\": [\"h3\"], \"client\": [\"handshake\"]}}",
		  "testcases.evidence has no pattern for handshakes" },
		{ "{\"roles\": [\"client\"], \"testcases\": {\"alpns\": [\"h3\"], \"client\": [\"retry\"], "
		  "\"evidence\": {\"handshakes\": \"HS\"}}}", "testcases.evidence has no pattern for retries" },
		{ "{\"roles\": [\"client\"], \"testcases\": {\"alpns\": [\"h3\"], \"evidence\": {\"handshake\": \"HS\"}}}",
		  "unknown name handshake" },
		{ "{\"roles\": [\"client\"], \"testcases\": {\"alpns\": [\"h3\"], \"evidence\": {\"handshakes\": \"{x\"}}}",
		  "testcases.evidence" },
		{ "{\"roles\": [\"server\"], \"testcases\": {\"alpns\": [\"h3\"], \"why_not\": {\"retry\": {}}}}",
		  "why_not.retry needs a reason" },
	};

	for (size_t i = 0; i < PFS_ARRAY_SIZE(cases); i++) {
		json_t *p = prog(cases[i].json);
		char why[512] = "";
		int r = tc_check_program(p, why, sizeof(why));

		if (!cases[i].why)
			ck_assert_msg(r == 0, "%s: %s", cases[i].json, why);
		else
			ck_assert_msg(r == -EINVAL && strstr(why, cases[i].why), "%s: got %d \"%s\", want \"%s\"",
				      cases[i].json, r, why, cases[i].why);
		json_decref(p);
	}
}
END_TEST

START_TEST(pairs_planned)
{
	json_t *hq = prog("{\"roles\": [\"server\", \"client\"], \"testcases\": {\"alpns\": [\"hq-interop\", \"h3\"], "
			  "\"server\": [\"handshake\", \"http3\", \"zerortt\"], \"client\": " ALL ", " EVIDENCE
			  ", \"why_not\": {\"retry\": {\"roles\": [\"server\"], \"reason\": \"no Retry\"}}}}");
	json_t *h3 = prog("{\"roles\": [\"server\", \"client\"], \"testcases\": {\"alpns\": [\"h3\"], \"server\": " ALL
			  ", \"client\": " ALL ", " EVIDENCE "}}");
	json_t *h09 = prog("{\"roles\": [\"client\"], \"testcases\": {\"alpns\": [\"hq-interop\"], \"client\": "
			   "[\"handshake\"], \"evidence\": {\"handshakes\": \"HS\"}}}");
	char why[512];

	/* the case's own ALPN when both speak it, else h3 */
	ck_assert_str_eq(tc_pair(TC_HANDSHAKE, hq, "hq", hq, "hq", why, sizeof(why)), "hq-interop");
	ck_assert_str_eq(tc_pair(TC_HANDSHAKE, hq, "hq", h3, "ngtcp2", why, sizeof(why)), "h3");
	ck_assert_str_eq(tc_pair(TC_HANDSHAKE, h3, "ngtcp2", hq, "hq", why, sizeof(why)), "h3");
	ck_assert_str_eq(tc_pair(TC_HTTP3, hq, "hq", hq, "hq", why, sizeof(why)), "h3");
	/* no ALPN in common */
	ck_assert_ptr_null(tc_pair(TC_HANDSHAKE, h3, "ngtcp2", h09, "h09", why, sizeof(why)));
	ck_assert_str_eq(why, "ngtcp2 and h09 speak no ALPN in common that handshake takes (hq-interop or h3)");
	/* a role that does not run the case: the version config's reason, or a plain one */
	ck_assert_ptr_null(tc_pair(TC_RETRY, hq, "hq of mvfst", h3, "ngtcp2", why, sizeof(why)));
	ck_assert_str_eq(why, "hq of mvfst cannot run retry as a server: no Retry");
	ck_assert_ptr_null(tc_pair(TC_TRANSFER, hq, "hq of mvfst", h3, "ngtcp2", why, sizeof(why)));
	ck_assert_str_eq(why, "hq of mvfst does not run transfer as a server");
	ck_assert_ptr_null(tc_pair(TC_TRANSFER, h3, "ngtcp2", h09, "h09", why, sizeof(why)));
	ck_assert_str_eq(why, "h09 does not run transfer as a client");
	/* a version without a program that runs cases */
	ck_assert_ptr_null(tc_pair(TC_HANDSHAKE, NULL, "mvfst draft29", h3, "ngtcp2", why, sizeof(why)));
	ck_assert_str_eq(why, "mvfst draft29 has no program that runs the interop test cases as a server");
	json_decref(hq);
	json_decref(h3);
	json_decref(h09);
}
END_TEST

START_TEST(template_context)
{
	json_t *c = tc_context(TC_ZERORTT, "h3", false), *s = tc_context(TC_RETRY, NULL, true), *conn;

	ck_assert_str_eq(json_string_value(json_object_get(c, "name")), "zerortt");
	ck_assert_str_eq(json_string_value(json_object_get(c, "alpn")), "h3");
	ck_assert_str_eq(json_string_value(json_object_get(c, "prefix")), "zerortt-");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "files")), 40);
	ck_assert(json_is_true(json_object_get(c, "resume")));
	ck_assert(json_is_true(json_object_get(c, "early_data")));
	ck_assert(json_is_false(json_object_get(c, "retry")));
	conn = json_object_get(c, "connections");
	ck_assert_uint_eq(json_array_size(conn), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(conn, 0), "last")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(conn, 1), "first")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(conn, 1), "last")), 40);
	ck_assert_str_eq(json_string_value(json_object_get(c, "downloads")), CONFIG_DOWNLOADS_DIR);
	/* a server: the case's own ALPN, a Retry for retry, no session to keep */
	ck_assert_str_eq(json_string_value(json_object_get(s, "alpn")), "hq-interop");
	ck_assert(json_is_true(json_object_get(s, "retry")));
	ck_assert(json_is_false(json_object_get(s, "resume")));
	ck_assert_str_eq(json_string_value(json_object_get(s, "www")), CONFIG_WWW_DIR);
	ck_assert_uint_eq(json_array_size(json_object_get(s, "connections")), 1);
	json_decref(c);
	json_decref(s);
}
END_TEST

/* ---- files and judgements --------------------------------------------------------------------------- */

static char *tmpdir(void)
{
	char *d = strdup("/tmp/pfs-testcase.XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void copy_file(const char *from, const char *to)
{
	struct pfs_buf b = PFS_BUF_INIT(64u << 20);

	ck_assert_int_eq(pfs_read_file(from, &b), 0);
	ck_assert_int_eq(pfs_write_file_replace(to, b.ptr ? b.ptr : "", b.len), 0);
	pfs_buf_release(&b);
}

/* Copies every file of a case from www to dl. */
static void copy_all(enum tc_id id, const char *www, const char *dl)
{
	char a[512], b[512];

	ck_assert_int_eq(pfs_mkdir_p(dl, 0700), 0);
	for (size_t k = 1; k <= tc_n_files(id); k++) {
		snprintf(a, sizeof(a), "%s/%s-%zu", www, tc_name(id), k);
		snprintf(b, sizeof(b), "%s/%s-%zu", dl, tc_name(id), k);
		copy_file(a, b);
	}
}

/* The evidence a client log gives, counted as the engine counts it. */
static json_t *evidence_of(const char *log)
{
	json_t *p = prog("{\"roles\": [\"client\"], \"testcases\": {\"alpns\": [\"h3\"], \"client\": " ALL ", "
			 "\"evidence\": {\"handshakes\": \"SERVER HELLO (2) was received\", \"resumed\": "
			 "\"selected PSK-resumption mode\", \"zerortt\": \"Parsing extension 'Early Data/42'\", "
			 "\"retries\": \"type=Retry\"}}}");
	struct mx_end end = { .how = MX_EXITED, .exit_code = 0, .role = "client" };
	struct pfs_err err = { 0 };
	struct mrules *rules = NULL;
	struct mx *x = NULL;
	char path[1024];
	json_t *m;

	ck_assert_msg(tc_evidence_rules(p, &rules, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(mx_new(rules, NULL, &x), 0);
	snprintf(path, sizeof(path), "%s/tests/fixtures/testcase/%s", src_root(), log);
	ck_assert_int_eq(mx_feed_file(x, path), 0);
	m = mx_result(x, &end);
	ck_assert_ptr_nonnull(m);
	mx_free(x);
	mrules_free(rules);
	json_decref(p);
	return m;
}

static long long count(json_t *ev, const char *name)
{
	return json_integer_value(json_object_get(json_object_get(ev, name), "value"));
}

START_TEST(evidence_of_real_logs)
{
	json_t *hs = evidence_of("ngtcp2-client-handshake.log"), *res = evidence_of("ngtcp2-client-resumption.log");
	json_t *z = evidence_of("ngtcp2-client-zerortt.log"), *re = evidence_of("ngtcp2-client-retry.log");

	ck_assert_int_eq(count(hs, TC_EVIDENCE_HANDSHAKES), 1);
	ck_assert_int_eq(count(hs, TC_EVIDENCE_RESUMED), 0);
	ck_assert_int_eq(count(hs, TC_EVIDENCE_RETRIES), 0);
	ck_assert_int_eq(count(res, TC_EVIDENCE_HANDSHAKES), 2);
	ck_assert_int_eq(count(res, TC_EVIDENCE_RESUMED), 1);
	ck_assert_int_eq(count(z, TC_EVIDENCE_HANDSHAKES), 2);
	ck_assert_int_eq(count(z, TC_EVIDENCE_ZERORTT), 1);
	ck_assert_int_eq(count(re, TC_EVIDENCE_HANDSHAKES), 1);
	ck_assert_int_eq(count(re, TC_EVIDENCE_RETRIES), 1);
	json_decref(hs);
	json_decref(res);
	json_decref(z);
	json_decref(re);
}
END_TEST

START_TEST(files_are_random_per_run)
{
	char *a = tmpdir(), *b = tmpdir(), fa[512], fb[512];
	struct pfs_buf x = PFS_BUF_INIT(1u << 20), y = PFS_BUF_INIT(1u << 20);
	struct pfs_err err = { 0 };
	struct stat st;

	ck_assert_msg(tc_make_files(TC_HTTP3, a, &err) == 0, "%s", err.msg);
	ck_assert_msg(tc_make_files(TC_HTTP3, b, &err) == 0, "%s", err.msg);
	for (size_t k = 1; k <= 3; k++) {
		snprintf(fa, sizeof(fa), "%s/http3-%zu", a, k);
		ck_assert_int_eq(stat(fa, &st), 0);
		ck_assert_int_eq(st.st_size, (off_t)tc_file_size(TC_HTTP3, k));
	}
	snprintf(fa, sizeof(fa), "%s/http3-3", a);
	snprintf(fb, sizeof(fb), "%s/http3-3", b);
	ck_assert_int_eq(pfs_read_file(fa, &x), 0);
	ck_assert_int_eq(pfs_read_file(fb, &y), 0);
	ck_assert_uint_eq(x.len, y.len);
	ck_assert(memcmp(x.ptr, y.ptr, x.len) != 0);
	pfs_buf_release(&x);
	pfs_buf_release(&y);
	pfs_rm_rf(a);
	pfs_rm_rf(b);
	free(a);
	free(b);
}
END_TEST

START_TEST(judged_byte_for_byte)
{
	char *d = tmpdir(), www[512], dl[512], f[600], why[512];
	json_t *ev = evidence_of("ngtcp2-client-handshake.log");
	struct pfs_err err = { 0 };
	unsigned char byte;
	bool ok;
	int fd;

	snprintf(www, sizeof(www), "%s/www", d);
	snprintf(dl, sizeof(dl), "%s/dl", d);
	ck_assert_msg(tc_make_files(TC_TRANSFER, www, &err) == 0, "%s", err.msg);
	copy_all(TC_TRANSFER, www, dl);
	ck_assert_int_eq(tc_judge(TC_TRANSFER, www, dl, ev, &ok, why, sizeof(why)), 0);
	ck_assert_msg(ok, "%s", why);
	ck_assert_str_eq(why, "3 files identical, 1 handshake");

	/* one byte changed in the middle of the second file: its complement */
	snprintf(f, sizeof(f), "%s/transfer-2", dl);
	fd = open(f, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &byte, 1, 1000000), 1);
	byte = (unsigned char)~byte;
	ck_assert_int_eq(pwrite(fd, &byte, 1, 1000000), 1);
	close(fd);
	ck_assert_int_eq(tc_judge(TC_TRANSFER, www, dl, ev, &ok, why, sizeof(why)), 0);
	ck_assert(!ok);
	ck_assert_str_eq(why, "2 of 3 files identical; transfer-2 differs from what the server served, from byte 1000000");

	/* cut short */
	ck_assert_int_eq(truncate(f, 1048576), 0);
	ck_assert_int_eq(tc_judge(TC_TRANSFER, www, dl, ev, &ok, why, sizeof(why)), 0);
	ck_assert(!ok);
	ck_assert_str_eq(why, "2 of 3 files identical; transfer-2: 1048576 bytes arrived, 3145728 were served");

	/* missing */
	ck_assert_int_eq(unlink(f), 0);
	ck_assert_int_eq(tc_judge(TC_TRANSFER, www, dl, ev, &ok, why, sizeof(why)), 0);
	ck_assert(!ok);
	ck_assert_str_eq(why, "2 of 3 files identical; transfer-2 did not arrive");

	/* the served files gone: an error, not a verdict on the client */
	pfs_rm_rf(www);
	ck_assert_int_eq(tc_judge(TC_TRANSFER, www, dl, ev, &ok, why, sizeof(why)), -ENOENT);
	ck_assert(!ok);
	ck_assert_ptr_nonnull(strstr(why, "cannot read the served files"));
	json_decref(ev);
	pfs_rm_rf(d);
	free(d);
}
END_TEST

START_TEST(judged_by_the_evidence)
{
	char *d = tmpdir(), www[512], dl[512], why[512];
	json_t *one = evidence_of("ngtcp2-client-handshake.log"), *res = evidence_of("ngtcp2-client-resumption.log");
	json_t *z = evidence_of("ngtcp2-client-zerortt.log"), *re = evidence_of("ngtcp2-client-retry.log");
	struct pfs_err err = { 0 };
	bool ok;

	snprintf(www, sizeof(www), "%s/www", d);
	snprintf(dl, sizeof(dl), "%s/dl", d);
	ck_assert_int_eq(tc_make_files(TC_RESUMPTION, www, &err), 0);
	copy_all(TC_RESUMPTION, www, dl);
	ck_assert_int_eq(tc_make_files(TC_ZERORTT, www, &err), 0);
	copy_all(TC_ZERORTT, www, dl);
	ck_assert_int_eq(tc_make_files(TC_RETRY, www, &err), 0);
	copy_all(TC_RETRY, www, dl);
	ck_assert_int_eq(tc_make_files(TC_HANDSHAKE, www, &err), 0);
	copy_all(TC_HANDSHAKE, www, dl);

	/* each log passes its own case */
	ck_assert_int_eq(tc_judge(TC_RESUMPTION, www, dl, res, &ok, why, sizeof(why)), 0);
	ck_assert_msg(ok, "%s", why);
	ck_assert_str_eq(why, "2 files identical, 2 handshakes, the second resumed");
	ck_assert_int_eq(tc_judge(TC_ZERORTT, www, dl, z, &ok, why, sizeof(why)), 0);
	ck_assert_msg(ok, "%s", why);
	ck_assert_str_eq(why, "40 files identical, 2 handshakes, 0-RTT accepted");
	ck_assert_int_eq(tc_judge(TC_RETRY, www, dl, re, &ok, why, sizeof(why)), 0);
	ck_assert_msg(ok, "%s", why);
	ck_assert_str_eq(why, "1 file identical, 1 handshake, after a Retry");

	/* and fails the others: a handshake count off, the evidence missing */
	ck_assert_int_eq(tc_judge(TC_HANDSHAKE, www, dl, res, &ok, why, sizeof(why)), 0);
	ck_assert(!ok);
	ck_assert_str_eq(why, "1 file identical, but 2 handshakes where the case makes 1 connection");
	ck_assert_int_eq(tc_judge(TC_RESUMPTION, www, dl, one, &ok, why, sizeof(why)), 0);
	ck_assert(!ok);
	ck_assert_str_eq(why, "2 files identical, but 1 handshake where the case makes 2 connections");
	ck_assert_int_eq(tc_judge(TC_RETRY, www, dl, one, &ok, why, sizeof(why)), 0);
	ck_assert(!ok);
	ck_assert_str_eq(why, "1 file identical in 1 handshake, but no Retry received");
	ck_assert_int_eq(tc_judge(TC_ZERORTT, www, dl, res, &ok, why, sizeof(why)), 0);
	ck_assert_msg(ok, "the resumption log has 0-RTT accepted too: %s", why);
	{
		/* a resumed second connection without 0-RTT */
		json_t *no0 = json_deep_copy(res);

		json_object_set_new(json_object_get(no0, TC_EVIDENCE_ZERORTT), "value", json_integer(0));
		ck_assert_int_eq(tc_judge(TC_ZERORTT, www, dl, no0, &ok, why, sizeof(why)), 0);
		ck_assert(!ok);
		ck_assert_str_eq(why, "40 files identical in 2 handshakes, but no 0-RTT accepted");
		json_decref(no0);
	}
	ck_assert_int_eq(tc_judge(TC_RESUMPTION, www, dl, z, &ok, why, sizeof(why)), 0);
	ck_assert_msg(ok, "%s", why);
	{
		/* no count at all */
		json_t *none = json_pack("{s:{s:n,s:s,s:s}}", TC_EVIDENCE_HANDSHAKES, "value", "unit", "lines", "reason",
					 "never started");

		ck_assert_int_eq(tc_judge(TC_HANDSHAKE, www, dl, none, &ok, why, sizeof(why)), 0);
		ck_assert(!ok);
		ck_assert_str_eq(why, "the client's log gives no handshakes count: never started");
		json_decref(none);
	}
	json_decref(one);
	json_decref(res);
	json_decref(z);
	json_decref(re);
	pfs_rm_rf(d);
	free(d);
}
END_TEST

/* The shipped version configs: the catalogue loads them (checks included) and pairs them. */
START_TEST(shipped_configs_pair)
{
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };
	const struct cat_impl *ng;
	json_t *gs, *gc;
	char why[512];

	ck_assert_msg(catalog_load(src_root(), &c, &err) == 0, "%s", err.msg);
	ng = catalog_find_impl(c, "ngtcp2");
	gs = cat_version_program(cat_impl_find_version(ng, "rfc9000"), "gtlsserver");
	gc = cat_version_program(cat_impl_find_version(ng, "rfc9000"), "gtlsclient");
	ck_assert(!tc_program_requires(gs));
	for (int i = 0; i < TC_COUNT; i++) {
		const char *nn = tc_pair((enum tc_id)i, gs, "gtlsserver", gc, "gtlsclient", why, sizeof(why));

		/* ngtcp2's programs speak h3 only */
		ck_assert_msg(nn, "%s: %s", tc_name((enum tc_id)i), why);
		ck_assert_str_eq(nn, "h3");
	}
	catalog_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("testcase");
	TCase *t = tcase_create("testcase");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, the_table);
	tcase_add_test(t, program_blocks_checked);
	tcase_add_test(t, pairs_planned);
	tcase_add_test(t, template_context);
	tcase_add_test(t, evidence_of_real_logs);
	tcase_add_test(t, files_are_random_per_run);
	tcase_add_test(t, judged_byte_for_byte);
	tcase_add_test(t, judged_by_the_evidence);
	tcase_add_test(t, shipped_configs_pair);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
