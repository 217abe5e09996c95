/* SPDX-License-Identifier: MIT */
/*
 * The connection to the Docker engine as every layer sees it: connected or
 * not, and a generation that the monitor bumps at every (re)connection, so
 * a driver that saw a call fail can wait for the engine to come back and
 * then reconcile its run with what Docker has. conn.lock is a leaf: it is
 * taken last (often under t->lock) and nothing is called while it is held.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"
#include "pantherfs/banned.h"

void conn_init(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	/* 1, not 0: a stream's follow_gen 0 means "never followed", even before the first connection */
	c->gen = 1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cv, NULL);
	snprintf(c->line, sizeof(c->line), "disconnected: not checked yet");
}

void conn_destroy(struct conn *c)
{
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->lock);
}

uint64_t conn_gen(struct conn *c)
{
	uint64_t g;

	pthread_mutex_lock(&c->lock);
	g = c->gen;
	pthread_mutex_unlock(&c->lock);
	return g;
}

bool conn_stopping(struct conn *c)
{
	bool s;

	pthread_mutex_lock(&c->lock);
	s = c->stopping;
	pthread_mutex_unlock(&c->lock);
	return s;
}

bool conn_connected(struct conn *c)
{
	bool s;

	pthread_mutex_lock(&c->lock);
	s = c->connected;
	pthread_mutex_unlock(&c->lock);
	return s;
}

void conn_kick(struct conn *c)
{
	pthread_mutex_lock(&c->lock);
	c->check = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock);
}

bool conn_wait(struct conn *c, uint64_t gen)
{
	bool ok;

	pthread_mutex_lock(&c->lock);
	c->check = true; /* tell the monitor to check the engine now */
	pthread_cond_broadcast(&c->cv);
	while (!c->stopping && (!c->connected || c->gen <= gen))
		pthread_cond_wait(&c->cv, &c->lock);
	ok = !c->stopping;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

bool conn_lost(int err)
{
	return err == -ENOTCONN || err == -ECONNRESET || err == -ETIMEDOUT || err == -EPROTONOSUPPORT ||
	       err == -EPROTO || err == -ECANCELED || err == -ESHUTDOWN;
}

void engine_ctx_notify(struct engine_ctx *x, enum engine_change what, const char *test, int run, const char *service)
{
	if (x->notify)
		x->notify(x->nud, what, test, run, service);
}
