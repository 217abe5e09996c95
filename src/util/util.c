/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pantherfs/util.h"
#include "pantherfs/banned.h"

char *pfs_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

void pfs_realtime_ts(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

char *pfs_strdup_vprintf(const char *fmt, va_list ap)
{
	char *s = NULL;

	return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

void pfs_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int pfs_strv_push_owned(struct pfs_strv *s, char *str)
{
	if (!str)
		return -ENOMEM;
	if (s->n + 2 > s->alloc) {
		size_t na = s->alloc ? s->alloc * 2 : 8;
		char **nv = realloc(s->v, na * sizeof(*nv));

		if (!nv) {
			free(str);
			return -ENOMEM;
		}
		s->v = nv;
		s->alloc = na;
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
	return 0;
}

int pfs_strv_push(struct pfs_strv *s, const char *str)
{
	return pfs_strv_push_owned(s, strdup(str));
}

char **pfs_strv_take(struct pfs_strv *s)
{
	char **v = s->v;

	if (!v)
		v = calloc(1, sizeof(*v));
	s->v = NULL;
	s->n = s->alloc = 0;
	return v;
}

void pfs_strv_release(struct pfs_strv *s)
{
	pfs_strv_free(s->v);
	s->v = NULL;
	s->n = s->alloc = 0;
}

int pfs_strv_append(char ***v, char *item)
{
	size_t n = 0;
	char **nv;

	if (!item)
		return -ENOMEM;
	while (*v && (*v)[n])
		n++;
	nv = realloc(*v, (n + 2) * sizeof(*nv));
	if (!nv) {
		free(item);
		return -ENOMEM;
	}
	nv[n] = item;
	nv[n + 1] = NULL;
	*v = nv;
	return 0;
}

bool pfs_name_valid_file(const char *name)
{
	size_t n = 0;

	if (!name || !*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++, n++)
		if (n >= 255 || *p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

bool pfs_name_valid(const char *name)
{
	size_t n = 0;

	if (!name || !*name || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		if (n >= 64)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

void pfs_time_format(const struct timespec *ts, char *out, size_t outlen)
{
	struct tm tm;
	char base[24];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%06ldZ", base, ts->tv_nsec / 1000);
}

uint64_t pfs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t pfs_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int pfs_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int pfs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pfs_read_file(const char *path, struct pfs_buf *b)
{
	char chunk[65536];
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		r = pfs_buf_add(b, chunk, (size_t)n);
		if (r < 0) {
			if (r == -E2BIG)
				r = -EFBIG;
			break;
		}
	}
	close(fd);
	if (r < 0)
		pfs_buf_release(b);
	else if (!b->ptr)
		r = pfs_buf_add(b, "", 0);
	return r;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd, r = 0;

	if (!slash) {
		dir[0] = '.';
		dir[1] = '\0';
	} else {
		n = (size_t)(slash - path);
		if (n == 0)
			n = 1;
		if (n >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Writes a temp file beside path and renames it over path; durable: fsyncs both. */
static int write_replace(const char *path, const void *data, size_t len, bool durable)
{
	char tmp[PATH_MAX];
	int fd, r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)gettid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return -errno;
	r = pfs_write_all(fd, data, len);
	if (r == 0 && durable && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return durable ? fsync_dir_of(path) : 0;
}

int pfs_write_file_atomic(const char *path, const void *data, size_t len)
{
	return write_replace(path, data, len, true);
}

int pfs_write_file_replace(const char *path, const void *data, size_t len)
{
	return write_replace(path, data, len, false);
}

int pfs_write_file_inplace(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644), r = 0;
	ssize_t w;

	if (fd < 0)
		return -errno;
	do
		w = pwrite(fd, data, len, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		r = -errno;
	else if ((size_t)w != len)
		r = -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int pfs_append_file(const char *path, const void *data, size_t len)
{
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	if (fd < 0)
		return -errno;
	r = pfs_write_all(fd, data, len);
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int pfs_mkdir_p(const char *path, mode_t mode)
{
	char p[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(p))
		return -EINVAL;
	memcpy(p, path, n + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int rm_rf_at(int dfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = rm_rf_at(dirfd(d), de->d_name);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int pfs_rm_rf(const char *path)
{
	return rm_rf_at(AT_FDCWD, path);
}

int pfs_shell_quote(struct pfs_buf *b, const char *word)
{
	bool plain = *word != '\0';
	int r;

	for (const char *p = word; *p && plain; p++) {
		char c = *p;
		plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || strchr("_@%+=:,./-", c);
	}
	if (plain)
		return pfs_buf_addstr(b, word);
	r = pfs_buf_addc(b, '\'');
	for (const char *p = word; *p && r == 0; p++)
		r = *p == '\'' ? pfs_buf_addstr(b, "'\\''") : pfs_buf_addc(b, *p);
	if (r == 0)
		r = pfs_buf_addc(b, '\'');
	return r;
}

void pfs_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const char hex[] = "0123456789abcdef";

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}
