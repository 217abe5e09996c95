/* SPDX-License-Identifier: MIT */
/*
 * The log writer: one thread that appends what Docker streams (services'
 * logs, build.log) to the state dir, so that the Docker client's I/O thread
 * never waits on a disk.
 *
 * The I/O thread's callbacks copy each piece into a queue (logw_push) and
 * go on; the writer appends the pieces in the order they came and then runs
 * each piece's `done` (which publishes the new size to readers, under the
 * owner's lock). A reader therefore never sees a size beyond what is on
 * disk, and an owner's `done` calls come in push order: a marker (a piece
 * with no bytes) pushed when a stream ends runs after all its data.
 *
 * The queue holds at most LOGW_CAP bytes in the normal course: past that,
 * the stream that pushed is paused (docker_call_pause, curl keeps its bytes)
 * and resumed once the writer has brought the queue down to half. Pieces
 * are never dropped, so one large piece may take the queue past the cap.
 *
 * Without a running thread (before logw_start, after logw_stop, in unit
 * tests) logw_push writes at once and says so: the caller publishes then.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

void logw_init(struct logw *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->idle, NULL);
}

/* Resumes the paused streams; called with w->lock held, returns with it held. */
static void resume_all(struct logw *w)
{
	struct docker_call **v = w->paused;
	size_t n = w->n_paused;

	w->paused = NULL;
	w->n_paused = w->cap_paused = 0;
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < n; i++) {
		docker_call_resume(v[i]);
		docker_call_unref(v[i]);
	}
	free(v);
	pthread_mutex_lock(&w->lock);
}

static void *logw_main(void *arg)
{
	struct logw *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct logw_item *it;
		int rc = 0;

		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->cv, &w->lock);
		if (!w->head)
			break; /* stopping, and everything is written */
		it = w->head;
		w->head = it->next;
		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->lock);

		if (it->fd >= 0 && it->len)
			rc = pfs_write_all(it->fd, it->data, it->len);
		if (it->done)
			it->done(it->owner, it, rc);

		pthread_mutex_lock(&w->lock);
		w->bytes -= it->len;
		if (it->pending)
			(*it->pending)--;
		w->written++;
		free(it);
		if (w->n_paused && w->bytes <= LOGW_CAP / 2)
			resume_all(w);
		pthread_cond_broadcast(&w->idle);
	}
	if (w->n_paused)
		resume_all(w);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int logw_start(struct logw *w)
{
	int r;

	pthread_mutex_lock(&w->lock);
	w->stopping = false;
	r = pthread_create(&w->th, NULL, logw_main, w);
	w->running = r == 0;
	pthread_mutex_unlock(&w->lock);
	return -r;
}

void logw_stop(struct logw *w)
{
	bool running;

	pthread_mutex_lock(&w->lock);
	running = w->running;
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->lock);
	if (running)
		pthread_join(w->th, NULL);
	pthread_mutex_lock(&w->lock);
	w->running = false;
	pthread_mutex_unlock(&w->lock);
}

void logw_release(struct logw *w)
{
	free(w->paused);
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->lock);
}

/* Keeps a reference to a stream to resume later, once; w->lock held. */
static void hold(struct logw *w, struct docker_call *call)
{
	for (size_t i = 0; i < w->n_paused; i++)
		if (w->paused[i] == call)
			return;
	if (w->n_paused == w->cap_paused) {
		size_t na = w->cap_paused ? w->cap_paused * 2 : 8;
		struct docker_call **nv = realloc(w->paused, na * sizeof(*nv));

		if (!nv)
			return; /* not paused then: the queue only grows past its cap */
		w->paused = nv;
		w->cap_paused = na;
	}
	w->paused[w->n_paused++] = docker_call_ref(call);
	docker_call_pause(call);
	w->pauses++;
}

int logw_push(struct logw *w, const struct logw_piece *p)
{
	size_t len = p->len + (p->nl ? 1 : 0);
	struct logw_item *it = malloc(sizeof(*it) + len);

	if (!it)
		return -ENOMEM;
	memset(it, 0, sizeof(*it));
	it->fd = p->fd;
	it->owner = p->owner;
	it->done = p->done;
	it->pending = p->pending;
	it->n = p->n;
	if (p->ts)
		snprintf(it->ts, sizeof(it->ts), "%s", p->ts);
	it->len = len;
	if (p->len)
		memcpy(it->data, p->data, p->len);
	if (p->nl)
		it->data[p->len] = '\n';

	pthread_mutex_lock(&w->lock);
	if (!w->running || w->stopping) {
		pthread_mutex_unlock(&w->lock);
		/* written here: the caller publishes it itself */
		int rc = it->fd >= 0 && it->len ? pfs_write_all(it->fd, it->data, it->len) : 0;

		free(it);
		return rc;
	}
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	w->bytes += it->len;
	if (it->pending)
		(*it->pending)++;
	w->pushed++;
	if (w->bytes > LOGW_CAP && p->producer)
		hold(w, p->producer);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->lock);
	return 1;
}

void logw_wait_owner(struct logw *w, const unsigned *pending)
{
	pthread_mutex_lock(&w->lock);
	while (*pending > 0)
		pthread_cond_wait(&w->idle, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

void logw_stats(struct logw *w, size_t *bytes, uint64_t *pauses)
{
	pthread_mutex_lock(&w->lock);
	if (bytes)
		*bytes = w->bytes;
	if (pauses)
		*pauses = w->pauses;
	pthread_mutex_unlock(&w->lock);
}
