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

#include <curl/curl.h>

#include "pantherfs/config.h"
#include "pantherfs/docker_ref.h"
#include "pantherfs/render.h"
#include "pantherfs/testcase.h"
#include "pantherfs/util.h"
#include "pantherfs/yamltree.h"
#include "pantherfs/banned.h"

#define MAX_MESSAGES 1000
#define MAX_TIMEOUT (7L * 24 * 3600)
#define PATH_LEN 512
#define LINE_MAX_SHOWN 2048   /* a report line longer than this is cut */
#define COMMIT_MAX 200
#define COMMIT_RULE "(a hex id, or a tag or branch name of letters, digits, '.', '_', '/' and '-', at most 200)"
#define REPOSITORY_RULE "the build can fetch (a URL such as https://host/project.git, or user@host:path)"

void cfg_report_release(struct cfg_report *r)
{
	if (!r)
		return;
	pfs_strv_free(r->errors);
	pfs_strv_free(r->warnings);
	pfs_strv_free(r->notes);
	memset(r, 0, sizeof(*r));
}

char *cfg_report_text(char *const *lines, size_t n, size_t cap)
{
	struct pfs_buf b = PFS_BUF_INIT(cap);
	size_t i, reserve = CFG_TEXT_MIN_CAP;

	if (cap < CFG_TEXT_MIN_CAP)
		return NULL;
	for (i = 0; i < n; i++) {
		size_t len = strlen(lines[i]) + 1;
		/* b.len stays within cap - reserve until the last line, which
		 * needs no room for "... and N more" after it */
		size_t room = cap - b.len - (i + 1 < n ? reserve : 0);

		if (len > room)
			break;
		if (pfs_buf_add(&b, lines[i], len - 1) < 0 || pfs_buf_addc(&b, '\n') < 0)
			return NULL;
	}
	if (i < n && pfs_buf_printf(&b, "... and %zu more\n", n - i) < 0)
		return NULL;
	return pfs_buf_steal(&b, NULL);
}

json_t *cfg_report_event(char *const *lines, size_t n, const char *key, const char *file)
{
	json_t *arr = json_array(), *o;
	size_t shown = PFS_MIN(n, (size_t)CFG_EVENT_MAX_LINES);

	for (size_t i = 0; arr && i < shown; i++)
		if (json_array_append_new(arr, json_string(lines[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	o = json_pack("{s:o,s:I}", key, arr, "count", (json_int_t)n);
	if (o && shown < n) {
		char more[96];

		snprintf(more, sizeof(more), "%zu more in the file %s", n - shown, file);
		if (json_object_set_new(o, "more", json_string(more)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* ---- validation context ------------------------------------------------------------- */

enum at { AT_VALUE, AT_KEY, AT_NODE };

struct vctx {
	const struct catalog *cat;
	struct ydoc *doc;
	const char *file;
	const char *prefix;   /* "tests[1]" while checking one test of several, else NULL */
	struct pfs_strv errors, warnings, notes;
	bool oom;
	struct netcond net;   /* network_environment.network */
	bool capture;         /* network_environment.capture */
	json_t *netenv;       /* network_environment, for positions */
	int testcase;         /* the test's testcase (an enum tc_id), -1: none */
	char *unsupported;    /* why a pair cannot run it (the first found), or NULL */
};

static void add(struct vctx *v, struct pfs_strv *list, json_t *parent, const char *key, enum at at,
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
		v->oom |= pfs_strv_push_owned(list, pfs_strdup_printf("%s:%d:%d: %s%s%s", v->file, p.line, p.col,
								   path ? path : "", path && *path ? ": " : "",
								   msg)) < 0;
	else
		v->oom |= pfs_strv_push_owned(list, pfs_strdup_printf("%s: %s%s%s", v->file, path ? path : "",
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
	v->oom |= pfs_strv_push_owned(&v->notes, s) < 0;
}

/* netcond.c reports through these, in this file's format */
static void nc_error(void *ud, json_t *parent, const char *key, bool at_key, const char *path, const char *msg)
{
	error_at(ud, parent, key, at_key ? AT_KEY : AT_VALUE, path, "%s", msg);
}

static void nc_warn(void *ud, json_t *parent, const char *key, const char *path, const char *msg)
{
	warn_at(ud, parent, key, path, "%s", msg);
}

static void nc_note(void *ud, const char *msg)
{
	note(ud, "%s", msg);
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
	{ "testcase", NULL },
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
	{ "network", NULL },
	{ "placement", NULL },
	{ "command_override", "the command is rendered from the version config and its template" },
	{ "depends_on", "servers start first and clients start when their server answers QUIC" },
	{ "plugin_config", "settings go under config:, as the version config maps them" },
	{ NULL, NULL },
};

static const struct key_rule placement_keys[] = {
	{ "node", NULL },
	{ "constraints", NULL },
	{ "apart_from", NULL },
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

/*
 * A string a command line will carry: no control character (no program's
 * flag takes one, and a command is one line). Reports and returns false.
 */
static bool no_ctl(struct vctx *v, json_t *parent, const char *key, const char *path, const char *s,
		   const char *what)
{
	size_t len = strlen(s), at = pfs_find_ctl(s, len), chars = 1, n = 1;

	if (at == len)
		return true;
	for (size_t i = 0; i < at; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	while (at + n < len && ((unsigned char)s[at + n] & 0xc0) == 0x80)
		n++;
	/* the message holds the raw character: finish_report() escapes every line */
	error_at(v, parent, key, AT_VALUE, path, "\"%s\": %s cannot hold control characters (%.*s at character %zu)",
		 s, what, (int)n, s + at, chars);
	return false;
}

/*
 * A commit the image build fetches: a hex id, or a tag or branch name.
 * A subset of git's ref names (git check-ref-format), not all of them:
 * enough for ids and release tags, and never an option ("-x" reaches
 * `git fetch` and `git checkout`), a walk out of a folder ("..", which the
 * build also uses in a file name) or a character a shell or a terminal
 * would act on. git refuses the rest of what it does not take.
 */
static bool commit_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > COMMIT_MAX || !isalnum((unsigned char)s[0]) || s[n - 1] == '/' || s[n - 1] == '.' ||
	    strstr(s, "..") || strstr(s, "//"))
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._/-", *c))
			return false;
	return true;
}

/*
 * A repository the build can fetch: a URL, as libcurl's parser reads one
 * (git's own transports: https, http, git, ssh, file), or git's scp-like
 * user@host:path. Never an option, a space or a control character.
 */
static bool repository_ok(const char *s)
{
	static const char *const schemes[] = { "https", "http", "git", "ssh", "file", NULL };
	const char *colon = strchr(s, ':'), *at = strchr(s, '@');
	CURLU *u;
	char *scheme = NULL;
	bool ok;

	if (!*s || s[0] == '-' || pfs_find_ctl(s, strlen(s)) < strlen(s) || strpbrk(s, " \\"))
		return false;
	if (colon && at && at < colon && !strstr(s, "://")) {
		/* user@host:path */
		for (const char *c = at + 1; c < colon; c++)
			if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-')
				return false;
		return at > s && colon > at + 1 && colon[1] && colon[1] != '-';
	}
	u = curl_url();
	if (!u)
		return false;
	ok = curl_url_set(u, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK && in_list_c(scheme, schemes);
	curl_free(scheme);
	curl_url_cleanup(u);
	return ok;
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
	size_t n_flat, a_flat;
	const char *program;
	char *program_reason;
	long timeout;
	bool explicit_app;
	struct netcond net;    /* its network block */
	const char *tc_alpn;   /* clients of a testcase: the ALPN of the pair (static), or NULL */
	/* placement: (on a Swarm) */
	json_t *placement;     /* the placement mapping, or NULL (a string: node only) */
	const char *pin;       /* placement.node */
	struct pfs_strv constraints, apart;
};

static void flat_release(struct svc_work *w)
{
	for (size_t i = 0; i < w->n_flat; i++)
		free(w->flat[i].key);
	free(w->flat);
	w->flat = NULL;
	w->n_flat = w->a_flat = 0;
}

static json_t *impl_keys(const struct cat_impl *im);

/*
 * A key that names one setting (server_port, a flag), whose value is never
 * a mapping of further keys: a mapping there is a bad value, not keys.
 */
static bool leaf_key(const struct svc_work *w, const char *key)
{
	json_t *progs, *p;
	const char *pname;
	char buf[128];

	if (!w->impl)
		return false;
	if (json_object_get(impl_keys(w->impl), key) ||
	    json_object_get(json_object_get(cat_impl_json(w->impl), "check"), key))
		return true;
	if (!w->ver || strchr(key, '.'))
		return false;
	progs = json_object_get(cat_version_json(w->ver), "programs");
	json_object_foreach(progs, pname, p) {
		json_t *flags = json_object_get(p, "flags");

		snprintf(buf, sizeof(buf), "%s", key);
		for (char *c = buf; *c; c++)
			if (*c == '_')
				*c = '-';
		if (json_object_get(flags, key) || json_object_get(flags, buf))
			return true;
	}
	return false;
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
		if (json_is_object(val) && depth < 8 && !leaf_key(w, key)) {
			int r = flatten(w, val, key, depth + 1);
			free(key);
			if (r < 0)
				return r;
			continue;
		}
		if (w->n_flat == w->a_flat) {
			/* doubling: a config block can hold tens of thousands of keys */
			size_t na = w->a_flat ? w->a_flat * 2 : 16;

			nf = realloc(w->flat, na * sizeof(*nf));
			if (!nf) {
				free(key);
				return -ENOMEM;
			}
			w->flat = nf;
			w->a_flat = na;
		}
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
	json_t *progs = json_object_get(cat_version_json(ver), "programs"), *p, *q;
	const char *pname, *qname;
	bool found = false;
	size_t k = 0;

	known[0] = '\0';
	json_object_foreach(progs, pname, p) {
		json_t *list = json_object_get(p, "congestion");
		bool said = false;
		char names[256], l[512];
		size_t nk = 0;

		if (str_in_array(list, cc))
			found = true;
		if (json_array_size(list) <= 1)
			continue;
		/* programs with the same list are named together: "tperf and hq accept ..." */
		names[0] = '\0';
		json_object_foreach(progs, qname, q) {
			if (!json_equal(json_object_get(q, "congestion"), list))
				continue;
			if (q != p && !nk) {
				said = true; /* an earlier program said it */
				break;
			}
			nk += (size_t)snprintf(names + nk, sizeof(names) - PFS_MIN(nk, sizeof(names)), "%s%s",
					       nk ? " and " : "", qname);
			if (nk >= sizeof(names))
				nk = sizeof(names) - 1;
		}
		if (said || k >= n)
			continue;
		array_text(list, l, sizeof(l));
		k += (size_t)snprintf(known + k, n - k, "%s%s accept%s %s", k ? "; " : "", names,
				      strstr(names, " and ") ? "" : "s", l);
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
		if (!no_ctl(v, fk->parent, fk->leaf, path, json_string_value(val), "a command-line value"))
			return false;
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
				v->oom |= pfs_strv_push_owned(&v->errors, line) < 0;
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
	if (json_is_string(val)) {
		if (!no_ctl(v, fk->parent, fk->leaf, path, json_string_value(val), "a program's flag"))
			return NULL;
		return pfs_strdup_printf("%s%s", json_string_value(val), suffix);
	}
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

/* ---- the program's rules for flags (version_configs/README.md) ---------------------------------- */

static bool rule_has_role(json_t *rule, enum cfg_role role)
{
	json_t *roles = json_object_get(rule, "roles"), *it;
	size_t i;

	if (!roles)
		return true;
	json_array_foreach(roles, i, it)
		if (!strcmp(json_string_value(it), role == CFG_SERVER ? "server" : "client"))
			return true;
	return false;
}

/*
 * set_flag() once the program's rules allow it: role_flags (a flag this role
 * does not take: an error) and bad_values (a value the program cannot run:
 * an error; with a fallback, a warning, and the flag as written, since mvfst
 * then runs the fallback itself).
 */
static void checked_flag(struct vctx *v, struct svc_work *w, json_t *prog, json_t *flags,
			 const struct flatkey *fk, const char *f, const char *suffix, const char *path)
{
	json_t *rf = json_object_get(json_object_get(prog, "role_flags"), f);
	json_t *bad = json_is_string(fk->value) ?
		json_object_get(json_object_get(json_object_get(prog, "bad_values"), f), json_string_value(fk->value)) :
		NULL;
	const char *role = w->role == CFG_SERVER ? "server" : "client";

	if (rf && !rule_has_role(rf, w->role)) {
		const char *other = json_string_value(json_array_get(json_object_get(rf, "roles"), 0));

		error_at(v, fk->parent, fk->leaf, AT_KEY, path, "%s of %s %s takes --%s only as a %s: %s; set it on the %s",
			 w->program, cat_impl_name(w->impl), cat_version_name(w->ver), f, other,
			 json_string_value(json_object_get(rf, "reason")), other);
		return;
	}
	if (bad && rule_has_role(bad, w->role)) {
		const char *fallback = json_string_value(json_object_get(bad, "fallback"));
		const char *reason = json_string_value(json_object_get(bad, "reason"));
		bool per_role = json_object_get(bad, "roles") != NULL;

		if (!fallback) {
			error_at(v, fk->parent, fk->leaf, AT_VALUE, path, "\"%s\" cannot run in %s of %s %s%s%s: %s",
				 json_string_value(fk->value), w->program, cat_impl_name(w->impl),
				 cat_version_name(w->ver), per_role ? " as a " : "", per_role ? role : "", reason);
			return;
		}
		warn_at(v, fk->parent, fk->leaf, path, "not applied: %s of %s %s%s%s runs %s instead of \"%s\": %s",
			w->program, cat_impl_name(w->impl), cat_version_name(w->ver), per_role ? " as a " : "",
			per_role ? role : "", fallback, json_string_value(fk->value), reason);
	}
	set_flag(v, flags, fk, f, flag_type(prog, f), suffix, path);
}

/* The config key that sets flag f of the service's program (for positions), or NULL. */
static const struct flatkey *key_for_flag(struct svc_work *w, json_t *prog, const char *f)
{
	json_t *keys = impl_keys(w->impl);
	char buf[128];

	for (size_t i = 0; i < w->n_flat; i++) {
		const struct flatkey *fk = &w->flat[i];
		json_t *rule = json_object_get(json_object_get(keys, fk->key), w->program), *list, *it;
		size_t k;

		if (fk->bad)
			continue;
		if (!json_object_get(keys, fk->key)) {
			const char *df = direct_flag(prog, fk->key, buf, sizeof(buf));

			if (df && !strcmp(df, f))
				return fk;
			continue;
		}
		list = json_is_array(rule) ? rule : NULL;
		if (!list && (json_is_string(rule) || json_object_get(rule, "flag"))) {
			const char *rf = json_is_string(rule) ? json_string_value(rule)
							      : json_string_value(json_object_get(rule, "flag"));
			if (rf && !strcmp(rf, f))
				return fk;
		}
		json_array_foreach(list, k, it) {
			const char *lf = json_is_string(it) ? json_string_value(it)
							    : json_string_value(json_object_get(it, "flag"));
			if (lf && !strcmp(lf, f))
				return fk;
		}
	}
	return NULL;
}

static const char *flag_value_of(json_t *flags, const char *name, bool *present)
{
	json_t *it;
	size_t i;

	*present = false;
	json_array_foreach(flags, i, it) {
		if (strcmp(json_string_value(json_object_get(it, "name")), name))
			continue;
		*present = true;
		/* a switch written alone counts as true */
		return json_string_value(json_object_get(it, "value")) ?: "true";
	}
	return NULL;
}

/*
 * value_needs: flags a value needs in this role (bbr needs --pacing=true on
 * a tperf server). Added, with a note, when the config does not set them; a
 * warning at the key of the value when it sets them otherwise.
 */
static void apply_value_needs(struct vctx *v, struct svc_work *w, json_t *prog, json_t *flags)
{
	json_t *byval, *need;
	const char *f, *nf;

	json_object_foreach(json_object_get(prog, "value_needs"), f, byval) {
		bool present;
		const char *val = flag_value_of(flags, f, &present);
		json_t *rule = val ? json_object_get(byval, val) : NULL;

		if (!rule || !rule_has_role(rule, w->role))
			continue;
		json_object_foreach(json_object_get(rule, "flags"), nf, need) {
			char want[64];
			const char *have = flag_value_of(flags, nf, &present);
			const char *reason = json_string_value(json_object_get(rule, "reason"));

			if (json_is_boolean(need))
				snprintf(want, sizeof(want), "%s", json_is_true(need) ? "true" : "false");
			else if (json_is_integer(need))
				snprintf(want, sizeof(want), "%lld", (long long)json_integer_value(need));
			else
				snprintf(want, sizeof(want), "%s", json_string_value(need) ?: "");
			if (!present) {
				add_flag(flags, nf, want);
				note(v, "%s: --%s=%s added: %s %s needs it on a %s: %s", w->path, nf, want, f, val,
				     w->role == CFG_SERVER ? "server" : "client", reason);
			} else if (strcmp(have, want)) {
				const struct flatkey *src = key_for_flag(w, prog, f);
				char p[PATH_LEN];

				snprintf(p, sizeof(p), "%s.config.%s", w->path, src ? src->key : f);
				warn_at(v, src ? src->parent : w->node, src ? src->leaf : NULL, p,
					"not applied: %s %s needs --%s=%s on a %s, and the config gives --%s=%s: %s",
					f, val, nf, want, w->role == CFG_SERVER ? "server" : "client", nf, have, reason);
			}
		}
	}
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
	if (!w->program && v->testcase >= 0) {
		/* the program that runs the interop test cases in this role (hq for mvfst) */
		json_object_foreach(progs, pname, p)
			if (!w->program && prog_has_role(p, w->role) &&
			    tc_program_runs(p, w->role == CFG_SERVER ? "server" : "client")) {
				w->program = pname;
				w->program_reason = pfs_strdup_printf("it runs the interop test cases (testcase: %s)",
								      tc_name(v->testcase));
			}
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
	else if (w->program && v->testcase < 0 && tc_program_requires(prog_of(w->ver, w->program)))
		error_at(v, w->explicit_app ? w->config : w->node, w->explicit_app ? "application" : NULL,
			 AT_VALUE, w->explicit_app ? ap : w->path,
			 "%s of %s %s runs the interop test cases only: give the test a testcase (%s)", w->program,
			 cat_impl_name(w->impl), cat_version_name(w->ver), tc_names());
	else if (w->program && w->explicit_app && v->testcase >= 0 &&
		 !tc_program_runs(prog_of(w->ver, w->program), w->role == CFG_SERVER ? "server" : "client"))
		error_at(v, w->config, "application", AT_VALUE, ap,
			 "%s of %s %s runs no interop test case as a %s: leave application out to run "
			 "testcase: %s", w->program, cat_impl_name(w->impl), cat_version_name(w->ver),
			 w->role == CFG_SERVER ? "server" : "client", tc_name(v->testcase));
}

/*
 * testcase: each client with its server, as tc_pair() plans them: the ALPN
 * of the pair, or the first reason one cannot run the case (the run then
 * ends unsupported).
 */
static void plan_testcase(struct vctx *v, struct svc_work *w, size_t n)
{
	char why[512];

	for (size_t i = 0; i < n; i++) {
		struct svc_work *c = &w[i], *s = NULL;
		char sname[160], cname[160];
		json_t *sp, *cp;

		if (c->role != CFG_CLIENT)
			continue;
		for (size_t k = 0; k < n && !s; k++)
			if (c->target && !strcmp(w[k].name, c->target))
				s = &w[k];
		if (!s)
			continue;
		sp = prog_of(s->ver, s->program);
		cp = prog_of(c->ver, c->program);
		/* choose_program took the one that runs test cases: none runs them when it did not */
		if (!tc_program_runs(sp, "server"))
			sp = NULL;
		if (!tc_program_runs(cp, "client"))
			cp = NULL;
		snprintf(sname, sizeof(sname), "%s%s%s %s", sp ? s->program : "", sp ? " of " : "", cat_impl_name(s->impl),
			 cat_version_name(s->ver));
		snprintf(cname, sizeof(cname), "%s%s%s %s", cp ? c->program : "", cp ? " of " : "", cat_impl_name(c->impl),
			 cat_version_name(c->ver));
		c->tc_alpn = tc_pair((enum tc_id)v->testcase, sp, sname, cp, cname, why, sizeof(why));
		if (c->tc_alpn)
			note(v, "testcase %s: %s fetches %zu file%s from %s over %s", tc_name(v->testcase), c->path,
			     tc_n_files(v->testcase), tc_n_files(v->testcase) == 1 ? "" : "s", s->name, c->tc_alpn);
		else if (!v->unsupported)
			v->oom |= !(v->unsupported = strdup(why));
	}
	if (v->unsupported)
		note(v, "testcase %s: unsupported: %s: the run ends unsupported, nothing is built or started",
		     tc_name(v->testcase), v->unsupported);
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
				checked_flag(v, w, prog, flags, fk, df, "", p);
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
			/* lists of free text (messages) have their own check; one value
			 * that a template puts on the line must be plain */
			if (json_is_string(fk->value) &&
			    !no_ctl(v, fk->parent, fk->leaf, p, json_string_value(fk->value), "a command-line value"))
				continue;
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
		/* a flag only some roles take (the server's certificate) */
		if (json_is_object(rule) && !rule_has_role(rule, w->role)) {
			warn_at(v, fk->parent, fk->leaf, p, "not applied: %s",
				json_string_value(json_object_get(rule, "reason")) ?: "not in this role");
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
			checked_flag(v, w, prog, flags, fk, f, suffix, p);
		}
		json_decref(list);
	}
}

/* ---- certificates ------------------------------------------------------------------------------ */

/*
 * The value key got in this program and role: from the flag its rule names
 * (*flag) or its template value. NULL when the config does not set it or the
 * program did not apply it (a warning said so).
 */
static const char *applied_value(struct svc_work *w, json_t *flags, json_t *tvals, const char *key,
				 const char **flag)
{
	json_t *rule = json_object_get(json_object_get(impl_keys(w->impl), key), w->program);
	const char *tvar = json_string_value(json_object_get(rule, "template"));
	bool present;

	*flag = json_is_string(rule) ? json_string_value(rule) : json_string_value(json_object_get(rule, "flag"));
	if (*flag)
		return flag_value_of(flags, *flag, &present);
	return tvar ? json_string_value(json_object_get(tvals, tvar)) : NULL;
}

/* A path pantherfs can mount a file at, in any container; else why not. */
static const char *mount_path_problem(const char *path)
{
	static const char *const system[] = { "/proc", "/sys", "/dev", NULL };

	if (path[0] != '/')
		return "must be an absolute path inside the container";
	if (strlen(path) > 255)
		return "is longer than 255 characters";
	if (strpbrk(path, ":,"))
		return "cannot hold ':' or ',' (Docker's mount syntax)";
	for (const char *c = path + 1;; c += strcspn(c, "/") + 1) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return "must name a file: no empty, . or .. components";
		if (!c[n])
			break;
	}
	for (const char *const *s = system; *s; s++)
		if (!strncmp(path, *s, strlen(*s)) && (path[strlen(*s)] == '/' || !path[strlen(*s)]))
			return "cannot be under /proc, /sys or /dev";
	return NULL;
}

static const struct flatkey *flat_find(const struct svc_work *w, const char *key)
{
	for (size_t i = 0; i < w->n_flat; i++)
		if (!strcmp(w->flat[i].key, key))
			return &w->flat[i];
	return NULL;
}

/*
 * The server's certificate and key (implementation.yaml `certificates`):
 * `generate` programs always need files, `optional` ones (patched mvfst)
 * take them when the config names them or asks for generated ones, else
 * use their built-in test certificate, and `builtin` ones never take any.
 * Files a config names are paths inside the container, which has none
 * (pantherfs mounts no volumes): a pair generated for each run is mounted
 * there, unless generate_new_certificates: false says the image holds them.
 * Without names the pair goes to CONFIG_CERTS_DIR, and a program whose rule
 * is a flag gets that flag with the path.
 */
static int plan_certs(struct vctx *v, struct svc_work *w, json_t *prog, json_t *flags, json_t *tvals,
		      struct cfg_service *s)
{
	static const struct { const char *key, *dflt; } files[2] = {
		{ "certificate_file", CONFIG_CERTS_DIR "/cert.pem" },
		{ "private_key_file", CONFIG_CERTS_DIR "/key.pem" },
	};
	const char *mode = json_string_value(json_object_get(cat_impl_json(w->impl), "certificates")) ?: "builtin";
	json_t *gen = json_object_get(w->node, "generate_new_certificates");
	const char *named[2], *flag[2];
	bool takes, asked;
	char p[PATH_LEN];

	snprintf(p, sizeof(p), "%s.generate_new_certificates", w->path);
	if (gen && !json_is_boolean(gen)) {
		error_at(v, w->node, "generate_new_certificates", AT_VALUE, p, "must be true or false");
		gen = NULL;
	}
	for (int i = 0; i < 2; i++)
		named[i] = applied_value(w, flags, tvals, files[i].key, &flag[i]);
	/* an optional program takes files when this version's program has the flags */
	takes = !strcmp(mode, "generate") ||
		(!strcmp(mode, "optional") && flag[0] && flag[1] && flag_type(prog, flag[0]) && flag_type(prog, flag[1]));
	if (w->role != CFG_SERVER || !takes) {
		if (json_is_true(gen))
			warn_at(v, w->node, "generate_new_certificates", p, "not applied: %s",
				w->role == CFG_CLIENT ? "clients present no certificate"
						      : "this program always uses its built-in test certificate");
		return 0;
	}
	asked = !strcmp(mode, "generate") || json_is_true(gen) || named[0] || named[1];
	if (!asked)
		return 0;
	if (json_is_false(gen) && (named[0] || named[1])) {
		note(v, "%s: certificate files as named: generate_new_certificates is false, so the image must hold them",
		     w->path);
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		const struct flatkey *fk = named[i] ? flat_find(w, files[i].key) : NULL;
		const char *why = named[i] ? mount_path_problem(named[i]) : NULL;

		if (why) {
			snprintf(p, sizeof(p), "%s.config.%s", w->path, files[i].key);
			error_at(v, fk ? fk->parent : w->node, fk ? fk->leaf : NULL, AT_VALUE, p, "%s %s",
				 named[i], why);
			return 0;
		}
	}
	if (named[0] && named[1] && !strcmp(named[0], named[1])) {
		const struct flatkey *fk = flat_find(w, files[1].key);

		snprintf(p, sizeof(p), "%s.config.%s", w->path, files[1].key);
		error_at(v, fk ? fk->parent : w->node, fk ? fk->leaf : NULL, AT_VALUE, p,
			 "names certificate_file's file: pantherfs writes the certificate and the key to two files");
		return 0;
	}
	s->gen_certs = true;
	s->cert_path = strdup(named[0] ?: files[0].dflt);
	s->key_path = strdup(named[1] ?: files[1].dflt);
	if (!s->cert_path || !s->key_path)
		return -ENOMEM;
	for (int i = 0; i < 2; i++)
		if (!named[i] && flag[i])
			add_flag(flags, flag[i], files[i].dflt);
	if (named[0] || named[1])
		note(v, "%s: a key pair generated for each run, mounted read-only at %s and %s "
		     "(generate_new_certificates: false takes them from the image instead)",
		     w->path, s->cert_path, s->key_path);
	return 0;
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
	struct pfs_strv out = { 0 };
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
		if (dname && json_object_get(deps, dname) && !json_is_object(d)) {
			char dp[PATH_LEN];

			snprintf(dp, sizeof(dp), "%s.dependencies.%s", p, dname);
			error_at(v, json_is_object(udeps) ? udeps : impl_node,
				 json_is_object(udeps) ? dname : "dependencies", AT_VALUE, dp,
				 "must be a mapping {commit, repository}, not %s", type_name(d));
			continue;
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
		{
			const char *rkey = json_object_get(d, "repository") ? "repository" : "url";
			json_t *dc = json_object_get(d, "commit"), *dr = json_object_get(d, rkey);
			char dp[PATH_LEN];

			if (dc && !(json_is_string(dc) && commit_ok(json_string_value(dc)))) {
				snprintf(dp, sizeof(dp), "%s.dependencies.%s.commit", p, dname);
				if (!json_is_string(dc))
					error_at(v, d, "commit", AT_VALUE, dp, "must be a string, not %s", type_name(dc));
				else
					error_at(v, d, "commit", AT_VALUE, dp, "\"%s\" is not a commit " COMMIT_RULE,
						 json_string_value(dc));
				continue;
			}
			if (dr && !(json_is_string(dr) && repository_ok(json_string_value(dr)))) {
				snprintf(dp, sizeof(dp), "%s.dependencies.%s.%s", p, dname, rkey);
				if (!json_is_string(dr))
					error_at(v, d, rkey, AT_VALUE, dp, "must be a string, not %s", type_name(dr));
				else
					error_at(v, d, rkey, AT_VALUE, dp, "\"%s\" is not a repository " REPOSITORY_RULE,
						 json_string_value(dr));
				continue;
			}
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
		if (pfs_strv_push(&out, k) < 0 || pfs_strv_push(&out, json_string_value(it) ?: "") < 0) {
			json_decref(args);
			pfs_strv_release(&out);
			return -ENOMEM;
		}
	}
	json_decref(args);
	s->image.args = pfs_strv_take(&out);
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
	struct pfs_strv envv = { 0 }, lines = { 0 };
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
	s->col = ydoc_key_pos(v->doc, w->parent, w->name).col;
	if (json_object_get(w->node, "placement")) {
		struct ydoc_pos pp = ydoc_key_pos(v->doc, w->node, "placement");

		s->placement_line = pp.line;
		s->placement_col = pp.col;
	}
	s->node = w->pin ? strdup(w->pin) : NULL;
	v->oom |= w->pin && !s->node;
	s->constraints = pfs_strv_take(&w->constraints);
	s->apart_from = pfs_strv_take(&w->apart);
	v->oom |= !s->constraints || !s->apart_from;

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
	apply_value_needs(v, w, prog, flags);

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

	if (plan_certs(v, w, prog, flags, tvals, s) < 0)
		v->oom = true;

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
				v->oom |= pfs_strv_push_owned(&envv, val ? pfs_strdup_printf("%s=%s", k, val) : NULL) < 0;
				free(val);
			} else {
				error_at(v, env, k, AT_VALUE, ep, "must be a single value, not %s", type_name(it));
			}
		}
	} else if (json_is_array(env)) {
		json_array_foreach(env, i, it) {
			const char *e = json_string_value(it);
			size_t nl = e ? strcspn(e, "=") : 0;
			bool okname = e && e[nl] == '=' && (isalpha((unsigned char)e[0]) || e[0] == '_');

			for (size_t c = 1; okname && c < nl; c++)
				okname = isalnum((unsigned char)e[c]) || e[c] == '_';
			if (!okname) {
				struct ydoc_pos pos = ydoc_item_pos(v->doc, env, i);

				v->oom |= pfs_strv_push_owned(&v->errors, pfs_strdup_printf(
					"%s:%d:%d: %s[%zu]: must be \"NAME=value\", NAME a variable name", v->file,
					pos.line, pos.col, p, i)) < 0;
			} else
				v->oom |= pfs_strv_push(&envv, e) < 0;
		}
	} else if (env) {
		error_at(v, w->node, "environment", AT_VALUE, p, "must be a mapping of variables");
	}
	s->env = pfs_strv_take(&envv);

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
				v->oom |= pfs_strv_push_owned(&lines, expand_message(pat, json_string_value(m))) < 0;
		} else {
			v->oom |= pfs_strv_push(&lines, pat) < 0;
		}
	}
	s->success.lines = pfs_strv_take(&lines);
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
		"cert", s->cert_path ?: json_string_value(json_object_get(tvals, "cert")) ?: CONFIG_CERTS_DIR "/cert.pem",
		"key", s->key_path ?: json_string_value(json_object_get(tvals, "key")) ?: CONFIG_CERTS_DIR "/key.pem"));
	json_object_foreach(tvals, k, it)
		if (!json_object_get(ctx, k))
			json_object_set(ctx, k, it);
	if (w->role == CFG_CLIENT)
		json_object_set_new(ctx, "target", json_pack("{s:s,s:I}", "name", w->target ? w->target : "",
							     "port", (json_int_t)port));
	json_object_set_new(ctx, "testcase", v->testcase >= 0 ? tc_context((enum tc_id)v->testcase, w->tc_alpn,
									       w->role == CFG_SERVER) : json_null());
	json_object_set_new(ctx, "execution_environments", json_array());
	for (i = 0; exec_envs && exec_envs[i]; i++)
		json_array_append_new(json_object_get(ctx, "execution_environments"), json_string(exec_envs[i]));
	s->ctx = ctx;
	json_decref(tvals);
	{
		struct netcond_sink sink = { nc_error, nc_warn, nc_note, v };

		return netcond_plan_service(s, cat_impl_json(w->impl), w->node, w->path, &v->net, &w->net,
					    v->capture, v->netenv, &sink);
	}
}

/* ---- the test ----------------------------------------------------------------------------------------- */

static void read_exec_envs(struct vctx *v, json_t *test, struct pfs_strv *out)
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
			v->oom |= pfs_strv_push_owned(&v->errors, pfs_strdup_printf("%s:%d:%d: %s: must be a mapping with a type",
								v->file, pos.line, pos.col, p)) < 0;
			continue;
		}
		if (!strcmp(type, "iterations")) {
			warn_at(v, e, "type", p, "not applied: write iterations: N beside the test's services");
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
		if (out->v && in_list_c(type, (const char *const *)out->v)) {
			/* twice would wrap the program twice (strace under strace, gdb under gdb) */
			char tp[PATH_LEN];

			join_path(tp, sizeof(tp), p, "type");
			error_at(v, e, "type", AT_VALUE, tp, "\"%s\" is listed twice: a program is wrapped once", type);
			continue;
		}
		v->oom |= pfs_strv_push(out, type) < 0;
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
			v->oom |= pfs_strv_push_owned(&v->errors, pfs_strdup_printf(
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

/* docker_image, source_repository and commit of a service's implementation */
static void check_sources(struct vctx *v, json_t *impl, const char *p)
{
	static const char *const keys[] = { "docker_image", "source_repository", "commit" };
	struct pfs_err rerr = { 0 };
	char kp[PATH_LEN];

	for (size_t i = 0; i < PFS_ARRAY_SIZE(keys); i++) {
		const char *val = get_str(v, impl, keys[i], p, false);

		if (!val)
			continue;
		snprintf(kp, sizeof(kp), "%s.%s", p, keys[i]);
		if (i == 0 && docker_ref_check(val, &rerr) < 0) {
			if (!*val)
				error_at(v, impl, keys[i], AT_VALUE, kp, "%s", rerr.msg);
			else
				error_at(v, impl, keys[i], AT_VALUE, kp,
					 "\"%s\" is not an image reference (name[:tag][@digest], such as "
					 "debian:bookworm-slim): %s", val, rerr.msg);
		} else if (i == 1 && !repository_ok(val)) {
			error_at(v, impl, keys[i], AT_VALUE, kp, "\"%s\" is not a repository " REPOSITORY_RULE, val);
		} else if (i == 2 && !commit_ok(val)) {
			error_at(v, impl, keys[i], AT_VALUE, kp, "\"%s\" is not a commit " COMMIT_RULE, val);
		}
	}
}

/* ---- placement (a Swarm's nodes) ------------------------------------------------------------ */

/* What a node's hostname can hold here: also what keeps a constraint one expression. */
static bool node_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/*
 * A Swarm placement constraint as swarmkit reads one: <attribute> == or !=
 * <value>, the attribute one of node.id, node.hostname, node.role,
 * node.platform.os, node.platform.arch, node.labels.<l>, engine.labels.<l>.
 * NULL when it is one, else why not.
 */
static const char *constraint_problem(const char *c)
{
	static const char *const attrs[] = { "node.id", "node.hostname", "node.role", "node.platform.os",
					     "node.platform.arch" };
	const char *op = strstr(c, "=="), *ne = strstr(c, "!="), *key_end, *val;
	size_t klen, i;

	if (!op || (ne && ne < op))
		op = ne;
	if (!op)
		return "no == or != in it";
	for (key_end = op; key_end > c && key_end[-1] == ' '; key_end--)
		;
	while (*c == ' ')
		c++;
	klen = (size_t)(key_end - c);
	for (val = op + 2; *val == ' '; val++)
		;
	if (!klen)
		return "nothing before the operator";
	for (i = 0; i < klen; i++)
		if (!isalnum((unsigned char)c[i]) && c[i] != '.' && c[i] != '_' && c[i] != '-')
			return "the attribute holds a character Swarm does not take";
	for (i = 0; i < PFS_ARRAY_SIZE(attrs); i++)
		if (strlen(attrs[i]) == klen && !strncmp(c, attrs[i], klen))
			break;
	if (i == PFS_ARRAY_SIZE(attrs) &&
	    !(klen > 12 && !strncmp(c, "node.labels.", 12)) && !(klen > 14 && !strncmp(c, "engine.labels.", 14)))
		return "unknown attribute (node.id, node.hostname, node.role, node.platform.os, node.platform.arch, "
		       "node.labels.<label>, engine.labels.<label>)";
	if (!*val || strstr(val, "==") || strstr(val, "!="))
		return "one value after the operator";
	for (const char *p = val; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "a control character in the value";
	return NULL;
}

/*
 * placement: <node>, or {node, constraints, apart_from}: where a Swarm runs
 * the service. Checked here for what it says; apart_from's names are
 * checked once every service is known (check_apart). On one engine it is
 * not applied, which the run says (it is only known then).
 */
static void check_placement(struct vctx *v, struct svc_work *w)
{
	json_t *pl = json_object_get(w->node, "placement"), *cons, *apart, *it;
	char p[PATH_LEN], kp[PATH_LEN], ip[PATH_LEN];
	size_t i;

	if (!pl || json_is_null(pl))
		return;
	snprintf(p, sizeof(p), "%s.placement", w->path);
	if (json_is_string(pl)) {
		if (node_name_ok(json_string_value(pl)))
			w->pin = json_string_value(pl);
		else
			error_at(v, w->node, "placement", AT_VALUE, p, "\"%s\" is not a node's name (its hostname, as "
				 "docker node ls shows it: 1-253 letters, digits, '.', '_' and '-')", json_string_value(pl));
		return;
	}
	if (!json_is_object(pl)) {
		error_at(v, w->node, "placement", AT_VALUE, p, "must be a node's name, or a mapping of node, "
			 "constraints and apart_from, not %s", type_name(pl));
		return;
	}
	if (!check_keys(v, w->node, "placement", pl, placement_keys, p))
		return;
	w->placement = pl;
	w->pin = get_str(v, pl, "node", p, false);
	join_path(kp, sizeof(kp), p, "node");
	if (w->pin && !node_name_ok(w->pin)) {
		error_at(v, pl, "node", AT_VALUE, kp, "\"%s\" is not a node's name (its hostname, as docker node ls "
			 "shows it: 1-253 letters, digits, '.', '_' and '-')", w->pin);
		w->pin = NULL;
	}
	cons = json_object_get(pl, "constraints");
	join_path(kp, sizeof(kp), p, "constraints");
	if (cons && json_is_string(cons))
		error_at(v, pl, "constraints", AT_VALUE, kp, "must be a list of constraints, such as [node.role==worker]");
	else if (cons && !json_is_array(cons))
		error_at(v, pl, "constraints", AT_VALUE, kp, "must be a list of constraints, not %s", type_name(cons));
	json_array_foreach(json_is_array(cons) ? cons : NULL, i, it) {
		struct ydoc_pos pos = ydoc_item_pos(v->doc, cons, i);
		const char *why = json_is_string(it) ? constraint_problem(json_string_value(it)) : NULL;

		snprintf(ip, sizeof(ip), "%s[%zu]", kp, i);
		if (!json_is_string(it) || why)
			v->oom |= pfs_strv_push_owned(&v->errors, pfs_strdup_printf(
				"%s:%d:%d: %s: %s%s%s is not a Swarm constraint (such as node.role==worker or "
				"node.labels.zone!=b): %s", v->file, pos.line, pos.col, ip,
				json_is_string(it) ? "\"" : "", json_is_string(it) ? json_string_value(it) : type_name(it),
				json_is_string(it) ? "\"" : "", why ? why : "it must be a string")) < 0;
		else
			v->oom |= pfs_strv_push(&w->constraints, json_string_value(it)) < 0;
	}
	apart = json_object_get(pl, "apart_from");
	join_path(kp, sizeof(kp), p, "apart_from");
	if (apart && json_is_string(apart)) {
		v->oom |= pfs_strv_push(&w->apart, json_string_value(apart)) < 0;
	} else if (apart && !json_is_array(apart)) {
		error_at(v, pl, "apart_from", AT_VALUE, kp, "must name a service, or list services, not %s",
			 type_name(apart));
	} else {
		json_array_foreach(apart, i, it) {
			struct ydoc_pos pos = ydoc_item_pos(v->doc, apart, i);

			if (json_is_string(it)) {
				v->oom |= pfs_strv_push(&w->apart, json_string_value(it)) < 0;
				continue;
			}
			v->oom |= pfs_strv_push_owned(&v->errors, pfs_strdup_printf(
				"%s:%d:%d: %s[%zu]: must be a service's name, not %s", v->file, pos.line, pos.col, kp, i,
				type_name(it))) < 0;
		}
	}
}

/* Whether service a starts before b: servers first, then in the file's order. */
static bool starts_before(const struct svc_work *a, const struct svc_work *b)
{
	if (a->role != b->role)
		return a->role == CFG_SERVER;
	return a < b;
}

/*
 * apart_from names services of this test that start before this one (their
 * node is known when it is placed), and does not contradict node.
 */
static void check_apart(struct vctx *v, struct svc_work *w, struct svc_work *all, size_t n)
{
	json_t *pl = w->placement, *apart = json_object_get(pl, "apart_from");
	char kp[PATH_LEN];

	snprintf(kp, sizeof(kp), "%s.placement.apart_from", w->path);
	for (size_t i = 0; i < w->apart.n; i++) {
		const char *name = w->apart.v[i];
		struct ydoc_pos pos = json_is_array(apart) ? ydoc_item_pos(v->doc, apart, i)
							   : ydoc_value_pos(v->doc, pl, "apart_from");
		const char *why = NULL;
		char item[PATH_LEN + 16];
		size_t k;

		for (k = 0; k < n && strcmp(all[k].name, name); k++)
			;
		if (k == n)
			why = "no service of this test is named so";
		else if (&all[k] == w)
			why = "a service cannot be apart from itself";
		else if (all[k].role_ok && w->role_ok && !starts_before(&all[k], w))
			why = "it starts after this one (servers start first, then clients in the file's order): "
			      "write apart_from on the one that starts later";
		else if (w->pin && all[k].pin && !strcmp(w->pin, all[k].pin))
			why = "both are pinned to that one node";
		if (!why)
			continue;
		snprintf(item, sizeof(item), json_is_array(apart) ? "%s[%zu]" : "%s", kp, i);
		v->oom |= pfs_strv_push_owned(&v->errors, pfs_strdup_printf("%s:%d:%d: %s: \"%s\": %s", v->file, pos.line,
									pos.col, item, name, why)) < 0;
	}
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
	if (json_object_get(node, "network")) {
		struct netcond_sink sink = { nc_error, nc_warn, nc_note, v };

		snprintf(p, sizeof(p), "%s.network", w->path);
		if (json_is_object(json_object_get(node, "network")))
			netcond_parse(json_object_get(node, "network"), p, true, &sink, &w->net);
		else
			error_at(v, node, "network", AT_VALUE, p, "must be a mapping of network conditions "
				 "(latency, jitter, packet_loss, bandwidth, ...)");
	}

	check_placement(v, w);

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
		get_bool(v, impl, "build_from_source", p, true);
		check_sources(v, impl, p);
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

static json_t *json_strv(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; a && v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
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
		if (s->node || (s->constraints && s->constraints[0]) || (s->apart_from && s->apart_from[0])) {
			json_t *pl = json_pack("{s:o,s:o}", "constraints",
					       json_strv(s->constraints), "apart_from", json_strv(s->apart_from));

			if (pl && s->node)
				json_object_set_new(pl, "node", json_string(s->node));
			json_object_set_new(o, "placement", pl);
		}
		if (netcond_active(&s->net) || s->capture || s->qlog)
			json_object_set_new(o, "network", json_pack("{s:o,s:b,s:b,s:b}", "conditions",
								    netcond_json(&s->net), "capture", s->capture,
								    "keylog", s->keylog, "qlog", s->qlog));
		json_object_set_new(svcs, s->name, o);
	}
	root = json_pack("{s:s?,s:I,s:I,s:b,s:b,s:o}", "name", c->name, "timeout", (json_int_t)c->timeout_s,
			 "iterations", (json_int_t)c->iterations, "force_build", c->force_build, "no_cache",
			 c->no_cache, "services", svcs);
	if (root && c->testcase >= 0)
		json_object_set_new(root, "testcase", json_pack("{s:s,s:s?}", "name", tc_name((enum tc_id)c->testcase),
								"unsupported", c->unsupported));
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
static void sort_by_position(struct pfs_strv *s)
{
	for (size_t i = 1; i < s->n; i++)
		for (size_t j = i; j > 0 && line_key(s->v[j - 1]) > line_key(s->v[j]); j--) {
			char *t = s->v[j];
			s->v[j] = s->v[j - 1];
			s->v[j - 1] = t;
		}
}

/*
 * Each line as it will be shown: control characters escaped (values from
 * the file are quoted in the messages) and cut at LINE_MAX_SHOWN bytes, so
 * that one line of `error` is one line on a terminal and a quoted megabyte
 * cannot fill the events.
 */
static void make_showable(struct vctx *v, struct pfs_strv *s)
{
	for (size_t i = 0; i < s->n; i++) {
		char *e = pfs_escape_ctl_dup(s->v[i], 0);
		size_t len;

		if (!e) {
			v->oom = true;
			continue;
		}
		len = strlen(e);
		if (len > LINE_MAX_SHOWN) {
			len = LINE_MAX_SHOWN - 3;
			while (len && ((unsigned char)e[len] & 0xc0) == 0x80)
				len--;
			memcpy(e + len, "...", 4);
		}
		free(s->v[i]);
		s->v[i] = e;
	}
}

static void finish_report(struct vctx *v, struct cfg_report *rep)
{
	sort_by_position(&v->errors);
	sort_by_position(&v->warnings);
	make_showable(v, &v->errors);
	make_showable(v, &v->warnings);
	make_showable(v, &v->notes);
	if (v->oom)
		pfs_strv_push(&v->errors, "out of memory while checking the configuration");
	rep->n_errors = v->errors.n;
	rep->errors = pfs_strv_take(&v->errors);
	rep->n_warnings = v->warnings.n;
	rep->warnings = pfs_strv_take(&v->warnings);
	rep->n_notes = v->notes.n;
	rep->notes = pfs_strv_take(&v->notes);
}

static void works_free(struct svc_work *w, size_t n)
{
	for (size_t i = 0; w && i < n; i++) {
		pfs_strv_free(pfs_strv_take(&w[i].constraints));
		pfs_strv_free(pfs_strv_take(&w[i].apart));
		free(w[i].name);
		free(w[i].program_reason);
		flat_release(&w[i]);
	}
	free(w);
}

/*
 * Checks one test: its keys, its services, their targets and programs.
 * Returns false when planning cannot go on (errors were added).
 */
static bool check_test(struct vctx *v, json_t *root, json_t *test, json_t *logging, bool *force,
		       bool *nocache, struct svc_work **wp, size_t *np, struct pfs_strv *envs, long *test_timeout)
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

		v->netenv = it;

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
				if (!strcmp(nk, "network") && json_is_object(nv)) {
					struct netcond_sink sink = { nc_error, nc_warn, nc_note, v };

					netcond_parse(nv, kp, false, &sink, &v->net);
				} else if (!strcmp(nk, "network")) {
					error_at(v, it, nk, AT_VALUE, kp, "must be a mapping of network conditions "
						 "(latency, jitter, packet_loss, bandwidth, ...)");
				} else if (!strcmp(nk, "capture")) {
					v->capture = get_bool(v, it, nk, "network_environment", false);
				} else {
					warn_at(v, it, nk, kp, "not applied: the docker_compose environment takes "
						"network and capture");
				}
			}
		}
	} else if (it) {
		error_at(v, test, "network_environment", AT_VALUE, "network_environment",
			 "must be a mapping with type: docker_compose");
	}
	read_exec_envs(v, test, envs);
	v->testcase = -1;
	it = json_object_get(test, "testcase");
	if (it) {
		const char *tn = json_string_value(it);

		v->testcase = tc_parse(tn);
		if (!tn)
			error_at(v, test, "testcase", AT_VALUE, "testcase", "must be a test case name (%s)", tc_names());
		else if (v->testcase < 0)
			error_at(v, test, "testcase", AT_VALUE, "testcase", "unknown test case \"%s\" (known: %s)", tn,
				 tc_names());
	}
	*test_timeout = get_pos_int(v, test, "timeout", "", 0, MAX_TIMEOUT);
	get_pos_int(v, test, "iterations", "", 1, CONFIG_MAX_ITERATIONS);

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
	for (i = 0; i < n; i++)
		check_apart(v, &w[i], w, n);
	if (v->errors.n)
		return false;

	/* programs: servers first, so that clients can follow them */
	for (int pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++)
			if ((pass == 0) == (w[i].role == CFG_SERVER))
				choose_program(v, &w[i], w, n);
	if (v->errors.n)
		return false;
	if (v->testcase >= 0) {
		size_t clients = 0;

		for (i = 0; i < n; i++)
			clients += w[i].role == CFG_CLIENT;
		if (!clients) {
			error_at(v, test, "testcase", AT_KEY, "testcase",
				 "a test case needs a client and the server it targets");
			return false;
		}
		plan_testcase(v, w, n);
	}

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

/*
 * Every command renders, as `pantherfs render` would show it (servers'
 * addresses not known yet): a plan whose command cannot be made is refused
 * here, with the service's position, and never reaches a container.
 */
static void check_commands(struct vctx *v, const struct pfs_config *cfg, struct svc_work *w, size_t n)
{
	for (size_t i = 0; i < cfg->n_svc; i++) {
		struct pfs_buf line = PFS_BUF_INIT(RENDER_COMMAND_MAX);
		struct pfs_err err = { 0 };
		size_t k;

		if (render_command(v->cat, cfg, &cfg->svc[i], NULL, &line, &err) < 0) {
			for (k = 0; k < n && strcmp(w[k].name, cfg->svc[i].name); k++)
				;
			if (err.code == -ENOMEM)
				v->oom = true;
			else if (k < n)
				error_at(v, w[k].parent, w[k].name, AT_KEY, w[k].path, "its command cannot be made: %s",
					 err.msg);
		}
		pfs_buf_release(&line);
	}
}

int config_load(const struct catalog *cat, const char *name, const char *data, size_t len,
		struct pfs_config **out, struct cfg_report *rep)
{
	struct vctx v = { .cat = cat, .file = name, .testcase = -1 };
	struct svc_work *w = NULL;
	struct pfs_config *cfg = NULL;
	struct pfs_strv envs = { 0 };
	struct pfs_err perr = { 0 };
	json_t *root, *test = NULL, *logging = NULL, *it;
	bool force = false, nocache = false;
	size_t n = 0, i;
	long test_timeout = 0;
	int r;

	memset(rep, 0, sizeof(*rep));
	if (len > CONFIG_MAX_BYTES) {
		/* not its size: a writer through the mount is cut off at the cap, so
		 * len may be where the cut fell, not what was written */
		pfs_strv_push_owned(&v.errors, pfs_strdup_printf("%s: larger than 1 MiB", name));
		finish_report(&v, rep);
		return -EFBIG;
	}
	r = ydoc_parse(name, data, len, &v.doc, &perr);
	if (r < 0) {
		pfs_strv_push(&v.errors, perr.msg);
		finish_report(&v, rep);
		return r == -EFBIG ? -EFBIG : -EINVAL;
	}
	root = ydoc_root(v.doc);

	if (json_is_null(root)) {
		pfs_strv_push_owned(&v.errors, pfs_strdup_printf("%s: empty: write a PANTHER test (a mapping with "
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
				struct pfs_strv tenvs = { 0 };
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
				pfs_strv_release(&tenvs);
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
	cfg->exec_envs = pfs_strv_take(&envs);
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
			/* first: the notes planning adds (flags added for it) follow it */
			note(&v, "%s: runs %s %s %s as a %s: %s", w[i].path, cat_impl_name(w[i].impl),
			     cat_version_name(w[i].ver), w[i].program, w[i].role == CFG_SERVER ? "server" : "client",
			     w[i].program_reason ? w[i].program_reason : "");
			if (plan_service(&v, &w[i], w, n, cfg, &cfg->svc[cfg->n_svc], logging, cfg->exec_envs) < 0)
				v.oom = true;
			cfg->n_svc++;
		}
	for (i = 0; i < cfg->n_svc; i++) {
		if (cfg->svc[i].role == CFG_CLIENT)
			cfg->n_clients++;
		if (cfg->svc[i].timeout_s > cfg->timeout_s)
			cfg->timeout_s = cfg->svc[i].timeout_s;
	}
	if (test_timeout)
		cfg->timeout_s = test_timeout;
	cfg->net = v.net;
	cfg->capture = v.capture;
	for (i = 0; i < cfg->n_svc && !cfg->netem; i++)
		if (netcond_active(&cfg->svc[i].net) || cfg->svc[i].capture)
			v.oom |= !(cfg->netem = netcond_helper_new(catalog_data_dir(cat)));
	/* checked in check_test(); a bad value is an error there, the default here */
	it = json_object_get(test, "iterations");
	cfg->iterations = json_is_integer(it) && json_integer_value(it) >= 1 &&
			  json_integer_value(it) <= CONFIG_MAX_ITERATIONS ? (long)json_integer_value(it) : 1;
	cfg->testcase = v.testcase;
	cfg->unsupported = v.unsupported;
	v.unsupported = NULL;
	cfg->summary = summary_of(cfg);
	if (!cfg->summary)
		v.oom = true;
	if (!v.errors.n && !v.oom)
		check_commands(&v, cfg, w, n);
out:
	free(v.unsupported);
	works_free(w, n);
	pfs_strv_release(&envs);
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

static void service_release(struct cfg_service *s)
{
	free(s->name);
	free(s->implementation);
	free(s->version_name);
	free(s->program);
	free(s->program_path);
	free(s->template);
	free(s->target);
	free(s->cert_path);
	free(s->key_path);
	free(s->node);
	pfs_strv_free(s->constraints);
	pfs_strv_free(s->apart_from);
	pfs_strv_free(s->env);
	pfs_strv_free(s->success.lines);
	free(s->image.ref);
	free(s->image.context_dir);
	free(s->image.dockerfile);
	pfs_strv_free(s->image.args);
	free(s->image.repo);
	free(s->image.tag_prefix);
	json_decref(s->ctx);
}

void config_free(struct pfs_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->svc && i < c->n_svc; i++)
		service_release(&c->svc[i]);
	free(c->svc);
	free(c->name);
	free(c->description);
	pfs_strv_free(c->exec_envs);
	free(c->unsupported);
	json_decref(c->summary);
	netcond_helper_free(c->netem);
	free(c);
}

const struct cfg_service *config_find_service(const struct pfs_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_svc; i++)
		if (!strcmp(c->svc[i].name, name))
			return &c->svc[i];
	return NULL;
}
