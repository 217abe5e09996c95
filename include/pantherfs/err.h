/* SPDX-License-Identifier: MIT */
/*
 * pfs_err: a negative errno plus a human-readable message.
 *
 * Convention (README "Hacking"): functions return 0 or -errno. Where a user
 * must read why something failed (a daemon message, a config problem), the
 * function also takes an optional `struct pfs_err *`, which it fills only on
 * failure. The struct is caller-owned and fixed size: nothing to free.
 * "Log or return, not both": a function that fills a pfs_err does not log.
 */
#ifndef PANTHERFS_ERR_H
#define PANTHERFS_ERR_H

#define PFS_ERR_MSG_MAX 1024

struct pfs_err {
	int code;                  /* negative errno, 0 when unset */
	char msg[PFS_ERR_MSG_MAX]; /* always NUL-terminated */
};

/*
 * Fills err (when not NULL) with code and a formatted message; returns code
 * (which must be negative) so callers can write `return pfs_err_set(...)`.
 */
int pfs_err_set(struct pfs_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with "prefix: "; returns err->code. */
int pfs_err_prefix(struct pfs_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void pfs_err_clear(struct pfs_err *err);

/* err->msg when set, else strerror(-code). Never NULL. */
const char *pfs_err_str(const struct pfs_err *err, int code);

#endif
