/* SPDX-License-Identifier: MIT */
/*
 * How fast the CPU-bound paths are, in one process, no engine:
 *
 *   logs      the timestamped, framed log decoder (every container's output
 *             goes through it), fed 64 KiB chunks as curl hands them over
 *   ndjson    the NDJSON decoder of build, pull and event streams
 *   config    loading, validating and rendering each documented example
 *             (what a save of config.yaml costs before the engine sees it)
 *
 * Usage: bench_core [SOURCE_DIR]   (default $PFS_SOURCE_DIR, else ".")
 * Prints one line per measurement: "NAME: VALUE UNIT (what)". Each
 * measurement checks its own result (entries and bytes decoded, commands
 * rendered) and the program exits 1 when one is wrong: a fast wrong answer
 * is not a result.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pantherfs/buf.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/docker_stream.h"
#include "pantherfs/render.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int failures;

static void fail(const char *what)
{
	fprintf(stderr, "bench_core: %s\n", what);
	failures++;
}

/* ---- logs ---------------------------------------------------------------------------------- */

struct log_count {
	size_t entries, bytes, stderr_entries;
};

static int on_entry(void *ud, enum docker_log_stream s, const char *ts, size_t tslen, const char *payload,
		    size_t plen)
{
	struct log_count *c = ud;

	(void)payload;
	if (tslen != 30 || ts[4] != '-')
		return -1;
	c->entries++;
	c->bytes += plen;
	if (s == DOCKER_STDERR)
		c->stderr_entries++;
	return 0;
}

static void bench_logs(void)
{
	enum { LINES = 400000, PASSES = 20 };
	struct pfs_buf in = PFS_BUF_INIT(256u << 20);
	struct log_count c = { 0 };
	struct docker_entries d;
	size_t payload = 0;
	double t0, dt;
	int rc = 0;

	for (size_t i = 0; i < LINES; i++) {
		char line[160];
		int n = snprintf(line, sizeof(line),
				 "2026-11-26T10:00:%02zu.%09zuZ Client received data=echo message number %zu\n", i % 60,
				 i, i);
		unsigned char hdr[8] = { i % 7 ? 1 : 2, 0, 0, 0, 0, 0, 0, (unsigned char)n };

		payload += (size_t)n - 31;
		if (pfs_buf_add(&in, hdr, sizeof(hdr)) < 0 || pfs_buf_add(&in, line, (size_t)n) < 0) {
			fail("logs: cannot make the input");
			return;
		}
	}
	t0 = now_s();
	for (int pass = 0; pass < PASSES && rc == 0; pass++) {
		c = (struct log_count){ 0 };
		docker_entries_init(&d, false, on_entry, &c);
		for (size_t off = 0; off < in.len && rc == 0; off += 65536)
			rc = docker_entries_feed(&d, in.ptr + off, in.len - off < 65536 ? in.len - off : 65536);
		if (rc == 0)
			rc = docker_entries_finish(&d);
		docker_entries_release(&d);
		if (rc != 0 || c.entries != LINES || c.bytes != payload || c.stderr_entries != (LINES + 6) / 7)
			fail("logs: the decoder lost or changed entries");
	}
	dt = now_s() - t0;
	printf("logs: %.0f MB/s (%d passes over %zu framed, timestamped entries, %.1f MB, in %.3f s)\n",
	       (double)in.len * PASSES / 1e6 / dt, PASSES, c.entries, (double)in.len / 1e6, dt);
	pfs_buf_release(&in);
}

/* ---- ndjson -------------------------------------------------------------------------------- */

static int on_json(void *ud, json_t *obj, const char *raw, size_t rawlen)
{
	size_t *n = ud;

	(void)raw;
	(void)rawlen;
	if (!obj || !json_is_string(json_object_get(obj, "stream")))
		return -1;
	(*n)++;
	return 0;
}

static void bench_ndjson(void)
{
	enum { LINES = 200000 };
	struct pfs_buf in = PFS_BUF_INIT(128u << 20);
	struct docker_ndjson d;
	size_t got = 0;
	double t0, dt;
	int rc = 0;

	for (size_t i = 0; i < LINES; i++) {
		char line[200];
		int n = snprintf(line, sizeof(line),
				 "{\"stream\":\"[%3zu%%] Building CXX object quic/CMakeFiles/mvfst.dir/x%zu.cpp.o\\n\"}\r\n",
				 i % 100, i);

		if (pfs_buf_add(&in, line, (size_t)n) < 0) {
			fail("ndjson: cannot make the input");
			return;
		}
	}
	docker_ndjson_init(&d);
	t0 = now_s();
	for (size_t off = 0; off < in.len && rc == 0; off += 16384)
		rc = docker_ndjson_feed(&d, in.ptr + off, in.len - off < 16384 ? in.len - off : 16384, on_json, &got);
	if (rc == 0)
		rc = docker_ndjson_finish(&d, on_json, &got);
	dt = now_s() - t0;
	docker_ndjson_release(&d);
	if (rc != 0 || got != LINES)
		fail("ndjson: the decoder lost lines");
	printf("ndjson: %.0f lines/s (%zu build-stream lines, %.1f MB, in %.3f s)\n", (double)got / dt, got,
	       (double)in.len / 1e6, dt);
	pfs_buf_release(&in);
}

/* ---- config -------------------------------------------------------------------------------- */

static void bench_config(const char *src)
{
	static const char *const seeds[] = { "01-basic-server.yaml", "02-high-performance.yaml",
					     "03-security-vuln.yaml" };
	enum { ROUNDS = 300 };
	struct catalog *cat = NULL;
	struct pfs_err err = { 0 };

	if (catalog_load(src, &cat, &err) < 0) {
		fail(err.msg);
		return;
	}
	for (size_t k = 0; k < PFS_ARRAY_SIZE(seeds); k++) {
		struct pfs_buf yaml = PFS_BUF_INIT(1u << 20);
		char path[4096];
		size_t commands = 0;
		double t0, dt;

		snprintf(path, sizeof(path), "%s/tests/configs/examples/seed/%s", src, seeds[k]);
		if (pfs_read_file(path, &yaml) < 0) {
			fail(path);
			continue;
		}
		t0 = now_s();
		for (int i = 0; i < ROUNDS; i++) {
			struct pfs_config *cfg = NULL;
			struct cfg_report rep;

			if (config_load(cat, "bench", yaml.ptr, yaml.len, &cfg, &rep) < 0) {
				fail(rep.n_errors ? rep.errors[0] : "config: refused");
				cfg_report_release(&rep);
				break;
			}
			for (size_t s = 0; s < cfg->n_svc; s++) {
				struct pfs_buf cmd = PFS_BUF_INIT(1u << 20);

				if (render_command(cat, cfg, &cfg->svc[s], NULL, &cmd, &err) == 0 && cmd.len)
					commands++;
				pfs_buf_release(&cmd);
			}
			if (i == 0 && commands != cfg->n_svc)
				fail("config: a service did not render");
			cfg_report_release(&rep);
			config_free(cfg);
		}
		dt = now_s() - t0;
		printf("config %s: %.0f us per load+check+render (%zu commands in %d rounds)\n", seeds[k],
		       dt * 1e6 / ROUNDS, commands, ROUNDS);
		pfs_buf_release(&yaml);
	}
	catalog_free(cat);
}

int main(int argc, char **argv)
{
	const char *src = argc > 1 ? argv[1] : getenv("PFS_SOURCE_DIR");

	if (!src)
		src = ".";
	bench_logs();
	bench_ndjson();
	bench_config(src);
	return failures ? 1 : 0;
}
