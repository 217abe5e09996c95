/* SPDX-License-Identifier: MIT */
/*
 * Docker client transport: one I/O thread, one curl multi handle.
 *
 * A call's life: docker_submit() copies the request into a struct
 * docker_call and appends it to the `submitted` queue under c->lock, then
 * wakes the I/O thread (curl_multi_wakeup). The I/O thread moves it to
 * `waiting` (when the API version is not known yet: a /_ping is sent first)
 * or starts it (easy handle added to the multi handle, call on `active`).
 * When curl reports it done, or it is cancelled, finish() builds the result,
 * runs on_done, and drops the I/O thread's reference.
 *
 * A stream's reader may hold it back (docker_call_pause): the I/O thread
 * then refuses its next piece with CURL_WRITEFUNC_PAUSE (curl keeps that
 * piece and delivers it again), and docker_call_resume() asks the I/O thread
 * for curl_easy_pause(CURLPAUSE_CONT). Nothing is lost or repeated; the other
 * calls go on.
 *
 * Only the I/O thread touches easy handles, the multi handle and the
 * waiting/active lists; c->lock guards the submitted queue, cancel and pause
 * flags, the negotiated version and `stopping`. Callbacks run without c->lock held, so
 * they may submit more calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "docker_internal.h"
#include "pantherfs/log.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#ifndef CURL_WRITEFUNC_ERROR
#define CURL_WRITEFUNC_ERROR 0xFFFFFFFF
#endif

#define STREAM_ERROR_BODY_CAP 65536u

struct docker_call {
	int refs; /* atomic */
	struct docker_client *c;

	/* the request, owned copies */
	char *method, *path, *query, *body, *content_type;
	char **headers; /* NULL-terminated */
	size_t body_len;
	int upload_fd;
	off_t upload_len;
	bool stream, unversioned;
	long timeout_ms;
	size_t body_cap;
	docker_head_cb on_head;
	docker_data_cb on_data;
	docker_done_cb on_done;
	void *ud;

	/* I/O thread state */
	CURL *easy;
	struct curl_slist *hdrs;
	char *url;
	char errbuf[CURL_ERROR_SIZE];
	struct pfs_buf resp;
	int abort_err;
	bool head_done;
	bool paused_io;  /* curl holds a refused piece: only curl_easy_pause(CONT) resumes it */
	struct docker_call *prev, *next; /* on submitted, waiting or active */

	/* under c->lock */
	bool cancelled;
	bool finished;
	bool pause_req;  /* the reader asked to hold deliveries */

	struct docker_result res;
};

struct call_list {
	struct docker_call *head, *tail;
};

struct docker_client {
	struct docker_endpoint ep;
	long timeout_ms, connect_timeout_ms;
	char api_max[16];

	pthread_t thread;
	pthread_mutex_t lock;
	CURLM *multi;

	/* under lock */
	struct call_list submitted;
	bool cancel_pending;
	bool resume_pending;
	bool stopping;
	char api_version[16];

	/* I/O thread only */
	struct call_list waiting, active;
	bool pinging;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_ALL);
}

/* ---- lists ------------------------------------------------------------------- */

static void list_push(struct call_list *l, struct docker_call *x)
{
	x->next = NULL;
	x->prev = l->tail;
	if (l->tail)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
}

static void list_del(struct call_list *l, struct docker_call *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		l->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		l->tail = x->prev;
	x->prev = x->next = NULL;
}

/* ---- versions ------------------------------------------------------------------ */

int docker_api_parse(const char *v)
{
	char *end;
	long maj, min;

	if (!v || !*v)
		return -1;
	maj = strtol(v, &end, 10);
	if (*end != '.' || maj < 0 || maj > 100)
		return -1;
	v = end + 1;
	min = strtol(v, &end, 10);
	if (end == v || *end || min < 0 || min > 999)
		return -1;
	return (int)(maj * 1000 + min);
}

void docker_client_api_version(struct docker_client *c, char *out, size_t outlen)
{
	pthread_mutex_lock(&c->lock);
	snprintf(out, outlen, "%s", c->api_version);
	pthread_mutex_unlock(&c->lock);
}

int docker_client_api_cmp(struct docker_client *c, const char *v)
{
	char cur[16];
	int a, b;

	docker_client_api_version(c, cur, sizeof(cur));
	a = docker_api_parse(cur);
	b = docker_api_parse(v);
	if (a < 0 || b < 0)
		return 0;
	return a < b ? -1 : a > b;
}

/* ---- errors ---------------------------------------------------------------------- */

int docker_status_errno(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 304: return -EALREADY;
	case 400: return -EINVAL;
	case 401:
	case 403: return -EPERM;
	case 404: return -ENOENT;
	case 409: return -EBUSY;
	}
	if (status >= 500)
		return -EIO;
	return -EINVAL;
}

static int curl_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_OK: return 0;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY: return -ENOTCONN;
	case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE: return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY: return -ENOMEM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE: return -EPROTO;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT: return -EINVAL;
	case CURLE_WEIRD_SERVER_REPLY: return -EPROTO;
	default: return -EIO;
	}
}

void docker_error_message(const char *body, size_t len, char *out, size_t outlen)
{
	json_error_t jerr;
	json_t *j;
	size_t n;

	out[0] = '\0';
	if (!body || !len)
		return;
	j = json_loadb(body, len, 0, &jerr);
	if (j && json_is_string(json_object_get(j, "message"))) {
		snprintf(out, outlen, "%s", json_string_value(json_object_get(j, "message")));
		json_decref(j);
		return;
	}
	json_decref(j);
	n = len < outlen - 1 ? len : outlen - 1;
	memcpy(out, body, n);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
}

/* ---- call lifetime --------------------------------------------------------------- */

static void call_free(struct docker_call *x)
{
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	if (x->upload_fd >= 0)
		close(x->upload_fd);
	free(x->method);
	free(x->path);
	free(x->query);
	free(x->body);
	free(x->content_type);
	for (size_t i = 0; x->headers && x->headers[i]; i++)
		free(x->headers[i]);
	free(x->headers);
	free(x->url);
	pfs_buf_release(&x->resp);
	docker_result_release(&x->res);
	free(x);
}

void docker_call_unref(struct docker_call *x)
{
	if (x && __atomic_sub_fetch(&x->refs, 1, __ATOMIC_ACQ_REL) == 0)
		call_free(x);
}

void docker_result_release(struct docker_result *r)
{
	if (!r)
		return;
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

static void describe_endpoint(struct docker_client *c, char *out, size_t n)
{
	if (c->ep.unix_path[0])
		snprintf(out, n, "unix://%s", c->ep.unix_path);
	else
		snprintf(out, n, "%s", c->ep.base_url);
}

/*
 * Completes a call: I/O thread only. err/msg describe a transport failure
 * (0/NULL when curl finished the transfer and the HTTP status decides).
 */
static void finish(struct docker_client *c, struct docker_call *x, int err, const char *msg)
{
	struct docker_result *r = &x->res;

	if (x->easy)
		curl_multi_remove_handle(c->multi, x->easy);

	if (err == 0 && r->status && (r->status < 200 || r->status >= 300)) {
		err = docker_status_errno(r->status);
		docker_error_message(x->resp.ptr, x->resp.len, r->message, sizeof(r->message));
		if (!r->message[0])
			snprintf(r->message, sizeof(r->message), "HTTP %ld", r->status);
		pfs_buf_release(&x->resp);
	} else if (err) {
		char ep[160];

		describe_endpoint(c, ep, sizeof(ep));
		if (err == -ENOTCONN)
			snprintf(r->message, sizeof(r->message),
				 "cannot connect to the Docker engine at %s: %s", ep,
				 msg && *msg ? msg : strerror(-err));
		else if (msg && *msg)
			snprintf(r->message, sizeof(r->message), "%s", msg);
		else
			snprintf(r->message, sizeof(r->message), "%s", strerror(-err));
		pfs_buf_release(&x->resp);
	} else if (!x->stream) {
		r->body = pfs_buf_steal(&x->resp, &r->body_len);
		if (!r->body) {
			err = -ENOMEM;
			snprintf(r->message, sizeof(r->message), "out of memory");
		}
	}
	r->err = err;

	if (err == -ENOTCONN || err == -ECONNRESET) {
		/* the engine went away: renegotiate with whatever comes back */
		pthread_mutex_lock(&c->lock);
		c->api_version[0] = '\0';
		pthread_mutex_unlock(&c->lock);
	}

	pthread_mutex_lock(&c->lock);
	x->finished = true;
	pthread_mutex_unlock(&c->lock);

	if (x->on_done)
		x->on_done(x->ud, r);
	docker_call_unref(x);
}

/* ---- curl callbacks ------------------------------------------------------------- */

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct docker_call *x = ud;
	size_t len = sz * n, vlen;
	const char *v;
	char *dst = NULL;
	size_t dstlen = 0;

	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		x->res.content_type[0] = '\0';
		return len;
	}
	if (len > 13 && !strncasecmp(p, "Content-Type:", 13)) {
		v = p + 13;
		dst = x->res.content_type;
		dstlen = sizeof(x->res.content_type);
	} else if (len > 12 && !strncasecmp(p, "Api-Version:", 12)) {
		v = p + 12;
		dst = x->res.api_version;
		dstlen = sizeof(x->res.api_version);
	} else {
		return len;
	}
	while (v < p + len && (*v == ' ' || *v == '\t'))
		v++;
	vlen = (size_t)(p + len - v);
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	if (vlen >= dstlen)
		vlen = dstlen - 1;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
	return len;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
	struct docker_call *x = ud;
	size_t len = sz * n;
	int r;

	if (!x->head_done) {
		long st = 0;

		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
		x->res.status = st;
		x->head_done = true;
		if (x->stream && st >= 200 && st < 300 && x->on_head) {
			r = x->on_head(x->ud, st, x->res.content_type);
			if (r < 0) {
				x->abort_err = r;
				return CURL_WRITEFUNC_ERROR;
			}
		}
	}
	if (len == 0)
		return 0;
	if (x->stream && x->res.status >= 200 && x->res.status < 300) {
		bool hold;

		pthread_mutex_lock(&x->c->lock);
		hold = x->pause_req;
		pthread_mutex_unlock(&x->c->lock);
		if (hold) {
			/* curl keeps this piece and gives it again once resumed */
			x->paused_io = true;
			return CURL_WRITEFUNC_PAUSE;
		}
		r = x->on_data ? x->on_data(x->ud, p, len) : 0;
		if (r < 0) {
			x->abort_err = r;
			return CURL_WRITEFUNC_ERROR;
		}
		return len;
	}
	r = pfs_buf_add(&x->resp, p, len);
	if (r < 0) {
		x->abort_err = r == -E2BIG ? -EFBIG : r;
		return CURL_WRITEFUNC_ERROR;
	}
	return len;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
	struct docker_call *x = ud;

	for (;;) {
		ssize_t k = read(x->upload_fd, p, sz * n);
		if (k >= 0)
			return (size_t)k;
		if (errno != EINTR)
			return CURL_READFUNC_ABORT;
	}
}

/* ---- starting calls ------------------------------------------------------------------ */

static int start_call(struct docker_client *c, struct docker_call *x)
{
	char ver[16];
	CURL *e;

	pthread_mutex_lock(&c->lock);
	snprintf(ver, sizeof(ver), "%s", c->api_version);
	pthread_mutex_unlock(&c->lock);

	free(x->url);
	if (x->unversioned)
		x->url = pfs_strdup_printf("%s%s%s%s", c->ep.base_url, x->path,
					   x->query ? "?" : "", x->query ? x->query : "");
	else
		x->url = pfs_strdup_printf("%s/v%s%s%s%s", c->ep.base_url, ver, x->path,
					   x->query ? "?" : "", x->query ? x->query : "");
	if (!x->url)
		return -ENOMEM;

	e = x->easy = curl_easy_init();
	if (!e)
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	if (!x->stream)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, x->timeout_ms ? x->timeout_ms : c->timeout_ms);
	if (c->ep.unix_path[0]) {
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->ep.unix_path);
	} else {
		curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
		curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	}
	if (c->ep.tls) {
		if (c->ep.ca[0])
			curl_easy_setopt(e, CURLOPT_CAINFO, c->ep.ca);
		if (c->ep.cert[0])
			curl_easy_setopt(e, CURLOPT_SSLCERT, c->ep.cert);
		if (c->ep.key[0])
			curl_easy_setopt(e, CURLOPT_SSLKEY, c->ep.key);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->ep.tls_verify ? 1L : 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->ep.tls_verify ? 2L : 0L);
	}

	x->hdrs = curl_slist_append(NULL, "Expect:");
	if (!x->hdrs)
		return -ENOMEM;
	for (size_t i = 0; x->headers && x->headers[i]; i++) {
		struct curl_slist *h = curl_slist_append(x->hdrs, x->headers[i]);

		if (!h)
			return -ENOMEM;
		x->hdrs = h;
	}
	if (!strcmp(x->method, "POST")) {
		char ct[160];

		curl_easy_setopt(e, CURLOPT_POST, 1L);
		if (x->upload_fd >= 0) {
			curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(e, CURLOPT_READDATA, x);
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->upload_len);
		} else {
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? x->body : "");
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
		}
		snprintf(ct, sizeof(ct), "Content-Type: %s",
			 x->content_type ? x->content_type : "application/json");
		if (x->body || x->upload_fd >= 0) {
			struct curl_slist *h = curl_slist_append(x->hdrs, ct);
			if (!h)
				return -ENOMEM;
			x->hdrs = h;
		}
	} else if (!strcmp(x->method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(x->method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);

	if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
		return -ENOMEM;
	list_push(&c->active, x);
	return 0;
}

static void start_or_fail(struct docker_client *c, struct docker_call *x)
{
	int r = start_call(c, x);

	if (r < 0) {
		if (x->easy)
			curl_multi_remove_handle(c->multi, x->easy);
		finish(c, x, r, "cannot set up the request");
	}
}

int docker_client_negotiate(struct docker_client *c, const char *server_api, struct pfs_err *err)
{
	const char *server = server_api && *server_api ? server_api : DOCKER_API_MIN;
	int sv = docker_api_parse(server), mine = docker_api_parse(c->api_max);

	if (sv < 0 || sv < docker_api_parse(DOCKER_API_MIN))
		return pfs_err_set(err, -EPROTONOSUPPORT, "Docker engine API %s is older than %s",
				   server, DOCKER_API_MIN);
	pthread_mutex_lock(&c->lock);
	snprintf(c->api_version, sizeof(c->api_version), "%s", sv < mine ? server : c->api_max);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* The negotiation ping finished: start or fail every waiting call. */
static void negotiated(void *ud, const struct docker_result *r)
{
	struct docker_client *c = ud;
	struct docker_call *x;
	struct pfs_err e = { 0 };
	const char *msg = r->message;
	int err = r->err;

	c->pinging = false;
	if (err == 0) {
		err = docker_client_negotiate(c, r->api_version, &e);
		msg = e.msg;
	}
	while ((x = c->waiting.head)) {
		list_del(&c->waiting, x);
		if (err)
			finish(c, x, err, msg);
		else
			start_or_fail(c, x);
	}
}

static void begin_ping(struct docker_client *c)
{
	struct docker_call *p = calloc(1, sizeof(*p));

	if (!p)
		return;
	p->refs = 1;
	p->c = c;
	p->upload_fd = -1;
	p->method = strdup("GET");
	p->path = strdup("/_ping");
	p->unversioned = true;
	p->timeout_ms = c->timeout_ms < 10000 ? c->timeout_ms : 10000;
	p->on_done = negotiated;
	p->ud = c;
	pfs_buf_init(&p->resp, 4096);
	c->pinging = true;
	if (!p->method || !p->path) {
		finish(c, p, -ENOMEM, "out of memory");
		return;
	}
	start_or_fail(c, p);
}

static void dispatch(struct docker_client *c, struct docker_call *x)
{
	bool cancelled, known;

	pthread_mutex_lock(&c->lock);
	cancelled = x->cancelled;
	known = c->api_version[0] != '\0';
	pthread_mutex_unlock(&c->lock);

	if (cancelled) {
		finish(c, x, -ECANCELED, "cancelled");
	} else if (x->unversioned || known) {
		start_or_fail(c, x);
	} else {
		list_push(&c->waiting, x);
		if (!c->pinging)
			begin_ping(c);
	}
}

static void reap_cancelled(struct docker_client *c, struct call_list *l)
{
	struct docker_call *x = l->head, *next;

	while (x) {
		bool cancel;

		next = x->next;
		pthread_mutex_lock(&c->lock);
		cancel = x->cancelled;
		pthread_mutex_unlock(&c->lock);
		if (cancel) {
			list_del(l, x);
			finish(c, x, -ECANCELED, "cancelled");
		}
		x = next;
	}
}

/* Unpauses the active calls whose reader took its pause back. */
static void resume_paused(struct docker_client *c)
{
	for (struct docker_call *x = c->active.head; x; x = x->next) {
		bool held;

		pthread_mutex_lock(&c->lock);
		held = x->pause_req;
		pthread_mutex_unlock(&c->lock);
		if (x->paused_io && !held) {
			x->paused_io = false;
			/* may deliver the kept piece at once, through on_write */
			curl_easy_pause(x->easy, CURLPAUSE_CONT);
		}
	}
}

static void fail_all(struct docker_client *c, struct call_list *l, int err, const char *msg)
{
	struct docker_call *x;

	while ((x = l->head)) {
		list_del(l, x);
		finish(c, x, err, msg);
	}
}

static void on_curl_done(struct docker_client *c, CURL *e, CURLcode cc)
{
	struct docker_call *x = NULL;
	int err;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
	if (!x)
		return;
	list_del(&c->active, x);
	if (!x->head_done) {
		long st = 0;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
		x->res.status = st;
		x->head_done = true;
		if (cc == CURLE_OK && x->stream && st >= 200 && st < 300 && x->on_head) {
			int r = x->on_head(x->ud, st, x->res.content_type);
			if (r < 0) {
				finish(c, x, r, NULL);
				return;
			}
		}
	}
	if (cc == CURLE_WRITE_ERROR && x->abort_err) {
		err = x->abort_err;
		finish(c, x, err, err == -EFBIG ? "response larger than its limit" : NULL);
		return;
	}
	err = curl_errno(cc);
	if (err == 0 && x->res.status == 0)
		err = -EPROTO;
	if (err == -ENOTCONN) {
		long oserr = 0;

		/* "No such file or directory" says more than curl's "port 80" text */
		curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &oserr);
		if (oserr > 0) {
			finish(c, x, err, strerror((int)oserr));
			return;
		}
	}
	finish(c, x, err, err ? (x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc)) : NULL);
}

static void *io_main(void *arg)
{
	struct docker_client *c = arg;

	for (;;) {
		struct call_list todo;
		struct docker_call *x;
		bool stopping, cancel, resume;
		CURLMsg *m;
		int running, left;

		pthread_mutex_lock(&c->lock);
		todo = c->submitted;
		c->submitted.head = c->submitted.tail = NULL;
		stopping = c->stopping;
		cancel = c->cancel_pending;
		c->cancel_pending = false;
		resume = c->resume_pending;
		c->resume_pending = false;
		pthread_mutex_unlock(&c->lock);

		if (stopping) {
			fail_all(c, &todo, -ECANCELED, "the Docker client is shutting down");
			fail_all(c, &c->waiting, -ECANCELED, "the Docker client is shutting down");
			fail_all(c, &c->active, -ECANCELED, "the Docker client is shutting down");
			break;
		}
		while ((x = todo.head)) {
			list_del(&todo, x);
			dispatch(c, x);
		}
		if (cancel) {
			reap_cancelled(c, &c->waiting);
			reap_cancelled(c, &c->active);
		}
		if (resume)
			resume_paused(c);

		curl_multi_perform(c->multi, &running);
		while ((m = curl_multi_info_read(c->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				on_curl_done(c, m->easy_handle, m->data.result);

		pthread_mutex_lock(&c->lock);
		bool more = c->submitted.head || c->stopping || c->cancel_pending || c->resume_pending;
		pthread_mutex_unlock(&c->lock);
		if (!more)
			curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
	}
	return NULL;
}

/* ---- public ------------------------------------------------------------------------ */

int docker_client_new(const struct docker_client_opts *o, struct docker_client **out,
		      struct pfs_err *err)
{
	struct docker_client *c;
	int r;

	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK)
		return pfs_err_set(err, -EIO, "libcurl initialisation failed");

	c = calloc(1, sizeof(*c));
	if (!c)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	r = docker_endpoint_parse(o ? o->host : NULL, &c->ep, err);
	if (r < 0) {
		free(c);
		return r;
	}
	c->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : 30000;
	c->connect_timeout_ms = o && o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
	snprintf(c->api_max, sizeof(c->api_max), "%s", o && o->api_max ? o->api_max : DOCKER_API_MAX);
	if (docker_api_parse(c->api_max) < 0) {
		free(c);
		return pfs_err_set(err, -EINVAL, "bad API version \"%s\"", o->api_max);
	}
	pthread_mutex_init(&c->lock, NULL);
	c->multi = curl_multi_init();
	if (!c->multi) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return pfs_err_set(err, -ENOMEM, "out of memory");
	}
	r = pthread_create(&c->thread, NULL, io_main, c);
	if (r) {
		curl_multi_cleanup(c->multi);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return pfs_err_set(err, -r, "cannot start the Docker I/O thread: %s", strerror(r));
	}
	*out = c;
	return 0;
}

void docker_client_free(struct docker_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_mutex_unlock(&c->lock);
	curl_multi_wakeup(c->multi);
	pthread_join(c->thread, NULL);
	curl_multi_cleanup(c->multi);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

static char **dup_strv(const char *const *v, bool *fail)
{
	size_t n = 0;
	char **d;

	if (!v)
		return NULL;
	while (v[n])
		n++;
	d = calloc(n + 1, sizeof(*d));
	if (!d) {
		*fail = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = dup_or_null(v[i], fail);
	return d;
}

struct docker_call *docker_submit(struct docker_client *c, const struct docker_request *rq)
{
	struct docker_call *x;
	bool fail = false, stopping;

	x = calloc(1, sizeof(*x));
	if (!x) {
		if (rq->upload_fd >= 0)
			close(rq->upload_fd);
		errno = ENOMEM;
		return NULL;
	}
	x->refs = 2; /* the caller's and the I/O thread's */
	x->c = c;
	x->method = dup_or_null(rq->method ? rq->method : "GET", &fail);
	x->path = dup_or_null(rq->path, &fail);
	x->query = dup_or_null(rq->query, &fail);
	x->content_type = dup_or_null(rq->content_type, &fail);
	x->headers = dup_strv(rq->headers, &fail);
	if (rq->body) {
		x->body = malloc(rq->body_len + 1);
		if (x->body) {
			memcpy(x->body, rq->body, rq->body_len);
			x->body[rq->body_len] = '\0';
		} else {
			fail = true;
		}
	}
	x->body_len = rq->body_len;
	x->upload_fd = rq->upload_fd;
	x->upload_len = rq->upload_len;
	x->stream = rq->stream;
	x->unversioned = rq->unversioned;
	x->timeout_ms = rq->timeout_ms;
	x->body_cap = rq->body_cap ? rq->body_cap : DOCKER_BODY_CAP;
	x->on_head = rq->on_head;
	x->on_data = rq->on_data;
	x->on_done = rq->on_done;
	x->ud = rq->ud;
	pfs_buf_init(&x->resp, x->stream ? STREAM_ERROR_BODY_CAP : x->body_cap);
	if (fail || !x->path) {
		call_free(x);
		errno = fail ? ENOMEM : EINVAL;
		return NULL;
	}

	pthread_mutex_lock(&c->lock);
	stopping = c->stopping;
	if (!stopping)
		list_push(&c->submitted, x);
	pthread_mutex_unlock(&c->lock);
	if (stopping) {
		call_free(x);
		errno = ESHUTDOWN;
		return NULL;
	}
	curl_multi_wakeup(c->multi);
	return x;
}

void docker_call_cancel(struct docker_call *x)
{
	struct docker_client *c;

	if (!x)
		return;
	c = x->c;
	pthread_mutex_lock(&c->lock);
	if (!x->finished) {
		x->cancelled = true;
		c->cancel_pending = true;
	}
	pthread_mutex_unlock(&c->lock);
	curl_multi_wakeup(c->multi);
}

struct docker_call *docker_call_ref(struct docker_call *x)
{
	if (x)
		__atomic_add_fetch(&x->refs, 1, __ATOMIC_ACQ_REL);
	return x;
}

void docker_call_pause(struct docker_call *x)
{
	if (!x)
		return;
	pthread_mutex_lock(&x->c->lock);
	x->pause_req = true;
	pthread_mutex_unlock(&x->c->lock);
}

void docker_call_resume(struct docker_call *x)
{
	struct docker_client *c;

	if (!x)
		return;
	c = x->c;
	pthread_mutex_lock(&c->lock);
	x->pause_req = false;
	c->resume_pending = true;
	pthread_mutex_unlock(&c->lock);
	curl_multi_wakeup(c->multi);
}

bool docker_on_io_thread(struct docker_client *c)
{
	return pthread_equal(pthread_self(), c->thread);
}

/* ---- synchronous calls ------------------------------------------------------------- */

struct waiter {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
};

static void waiter_done(void *ud, const struct docker_result *r)
{
	struct waiter *w = ud;

	(void)r;
	pthread_mutex_lock(&w->m);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->m);
}

int docker_request_sync(struct docker_client *c, const struct docker_request *req,
			struct docker_result *res, struct pfs_err *err)
{
	struct docker_request rq = *req;
	struct waiter w = { .done = false };
	struct docker_call *x;
	int r;

	memset(res, 0, sizeof(*res));
	if (req->stream || req->on_data || req->on_done || req->on_head)
		return pfs_err_set(err, -EINVAL, "synchronous requests take no callbacks");
	if (docker_on_io_thread(c))
		return pfs_err_set(err, -EDEADLK, "synchronous Docker call from the I/O thread");

	pthread_mutex_init(&w.m, NULL);
	pthread_cond_init(&w.cv, NULL);
	rq.on_done = waiter_done;
	rq.ud = &w;
	x = docker_submit(c, &rq);
	if (!x) {
		r = -errno;
		pthread_cond_destroy(&w.cv);
		pthread_mutex_destroy(&w.m);
		return pfs_err_set(err, r, "cannot submit %s %s: %s", req->method ? req->method : "GET",
				   req->path, strerror(-r));
	}
	pthread_mutex_lock(&w.m);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.m);
	pthread_mutex_unlock(&w.m);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.m);

	/* the I/O thread is done with x: its result is ours to take */
	*res = x->res;
	x->res.body = NULL;
	x->res.body_len = 0;
	docker_call_unref(x);
	r = res->err;
	if (r < 0) {
		pfs_err_set(err, r, "%s", res->message);
		docker_result_release(res);
	}
	return r;
}
