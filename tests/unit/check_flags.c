/* SPDX-License-Identifier: MIT */
/*
 * Version facts from the binaries: every program of every mvfst version
 * config against the --helpfull output of the real program, recorded in
 * tests/fixtures/mvfst-real/<version>/ (from images built by pantherfs's
 * Dockerfile at the pinned commits): <program>-helpfull.txt from upstream's
 * sources, patched/<program>-helpfull.txt from the image with the version's
 * patches (docker/mvfst/patches/<version>/, whose digests
 * patched/patches.sha256 records: other patches make the recording stale).
 * A version config describes its image: the patched recording when it has
 * patches; until that image has been built and recorded, upstream's
 * recording plus the flags its patches DEFINE. Both ways: a flag the config lists that the binary lacks (gflags
 * aborts when passed one), a wrong type, and a flag of the program's own
 * sources the config lacks are all failures. The patched recording must
 * differ from upstream's by exactly the DEFINE_*s the patches add. Then the
 * parser and the comparisons on small texts of their own, so that each rule
 * is seen failing.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pfs_check.h"
#include "helpflags.h"
#include "pantherfs/catalog.h"
#include "pantherfs/util.h"

static const char *src_root(void)
{
	const char *s = getenv("PFS_SOURCE_DIR");

	return s ? s : ".";
}

/* ---- the shipped version configs against the recorded binaries ---------------- */

/* docker/mvfst/<image.patches> of the version, or NULL when it has none. Owned. */
static char *patch_dir(const struct cat_version *v)
{
	const char *p = json_string_value(json_object_get(json_object_get(cat_version_json(v), "image"), "patches"));

	return p ? pfs_strdup_printf("%s/docker/mvfst/%s", src_root(), p) : NULL;
}

static int patch_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return (n > 6 && !strcmp(d->d_name + n - 6, ".patch")) || (n > 3 && !strcmp(d->d_name + n - 3, ".sh"));
}

/*
 * What `sha256sum` prints for the folder's *.patch and *.sh in name order
 * (the order the Dockerfile applies them in), or their texts joined when
 * text is set. Returns the number of files.
 */
static int patches_read(const char *dir, struct pfs_buf *out, bool text)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, patch_file, alphasort);

	ck_assert_msg(n > 0, "%s: no *.patch or *.sh", dir);
	for (int i = 0; i < n; i++) {
		struct pfs_buf f = PFS_BUF_INIT(1u << 20);
		char path[1024], hex[65];

		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		ck_assert_int_eq(pfs_read_file(path, &f), 0);
		if (text) {
			ck_assert_int_eq(pfs_buf_add(out, f.ptr, f.len), 0);
		} else {
			pfs_sha256_hex(f.ptr, f.len, hex);
			ck_assert_int_eq(pfs_buf_printf(out, "%s  %s\n", hex, ents[i]->d_name), 0);
		}
		pfs_buf_release(&f);
		free(ents[i]);
	}
	free(ents);
	return n;
}

static void read_fixture(const char *path, struct pfs_buf *text)
{
	int r = pfs_read_file(path, text);

	ck_assert_msg(r == 0, "%s: %s (record it from the image: tests/mvfst-real.sh --record)", path, strerror(-r));
}

/* Whether tests/fixtures/mvfst-real/<version>/patched/ holds a recording. */
static bool patched_recording(const struct cat_version *v)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/tests/fixtures/mvfst-real/%s/patched", src_root(), cat_version_name(v));
	return access(path, F_OK) == 0;
}

/*
 * A patched version whose image has not been recorded yet (each takes an
 * hour or more to build): its program is taken as upstream's recording plus
 * what the patches DEFINE in the program's own folder, which is what
 * patches_add_exactly_their_flags holds every recorded version to. A flag
 * the config lists that neither defines, or a wrong type, still fails.
 */
static int check_derived(const struct cat_version *v, const char *pname, const char *pdir, const char *path,
			 const struct pfs_buf *text, struct pfs_buf *report)
{
	json_t *srcs = json_object_get(cat_impl_json(cat_version_impl(v)), "flag_sources");
	const char *own = json_string_value(json_object_get(srcs, pname));
	struct pfs_buf patches = PFS_BUF_INIT(4u << 20);
	struct hf_list *l = NULL;
	struct pfs_err err = { 0 };
	int r;

	ck_assert_ptr_nonnull(own);
	ck_assert_msg(helpflags_parse(text->ptr, text->len, &l, &err) == 0, "%s: %s", path, err.msg);
	patches_read(pdir, &patches, true);
	ck_assert_msg(helpflags_patch_defines(patches.ptr, patches.len, own, l, &err) == 0, "%s: %s", pdir,
		      err.msg);
	r = helpflags_compare(l, json_object_get(cat_version_program(v, pname), "flags"), own, report);
	hf_list_free(l);
	pfs_buf_release(&patches);
	return r;
}

START_TEST(version_configs_match_their_binaries)
{
	struct pfs_buf all = PFS_BUF_INIT(1u << 20);
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };
	const struct cat_impl *im;
	size_t compared = 0, problems = 0, derived = 0;

	ck_assert_msg(catalog_load(src_root(), &c, &err) == 0, "%s", err.msg);
	im = catalog_find_impl(c, "mvfst");
	ck_assert_ptr_nonnull(im);
	for (size_t k = 0; k < cat_impl_n_versions(im); k++) {
		const struct cat_version *v = cat_impl_version_at(im, k);
		json_t *progs = json_object_get(cat_version_json(v), "programs"), *p;
		const char *pname;

		char *pdir = patch_dir(v);
		bool recorded = pdir && patched_recording(v);

		/* a recording of the patched programs is of these very patches */
		if (recorded) {
			struct pfs_buf want = PFS_BUF_INIT(1u << 16), have = PFS_BUF_INIT(1u << 16);
			char path[1024];

			patches_read(pdir, &want, false);
			snprintf(path, sizeof(path), "%s/tests/fixtures/mvfst-real/%s/patched/patches.sha256", src_root(),
				 cat_version_name(v));
			read_fixture(path, &have);
			ck_assert_msg(have.len == want.len && !memcmp(have.ptr, want.ptr, want.len),
				      "%s: recorded from other patches than %s holds now:\n%s\nrecord them again: "
				      "tests/mvfst-real.sh --record %s", path, pdir, pfs_buf_str(&have), cat_version_name(v));
			pfs_buf_release(&want);
			pfs_buf_release(&have);
		}
		json_object_foreach(progs, pname, p) {
			struct pfs_buf text = PFS_BUF_INIT(1u << 20), report = PFS_BUF_INIT(1u << 20);
			char path[1024];
			int r;

			(void)p;
			snprintf(path, sizeof(path), "%s/tests/fixtures/mvfst-real/%s/%s%s-helpfull.txt", src_root(),
				 cat_version_name(v), recorded ? "patched/" : "", pname);
			read_fixture(path, &text);
			if (pdir && !recorded)
				r = check_derived(v, pname, pdir, path, &text, &report);
			else
				r = helpflags_check(v, pname, path, text.ptr, text.len, &report, &err);
			ck_assert_msg(r >= 0, "%s", err.msg);
			derived += pdir && !recorded;
			for (char *save = NULL, *l = report.len ? strtok_r(report.ptr, "\n", &save) : NULL; l;
			     l = strtok_r(NULL, "\n", &save))
				pfs_buf_printf(&all, "%s %s: %s\n", cat_version_name(v), pname, l);
			compared++;
			pfs_buf_release(&text);
			pfs_buf_release(&report);
		}
		free(pdir);
	}
	/* five versions, echo and tperf each */
	ck_assert_uint_eq(compared, 10);
	if (derived)
		printf("# %zu programs compared with upstream's recording plus their patches' DEFINEs (no patched "
		       "recording yet: tests/mvfst-real.sh --build --record VERSION)\n", derived);
	/* every disagreement at once, as TAP comments (too many for one message) */
	for (char *save = NULL, *l = all.len ? strtok_r(all.ptr, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		printf("# %s\n", l);
		problems++;
	}
	fflush(stdout);
	ck_assert_msg(problems == 0, "%zu disagreements between the version configs and their binaries "
		      "(listed above)", problems);
	pfs_buf_release(&all);
	catalog_free(c);
}
END_TEST

/*
 * Each patched recording against upstream's: the program's own flags differ
 * by exactly what the version's patches DEFINE for it, with those types.
 * A recording from an image built without them, or patches that define a
 * flag the config then misses, fail here even when no image is at hand.
 */
START_TEST(patches_add_exactly_their_flags)
{
	struct pfs_buf all = PFS_BUF_INIT(1u << 20);
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };
	const struct cat_impl *im;
	size_t patched = 0, problems = 0, defined = 0;

	ck_assert_msg(catalog_load(src_root(), &c, &err) == 0, "%s", err.msg);
	im = catalog_find_impl(c, "mvfst");
	for (size_t k = 0; k < cat_impl_n_versions(im); k++) {
		const struct cat_version *v = cat_impl_version_at(im, k);
		json_t *srcs = json_object_get(cat_impl_json(im), "flag_sources"), *p;
		struct pfs_buf patches = PFS_BUF_INIT(4u << 20);
		char *pdir = patch_dir(v);
		const char *pname;

		if (!pdir || !patched_recording(v)) {
			free(pdir);
			continue;
		}
		patches_read(pdir, &patches, true);
		json_object_foreach(json_object_get(cat_version_json(v), "programs"), pname, p) {
			const char *own = json_string_value(json_object_get(srcs, pname));
			struct pfs_buf up = PFS_BUF_INIT(1u << 20), pa = PFS_BUF_INIT(1u << 20);
			struct pfs_buf report = PFS_BUF_INIT(1u << 20);
			struct hf_list *lu = NULL, *lp = NULL, *added = hf_list_new();
			char path[1024];
			int r;

			(void)p;
			ck_assert_ptr_nonnull(added);
			snprintf(path, sizeof(path), "%s/tests/fixtures/mvfst-real/%s/%s-helpfull.txt", src_root(),
				 cat_version_name(v), pname);
			read_fixture(path, &up);
			ck_assert_msg(helpflags_parse(up.ptr, up.len, &lu, &err) == 0, "%s: %s", path, err.msg);
			snprintf(path, sizeof(path), "%s/tests/fixtures/mvfst-real/%s/patched/%s-helpfull.txt", src_root(),
				 cat_version_name(v), pname);
			read_fixture(path, &pa);
			ck_assert_msg(helpflags_parse(pa.ptr, pa.len, &lp, &err) == 0, "%s: %s", path, err.msg);
			ck_assert_msg(helpflags_patch_defines(patches.ptr, patches.len, own, added, &err) == 0, "%s: %s",
				      pdir, err.msg);
			defined += added->n;
			r = helpflags_patch_compare(lu, lp, added, own, &report);
			ck_assert_int_ge(r, 0);
			for (char *save = NULL, *l = report.len ? strtok_r(report.ptr, "\n", &save) : NULL; l;
			     l = strtok_r(NULL, "\n", &save))
				pfs_buf_printf(&all, "%s %s: %s\n", cat_version_name(v), pname, l);
			patched++;
			hf_list_free(lu);
			hf_list_free(lp);
			hf_list_free(added);
			pfs_buf_release(&up);
			pfs_buf_release(&pa);
			pfs_buf_release(&report);
		}
		pfs_buf_release(&patches);
		free(pdir);
	}
	/* rfc9000's recording at least, echo and tperf; the patches define
	 * 9 flags for echo and 6 for tperf (a parser that finds none would
	 * pass the comparison) */
	ck_assert_uint_ge(patched, 2);
	ck_assert_uint_eq(defined, patched / 2 * (9 + 6));
	for (char *save = NULL, *l = all.len ? strtok_r(all.ptr, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		printf("# %s\n", l);
		problems++;
	}
	fflush(stdout);
	ck_assert_msg(problems == 0, "%zu differences between the patched and upstream recordings that the "
		      "patches do not explain (listed above)", problems);
	pfs_buf_release(&all);
	catalog_free(c);
}
END_TEST

/* ---- the parser -------------------------------------------------------------------------- */

static const char sample[] =
	"echo: Warning: SetUsageMessage() never called\n"
	"\n"
	"  Flags from ./src/logging.cc:\n"
	"    -logtostderr (log messages go to stderr instead of logfiles) type: bool\n"
	"      default: true\n"
	"\n"
	"  Flags from ./src/vlog_is_on.cc:\n"
	"    -v (Show all VLOG(m) messages for m <= this. Overridable by --vmodule.)\n"
	"      type: int32 default: 0\n"
	"\n"
	"  Flags from /build/gflags-QLcAqI/gflags-2.2.2/src/gflags_reporting.cc:\n"
	"    -helpfull (show help on all flags -- same as -help) type: bool\n"
	"      default: false currently: true\n"
	"\n"
	"  Flags from /src/folly/folly/init/Init.cpp:\n"
	"    -logging (Logging configuration) type: string default: \"\"\n"
	"\n"
	"  Flags from /src/mvfst/quic/tools/tperf/tperf.cpp:\n"
	"    -congestion (newreno/cubic/bbr/ccp/none) type: string default: \"newreno\"\n"
	"    -num_streams (Number of streams (type: count) to send on simultaneously)\n"
	"      type: uint32 default: 1\n"
	"    -duration (Duration of test in seconds) type: int32 default: 10\n"
	"    -pacing (Enable pacing) type: bool default: false";   /* no final newline */

static struct hf_list *parse_ok(const char *text)
{
	struct hf_list *l = NULL;
	struct pfs_err err = { 0 };

	ck_assert_msg(helpflags_parse(text, strlen(text), &l, &err) == 0, "%s", err.msg);
	return l;
}

START_TEST(parses_sections_wrapped_entries_and_defaults)
{
	struct hf_list *l = parse_ok(sample);
	const struct hf_flag *f;

	ck_assert_uint_eq(l->n, 8);
	f = hf_list_find(l, "logtostderr");
	ck_assert_str_eq(f->type, "bool");
	ck_assert_str_eq(f->deflt, "true");
	ck_assert_str_eq(f->section, "./src/logging.cc");
	ck_assert_int_eq(f->line, 4);
	f = hf_list_find(l, "v");
	ck_assert_str_eq(f->type, "int32");
	ck_assert_str_eq(f->section, "./src/vlog_is_on.cc");
	/* "currently:" is this run's value, not the default */
	ck_assert_str_eq(hf_list_find(l, "helpfull")->deflt, "false");
	ck_assert_str_eq(hf_list_find(l, "congestion")->deflt, "\"newreno\"");
	/* a description holding "(type: count)" */
	f = hf_list_find(l, "num_streams");
	ck_assert_str_eq(f->type, "uint32");
	ck_assert_str_eq(f->deflt, "1");
	/* the last entry, without a newline after it */
	ck_assert_str_eq(hf_list_find(l, "pacing")->type, "bool");
	ck_assert_str_eq(hf_list_find(l, "pacing")->section, "/src/mvfst/quic/tools/tperf/tperf.cpp");
	ck_assert_ptr_null(hf_list_find(l, "Warning"));
	hf_list_free(l);
}
END_TEST

static void parse_fails(const char *text, const char *want)
{
	struct hf_list *l = NULL;
	struct pfs_err err = { 0 };

	ck_assert_int_eq(helpflags_parse(text, strlen(text), &l, &err), -EINVAL);
	ck_assert_ptr_null(l);
	ck_assert_str_eq(err.msg, want);
}

START_TEST(refuses_what_is_not_helpfull)
{
	parse_fails("  Flags from a.cc:\n    -x (no type here) default: 1\n",
		    "line 2: not \"-name (description) type: T default: D\"");
	parse_fails("  Flags from a.cc:\n    -x (a flag) type: int16 default: 1\n", "line 2: unknown type \"int16\"");
	parse_fails("  Flags from a.cc:\n    -x (a flag) type: bool\n",
		    "line 2: no \"type: T default: D\" after the description");
	parse_fails("  Flags from a.cc:\n    -x (a) type: bool default: true\n\n  Flags from b.cc:\n"
		    "    -x (b) type: bool default: false\n", "line 5: flag x defined twice");
	parse_fails("  Flags from a.cc:\n    -x (a) type: bool default: true\nrogue\x1b[1m line\n",
		    "line 3: neither a flag nor a section: \"rogue\\x1b[1m line\"");
	parse_fails("usage: prog\n", "no \"Flags from\" section with flags");
}
END_TEST

/* ---- the comparison ---------------------------------------------------------------------- */

static int compare(const char *config_json, char **report)
{
	struct hf_list *l = parse_ok(sample);
	struct pfs_buf b = PFS_BUF_INIT(1 << 16);
	json_error_t je;
	json_t *flags = json_loads(config_json, 0, &je);
	int r;

	ck_assert_msg(flags != NULL, "%s", je.text);
	r = helpflags_compare(l, flags, "quic/tools/tperf/", &b);
	*report = pfs_buf_steal(&b, NULL);
	if (!*report)
		*report = strdup("");
	json_decref(flags);
	hf_list_free(l);
	return r;
}

static const char agree[] =
	"{\"congestion\": \"string\", \"num_streams\": \"size\", \"duration\": \"int\", \"pacing\": \"bool\","
	" \"v\": \"int\", \"logtostderr\": \"bool\"}";

START_TEST(agreeing_configs_have_no_problems)
{
	char *rep;

	ck_assert_int_eq(compare(agree, &rep), 0);
	ck_assert_str_eq(rep, "");
	free(rep);
	/* glog and gflags flags may be left out; a bool may be written as a switch */
	ck_assert_int_eq(compare("{\"congestion\": \"string\", \"num_streams\": \"size\", \"duration\": \"int\","
				 " \"pacing\": \"switch\"}", &rep), 0);
	free(rep);
}
END_TEST

START_TEST(every_disagreement_is_a_problem)
{
	char *rep;

	/* listed, not defined: gflags would abort */
	ck_assert_int_eq(compare("{\"congestion\": \"string\", \"num_streams\": \"size\", \"duration\": \"int\","
				 " \"pacing\": \"bool\", \"dsr\": \"bool\"}", &rep), 1);
	ck_assert_str_eq(rep, "dsr: the config lists it but the program does not define it "
			      "(gflags aborts when it is passed)\n");
	free(rep);
	/* a program flag left out, and wrong types (unsigned is size, not int) */
	ck_assert_int_eq(compare("{\"congestion\": \"bool\", \"num_streams\": \"int\", \"duration\": \"int\"}",
				 &rep), 3);
	ck_assert_str_eq(rep,
			 "congestion: the config types it bool, the program's is string (config type string, "
			 "from /src/mvfst/quic/tools/tperf/tperf.cpp)\n"
			 "num_streams: the config types it int, the program's is uint32 (config type size, "
			 "from /src/mvfst/quic/tools/tperf/tperf.cpp)\n"
			 "pacing: the program defines it (/src/mvfst/quic/tools/tperf/tperf.cpp, bool, default false) "
			 "but the config does not list it\n");
	free(rep);
	/* a flag of a library linked in is not the program's */
	ck_assert_int_eq(compare("{\"congestion\": \"string\", \"num_streams\": \"size\", \"duration\": \"int\","
				 " \"pacing\": \"bool\", \"logging\": \"string\"}", &rep), 1);
	ck_assert_str_eq(rep, "logging: only /src/folly/folly/init/Init.cpp defines it: not the program's own "
			      "flag, nor glog's or gflags'\n");
	free(rep);
}
END_TEST

/* ---- patches ----------------------------------------------------------------------------- */

static const char a_patch[] =
	"pantherfs patch: a header, and a DEFINE_bool(header, ...) in it is not a flag\n"
	"\n"
	"diff --git a/quic/tools/tperf/tperf.cpp b/quic/tools/tperf/tperf.cpp\n"
	"--- a/quic/tools/tperf/tperf.cpp\n"
	"+++ b/quic/tools/tperf/tperf.cpp\n"
	"@@ -1,3 +1,8 @@\n"
	" DEFINE_bool(pacing, false, \"Enable pacing\");\n"
	"+DEFINE_uint64(max_data, 0, \"Connection window\");\n"
	"+DEFINE_string(\n"
	"+    cert_file,\n"
	"+    \"\",\n"
	"+    \"Server certificate\");\n"
	"+// DEFINE_bool(commented, false, \"\");\n"
	"-DEFINE_bool(removed, false, \"\");\n"
	"diff --git a/quic/samples/echo/main.cpp b/quic/samples/echo/main.cpp\n"
	"--- a/quic/samples/echo/main.cpp\n"
	"+++ b/quic/samples/echo/main.cpp\n"
	"@@ -1 +1,2 @@\n"
	"+DEFINE_bool(echo_only, false, \"another program's\");\n";

START_TEST(patch_defines_are_the_added_flags_of_the_program)
{
	static const char bad_type[] = "+++ b/x/a.cpp\n+DEFINE_int16(x, 0, \"\");\n";
	static const char no_name[] = "+++ b/x/a.cpp\n+DEFINE_bool(\n";
	static const char twice[] = "+++ b/x/a.cpp\n+DEFINE_bool(y, false, \"\");\n+DEFINE_bool(y, true, \"\");\n";
	struct hf_list *l = hf_list_new();
	struct pfs_err err = { 0 };

	ck_assert_int_eq(helpflags_patch_defines(a_patch, strlen(a_patch), "quic/tools/tperf/", l, &err), 0);
	ck_assert_uint_eq(l->n, 2);
	ck_assert_str_eq(l->v[0].name, "max_data");
	ck_assert_str_eq(l->v[0].type, "uint64");
	ck_assert_str_eq(l->v[0].section, "quic/tools/tperf/tperf.cpp");
	ck_assert_int_eq(l->v[0].line, 8);
	/* the name on the next line, as clang-format wraps it */
	ck_assert_str_eq(l->v[1].name, "cert_file");
	ck_assert_str_eq(l->v[1].type, "string");
	ck_assert_int_eq(l->v[1].line, 9);
	hf_list_free(l);

	l = hf_list_new();
	ck_assert_int_eq(helpflags_patch_defines(bad_type, strlen(bad_type), "x/", l, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "line 2: DEFINE_int16: not a gflags type");
	ck_assert_int_eq(helpflags_patch_defines(no_name, strlen(no_name), "x/", l, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "line 2: DEFINE_bool( without a flag name");
	ck_assert_int_eq(helpflags_patch_defines(twice, strlen(twice), "x/", l, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "line 3: flag y defined twice");
	hf_list_free(l);
}
END_TEST

START_TEST(patch_compare_names_each_unexplained_difference)
{
	static const char up[] =
		"  Flags from /src/mvfst/quic/tools/tperf/tperf.cpp:\n"
		"    -pacing (Enable pacing) type: bool default: false\n"
		"    -window (Window) type: uint64 default: 65536\n";
	static const char pa[] =
		"  Flags from /src/mvfst/quic/tools/tperf/tperf.cpp:\n"
		"    -cert_file (Server certificate) type: string default: \"\"\n"
		"    -pacing (Enable pacing) type: bool default: false\n"
		"    -surprise (From nowhere) type: bool default: false\n"
		"    -window (Window) type: uint32 default: 65536\n";
	struct hf_list *lu = parse_ok(up), *lp = parse_ok(pa), *added = hf_list_new();
	struct pfs_buf b = PFS_BUF_INIT(1 << 16);
	struct pfs_err err = { 0 };

	ck_assert_int_eq(helpflags_patch_defines(a_patch, strlen(a_patch), "quic/tools/tperf/", added, &err), 0);
	ck_assert_int_eq(helpflags_patch_compare(lu, lp, added, "quic/tools/tperf/", &b), 3);
	ck_assert_str_eq(pfs_buf_str(&b),
			 "max_data: the patches define it (quic/tools/tperf/tperf.cpp line 8), the patched program "
			 "does not: recorded from another build?\n"
			 "surprise: the patched program defines it (/src/mvfst/quic/tools/tperf/tperf.cpp), neither "
			 "upstream nor the patches do\n"
			 "window: uint64 upstream, uint32 patched\n");
	pfs_buf_release(&b);
	/* the recording of the patched build, as it should be */
	hf_list_free(lp);
	lp = parse_ok("  Flags from /src/mvfst/quic/tools/tperf/tperf.cpp:\n"
		      "    -cert_file (Server certificate) type: string default: \"\"\n"
		      "    -max_data (Connection window) type: uint64 default: 0\n"
		      "    -pacing (Enable pacing) type: bool default: false\n"
		      "    -window (Window) type: uint64 default: 65536\n");
	ck_assert_int_eq(helpflags_patch_compare(lu, lp, added, "quic/tools/tperf/", &b), 0);
	pfs_buf_release(&b);
	hf_list_free(lu);
	hf_list_free(lp);
	hf_list_free(added);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("flags");
	TCase *t = tcase_create("flags");

	tcase_add_test(t, version_configs_match_their_binaries);
	tcase_add_test(t, patches_add_exactly_their_flags);
	tcase_add_test(t, patch_defines_are_the_added_flags_of_the_program);
	tcase_add_test(t, patch_compare_names_each_unexplained_difference);
	tcase_add_test(t, parses_sections_wrapped_entries_and_defaults);
	tcase_add_test(t, refuses_what_is_not_helpfull);
	tcase_add_test(t, agreeing_configs_have_no_problems);
	tcase_add_test(t, every_disagreement_is_a_problem);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
