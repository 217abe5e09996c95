/* SPDX-License-Identifier: MIT */
/*
 * A scripted HTTP/1.1 server on a unix socket, for unit tests of the Docker
 * client's error paths (the real engine is used by the integration tests).
 * Each route matches the start of the request line ("GET /v1.41/info") and
 * answers with a fixed status, headers and body in one of several modes.
 */
#ifndef PFS_FAKEHTTP_H
#define PFS_FAKEHTTP_H

#include <stddef.h>

enum fake_mode {
	FAKE_NORMAL,       /* Content-Length body */
	FAKE_CHUNKED,      /* body in chunks of `chunk` bytes, 20 ms apart */
	FAKE_CLOSE_MIDWAY, /* chunked, half the body, then close without the terminator */
	FAKE_HANG,         /* read the request, never answer */
	FAKE_OPEN,         /* chunked, the whole body, then keep the stream open */
};

struct fake_route {
	const char *match;    /* prefix of "METHOD /path?query" */
	int status;
	const char *headers;  /* extra header lines, each ending in \r\n, or NULL */
	const char *body;
	size_t body_len;      /* 0: strlen(body) */
	enum fake_mode mode;
	size_t chunk;         /* FAKE_CHUNKED piece size; 0: 7 */
};

struct fakehttp;

/*
 * Starts the server. /_ping is answered with Api-Version `api` (NULL: no
 * header) unless a route matches it. Unmatched requests get 404 with a JSON
 * message naming the request line.
 */
int fakehttp_start(const struct fake_route *routes, size_t n, const char *api,
		   struct fakehttp **out);
/* "unix:///tmp/.../docker.sock" */
const char *fakehttp_host(struct fakehttp *f);
/* Number of requests whose line starts with prefix. */
int fakehttp_count(struct fakehttp *f, const char *prefix);
/* The body of the last request whose line starts with prefix (malloc'd), or NULL. */
char *fakehttp_last_body(struct fakehttp *f, const char *prefix, size_t *len);
/*
 * The value of header `name` (case-insensitive) in the last request whose
 * line starts with prefix (malloc'd), or NULL when that request had none.
 */
char *fakehttp_last_header(struct fakehttp *f, const char *prefix, const char *name);
void fakehttp_stop(struct fakehttp *f);

#endif
