/* SPDX-License-Identifier: MIT */
/*
 * The implementation catalogue: what pantherfs can build and run, read from
 * the data dir (version_configs/, templates/, docker/; the format is in
 * version_configs/README.md).
 *
 * catalog_load() reads and checks everything at once, so a broken data file
 * stops pantherfs at start with its name and line, never in the middle of a
 * run. After loading the catalogue is immutable: every accessor may be called
 * from any thread without locking. All returned pointers are borrowed from
 * the catalogue and live until catalog_free().
 */
#ifndef PANTHERFS_CATALOG_H
#define PANTHERFS_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "pantherfs/err.h"
#include "pantherfs/template.h"

struct catalog;
struct cat_impl;
struct cat_version;

/*
 * The data dir pantherfs uses when none is given: the source tree when the
 * running binary sits in the build dir it was built in, else the installed
 * one. Returns a static string.
 */
const char *catalog_default_data_dir(void);

/* -ENOENT (no version_configs/), -EINVAL (a malformed file: err names it). */
int catalog_load(const char *data_dir, struct catalog **out, struct pfs_err *err);
void catalog_free(struct catalog *c);

/*
 * Where the source tarballs of every implementation's images are looked up
 * (sources.h): dir, made absolute, instead of each implementation's
 * <data dir>/docker/<impl>/sources. The one exception to immutability: call
 * it right after catalog_load(), before the catalogue is shared. -ENOENT,
 * -ENOTDIR with err naming dir.
 */
int catalog_set_sources_dir(struct catalog *c, const char *dir, struct pfs_err *err);

const char *catalog_data_dir(const struct catalog *c);
size_t catalog_n_impls(const struct catalog *c);
const struct cat_impl *catalog_impl_at(const struct catalog *c, size_t i);
/* By name or alias ("mvfst", "quic/mvfst"); NULL when unknown. */
const struct cat_impl *catalog_find_impl(const struct catalog *c, const char *name);
/* "mvfst, ngtcp2": for messages. */
const char *catalog_impl_names(const struct catalog *c);

const char *cat_impl_name(const struct cat_impl *i);
/* Where this implementation's source tarballs are looked up (absolute when set). */
const char *cat_impl_sources_dir(const struct cat_impl *i);
/* implementation.yaml as JSON. */
json_t *cat_impl_json(const struct cat_impl *i);
size_t cat_impl_n_versions(const struct cat_impl *i);
const struct cat_version *cat_impl_version_at(const struct cat_impl *i, size_t k);
const struct cat_version *cat_impl_find_version(const struct cat_impl *i, const char *name);
const char *cat_impl_default_version(const struct cat_impl *i);
/* "rfc9000, draft29, ...": for messages. */
const char *cat_impl_version_names(const struct cat_impl *i);

const char *cat_version_name(const struct cat_version *v);
const struct cat_impl *cat_version_impl(const struct cat_version *v);
/* <version>.yaml as JSON. */
json_t *cat_version_json(const struct cat_version *v);
/* The file as written (what implementations/<impl>/<version>.yaml shows). */
const char *cat_version_text(const struct cat_version *v, size_t *len);
/* programs.<name> of this version, or NULL. */
json_t *cat_version_program(const struct cat_version *v, const char *program);

/*
 * A compiled template: "mvfst/echo.jinja", "wrappers/strace.jinja". All of
 * templates/ is compiled at load; NULL when there is no such template.
 */
const struct tmpl *catalog_template(const struct catalog *c, const char *rel);

#endif
