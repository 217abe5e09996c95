/* SPDX-License-Identifier: MIT */
/*
 * Pure parts of the Docker client: query encoding, error mapping, endpoint
 * parsing from the environment, and build contexts (deterministic tar,
 * .dockerignore, in-memory files).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "pfs_check.h"
#include "pantherfs/docker.h"
#include "pantherfs/util.h"

START_TEST(urlencode)
{
	char *s = docker_urlencode("a b&c=d/é~_.-");

	ck_assert_str_eq(s, "a%20b%26c%3Dd%2F%C3%A9~_.-");
	free(s);
}
END_TEST

START_TEST(filters_and_maps)
{
	const char *labels[] = { "pantherfs.managed=1", "pantherfs.test=t \"1\"", NULL };
	const char *none[] = { NULL };
	const char *kv[] = { "MVFST_COMMIT", "3a0e6de", "BASE", "debian:bookworm-slim", NULL };
	char *f = docker_filters_labels(labels), *m = docker_json_map(kv), *e;

	ck_assert_str_eq(f, "{\"label\":[\"pantherfs.managed=1\",\"pantherfs.test=t \\\"1\\\"\"]}");
	ck_assert_ptr_null(docker_filters_labels(none));
	ck_assert_ptr_null(docker_filters_labels(NULL));
	ck_assert_str_eq(m, "{\"MVFST_COMMIT\":\"3a0e6de\",\"BASE\":\"debian:bookworm-slim\"}");
	e = docker_urlencode(m);
	ck_assert_str_eq(e, "%7B%22MVFST_COMMIT%22%3A%223a0e6de%22%2C%22BASE%22%3A%22debian%3Abookworm-slim%22%7D");
	free(e);
	free(f);
	free(m);
}
END_TEST

START_TEST(status_mapping)
{
	ck_assert_int_eq(docker_status_errno(200), 0);
	ck_assert_int_eq(docker_status_errno(204), 0);
	ck_assert_int_eq(docker_status_errno(304), -EALREADY);
	ck_assert_int_eq(docker_status_errno(400), -EINVAL);
	ck_assert_int_eq(docker_status_errno(403), -EPERM);
	ck_assert_int_eq(docker_status_errno(404), -ENOENT);
	ck_assert_int_eq(docker_status_errno(409), -EBUSY);
	ck_assert_int_eq(docker_status_errno(500), -EIO);
	ck_assert_int_eq(docker_status_errno(503), -EIO);
	ck_assert_int_eq(docker_status_errno(418), -EINVAL);
}
END_TEST

START_TEST(error_messages)
{
	char out[64];

	docker_error_message("{\"message\":\"No such image: x\"}", 30, out, sizeof(out));
	ck_assert_str_eq(out, "No such image: x");
	docker_error_message("page not found\r\n", 16, out, sizeof(out));
	ck_assert_str_eq(out, "page not found");
	docker_error_message("", 0, out, sizeof(out));
	ck_assert_str_eq(out, "");
	/* capped to the output */
	docker_error_message("0123456789012345678901234567890123456789012345678901234567890123456789",
			     70, out, 16);
	ck_assert_str_eq(out, "012345678901234");
}
END_TEST

static void clear_env(void)
{
	unsetenv("DOCKER_HOST");
	unsetenv("DOCKER_TLS_VERIFY");
	unsetenv("DOCKER_TLS");
	unsetenv("DOCKER_CERT_PATH");
}

START_TEST(endpoints)
{
	struct docker_endpoint ep;
	struct pfs_err err = { 0 };

	clear_env();
	ck_assert_int_eq(docker_endpoint_parse(NULL, &ep, &err), 0);
	ck_assert_str_eq(ep.unix_path, "/var/run/docker.sock");
	ck_assert_str_eq(ep.base_url, "http://docker");

	setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock", 1);
	ck_assert_int_eq(docker_endpoint_parse(NULL, &ep, &err), 0);
	ck_assert_str_eq(ep.unix_path, "/run/user/1000/docker.sock");
	/* an explicit option wins over the environment */
	ck_assert_int_eq(docker_endpoint_parse("tcp://10.1.2.3:2375", &ep, &err), 0);
	ck_assert_str_eq(ep.base_url, "http://10.1.2.3:2375");
	ck_assert_str_eq(ep.unix_path, "");
	ck_assert(!ep.tls);

	ck_assert_int_eq(docker_endpoint_parse("tcp://dockerhost", &ep, &err), 0);
	ck_assert_str_eq(ep.base_url, "http://dockerhost:2375");

	setenv("DOCKER_TLS_VERIFY", "1", 1);
	setenv("DOCKER_CERT_PATH", "/etc/docker/certs", 1);
	ck_assert_int_eq(docker_endpoint_parse("tcp://dockerhost", &ep, &err), 0);
	ck_assert_str_eq(ep.base_url, "https://dockerhost:2376");
	ck_assert(ep.tls && ep.tls_verify);
	ck_assert_str_eq(ep.ca, "/etc/docker/certs/ca.pem");
	ck_assert_str_eq(ep.cert, "/etc/docker/certs/cert.pem");
	ck_assert_str_eq(ep.key, "/etc/docker/certs/key.pem");

	unsetenv("DOCKER_TLS_VERIFY");
	ck_assert_int_eq(docker_endpoint_parse("tcp://h:9999", &ep, &err), 0);
	ck_assert(ep.tls && !ep.tls_verify);
	ck_assert_str_eq(ep.base_url, "https://h:9999");

	ck_assert_int_eq(docker_endpoint_parse("ssh://user@host", &ep, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "docker host \"ssh://user@host\": expected unix:///path or tcp://host:port");
	ck_assert_int_eq(docker_endpoint_parse("unix://relative.sock", &ep, &err), -EINVAL);
	clear_env();
}
END_TEST

/* ---- build contexts ------------------------------------------------------------ */

static void put(const char *dir, const char *rel, const char *content)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	ck_assert_int_eq(pfs_write_file_atomic(path, content, strlen(content)), 0);
}

static int open_tmp(void)
{
	char t[] = "/tmp/pfs-tar-XXXXXX";
	int fd = mkstemp(t);

	ck_assert_int_ge(fd, 0);
	unlink(t);
	return fd;
}

static char *listing(int fd)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct pfs_buf b = PFS_BUF_INIT(1 << 20);

	lseek(fd, 0, SEEK_SET);
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_fd(a, fd, 4096), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		char data[256] = "";
		la_ssize_t n = archive_read_data(a, data, sizeof(data) - 1);

		if (n > 0)
			data[n] = '\0';
		pfs_buf_printf(&b, "%s %o %ld %ld %s|", archive_entry_pathname(e),
			       (unsigned)archive_entry_perm(e), (long)archive_entry_mtime(e),
			       (long)archive_entry_uid(e), data);
	}
	archive_read_free(a);
	return pfs_buf_steal(&b, NULL);
}

START_TEST(context_is_deterministic_and_filtered)
{
	char dir[] = "/tmp/pfs-ctx-XXXXXX", sub[300], sha1[65], sha2[65], sha3[65];
	struct docker_ctx_file extra[] = {
		{ "generated.txt", "made in memory", 14, 0600 },
		{ "Dockerfile", "FROM override\n", 14, 0 },
	};
	struct pfs_err err = { 0 };
	int fd;
	char *l;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/patches/v1", dir);
	ck_assert_int_eq(pfs_mkdir_p(sub, 0755), 0);
	put(dir, "Dockerfile", "FROM debian:bookworm-slim\n");
	put(dir, "patches/v1/a.patch", "patch a");
	put(dir, "notes.tmp", "ignored");
	put(dir, "secret.key", "ignored too");
	put(dir, "keep.tmp", "kept by negation");
	put(dir, ".dockerignore", "# comment\n*.tmp\n!keep.tmp\n/secret.key\n");
	chmod(dir, 0755);

	fd = open_tmp();
	ck_assert_int_eq(docker_context_tar(dir, NULL, 0, fd, sha1, &err), 0);
	l = listing(fd);
	ck_assert_str_eq(l, ".dockerignore 644 0 0 # comment\n*.tmp\n!keep.tmp\n/secret.key\n|"
			    "Dockerfile 644 0 0 FROM debian:bookworm-slim\n|"
			    "keep.tmp 644 0 0 kept by negation|"
			    "patches/ 755 0 0 |patches/v1/ 755 0 0 |patches/v1/a.patch 644 0 0 patch a|");
	free(l);
	close(fd);

	/* touching a file's time changes nothing; changing its content changes the hash */
	sleep(1);
	put(dir, "patches/v1/a.patch", "patch a");
	fd = open_tmp();
	ck_assert_int_eq(docker_context_tar(dir, NULL, 0, fd, sha2, &err), 0);
	close(fd);
	ck_assert_str_eq(sha1, sha2);
	put(dir, "patches/v1/a.patch", "patch b");
	fd = open_tmp();
	ck_assert_int_eq(docker_context_tar(dir, NULL, 0, fd, sha3, &err), 0);
	close(fd);
	ck_assert_str_ne(sha1, sha3);

	/* in-memory files join the context and override files of the same name */
	fd = open_tmp();
	ck_assert_int_eq(docker_context_tar(dir, extra, 2, fd, sha3, &err), 0);
	l = listing(fd);
	ck_assert_ptr_nonnull(strstr(l, "Dockerfile 644 0 0 FROM override\n|"));
	ck_assert_ptr_nonnull(strstr(l, "generated.txt 600 0 0 made in memory|"));
	free(l);
	close(fd);

	/* no directory at all */
	fd = open_tmp();
	ck_assert_int_eq(docker_context_tar(NULL, extra, 1, fd, sha3, &err), 0);
	l = listing(fd);
	ck_assert_str_eq(l, "generated.txt 600 0 0 made in memory|");
	free(l);
	close(fd);

	fd = open_tmp();
	ck_assert_int_eq(docker_context_tar("/nonexistent/ctx", NULL, 0, fd, sha3, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "build context: cannot read /nonexistent/ctx: No such file or directory");
	close(fd);
	pfs_rm_rf(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("docker_encode");
	TCase *t = tcase_create("encode");

	tcase_add_test(t, urlencode);
	tcase_add_test(t, filters_and_maps);
	tcase_add_test(t, status_mapping);
	tcase_add_test(t, error_messages);
	tcase_add_test(t, endpoints);
	suite_add_tcase(s, t);
	t = tcase_create("context");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, context_is_deterministic_and_filtered);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
