/* SPDX-License-Identifier: MIT */
/*
 * What a path names, from its shape alone (unit-tested in
 * tests/unit/check_fs_path.c). The tree:
 *
 *   README, engine, {names.h PFS_AT_ROOT}
 *   implementations/<impl>/{versions, <version>.yaml}
 *   tests/<test>/{names.h PFS_AT_TEST, <scratch>}
 *   tests/<test>/services/<s>/{names.h PFS_AT_SVC}
 *   tests/<test>/services/<s>/results/<file>, qlog/<file>
 *   tests/<test>/runs/<n>/{names.h PFS_AT_RUN}
 *   tests/<test>/runs/<n>/services/<s>/{names.h PFS_AT_RUN_SVC}
 *   tests/<test>/runs/<n>/services/<s>/results/<file>, qlog/<file>
 *   matrices/<m>/{matrix.yaml, matrix.tsv, matrix.txt, status, error}
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "fs_internal.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define MAX_PARTS 8

/* A component of at most n-1 bytes, copied; false when longer. */
static bool copy_part(char *dst, size_t n, const char *src, size_t len)
{
	if (len >= n)
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

/* "1", "42": as runs/ lists them. "01", "+1", "1x" and 0 name nothing. */
static bool run_number(const char *s, int *out)
{
	long v = 0;

	if (!*s || *s == '0')
		return false;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9' || v > (INT_MAX - 9) / 10)
			return false;
		v = v * 10 + (*c - '0');
	}
	*out = (int)v;
	return true;
}

/* A file of names.h at where: FK_FILE, or nothing. */
static int named(struct fs_path *p, const char *name, unsigned where)
{
	const struct pfs_name *n = pfs_name_lookup(name, where);

	if (!n)
		return -ENOENT;
	p->kind = FK_FILE;
	p->file = n->id;
	return 0;
}

/* services/<s>[/<file>[/<name>]] below a test or a run; parts start at "services". */
static int service_part(struct fs_path *p, char **parts, int n, unsigned where)
{
	const struct pfs_name *nm;

	if (n == 1) {
		p->kind = FK_SERVICES;
		return 0;
	}
	if (!pfs_name_valid(parts[1]) || !copy_part(p->svc, sizeof(p->svc), parts[1], strlen(parts[1])))
		return -ENOENT;
	if (n == 2) {
		p->kind = FK_SERVICE;
		return 0;
	}
	if (named(p, parts[2], where) < 0)
		return -ENOENT;
	if (n == 3)
		return 0;
	nm = pfs_name_of(p->file);
	if (n != 4 || !(nm->flags & PFS_N_DISK_DIR) || !pfs_name_valid(parts[3]))
		return -ENOENT;
	p->kind = FK_DISK_FILE;
	return copy_part(p->name, sizeof(p->name), parts[3], strlen(parts[3])) ? 0 : -ENOENT;
}

static int test_part(struct fs_path *p, char **parts, int n)
{
	if (!pfs_name_valid(parts[0]) || !copy_part(p->test, sizeof(p->test), parts[0], strlen(parts[0])))
		return -ENOENT;
	if (n == 1) {
		p->kind = FK_TEST;
		return 0;
	}
	if (!strcmp(parts[1], "services"))
		return service_part(p, parts + 1, n - 1, PFS_AT_SVC);
	if (!strcmp(parts[1], "runs")) {
		if (n == 2) {
			p->kind = FK_RUNS;
			return 0;
		}
		if (!run_number(parts[2], &p->run))
			return -ENOENT;
		if (n == 3) {
			p->kind = FK_RUN;
			return 0;
		}
		if (!strcmp(parts[3], "services"))
			return service_part(p, parts + 3, n - 3, PFS_AT_RUN_SVC);
		return n == 4 ? named(p, parts[3], PFS_AT_RUN) : -ENOENT;
	}
	if (n != 2)
		return -ENOENT;
	if (named(p, parts[1], PFS_AT_TEST) == 0)
		return 0;
	/* anything else in a test's directory can only be an editor's scratch file */
	p->kind = FK_SCRATCH;
	return copy_part(p->name, sizeof(p->name), parts[1], strlen(parts[1])) ? 0 : -ENOENT;
}

int fs_path_parse(const char *path, struct fs_path *p)
{
	char buf[PATH_MAX], *parts[MAX_PARTS + 1];
	int n = 0;
	size_t len = strlen(path);

	memset(p, 0, sizeof(*p));
	if (!len) {
		p->kind = FK_ROOT;
		return 0;
	}
	if (len >= sizeof(buf))
		return -ENOENT;
	memcpy(buf, path, len + 1);
	for (char *s = buf; s;) {
		char *slash = strchr(s, '/');

		if (slash)
			*slash = '\0';
		if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || n == MAX_PARTS)
			return -ENOENT; /* the kernel resolves these; a path never holds them */
		parts[n++] = s;
		s = slash ? slash + 1 : NULL;
	}
	if (n == 1) {
		if (!strcmp(parts[0], "README"))
			p->kind = FK_README;
		else if (!strcmp(parts[0], "engine"))
			p->kind = FK_ENGINE;
		else if (!strcmp(parts[0], "implementations"))
			p->kind = FK_IMPLS;
		else if (!strcmp(parts[0], "tests"))
			p->kind = FK_TESTS;
		else if (!strcmp(parts[0], "matrices"))
			p->kind = FK_MATRICES;
		else if (pfs_name_lookup(parts[0], PFS_AT_ROOT)) {
			p->kind = FK_ROOT_FILE;
			p->file = pfs_name_lookup(parts[0], PFS_AT_ROOT)->id;
		}
		return p->kind ? 0 : -ENOENT;
	}
	if (!strcmp(parts[0], "matrices")) {
		if (n > 3 || !pfs_name_valid(parts[1]) || !copy_part(p->matrix, sizeof(p->matrix), parts[1], strlen(parts[1])))
			return -ENOENT;
		if (n == 2) {
			p->kind = FK_MATRIX;
			return 0;
		}
		if (!fs_matrix_file_known(parts[2]) || !copy_part(p->name, sizeof(p->name), parts[2], strlen(parts[2])))
			return -ENOENT;
		p->kind = FK_MATRIX_FILE;
		return 0;
	}
	if (!strcmp(parts[0], "implementations")) {
		size_t l;

		if (!copy_part(p->impl, sizeof(p->impl), parts[1], strlen(parts[1])))
			return -ENOENT;
		if (n == 2) {
			p->kind = FK_IMPL;
			return 0;
		}
		if (n != 3)
			return -ENOENT;
		if (!strcmp(parts[2], "versions")) {
			p->kind = FK_IMPL_VERSIONS;
			return 0;
		}
		l = strlen(parts[2]);
		if (l <= 5 || strcmp(parts[2] + l - 5, ".yaml") || !copy_part(p->version, sizeof(p->version), parts[2], l - 5))
			return -ENOENT;
		p->kind = FK_IMPL_VERSION;
		return 0;
	}
	if (!strcmp(parts[0], "tests"))
		return test_part(p, parts + 1, n - 1);
	return -ENOENT;
}

bool fs_path_is_dir(const struct fs_path *p)
{
	switch (p->kind) {
	case FK_ROOT:
	case FK_IMPLS:
	case FK_IMPL:
	case FK_TESTS:
	case FK_TEST:
	case FK_RUNS:
	case FK_RUN:
	case FK_SERVICES:
	case FK_SERVICE:
	case FK_MATRICES:
	case FK_MATRIX:
		return true;
	case FK_FILE:
		return (pfs_name_of(p->file)->flags & PFS_N_DIR) != 0;
	default:
		return false;
	}
}

bool fs_path_on_disk(const struct fs_path *p)
{
	return p->kind == FK_DISK_FILE || (p->kind == FK_FILE && (pfs_name_of(p->file)->flags & PFS_N_DISK_FILE));
}
