/* SPDX-License-Identifier: MIT */
/*
 * Shared between the files of src/fs (lxcfs's shape: a thin router and one
 * module per subtree):
 *
 *   fs.c         the router: the operations table, life cycle, attributes,
 *                lookups, directories, open/read/write/flush/release
 *                dispatched by what a path names
 *   inode.c      inode numbers <-> paths (the kernel's lookups)
 *   path.c       path -> what it names, a pure function (fs_path_parse)
 *   tests_tree.c tests/: content, listings, ctl, config writes, mkdir/rmdir
 *   catalog_tree.c  implementations/: the read-only catalogue
 *   matrix_tree.c   matrices/: interop matrices, their file and tables
 *   stream.c     *.follow streams, poll, and the notifier thread
 *   scratch.c    editor scratch files and hidden configs; create, unlink,
 *                rename, symlink
 *
 * Locks, in the order they are taken (after them: the engine's e->lock,
 * then t->lock; see engine_internal.h):
 *   fs->handles_lock  the table of open handles (fs.c)
 *   fs->nodes_lock    the inode table (inode.c)
 *   fs->scratch_lock  scratch files and hidden configs (scratch.c)
 *   fs->streams_lock  the list of open streams (stream.c)
 *   st->lock          one stream's parked read and poll handle
 *   fs->qlock         the notifier's queue (leaf)
 * No two of the first three are ever held together. No lock of src/fs is
 * held across a FUSE reply, a disk read, or a call into the engine that
 * can take long: replies are sent after unlocking (a parked request is
 * taken out of its stream under st->lock, then answered outside it).
 */
#ifndef PANTHERFS_FS_INTERNAL_H
#define PANTHERFS_FS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <fuse_lowlevel.h>

#include "pantherfs/buf.h"
#include "pantherfs/catalog.h"
#include "pantherfs/engine.h"
#include "pantherfs/fs.h"
#include "pantherfs/names.h"

#define FS_NODE_BUCKETS 4096
#define FS_NAME_MAX 72          /* a test or service name and its NUL, with room */

/* ---- path.c: what a path names ---------------------------------------------------------------- */

enum fs_kind {
	FK_NONE,
	FK_ROOT,
	FK_README,
	FK_ENGINE,
	FK_IMPLS,            /* implementations/ */
	FK_IMPL,             /* implementations/<impl>/ */
	FK_IMPL_VERSIONS,    /* implementations/<impl>/versions */
	FK_IMPL_VERSION,     /* implementations/<impl>/<version>.yaml */
	FK_TESTS,            /* tests/ */
	FK_TEST,             /* tests/<test>/ */
	FK_FILE,             /* a named file (or directory) of a test, run or service: see file */
	FK_SCRATCH,          /* any other name in a test's directory: maybe a scratch file */
	FK_RUNS,             /* tests/<test>/runs/ */
	FK_RUN,              /* tests/<test>/runs/<n>/ */
	FK_SERVICES,         /* services/ of the test or of a run */
	FK_SERVICE,          /* services/<s>/ */
	FK_DISK_FILE,        /* a file inside a service's results/ or qlog/ */
	FK_ROOT_FILE,        /* a file of names.h at the mount's root (PFS_AT_ROOT): see file */
	FK_MATRICES,         /* matrices/ */
	FK_MATRIX,           /* matrices/<m>/ */
	FK_MATRIX_FILE,      /* matrices/<m>/<file>: name is one of engine_matrix_files */
};

struct fs_path {
	enum fs_kind kind;
	char impl[64];
	char version[64];
	char test[FS_NAME_MAX];
	int run;                     /* 0: the current run */
	char svc[FS_NAME_MAX];
	enum pfs_file file;          /* FK_FILE, FK_ROOT_FILE, and the directory of FK_DISK_FILE */
	char name[256];              /* FK_SCRATCH, FK_DISK_FILE, FK_MATRIX_FILE: the name */
	char matrix[FS_NAME_MAX];    /* FK_MATRIX, FK_MATRIX_FILE */
};

/*
 * Parses a path relative to the mount's root ("" is the root) into what it
 * would name, from its shape alone: valid test and service names, run
 * numbers written as the runs/ directory lists them (no sign, no leading
 * zero), the names of names.h where they may appear. Whether the test,
 * run, service, implementation or scratch file exists is the caller's
 * question. Returns 0, or -ENOENT when nothing of that shape can exist.
 */
int fs_path_parse(const char *path, struct fs_path *p);

/* True for the kinds that are directories (FK_FILE: when its name is one). */
bool fs_path_is_dir(const struct fs_path *p);
/* True for a file a program writes into the state dir, served from there as it is
 * (FK_DISK_FILE, and the PFS_N_DISK_FILE names: capture.pcap, keys.log). */
bool fs_path_on_disk(const struct fs_path *p);

/* ---- inode.c ------------------------------------------------------------------------------------ */

struct fs_node {
	fuse_ino_t ino;
	char *path;
	uint64_t nlookup;
	struct fs_node *next_ino, *next_path;
};

/* All under fs->nodes_lock, taken inside. */
int fs_nodes_init(struct pfs_fs *fs);
void fs_nodes_release(struct pfs_fs *fs);
/* The path of ino (malloc'd), or NULL. */
char *fs_node_path(struct pfs_fs *fs, fuse_ino_t ino);
/* The inode of path, made when new; one more lookup counted. 0 on ENOMEM. */
fuse_ino_t fs_node_lookup(struct pfs_fs *fs, const char *path);
void fs_node_forget(struct pfs_fs *fs, fuse_ino_t ino, uint64_t n);

/* ---- scratch.c ------------------------------------------------------------------------------------ */

#define FS_SCRATCH_MAX (4u << 20)     /* bytes in one scratch file */
#define FS_SCRATCH_FILES 64           /* scratch files in one test */
#define FS_SCRATCH_TOTAL (64u << 20)  /* bytes in all scratch files of the mount */

struct fs_scratch {
	char *test, *name;
	struct pfs_buf data;
	char *link;         /* a symlink (emacs' lock) */
	mode_t mode;
	struct timespec mtime;
	struct fs_scratch *next;
};

struct fs_hidden {
	char *test;
	struct fs_hidden *next;
};

/* Attributes of a scratch file; false when there is none. */
bool fs_scratch_stat(struct pfs_fs *fs, const char *test, const char *name, struct stat *st);
bool fs_scratch_exists(struct pfs_fs *fs, const char *test, const char *name);
/* True while a test's config.yaml is renamed away or unlinked (an editor's save). */
bool fs_config_hidden(struct pfs_fs *fs, const char *test);
void fs_config_set_hidden(struct pfs_fs *fs, const char *test, bool hide);
/* Names of a test's scratch files and their types, for readdir (NULL-terminated). */
char **fs_scratch_names(struct pfs_fs *fs, const char *test, mode_t **types);
/* A copy of [off, off+size) of a scratch file (malloc'd), *len set; NULL when empty. */
char *fs_scratch_read(struct pfs_fs *fs, const char *test, const char *name, size_t size, off_t off,
		      size_t *len);
int fs_scratch_write(struct pfs_fs *fs, const char *test, const char *name, const char *buf, size_t size,
		     off_t off);
int fs_scratch_truncate(struct pfs_fs *fs, const char *test, const char *name, off_t size);
void fs_scratch_chmod(struct pfs_fs *fs, const char *test, const char *name, mode_t mode);
char *fs_scratch_readlink(struct pfs_fs *fs, const char *test, const char *name);
/* Everything of a test (removed, or made anew). */
void fs_scratch_forget_test(struct pfs_fs *fs, const char *test);
void fs_scratch_free_all(struct pfs_fs *fs);

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);
void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);

/* ---- handles (fs.c) -------------------------------------------------------------------------------- */

enum fs_htype { H_SNAP, H_GROWING, H_CONFIG, H_CTL, H_STREAM, H_SCRATCH, H_DIR };

struct fs_stream;

/*
 * One open file or directory. The kernel holds its id (fi->fh), never its
 * address: a RELEASE can come while another worker still answers a READ
 * of the same open (the reader was killed mid-read), so every operation
 * takes a reference through the table (fs_handle_get) and the last one
 * frees it. Its fields are used by one request at a time but for refs.
 */
struct fs_handle {
	uint64_t id;             /* handles_lock: its key in the table */
	int refs;                /* handles_lock: the table's, and each operation's */
	struct fs_handle *next;  /* handles_lock: bucket chain */
	enum fs_htype type;
	struct fs_path p;
	char *data;              /* H_SNAP */
	size_t len;
	int fd;                  /* H_GROWING */
	struct pfs_buf buf;      /* H_CONFIG: what was written */
	bool dirty;              /* written since it was last applied */
	bool too_big;            /* a write went past CONFIG_MAX_BYTES */
	bool truncated;          /* opened with O_TRUNC: empty unless written */
	bool applied;            /* applied once (or refused) */
	uint64_t owner;          /* the lock owner (file table) of the first flush: the opener's */
	bool owner_set;
	int owner_flushes;
	struct fs_stream *st;    /* H_STREAM */
	char **names;            /* H_DIR */
	mode_t *types;
	size_t n;
};

struct fs_handle *fs_handle_new(enum fs_htype type, const struct fs_path *p);
/* Frees a handle that was never registered (NULL is fine). */
void fs_handle_free(struct fs_handle *h);
/* Puts a new handle in the table (the table holds one reference) and gives fi->fh its id. */
void fs_handle_register(struct pfs_fs *fs, struct fs_handle *h, struct fuse_file_info *fi);
/* The handle of fi->fh with one more reference, or NULL when it was released. */
struct fs_handle *fs_handle_get(struct pfs_fs *fs, const struct fuse_file_info *fi);
/* Drops a reference; the last one frees the handle. NULL is fine. */
void fs_handle_put(struct pfs_fs *fs, struct fs_handle *h);
/* Takes the handle out of the table (release): later gets find nothing. Returns it with a reference. */
struct fs_handle *fs_handle_unregister(struct pfs_fs *fs, const struct fuse_file_info *fi);

/* ---- tests_tree.c ------------------------------------------------------------------------------------ */

/* Whether what p names exists now (the engine's tests, runs, services; the state dir). */
bool fs_tests_exists(struct pfs_fs *fs, const struct fs_path *p);
/* A file's content: a snapshot (data) or a growing file (path, published size). */
int fs_tests_content(struct pfs_fs *fs, const struct fs_path *p, struct engine_file *f);
/* The size and mtime of a file, without copying a snapshot where the engine can tell them. */
int fs_tests_stat(struct pfs_fs *fs, const struct fs_path *p, struct stat *st);
void fs_tests_list(struct pfs_fs *fs, const struct fs_path *p, struct fs_handle *h);
int fs_tests_ctl(struct pfs_fs *fs, const char *test, const char *buf, size_t size);
/* Applies a config; the errno close() (or rename) returns. */
int fs_tests_apply_config(struct pfs_fs *fs, const char *test, const char *data, size_t len);
/*
 * unlink/rmdir of a file or directory pantherfs makes, below a test:
 * 0 (a no-op: it goes with its test) when the run is over, -EBUSY while it
 * is live, -ENOENT, -ENOTDIR/-EISDIR, -EINVAL for a scratch file or a test
 * (the caller's to handle).
 */
int fs_tests_remove_own(struct pfs_fs *fs, const char *parent_path, const char *name, bool dir);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);

/* ---- catalog_tree.c ------------------------------------------------------------------------------------ */

bool fs_catalog_exists(struct pfs_fs *fs, const struct fs_path *p);
int fs_catalog_content(struct pfs_fs *fs, const struct fs_path *p, struct engine_file *f);
void fs_catalog_list(struct pfs_fs *fs, const struct fs_path *p, struct fs_handle *h);

/* ---- matrix_tree.c -------------------------------------------------------------------------------------- */

bool fs_matrix_file_known(const char *name);
bool fs_matrix_exists(struct pfs_fs *fs, const struct fs_path *p);
int fs_matrix_content(struct pfs_fs *fs, const struct fs_path *p, struct engine_file *f);
void fs_matrix_list(struct pfs_fs *fs, const struct fs_path *p, struct fs_handle *h);
/* Applies matrix.yaml; the errno close() returns. */
int fs_matrix_apply(struct pfs_fs *fs, const char *matrix, const char *data, size_t len);
int fs_matrix_mkdir(struct pfs_fs *fs, const char *name);
int fs_matrix_rmdir(struct pfs_fs *fs, const char *name);

/* ---- stream.c ------------------------------------------------------------------------------------------ */

/* Opens a stream on events.follow or logs.follow; NULL on ENOMEM. */
struct fs_stream *fs_stream_open(struct pfs_fs *fs, const struct fs_path *p);
/* The last reference of its handle went: frees it (fs_stream_close came first). */
void fs_stream_put(struct fs_stream *st);
/* Answers a read now, or parks it until there is more or the run ends. */
void fs_stream_read(fuse_req_t req, struct fs_stream *st, size_t size, off_t off, bool nonblock);
void fs_stream_poll(fuse_req_t req, struct fs_stream *st, struct fuse_pollhandle *ph);
/* Release: out of the list, a parked read answered (EINTR), later reads end at once. */
void fs_stream_close(struct fs_stream *st);
int fs_notifier_start(struct pfs_fs *fs);
void fs_notifier_stop(struct pfs_fs *fs);
void fs_streams_end_all(struct pfs_fs *fs);

/* ---- fs.c helpers the subtrees use ----------------------------------------------------------------- */

struct pfs_fs *fs_of(fuse_req_t req);
/* Resolves an inode; replies ENOENT and returns false when nothing is there. */
bool fs_target(fuse_req_t req, fuse_ino_t ino, struct fs_path *p, char **path_out);
/* Resolves a path (parse + existence). */
bool fs_resolve(struct pfs_fs *fs, const char *path, struct fs_path *p);
/* The attributes of what p names, as getattr answers them. */
void fs_getattr_path(struct pfs_fs *fs, fuse_ino_t ino, const struct fs_path *p, struct stat *st);
/* Replies with the entry of a new child (counts a lookup). */
void fs_reply_entry(fuse_req_t req, struct pfs_fs *fs, const char *parent_path, const char *name);
void fs_handle_add_name(struct fs_handle *h, const char *name, mode_t type);

/* ---- the filesystem object -------------------------------------------------------------------------- */

struct fs_note {
	enum engine_change what;
	char test[FS_NAME_MAX];
};

struct pfs_fs {
	struct engine *e;            /* set once by pfs_fs_start */
	struct fuse_session *se;
	uid_t uid;                   /* the mounting user: owner of everything shown */
	gid_t gid;
	struct timespec start;

	pthread_mutex_t nodes_lock;
	struct fs_node *by_ino[FS_NODE_BUCKETS];    /* nodes_lock */
	struct fs_node *by_path[FS_NODE_BUCKETS];   /* nodes_lock */
	fuse_ino_t next_ino;                        /* nodes_lock */

	pthread_mutex_t scratch_lock;
	struct fs_scratch *scratch;                 /* scratch_lock */
	size_t scratch_bytes;                       /* scratch_lock: the capacity all scratch files hold */
	struct fs_hidden *hidden;                   /* scratch_lock */

	pthread_mutex_t handles_lock;
	struct fs_handle *handles[FS_NODE_BUCKETS];   /* handles_lock: open handles by id */
	uint64_t next_handle;                         /* handles_lock */

	pthread_mutex_t streams_lock;
	struct fs_stream *streams;                  /* streams_lock */
	bool closing;                               /* streams_lock: every stream ends at once */

	pthread_mutex_t qlock;
	pthread_cond_t qcv;
	struct fs_note *queue;                      /* qlock */
	size_t nq, qalloc;                          /* qlock */
	bool all_dirty;                             /* qlock: the queue overflowed: wake every stream */
	bool stopping;                              /* qlock */
	pthread_t notifier;
	bool notifier_running;                      /* the thread that starts and stops it */
};

#endif
