/* SPDX-License-Identifier: MIT */
/*
 * The catalogue, configuration plans and rendering, at the level of the
 * structures the orchestrator uses (the text of `check` and `render` is
 * covered by tests/unit/golden.sh). The shipped catalogue is loaded from the
 * source tree; broken catalogues are written to temporary data dirs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pfs_check.h"
#include "pantherfs/catalog.h"
#include "pantherfs/certs.h"
#include "pantherfs/config.h"
#include "pantherfs/render.h"
#include "pantherfs/util.h"

static struct catalog *shipped(void)
{
	const char *src = getenv("PFS_SOURCE_DIR");
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };

	ck_assert_msg(catalog_load(src ? src : ".", &c, &err) == 0, "%s", err.msg);
	return c;
}

static struct pfs_config *load(struct catalog *c, const char *text, struct cfg_report *rep)
{
	struct pfs_config *cfg = NULL;
	int r = config_load(c, "config.yaml", text, strlen(text), &cfg, rep);

	ck_assert_msg(r == 0, "%s", rep->n_errors ? rep->errors[0] : "?");
	return cfg;
}

static const char *arg(const struct cfg_service *s, const char *key)
{
	for (size_t i = 0; s->image.args && s->image.args[i] && s->image.args[i + 1]; i += 2)
		if (!strcmp(s->image.args[i], key))
			return s->image.args[i + 1];
	return NULL;
}

/* ---- the shipped catalogue ----------------------------------------------------- */

START_TEST(shipped_catalogue_loads)
{
	struct catalog *c = shipped();
	const struct cat_impl *m = catalog_find_impl(c, "quic/mvfst"), *n = catalog_find_impl(c, "ngtcp2");
	static const char *const versions[] = { "rfc9000", "draft29", "draft27", "draft27-vuln1", "draft27-vuln2" };
	size_t len = 0;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(n);
	ck_assert_ptr_eq(m, catalog_find_impl(c, "mvfst"));
	ck_assert_ptr_null(catalog_find_impl(c, "picoquic"));
	ck_assert_str_eq(catalog_impl_names(c), "mvfst, ngtcp2");
	ck_assert_uint_eq(cat_impl_n_versions(m), 5);
	for (size_t i = 0; i < 5; i++)
		ck_assert_str_eq(cat_version_name(cat_impl_version_at(m, i)), versions[i]);
	ck_assert_str_eq(cat_impl_default_version(m), "rfc9000");
	ck_assert_ptr_nonnull(cat_version_text(cat_impl_find_version(m, "draft29"), &len));
	ck_assert_uint_gt(len, 100);
	/* every program of every version runs by absolute path, and its template exists */
	for (size_t i = 0; i < catalog_n_impls(c); i++) {
		const struct cat_impl *im = catalog_impl_at(c, i);

		for (size_t k = 0; k < cat_impl_n_versions(im); k++) {
			json_t *progs = json_object_get(cat_version_json(cat_impl_version_at(im, k)), "programs"), *p;
			const char *name;

			json_object_foreach(progs, name, p) {
				char rel[256];

				ck_assert_int_eq(json_string_value(json_object_get(p, "path"))[0], '/');
				snprintf(rel, sizeof(rel), "%s/%s", cat_impl_name(im),
					 json_string_value(json_object_get(p, "template")));
				ck_assert_msg(catalog_template(c, rel) != NULL, "%s", rel);
			}
		}
	}
	ck_assert_ptr_nonnull(catalog_template(c, "wrappers/gdb.jinja"));
	catalog_free(c);
}
END_TEST

/* ---- broken catalogues ------------------------------------------------------------ */

struct file {
	const char *path, *text;
};

static const char impl_ok[] =
	"name: demo\ndescription: d\ndefault_version: v1\nversions: [v1]\ndefault_program: srv\n"
	"keys:\n  server_port:\n    srv: {template: port}\n";
static const char ver_ok[] =
	"version: v1\ndescription: d\nprograms:\n  srv:\n    path: /bin/srv\n    roles: [server, client]\n"
	"    template: srv.jinja\n    flags: {port: int}\n";

static int load_broken(const struct file *files, size_t n, struct pfs_err *err)
{
	char dir[] = "/tmp/pfs-cat-XXXXXX";
	struct catalog *c = NULL;
	int r;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (size_t i = 0; i < n; i++) {
		char path[512], *slash;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i].path);
		slash = strrchr(path, '/');
		*slash = '\0';
		ck_assert_int_eq(pfs_mkdir_p(path, 0755), 0);
		*slash = '/';
		ck_assert_int_eq(pfs_write_file_atomic(path, files[i].text, strlen(files[i].text)), 0);
	}
	r = catalog_load(dir, &c, err);
	catalog_free(c);
	pfs_rm_rf(dir);
	return r;
}

START_TEST(minimal_catalogue_loads)
{
	struct file f[] = { { "version_configs/demo/implementation.yaml", impl_ok },
			    { "version_configs/demo/v1.yaml", ver_ok },
			    { "templates/demo/srv.jinja", "{{ program.path }} {{ port }}" } };
	struct pfs_err err = { 0 };

	ck_assert_msg(load_broken(f, 3, &err) == 0, "%s", err.msg);
}
END_TEST

START_TEST(broken_catalogues_are_named)
{
	static const struct {
		const char *impl, *ver, *tmpl, *extra_path, *msg;
		int code;
	} cases[] = {
		{ impl_ok, NULL, "x", NULL,
		  "version_configs/demo/v1.yaml: listed in implementation.yaml but missing", -EINVAL },
		{ impl_ok,
		  "version: v1\ndescription: d\nprograms:\n  srv:\n    path: srv\n    roles: [server]\n"
		  "    template: srv.jinja\n    flags: {}\n",
		  "x", NULL,
		  "version_configs/demo/v1.yaml:5:11: programs.srv: path must be absolute (a bare program name may be a shell builtin)",
		  -EINVAL },
		{ impl_ok,
		  "version: v1\ndescription: d\nprograms:\n  srv:\n    path: /srv\n    roles: [server]\n"
		  "    template: other.jinja\n    flags: {}\n",
		  "x", NULL, "version_configs/demo/v1.yaml:7:15: programs.srv: no template templates/demo/other.jinja",
		  -EINVAL },
		{ impl_ok,
		  "version: v1\ndescription: d\nprograms:\n  srv:\n    path: /srv\n    roles: [server]\n"
		  "    template: srv.jinja\n    flags: {port: integer}\n",
		  "x", NULL,
		  "version_configs/demo/v1.yaml:8:19: programs.srv: flag port: type must be int, bool, string, size, double or switch",
		  -EINVAL },
		{ impl_ok, ver_ok, "x", "version_configs/demo/v2.yaml",
		  "version_configs/demo/v2.yaml: not listed in implementation.yaml's versions", -EINVAL },
		{ "name: demo\ndescription: d\ndefault_version: v9\nversions: [v1]\ndefault_program: srv\nkeys: {}\n",
		  ver_ok, "x", NULL, "version_configs/demo/implementation.yaml:3:18: default_version: \"v9\" is not in versions",
		  -EINVAL },
		{ "name: demo\ndescription: d\ndefault_version: v1\nversions: [v1]\ndefault_program: srv\n"
		  "keys:\n  server_port:\n    svr: port\n",
		  ver_ok, "x", NULL,
		  "version_configs/demo/implementation.yaml:8:10: keys: server_port: no version has a program \"svr\"",
		  -EINVAL },
	};

	for (size_t i = 0; i < PFS_ARRAY_SIZE(cases); i++) {
		struct file f[4] = { { "version_configs/demo/implementation.yaml", cases[i].impl },
				     { "templates/demo/srv.jinja", cases[i].tmpl } };
		struct pfs_err err = { 0 };
		size_t n = 2;

		if (cases[i].ver)
			f[n++] = (struct file){ "version_configs/demo/v1.yaml", cases[i].ver };
		if (cases[i].extra_path)
			f[n++] = (struct file){ cases[i].extra_path, ver_ok };
		ck_assert_int_eq(load_broken(f, n, &err), cases[i].code);
		ck_assert_msg(!strcmp(err.msg, cases[i].msg), "case %zu: %s", i, err.msg);
	}
}
END_TEST

START_TEST(bad_template_is_refused_at_load)
{
	struct file f[] = { { "version_configs/demo/implementation.yaml", impl_ok },
			    { "version_configs/demo/v1.yaml", ver_ok },
			    { "templates/demo/srv.jinja", "{{ program.path }}\n{% if port %}--port{% endfor %}" } };
	struct pfs_err err = { 0 };

	ck_assert_int_eq(load_broken(f, 3, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "templates/demo/srv.jinja:2") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(no_data_dir)
{
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };

	ck_assert_int_eq(catalog_load("/nonexistent/pantherfs-data", &c, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "data dir /nonexistent/pantherfs-data: cannot read version_configs/: No such file or directory");
}
END_TEST

/* ---- plans ---------------------------------------------------------------------------- */

static const char echo_pair[] =
	"services:\n"
	"  srv:\n    implementation: {name: mvfst}\n    protocol: {role: server}\n"
	"    environment: {GLOG_minloglevel: 0, N: 3}\n"
	"  cli:\n    timeout: 45\n    implementation: {name: mvfst}\n    protocol: {role: client, target: srv}\n"
	"    config: {messages: [ping, pong]}\n    environment: [\"A=1\", \"B=x=y\"]\n";

START_TEST(echo_client_is_judged_by_lines)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg = load(c, echo_pair, &rep);
	const struct cfg_service *srv = config_find_service(cfg, "srv"), *cli = config_find_service(cfg, "cli");

	ck_assert_uint_eq(cfg->n_svc, 2);
	ck_assert_uint_eq(cfg->n_clients, 1);
	ck_assert_ptr_eq(&cfg->svc[0], srv); /* servers first */
	ck_assert_int_eq(srv->role, CFG_SERVER);
	ck_assert_int_eq(srv->port, 6666);
	ck_assert_int_eq(cli->port, 6666);
	ck_assert_str_eq(cli->target, "srv");
	ck_assert_int_eq(cli->timeout_s, 45);
	ck_assert_int_eq(srv->timeout_s, CONFIG_DEFAULT_TIMEOUT);
	ck_assert_int_eq(cfg->timeout_s, 60);
	ck_assert_str_eq(cli->program_path, "/opt/mvfst/bin/echo");
	/* rfc9000's echo client never exits: its echoes decide, then it is stopped */
	ck_assert(!cli->success.exit_code);
	ck_assert(cli->success.finish_on_lines);
	ck_assert_str_eq(cli->success.lines[0], "Client received data=echo ping");
	ck_assert_str_eq(cli->success.lines[1], "Client received data=echo pong");
	ck_assert_ptr_null(cli->success.lines[2]);
	ck_assert_str_eq(srv->env[0], "GLOG_minloglevel=0");
	ck_assert_str_eq(srv->env[1], "N=3");
	ck_assert_str_eq(cli->env[0], "A=1");
	ck_assert_str_eq(cli->env[1], "B=x=y");
	ck_assert(!srv->gen_certs); /* mvfst has a built-in test certificate */
	ck_assert_str_eq(arg(srv, "MVFST_COMMIT"), "3a0e6de005ad818f794fcf7544fed4c4e380db88");
	ck_assert_str_eq(srv->image.repo, "pantherfs/mvfst");
	ck_assert_str_eq(srv->image.tag_prefix, "rfc9000");
	ck_assert_ptr_nonnull(strstr(srv->image.context_dir, "/docker/mvfst"));
	config_free(cfg);
	cfg_report_free(&rep);

	/* draft29's client exits 0 at the end of its input: exit code and lines */
	cfg = load(c, "services:\n  s: {implementation: {name: mvfst, version: draft29}, protocol: {role: server}}\n"
		      "  k: {implementation: {name: mvfst, version: draft29}, protocol: {role: client, target: s}}\n", &rep);
	cli = config_find_service(cfg, "k");
	ck_assert(cli->success.exit_code);
	ck_assert(!cli->success.finish_on_lines);
	ck_assert_str_eq(cli->success.lines[0], "Client received data=echo hello");
	ck_assert_str_eq(cli->success.lines[1], "Client received data=echo world");
	config_free(cfg);
	cfg_report_free(&rep);
	catalog_free(c);
}
END_TEST

START_TEST(ngtcp2_certificates)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg;
	const struct cfg_service *s;
	struct pfs_buf line = PFS_BUF_INIT(65536);
	struct pfs_err err = { 0 };

	cfg = load(c, "services:\n  s: {implementation: {name: ngtcp2}, protocol: {role: server}}\n"
		      "  k: {implementation: {name: ngtcp2}, protocol: {role: client, target: s}}\n", &rep);
	s = config_find_service(cfg, "s");
	ck_assert(s->gen_certs);
	ck_assert_int_eq(s->port, 4433);
	ck_assert(config_find_service(cfg, "k")->success.exit_code);
	ck_assert_ptr_null(config_find_service(cfg, "k")->success.lines[0]);
	config_free(cfg);
	cfg_report_free(&rep);

	/* named files: no generated pair, and the command uses the paths given */
	cfg = load(c, "services:\n  s:\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n"
		      "    config: {certificate_file: /etc/my/cert.pem, private_key_file: /etc/my/key.pem}\n", &rep);
	s = config_find_service(cfg, "s");
	ck_assert(!s->gen_certs);
	ck_assert_int_eq(render_command(c, cfg, s, NULL, &line, &err), 0);
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&line), " 0.0.0.0 4433 /etc/my/key.pem /etc/my/cert.pem"));
	pfs_buf_free(&line);
	config_free(cfg);
	cfg_report_free(&rep);
	catalog_free(c);
}
END_TEST

START_TEST(render_placeholder_then_address)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg = load(c, echo_pair, &rep);
	const struct cfg_service *cli = config_find_service(cfg, "cli");
	struct pfs_buf a = PFS_BUF_INIT(65536), b = PFS_BUF_INIT(65536);
	struct pfs_err err = { 0 };
	json_t *addr = json_pack("{s:s}", "srv", "10.9.8.7");

	ck_assert_int_eq(render_command(c, cfg, cli, NULL, &a, &err), 0);
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&a), "--host='<address of srv>' --port=6666"));
	ck_assert_int_eq(render_command(c, cfg, cli, addr, &b, &err), 0);
	ck_assert_str_eq(pfs_buf_str(&b), "( printf '%s\\n' ping pong; sleep 1; echo /close ) | "
					  "/opt/mvfst/bin/echo --mode=client --host=10.9.8.7 --port=6666");
	json_decref(addr);
	pfs_buf_free(&a);
	pfs_buf_free(&b);
	config_free(cfg);
	cfg_report_free(&rep);
	catalog_free(c);
}
END_TEST

START_TEST(render_errors_name_the_template)
{
	struct file f[] = { { "version_configs/demo/implementation.yaml", impl_ok },
			    { "version_configs/demo/v1.yaml", ver_ok },
			    { "templates/demo/srv.jinja", "{{ program.path }} --port={{ port }}\n{{ certificates.cert_param }}" } };
	char dir[] = "/tmp/pfs-cat-XXXXXX";
	struct catalog *c = NULL;
	struct cfg_report rep;
	struct pfs_config *cfg;
	struct pfs_buf out = PFS_BUF_INIT(4096);
	struct pfs_err err = { 0 };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (size_t i = 0; i < 3; i++) {
		char path[512], *slash;

		snprintf(path, sizeof(path), "%s/%s", dir, f[i].path);
		slash = strrchr(path, '/');
		*slash = '\0';
		pfs_mkdir_p(path, 0755);
		*slash = '/';
		pfs_write_file_atomic(path, f[i].text, strlen(f[i].text));
	}
	ck_assert_int_eq(catalog_load(dir, &c, &err), 0);
	cfg = load(c, "services:\n  s: {implementation: {name: demo}, protocol: {role: server}}\n", &rep);
	/* PANTHER's templates lost certificate flags this way: here it is an error */
	ck_assert_int_eq(render_command(c, cfg, &cfg->svc[0], NULL, &out, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "templates/demo/srv.jinja:2") && strstr(err.msg, "certificates"), "%s", err.msg);
	config_free(cfg);
	cfg_report_free(&rep);
	catalog_free(c);
	pfs_buf_free(&out);
	pfs_rm_rf(dir);
}
END_TEST

START_TEST(test_timeout_and_execution_environments)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg;

	cfg = load(c, "timeout: 15\nexecution_environment: [{type: strace}, {type: gdb}]\n"
		      "services:\n  s: {timeout: 90, implementation: {name: ngtcp2}, protocol: {role: server}}\n", &rep);
	ck_assert_int_eq(cfg->timeout_s, 15);
	ck_assert_str_eq(cfg->exec_envs[0], "strace");
	ck_assert_str_eq(cfg->exec_envs[1], "gdb");
	ck_assert_ptr_null(cfg->exec_envs[2]);
	ck_assert_uint_eq(cfg->n_clients, 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(cfg->summary, "services"), "s"), "program")),
			 "gtlsserver");
	config_free(cfg);
	cfg_report_free(&rep);
	catalog_free(c);
}
END_TEST

START_TEST(too_big_and_binary)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg = NULL;
	size_t n = CONFIG_MAX_BYTES + 1;
	char *big = malloc(n);

	memset(big, '#', n);
	ck_assert_int_eq(config_load(c, "config.yaml", big, n, &cfg, &rep), -EFBIG);
	ck_assert_str_eq(rep.errors[0], "config.yaml: larger than 1 MiB (1048577 bytes)");
	ck_assert_ptr_null(cfg);
	cfg_report_free(&rep);
	ck_assert_int_eq(config_load(c, "config.yaml", "services:\n  \x01: x\n", 15, &cfg, &rep), -EINVAL);
	ck_assert_uint_eq(rep.n_errors, 1);
	cfg_report_free(&rep);
	free(big);
	catalog_free(c);
}
END_TEST

START_TEST(generated_certificates_verify)
{
	char dir[] = "/tmp/pfs-certs-XXXXXX", path[300];
	struct pfs_err err = { 0 };
	EVP_PKEY *key;
	X509 *crt;
	FILE *f;
	char cn[64];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_msg(certs_generate(dir, "server", &err) == 0, "%s", err.msg);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	crt = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(crt);
	/* self-signed by that key, for the name asked, valid now */
	ck_assert_int_eq(X509_verify(crt, key), 1);
	ck_assert_int_eq(X509_check_private_key(crt, key), 1);
	X509_NAME_get_text_by_NID(X509_get_subject_name(crt), NID_commonName, cn, sizeof(cn));
	ck_assert_str_eq(cn, "server");
	ck_assert_int_eq(X509_check_host(crt, "server", 0, 0, NULL), 1);
	ck_assert_int_lt(X509_cmp_current_time(X509_get0_notBefore(crt)), 0);
	ck_assert_int_gt(X509_cmp_current_time(X509_get0_notAfter(crt)), 0);
	X509_free(crt);
	EVP_PKEY_free(key);
	/* a second pair is a different key */
	ck_assert_int_eq(certs_generate(dir, "server", &err), 0);
	ck_assert_int_eq(certs_generate("/nonexistent/dir", "x", &err), -ENOENT);
	pfs_rm_rf(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("config");
	TCase *t = tcase_create("catalogue");

	tcase_set_timeout(t, 30);
	tcase_add_test(t, shipped_catalogue_loads);
	tcase_add_test(t, minimal_catalogue_loads);
	tcase_add_test(t, broken_catalogues_are_named);
	tcase_add_test(t, bad_template_is_refused_at_load);
	tcase_add_test(t, no_data_dir);
	suite_add_tcase(s, t);
	t = tcase_create("plans");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, echo_client_is_judged_by_lines);
	tcase_add_test(t, ngtcp2_certificates);
	tcase_add_test(t, render_placeholder_then_address);
	tcase_add_test(t, render_errors_name_the_template);
	tcase_add_test(t, test_timeout_and_execution_environments);
	tcase_add_test(t, too_big_and_binary);
	tcase_add_test(t, generated_certificates_verify);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
