/* SPDX-License-Identifier: MIT */
/*
 * Image names from content. The context is tarred once to hash it (nothing
 * is written: the tar only goes through SHA-256), and again when the build
 * runs, so hashing never depends on a build happening.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pantherfs/image.h"
#include "pantherfs/sources.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

struct image_ctx {
	struct src_list *src;
	struct docker_ctx_file *files;
	size_t n;
};

int image_ctx_new(const struct cfg_service *s, struct image_ctx **out, struct pfs_err *err)
{
	struct image_ctx *x = calloc(1, sizeof(*x));
	int r;

	if (!x)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	r = sources_find(s, &x->src, err);
	if (r < 0)
		goto out;
	if (x->src->n) {
		x->files = calloc(x->src->n, sizeof(*x->files));
		if (!x->files) {
			r = pfs_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < x->src->n; i++) {
		const struct src_item *it = &x->src->v[i];

		if (!it->path)
			continue;
		x->files[x->n].name = it->ctx_name;
		x->files[x->n].path = it->path;
		x->files[x->n].mode = 0644;
		x->n++;
	}
out:
	if (r < 0) {
		image_ctx_free(x);
		return r;
	}
	*out = x;
	return 0;
}

void image_ctx_free(struct image_ctx *x)
{
	if (!x)
		return;
	src_list_free(x->src);
	free(x->files);
	free(x);
}

const struct docker_ctx_file *image_ctx_files(const struct image_ctx *x, size_t *n)
{
	*n = x->n;
	return x->files;
}

static int cmp_pairs(const void *a, const void *b)
{
	return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

int image_plan_compute(const struct cfg_service *s, struct image_plan *p, struct pfs_err *err)
{
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	struct image_ctx *x = NULL;
	const char **pairs[256];
	size_t n = 0;
	int r;

	memset(p, 0, sizeof(*p));
	if (s->image.prebuilt) {
		snprintf(p->ref, sizeof(p->ref), "%s", s->image.ref);
		return 0;
	}
	r = image_ctx_new(s, &x, err);
	if (r < 0)
		goto out;
	r = docker_context_sha256(s->image.context_dir, x->files, x->n, p->context_sha, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; s->image.args && s->image.args[i] && s->image.args[i + 1] && n < 256; i += 2)
		pairs[n++] = (const char **)&s->image.args[i];
	qsort(pairs, n, sizeof(pairs[0]), cmp_pairs);
	r = pfs_buf_printf(&b, "context %s\ndockerfile %s\n", p->context_sha, s->image.dockerfile);
	for (size_t i = 0; i < n && r == 0; i++)
		r = pfs_buf_printf(&b, "arg %s=%s\n", pairs[i][0], pairs[i][1]);
	if (r < 0) {
		pfs_err_set(err, r, "image %s: build args too long", s->name);
		goto out;
	}
	pfs_sha256_hex(b.ptr, b.len, p->hash);
	snprintf(p->ref, sizeof(p->ref), "%s:%s-%.12s", s->image.repo, s->image.tag_prefix, p->hash);
out:
	pfs_buf_release(&b);
	image_ctx_free(x);
	return r;
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
	struct image_ctx *x = NULL;
	struct docker_call *call;

	if (s->image.prebuilt) {
		pfs_err_set(err, -EINVAL, "%s runs a prebuilt image: nothing to build", s->name);
		return NULL;
	}
	if (image_ctx_new(s, &x, err) < 0)
		return NULL;
	o.extra = x->files;
	o.n_extra = x->n;
	/* docker_build() packs the context before it returns: x may go */
	call = docker_build(c, &o, cbs, NULL, err);
	image_ctx_free(x);
	return call;
}
