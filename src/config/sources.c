/* SPDX-License-Identifier: MIT */
/*
 * Finding a service's source tarballs. The names come from the version
 * config (source, dependencies) and the commits from the build args, so a
 * config that overrides a commit gets the tarball of that commit, and the
 * tarball the Dockerfile looks for is exactly the one pantherfs put in the
 * context.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pantherfs/catalog.h"
#include "pantherfs/sources.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define COMMIT_NAME_MAX 128

static const char *build_arg(const struct cfg_service *s, const char *key)
{
	for (size_t i = 0; s->image.args && s->image.args[i] && s->image.args[i + 1]; i += 2)
		if (!strcmp(s->image.args[i], key))
			return s->image.args[i + 1];
	return NULL;
}

/* A sha or a tag can name a file; "refs/x" or "../x" cannot. */
static bool commit_fits_a_name(const char *c)
{
	size_t n = strlen(c);

	if (n == 0 || n > COMMIT_NAME_MAX || c[0] == '.' || c[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)c[i]) && !strchr("._+-", c[i]))
			return false;
	return true;
}

static int add_item(struct src_list *l, const struct cfg_service *s, const char *name, const char *dir)
{
	struct src_item *it = &l->v[l->n];
	char up[128], key[160];
	const char *commit, *repo;
	struct stat st;

	snprintf(up, sizeof(up), "%s", name);
	for (char *c = up; *c; c++)
		*c = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
	snprintf(key, sizeof(key), "%s_COMMIT", up);
	commit = build_arg(s, key) ?: "";
	snprintf(key, sizeof(key), "%s_REPO", up);
	repo = build_arg(s, key) ?: "";

	memset(it, 0, sizeof(*it));
	l->n++; /* counted at once: src_list_free() frees what was allocated */
	it->name = strdup(name);
	it->commit = strdup(commit);
	it->repo = strdup(repo);
	if (!it->name || !it->commit || !it->repo)
		return -ENOMEM;
	if (!commit_fits_a_name(commit))
		return 0;
	it->ctx_name = pfs_strdup_printf("sources/%s-%s.tar.gz", name, commit);
	it->path = pfs_strdup_printf("%s/%s-%s.tar.gz", dir, name, commit);
	if (!it->ctx_name || !it->path)
		return -ENOMEM;
	if (stat(it->path, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(it->path);
		it->path = NULL;
	}
	return 0;
}

int sources_find(const struct cfg_service *s, struct src_list **out, struct pfs_err *err)
{
	json_t *vj = s->version ? cat_version_json(s->version) : NULL;
	json_t *deps = json_object_get(vj, "dependencies"), *d;
	struct src_list *l = calloc(1, sizeof(*l));
	const char *dir, *name;
	int r = 0;

	if (!l)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	if (s->image.prebuilt || !json_object_get(vj, "source"))
		goto out;
	dir = cat_impl_sources_dir(cat_version_impl(s->version));
	l->v = calloc(1 + json_object_size(deps), sizeof(*l->v));
	if (!l->v) {
		r = -ENOMEM;
		goto out;
	}
	r = add_item(l, s, cat_impl_name(cat_version_impl(s->version)), dir);
	json_object_foreach(deps, name, d) {
		if (r < 0)
			break;
		r = add_item(l, s, name, dir);
	}
out:
	if (r < 0) {
		src_list_free(l);
		return pfs_err_set(err, r, "out of memory");
	}
	*out = l;
	return 0;
}

void src_list_free(struct src_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].commit);
		free(l->v[i].repo);
		free(l->v[i].path);
		free(l->v[i].ctx_name);
	}
	free(l->v);
	free(l);
}

size_t src_list_n_tarballs(const struct src_list *l)
{
	size_t n = 0;

	for (size_t i = 0; l && i < l->n; i++)
		n += l->v[i].path != NULL;
	return n;
}
