/* SPDX-License-Identifier: MIT */
/*
 * The Docker Engine API client.
 *
 * Design: one I/O thread per client owns a libcurl multi handle and performs
 * every HTTP exchange, short calls and endless streams alike. Any other
 * thread submits a request and either waits for it (the synchronous calls
 * below) or gets callbacks (the asynchronous ones). Callbacks run ON THE I/O
 * THREAD: they must not block, must not call a synchronous function of this
 * module (that fails with -EDEADLK), and should only copy data and signal.
 *
 * API version: the first versioned request negotiates through GET /_ping
 * (min of the engine's Api-Version and DOCKER_API_MAX); a connection failure
 * forgets the version so a restarted or upgraded engine is renegotiated.
 *
 * Errors: every function returns 0 or a negative errno, and fills the
 * optional struct pfs_err with the daemon's message when there is one:
 *   HTTP 400 -EINVAL, 404 -ENOENT, 409 -EBUSY, 304 -EALREADY, other 4xx -EPERM
 *   (401/403) or -EINVAL, 5xx -EIO; cannot connect -ENOTCONN; timeout
 *   -ETIMEDOUT; connection lost mid-stream -ECONNRESET; a response larger
 *   than its cap -EFBIG; cancelled -ECANCELED; a build that failed inside
 *   its 200 response -EIO with the builder's message.
 *
 * Timeouts: short calls use the client's timeout (default 30 s); streams
 * (logs with follow, events, build, wait) have only the connect timeout.
 */
#ifndef PANTHERFS_DOCKER_H
#define PANTHERFS_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "pantherfs/err.h"
#include "pantherfs/docker_stream.h"

#define DOCKER_API_MAX "1.47"
#define DOCKER_API_MIN "1.24"
#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define DOCKER_BODY_CAP (16u << 20)

struct docker_client;
struct docker_call;

/* ---- Client ------------------------------------------------------------- */

struct docker_client_opts {
	const char *host;         /* unix:///p, tcp://h:p; NULL: $DOCKER_HOST, else the default socket */
	long timeout_ms;          /* short calls; 0: 30000 */
	long connect_timeout_ms;  /* 0: 5000 */
	const char *api_max;      /* NULL: DOCKER_API_MAX */
};

/* Where and how to connect, as parsed from a host string and the environment. */
struct docker_endpoint {
	char unix_path[108];     /* set for unix:// */
	char base_url[256];      /* "http://docker" or "http(s)://host:port" */
	bool tls, tls_verify;
	char ca[512], cert[512], key[512];
};

/*
 * Parses host (NULL: $DOCKER_HOST, else unix default) and the TLS variables
 * DOCKER_TLS_VERIFY, DOCKER_TLS and DOCKER_CERT_PATH (default ~/.docker):
 * TLS when any of them is set, peer verification when DOCKER_TLS_VERIFY is.
 */
int docker_endpoint_parse(const char *host, struct docker_endpoint *ep, struct pfs_err *err);

/* Starts the I/O thread. Does not connect: the engine may be down. */
int docker_client_new(const struct docker_client_opts *opts, struct docker_client **out,
		      struct pfs_err *err);
/*
 * Cancels every outstanding call (their done callbacks run with -ECANCELED),
 * stops and joins the I/O thread. NULL is fine. Must not be called from a
 * callback.
 */
void docker_client_free(struct docker_client *c);

/* The negotiated version ("1.41"), or "" when not negotiated yet. Copied. */
void docker_client_api_version(struct docker_client *c, char *out, size_t outlen);
/* Compares the negotiated version with "1.NN": <0, 0, >0 (0 also when unknown). */
int docker_client_api_cmp(struct docker_client *c, const char *v);

/* ---- Generic requests ------------------------------------------------------ */

struct docker_result {
	int err;                  /* 0 or -errno */
	long status;              /* HTTP status; 0 when none arrived */
	char message[PFS_ERR_MSG_MAX]; /* daemon's or curl's message when err != 0 */
	char content_type[128];
	char api_version[16];     /* the Api-Version header, if any */
	char *body;               /* non-stream calls: NUL-terminated body, else NULL */
	size_t body_len;
};

void docker_result_release(struct docker_result *r); /* frees body; NULL is fine */

/* Returns <0 to abort the call; that value becomes the call's result.err. */
typedef int (*docker_data_cb)(void *ud, const char *data, size_t len);
/* Called exactly once per call. r is borrowed (valid during the call). */
typedef void (*docker_done_cb)(void *ud, const struct docker_result *r);
/* Called once, before the first data, with the response headers (streams). */
typedef int (*docker_head_cb)(void *ud, long status, const char *content_type);

struct docker_request {
	const char *method;        /* "GET", "POST", "DELETE", "HEAD" */
	const char *path;          /* "/containers/json"; the /vX.Y prefix is added */
	const char *query;         /* encoded "a=1&b=2", or NULL */
	bool unversioned;          /* /_ping and friends */
	const char *body;          /* copied; NULL for none */
	size_t body_len;
	const char *content_type;  /* of body; default application/json */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated; copied */
	int upload_fd;             /* >=0: stream this fd as the body (build context); the call closes it. Use -1 when unused */
	off_t upload_len;
	bool stream;               /* deliver 2xx bodies to on_data; no total timeout */
	long timeout_ms;           /* 0: client default (ignored for streams) */
	size_t body_cap;           /* non-stream bodies; 0: DOCKER_BODY_CAP */
	docker_head_cb on_head;
	docker_data_cb on_data;
	docker_done_cb on_done;
	void *ud;
};

#define DOCKER_REQUEST_INIT { .upload_fd = -1 }

/*
 * Queues a request. Returns a handle holding one reference for the caller
 * (drop it with docker_call_unref, which never cancels), or NULL with errno
 * set on allocation failure (the upload fd is closed then too). on_done fires
 * exactly once, also on cancel and client shutdown.
 */
struct docker_call *docker_submit(struct docker_client *c, const struct docker_request *req);
/* Asks the I/O thread to abort the call; on_done follows with -ECANCELED. */
void docker_call_cancel(struct docker_call *call);
void docker_call_unref(struct docker_call *call);
/* One more reference (for another owner); returns call. */
struct docker_call *docker_call_ref(struct docker_call *call);
/*
 * Flow control of a stream, from any thread, no lock of the client's held
 * by the caller: after docker_call_pause(), on_data is not called again
 * (but for a piece already being delivered) until docker_call_resume(). The
 * bytes wait in curl and the socket, nothing is dropped; the connection's
 * other calls go on. A paused call can still be cancelled, and its timeout
 * rules stay as they are (streams have none).
 */
void docker_call_pause(struct docker_call *call);
void docker_call_resume(struct docker_call *call);

/*
 * Performs a request and waits for it. On success res holds the result
 * (caller frees with docker_result_release). On failure returns -errno, fills
 * err, and res is left empty. req->on_* must be NULL; streams are refused.
 */
int docker_request_sync(struct docker_client *c, const struct docker_request *req,
			struct docker_result *res, struct pfs_err *err);

/* ---- Encoding helpers (pure; returned strings are malloc'd) ---------------- */

/* URL-encodes s. */
char *docker_urlencode(const char *s);
/* {"label":["k=v",...]} for a NULL-terminated list of "k=v" or "k"; NULL if none. */
char *docker_filters_labels(const char *const *labels);
/* {"k":"v",...} from a NULL-terminated list of alternating keys and values. */
char *docker_json_map(const char *const *kv);
/* Maps an HTTP status (non-2xx) to -errno. */
int docker_status_errno(long status);
/* Extracts "message" from a JSON error body, else the body text, capped. */
void docker_error_message(const char *body, size_t len, char *out, size_t outlen);

/* ---- System ------------------------------------------------------------------ */

struct docker_ping_info {
	char api_version[16];     /* negotiated */
	char server_api[16];      /* the engine's */
	char os[32];
};

int docker_ping(struct docker_client *c, struct docker_ping_info *info, struct pfs_err *err);
/* GET /version and /info; *out is a new reference. */
int docker_version(struct docker_client *c, json_t **out, struct pfs_err *err);
int docker_info(struct docker_client *c, json_t **out, struct pfs_err *err);

/* ---- Images -------------------------------------------------------------------- */

int docker_image_inspect(struct docker_client *c, const char *name, json_t **out,
			 struct pfs_err *err);
int docker_image_list(struct docker_client *c, const char *const *labels, json_t **out,
		      struct pfs_err *err);
int docker_image_remove(struct docker_client *c, const char *name, bool force,
			struct pfs_err *err);

/*
 * A file added to a build context (overrides a file of that name, and is
 * added even where dir's .dockerignore excludes that name): data/len in
 * memory, or, when path is set, the regular file at path (symlinks
 * followed), streamed from disk when the tar is written and never held in
 * memory. Only the content counts: the entry's mode is `mode`, times and
 * owners are zero, so the file's location does not change the hash.
 */
struct docker_ctx_file {
	const char *name;   /* relative path inside the context */
	const void *data;
	size_t len;
	unsigned mode;      /* 0: 0644 */
	const char *path;   /* NULL: data/len */
};

/*
 * Writes a deterministic tar of dir (sorted entries, zero times and owners,
 * .dockerignore applied) plus extra files to fd (-1: only hash it), and its
 * SHA-256 in hex (the same context always yields the same hash). dir may be
 * NULL. A file that changes size while it is read is an error (-EIO).
 */
int docker_context_tar(const char *dir, const struct docker_ctx_file *extra, size_t n_extra,
		       int fd, char sha256_hex[65], struct pfs_err *err);

/* The SHA-256 docker_context_tar() would give, without writing the tar anywhere. */
int docker_context_sha256(const char *dir, const struct docker_ctx_file *extra, size_t n_extra,
			  char sha256_hex[65], struct pfs_err *err);

struct docker_build_opts {
	const char *context_dir;            /* may be NULL when extra holds everything */
	const struct docker_ctx_file *extra;
	size_t n_extra;
	const char *dockerfile;             /* path inside the context; NULL: Dockerfile */
	const char *tag;                    /* "name:tag" */
	const char *const *buildargs;       /* NULL-terminated k, v, k, v, ... */
	const char *const *labels;          /* NULL-terminated k, v, ... */
	bool nocache, pull;
	const char *target;                 /* multi-stage target, or NULL */
};

struct docker_build_cbs {
	/* Every line of builder output, in order (text without trailing newline). */
	void (*on_line)(void *ud, const char *text, size_t len);
	void (*on_step)(void *ud, int step, int steps);
	/* image_id is set on success; r->err/message on failure. */
	void (*on_done)(void *ud, const struct docker_result *r, const char *image_id);
	void *ud;
};

/*
 * Packs the context (into an unlinked temp file, so large contexts cost no
 * memory), computes its hash into context_sha (may be NULL), and starts the
 * build. Returns the call (caller owns one reference) or NULL with err set;
 * on NULL no callback fires.
 */
struct docker_call *docker_build(struct docker_client *c, const struct docker_build_opts *o,
				 const struct docker_build_cbs *cbs, char context_sha[65],
				 struct pfs_err *err);

/*
 * POST /images/create?fromImage=&tag=: pulls ref ("name[:tag]", tag
 * "latest" when absent). The progress lines come through cbs->on_line; a
 * failure inside the 200 answer (errorDetail: no such image, no access,
 * no registry reachable) is r->err -EIO with the registry's message.
 * image_id in on_done is always NULL (inspect the image for it).
 */
struct docker_call *docker_image_pull(struct docker_client *c, const char *ref,
				      const struct docker_build_cbs *cbs, struct pfs_err *err);

/*
 * POST /images/{name}/push?tag=: pushes ref ("host:port/repo[:tag]", tag
 * "latest" when absent) to the registry its name says. auth is the
 * X-Registry-Auth value (base64url of the JSON credentials) or NULL for an
 * anonymous push (DOCKER_AUTH_NONE is sent: the engine refuses a push without
 * the header). Progress lines come through cbs->on_line as a pull's do
 * ("<layer>: Pushed", "<layer>: Layer already exists"); on_done's image_id
 * is the manifest digest the registry gave ("sha256:..."). A failure inside
 * the 200 answer (no such image, registry unreachable or refusing) is
 * r->err -EIO with the engine's message; a push that ends without a digest,
 * -EPROTO. A reference with a digest is refused (-EINVAL, no callback).
 */
#define DOCKER_AUTH_NONE "e30=" /* base64 of "{}" */
struct docker_call *docker_image_push(struct docker_client *c, const char *ref, const char *auth,
				      const struct docker_build_cbs *cbs, struct pfs_err *err);

/* POST /images/{source}/tag: names the image source also target ("repo[:tag]",
 * tag "latest" when absent). -ENOENT when source does not exist. */
int docker_image_tag(struct docker_client *c, const char *source, const char *target,
		     struct pfs_err *err);

/* ---- Containers ---------------------------------------------------------------- */

struct docker_container_spec {
	const char *name;                   /* NULL: the engine picks one */
	const char *image;
	const char *const *cmd;             /* NULL-terminated argv, or NULL */
	const char *const *entrypoint;      /* NULL-terminated, or NULL (image default) */
	const char *const *env;             /* "K=V", NULL-terminated */
	const char *const *labels;          /* k, v, k, v, ..., NULL */
	const char *network;                /* NetworkMode and the endpoint below (none for "container:<id>") */
	const char *const *aliases;         /* NULL-terminated DNS aliases on network */
	const char *const *binds;           /* "host:container[:ro]" */
	const char *const *cap_add;
	const char *working_dir;
	bool open_stdin, tty, init, privileged;
};

int docker_container_create(struct docker_client *c, const struct docker_container_spec *s,
			    char **id_out, struct pfs_err *err);
/* Already running / already stopped count as success. */
int docker_container_start(struct docker_client *c, const char *id, struct pfs_err *err);
int docker_container_stop(struct docker_client *c, const char *id, int grace_s,
			  struct pfs_err *err);
/* -EBUSY (409) when the container is not running. signal NULL: SIGKILL. */
int docker_container_kill(struct docker_client *c, const char *id, const char *signal,
			  struct pfs_err *err);
int docker_container_remove(struct docker_client *c, const char *id, bool force,
			    struct pfs_err *err);
int docker_container_inspect(struct docker_client *c, const char *id, json_t **out,
			     struct pfs_err *err);
/* GET /containers/json?all=1&filters=label...; *out is an array. */
int docker_container_list(struct docker_client *c, const char *const *labels, bool all,
			  json_t **out, struct pfs_err *err);

struct docker_container_state {
	char status[16];     /* created, running, exited, dead, ... */
	bool running;
	int exit_code;
	bool oom_killed;
	char started_at[40], finished_at[40];
	bool tty;
};

/* Reads State and Config.Tty from an inspect object. */
int docker_inspect_state(json_t *inspect, struct docker_container_state *st);
/* NetworkSettings.Networks.<network>.IPAddress into out; -ENOENT if none. */
int docker_inspect_ip(json_t *inspect, const char *network, char *out, size_t outlen);

/*
 * POST /containers/{id}/wait. The exit code arrives in the body when the
 * container stops; this is a stream call (no total timeout). on_done gets
 * the exit code (or -1 with r->err set).
 */
typedef void (*docker_wait_cb)(void *ud, const struct docker_result *r, int exit_code);
struct docker_call *docker_container_wait(struct docker_client *c, const char *id,
					  const char *condition, docker_wait_cb cb, void *ud);
/* Synchronous wait with a bound (ms); -ETIMEDOUT when it is reached. */
int docker_container_wait_sync(struct docker_client *c, const char *id, long timeout_ms,
			       int *exit_code, struct pfs_err *err);

struct docker_logs_opts {
	bool follow, timestamps;
	bool no_stdout, no_stderr;
	const char *since;   /* unix seconds with fraction ("1700000000.123456789"), or NULL */
	int tty;             /* -1: unknown (use Content-Type, else inspect), 0: framed, 1: raw */
};

struct docker_logs_cbs {
	/* Either on_data (demultiplexed bytes as they come) ... */
	int (*on_data)(void *ud, enum docker_log_stream s, const char *data, size_t len);
	/* ... or on_entry (with timestamps: one call per stamped log entry). */
	docker_entry_cb on_entry;
	void (*on_done)(void *ud, const struct docker_result *r);
	void *ud;
};

/*
 * Streams a container's logs, demultiplexed. With tty == -1 and an engine
 * older than 1.42 (no Content-Type), the container is inspected first to
 * learn whether it has a TTY (a short synchronous call on the calling thread).
 */
struct docker_call *docker_container_logs(struct docker_client *c, const char *id,
					  const struct docker_logs_opts *o,
					  const struct docker_logs_cbs *cbs, struct pfs_err *err);
/* Non-follow logs collected into out_stdout / out_stderr (either may be NULL). */
int docker_container_logs_sync(struct docker_client *c, const char *id, bool timestamps,
			       struct pfs_buf *out_stdout, struct pfs_buf *out_stderr,
			       struct pfs_err *err);

/* ---- Networks ------------------------------------------------------------------ */

int docker_network_create(struct docker_client *c, const char *name, const char *const *labels,
			  bool internal, char **id_out, struct pfs_err *err);
/*
 * An attachable overlay network (Swarm scope): services and, being
 * attachable, plain containers of any node (a probe helper) join it. Only a
 * manager makes one: a worker answers -EPERM ("Cannot create a multi-host
 * network from a worker node..."), an engine outside a Swarm fails too,
 * with the engine's message.
 */
int docker_network_create_overlay(struct docker_client *c, const char *name,
				  const char *const *labels, char **id_out, struct pfs_err *err);
int docker_network_inspect(struct docker_client *c, const char *id, json_t **out,
			   struct pfs_err *err);
int docker_network_remove(struct docker_client *c, const char *id, struct pfs_err *err);
int docker_network_list(struct docker_client *c, const char *const *labels, json_t **out,
			struct pfs_err *err);

/* ---- Events -------------------------------------------------------------------- */

struct docker_events_cbs {
	/* One decoded event (borrowed). Must not block: the daemon drops events
	 * for slow readers. */
	void (*on_event)(void *ud, json_t *ev);
	void (*on_done)(void *ud, const struct docker_result *r);
	void *ud;
};

/* GET /events filtered by labels ("k=v"), from `since` (unix seconds, 0: now). */
struct docker_call *docker_events(struct docker_client *c, const char *const *labels, long since,
				  const struct docker_events_cbs *cbs, struct pfs_err *err);

#endif
