/* SPDX-License-Identifier: MIT */
/*
 * What editors leave in a test's directory: vim's 4913 probe and swap
 * files, backups (config.yaml~), sed's and install's temporaries, emacs'
 * lock links. They live in memory, capped per file, per test and for the
 * whole mount, and die with the test. Renaming one over config.yaml
 * applies it as a config. A config.yaml renamed away or unlinked is
 * "hidden" until a new one is written: the test and its config in the
 * engine stay (an editor's save is not "remove the config").
 *
 * Everything here is under fs->scratch_lock; the engine is called with it
 * released.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "pantherfs/config.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

/* ---- the list (scratch_lock held) ----------------------------------------------------------------- */

static struct fs_scratch *find(struct pfs_fs *fs, const char *test, const char *name)
{
	for (struct fs_scratch *s = fs->scratch; s; s = s->next)
		if (!strcmp(s->test, test) && !strcmp(s->name, name))
			return s;
	return NULL;
}

/* -ENOSPC past the per-test count, -ENOMEM. */
static int add(struct pfs_fs *fs, const char *test, const char *name, struct fs_scratch **out)
{
	struct fs_scratch *s;
	size_t count = 0;

	for (s = fs->scratch; s; s = s->next)
		count += !strcmp(s->test, test);
	if (count >= FS_SCRATCH_FILES)
		return -ENOSPC;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->test = strdup(test);
	s->name = strdup(name);
	pfs_buf_init(&s->data, FS_SCRATCH_MAX);
	s->mode = 0644;
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	if (!s->test || !s->name) {
		free(s->test);
		free(s->name);
		free(s);
		return -ENOMEM;
	}
	s->next = fs->scratch;
	fs->scratch = s;
	*out = s;
	return 0;
}

static void del(struct pfs_fs *fs, struct fs_scratch *s)
{
	struct fs_scratch **p;

	for (p = &fs->scratch; *p && *p != s; p = &(*p)->next)
		;
	if (*p)
		*p = s->next;
	fs->scratch_bytes -= s->data.len;
	pfs_buf_release(&s->data);
	free(s->test);
	free(s->name);
	free(s->link);
	free(s);
}

static void reset(struct pfs_fs *fs, struct fs_scratch *s)
{
	fs->scratch_bytes -= s->data.len;
	pfs_buf_reset(&s->data);
}

static bool hidden(struct pfs_fs *fs, const char *test)
{
	for (struct fs_hidden *h = fs->hidden; h; h = h->next)
		if (!strcmp(h->test, test))
			return true;
	return false;
}

static void set_hidden(struct pfs_fs *fs, const char *test, bool hide)
{
	struct fs_hidden **p = &fs->hidden;

	for (; *p; p = &(*p)->next)
		if (!strcmp((*p)->test, test))
			break;
	if (hide && !*p) {
		struct fs_hidden *h = calloc(1, sizeof(*h));

		if (h && (h->test = strdup(test))) {
			h->next = fs->hidden;
			fs->hidden = h;
		} else {
			free(h);
		}
	} else if (!hide && *p) {
		struct fs_hidden *h = *p;

		*p = h->next;
		free(h->test);
		free(h);
	}
}

/* Writes data at off, zero-filling a gap; the mount-wide cap holds. */
static int pwrite_capped(struct pfs_fs *fs, struct fs_scratch *s, const char *data, size_t size, off_t off)
{
	size_t old = s->data.len, end;
	int r;

	if (off < 0)
		return -EINVAL;
	end = (size_t)off + size;
	if (end > old && fs->scratch_bytes + (end - old) > FS_SCRATCH_TOTAL)
		return -ENOSPC;
	r = pfs_buf_pwrite(&s->data, data, size, off);
	fs->scratch_bytes += s->data.len - old;
	return r;
}

/* ---- what the router asks ---------------------------------------------------------------------- */

bool fs_scratch_stat(struct pfs_fs *fs, const char *test, const char *name, struct stat *st)
{
	struct fs_scratch *s;

	pthread_mutex_lock(&fs->scratch_lock);
	s = find(fs, test, name);
	if (s) {
		st->st_mode = s->link ? S_IFLNK | 0777 : S_IFREG | (s->mode & 0777);
		st->st_size = s->link ? (off_t)strlen(s->link) : (off_t)s->data.len;
		st->st_mtim = st->st_ctim = s->mtime;
	}
	pthread_mutex_unlock(&fs->scratch_lock);
	return s != NULL;
}

bool fs_scratch_exists(struct pfs_fs *fs, const char *test, const char *name)
{
	bool found;

	pthread_mutex_lock(&fs->scratch_lock);
	found = find(fs, test, name) != NULL;
	pthread_mutex_unlock(&fs->scratch_lock);
	return found;
}

bool fs_config_hidden(struct pfs_fs *fs, const char *test)
{
	bool h;

	pthread_mutex_lock(&fs->scratch_lock);
	h = hidden(fs, test);
	pthread_mutex_unlock(&fs->scratch_lock);
	return h;
}

void fs_config_set_hidden(struct pfs_fs *fs, const char *test, bool hide)
{
	pthread_mutex_lock(&fs->scratch_lock);
	set_hidden(fs, test, hide);
	pthread_mutex_unlock(&fs->scratch_lock);
}

char **fs_scratch_names(struct pfs_fs *fs, const char *test, mode_t **types)
{
	char **v = NULL;
	size_t n = 0;

	*types = NULL;
	pthread_mutex_lock(&fs->scratch_lock);
	for (struct fs_scratch *s = fs->scratch; s; s = s->next)
		n += !strcmp(s->test, test);
	v = calloc(n + 1, sizeof(*v));
	*types = calloc(n + 1, sizeof(**types));
	n = 0;
	for (struct fs_scratch *s = fs->scratch; v && *types && s; s = s->next)
		if (!strcmp(s->test, test) && (v[n] = strdup(s->name)))
			(*types)[n++] = s->link ? S_IFLNK : S_IFREG;
	pthread_mutex_unlock(&fs->scratch_lock);
	return v;
}

char *fs_scratch_read(struct pfs_fs *fs, const char *test, const char *name, size_t size, off_t off,
		      size_t *len)
{
	struct fs_scratch *s;
	char *copy = NULL;

	*len = 0;
	pthread_mutex_lock(&fs->scratch_lock);
	s = find(fs, test, name);
	if (s && off >= 0 && (size_t)off < s->data.len) {
		*len = s->data.len - (size_t)off < size ? s->data.len - (size_t)off : size;
		copy = malloc(*len);
		if (copy)
			memcpy(copy, s->data.ptr + off, *len);
		else
			*len = 0;
	}
	pthread_mutex_unlock(&fs->scratch_lock);
	return copy;
}

int fs_scratch_write(struct pfs_fs *fs, const char *test, const char *name, const char *buf, size_t size,
		     off_t off)
{
	struct fs_scratch *s;
	int r;

	pthread_mutex_lock(&fs->scratch_lock);
	s = find(fs, test, name);
	r = s ? pwrite_capped(fs, s, buf, size, off) : -ENOENT;
	if (s)
		clock_gettime(CLOCK_REALTIME, &s->mtime);
	pthread_mutex_unlock(&fs->scratch_lock);
	return r;
}

int fs_scratch_truncate(struct pfs_fs *fs, const char *test, const char *name, off_t size)
{
	struct fs_scratch *s;
	int r = 0;

	pthread_mutex_lock(&fs->scratch_lock);
	s = find(fs, test, name);
	if (!s) {
		r = -ENOENT;
	} else if ((size_t)size < s->data.len) {
		fs->scratch_bytes -= s->data.len - (size_t)size;
		pfs_buf_truncate(&s->data, (size_t)size);
	} else if ((size_t)size > s->data.len) {
		r = pwrite_capped(fs, s, "", 0, size);
	}
	pthread_mutex_unlock(&fs->scratch_lock);
	return r;
}

void fs_scratch_chmod(struct pfs_fs *fs, const char *test, const char *name, mode_t mode)
{
	struct fs_scratch *s;

	pthread_mutex_lock(&fs->scratch_lock);
	s = find(fs, test, name);
	if (s)
		s->mode = mode & 0777;
	pthread_mutex_unlock(&fs->scratch_lock);
}

char *fs_scratch_readlink(struct pfs_fs *fs, const char *test, const char *name)
{
	struct fs_scratch *s;
	char *link = NULL;

	pthread_mutex_lock(&fs->scratch_lock);
	s = find(fs, test, name);
	if (s && s->link)
		link = strdup(s->link);
	pthread_mutex_unlock(&fs->scratch_lock);
	return link;
}

void fs_scratch_forget_test(struct pfs_fs *fs, const char *test)
{
	struct fs_scratch *s, *next;

	pthread_mutex_lock(&fs->scratch_lock);
	for (s = fs->scratch; s; s = next) {
		next = s->next;
		if (!strcmp(s->test, test))
			del(fs, s);
	}
	set_hidden(fs, test, false);
	pthread_mutex_unlock(&fs->scratch_lock);
}

void fs_scratch_free_all(struct pfs_fs *fs)
{
	while (fs->scratch)
		del(fs, fs->scratch);
	while (fs->hidden)
		set_hidden(fs, fs->hidden->test, false);
}

/* ---- operations -------------------------------------------------------------------------------- */

/* The names only pantherfs makes in a test's directory. */
static bool reserved(const char *name)
{
	return pfs_name_lookup(name, PFS_AT_TEST) != NULL;
}

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct fs_handle *h = NULL;
	struct fs_path p;
	char *pp, *cp = NULL;
	fuse_ino_t ino;
	int r = 0;

	if (!fs_target(req, parent, &p, &pp))
		return;
	if (p.kind != FK_TEST || strchr(name, '/') || strlen(name) > 255 || !pfs_name_valid_file(name)) {
		free(pp);
		fuse_reply_err(req, p.kind == FK_TEST ? EINVAL : EACCES);
		return;
	}
	if (!strcmp(name, "config.yaml")) {
		bool exists;

		pthread_mutex_lock(&fs->scratch_lock);
		exists = !hidden(fs, p.test);
		set_hidden(fs, p.test, false);
		pthread_mutex_unlock(&fs->scratch_lock);
		if (exists && (fi->flags & O_EXCL)) {
			r = -EEXIST;
			goto out;
		}
		/* pending once written to (see the router's open) */
		p.kind = FK_FILE;
		p.file = PFS_F_CONFIG;
		h = fs_handle_new(H_CONFIG, &p);
		if (h)
			h->truncated = true; /* created: empty unless written (see the router's op_flush) */
	} else if (reserved(name)) {
		r = -EEXIST;
		goto out;
	} else {
		struct fs_scratch *s;

		pthread_mutex_lock(&fs->scratch_lock);
		s = find(fs, p.test, name);
		if (s && (fi->flags & O_EXCL))
			r = -EEXIST;
		else if (!s)
			r = add(fs, p.test, name, &s);
		if (r == 0) {
			s->mode = mode & 0777;
			reset(fs, s);
		}
		pthread_mutex_unlock(&fs->scratch_lock);
		if (r < 0)
			goto out;
		p.kind = FK_SCRATCH;
		snprintf(p.name, sizeof(p.name), "%s", name);
		h = fs_handle_new(H_SCRATCH, &p);
	}
	if (!h) {
		r = -ENOMEM;
		goto out;
	}
	cp = *pp ? pfs_strdup_printf("%s/%s", pp, name) : strdup(name);
	ino = cp ? fs_node_lookup(fs, cp) : 0;
	if (!ino) {
		r = -ENOMEM;
		goto out;
	}
	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.generation = 1;
	fs_getattr_path(fs, ino, &p, &e.attr);
	if (h->type == H_CONFIG)
		e.attr.st_size = 0;
	fi->direct_io = 1;
	fs_handle_register(fs, h, fi);
	free(pp);
	free(cp);
	fuse_reply_create(req, &e, fi);
	return;
out:
	fs_handle_free(h);
	free(pp);
	free(cp);
	fuse_reply_err(req, -r);
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs_fs *fs = fs_of(req);
	struct fs_scratch *s;
	struct fs_path p;
	char *pp;
	int r = -ENOENT;

	if (!fs_target(req, parent, &p, &pp))
		return;
	if (!p.test[0]) {
		free(pp);
		fuse_reply_err(req, EACCES);
		return;
	}
	if (p.kind == FK_TEST) {
		pthread_mutex_lock(&fs->scratch_lock);
		s = find(fs, p.test, name);
		if (!strcmp(name, "config.yaml") && !hidden(fs, p.test)) {
			set_hidden(fs, p.test, true); /* hidden, not forgotten: the engine keeps the test's config */
			r = 0;
		} else if (s) {
			del(fs, s);
			r = 0;
		}
		pthread_mutex_unlock(&fs->scratch_lock);
	}
	if (r == -ENOENT)
		r = fs_tests_remove_own(fs, pp, name, false);
	free(pp);
	fuse_reply_err(req, r == -EINVAL ? ENOENT : -r);
}

/* sed -i, install, Ansible: a temporary file renamed over the config applies it. */
static int rename_over_config(struct pfs_fs *fs, const char *test, const char *name)
{
	struct fs_scratch *s, *d;
	char *data = NULL;
	size_t len = 0;
	int r;

	pthread_mutex_lock(&fs->scratch_lock);
	s = find(fs, test, name);
	r = !s ? (reserved(name) ? -EACCES : -ENOENT) : s->link ? -EINVAL : 0;
	if (r == 0) {
		len = s->data.len;
		data = malloc(len + 1);
		if (data)
			memcpy(data, pfs_buf_str(&s->data), len + 1);
		else
			r = -ENOMEM;
	}
	pthread_mutex_unlock(&fs->scratch_lock);
	if (r < 0)
		return r;
	r = fs_tests_apply_config(fs, test, data, len);
	free(data);
	if (r < 0)
		return r;
	pthread_mutex_lock(&fs->scratch_lock);
	s = find(fs, test, name);
	if (s)
		del(fs, s);
	d = find(fs, test, "config.yaml");
	if (d)
		del(fs, d);
	set_hidden(fs, test, false);
	pthread_mutex_unlock(&fs->scratch_lock);
	return 0;
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	struct pfs_fs *fs = fs_of(req);
	struct fs_path p, p2;
	struct fs_scratch *s, *d;
	struct engine_file f = { 0 };
	bool have_config = false;
	int r = 0;

	if (!fs_target(req, parent, &p, NULL) || !fs_target(req, newparent, &p2, NULL))
		return;
	if (p.kind != FK_TEST || p2.kind != FK_TEST || strcmp(p.test, p2.test)) {
		fuse_reply_err(req, p.kind == FK_TEST && p2.kind == FK_TEST ? EXDEV : EACCES);
		return;
	}
	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!strcmp(name, newname)) {
		fuse_reply_err(req, 0);
		return;
	}
	if (!strcmp(newname, "config.yaml")) {
		fuse_reply_err(req, -rename_over_config(fs, p.test, name));
		return;
	}
	if (reserved(newname) || (reserved(name) && strcmp(name, "config.yaml")) || !pfs_name_valid_file(newname)) {
		fuse_reply_err(req, reserved(newname) || reserved(name) ? EACCES : EINVAL);
		return;
	}
	/* vim and emacs: the config becomes the backup, a new one follows (read before locking) */
	if (!strcmp(name, "config.yaml") && !fs_config_hidden(fs, p.test))
		have_config = engine_file_get(fs->e, p.test, 0, NULL, PFS_F_CONFIG, &f) == 0;
	pthread_mutex_lock(&fs->scratch_lock);
	if (!strcmp(name, "config.yaml") && !hidden(fs, p.test)) {
		d = find(fs, p.test, newname);
		if (!d)
			r = add(fs, p.test, newname, &d);
		if (r == 0) {
			reset(fs, d);
			free(d->link);
			d->link = NULL;
			if (have_config)
				r = pwrite_capped(fs, d, f.data, f.len, 0);
			clock_gettime(CLOCK_REALTIME, &d->mtime);
			set_hidden(fs, p.test, true);
		}
	} else if ((s = find(fs, p.test, name))) {
		d = find(fs, p.test, newname);
		if ((flags & RENAME_NOREPLACE) && d) {
			r = -EEXIST;
		} else {
			char *nn = strdup(newname);

			if (!nn) {
				r = -ENOMEM;
			} else {
				if (d)
					del(fs, d);
				free(s->name);
				s->name = nn;
			}
		}
	} else {
		r = -ENOENT;
	}
	pthread_mutex_unlock(&fs->scratch_lock);
	engine_file_release(&f);
	fuse_reply_err(req, -r);
}

void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct pfs_fs *fs = fs_of(req);
	struct fs_scratch *s = NULL;
	struct fs_path p;
	char *pp;
	int r = 0;

	if (!fs_target(req, parent, &p, &pp))
		return;
	if (p.kind != FK_TEST || reserved(name) || !pfs_name_valid_file(name)) {
		free(pp);
		fuse_reply_err(req, p.kind != FK_TEST ? EACCES : reserved(name) ? EEXIST : EINVAL);
		return;
	}
	pthread_mutex_lock(&fs->scratch_lock);
	if (find(fs, p.test, name))
		r = -EEXIST;
	else
		r = add(fs, p.test, name, &s);
	if (r == 0 && !(s->link = strdup(link))) {
		del(fs, s);
		r = -ENOMEM;
	}
	pthread_mutex_unlock(&fs->scratch_lock);
	if (r < 0) {
		free(pp);
		fuse_reply_err(req, -r);
		return;
	}
	fs_reply_entry(req, fs, pp, name);
	free(pp);
}
