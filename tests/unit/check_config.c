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

static void refused(struct catalog *c, const char *text, const char *want);

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
		/* the rules for flags name flags of the program, with a reason */
		{ impl_ok,
		  "version: v1\ndescription: d\nprograms:\n  srv:\n    path: /srv\n    roles: [server]\n"
		  "    template: srv.jinja\n    flags: {port: int, cc: string}\n"
		  "    bad_values: {congestion: {ccp: {reason: none here}}}\n",
		  "x", NULL, "version_configs/demo/v1.yaml:9:30: programs.srv: bad_values: the program has no flag congestion",
		  -EINVAL },
		{ impl_ok,
		  "version: v1\ndescription: d\nprograms:\n  srv:\n    path: /srv\n    roles: [server]\n"
		  "    template: srv.jinja\n    flags: {port: int, cc: string}\n"
		  "    bad_values: {cc: {ccp: {fallback: cubic}}}\n",
		  "x", NULL, "version_configs/demo/v1.yaml:9:28: programs.srv: ccp: needs a reason (a string)", -EINVAL },
		{ impl_ok,
		  "version: v1\ndescription: d\nprograms:\n  srv:\n    path: /srv\n    roles: [server]\n"
		  "    template: srv.jinja\n    flags: {port: int, cc: string}\n"
		  "    value_needs: {cc: {bbr: {roles: [server], flags: {pacing: true}, reason: r}}}\n",
		  "x", NULL, "version_configs/demo/v1.yaml:9:54: programs.srv: bbr: pacing must be a flag of the program with one value",
		  -EINVAL },
		{ impl_ok,
		  "version: v1\ndescription: d\nprograms:\n  srv:\n    path: /srv\n    roles: [server]\n"
		  "    template: srv.jinja\n    flags: {port: int, cc: string}\n"
		  "    role_flags: {port: {reason: servers only}}\n",
		  "x", NULL, "version_configs/demo/v1.yaml:9:24: programs.srv: role_flags.port: needs the roles that take it",
		  -EINVAL },
		/* how servers get certificates, and keys for some roles only */
		{ "name: demo\ndescription: d\ndefault_version: v1\nversions: [v1]\ndefault_program: srv\n"
		  "certificates: sometimes\nkeys: {}\n",
		  ver_ok, "x", NULL,
		  "version_configs/demo/implementation.yaml:6:15: certificates: must be generate, optional or builtin",
		  -EINVAL },
		{ "name: demo\ndescription: d\ndefault_version: v1\nversions: [v1]\ndefault_program: srv\n"
		  "keys:\n  certificate_file:\n    srv: {flag: cert, roles: [server]}\n",
		  ver_ok, "x", NULL,
		  "version_configs/demo/implementation.yaml:8:10: keys: srv: needs a reason (a string)", -EINVAL },
		{ "name: demo\ndescription: d\ndefault_version: v1\nversions: [v1]\ndefault_program: srv\n"
		  "keys:\n  certificate_file:\n    srv: {flag: cert, roles: [servers], reason: r}\n",
		  ver_ok, "x", NULL,
		  "version_configs/demo/implementation.yaml:8:30: keys: srv: roles: only server and client", -EINVAL },
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
	cfg_report_release(&rep);

	/* draft29's client exits 0 at the end of its input: exit code and lines */
	cfg = load(c, "services:\n  s: {implementation: {name: mvfst, version: draft29}, protocol: {role: server}}\n"
		      "  k: {implementation: {name: mvfst, version: draft29}, protocol: {role: client, target: s}}\n", &rep);
	cli = config_find_service(cfg, "k");
	ck_assert(cli->success.exit_code);
	ck_assert(!cli->success.finish_on_lines);
	ck_assert_str_eq(cli->success.lines[0], "Client received data=echo hello");
	ck_assert_str_eq(cli->success.lines[1], "Client received data=echo world");
	config_free(cfg);
	cfg_report_release(&rep);
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
	cfg_report_release(&rep);

	/* named files are paths in the container, which holds none: the
	 * generated pair is mounted there, and the command uses those paths */
	cfg = load(c, "services:\n  s:\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n"
		      "    config: {certificate_file: /etc/my/cert.pem, private_key_file: /etc/my/key.pem}\n", &rep);
	s = config_find_service(cfg, "s");
	ck_assert(s->gen_certs);
	ck_assert_str_eq(s->cert_path, "/etc/my/cert.pem");
	ck_assert_str_eq(s->key_path, "/etc/my/key.pem");
	ck_assert_int_eq(render_command(c, cfg, s, NULL, &line, &err), 0);
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&line), " 0.0.0.0 4433 /etc/my/key.pem /etc/my/cert.pem"));
	pfs_buf_reset(&line);
	config_free(cfg);
	cfg_report_release(&rep);

	/* ...unless generate_new_certificates: false says the image has them */
	cfg = load(c, "services:\n  s:\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n"
		      "    generate_new_certificates: false\n"
		      "    config: {certificate_file: /etc/my/cert.pem, private_key_file: /etc/my/key.pem}\n", &rep);
	s = config_find_service(cfg, "s");
	ck_assert(!s->gen_certs);
	ck_assert_ptr_null(s->cert_path);
	ck_assert_int_eq(render_command(c, cfg, s, NULL, &line, &err), 0);
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&line), " 0.0.0.0 4433 /etc/my/key.pem /etc/my/cert.pem"));
	ck_assert_uint_eq(rep.n_warnings, 0);
	ck_assert_ptr_nonnull(strstr(rep.notes[rep.n_notes - 1], "the image must hold them"));
	pfs_buf_release(&line);
	config_free(cfg);
	cfg_report_release(&rep);
	catalog_free(c);
}
END_TEST

/* What config.c has the server run for its certificate, as its command says. */
static void mvfst_server(struct catalog *c, const char *version, const char *extra, struct pfs_config **cfg,
			 struct cfg_report *rep, struct pfs_buf *line)
{
	char *text = pfs_strdup_printf("services:\n  s:\n    implementation: {name: mvfst, version: %s}\n"
				       "    protocol: {role: server}\n%s", version, extra);
	struct pfs_err err = { 0 };

	*cfg = load(c, text, rep);
	pfs_buf_reset(line);
	ck_assert_int_eq(render_command(c, *cfg, config_find_service(*cfg, "s"), NULL, line, &err), 0);
	free(text);
}

START_TEST(mvfst_certificates)
{
	static const char *const versions[] = { "rfc9000", "draft29", "draft27", "draft27-vuln1", "draft27-vuln2" };
	struct catalog *c = shipped();
	struct pfs_buf line = PFS_BUF_INIT(65536);
	struct cfg_report rep;
	struct pfs_config *cfg;
	const struct cfg_service *s;

	for (size_t i = 0; i < PFS_ARRAY_SIZE(versions); i++) {
		/* nothing asked: mvfst's built-in test certificate, no files */
		mvfst_server(c, versions[i], "", &cfg, &rep, &line);
		s = config_find_service(cfg, "s");
		ck_assert(!s->gen_certs);
		ck_assert_ptr_null(strstr(pfs_buf_str(&line), "--cert_file"));
		config_free(cfg);
		cfg_report_release(&rep);

		/* the seed's security example: the files it names, generated and mounted there */
		mvfst_server(c, versions[i], "    config:\n      certificate_file: \"/certs/test-cert.pem\"\n"
			     "      private_key_file: \"/certs/test-key.pem\"\n", &cfg, &rep, &line);
		s = config_find_service(cfg, "s");
		ck_assert_msg(rep.n_warnings == 0, "%s: %s", versions[i], rep.n_warnings ? rep.warnings[0] : "");
		ck_assert(s->gen_certs);
		ck_assert_str_eq(s->cert_path, "/certs/test-cert.pem");
		ck_assert_str_eq(s->key_path, "/certs/test-key.pem");
		ck_assert_msg(strstr(pfs_buf_str(&line), " --cert_file=/certs/test-cert.pem --key_file=/certs/test-key.pem"),
			      "%s: %s", versions[i], pfs_buf_str(&line));
		config_free(cfg);
		cfg_report_release(&rep);

		/* generate_new_certificates alone: the pair at CONFIG_CERTS_DIR, passed as flags */
		mvfst_server(c, versions[i], "    generate_new_certificates: true\n", &cfg, &rep, &line);
		s = config_find_service(cfg, "s");
		ck_assert_uint_eq(rep.n_warnings, 0);
		ck_assert(s->gen_certs);
		ck_assert_str_eq(s->cert_path, CONFIG_CERTS_DIR "/cert.pem");
		ck_assert_str_eq(s->key_path, CONFIG_CERTS_DIR "/key.pem");
		ck_assert_msg(strstr(pfs_buf_str(&line), " --cert_file=" CONFIG_CERTS_DIR "/cert.pem --key_file="
				     CONFIG_CERTS_DIR "/key.pem"), "%s: %s", versions[i], pfs_buf_str(&line));
		config_free(cfg);
		cfg_report_release(&rep);

		/* one file named: the other at its default place, both generated */
		mvfst_server(c, versions[i], "    config: {certificate_file: /c/cert.pem}\n", &cfg, &rep, &line);
		s = config_find_service(cfg, "s");
		ck_assert_str_eq(s->cert_path, "/c/cert.pem");
		ck_assert_str_eq(s->key_path, CONFIG_CERTS_DIR "/key.pem");
		ck_assert_ptr_nonnull(strstr(pfs_buf_str(&line), " --cert_file=/c/cert.pem --key_file=" CONFIG_CERTS_DIR
					     "/key.pem"));
		config_free(cfg);
		cfg_report_release(&rep);
	}

	/* clients present none: warnings, no flags, no files */
	cfg = load(c, "services:\n  s: {implementation: {name: mvfst}, protocol: {role: server}}\n"
		      "  k:\n    implementation: {name: mvfst}\n    protocol: {role: client, target: s}\n"
		      "    generate_new_certificates: true\n    config: {certificate_file: /c.pem}\n", &rep);
	s = config_find_service(cfg, "k");
	ck_assert(!s->gen_certs);
	ck_assert_uint_eq(rep.n_warnings, 2);
	ck_assert_str_eq(rep.warnings[0], "config.yaml:6:5: services.k.generate_new_certificates: not applied: "
					  "clients present no certificate");
	ck_assert_str_eq(rep.warnings[1], "config.yaml:7:14: services.k.config.certificate_file: not applied: "
					  "a client presents no certificate");
	config_free(cfg);
	cfg_report_release(&rep);
	pfs_buf_release(&line);
	catalog_free(c);
}
END_TEST

/*
 * certificates: optional, for a version whose program lacks the flags (an
 * unpatched build): the keys and generate_new_certificates are warnings,
 * and the server runs with its built-in certificate.
 */
START_TEST(optional_certificates_need_the_flags)
{
	static const char impl[] =
		"name: demo\ndescription: d\ndefault_version: v1\nversions: [v1, v2]\ndefault_program: srv\n"
		"certificates: optional\n"
		"keys:\n  certificate_file:\n    srv: {flag: cert_file, roles: [server], reason: none}\n"
		"  private_key_file:\n    srv: {flag: key_file, roles: [server], reason: none}\n";
	static const char v2[] =
		"version: v2\ndescription: d\nprograms:\n  srv:\n    path: /bin/srv\n    roles: [server, client]\n"
		"    template: srv.jinja\n    flags: {port: int, cert_file: string, key_file: string}\n";
	struct file f[] = { { "version_configs/demo/implementation.yaml", impl },
			    { "version_configs/demo/v1.yaml", ver_ok },
			    { "version_configs/demo/v2.yaml", v2 },
			    { "templates/demo/srv.jinja",
			      "{{ program.path }}{% for f in flags %} --{{ f.name }}={{ f.value }}{% endfor %}" } };
	char dir[] = "/tmp/pfs-cat-XXXXXX";
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };
	struct cfg_report rep;
	struct pfs_config *cfg;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (size_t i = 0; i < PFS_ARRAY_SIZE(f); i++) {
		char path[512], *slash;

		snprintf(path, sizeof(path), "%s/%s", dir, f[i].path);
		slash = strrchr(path, '/');
		*slash = '\0';
		ck_assert_int_eq(pfs_mkdir_p(path, 0755), 0);
		*slash = '/';
		ck_assert_int_eq(pfs_write_file_atomic(path, f[i].text, strlen(f[i].text)), 0);
	}
	ck_assert_msg(catalog_load(dir, &c, &err) == 0, "%s", err.msg);
	cfg = load(c, "services:\n  s:\n    implementation: {name: demo, version: v1}\n    protocol: {role: server}\n"
		      "    generate_new_certificates: true\n    config: {certificate_file: /c.pem}\n", &rep);
	ck_assert(!config_find_service(cfg, "s")->gen_certs);
	ck_assert_uint_eq(rep.n_warnings, 2);
	ck_assert_str_eq(rep.warnings[0], "config.yaml:5:5: services.s.generate_new_certificates: not applied: "
					  "this program always uses its built-in test certificate");
	ck_assert_str_eq(rep.warnings[1], "config.yaml:6:14: services.s.config.certificate_file: not applied: srv "
					  "of demo v1 has no --cert_file flag");
	config_free(cfg);
	cfg_report_release(&rep);
	/* the version whose program has them: generated */
	cfg = load(c, "services:\n  s:\n    implementation: {name: demo, version: v2}\n    protocol: {role: server}\n"
		      "    generate_new_certificates: true\n", &rep);
	ck_assert(config_find_service(cfg, "s")->gen_certs);
	ck_assert_uint_eq(rep.n_warnings, 0);
	config_free(cfg);
	cfg_report_release(&rep);
	catalog_free(c);
	pfs_rm_rf(dir);
}
END_TEST

START_TEST(certificate_paths_are_checked)
{
	struct catalog *c = shipped();
	static const char head[] = "services:\n  s:\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n";
	static const struct {
		const char *config, *want;
	} cases[] = {
		{ "    config: {certificate_file: certs/c.pem}\n",
		  "config.yaml:5:32: services.s.config.certificate_file: certs/c.pem must be an absolute path inside "
		  "the container" },
		{ "    config: {private_key_file: /proc/self/k.pem}\n",
		  "config.yaml:5:32: services.s.config.private_key_file: /proc/self/k.pem cannot be under /proc, /sys "
		  "or /dev" },
		{ "    config: {certificate_file: \"/c:/d.pem\"}\n",
		  "config.yaml:5:32: services.s.config.certificate_file: /c:/d.pem cannot hold ':' or ',' (Docker's "
		  "mount syntax)" },
		{ "    config: {certificate_file: /certs/../c.pem}\n",
		  "config.yaml:5:32: services.s.config.certificate_file: /certs/../c.pem must name a file: no empty, "
		  ". or .. components" },
		{ "    config: {certificate_file: /certs/}\n",
		  "config.yaml:5:32: services.s.config.certificate_file: /certs/ must name a file: no empty, . or .. "
		  "components" },
		{ "    config: {certificate_file: /c.pem, private_key_file: /c.pem}\n",
		  "config.yaml:5:58: services.s.config.private_key_file: names certificate_file's file: pantherfs "
		  "writes the certificate and the key to two files" },
		{ "    generate_new_certificates: yes please\n",
		  "config.yaml:5:32: services.s.generate_new_certificates: must be true or false" },
	};

	for (size_t i = 0; i < PFS_ARRAY_SIZE(cases); i++) {
		char *text = pfs_strdup_printf("%s%s", head, cases[i].config);

		refused(c, text, cases[i].want);
		free(text);
	}
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
	pfs_buf_release(&a);
	pfs_buf_release(&b);
	config_free(cfg);
	cfg_report_release(&rep);
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
	struct pfs_config *cfg = NULL;
	struct pfs_err err = { 0 };
	const char *text = "services:\n  s: {implementation: {name: demo}, protocol: {role: server}}\n";

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
	/*
	 * PANTHER's templates lost certificate flags this way: here it is an
	 * error, and one of the config, at the service's position, so that no
	 * run can start with a command that could not be made
	 */
	ck_assert_int_eq(config_load(c, "config.yaml", text, strlen(text), &cfg, &rep), -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(rep.n_errors, 1);
	ck_assert_str_eq(rep.errors[0], "config.yaml:2:3: services.s: its command cannot be made: "
					"templates/demo/srv.jinja:2: undefined name \"certificates\"");
	cfg_report_release(&rep);
	catalog_free(c);
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
	cfg_report_release(&rep);
	catalog_free(c);
}
END_TEST

/* iterations: N is a plan's field (no warning any more), 1 without it */
START_TEST(iterations_are_planned)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg;

	cfg = load(c, "iterations: 5\nservices:\n  s: {implementation: {name: ngtcp2}, protocol: {role: server}}\n", &rep);
	ck_assert_int_eq(cfg->iterations, 5);
	ck_assert_uint_eq(rep.n_warnings, 0);
	ck_assert_int_eq(json_integer_value(json_object_get(cfg->summary, "iterations")), 5);
	config_free(cfg);
	cfg_report_release(&rep);
	cfg = load(c, "services:\n  s: {implementation: {name: ngtcp2}, protocol: {role: server}}\n", &rep);
	ck_assert_int_eq(cfg->iterations, 1);
	config_free(cfg);
	cfg_report_release(&rep);
	cfg = NULL;
	ck_assert_int_eq(config_load(c, "config.yaml", "iterations: 0\nservices:\n  s: {implementation: {name: ngtcp2}, "
				     "protocol: {role: server}}\n", 88, &cfg, &rep), -EINVAL);
	ck_assert_str_eq(rep.errors[0], "config.yaml:1:13: iterations: 0 is out of range (1-10000)");
	ck_assert_ptr_null(cfg);
	cfg_report_release(&rep);
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
	/* the mount hands over what it kept (the cap and one byte), not the size written */
	ck_assert_str_eq(rep.errors[0], "config.yaml: larger than 1 MiB");
	ck_assert_ptr_null(cfg);
	cfg_report_release(&rep);
	ck_assert_int_eq(config_load(c, "config.yaml", "services:\n  \x01: x\n", 15, &cfg, &rep), -EINVAL);
	ck_assert_uint_eq(rep.n_errors, 1);
	cfg_report_release(&rep);
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

/* ---- hostile input ---------------------------------------------------------------------------- */

/* n report lines "config.yaml:<i+1>:1: problem number <i>", in a NULL-terminated vector */
static char **numbered(size_t n)
{
	char **v = calloc(n + 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = pfs_strdup_printf("config.yaml:%zu:1: problem number %zu", i + 1, i);
	return v;
}

static void strv_del(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

START_TEST(report_text_keeps_the_first_lines)
{
	char **v = numbered(25000);
	char *t = cfg_report_text(v, 25000, 1u << 20), *last, want[64];
	size_t kept = 0;

	/* 25,000 lines of ~40 bytes fit in 1 MiB: all of them, nothing more */
	ck_assert_ptr_nonnull(t);
	ck_assert(!strstr(t, "more"));
	ck_assert_str_eq(strrchr(t, 'r') - strlen("config.yaml:25000:1: problem numbe"),
			 "config.yaml:25000:1: problem number 24999\n");
	free(t);

	/* a cap that holds some: the first ones, in order, then how many are left */
	t = cfg_report_text(v, 25000, 4096);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_le(strlen(t), 4096);
	ck_assert(!strncmp(t, "config.yaml:1:1: problem number 0\nconfig.yaml:2:1: problem number 1\n", 68));
	for (char *l = t; (l = strchr(l, '\n')); l++)
		kept++;
	kept--; /* the last line is the count */
	last = t + strlen(t) - 1;
	while (last > t && last[-1] != '\n')
		last--;
	snprintf(want, sizeof(want), "... and %zu more\n", 25000 - kept);
	ck_assert_str_eq(last, want);
	ck_assert_uint_gt(kept, 50);
	ck_assert(strstr(t, v[kept - 1]) && !strstr(t, v[kept]));
	free(t);

	/* the last line may use the room kept for the count; one byte less and it may not */
	ck_assert_uint_eq(strlen(v[0]) + 1, 34);
	t = cfg_report_text(v, 2, 34 + CFG_TEXT_MIN_CAP);
	ck_assert_str_eq(t, "config.yaml:1:1: problem number 0\nconfig.yaml:2:1: problem number 1\n");
	free(t);
	t = cfg_report_text(v, 2, 34 + CFG_TEXT_MIN_CAP - 1);
	ck_assert_str_eq(t, "... and 2 more\n");
	free(t);
	t = cfg_report_text(v, 1, CFG_TEXT_MIN_CAP);
	ck_assert_str_eq(t, "config.yaml:1:1: problem number 0\n");
	free(t);
	t = cfg_report_text(v, 0, 1u << 20);
	ck_assert_str_eq(t, "");
	free(t);
	ck_assert_ptr_null(cfg_report_text(v, 1, CFG_TEXT_MIN_CAP - 1));
	strv_del(v);
}
END_TEST

START_TEST(report_event_is_bounded)
{
	char **v = numbered(25000);
	json_t *o = cfg_report_event(v, 25000, "errors", "error");

	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(json_array_size(json_object_get(o, "errors")), CFG_EVENT_MAX_LINES);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "errors"), 0)), v[0]);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "count")), 25000);
	ck_assert_str_eq(json_string_value(json_object_get(o, "more")), "24980 more in the file error");
	json_decref(o);
	o = cfg_report_event(v, 3, "errors", "error");
	ck_assert_uint_eq(json_array_size(json_object_get(o, "errors")), 3);
	ck_assert_ptr_null(json_object_get(o, "more"));
	json_decref(o);
	strv_del(v);
}
END_TEST

START_TEST(twenty_five_thousand_problems)
{
	struct catalog *c = shipped();
	struct pfs_buf y = PFS_BUF_INIT(1u << 20);
	struct cfg_report rep;
	struct pfs_config *cfg = NULL;
	char *t;

	pfs_buf_addstr(&y, "services:\n  s:\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n"
			   "    config:\n");
	for (int i = 0; i < 25000; i++)
		pfs_buf_printf(&y, "      k%d: 1\n", i);
	ck_assert_int_eq(config_load(c, "config.yaml", y.ptr, y.len, &cfg, &rep), -EINVAL);
	ck_assert_uint_eq(rep.n_errors, 25000);
	t = cfg_report_text(rep.errors, rep.n_errors, 1u << 20);
	ck_assert_uint_le(strlen(t), 1u << 20);
	/* the file's first problem first, and the count of those left out last */
	ck_assert_msg(!strncmp(t, "config.yaml:6:7: services.s.config.k0: unknown key", 50), "%.100s", t);
	{
		size_t lines = 0;
		char want[64];

		for (const char *l = t; (l = strchr(l, '\n')); l++)
			lines++;
		/* each line kept is one error; the last one counts the others */
		snprintf(want, sizeof(want), "\n... and %zu more\n", 25000 - (lines - 1));
		ck_assert_uint_gt(lines, 1000);
		ck_assert_str_eq(t + strlen(t) - strlen(want), want);
	}
	free(t);
	cfg_report_release(&rep);
	pfs_buf_release(&y);
	catalog_free(c);
}
END_TEST

static void refused(struct catalog *c, const char *text, const char *want)
{
	struct cfg_report rep;
	struct pfs_config *cfg = NULL;

	ck_assert_int_eq(config_load(c, "config.yaml", text, strlen(text), &cfg, &rep), -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(rep.n_errors >= 1, "no error for %s", text);
	ck_assert_str_eq(rep.errors[0], want);
	cfg_report_release(&rep);
}

START_TEST(command_values_hold_no_controls)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg;
	struct pfs_buf out = PFS_BUF_INIT(1u << 20);
	struct pfs_err err = { 0 };

	/* a path the template puts on the line (a "string" check) */
	refused(c, "services:\n  s:\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n"
		   "    config: {certificate_file: \"/c.pem\\e[8m\"}\n",
		"config.yaml:5:32: services.s.config.certificate_file: \"/c.pem\\e[8m\": a command-line value "
		"cannot hold control characters (\\e at character 7)");
	/* a flag named directly; a bidi override counts: it reorders what is shown */
	refused(c, "services:\n  s:\n    implementation: {name: ngtcp2}\n    protocol: {role: server}\n"
		   "    config: {groups: \"P-256\\u202e\"}\n",
		"config.yaml:5:22: services.s.config.groups: \"P-256\\u202e\": a program's flag cannot hold "
		"control characters (\\u202e at character 6)");
	/* echo messages are free text the template quotes: only line breaks are refused */
	cfg = load(c, "services:\n  srv: {implementation: {name: mvfst}, protocol: {role: server}}\n"
		      "  cli:\n    implementation: {name: mvfst}\n    protocol: {role: client, target: srv}\n"
		      "    config: {messages: [\"\\e[1mbold\\t\\a\"]}\n", &rep);
	ck_assert_int_eq(render_command(c, cfg, config_find_service(cfg, "cli"), NULL, &out, &err), 0);
	ck_assert_msg(strstr(pfs_buf_str(&out), "'\x1b[1mbold\t\a'"), "%s", pfs_buf_str(&out));
	config_free(cfg);
	cfg_report_release(&rep);
	pfs_buf_release(&out);
	catalog_free(c);
}
END_TEST

START_TEST(sources_git_can_fetch_are_accepted)
{
	static const char *const repos[] = { "https://example.org/lab/mvfst.git", "git@example.org:lab/mvfst.git",
					     "ssh://git@example.org:2222/lab/mvfst.git", "file:///srv/git/mvfst.git",
					     "git://example.org/mvfst" };
	static const char *const commits[] = { "0123456789abcdef0123456789abcdef01234567", "v2024.01.01.00",
					       "main", "release/1.2", "abc_1-2" };
	struct catalog *c = shipped();

	for (size_t i = 0; i < PFS_ARRAY_SIZE(repos); i++) {
		char *y = pfs_strdup_printf("services:\n  s:\n    implementation:\n      name: mvfst\n"
					    "      source_repository: \"%s\"\n      commit: \"%s\"\n"
					    "      dependencies: {folly: {commit: \"%s\", url: \"%s\"}}\n"
					    "    protocol: {role: server}\n", repos[i], commits[i], commits[i], repos[i]);
		struct cfg_report rep;
		struct pfs_config *cfg = load(c, y, &rep);

		ck_assert_str_eq(arg(&cfg->svc[0], "MVFST_REPO"), repos[i]);
		ck_assert_str_eq(arg(&cfg->svc[0], "FOLLY_COMMIT"), commits[i]);
		config_free(cfg);
		cfg_report_release(&rep);
		free(y);
	}
	catalog_free(c);
}
END_TEST

START_TEST(prebuilt_images_by_reference)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg;

	cfg = load(c, "services:\n  s:\n    implementation: {name: ngtcp2, build_from_source: false,\n"
		      "      docker_image: \"registry.example:5000/lab/ngtcp2:1.2@sha256:"
		      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}\n"
		      "    protocol: {role: server}\n", &rep);
	ck_assert(cfg->svc[0].image.prebuilt);
	ck_assert_str_eq(cfg->svc[0].image.ref, "registry.example:5000/lab/ngtcp2:1.2@sha256:"
						"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	config_free(cfg);
	cfg_report_release(&rep);
	/* checked even when not used: status and warnings show it */
	refused(c, "services:\n  s:\n    implementation: {name: ngtcp2, docker_image: \"a\\nb\"}\n"
		   "    protocol: {role: server}\n",
		"config.yaml:3:50: services.s.implementation.docker_image: \"a\\nb\" is not an image reference "
		"(name[:tag][@digest], such as debian:bookworm-slim): character 2: '\\n' cannot be in an image reference");
	catalog_free(c);
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
	tcase_add_test(t, mvfst_certificates);
	tcase_add_test(t, certificate_paths_are_checked);
	tcase_add_test(t, optional_certificates_need_the_flags);
	tcase_add_test(t, render_placeholder_then_address);
	tcase_add_test(t, render_errors_name_the_template);
	tcase_add_test(t, test_timeout_and_execution_environments);
	tcase_add_test(t, iterations_are_planned);
	tcase_add_test(t, too_big_and_binary);
	tcase_add_test(t, generated_certificates_verify);
	suite_add_tcase(s, t);
	t = tcase_create("hostile");
	tcase_add_test(t, report_text_keeps_the_first_lines);
	tcase_add_test(t, report_event_is_bounded);
	tcase_add_test(t, twenty_five_thousand_problems);
	tcase_add_test(t, command_values_hold_no_controls);
	tcase_add_test(t, sources_git_can_fetch_are_accepted);
	tcase_add_test(t, prebuilt_images_by_reference);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
