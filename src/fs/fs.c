/* SPDX-License-Identifier: MIT */
/*
 * pantherfs on the libfuse3 low-level API: the router. It resolves an inode
 * to what its path names (path.c: the shape; the subtrees: whether it
 * exists), answers attributes, and dispatches the operations to the
 * subtree modules (see fs_internal.h for the layout and the lock order).
 *
 * Generated files use direct_io (the kernel neither caches them nor cuts
 * reads at a stale size) and report their true size with a zero attribute
 * timeout, so `tail -f`, which polls size and mtime, follows events and
 * logs. Small files are copied once per open: one open, one snapshot.
 * Everything shown belongs to the mounting user, with the modes that say
 * what may be done (enforced by the kernel with default_permissions).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs_internal.h"
#include "pantherfs/config.h"
#include "pantherfs/log.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static const char readme_text[] =
	"pantherfs: QUIC interoperability tests in Docker, as files.\n"
	"\n"
	"  mkdir tests/t1                        make a test\n"
	"  cp my-test.yaml tests/t1/config.yaml  write a PANTHER test config: a run starts\n"
	"  cat tests/t1/status                   the state word, then a reason\n"
	"  cat tests/t1/error                    why a config was refused (close() said EINVAL)\n"
	"  cat tests/t1/warnings                 config keys accepted but not applied\n"
	"  tail -f tests/t1/events               the run's events, one JSON object per line\n"
	"  cat tests/t1/events.follow            the same, as a stream that ends with the run\n"
	"  cat tests/t1/build.log                image build output\n"
	"  cat tests/t1/services/<s>/command     the command line the service runs\n"
	"  tail -f tests/t1/services/<s>/logs    its stdout and stderr\n"
	"  ls tests/t1/services/<s>/results/     files its program or wrapper wrote (profiles)\n"
	"  echo stop > tests/t1/ctl              start | stop | restart | rebuild | kill\n"
	"  ls tests/t1/runs/                     every earlier run, frozen\n"
	"  cat tests/t1/result.json              the current run's verdict, timings, metrics\n"
	"  cat tests/t1/summary.tsv              a row per run, aggregates per configuration\n"
	"                                        (also summary.json, and summary.svg to look at)\n"
	"  rmdir tests/t1                        remove it (stop it first)\n"
	"\n"
	"  cat engine                            the Docker engine pantherfs reaches\n"
	"  cat summary.tsv                       one row per test: its last run\n"
	"  ls implementations/mvfst/             what can run: versions and their configs\n"
	"\n"
	"  mkdir matrices/m1                     an interop matrix: servers x clients x test cases\n"
	"  cp matrix.yaml matrices/m1/           a test per cell (tests/m1.<server>.<client>.<case>)\n"
	"  cat matrices/m1/matrix.txt            the results table, as cells finish (matrix.tsv)\n";

struct pfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* matrices/<m>/matrix.yaml: written as a test's config.yaml is */
static bool matrix_yaml(const struct fs_path *p)
{
	return p->kind == FK_MATRIX_FILE && !strcmp(p->name, "matrix.yaml");
}

/* ---- resolving ------------------------------------------------------------------------------------ */

bool fs_resolve(struct pfs_fs *fs, const char *path, struct fs_path *p)
{
	if (fs_path_parse(path, p) < 0)
		return false;
	switch (p->kind) {
	case FK_ROOT:
	case FK_README:
	case FK_ENGINE:
	case FK_ROOT_FILE:
	case FK_TESTS:
		return true;
	case FK_IMPLS:
	case FK_IMPL:
	case FK_IMPL_VERSIONS:
	case FK_IMPL_VERSION:
		return fs_catalog_exists(fs, p);
	case FK_MATRICES:
	case FK_MATRIX:
	case FK_MATRIX_FILE:
		return fs_matrix_exists(fs, p);
	default:
		return fs_tests_exists(fs, p);
	}
}

bool fs_target(fuse_req_t req, fuse_ino_t ino, struct fs_path *p, char **path_out)
{
	struct pfs_fs *fs = fs_of(req);
	char *path = fs_node_path(fs, ino);

	if (!path || !fs_resolve(fs, path, p)) {
		free(path);
		fuse_reply_err(req, ENOENT);
		return false;
	}
	if (path_out)
		*path_out = path;
	else
		free(path);
	return true;
}

/* ---- attributes --------------------------------------------------------------------------------------- */

static mode_t mode_of(const struct fs_path *p)
{
	switch (p->kind) {
	case FK_ROOT:
	case FK_TESTS:
	case FK_TEST:
	case FK_MATRICES:
	case FK_MATRIX:
		return S_IFDIR | 0755;
	case FK_MATRIX_FILE:
		return S_IFREG | (!strcmp(p->name, "matrix.yaml") ? 0644 : 0444);
	case FK_IMPLS:
	case FK_IMPL:
	case FK_RUNS:
	case FK_RUN:
	case FK_SERVICES:
	case FK_SERVICE:
		return S_IFDIR | 0555;
	case FK_FILE: {
		const struct pfs_name *n = pfs_name_of(p->file);

		if (n->flags & PFS_N_DIR)
			return S_IFDIR | 0555;
		return S_IFREG | ((n->flags & PFS_N_WRITABLE) && !p->run && !p->svc[0] ? 0644 : 0444);
	}
	default:
		return S_IFREG | 0444;
	}
}

static int content(struct pfs_fs *fs, const struct fs_path *p, struct engine_file *f)
{
	memset(f, 0, sizeof(*f));
	switch (p->kind) {
	case FK_README:
		f->data = strdup(readme_text);
		f->len = strlen(readme_text);
		f->mtime = fs->start;
		return f->data ? 0 : -ENOMEM;
	case FK_ENGINE:
		f->data = engine_line(fs->e);
		f->len = f->data ? strlen(f->data) : 0;
		clock_gettime(CLOCK_REALTIME, &f->mtime);
		return f->data ? 0 : -ENOMEM;
	case FK_IMPL_VERSIONS:
	case FK_IMPL_VERSION:
		return fs_catalog_content(fs, p, f);
	case FK_ROOT_FILE:
		return engine_file_get(fs->e, NULL, 0, NULL, p->file, f);
	case FK_MATRIX_FILE:
		return fs_matrix_content(fs, p, f);
	case FK_FILE:
	case FK_DISK_FILE:
		return fs_tests_content(fs, p, f);
	default:
		return -EISDIR;
	}
}

void fs_getattr_path(struct pfs_fs *fs, fuse_ino_t ino, const struct fs_path *p, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_nlink = 1;
	st->st_blksize = 4096;
	/* directories keep the mount's time: tar and rsync see nothing "changed as we read it" */
	st->st_mtim = st->st_ctim = st->st_atim = fs->start;
	st->st_mode = mode_of(p);
	if (S_ISDIR(st->st_mode)) {
		st->st_nlink = 2;
		return;
	}
	if (p->kind == FK_SCRATCH) {
		fs_scratch_stat(fs, p->test, p->name, st);
	} else if (p->kind == FK_FILE && (pfs_name_of(p->file)->flags & PFS_N_FOLLOW)) {
		clock_gettime(CLOCK_REALTIME, &st->st_mtim); /* a stream: no size, always new */
	} else if (p->kind == FK_FILE || p->kind == FK_DISK_FILE) {
		fs_tests_stat(fs, p, st);
	} else if (p->kind == FK_ROOT_FILE) {
		size_t size;

		/* kept by the engine: its size without a copy; 0 until built */
		if (engine_file_stat(fs->e, NULL, 0, NULL, p->file, &size, &st->st_mtim) == 0)
			st->st_size = (off_t)size;
	} else {
		struct engine_file f;

		if (content(fs, p, &f) == 0) {
			st->st_size = (off_t)f.len;
			st->st_mtim = f.mtime;
			engine_file_release(&f);
		}
	}
	st->st_ctim = st->st_mtim;
	st->st_blocks = (st->st_size + 511) / 512;
}

/* ---- lookups ------------------------------------------------------------------------------------------ */

static char *child_path(const char *parent, const char *name)
{
	return *parent ? pfs_strdup_printf("%s/%s", parent, name) : strdup(name);
}

static int make_entry(struct pfs_fs *fs, const char *path, const struct fs_path *p, struct fuse_entry_param *e)
{
	fuse_ino_t ino = fs_node_lookup(fs, path);

	if (!ino)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->generation = 1;
	fs_getattr_path(fs, ino, p, &e->attr);
	/* names come and go only through us (or with runs): a second is safe */
	e->entry_timeout = p->kind == FK_SCRATCH || (p->kind == FK_FILE && p->file == PFS_F_CONFIG) ||
			   p->kind == FK_MATRIX ? 0 : 1.0;
	e->attr_timeout = 0;
	return 0;
}

void fs_reply_entry(fuse_req_t req, struct pfs_fs *fs, const char *parent_path, const char *name)
{
	struct fuse_entry_param e;
	struct fs_path p;
	char *cp = child_path(parent_path, name);

	if (!cp || !fs_resolve(fs, cp, &p) || make_entry(fs, cp, &p, &e) < 0) {
		free(cp);
		fuse_reply_err(req, EIO);
		return;
	}
	free(cp);
	fuse_reply_entry(req, &e);
}

static void op_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs_fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct fs_path p;
	char *pp = fs_node_path(fs, parent), *cp;
	int r;

	cp = pp ? child_path(pp, name) : NULL;
	free(pp);
	if (!cp || !fs_resolve(fs, cp, &p)) {
		free(cp);
		fuse_reply_err(req, ENOENT);
		return;
	}
	r = make_entry(fs, cp, &p, &e);
	free(cp);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	fs_node_forget(fs_of(req), ino, n);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *fd)
{
	for (size_t i = 0; i < count; i++)
		fs_node_forget(fs_of(req), fd[i].ino, fd[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	struct fs_handle *h;
	struct fs_path p;
	struct stat st;

	if (!fs_target(req, ino, &p, NULL))
		return;
	fs_getattr_path(fs, ino, &p, &st);
	/* an open config being written shows what it holds */
	h = fs_handle_get(fs, fi);
	if (h && h->type == H_CONFIG)
		st.st_size = (off_t)h->buf.len;
	fs_handle_put(fs, h);
	fuse_reply_attr(req, &st, 0);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_path p;
	char *link;

	if (!fs_target(req, ino, &p, NULL))
		return;
	link = p.kind == FK_SCRATCH ? fs_scratch_readlink(fs_of(req), p.test, p.name) : NULL;
	if (!link) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_readlink(req, link);
	free(link);
}

/* chmod/chown/utimens/truncate. Owners and modes are what the mount says they are. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	struct fs_handle *h;
	struct fs_path p;
	struct stat st;
	int r = 0;

	if (!fs_target(req, ino, &p, NULL))
		return;
	h = fs_handle_get(fs, fi);
	fs_getattr_path(fs, ino, &p, &st);
	if ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != st.st_uid)
		r = -EPERM;
	if ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != st.st_gid)
		r = -EPERM;
	if ((to_set & FUSE_SET_ATTR_MODE) && (attr->st_mode & 07777) != (st.st_mode & 07777)) {
		/* a scratch file keeps a mode; pantherfs's own files have theirs */
		if (p.kind == FK_SCRATCH)
			fs_scratch_chmod(fs, p.test, p.name, attr->st_mode);
		else
			r = -EPERM;
	}
	if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		if (h && h->type == H_CONFIG) {
			if ((size_t)attr->st_size > CONFIG_MAX_BYTES) {
				r = -EFBIG;
			} else {
				if ((size_t)attr->st_size < h->buf.len)
					pfs_buf_truncate(&h->buf, (size_t)attr->st_size);
				else
					r = pfs_buf_pwrite(&h->buf, "", 0, attr->st_size);
				/* `: > config.yaml` is a write of nothing: an empty config, refused at close */
				h->dirty = true;
			}
		} else if (p.kind == FK_SCRATCH) {
			r = fs_scratch_truncate(fs, p.test, p.name, attr->st_size);
		} else if (!(p.kind == FK_FILE && p.file == PFS_F_CONFIG && !p.run) && !matrix_yaml(&p)) {
			/* truncate(path) of config.yaml: nothing to apply until something is written */
			r = -EACCES;
		}
	}
	/* times: accepted (editors and touch set them), the content's own times are shown */
	if (r < 0) {
		fs_handle_put(fs, h);
		fuse_reply_err(req, -r);
		return;
	}
	fs_getattr_path(fs, ino, &p, &st);
	if (h && h->type == H_CONFIG)
		st.st_size = (off_t)h->buf.len;
	fs_handle_put(fs, h);
	fuse_reply_attr(req, &st, 0);
}

/* ---- handles and directories ------------------------------------------------------------------------- */

struct fs_handle *fs_handle_new(enum fs_htype type, const struct fs_path *p)
{
	struct fs_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->type = type;
	h->p = *p;
	h->fd = -1;
	pfs_buf_init(&h->buf, CONFIG_MAX_BYTES + 1);
	return h;
}

void fs_handle_free(struct fs_handle *h)
{
	if (!h)
		return;
	if (h->st)
		fs_stream_put(h->st);
	for (size_t i = 0; i < h->n; i++)
		free(h->names[i]);
	free(h->names);
	free(h->types);
	free(h->data);
	if (h->fd >= 0)
		close(h->fd);
	pfs_buf_release(&h->buf);
	free(h);
}

void fs_handle_register(struct pfs_fs *fs, struct fs_handle *h, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&fs->handles_lock);
	h->id = ++fs->next_handle;
	h->refs = 1;
	h->next = fs->handles[h->id % FS_NODE_BUCKETS];
	fs->handles[h->id % FS_NODE_BUCKETS] = h;
	pthread_mutex_unlock(&fs->handles_lock);
	fi->fh = h->id;
}

struct fs_handle *fs_handle_get(struct pfs_fs *fs, const struct fuse_file_info *fi)
{
	struct fs_handle *h;

	if (!fi || !fi->fh)
		return NULL;
	pthread_mutex_lock(&fs->handles_lock);
	for (h = fs->handles[fi->fh % FS_NODE_BUCKETS]; h && h->id != fi->fh; h = h->next)
		;
	if (h)
		h->refs++;
	pthread_mutex_unlock(&fs->handles_lock);
	return h;
}

void fs_handle_put(struct pfs_fs *fs, struct fs_handle *h)
{
	bool last;

	if (!h)
		return;
	pthread_mutex_lock(&fs->handles_lock);
	last = --h->refs == 0;
	pthread_mutex_unlock(&fs->handles_lock);
	if (last)
		fs_handle_free(h);
}

struct fs_handle *fs_handle_unregister(struct pfs_fs *fs, const struct fuse_file_info *fi)
{
	struct fs_handle **pp, *h = NULL;

	pthread_mutex_lock(&fs->handles_lock);
	for (pp = &fs->handles[fi->fh % FS_NODE_BUCKETS]; *pp && (*pp)->id != fi->fh; pp = &(*pp)->next)
		;
	if (*pp) {
		h = *pp;
		*pp = h->next; /* the table's reference is now the caller's */
	}
	pthread_mutex_unlock(&fs->handles_lock);
	return h;
}

void fs_handle_add_name(struct fs_handle *h, const char *name, mode_t type)
{
	char **nv = realloc(h->names, (h->n + 1) * sizeof(*nv));
	mode_t *tv;

	if (!nv)
		return;
	h->names = nv;
	tv = realloc(h->types, (h->n + 1) * sizeof(*tv));
	if (!tv)
		return;
	h->types = tv;
	if (!(h->names[h->n] = strdup(name)))
		return;
	h->types[h->n++] = type;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	struct fs_handle *h;
	struct fs_path p;

	if (!fs_target(req, ino, &p, NULL))
		return;
	if (!fs_path_is_dir(&p)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	h = fs_handle_new(H_DIR, &p);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_handle_add_name(h, ".", S_IFDIR);
	fs_handle_add_name(h, "..", S_IFDIR);
	switch (p.kind) {
	case FK_ROOT:
		fs_handle_add_name(h, "README", S_IFREG);
		fs_handle_add_name(h, "engine", S_IFREG);
		for (const struct pfs_name *n = pfs_names; n->name; n++)
			if (n->where & PFS_AT_ROOT)
				fs_handle_add_name(h, n->name, S_IFREG);
		fs_handle_add_name(h, "implementations", S_IFDIR);
		fs_handle_add_name(h, "tests", S_IFDIR);
		fs_handle_add_name(h, "matrices", S_IFDIR);
		break;
	case FK_IMPLS:
	case FK_IMPL:
		fs_catalog_list(fs, &p, h);
		break;
	case FK_MATRICES:
	case FK_MATRIX:
		fs_matrix_list(fs, &p, h);
		break;
	default:
		fs_tests_list(fs, &p, h);
	}
	fs_handle_register(fs, h, fi);
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	struct fs_handle *h = fs_handle_get(fs, fi);
	char *buf = h ? malloc(size) : NULL;
	size_t used = 0;

	(void)ino;
	if (!buf) {
		fs_handle_put(fs, h);
		fuse_reply_err(req, h ? ENOMEM : EBADF);
		return;
	}
	for (size_t i = (size_t)off; i < h->n; i++) {
		/* any non-zero number: readdir(3) skips inode 0; lookups give the real ones */
		struct stat st = { .st_ino = 0xffffffff, .st_mode = h->types[i] };
		size_t need = fuse_add_direntry(req, buf + used, size - used, h->names[i], &st, (off_t)(i + 1));

		if (need > size - used)
			break;
		used += need;
	}
	fs_handle_put(fs, h);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fs_handle_put(fs_of(req), fs_handle_unregister(fs_of(req), fi));
	fuse_reply_err(req, 0);
}

/* ---- opening, reading, writing ----------------------------------------------------------------------- */

static bool writable(const struct fs_path *p)
{
	return p->kind == FK_SCRATCH || matrix_yaml(p) ||
	       (p->kind == FK_FILE && !p->run && !p->svc[0] && (pfs_name_of(p->file)->flags & PFS_N_WRITABLE));
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	int acc = fi->flags & O_ACCMODE;
	struct engine_file f;
	struct fs_handle *h;
	struct fs_path p;
	int r;

	if (!fs_target(req, ino, &p, NULL))
		return;
	if (fs_path_is_dir(&p)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (acc != O_RDONLY && !writable(&p)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (p.kind == FK_FILE && (pfs_name_of(p.file)->flags & PFS_N_FOLLOW)) {
		h = fs_handle_new(H_STREAM, &p);
		if (h && !(h->st = fs_stream_open(fs, &p))) {
			fs_handle_free(h);
			h = NULL;
		}
		if (!h) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		fi->direct_io = 1;
		fi->nonseekable = 1;
		fs_handle_register(fs, h, fi);
		fuse_reply_open(req, fi);
		return;
	}
	if (p.kind == FK_FILE && p.file == PFS_F_CTL) {
		h = fs_handle_new(H_CTL, &p);
	} else if (p.kind == FK_SCRATCH) {
		h = fs_handle_new(H_SCRATCH, &p);
		if (h && (fi->flags & O_TRUNC))
			fs_scratch_truncate(fs, p.test, p.name, 0);
	} else if (((p.kind == FK_FILE && p.file == PFS_F_CONFIG) || matrix_yaml(&p)) && acc != O_RDONLY) {
		h = fs_handle_new(H_CONFIG, &p);
		if (h)
			h->truncated = (fi->flags & O_TRUNC) != 0;
		if (h && !(fi->flags & O_TRUNC) && content(fs, &p, &f) == 0) {
			/* writing in place: start from what is there */
			pfs_buf_add(&h->buf, f.data, f.len);
			engine_file_release(&f);
		}
		/* O_TRUNC alone is not yet a config: see op_flush */
	} else {
		r = content(fs, &p, &f);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		h = fs_handle_new(f.growing ? H_GROWING : H_SNAP, &p);
		if (h && f.growing) {
			h->fd = open(f.path, O_RDONLY | O_CLOEXEC);
			if (h->fd < 0)
				h->type = H_SNAP; /* nothing written yet */
		} else if (h) {
			h->data = f.data;
			h->len = f.len;
			f.data = NULL;
		}
		engine_file_release(&f);
	}
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->direct_io = 1;
	fs_handle_register(fs, h, fi);
	fuse_reply_open(req, fi);
}

static void reply_slice(fuse_req_t req, const char *data, size_t len, size_t size, off_t off)
{
	if (off < 0 || (size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off, len - (size_t)off < size ? len - (size_t)off : size);
}

/* A growing file up to what the engine published (a program's own file: what it holds). */
static void read_growing(fuse_req_t req, struct pfs_fs *fs, struct fs_handle *h, size_t size, off_t off)
{
	struct stat st = { 0 };
	size_t len;
	char *buf;
	ssize_t got;

	if (fs_path_on_disk(&h->p)) {
		if (fstat(h->fd, &st) < 0)
			st.st_size = 0;
	} else {
		fs_tests_stat(fs, &h->p, &st);
	}
	len = (size_t)st.st_size;
	if (off < 0 || (size_t)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	buf = malloc(size);
	got = buf ? pread(h->fd, buf, size, off) : -1;
	if (got < 0)
		fuse_reply_err(req, buf ? errno : ENOMEM);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	free(buf);
}

static void op_read_h(struct fs_handle *h, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);

	(void)ino;
	switch (h->type) {
	case H_SNAP:
		reply_slice(req, h->data ? h->data : "", h->len, size, off);
		return;
	case H_CONFIG:
		reply_slice(req, pfs_buf_str(&h->buf), h->buf.len, size, off);
		return;
	case H_CTL:
		fuse_reply_buf(req, NULL, 0);
		return;
	case H_GROWING:
		read_growing(req, fs, h, size, off);
		return;
	case H_SCRATCH: {
		size_t len;
		char *copy = fs_scratch_read(fs, h->p.test, h->p.name, size, off, &len);

		fuse_reply_buf(req, copy, len);
		free(copy);
		return;
	}
	case H_STREAM:
		fs_stream_read(req, h->st, size, off, fi->flags & O_NONBLOCK);
		return;
	case H_DIR:
		fuse_reply_err(req, EISDIR);
		return;
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct pfs_fs *wfs = fs_of(req);
	struct fs_handle *h = fs_handle_get(wfs, fi);

	if (!h) {
		fuse_reply_err(req, EBADF);
		return;
	}
	op_read_h(h, req, ino, size, off, fi);
	fs_handle_put(wfs, h);
}

static void op_write_h(struct fs_handle *h, fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	int r;

	(void)ino;
	(void)fi;
	switch (h->type) {
	case H_CONFIG:
		r = pfs_buf_pwrite(&h->buf, buf, size, off);
		if (r == -EFBIG) {
			/* the flush refuses it whole: never a cut config */
			pfs_buf_release(&h->buf);
			h->too_big = true;
			r = 0;
		}
		if (r == 0)
			h->dirty = true;
		break;
	case H_CTL:
		r = fs_tests_ctl(fs, h->p.test, buf, size);
		break;
	case H_SCRATCH:
		r = fs_scratch_write(fs, h->p.test, h->p.name, buf, size, off);
		break;
	default:
		r = -EACCES;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, size);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct pfs_fs *wfs = fs_of(req);
	struct fs_handle *h = fs_handle_get(wfs, fi);

	if (!h) {
		fuse_reply_err(req, EBADF);
		return;
	}
	op_write_h(h, req, ino, buf, size, off, fi);
	fs_handle_put(wfs, h);
}

/*
 * When a config is applied. A config is written through one open file
 * description that several processes may share: `{ cat a; cat b; } >
 * config.yaml` gives it to two cats, whose closes come before the shell's.
 * Its flushes carry the lock owner (the file table) of the process that
 * closes; the first flush is the opener's (a shell closes its own
 * descriptor right after dup2), so the config is applied at the opener's
 * flushes only, and close() of the opener returns the verdict. A
 * description opened with O_TRUNC that the opener closes twice with
 * nothing written (`: > config.yaml`) is an empty config. Whatever was
 * written and never applied is applied at release, whose error nobody
 * sees but `error` and the events keep.
 */
static int config_apply(struct pfs_fs *fs, struct fs_handle *h)
{
	int r;

	h->dirty = false;
	h->applied = true;
	if (matrix_yaml(&h->p))
		return h->too_big ? -EFBIG : fs_matrix_apply(fs, h->p.matrix, pfs_buf_str(&h->buf), h->buf.len);
	if (h->too_big) {
		char *big = calloc(1, CONFIG_MAX_BYTES + 1);

		r = big ? fs_tests_apply_config(fs, h->p.test, big, CONFIG_MAX_BYTES + 1) : -EFBIG;
		free(big);
	} else {
		r = fs_tests_apply_config(fs, h->p.test, pfs_buf_str(&h->buf), h->buf.len);
	}
	fs_config_set_hidden(fs, h->p.test, false);
	return r;
}

static void op_flush_h(struct fs_handle *h, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	int r = 0;

	(void)ino;
	if (h->type == H_CONFIG) {
		if (!h->owner_set) {
			h->owner = fi->lock_owner;
			h->owner_set = true;
		}
		if (fi->lock_owner == h->owner) {
			h->owner_flushes++;
			if (h->dirty || (h->truncated && !h->applied && h->owner_flushes >= 2))
				r = config_apply(fs, h);
		}
	}
	fuse_reply_err(req, r < 0 ? -r : 0);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs_fs *wfs = fs_of(req);
	struct fs_handle *h = fs_handle_get(wfs, fi);

	if (!h) {
		fuse_reply_err(req, 0);
		return;
	}
	op_flush_h(h, req, ino, fi);
	fs_handle_put(wfs, h);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	/* out of the table: an operation still under way keeps it alive to its end */
	struct fs_handle *h = fs_handle_unregister(fs, fi);

	(void)ino;
	if (h && h->type == H_CONFIG && (h->dirty || (h->truncated && !h->applied)))
		config_apply(fs, h);
	if (h && h->type == H_STREAM)
		fs_stream_close(h->st);
	fs_handle_put(fs, h);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_poll_h(struct fs_handle *h, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		      struct fuse_pollhandle *ph)
{
	(void)ino;
	(void)fi;
	if (h && h->type == H_STREAM) {
		fs_stream_poll(req, h->st, ph);
		return;
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, h && h->type == H_CONFIG ? POLLIN | POLLOUT : POLLIN | POLLRDNORM);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct pfs_fs *wfs = fs_of(req);
	struct fs_handle *h = fs_handle_get(wfs, fi);

	if (!h) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLIN | POLLRDNORM);
		return;
	}
	op_poll_h(h, req, ino, fi, ph);
	fs_handle_put(wfs, h);
}

/* ---- the rest ------------------------------------------------------------------------------------------ */

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096, .f_blocks = 1u << 20, .f_bfree = 1u << 19,
			      .f_bavail = 1u << 19, .f_files = 1u << 16, .f_ffree = 1u << 15,
			      .f_favail = 1u << 15, .f_namemax = 255 };

	(void)ino;
	fuse_reply_statfs(req, &sv);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	fuse_reply_err(req, ENODATA);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, ENOTSUP);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	(void)name;
	fuse_reply_err(req, ENODATA);
}

/* Without default_permissions the kernel asks: the modes decide, as they would. */
static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fs_path p;
	struct stat st;

	if (!fs_target(req, ino, &p, NULL))
		return;
	fs_getattr_path(fs_of(req), ino, &p, &st);
	if ((mask & W_OK) && !(st.st_mode & S_IWUSR) && !S_ISLNK(st.st_mode))
		fuse_reply_err(req, EACCES);
	else if ((mask & X_OK) && !(st.st_mode & S_IXUSR))
		fuse_reply_err(req, EACCES);
	else
		fuse_reply_err(req, 0);
}

/* ---- life cycle ---------------------------------------------------------------------------------------- */

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mkdir = fs_op_mkdir,
	.rmdir = fs_op_rmdir,
	.unlink = fs_op_unlink,
	.symlink = fs_op_symlink,
	.rename = fs_op_rename,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsync,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.access = op_access,
	.create = fs_op_create,
	.poll = op_poll,
};

const struct fuse_lowlevel_ops *pfs_fs_ops(void)
{
	return &ops;
}

int pfs_fs_new(struct pfs_fs **out)
{
	struct pfs_fs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return -ENOMEM;
	pthread_mutex_init(&fs->handles_lock, NULL);
	pthread_mutex_init(&fs->nodes_lock, NULL);
	pthread_mutex_init(&fs->scratch_lock, NULL);
	pthread_mutex_init(&fs->streams_lock, NULL);
	pthread_mutex_init(&fs->qlock, NULL);
	pthread_cond_init(&fs->qcv, NULL);
	fs->uid = getuid();
	fs->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs->start);
	if (fs_nodes_init(fs) < 0) {
		pfs_fs_free(fs);
		return -ENOMEM;
	}
	*out = fs;
	return 0;
}

int pfs_fs_start(struct pfs_fs *fs, struct engine *e, struct fuse_session *se)
{
	fs->e = e;
	fs->se = se;
	return fs_notifier_start(fs);
}

void pfs_fs_close_streams(struct pfs_fs *fs)
{
	fs_streams_end_all(fs);
}

void pfs_fs_stop(struct pfs_fs *fs)
{
	if (fs)
		fs_notifier_stop(fs);
}

void pfs_fs_free(struct pfs_fs *fs)
{
	if (!fs)
		return;
	pfs_fs_stop(fs);
	fs_nodes_release(fs);
	/* opens the kernel never released (the session ended under them) */
	for (size_t i = 0; i < FS_NODE_BUCKETS; i++)
		while (fs->handles[i]) {
			struct fs_handle *h = fs->handles[i];

			fs->handles[i] = h->next;
			fs_handle_free(h);
		}
	fs_scratch_free_all(fs);
	free(fs->queue);
	pthread_cond_destroy(&fs->qcv);
	pthread_mutex_destroy(&fs->qlock);
	pthread_mutex_destroy(&fs->streams_lock);
	pthread_mutex_destroy(&fs->scratch_lock);
	pthread_mutex_destroy(&fs->nodes_lock);
	pthread_mutex_destroy(&fs->handles_lock);
	free(fs);
}
