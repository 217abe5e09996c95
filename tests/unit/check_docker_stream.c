/* SPDX-License-Identifier: MIT */
/*
 * The stream decoders fed recorded engine output (tests/fixtures/docker/,
 * captured from a real dockerd) in every split: each decoder must produce
 * the same callbacks whatever the chunk boundaries, including a frame header
 * cut in two, a JSON line across chunks and several lines in one chunk.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfs_check.h"
#include "pantherfs/docker_stream.h"
#include "pantherfs/util.h"

static char *load(const char *name, size_t *len)
{
	const char *root = getenv("PFS_SOURCE_DIR");
	struct pfs_buf b = PFS_BUF_INIT(1u << 24);
	char path[1024];

	snprintf(path, sizeof(path), "%s/tests/fixtures/docker/%s", root ? root : ".", name);
	ck_assert_msg(pfs_read_file(path, &b) == 0, "cannot read %s", path);
	return pfs_buf_steal(&b, len);
}

/* A deterministic pseudo-random generator (no libc state in tests). */
static unsigned long rng_state = 12345;
static unsigned long rng(void)
{
	rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
	return rng_state >> 33;
}

/* ---- NDJSON -------------------------------------------------------------- */

static int nd_cb(void *ud, json_t *obj, const char *raw, size_t len)
{
	struct pfs_buf *t = ud;
	char *dump = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	pfs_buf_printf(t, "%s<%.*s>\n", dump ? dump : "NOTJSON", (int)len, raw);
	free(dump);
	return 0;
}

static void nd_run(const char *data, size_t len, const size_t *cuts, size_t ncuts, struct pfs_buf *t)
{
	struct docker_ndjson d;
	size_t off = 0;

	docker_ndjson_init(&d);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		ck_assert_int_eq(docker_ndjson_feed(&d, data + off, end - off, nd_cb, t), 0);
		off = end;
	}
	ck_assert_int_eq(docker_ndjson_finish(&d, nd_cb, t), 0);
	docker_ndjson_release(&d);
}

static void nd_all_splits(const char *file, int expect_objects)
{
	struct pfs_buf ref = PFS_BUF_INIT(1u << 24);
	size_t len, n = 0;
	char *data = load(file, &len);

	nd_run(data, len, NULL, 0, &ref);
	for (const char *p = pfs_buf_str(&ref); (p = strchr(p, '\n')); p++)
		n++;
	ck_assert_int_eq((int)n, expect_objects);
	ck_assert_ptr_null(strstr(pfs_buf_str(&ref), "NOTJSON"));
	for (size_t cut = 0; cut <= len; cut++) {
		struct pfs_buf t = PFS_BUF_INIT(1u << 24);

		nd_run(data, len, &cut, 1, &t);
		ck_assert_msg(!strcmp(pfs_buf_str(&t), pfs_buf_str(&ref)), "split at %zu differs", cut);
		pfs_buf_release(&t);
	}
	/* one byte at a time */
	{
		struct pfs_buf t = PFS_BUF_INIT(1u << 24);
		size_t *cuts = malloc(len * sizeof(*cuts));

		for (size_t i = 0; i < len; i++)
			cuts[i] = i;
		nd_run(data, len, cuts, len, &t);
		ck_assert_str_eq(pfs_buf_str(&t), pfs_buf_str(&ref));
		free(cuts);
		pfs_buf_release(&t);
	}
	pfs_buf_release(&ref);
	free(data);
}

START_TEST(ndjson_build_ok_every_split)
{
	nd_all_splits("build-ok.ndjson", 24);
}
END_TEST

START_TEST(ndjson_build_fail_every_split)
{
	nd_all_splits("build-fail.ndjson", 9);
}
END_TEST

START_TEST(ndjson_edge_lines)
{
	static const char in[] = "{\"a\":1}\r\n\n  \n{\"b\":2}\n{broken\n{\"c\":3}";
	struct pfs_buf t = PFS_BUF_INIT(4096);

	nd_run(in, sizeof(in) - 1, NULL, 0, &t);
	ck_assert_str_eq(pfs_buf_str(&t), "{\"a\":1}<{\"a\":1}>\n{\"b\":2}<{\"b\":2}>\nNOTJSON<{broken>\n"
					  "{\"c\":3}<{\"c\":3}>\n");
	pfs_buf_release(&t);
}
END_TEST

static int nd_len_cb(void *ud, json_t *obj, const char *raw, size_t len)
{
	struct pfs_buf *t = ud;

	(void)raw;
	pfs_buf_printf(t, "%s:%zu;", obj ? "json" : "raw", len);
	return 0;
}

START_TEST(ndjson_overlong_line_is_capped)
{
	struct docker_ndjson d;
	struct pfs_buf t = PFS_BUF_INIT(4096);
	size_t big = DOCKER_NDJSON_LINE_MAX + 5000;
	char *line = malloc(big);
	char expect[64];

	memset(line, 'x', big);
	docker_ndjson_init(&d);
	/* the over-long line arrives in pieces, then a normal line follows */
	for (size_t off = 0; off < big; off += 70000)
		ck_assert_int_eq(docker_ndjson_feed(&d, line + off, big - off < 70000 ? big - off : 70000,
						    nd_len_cb, &t), 0);
	ck_assert_int_eq(docker_ndjson_feed(&d, "\n{\"ok\":true}\n", 13, nd_len_cb, &t), 0);
	snprintf(expect, sizeof(expect), "raw:%u;json:11;", DOCKER_NDJSON_LINE_MAX);
	ck_assert_str_eq(pfs_buf_str(&t), expect);
	docker_ndjson_release(&d);
	pfs_buf_release(&t);
	free(line);
}
END_TEST

static int nd_stop(void *ud, json_t *obj, const char *raw, size_t len)
{
	int *n = ud;

	(void)obj;
	(void)raw;
	(void)len;
	return ++*n == 2 ? -ECANCELED : 0;
}

START_TEST(ndjson_callback_error_stops)
{
	struct docker_ndjson d;
	int n = 0;

	docker_ndjson_init(&d);
	ck_assert_int_eq(docker_ndjson_feed(&d, "{}\n{}\n{}\n", 9, nd_stop, &n), -ECANCELED);
	ck_assert_int_eq(n, 2);
	docker_ndjson_release(&d);
}
END_TEST

/* ---- frames ---------------------------------------------------------------- */

struct demux {
	struct pfs_buf out, err, trace;
	int frames;
};

static int fr_cb(void *ud, enum docker_log_stream s, const char *d, size_t n, bool end)
{
	struct demux *m = ud;

	ck_assert_int_eq(pfs_buf_add(s == DOCKER_STDERR ? &m->err : &m->out, d, n), 0);
	if (end)
		m->frames++;
	return 0;
}

static void demux_init(struct demux *m)
{
	memset(m, 0, sizeof(*m));
	pfs_buf_init(&m->out, 1u << 22);
	pfs_buf_init(&m->err, 1u << 22);
	pfs_buf_init(&m->trace, 1u << 22);
}

static void demux_release(struct demux *m)
{
	pfs_buf_release(&m->out);
	pfs_buf_release(&m->err);
	pfs_buf_release(&m->trace);
}

static void fr_run(const char *data, size_t len, const size_t *cuts, size_t ncuts, bool raw,
		   struct demux *m)
{
	struct docker_frames f;
	size_t off = 0;

	docker_frames_init(&f, raw);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		ck_assert_int_eq(docker_frames_feed(&f, data + off, end - off, fr_cb, m), 0);
		off = end;
	}
	ck_assert(docker_frames_complete(&f));
}

static char *expected_stdout(size_t *n)
{
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);

	pfs_buf_addstr(&b, "out1\npartial-no-newline\nout2\n");
	for (int i = 0; i < 70000; i++)
		pfs_buf_addc(&b, 'x');
	pfs_buf_addc(&b, '\n');
	return pfs_buf_steal(&b, n);
}

/* split points worth trying: the start, the end, and around every frame header */
static size_t interesting_cuts(const char *data, size_t len, size_t *cuts, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i <= len && i < 2048 && n < max; i++)
		cuts[n++] = i;
	for (size_t i = len > 2048 ? len - 2048 : 0; i <= len && n < max; i++)
		cuts[n++] = i;
	for (size_t off = 0; off + 8 <= len;) {
		uint32_t fl = (uint32_t)(unsigned char)data[off + 4] << 24 |
			      (uint32_t)(unsigned char)data[off + 5] << 16 |
			      (uint32_t)(unsigned char)data[off + 6] << 8 | (unsigned char)data[off + 7];
		for (size_t k = off > 9 ? off - 9 : 0; k <= off + 9 && k <= len && n < max; k++)
			cuts[n++] = k;
		off += 8 + fl;
	}
	return n;
}

START_TEST(frames_every_header_split)
{
	size_t len, elen, ncuts, *cuts = malloc(20000 * sizeof(size_t));
	char *data = load("logs-framed.bin", &len);
	char *eout = expected_stdout(&elen);

	ncuts = interesting_cuts(data, len, cuts, 20000);
	ck_assert_uint_gt(ncuts, 4000);
	for (size_t i = 0; i < ncuts; i++) {
		struct demux m;

		demux_init(&m);
		fr_run(data, len, &cuts[i], 1, false, &m);
		ck_assert_uint_eq(m.out.len, elen);
		ck_assert_msg(!memcmp(m.out.ptr, eout, elen), "stdout differs at split %zu", cuts[i]);
		ck_assert_str_eq(pfs_buf_str(&m.err), "err1\nerr2\n");
		ck_assert_int_eq(m.frames, 10);
		demux_release(&m);
	}
	/* random splits into up to 40 pieces */
	for (int round = 0; round < 300; round++) {
		size_t k = 1 + rng() % 40, pts[40];
		struct demux m;

		for (size_t i = 0; i < k; i++)
			pts[i] = rng() % (len + 1);
		for (size_t i = 1; i < k; i++)
			for (size_t j = i; j > 0 && pts[j - 1] > pts[j]; j--) {
				size_t tmp = pts[j];
				pts[j] = pts[j - 1];
				pts[j - 1] = tmp;
			}
		demux_init(&m);
		fr_run(data, len, pts, k, false, &m);
		ck_assert_uint_eq(m.out.len, elen);
		ck_assert(!memcmp(m.out.ptr, eout, elen));
		ck_assert_str_eq(pfs_buf_str(&m.err), "err1\nerr2\n");
		demux_release(&m);
	}
	free(cuts);
	free(eout);
	free(data);
}
END_TEST

START_TEST(frames_raw_tty)
{
	size_t len;
	char *data = load("logs-raw.bin", &len);

	for (size_t cut = 0; cut <= len; cut++) {
		struct demux m;

		demux_init(&m);
		fr_run(data, len, &cut, 1, true, &m);
		ck_assert_str_eq(pfs_buf_str(&m.out), "tty-out\r\ntty-err\r\n");
		ck_assert_uint_eq(m.err.len, 0);
		demux_release(&m);
	}
	free(data);
}
END_TEST

START_TEST(frames_bad_header)
{
	struct docker_frames f;
	struct demux m;

	demux_init(&m);
	docker_frames_init(&f, false);
	/* "tty-out" read as a header: stream byte 't' */
	ck_assert_int_eq(docker_frames_feed(&f, "tty-out\r\n", 9, fr_cb, &m), -EPROTO);
	docker_frames_init(&f, false);
	ck_assert_int_eq(docker_frames_feed(&f, "\x01\x00\x01\x00\x00\x00\x00\x01x", 9, fr_cb, &m), -EPROTO);
	docker_frames_init(&f, false);
	ck_assert_int_eq(docker_frames_feed(&f, "\x01\x00\x00\x00\x00\x00\x00\x05x", 9, fr_cb, &m), 0);
	ck_assert(!docker_frames_complete(&f));
	demux_release(&m);
}
END_TEST

/* ---- log entries with timestamps ------------------------------------------- */

static int en_cb(void *ud, enum docker_log_stream s, const char *ts, size_t tslen,
		 const char *p, size_t n)
{
	struct demux *m = ud;

	pfs_buf_printf(&m->trace, "%d|%.*s|%zu\n", (int)s, (int)tslen, ts, n);
	pfs_buf_add(s == DOCKER_STDERR ? &m->err : &m->out, p, n);
	return 0;
}

static void en_run(const char *data, size_t len, const size_t *cuts, size_t ncuts, bool raw,
		   struct demux *m)
{
	struct docker_entries e;
	size_t off = 0;

	docker_entries_init(&e, raw, en_cb, m);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		ck_assert_int_eq(docker_entries_feed(&e, data + off, end - off), 0);
		off = end;
	}
	ck_assert_int_eq(docker_entries_finish(&e), 0);
	docker_entries_release(&e);
}

START_TEST(entries_keep_stamps_of_split_messages)
{
	size_t len, elen, ncuts, *cuts = malloc(20000 * sizeof(size_t));
	char *data = load("logs-framed-ts.bin", &len);
	char *eout = expected_stdout(&elen);
	struct demux ref;

	demux_init(&ref);
	en_run(data, len, NULL, 0, false, &ref);
	/* 16 KiB pieces of one long line carry the same stamp, each its own entry */
	ck_assert_str_eq(pfs_buf_str(&ref.trace),
			 "1|2026-11-26T11:14:29.162092118Z|5\n"
			 "2|2026-11-26T11:14:29.162127696Z|5\n"
			 "1|2026-11-26T11:14:29.264779332Z|19\n"
			 "1|2026-11-26T11:14:29.264798698Z|5\n"
			 "1|2026-11-26T11:14:29.266791031Z|16384\n"
			 "1|2026-11-26T11:14:29.266791031Z|16384\n"
			 "1|2026-11-26T11:14:29.266791031Z|16384\n"
			 "1|2026-11-26T11:14:29.266791031Z|16384\n"
			 "1|2026-11-26T11:14:29.266791031Z|4465\n"
			 "2|2026-11-26T11:14:29.267611959Z|5\n");
	ck_assert_uint_eq(ref.out.len, elen);
	ck_assert(!memcmp(ref.out.ptr, eout, elen));
	ncuts = interesting_cuts(data, len, cuts, 20000);
	for (size_t i = 0; i < ncuts; i++) {
		struct demux m;

		demux_init(&m);
		en_run(data, len, &cuts[i], 1, false, &m);
		ck_assert_msg(!strcmp(pfs_buf_str(&m.trace), pfs_buf_str(&ref.trace)), "split %zu", cuts[i]);
		ck_assert(m.out.len == elen && !memcmp(m.out.ptr, eout, elen));
		demux_release(&m);
	}
	demux_release(&ref);
	free(cuts);
	free(eout);
	free(data);
}
END_TEST

START_TEST(entries_raw_lines)
{
	static const char in[] = "2026-11-26T11:00:00.5Z first\r\n2026-11-26T11:00:01Z second\nno stamp";
	struct demux m;

	for (size_t cut = 0; cut < sizeof(in); cut++) {
		demux_init(&m);
		en_run(in, sizeof(in) - 1, &cut, 1, true, &m);
		ck_assert_str_eq(pfs_buf_str(&m.trace), "1|2026-11-26T11:00:00.5Z|7\n"
							"1|2026-11-26T11:00:01Z|7\n"
							"1||8\n");
		ck_assert_str_eq(pfs_buf_str(&m.out), "first\r\nsecond\nno stamp");
		demux_release(&m);
	}
}
END_TEST

/* ---- lines and stamps ----------------------------------------------------------- */

static int ln_cb(void *ud, const char *l, size_t n, bool partial)
{
	struct pfs_buf *t = ud;

	pfs_buf_printf(t, "[%.*s%s]", (int)n, l, partial ? "+" : "");
	return 0;
}

START_TEST(lines_with_cap)
{
	static const char in[] = "ab\ncdefgh\n\nij";

	for (size_t cut = 0; cut < sizeof(in); cut++) {
		struct docker_lines l;
		struct pfs_buf t = PFS_BUF_INIT(1024);

		docker_lines_init(&l, 4);
		ck_assert_int_eq(docker_lines_feed(&l, in, cut, ln_cb, &t), 0);
		ck_assert_int_eq(docker_lines_feed(&l, in + cut, sizeof(in) - 1 - cut, ln_cb, &t), 0);
		ck_assert_int_eq(docker_lines_finish(&l, ln_cb, &t), 0);
		ck_assert_msg(!strcmp(pfs_buf_str(&t), "[ab][cdef+][gh][][ij]"), "cut %zu: %s", cut,
			      pfs_buf_str(&t));
		docker_lines_release(&l);
		pfs_buf_release(&t);
	}
}
END_TEST

START_TEST(timestamps)
{
	const char *ts, *p;
	size_t tl, pl;
	static const char line[] = "2026-11-26T11:14:29.162092118Z out1\n";

	ck_assert_int_eq(docker_log_split_ts(line, sizeof(line) - 1, &ts, &tl, &p, &pl), 0);
	ck_assert_uint_eq(tl, 30);
	ck_assert_uint_eq(pl, 5);
	ck_assert_int_eq(docker_log_split_ts("hello world", 11, &ts, &tl, &p, &pl), -EINVAL);
#define CMP(a, b) docker_ts_cmp(a, strlen(a), b, strlen(b))
	ck_assert_int_lt(CMP("2026-11-26T11:14:29.09Z", "2026-11-26T11:14:29.1Z"), 0);
	ck_assert_int_eq(CMP("2026-11-26T11:14:29.1Z", "2026-11-26T11:14:29.100000000Z"), 0);
	ck_assert_int_eq(CMP("2026-11-26T11:14:29Z", "2026-11-26T11:14:29.000Z"), 0);
	ck_assert_int_gt(CMP("2026-11-26T11:14:30Z", "2026-11-26T11:14:29.999999999Z"), 0);
	ck_assert_int_lt(CMP("2026-11-26T11:14:29.162092118Z", "2026-11-26T11:14:29.162127696Z"), 0);
#undef CMP
}
END_TEST

/* ---- build messages ---------------------------------------------------------------- */

struct steps {
	struct pfs_buf t;
};

static int bc_cb(void *ud, json_t *obj, const char *raw, size_t len)
{
	struct pfs_buf *t = ud;
	struct docker_build_msg m;

	(void)raw;
	(void)len;
	docker_build_classify(obj, &m);
	if (m.kind == DOCKER_BUILD_STEP)
		pfs_buf_printf(t, "step %d/%d;", m.step, m.steps);
	else if (m.kind == DOCKER_BUILD_IMAGE)
		pfs_buf_printf(t, "image %s;", m.text);
	else if (m.kind == DOCKER_BUILD_ERROR)
		pfs_buf_printf(t, "error %s;", m.text);
	return 0;
}

START_TEST(build_classify_recorded)
{
	struct docker_ndjson d;
	struct pfs_buf t = PFS_BUF_INIT(8192);
	size_t len;
	char *data = load("build-ok.ndjson", &len);

	docker_ndjson_init(&d);
	ck_assert_int_eq(docker_ndjson_feed(&d, data, len, bc_cb, &t), 0);
	ck_assert_str_eq(pfs_buf_str(&t), "step 1/4;step 2/4;step 3/4;step 4/4;image "
					  "sha256:808580bb8662765b7f48ed108de8af2895e81a878c44aca755524511d5f09123;");
	free(data);
	pfs_buf_reset(&t);
	data = load("build-fail.ndjson", &len);
	ck_assert_int_eq(docker_ndjson_feed(&d, data, len, bc_cb, &t), 0);
	ck_assert_str_eq(pfs_buf_str(&t), "step 1/2;step 2/2;error The command '/bin/sh -c echo about "
					  "to fail; exit 3' returned a non-zero code: 3;");
	docker_ndjson_release(&d);
	pfs_buf_release(&t);
	free(data);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("docker_stream");
	TCase *t = tcase_create("ndjson");

	tcase_set_timeout(t, 120);
	tcase_add_test(t, ndjson_build_ok_every_split);
	tcase_add_test(t, ndjson_build_fail_every_split);
	tcase_add_test(t, ndjson_edge_lines);
	tcase_add_test(t, ndjson_overlong_line_is_capped);
	tcase_add_test(t, ndjson_callback_error_stops);
	suite_add_tcase(s, t);
	t = tcase_create("frames");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, frames_every_header_split);
	tcase_add_test(t, frames_raw_tty);
	tcase_add_test(t, frames_bad_header);
	tcase_add_test(t, entries_keep_stamps_of_split_messages);
	tcase_add_test(t, entries_raw_lines);
	suite_add_tcase(s, t);
	t = tcase_create("text");
	tcase_add_test(t, lines_with_cap);
	tcase_add_test(t, timestamps);
	tcase_add_test(t, build_classify_recorded);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
