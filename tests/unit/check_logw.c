/* SPDX-License-Identifier: MIT */
/*
 * The log writer (src/engine/logw.c) without Docker: pieces reach the file
 * in push order and each `done` runs after its bytes are written, in push
 * order, markers included; stopping writes what is queued; without a thread
 * a push writes at once and says so; logw_wait_owner returns only after the
 * owner's last `done` has returned; a queue past LOGW_CAP pauses the stream
 * that pushed (a stream of the fake daemon) until the writer has caught up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakehttp.h"
#include "pfs_check.h"
#include "../../src/engine/engine_internal.h"
#include "pantherfs/util.h"

struct owner {
	int fd;
	int calls, last_n, markers, out_of_order;
	off_t size_at_done;      /* the file's size seen by the last done of a piece */
	bool short_file;         /* a done ran before its bytes were in the file */
	unsigned pending;
	int sleep_ms;
	bool finished;           /* set by the last done, after its sleep */
};

static void on_done(void *ud, const struct logw_item *it, int rc)
{
	struct owner *o = ud;
	struct stat st;

	ck_assert_int_eq(rc, 0);
	if (it->n != o->last_n + 1)
		o->out_of_order++;
	o->last_n = it->n;
	o->calls++;
	if (it->fd < 0) {
		o->markers++;
	} else if (fstat(o->fd, &st) == 0) {
		o->size_at_done += (off_t)it->len;
		if (st.st_size < o->size_at_done)
			o->short_file = true;
	}
	if (o->sleep_ms)
		usleep((useconds_t)o->sleep_ms * 1000);
	o->finished = true;
}

static int temp_file(char *path, size_t n)
{
	int fd;

	snprintf(path, n, "/tmp/pfs-logw-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static size_t file_content(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t k;

	ck_assert_int_ge(fd, 0);
	k = read(fd, buf, cap);
	close(fd);
	ck_assert_int_ge(k, 0);
	return (size_t)k;
}

START_TEST(pieces_in_order_and_done_after_the_bytes)
{
	static char want[1 << 20], got[1 << 20];
	struct logw w;
	struct owner o = { 0 };
	char path[64];
	size_t off = 0;

	o.fd = temp_file(path, sizeof(path));
	logw_init(&w);
	ck_assert_int_eq(logw_start(&w), 0);
	for (int i = 1; i <= 2000; i++) {
		char piece[64];
		int len = snprintf(piece, sizeof(piece), "line %d of the log\n", i);
		struct logw_piece p = { .fd = o.fd, .data = piece, .len = (size_t)len, .owner = &o,
					.done = on_done, .pending = &o.pending, .n = i };

		memcpy(want + off, piece, (size_t)len);
		off += (size_t)len;
		ck_assert_int_eq(logw_push(&w, &p), 1);
	}
	{
		/* the stream's end: after all its data */
		struct logw_piece m = { .fd = -1, .owner = &o, .done = on_done, .pending = &o.pending, .n = 2001 };

		ck_assert_int_eq(logw_push(&w, &m), 1);
	}
	logw_wait_owner(&w, &o.pending);
	ck_assert_int_eq(o.calls, 2001);
	ck_assert_int_eq(o.out_of_order, 0);
	ck_assert_int_eq(o.markers, 1);
	ck_assert_int_eq(o.last_n, 2001);
	ck_assert(!o.short_file);
	ck_assert_uint_eq(file_content(path, got, sizeof(got)), off);
	ck_assert(memcmp(got, want, off) == 0);
	logw_stop(&w);
	logw_release(&w);
	close(o.fd);
	unlink(path);
}
END_TEST

START_TEST(stop_writes_what_is_queued_then_pushes_write_at_once)
{
	struct logw w;
	struct owner o = { 0 };
	char path[64], got[4096];
	struct logw_piece p = { .data = "0123456789", .len = 10, .nl = true, .done = on_done };

	o.fd = temp_file(path, sizeof(path));
	p.fd = o.fd;
	p.owner = &o;
	p.pending = &o.pending;
	logw_init(&w);
	ck_assert_int_eq(logw_start(&w), 0);
	for (int i = 1; i <= 100; i++) {
		p.n = i;
		ck_assert_int_eq(logw_push(&w, &p), 1);
	}
	logw_stop(&w);
	ck_assert_int_eq(o.calls, 100);
	ck_assert_uint_eq(o.pending, 0);
	ck_assert_uint_eq(file_content(path, got, sizeof(got)), 1100);
	ck_assert(memcmp(got + 1089, "0123456789\n", 11) == 0);
	/* no thread: written here, done not called (the caller publishes) */
	p.n = 101;
	ck_assert_int_eq(logw_push(&w, &p), 0);
	ck_assert_int_eq(o.calls, 100);
	ck_assert_uint_eq(file_content(path, got, sizeof(got)), 1111);
	logw_release(&w);
	close(o.fd);
	unlink(path);
}
END_TEST

START_TEST(never_started_writes_at_once)
{
	struct logw w;
	struct owner o = { 0 };
	char path[64], got[64];
	struct logw_piece p = { .data = "abc", .len = 3, .done = on_done };

	o.fd = temp_file(path, sizeof(path));
	p.fd = o.fd;
	p.owner = &o;
	p.pending = &o.pending;
	logw_init(&w);
	ck_assert_int_eq(logw_push(&w, &p), 0);
	ck_assert_int_eq(o.calls, 0);
	ck_assert_uint_eq(o.pending, 0);
	ck_assert_uint_eq(file_content(path, got, sizeof(got)), 3);
	/* a write that fails says why */
	p.fd = 1000000;
	ck_assert_int_eq(logw_push(&w, &p), -EBADF);
	logw_release(&w);
	close(o.fd);
	unlink(path);
}
END_TEST

START_TEST(wait_owner_returns_after_the_last_done)
{
	struct logw w;
	struct owner o = { .sleep_ms = 300 };
	char path[64];
	struct logw_piece p = { .data = "x", .len = 1, .done = on_done, .n = 1 };
	uint64_t t0;

	o.fd = temp_file(path, sizeof(path));
	p.fd = o.fd;
	p.owner = &o;
	p.pending = &o.pending;
	logw_init(&w);
	ck_assert_int_eq(logw_start(&w), 0);
	t0 = pfs_now_ms();
	ck_assert_int_eq(logw_push(&w, &p), 1);
	logw_wait_owner(&w, &o.pending);
	/* the owner may go now: its done has returned */
	ck_assert(o.finished);
	ck_assert_uint_ge(pfs_now_ms() - t0, 250);
	logw_stop(&w);
	logw_release(&w);
	close(o.fd);
	unlink(path);
}
END_TEST


/* ---- the cap: the pushing stream waits while the writer is behind ---- */

static const char paced[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN";

static const struct fake_route routes[] = {
	{ "GET /v1.43/containers/paced/logs", 200, "Content-Type: application/vnd.docker.raw-stream\r\n",
	  paced, 0, FAKE_CHUNKED, 5 },
};

struct stream {
	pthread_mutex_t m;
	struct pfs_buf out;
	bool done;
	int err;
};

static int s_data(void *ud, enum docker_log_stream st, const char *d, size_t n)
{
	struct stream *s = ud;
	int r;

	(void)st;
	pthread_mutex_lock(&s->m);
	r = pfs_buf_add(&s->out, d, n);
	pthread_mutex_unlock(&s->m);
	return r;
}

static void s_done(void *ud, const struct docker_result *res)
{
	struct stream *s = ud;

	pthread_mutex_lock(&s->m);
	s->done = true;
	s->err = res->err;
	pthread_mutex_unlock(&s->m);
}

static size_t s_len(struct stream *s, bool *done)
{
	size_t n;

	pthread_mutex_lock(&s->m);
	n = s->out.len;
	if (done)
		*done = s->done;
	pthread_mutex_unlock(&s->m);
	return n;
}

START_TEST(over_the_cap_pauses_the_stream_until_written)
{
	struct fakehttp *f = NULL;
	struct docker_client_opts co = { .connect_timeout_ms = 2000, .timeout_ms = 5000 };
	struct docker_client *c = NULL;
	struct docker_logs_opts lo = { .follow = true, .tty = 1 };
	struct docker_logs_cbs cbs = { .on_data = s_data, .on_done = s_done };
	struct stream st = { .m = PTHREAD_MUTEX_INITIALIZER };
	struct pfs_err err = { 0 };
	struct owner o = { .sleep_ms = 1500 };
	struct docker_call *call;
	struct logw w;
	char path[64];
	size_t big = LOGW_CAP + 4096, at_pause, later;
	char *data = calloc(1, big);
	struct logw_piece p = { .data = data, .len = big, .done = on_done, .n = 1 };
	bool done = false;
	uint64_t pauses = 0;

	ck_assert_ptr_nonnull(data);
	pfs_buf_init(&st.out, 4096);
	cbs.ud = &st;
	ck_assert_int_eq(fakehttp_start(routes, PFS_ARRAY_SIZE(routes), "1.43", &f), 0);
	co.host = fakehttp_host(f);
	ck_assert_int_eq(docker_client_new(&co, &c, &err), 0);
	ck_assert_int_eq(docker_ping(c, NULL, &err), 0);
	call = docker_container_logs(c, "paced", &lo, &cbs, &err);
	ck_assert_ptr_nonnull(call);
	for (int i = 0; i < 500 && s_len(&st, NULL) == 0; i++)
		usleep(2000);

	o.fd = temp_file(path, sizeof(path));
	p.fd = o.fd;
	p.owner = &o;
	p.pending = &o.pending;
	p.producer = call;
	logw_init(&w);
	ck_assert_int_eq(logw_start(&w), 0);
	/* one piece past the cap, whose done takes 1.5 s: the stream is paused meanwhile */
	ck_assert_int_eq(logw_push(&w, &p), 1);
	at_pause = s_len(&st, NULL);
	logw_stats(&w, NULL, &pauses);
	ck_assert_uint_eq(pauses, 1);
	usleep(400 * 1000);
	later = s_len(&st, NULL);
	ck_assert_uint_le(later, at_pause + 5);
	/* written: resumed, and the stream brings the rest, every byte once */
	logw_wait_owner(&w, &o.pending);
	for (int i = 0; i < 1000 && !done; i++) {
		s_len(&st, &done);
		usleep(5000);
	}
	ck_assert(done);
	ck_assert_int_eq(st.err, 0);
	ck_assert_str_eq(pfs_buf_str(&st.out), paced);
	logw_stop(&w);
	logw_release(&w);
	docker_call_unref(call);
	docker_client_free(c);
	fakehttp_stop(f);
	pfs_buf_release(&st.out);
	free(data);
	close(o.fd);
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("logw");
	TCase *t = tcase_create("writer");

	tcase_set_timeout(t, 30);
	tcase_add_test(t, pieces_in_order_and_done_after_the_bytes);
	tcase_add_test(t, stop_writes_what_is_queued_then_pushes_write_at_once);
	tcase_add_test(t, never_started_writes_at_once);
	tcase_add_test(t, wait_owner_returns_after_the_last_done);
	tcase_add_test(t, over_the_cap_pauses_the_stream_until_written);
	suite_add_tcase(s, t);
	return pfs_check_run(s);
}
