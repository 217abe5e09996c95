/* SPDX-License-Identifier: MIT */
/*
 * implementations/: the catalogue, read-only. Loaded once with the engine,
 * so everything here is answered from memory and never changes while
 * mounted (the mount's start time is every file's mtime).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static const struct cat_impl *impl_of(struct pfs_fs *fs, const char *name)
{
	const struct catalog *cat = engine_catalog(fs->e);

	for (size_t i = 0; i < catalog_n_impls(cat); i++)
		if (!strcmp(cat_impl_name(catalog_impl_at(cat, i)), name))
			return catalog_impl_at(cat, i);
	return NULL;
}

bool fs_catalog_exists(struct pfs_fs *fs, const struct fs_path *p)
{
	const struct cat_impl *impl;

	if (p->kind == FK_IMPLS)
		return true;
	impl = impl_of(fs, p->impl);
	if (!impl)
		return false;
	return p->kind != FK_IMPL_VERSION || cat_impl_find_version(impl, p->version) != NULL;
}

int fs_catalog_content(struct pfs_fs *fs, const struct fs_path *p, struct engine_file *f)
{
	const struct cat_impl *impl = impl_of(fs, p->impl);

	memset(f, 0, sizeof(*f));
	f->mtime = fs->start;
	if (!impl)
		return -ENOENT;
	if (p->kind == FK_IMPL_VERSIONS) {
		struct pfs_buf b = PFS_BUF_INIT(1u << 16);

		for (size_t i = 0; i < cat_impl_n_versions(impl); i++)
			pfs_buf_printf(&b, "%s\n", cat_version_name(cat_impl_version_at(impl, i)));
		f->data = pfs_buf_steal(&b, &f->len);
		return f->data ? 0 : -ENOMEM;
	}
	if (p->kind == FK_IMPL_VERSION) {
		const struct cat_version *v = cat_impl_find_version(impl, p->version);
		const char *txt;
		size_t len = 0;

		if (!v)
			return -ENOENT;
		txt = cat_version_text(v, &len);
		f->data = malloc(len + 1);
		if (!f->data)
			return -ENOMEM;
		memcpy(f->data, txt, len);
		f->data[len] = '\0';
		f->len = len;
		return 0;
	}
	return -EISDIR;
}

void fs_catalog_list(struct pfs_fs *fs, const struct fs_path *p, struct fs_handle *h)
{
	const struct catalog *cat = engine_catalog(fs->e);
	const struct cat_impl *impl;

	if (p->kind == FK_IMPLS) {
		for (size_t i = 0; i < catalog_n_impls(cat); i++)
			fs_handle_add_name(h, cat_impl_name(catalog_impl_at(cat, i)), S_IFDIR);
		return;
	}
	impl = impl_of(fs, p->impl);
	if (!impl)
		return;
	fs_handle_add_name(h, "versions", S_IFREG);
	for (size_t i = 0; i < cat_impl_n_versions(impl); i++) {
		char name[128];

		snprintf(name, sizeof(name), "%s.yaml", cat_version_name(cat_impl_version_at(impl, i)));
		fs_handle_add_name(h, name, S_IFREG);
	}
}
