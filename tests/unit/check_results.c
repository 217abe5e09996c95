/* SPDX-License-Identifier: MIT */
/*
 * Metrics, result.json and summaries.
 *
 * The metric rules are the shipped version configs' own, applied to logs in
 * tests/fixtures/results/: real ngtcp2 runs captured with pantherfs, and
 * mvfst logs written in the reference's format (see that folder's README).
 * Expected values come from the numbers printed in those logs, and the
 * aggregates from a small set worked out by hand (in the comments), never
 * from this code's output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pfs_check.h"
#include "pantherfs/catalog.h"
#include "pantherfs/metrics.h"
#include "pantherfs/results.h"
#include "pantherfs/util.h"
#include "pantherfs/yamltree.h"

static const char *src_dir(void)
{
	const char *s = getenv("PFS_SOURCE_DIR");

	return s ? s : ".";
}

static struct catalog *shipped(void)
{
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };

	ck_assert_msg(catalog_load(src_dir(), &c, &err) == 0, "%s", err.msg);
	return c;
}

static char *fixture(const char *rel)
{
	char *p = pfs_strdup_printf("%s/tests/fixtures/results/%s", src_dir(), rel);

	ck_assert_ptr_nonnull(p);
	return p;
}

/* The rules of impl/version/program/role from the shipped catalogue. */
static struct mrules *rules_of(struct catalog *c, const char *impl, const char *ver, const char *prog,
			       const char *role)
{
	const struct cat_version *v = cat_impl_find_version(catalog_find_impl(c, impl), ver);
	json_t *r = json_object_get(json_object_get(cat_version_program(v, prog), "metrics"), role);
	struct mrules *m = NULL;
	struct pfs_err err = { 0 };

	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(mrules_parse(r, NULL, ver, "metrics", &m, &err) == 0, "%s", err.msg);
	return m;
}

/* Extracts from a fixture log; the result object is the caller's. */
static json_t *extract(const struct mrules *m, const json_t *ctx, const char *log, struct mx_end end)
{
	char *path = fixture(log);
	struct mx *x = NULL;
	json_t *res;

	ck_assert_int_eq(mx_new(m, ctx, &x), 0);
	ck_assert_int_eq(mx_feed_file(x, path), 0);
	res = mx_result(x, &end);
	ck_assert_ptr_nonnull(res);
	mx_free(x);
	free(path);
	return res;
}

static json_t *metric(const json_t *res, const char *name)
{
	json_t *m = json_object_get(res, name);

	ck_assert_msg(m != NULL, "no metric %s", name);
	return m;
}

static void assert_value(const json_t *res, const char *name, double want)
{
	json_t *v = json_object_get(metric(res, name), "value");

	ck_assert_msg(json_is_number(v), "%s: %s", name,
		      json_string_value(json_object_get(metric(res, name), "reason")) ?: "not a number");
	ck_assert_msg(fabs(json_number_value(v) - want) <= fabs(want) * 1e-12, "%s: %.17g, want %.17g", name,
		      json_number_value(v), want);
}

static void assert_null(const json_t *res, const char *name, const char *reason)
{
	json_t *m = metric(res, name);

	ck_assert_msg(json_is_null(json_object_get(m, "value")), "%s is not null", name);
	ck_assert_str_eq(json_string_value(json_object_get(m, "reason")), reason);
}

static const char *const mvfst_versions[] = { "rfc9000", "draft29", "draft27", "draft27-vuln1", "draft27-vuln2" };

/* ---- mvfst -------------------------------------------------------------------------------- */

START_TEST(mvfst_tperf_every_version)
{
	struct catalog *c = shipped();

	for (size_t i = 0; i < PFS_ARRAY_SIZE(mvfst_versions); i++) {
		struct mrules *m = rules_of(c, "mvfst", mvfst_versions[i], "tperf", "client");
		json_t *res = extract(m, NULL, "mvfst-format/tperf-client.log", (struct mx_end){ MX_EXITED, 0, "client" });

		/* "Received 2087088128 bytes in 3 seconds.": bits/s = 2087088128 * 8 / 3 exactly */
		assert_value(res, "received_bytes", 2087088128.0);
		assert_value(res, "duration", 3);
		assert_value(res, "throughput", 16696705024.0 / 3);
		assert_value(res, "streams", 1);
		/* the same figure as the log's rounded "5307.74Mb/s" (mvfst's Mb: 2^20 bits) */
		ck_assert(fabs(json_number_value(json_object_get(metric(res, "throughput"), "value")) -
			       5307.74 * 1048576) < 0.01 * 1048576);
		ck_assert_str_eq(json_string_value(json_object_get(metric(res, "throughput"), "unit")), "bit/s");
		json_decref(res);
		mrules_free(m);
	}
	catalog_free(c);
}
END_TEST

START_TEST(mvfst_tperf_streams_and_fallback)
{
	struct catalog *c = shipped();
	struct mrules *m = rules_of(c, "mvfst", "rfc9000", "tperf", "client");
	json_t *res = extract(m, NULL, "mvfst-format/tperf-client-4streams.log", (struct mx_end){ MX_EXITED, 0, "client" });

	/* 13421772800 * 8 / 10 is whole: a JSON integer */
	ck_assert(json_is_integer(json_object_get(metric(res, "throughput"), "value")));
	ck_assert_int_eq(json_integer_value(json_object_get(metric(res, "throughput"), "value")), 10737418240LL);
	assert_value(res, "streams", 4);
	json_decref(res);

	/* only "Overall throughput: 1.23457e+06Mb/s": 1234570 * 2^20, the other metrics null */
	res = extract(m, NULL, "mvfst-format/tperf-client-overall-only.log", (struct mx_end){ MX_EXITED, 0, "client" });
	assert_value(res, "throughput", 1294540472320.0);
	assert_null(res, "received_bytes",
		    "no line matched \"Received {bytes} bytes in {seconds} seconds.\" (the client exited 0 before printing it)");
	json_decref(res);

	/* the client aborted (exit 134) before its report: every metric null, saying why */
	res = extract(m, NULL, "mvfst-format/tperf-client-pto-abort.log", (struct mx_end){ MX_EXITED, 134, "client" });
	assert_null(res, "throughput",
		    "no line matched \"Received {bytes} bytes in {seconds} seconds.\" nor \"Overall throughput: "
		    "{mibps}Mb/s\" (the client exited 134 before printing it)");
	assert_null(res, "duration",
		    "no line matched \"Received {bytes} bytes in {seconds} seconds.\" (the client exited 134 before printing it)");
	json_decref(res);
	mrules_free(m);
	catalog_free(c);
}
END_TEST

START_TEST(mvfst_echo_every_version)
{
	struct catalog *c = shipped();
	json_t *ctx = json_pack("{s:[s,s,s]}", "messages", "hello", "world", "hi");

	for (size_t i = 0; i < PFS_ARRAY_SIZE(mvfst_versions); i++) {
		struct mrules *m = rules_of(c, "mvfst", mvfst_versions[i], "echo", "client");
		/* rfc9000's client is stopped once its lines are in; the log says 2 of 3 came back */
		json_t *res = extract(m, ctx, "mvfst-format/echo-client.log", (struct mx_end){ MX_STOPPED, 0, "client" });

		assert_value(res, "messages_sent", 3);
		assert_value(res, "messages_echoed", 2);
		ck_assert_str_eq(json_string_value(json_object_get(metric(res, "messages_echoed"), "unit")), "messages");
		json_decref(res);
		mrules_free(m);
	}
	json_decref(ctx);
	catalog_free(c);
}
END_TEST

/* ---- mvfst: real logs ---------------------------------------------------------------------- */

START_TEST(mvfst_real_rfc9000)
{
	struct catalog *c = shipped();
	struct mrules *m = rules_of(c, "mvfst", "rfc9000", "tperf", "client");
	json_t *ctx = json_pack("{s:[s,s]}", "messages", "hello", "from pantherfs");
	json_t *res = extract(m, NULL, "mvfst-real/rfc9000/tperf-client.log", (struct mx_end){ MX_EXITED, 0, "client" });

	/* "Received 695547488 bytes in 3 seconds." and "Overall throughput: 1768.87Mb/s" */
	assert_value(res, "received_bytes", 695547488.0);
	assert_value(res, "duration", 3);
	assert_value(res, "throughput", 695547488.0 * 8 / 3);
	assert_value(res, "streams", 1);
	ck_assert(fabs(json_number_value(json_object_get(metric(res, "throughput"), "value")) - 1768.87 * 1048576) <
		  0.01 * 1048576);
	json_decref(res);
	mrules_free(m);
	/* the echo client is stopped once both echoes are in */
	m = rules_of(c, "mvfst", "rfc9000", "echo", "client");
	res = extract(m, ctx, "mvfst-real/rfc9000/echo-client.log", (struct mx_end){ MX_STOPPED, 0, "client" });
	assert_value(res, "messages_sent", 2);
	assert_value(res, "messages_echoed", 2);
	json_decref(res);
	json_decref(ctx);
	mrules_free(m);
	catalog_free(c);
}
END_TEST

/* ---- ngtcp2: real logs ------------------------------------------------------------------ */

START_TEST(ngtcp2_real_downloads)
{
	static const struct {
		const char *log;
		double bytes, us;
	} runs[] = {
		{ "ngtcp2-1M/services/client/logs", 1048576, 131440 },
		{ "ngtcp2-1M-run2/services/client/logs", 1048576, 186041 },
		{ "ngtcp2-1M-run3/services/client/logs", 1048576, 163277 },
		{ "ngtcp2-10M-bbr/services/client/logs", 10485760, 433385 },
		/* verbose: the line sits among ngtcp2's packet trace */
		{ "ngtcp2-1K-verbose/services/client/logs", 1024, 71622 },
	};
	struct catalog *c = shipped();
	struct mrules *m = rules_of(c, "ngtcp2", "rfc9000", "gtlsclient", "client");

	for (size_t i = 0; i < PFS_ARRAY_SIZE(runs); i++) {
		json_t *res = extract(m, NULL, runs[i].log, (struct mx_end){ MX_EXITED, 0, "client" });

		assert_value(res, "received_bytes", runs[i].bytes);
		assert_value(res, "duration", runs[i].us / 1e6);
		assert_value(res, "throughput", runs[i].bytes * 8 / (runs[i].us / 1e6));
		json_decref(res);
	}
	mrules_free(m);
	catalog_free(c);
}
END_TEST

START_TEST(ngtcp2_failed_download)
{
	struct catalog *c = shipped();
	struct mrules *m = rules_of(c, "ngtcp2", "rfc9000", "gtlsclient", "client");
	json_t *res = extract(m, NULL, "ngtcp2-handshake-timeout/services/client/logs",
			      (struct mx_end){ MX_EXITED, 1, "client" });
	static const char why[] = "no line matched \"pantherfs: received {bytes} bytes in {us} microseconds\" "
				  "(the client exited 1 before printing it)";

	assert_null(res, "received_bytes", why);
	assert_null(res, "duration", why);
	assert_null(res, "throughput", why);
	json_decref(res);
	mrules_free(m);
	catalog_free(c);
}
END_TEST

/* ---- the extractor's edges ------------------------------------------------------------------ */

static struct mrules *rules_yaml(const char *yaml)
{
	struct ydoc *d = NULL;
	struct mrules *m = NULL;
	struct pfs_err err = { 0 };

	ck_assert_msg(ydoc_parse("t.yaml", yaml, strlen(yaml), &d, &err) == 0, "%s", err.msg);
	ck_assert_msg(mrules_parse(ydoc_root(d), d, "t.yaml", "m", &m, &err) == 0, "%s", err.msg);
	ydoc_free(d);
	return m;
}

static json_t *run_text(const struct mrules *m, const json_t *ctx, const char *text, size_t step, struct mx_end end)
{
	struct mx *x = NULL;
	size_t n = strlen(text);
	json_t *res;

	ck_assert_int_eq(mx_new(m, ctx, &x), 0);
	for (size_t i = 0; i < n; i += step)
		mx_feed(x, text + i, PFS_MIN(step, n - i));
	res = mx_result(x, &end);
	mx_free(x);
	return res;
}

START_TEST(patterns_numbers_and_words)
{
	struct mrules *m = rules_yaml(
		"dot: {line: \"in {s}.\", unit: s}\n"
		"rate: {line: \"at {x}Mb/s\", unit: Mb/s}\n"
		"sci: {line: \"v={x};\", unit: x}\n"
		"echoes: {count: \"echo {message}\", unit: messages}\n"
		"brace: {line: \"{{id}} {n}\", unit: x}\n"
		"prod: {line: \"{a} x {b} =\", value: a * b, unit: x, scale: 0.5}\n");
	json_t *ctx = json_pack("{s:[s,s]}", "messages", "hi", "hello world");
	const char *log = "done in 3.\nnow at 5402.9Mb/s\nv=-1.5e+3;\n"
			  "echo hit\necho hi\necho hi there\necho hello world\necho hello\n"
			  "{id} 42\n6 x 7 = 42\r\n";
	struct mx_end end = { MX_EXITED, 0, "client" };
	json_t *whole = run_text(m, ctx, log, strlen(log), end), *bytes = run_text(m, ctx, log, 1, end);

	assert_value(whole, "dot", 3);                 /* "3." backs off to "3" for the "." */
	assert_value(whole, "rate", 5402.9);
	assert_value(whole, "sci", -1500);
	assert_value(whole, "echoes", 3);              /* not "echo hit", not "echo hello" */
	assert_value(whole, "brace", 42);
	assert_value(whole, "prod", 21);               /* 6 * 7 * 0.5, the line ended with CRLF */
	ck_assert_msg(json_equal(whole, bytes), "chunking changed the result");
	json_decref(whole);
	json_decref(bytes);
	json_decref(ctx);
	mrules_free(m);
}
END_TEST

START_TEST(lines_end_lives_and_limits)
{
	struct mrules *m = rules_yaml("b: {line: \"got {n} bytes\", unit: B}\n"
				      "r: {from: [{line: \"sent {a} in {t} s\", value: a / t}, {line: \"rate {r}\"}], unit: B/s}\n");
	struct pfs_buf big = PFS_BUF_INIT(1u << 20);
	json_t *res;

	/* a last line without a newline counts once the service has ended, not while it runs */
	res = run_text(m, NULL, "got 5 bytes", 4, (struct mx_end){ MX_RUNNING, 0, "client" });
	assert_null(res, "b", "no line matched \"got {n} bytes\" yet");
	json_decref(res);
	res = run_text(m, NULL, "got 5 bytes", 4, (struct mx_end){ MX_STOPPED, 0, "client" });
	assert_value(res, "b", 5);
	json_decref(res);
	/* the last matching line wins */
	res = run_text(m, NULL, "got 5 bytes\ngot 7 bytes\n", 3, (struct mx_end){ MX_EXITED, 0, NULL });
	assert_value(res, "b", 7);
	json_decref(res);
	/* division by zero: the next source, and the reason when there is none */
	res = run_text(m, NULL, "sent 10 in 0 s\nrate 4\n", 64, (struct mx_end){ MX_EXITED, 0, NULL });
	assert_value(res, "r", 4);
	json_decref(res);
	res = run_text(m, NULL, "sent 10 in 0 s\n", 64, (struct mx_end){ MX_EXITED, 2, NULL });
	assert_null(res, "r", "no line matched \"rate {r}\" (the service exited 2 before printing it); "
			      "\"sent {a} in {t} s\" gave t = 0: cannot divide by it");
	json_decref(res);
	/* never started */
	res = run_text(m, NULL, "", 1, (struct mx_end){ MX_NEVER_STARTED, 0, "server" });
	assert_null(res, "b", "the server never started");
	assert_null(res, "r", "the server never started");
	json_decref(res);
	/* a line longer than MX_LINE_MAX: matched on its start; the next line is whole again */
	for (size_t i = 0; i < MX_LINE_MAX + 100; i++)
		ck_assert_int_eq(pfs_buf_addc(&big, 'x'), 0);
	ck_assert_int_eq(pfs_buf_addstr(&big, " got 9 bytes\ngot 3 bytes\n"), 0);
	res = run_text(m, NULL, big.ptr, 4096, (struct mx_end){ MX_EXITED, 0, NULL });
	assert_value(res, "b", 3);
	json_decref(res);
	pfs_buf_release(&big);
	mrules_free(m);
}
END_TEST

/* Every bad rule is refused with its line, column and what is wrong. */
START_TEST(bad_rules_are_named)
{
	static const struct {
		const char *yaml, *msg;
	} cases[] = {
		{ "client:\n  x: {line: \"a {n}\"}\n", "t.yaml:2:6: m.client.x: unit: needed, 1-32 characters (B, s, bit/s, messages, ...)" },
		{ "client:\n  x: {unit: B}\n", "t.yaml:2:6: m.client.x: needs line, count or setting (or from:)" },
		{ "client:\n  x: {unit: B, line: \"a {n\"}\n",
		  "t.yaml:2:22: m.client.x.line: unclosed { at offset 2 (write {{ for a brace)" },
		{ "client:\n  x: {unit: B, line: \"a {n} b {m}\"}\n",
		  "t.yaml:2:22: m.client.x: value: needed, the line has 2 placeholders (n, m)" },
		{ "client:\n  x: {unit: B, line: \"a {n} b {m}\", value: n / k}\n",
		  "t.yaml:2:44: m.client.x: value: \"k\" is not a placeholder of the line (it has: n, m)" },
		{ "client:\n  x: {unit: B, line: \"{a}{b} x\"}\n",
		  "t.yaml:2:22: m.client.x.line: {b} follows another placeholder: put text between them" },
		{ "client:\n  x: {unit: B, line: \"{a}\"}\n",
		  "t.yaml:2:22: m.client.x.line: a pattern needs some text besides its placeholders" },
		{ "client:\n  x: {unit: B, line: \"a {n}\", scale: 1e-6}\n",
		  "t.yaml:2:38: m.client.x: scale: must be a number (YAML reads 1e-6 as text: write 0.000001 or 1.0e-6)" },
		{ "client:\n  x: {unit: B, line: \"a {n}\", count: \"b\"}\n",
		  "t.yaml:2:38: m.client.x: line and count: one source at a time (list alternatives under from:)" },
		{ "client:\n  x: {unit: B, lines: \"a {n}\"}\n",
		  "t.yaml:2:23: m.client.x: unknown key \"lines\" (known: unit, line, count, setting, value, scale, from)" },
		{ "client:\n  2x: {unit: B, line: \"a {n}\"}\n",
		  "t.yaml:2:7: m.client.2x: a metric's name is 1-64 letters, digits and _, starting with a letter" },
		{ "peer:\n  x: {unit: B, line: \"a {n}\"}\n", "t.yaml:2:3: m.peer: roles are server and client" },
		{ "client:\n  x: {unit: B, count: \"echo {message} {message}\"}\n",
		  "t.yaml:2:23: m.client.x.count: {message} appears twice" },
		{ "client:\n  x: {unit: B, from: [{line: \"a {n}\"}, {line: \"b {n}\", unit: s}]}\n",
		  "t.yaml:2:62: m.client.x.from[1]: unknown key \"unit\" (a source has line, count or setting, value, scale)" },
		{ "client:\n  x: {unit: B, setting: \"a b\"}\n",
		  "t.yaml:2:25: m.client.x: setting: the name of a template value (messages, duration, ...)" },
	};

	for (size_t i = 0; i < PFS_ARRAY_SIZE(cases); i++) {
		struct ydoc *d = NULL;
		struct pfs_err err = { 0 };

		ck_assert_int_eq(ydoc_parse("t.yaml", cases[i].yaml, strlen(cases[i].yaml), &d, NULL), 0);
		ck_assert_int_eq(mrules_check(ydoc_root(d), d, "t.yaml", "m", &err), -EINVAL);
		ck_assert_msg(!strcmp(err.msg, cases[i].msg), "case %zu: %s", i, err.msg);
		ydoc_free(d);
	}
}
END_TEST

/* The catalogue refuses a version config with a bad rule at start, naming its file and line. */
START_TEST(catalogue_checks_rules)
{
	static const struct {
		const char *path, *text;
	} files[] = {
		{ "version_configs/demo/implementation.yaml",
		  "name: demo\ndescription: d\ndefault_version: v1\nversions: [v1]\ndefault_program: srv\n"
		  "keys:\n  server_port:\n    srv: {template: port}\n" },
		{ "version_configs/demo/v1.yaml",
		  "version: v1\ndescription: d\nprograms:\n  srv:\n    path: /bin/srv\n    roles: [server, client]\n"
		  "    template: srv.jinja\n    flags: {port: int}\n    metrics:\n      client:\n"
		  "        rate: {unit: bit/s, line: \"rate {r}\", scale: 0}\n" },
		{ "templates/demo/srv.jinja", "{{ program.path }}" },
	};
	char dir[] = "/tmp/pfs-res-XXXXXX";
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (size_t i = 0; i < PFS_ARRAY_SIZE(files); i++) {
		char path[512], *slash;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i].path);
		slash = strrchr(path, '/');
		*slash = '\0';
		ck_assert_int_eq(pfs_mkdir_p(path, 0755), 0);
		*slash = '/';
		ck_assert_int_eq(pfs_write_file_atomic(path, files[i].text, strlen(files[i].text)), 0);
	}
	ck_assert_int_eq(catalog_load(dir, &c, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "version_configs/demo/v1.yaml:11:54: programs.srv.metrics.client.rate: "
				  "scale: must be a finite number other than 0");
	catalog_free(c);
	pfs_rm_rf(dir);
}
END_TEST

/* ---- result.json -------------------------------------------------------------------------------- */

START_TEST(compose_from_struct)
{
	json_t *met = json_pack("{s:{s:i,s:s}}", "throughput", "value", 42, "unit", "bit/s");
	json_t *set = json_pack("{s:s}", "client.congestion_control", "bbr"), *res = NULL;
	struct res_service svc[] = {
		{ "server", "server", "mvfst", "rfc9000", "tperf", 1000, 1200, 5000, 143, true, NULL },
		{ "client", "client", "mvfst", "rfc9000", "tperf", 1300, -1, 4900, 0, false, met },
	};
	struct res_run run = { .test = "t1", .run = 7, .iteration = 2, .iterations = 5, .verdict = "succeeded",
			       .reason = "1 client finished", .queued_wall_ms = 1796294333177LL, .image_ms = 19,
			       .network_ms = -1, .client_finished_ms = 4900, .end_ms = 5100, .settings = set,
			       .svc = svc, .n_svc = 2 };
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);

	ck_assert_int_eq(results_compose(&run, &res), 0);
	ck_assert_str_eq(json_string_value(json_object_get(res, "time")), "2026-12-03T10:38:53.177000Z");
	ck_assert_int_eq(json_integer_value(json_object_get(res, "iteration")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(res, "iterations")), 5);
	ck_assert(json_is_null(json_object_get(json_object_get(res, "timings_ms"), "network")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(res, "timings_ms"), "end")), 5100);
	ck_assert(json_is_null(json_object_get(json_object_get(json_object_get(json_object_get(res, "services"), "client"),
							     "timings_ms"), "ready")));
	ck_assert(json_is_true(json_object_get(json_object_get(json_object_get(res, "services"), "server"), "stopped")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
				 res, "services"), "client"), "metrics"), "throughput"), "value")), 42);
	ck_assert_int_eq(results_text(res, &b), 0);
	/* keys in the documented order, one newline at the end */
	ck_assert_ptr_nonnull(strstr(b.ptr, "{\n  \"test\": \"t1\",\n  \"run\": 7,\n  \"iteration\": 2,"));
	ck_assert_int_eq(b.ptr[b.len - 1], '\n');
	ck_assert_int_ne(b.ptr[b.len - 2], '\n');
	pfs_buf_release(&b);
	json_decref(res);
	/* a run without a series is iteration 1 of 1; a service without a name is refused */
	run.iteration = run.iterations = 0;
	ck_assert_int_eq(results_compose(&run, &res), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(res, "iterations")), 1);
	json_decref(res);
	svc[1].name = NULL;
	ck_assert_int_eq(results_compose(&run, &res), -EINVAL);
	json_decref(met);
	json_decref(set);
}
END_TEST

static json_t *from_dir(struct catalog *c, const char *name, int run)
{
	char *dir = fixture(name);
	struct pfs_err err = { 0 };
	json_t *res = NULL;

	ck_assert_msg(results_from_run_dir(c, dir, "t", run, &res, &err) == 0, "%s", err.msg);
	free(dir);
	return res;
}

static json_t *path_get(json_t *j, const char *a, const char *b, const char *c)
{
	j = json_object_get(j, a);
	if (b)
		j = json_object_get(j, b);
	if (c)
		j = json_object_get(j, c);
	return j;
}

START_TEST(result_of_a_real_run_dir)
{
	struct catalog *c = shipped();
	json_t *res = from_dir(c, "ngtcp2-1M", 1), *cl, *sv;

	/* times from the fixture's run.json (created_ms 1796294333177 = 10:38:53.177) and events */
	ck_assert_str_eq(json_string_value(json_object_get(res, "verdict")), "succeeded");
	ck_assert_str_eq(json_string_value(json_object_get(res, "reason")), "1 client finished");
	ck_assert_str_eq(json_string_value(json_object_get(res, "time")), "2026-12-03T10:38:53.177000Z");
	ck_assert_int_eq(json_integer_value(path_get(res, "timings_ms", "image", NULL)), 19);     /* 53.196 */
	ck_assert_int_eq(json_integer_value(path_get(res, "timings_ms", "network", NULL)), 181);  /* 53.358 */
	ck_assert_int_eq(json_integer_value(path_get(res, "timings_ms", "client_finished", NULL)), 2815); /* 55.992 */
	ck_assert_int_eq(json_integer_value(path_get(res, "timings_ms", "end", NULL)), 3373);     /* 56.550 */
	sv = path_get(res, "services", "server", NULL);
	cl = path_get(res, "services", "client", NULL);
	ck_assert_int_eq(json_integer_value(path_get(sv, "timings_ms", "started", NULL)), 1251);  /* 54.428 */
	ck_assert_int_eq(json_integer_value(path_get(sv, "timings_ms", "ready", NULL)), 1467);    /* 54.644 */
	ck_assert_int_eq(json_integer_value(json_object_get(sv, "exit_code")), 143);
	ck_assert(json_is_true(json_object_get(sv, "stopped")));
	ck_assert_int_eq(json_integer_value(path_get(cl, "timings_ms", "started", NULL)), 2529);  /* 55.706 */
	ck_assert_int_eq(json_integer_value(json_object_get(cl, "exit_code")), 0);
	ck_assert(json_is_false(json_object_get(cl, "stopped")));
	ck_assert_int_eq(json_integer_value(path_get(cl, "metrics", "received_bytes", "value")), 1048576);
	ck_assert(fabs(json_real_value(path_get(cl, "metrics", "duration", "value")) - 0.13144) < 1e-12);
	ck_assert_int_eq(json_object_size(json_object_get(sv, "metrics")), 0);
	ck_assert_str_eq(json_string_value(path_get(res, "settings", "client.download", NULL)), "1M");
	ck_assert_str_eq(json_string_value(path_get(res, "settings", "server.program", NULL)), "gtlsserver");
	ck_assert_int_eq(json_integer_value(json_object_get(res, "iterations")), 1);
	json_decref(res);

	/* a failed run: its verdict, the client's exit code, null metrics with the reason */
	res = from_dir(c, "ngtcp2-handshake-timeout", 4);
	ck_assert_str_eq(json_string_value(json_object_get(res, "verdict")), "failed");
	ck_assert_str_eq(json_string_value(json_object_get(res, "reason")), "client client exited 1");
	cl = path_get(res, "services", "client", NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(cl, "exit_code")), 1);
	ck_assert(json_is_null(path_get(cl, "metrics", "throughput", "value")));
	ck_assert_str_eq(json_string_value(path_get(cl, "metrics", "throughput", "reason")),
			 "no line matched \"pantherfs: received {bytes} bytes in {us} microseconds\" "
			 "(the client exited 1 before printing it)");
	ck_assert(json_real_value(path_get(res, "settings", "client.tx-loss", NULL)) == 1.0);
	json_decref(res);

	/* a testcase no pair could run: its own final word, and nothing started */
	res = from_dir(c, "testcase-unsupported", 2);
	ck_assert_str_eq(json_string_value(json_object_get(res, "verdict")), "unsupported");
	ck_assert_str_eq(json_string_value(json_object_get(res, "reason")),
			 "testcase transfer: mvfst draft29 has no program that runs the interop test cases as a server");
	ck_assert(json_is_integer(path_get(res, "timings_ms", "end", NULL)));
	ck_assert(json_is_null(path_get(res, "timings_ms", "image", NULL)));
	cl = path_get(res, "services", "client", NULL);
	ck_assert(json_is_null(path_get(cl, "timings_ms", "started", NULL)));
	ck_assert(json_is_null(json_object_get(cl, "exit_code")));
	json_decref(res);
	catalog_free(c);
}
END_TEST

/* ---- summaries ------------------------------------------------------------------------------------ */

static json_t *mk_result(int run, const char *cc, const char *verdict, double tput, double dur)
{
	json_t *met = json_object();

	json_object_set_new(met, "throughput", isnan(tput) ? json_pack("{s:n,s:s,s:s}", "value", "unit", "bit/s",
								       "reason", "no line matched")
							    : json_pack("{s:f,s:s}", "value", tput, "unit", "bit/s"));
	json_object_set_new(met, "duration", isnan(dur) ? json_pack("{s:n,s:s}", "value", "unit", "s")
							: json_pack("{s:f,s:s}", "value", dur, "unit", "s"));
	return json_pack("{s:s,s:i,s:i,s:i,s:s,s:s,s:{s:s,s:s,s:s,s:s},s:{s:{s:s,s:s,s:{}},s:{s:s,s:s,s:o}}}",
			 "test", "t", "run", run, "iteration", 1, "iterations", 1, "verdict", verdict, "time",
			 "2026-12-03T10:00:00.000000Z", "settings", "server.implementation", "mvfst", "server.version",
			 "rfc9000", "client.implementation", "mvfst", "client.congestion_control", cc, "services",
			 "server", "implementation", "mvfst", "version", "rfc9000", "metrics", "client",
			 "implementation", "mvfst", "version", "rfc9000", "metrics", met);
}

/*
 * Configuration 1 (bbr): runs 1, 2, 4 with throughput 100, 200, 600 and
 * verdicts succeeded, succeeded, failed; durations 3, 3, 4.
 *   pass rate 2/3; throughput min 100, median 200, mean 300, max 600,
 *   sample stddev sqrt(((-200)^2 + (-100)^2 + 300^2) / 2) = sqrt(70000)
 *   = 264.575131106459; duration mean 10/3, median 3, stddev
 *   sqrt((1/9 + 1/9 + 4/9) / 2) = sqrt(1/3) = 0.577350269189626.
 * Configuration 2 (cubic): runs 3 (50, succeeded) and 5 (null, failed):
 *   pass rate 0.5, one throughput value: 50 everywhere, no stddev;
 *   durations 2 and null.
 */
static const char expected_tsv[] =
	"kind\trun\titeration\ttime\tconfig\tserver.implementation\tserver.version\tclient.implementation\tclient.version"
	"\tclient.congestion_control\tverdict\tclient.throughput[bit/s]\tclient.duration[s]\n"
	"run\t1\t1/1\t2026-12-03T10:00:00.000000Z\t1\tmvfst\trfc9000\tmvfst\trfc9000\tbbr\tsucceeded\t100\t3\n"
	"run\t2\t1/1\t2026-12-03T10:00:00.000000Z\t1\tmvfst\trfc9000\tmvfst\trfc9000\tbbr\tsucceeded\t200\t3\n"
	"run\t3\t1/1\t2026-12-03T10:00:00.000000Z\t2\tmvfst\trfc9000\tmvfst\trfc9000\tcubic\tsucceeded\t50\t2\n"
	"run\t4\t1/1\t2026-12-03T10:00:00.000000Z\t1\tmvfst\trfc9000\tmvfst\trfc9000\tbbr\tfailed\t600\t4\n"
	"run\t5\t1/1\t2026-12-03T10:00:00.000000Z\t2\tmvfst\trfc9000\tmvfst\trfc9000\tcubic\tfailed\t\t\n"
	"count\t\t\t\t1\tmvfst\trfc9000\tmvfst\trfc9000\tbbr\t3\t3\t3\n"
	"pass_rate\t\t\t\t1\tmvfst\trfc9000\tmvfst\trfc9000\tbbr\t0.666666666666667\t\t\n"
	"min\t\t\t\t1\tmvfst\trfc9000\tmvfst\trfc9000\tbbr\t\t100\t3\n"
	"median\t\t\t\t1\tmvfst\trfc9000\tmvfst\trfc9000\tbbr\t\t200\t3\n"
	"mean\t\t\t\t1\tmvfst\trfc9000\tmvfst\trfc9000\tbbr\t\t300\t3.33333333333333\n"
	"max\t\t\t\t1\tmvfst\trfc9000\tmvfst\trfc9000\tbbr\t\t600\t4\n"
	"stddev\t\t\t\t1\tmvfst\trfc9000\tmvfst\trfc9000\tbbr\t\t264.575131106459\t0.577350269189626\n"
	"count\t\t\t\t2\tmvfst\trfc9000\tmvfst\trfc9000\tcubic\t2\t1\t1\n"
	"pass_rate\t\t\t\t2\tmvfst\trfc9000\tmvfst\trfc9000\tcubic\t0.5\t\t\n"
	"min\t\t\t\t2\tmvfst\trfc9000\tmvfst\trfc9000\tcubic\t\t50\t2\n"
	"median\t\t\t\t2\tmvfst\trfc9000\tmvfst\trfc9000\tcubic\t\t50\t2\n"
	"mean\t\t\t\t2\tmvfst\trfc9000\tmvfst\trfc9000\tcubic\t\t50\t2\n"
	"max\t\t\t\t2\tmvfst\trfc9000\tmvfst\trfc9000\tcubic\t\t50\t2\n"
	"stddev\t\t\t\t2\tmvfst\trfc9000\tmvfst\trfc9000\tcubic\t\t\t\n";

static void five(json_t **v)
{
	v[0] = mk_result(4, "bbr", "failed", 600, 4);
	v[1] = mk_result(1, "bbr", "succeeded", 100, 3);
	v[2] = mk_result(5, "cubic", "failed", NAN, NAN);
	v[3] = mk_result(3, "cubic", "succeeded", 50, 2);
	v[4] = mk_result(2, "bbr", "succeeded", 200, 3);
}

START_TEST(summary_aggregates_by_hand)
{
	json_t *v[5], *j;
	struct summary *s = NULL;
	struct pfs_err err = { 0 };
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);

	five(v);
	ck_assert_msg(summary_build("t", v, 5, &s, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(summary_n_runs(s), 5);
	ck_assert_uint_eq(summary_n_configs(s), 2);
	ck_assert_int_eq(summary_tsv(s, &b), 0);
	ck_assert_str_eq(b.ptr, expected_tsv);
	j = summary_json(s);
	ck_assert_ptr_nonnull(j);
	/* the same figures in summary.json */
	{
		json_t *c1 = json_array_get(json_object_get(j, "configs"), 0);
		json_t *tp = json_object_get(json_object_get(c1, "metrics"), "client.throughput");

		ck_assert_int_eq(json_integer_value(json_object_get(c1, "runs")), 3);
		ck_assert_int_eq(json_integer_value(json_object_get(c1, "passed")), 2);
		ck_assert_int_eq(json_integer_value(json_object_get(tp, "median")), 200);
		ck_assert(fabs(json_real_value(json_object_get(tp, "stddev")) - sqrt(70000.0)) < 1e-9);
		ck_assert(json_is_null(json_object_get(json_object_get(json_object_get(json_array_get(
			json_object_get(j, "configs"), 1), "metrics"), "client.throughput"), "stddev")));
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(json_object_get(j, "runs"), 2),
										   "settings"), "client.congestion_control")), "cubic");
		ck_assert(json_is_null(json_object_get(json_object_get(json_array_get(json_object_get(j, "runs"), 4), "metrics"),
						       "client.throughput")));
	}
	json_decref(j);
	summary_free(s);
	pfs_buf_release(&b);
	for (int i = 0; i < 5; i++)
		json_decref(v[i]);
}
END_TEST

static void outputs(json_t **v, size_t n, struct pfs_buf *tsv, struct pfs_buf *js, struct pfs_buf *svg)
{
	struct summary *s = NULL;
	struct pfs_err err = { 0 };
	json_t *j;

	ck_assert_msg(summary_build("t", v, n, &s, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(summary_tsv(s, tsv), 0);
	j = summary_json(s);
	ck_assert_int_eq(results_text(j, js), 0);
	ck_assert_msg(summary_svg(s, svg, &err) == 0, "%s", err.msg);
	json_decref(j);
	summary_free(s);
}

START_TEST(summary_is_deterministic)
{
	json_t *v[5], *w[5];
	struct pfs_buf t1 = PFS_BUF_INIT(1u << 20), j1 = PFS_BUF_INIT(1u << 20), s1 = PFS_BUF_INIT(8u << 20);
	struct pfs_buf t2 = PFS_BUF_INIT(1u << 20), j2 = PFS_BUF_INIT(1u << 20), s2 = PFS_BUF_INIT(8u << 20);
	size_t circles = 0;

	five(v);
	for (int i = 0; i < 5; i++)
		w[i] = v[(i + 2) % 5];
	outputs(v, 5, &t1, &j1, &s1);
	outputs(w, 5, &t2, &j2, &s2);
	ck_assert_str_eq(t1.ptr, t2.ptr);
	ck_assert_str_eq(j1.ptr, j2.ptr);
	ck_assert_str_eq(s1.ptr, s2.ptr);
	ck_assert_ptr_nonnull(strstr(s1.ptr, "<svg "));
	ck_assert_ptr_nonnull(strstr(s1.ptr, "client.throughput (bit/s)"));
	/* 4 throughput and 4 duration points, and 2 legend markers */
	for (const char *p = s1.ptr; (p = strstr(p, "<circle ")); p++)
		circles++;
	ck_assert_uint_eq(circles, 10);
	for (int i = 0; i < 5; i++)
		json_decref(v[i]);
	pfs_buf_release(&t1);
	pfs_buf_release(&j1);
	pfs_buf_release(&s1);
	pfs_buf_release(&t2);
	pfs_buf_release(&j2);
	pfs_buf_release(&s2);
}
END_TEST

START_TEST(summary_refuses_bad_input_and_escapes)
{
	json_t *v[2] = { mk_result(1, "bbr", "succeeded", 1, 1), mk_result(1, "bbr", "failed", 2, 2) };
	json_t *odd = mk_result(2, "a\tb\nc\x01" "d\xc2\x85" "e\\", "succeeded", 1, 1), *w[2];
	struct summary *s = NULL;
	struct pfs_err err = { 0 };
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);

	ck_assert_int_eq(summary_build("t", v, 2, &s, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "run 1: two results (entries 0 and 1)");
	/* no runs yet: a header, no rows, and still a picture */
	ck_assert_int_eq(summary_build("t", NULL, 0, &s, &err), 0);
	ck_assert_int_eq(summary_tsv(s, &b), 0);
	ck_assert_str_eq(b.ptr, "kind\trun\titeration\ttime\tconfig\tverdict\n");
	pfs_buf_reset(&b);
	ck_assert_int_eq(summary_svg(s, &b, &err), 0);
	ck_assert_ptr_nonnull(strstr(b.ptr, "no runs yet"));
	pfs_buf_reset(&b);
	summary_free(s);
	s = NULL;
	w[0] = json_pack("{s:s}", "test", "t");
	ck_assert_int_eq(summary_build("t", w, 1, &s, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "result 0: not a result.json object with a run number");
	json_decref(w[0]);
	w[0] = v[0];
	w[1] = odd;
	ck_assert_int_eq(summary_build("t", w, 2, &s, &err), 0);
	ck_assert_int_eq(summary_tsv(s, &b), 0);
	ck_assert_ptr_nonnull(strstr(b.ptr, "\ta\\tb\\nc\\x01d\\u0085e\\\\\t"));
	for (const char *p = b.ptr; *p; p++)
		ck_assert_msg((unsigned char)*p >= 0x20 || *p == '\t' || *p == '\n', "raw control byte 0x%02x", *p);
	summary_free(s);
	pfs_buf_release(&b);
	json_decref(v[0]);
	json_decref(v[1]);
	json_decref(odd);
}
END_TEST

START_TEST(root_summary_one_row_per_test)
{
	json_t *a = mk_result(3, "bbr", "succeeded", 5665478656.0, 3), *b = mk_result(1, "cubic", "failed", NAN, 2);
	json_t *v[3] = { NULL, a, b };
	struct pfs_buf out = PFS_BUF_INIT(1u << 20);

	json_object_set_new(a, "test", json_string("zeta"));
	json_object_set_new(a, "reason", json_string("1 client finished"));
	json_object_set_new(b, "test", json_string("alpha"));
	json_object_set_new(b, "reason", json_string("client client exited 1"));
	json_object_set_new(b, "iteration", json_integer(2));
	json_object_set_new(b, "iterations", json_integer(5));
	ck_assert_int_eq(summary_root_tsv(v, 3, &out), 0);
	ck_assert_str_eq(out.ptr,
			 "test\trun\titeration\ttime\tverdict\treason\tservices\tmetrics\n"
			 "alpha\t1\t2/5\t2026-12-03T10:00:00.000000Z\tfailed\tclient client exited 1\t"
			 "server=mvfst/rfc9000, client=mvfst/rfc9000\tclient.duration=2 s\n"
			 "zeta\t3\t1/1\t2026-12-03T10:00:00.000000Z\tsucceeded\t1 client finished\t"
			 "server=mvfst/rfc9000, client=mvfst/rfc9000\tclient.throughput=5665478656 bit/s, client.duration=3 s\n");
	pfs_buf_release(&out);
	json_decref(a);
	json_decref(b);
}
END_TEST

/* Real runs: the same config three times, another config, a failed one. */
START_TEST(summary_of_real_runs)
{
	static const char *const dirs[] = { "ngtcp2-1M", "ngtcp2-1M-run2", "ngtcp2-1M-run3", "ngtcp2-10M-bbr",
					    "ngtcp2-handshake-timeout" };
	struct catalog *c = shipped();
	json_t *v[5], *j, *c1;
	struct summary *s = NULL;
	struct pfs_err err = { 0 };
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);

	for (int i = 0; i < 5; i++)
		v[i] = from_dir(c, dirs[i], i + 1);
	ck_assert_msg(summary_build("dl", v, 5, &s, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(summary_n_configs(s), 3);
	ck_assert_int_eq(summary_tsv(s, &b), 0);
	/* the varied settings are the columns, in the order they first appear */
	ck_assert_ptr_nonnull(strstr(b.ptr, "\tclient.download\tclient.congestion_control\tclient.tx-loss\t"
					    "client.handshake-timeout\tverdict\t"));
	ck_assert_ptr_nonnull(strstr(b.ptr, "\nrun\t5\t1/1\t2026-12-03T10:38:53.225000Z\t3\tngtcp2\trfc9000\t"
					    "ngtcp2\trfc9000\t1M\t\t1\t3s\tfailed\t\t\t\n"));
	j = summary_json(s);
	c1 = json_object_get(json_object_get(json_array_get(json_object_get(j, "configs"), 0), "metrics"),
			     "client.duration");
	/* durations 0.131440, 0.186041, 0.163277 s: mean 0.480758 / 3, median 0.163277 */
	ck_assert_int_eq(json_integer_value(json_object_get(c1, "count")), 3);
	ck_assert(fabs(json_real_value(json_object_get(c1, "mean")) - 0.480758 / 3) < 1e-12);
	ck_assert(fabs(json_real_value(json_object_get(c1, "median")) - 0.163277) < 1e-12);
	ck_assert(fabs(json_number_value(json_object_get(json_array_get(json_object_get(j, "configs"), 2), "pass_rate"))) == 0);
	json_decref(j);
	summary_free(s);
	pfs_buf_release(&b);
	for (int i = 0; i < 5; i++)
		json_decref(v[i]);
	catalog_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("results");
	TCase *t = tcase_create("metrics");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, mvfst_tperf_every_version);
	tcase_add_test(t, mvfst_tperf_streams_and_fallback);
	tcase_add_test(t, mvfst_echo_every_version);
	tcase_add_test(t, mvfst_real_rfc9000);
	tcase_add_test(t, ngtcp2_real_downloads);
	tcase_add_test(t, ngtcp2_failed_download);
	tcase_add_test(t, patterns_numbers_and_words);
	tcase_add_test(t, lines_end_lives_and_limits);
	tcase_add_test(t, bad_rules_are_named);
	tcase_add_test(t, catalogue_checks_rules);
	suite_add_tcase(s, t);
	t = tcase_create("result");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, compose_from_struct);
	tcase_add_test(t, result_of_a_real_run_dir);
	suite_add_tcase(s, t);
	t = tcase_create("summary");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, summary_aggregates_by_hand);
	tcase_add_test(t, summary_is_deterministic);
	tcase_add_test(t, summary_refuses_bad_input_and_escapes);
	tcase_add_test(t, root_summary_one_row_per_test);
	tcase_add_test(t, summary_of_real_runs);
	suite_add_tcase(s, t);
	return pfs_check_run(s);
}
