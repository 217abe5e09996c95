/* SPDX-License-Identifier: MIT */
/*
 * Source tarballs and image hashes, with real files: each version's image
 * hash covers the tarballs of its own pins and nothing else of the sources
 * dir, wherever that dir is, and the build request pantherfs sends (to a
 * fake engine on a unix socket) carries exactly those tarballs. The
 * shipped catalogue is used with a temporary sources dir; the default one
 * (the data dir's docker/mvfst/sources/) is tried in a scratch copy of the
 * data, so the source tree is never written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "pfs_check.h"
#include "fakehttp.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/docker.h"
#include "pantherfs/image.h"
#include "pantherfs/sources.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

extern char **environ;

/* The pins of two versions, read from their configs (never written twice). */
struct pins {
	const char *version;
	char names[6][32];
	char commits[6][64];
	size_t n;
};

static const char *src_root(void)
{
	const char *s = getenv("PFS_SOURCE_DIR");

	return s ? s : ".";
}

static struct catalog *catalog_with_sources(const char *data_dir, const char *sources_dir)
{
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };

	ck_assert_msg(catalog_load(data_dir, &c, &err) == 0, "%s", err.msg);
	if (sources_dir)
		ck_assert_msg(catalog_set_sources_dir(c, sources_dir, &err) == 0, "%s", err.msg);
	return c;
}

static struct pfs_config *plan(struct catalog *c, const char *version, const char *extra)
{
	char text[1024];
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	int r;

	snprintf(text, sizeof(text),
		 "services:\n  s:\n    implementation: {name: mvfst, version: %s%s}\n    protocol: {role: server}\n",
		 version, extra ? extra : "");
	r = config_load(c, "config.yaml", text, strlen(text), &cfg, &rep);
	ck_assert_msg(r == 0, "%s", rep.n_errors ? rep.errors[0] : "?");
	cfg_report_release(&rep);
	return cfg;
}

static void read_pins(struct catalog *c, struct pins *p)
{
	struct pfs_config *cfg = plan(c, p->version, NULL);
	struct src_list *l = NULL;
	struct pfs_err err = { 0 };

	ck_assert_int_eq(sources_find(&cfg->svc[0], &l, &err), 0);
	ck_assert_uint_le(l->n, 6);
	p->n = l->n;
	for (size_t i = 0; i < l->n; i++) {
		ck_assert_uint_eq(strlen(l->v[i].commit), 40);
		snprintf(p->names[i], sizeof(p->names[i]), "%s", l->v[i].name);
		snprintf(p->commits[i], sizeof(p->commits[i]), "%s", l->v[i].commit);
	}
	/* the names are those of the Dockerfile's fetch calls */
	ck_assert_str_eq(p->names[0], "mvfst");
	ck_assert_str_eq(p->names[1], "folly");
	ck_assert_str_eq(p->names[2], "fizz");
	src_list_free(l);
	config_free(cfg);
}

static void hash_of(struct catalog *c, const char *version, char out[65])
{
	struct pfs_config *cfg = plan(c, version, NULL);
	struct image_plan p;
	struct pfs_err err = { 0 };

	ck_assert_msg(image_plan_compute(&cfg->svc[0], &p, &err) == 0, "%s", err.msg);
	snprintf(out, 65, "%s", p.hash);
	config_free(cfg);
}

static void put_tarball(const char *dir, const char *name, const char *commit, const char *content)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s-%s.tar.gz", dir, name, commit);
	ck_assert_int_eq(pfs_write_file_atomic(path, content, strlen(content)), 0);
}

static void rm_tarball(const char *dir, const char *name, const char *commit)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s-%s.tar.gz", dir, name, commit);
	ck_assert_int_eq(unlink(path), 0);
}

/* ---- which tarballs a service takes ------------------------------------------- */

START_TEST(found_by_name_and_commit)
{
	char dir[] = "/tmp/pfs-src-XXXXXX", path[1024];
	struct catalog *c;
	struct pfs_config *cfg;
	struct src_list *l = NULL;
	struct pfs_err err = { 0 };
	struct pins d29 = { .version = "draft29" };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	c = catalog_with_sources(src_root(), dir);
	read_pins(c, &d29);
	ck_assert_uint_eq(d29.n, 3);
	put_tarball(dir, "folly", d29.commits[1], "folly");
	/* a tarball of another commit, and one under the old name without commit, are not it */
	put_tarball(dir, "fizz", "0123456789012345678901234567890123456789", "fizz, another commit");
	snprintf(path, sizeof(path), "%s/mvfst.tar.gz", dir);
	ck_assert_int_eq(pfs_write_file_atomic(path, "x", 1), 0);

	cfg = plan(c, "draft29", NULL);
	ck_assert_int_eq(sources_find(&cfg->svc[0], &l, &err), 0);
	ck_assert_uint_eq(l->n, 3);
	ck_assert_uint_eq(src_list_n_tarballs(l), 1);
	ck_assert_ptr_null(l->v[0].path);
	ck_assert_str_eq(l->v[0].repo, "https://github.com/facebook/mvfst.git");
	snprintf(path, sizeof(path), "%s/folly-%s.tar.gz", dir, d29.commits[1]);
	ck_assert_str_eq(l->v[1].path, path);
	snprintf(path, sizeof(path), "sources/folly-%s.tar.gz", d29.commits[1]);
	ck_assert_str_eq(l->v[1].ctx_name, path);
	ck_assert_ptr_null(l->v[2].path);
	src_list_free(l);
	config_free(cfg);

	/* a config that overrides a commit takes that commit's tarball */
	cfg = plan(c, "draft29", ", dependencies: {fizz: {commit: '0123456789012345678901234567890123456789'}}");
	ck_assert_int_eq(sources_find(&cfg->svc[0], &l, &err), 0);
	ck_assert_ptr_nonnull(l->v[2].path);
	ck_assert_ptr_nonnull(strstr(l->v[2].path, "/fizz-0123456789012345678901234567890123456789.tar.gz"));
	src_list_free(l);
	config_free(cfg);

	/* a commit that cannot be a file name is cloned, never looked up */
	cfg = plan(c, "draft29", ", commit: 'refs/heads/feature/x'");
	ck_assert_int_eq(sources_find(&cfg->svc[0], &l, &err), 0);
	ck_assert_ptr_null(l->v[0].path);
	ck_assert_ptr_null(l->v[0].ctx_name);
	src_list_free(l);
	config_free(cfg);
	catalog_free(c);
	pfs_rm_rf(dir);
}
END_TEST

START_TEST(prebuilt_images_have_no_sources)
{
	struct catalog *c = catalog_with_sources(src_root(), NULL);
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	struct src_list *l = NULL;
	struct pfs_err err = { 0 };
	static const char text[] =
		"services:\n  s: {implementation: {name: ngtcp2}, protocol: {role: server}}\n"
		"  p: {implementation: {name: mvfst, docker_image: 'lab/mvfst:1', build_from_source: false},\n"
		"      protocol: {role: server}}\n";

	ck_assert_int_eq(config_load(c, "config.yaml", text, strlen(text), &cfg, &rep), 0);
	for (size_t i = 0; i < cfg->n_svc; i++) {
		ck_assert_int_eq(sources_find(&cfg->svc[i], &l, &err), 0);
		ck_assert_uint_eq(l->n, 0);
		src_list_free(l);
	}
	cfg_report_release(&rep);
	config_free(cfg);
	catalog_free(c);
}
END_TEST

START_TEST(a_missing_sources_dir_is_refused)
{
	struct catalog *c = catalog_with_sources(src_root(), NULL);
	struct pfs_err err = { 0 };

	ck_assert_int_eq(catalog_set_sources_dir(c, "/nonexistent/pfs-sources", &err), -ENOENT);
	ck_assert_str_eq(err.msg, "sources dir /nonexistent/pfs-sources: No such file or directory");
	ck_assert_int_eq(catalog_set_sources_dir(c, "/etc/hostname", &err), -ENOTDIR);
	catalog_free(c);
}
END_TEST

/* ---- image hashes ---------------------------------------------------------------- */

START_TEST(each_version_hashes_its_own_tarballs)
{
	char dir[] = "/tmp/pfs-src-XXXXXX", moved[] = "/tmp/pfs-src2-XXXXXX";
	char h29[65], h29_folly[65], h29_folly2[65], h9[65], h[65];
	struct pins d29 = { .version = "draft29" }, r9 = { .version = "rfc9000" };
	struct catalog *c;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(mkdtemp(moved));
	c = catalog_with_sources(src_root(), dir);
	read_pins(c, &d29);
	read_pins(c, &r9);
	ck_assert_uint_eq(r9.n, 5); /* mvfst, folly, fizz, fast_float, fmt */
	hash_of(c, "draft29", h29);
	hash_of(c, "rfc9000", h9);

	/* draft29's folly appears: draft29's image changes, rfc9000's does not */
	put_tarball(dir, "folly", d29.commits[1], "folly at draft29's pin");
	hash_of(c, "draft29", h29_folly);
	ck_assert_str_ne(h29_folly, h29);
	hash_of(c, "rfc9000", h);
	ck_assert_str_eq(h, h9);

	/* its content changes: draft29's image changes again */
	put_tarball(dir, "folly", d29.commits[1], "folly at draft29's pin, repacked");
	hash_of(c, "draft29", h29_folly2);
	ck_assert_str_ne(h29_folly2, h29_folly);
	ck_assert_str_ne(h29_folly2, h29);

	/* rfc9000's tarballs appear (an EXTRA_DEPS one too): draft29's image stays */
	for (size_t i = 0; i < r9.n; i++)
		put_tarball(dir, r9.names[i], r9.commits[i], r9.names[i]);
	hash_of(c, "draft29", h);
	ck_assert_str_eq(h, h29_folly2);
	hash_of(c, "rfc9000", h);
	ck_assert_str_ne(h, h9);
	for (size_t i = 0; i < r9.n; i++) {
		char one[65];

		/* each of rfc9000's five counts, fmt and fast_float included */
		rm_tarball(dir, r9.names[i], r9.commits[i]);
		hash_of(c, "rfc9000", one);
		ck_assert_msg(strcmp(one, h) != 0, "rfc9000's hash ignores %s", r9.names[i]);
		put_tarball(dir, r9.names[i], r9.commits[i], r9.names[i]);
	}

	/* the same files in another sources dir: the same images */
	catalog_free(c);
	ck_assert_int_eq(pfs_rm_rf(moved), 0);
	ck_assert_int_eq(rename(dir, moved), 0);
	c = catalog_with_sources(src_root(), moved);
	hash_of(c, "draft29", h29_folly);
	ck_assert_str_eq(h29_folly, h29_folly2);

	/* all gone: the hashes of a machine without tarballs */
	catalog_free(c);
	ck_assert_int_eq(pfs_rm_rf(moved), 0);
	ck_assert_int_eq(pfs_mkdir_p(moved, 0755), 0);
	c = catalog_with_sources(src_root(), moved);
	hash_of(c, "draft29", h);
	ck_assert_str_eq(h, h29);
	hash_of(c, "rfc9000", h);
	ck_assert_str_eq(h, h9);
	catalog_free(c);
	pfs_rm_rf(moved);
}
END_TEST

static int run_argv(const char *const *argv)
{
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A data dir of its own: the catalogue, and docker/mvfst without any tarball. */
static void scratch_data(const char *root)
{
	char from[1024], to[1024];

	for (int i = 0; i < 2; i++) {
		const char *sub = i ? "templates" : "version_configs";

		snprintf(from, sizeof(from), "%s/%s", src_root(), sub);
		ck_assert_int_eq(run_argv((const char *const[]){ "cp", "-r", from, root, NULL }), 0);
	}
	snprintf(to, sizeof(to), "%s/docker/mvfst/sources", root);
	ck_assert_int_eq(pfs_mkdir_p(to, 0755), 0);
	snprintf(to, sizeof(to), "%s/docker/mvfst", root);
	for (int i = 0; i < 4; i++) {
		static const char *const files[] = { "Dockerfile", ".dockerignore", "patches", "sources/README" };

		snprintf(from, sizeof(from), "%s/docker/mvfst/%s", src_root(), files[i]);
		snprintf(to, sizeof(to), "%s/docker/mvfst/%s", root, files[i]);
		ck_assert_int_eq(run_argv((const char *const[]){ "cp", "-r", from, to, NULL }), 0);
	}
}

/* The default sources dir is the data dir's: another version's tarball there changes nothing. */
START_TEST(default_sources_dir_is_the_data_dirs)
{
	char root[] = "/tmp/pfs-data-XXXXXX", sdir[256], h29[65], h9[65], h[65];
	struct pins d29 = { .version = "draft29" };
	struct catalog *c;

	ck_assert_ptr_nonnull(mkdtemp(root));
	scratch_data(root);
	snprintf(sdir, sizeof(sdir), "%s/docker/mvfst/sources", root);
	c = catalog_with_sources(root, NULL);
	ck_assert_str_eq(cat_impl_sources_dir(catalog_find_impl(c, "mvfst")), sdir);
	read_pins(c, &d29);
	hash_of(c, "draft29", h29);
	hash_of(c, "rfc9000", h9);
	put_tarball(sdir, "mvfst", d29.commits[0], "mvfst at draft29's pin");
	hash_of(c, "rfc9000", h);
	ck_assert_str_eq(h, h9);
	hash_of(c, "draft29", h);
	ck_assert_str_ne(h, h29);
	/* a stray file there (not a tarball of a pin) is in no image */
	put_tarball(sdir, "folly", "notes", "not a pin");
	hash_of(c, "rfc9000", h);
	ck_assert_str_eq(h, h9);
	catalog_free(c);
	pfs_rm_rf(root);
}
END_TEST

/* ---- the build request ---------------------------------------------------------- */

static const char build_fail[] =
	"{\"errorDetail\":{\"message\":\"stopped by the test\"},\"error\":\"stopped by the test\"}\n";
static const struct fake_route build_routes[] = {
	{ "POST /v1.41/build", 200, NULL, build_fail, 0, FAKE_NORMAL, 0 },
};

struct done {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void on_line(void *ud, const char *t, size_t n)
{
	(void)ud;
	(void)t;
	(void)n;
}

static void on_done(void *ud, const struct docker_result *r, const char *id)
{
	struct done *d = ud;

	(void)r;
	(void)id;
	pthread_mutex_lock(&d->lock);
	d->done = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* "name=content|" for every entry under sources/ of the tar in body. */
static char *sources_in(const char *body, size_t len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct pfs_buf b = PFS_BUF_INIT(1 << 20);

	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_memory(a, body, len), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		char data[256] = "";
		la_ssize_t n;

		if (strncmp(name, "sources/", 8) || !strcmp(name, "sources/"))
			continue;
		n = archive_read_data(a, data, sizeof(data) - 1);
		if (n > 0)
			data[n] = '\0';
		if (!strcmp(name, "sources/README"))
			snprintf(data, sizeof(data), "(readme)");
		pfs_buf_printf(&b, "%s=%s|", name, data);
	}
	archive_read_free(a);
	return pfs_buf_steal(&b, NULL);
}

START_TEST(build_request_carries_only_its_own_tarballs)
{
	char dir[] = "/tmp/pfs-src-XXXXXX", want[2048];
	struct pins d29 = { .version = "draft29" }, r9 = { .version = "rfc9000" };
	struct done d = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
	struct docker_build_cbs cbs = { .on_line = on_line, .on_done = on_done, .ud = &d };
	struct docker_client_opts o = { .timeout_ms = 5000 };
	struct docker_client *dc = NULL;
	struct fakehttp *f = NULL;
	struct docker_call *call;
	struct catalog *c;
	struct pfs_config *cfg;
	struct image_plan p;
	struct pfs_err err = { 0 };
	struct timespec deadline;
	size_t blen = 0, k = 0;
	char *body, *got;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	c = catalog_with_sources(src_root(), dir);
	read_pins(c, &d29);
	read_pins(c, &r9);
	for (size_t i = 0; i < d29.n; i++)
		put_tarball(dir, d29.names[i], d29.commits[i], d29.names[i]);
	for (size_t i = 0; i < r9.n; i++)
		put_tarball(dir, r9.names[i], r9.commits[i], "rfc9000's");

	ck_assert_int_eq(fakehttp_start(build_routes, 1, "1.41", &f), 0);
	o.host = fakehttp_host(f);
	ck_assert_int_eq(docker_client_new(&o, &dc, &err), 0);
	cfg = plan(c, "draft29", NULL);
	ck_assert_int_eq(image_plan_compute(&cfg->svc[0], &p, &err), 0);
	call = image_build(dc, &cfg->svc[0], &p, false, &cbs, &err);
	ck_assert_msg(call != NULL, "%s", err.msg);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 30;
	pthread_mutex_lock(&d.lock);
	while (!d.done && pthread_cond_timedwait(&d.cond, &d.lock, &deadline) == 0)
		;
	pthread_mutex_unlock(&d.lock);
	ck_assert_msg(d.done, "the build did not end within 30 s");
	docker_call_unref(call);

	body = fakehttp_last_body(f, "POST /v1.41/build", &blen);
	ck_assert_ptr_nonnull(body);
	got = sources_in(body, blen);
	/* sorted by name: README, then draft29's three; none of rfc9000's */
	k += (size_t)snprintf(want + k, sizeof(want) - k, "sources/README=(readme)|");
	k += (size_t)snprintf(want + k, sizeof(want) - k, "sources/fizz-%s.tar.gz=fizz|", d29.commits[2]);
	k += (size_t)snprintf(want + k, sizeof(want) - k, "sources/folly-%s.tar.gz=folly|", d29.commits[1]);
	snprintf(want + k, sizeof(want) - k, "sources/mvfst-%s.tar.gz=mvfst|", d29.commits[0]);
	ck_assert_str_eq(got, want);
	free(got);
	free(body);
	/* for the image of that hash */
	snprintf(want, sizeof(want), "POST /v1.41/build?t=pantherfs%%2Fmvfst%%3Adraft29-%.12s&", p.hash);
	ck_assert_int_eq(fakehttp_count(f, want), 1);

	config_free(cfg);
	docker_client_free(dc);
	fakehttp_stop(f);
	catalog_free(c);
	pfs_rm_rf(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sources");
	TCase *t = tcase_create("sources");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, found_by_name_and_commit);
	tcase_add_test(t, prebuilt_images_have_no_sources);
	tcase_add_test(t, a_missing_sources_dir_is_refused);
	tcase_add_test(t, each_version_hashes_its_own_tarballs);
	tcase_add_test(t, default_sources_dir_is_the_data_dirs);
	tcase_add_test(t, build_request_carries_only_its_own_tarballs);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
