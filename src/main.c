/* SPDX-License-Identifier: MIT */
/*
 * pantherfs command line: options, subcommands, and (later) the mount.
 * Kept small: every piece of work lives in the library.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfs_config.h"
#include "pantherfs/docker.h"
#include "pantherfs/log.h"
#include "pantherfs/banned.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pantherfs [options] COMMAND\n"
		"\n"
		"commands:\n"
		"  engine               print the Docker engine pantherfs reaches:\n"
		"                       \"connected <engine version> api <version>\" or\n"
		"                       \"disconnected: <reason>\" (exit status 1)\n"
		"\n"
		"options:\n"
		"  --docker-host=URL    unix:///path or tcp://host:port\n"
		"                       (default: $DOCKER_HOST, else unix://" DOCKER_DEFAULT_SOCKET ")\n"
		"  -d, --debug          debug log on stderr\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n");
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
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "+dhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			host = optarg;
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
	if (!strcmp(argv[optind], "engine"))
		return cmd_engine(host);
	fprintf(stderr, "pantherfs: unknown command \"%s\"\n", argv[optind]);
	usage(stderr);
	return 2;
}
