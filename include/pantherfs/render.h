/* SPDX-License-Identifier: MIT */
/*
 * Rendering a service's command line from its plan (config.h) and its
 * implementation's template (templates/<impl>/<program>.jinja), wrapped by
 * the test's execution environments (templates/wrappers/<type>.jinja, the
 * first listed outermost).
 *
 * The result is ONE line of POSIX shell that the container runs with
 * `sh -c`: programs by absolute path, values shell-quoted. A template that
 * yields several lines, or uses an undefined name, is an error naming the
 * template and the line.
 */
#ifndef PANTHERFS_RENDER_H
#define PANTHERFS_RENDER_H

#include <jansson.h>

#include "pantherfs/buf.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"

/*
 * The longest command: one argument of `sh -c`, which Linux caps at 32
 * pages with its NUL (MAX_ARG_STRLEN); longer would fail in the container
 * at exec, so it is refused here, when the config is checked.
 */
#define RENDER_COMMAND_MAX (128u * 1024 - 1)

/*
 * addresses: {"<service>": "<IPv4>"} (borrowed, may be NULL). A client whose
 * target has no address yet renders it as "<address of TARGET>" (what the
 * command file shows before the server is up, and `pantherfs render`
 * without --address). Appends to out. Errors (err says which): -ENOENT no
 * such template, -EINVAL the template failed or made several lines, -E2BIG
 * longer than RENDER_COMMAND_MAX, -ENOMEM.
 */
int render_command(const struct catalog *cat, const struct pfs_config *cfg,
		   const struct cfg_service *s, json_t *addresses, struct pfs_buf *out,
		   struct pfs_err *err);

#endif
