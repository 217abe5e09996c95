/* SPDX-License-Identifier: MIT */
/*
 * image-ref DATA_DIR SOURCES_DIR IMPLEMENTATION VERSION
 *
 * Prints the image pantherfs would build for a server of that version, as
 * "<ref> <build hash>" (pantherfs/mvfst:rfc9000-1a2b3c4d5e6f 1a2b...), the
 * hash computed as the engine computes it (context with the version's own
 * source tarballs from SOURCES_DIR, "-" for the data dir's default, the
 * Dockerfile, the build args). Exit 0, or 2 with the reason on stderr.
 * tests/mvfst-real.sh uses it to find the image it checks.
 */
#include <stdio.h>
#include <string.h>

#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/image.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

int main(int argc, char **argv)
{
	struct catalog *cat = NULL;
	struct pfs_config *cfg = NULL;
	struct cfg_report rep = { 0 };
	struct pfs_err err = { 0 };
	struct image_plan p;
	char text[512];
	int rc = 2;

	if (argc != 5) {
		fprintf(stderr, "usage: image-ref DATA_DIR SOURCES_DIR|- IMPLEMENTATION VERSION\n");
		return 2;
	}
	if (catalog_load(argv[1], &cat, &err) < 0 ||
	    (strcmp(argv[2], "-") && catalog_set_sources_dir(cat, argv[2], &err) < 0)) {
		fprintf(stderr, "image-ref: %s\n", err.msg);
		goto out;
	}
	snprintf(text, sizeof(text), "services:\n  s: {implementation: {name: '%s', version: '%s'}, protocol: {role: server}}\n",
		 argv[3], argv[4]);
	if (config_load(cat, "config.yaml", text, strlen(text), &cfg, &rep) < 0) {
		fprintf(stderr, "image-ref: %s\n", rep.n_errors ? rep.errors[0] : "invalid");
		goto out;
	}
	if (image_plan_compute(&cfg->svc[0], &p, &err) < 0) {
		fprintf(stderr, "image-ref: %s\n", err.msg);
		goto out;
	}
	printf("%s %s\n", p.ref, p.hash);
	rc = 0;
out:
	cfg_report_release(&rep);
	config_free(cfg);
	catalog_free(cat);
	return rc;
}
