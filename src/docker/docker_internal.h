/* SPDX-License-Identifier: MIT */
/* Shared between the files of src/docker; not part of the public API. */
#ifndef PANTHERFS_DOCKER_INTERNAL_H
#define PANTHERFS_DOCKER_INTERNAL_H

#include <stdbool.h>

#include "pantherfs/buf.h"
#include "pantherfs/docker.h"

/* "1.41" -> 1041; -1 when malformed. */
int docker_api_parse(const char *v);
bool docker_on_io_thread(struct docker_client *c);
/* Sets the negotiated version from the engine's Api-Version header. */
int docker_client_negotiate(struct docker_client *c, const char *server_api, struct pfs_err *err);

/*
 * A short call with an optional JSON body (borrowed) and a JSON answer
 * (*out, a new reference, when out is not NULL); timeout_ms 0: the client's.
 * path is already escaped; query is encoded or NULL.
 */
int docker_json_call(struct docker_client *c, const char *method, const char *path,
		     const char *query, json_t *body, long timeout_ms, json_t **out,
		     struct pfs_err *err);
/* A JSON array of the NULL-terminated strings v (NULL: empty). */
json_t *docker_json_strv(const char *const *v);
/* A JSON object of the NULL-terminated alternating keys and values kv. */
json_t *docker_json_kv(const char *const *kv);
/* Appends "&name=<value URL-encoded>" to b (no & when b is empty); value NULL: nothing. */
int docker_query_add(struct pfs_buf *b, const char *name, const char *value);
/* fmt with one %s filled by name escaped for a path (keeps / : @); malloc'd or NULL. */
char *docker_path1(const char *fmt, const char *name);

/*
 * Starts a logs stream at path (/containers/{id}/logs, /services/{id}/logs)
 * with tty known (0 framed, 1 raw) or -1 (the Content-Type decides, framed
 * when there is none). See docker_container_logs().
 */
struct docker_call *docker_logs_at(struct docker_client *c, const char *path, int tty,
				   const struct docker_logs_opts *o, const struct docker_logs_cbs *cbs,
				   struct pfs_err *err);
typedef struct docker_call *(*docker_logs_fn)(struct docker_client *c, const char *id,
					      const struct docker_logs_opts *o,
					      const struct docker_logs_cbs *cbs, struct pfs_err *err);
/* Runs start (a logs call without follow) and collects its output, as
 * docker_container_logs_sync() does. */
int docker_logs_collect(struct docker_client *c, docker_logs_fn start, const char *id,
			bool timestamps, struct pfs_buf *out_stdout, struct pfs_buf *out_stderr,
			struct pfs_err *err);

/* An unlinked read-write temp file (O_TMPFILE in $TMPDIR or /tmp); -errno. */
int open_tmpfile_for_context(void);

#endif
