/* SPDX-License-Identifier: MIT */
/*
 * From a PANTHER test configuration to a plan.
 *
 * Validation never stops at the first problem: every check appends to the
 * report and carries on, so a user fixing a config sees all of it at once.
 * Positions come from the YAML tree (yamltree.h): the value's line for bad
 * values, the key's line for unknown keys, the mapping's line for missing
 * keys.
 *
 * How config keys reach programs is data (implementation.yaml `keys`), so
 * this file knows no mvfst or ngtcp2 flag by name. It does know PANTHER's
 * schema: which keys exist at each level and which of them pantherfs applies.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pantherfs/config.h"
#include "pantherfs/util.h"
#include "pantherfs/yamltree.h"
#include "pantherfs/banned.h"

#define MAX_MESSAGES 1000
#define MAX_TIMEOUT (7L * 24 * 3600)
#define PATH_LEN 512

/* ---- string vectors --------------------------------------------------------------- */

struct strv {
	char **v;
	size_t n, alloc;
};

static int strv_push_owned(struct strv *s, char *str)
{
	if (!str)
		return -ENOMEM;
	if (s->n + 2 > s->alloc) {
		size_t na = s->alloc ? s->alloc * 2 : 8;
		char **nv = realloc(s->v, na * sizeof(*nv));
		if (!nv) {
			free(str);
			return -ENOMEM;
		}
		s->v = nv;
		s->alloc = na;
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
	return 0;
}

static int strv_push(struct strv *s, const char *str)
{
	return strv_push_owned(s, strdup(str));
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static char **strv_take(struct strv *s)
{
	char **v = s->v;

	if (!v)
		v = calloc(1, sizeof(*v));
	s->v = NULL;
	s->n = s->alloc = 0;
	return v;
}

void cfg_report_free(struct cfg_report *r)
{
	if (!r)
		return;
	strv_free(r->errors);
	strv_free(r->warnings);
	strv_free(r->notes);
	memset(r, 0, sizeof(*r));
}

/* ---- validation context ------------------------------------------------------------- */

enum at { AT_VALUE, AT_KEY, AT_NODE };

struct vctx {
	const struct catalog *cat;
	struct ydoc *doc;
	const char *file;
	const char *prefix;   /* "tests[1]" while checking one test of several, else NULL */
	struct strv errors, warnings, notes;
	bool oom;
};

static void add(struct vctx *v, struct strv *list, json_t *parent, const char *key, enum at at,
		const char *path, const char *fmt, va_list ap)
{
	struct ydoc_pos p = { 0, 0 };
	char msg[1024], full[PATH_LEN + 32];

	if (parent && key && at == AT_KEY)
		p = ydoc_key_pos(v->doc, parent, key);
	else if (parent && key)
		p = ydoc_value_pos(v->doc, parent, key);
	if (!p.line && parent)
		p = ydoc_pos(v->doc, parent);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (v->prefix) {
		snprintf(full, sizeof(full), "%s%s%s", v->prefix, path && *path ? "." : "", path ? path : "");
		path = full;
	}
	if (p.line)
		v->oom |= strv_push_owned(list, pfs_strdup_printf("%s:%d:%d: %s%s%s", v->file, p.line, p.col,
								   path ? path : "", path && *path ? ": " : "",
								   msg)) < 0;
	else
		v->oom |= strv_push_owned(list, pfs_strdup_printf("%s: %s%s%s", v->file, path ? path : "",
								   path && *path ? ": " : "", msg)) < 0;
}

static void error_at(struct vctx *v, json_t *parent, const char *key, enum at at, const char *path,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void error_at(struct vctx *v, json_t *parent, const char *key, enum at at, const char *path,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(v, &v->errors, parent, key, at, path, fmt, ap);
	va_end(ap);
}

static void warn_at(struct vctx *v, json_t *parent, const char *key, const char *path,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void warn_at(struct vctx *v, json_t *parent, const char *key, const char *path,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(v, &v->warnings, parent, key, AT_KEY, path, fmt, ap);
	va_end(ap);
}

static void note(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct vctx *v, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	v->oom |= strv_push_owned(&v->notes, s) < 0;
}

static void join_path(char *out, size_t n, const char *base, const char *key)
{
	if (base && *base)
		snprintf(out, n, "%s.%s", base, key);
	else
		snprintf(out, n, "%s", key);
}

static const char *type_name(json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "a mapping";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "empty";
	}
	return "?";
}

/* ---- schema tables ----------------------------------------------------------------------- */

/* A key PANTHER defines: applied, or accepted with a warning saying why not. */
struct key_rule {
	const char *key;
	const char *not_applied;  /* NULL: pantherfs applies it */
};

static const struct key_rule experiment_keys[] = {
	{ "tests", NULL },
	{ "logging", NULL },
	{ "docker", NULL },
	{ "paths", "pantherfs keeps configs, events, logs and runs in its state dir" },
	{ "progress", "pantherfs shows progress in status and events" },
	{ "observers", "pantherfs records events itself (events, events.follow)" },
	{ "fast_fail", "pantherfs ends a run at its first unrecoverable error" },
	{ NULL, NULL },
};

static const struct key_rule logging_keys[] = {
	{ "mvfst_debug", NULL },
	{ "congestion_control_debug", NULL },
	{ "level", "pantherfs's own log level is set with -d; mvfst_debug and congestion_control_debug raise mvfst's" },
	{ "format", "pantherfs writes events as JSON lines" },
	{ "enable_colors", "pantherfs writes plain files" },
	{ "debug_file_logging", "every log is a file already" },
	{ "feature_levels", "pantherfs's own log level is set with -d" },
	{ NULL, NULL },
};

static const struct key_rule docker_keys[] = {
	{ "force_build_docker_image", NULL },
	{ "build_docker_image", NULL },
	{ "no_docker_cache", NULL },
	{ "log_docker_image_build", NULL },
	{ "use_buildx", "pantherfs builds through the Docker Engine API with the classic builder" },
	{ NULL, NULL },
};

static const struct key_rule test_keys[] = {
	{ "name", NULL },
	{ "description", NULL },
	{ "network_environment", NULL },
	{ "execution_environment", NULL },
	{ "services", NULL },
	{ "timeout", NULL },
	{ "iterations", NULL },
	{ "steps", "a run lasts until its clients finish or its timeout; write the config again to run again" },
	{ "assertions", "the verdict is the clients' success and the servers' survival" },
	{ NULL, NULL },
};

static const struct key_rule service_keys[] = {
	{ "name", NULL },
	{ "timeout", NULL },
	{ "implementation", NULL },
	{ "protocol", NULL },
	{ "config", NULL },
	{ "environment", NULL },
	{ "ports", NULL },
	{ "generate_new_certificates", NULL },
	{ "docker", NULL },
	{ "volumes", "services share nothing but the test network; results go to the run's results dir" },
	{ "network", "each service gets its address on the test network (services/<s>/address)" },
	{ "command_override", "the command is rendered from the version config and its template" },
	{ "depends_on", "servers start first and clients start when their server answers QUIC" },
	{ "plugin_config", "settings go under config:, as the version config maps them" },
	{ NULL, NULL },
};

static const struct key_rule implementation_keys[] = {
	{ "name", NULL },
	{ "type", NULL },
	{ "version", NULL },
	{ "docker_image", NULL },
	{ "build_from_source", NULL },
	{ "source_repository", NULL },
	{ "commit", NULL },
	{ "dependencies", NULL },
	{ NULL, NULL },
};

static const struct key_rule protocol_keys[] = {
	{ "name", NULL },
	{ "type", NULL },
	{ "role", NULL },
	{ "target", NULL },
	{ "version", NULL },
	{ NULL, NULL },
};

static const char *const exec_types[] = { "gperf_cpu", "gperf_heap", "strace", "memcheck", "helgrind",
					  "gdb", NULL };

static bool in_list_c(const char *s, const char *const *list)
{
	for (; s && *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static const struct key_rule *find_rule(const struct key_rule *t, const char *key)
{
	for (; t->key; t++)
		if (!strcmp(t->key, key))
			return t;
	return NULL;
}

static void list_keys(const struct key_rule *t, char *out, size_t n)
{
	size_t k = 0;

	out[0] = '\0';
	for (; t->key && k < n; t++)
		k += (size_t)snprintf(out + k, n - k, "%s%s", k ? ", " : "", t->key);
}

/*
 * Checks the keys of a mapping against a table: unknown keys are errors,
 * keys pantherfs does not apply are warnings. Returns false if obj is not a
 * mapping (an error was added).
 */
static bool check_keys(struct vctx *v, json_t *parent, const char *pkey, json_t *obj,
		       const struct key_rule *t, const char *path)
{
	const char *k;
	json_t *val;
	char p[PATH_LEN], known[512];

	if (!json_is_object(obj)) {
		error_at(v, parent, pkey, AT_VALUE, path, "must be a mapping, not %s", type_name(obj));
		return false;
	}
	json_object_foreach(obj, k, val) {
		const struct key_rule *r = find_rule(t, k);

		join_path(p, sizeof(p), path, k);
		if (!r) {
			list_keys(t, known, sizeof(known));
			error_at(v, obj, k, AT_KEY, p, "unknown key (known here: %s)", known);
		} else if (r->not_applied) {
			warn_at(v, obj, k, p, "not applied: %s", r->not_applied);
		}
	}
	return true;
}

/* ---- typed getters -------------------------------------------------------------------------- */

static const char *get_str(struct vctx *v, json_t *o, const char *key, const char *path, bool required)
{
	json_t *j = json_object_get(o, key);
	char p[PATH_LEN];

	join_path(p, sizeof(p), path, key);
	if (!j || json_is_null(j)) {
		if (required)
			error_at(v, o, key, AT_NODE, p, "missing");
		return NULL;
	}
	if (!json_is_string(j)) {
		error_at(v, o, key, AT_VALUE, p, "must be a string, not %s", type_name(j));
		return NULL;
	}
	return json_string_value(j);
}

/* A positive integer no larger than max; returns dflt when absent or bad. */
static long get_pos_int(struct vctx *v, json_t *o, const char *key, const char *path, long dflt, long max)
{
	json_t *j = json_object_get(o, key);
	char p[PATH_LEN];

	join_path(p, sizeof(p), path, key);
	if (!j)
		return dflt;
	if (!json_is_integer(j)) {
		error_at(v, o, key, AT_VALUE, p, "must be a whole number, not %s", type_name(j));
		return dflt;
	}
	if (json_integer_value(j) < 1 || json_integer_value(j) > max) {
		error_at(v, o, key, AT_VALUE, p, "%lld is out of range (1-%ld)",
			 (long long)json_integer_value(j), max);
		return dflt;
	}
	return (long)json_integer_value(j);
}

static bool get_bool(struct vctx *v, json_t *o, const char *key, const char *path, bool dflt)
{
	json_t *j = json_object_get(o, key);
	char p[PATH_LEN];

	if (!j)
		return dflt;
	if (!json_is_boolean(j)) {
		join_path(p, sizeof(p), path, key);
		error_at(v, o, key, AT_VALUE, p, "must be true or false, not %s", type_name(j));
		return dflt;
	}
	return json_is_true(j);
}

/* ---- per-service working state ---------------------------------------------------------------- */

struct flatkey {
	char *key;       /* dotted */
	json_t *parent;  /* for positions */
	const char *leaf;
	json_t *value;
	bool bad;        /* failed its value check (reported) */
};

struct svc_work {
	char *name;
	json_t *node;          /* the service mapping */
	json_t *parent;        /* the services mapping */
	char path[PATH_LEN];   /* "services.<name>" */
	enum cfg_role role;
	bool role_ok;
	const struct cat_impl *impl;
	const struct cat_version *ver;
	const char *target;
	json_t *config;        /* may be NULL */
	struct flatkey *flat;
	size_t n_flat;
	const char *program;
	char *program_reason;
	long timeout;
	bool explicit_app;
};

static void flat_free(struct svc_work *w)
{
	for (size_t i = 0; i < w->n_flat; i++)
		free(w->flat[i].key);
	free(w->flat);
	w->flat = NULL;
	w->n_flat = 0;
}

static int flatten(struct svc_work *w, json_t *obj, const char *prefix, int depth)
{
	const char *k;
	json_t *val;

	json_object_foreach(obj, k, val) {
		char *key = prefix ? pfs_strdup_printf("%s.%s", prefix, k) : strdup(k);
		struct flatkey *nf;

		if (!key)
			return -ENOMEM;
		if (json_is_object(val) && depth < 8) {
			int r = flatten(w, val, key, depth + 1);
			free(key);
			if (r < 0)
				return r;
			continue;
		}
		nf = realloc(w->flat, (w->n_flat + 1) * sizeof(*nf));
		if (!nf) {
			free(key);
			return -ENOMEM;
		}
		w->flat = nf;
		w->flat[w->n_flat++] = (struct flatkey){ key, obj, k, val, false };
	}
	return 0;
}

/* ---- catalogue lookups -------------------------------------------------------------------------- */

static json_t *impl_keys(const struct cat_impl *im)
{
	return json_object_get(cat_impl_json(im), "keys");
}

static json_t *prog_of(const struct cat_version *ver, const char *prog)
{
	return cat_version_program(ver, prog);
}

static bool prog_has_role(json_t *prog, enum cfg_role role)
{
	json_t *it;
	size_t i;

	json_array_foreach(json_object_get(prog, "roles"), i, it)
		if (!strcmp(json_string_value(it), role == CFG_SERVER ? "server" : "client"))
			return true;
	return false;
}

static const char *flag_type(json_t *prog, const char *flag)
{
	return json_string_value(json_object_get(json_object_get(prog, "flags"), flag));
}

/* A config key naming a flag directly: as written, or with _ for -. */
static const char *direct_flag(json_t *prog, const char *key, char *buf, size_t n)
{
	if (strchr(key, '.'))
		return NULL;
	if (flag_type(prog, key))
		return key;
	snprintf(buf, n, "%s", key);
	for (char *p = buf; *p; p++)
		if (*p == '_')
			*p = '-';
	return flag_type(prog, buf) ? buf : NULL;
}

static bool str_in_array(json_t *arr, const char *s)
{
	json_t *it;
	size_t i;

	json_array_foreach(arr, i, it)
		if (json_is_string(it) && !strcmp(json_string_value(it), s))
			return true;
	return false;
}

static void array_text(json_t *arr, char *out, size_t n)
{
	json_t *it;
	size_t i, k = 0;

	out[0] = '\0';
	json_array_foreach(arr, i, it)
		if (k < n)
			k += (size_t)snprintf(out + k, n - k, "%s%s", i ? ", " : "", json_string_value(it));
}

/* Does program `prog` apply key `fk` with its value? */
static bool honours(const struct cat_impl *im, const struct cat_version *ver, const char *prog,
		    const struct flatkey *fk)
{
	json_t *p = prog_of(ver, prog), *rule = json_object_get(json_object_get(impl_keys(im), fk->key), prog);
	char buf[128];

	if (!p)
		return false;
	if (!json_object_get(impl_keys(im), fk->key))
		return direct_flag(p, fk->key, buf, sizeof(buf)) != NULL;
	if (!rule)
		return false;
	if (json_is_string(rule))
		return flag_type(p, json_string_value(rule)) != NULL;
	if (json_is_array(rule)) {
		json_t *it;
		size_t i;

		json_array_foreach(rule, i, it) {
			const char *f = json_is_string(it) ? json_string_value(it)
							  : json_string_value(json_object_get(it, "flag"));
			if (!f || !flag_type(p, f))
				return false;
		}
		return true;
	}
	if (json_object_get(rule, "flag"))
		return flag_type(p, json_string_value(json_object_get(rule, "flag"))) != NULL;
	if (json_object_get(rule, "template"))
		return true;
	if (json_object_get(rule, "fixed"))
		return json_equal(json_object_get(rule, "fixed"), fk->value);
	return false;
}

/* ---- value checks --------------------------------------------------------------------------------- */

static bool congestion_known(const struct cat_version *ver, const char *cc, char *known, size_t n)
{
	json_t *progs = json_object_get(cat_version_json(ver), "programs"), *p;
	const char *pname;
	bool found = false;
	size_t k = 0;

	known[0] = '\0';
	json_object_foreach(progs, pname, p) {
		json_t *list = json_object_get(p, "congestion");

		if (str_in_array(list, cc))
			found = true;
		if (json_array_size(list) > 1 && k < n) {
			char l[512];

			array_text(list, l, sizeof(l));
			k += (size_t)snprintf(known + k, n - k, "%s%s accepts %s", k ? "; " : "", pname, l);
		}
	}
	return found;
}

static bool check_value(struct vctx *v, struct svc_work *w, const struct flatkey *fk, const char *path)
{
	json_t *chk = json_object_get(json_object_get(cat_impl_json(w->impl), "check"), fk->key);
	const char *c = json_string_value(chk);
	json_t *val = fk->value;

	if (!chk)
		return true;
	if (json_is_array(chk)) {
		char l[256];

		if (json_is_string(val) && str_in_array(chk, json_string_value(val)))
			return true;
		array_text(chk, l, sizeof(l));
		error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "must be one of %s", l);
		return false;
	}
	if (!strcmp(c, "port")) {
		if (!json_is_integer(val) || json_integer_value(val) < 1 || json_integer_value(val) > 65535) {
			if (json_is_integer(val))
				error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "%lld is not a port (1-65535)",
					 (long long)json_integer_value(val));
			else
				error_at(v, fk->parent, fk->leaf, AT_VALUE, path,
					 "must be a port number (1-65535), not %s", type_name(val));
			return false;
		}
	} else if (!strcmp(c, "positive")) {
		if (!json_is_integer(val) || json_integer_value(val) < 1) {
			error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "must be a positive whole number, not %s",
				 json_is_integer(val) ? "zero or negative" : type_name(val));
			return false;
		}
	} else if (!strcmp(c, "bool")) {
		if (!json_is_boolean(val)) {
			error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "must be true or false, not %s",
				 type_name(val));
			return false;
		}
	} else if (!strcmp(c, "string")) {
		if (!json_is_string(val) || !*json_string_value(val)) {
			error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "must be a non-empty string");
			return false;
		}
	} else if (!strcmp(c, "strings")) {
		json_t *it;
		size_t i;

		if (!json_is_array(val) || json_array_size(val) == 0 || json_array_size(val) > MAX_MESSAGES) {
			error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "must be a list of 1 to %d strings",
				 MAX_MESSAGES);
			return false;
		}
		json_array_foreach(val, i, it) {
			const char *s = json_string_value(it);
			char ip[PATH_LEN];

			snprintf(ip, sizeof(ip), "%s[%zu]", path, i);
			if (!s || !*s || strpbrk(s, "\r\n") || !strcmp(s, "/close")) {
				struct ydoc_pos p = ydoc_item_pos(v->doc, val, i);
				char *line = pfs_strdup_printf("%s:%d:%d: %s: %s", v->file, p.line, p.col, ip,
							       !s ? "must be a string" :
							       !strcmp(s, "/close") ? "\"/close\" ends the echo session: not a message" :
							       "must be one non-empty line");
				v->oom |= strv_push_owned(&v->errors, line) < 0;
				return false;
			}
		}
	} else if (!strcmp(c, "congestion")) {
		char known[1024];

		if (!json_is_string(val)) {
			error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "must be a congestion controller name");
			return false;
		}
		if (!congestion_known(w->ver, json_string_value(val), known, sizeof(known))) {
			error_at(v, fk->parent, fk->leaf, AT_VALUE, path,
				 "unknown congestion controller \"%s\" for %s %s (%s)", json_string_value(val),
				 cat_impl_name(w->impl), cat_version_name(w->ver), known);
			return false;
		}
	}
	return true;
}

/* A flag value as text, checked against the flag's type. */
static char *flag_value(struct vctx *v, const struct flatkey *fk, const char *type, const char *suffix,
			const char *path)
{
	json_t *val = fk->value;

	if (!strcmp(type, "bool")) {
		if (json_is_boolean(val))
			return strdup(json_is_true(val) ? "true" : "false");
		error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "must be true or false, not %s", type_name(val));
		return NULL;
	}
	if (!strcmp(type, "int") || !strcmp(type, "size")) {
		if (json_is_integer(val) && (strcmp(type, "size") || json_integer_value(val) >= 0))
			return pfs_strdup_printf("%lld%s", (long long)json_integer_value(val), suffix);
		error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "must be a whole number%s, not %s",
			 strcmp(type, "size") ? "" : " (0 or more)", type_name(val));
		return NULL;
	}
	if (!strcmp(type, "double")) {
		if (json_is_number(val))
			return pfs_strdup_printf("%.17g%s", json_number_value(val), suffix);
		error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "must be a number, not %s", type_name(val));
		return NULL;
	}
	if (json_is_string(val))
		return pfs_strdup_printf("%s%s", json_string_value(val), suffix);
	if (json_is_integer(val))
		return pfs_strdup_printf("%lld%s", (long long)json_integer_value(val), suffix);
	if (json_is_real(val))
		return pfs_strdup_printf("%.17g%s", json_real_value(val), suffix);
	if (json_is_boolean(val))
		return pfs_strdup_printf("%s%s", json_is_true(val) ? "true" : "false", suffix);
	error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "must be a single value, not %s", type_name(val));
	return NULL;
}

/* value NULL: a switch (--name alone). */
static void add_flag(json_t *flags, const char *name, const char *value)
{
	json_t *it;
	size_t i;

	/* one value per flag: the first (explicit config) wins over later defaults */
	json_array_foreach(flags, i, it)
		if (!strcmp(json_string_value(json_object_get(it, "name")), name))
			return;
	json_array_append_new(flags, json_pack("{s:s,s:o}", "name", name, "value",
					       value ? json_string(value) : json_null()));
}

/* Adds flag f of type `type` set from fk; a switch is present only when true. */
static void set_flag(struct vctx *v, json_t *flags, const struct flatkey *fk, const char *f,
		     const char *type, const char *suffix, const char *path)
{
	char *val;

	if (!strcmp(type, "switch")) {
		if (!json_is_boolean(fk->value))
			error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "must be true or false, not %s",
				 type_name(fk->value));
		else if (json_is_true(fk->value))
			add_flag(flags, f, NULL);
		return;
	}
	val = flag_value(v, fk, type, suffix, path);
	if (val)
		add_flag(flags, f, val);
	free(val);
}

/* ---- program choice ------------------------------------------------------------------------------- */

static void choose_program(struct vctx *v, struct svc_work *w, struct svc_work *all, size_t n)
{
	json_t *app = json_object_get(w->config, "application");
	const char *dflt = json_string_value(json_object_get(cat_impl_json(w->impl), "default_program"));
	json_t *progs = json_object_get(cat_version_json(w->ver), "programs"), *p;
	const char *pname;
	char ap[PATH_LEN];

	snprintf(ap, sizeof(ap), "%s.config.application", w->path);
	if (json_is_string(app) && prog_of(w->ver, json_string_value(app))) {
		w->program = json_string_value(app);
		w->explicit_app = true;
		w->program_reason = pfs_strdup_printf("config.application says %s", w->program);
	} else if (app && json_is_string(app)) {
		/* an application this version lacks: the check table reported it, or: */
		if (!json_object_get(json_object_get(cat_impl_json(w->impl), "check"), "application"))
			error_at(v, w->config, "application", AT_VALUE, ap, "%s %s has no program \"%s\"",
				 cat_impl_name(w->impl), cat_version_name(w->ver), json_string_value(app));
	}
	if (!w->program && w->role == CFG_CLIENT && w->target) {
		/* a client speaks the program its server runs (tperf to tperf) */
		for (size_t i = 0; i < n; i++) {
			struct svc_work *s = &all[i];

			if (s != w && s->program && !strcmp(s->name, w->target) && s->impl == w->impl &&
			    prog_of(w->ver, s->program) && prog_has_role(prog_of(w->ver, s->program), CFG_CLIENT)) {
				w->program = s->program;
				w->program_reason = pfs_strdup_printf("its server %s runs %s", s->name, s->program);
			}
		}
	}
	if (!w->program) {
		/* the default, unless a key asks for what only another program honours */
		const char *why_key = NULL;
		const char *other = NULL;

		if (!dflt || !prog_of(w->ver, dflt) || !prog_has_role(prog_of(w->ver, dflt), w->role)) {
			dflt = NULL;
			json_object_foreach(progs, pname, p)
				if (!dflt && prog_has_role(p, w->role))
					dflt = pname;
		}

		for (size_t i = 0; i < w->n_flat && !other; i++) {
			struct flatkey *fk = &w->flat[i];

			if (!dflt || honours(w->impl, w->ver, dflt, fk))
				continue;
			json_object_foreach(progs, pname, p) {
				if (strcmp(pname, dflt) && prog_has_role(p, w->role) &&
				    honours(w->impl, w->ver, pname, fk)) {
					other = pname;
					why_key = fk->key;
					break;
				}
			}
		}
		if (other) {
			json_t *val = NULL;
			char vtxt[160] = "";

			for (size_t i = 0; i < w->n_flat; i++)
				if (!strcmp(w->flat[i].key, why_key))
					val = w->flat[i].value;
			if (json_is_string(val))
				snprintf(vtxt, sizeof(vtxt), " \"%s\"", json_string_value(val));
			else if (json_is_integer(val))
				snprintf(vtxt, sizeof(vtxt), " %lld", (long long)json_integer_value(val));
			w->program = other;
			w->program_reason = pfs_strdup_printf("config asks for %s%s, which only %s honours",
							      why_key, vtxt, other);
		} else if (dflt && !strcmp(dflt, json_string_value(json_object_get(cat_impl_json(w->impl), "default_program")) ?: "")) {
			w->program = dflt;
			w->program_reason = pfs_strdup_printf("the default program of %s", cat_impl_name(w->impl));
		} else if (dflt) {
			w->program = dflt;
			w->program_reason = pfs_strdup_printf("the %s program of %s %s",
							      w->role == CFG_SERVER ? "server" : "client",
							      cat_impl_name(w->impl), cat_version_name(w->ver));
		} else {
			json_object_foreach(progs, pname, p)
				if (!w->program && prog_has_role(p, w->role))
					w->program = pname;
			w->program_reason = pfs_strdup_printf("the %s program of %s %s",
							      w->role == CFG_SERVER ? "server" : "client",
							      cat_impl_name(w->impl), cat_version_name(w->ver));
		}
	}
	if (w->program && !prog_has_role(prog_of(w->ver, w->program), w->role))
		error_at(v, w->node, "protocol", AT_KEY, w->path, "%s of %s %s cannot be a %s", w->program,
			 cat_impl_name(w->impl), cat_version_name(w->ver),
			 w->role == CFG_SERVER ? "server" : "client");
}

/* ---- one service's plan ---------------------------------------------------------------------------- */

static void map_keys(struct vctx *v, struct svc_work *w, json_t *prog, json_t *flags, json_t *tvals)
{
	json_t *keys = impl_keys(w->impl);

	for (size_t i = 0; i < w->n_flat; i++) {
		struct flatkey *fk = &w->flat[i];
		json_t *entry = json_object_get(keys, fk->key), *rule;
		char p[PATH_LEN], buf[128];
		const char *df;

		snprintf(p, sizeof(p), "%s.config.%s", w->path, fk->key);
		if (fk->bad)
			continue;
		if (!entry) {
			const char *pname;
			json_t *op;
			bool elsewhere = false;

			df = direct_flag(prog, fk->key, buf, sizeof(buf));
			if (df) {
				set_flag(v, flags, fk, df, flag_type(prog, df), "", p);
				continue;
			}
			json_object_foreach(json_object_get(cat_version_json(w->ver), "programs"), pname, op) {
				if (direct_flag(op, fk->key, buf, sizeof(buf))) {
					warn_at(v, fk->parent, fk->leaf, p, "not applied: %s is a flag of %s; this service runs %s",
						fk->key, pname, w->program);
					elsewhere = true;
					break;
				}
			}
			if (!elsewhere)
				error_at(v, fk->parent, fk->leaf, AT_KEY, p,
					 "unknown key for %s %s (its keys are listed in implementations/%s/, and any flag of %s)",
					 cat_impl_name(w->impl), cat_version_name(w->ver), cat_impl_name(w->impl), w->program);
			continue;
		}
		rule = json_object_get(entry, w->program);
		if (!rule) {
			warn_at(v, fk->parent, fk->leaf, p, "not applied: %s has no setting for it", w->program);
			continue;
		}
		if (json_is_object(rule) && json_object_get(rule, "template")) {
			json_object_set(tvals, json_string_value(json_object_get(rule, "template")), fk->value);
			continue;
		}
		if (json_is_object(rule) && json_object_get(rule, "fixed")) {
			if (!json_equal(json_object_get(rule, "fixed"), fk->value))
				warn_at(v, fk->parent, fk->leaf, p, "not applied: %s",
					json_string_value(json_object_get(rule, "reason")) ?: "fixed by the program");
			continue;
		}
		if (json_is_object(rule) && json_object_get(rule, "unsupported")) {
			warn_at(v, fk->parent, fk->leaf, p, "not applied: %s",
				json_string_value(json_object_get(rule, "unsupported")));
			continue;
		}
		/* one flag, a {flag, suffix}, or a list of those */
		json_t *list = json_is_array(rule) ? json_incref(rule) : json_pack("[O]", rule);
		json_t *it;
		size_t k;
		bool missing = false;

		json_array_foreach(list, k, it) {
			const char *f = json_is_string(it) ? json_string_value(it)
							  : json_string_value(json_object_get(it, "flag"));
			const char *suffix = json_string_value(json_object_get(it, "suffix")) ?: "";

			if (!f || !flag_type(prog, f)) {
				if (!missing)
					warn_at(v, fk->parent, fk->leaf, p, "not applied: %s of %s %s has no --%s flag",
						w->program, cat_impl_name(w->impl), cat_version_name(w->ver), f ? f : "?");
				missing = true;
				continue;
			}
			set_flag(v, flags, fk, f, flag_type(prog, f), suffix, p);
		}
		json_decref(list);
	}
}

static char *expand_message(const char *pattern, const char *message)
{
	const char *ph = strstr(pattern, "{message}");

	if (!ph)
		return strdup(pattern);
	return pfs_strdup_printf("%.*s%s%s", (int)(ph - pattern), pattern, message, ph + 9);
}

static int build_args(struct vctx *v, struct svc_work *w, struct cfg_service *s, json_t *impl_node)
{
	json_t *vj = cat_version_json(w->ver), *img = json_object_get(vj, "image");
	json_t *src = json_object_get(vj, "source"), *deps = json_object_get(vj, "dependencies");
	json_t *udeps = json_object_get(impl_node, "dependencies"), *it, *args = json_object();
	const char *k, *repo_over = json_string_value(json_object_get(impl_node, "source_repository"));
	const char *commit_over = json_string_value(json_object_get(impl_node, "commit"));
	char up[64], key[96], p[PATH_LEN];
	struct strv out = { 0 };
	size_t i;

	snprintf(p, sizeof(p), "%s.implementation", w->path);
	if ((repo_over || commit_over) && !src) {
		char kp[PATH_LEN];

		snprintf(kp, sizeof(kp), "%s.%s", p, repo_over ? "source_repository" : "commit");
		error_at(v, impl_node, repo_over ? "source_repository" : "commit", AT_KEY, kp,
			 "%s %s is installed from packages: there is no source to take from elsewhere",
			 cat_impl_name(w->impl), cat_version_name(w->ver));
	}
	if (json_is_string(json_object_get(img, "base_image")))
		json_object_set(args, "BASE_IMAGE", json_object_get(img, "base_image"));
	json_object_foreach(json_object_get(img, "args"), k, it)
		json_object_set_new(args, k, json_is_string(it) ? json_incref(it) :
					     json_string(json_is_integer(it) ? "" : ""));
	if (json_is_string(json_object_get(img, "patches")))
		json_object_set(args, "PATCHES", json_object_get(img, "patches"));
	if (src) {
		snprintf(up, sizeof(up), "%s", cat_impl_name(w->impl));
		for (char *c = up; *c; c++)
			*c = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
		snprintf(key, sizeof(key), "%s_REPO", up);
		json_object_set_new(args, key, json_string(repo_over ? repo_over :
						       json_string_value(json_object_get(src, "repository"))));
		snprintf(key, sizeof(key), "%s_COMMIT", up);
		json_object_set_new(args, key, json_string(commit_over ? commit_over :
						       json_string_value(json_object_get(src, "commit"))));
	}
	json_object_foreach(deps, k, it) {
		snprintf(up, sizeof(up), "%s", k);
		for (char *c = up; *c; c++)
			*c = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
		snprintf(key, sizeof(key), "%s_REPO", up);
		json_object_set(args, key, json_object_get(it, "repository"));
		snprintf(key, sizeof(key), "%s_COMMIT", up);
		json_object_set(args, key, json_object_get(it, "commit"));
	}
	/* dependencies: {folly: {commit, repository|url}} or [{name, commit, url}] */
	if (udeps && !json_is_object(udeps) && !json_is_array(udeps))
		error_at(v, impl_node, "dependencies", AT_VALUE, p,
			 "dependencies must map names to {repository, commit} (or list {name, url, commit})");
	for (i = 0; udeps && (json_is_object(udeps) ? i < json_object_size(udeps) : i < json_array_size(udeps)); i++) {
		json_t *d;
		const char *dname;

		if (json_is_object(udeps)) {
			void *iter = json_object_iter(udeps);
			for (size_t s2 = 0; s2 < i; s2++)
				iter = json_object_iter_next(udeps, iter);
			dname = json_object_iter_key(iter);
			d = json_object_iter_value(iter);
		} else {
			d = json_array_get(udeps, i);
			dname = json_string_value(json_object_get(d, "name"));
		}
		if (!dname || !json_is_object(d) || !json_object_get(deps, dname)) {
			char known[256] = "";
			size_t kk = 0;
			const char *dn;
			json_t *dv;

			json_object_foreach(deps, dn, dv)
				kk += (size_t)snprintf(known + kk, sizeof(known) - kk, "%s%s", kk ? ", " : "", dn);
			char dp[PATH_LEN];

			snprintf(dp, sizeof(dp), "%s.dependencies", p);
			error_at(v, impl_node, "dependencies", AT_VALUE, dp,
				 "\"%s\" is not a dependency of %s %s (it has: %s)", dname ? dname : "?",
				 cat_impl_name(w->impl), cat_version_name(w->ver), kk ? known : "none");
			continue;
		}
		snprintf(up, sizeof(up), "%s", dname);
		for (char *c = up; *c; c++)
			*c = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
		if (json_is_string(json_object_get(d, "commit"))) {
			snprintf(key, sizeof(key), "%s_COMMIT", up);
			json_object_set(args, key, json_object_get(d, "commit"));
		}
		it = json_object_get(d, "repository") ?: json_object_get(d, "url");
		if (json_is_string(it)) {
			snprintf(key, sizeof(key), "%s_REPO", up);
			json_object_set(args, key, it);
		}
	}
	json_object_foreach(args, k, it) {
		if (strv_push(&out, k) < 0 || strv_push(&out, json_string_value(it) ?: "") < 0) {
			json_decref(args);
			strv_free(strv_take(&out));
			return -ENOMEM;
		}
	}
	json_decref(args);
	s->image.args = strv_take(&out);
	s->image.context_dir = pfs_strdup_printf("%s/docker/%s", catalog_data_dir(v->cat), cat_impl_name(w->impl));
	s->image.dockerfile = strdup(json_string_value(json_object_get(img, "dockerfile")) ?: "Dockerfile");
	s->image.repo = pfs_strdup_printf("pantherfs/%s", cat_impl_name(w->impl));
	s->image.tag_prefix = strdup(cat_version_name(w->ver));
	return 0;
}

static int plan_service(struct vctx *v, struct svc_work *w, struct svc_work *all, size_t n,
			struct pfs_config *cfg, struct cfg_service *s, json_t *logging, char **exec_envs)
{
	json_t *prog = prog_of(w->ver, w->program), *flags = json_array(), *tvals = json_object();
	json_t *impl_node = json_object_get(w->node, "implementation"), *env = json_object_get(w->node, "environment");
	json_t *ctx, *success, *it, *msgs;
	struct strv envv = { 0 }, lines = { 0 };
	const char *k;
	char p[PATH_LEN];
	size_t i;
	long port;

	s->name = strdup(w->name);
	s->role = w->role;
	s->version = w->ver;
	s->implementation = strdup(cat_impl_name(w->impl));
	s->version_name = strdup(cat_version_name(w->ver));
	s->program = strdup(w->program);
	s->program_path = strdup(json_string_value(json_object_get(prog, "path")));
	s->template = pfs_strdup_printf("%s/%s", cat_impl_name(w->impl),
					json_string_value(json_object_get(prog, "template")));
	s->target = w->target ? strdup(w->target) : NULL;
	s->timeout_s = w->timeout;
	s->line = ydoc_key_pos(v->doc, w->parent, w->name).line;

	map_keys(v, w, prog, flags, tvals);

	/* the experiment's logging block, as flags this program defines */
	json_object_foreach(json_object_get(cat_impl_json(w->impl), "logging"), k, it) {
		const char *fk;
		json_t *fv;

		if (!json_is_true(json_object_get(logging, k)))
			continue;
		json_object_foreach(it, fk, fv) {
			if (!flag_type(prog, fk))
				continue;
			if (json_is_string(fv))
				add_flag(flags, fk, json_string_value(fv));
			else if (json_is_integer(fv)) {
				char num[32];
				snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(fv));
				add_flag(flags, fk, num);
			} else if (json_is_boolean(fv))
				add_flag(flags, fk, json_is_true(fv) ? "true" : "false");
		}
	}

	/* ports: a server listens on its own, a client dials its target's */
	port = json_integer_value(json_object_get(tvals, "port"));
	if (w->role == CFG_CLIENT) {
		for (i = 0; i < n; i++)
			if (w->target && !strcmp(all[i].name, w->target)) {
				json_t *sp = json_object_get(all[i].config, "server_port");
				long tp = json_is_integer(sp) ? (long)json_integer_value(sp) : 0;

				if (!tp)
					tp = (long)json_integer_value(json_object_get(cat_impl_json(all[i].impl), "default_port"));
				if (port && tp && port != tp) {
					snprintf(p, sizeof(p), "%s.config.server_port", w->path);
					warn_at(v, w->config, "server_port", p,
						"the client dials %ld while its server %s listens on %ld", port, w->target, tp);
				}
				if (!port)
					port = tp;
			}
	}
	if (!port)
		port = (long)json_integer_value(json_object_get(cat_impl_json(w->impl), "default_port"));
	if (!port)
		port = 4443;
	s->port = port;

	/* certificates: a server that needs files gets a generated pair unless the config names them */
	s->gen_certs = w->role == CFG_SERVER &&
		       !strcmp(json_string_value(json_object_get(cat_impl_json(w->impl), "certificates")) ?: "", "generate") &&
		       !json_object_get(tvals, "cert");
	if (json_object_get(w->node, "generate_new_certificates")) {
		snprintf(p, sizeof(p), "%s.generate_new_certificates", w->path);
		if (!json_is_boolean(json_object_get(w->node, "generate_new_certificates")))
			error_at(v, w->node, "generate_new_certificates", AT_VALUE, p, "must be true or false");
		else if (json_is_true(json_object_get(w->node, "generate_new_certificates")) && !s->gen_certs)
			warn_at(v, w->node, "generate_new_certificates", p, "not applied: %s",
				w->role == CFG_CLIENT ? "clients present no certificate" :
				!strcmp(json_string_value(json_object_get(cat_impl_json(w->impl), "certificates")) ?: "", "builtin")
					? "this program always uses its built-in test certificate"
					: "the config names its own certificate files");
	}

	/* environment: a mapping or compose's ["K=V"] */
	snprintf(p, sizeof(p), "%s.environment", w->path);
	if (json_is_object(env)) {
		json_object_foreach(env, k, it) {
			bool okname = (isalpha((unsigned char)k[0]) || k[0] == '_');

			for (const char *c = k; *c && okname; c++)
				okname = isalnum((unsigned char)*c) || *c == '_';
			char ep[PATH_LEN];

			join_path(ep, sizeof(ep), p, k);
			if (!okname) {
				error_at(v, env, k, AT_KEY, ep, "not a variable name");
			} else if (json_is_string(it) || json_is_number(it) || json_is_boolean(it)) {
				char *val = json_is_string(it) ? strdup(json_string_value(it)) :
					    json_is_integer(it) ? pfs_strdup_printf("%lld", (long long)json_integer_value(it)) :
					    json_is_real(it) ? pfs_strdup_printf("%g", json_real_value(it)) :
					    strdup(json_is_true(it) ? "true" : "false");
				v->oom |= strv_push_owned(&envv, val ? pfs_strdup_printf("%s=%s", k, val) : NULL) < 0;
				free(val);
			} else {
				error_at(v, env, k, AT_VALUE, ep, "must be a single value, not %s", type_name(it));
			}
		}
	} else if (json_is_array(env)) {
		json_array_foreach(env, i, it) {
			const char *e = json_string_value(it);

			if (!e || !strchr(e, '=') || e[0] == '=')
				error_at(v, w->node, "environment", AT_VALUE, p, "item %zu: must be \"NAME=value\"", i);
			else
				v->oom |= strv_push(&envv, e) < 0;
		}
	} else if (env) {
		error_at(v, w->node, "environment", AT_VALUE, p, "must be a mapping of variables");
	}
	s->env = strv_take(&envv);

	/* success: how a client is judged */
	success = json_object_get(json_object_get(prog, "success"), w->role == CFG_SERVER ? "server" : "client");
	msgs = json_object_get(tvals, "messages");
	if (!msgs && json_object_get(json_object_get(impl_keys(w->impl), "messages"), w->program) &&
	    w->role == CFG_CLIENT)
		msgs = json_object_get(cat_impl_json(w->impl), "default_messages");
	if (json_object_get(tvals, "messages") && w->role == CFG_SERVER) {
		snprintf(p, sizeof(p), "%s.config.messages", w->path);
		warn_at(v, w->config, "messages", p, "not applied: a server echoes what its clients send");
	}
	s->success.exit_code = json_is_integer(json_object_get(success, "exit_code"));
	s->success.finish_on_lines = json_is_true(json_object_get(success, "finish_on_lines"));
	json_array_foreach(json_object_get(success, "lines"), i, it) {
		const char *pat = json_string_value(it);
		json_t *m;
		size_t mi;

		if (!pat)
			continue;
		if (strstr(pat, "{message}")) {
			json_array_foreach(msgs, mi, m)
				v->oom |= strv_push_owned(&lines, expand_message(pat, json_string_value(m))) < 0;
		} else {
			v->oom |= strv_push(&lines, pat) < 0;
		}
	}
	s->success.lines = strv_take(&lines);
	if (w->role == CFG_CLIENT && !s->success.exit_code && !s->success.lines[0])
		s->success.exit_code = true;

	/* image: prebuilt or built from the implementation's folder */
	snprintf(p, sizeof(p), "%s.implementation", w->path);
	if (json_is_string(json_object_get(impl_node, "docker_image")) &&
	    json_is_false(json_object_get(impl_node, "build_from_source"))) {
		s->image.prebuilt = true;
		s->image.ref = strdup(json_string_value(json_object_get(impl_node, "docker_image")));
		if (json_object_get(impl_node, "source_repository") || json_object_get(impl_node, "commit"))
			warn_at(v, impl_node, json_object_get(impl_node, "commit") ? "commit" : "source_repository", p,
				"not applied: build_from_source is false: the image %s runs as it is", s->image.ref);
	} else {
		if (json_object_get(impl_node, "docker_image"))
			warn_at(v, impl_node, "docker_image", p,
				"not applied: pantherfs builds the image (set build_from_source: false to run %s instead)",
				json_string_value(json_object_get(impl_node, "docker_image")) ?: "it");
		if (build_args(v, w, s, impl_node) < 0)
			v->oom = true;
	}

	/* the template's context */
	ctx = json_pack("{s:{s:s,s:s,s:I},s:{s:s,s:s},s:s,s:s,s:I,s:o,s:s,s:s,s:s,s:o}",
			"service", "name", w->name, "role", w->role == CFG_SERVER ? "server" : "client",
			"timeout", (json_int_t)w->timeout,
			"program", "name", w->program, "path", s->program_path,
			"mode", w->role == CFG_SERVER ? "server" : "client",
			"bind", "0.0.0.0",
			"port", (json_int_t)port,
			"flags", flags,
			"results_dir", CONFIG_RESULTS_DIR,
			"implementation", cat_impl_name(w->impl),
			"version", cat_version_name(w->ver),
			"config", w->config ? json_deep_copy(w->config) : json_object());
	if (!ctx) {
		json_decref(tvals);
		return -ENOMEM;
	}
	json_object_set_new(ctx, "test", json_pack("{s:s}", "name", cfg->name ? cfg->name : ""));
	json_object_set_new(ctx, "messages", msgs ? json_incref(msgs) : json_array());
	json_object_set_new(ctx, "certs", json_pack("{s:s,s:s}",
		"cert", json_string_value(json_object_get(tvals, "cert")) ?: CONFIG_CERTS_DIR "/cert.pem",
		"key", json_string_value(json_object_get(tvals, "key")) ?: CONFIG_CERTS_DIR "/key.pem"));
	json_object_foreach(tvals, k, it)
		if (!json_object_get(ctx, k))
			json_object_set(ctx, k, it);
	if (w->role == CFG_CLIENT)
		json_object_set_new(ctx, "target", json_pack("{s:s,s:I}", "name", w->target ? w->target : "",
							     "port", (json_int_t)port));
	json_object_set_new(ctx, "execution_environments", json_array());
	for (i = 0; exec_envs && exec_envs[i]; i++)
		json_array_append_new(json_object_get(ctx, "execution_environments"), json_string(exec_envs[i]));
	s->ctx = ctx;
	json_decref(tvals);
	return 0;
}

/* ---- the test ----------------------------------------------------------------------------------------- */

static void read_exec_envs(struct vctx *v, json_t *test, struct strv *out)
{
	json_t *ee = json_object_get(test, "execution_environment");
	size_t i;

	if (!ee)
		return;
	/* PANTHER's newer files write one mapping instead of a list */
	if (!json_is_array(ee) && !json_is_object(ee)) {
		error_at(v, test, "execution_environment", AT_VALUE, "execution_environment",
			 "must be a list of {type: ...}");
		return;
	}
	for (i = 0; i < (json_is_array(ee) ? json_array_size(ee) : 1); i++) {
		json_t *e = json_is_array(ee) ? json_array_get(ee, i) : ee;
		const char *type = json_string_value(json_object_get(e, "type"));
		char p[PATH_LEN], known[256];
		const char *k;
		json_t *val;

		if (json_is_array(ee))
			snprintf(p, sizeof(p), "execution_environment[%zu]", i);
		else
			snprintf(p, sizeof(p), "execution_environment");
		if (!json_is_object(e) || !type) {
			struct ydoc_pos pos = json_is_array(ee) ? ydoc_item_pos(v->doc, ee, i) : ydoc_pos(v->doc, ee);
			v->oom |= strv_push_owned(&v->errors, pfs_strdup_printf("%s:%d:%d: %s: must be a mapping with a type",
								v->file, pos.line, pos.col, p)) < 0;
			continue;
		}
		if (!strcmp(type, "iterations")) {
			warn_at(v, e, "type", p, "not applied: iterations: one run per config write");
			continue;
		}
		if (!in_list_c(type, exec_types)) {
			size_t kk = 0;

			for (const char *const *t = exec_types; *t; t++)
				kk += (size_t)snprintf(known + kk, sizeof(known) - kk, "%s%s", kk ? ", " : "", *t);
			error_at(v, e, "type", AT_VALUE, p, "unknown execution environment \"%s\" (known: %s)", type, known);
			continue;
		}
		json_object_foreach(e, k, val) {
			char kp[PATH_LEN];

			if (!strcmp(k, "type"))
				continue;
			join_path(kp, sizeof(kp), p, k);
			warn_at(v, e, k, kp, "not applied: the %s wrapper takes no settings", type);
		}
		v->oom |= strv_push(out, type) < 0;
	}
}

static void check_ports(struct vctx *v, struct svc_work *w)
{
	json_t *ports = json_object_get(w->node, "ports"), *it;
	char p[PATH_LEN];
	size_t i;
	bool ok = true;

	if (!ports)
		return;
	snprintf(p, sizeof(p), "%s.ports", w->path);
	if (!json_is_array(ports)) {
		error_at(v, w->node, "ports", AT_VALUE, p, "must be a list of \"host:container\" ports");
		return;
	}
	json_array_foreach(ports, i, it) {
		char text[64], ip[PATH_LEN], *save = NULL, *part;
		struct ydoc_pos pos = ydoc_item_pos(v->doc, ports, i);
		int nparts = 0;
		bool bad_item = false;

		snprintf(ip, sizeof(ip), "%s[%zu]", p, i);
		if (json_is_integer(it))
			snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(it));
		else if (json_is_string(it))
			snprintf(text, sizeof(text), "%s", json_string_value(it));
		else
			text[0] = '\0';
		for (part = strtok_r(text, ":", &save); part; part = strtok_r(NULL, ":", &save)) {
			long port;
			char *slash = strchr(part, '/');

			if (slash && (!strcmp(slash, "/udp") || !strcmp(slash, "/tcp")))
				*slash = '\0';
			if (++nparts > 2 || pfs_parse_long(part, 1, 65535, &port) < 0)
				bad_item = true;
		}
		if (bad_item || nparts == 0) {
			v->oom |= strv_push_owned(&v->errors, pfs_strdup_printf(
				"%s:%d:%d: %s: \"%s\" is not a port mapping (\"host:container\", each 1-65535)",
				v->file, pos.line, pos.col, ip,
				json_is_string(it) ? json_string_value(it) : type_name(it))) < 0;
			ok = false;
		}
	}
	if (ok)
		warn_at(v, w->node, "ports", p,
			"not applied: nothing is published on the host; services reach each other on the "
			"test network, and the host reaches a service at services/<name>/address");
}

static void service_pass1(struct vctx *v, struct svc_work *w, bool *force, bool *nocache)
{
	json_t *node = w->node, *impl, *proto, *dock;
	const char *iname, *itype, *ver, *pname, *ptype, *role, *nm;
	char p[PATH_LEN];

	if (!pfs_name_valid(w->name))
		error_at(v, w->parent, w->name, AT_KEY, w->path,
			 "a service name must be 1-64 characters of [A-Za-z0-9._-], not starting with . or -");
	if (!check_keys(v, w->parent, w->name, node, service_keys, w->path))
		return;
	nm = get_str(v, node, "name", w->path, false);
	if (nm && strcmp(nm, w->name) != 0) {
		snprintf(p, sizeof(p), "%s.name", w->path);
		warn_at(v, node, "name", p, "not applied: the service is named by its key, %s", w->name);
	}
	w->timeout = get_pos_int(v, node, "timeout", w->path, CONFIG_DEFAULT_TIMEOUT, MAX_TIMEOUT);

	dock = json_object_get(node, "docker");
	if (dock) {
		snprintf(p, sizeof(p), "%s.docker", w->path);
		if (check_keys(v, node, "docker", dock, docker_keys, p)) {
			*force |= get_bool(v, dock, "force_build_docker_image", p, false) ||
				  get_bool(v, dock, "build_docker_image", p, false);
			*nocache |= get_bool(v, dock, "no_docker_cache", p, false);
			get_bool(v, dock, "log_docker_image_build", p, true);
		}
	}

	/* implementation */
	snprintf(p, sizeof(p), "%s.implementation", w->path);
	impl = json_object_get(node, "implementation");
	if (!impl) {
		error_at(v, node, "implementation", AT_NODE, p, "missing: name the implementation (%s)",
			 catalog_impl_names(v->cat));
	} else if (check_keys(v, node, "implementation", impl, implementation_keys, p)) {
		iname = get_str(v, impl, "name", p, true);
		itype = get_str(v, impl, "type", p, false);
		if (itype && strcasecmp(itype, "iut") != 0) {
			char tp[PATH_LEN];

			snprintf(tp, sizeof(tp), "%s.type", p);
			if (!strcasecmp(itype, "testers"))
				error_at(v, impl, "type", AT_VALUE, tp,
					 "testers (such as panther_ivy) are not supported: pantherfs runs implementations under test (iut)");
			else
				error_at(v, impl, "type", AT_VALUE, tp, "\"%s\": must be iut", itype);
		}
		if (iname) {
			w->impl = catalog_find_impl(v->cat, iname);
			if (!w->impl) {
				char np[PATH_LEN];

				snprintf(np, sizeof(np), "%s.name", p);
				error_at(v, impl, "name", AT_VALUE, np, "unknown implementation \"%s\" (pantherfs has: %s)",
					 iname, catalog_impl_names(v->cat));
			}
		}
		get_str(v, impl, "docker_image", p, false);
		get_bool(v, impl, "build_from_source", p, true);
		get_str(v, impl, "source_repository", p, false);
		get_str(v, impl, "commit", p, false);
	}

	/* protocol */
	snprintf(p, sizeof(p), "%s.protocol", w->path);
	proto = json_object_get(node, "protocol");
	if (!proto) {
		error_at(v, node, "protocol", AT_NODE, p, "missing: a service needs protocol.role (server or client)");
	} else if (check_keys(v, node, "protocol", proto, protocol_keys, p)) {
		char sp[PATH_LEN];

		pname = get_str(v, proto, "name", p, false);
		if (pname && strcasecmp(pname, "quic") != 0) {
			snprintf(sp, sizeof(sp), "%s.name", p);
			error_at(v, proto, "name", AT_VALUE, sp, "\"%s\": pantherfs tests QUIC only", pname);
		}
		ptype = get_str(v, proto, "type", p, false);
		if (ptype && strcmp(ptype, "protocol") != 0) {
			snprintf(sp, sizeof(sp), "%s.type", p);
			error_at(v, proto, "type", AT_VALUE, sp, "\"%s\": must be protocol", ptype);
		}
		role = get_str(v, proto, "role", p, false);
		if (!json_object_get(proto, "role")) {
			snprintf(sp, sizeof(sp), "%s.role", p);
			error_at(v, proto, "role", AT_NODE, sp, "missing: server or client");
		}
		if (role) {
			snprintf(sp, sizeof(sp), "%s.role", p);
			if (!strcmp(role, "server"))
				w->role = CFG_SERVER, w->role_ok = true;
			else if (!strcmp(role, "client"))
				w->role = CFG_CLIENT, w->role_ok = true;
			else
				error_at(v, proto, "role", AT_VALUE, sp, "\"%s\": must be server or client", role);
		}
		w->target = get_str(v, proto, "target", p, false);
		snprintf(sp, sizeof(sp), "%s.target", p);
		if (w->role_ok && w->role == CFG_CLIENT && !json_object_get(proto, "target"))
			error_at(v, proto, "target", AT_NODE, sp, "missing: a client needs a target, the server it talks to");
	}

	/* version: implementation.version, else protocol.version, else the default */
	if (w->impl) {
		json_t *holder = json_object_get(impl, "version") ? impl : proto;
		char vp[PATH_LEN];

		ver = json_string_value(json_object_get(impl, "version"));
		if (!ver)
			ver = json_string_value(json_object_get(proto, "version"));
		snprintf(vp, sizeof(vp), "%s.%s.version", w->path, holder == impl ? "implementation" : "protocol");
		if (json_object_get(holder, "version") && !json_is_string(json_object_get(holder, "version")))
			error_at(v, holder, "version", AT_VALUE, vp, "must be a string");
		else if (!ver)
			w->ver = cat_impl_find_version(w->impl, cat_impl_default_version(w->impl));
		else if (!(w->ver = cat_impl_find_version(w->impl, ver)))
			error_at(v, holder, "version", AT_VALUE, vp, "unknown version \"%s\" of %s (known: %s)", ver,
				 cat_impl_name(w->impl), cat_impl_version_names(w->impl));
	}

	/* config */
	w->config = json_object_get(node, "config");
	if (w->config && json_is_null(w->config))
		w->config = NULL;
	if (w->config && !json_is_object(w->config)) {
		snprintf(p, sizeof(p), "%s.config", w->path);
		error_at(v, node, "config", AT_VALUE, p, "must be a mapping of settings, not %s", type_name(w->config));
		w->config = NULL;
	}
	if (w->config && flatten(w, w->config, NULL, 0) < 0)
		v->oom = true;
	for (size_t i = 0; w->ver && i < w->n_flat; i++) {
		snprintf(p, sizeof(p), "%s.config.%s", w->path, w->flat[i].key);
		w->flat[i].bad = !check_value(v, w, &w->flat[i], p);
	}
	check_ports(v, w);
}

static json_t *summary_of(const struct pfs_config *c)
{
	json_t *svcs = json_object(), *root;

	for (size_t i = 0; i < c->n_svc; i++) {
		const struct cfg_service *s = &c->svc[i];
		json_t *img, *o;

		if (s->image.prebuilt) {
			img = json_pack("{s:s}", "prebuilt", s->image.ref);
		} else {
			json_t *args = json_object();

			for (size_t k = 0; s->image.args && s->image.args[k] && s->image.args[k + 1]; k += 2)
				json_object_set_new(args, s->image.args[k], json_string(s->image.args[k + 1]));
			img = json_pack("{s:s,s:s,s:s,s:o}", "repository", s->image.repo, "tag_prefix", s->image.tag_prefix,
					"dockerfile", s->image.dockerfile, "args", args);
		}
		o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:o}", "role", s->role == CFG_SERVER ? "server" : "client",
			      "implementation", s->implementation, "version", s->version_name, "program", s->program,
			      "port", (json_int_t)s->port, "timeout", (json_int_t)s->timeout_s, "image", img);
		if (s->target)
			json_object_set_new(o, "target", json_string(s->target));
		json_object_set_new(svcs, s->name, o);
	}
	root = json_pack("{s:s?,s:I,s:b,s:b,s:o}", "name", c->name, "timeout", (json_int_t)c->timeout_s,
			 "force_build", c->force_build, "no_cache", c->no_cache, "services", svcs);
	if (root) {
		json_t *ee = json_array();

		for (size_t i = 0; c->exec_envs && c->exec_envs[i]; i++)
			json_array_append_new(ee, json_string(c->exec_envs[i]));
		json_object_set_new(root, "execution_environments", ee);
	}
	return root;
}

/* "file:12:5: ..." -> 12*100000+5; lines without a position sort first */
static long line_key(const char *s)
{
	const char *c = strchr(s, ':');
	char *end;
	long l, col;

	if (!c)
		return 0;
	l = strtol(c + 1, &end, 10);
	if (end == c + 1 || *end != ':')
		return 0;
	col = strtol(end + 1, &end, 10);
	return l * 100000 + (*end == ':' ? col : 0);
}

/* insertion sort: stable, and reports are short */
static void sort_by_position(struct strv *s)
{
	for (size_t i = 1; i < s->n; i++)
		for (size_t j = i; j > 0 && line_key(s->v[j - 1]) > line_key(s->v[j]); j--) {
			char *t = s->v[j];
			s->v[j] = s->v[j - 1];
			s->v[j - 1] = t;
		}
}

static void finish_report(struct vctx *v, struct cfg_report *rep)
{
	sort_by_position(&v->errors);
	sort_by_position(&v->warnings);
	if (v->oom)
		strv_push(&v->errors, "out of memory while checking the configuration");
	rep->n_errors = v->errors.n;
	rep->errors = strv_take(&v->errors);
	rep->n_warnings = v->warnings.n;
	rep->warnings = strv_take(&v->warnings);
	rep->n_notes = v->notes.n;
	rep->notes = strv_take(&v->notes);
}

static void works_free(struct svc_work *w, size_t n)
{
	for (size_t i = 0; w && i < n; i++) {
		free(w[i].name);
		free(w[i].program_reason);
		flat_free(&w[i]);
	}
	free(w);
}

/*
 * Checks one test: its keys, its services, their targets and programs.
 * Returns false when planning cannot go on (errors were added).
 */
static bool check_test(struct vctx *v, json_t *root, json_t *test, json_t *logging, bool *force,
		       bool *nocache, struct svc_work **wp, size_t *np, struct strv *envs, long *test_timeout)
{
	struct svc_work *w;
	json_t *services, *it;
	const char *k;
	size_t n, i;

	/* the test */
	check_keys(v, NULL, NULL, test, test_keys, "");
	get_str(v, test, "name", "", false);
	get_str(v, test, "description", "", false);
	it = json_object_get(test, "network_environment");
	if (it && json_is_object(it)) {
		const char *type = get_str(v, it, "type", "network_environment", false);

		if (type && strcmp(type, "docker_compose") != 0)
			error_at(v, it, "type", AT_VALUE, "network_environment.type",
				 "\"%s\" is not supported: pantherfs runs each test as containers on one Docker "
				 "network (docker_compose)", type);
		{
			const char *nk;
			json_t *nv;

			json_object_foreach(it, nk, nv) {
				char kp[PATH_LEN];

				if (!strcmp(nk, "type"))
					continue;
				join_path(kp, sizeof(kp), "network_environment", nk);
				warn_at(v, it, nk, kp, "not applied: the docker_compose environment takes no settings");
			}
		}
	} else if (it) {
		error_at(v, test, "network_environment", AT_VALUE, "network_environment",
			 "must be a mapping with type: docker_compose");
	}
	read_exec_envs(v, test, envs);
	*test_timeout = get_pos_int(v, test, "timeout", "", 0, MAX_TIMEOUT);
	if (get_pos_int(v, test, "iterations", "", 1, 1000000) > 1)
		warn_at(v, test, "iterations", "iterations",
			"not applied: pantherfs runs one iteration per run (echo restart > ctl runs another)");

	services = json_object_get(test, "services");
	if (!services) {
		error_at(v, test, "services", AT_NODE, "services", "missing: a test needs at least one service");
		return false;
	}
	if (!json_is_object(services) || json_object_size(services) == 0) {
		error_at(v, test, "services", AT_VALUE, "services",
			 json_is_object(services) ? "no service: a test needs at least one"
						  : "must map service names to services");
		return false;
	}
	n = json_object_size(services);
	if (n > CONFIG_MAX_SERVICES) {
		error_at(v, test, "services", AT_KEY, "services", "%zu services: at most %d", n, CONFIG_MAX_SERVICES);
		return false;
	}
	w = calloc(n, sizeof(*w));
	if (!w) {
		v->oom = true;
		return false;
	}
	*wp = w;
	*np = n;
	i = 0;
	json_object_foreach(services, k, it) {
		w[i].name = strdup(k);
		w[i].node = it;
		w[i].parent = services;
		snprintf(w[i].path, sizeof(w[i].path), "services.%s", k);
		v->oom |= !w[i].name;
		service_pass1(v, &w[i], &*force, &*nocache);
		i++;
	}

	/* targets */
	for (i = 0; i < n; i++) {
		char tp[PATH_LEN];
		json_t *proto = json_object_get(w[i].node, "protocol");
		size_t t;

		if (!w[i].target || !w[i].role_ok)
			continue;
		snprintf(tp, sizeof(tp), "%s.protocol.target", w[i].path);
		if (w[i].role == CFG_SERVER) {
			warn_at(v, proto, "target", tp, "not applied: a server has no target");
			w[i].target = NULL;
			continue;
		}
		for (t = 0; t < n; t++)
			if (!strcmp(w[t].name, w[i].target))
				break;
		if (t == n)
			error_at(v, proto, "target", AT_VALUE, tp, "no service named \"%s\"", w[i].target);
		else if (t == i)
			error_at(v, proto, "target", AT_VALUE, tp, "a client cannot target itself");
		else if (w[t].role_ok && w[t].role != CFG_SERVER)
			error_at(v, proto, "target", AT_VALUE, tp, "\"%s\" is a client, not a server", w[i].target);
	}
	if (v->errors.n)
		return false;

	/* programs: servers first, so that clients can follow them */
	for (int pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++)
			if ((pass == 0) == (w[i].role == CFG_SERVER))
				choose_program(v, &w[i], w, n);
	if (v->errors.n)
		return false;

	if (logging && (json_is_true(json_object_get(logging, "mvfst_debug")) ||
			json_is_true(json_object_get(logging, "congestion_control_debug")))) {
		bool any = false;

		for (i = 0; i < n; i++)
			any |= json_object_get(cat_impl_json(w[i].impl), "logging") != NULL;
		if (!any)
			warn_at(v, root, "logging", "logging",
				"not applied: no service of this test has debug flags for it");
	}

	return v->errors.n == 0;
}

int config_load(const struct catalog *cat, const char *name, const char *data, size_t len,
		struct pfs_config **out, struct cfg_report *rep)
{
	struct vctx v = { .cat = cat, .file = name };
	struct svc_work *w = NULL;
	struct pfs_config *cfg = NULL;
	struct strv envs = { 0 };
	struct pfs_err perr = { 0 };
	json_t *root, *test = NULL, *logging = NULL, *it;
	bool force = false, nocache = false;
	size_t n = 0, i;
	long test_timeout = 0;
	int r;

	memset(rep, 0, sizeof(*rep));
	if (len > CONFIG_MAX_BYTES) {
		strv_push_owned(&v.errors, pfs_strdup_printf("%s: larger than 1 MiB (%zu bytes)", name, len));
		finish_report(&v, rep);
		return -EFBIG;
	}
	r = ydoc_parse(name, data, len, &v.doc, &perr);
	if (r < 0) {
		strv_push(&v.errors, perr.msg);
		finish_report(&v, rep);
		return r == -EFBIG ? -EFBIG : -EINVAL;
	}
	root = ydoc_root(v.doc);

	if (json_is_null(root)) {
		strv_push_owned(&v.errors, pfs_strdup_printf("%s: empty: write a PANTHER test (a mapping with "
							     "services:) or an experiment with one test under tests:", name));
		goto out;
	}
	if (!json_is_object(root)) {
		error_at(&v, root, NULL, AT_NODE, "", "a configuration must be a mapping, not %s", type_name(root));
		goto out;
	}
	if (json_object_get(root, "tests")) {
		json_t *tests = json_object_get(root, "tests");

		check_keys(&v, NULL, NULL, root, experiment_keys, "");
		if (!json_is_array(tests)) {
			error_at(&v, root, "tests", AT_VALUE, "tests", "must be a list holding one test");
		} else if (json_array_size(tests) != 1) {
			error_at(&v, root, "tests", json_array_size(tests) ? AT_KEY : AT_VALUE, "tests",
				 json_array_size(tests) ? "holds %zu tests; pantherfs runs one test per directory: "
							  "put each in its own tests/<name>/config.yaml"
							: "holds %zu tests: write one", json_array_size(tests));
			/* and what each of them would meet, so one copy per directory works */
			for (i = 0; i < json_array_size(tests); i++) {
				char prefix[32];
				struct svc_work *tw = NULL;
				struct strv tenvs = { 0 };
				size_t tn = 0;
				long tt = 0;
				bool f2 = false, c2 = false;

				if (!json_is_object(json_array_get(tests, i)))
					continue;
				snprintf(prefix, sizeof(prefix), "tests[%zu]", i);
				v.prefix = prefix;
				check_test(&v, root, json_array_get(tests, i), NULL, &f2, &c2, &tw, &tn, &tenvs, &tt);
				v.prefix = NULL;
				works_free(tw, tn);
				strv_free(strv_take(&tenvs));
			}
		} else if (!json_is_object(json_array_get(tests, 0))) {
			error_at(&v, root, "tests", AT_VALUE, "tests[0]", "must be a mapping (a test)");
		} else {
			test = json_array_get(tests, 0);
		}
		logging = json_object_get(root, "logging");
		if (logging && check_keys(&v, root, "logging", logging, logging_keys, "logging")) {
			get_bool(&v, logging, "mvfst_debug", "logging", false);
			get_bool(&v, logging, "congestion_control_debug", "logging", false);
		}
		it = json_object_get(root, "docker");
		if (it && check_keys(&v, root, "docker", it, docker_keys, "docker")) {
			force |= get_bool(&v, it, "force_build_docker_image", "docker", false) ||
				 get_bool(&v, it, "build_docker_image", "docker", false);
			nocache |= get_bool(&v, it, "no_docker_cache", "docker", false);
			get_bool(&v, it, "log_docker_image_build", "docker", true);
		}
	} else if (json_object_get(root, "services")) {
		test = root;
	} else {
		error_at(&v, root, NULL, AT_NODE, "",
			 "not a PANTHER test: expected tests: (an experiment with one test) or services: (one test)");
	}
	if (!test)
		goto out;

	if (!check_test(&v, root, test, logging, &force, &nocache, &w, &n, &envs, &test_timeout))
		goto out;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		v.oom = true;
		goto out;
	}
	cfg->name = json_string_value(json_object_get(test, "name")) ? strdup(json_string_value(json_object_get(test, "name"))) : NULL;
	cfg->description = json_string_value(json_object_get(test, "description")) ?
			   strdup(json_string_value(json_object_get(test, "description"))) : NULL;
	cfg->force_build = force;
	cfg->no_cache = nocache;
	cfg->exec_envs = strv_take(&envs);
	cfg->svc = calloc(n, sizeof(*cfg->svc));
	if (!cfg->svc) {
		v.oom = true;
		goto out;
	}
	/* servers first in the plan, in file order within each role */
	for (int pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++) {
			if ((pass == 0) != (w[i].role == CFG_SERVER))
				continue;
			if (plan_service(&v, &w[i], w, n, cfg, &cfg->svc[cfg->n_svc], logging, cfg->exec_envs) < 0)
				v.oom = true;
			cfg->n_svc++;
			note(&v, "%s: runs %s %s %s as a %s: %s", w[i].path, cat_impl_name(w[i].impl),
			     cat_version_name(w[i].ver), w[i].program, w[i].role == CFG_SERVER ? "server" : "client",
			     w[i].program_reason ? w[i].program_reason : "");
		}
	for (i = 0; i < cfg->n_svc; i++) {
		if (cfg->svc[i].role == CFG_CLIENT)
			cfg->n_clients++;
		if (cfg->svc[i].timeout_s > cfg->timeout_s)
			cfg->timeout_s = cfg->svc[i].timeout_s;
	}
	if (test_timeout)
		cfg->timeout_s = test_timeout;
	cfg->summary = summary_of(cfg);
	if (!cfg->summary)
		v.oom = true;
out:
	works_free(w, n);
	strv_free(strv_take(&envs));
	ydoc_free(v.doc);
	if (v.errors.n || v.oom) {
		config_free(cfg);
		finish_report(&v, rep);
		return -EINVAL;
	}
	finish_report(&v, rep);
	*out = cfg;
	return 0;
}

static void service_free(struct cfg_service *s)
{
	free(s->name);
	free(s->implementation);
	free(s->version_name);
	free(s->program);
	free(s->program_path);
	free(s->template);
	free(s->target);
	strv_free(s->env);
	strv_free(s->success.lines);
	free(s->image.ref);
	free(s->image.context_dir);
	free(s->image.dockerfile);
	strv_free(s->image.args);
	free(s->image.repo);
	free(s->image.tag_prefix);
	json_decref(s->ctx);
}

void config_free(struct pfs_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->svc && i < c->n_svc; i++)
		service_free(&c->svc[i]);
	free(c->svc);
	free(c->name);
	free(c->description);
	strv_free(c->exec_envs);
	json_decref(c->summary);
	free(c);
}

const struct cfg_service *config_find_service(const struct pfs_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_svc; i++)
		if (!strcmp(c->svc[i].name, name))
			return &c->svc[i];
	return NULL;
}
