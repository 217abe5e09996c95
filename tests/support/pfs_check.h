/* SPDX-License-Identifier: MIT */
/*
 * Glue between Check and meson: every suite prints TAP on stdout (meson's
 * 'tap' protocol counts each test case), and integration suites skip with
 * "1..0 # SKIP <why>" and exit 77 only when the resource is truly absent.
 */
#ifndef PFS_CHECK_H
#define PFS_CHECK_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static inline int pfs_check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

static inline int pfs_check_skip(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	return 77;
}

#endif
