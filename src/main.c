/* SPDX-License-Identifier: MIT */
/*
 * pantherfs command line: options, subcommands, and (later) the mount.
 * Kept small: every piece of work lives in the library.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfs_config.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/docker.h"
#include "pantherfs/log.h"
#include "pantherfs/render.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pantherfs [options] COMMAND\n"
		"\n"
		"commands:\n"
		"  check FILE           validate a test configuration: every error with its\n"
		"                       line, then warnings (keys not applied) and notes;\n"
		"                       exit status 1 on errors\n"
		"  render FILE [--address SERVICE=IP ...]\n"
		"                       print each service's command line\n"
		"  engine               print the Docker engine pantherfs reaches:\n"
		"                       \"connected <engine version> api <version>\" or\n"
		"                       \"disconnected: <reason>\" (exit status 1)\n"
		"\n"
		"options:\n"
		"  --docker-host=URL    unix:///path or tcp://host:port\n"
		"                       (default: $DOCKER_HOST, else unix://" DOCKER_DEFAULT_SOCKET ")\n"
		"  --data-dir=DIR       where version_configs/, templates/ and docker/ are\n"
		"                       (default: %s)\n"
		"  -d, --debug          debug log on stderr\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n", catalog_default_data_dir());
}

static int load_config_file(const char *data_dir, const char *file, struct catalog **cat,
			    struct pfs_config **cfg, struct cfg_report *rep)
{
	struct pfs_buf b = PFS_BUF_INIT(CONFIG_MAX_BYTES + 1);
	struct pfs_err err = { 0 };
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	int r;

	memset(rep, 0, sizeof(*rep));
	r = catalog_load(data_dir, cat, &err);
	if (r < 0) {
		fprintf(stderr, "pantherfs: %s\n", err.msg);
		return 2;
	}
	r = pfs_read_file(file, &b);
	if (r == -EFBIG) {
		fprintf(stderr, "%s: larger than 1 MiB\n", base);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "pantherfs: %s: %s\n", file, strerror(-r));
		return 2;
	}
	r = config_load(*cat, base, b.ptr, b.len, cfg, rep);
	pfs_buf_free(&b);
	return r < 0 ? 1 : 0;
}

static int cmd_check(const char *data_dir, int argc, char **argv)
{
	struct catalog *cat = NULL;
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	int rc;

	if (argc != 1) {
		fprintf(stderr, "usage: pantherfs check FILE\n");
		return 2;
	}
	rc = load_config_file(data_dir, argv[0], &cat, &cfg, &rep);
	for (size_t i = 0; i < rep.n_errors; i++)
		printf("%s\n", rep.errors[i]);
	for (size_t i = 0; i < rep.n_warnings; i++)
		printf("warning: %s\n", rep.warnings[i]);
	for (size_t i = 0; i < rep.n_notes; i++)
		printf("note: %s\n", rep.notes[i]);
	for (size_t i = 0; cfg && i < cfg->n_svc; i++) {
		const struct cfg_image *im = &cfg->svc[i].image;

		if (im->prebuilt) {
			printf("image: %s: %s, run as it is\n", cfg->svc[i].name, im->ref);
			continue;
		}
		printf("image: %s: %s:%s-<context hash>, built from docker/%s/%s with", cfg->svc[i].name, im->repo,
		       im->tag_prefix, cfg->svc[i].implementation, im->dockerfile);
		for (size_t k = 0; im->args && im->args[k] && im->args[k + 1]; k += 2) {
			struct pfs_buf q = PFS_BUF_INIT(1u << 16);

			pfs_shell_quote(&q, im->args[k + 1]);
			printf(" %s=%s", im->args[k], pfs_buf_str(&q));
			pfs_buf_free(&q);
		}
		printf("\n");
	}
	if (cfg)
		printf("ok: %zu service%s, timeout %ld s\n", cfg->n_svc, cfg->n_svc == 1 ? "" : "s", cfg->timeout_s);
	cfg_report_free(&rep);
	config_free(cfg);
	catalog_free(cat);
	return rc;
}

static int cmd_render(const char *data_dir, int argc, char **argv)
{
	struct catalog *cat = NULL;
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	json_t *addr = json_object();
	const char *file = NULL;
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--address") && i + 1 < argc)
			a = argv[++i];
		else if (!strncmp(a, "--address=", 10))
			a += 10;
		else if (!file && a[0] != '-') {
			file = a;
			continue;
		} else {
			fprintf(stderr, "usage: pantherfs render FILE [--address SERVICE=IP ...]\n");
			json_decref(addr);
			return 2;
		}
		const char *eq = strchr(a, '=');
		if (!eq || eq == a || !eq[1]) {
			fprintf(stderr, "pantherfs: --address wants SERVICE=IP, not \"%s\"\n", a);
			json_decref(addr);
			return 2;
		}
		char svc[128];
		snprintf(svc, sizeof(svc), "%.*s", (int)(eq - a), a);
		json_object_set_new(addr, svc, json_string(eq + 1));
	}
	if (!file) {
		fprintf(stderr, "usage: pantherfs render FILE [--address SERVICE=IP ...]\n");
		json_decref(addr);
		return 2;
	}
	rc = load_config_file(data_dir, file, &cat, &cfg, &rep);
	for (size_t i = 0; i < rep.n_errors; i++)
		fprintf(stderr, "%s\n", rep.errors[i]);
	for (size_t i = 0; cfg && i < cfg->n_svc; i++) {
		struct pfs_buf line = PFS_BUF_INIT(1u << 20);
		struct pfs_err err = { 0 };

		if (render_command(cat, cfg, &cfg->svc[i], addr, &line, &err) < 0) {
			fprintf(stderr, "%s: %s\n", cfg->svc[i].name, err.msg);
			rc = 1;
		} else {
			printf("%s: %s\n", cfg->svc[i].name, pfs_buf_str(&line));
		}
		pfs_buf_free(&line);
	}
	cfg_report_free(&rep);
	config_free(cfg);
	catalog_free(cat);
	json_decref(addr);
	return rc;
}

static int cmd_engine(const char *host)
{
	struct docker_client_opts o = { .host = host, .timeout_ms = 10000 };
	struct docker_client *c = NULL;
	struct docker_ping_info pi;
	struct pfs_err err = { 0 };
	json_t *v = NULL;
	int r;

	r = docker_client_new(&o, &c, &err);
	if (r == 0)
		r = docker_ping(c, &pi, &err);
	if (r == 0)
		r = docker_version(c, &v, &err);
	if (r < 0) {
		printf("disconnected: %s\n", pfs_err_str(&err, r));
		docker_client_free(c);
		return 1;
	}
	printf("connected %s api %s\n", json_string_value(json_object_get(v, "Version")) ?: "?",
	       pi.api_version);
	json_decref(v);
	docker_client_free(c);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "docker-host", required_argument, NULL, 'H' },
		{ "data-dir", required_argument, NULL, 'D' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = NULL;
	const char *data_dir = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "+dhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			host = optarg;
			break;
		case 'D':
			data_dir = optarg;
			break;
		case 'd':
			pfs_log_set_level(PFS_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("pantherfs %s\n", PFS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!data_dir)
		data_dir = catalog_default_data_dir();
	if (!strcmp(argv[optind], "engine"))
		return cmd_engine(host);
	if (!strcmp(argv[optind], "check"))
		return cmd_check(data_dir, argc - optind - 1, argv + optind + 1);
	if (!strcmp(argv[optind], "render"))
		return cmd_render(data_dir, argc - optind - 1, argv + optind + 1);
	fprintf(stderr, "pantherfs: unknown command \"%s\"\n", argv[optind]);
	usage(stderr);
	return 2;
}
