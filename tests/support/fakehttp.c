/* SPDX-License-Identifier: MIT */
/*
 * One accept thread, one thread per connection (keep-alive: several requests
 * per connection). Stopping closes the listening socket and every connection
 * and joins all threads, so a test leaves nothing behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fakehttp.h"

#define MAX_CONNS 256
#define MAX_LOG 1024

struct logged {
	char *line;
	char *head;   /* the header lines after the request line */
	char *body;
	size_t body_len;
};

struct conn {
	struct fakehttp *f;
	int fd;
	pthread_t th;
};

struct fakehttp {
	const struct fake_route *routes;
	size_t n;
	char api[32];
	bool has_api;
	char dir[64], path[128], host[160];
	int lfd;
	int stop_pipe[2];
	pthread_t accept_th;
	pthread_mutex_t lock;
	struct conn *conns[MAX_CONNS];
	size_t nconns;
	struct logged log[MAX_LOG];
	size_t nlog;
	bool stopping;
};

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

static bool stopping(struct fakehttp *f)
{
	bool s;

	pthread_mutex_lock(&f->lock);
	s = f->stopping;
	pthread_mutex_unlock(&f->lock);
	return s;
}

/* Waits for readability on fd or stop; false on stop. */
static bool wait_readable(struct fakehttp *f, int fd)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = f->stop_pipe[0], .events = POLLIN } };

	for (;;) {
		int r = poll(p, 2, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || p[1].revents)
			return false;
		if (p[0].revents)
			return true;
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int send_chunk(int fd, const char *p, size_t n)
{
	char hdr[32];

	snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
	if (write_all(fd, hdr, strlen(hdr)) || write_all(fd, p, n) || write_all(fd, "\r\n", 2))
		return -1;
	return 0;
}

/* Returns false when the connection must close. */
static bool respond(struct fakehttp *f, int fd, const char *line)
{
	const struct fake_route *r = NULL;
	struct fake_route dflt = { 0 };
	char head[1024], msg[512];
	size_t blen;

	for (size_t i = 0; i < f->n; i++)
		if (!strncmp(line, f->routes[i].match, strlen(f->routes[i].match))) {
			r = &f->routes[i];
			break;
		}
	if (!r && !strncmp(line, "GET /_ping", 10)) {
		dflt.status = 200;
		dflt.body = "OK";
		r = &dflt;
	} else if (!r) {
		snprintf(msg, sizeof(msg), "{\"message\":\"no route for %s\"}", line);
		dflt.status = 404;
		dflt.body = msg;
		r = &dflt;
	}
	blen = r->body_len ? r->body_len : (r->body ? strlen(r->body) : 0);
	if (r->mode == FAKE_HANG) {
		while (!stopping(f))
			sleep_ms(10);
		return false;
	}
	snprintf(head, sizeof(head), "HTTP/1.1 %d Fake\r\nServer: fakehttp\r\n%s%s%s%s",
		 r->status, f->has_api ? "Api-Version: " : "", f->has_api ? f->api : "",
		 f->has_api ? "\r\n" : "", r->headers ? r->headers : "");
	if (r->mode == FAKE_NORMAL) {
		size_t k = strlen(head);
		snprintf(head + k, sizeof(head) - k, "Content-Length: %zu\r\n\r\n", blen);
		return !write_all(fd, head, strlen(head)) && !write_all(fd, r->body ? r->body : "", blen);
	}
	size_t k = strlen(head);
	snprintf(head + k, sizeof(head) - k, "Transfer-Encoding: chunked\r\n\r\n");
	if (write_all(fd, head, strlen(head)))
		return false;
	size_t piece = r->chunk ? r->chunk : 7;
	size_t limit = r->mode == FAKE_CLOSE_MIDWAY ? blen / 2 : blen;
	for (size_t off = 0; off < limit; off += piece) {
		size_t n = limit - off < piece ? limit - off : piece;
		if (send_chunk(fd, r->body + off, n))
			return false;
		if (r->mode == FAKE_CHUNKED)
			sleep_ms(20);
	}
	if (r->mode == FAKE_CLOSE_MIDWAY)
		return false;
	if (r->mode == FAKE_OPEN) {
		char b[256];
		/* keep it open until the client goes away or the server stops */
		while (wait_readable(f, fd)) {
			ssize_t n = recv(fd, b, sizeof(b), 0);
			if (n <= 0)
				break;
		}
		return false;
	}
	return !write_all(fd, "0\r\n\r\n", 5);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct fakehttp *f = c->f;
	/* room for a build context with a few small source tarballs */
	const size_t bufsize = 4u << 20;
	char *buf = malloc(bufsize);
	size_t have = 0;

	if (!buf)
		goto out;

	for (;;) {
		char *end, *line_end, *cl, line[512];
		size_t hlen, body_len = 0;

		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			ssize_t n;
			if (have == bufsize || !wait_readable(f, c->fd))
				goto out;
			n = recv(c->fd, buf + have, bufsize - have, 0);
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		hlen = (size_t)(end - buf) + 4;
		line_end = memmem(buf, hlen, "\r\n", 2);
		snprintf(line, sizeof(line), "%.*s", (int)(line_end - buf), buf);
		/* strip " HTTP/1.1" */
		char *sp = strrchr(line, ' ');
		if (sp && !strncmp(sp, " HTTP/", 6))
			*sp = '\0';
		buf[hlen - 1] = '\0';
		cl = strcasestr(buf, "\r\nContent-Length:");
		if (cl)
			body_len = strtoul(cl + 17, NULL, 10);
		while (have < hlen + body_len) {
			ssize_t n;
			if (hlen + body_len > bufsize || !wait_readable(f, c->fd))
				goto out;
			n = recv(c->fd, buf + have, bufsize - have, 0);
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		pthread_mutex_lock(&f->lock);
		if (f->nlog < MAX_LOG) {
			struct logged *l = &f->log[f->nlog++];
			l->line = strdup(line);
			l->head = strndup(line_end + 2, hlen - (size_t)(line_end + 2 - buf));
			l->body = malloc(body_len + 1);
			if (l->body) {
				memcpy(l->body, buf + hlen, body_len);
				l->body[body_len] = '\0';
			}
			l->body_len = body_len;
		}
		pthread_mutex_unlock(&f->lock);
		if (!respond(f, c->fd, line))
			goto out;
		memmove(buf, buf + hlen + body_len, have - hlen - body_len);
		have -= hlen + body_len;
	}
out:
	free(buf);
	shutdown(c->fd, SHUT_RDWR);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct fakehttp *f = arg;

	while (wait_readable(f, f->lfd)) {
		int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			continue;
		c = calloc(1, sizeof(*c));
		pthread_mutex_lock(&f->lock);
		if (!c || f->nconns == MAX_CONNS) {
			pthread_mutex_unlock(&f->lock);
			close(fd);
			free(c);
			continue;
		}
		c->f = f;
		c->fd = fd;
		f->conns[f->nconns++] = c;
		pthread_mutex_unlock(&f->lock);
		pthread_create(&c->th, NULL, conn_main, c);
	}
	return NULL;
}

int fakehttp_start(const struct fake_route *routes, size_t n, const char *api,
		   struct fakehttp **out)
{
	struct fakehttp *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!f)
		return -ENOMEM;
	f->routes = routes;
	f->n = n;
	if (api) {
		f->has_api = true;
		snprintf(f->api, sizeof(f->api), "%s", api);
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/pfs-fakehttp-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -errno;
	}
	snprintf(f->path, sizeof(f->path), "%s/docker.sock", f->dir);
	snprintf(f->host, sizeof(f->host), "unix://%s", f->path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(f->lfd, 128) < 0 || pipe2(f->stop_pipe, O_CLOEXEC) < 0) {
		int e = errno;
		if (f->lfd >= 0)
			close(f->lfd);
		rmdir(f->dir);
		free(f);
		return -e;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_create(&f->accept_th, NULL, accept_main, f);
	*out = f;
	return 0;
}

const char *fakehttp_host(struct fakehttp *f)
{
	return f->host;
}

int fakehttp_count(struct fakehttp *f, const char *prefix)
{
	int n = 0;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->nlog; i++)
		if (f->log[i].line && !strncmp(f->log[i].line, prefix, strlen(prefix)))
			n++;
	pthread_mutex_unlock(&f->lock);
	return n;
}

char *fakehttp_last_body(struct fakehttp *f, const char *prefix, size_t *len)
{
	char *out = NULL;

	pthread_mutex_lock(&f->lock);
	for (size_t i = f->nlog; i-- > 0;) {
		struct logged *l = &f->log[i];
		if (l->line && !strncmp(l->line, prefix, strlen(prefix)) && l->body) {
			out = malloc(l->body_len + 1);
			if (out) {
				memcpy(out, l->body, l->body_len + 1);
				if (len)
					*len = l->body_len;
			}
			break;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return out;
}

char *fakehttp_last_header(struct fakehttp *f, const char *prefix, const char *name)
{
	char *out = NULL;
	size_t nlen = strlen(name);

	pthread_mutex_lock(&f->lock);
	for (size_t i = f->nlog; i-- > 0;) {
		struct logged *l = &f->log[i];

		if (!l->line || strncmp(l->line, prefix, strlen(prefix)) || !l->head)
			continue;
		for (const char *h = l->head, *end; h && *h; h = end ? end + 2 : NULL) {
			const char *v = h + nlen + 1;

			end = strstr(h, "\r\n");
			if (strncasecmp(h, name, nlen) || h[nlen] != ':')
				continue;
			while (*v == ' ')
				v++;
			out = strndup(v, end ? (size_t)(end - v) : strlen(v));
			break;
		}
		break;
	}
	pthread_mutex_unlock(&f->lock);
	return out;
}

void fakehttp_stop(struct fakehttp *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_mutex_unlock(&f->lock);
	if (write(f->stop_pipe[1], "x", 1) < 0) {
		/* the pipe is ours and empty: cannot fail in practice */
	}
	pthread_join(f->accept_th, NULL);
	for (size_t i = 0; i < f->nconns; i++) {
		shutdown(f->conns[i]->fd, SHUT_RDWR);
		pthread_join(f->conns[i]->th, NULL);
		close(f->conns[i]->fd);
		free(f->conns[i]);
	}
	for (size_t i = 0; i < f->nlog; i++) {
		free(f->log[i].line);
		free(f->log[i].head);
		free(f->log[i].body);
	}
	close(f->lfd);
	close(f->stop_pipe[0]);
	close(f->stop_pipe[1]);
	unlink(f->path);
	rmdir(f->dir);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
