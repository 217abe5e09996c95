/* SPDX-License-Identifier: MIT */
/*
 * How fast results are made, in one process, no engine:
 *
 *   summary   1000 result.json texts (4 configurations, 3 metrics each, some
 *             null) to summary.tsv, summary.json and summary.svg: parsing,
 *             building, writing each; what a run's end costs a test with
 *             1000 runs before `cat summary.tsv` can answer from memory
 *   root      the mount root's summary.tsv from 1000 tests' last results
 *   extract   the metric rules of mvfst's tperf client over a 64 MiB log
 *             (glog lines, the report at the end), fed 64 KiB chunks
 *   rebuild   result.json of a real run dir (tests/fixtures/results/
 *             ngtcp2-1M) 1000 times: what rebuilding a test's results after
 *             a restart costs (config planned, events and logs read)
 *
 * Usage: bench_results [SOURCE_DIR]   (default $PFS_SOURCE_DIR, else ".")
 * Prints "NAME: VALUE UNIT (what)" lines. Each measurement checks its
 * output (rows, configurations, the extracted values) and the program exits
 * 1 when one is wrong.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pantherfs/catalog.h"
#include "pantherfs/metrics.h"
#include "pantherfs/results.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define RUNS 1000

static int failures;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what)
{
	fprintf(stderr, "bench_results: %s\n", what);
	failures++;
}

/* result.json of run i: what results_compose writes, with deterministic values. */
static char *result_text(int i)
{
	static const char *const cc[] = { "cubic", "bbr", "newreno", "copa" };
	json_t *met = json_pack("{s:{s:f,s:s},s:{s:i,s:s},s:{s:i,s:s}}", "throughput", "value",
				1e9 * (1 + (i % 4) + 0.001 * (i % 97)), "unit", "bit/s", "received_bytes", "value",
				1000000 + i, "unit", "B", "duration", "value", 3, "unit", "s");
	struct res_service svc[2] = {
		{ "server", "server", "mvfst", "rfc9000", "tperf", 900, 1000, 5000, 143, true, NULL },
		{ "client", "client", "mvfst", "rfc9000", "tperf", 1100, -1, 4100, 0, false, met },
	};
	json_t *set = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "server.implementation", "mvfst", "server.version",
				"rfc9000", "client.implementation", "mvfst", "client.version", "rfc9000",
				"client.congestion_control", cc[i % 4], "client.duration", 3);
	struct res_run run = { .test = "bench", .run = i + 1, .iteration = i % 10 + 1, .iterations = 10,
			       .verdict = i % 17 ? "succeeded" : "failed", .reason = "1 client finished",
			       .queued_wall_ms = 1796294333177LL + 10000LL * i, .image_ms = 20, .network_ms = 180,
			       .client_finished_ms = 4100, .end_ms = 5200, .settings = set, .svc = svc, .n_svc = 2 };
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	json_t *res = NULL;
	char *txt = NULL;

	if (i % 50 == 7)   /* some runs without a throughput */
		json_object_set_new(json_object_get(met, "throughput"), "value", json_null());
	if (results_compose(&run, &res) == 0 && results_text(res, &b) == 0)
		txt = pfs_buf_steal(&b, NULL);
	pfs_buf_release(&b);
	json_decref(res);
	json_decref(met);
	json_decref(set);
	return txt;
}

static void bench_summary(void)
{
	struct pfs_buf tsv = PFS_BUF_INIT(RESULTS_TEXT_CAP), js = PFS_BUF_INIT(RESULTS_TEXT_CAP);
	struct pfs_buf svg = PFS_BUF_INIT(RESULTS_TEXT_CAP);
	char **texts = calloc(RUNS, sizeof(*texts));
	json_t **v = calloc(RUNS, sizeof(*v)), *j = NULL;
	struct summary *s = NULL;
	struct pfs_err err = { 0 };
	double t0, t_parse, t_build, t_tsv, t_json, t_svg;
	size_t bytes = 0, lines = 0;

	for (int i = 0; i < RUNS; i++) {
		texts[i] = result_text(i);
		if (!texts[i]) {
			fail("cannot make result.json texts");
			goto out;
		}
		bytes += strlen(texts[i]);
	}
	t0 = now_s();
	for (int i = 0; i < RUNS; i++)
		v[i] = json_loads(texts[i], 0, NULL);
	t_parse = now_s() - t0;
	t0 = now_s();
	if (summary_build("bench", v, RUNS, &s, &err) < 0) {
		fail(err.msg);
		goto out;
	}
	t_build = now_s() - t0;
	t0 = now_s();
	summary_tsv(s, &tsv);
	t_tsv = now_s() - t0;
	t0 = now_s();
	j = summary_json(s);
	if (j)
		results_text(j, &js);
	t_json = now_s() - t0;
	t0 = now_s();
	if (summary_svg(s, &svg, &err) < 0)
		fail(err.msg);
	t_svg = now_s() - t0;
	for (size_t i = 0; i < tsv.len; i++)
		lines += tsv.ptr[i] == '\n';
	/* header, a row per run, 7 rows per configuration */
	if (summary_n_configs(s) != 4 || lines != 1 + RUNS + 4 * 7 || !js.len || !svg.len)
		fail("summary: wrong rows or configurations");
	printf("summary-parse: %.1f ms (%d result.json, %.1f MB)\n", t_parse * 1e3, RUNS, (double)bytes / 1e6);
	printf("summary-build: %.1f ms (%zu configurations, aggregates)\n", t_build * 1e3, summary_n_configs(s));
	printf("summary-tsv: %.1f ms (%zu bytes, %zu lines)\n", t_tsv * 1e3, tsv.len, lines);
	printf("summary-json: %.1f ms (%zu bytes)\n", t_json * 1e3, js.len);
	printf("summary-svg: %.1f ms (%zu bytes, libplot)\n", t_svg * 1e3, svg.len);
	printf("summary-total: %.1f ms (1000 result.json to the three files)\n",
	       (t_parse + t_build + t_tsv + t_json + t_svg) * 1e3);

	/* the root: one row per test */
	pfs_buf_reset(&tsv);
	for (int i = 0; i < RUNS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "test-%04d", RUNS - i);
		json_object_set_new(v[i], "test", json_string(name));
	}
	t0 = now_s();
	summary_root_tsv(v, RUNS, &tsv);
	t_tsv = now_s() - t0;
	lines = 0;
	for (size_t i = 0; i < tsv.len; i++)
		lines += tsv.ptr[i] == '\n';
	if (lines != 1 + RUNS)
		fail("root: wrong rows");
	printf("root-tsv: %.1f ms (%d tests, %zu bytes)\n", t_tsv * 1e3, RUNS, tsv.len);
out:
	for (int i = 0; i < RUNS; i++) {
		json_decref(v[i]);
		free(texts[i]);
	}
	free(v);
	free(texts);
	json_decref(j);
	summary_free(s);
	pfs_buf_release(&tsv);
	pfs_buf_release(&js);
	pfs_buf_release(&svg);
}

static void bench_extract(const char *src)
{
	enum { CHUNK = 64 << 10 };
	const size_t total = 64u << 20;
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };
	struct mrules *m = NULL;
	struct mx *x = NULL;
	struct pfs_buf log = PFS_BUF_INIT(total + (1u << 20));
	json_t *res = NULL, *rules;
	size_t n = 0;
	double t0, dt;

	if (catalog_load(src, &c, &err) < 0) {
		fail(err.msg);
		return;
	}
	rules = json_object_get(json_object_get(cat_version_program(cat_impl_find_version(catalog_find_impl(c, "mvfst"),
									"rfc9000"), "tperf"), "metrics"), "client");
	if (mrules_parse(rules, NULL, "rfc9000", "metrics", &m, &err) < 0 || mx_new(m, NULL, &x) < 0) {
		fail("rules");
		goto out;
	}
	while (log.len < total)
		pfs_buf_printf(&log, "I1203 10:00:%02zu.%03zu 17 QuicTransportBase.cpp:512] stream=%zu written "
			       "bytes=%zu inflight=%zu cwnd=%zu\n", n % 60, n % 1000, n % 97, n * 1452, n % 4096, 14520 + n % 9),
			n++;
	pfs_buf_addstr(&log, "I1203 10:00:03.112 17 TperfClient.cpp:68] Received 2087088128 bytes in 3 seconds.\n"
			     "I1203 10:00:03.112 17 TperfClient.cpp:70] Overall throughput: 5307.74Mb/s\n");
	t0 = now_s();
	for (size_t off = 0; off < log.len; off += CHUNK)
		mx_feed(x, log.ptr + off, PFS_MIN((size_t)CHUNK, log.len - off));
	res = mx_result(x, &(struct mx_end){ MX_EXITED, 0, "client" });
	dt = now_s() - t0;
	if (!res || json_integer_value(json_object_get(json_object_get(res, "received_bytes"), "value")) != 2087088128 ||
	    fabs(json_real_value(json_object_get(json_object_get(res, "throughput"), "value")) - 16696705024.0 / 3) > 1e-3)
		fail("extract: wrong values");
	printf("extract: %.0f MB/s (%zu lines, %.0f MB, 4 rules)\n", (double)log.len / 1e6 / dt, n + 2,
	       (double)log.len / 1e6);
out:
	json_decref(res);
	mx_free(x);
	mrules_free(m);
	pfs_buf_release(&log);
	catalog_free(c);
}

static void bench_rebuild(const char *src)
{
	char *dir = pfs_strdup_printf("%s/tests/fixtures/results/ngtcp2-1M", src);
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };
	double t0, dt;
	int ok = 0;

	if (!dir || catalog_load(src, &c, &err) < 0) {
		fail(err.msg[0] ? err.msg : "out of memory");
		free(dir);
		return;
	}
	t0 = now_s();
	for (int i = 0; i < RUNS; i++) {
		json_t *res = NULL;

		if (results_from_run_dir(c, dir, "t", i + 1, &res, &err) == 0 &&
		    json_integer_value(json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
			    res, "services"), "client"), "metrics"), "received_bytes"), "value")) == 1048576)
			ok++;
		json_decref(res);
	}
	dt = now_s() - t0;
	if (ok != RUNS)
		fail("rebuild: wrong results");
	printf("rebuild: %.2f ms per run dir (%d result.json from a real run dir)\n", dt * 1e3 / RUNS, RUNS);
	catalog_free(c);
	free(dir);
}

int main(int argc, char **argv)
{
	const char *src = argc > 1 ? argv[1] : getenv("PFS_SOURCE_DIR") ? getenv("PFS_SOURCE_DIR") : ".";

	bench_summary();
	bench_extract(src);
	bench_rebuild(src);
	return failures ? 1 : 0;
}
