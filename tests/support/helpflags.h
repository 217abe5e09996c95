/* SPDX-License-Identifier: MIT */
/*
 * The flags a gflags program prints with --helpfull, and how they compare
 * with a program's `flags:` in a version config. Used by the unit test that
 * checks the shipped version configs against recorded --helpfull files
 * (tests/fixtures/mvfst-real/) and by tests/flagcmp, which
 * tests/mvfst-real.sh runs on the output of real images.
 *
 * The text: sections "  Flags from <source file>:", each holding entries
 * "    -name (description) type: T default: D" (gflags wraps them at 80
 * columns, continuation lines indented by 6), the type one of bool, int32,
 * int64, uint32, uint64, double, string.
 *
 * Which sections count (version_configs/README.md says the same):
 *  - the program's own sources, the section paths containing the folder
 *    implementation.yaml's `flag_sources` names for the program
 *    (quic/samples/echo/ for mvfst's echo): compared both ways, every flag
 *    must be in the config with its type;
 *  - glog and gflags (logging.cc, utilities.cc, vlog_is_on.cc, flags.cc;
 *    gflags*.cc): the config may list them (v, vmodule, logtostderr), with
 *    their type; those it leaves out are not problems;
 *  - everything else (folly, mvfst's libraries): linked in, not the
 *    program's interface; a config flag found only there is a problem.
 * Types: int32/int64 are `int`, uint32/uint64 `size` (gflags refuses a
 * negative value for them), bool `bool` or `switch`, double, string.
 */
#ifndef PFS_HELPFLAGS_H
#define PFS_HELPFLAGS_H

#include <stddef.h>

#include <jansson.h>

#include "pantherfs/buf.h"
#include "pantherfs/catalog.h"
#include "pantherfs/err.h"

struct hf_flag {
	char *name;
	char *type;      /* as gflags prints it: "uint32" */
	char *deflt;     /* the default as printed, quotes kept */
	char *section;   /* the source file of its section */
	int line;        /* where its entry starts, 1-based */
};

struct hf_list {
	struct hf_flag *v;
	size_t n;
};

/* An empty list (for helpflags_patch_defines()); NULL without memory. */
struct hf_list *hf_list_new(void);

/*
 * Parses --helpfull text. -EINVAL when an entry inside a section is not of
 * the form above, a type is unknown or a flag is defined twice: err says
 * "line N: ..." (control characters shown as \xNN). *out is the caller's
 * (hf_list_free()).
 */
int helpflags_parse(const char *text, size_t len, struct hf_list **out, struct pfs_err *err);
void hf_list_free(struct hf_list *l);

/* The flag of that name, or NULL. */
const struct hf_flag *hf_list_find(const struct hf_list *l, const char *name);

/*
 * Compares a program's flags (the `flags:` object of its version config:
 * name -> type) with what the binary defines; own_dir is the program's
 * source folder ("quic/samples/echo/"). Appends one line per problem to
 * report, each "<flag>: <what is wrong>", in flag name order, and returns
 * how many (0: the config and the binary agree), or -ENOMEM / -E2BIG (the
 * report's cap) with report freed.
 */
int helpflags_compare(const struct hf_list *bin, json_t *config_flags, const char *own_dir,
		      struct pfs_buf *report);

/*
 * The whole check of one program of one version: parses text, takes the
 * program's source folder from implementation.yaml's flag_sources and its
 * flags from the version config, and compares (helpflags_compare()).
 * Returns the number of problems (report holds them) or -errno with err set
 * (unparsable text: "<what>: line N: ...", no such program, no flag_sources).
 */
int helpflags_check(const struct cat_version *v, const char *program, const char *what,
		    const char *text, size_t len, struct pfs_buf *report, struct pfs_err *err);

/*
 * Patched programs (docker/<implementation>/patches/<version>/): the flags a
 * patch file, a unified diff, gives a program are its added lines
 * "+DEFINE_<type>(<name>, ..." in files whose path contains own_dir (the
 * name may be on the next added line, as clang-format wraps it). Appends
 * them to out (section: the file's path, deflt: "", line: the patch's).
 * -EINVAL with err ("line N: ...") for a DEFINE without a name or of a type
 * gflags lacks, or a flag defined twice; -E2BIG past the list's capacity.
 */
int helpflags_patch_defines(const char *text, size_t len, const char *own_dir, struct hf_list *out,
			    struct pfs_err *err);

/*
 * The program's own flags (sections containing own_dir) of a patched build
 * against the same program unpatched: what patched has more must be exactly
 * `added`, with the same gflags types, and none of upstream's may be gone.
 * One line per problem in report, in name order; returns how many, or
 * -ENOMEM / -E2BIG (report freed).
 */
int helpflags_patch_compare(const struct hf_list *upstream, const struct hf_list *patched,
			    const struct hf_list *added, const char *own_dir, struct pfs_buf *report);

#endif
