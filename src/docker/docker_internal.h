/* SPDX-License-Identifier: MIT */
/* Shared between the files of src/docker; not part of the public API. */
#ifndef PANTHERFS_DOCKER_INTERNAL_H
#define PANTHERFS_DOCKER_INTERNAL_H

#include <stdbool.h>

#include "pantherfs/docker.h"

/* "1.41" -> 1041; -1 when malformed. */
int docker_api_parse(const char *v);
bool docker_on_io_thread(struct docker_client *c);
/* Sets the negotiated version from the engine's Api-Version header. */
int docker_client_negotiate(struct docker_client *c, const char *server_api, struct pfs_err *err);

/* An unlinked read-write temp file (O_TMPFILE in $TMPDIR or /tmp); -errno. */
int open_tmpfile_for_context(void);

#endif
