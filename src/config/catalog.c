/* SPDX-License-Identifier: MIT */
/*
 * Loading and checking the catalogue. Everything is read once, at start:
 * a malformed data file is an error here, with its name, line and key, so
 * nothing downstream needs to re-check the shape of version configs. The
 * checks are about shape (types, references between files); what the values
 * mean is config.c's business.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pfs_config.h"
#include "pantherfs/catalog.h"
#include "pantherfs/testcase.h"
#include "pantherfs/metrics.h"
#include "pantherfs/util.h"
#include "pantherfs/yamltree.h"
#include "pantherfs/banned.h"

#define MAX_IMPLS 32
#define MAX_VERSIONS 64
#define MAX_TEMPLATES 256

struct cat_version {
	char *name;
	struct cat_impl *impl;
	struct ydoc *doc;
	char *text;
	size_t text_len;
};

struct cat_impl {
	char *name;
	char *sources_dir;      /* <data dir>/docker/<name>/sources, or catalog_set_sources_dir()'s */
	struct ydoc *doc;
	struct cat_version *versions;
	size_t n_versions;
	char *version_names;
};

struct tmpl_entry {
	char *rel;
	struct tmpl *t;
};

struct catalog {
	char *data_dir;
	struct cat_impl *impls;
	size_t n_impls;
	char *impl_names;
	struct tmpl_entry *tmpls;
	size_t n_tmpls;
};

/*
 * From the build dir: the source tree. Installed: <prefix>/share/pantherfs
 * found next to the binary (bin/../share/pantherfs), so an install under a
 * DESTDIR or a moved prefix works too; else the configured path.
 */
const char *catalog_default_data_dir(void)
{
	static char exe[PATH_MAX], rel[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t root = strlen(PFS_BUILD_ROOT);
	char *slash;

	if (n <= 0)
		return PFS_DATADIR;
	exe[n] = '\0';
	if ((size_t)n > root && !strncmp(exe, PFS_BUILD_ROOT, root) && exe[root] == '/')
		return PFS_SOURCE_DIR;
	slash = strrchr(exe, '/');
	if (slash) {
		struct stat st;

		*slash = '\0';
		snprintf(rel, sizeof(rel), "%s/../share/pantherfs", exe);
		if (stat(rel, &st) == 0 && S_ISDIR(st.st_mode) && realpath(rel, exe))
			return exe;
	}
	return PFS_DATADIR;
}

/* ---- small checks with positions --------------------------------------------------- */

struct ctx {
	const char *file;       /* relative to the data dir, for messages */
	struct ydoc *doc;
	struct pfs_err *err;
};

static int bad(struct ctx *x, json_t *parent, const char *key, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int bad(struct ctx *x, json_t *parent, const char *key, const char *path, const char *fmt, ...)
{
	struct ydoc_pos p = { 0, 0 };
	char msg[512];
	va_list ap;

	if (parent && key)
		p = ydoc_value_pos(x->doc, parent, key);
	if (!p.line && parent)
		p = ydoc_pos(x->doc, parent);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pfs_err_set(x->err, -EINVAL, "%s:%d:%d: %s: %s", x->file, p.line, p.col, path, msg);
}

static const char *req_str(struct ctx *x, json_t *o, const char *key, const char *path, int *r)
{
	json_t *v = json_object_get(o, key);

	if (*r == 0 && !json_is_string(v))
		*r = bad(x, o, key, path, v ? "must be a string" : "missing");
	return json_string_value(v);
}

/* ---- templates ------------------------------------------------------------------------- */

static int load_templates(struct catalog *c, const char *dir, const char *rel, struct pfs_err *err)
{
	char *abs = rel[0] ? pfs_strdup_printf("%s/%s", dir, rel) : strdup(dir);
	struct dirent **ents = NULL;
	int n, r = 0;

	if (!abs)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	n = scandir(abs, &ents, NULL, alphasort);
	if (n < 0) {
		r = errno == ENOENT && !rel[0] ? 0 : pfs_err_set(err, -errno, "%s: %s", abs, strerror(errno));
		free(abs);
		return r;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char *sub = NULL, *path = NULL;
		struct stat st;
		size_t len = strlen(name);

		if (r < 0 || name[0] == '.')
			goto next;
		sub = rel[0] ? pfs_strdup_printf("%s/%s", rel, name) : strdup(name);
		path = pfs_strdup_printf("%s/%s", abs, name);
		if (!sub || !path) {
			r = pfs_err_set(err, -ENOMEM, "out of memory");
			goto next;
		}
		if (stat(path, &st) < 0) {
			r = pfs_err_set(err, -errno, "%s: %s", path, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			r = load_templates(c, dir, sub, err);
		} else if (len > 6 && !strcmp(name + len - 6, ".jinja")) {
			struct pfs_buf b = PFS_BUF_INIT(1u << 20);
			char tname[PATH_MAX];
			struct tmpl *t = NULL;

			if (c->n_tmpls == MAX_TEMPLATES) {
				r = pfs_err_set(err, -E2BIG, "templates/: more than %d templates", MAX_TEMPLATES);
				goto next;
			}
			r = pfs_read_file(path, &b);
			if (r < 0) {
				pfs_err_set(err, r, "%s: %s", path, strerror(-r));
				goto next;
			}
			snprintf(tname, sizeof(tname), "templates/%s", sub);
			r = tmpl_compile(tname, b.ptr, b.len, NULL, &t, err);
			pfs_buf_release(&b);
			if (r < 0)
				goto next;
			c->tmpls[c->n_tmpls].rel = sub;
			c->tmpls[c->n_tmpls].t = t;
			c->n_tmpls++;
			sub = NULL;
		}
next:
		free(sub);
		free(path);
		free(ents[i]);
	}
	free(ents);
	free(abs);
	return r;
}

const struct tmpl *catalog_template(const struct catalog *c, const char *rel)
{
	for (size_t i = 0; i < c->n_tmpls; i++)
		if (!strcmp(c->tmpls[i].rel, rel))
			return c->tmpls[i].t;
	return NULL;
}

/* ---- version configs -------------------------------------------------------------------- */

static const char *const flag_types[] = { "int", "bool", "string", "size", "double", "switch", NULL };

static bool in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; s && list[i]; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

/* {reason: text, roles: [server|client] (optional)} and the keys `extra` allows. */
static int check_rule(struct ctx *x, json_t *parent, const char *key, json_t *rule, const char *path,
		      const char *const *extra)
{
	json_t *roles = json_object_get(rule, "roles"), *it;
	const char *k;
	size_t i;

	if (!json_is_object(rule))
		return bad(x, parent, key, path, "%s: must be a mapping with a reason", key);
	if (!json_is_string(json_object_get(rule, "reason")))
		return bad(x, parent, key, path, "%s: needs a reason (a string)", key);
	json_object_foreach(rule, k, it)
		if (strcmp(k, "reason") && strcmp(k, "roles") && !in_list(k, extra))
			return bad(x, rule, k, path, "%s: unknown key %s", key, k);
	if (roles && (!json_is_array(roles) || json_array_size(roles) == 0))
		return bad(x, rule, "roles", path, "%s: roles must list server and/or client", key);
	json_array_foreach(roles, i, it)
		if (!in_list(json_string_value(it), (const char *const[]){ "server", "client", NULL }))
			return bad(x, rule, "roles", path, "%s: roles: only server and client", key);
	return 0;
}

/*
 * bad_values, value_needs, role_flags (version_configs/README.md): each names
 * flags the program defines, so a typo is an error here, not a rule that
 * silently never applies.
 */
static int check_flag_rules(struct ctx *x, json_t *prog, const char *path)
{
	static const char *const bad_keys[] = { "fallback", NULL }, *const need_keys[] = { "flags", NULL },
			  *const none[] = { NULL };
	json_t *flags = json_object_get(prog, "flags"), *byflag, *rule, *it;
	const char *f, *val, *k;
	int r = 0;

	for (int kind = 0; kind < 2 && r == 0; kind++) {
		const char *name = kind ? "value_needs" : "bad_values";
		json_t *top = json_object_get(prog, name);

		if (top && !json_is_object(top))
			return bad(x, prog, name, path, "%s must map flags to values", name);
		json_object_foreach(top, f, byflag) {
			if (!json_object_get(flags, f))
				return bad(x, top, f, path, "%s: the program has no flag %s", name, f);
			if (!json_is_object(byflag))
				return bad(x, top, f, path, "%s.%s must map values to rules", name, f);
			json_object_foreach(byflag, val, rule) {
				r = check_rule(x, byflag, val, rule, path, kind ? need_keys : bad_keys);
				if (r < 0)
					return r;
				if (!kind && json_object_get(rule, "fallback") &&
				    !json_is_string(json_object_get(rule, "fallback")))
					return bad(x, rule, "fallback", path, "%s: fallback must name what runs instead", val);
				if (!kind)
					continue;
				if (!json_is_object(json_object_get(rule, "flags")) ||
				    json_object_size(json_object_get(rule, "flags")) == 0)
					return bad(x, byflag, val, path, "%s: flags must map the flags it needs to values", val);
				json_object_foreach(json_object_get(rule, "flags"), k, it)
					if (!json_object_get(flags, k) || json_is_object(it) || json_is_array(it))
						return bad(x, rule, "flags", path, "%s: %s must be a flag of the program with one value",
							   val, k);
			}
		}
	}
	rule = json_object_get(prog, "role_flags");
	if (rule && !json_is_object(rule))
		return bad(x, prog, "role_flags", path, "role_flags must map flags to {roles, reason}");
	json_object_foreach(rule, f, it) {
		if (!json_object_get(flags, f))
			return bad(x, rule, f, path, "role_flags: the program has no flag %s", f);
		r = check_rule(x, rule, f, it, path, none);
		if (r == 0 && !json_object_get(it, "roles"))
			r = bad(x, rule, f, path, "role_flags.%s: needs the roles that take it", f);
		if (r < 0)
			return r;
	}
	return 0;
}

static int check_program(struct catalog *c, struct cat_impl *im, struct ctx *x, json_t *prog,
			 const char *pname)
{
	char path[256], tpl[512], why[512];
	const char *s;
	json_t *v, *it;
	const char *k;
	size_t i;
	int r = 0;

	snprintf(path, sizeof(path), "programs.%s", pname);
	if (!json_is_object(prog))
		return bad(x, prog, NULL, path, "must be a mapping");
	s = req_str(x, prog, "path", "path", &r);
	if (r == 0 && s[0] != '/')
		r = bad(x, prog, "path", path, "path must be absolute (a bare program name may be a shell builtin)");
	v = json_object_get(prog, "roles");
	if (r == 0 && (!json_is_array(v) || json_array_size(v) == 0))
		r = bad(x, prog, "roles", path, "roles must be a non-empty list of server, client");
	json_array_foreach(v, i, it)
		if (r == 0 && !in_list(json_string_value(it), (const char *const[]){ "server", "client", NULL }))
			r = bad(x, v, NULL, path, "roles: only server and client");
	s = req_str(x, prog, "template", "template", &r);
	if (r == 0) {
		snprintf(tpl, sizeof(tpl), "%s/%s", im->name, s);
		if (!catalog_template(c, tpl))
			r = bad(x, prog, "template", path, "no template templates/%s", tpl);
	}
	v = json_object_get(prog, "flags");
	if (r == 0 && !json_is_object(v))
		r = bad(x, prog, "flags", path, "flags must be a mapping of flag names to types");
	json_object_foreach(v, k, it)
		if (r == 0 && !in_list(json_string_value(it), flag_types))
			r = bad(x, v, k, path, "flag %s: type must be int, bool, string, size, double or switch", k);
	v = json_object_get(prog, "congestion");
	json_array_foreach(v, i, it)
		if (r == 0 && !json_is_string(it))
			r = bad(x, prog, "congestion", path, "congestion must list names");
	v = json_object_get(prog, "success");
	if (r == 0 && v && !json_is_object(v))
		r = bad(x, prog, "success", path, "success must map roles to rules");
	if (r == 0)
		r = check_flag_rules(x, prog, path);
	v = json_object_get(prog, "metrics");
	if (r == 0 && v) {
		snprintf(tpl, sizeof(tpl), "%s.metrics", path);
		r = mrules_check(v, x->doc, x->file, tpl, x->err);
	}
	if (r == 0 && tc_check_program(prog, why, sizeof(why)) < 0)
		r = bad(x, prog, "testcases", path, "%s", why);
	return r;
}

static int load_yaml(const char *file, const char *rel, struct ydoc **doc, char **text, size_t *len,
		     struct pfs_err *err)
{
	struct pfs_buf b = PFS_BUF_INIT(YDOC_MAX_BYTES);
	int r = pfs_read_file(file, &b);

	if (r < 0)
		return pfs_err_set(err, r, "%s: %s", rel, strerror(-r));
	r = ydoc_parse(rel, b.ptr, b.len, doc, err);
	if (r == 0 && !json_is_object(ydoc_root(*doc))) {
		ydoc_free(*doc);
		*doc = NULL;
		r = pfs_err_set(err, -EINVAL, "%s: must hold a mapping", rel);
	}
	if (r == 0 && text)
		*text = pfs_buf_steal(&b, len);
	pfs_buf_release(&b);
	return r;
}

static int load_version(struct catalog *c, struct cat_impl *im, struct cat_version *v, struct pfs_err *err)
{
	char *file = pfs_strdup_printf("%s/version_configs/%s/%s.yaml", c->data_dir, im->name, v->name);
	char rel[256];
	struct ctx x = { .file = rel, .err = err };
	json_t *root, *progs, *p;
	const char *k, *s;
	int r = 0;

	snprintf(rel, sizeof(rel), "version_configs/%s/%s.yaml", im->name, v->name);
	if (!file)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	r = load_yaml(file, rel, &v->doc, &v->text, &v->text_len, err);
	free(file);
	if (r < 0)
		return r == -ENOENT ? pfs_err_set(err, -EINVAL, "%s: listed in implementation.yaml but missing", rel) : r;
	x.doc = v->doc;
	root = ydoc_root(v->doc);
	s = req_str(&x, root, "version", "version", &r);
	if (r == 0 && strcmp(s, v->name) != 0)
		r = bad(&x, root, "version", "version", "says \"%s\" in %s.yaml", s, v->name);
	req_str(&x, root, "description", "description", &r);
	progs = json_object_get(root, "programs");
	if (r == 0 && (!json_is_object(progs) || json_object_size(progs) == 0))
		r = bad(&x, root, "programs", "programs", "must map program names to their facts");
	json_object_foreach(progs, k, p)
		if (r == 0)
			r = check_program(c, im, &x, p, k);
	if (r == 0 && json_object_get(root, "image") && !json_is_object(json_object_get(root, "image")))
		r = bad(&x, root, "image", "image", "must be a mapping");
	return r;
}

static bool program_known(const struct cat_impl *im, const char *prog)
{
	for (size_t i = 0; i < im->n_versions; i++)
		if (json_object_get(json_object_get(ydoc_root(im->versions[i].doc), "programs"), prog))
			return true;
	return false;
}

/* keys: each entry maps programs to a string, a list, or one rule object */
static int check_keys(struct cat_impl *im, struct ctx *x, json_t *keys)
{
	static const char *const rules[] = { "flag", "template", "fixed", "unsupported", NULL };
	const char *key, *prog;
	json_t *entry, *rule;
	int r = 0;

	if (!json_is_object(keys))
		return bad(x, ydoc_root(x->doc), "keys", "keys", "must be a mapping");
	json_object_foreach(keys, key, entry) {
		if (!json_is_object(entry))
			return bad(x, keys, key, "keys", "%s: must map programs to how they apply it", key);
		json_object_foreach(entry, prog, rule) {
			const char *kind = NULL;
			void *it;

			if (!program_known(im, prog))
				return bad(x, entry, prog, "keys", "%s: no version has a program \"%s\"", key, prog);
			if (json_is_string(rule) || json_is_array(rule))
				continue;
			if (!json_is_object(rule))
				return bad(x, entry, prog, "keys", "%s.%s: must be a flag, a list or a rule", key, prog);
			for (it = json_object_iter(rule); it; it = json_object_iter_next(rule, it))
				if (in_list(json_object_iter_key(it), rules))
					kind = json_object_iter_key(it);
			if (!kind)
				return bad(x, entry, prog, "keys", "%s.%s: needs one of flag, template, fixed, unsupported",
					   key, prog);
			/* a flag or template for some roles only: the others get the reason */
			if (json_object_get(rule, "roles") &&
			    (r = check_rule(x, entry, prog, rule, "keys",
					    (const char *const[]){ "flag", "suffix", "template", NULL })) < 0)
				return r;
		}
	}
	return r;
}

static int load_impl(struct catalog *c, struct cat_impl *im, struct pfs_err *err)
{
	char *file = pfs_strdup_printf("%s/version_configs/%s/implementation.yaml", c->data_dir, im->name);
	struct pfs_buf names = PFS_BUF_INIT(4096);
	char rel[256];
	struct ctx x = { .file = rel, .err = err };
	json_t *root, *versions, *it;
	const char *s;
	size_t i;
	int r = 0;

	snprintf(rel, sizeof(rel), "version_configs/%s/implementation.yaml", im->name);
	if (!file)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	r = load_yaml(file, rel, &im->doc, NULL, NULL, err);
	free(file);
	if (r < 0)
		return r;
	x.doc = im->doc;
	root = ydoc_root(im->doc);
	s = req_str(&x, root, "name", "name", &r);
	if (r == 0 && strcmp(s, im->name) != 0)
		return bad(&x, root, "name", "name", "\"%s\" in folder %s", s, im->name);
	req_str(&x, root, "description", "description", &r);
	req_str(&x, root, "default_program", "default_program", &r);
	versions = json_object_get(root, "versions");
	if (r == 0 && (!json_is_array(versions) || json_array_size(versions) == 0 ||
		       json_array_size(versions) > MAX_VERSIONS))
		r = bad(&x, root, "versions", "versions", "must list the versions, newest first");
	if (r < 0)
		return r;
	im->versions = calloc(json_array_size(versions), sizeof(*im->versions));
	if (!im->versions)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	json_array_foreach(versions, i, it) {
		s = json_string_value(it);
		if (!s || !pfs_name_valid(s))
			return bad(&x, root, "versions", "versions", "item %zu: not a valid version name", i);
		im->versions[i].name = strdup(s);
		im->versions[i].impl = im;
		im->n_versions++;
		if (!im->versions[i].name)
			return pfs_err_set(err, -ENOMEM, "out of memory");
		r = load_version(c, im, &im->versions[i], err);
		if (r < 0)
			return r;
		pfs_buf_printf(&names, "%s%s", i ? ", " : "", s);
	}
	im->version_names = pfs_buf_steal(&names, NULL);
	s = req_str(&x, root, "default_version", "default_version", &r);
	if (r == 0 && !cat_impl_find_version(im, s))
		r = bad(&x, root, "default_version", "default_version", "\"%s\" is not in versions", s);
	s = json_string_value(json_object_get(root, "default_program"));
	if (r == 0 && !program_known(im, s))
		r = bad(&x, root, "default_program", "default_program", "no version has a program \"%s\"", s);
	s = json_string_value(json_object_get(root, "certificates"));
	if (r == 0 && json_object_get(root, "certificates") &&
	    !in_list(s, (const char *const[]){ "generate", "optional", "builtin", NULL }))
		r = bad(&x, root, "certificates", "certificates", "must be generate, optional or builtin");
	if (r == 0)
		r = check_keys(im, &x, json_object_get(root, "keys"));
	json_array_foreach(json_object_get(root, "aliases"), i, it)
		if (r == 0 && !json_is_string(it))
			r = bad(&x, root, "aliases", "aliases", "must list names");
	return r;
}

/* Version files in the folder that implementation.yaml does not list. */
static int check_strays(struct catalog *c, struct cat_impl *im, struct pfs_err *err)
{
	char *dir = pfs_strdup_printf("%s/version_configs/%s", c->data_dir, im->name);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!dir)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	d = opendir(dir);
	free(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) && r == 0) {
		size_t n = strlen(de->d_name);
		char ver[256];

		if (n <= 5 || strcmp(de->d_name + n - 5, ".yaml") || !strcmp(de->d_name, "implementation.yaml"))
			continue;
		snprintf(ver, sizeof(ver), "%.*s", (int)(n - 5), de->d_name);
		if (!cat_impl_find_version(im, ver))
			r = pfs_err_set(err, -EINVAL, "version_configs/%s/%s: not listed in implementation.yaml's versions",
					im->name, de->d_name);
	}
	closedir(d);
	return r;
}

int catalog_load(const char *data_dir, struct catalog **out, struct pfs_err *err)
{
	struct pfs_buf names = PFS_BUF_INIT(4096);
	struct dirent **ents = NULL;
	struct catalog *c;
	char *vdir = NULL, *tdir = NULL;
	int n = 0, r = 0;

	c = calloc(1, sizeof(*c));
	if (!c)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	c->data_dir = strdup(data_dir);
	c->impls = calloc(MAX_IMPLS, sizeof(*c->impls));
	c->tmpls = calloc(MAX_TEMPLATES, sizeof(*c->tmpls));
	vdir = pfs_strdup_printf("%s/version_configs", data_dir);
	tdir = pfs_strdup_printf("%s/templates", data_dir);
	if (!c->data_dir || !c->impls || !c->tmpls || !vdir || !tdir) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = load_templates(c, tdir, "", err);
	if (r < 0)
		goto out;
	n = scandir(vdir, &ents, NULL, alphasort);
	if (n < 0) {
		r = pfs_err_set(err, -errno, "data dir %s: cannot read version_configs/: %s", data_dir,
				strerror(errno));
		n = 0;
		goto out;
	}
	for (int i = 0; i < n && r == 0; i++) {
		struct cat_impl *im;

		if (ents[i]->d_name[0] == '.' || ents[i]->d_type != DT_DIR)
			continue;
		if (c->n_impls == MAX_IMPLS) {
			r = pfs_err_set(err, -E2BIG, "version_configs/: more than %d implementations", MAX_IMPLS);
			break;
		}
		im = &c->impls[c->n_impls++];
		im->name = strdup(ents[i]->d_name);
		im->sources_dir = pfs_strdup_printf("%s/docker/%s/sources", data_dir, ents[i]->d_name);
		if (!im->name || !im->sources_dir) {
			r = pfs_err_set(err, -ENOMEM, "out of memory");
			break;
		}
		r = load_impl(c, im, err);
		if (r == 0)
			r = check_strays(c, im, err);
		pfs_buf_printf(&names, "%s%s", names.len ? ", " : "", im->name);
	}
	if (r == 0 && c->n_impls == 0)
		r = pfs_err_set(err, -ENOENT, "data dir %s: no implementations in version_configs/", data_dir);
	c->impl_names = pfs_buf_steal(&names, NULL);
out:
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(vdir);
	free(tdir);
	pfs_buf_release(&names);
	if (r < 0) {
		catalog_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void catalog_free(struct catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->impls && i < c->n_impls; i++) {
		struct cat_impl *im = &c->impls[i];

		for (size_t k = 0; k < im->n_versions; k++) {
			free(im->versions[k].name);
			free(im->versions[k].text);
			ydoc_free(im->versions[k].doc);
		}
		free(im->versions);
		free(im->version_names);
		free(im->sources_dir);
		free(im->name);
		ydoc_free(im->doc);
	}
	for (size_t i = 0; c->tmpls && i < c->n_tmpls; i++) {
		free(c->tmpls[i].rel);
		tmpl_free(c->tmpls[i].t);
	}
	free(c->tmpls);
	free(c->impls);
	free(c->impl_names);
	free(c->data_dir);
	free(c);
}

int catalog_set_sources_dir(struct catalog *c, const char *dir, struct pfs_err *err)
{
	char *abs = realpath(dir, NULL);
	struct stat st;
	int r = 0;

	if (!abs)
		return pfs_err_set(err, -errno, "sources dir %s: %s", dir, strerror(errno));
	if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = pfs_err_set(err, -ENOTDIR, "sources dir %s: not a directory", dir);
		goto out;
	}
	for (size_t i = 0; i < c->n_impls; i++) {
		char *copy = strdup(abs);

		if (!copy) {
			r = pfs_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		free(c->impls[i].sources_dir);
		c->impls[i].sources_dir = copy;
	}
out:
	free(abs);
	return r;
}

/* ---- accessors ---------------------------------------------------------------------------- */

const char *catalog_data_dir(const struct catalog *c) { return c->data_dir; }
size_t catalog_n_impls(const struct catalog *c) { return c->n_impls; }
const char *catalog_impl_names(const struct catalog *c) { return c->impl_names ? c->impl_names : ""; }

const struct cat_impl *catalog_impl_at(const struct catalog *c, size_t i)
{
	return i < c->n_impls ? &c->impls[i] : NULL;
}

const struct cat_impl *catalog_find_impl(const struct catalog *c, const char *name)
{
	for (size_t i = 0; name && i < c->n_impls; i++) {
		json_t *al = json_object_get(ydoc_root(c->impls[i].doc), "aliases"), *it;
		size_t k;

		if (!strcmp(c->impls[i].name, name))
			return &c->impls[i];
		json_array_foreach(al, k, it)
			if (!strcmp(json_string_value(it), name))
				return &c->impls[i];
	}
	return NULL;
}

const char *cat_impl_name(const struct cat_impl *i) { return i->name; }
const char *cat_impl_sources_dir(const struct cat_impl *i) { return i->sources_dir; }
json_t *cat_impl_json(const struct cat_impl *i) { return ydoc_root(i->doc); }
size_t cat_impl_n_versions(const struct cat_impl *i) { return i->n_versions; }
const char *cat_impl_version_names(const struct cat_impl *i) { return i->version_names ? i->version_names : ""; }

const struct cat_version *cat_impl_version_at(const struct cat_impl *i, size_t k)
{
	return k < i->n_versions ? &i->versions[k] : NULL;
}

const struct cat_version *cat_impl_find_version(const struct cat_impl *i, const char *name)
{
	for (size_t k = 0; name && k < i->n_versions; k++)
		if (i->versions[k].name && !strcmp(i->versions[k].name, name))
			return &i->versions[k];
	return NULL;
}

const char *cat_impl_default_version(const struct cat_impl *i)
{
	return json_string_value(json_object_get(ydoc_root(i->doc), "default_version"));
}

const char *cat_version_name(const struct cat_version *v) { return v->name; }
const struct cat_impl *cat_version_impl(const struct cat_version *v) { return v->impl; }
json_t *cat_version_json(const struct cat_version *v) { return ydoc_root(v->doc); }

const char *cat_version_text(const struct cat_version *v, size_t *len)
{
	if (len)
		*len = v->text_len;
	return v->text;
}

json_t *cat_version_program(const struct cat_version *v, const char *program)
{
	return json_object_get(json_object_get(ydoc_root(v->doc), "programs"), program);
}
