/* SPDX-License-Identifier: MIT */
/*
 * *.follow streams (libfuse's example/poll.c shape, on the low-level API).
 *
 * A read past what the file holds parks its request in the stream; the
 * notifier thread, woken by the engine's notifications, answers it when
 * the file grew or the run ended; an interrupt (Ctrl-C) answers it with
 * EINTR; a release answers it too. poll() keeps the pollhandle and the
 * notifier signals it once.
 *
 * The end of a stream cannot be missed. Whether a stream can still grow is
 * read from the engine every time it is asked (engine_run_live), never
 * remembered, and the engine notifies after every change of that answer.
 * A reader parks first and checks again afterwards, so a notification that
 * came before it parked is covered by its own check, and one that comes
 * after finds it parked.
 *
 * Locks: fs->streams_lock guards the list, each stream's refs and
 * fs->closing; st->lock guards what one stream has parked. A parked request
 * leaves its stream under st->lock and is answered outside every lock (no
 * reply and no disk read under a lock). park_gen tells a request apart
 * from a later one that happens to reuse its address.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_internal.h"
#include "pantherfs/log.h"
#include "pantherfs/banned.h"

struct fs_stream {
	struct pfs_fs *fs;
	char test[FS_NAME_MAX], svc[FS_NAME_MAX];
	int run;                       /* logs.follow: the run it was opened on; 0 for events.follow */
	bool logs;
	int refs;                      /* streams_lock: the list's (until closed), the notifier's */
	struct fs_stream *prev, *next; /* streams_lock */

	pthread_mutex_t lock;
	int fd;                        /* lock: the file, opened once it exists */
	fuse_req_t pending;            /* lock: the parked read */
	uint64_t park_gen;             /* lock: bumped at every park */
	size_t want;                   /* lock: its size and offset */
	off_t off;
	fuse_req_t interrupted;        /* lock: an interrupt that came before its read parked */
	struct fuse_pollhandle *ph;    /* lock */
	bool closed;                   /* lock: released: reads end at once, none parks */
};

/* ---- the state of a stream, from the engine (no lock held) --------------------------------------- */

/* The published size of the stream's file and whether it can still grow. */
static void stream_state(struct fs_stream *st, off_t *size, bool *more)
{
	struct pfs_fs *fs = st->fs;
	struct engine_file f;

	*size = 0;
	if (engine_file_get(fs->e, st->test, st->run, st->logs ? st->svc : NULL,
			    st->logs ? PFS_F_LOGS : PFS_F_EVENTS, &f) == 0) {
		*size = (off_t)f.len;
		pthread_mutex_lock(&st->lock);
		if (st->fd < 0 && f.path)
			st->fd = open(f.path, O_RDONLY | O_CLOEXEC);
		pthread_mutex_unlock(&st->lock);
		engine_file_release(&f);
	}
	*more = engine_run_live(fs->e, st->test, st->run);
}

static bool closing(struct pfs_fs *fs)
{
	bool c;

	pthread_mutex_lock(&fs->streams_lock);
	c = fs->closing;
	pthread_mutex_unlock(&fs->streams_lock);
	return c;
}

/* Answers req with [off, size) capped at want, or EOF when off >= size. */
static void answer(fuse_req_t req, struct fs_stream *st, size_t want, off_t off, off_t size)
{
	size_t n;
	char *buf;
	ssize_t got;
	int fd;

	if (off >= size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	n = (size_t)(size - off) < want ? (size_t)(size - off) : want;
	pthread_mutex_lock(&st->lock);
	fd = st->fd;
	pthread_mutex_unlock(&st->lock);
	buf = malloc(n ? n : 1);
	got = buf && fd >= 0 ? pread(fd, buf, n, off) : -1;
	if (got < 0) {
		fuse_reply_err(req, buf ? EIO : ENOMEM);
	} else {
		pthread_mutex_lock(&st->lock);
		st->off = off + got; /* where the reader is: what poll compares with */
		pthread_mutex_unlock(&st->lock);
		fuse_reply_buf(req, buf, (size_t)got);
	}
	free(buf);
}

/* Answers the parked read if it can be answered now. */
static void stream_try(struct fs_stream *st, bool end)
{
	fuse_req_t req;
	uint64_t gen;
	size_t want;
	off_t off, size;
	bool more;

	pthread_mutex_lock(&st->lock);
	req = st->pending;
	gen = st->park_gen;
	off = st->off;
	want = st->want;
	pthread_mutex_unlock(&st->lock);
	if (!req)
		return;
	stream_state(st, &size, &more);
	if (off < size || !more || end) {
		pthread_mutex_lock(&st->lock);
		if (st->pending != req || st->park_gen != gen)
			req = NULL; /* interrupted, or answered by another wake */
		else
			st->pending = NULL;
		pthread_mutex_unlock(&st->lock);
		if (req)
			answer(req, st, want, off, off < size ? size : off);
	}
}

/* Signals a poller once data or the end is there. */
static void stream_poll_try(struct fs_stream *st, bool end)
{
	struct fuse_pollhandle *ph;
	off_t size, off;
	bool more;

	pthread_mutex_lock(&st->lock);
	ph = st->ph;
	off = st->off;
	pthread_mutex_unlock(&st->lock);
	if (!ph)
		return;
	stream_state(st, &size, &more);
	if (off < size || !more || end) {
		pthread_mutex_lock(&st->lock);
		ph = st->ph;
		st->ph = NULL;
		pthread_mutex_unlock(&st->lock);
		if (ph) {
			fuse_lowlevel_notify_poll(ph);
			fuse_pollhandle_destroy(ph);
		}
	}
}

/* ---- reads and polls (FUSE workers) --------------------------------------------------------------- */

static void stream_interrupted(fuse_req_t req, void *data)
{
	struct fs_stream *st = data;
	bool mine;

	pthread_mutex_lock(&st->lock);
	mine = st->pending == req;
	if (mine)
		st->pending = NULL;
	else
		st->interrupted = req; /* before it was parked: the read answers */
	pthread_mutex_unlock(&st->lock);
	if (mine)
		fuse_reply_err(req, EINTR);
}

void fs_stream_read(fuse_req_t req, struct fs_stream *st, size_t size, off_t off, bool nonblock)
{
	off_t have;
	bool more, busy, closed;

	pthread_mutex_lock(&st->lock);
	busy = st->pending != NULL;
	closed = st->closed;
	pthread_mutex_unlock(&st->lock);
	if (closed) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (busy) {
		fuse_reply_err(req, EBUSY); /* one reader at a time per open */
		return;
	}
	stream_state(st, &have, &more);
	more = more && !closing(st->fs);
	if (off < have || !more) {
		answer(req, st, size, off, have);
		return;
	}
	if (nonblock) {
		fuse_reply_err(req, EAGAIN);
		return;
	}
	/* registered before the request is visible to anyone else (see stream_interrupted) */
	fuse_req_interrupt_func(req, stream_interrupted, st);
	pthread_mutex_lock(&st->lock);
	if (st->interrupted == req || st->closed) {
		/* interrupted before it parked, or released meanwhile: nobody would answer it */
		st->interrupted = NULL;
		pthread_mutex_unlock(&st->lock);
		fuse_reply_err(req, EINTR);
		return;
	}
	st->pending = req;
	st->park_gen++;
	st->want = size;
	st->off = off;
	pthread_mutex_unlock(&st->lock);
	/* the file may have grown, or the run ended, between the check and now */
	stream_try(st, closing(st->fs));
}

void fs_stream_poll(fuse_req_t req, struct fs_stream *st, struct fuse_pollhandle *ph)
{
	struct fuse_pollhandle *old = NULL;
	unsigned revents = POLLIN | POLLRDNORM;
	off_t have, off;
	bool more;

	stream_state(st, &have, &more);
	more = more && !closing(st->fs);
	pthread_mutex_lock(&st->lock);
	off = st->off;
	/* readable when there is data past what the reader has, or the end */
	if (off >= have && more) {
		revents = 0;
		if (ph) {
			old = st->ph;
			st->ph = ph;
			ph = NULL;
		}
	}
	pthread_mutex_unlock(&st->lock);
	if (old)
		fuse_pollhandle_destroy(old);
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, revents);
	if (!revents)
		stream_poll_try(st, false); /* it may have changed since */
}

/* ---- open and close ---------------------------------------------------------------------------------- */

static void stream_unref(struct fs_stream *st)
{
	struct pfs_fs *fs = st->fs;
	bool last;

	pthread_mutex_lock(&fs->streams_lock);
	last = --st->refs == 0;
	pthread_mutex_unlock(&fs->streams_lock);
	if (!last)
		return;
	if (st->ph)
		fuse_pollhandle_destroy(st->ph);
	if (st->fd >= 0)
		close(st->fd);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

struct fs_stream *fs_stream_open(struct pfs_fs *fs, const struct fs_path *p)
{
	struct fs_stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->fs = fs;
	st->fd = -1;
	st->refs = 1;
	pthread_mutex_init(&st->lock, NULL);
	st->logs = p->file == PFS_F_LOGS_FOLLOW;
	snprintf(st->test, sizeof(st->test), "%s", p->test);
	snprintf(st->svc, sizeof(st->svc), "%s", p->svc);
	if (st->logs) {
		/* the service of the run current now, to that run's end */
		size_t n;
		int *runs = engine_run_numbers(fs->e, p->test, &n);

		st->run = runs && n ? runs[n - 1] : 0;
		free(runs);
	}
	pthread_mutex_lock(&fs->streams_lock);
	st->next = fs->streams;
	if (fs->streams)
		fs->streams->prev = st;
	fs->streams = st;
	pthread_mutex_unlock(&fs->streams_lock);
	return st;
}

void fs_stream_close(struct fs_stream *st)
{
	struct pfs_fs *fs = st->fs;
	fuse_req_t req;

	pthread_mutex_lock(&fs->streams_lock);
	if (st->prev)
		st->prev->next = st->next;
	else
		fs->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	st->prev = st->next = NULL;
	pthread_mutex_unlock(&fs->streams_lock);
	pthread_mutex_lock(&st->lock);
	req = st->pending;
	st->pending = NULL;
	st->closed = true;
	pthread_mutex_unlock(&st->lock);
	if (req)
		fuse_reply_err(req, EINTR);
}

void fs_stream_put(struct fs_stream *st)
{
	stream_unref(st);
}

/* ---- the notifier thread ---------------------------------------------------------------------------- */

/* Wakes the streams of a test (NULL: all), each outside the list's lock. */
static void wake_streams(struct pfs_fs *fs, const char *test, bool end)
{
	struct fs_stream **v = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&fs->streams_lock);
	for (struct fs_stream *st = fs->streams; st; st = st->next) {
		if (test && strcmp(st->test, test))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			struct fs_stream **nv = realloc(v, nc * sizeof(*nv));

			if (!nv)
				break; /* what is not woken now is at the next notification */
			v = nv;
			cap = nc;
		}
		st->refs++;
		v[n++] = st;
	}
	pthread_mutex_unlock(&fs->streams_lock);
	for (size_t i = 0; i < n; i++) {
		stream_try(v[i], end);
		stream_poll_try(v[i], end);
		stream_unref(v[i]);
	}
	free(v);
}

void pfs_fs_notify(void *ud, enum engine_change what, const char *test, int run, const char *service)
{
	struct pfs_fs *fs = ud;

	(void)run;
	(void)service;
	if (what != ENGINE_EVENTS && what != ENGINE_LOGS && what != ENGINE_RUNS && what != ENGINE_STATUS)
		return;
	pthread_mutex_lock(&fs->qlock);
	if (fs->nq == fs->qalloc) {
		size_t na = fs->qalloc ? fs->qalloc * 2 : 64;
		struct fs_note *nq = na <= 4096 ? realloc(fs->queue, na * sizeof(*nq)) : NULL;

		if (!nq) {
			fs->all_dirty = true; /* too much at once: wake everything, lose nothing */
			pthread_cond_signal(&fs->qcv);
			pthread_mutex_unlock(&fs->qlock);
			return;
		}
		fs->queue = nq;
		fs->qalloc = na;
	}
	fs->queue[fs->nq].what = what;
	snprintf(fs->queue[fs->nq].test, sizeof(fs->queue[fs->nq].test), "%s", test ? test : "");
	fs->nq++;
	pthread_cond_signal(&fs->qcv);
	pthread_mutex_unlock(&fs->qlock);
}

static void *notifier_main(void *arg)
{
	struct pfs_fs *fs = arg;

	for (;;) {
		struct fs_note *q;
		size_t n;
		bool all, stop;

		pthread_mutex_lock(&fs->qlock);
		while (!fs->nq && !fs->all_dirty && !fs->stopping)
			pthread_cond_wait(&fs->qcv, &fs->qlock);
		q = fs->queue;
		n = fs->nq;
		all = fs->all_dirty;
		stop = fs->stopping;
		fs->queue = NULL;
		fs->nq = fs->qalloc = 0;
		fs->all_dirty = false;
		pthread_mutex_unlock(&fs->qlock);
		if (stop) {
			free(q);
			wake_streams(fs, NULL, true);
			return NULL;
		}
		if (all) {
			wake_streams(fs, NULL, false);
		} else {
			/* one wake per test, however many notes it had */
			for (size_t i = 0; i < n; i++) {
				bool seen = false;

				for (size_t k = 0; k < i && !seen; k++)
					seen = !strcmp(q[k].test, q[i].test);
				if (!seen)
					wake_streams(fs, q[i].test[0] ? q[i].test : NULL, false);
			}
		}
		free(q);
	}
}

int fs_notifier_start(struct pfs_fs *fs)
{
	int r = pthread_create(&fs->notifier, NULL, notifier_main, fs);

	if (r)
		return -r;
	fs->notifier_running = true;
	return 0;
}

void fs_notifier_stop(struct pfs_fs *fs)
{
	if (!fs->notifier_running)
		return;
	pthread_mutex_lock(&fs->qlock);
	fs->stopping = true;
	pthread_cond_signal(&fs->qcv);
	pthread_mutex_unlock(&fs->qlock);
	pthread_join(fs->notifier, NULL);
	fs->notifier_running = false;
}

void fs_streams_end_all(struct pfs_fs *fs)
{
	pthread_mutex_lock(&fs->streams_lock);
	fs->closing = true;
	pthread_mutex_unlock(&fs->streams_lock);
	wake_streams(fs, NULL, true);
}
