/* SPDX-License-Identifier: MIT */
/*
 * The tests/ subtree: what exists, what files hold, what directories list,
 * ctl verbs, config writes, mkdir and rmdir. Everything is read from the
 * engine's snapshots (engine_file_get: one copy per open) and from the
 * state dir's append-only files up to the size the engine published;
 * nothing here waits on Docker.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_internal.h"
#include "pantherfs/config.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static bool list_has(char **v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static bool test_exists(struct pfs_fs *fs, const char *test)
{
	char st[32];

	return engine_test_state(fs->e, test, st, sizeof(st)) == 0;
}

static bool run_exists(struct pfs_fs *fs, const char *test, int run)
{
	size_t n;
	int *v = engine_run_numbers(fs->e, test, &n);
	bool found = false;

	for (size_t i = 0; v && i < n; i++)
		found |= v[i] == run;
	free(v);
	return found;
}

static bool svc_exists(struct pfs_fs *fs, const char *test, int run, const char *svc)
{
	char **v = engine_service_names(fs->e, test, run);
	bool found = list_has(v, svc);

	pfs_strv_free(v);
	return found;
}

/*
 * The state dir's file behind what p names (malloc'd), or NULL: a file in
 * a service's results/ or qlog/, or a PFS_N_DISK_FILE or PFS_N_DISK_DIR
 * name itself.
 */
static char *disk_file_path(struct pfs_fs *fs, const struct fs_path *p)
{
	char *dir = engine_svc_dir(fs->e, p->test, p->run, p->svc, p->file);
	char *path;

	if (!dir || p->kind != FK_DISK_FILE)
		return dir;
	path = pfs_strdup_printf("%s/%s", dir, p->name);
	free(dir);
	return path;
}

/* Whether the state dir has a PFS_N_IF_PRESENT name of a service (what its config asked for). */
static bool present(struct pfs_fs *fs, const struct fs_path *p)
{
	bool dir = (pfs_name_of(p->file)->flags & PFS_N_DIR) != 0;
	char *path = disk_file_path(fs, p);
	struct stat st;
	bool ok = path && lstat(path, &st) == 0 && (dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));

	free(path);
	return ok;
}

bool fs_tests_exists(struct pfs_fs *fs, const struct fs_path *p)
{
	if (!test_exists(fs, p->test))
		return false;
	if (p->run && !run_exists(fs, p->test, p->run))
		return false;
	if (p->svc[0] && !svc_exists(fs, p->test, p->run, p->svc))
		return false;
	switch (p->kind) {
	case FK_FILE:
		if (pfs_name_of(p->file)->flags & PFS_N_IF_PRESENT)
			return present(fs, p);
		/* an accepted config that an editor renamed away is gone until written again */
		return !(p->file == PFS_F_CONFIG && !p->run && fs_config_hidden(fs, p->test));
	case FK_SCRATCH:
		return fs_scratch_exists(fs, p->test, p->name);
	case FK_DISK_FILE: {
		char *path = disk_file_path(fs, p);
		struct stat st;
		bool ok = path && lstat(path, &st) == 0 && S_ISREG(st.st_mode);

		free(path);
		return ok;
	}
	default:
		return true;
	}
}

int fs_tests_content(struct pfs_fs *fs, const struct fs_path *p, struct engine_file *f)
{
	memset(f, 0, sizeof(*f));
	if (fs_path_on_disk(p)) {
		char *path = disk_file_path(fs, p);
		struct stat st;

		if (!path || lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			return -ENOENT;
		}
		/* what the program wrote: served as it is, a growing file */
		f->path = path;
		f->len = (size_t)st.st_size;
		f->mtime = st.st_mtim;
		f->growing = true;
		return 0;
	}
	if (p->kind != FK_FILE)
		return -EISDIR;
	if (p->file == PFS_F_CTL) {
		f->data = strdup("");
		clock_gettime(CLOCK_REALTIME, &f->mtime);
		return f->data ? 0 : -ENOMEM;
	}
	return engine_file_get(fs->e, p->test, p->run, p->svc[0] ? p->svc : NULL, p->file, f);
}

int fs_tests_stat(struct pfs_fs *fs, const struct fs_path *p, struct stat *st)
{
	struct engine_file f;
	size_t size;
	int r;

	if (p->kind == FK_FILE && p->file != PFS_F_CTL && !fs_path_on_disk(p)) {
		r = engine_file_stat(fs->e, p->test, p->run, p->svc[0] ? p->svc : NULL, p->file, &size,
				     &st->st_mtim);
		if (r == 0)
			st->st_size = (off_t)size;
		return r;
	}
	r = fs_tests_content(fs, p, &f);
	if (r == 0) {
		st->st_size = (off_t)f.len;
		st->st_mtim = f.mtime;
		engine_file_release(&f);
	}
	return r;
}

/* The names of a run's or a service's directory p (PFS_N_IF_PRESENT ones when the state dir has them). */
static void list_names(struct pfs_fs *fs, const struct fs_path *p, struct fs_handle *h, unsigned where)
{
	for (const struct pfs_name *n = pfs_names; n->name; n++) {
		struct fs_path c = *p;

		if (!(n->where & where))
			continue;
		c.kind = FK_FILE;
		c.file = n->id;
		if ((n->flags & PFS_N_IF_PRESENT) && !present(fs, &c))
			continue;
		fs_handle_add_name(h, n->name, n->flags & PFS_N_DIR ? S_IFDIR : S_IFREG);
	}
}

static void list_disk_dir(struct pfs_fs *fs, const struct fs_path *p, struct fs_handle *h)
{
	char *dir = engine_svc_dir(fs->e, p->test, p->run, p->svc, p->file);
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (de->d_type == DT_REG && pfs_name_valid(de->d_name))
			fs_handle_add_name(h, de->d_name, S_IFREG);
	if (d)
		closedir(d);
	free(dir);
}

void fs_tests_list(struct pfs_fs *fs, const struct fs_path *p, struct fs_handle *h)
{
	char **v;

	switch (p->kind) {
	case FK_TESTS:
		v = engine_test_names(fs->e);
		for (size_t i = 0; v && v[i]; i++)
			fs_handle_add_name(h, v[i], S_IFDIR);
		pfs_strv_free(v);
		break;
	case FK_TEST: {
		mode_t *types = NULL;
		bool hidden = fs_config_hidden(fs, p->test);

		for (const struct pfs_name *n = pfs_names; n->name; n++)
			if ((n->where & PFS_AT_TEST) && !(n->id == PFS_F_CONFIG && hidden))
				fs_handle_add_name(h, n->name, n->flags & PFS_N_DIR ? S_IFDIR : S_IFREG);
		v = fs_scratch_names(fs, p->test, &types);
		for (size_t i = 0; v && types && v[i]; i++)
			fs_handle_add_name(h, v[i], types[i]);
		pfs_strv_free(v);
		free(types);
		break;
	}
	case FK_SERVICES:
		v = engine_service_names(fs->e, p->test, p->run);
		for (size_t i = 0; v && v[i]; i++)
			fs_handle_add_name(h, v[i], S_IFDIR);
		pfs_strv_free(v);
		break;
	case FK_SERVICE:
		list_names(fs, p, h, p->run ? PFS_AT_RUN_SVC : PFS_AT_SVC);
		break;
	case FK_RUNS: {
		size_t n;
		int *runs = engine_run_numbers(fs->e, p->test, &n);

		for (size_t i = 0; runs && i < n; i++) {
			char num[16];

			snprintf(num, sizeof(num), "%d", runs[i]);
			fs_handle_add_name(h, num, S_IFDIR);
		}
		free(runs);
		break;
	}
	case FK_RUN:
		list_names(fs, p, h, PFS_AT_RUN);
		break;
	case FK_FILE:
		if (pfs_name_of(p->file)->flags & PFS_N_DISK_DIR)
			list_disk_dir(fs, p, h);
		break;
	default:
		break;
	}
}

int fs_tests_ctl(struct pfs_fs *fs, const char *test, const char *buf, size_t size)
{
	struct pfs_err err = { 0 };
	char verb[32];
	size_t n = size;
	int r;

	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
		n--;
	if (!n || n >= sizeof(verb) || memchr(buf, '\n', n) || memchr(buf, '\0', n))
		return -EINVAL;
	memcpy(verb, buf, n);
	verb[n] = '\0';
	r = engine_test_ctl(fs->e, test, verb, &err);
	return r == -ENOEXEC ? -ENODATA : r; /* "start" before any config */
}

int fs_tests_apply_config(struct pfs_fs *fs, const char *test, const char *data, size_t len)
{
	struct cfg_report rep;
	int r = engine_test_apply_config(fs->e, test, data, len, &rep);

	cfg_report_release(&rep);
	/* the engine records why, as for any refusal; close() says how it failed */
	return len > CONFIG_MAX_BYTES && r < 0 ? -EFBIG : r;
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct pfs_fs *fs = fs_of(req);
	struct pfs_err err = { 0 };
	struct fs_path p;
	char *pp;
	int r;

	(void)mode;
	if (!fs_target(req, parent, &p, &pp))
		return;
	if (p.kind == FK_MATRICES) {
		r = fs_matrix_mkdir(fs, name);
		if (r < 0)
			fuse_reply_err(req, -r);
		else
			fs_reply_entry(req, fs, pp, name);
		free(pp);
		return;
	}
	if (p.kind != FK_TESTS) {
		free(pp);
		fuse_reply_err(req, EACCES);
		return;
	}
	r = engine_test_create(fs->e, name, &err);
	if (r < 0) {
		free(pp);
		fuse_reply_err(req, -r);
		return;
	}
	fs_scratch_forget_test(fs, name); /* a test of that name removed earlier left nothing */
	fs_reply_entry(req, fs, pp, name);
	free(pp);
}

/*
 * `rm -rf tests/t` works like `rmdir tests/t`: the files and directories
 * pantherfs makes go with their test, so removing one of them on the way
 * is a no-op once the run is over, and EBUSY while it is live.
 */
int fs_tests_remove_own(struct pfs_fs *fs, const char *parent_path, const char *name, bool dir)
{
	struct fs_path c;
	char *cp;
	bool found;

	cp = pfs_strdup_printf("%s/%s", parent_path, name);
	found = cp && fs_resolve(fs, cp, &c);
	free(cp);
	if (!found)
		return -ENOENT;
	if (c.kind == FK_SCRATCH || c.kind == FK_TEST)
		return -EINVAL; /* not ours to answer here */
	if (fs_path_is_dir(&c) != dir)
		return dir ? -ENOTDIR : -EISDIR;
	return engine_run_live(fs->e, c.test, 0) ? -EBUSY : 0;
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs_fs *fs = fs_of(req);
	struct pfs_err err = { 0 };
	struct fs_path p;
	char *pp;
	int r;

	if (!fs_target(req, parent, &p, &pp))
		return;
	if (p.kind == FK_TESTS) {
		r = engine_test_remove(fs->e, name, &err);
		if (r == 0)
			fs_scratch_forget_test(fs, name);
	} else if (p.kind == FK_MATRICES) {
		r = fs_matrix_rmdir(fs, name);
	} else if (p.test[0]) {
		r = fs_tests_remove_own(fs, pp, name, true);
		if (r == -EINVAL)
			r = -ENOTDIR;
	} else {
		r = -EACCES;
	}
	free(pp);
	fuse_reply_err(req, -r);
}
