/* SPDX-License-Identifier: MIT */
/*
 * gflags --helpfull output: parsed strictly (a line inside a section that is
 * not an entry is an error, so a format change is noticed, not skipped), and
 * compared with a version config's flags. See helpflags.h for the rules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpflags.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define HF_MAX_FLAGS 4096
#define HF_ENTRY_MAX (64u << 10)

static const char *const gflags_types[] = { "bool", "int32", "int64", "uint32", "uint64", "double", "string", NULL };

static bool in_list(const char *s, const char *const *l)
{
	for (size_t i = 0; l[i]; i++)
		if (!strcmp(s, l[i]))
			return true;
	return false;
}

/* The line, for an error message: at most 60 bytes, control characters as \xNN. */
static void quote_line(const char *s, size_t n, char *out, size_t outlen)
{
	size_t k = 0;

	for (size_t i = 0; i < n && i < 60 && k + 5 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			k += (size_t)snprintf(out + k, outlen - k, "\\x%02x", c);
		else
			out[k++] = (char)c;
	}
	out[k] = '\0';
}

void hf_list_free(struct hf_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].type);
		free(l->v[i].deflt);
		free(l->v[i].section);
	}
	free(l->v);
	free(l);
}

struct hf_list *hf_list_new(void)
{
	struct hf_list *l = calloc(1, sizeof(*l));

	if (l && !(l->v = calloc(HF_MAX_FLAGS, sizeof(*l->v)))) {
		free(l);
		return NULL;
	}
	return l;
}

const struct hf_flag *hf_list_find(const struct hf_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name))
			return &l->v[i];
	return NULL;
}

/* "-name (description) type: T default: D[ currently: C]" -> the flag. */
static int parse_entry(struct hf_list *l, const char *e, const char *section, int line, struct pfs_err *err)
{
	const char *sp = strchr(e, ' '), *t = NULL, *p, *d;
	struct hf_flag *f;
	char type[32], *cur;
	size_t tn;

	/* the description may hold ") type: " itself: the last one ends it */
	for (p = strstr(e, ") type: "); p; p = strstr(p + 1, ") type: "))
		t = p;
	if (e[0] != '-' || !sp || sp == e + 1 || sp[1] != '(' || !t || t < sp)
		return pfs_err_set(err, -EINVAL, "line %d: not \"-name (description) type: T default: D\"", line);
	t += 8;
	tn = strcspn(t, " ");
	d = t + tn;
	if (tn == 0 || tn >= sizeof(type) || strncmp(d, " default: ", 10))
		return pfs_err_set(err, -EINVAL, "line %d: no \"type: T default: D\" after the description", line);
	memcpy(type, t, tn);
	type[tn] = '\0';
	if (!in_list(type, gflags_types))
		return pfs_err_set(err, -EINVAL, "line %d: unknown type \"%s\"", line, type);
	if (l->n == HF_MAX_FLAGS)
		return pfs_err_set(err, -E2BIG, "line %d: more than %d flags", line, HF_MAX_FLAGS);
	f = &l->v[l->n];
	memset(f, 0, sizeof(*f));
	f->name = strndup(e + 1, (size_t)(sp - e - 1));
	if (!f->name)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	if (hf_list_find(l, f->name)) {
		int r = pfs_err_set(err, -EINVAL, "line %d: flag %s defined twice", line, f->name);

		free(f->name);
		return r;
	}
	l->n++;
	f->type = strdup(type);
	f->deflt = strdup(d + 10);
	f->section = strdup(section);
	f->line = line;
	if (!f->type || !f->deflt || !f->section)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	/* "currently: X" is the value of this run (--helpfull itself): not the default */
	cur = strstr(f->deflt, " currently: ");
	if (cur)
		*cur = '\0';
	return 0;
}

int helpflags_parse(const char *text, size_t len, struct hf_list **out, struct pfs_err *err)
{
	struct hf_list *l = calloc(1, sizeof(*l));
	struct pfs_buf entry = PFS_BUF_INIT(HF_ENTRY_MAX);
	char *section = NULL;
	size_t pos = 0;
	int line = 0, entry_line = 0, r = 0;

	if (!l || !(l->v = calloc(HF_MAX_FLAGS, sizeof(*l->v)))) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	while (pos <= len && r == 0) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		line++;
		pos += n + 1;
		if (memchr(s, '\0', n)) {
			r = pfs_err_set(err, -EINVAL, "line %d: a NUL byte", line);
			break;
		}
		/* a continuation (indented by 6) joins the entry; anything else ends it */
		if (entry.len && n > 6 && !strncmp(s, "      ", 6) && s[6] != ' ') {
			if (pfs_buf_addc(&entry, ' ') < 0 || pfs_buf_add(&entry, s + 6, n - 6) < 0)
				r = pfs_err_set(err, -E2BIG, "line %d: an entry longer than %u bytes", line,
						HF_ENTRY_MAX);
			continue;
		}
		if (entry.len) {
			r = parse_entry(l, pfs_buf_str(&entry), section, entry_line, err);
			pfs_buf_reset(&entry);
			if (r < 0)
				break;
		}
		if (strspn(s, " ") == n)
			continue;
		if (n > 14 && !strncmp(s, "  Flags from ", 13) && s[n - 1] == ':') {
			free(section);
			section = strndup(s + 13, n - 14);
			if (!section)
				r = pfs_err_set(err, -ENOMEM, "out of memory");
			continue;
		}
		if (section && n > 5 && !strncmp(s, "    -", 5)) {
			entry_line = line;
			if (pfs_buf_add(&entry, s + 4, n - 4) < 0)
				r = pfs_err_set(err, -E2BIG, "line %d: an entry longer than %u bytes", line,
						HF_ENTRY_MAX);
			continue;
		}
		if (section) {
			char q[256];

			quote_line(s, n, q, sizeof(q));
			r = pfs_err_set(err, -EINVAL, "line %d: neither a flag nor a section: \"%s\"", line, q);
		}
		/* before the first section: the program's own lines ("SetUsageMessage() never called") */
	}
	if (r == 0 && entry.len)
		r = parse_entry(l, pfs_buf_str(&entry), section, entry_line, err);
	if (r == 0 && l->n == 0)
		r = pfs_err_set(err, -EINVAL, "no \"Flags from\" section with flags");
out:
	pfs_buf_release(&entry);
	free(section);
	if (r < 0) {
		hf_list_free(l);
		return r;
	}
	*out = l;
	return 0;
}

/* ---- comparing --------------------------------------------------------------------------- */

enum kind { OWN, LOGGING, OTHER };

static enum kind section_kind(const char *section, const char *own_dir)
{
	static const char *const logging[] = { "logging.cc", "utilities.cc", "vlog_is_on.cc", "flags.cc",
					       "gflags.cc", "gflags_completions.cc", "gflags_reporting.cc", NULL };
	const char *base = strrchr(section, '/');

	if (own_dir && *own_dir && strstr(section, own_dir))
		return OWN;
	base = base ? base + 1 : section;
	/* glog's and gflags' files, never one of folly's or mvfst's of the same name */
	if (in_list(base, logging) && !strstr(section, "/folly/") && !strstr(section, "/quic/"))
		return LOGGING;
	return OTHER;
}

static const char *config_type_for(const char *gflags_type)
{
	if (!strcmp(gflags_type, "int32") || !strcmp(gflags_type, "int64"))
		return "int";
	if (!strcmp(gflags_type, "uint32") || !strcmp(gflags_type, "uint64"))
		return "size";
	return gflags_type;
}

static bool type_matches(const char *config_type, const char *gflags_type)
{
	const char *want = config_type_for(gflags_type);

	if (!strcmp(want, "bool"))
		return !strcmp(config_type, "bool") || !strcmp(config_type, "switch");
	return !strcmp(config_type, want);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int helpflags_compare(const struct hf_list *bin, json_t *config_flags, const char *own_dir,
		      struct pfs_buf *report)
{
	const char **names = calloc(bin->n + json_object_size(config_flags) + 1, sizeof(*names));
	size_t nn = 0;
	const char *k;
	json_t *v;
	int problems = 0, r = 0;

	if (!names)
		return -ENOMEM;
	json_object_foreach(config_flags, k, v)
		names[nn++] = k;
	for (size_t i = 0; i < bin->n; i++)
		if (section_kind(bin->v[i].section, own_dir) == OWN && !json_object_get(config_flags, bin->v[i].name))
			names[nn++] = bin->v[i].name;
	qsort(names, nn, sizeof(*names), cmp_names);
	for (size_t i = 0; i < nn && r == 0; i++) {
		const struct hf_flag *f = hf_list_find(bin, names[i]);
		const char *ct = json_string_value(json_object_get(config_flags, names[i]));

		if (!ct) {
			r = pfs_buf_printf(report, "%s: the program defines it (%s, %s, default %s) but the config "
					   "does not list it\n", f->name, f->section, config_type_for(f->type), f->deflt);
		} else if (!f) {
			r = pfs_buf_printf(report, "%s: the config lists it but the program does not define it "
					   "(gflags aborts when it is passed)\n", names[i]);
		} else if (section_kind(f->section, own_dir) == OTHER) {
			r = pfs_buf_printf(report, "%s: only %s defines it: not the program's own flag, nor "
					   "glog's or gflags'\n", f->name, f->section);
		} else if (!type_matches(ct, f->type)) {
			r = pfs_buf_printf(report, "%s: the config types it %s, the program's is %s (config type %s, "
					   "from %s)\n", f->name, ct, f->type, config_type_for(f->type), f->section);
		} else {
			continue;
		}
		problems++;
	}
	free(names);
	return r < 0 ? r : problems;
}

int helpflags_check(const struct cat_version *v, const char *program, const char *what,
		    const char *text, size_t len, struct pfs_buf *report, struct pfs_err *err)
{
	json_t *prog = cat_version_program(v, program);
	json_t *srcs = json_object_get(cat_impl_json(cat_version_impl(v)), "flag_sources");
	const char *own = json_string_value(json_object_get(srcs, program));
	struct hf_list *l = NULL;
	int r;

	if (!prog)
		return pfs_err_set(err, -ENOENT, "%s %s has no program %s", cat_impl_name(cat_version_impl(v)),
				   cat_version_name(v), program);
	if (!own)
		return pfs_err_set(err, -EINVAL, "version_configs/%s/implementation.yaml: flag_sources names no "
				   "source folder for %s", cat_impl_name(cat_version_impl(v)), program);
	r = helpflags_parse(text, len, &l, err);
	if (r < 0) {
		pfs_err_prefix(err, "%s", what);
		return r;
	}
	r = helpflags_compare(l, json_object_get(prog, "flags"), own, report);
	hf_list_free(l);
	if (r < 0)
		return pfs_err_set(err, r, "%s: the report is too long", what);
	return r;
}

/* ---- patches ----------------------------------------------------------------------------- */

/* The identifier at s (letters, digits, _), copied into out; its length. */
static size_t ident(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	while ((s[n] == '_' || (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		(s[n] >= '0' && s[n] <= '9')) && n + 1 < outlen) {
		out[n] = s[n];
		n++;
	}
	out[n] = '\0';
	return n;
}

int helpflags_patch_defines(const char *text, size_t len, const char *own_dir, struct hf_list *out,
			    struct pfs_err *err)
{
	char file[512] = "", type[32], name[128];
	bool want_name = false, mine = false;
	size_t pos = 0;
	int line = 0, def_line = 0;

	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		char row[1024];

		line++;
		pos += n + 1;
		snprintf(row, sizeof(row), "%.*s", (int)(n < sizeof(row) - 1 ? n : sizeof(row) - 1), s);
		if (!strncmp(row, "+++ ", 4)) {
			snprintf(file, sizeof(file), "%s", row + 4 + (strncmp(row + 4, "b/", 2) ? 0 : 2));
			mine = own_dir && *own_dir && strstr(file, own_dir);
			continue;
		}
		if (!mine || row[0] != '+')
			continue;
		if (want_name) {
			const char *p = row + 1 + strspn(row + 1, " \t");

			if (!ident(p, name, sizeof(name)))
				return pfs_err_set(err, -EINVAL, "line %d: DEFINE_%s( without a flag name", def_line, type);
			want_name = false;
		} else {
			const char *d = strstr(row, "DEFINE_"), *p;

			if (!d || strspn(row + 1, " \t") != (size_t)(d - row - 1))
				continue;
			p = d + 7 + ident(d + 7, type, sizeof(type));
			if (*p != '(')
				continue;
			def_line = line;
			p += 1 + strspn(p + 1, " \t");
			if (!*p) {
				want_name = true;
				continue;
			}
			if (!ident(p, name, sizeof(name)))
				return pfs_err_set(err, -EINVAL, "line %d: DEFINE_%s( without a flag name", line, type);
		}
		if (!in_list(type, gflags_types))
			return pfs_err_set(err, -EINVAL, "line %d: DEFINE_%s: not a gflags type", def_line, type);
		if (hf_list_find(out, name))
			return pfs_err_set(err, -EINVAL, "line %d: flag %s defined twice", def_line, name);
		if (out->n == HF_MAX_FLAGS)
			return pfs_err_set(err, -E2BIG, "line %d: more than %d flags", def_line, HF_MAX_FLAGS);
		out->v[out->n] = (struct hf_flag){ strdup(name), strdup(type), strdup(""), strdup(file), def_line };
		if (!out->v[out->n].name || !out->v[out->n].type || !out->v[out->n].deflt || !out->v[out->n].section) {
			out->n++;
			return pfs_err_set(err, -ENOMEM, "out of memory");
		}
		out->n++;
	}
	if (want_name)
		return pfs_err_set(err, -EINVAL, "line %d: DEFINE_%s( without a flag name", def_line, type);
	return 0;
}

int helpflags_patch_compare(const struct hf_list *upstream, const struct hf_list *patched,
			    const struct hf_list *added, const char *own_dir, struct pfs_buf *report)
{
	const char **names = calloc(upstream->n + patched->n + added->n + 1, sizeof(*names));
	size_t nn = 0;
	int problems = 0, r = 0;

	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < upstream->n; i++)
		if (section_kind(upstream->v[i].section, own_dir) == OWN)
			names[nn++] = upstream->v[i].name;
	for (size_t i = 0; i < patched->n; i++)
		if (section_kind(patched->v[i].section, own_dir) == OWN && !hf_list_find(upstream, patched->v[i].name))
			names[nn++] = patched->v[i].name;
	for (size_t i = 0; i < added->n; i++)
		if (!hf_list_find(patched, added->v[i].name))
			names[nn++] = added->v[i].name;
	qsort(names, nn, sizeof(*names), cmp_names);
	for (size_t i = 0; i < nn && r == 0; i++) {
		const struct hf_flag *u = hf_list_find(upstream, names[i]), *p = hf_list_find(patched, names[i]);
		const struct hf_flag *a = hf_list_find(added, names[i]);

		if (i && !strcmp(names[i], names[i - 1]))
			continue;
		if (u && a)
			r = pfs_buf_printf(report, "%s: the patches define it again (%s line %d), upstream has it\n",
					   names[i], a->section, a->line);
		else if (u && (!p || section_kind(p->section, own_dir) != OWN))
			r = pfs_buf_printf(report, "%s: upstream's program defines it, the patched one does not\n",
					   names[i]);
		else if (u && strcmp(u->type, p->type))
			r = pfs_buf_printf(report, "%s: %s upstream, %s patched\n", names[i], u->type, p->type);
		else if (!u && a && !p)
			r = pfs_buf_printf(report, "%s: the patches define it (%s line %d), the patched program "
					   "does not: recorded from another build?\n", names[i], a->section, a->line);
		else if (!u && !a)
			r = pfs_buf_printf(report, "%s: the patched program defines it (%s), neither upstream nor "
					   "the patches do\n", names[i], p->section);
		else if (!u && strcmp(a->type, p->type))
			r = pfs_buf_printf(report, "%s: the patches define it %s, the patched program's is %s\n",
					   names[i], a->type, p->type);
		else
			continue;
		problems++;
	}
	free(names);
	return r < 0 ? r : problems;
}
