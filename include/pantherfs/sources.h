/* SPDX-License-Identifier: MIT */
/*
 * Source tarballs: which source trees of a service's image come from a
 * tarball in the sources dir, and which the build clones.
 *
 * A version config pins its implementation's source and its dependencies
 * (version_configs/README.md); the service's build args carry each one's
 * commit and repository after the config's overrides (<NAME>_COMMIT,
 * <NAME>_REPO, NAME upper-cased with - as _). For each, the file
 * <name>-<commit>.tar.gz in the implementation's sources dir
 * (cat_impl_sources_dir(): --sources-dir, else <data dir>/docker/<impl>/sources)
 * is used when it is there. The build context then holds it as
 * sources/<name>-<commit>.tar.gz, and only the tarballs of that service's
 * pins: image.c adds them, the implementation's .dockerignore keeps the rest
 * of its own sources/ folder out, so adding one version's tarballs never
 * changes another version's image hash.
 *
 * The list is a snapshot of the sources dir at the call; nothing is read
 * but the directory entries (stat).
 */
#ifndef PANTHERFS_SOURCES_H
#define PANTHERFS_SOURCES_H

#include <stddef.h>

#include "pantherfs/config.h"
#include "pantherfs/err.h"

struct src_item {
	char *name;       /* "folly": the implementation's name for its own source */
	char *commit;     /* as the build args give it; "" when none */
	char *repo;       /* the repository the build clones when there is no tarball; "" when none */
	char *path;       /* the tarball found, absolute when the sources dir is; NULL: none */
	char *ctx_name;   /* "sources/folly-<commit>.tar.gz": where the build looks; NULL when
			   * the commit cannot be part of a file name */
};

struct src_list {
	struct src_item *v;
	size_t n;
};

/*
 * The source trees of s's image, the implementation's own first, then the
 * dependencies in the version config's order. A prebuilt image or a version
 * without `source` gives an empty list. *out is owned by the caller
 * (src_list_free()). -ENOMEM only.
 */
int sources_find(const struct cfg_service *s, struct src_list **out, struct pfs_err *err);
void src_list_free(struct src_list *l);

/* The number of items that come from a tarball. */
size_t src_list_n_tarballs(const struct src_list *l);

#endif
