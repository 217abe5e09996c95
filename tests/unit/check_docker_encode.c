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
#include "pantherfs/docker_ref.h"
#include "pantherfs/util.h"

START_TEST(urlencode)
{
	char *s = docker_urlencode("a b&c=d/é~_.-");

	ck_assert_str_eq(s, "a%20b%26c%3Dd%2F%C3%A9~_.-");
	free(s);
}
END_TEST

START_TEST(image_references_docker_takes)
{
	static const char *const good[] = {
		"debian", "debian:bookworm-slim", "library/debian:12", "docker.io/library/debian:12",
		"localhost/app", "localhost:5000/team/app:v1.2_rc-3", "registry.example:5000/a/b/c",
		"Registry.Example/app", "[::1]:5000/app:x", "192.168.1.10:5000/app",
		"lab/a.b_c__d-e---f", "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"app:1@sha256:0123456789abcdef0123456789abcdef", "app@sha512+b64u.x:0123456789ABCDEF0123456789abcdef",
		"x:_tag", "lab/mvfst:patched",
	};

	for (size_t i = 0; i < PFS_ARRAY_SIZE(good); i++) {
		struct pfs_err err = { 0 };

		ck_assert_msg(docker_ref_check(good[i], &err) == 0, "%s: %s", good[i], err.msg);
	}
}
END_TEST

START_TEST(image_references_docker_refuses)
{
	static const struct {
		const char *ref, *msg;
	} bad[] = {
		{ "", "empty: name an image, such as debian:bookworm-slim" },
		{ "../../containers/json", "character 1: a registry host is labels of letters, digits and '-' joined by single dots" },
		{ "debian\nx", "character 7: '\\n' cannot be in an image reference" },
		{ "Debian", "character 1: repository names are lowercase" },
		{ "lab/Quic", "character 5: repository names are lowercase" },
		{ "lab//quic", "character 5: empty name component (two '/' in a row, or one at an end)" },
		{ "lab/quic/", "character 9: empty name component (two '/' in a row, or one at an end)" },
		{ "lab/-quic", "character 5: a name component starts and ends with a lowercase letter or a digit" },
		{ "lab/quic-", "character 9: a name component starts and ends with a lowercase letter or a digit" },
		{ "lab/a..b", "character 7: separators are one '.', one or two '_', or dashes" },
		{ "lab/a___b", "character 8: separators are one '.', one or two '_', or dashes" },
		{ "lab/a b", "character 6: ' ' cannot be in a repository name" },
		{ "lab/é", "character 5: 'é' cannot be in a repository name" },
		{ "host:5x/app", "character 7: the registry port is a number" },
		{ "-host.x/app", "character 1: a host name label starts and ends with a letter or a digit" },
		{ "[::1/app", "character 4: an IPv6 registry address is [hex:hex:...]" },
		{ "debian:", "character 7: empty tag after ':'" },
		{ "debian:.x", "character 8: a tag starts with a letter, a digit or '_'" },
		{ "debian:a/b", "character 8: the registry port is a number" },
		{ "debian:a+b", "character 9: '+' cannot be in a tag (letters, digits, '_', '.', '-')" },
		{ ":tag", "character 1: no name before the tag or digest" },
		{ "debian@", "character 7: a digest is algorithm:hex, such as sha256:<64 hex digits>" },
		{ "debian@sha256:xyz", "character 15: 'x' cannot be in a digest's hex digits" },
		{ "debian@sha256:abc", "character 17: a digest has at least 32 hex digits" },
		{ "debian@1sha:0123456789abcdef0123456789abcdef", "character 8: a digest is algorithm:hex, such as sha256:<64 hex digits>" },
		{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "character 1: 64 hex digits are an image id, not a name" },
	};

	for (size_t i = 0; i < PFS_ARRAY_SIZE(bad); i++) {
		struct pfs_err err = { 0 };

		ck_assert_msg(docker_ref_check(bad[i].ref, &err) == -EINVAL, "%s accepted", bad[i].ref);
		ck_assert_str_eq(err.msg, bad[i].msg);
	}
}
END_TEST

START_TEST(image_reference_lengths)
{
	char name[300], tag[140];
	struct pfs_err err = { 0 };

	/* a name of 255 characters is the most; a tag of 128 */
	memset(name, 'a', 255);
	name[255] = '\0';
	ck_assert_int_eq(docker_ref_check(name, &err), 0);
	name[255] = 'a';
	name[256] = '\0';
	ck_assert_int_eq(docker_ref_check(name, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "character 256: a name is at most 255 characters");
	memset(tag, 'T', sizeof(tag));
	snprintf(name, sizeof(name), "app:%.128s", tag);
	ck_assert_int_eq(docker_ref_check(name, &err), 0);
	snprintf(name, sizeof(name), "app:%.129s", tag);
	ck_assert_int_eq(docker_ref_check(name, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "character 133: a tag is at most 128 characters");
}
END_TEST

/* --registry: what Docker reads as a registry in front of a name, and nothing else */
START_TEST(registry_addresses)
{
	static const char *const good[] = { "10.0.0.5:5000", "registry.example", "localhost", "localhost:5000",
					    "[::1]:5000", "Registry.Example:443" };
	static const struct {
		const char *host, *msg;
	} bad[] = {
		{ "", "empty: name the registry as HOST:PORT, such as 10.0.0.5:5000" },
		{ "registry", "\"registry\" is not a registry's address: HOST:PORT (or a host name with a dot, or "
			      "localhost)" },
		{ "10.0.0.5:5000/lab", "character 14: a registry is HOST:PORT, without a path" },
		{ "10.0.0.5:50x0", "character 12: the registry port is a number" },
		{ "reg\tistry.example", "character 4: '\\t' cannot be in a registry's address" },
		{ "-reg.example", "character 1: a host name label starts and ends with a letter or a digit" },
	};

	for (size_t i = 0; i < PFS_ARRAY_SIZE(good); i++) {
		struct pfs_err err = { 0 };

		ck_assert_msg(docker_registry_check(good[i], &err) == 0, "%s: %s", good[i], err.msg);
	}
	for (size_t i = 0; i < PFS_ARRAY_SIZE(bad); i++) {
		struct pfs_err err = { 0 };

		ck_assert_msg(docker_registry_check(bad[i].host, &err) == -EINVAL, "%s accepted", bad[i].host);
		ck_assert_str_eq(err.msg, bad[i].msg);
	}
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

/*
 * Extras given by path: streamed from disk, their content (not their
 * location, times or mode on disk) in the hash, .dockerignore not applied
 * to them; hashing alone writes nothing and gives the same hash.
 */
START_TEST(context_streams_files_given_by_path)
{
	char dir[] = "/tmp/pfs-ctx-XXXXXX", other[] = "/tmp/pfs-ctx2-XXXXXX", path[512], path2[512];
	char sha_mem[65], sha_path[65], sha_moved[65], sha_only[65], sha_changed[65];
	static const char big_name[] = "sources/big-1.tar.gz";
	struct docker_ctx_file mem = { big_name, NULL, 0, 0644 };
	struct docker_ctx_file onpath = { big_name, NULL, 0, 0, NULL };
	struct pfs_buf content = PFS_BUF_INIT(1u << 22);
	struct pfs_err err = { 0 };
	int fd;
	char *l;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(mkdtemp(other));
	snprintf(path, sizeof(path), "%s/sources", dir);
	ck_assert_int_eq(pfs_mkdir_p(path, 0755), 0);
	put(dir, "Dockerfile", "FROM scratch\nCOPY sources/ /s/\n");
	put(dir, ".dockerignore", "sources/*\n!sources/README\n");
	put(dir, "sources/README", "readme");
	put(dir, "sources/stray-2.tar.gz", "another version's");
	/* 3 MiB and a bit: several read chunks, more than any in-memory cap here */
	for (int i = 0; content.len < (3u << 20) + 17; i++)
		ck_assert_int_eq(pfs_buf_printf(&content, "line %d of a large source tarball\n", i), 0);
	snprintf(path, sizeof(path), "%s/big-1.tar.gz", other);
	ck_assert_int_eq(pfs_write_file_atomic(path, content.ptr, content.len), 0);
	chmod(path, 0600);
	mem.data = content.ptr;
	mem.len = content.len;
	onpath.path = path;

	fd = open_tmp();
	ck_assert_int_eq(docker_context_tar(dir, &mem, 1, fd, sha_mem, &err), 0);
	close(fd);
	fd = open_tmp();
	ck_assert_int_eq(docker_context_tar(dir, &onpath, 1, fd, sha_path, &err), 0);
	l = listing(fd);
	/* the stray tarball stays out, the one asked for is in, with mode 0644 */
	ck_assert_msg(!strstr(l, "stray"), "%s", l);
	ck_assert_msg(strstr(l, "sources/README 644 0 0 readme|"), "%s", l);
	ck_assert_msg(strstr(l, "sources/big-1.tar.gz 644 0 0 line 0 of a large source tarball\n"), "%s", l);
	free(l);
	close(fd);
	ck_assert_str_eq(sha_path, sha_mem);
	ck_assert_int_eq(docker_context_sha256(dir, &onpath, 1, sha_only, &err), 0);
	ck_assert_str_eq(sha_only, sha_path);

	/* the same bytes elsewhere: the same hash; other bytes: another */
	snprintf(path2, sizeof(path2), "%s/renamed.tgz", other);
	ck_assert_int_eq(rename(path, path2), 0);
	onpath.path = path2;
	ck_assert_int_eq(docker_context_sha256(dir, &onpath, 1, sha_moved, &err), 0);
	ck_assert_str_eq(sha_moved, sha_path);
	content.ptr[content.len / 2] ^= 1;
	ck_assert_int_eq(pfs_write_file_atomic(path2, content.ptr, content.len), 0);
	ck_assert_int_eq(docker_context_sha256(dir, &onpath, 1, sha_changed, &err), 0);
	ck_assert_str_ne(sha_changed, sha_path);

	/* a missing file and a directory are errors naming the path */
	onpath.path = path;
	ck_assert_int_eq(docker_context_sha256(dir, &onpath, 1, sha_only, &err), -ENOENT);
	ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "No such file"), "%s", err.msg);
	onpath.path = other;
	ck_assert_int_eq(docker_context_sha256(dir, &onpath, 1, sha_only, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
	pfs_buf_release(&content);
	pfs_rm_rf(dir);
	pfs_rm_rf(other);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("docker_encode");
	TCase *t = tcase_create("encode");

	tcase_add_test(t, urlencode);
	tcase_add_test(t, filters_and_maps);
	tcase_add_test(t, image_references_docker_takes);
	tcase_add_test(t, image_references_docker_refuses);
	tcase_add_test(t, image_reference_lengths);
	tcase_add_test(t, registry_addresses);
	tcase_add_test(t, status_mapping);
	tcase_add_test(t, error_messages);
	tcase_add_test(t, endpoints);
	suite_add_tcase(s, t);
	t = tcase_create("context");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, context_is_deterministic_and_filtered);
	tcase_add_test(t, context_streams_files_given_by_path);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
