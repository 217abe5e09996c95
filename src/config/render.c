/* SPDX-License-Identifier: MIT */
/*
 * Command lines from templates. The plan (config.c) already decided every
 * flag and value; this file only adds what is known late (the target's
 * address) and the wrappers, then renders and checks the shape of the
 * result: one line, nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pantherfs/render.h"
#include "pantherfs/template.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static void trim(struct pfs_buf *b, size_t from)
{
	size_t n = b->len;
	size_t lead = from;

	while (n > from && (b->ptr[n - 1] == ' ' || b->ptr[n - 1] == '\n' || b->ptr[n - 1] == '\t' ||
			    b->ptr[n - 1] == '\r'))
		n--;
	pfs_buf_truncate(b, n);
	while (lead < b->len && (b->ptr[lead] == ' ' || b->ptr[lead] == '\n' || b->ptr[lead] == '\t'))
		lead++;
	if (lead > from) {
		memmove(b->ptr + from, b->ptr + lead, b->len - lead + 1);
		b->len -= lead - from;
	}
}

static int render_one(const struct catalog *cat, const char *rel, json_t *ctx, struct pfs_buf *out,
		      struct pfs_err *err)
{
	const struct tmpl *t = catalog_template(cat, rel);
	size_t start = out->len;
	int r;

	if (!t)
		return pfs_err_set(err, -ENOENT, "no template templates/%s", rel);
	r = tmpl_render(t, ctx, out, err);
	if (r < 0)
		return r;
	trim(out, start);
	if (memchr(out->ptr ? out->ptr + start : "", '\n', out->len - start))
		return pfs_err_set(err, -EINVAL, "templates/%s: produced several lines; a command is one line", rel);
	return 0;
}

int render_command(const struct catalog *cat, const struct pfs_config *cfg,
		   const struct cfg_service *s, json_t *addresses, struct pfs_buf *out,
		   struct pfs_err *err)
{
	struct pfs_buf wrap = PFS_BUF_INIT(RENDER_COMMAND_MAX);
	struct pfs_buf cmd = PFS_BUF_INIT(RENDER_COMMAND_MAX);
	json_t *ctx = json_deep_copy(s->ctx);
	int r = 0;

	if (!ctx)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	if (s->role == CFG_CLIENT && s->target) {
		const char *ip = json_string_value(json_object_get(addresses, s->target));
		char placeholder[128];

		snprintf(placeholder, sizeof(placeholder), "<address of %s>", s->target);
		json_object_set_new(json_object_get(ctx, "target"), "address", json_string(ip ? ip : placeholder));
	}
	for (size_t i = 0; cfg->exec_envs && cfg->exec_envs[i]; i++) {
		char rel[128];

		snprintf(rel, sizeof(rel), "wrappers/%s.jinja", cfg->exec_envs[i]);
		r = render_one(cat, rel, ctx, &wrap, err);
		if (r < 0)
			goto out;
		if (wrap.len && (r = pfs_buf_addc(&wrap, ' ')) < 0) {
			pfs_err_set(err, r, "command too long");
			goto out;
		}
	}
	json_object_set_new(ctx, "wrap", json_string(pfs_buf_str(&wrap)));
	r = render_one(cat, s->template, ctx, &cmd, err);
	if (r == -E2BIG)
		pfs_err_set(err, r, "the command is longer than %u bytes, the most one argument of sh -c can be",
			    RENDER_COMMAND_MAX);
	else if (r == 0 && (r = pfs_buf_add(out, pfs_buf_str(&cmd), cmd.len)) < 0)
		pfs_err_set(err, r, "the command does not fit in the caller's buffer");
out:
	pfs_buf_release(&wrap);
	pfs_buf_release(&cmd);
	json_decref(ctx);
	return r;
}
