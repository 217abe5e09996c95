/* SPDX-License-Identifier: MIT */
/*
 * Image names from content. The context is tarred once to hash it (the
 * build tars it again when it runs: contexts are small, and hashing must not
 * depend on a build happening).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pantherfs/image.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static int cmp_pairs(const void *a, const void *b)
{
	return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

int image_plan_compute(const struct cfg_service *s, struct image_plan *p, struct pfs_err *err)
{
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	const char **pairs[256];
	size_t n = 0;
	int r;

	memset(p, 0, sizeof(*p));
	if (s->image.prebuilt) {
		snprintf(p->ref, sizeof(p->ref), "%s", s->image.ref);
		return 0;
	}
	r = docker_context_sha256(s->image.context_dir, NULL, 0, p->context_sha, err);
	if (r < 0)
		return r;
	for (size_t i = 0; s->image.args && s->image.args[i] && s->image.args[i + 1] && n < 256; i += 2)
		pairs[n++] = (const char **)&s->image.args[i];
	qsort(pairs, n, sizeof(pairs[0]), cmp_pairs);
	r = pfs_buf_printf(&b, "context %s\ndockerfile %s\n", p->context_sha, s->image.dockerfile);
	for (size_t i = 0; i < n && r == 0; i++)
		r = pfs_buf_printf(&b, "arg %s=%s\n", pairs[i][0], pairs[i][1]);
	if (r < 0) {
		pfs_buf_free(&b);
		return pfs_err_set(err, r, "image %s: build args too long", s->name);
	}
	pfs_sha256_hex(b.ptr, b.len, p->hash);
	pfs_buf_free(&b);
	snprintf(p->ref, sizeof(p->ref), "%s:%s-%.12s", s->image.repo, s->image.tag_prefix, p->hash);
	return 0;
}

struct docker_call *image_build(struct docker_client *c, const struct cfg_service *s,
				const struct image_plan *p, bool nocache,
				const struct docker_build_cbs *cbs, struct pfs_err *err)
{
	const char *labels[] = { "pantherfs.image", "1", "pantherfs.build-hash", p->hash,
				 "pantherfs.implementation", s->implementation,
				 "pantherfs.version", s->version_name, NULL };
	struct docker_build_opts o = {
		.context_dir = s->image.context_dir,
		.dockerfile = s->image.dockerfile,
		.tag = p->ref,
		.buildargs = (const char *const *)s->image.args,
		.labels = labels,
		.nocache = nocache,
	};

	if (s->image.prebuilt) {
		pfs_err_set(err, -EINVAL, "%s runs a prebuilt image: nothing to build", s->name);
		return NULL;
	}
	return docker_build(c, &o, cbs, NULL, err);
}
