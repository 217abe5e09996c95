/* SPDX-License-Identifier: MIT */
/*
 * Images from the catalogue through pantherfs's own Docker client, against
 * the real engine:
 *  - the ngtcp2 image is built (or found by its content hash), a server and a
 *    client run the commands pantherfs renders on one network, and the
 *    client's QUIC download is compared byte for byte, on the host, with the
 *    file the server serves;
 *  - the mvfst image's build request carries the version's pinned commits
 *    and, with the repositories at http://127.0.0.1:9/ (the discard port,
 *    refused on every machine) and an empty sources dir, fails within
 *    seconds with git's own reason in the error, not a hang: the same on a
 *    machine that reaches GitHub and on one that does not;
 *  - a build context made by image_build() reaches the engine with the
 *    version's own source tarballs, though .dockerignore keeps the sources
 *    folder out (a scratch data dir whose mvfst Dockerfile lists them).
 * Containers and networks carry pantherfs.testrun=<id> and are swept by an
 * unchecked teardown, as is the scratch image. The ngtcp2 image stays: it is
 * pantherfs's image cache.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pfs_check.h"
#include "itest.h"
#include "pantherfs/catalog.h"
#include "pantherfs/certs.h"
#include "pantherfs/config.h"
#include "pantherfs/docker.h"
#include "pantherfs/image.h"
#include "pantherfs/render.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static char run_value[48], run_label[80];

static struct docker_client *new_client(void)
{
	struct docker_client_opts o = { .timeout_ms = 60000 };
	struct docker_client *c = NULL;

	ck_assert_int_eq(docker_client_new(&o, &c, NULL), 0);
	return c;
}

static void sweep(void)
{
	struct docker_client *c = itest_client(60000);

	if (!c)
		return;
	itest_sweep_label(c, run_label);
	docker_client_free(c);
}

static struct catalog *shipped(void)
{
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };

	ck_assert_msg(catalog_load(getenv("PFS_SOURCE_DIR"), &c, &err) == 0, "%s", err.msg);
	return c;
}

static struct pfs_config *plan(struct catalog *cat, const char *text)
{
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;

	ck_assert_msg(config_load(cat, "config.yaml", text, strlen(text), &cfg, &rep) == 0, "%s",
		      rep.n_errors ? rep.errors[0] : "");
	cfg_report_release(&rep);
	return cfg;
}

/* ---- building ----------------------------------------------------------------------- */

struct build_wait {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
	int err;
	int steps_seen;
	char msg[PFS_ERR_MSG_MAX];
	struct pfs_buf log;
};

static void bw_line(void *ud, const char *t, size_t n)
{
	struct build_wait *b = ud;

	pthread_mutex_lock(&b->m);
	pfs_buf_add(&b->log, t, n);
	pfs_buf_addc(&b->log, '\n');
	pthread_mutex_unlock(&b->m);
}

static void bw_step(void *ud, int step, int steps)
{
	struct build_wait *b = ud;

	(void)steps;
	pthread_mutex_lock(&b->m);
	b->steps_seen = step;
	pthread_mutex_unlock(&b->m);
}

static void bw_done(void *ud, const struct docker_result *r, const char *id)
{
	struct build_wait *b = ud;

	(void)id;
	pthread_mutex_lock(&b->m);
	b->err = r->err;
	snprintf(b->msg, sizeof(b->msg), "%s", r->message);
	b->done = true;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->m);
}

/* Builds s's image; returns the build's error. Fails the test past `bound` seconds. */
static int build(struct docker_client *c, const struct cfg_service *s, const struct image_plan *p,
		 struct build_wait *b, int bound)
{
	struct docker_build_cbs cbs = { .on_line = bw_line, .on_step = bw_step, .on_done = bw_done, .ud = b };
	struct pfs_err err = { 0 };
	struct docker_call *call;
	struct timespec dl;

	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->m, NULL);
	pthread_cond_init(&b->cv, NULL);
	pfs_buf_init(&b->log, 16u << 20);
	call = image_build(c, s, p, false, &cbs, &err);
	ck_assert_msg(call != NULL, "%s", err.msg);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += bound;
	pthread_mutex_lock(&b->m);
	while (!b->done)
		if (pthread_cond_timedwait(&b->cv, &b->m, &dl) == ETIMEDOUT)
			break;
	bool done = b->done;
	pthread_mutex_unlock(&b->m);
	if (!done) {
		docker_call_cancel(call);
		pthread_mutex_lock(&b->m);
		while (!b->done)
			pthread_cond_wait(&b->cv, &b->m);
		pthread_mutex_unlock(&b->m);
	}
	docker_call_unref(call);
	ck_assert_msg(done, "the build of %s did not end within %d s", p->ref, bound);
	return b->err;
}

static const char ngtcp2_pair[] =
	"services:\n"
	"  server:\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n"
	"  client:\n    implementation: {name: ngtcp2}\n    protocol: {role: client, target: server}\n"
	"    config: {download: 1M}\n";

static char *start(struct docker_client *c, const char *image, const char *cmd, const char *net,
		   const char *alias, const char *const *binds)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };
	const char *aliases[] = { alias, NULL };
	const char *labels[] = { "pantherfs.testrun", run_value, NULL };
	struct docker_container_spec sp = { .image = image, .cmd = argv, .labels = labels, .network = net,
					    .aliases = aliases, .binds = binds };
	struct pfs_err err = { 0 };
	char *id = NULL;

	ck_assert_msg(docker_container_create(c, &sp, &id, &err) == 0, "%s", err.msg);
	ck_assert_msg(docker_container_start(c, id, &err) == 0, "%s", err.msg);
	return id;
}

START_TEST(ngtcp2_download_byte_for_byte)
{
	struct catalog *cat = shipped();
	struct pfs_config *cfg = plan(cat, ngtcp2_pair);
	const struct cfg_service *srv = config_find_service(cfg, "server"), *cli = config_find_service(cfg, "client");
	struct docker_client *c = new_client();
	const char *labels[] = { "pantherfs.testrun", run_value, NULL };
	char tmp[] = "/tmp/pfs-images-XXXXXX", certs[300], dl[300], bind_certs[400], bind_dl[400], net[96];
	struct pfs_buf cmd = PFS_BUF_INIT(65536), ccmd = PFS_BUF_INIT(65536);
	struct pfs_buf want = PFS_BUF_INIT(4u << 20), got = PFS_BUF_INIT(4u << 20), log = PFS_BUF_INIT(65536);
	struct pfs_err err = { 0 };
	struct image_plan p, p2;
	struct build_wait b;
	json_t *j = NULL, *addr;
	char ip[64], *netid = NULL, *sid, *cid, *kid, path[400], hex[65];
	int code = -1;

	/* the same plan twice gives the same name; the client shares the server's image */
	ck_assert_int_eq(image_plan_compute(srv, &p, &err), 0);
	ck_assert_int_eq(image_plan_compute(cli, &p2, &err), 0);
	ck_assert_str_eq(p.ref, p2.ref);
	ck_assert_int_eq(strncmp(p.ref, "pantherfs/ngtcp2:rfc9000-", 25), 0);
	if (docker_image_inspect(c, p.ref, &j, &err) == 0) {
		json_decref(j);
	} else {
		ck_assert_msg(build(c, srv, &p, &b, 900) == 0, "ngtcp2 image: %s\n%s", b.msg, pfs_buf_str(&b.log));
		ck_assert_int_gt(b.steps_seen, 1);
		pfs_buf_release(&b.log);
	}
	ck_assert_int_eq(docker_image_inspect(c, p.ref, &j, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(j, "Config"), "Labels"),
							   "pantherfs.build-hash")), p.hash);
	json_decref(j);

	/* a network, a generated key pair, the server */
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(certs, sizeof(certs), "%s/certs", tmp);
	snprintf(dl, sizeof(dl), "%s/download", tmp);
	ck_assert_int_eq(pfs_mkdir_p(certs, 0755), 0);
	ck_assert_int_eq(pfs_mkdir_p(dl, 0777), 0);
	chmod(dl, 0777);
	ck_assert(srv->gen_certs);
	ck_assert_msg(certs_generate(certs, "server", &err) == 0, "%s", err.msg);
	snprintf(net, sizeof(net), "pantherfs-test-%s", run_value);
	ck_assert_int_eq(docker_network_create(c, net, labels, false, &netid, &err), 0);
	ck_assert_int_eq(render_command(cat, cfg, srv, NULL, &cmd, &err), 0);
	snprintf(bind_certs, sizeof(bind_certs), "%s:%s:ro", certs, CONFIG_CERTS_DIR);
	sid = start(c, p.ref, pfs_buf_str(&cmd), net, "server", (const char *[]){ bind_certs, NULL });
	ck_assert_int_eq(docker_container_inspect(c, sid, &j, &err), 0);
	ck_assert_int_eq(docker_inspect_ip(j, net, ip, sizeof(ip)), 0);
	json_decref(j);

	/* the client, with the server's address rendered in; its download dir is ours */
	addr = json_pack("{s:s}", "server", ip);
	ck_assert_int_eq(render_command(cat, cfg, cli, addr, &ccmd, &err), 0);
	json_decref(addr);
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&ccmd), ip));
	snprintf(bind_dl, sizeof(bind_dl), "%s:/tmp/pantherfs-download", dl);
	usleep(500000); /* gtlsserver binds at once; the readiness probe is the orchestrator's */
	cid = start(c, p.ref, pfs_buf_str(&ccmd), net, "client", (const char *[]){ bind_dl, NULL });
	ck_assert_int_eq(docker_container_wait_sync(c, cid, 120000, &code, &err), 0);
	ck_assert_int_eq(docker_container_logs_sync(c, cid, false, &log, &log, &err), 0);
	ck_assert_msg(code == 0, "client exited %d: %s", code, pfs_buf_str(&log));
	/* the client's own check against the image's SHA256SUMS */
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&log), "1M: OK"));

	/* and ours: the bytes that reached the host against the served file's digest
	 * (logs are not binary-safe: the engine re-encodes invalid UTF-8) */
	snprintf(path, sizeof(path), "%s/1M", dl);
	ck_assert_int_eq(pfs_read_file(path, &got), 0);
	ck_assert_uint_eq(got.len, 1048576);
	pfs_sha256_hex(got.ptr, got.len, hex);
	kid = start(c, p.ref, "sha256sum /srv/pantherfs/www/1M", net, "cat", NULL);
	ck_assert_int_eq(docker_container_wait_sync(c, kid, 60000, &code, &err), 0);
	ck_assert_int_eq(docker_container_logs_sync(c, kid, false, &want, NULL, &err), 0);
	ck_assert_uint_ge(want.len, 64);
	ck_assert_msg(!strncmp(want.ptr, hex, 64), "served %.64s, received %s", want.ptr, hex);
	/* pseudo-random, not a run of one byte that any truncation could fake */
	ck_assert(memchr(got.ptr, got.ptr[0] ^ 0xff, got.len) != NULL);

	ck_assert_int_eq(docker_container_remove(c, kid, true, &err), 0);
	ck_assert_int_eq(docker_container_remove(c, cid, true, &err), 0);
	ck_assert_int_eq(docker_container_remove(c, sid, true, &err), 0);
	ck_assert_int_eq(docker_network_remove(c, netid, &err), 0);
	free(kid);
	free(cid);
	free(sid);
	free(netid);
	pfs_rm_rf(tmp);
	pfs_buf_release(&cmd);
	pfs_buf_release(&ccmd);
	pfs_buf_release(&want);
	pfs_buf_release(&got);
	pfs_buf_release(&log);
	docker_client_free(c);
	config_free(cfg);
	catalog_free(cat);
}
END_TEST

/* ---- mvfst when its sources cannot be fetched ------------------------------------------------ */

/* Repositories that refuse on any machine, for the source and every dependency of a version. */
static void refusing_repos(struct catalog *cat, const char *version, char *out, size_t n)
{
	const struct cat_version *v = cat_impl_find_version(catalog_find_impl(cat, "mvfst"), version);
	json_t *deps = json_object_get(cat_version_json(v), "dependencies"), *d;
	const char *name;
	size_t k = 0;

	k += (size_t)snprintf(out + k, n - k, "source_repository: 'http://127.0.0.1:9/mvfst.git', dependencies: {");
	json_object_foreach(deps, name, d) {
		(void)d;
		k += (size_t)snprintf(out + k, n - k, "%s: {repository: 'http://127.0.0.1:9/%s.git'}, ", name, name);
	}
	snprintf(out + k, n - k, "}");
	ck_assert_uint_lt(k, n - 1);
}

static void mvfst_build_fails_readably(const char *version, const char *commit, const char *base)
{
	char text[2048], repos[1024], nosrc[] = "/tmp/pfs-no-sources-XXXXXX";
	struct catalog *cat = shipped();
	struct pfs_config *cfg;
	struct docker_client *c = new_client();
	struct image_plan p;
	struct build_wait b;
	struct pfs_err err = { 0 };
	const char *log;
	json_t *j = NULL;
	uint64_t t0;
	int r;

	/* no tarball a developer keeps in the source tree's sources/ may be taken */
	ck_assert_ptr_nonnull(mkdtemp(nosrc));
	ck_assert_msg(catalog_set_sources_dir(cat, nosrc, &err) == 0, "%s", err.msg);
	refusing_repos(cat, version, repos, sizeof(repos));
	snprintf(text, sizeof(text),
		 "services:\n  s: {implementation: {name: mvfst, version: %s, %s}, protocol: {role: server}}\n",
		 version, repos);
	cfg = plan(cat, text);
	ck_assert_int_eq(image_plan_compute(&cfg->svc[0], &p, &err), 0);
	ck_assert_msg(docker_image_inspect(c, base, &j, &err) == 0, "base image %s missing", base);
	json_decref(j);
	t0 = pfs_now_ms();
	r = build(c, &cfg->svc[0], &p, &b, 600);
	log = pfs_buf_str(&b.log);
	/* the failure is the build's, with git's reason and ours in the log, and comes quickly */
	ck_assert_int_eq(r, -EIO);
	ck_assert_msg(strstr(b.msg, "returned a non-zero code"), "%s", b.msg);
	ck_assert_msg(strstr(log, "Failed to connect to 127.0.0.1 port 9"), "%s", log);
	ck_assert_msg(strstr(log, "pantherfs: cannot reach http://127.0.0.1:9/mvfst.git; for an offline build"), "%s", log);
	/* the request carried the version's pinned commit */
	ck_assert_msg(strstr(log, commit), "%s", log);
	ck_assert_uint_lt(pfs_now_ms() - t0, 300000);
	ck_assert_int_eq(docker_image_inspect(c, p.ref, &j, &err), -ENOENT);
	pfs_buf_release(&b.log);
	docker_client_free(c);
	config_free(cfg);
	catalog_free(cat);
	pfs_rm_rf(nosrc);
}

START_TEST(mvfst_rfc9000_build_fails_readably)
{
	mvfst_build_fails_readably("rfc9000", "3a0e6de005ad818f794fcf7544fed4c4e380db88", "debian:bookworm-slim");
}
END_TEST

START_TEST(mvfst_vuln1_build_fails_readably)
{
	mvfst_build_fails_readably("draft27-vuln1", "6624ad787f5e7225cc124ff8f3a68adcca9ae8a6", "debian:bullseye-slim");
}
END_TEST

/* ---- a version's tarballs reach the engine ------------------------------------------------- */

/*
 * The scratch image's name, written to a file before the build: the test
 * runs in a child process, the teardown that removes the image (even after a
 * failed test) in the parent.
 */
static void scratch_ref_file(char *out, size_t n)
{
	snprintf(out, n, "/tmp/pfs-images-%s.ref", run_value);
}

static void remove_scratch_image(void)
{
	struct pfs_buf ref = PFS_BUF_INIT(4096);
	struct docker_client *c;
	char file[128];

	scratch_ref_file(file, sizeof(file));
	if (pfs_read_file(file, &ref) == 0 && ref.len && (c = itest_client(60000))) {
		docker_image_remove(c, pfs_buf_str(&ref), true, NULL);
		docker_client_free(c);
	}
	unlink(file);
	pfs_buf_release(&ref);
}

static void put(const char *dir, const char *rel, const char *text)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	ck_assert_int_eq(pfs_write_file_atomic(path, text, strlen(text)), 0);
}

/*
 * The real docker/mvfst/.dockerignore and sources/README, with a Dockerfile
 * that only lists what reached it: image_build() must send the version's
 * tarballs although the ignore file keeps the folder's own out, and nothing
 * of another version's.
 */
START_TEST(a_versions_tarballs_reach_the_engine)
{
	static const char dockerfile[] =
		"FROM debian:bookworm-slim\n"
		"COPY sources/ /ctx/sources/\n"
		"RUN cd /ctx/sources && for f in *; do echo \"in context: $f: $(head -c 64 $f)\"; done\n";
	char root[] = "/tmp/pfs-images-data-XXXXXX", srcs[] = "/tmp/pfs-images-src-XXXXXX", path[1024];
	char want[512];
	struct docker_client *c = new_client();
	struct catalog *cat = NULL;
	struct pfs_config *cfg;
	struct image_plan p;
	struct build_wait b;
	struct pfs_err err = { 0 };
	const char *names[] = { "mvfst", "folly", "fizz" }, *log;
	const char *commits[3];
	json_t *deps;
	int r;

	ck_assert_ptr_nonnull(mkdtemp(root));
	ck_assert_ptr_nonnull(mkdtemp(srcs));
	for (int i = 0; i < 2; i++) {
		char from[1024];

		snprintf(from, sizeof(from), "%s/%s", getenv("PFS_SOURCE_DIR"), i ? "templates" : "version_configs");
		ck_assert_int_eq(run_argv((const char *const[]){ "cp", "-r", from, root, NULL }), 0);
	}
	snprintf(path, sizeof(path), "%s/docker/mvfst/sources", root);
	ck_assert_int_eq(pfs_mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/docker/mvfst", root);
	/* this run's own image: a run beside it builds another */
	snprintf(want, sizeof(want), "%s# check_images run %s\n", dockerfile, run_value);
	put(path, "Dockerfile", want);
	for (int i = 0; i < 2; i++) {
		char from[1024], to[1024];
		const char *rel = i ? "sources/README" : ".dockerignore";

		snprintf(from, sizeof(from), "%s/docker/mvfst/%s", getenv("PFS_SOURCE_DIR"), rel);
		snprintf(to, sizeof(to), "%s/%s", path, rel);
		ck_assert_int_eq(run_argv((const char *const[]){ "cp", from, to, NULL }), 0);
	}
	/* a stray file in the folder's own sources/: never in any context */
	put(path, "sources/stray-0.tar.gz", "stray");

	ck_assert_msg(catalog_load(root, &cat, &err) == 0, "%s", err.msg);
	ck_assert_msg(catalog_set_sources_dir(cat, srcs, &err) == 0, "%s", err.msg);
	cfg = plan(cat, "services:\n  s: {implementation: {name: mvfst, version: draft29}, protocol: {role: server}}\n");
	deps = json_object_get(cat_version_json(cfg->svc[0].version), "dependencies");
	commits[0] = json_string_value(json_object_get(json_object_get(cat_version_json(cfg->svc[0].version), "source"), "commit"));
	commits[1] = json_string_value(json_object_get(json_object_get(deps, "folly"), "commit"));
	commits[2] = json_string_value(json_object_get(json_object_get(deps, "fizz"), "commit"));
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s-%s.tar.gz", names[i], commits[i]);
		snprintf(want, sizeof(want), "%s of draft29", names[i]);
		put(srcs, path, want);
	}
	/* rfc9000's folly beside them */
	put(srcs, "folly-c73aad4e6efb7ddefb68ec32ae583b3d2851ca3d.tar.gz", "folly of rfc9000");

	ck_assert_int_eq(image_plan_compute(&cfg->svc[0], &p, &err), 0);
	scratch_ref_file(path, sizeof(path));
	ck_assert_int_eq(pfs_write_file_atomic(path, p.ref, strlen(p.ref)), 0);
	r = build(c, &cfg->svc[0], &p, &b, 600);
	log = pfs_buf_str(&b.log);
	ck_assert_msg(r == 0, "%s\n%s", b.msg, log);
	ck_assert_msg(strstr(log, "in context: README: "), "%s", log);
	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "in context: %s-%s.tar.gz: %s of draft29", names[i], commits[i], names[i]);
		ck_assert_msg(strstr(log, want), "no \"%s\" in\n%s", want, log);
	}
	ck_assert_msg(!strstr(log, "of rfc9000") && !strstr(log, "stray"), "%s", log);
	ck_assert_int_eq(docker_image_remove(c, p.ref, true, &err), 0);
	pfs_buf_release(&b.log);
	config_free(cfg);
	catalog_free(cat);
	docker_client_free(c);
	pfs_rm_rf(root);
	pfs_rm_rf(srcs);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("images");
	TCase *t = tcase_create("images");

	tcase_set_timeout(t, 1200);
	tcase_add_unchecked_fixture(t, sweep, sweep);
	tcase_add_unchecked_fixture(t, NULL, remove_scratch_image);
	tcase_add_test(t, ngtcp2_download_byte_for_byte);
	tcase_add_test(t, mvfst_rfc9000_build_fails_readably);
	tcase_add_test(t, mvfst_vuln1_build_fails_readably);
	tcase_add_test(t, a_versions_tarballs_reach_the_engine);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	int r;

	snprintf(run_value, sizeof(run_value), "%ld-%ld", (long)getpid(), (long)time(NULL));
	snprintf(run_label, sizeof(run_label), "pantherfs.testrun=%s", run_value);
	r = itest_docker_or_skip();
	if (r)
		return r;
	return pfs_check_run(suite());
}
