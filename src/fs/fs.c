/* SPDX-License-Identifier: MIT */
/*
 * pantherfs on the libfuse3 low-level API.
 *
 * Inodes are paths: every node the kernel knows holds its path from the
 * root, and each operation resolves the path against the engine (tests,
 * runs, services) and the in-memory scratch files. Nodes live while the
 * kernel holds lookups on them (forget frees them).
 *
 * Generated files use direct_io (the kernel neither caches them nor cuts
 * reads at a stale size) and report their true size with a zero attribute
 * timeout, so `tail -f`, which polls size and mtime, follows events and
 * logs. Small files are copied once per open: one open, one snapshot.
 *
 * *.follow reads with nothing to return are parked (struct stream) and
 * answered later by the notifier thread, which the engine's notifications
 * wake; interrupts answer them with EINTR. Kernel notifications (poll) are
 * sent only from that thread, never from a FUSE callback.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "pantherfs/fs.h"
#include "pantherfs/log.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define SCRATCH_MAX (4u << 20)   /* bytes in one scratch file */
#define SCRATCH_FILES 64          /* scratch files in one test */
#define NODE_BUCKETS 4096

enum kind {
	K_NONE,
	K_ROOT,
	K_README,
	K_ENGINE,
	K_IMPLS,
	K_IMPL,
	K_IMPL_VERSIONS,
	K_IMPL_VERSION,
	K_TESTS,
	K_TEST,
	K_CONFIG,
	K_CTL,
	K_FILE,     /* a test's or a run's file: status, status.json, error, warnings, events, build.log, config.yaml (runs) */
	K_FOLLOW,   /* events.follow, logs.follow */
	K_SERVICES,
	K_SERVICE,
	K_SFILE,    /* a service's file */
	K_RUNS,
	K_RUN,
	K_SCRATCH,
};

struct target {
	enum kind kind;
	char test[72];
	int run;            /* 0: the current run */
	char svc[72];
	char name[256];     /* file name, or scratch name */
	const struct cat_impl *impl;
	const struct cat_version *ver;
};

struct node {
	fuse_ino_t ino;
	char *path;
	uint64_t nlookup;
	struct node *next_ino, *next_path;
};

struct scratch {
	char *test, *name;
	struct pfs_buf data;
	char *link;         /* a symlink (emacs' lock) */
	mode_t mode;
	struct timespec mtime;
	struct scratch *next;
};

struct hidden {
	char *test;
	struct hidden *next;
};

enum htype { H_SNAP, H_GROWING, H_CONFIG, H_CTL, H_STREAM, H_SCRATCH, H_DIR };

struct stream {
	struct pfs_fs *fs;
	char test[72], svc[72];
	int run;
	bool logs;
	int fd;
	fuse_req_t pending;
	size_t want;
	off_t off;
	fuse_req_t interrupted;   /* set by an interrupt that came before parking */
	struct fuse_pollhandle *ph;
	struct stream *prev, *next;
};

struct handle {
	enum htype type;
	struct target tg;
	char *data;           /* H_SNAP, H_DIR (packed dirents built on demand) */
	size_t len;
	int fd;               /* H_GROWING */
	struct pfs_buf buf;   /* H_CONFIG */
	bool dirty;
	bool too_big;         /* a write went past CONFIG_MAX_BYTES */
	struct stream *st;    /* H_STREAM */
	char **names;         /* H_DIR */
	mode_t *types;
	size_t n;
};

struct note {
	enum engine_change what;
	char test[72];
};

struct pfs_fs {
	struct engine *e;
	struct fuse_session *se;
	uid_t uid;
	gid_t gid;
	struct timespec start;

	pthread_mutex_t lock;           /* nodes, scratch, hidden, streams */
	struct node *by_ino[NODE_BUCKETS], *by_path[NODE_BUCKETS];
	fuse_ino_t next_ino;
	struct scratch *scratch;
	struct hidden *hidden;
	struct stream *streams;

	pthread_mutex_t qlock;          /* the notifier's queue */
	pthread_cond_t qcv;
	struct note *queue;
	size_t nq, qalloc;
	bool all_dirty;                 /* the queue overflowed: wake every stream */
	bool stopping;
	bool closing;                   /* fs->lock: streams end at once */
	pthread_t notifier;
	bool notifier_running;
};

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
	"  echo stop > tests/t1/ctl              start | stop | restart | rebuild | kill\n"
	"  ls tests/t1/runs/                     every earlier run, frozen\n"
	"  rmdir tests/t1                        remove it (stop it first)\n"
	"\n"
	"  cat engine                            the Docker engine pantherfs reaches\n"
	"  ls implementations/mvfst/             what can run: versions and their configs\n";

static const char *const test_files[] = { "status", "status.json", "error", "warnings", "events", "build.log", NULL };
static const char *const run_files[] = { "config.yaml", "status", "status.json", "events", "build.log", NULL };
static const char *const svc_files[] = { "command", "status", "logs", "address", "container", "image", NULL };

static bool in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static struct pfs_fs *FS(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- nodes (fs->lock held) ------------------------------------------------------------------ */

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h % NODE_BUCKETS;
}

static struct node *node_by_ino(struct pfs_fs *fs, fuse_ino_t ino)
{
	struct node *n = fs->by_ino[ino % NODE_BUCKETS];

	while (n && n->ino != ino)
		n = n->next_ino;
	return n;
}

static struct node *node_by_path(struct pfs_fs *fs, const char *path)
{
	struct node *n = fs->by_path[hash_str(path)];

	while (n && strcmp(n->path, path))
		n = n->next_path;
	return n;
}

static struct node *node_add(struct pfs_fs *fs, const char *path, fuse_ino_t ino)
{
	struct node *n = calloc(1, sizeof(*n));
	size_t hp;

	if (!n || !(n->path = strdup(path))) {
		free(n);
		return NULL;
	}
	n->ino = ino ? ino : fs->next_ino++;
	n->next_ino = fs->by_ino[n->ino % NODE_BUCKETS];
	fs->by_ino[n->ino % NODE_BUCKETS] = n;
	hp = hash_str(path);
	n->next_path = fs->by_path[hp];
	fs->by_path[hp] = n;
	return n;
}

static void node_del(struct pfs_fs *fs, struct node *n)
{
	struct node **p;

	for (p = &fs->by_ino[n->ino % NODE_BUCKETS]; *p && *p != n; p = &(*p)->next_ino)
		;
	if (*p)
		*p = n->next_ino;
	for (p = &fs->by_path[hash_str(n->path)]; *p && *p != n; p = &(*p)->next_path)
		;
	if (*p)
		*p = n->next_path;
	free(n->path);
	free(n);
}

/* The path of ino, copied (malloc'd), or NULL. */
static char *path_of(struct pfs_fs *fs, fuse_ino_t ino)
{
	struct node *n;
	char *p = NULL;

	pthread_mutex_lock(&fs->lock);
	n = node_by_ino(fs, ino);
	if (n)
		p = strdup(n->path);
	pthread_mutex_unlock(&fs->lock);
	return p;
}

/* ---- scratch files and hidden configs (fs->lock held) ----------------------------------------- */

static struct scratch *scratch_find(struct pfs_fs *fs, const char *test, const char *name)
{
	for (struct scratch *s = fs->scratch; s; s = s->next)
		if (!strcmp(s->test, test) && !strcmp(s->name, name))
			return s;
	return NULL;
}

/* NULL with errno ENOSPC past SCRATCH_FILES, ENOMEM on allocation failure. */
static struct scratch *scratch_new(struct pfs_fs *fs, const char *test, const char *name)
{
	struct scratch *s;
	size_t count = 0;

	for (s = fs->scratch; s; s = s->next)
		count += !strcmp(s->test, test);
	if (count >= SCRATCH_FILES) {
		errno = ENOSPC;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->test = strdup(test);
	s->name = strdup(name);
	pfs_buf_init(&s->data, SCRATCH_MAX);
	s->mode = 0644;
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	if (!s->test || !s->name) {
		free(s->test);
		free(s->name);
		free(s);
		return NULL;
	}
	s->next = fs->scratch;
	fs->scratch = s;
	return s;
}

static void scratch_del(struct pfs_fs *fs, struct scratch *s)
{
	struct scratch **p;

	for (p = &fs->scratch; *p && *p != s; p = &(*p)->next)
		;
	if (*p)
		*p = s->next;
	pfs_buf_free(&s->data);
	free(s->test);
	free(s->name);
	free(s->link);
	free(s);
}

static bool config_hidden(struct pfs_fs *fs, const char *test)
{
	for (struct hidden *h = fs->hidden; h; h = h->next)
		if (!strcmp(h->test, test))
			return true;
	return false;
}

static void set_hidden(struct pfs_fs *fs, const char *test, bool hide)
{
	struct hidden **p = &fs->hidden;

	for (; *p; p = &(*p)->next)
		if (!strcmp((*p)->test, test))
			break;
	if (hide && !*p) {
		struct hidden *h = calloc(1, sizeof(*h));

		if (h && (h->test = strdup(test))) {
			h->next = fs->hidden;
			fs->hidden = h;
		} else {
			free(h);
		}
	} else if (!hide && *p) {
		struct hidden *h = *p;

		*p = h->next;
		free(h->test);
		free(h);
	}
}

static void forget_test(struct pfs_fs *fs, const char *test)
{
	struct scratch *s = fs->scratch, *next;

	for (; s; s = next) {
		next = s->next;
		if (!strcmp(s->test, test))
			scratch_del(fs, s);
	}
	set_hidden(fs, test, false);
}

/* ---- resolving paths ------------------------------------------------------------------------------ */

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

	engine_strv_free(v);
	return found;
}

/* Resolves a path ("" is the root); false when nothing is there. */
static bool resolve(struct pfs_fs *fs, const char *path, struct target *t)
{
	char buf[PATH_MAX], *parts[8], *save = NULL;
	int n = 0;
	long run;

	memset(t, 0, sizeof(*t));
	if (!*path) {
		t->kind = K_ROOT;
		return true;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strtok_r(buf, "/", &save); p && n < 8; p = strtok_r(NULL, "/", &save))
		parts[n++] = p;
	if (n == 1) {
		if (!strcmp(parts[0], "README"))
			t->kind = K_README;
		else if (!strcmp(parts[0], "engine"))
			t->kind = K_ENGINE;
		else if (!strcmp(parts[0], "implementations"))
			t->kind = K_IMPLS;
		else if (!strcmp(parts[0], "tests"))
			t->kind = K_TESTS;
		return t->kind != K_NONE;
	}
	if (!strcmp(parts[0], "implementations")) {
		const struct catalog *cat = engine_catalog(fs->e);

		t->impl = catalog_impl_at(cat, 0);
		for (size_t i = 0; i < catalog_n_impls(cat); i++)
			if (!strcmp(cat_impl_name(catalog_impl_at(cat, i)), parts[1]))
				t->impl = catalog_impl_at(cat, i);
		if (!t->impl || strcmp(cat_impl_name(t->impl), parts[1]))
			return false;
		if (n == 2) {
			t->kind = K_IMPL;
			return true;
		}
		if (n != 3)
			return false;
		if (!strcmp(parts[2], "versions")) {
			t->kind = K_IMPL_VERSIONS;
			return true;
		}
		size_t len = strlen(parts[2]);
		if (len > 5 && !strcmp(parts[2] + len - 5, ".yaml")) {
			parts[2][len - 5] = '\0';
			t->ver = cat_impl_find_version(t->impl, parts[2]);
			t->kind = t->ver ? K_IMPL_VERSION : K_NONE;
		}
		return t->kind != K_NONE;
	}
	if (strcmp(parts[0], "tests") || !pfs_name_valid(parts[1]) || !test_exists(fs, parts[1]))
		return false;
	snprintf(t->test, sizeof(t->test), "%s", parts[1]);
	if (n == 2) {
		t->kind = K_TEST;
		return true;
	}
	if (n == 3) {
		snprintf(t->name, sizeof(t->name), "%s", parts[2]);
		if (!strcmp(parts[2], "config.yaml")) {
			bool hidden, has_scratch;

			pthread_mutex_lock(&fs->lock);
			hidden = config_hidden(fs, t->test);
			has_scratch = scratch_find(fs, t->test, parts[2]) != NULL;
			pthread_mutex_unlock(&fs->lock);
			t->kind = hidden ? (has_scratch ? K_SCRATCH : K_NONE) : K_CONFIG;
		} else if (!strcmp(parts[2], "ctl")) {
			t->kind = K_CTL;
		} else if (in(parts[2], test_files)) {
			t->kind = K_FILE;
		} else if (!strcmp(parts[2], "events.follow")) {
			t->kind = K_FOLLOW;
		} else if (!strcmp(parts[2], "services")) {
			t->kind = K_SERVICES;
		} else if (!strcmp(parts[2], "runs")) {
			t->kind = K_RUNS;
		} else {
			pthread_mutex_lock(&fs->lock);
			t->kind = scratch_find(fs, t->test, parts[2]) ? K_SCRATCH : K_NONE;
			pthread_mutex_unlock(&fs->lock);
		}
		return t->kind != K_NONE;
	}
	if (!strcmp(parts[2], "runs")) {
		if (pfs_parse_long(parts[3], 1, INT_MAX, &run) < 0 || !run_exists(fs, t->test, (int)run))
			return false;
		t->run = (int)run;
		if (n == 4) {
			t->kind = K_RUN;
			return true;
		}
		if (n == 5 && in(parts[4], run_files)) {
			t->kind = K_FILE;
			snprintf(t->name, sizeof(t->name), "%s", parts[4]);
			return true;
		}
		if (strcmp(parts[4], "services"))
			return false;
		if (n == 5) {
			t->kind = K_SERVICES;
			return true;
		}
		/* runs/<n>/services/<s>[/file] */
		if (!svc_exists(fs, t->test, t->run, parts[5]))
			return false;
		snprintf(t->svc, sizeof(t->svc), "%s", parts[5]);
		if (n == 6) {
			t->kind = K_SERVICE;
			return true;
		}
		if (n == 7 && in(parts[6], svc_files)) {
			t->kind = K_SFILE;
			snprintf(t->name, sizeof(t->name), "%s", parts[6]);
			return true;
		}
		return false;
	}
	if (!strcmp(parts[2], "services")) {
		if (!svc_exists(fs, t->test, 0, parts[3]))
			return false;
		snprintf(t->svc, sizeof(t->svc), "%s", parts[3]);
		if (n == 4) {
			t->kind = K_SERVICE;
			return true;
		}
		if (n != 5)
			return false;
		snprintf(t->name, sizeof(t->name), "%s", parts[4]);
		if (in(parts[4], svc_files))
			t->kind = K_SFILE;
		else if (!strcmp(parts[4], "logs.follow"))
			t->kind = K_FOLLOW;
		return t->kind != K_NONE;
	}
	return false;
}

static bool is_dir(enum kind k)
{
	return k == K_ROOT || k == K_IMPLS || k == K_IMPL || k == K_TESTS || k == K_TEST || k == K_SERVICES ||
	       k == K_SERVICE || k == K_RUNS || k == K_RUN;
}

/* ---- contents ---------------------------------------------------------------------------------------- */

/* A small file's bytes (malloc'd), or a growing file's path and size. */
static int content(struct pfs_fs *fs, const struct target *t, struct engine_file *f)
{
	memset(f, 0, sizeof(*f));
	switch (t->kind) {
	case K_README:
		f->data = strdup(readme_text);
		f->len = strlen(readme_text);
		f->mtime = fs->start;
		return f->data ? 0 : -ENOMEM;
	case K_ENGINE:
		f->data = engine_line(fs->e);
		f->len = f->data ? strlen(f->data) : 0;
		clock_gettime(CLOCK_REALTIME, &f->mtime);
		return f->data ? 0 : -ENOMEM;
	case K_IMPL_VERSIONS: {
		struct pfs_buf b = PFS_BUF_INIT(1u << 16);

		for (size_t i = 0; i < cat_impl_n_versions(t->impl); i++)
			pfs_buf_printf(&b, "%s\n", cat_version_name(cat_impl_version_at(t->impl, i)));
		f->data = pfs_buf_steal(&b, &f->len);
		f->mtime = fs->start;
		return f->data ? 0 : -ENOMEM;
	}
	case K_IMPL_VERSION: {
		size_t len = 0;
		const char *txt = cat_version_text(t->ver, &len);

		f->data = malloc(len + 1);
		if (!f->data)
			return -ENOMEM;
		memcpy(f->data, txt, len);
		f->data[len] = '\0';
		f->len = len;
		f->mtime = fs->start;
		return 0;
	}
	case K_CONFIG:
		return engine_file_get(fs->e, t->test, 0, NULL, "config.yaml", f);
	case K_FILE:
		return engine_file_get(fs->e, t->test, t->run, NULL, t->name, f);
	case K_SFILE:
		return engine_file_get(fs->e, t->test, t->run, t->svc, t->name, f);
	case K_CTL:
		f->data = strdup("");
		f->len = 0;
		f->mtime = fs->start;
		return f->data ? 0 : -ENOMEM;
	default:
		return -EISDIR;
	}
}

static void fill_attr(struct pfs_fs *fs, fuse_ino_t ino, const struct target *t, struct stat *st)
{
	struct engine_file f;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_nlink = 1;
	st->st_blksize = 4096;
	st->st_mtim = st->st_ctim = st->st_atim = fs->start;
	if (is_dir(t->kind)) {
		/* the mount's time: stable, so that tar and rsync see nothing "changed as we read it" */
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return;
	}
	switch (t->kind) {
	case K_CONFIG:
		st->st_mode = S_IFREG | 0644;
		break;
	case K_CTL:
		st->st_mode = S_IFREG | 0644;
		break;
	case K_FOLLOW:
		st->st_mode = S_IFREG | 0444;
		clock_gettime(CLOCK_REALTIME, &st->st_mtim);
		return;
	case K_SCRATCH: {
		struct scratch *s;

		pthread_mutex_lock(&fs->lock);
		s = scratch_find(fs, t->test, t->name);
		if (s) {
			st->st_mode = (s->link ? S_IFLNK | 0777 : S_IFREG | (s->mode & 07777));
			st->st_size = s->link ? (off_t)strlen(s->link) : (off_t)s->data.len;
			st->st_mtim = st->st_ctim = s->mtime;
		}
		pthread_mutex_unlock(&fs->lock);
		return;
	}
	default:
		st->st_mode = S_IFREG | 0444;
	}
	if (content(fs, t, &f) == 0) {
		st->st_size = (off_t)f.len;
		st->st_mtim = st->st_ctim = f.mtime;
		engine_file_release(&f);
	}
	st->st_blocks = (st->st_size + 511) / 512;
}

/* ---- lookups ------------------------------------------------------------------------------------------ */

static char *child_path(const char *parent, const char *name)
{
	return *parent ? pfs_strdup_printf("%s/%s", parent, name) : strdup(name);
}

static int make_entry(struct pfs_fs *fs, const char *path, const struct target *t, struct fuse_entry_param *e)
{
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	n = node_by_path(fs, path);
	if (!n)
		n = node_add(fs, path, 0);
	if (n)
		n->nlookup++;
	pthread_mutex_unlock(&fs->lock);
	if (!n)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->ino = n->ino;
	e->generation = 1;
	fill_attr(fs, n->ino, t, &e->attr);
	/* names come and go only through us (or with runs): a second is safe */
	e->entry_timeout = t->kind == K_SCRATCH || t->kind == K_CONFIG ? 0 : 1.0;
	e->attr_timeout = 0;
	return 0;
}

static void op_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs_fs *fs = FS(req);
	struct fuse_entry_param e;
	struct target t;
	char *pp = path_of(fs, parent), *cp;
	int r;

	if (!pp) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	cp = child_path(pp, name);
	free(pp);
	if (!cp || !resolve(fs, cp, &t)) {
		free(cp);
		fuse_reply_err(req, ENOENT);
		return;
	}
	r = make_entry(fs, cp, &t, &e);
	free(cp);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

static void forget_one(struct pfs_fs *fs, fuse_ino_t ino, uint64_t n)
{
	struct node *nd;

	pthread_mutex_lock(&fs->lock);
	nd = node_by_ino(fs, ino);
	if (nd && ino != FUSE_ROOT_ID) {
		nd->nlookup = nd->nlookup > n ? nd->nlookup - n : 0;
		if (!nd->nlookup)
			node_del(fs, nd);
	}
	pthread_mutex_unlock(&fs->lock);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	forget_one(FS(req), ino, n);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *fd)
{
	for (size_t i = 0; i < count; i++)
		forget_one(FS(req), fd[i].ino, fd[i].nlookup);
	fuse_reply_none(req);
}

/* Resolves an inode; replies ENOENT and returns false when it is gone. */
static bool target_of(fuse_req_t req, fuse_ino_t ino, struct target *t, char **path_out)
{
	struct pfs_fs *fs = FS(req);
	char *p = path_of(fs, ino);

	if (!p || !resolve(fs, p, t)) {
		free(p);
		fuse_reply_err(req, ENOENT);
		return false;
	}
	if (path_out)
		*path_out = p;
	else
		free(p);
	return true;
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = FS(req);
	struct handle *h = fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
	struct target t;
	struct stat st;

	if (!target_of(req, ino, &t, NULL))
		return;
	fill_attr(fs, ino, &t, &st);
	/* an open config being written shows what it holds */
	if (h && h->type == H_CONFIG)
		st.st_size = (off_t)h->buf.len;
	fuse_reply_attr(req, &st, 0);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct pfs_fs *fs = FS(req);
	struct target t;
	struct scratch *s;
	char *link = NULL;

	if (!target_of(req, ino, &t, NULL))
		return;
	pthread_mutex_lock(&fs->lock);
	s = t.kind == K_SCRATCH ? scratch_find(fs, t.test, t.name) : NULL;
	if (s && s->link)
		link = strdup(s->link);
	pthread_mutex_unlock(&fs->lock);
	if (!link) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_readlink(req, link);
	free(link);
}

/* ---- directories --------------------------------------------------------------------------------------- */

static void add_name(struct handle *h, const char *name, mode_t type)
{
	char **nv = realloc(h->names, (h->n + 1) * sizeof(*nv));
	mode_t *tv = realloc(h->types, (h->n + 1) * sizeof(*tv));

	if (nv)
		h->names = nv;
	if (tv)
		h->types = tv;
	if (!nv || !tv || !(h->names[h->n] = strdup(name)))
		return;
	h->types[h->n++] = type;
}

static void list_dir(struct pfs_fs *fs, const struct target *t, struct handle *h)
{
	char **v;

	add_name(h, ".", S_IFDIR);
	add_name(h, "..", S_IFDIR);
	switch (t->kind) {
	case K_ROOT:
		add_name(h, "README", S_IFREG);
		add_name(h, "engine", S_IFREG);
		add_name(h, "implementations", S_IFDIR);
		add_name(h, "tests", S_IFDIR);
		break;
	case K_IMPLS: {
		const struct catalog *cat = engine_catalog(fs->e);

		for (size_t i = 0; i < catalog_n_impls(cat); i++)
			add_name(h, cat_impl_name(catalog_impl_at(cat, i)), S_IFDIR);
		break;
	}
	case K_IMPL:
		add_name(h, "versions", S_IFREG);
		for (size_t i = 0; i < cat_impl_n_versions(t->impl); i++) {
			char name[128];

			snprintf(name, sizeof(name), "%s.yaml", cat_version_name(cat_impl_version_at(t->impl, i)));
			add_name(h, name, S_IFREG);
		}
		break;
	case K_TESTS:
		v = engine_test_names(fs->e);
		for (size_t i = 0; v && v[i]; i++)
			add_name(h, v[i], S_IFDIR);
		engine_strv_free(v);
		break;
	case K_TEST:
		pthread_mutex_lock(&fs->lock);
		if (!config_hidden(fs, t->test))
			add_name(h, "config.yaml", S_IFREG);
		pthread_mutex_unlock(&fs->lock);
		add_name(h, "ctl", S_IFREG);
		for (size_t i = 0; test_files[i]; i++)
			add_name(h, test_files[i], S_IFREG);
		add_name(h, "events.follow", S_IFREG);
		add_name(h, "services", S_IFDIR);
		add_name(h, "runs", S_IFDIR);
		pthread_mutex_lock(&fs->lock);
		for (struct scratch *s = fs->scratch; s; s = s->next)
			if (!strcmp(s->test, t->test))
				add_name(h, s->name, s->link ? S_IFLNK : S_IFREG);
		pthread_mutex_unlock(&fs->lock);
		break;
	case K_SERVICES:
		v = engine_service_names(fs->e, t->test, t->run);
		for (size_t i = 0; v && v[i]; i++)
			add_name(h, v[i], S_IFDIR);
		engine_strv_free(v);
		break;
	case K_SERVICE:
		for (size_t i = 0; svc_files[i]; i++)
			add_name(h, svc_files[i], S_IFREG);
		if (!t->run)
			add_name(h, "logs.follow", S_IFREG);
		break;
	case K_RUNS: {
		size_t n;
		int *runs = engine_run_numbers(fs->e, t->test, &n);

		for (size_t i = 0; runs && i < n; i++) {
			char num[16];

			snprintf(num, sizeof(num), "%d", runs[i]);
			add_name(h, num, S_IFDIR);
		}
		free(runs);
		break;
	}
	case K_RUN:
		for (size_t i = 0; run_files[i]; i++)
			add_name(h, run_files[i], S_IFREG);
		add_name(h, "services", S_IFDIR);
		break;
	default:
		break;
	}
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h;
	struct target t;

	if (!target_of(req, ino, &t, NULL))
		return;
	if (!is_dir(t.kind)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->type = H_DIR;
	h->tg = t;
	list_dir(FS(req), &t, h);
	fi->fh = (uintptr_t)h;
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
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
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void free_handle(struct handle *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		free(h->names[i]);
	free(h->names);
	free(h->types);
	free(h->data);
	if (h->fd >= 0 && (h->type == H_GROWING))
		close(h->fd);
	pfs_buf_free(&h->buf);
	free(h);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	free_handle((struct handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct pfs_fs *fs = FS(req);
	struct fuse_entry_param e;
	struct pfs_err err = { 0 };
	struct target t;
	char *pp, *cp;
	int r;

	(void)mode;
	if (!target_of(req, parent, &t, &pp))
		return;
	if (t.kind != K_TESTS) {
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
	pthread_mutex_lock(&fs->lock);
	forget_test(fs, name); /* a test of that name removed earlier left nothing */
	pthread_mutex_unlock(&fs->lock);
	cp = child_path(pp, name);
	free(pp);
	if (!cp || !resolve(fs, cp, &t) || make_entry(fs, cp, &t, &e) < 0) {
		free(cp);
		fuse_reply_err(req, EIO);
		return;
	}
	free(cp);
	fuse_reply_entry(req, &e);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs_fs *fs = FS(req);
	struct pfs_err err = { 0 };
	struct target t;
	int r;

	if (!target_of(req, parent, &t, NULL))
		return;
	if (t.kind != K_TESTS) {
		fuse_reply_err(req, t.kind == K_TEST || t.kind == K_RUNS || t.kind == K_SERVICES ? EACCES : ENOTDIR);
		return;
	}
	r = engine_test_remove(fs->e, name, &err);
	if (r == 0) {
		pthread_mutex_lock(&fs->lock);
		forget_test(fs, name);
		pthread_mutex_unlock(&fs->lock);
	}
	fuse_reply_err(req, -r);
}

/* ---- streams ----------------------------------------------------------------------------------------- */

/* The stream's file now: path, published size, and whether more can come. */
static int stream_state(struct pfs_fs *fs, struct stream *st, off_t *size, bool *more)
{
	struct engine_file f;
	int r;

	r = engine_file_get(fs->e, st->test, st->logs ? st->run : 0, st->logs ? st->svc : NULL,
			    st->logs ? "logs" : "events", &f);
	if (r < 0)
		return r;
	*size = (off_t)f.len;
	if (st->fd < 0 && f.path)
		st->fd = open(f.path, O_RDONLY | O_CLOEXEC);
	engine_file_release(&f);
	*more = engine_run_live(fs->e, st->test, st->logs ? st->run : 0);
	return 0;
}

/* Answers the parked read if it can (fs->lock held). */
static void stream_try(struct pfs_fs *fs, struct stream *st, bool closing)
{
	off_t size = 0;
	bool more = false;
	fuse_req_t req = st->pending;

	if (!req)
		return;
	if (stream_state(fs, st, &size, &more) < 0)
		more = false;
	if (st->off < size) {
		size_t n = (size_t)(size - st->off) < st->want ? (size_t)(size - st->off) : st->want;
		char *buf = malloc(n ? n : 1);
		ssize_t got = buf && st->fd >= 0 ? pread(st->fd, buf, n, st->off) : -1;

		st->pending = NULL;
		if (got < 0) {
			fuse_reply_err(req, EIO);
		} else {
			st->off += got; /* where the reader is: what poll compares with */
			fuse_reply_buf(req, buf, (size_t)got);
		}
		free(buf);
	} else if (!more || closing) {
		st->pending = NULL;
		fuse_reply_buf(req, NULL, 0); /* the run is over: end of stream */
	}
}

static void stream_interrupted(fuse_req_t req, void *data)
{
	struct stream *st = data;
	struct pfs_fs *fs = st->fs;

	pthread_mutex_lock(&fs->lock);
	if (st->pending == req) {
		st->pending = NULL;
		fuse_reply_err(req, EINTR);
	} else {
		st->interrupted = req; /* before it was parked: the read answers */
	}
	pthread_mutex_unlock(&fs->lock);
}

static void stream_read(fuse_req_t req, struct pfs_fs *fs, struct stream *st, size_t size, off_t off, bool nonblock)
{
	off_t have = 0;
	bool more = false;

	pthread_mutex_lock(&fs->lock);
	if (st->pending) {
		pthread_mutex_unlock(&fs->lock);
		fuse_reply_err(req, EBUSY); /* one reader at a time per open */
		return;
	}
	stream_state(fs, st, &have, &more);
	more &= !fs->closing;
	if (off < have || !more || nonblock) {
		pthread_mutex_unlock(&fs->lock);
		if (off < have) {
			size_t n = (size_t)(have - off) < size ? (size_t)(have - off) : size;
			char *buf = malloc(n);
			ssize_t got = buf && st->fd >= 0 ? pread(st->fd, buf, n, off) : -1;

			if (got < 0) {
				fuse_reply_err(req, EIO);
			} else {
				pthread_mutex_lock(&fs->lock);
				st->off = off + got;
				pthread_mutex_unlock(&fs->lock);
				fuse_reply_buf(req, buf, (size_t)got);
			}
			free(buf);
		} else if (!more) {
			fuse_reply_buf(req, NULL, 0);
		} else {
			fuse_reply_err(req, EAGAIN);
		}
		return;
	}
	pthread_mutex_unlock(&fs->lock);
	/* registered before the request is visible to the notifier (see stream_interrupted) */
	fuse_req_interrupt_func(req, stream_interrupted, st);
	pthread_mutex_lock(&fs->lock);
	if (st->interrupted == req) {
		st->interrupted = NULL;
		pthread_mutex_unlock(&fs->lock);
		fuse_reply_err(req, EINTR);
		return;
	}
	st->pending = req;
	st->want = size;
	st->off = off;
	/* data may have come between the check and now */
	stream_try(fs, st, false);
	pthread_mutex_unlock(&fs->lock);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct pfs_fs *fs = FS(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	unsigned revents = POLLIN | POLLRDNORM;
	off_t have = 0;
	bool more = false;

	(void)ino;
	if (!h || h->type != H_STREAM) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, h && h->type == H_CONFIG ? POLLIN | POLLOUT : POLLIN | POLLRDNORM);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	stream_state(fs, h->st, &have, &more);
	/* readable when there is data past what the reader has, or the end */
	if (h->st->off >= have && more) {
		revents = 0;
		if (ph) {
			if (h->st->ph)
				fuse_pollhandle_destroy(h->st->ph);
			h->st->ph = ph;
			ph = NULL;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, revents);
}

/* ---- opening, reading, writing ----------------------------------------------------------------------- */

static struct handle *handle_new(enum htype type, const struct target *t)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->type = type;
	h->tg = *t;
	h->fd = -1;
	pfs_buf_init(&h->buf, CONFIG_MAX_BYTES + 1);
	return h;
}

static bool writable(enum kind k)
{
	return k == K_CONFIG || k == K_CTL || k == K_SCRATCH;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = FS(req);
	int acc = fi->flags & O_ACCMODE;
	struct engine_file f;
	struct handle *h;
	struct target t;
	int r;

	if (!target_of(req, ino, &t, NULL))
		return;
	if (is_dir(t.kind)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (acc != O_RDONLY && !writable(t.kind)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (t.kind == K_FOLLOW) {
		struct stream *st = calloc(1, sizeof(*st));

		h = handle_new(H_STREAM, &t);
		if (!st || !h) {
			free(st);
			free_handle(h);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		st->fs = fs;
		st->fd = -1;
		st->logs = t.svc[0] != '\0';
		snprintf(st->test, sizeof(st->test), "%s", t.test);
		snprintf(st->svc, sizeof(st->svc), "%s", t.svc);
		if (st->logs) {
			/* the service of the run current now, to its end */
			size_t n;
			int *runs = engine_run_numbers(fs->e, t.test, &n);

			st->run = runs && n ? runs[n - 1] : 0;
			free(runs);
		}
		h->st = st;
		pthread_mutex_lock(&fs->lock);
		st->next = fs->streams;
		if (fs->streams)
			fs->streams->prev = st;
		fs->streams = st;
		pthread_mutex_unlock(&fs->lock);
		fi->direct_io = 1;
		fi->nonseekable = 1;
		fi->fh = (uintptr_t)h;
		fuse_reply_open(req, fi);
		return;
	}
	if (t.kind == K_CTL) {
		h = handle_new(H_CTL, &t);
	} else if (t.kind == K_SCRATCH) {
		h = handle_new(H_SCRATCH, &t);
		if (h && (fi->flags & O_TRUNC)) {
			struct scratch *s;

			pthread_mutex_lock(&fs->lock);
			s = scratch_find(fs, t.test, t.name);
			if (s) {
				pfs_buf_reset(&s->data);
				clock_gettime(CLOCK_REALTIME, &s->mtime);
			}
			pthread_mutex_unlock(&fs->lock);
		}
	} else if (t.kind == K_CONFIG && acc != O_RDONLY) {
		h = handle_new(H_CONFIG, &t);
		if (h && !(fi->flags & O_TRUNC) && content(fs, &t, &f) == 0) {
			/* writing in place: start from what is there */
			pfs_buf_add(&h->buf, f.data, f.len);
			engine_file_release(&f);
		}
		/*
		 * O_TRUNC alone is not a config: `echo x > config.yaml` opens with
		 * O_TRUNC, dup2()s and closes the first descriptor (a flush) before
		 * writing anything. Only writes make it pending.
		 */
	} else {
		r = content(fs, &t, &f);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		h = handle_new(f.growing ? H_GROWING : H_SNAP, &t);
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
	fi->fh = (uintptr_t)h;
	fuse_reply_open(req, fi);
}

static void reply_slice(fuse_req_t req, const char *data, size_t len, size_t size, off_t off)
{
	if (off < 0 || (size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off, len - (size_t)off < size ? len - (size_t)off : size);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = FS(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

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
	case H_GROWING: {
		struct engine_file f;
		size_t len = 0;
		char *buf;
		ssize_t got;

		/* what the engine published by now, not what the file may already hold */
		if (content(fs, &h->tg, &f) == 0) {
			len = f.len;
			engine_file_release(&f);
		}
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
		return;
	}
	case H_SCRATCH: {
		struct scratch *s;
		char *copy = NULL;
		size_t len = 0;

		pthread_mutex_lock(&fs->lock);
		s = scratch_find(fs, h->tg.test, h->tg.name);
		if (s && off >= 0 && (size_t)off < s->data.len) {
			len = s->data.len - (size_t)off < size ? s->data.len - (size_t)off : size;
			copy = malloc(len);
			if (copy)
				memcpy(copy, s->data.ptr + off, len);
		}
		pthread_mutex_unlock(&fs->lock);
		fuse_reply_buf(req, copy, copy ? len : 0);
		free(copy);
		return;
	}
	case H_STREAM:
		stream_read(req, fs, h->st, size, off, fi->flags & O_NONBLOCK);
		return;
	case H_DIR:
		fuse_reply_err(req, EISDIR);
		return;
	}
}

/* Writes data at off into a capped buffer, zero-filling a gap. */
static int buf_pwrite(struct pfs_buf *b, const char *data, size_t size, off_t off)
{
	size_t end;

	if (off < 0)
		return -EINVAL;
	end = (size_t)off + size;
	if (end > b->cap)
		return -EFBIG;
	while (b->len < (size_t)off)
		if (pfs_buf_addc(b, '\0') < 0)
			return -ENOMEM;
	if (end > b->len) {
		size_t overlap = b->len - (size_t)off;

		memcpy(b->ptr + off, data, overlap);
		return pfs_buf_add(b, data + overlap, size - overlap);
	}
	memcpy(b->ptr + off, data, size);
	return 0;
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct pfs_fs *fs = FS(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int r = 0;

	(void)ino;
	switch (h->type) {
	case H_CONFIG:
		r = buf_pwrite(&h->buf, buf, size, off);
		if (r == -EFBIG) {
			/* the flush refuses it whole: never a cut config */
			pfs_buf_free(&h->buf);
			h->dirty = true;
			h->too_big = true;
		} else if (r == 0) {
			h->dirty = true;
		}
		break;
	case H_CTL: {
		struct pfs_err err = { 0 };
		char verb[32];
		size_t n = size;

		while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
			n--;
		if (!n || n >= sizeof(verb) || memchr(buf, '\n', n)) {
			r = -EINVAL;
			break;
		}
		memcpy(verb, buf, n);
		verb[n] = '\0';
		r = engine_test_ctl(fs->e, h->tg.test, verb, &err);
		if (r == -ENOEXEC)
			r = -ENODATA; /* "start" before any config */
		break;
	}
	case H_SCRATCH: {
		struct scratch *s;

		pthread_mutex_lock(&fs->lock);
		s = scratch_find(fs, h->tg.test, h->tg.name);
		r = s ? buf_pwrite(&s->data, buf, size, off) : -ENOENT;
		if (s)
			clock_gettime(CLOCK_REALTIME, &s->mtime);
		pthread_mutex_unlock(&fs->lock);
		break;
	}
	default:
		r = -EACCES;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, size);
}

/* Applies a config; the errno close() (or rename) returns. */
static int apply_config(struct pfs_fs *fs, const char *test, const char *data, size_t len)
{
	struct cfg_report rep;
	int r;

	if (len > CONFIG_MAX_BYTES) {
		/* the engine records why, as for any refusal */
		r = engine_test_apply_config(fs->e, test, data, len, &rep);
		cfg_report_free(&rep);
		return -EFBIG;
	}
	r = engine_test_apply_config(fs->e, test, data, len, &rep);
	cfg_report_free(&rep);
	return r;
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = FS(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int r = 0;

	(void)ino;
	if (h->type == H_CONFIG && h->dirty) {
		h->dirty = false;
		if (h->too_big) {
			char *big = calloc(1, CONFIG_MAX_BYTES + 1);

			r = big ? apply_config(fs, h->tg.test, big, CONFIG_MAX_BYTES + 1) : -EFBIG;
			free(big);
		} else {
			r = apply_config(fs, h->tg.test, pfs_buf_str(&h->buf), h->buf.len);
		}
		pthread_mutex_lock(&fs->lock);
		set_hidden(fs, h->tg.test, false);
		pthread_mutex_unlock(&fs->lock);
	}
	fuse_reply_err(req, r < 0 ? -r : 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = FS(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)ino;
	if (h->type == H_STREAM) {
		struct stream *st = h->st;

		pthread_mutex_lock(&fs->lock);
		if (st->pending) {
			fuse_reply_err(st->pending, EINTR);
			st->pending = NULL;
		}
		if (st->prev)
			st->prev->next = st->next;
		else
			fs->streams = st->next;
		if (st->next)
			st->next->prev = st->prev;
		pthread_mutex_unlock(&fs->lock);
		if (st->ph)
			fuse_pollhandle_destroy(st->ph);
		if (st->fd >= 0)
			close(st->fd);
		free(st);
	}
	free_handle(h);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

/* ---- what editors do: create, unlink, rename, symlink, setattr ---------------------------------------- */

static const char *const reserved[] = { "config.yaml", "ctl", "status", "status.json", "error", "warnings", "events",
					"build.log", "events.follow", "services", "runs", NULL };

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = FS(req);
	struct fuse_entry_param e;
	struct handle *h;
	struct target t;
	char *pp, *cp;
	bool exists;

	if (!target_of(req, parent, &t, &pp))
		return;
	if (t.kind != K_TEST || strchr(name, '/') || strlen(name) > 255) {
		free(pp);
		fuse_reply_err(req, EACCES);
		return;
	}
	cp = child_path(pp, name);
	free(pp);
	if (!strcmp(name, "config.yaml")) {
		pthread_mutex_lock(&fs->lock);
		exists = !config_hidden(fs, t.test);
		set_hidden(fs, t.test, false);
		pthread_mutex_unlock(&fs->lock);
		if (exists && (fi->flags & O_EXCL)) {
			free(cp);
			fuse_reply_err(req, EEXIST);
			return;
		}
		h = handle_new(H_CONFIG, &t); /* pending once written to (see op_open) */
	} else if (in(name, reserved)) {
		free(cp);
		fuse_reply_err(req, EEXIST);
		return;
	} else {
		struct scratch *s;

		pthread_mutex_lock(&fs->lock);
		s = scratch_find(fs, t.test, name);
		if (s && (fi->flags & O_EXCL)) {
			pthread_mutex_unlock(&fs->lock);
			free(cp);
			fuse_reply_err(req, EEXIST);
			return;
		}
		if (!s)
			s = scratch_new(fs, t.test, name);
		if (s) {
			s->mode = mode & 07777;
			pfs_buf_reset(&s->data);
		} else if (errno == ENOSPC) {
			pthread_mutex_unlock(&fs->lock);
			free(cp);
			fuse_reply_err(req, ENOSPC);
			return;
		}
		pthread_mutex_unlock(&fs->lock);
		h = s ? handle_new(H_SCRATCH, &t) : NULL;
		if (h)
			snprintf(h->tg.name, sizeof(h->tg.name), "%s", name);
		if (h)
			h->tg.kind = K_SCRATCH;
	}
	if (!h || !cp || !resolve(fs, cp, &t) || make_entry(fs, cp, &t, &e) < 0) {
		free(cp);
		free_handle(h);
		fuse_reply_err(req, h ? EIO : ENOMEM);
		return;
	}
	free(cp);
	h->tg.kind = t.kind;
	fi->direct_io = 1;
	fi->fh = (uintptr_t)h;
	fuse_reply_create(req, &e, fi);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs_fs *fs = FS(req);
	struct target t;
	struct scratch *s;
	int r = 0;

	if (!target_of(req, parent, &t, NULL))
		return;
	if (t.kind != K_TEST) {
		fuse_reply_err(req, EACCES);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	s = scratch_find(fs, t.test, name);
	if (s && !(strcmp(name, "config.yaml") == 0 && !config_hidden(fs, t.test)))
		scratch_del(fs, s);
	else if (!strcmp(name, "config.yaml") && !config_hidden(fs, t.test))
		set_hidden(fs, t.test, true); /* hidden, not forgotten: the engine keeps the test's config */
	else
		r = in(name, reserved) ? -EACCES : -ENOENT;
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, -r);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct pfs_fs *fs = FS(req);
	struct target t, t2;
	struct scratch *s, *d;
	int r = 0;

	if (!target_of(req, parent, &t, NULL) || !target_of(req, newparent, &t2, NULL))
		return;
	if (t.kind != K_TEST || t2.kind != K_TEST || strcmp(t.test, t2.test)) {
		fuse_reply_err(req, t.kind == K_TEST && t2.kind == K_TEST ? EXDEV : EACCES);
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
		/* sed -i, install, Ansible: a temporary file renamed over the config */
		char *data = NULL;
		size_t len = 0;

		pthread_mutex_lock(&fs->lock);
		s = scratch_find(fs, t.test, name);
		if (s && !s->link) {
			len = s->data.len;
			data = malloc(len + 1);
			if (data)
				memcpy(data, pfs_buf_str(&s->data), len + 1);
		}
		pthread_mutex_unlock(&fs->lock);
		if (!s || s->link) {
			fuse_reply_err(req, s ? EINVAL : (in(name, reserved) ? EACCES : ENOENT));
			free(data);
			return;
		}
		if (!data) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		r = apply_config(fs, t.test, data, len);
		free(data);
		if (r == 0) {
			pthread_mutex_lock(&fs->lock);
			s = scratch_find(fs, t.test, name);
			if (s)
				scratch_del(fs, s);
			d = scratch_find(fs, t.test, "config.yaml");
			if (d)
				scratch_del(fs, d);
			set_hidden(fs, t.test, false);
			pthread_mutex_unlock(&fs->lock);
		}
		fuse_reply_err(req, -r);
		return;
	}
	if (in(newname, reserved) || (in(name, reserved) && strcmp(name, "config.yaml"))) {
		fuse_reply_err(req, EACCES);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	if (!strcmp(name, "config.yaml") && !config_hidden(fs, t.test)) {
		/* vim and emacs: the config becomes the backup, a new one follows */
		struct engine_file f;

		d = scratch_find(fs, t.test, newname);
		if (!d)
			d = scratch_new(fs, t.test, newname);
		if (!d) {
			r = -ENOMEM;
		} else {
			pfs_buf_reset(&d->data);
			free(d->link);
			d->link = NULL;
			if (engine_file_get(fs->e, t.test, 0, NULL, "config.yaml", &f) == 0) {
				pfs_buf_add(&d->data, f.data, f.len);
				engine_file_release(&f);
			}
			clock_gettime(CLOCK_REALTIME, &d->mtime);
			set_hidden(fs, t.test, true);
		}
	} else if ((s = scratch_find(fs, t.test, name))) {
		if ((flags & RENAME_NOREPLACE) && scratch_find(fs, t.test, newname)) {
			r = -EEXIST;
		} else {
			d = scratch_find(fs, t.test, newname);
			if (d)
				scratch_del(fs, d);
			free(s->name);
			s->name = strdup(newname);
			if (!s->name) {
				scratch_del(fs, s);
				r = -ENOMEM;
			}
		}
	} else {
		r = -ENOENT;
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, -r);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct pfs_fs *fs = FS(req);
	struct fuse_entry_param e;
	struct target t;
	struct scratch *s;
	char *pp, *cp;

	if (!target_of(req, parent, &t, &pp))
		return;
	if (t.kind != K_TEST || in(name, reserved)) {
		free(pp);
		fuse_reply_err(req, t.kind == K_TEST ? EEXIST : EACCES);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	s = scratch_find(fs, t.test, name);
	if (!s)
		s = scratch_new(fs, t.test, name);
	else
		s = NULL; /* exists */
	if (s) {
		s->link = strdup(link);
		if (!s->link) {
			scratch_del(fs, s);
			s = NULL;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	cp = child_path(pp, name);
	free(pp);
	if (!s || !cp || !resolve(fs, cp, &t) || make_entry(fs, cp, &t, &e) < 0) {
		free(cp);
		fuse_reply_err(req, s ? EIO : EEXIST);
		return;
	}
	free(cp);
	fuse_reply_entry(req, &e);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = FS(req);
	struct handle *h = fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
	struct target t;
	struct stat st;

	if (!target_of(req, ino, &t, NULL))
		return;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (h && h->type == H_CONFIG) {
			if ((size_t)attr->st_size > CONFIG_MAX_BYTES) {
				fuse_reply_err(req, EFBIG);
				return;
			}
			if ((size_t)attr->st_size < h->buf.len)
				pfs_buf_truncate(&h->buf, (size_t)attr->st_size);
			else
				buf_pwrite(&h->buf, "", 0, attr->st_size);
			h->dirty = true;
		} else if (t.kind == K_SCRATCH) {
			struct scratch *s;

			pthread_mutex_lock(&fs->lock);
			s = scratch_find(fs, t.test, t.name);
			if (s && (size_t)attr->st_size < s->data.len)
				pfs_buf_truncate(&s->data, (size_t)attr->st_size);
			pthread_mutex_unlock(&fs->lock);
		} else if (t.kind != K_CONFIG) {
			/* truncate(path) of config.yaml: nothing to apply until something is written */
			fuse_reply_err(req, EACCES);
			return;
		}
	}
	if ((to_set & FUSE_SET_ATTR_MODE) && t.kind == K_SCRATCH) {
		struct scratch *s;

		pthread_mutex_lock(&fs->lock);
		s = scratch_find(fs, t.test, t.name);
		if (s)
			s->mode = attr->st_mode & 07777;
		pthread_mutex_unlock(&fs->lock);
	}
	/* owners and times: accepted (editors set them), not kept */
	fill_attr(fs, ino, &t, &st);
	if (h && h->type == H_CONFIG)
		st.st_size = (off_t)h->buf.len;
	fuse_reply_attr(req, &st, 0);
}

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

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct target t;

	if (!target_of(req, ino, &t, NULL))
		return;
	if ((mask & W_OK) && !is_dir(t.kind) && !writable(t.kind))
		fuse_reply_err(req, EACCES);
	else if ((mask & W_OK) && is_dir(t.kind) && t.kind != K_TESTS && t.kind != K_TEST)
		fuse_reply_err(req, EACCES);
	else
		fuse_reply_err(req, 0);
}

/* ---- the notifier ------------------------------------------------------------------------------------ */

void pfs_fs_notify(void *ud, enum engine_change what, const char *test, int run, const char *service)
{
	struct pfs_fs *fs = ud;

	(void)run;
	(void)service;
	if (what != ENGINE_EVENTS && what != ENGINE_LOGS && what != ENGINE_RUNS && what != ENGINE_STATUS)
		return;
	pthread_mutex_lock(&fs->qlock);
	if (fs->nq == fs->qalloc) {
		size_t na = fs->qalloc ? fs->qalloc * 2 : 64;
		struct note *nq = na <= 4096 ? realloc(fs->queue, na * sizeof(*nq)) : NULL;

		if (!nq) {
			fs->all_dirty = true; /* too much at once: wake everything, lose nothing */
			pthread_cond_signal(&fs->qcv);
			pthread_mutex_unlock(&fs->qlock);
			return;
		}
		fs->queue = nq;
		fs->qalloc = na;
	}
	fs->queue[fs->nq].what = what;
	snprintf(fs->queue[fs->nq].test, sizeof(fs->queue[fs->nq].test), "%s", test ? test : "");
	fs->nq++;
	pthread_cond_signal(&fs->qcv);
	pthread_mutex_unlock(&fs->qlock);
}

static void wake_streams(struct pfs_fs *fs, const char *test, bool closing)
{
	pthread_mutex_lock(&fs->lock);
	for (struct stream *st = fs->streams; st; st = st->next) {
		if (test && strcmp(st->test, test))
			continue;
		stream_try(fs, st, closing);
		if (st->ph) {
			off_t have = 0;
			bool more = false;

			stream_state(fs, st, &have, &more);
			if (st->off < have || !more || closing) {
				fuse_lowlevel_notify_poll(st->ph);
				fuse_pollhandle_destroy(st->ph);
				st->ph = NULL;
			}
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

static void *notifier_main(void *arg)
{
	struct pfs_fs *fs = arg;

	for (;;) {
		struct note *q;
		size_t n;
		bool all, stop;

		pthread_mutex_lock(&fs->qlock);
		while (!fs->nq && !fs->all_dirty && !fs->stopping)
			pthread_cond_wait(&fs->qcv, &fs->qlock);
		q = fs->queue;
		n = fs->nq;
		all = fs->all_dirty;
		stop = fs->stopping;
		fs->queue = NULL;
		fs->nq = fs->qalloc = 0;
		fs->all_dirty = false;
		pthread_mutex_unlock(&fs->qlock);
		if (stop) {
			free(q);
			wake_streams(fs, NULL, true);
			return NULL;
		}
		if (all) {
			wake_streams(fs, NULL, false);
		} else {
			/* one wake per test, however many notes it had */
			for (size_t i = 0; i < n; i++) {
				bool seen = false;

				for (size_t k = 0; k < i && !seen; k++)
					seen = !strcmp(q[k].test, q[i].test);
				if (!seen)
					wake_streams(fs, q[i].test[0] ? q[i].test : NULL, false);
			}
		}
		free(q);
	}
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
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.unlink = op_unlink,
	.symlink = op_symlink,
	.rename = op_rename,
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
	.create = op_create,
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
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->qlock, NULL);
	pthread_cond_init(&fs->qcv, NULL);
	fs->uid = getuid();
	fs->gid = getgid();
	fs->next_ino = FUSE_ROOT_ID + 1;
	clock_gettime(CLOCK_REALTIME, &fs->start);
	if (!node_add(fs, "", FUSE_ROOT_ID)) {
		free(fs);
		return -ENOMEM;
	}
	*out = fs;
	return 0;
}

int pfs_fs_start(struct pfs_fs *fs, struct engine *e, struct fuse_session *se)
{
	int r;

	fs->e = e;
	fs->se = se;
	r = pthread_create(&fs->notifier, NULL, notifier_main, fs);
	if (r)
		return -r;
	fs->notifier_running = true;
	return 0;
}

void pfs_fs_close_streams(struct pfs_fs *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->closing = true;
	pthread_mutex_unlock(&fs->lock);
	wake_streams(fs, NULL, true);
}

void pfs_fs_stop(struct pfs_fs *fs)
{
	if (!fs || !fs->notifier_running)
		return;
	pthread_mutex_lock(&fs->qlock);
	fs->stopping = true;
	pthread_cond_signal(&fs->qcv);
	pthread_mutex_unlock(&fs->qlock);
	pthread_join(fs->notifier, NULL);
	fs->notifier_running = false;
}

void pfs_fs_free(struct pfs_fs *fs)
{
	if (!fs)
		return;
	pfs_fs_stop(fs);
	for (size_t i = 0; i < NODE_BUCKETS; i++)
		while (fs->by_ino[i])
			node_del(fs, fs->by_ino[i]);
	while (fs->scratch)
		scratch_del(fs, fs->scratch);
	while (fs->hidden)
		set_hidden(fs, fs->hidden->test, false);
	free(fs->queue);
	pthread_cond_destroy(&fs->qcv);
	pthread_mutex_destroy(&fs->qlock);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}
