/* SPDX-License-Identifier: MIT */
/*
 * The filesystem: the engine's tests as files, on the libfuse3 low-level API.
 *
 * Reads are answered from the engine's snapshots (small files: one copy per
 * open) and from the state dir's append-only files up to the size the engine
 * published (events, build.log, logs); a callback never waits on Docker.
 * *.follow reads that have nothing to return are parked (the request, not a
 * thread) and answered by the notifier thread when the engine says the file
 * grew or the run ended; interrupts answer them with EINTR at once.
 *
 * Writing: config.yaml is buffered per open and applied on flush (the error
 * of close()); ctl takes one verb per write. Editor scratch files (vim's
 * 4913 and swap files, backups, sed's temporaries, emacs' lock links) live
 * in memory in the test's directory; renaming one over config.yaml applies
 * it. A config.yaml renamed away or unlinked is hidden until a new one is
 * written: the test and its config in the engine stay.
 */
#ifndef PANTHERFS_FS_H
#define PANTHERFS_FS_H

#include <fuse_lowlevel.h>

#include "pantherfs/engine.h"

struct pfs_fs;

/* Creates the filesystem object (no mount yet). */
int pfs_fs_new(struct pfs_fs **out);
/* The operations table for fuse_session_new(). */
const struct fuse_lowlevel_ops *pfs_fs_ops(void);
/* Attaches the engine (after daemonizing: engines own threads) and starts the notifier. */
int pfs_fs_start(struct pfs_fs *fs, struct engine *e, struct fuse_session *se);
/* The engine's notification sink: pass with fs as notify_ud. */
void pfs_fs_notify(void *ud, enum engine_change what, const char *test, int run, const char *service);
/*
 * Shutdown, step one (from a signal): every stream ends (EOF) now and any
 * later read of a stream ends at once, so readers finish before the
 * session stops answering.
 */
void pfs_fs_close_streams(struct pfs_fs *fs);
/* Answers every parked read (EOF) and stops the notifier; before engine_free. */
void pfs_fs_stop(struct pfs_fs *fs);
void pfs_fs_free(struct pfs_fs *fs);

#endif
