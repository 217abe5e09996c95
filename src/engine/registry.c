/* SPDX-License-Identifier: MIT */
/*
 * Images through a registry (--registry=HOST:PORT): built once for every
 * engine that can pull.
 *
 * An image pantherfs builds is named pantherfs/<impl>:<version>-<hash12>
 * (image.h); in the registry it is HOST:PORT/pantherfs/<impl>:<version>-
 * <hash12>, the same content hash, so the name says what was built. Before
 * a build:
 *   1. the engine has the image and a digest of it from this registry (its
 *      RepoDigests: it was pushed or pulled): image.cached;
 *   2. else the engine pulls it from the registry: image.pulled (and it is
 *      tagged with the local name, so runs on this engine alone find it);
 *   3. else it is built (or the engine has it, never pushed), tagged with
 *      the registry's name and pushed: image.pushed with its digest.
 * A pull that fails for any reason (not there, registry unreachable) goes
 * on to 3, with the registry's words in build.log; a push that fails ends
 * the run in error with them. A Swarm's services then name the image by
 * digest (registry_digest_ref()), so every node runs the same bytes.
 * force_build and no_cache build again and push again.
 *
 * Layer: part of a run's image phase (run.c's ensure_image), below run.c;
 * no lock held across a Docker call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static int docker_rc(int rc)
{
	return conn_lost(rc) ? RUN_LOST : rc;
}

/* "<registry>/<ref>" */
static void remote_ref(struct run *r, const char *ref, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", r->t->x->registry, ref);
}

/* The digest ref of img (an inspect) whose repository is repo; false when none. */
static bool digest_of(json_t *img, const char *repo, char *out, size_t n)
{
	size_t len = strlen(repo), i;
	json_t *d;

	json_array_foreach(json_object_get(img, "RepoDigests"), i, d) {
		const char *v = json_string_value(d);

		if (v && !strncmp(v, repo, len) && v[len] == '@') {
			snprintf(out, n, "%s", v);
			return true;
		}
	}
	return false;
}

int registry_digest_ref(struct run *r, const char *ref, char *out, size_t n)
{
	char repo[600];
	const char *slash, *colon;
	json_t *img = NULL;
	int rc;

	/* the repository: the remote name without its tag */
	remote_ref(r, ref, repo, sizeof(repo));
	slash = strrchr(repo, '/');
	colon = strrchr(repo, ':');
	if (colon && slash && colon > slash)
		repo[colon - repo] = '\0';
	rc = docker_image_inspect(r->t->x->dc, ref, &img, NULL);
	if (rc == 0 && !digest_of(img, repo, out, n))
		rc = -ENOENT;
	json_decref(img);
	return rc;
}

static const char *image_id(json_t *img)
{
	return json_string_value(json_object_get(img, "Id")) ?: "";
}

/* Pulls remote; 0 when the engine has it now, else why not in r->build_msg. */
static int pull(struct run *r, const char *remote, bool *stopped)
{
	struct docker_build_cbs cbs;
	struct docker_call *call;
	struct pfs_err err = { 0 };

	run_image_begin(r, remote, false, &cbs);
	run_log_line(r, "pulling %s", remote);
	call = docker_image_pull(r->t->x->dc, remote, &cbs, &err);
	if (!call) {
		snprintf(r->build_msg, sizeof(r->build_msg), "%s", err.msg);
		return err.code ? err.code : -EIO;
	}
	return run_image_await(r, call, stopped);
}

static int push(struct run *r, const char *remote, bool *stopped)
{
	struct docker_build_cbs cbs;
	struct docker_call *call;
	struct pfs_err err = { 0 };

	run_image_begin(r, remote, true, &cbs);
	run_log_line(r, "pushing %s", remote);
	/* anonymous: a registry of the test cluster needs no login */
	call = docker_image_push(r->t->x->dc, remote, NULL, &cbs, &err);
	if (!call) {
		snprintf(r->build_msg, sizeof(r->build_msg), "%s", err.msg);
		return err.code ? err.code : -EIO;
	}
	return run_image_await(r, call, stopped);
}

int registry_ensure_image(struct run *r, const struct cfg_service *c, const struct image_plan *p)
{
	struct docker_client *dc = r->t->x->dc;
	char remote[600], digest[700];
	struct pfs_err err = { 0 };
	bool force, stopped = false, have;
	json_t *img = NULL;
	int rc;

	remote_ref(r, p->ref, remote, sizeof(remote));
	force = r->force_build || r->no_cache;
	if (!force) {
		rc = registry_digest_ref(r, p->ref, digest, sizeof(digest));
		if (conn_lost(rc))
			return RUN_LOST;
		if (rc == 0) {
			docker_image_inspect(dc, p->ref, &img, NULL);
			evlog_add(r->t, r, "image.cached", NULL,
				  json_pack("{s:s,s:s,s:s}", "image", p->ref, "id", image_id(img), "digest", digest));
			json_decref(img);
			return 0;
		}
		rc = pull(r, remote, &stopped);
		if (stopped)
			return 0; /* a stop request: the wait phase ends the run */
		if (conn_lost(rc))
			return RUN_LOST;
		if (rc == 0) {
			rc = docker_image_tag(dc, remote, p->ref, &err);
			if (rc == 0)
				rc = docker_image_inspect(dc, p->ref, &img, &err);
			if (rc < 0) {
				snprintf(r->docker_msg, sizeof(r->docker_msg), "image %s: %s", p->ref, err.msg);
				return docker_rc(rc);
			}
			if (registry_digest_ref(r, p->ref, digest, sizeof(digest)) < 0)
				digest[0] = '\0';
			evlog_add(r->t, r, "image.pulled", c->name,
				  json_pack("{s:s,s:s,s:s,s:s}", "image", p->ref, "from", remote, "id", image_id(img),
					    "digest", digest));
			json_decref(img);
			return 0;
		}
		run_log_line(r, "the registry has no %s yet (%s)", remote, r->build_msg);
	}
	/* built before on this engine and never pushed: pushed now, not built again */
	rc = force ? -ENOENT : docker_image_inspect(dc, p->ref, &img, NULL);
	if (conn_lost(rc))
		return RUN_LOST;
	have = rc == 0;
	if (have)
		evlog_add(r->t, r, "image.cached", NULL, json_pack("{s:s,s:s}", "image", p->ref, "id", image_id(img)));
	json_decref(img);
	img = NULL;
	if (!have) {
		rc = run_image_build(r, c, p);
		if (rc != 0 || run_stop_asked(r))
			return rc;
	}
	rc = docker_image_tag(dc, p->ref, remote, &err);
	if (rc < 0) {
		snprintf(r->docker_msg, sizeof(r->docker_msg), "image %s: cannot name it %s: %s", p->ref, remote,
			 err.msg);
		return docker_rc(rc);
	}
	rc = push(r, remote, &stopped);
	if (stopped)
		return 0;
	if (conn_lost(rc))
		return RUN_LOST;
	if (rc == 0)
		rc = registry_digest_ref(r, p->ref, digest, sizeof(digest));
	if (rc < 0) {
		const char *why = r->build_msg[0] ? r->build_msg : strerror(-rc);

		if (conn_lost(rc))
			return RUN_LOST;
		run_log_line(r, "cannot push %s: %s", remote, why);
		evlog_add(r->t, r, "image.push_failed", c->name, json_pack("{s:s,s:s}", "image", remote, "error", why));
		return run_end(r, RS_ERROR, "image %s: cannot push it to the registry %s: %s", p->ref,
			       r->t->x->registry, why);
	}
	run_log_line(r, "pushed %s", digest);
	evlog_add(r->t, r, "image.pushed", c->name,
		  json_pack("{s:s,s:s,s:s}", "image", p->ref, "to", remote, "digest", digest));
	return 0;
}
