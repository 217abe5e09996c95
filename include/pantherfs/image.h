/* SPDX-License-Identifier: MIT */
/*
 * The image a service runs: its name, and how to build it.
 *
 * A built image is named <repo>:<version>-<hash12> where the hash covers
 * the build context (a deterministic tar: same files, same hash), the
 * Dockerfile's name and every build arg. So an unchanged image is never
 * rebuilt, and a changed Dockerfile, patch, source archive or commit gives a
 * new name. Images carry labels naming that hash and what they hold; they
 * are a cache shared by every test (no test label), kept across runs.
 *
 * The context is the implementation's folder (docker/<impl>/) plus the
 * source tarballs of the service's own pins found in the sources dir
 * (sources.h), as sources/<name>-<commit>.tar.gz: the hash covers their
 * bytes, not where they lie. Both calls read every tarball (hundreds of
 * megabytes for mvfst): call them from a worker thread, never from a FUSE
 * callback.
 */
#ifndef PANTHERFS_IMAGE_H
#define PANTHERFS_IMAGE_H

#include <stdbool.h>

#include "pantherfs/config.h"
#include "pantherfs/docker.h"

struct image_plan {
	char ref[256];          /* "pantherfs/mvfst:rfc9000-1a2b3c4d5e6f" or the prebuilt image */
	char hash[65];          /* the build hash (empty for prebuilt images) */
	char context_sha[65];   /* of the context tar */
};

/* Computes the name (tars the context to hash it, writing nothing). Prebuilt: ref only. */
int image_plan_compute(const struct cfg_service *s, struct image_plan *p, struct pfs_err *err);

/*
 * Starts building p->ref from the service's context and args, with labels
 * pantherfs.image=1, pantherfs.build-hash, pantherfs.implementation,
 * pantherfs.version. See docker_build() for the callbacks and ownership.
 */
struct docker_call *image_build(struct docker_client *c, const struct cfg_service *s,
				const struct image_plan *p, bool nocache,
				const struct docker_build_cbs *cbs, struct pfs_err *err);

/*
 * The files a service's build context adds to its context dir: one per
 * source tarball found (sources.h), named sources/<name>-<commit>.tar.gz and
 * read from its path. What image_plan_compute() hashes and image_build()
 * sends; for tests and tools that build a part of an image (a target) with
 * docker_build(). *out is owned by the caller (image_ctx_free()).
 */
struct image_ctx;

int image_ctx_new(const struct cfg_service *s, struct image_ctx **out, struct pfs_err *err);
void image_ctx_free(struct image_ctx *x);
/* Borrowed from x; *n may be 0 (then the array may be NULL). */
const struct docker_ctx_file *image_ctx_files(const struct image_ctx *x, size_t *n);

#endif
