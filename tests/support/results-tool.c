/* SPDX-License-Identifier: MIT */
/*
 * The results module from the command line, for the tests that need its
 * files on disk (the SVG in a real browser, the SVG's points against
 * summary.tsv) and for looking at outputs by hand:
 *
 *   results-tool result DATA_DIR RUN_DIR TEST RUN     result.json of a run dir, on stdout
 *   results-tool summary TEST OUT_DIR RESULT.json...  OUT_DIR/summary.{tsv,json,svg}
 *   results-tool root RESULT.json...                  the root's summary.tsv, on stdout
 *
 * Exit 0, or 1 with the reason on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pantherfs/catalog.h"
#include "pantherfs/results.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static int fail(const char *what, const char *why)
{
	fprintf(stderr, "results-tool: %s: %s\n", what, why);
	return 1;
}

static int load_all(char **paths, int n, json_t ***out)
{
	json_t **v = calloc((size_t)n + 1, sizeof(*v));

	if (!v)
		return fail("load", "out of memory");
	for (int i = 0; i < n; i++) {
		json_error_t je;

		v[i] = json_load_file(paths[i], 0, &je);
		if (!v[i]) {
			fprintf(stderr, "results-tool: %s:%d: %s\n", paths[i], je.line, je.text);
			for (int k = 0; k < i; k++)
				json_decref(v[k]);
			free(v);
			return 1;
		}
	}
	*out = v;
	return 0;
}

static int write_out(const char *dir, const char *name, const struct pfs_buf *b)
{
	char *path = pfs_strdup_printf("%s/%s", dir, name);
	int r = path ? pfs_write_file_atomic(path, b->ptr ? b->ptr : "", b->len) : -ENOMEM;

	if (r < 0)
		fprintf(stderr, "results-tool: %s: %s\n", path ? path : name, strerror(-r));
	free(path);
	return r < 0;
}

static int cmd_summary(int argc, char **argv)
{
	struct pfs_buf tsv = PFS_BUF_INIT(RESULTS_TEXT_CAP), js = PFS_BUF_INIT(RESULTS_TEXT_CAP);
	struct pfs_buf svg = PFS_BUF_INIT(RESULTS_TEXT_CAP);
	struct pfs_err err = { 0 };
	struct summary *s = NULL;
	json_t **v = NULL, *j = NULL;
	int n = argc - 2, rc = 1;

	if (load_all(argv + 2, n, &v))
		return 1;
	if (summary_build(argv[0], v, (size_t)n, &s, &err) < 0) {
		fail("summary", err.msg);
		goto out;
	}
	j = summary_json(s);
	if (summary_tsv(s, &tsv) < 0 || !j || results_text(j, &js) < 0) {
		fail("summary", "cannot write");
		goto out;
	}
	if (summary_svg(s, &svg, &err) < 0) {
		fail("summary.svg", err.msg);
		goto out;
	}
	rc = write_out(argv[1], "summary.tsv", &tsv) | write_out(argv[1], "summary.json", &js) |
	     write_out(argv[1], "summary.svg", &svg);
out:
	for (int i = 0; v && i < n; i++)
		json_decref(v[i]);
	free(v);
	json_decref(j);
	summary_free(s);
	pfs_buf_release(&tsv);
	pfs_buf_release(&js);
	pfs_buf_release(&svg);
	return rc;
}

static int cmd_root(int argc, char **argv)
{
	struct pfs_buf b = PFS_BUF_INIT(RESULTS_TEXT_CAP);
	json_t **v = NULL;
	int rc = 0;

	if (load_all(argv, argc, &v))
		return 1;
	if (summary_root_tsv(v, (size_t)argc, &b) < 0)
		rc = fail("root", "cannot write");
	else
		fwrite(b.ptr ? b.ptr : "", 1, b.len, stdout);
	for (int i = 0; i < argc; i++)
		json_decref(v[i]);
	free(v);
	pfs_buf_release(&b);
	return rc;
}

static int cmd_result(char **argv)
{
	struct pfs_buf b = PFS_BUF_INIT(RESULTS_TEXT_CAP);
	struct pfs_err err = { 0 };
	struct catalog *cat = NULL;
	json_t *res = NULL;
	long run;
	int rc = 1;

	if (pfs_parse_long(argv[3], 0, 1000000000, &run) < 0)
		return fail("result", "RUN must be a number");
	if (catalog_load(argv[0], &cat, &err) < 0)
		return fail("catalogue", err.msg);
	if (results_from_run_dir(cat, argv[1], argv[2], (int)run, &res, &err) < 0)
		fail("result", err.msg);
	else if (results_text(res, &b) < 0)
		fail("result", "cannot write");
	else {
		fwrite(b.ptr, 1, b.len, stdout);
		rc = 0;
	}
	json_decref(res);
	catalog_free(cat);
	pfs_buf_release(&b);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 6 && !strcmp(argv[1], "result"))
		return cmd_result(argv + 2);
	if (argc >= 4 && !strcmp(argv[1], "summary"))
		return cmd_summary(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "root"))
		return cmd_root(argc - 2, argv + 2);
	fprintf(stderr, "usage: results-tool result DATA_DIR RUN_DIR TEST RUN\n"
			"       results-tool summary TEST OUT_DIR RESULT.json...\n"
			"       results-tool root RESULT.json...\n");
	return 2;
}
