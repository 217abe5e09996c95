/* SPDX-License-Identifier: MIT */
/*
 * matrices/: one folder per matrix (mkdir makes one, rmdir removes it; its
 * cells are tests under tests/ and stay), holding the files the engine
 * keeps in memory (engine.h: matrix.yaml, matrix.tsv, matrix.txt, status,
 * error). matrix.yaml is written like a test's config.yaml: applied when
 * the writer closes it, close() failing with EINVAL when it is refused
 * (`error` says why). The engine's matrix thread updates the tables; every
 * read here is a copy of what it holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

bool fs_matrix_file_known(const char *name)
{
	for (size_t i = 0; engine_matrix_files[i]; i++)
		if (!strcmp(engine_matrix_files[i], name))
			return true;
	return false;
}

bool fs_matrix_exists(struct pfs_fs *fs, const struct fs_path *p)
{
	return p->kind == FK_MATRICES || engine_matrix_exists(fs->e, p->matrix);
}

int fs_matrix_content(struct pfs_fs *fs, const struct fs_path *p, struct engine_file *f)
{
	return engine_matrix_file(fs->e, p->matrix, p->name, f);
}

void fs_matrix_list(struct pfs_fs *fs, const struct fs_path *p, struct fs_handle *h)
{
	char **names;

	if (p->kind == FK_MATRIX) {
		for (size_t i = 0; engine_matrix_files[i]; i++)
			fs_handle_add_name(h, engine_matrix_files[i], S_IFREG);
		return;
	}
	names = engine_matrix_names(fs->e);
	for (size_t i = 0; names && names[i]; i++)
		fs_handle_add_name(h, names[i], S_IFDIR);
	pfs_strv_free(names);
}

int fs_matrix_apply(struct pfs_fs *fs, const char *matrix, const char *data, size_t len)
{
	struct cfg_report rep;
	int r = engine_matrix_apply(fs->e, matrix, data, len, &rep);

	cfg_report_release(&rep);
	return r;
}

int fs_matrix_mkdir(struct pfs_fs *fs, const char *name)
{
	struct pfs_err err = { 0 };

	return engine_matrix_create(fs->e, name, &err);
}

int fs_matrix_rmdir(struct pfs_fs *fs, const char *name)
{
	struct pfs_err err = { 0 };

	return engine_matrix_remove(fs->e, name, &err);
}
