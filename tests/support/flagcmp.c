/* SPDX-License-Identifier: MIT */
/*
 * flagcmp DATA_DIR IMPLEMENTATION VERSION PROGRAM [FILE]
 *
 * Compares the flags a program prints with --helpfull (FILE, or stdin) with
 * the program's flags in version_configs/IMPLEMENTATION/VERSION.yaml, by the
 * rules of tests/support/helpflags.h. Prints one line per problem,
 * "VERSION PROGRAM: flag: what is wrong", then a summary line. Exit status:
 * 0 when they agree, 1 on problems, 2 when it cannot compare (usage, an
 * unreadable or unparsable file, an unknown version or program).
 * tests/mvfst-real.sh runs it on the output of real images; the unit suite
 * flags runs the same comparison on the recorded files.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "helpflags.h"
#include "pantherfs/catalog.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

int main(int argc, char **argv)
{
	struct pfs_buf text = PFS_BUF_INIT(16u << 20), report = PFS_BUF_INIT(1u << 20);
	struct catalog *cat = NULL;
	const struct cat_impl *im;
	const struct cat_version *v;
	struct pfs_err err = { 0 };
	const char *file;
	int r, rc = 2;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: flagcmp DATA_DIR IMPLEMENTATION VERSION PROGRAM [HELPFULL_FILE]\n");
		return 2;
	}
	file = argc == 6 ? argv[5] : "/dev/stdin";
	if (catalog_load(argv[1], &cat, &err) < 0) {
		fprintf(stderr, "flagcmp: %s\n", err.msg);
		goto out;
	}
	im = catalog_find_impl(cat, argv[2]);
	v = im ? cat_impl_find_version(im, argv[3]) : NULL;
	if (!v) {
		fprintf(stderr, "flagcmp: no version %s of %s (%s)\n", argv[3], argv[2],
			im ? cat_impl_version_names(im) : catalog_impl_names(cat));
		goto out;
	}
	r = pfs_read_file(file, &text);
	if (r < 0) {
		fprintf(stderr, "flagcmp: %s: %s\n", file, strerror(-r));
		goto out;
	}
	r = helpflags_check(v, argv[4], file, text.ptr ? text.ptr : "", text.len, &report, &err);
	if (r < 0) {
		fprintf(stderr, "flagcmp: %s\n", err.msg);
		goto out;
	}
	for (char *save = NULL, *l = report.len ? strtok_r(report.ptr, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save))
		printf("%s %s: %s\n", argv[3], argv[4], l);
	printf("%s %s: %d problem%s between version_configs/%s/%s.yaml and %s\n", argv[3], argv[4], r,
	       r == 1 ? "" : "s", argv[2], argv[3], file);
	rc = r ? 1 : 0;
out:
	pfs_buf_release(&text);
	pfs_buf_release(&report);
	catalog_free(cat);
	return rc;
}
