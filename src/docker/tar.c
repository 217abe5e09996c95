/* SPDX-License-Identifier: MIT */
/*
 * Build contexts as deterministic tar archives (libarchive).
 *
 * The same directory always yields the same bytes: entries sorted by path,
 * times zeroed, owners 0/0 without names, permission bits kept. So the
 * SHA-256 of the archive identifies the context, and an image tagged with it
 * need not be rebuilt. .dockerignore is applied here because the engine does
 * not apply it (clients do); Dockerfile and .dockerignore always go in.
 * Extra files given by path (source tarballs of hundreds of megabytes) are
 * streamed from disk like the directory's own files, never read into memory;
 * .dockerignore does not apply to extras: naming one is asking for it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "docker_internal.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define CTX_MAX_ENTRIES 200000

int open_tmpfile_for_context(void)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[4096];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	snprintf(tmpl, sizeof(tmpl), "%s/pantherfs-ctx-XXXXXX", dir);
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(tmpl);
	return fd;
}

/* ---- .dockerignore ------------------------------------------------------------ */

struct ignore_rule {
	char *pat;
	bool negate;
};

struct ignore {
	struct ignore_rule *rules;
	size_t n;
};

static void ignore_release(struct ignore *ig)
{
	for (size_t i = 0; i < ig->n; i++)
		free(ig->rules[i].pat);
	free(ig->rules);
}

static int ignore_load(const char *dir, struct ignore *ig)
{
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	char *path, *save = NULL, *line;
	int r;

	memset(ig, 0, sizeof(*ig));
	path = pfs_strdup_printf("%s/.dockerignore", dir);
	if (!path)
		return -ENOMEM;
	r = pfs_read_file(path, &b);
	free(path);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (line = strtok_r(b.ptr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool neg = false;
		size_t n;
		struct ignore_rule *nr;

		while (*line == ' ' || *line == '\t')
			line++;
		n = strlen(line);
		while (n && (line[n - 1] == ' ' || line[n - 1] == '\r' || line[n - 1] == '\t'))
			line[--n] = '\0';
		if (!*line || *line == '#')
			continue;
		if (*line == '!') {
			neg = true;
			line++;
		}
		while (*line == '/' || (line[0] == '.' && line[1] == '/'))
			line += *line == '/' ? 1 : 2;
		n = strlen(line);
		while (n && line[n - 1] == '/')
			line[--n] = '\0';
		if (!*line)
			continue;
		nr = realloc(ig->rules, (ig->n + 1) * sizeof(*nr));
		if (!nr) {
			pfs_buf_release(&b);
			return -ENOMEM;
		}
		ig->rules = nr;
		ig->rules[ig->n].pat = strdup(line);
		ig->rules[ig->n].negate = neg;
		if (!ig->rules[ig->n].pat) {
			pfs_buf_release(&b);
			return -ENOMEM;
		}
		ig->n++;
	}
	pfs_buf_release(&b);
	return 0;
}

/* A pattern matches the path itself or any directory above it. */
static bool rule_matches(const char *pat, const char *rel)
{
	int flags = strstr(pat, "**") ? 0 : FNM_PATHNAME;
	char buf[4096];
	size_t n = strlen(rel);

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, rel, n + 1);
	for (;;) {
		if (fnmatch(pat, buf, flags) == 0)
			return true;
		char *slash = strrchr(buf, '/');
		if (!slash)
			return false;
		*slash = '\0';
	}
}

static bool ignored(const struct ignore *ig, const char *rel)
{
	bool ex = false;

	if (!strcmp(rel, "Dockerfile") || !strcmp(rel, ".dockerignore"))
		return false;
	for (size_t i = 0; i < ig->n; i++)
		if (rule_matches(ig->rules[i].pat, rel))
			ex = !ig->rules[i].negate;
	return ex;
}

/* ---- directory walk ------------------------------------------------------------ */

struct pathlist {
	char **v;
	size_t n, alloc;
};

static int pl_add(struct pathlist *pl, const char *s)
{
	if (pl->n >= CTX_MAX_ENTRIES)
		return -EFBIG;
	if (pl->n == pl->alloc) {
		size_t na = pl->alloc ? pl->alloc * 2 : 64;
		char **nv = realloc(pl->v, na * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		pl->v = nv;
		pl->alloc = na;
	}
	pl->v[pl->n] = strdup(s);
	if (!pl->v[pl->n])
		return -ENOMEM;
	pl->n++;
	return 0;
}

static void pl_release(struct pathlist *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->v[i]);
	free(pl->v);
}

static int walk(const char *root, const char *rel, const struct ignore *ig, struct pathlist *pl)
{
	char *abs = *rel ? pfs_strdup_printf("%s/%s", root, rel) : strdup(root);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!abs)
		return -ENOMEM;
	d = opendir(abs);
	free(abs);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *sub;
		struct stat st;
		char *full;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sub = *rel ? pfs_strdup_printf("%s/%s", rel, de->d_name) : strdup(de->d_name);
		if (!sub) {
			r = -ENOMEM;
			break;
		}
		if (ignored(ig, sub)) {
			free(sub);
			continue;
		}
		full = pfs_strdup_printf("%s/%s", root, sub);
		if (!full || lstat(full, &st) < 0) {
			r = full ? -errno : -ENOMEM;
			free(full);
			free(sub);
			break;
		}
		free(full);
		r = pl_add(pl, sub);
		if (r == 0 && S_ISDIR(st.st_mode))
			r = walk(root, sub, ig, pl);
		free(sub);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- archive output ---------------------------------------------------------------- */

struct tar_out {
	int fd;
	EVP_MD_CTX *md;
	int err;
};

static la_ssize_t tar_write(struct archive *a, void *ud, const void *buf, size_t n)
{
	struct tar_out *t = ud;
	int r = t->fd >= 0 ? pfs_write_all(t->fd, buf, n) : 0;

	(void)a;
	if (r < 0) {
		t->err = r;
		return -1;
	}
	EVP_DigestUpdate(t->md, buf, n);
	return (la_ssize_t)n;
}

static void entry_reset(struct archive_entry *e, const char *name, mode_t type, unsigned perm)
{
	archive_entry_clear(e);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 0, 0);
}

/* Copies a regular file's st_size bytes from fd into the current entry. */
static int copy_file_data(struct archive *a, int fd, off_t size, const char *rel, struct pfs_err *err)
{
	char chunk[65536];
	off_t left = size;

	while (left > 0) {
		ssize_t k = read(fd, chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return pfs_err_set(err, -EIO, "build context: %s changed while being read", rel);
		if (k > left)
			k = (ssize_t)left;
		if (archive_write_data(a, chunk, (size_t)k) != k)
			return pfs_err_set(err, -EIO, "build context: %s: %s", rel, archive_error_string(a));
		left -= k;
	}
	return 0;
}

static int add_disk_entry(struct archive *a, struct archive_entry *e, const char *root,
			  const char *rel, struct pfs_err *err)
{
	char *full = pfs_strdup_printf("%s/%s", root, rel);
	char target[4096];
	struct stat st;
	int fd = -1, r = 0;

	if (!full)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	if (lstat(full, &st) < 0) {
		r = pfs_err_set(err, -errno, "build context: %s: %s", full, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		entry_reset(e, rel, AE_IFDIR, st.st_mode & 07777);
	} else if (S_ISLNK(st.st_mode)) {
		ssize_t k = readlink(full, target, sizeof(target) - 1);

		if (k < 0) {
			r = pfs_err_set(err, -errno, "build context: %s: %s", full, strerror(errno));
			goto out;
		}
		target[k] = '\0';
		entry_reset(e, rel, AE_IFLNK, 0777);
		archive_entry_set_symlink(e, target);
	} else if (S_ISREG(st.st_mode)) {
		fd = open(full, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r = pfs_err_set(err, -errno, "build context: %s: %s", full, strerror(errno));
			goto out;
		}
		entry_reset(e, rel, AE_IFREG, st.st_mode & 07777);
		archive_entry_set_size(e, st.st_size);
	} else {
		goto out; /* sockets, fifos, devices: not context material */
	}
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		r = pfs_err_set(err, -EIO, "build context: %s: %s", rel, archive_error_string(a));
		goto out;
	}
	if (fd >= 0)
		r = copy_file_data(a, fd, st.st_size, rel, err);
out:
	if (fd >= 0)
		close(fd);
	free(full);
	return r;
}

/*
 * An extra given by path: a regular file (symlinks followed: a user may link
 * a tarball kept elsewhere), its mode f->mode or 0644 so that the hash does
 * not depend on how the file happens to be stored.
 */
static int add_path_entry(struct archive *a, struct archive_entry *e,
			  const struct docker_ctx_file *f, struct pfs_err *err)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return pfs_err_set(err, -errno, "build context: %s: %s", f->path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = pfs_err_set(err, -errno, "build context: %s: %s", f->path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = pfs_err_set(err, -EINVAL, "build context: %s: not a regular file", f->path);
		goto out;
	}
	entry_reset(e, f->name, AE_IFREG, f->mode ? f->mode : 0644);
	archive_entry_set_size(e, st.st_size);
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		r = pfs_err_set(err, -EIO, "build context: %s: %s", f->name, archive_error_string(a));
		goto out;
	}
	r = copy_file_data(a, fd, st.st_size, f->path, err);
out:
	close(fd);
	return r;
}

static int add_mem_entry(struct archive *a, struct archive_entry *e,
			 const struct docker_ctx_file *f, struct pfs_err *err)
{
	if (f->path)
		return add_path_entry(a, e, f, err);
	entry_reset(e, f->name, AE_IFREG, f->mode ? f->mode : 0644);
	archive_entry_set_size(e, (la_int64_t)f->len);
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    (f->len && archive_write_data(a, f->data, f->len) != (la_ssize_t)f->len))
		return pfs_err_set(err, -EIO, "build context: %s: %s", f->name, archive_error_string(a));
	return 0;
}

static const struct docker_ctx_file *find_extra(const struct docker_ctx_file *x, size_t n,
						const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(x[i].name, name))
			return &x[i];
	return NULL;
}

int docker_context_tar(const char *dir, const struct docker_ctx_file *extra, size_t n_extra,
		       int fd, char sha256_hex[65], struct pfs_err *err)
{
	struct pathlist pl = { 0 };
	struct ignore ig = { 0 };
	struct tar_out out = { .fd = fd };
	struct archive *a = NULL;
	struct archive_entry *e = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int r = 0;

	if (dir) {
		r = ignore_load(dir, &ig);
		if (r < 0) {
			pfs_err_set(err, r, "build context: %s/.dockerignore: %s", dir, strerror(-r));
			goto out;
		}
		r = walk(dir, "", &ig, &pl);
		if (r < 0) {
			pfs_err_set(err, r, "build context: cannot read %s: %s", dir,
				    r == -EFBIG ? "too many files" : strerror(-r));
			goto out;
		}
	}
	for (size_t i = 0; i < n_extra; i++) {
		bool dup = false;

		for (size_t k = 0; k < pl.n && !dup; k++)
			dup = !strcmp(pl.v[k], extra[i].name);
		if (!dup && (r = pl_add(&pl, extra[i].name)) < 0) {
			pfs_err_set(err, r, "build context: %s", strerror(-r));
			goto out;
		}
	}
	qsort(pl.v, pl.n, sizeof(*pl.v), cmp_str);

	out.md = EVP_MD_CTX_new();
	a = archive_write_new();
	e = archive_entry_new();
	if (!out.md || !a || !e || EVP_DigestInit_ex(out.md, EVP_sha256(), NULL) != 1) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_none(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open2(a, &out, NULL, tar_write, NULL, NULL) != ARCHIVE_OK) {
		r = pfs_err_set(err, -EIO, "build context: %s", archive_error_string(a));
		goto out;
	}
	for (size_t i = 0; i < pl.n; i++) {
		const struct docker_ctx_file *x = find_extra(extra, n_extra, pl.v[i]);

		r = x ? add_mem_entry(a, e, x, err) : add_disk_entry(a, e, dir, pl.v[i], err);
		if (r < 0)
			goto out;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		r = pfs_err_set(err, out.err ? out.err : -EIO, "build context: %s",
				out.err ? strerror(-out.err) : archive_error_string(a));
		goto out;
	}
	EVP_DigestFinal_ex(out.md, md, &mdlen);
	for (unsigned int i = 0; i < 32 && i < mdlen; i++)
		snprintf(sha256_hex + 2 * i, 3, "%02x", md[i]);
	sha256_hex[64] = '\0';
out:
	if (e)
		archive_entry_free(e);
	if (a)
		archive_write_free(a);
	EVP_MD_CTX_free(out.md);
	ignore_release(&ig);
	pl_release(&pl);
	return r;
}

int docker_context_sha256(const char *dir, const struct docker_ctx_file *extra, size_t n_extra,
			  char sha256_hex[65], struct pfs_err *err)
{
	/* no file: a context with source tarballs is hundreds of megabytes */
	return docker_context_tar(dir, extra, n_extra, -1, sha256_hex, err);
}
