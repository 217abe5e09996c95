/* SPDX-License-Identifier: MIT */
/*
 * result.json: a run as one JSON object, from a plain struct
 * (results_compose) or from what a run leaves in the state dir
 * (results_from_run_dir). The second is how result.json survives a restart:
 * the run dir already holds everything it says (config.yaml, run.json, the
 * events with their times, the logs), so nothing else needs persisting and
 * a result rebuilt later equals the one written at the end of the run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pantherfs/results.h"
#include "pantherfs/util.h"
#include "pantherfs/yamltree.h"
#include "pantherfs/banned.h"

#define RUN_JSON_CAP (4u << 20)
#define EVENT_LINE_CAP (1u << 20)
#define READ_CHUNK (64u << 10)

/* ---- composing ------------------------------------------------------------------------------ */

static json_t *ms_json(int64_t ms)
{
	return ms < 0 ? json_null() : json_integer((json_int_t)ms);
}

static void iso_time(int64_t wall_ms, char *out, size_t n)
{
	struct timespec ts = { .tv_sec = (time_t)(wall_ms / 1000), .tv_nsec = (long)(wall_ms % 1000) * 1000000L };

	pfs_time_format(&ts, out, n);
}

int results_compose(const struct res_run *in, json_t **out)
{
	json_t *res = NULL, *svcs = NULL;
	char when[40];
	int r = -ENOMEM;

	if (!in->test)
		return -EINVAL;
	iso_time(in->queued_wall_ms, when, sizeof(when));
	svcs = json_object();
	res = json_pack("{s:s,s:i,s:i,s:i,s:s,s:s,s:s}", "test", in->test, "run", in->run, "iteration",
			in->iteration > 0 ? in->iteration : 1, "iterations", in->iterations > 0 ? in->iterations : 1,
			"verdict", in->verdict ? in->verdict : "", "reason", in->reason ? in->reason : "", "time", when);
	if (!res || !svcs)
		goto out;
	if (json_object_set_new(res, "timings_ms",
				json_pack("{s:i,s:o,s:o,s:o,s:o}", "queued", 0, "image", ms_json(in->image_ms), "network",
					  ms_json(in->network_ms), "client_finished", ms_json(in->client_finished_ms),
					  "end", ms_json(in->end_ms))) < 0 ||
	    json_object_set_new(res, "settings", in->settings ? json_deep_copy(in->settings) : json_object()) < 0)
		goto out;
	for (size_t i = 0; i < in->n_svc; i++) {
		const struct res_service *s = &in->svc[i];
		json_t *o;

		if (!s->name) {
			r = -EINVAL;
			goto out;
		}
		o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:b,s:{s:o,s:o,s:o},s:o}", "role", s->role ? s->role : "",
			      "implementation", s->implementation ? s->implementation : "", "version",
			      s->version ? s->version : "", "program", s->program ? s->program : "", "exit_code",
			      s->exit_code >= 0 ? json_integer(s->exit_code) : json_null(), "stopped", s->stopped,
			      "timings_ms", "started", ms_json(s->started_ms), "ready", ms_json(s->ready_ms), "finished",
			      ms_json(s->finished_ms), "metrics",
			      s->metrics ? json_deep_copy(s->metrics) : json_object());
		if (!o || json_object_set_new(svcs, s->name, o) < 0)
			goto out;
	}
	if (json_object_set(res, "services", svcs) < 0)
		goto out;
	*out = res;
	res = NULL;
	r = 0;
out:
	json_decref(svcs);
	json_decref(res);
	return r;
}

int results_text(const json_t *result, struct pfs_buf *out)
{
	char *txt = json_dumps(result, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	int r;

	if (!txt)
		return -ENOMEM;
	r = pfs_buf_addstr(out, txt);
	if (r == 0)
		r = pfs_buf_addc(out, '\n');
	free(txt);
	return r;
}

/* ---- settings ------------------------------------------------------------------------------- */

static int flatten(json_t *into, const char *prefix, const json_t *v)
{
	const char *k;
	json_t *it;

	if (!json_is_object(v))
		return json_object_set(into, prefix, (json_t *)v) < 0 ? -ENOMEM : 0;
	json_object_foreach((json_t *)v, k, it) {
		char *key = pfs_strdup_printf("%s.%s", prefix, k);
		int r = key ? flatten(into, key, it) : -ENOMEM;

		free(key);
		if (r < 0)
			return r;
	}
	return 0;
}

json_t *results_settings(const struct pfs_config *cfg)
{
	json_t *set = json_object();
	struct pfs_buf ee = PFS_BUF_INIT(4096);

	if (!set)
		return NULL;
	for (size_t i = 0; i < cfg->n_svc; i++) {
		const struct cfg_service *s = &cfg->svc[i];
		char key[256];

		snprintf(key, sizeof(key), "%s.implementation", s->name);
		json_object_set_new(set, key, json_string(s->implementation));
		snprintf(key, sizeof(key), "%s.version", s->name);
		json_object_set_new(set, key, json_string(s->version_name));
		snprintf(key, sizeof(key), "%s.program", s->name);
		json_object_set_new(set, key, json_string(s->program));
		if (flatten(set, s->name, json_object_get(s->ctx, "config")) < 0)
			goto fail;
	}
	for (size_t i = 0; cfg->exec_envs && cfg->exec_envs[i]; i++)
		if (pfs_buf_printf(&ee, "%s%s", i ? "," : "", cfg->exec_envs[i]) < 0)
			goto fail;
	if (ee.len && json_object_set_new(set, "execution_environment", json_string(pfs_buf_str(&ee))) < 0)
		goto fail;
	pfs_buf_release(&ee);
	return set;
fail:
	pfs_buf_release(&ee);
	json_decref(set);
	return NULL;
}

int results_settings_add_yaml(json_t *settings, const char *config_text, size_t len)
{
	struct ydoc *doc = NULL;
	json_t *root, *test, *ne, *svcs, *it;
	const char *k;
	int r = 0;

	if (ydoc_parse("config.yaml", config_text, len, &doc, NULL) < 0)
		return 0;
	root = ydoc_root(doc);
	test = json_is_array(json_object_get(root, "tests")) ? json_array_get(json_object_get(root, "tests"), 0) : root;
	ne = json_object_get(test, "network_environment");
	json_object_foreach(json_is_object(ne) ? ne : NULL, k, it) {
		char *key;

		if (!strcmp(k, "type"))
			continue;
		key = pfs_strdup_printf("network.%s", k);
		r = key ? flatten(settings, key, it) : -ENOMEM;
		free(key);
		if (r < 0)
			goto out;
	}
	svcs = json_object_get(test, "services");
	json_object_foreach(json_is_object(svcs) ? svcs : NULL, k, it) {
		json_t *net = json_object_get(it, "network");
		char *key;

		if (!json_is_object(net))
			continue;
		key = pfs_strdup_printf("%s.network", k);
		r = key ? flatten(settings, key, net) : -ENOMEM;
		free(key);
		if (r < 0)
			goto out;
	}
out:
	ydoc_free(doc);
	return r;
}

int results_service_rules(const struct cfg_service *s, struct mrules **out, struct pfs_err *err)
{
	json_t *prog = cat_version_program(s->version, s->program);
	json_t *role = json_object_get(json_object_get(prog, "metrics"), s->role == CFG_SERVER ? "server" : "client");
	char path[256];

	snprintf(path, sizeof(path), "programs.%s.metrics.%s", s->program, s->role == CFG_SERVER ? "server" : "client");
	return mrules_parse(role, NULL, s->version_name, path, out, err);
}

/* ---- from a run dir -------------------------------------------------------------------------- */

/* "2026-12-03T10:38:53.191702Z" -> ms since the epoch; -1 when it is not that. */
static int64_t parse_time_ms(const char *s)
{
	struct tm tm = { 0 };
	const char *end;
	int64_t ms;
	int frac = 0, digits = 0;

	if (!s)
		return -1;
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			if (digits < 3) {
				frac = frac * 10 + (*end - '0');
				digits++;
			}
	while (digits < 3) {
		frac *= 10;
		digits++;
	}
	if (*end != 'Z')
		return -1;
	ms = (int64_t)timegm(&tm) * 1000 + frac;
	return ms;
}

struct svc_seen {
	int64_t started, ready, finished;
	int exit_code;
	bool stopped;
};

struct timeline {
	int64_t first, image, network, end;
	int iteration, iterations;
	const char *end_type;
	char end_reason[512];
	struct svc_seen *svc;
	const struct pfs_config *cfg;
};

static void one_event(struct timeline *tl, const char *line, size_t len)
{
	json_t *ev = json_loadb(line, len, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *svc = json_string_value(json_object_get(ev, "service"));
	json_t *data = json_object_get(ev, "data");
	int64_t t = parse_time_ms(json_string_value(json_object_get(ev, "time")));
	struct svc_seen *s = NULL;

	if (!type || t < 0)
		goto out;
	if (tl->first < 0)
		tl->first = t;
	for (size_t i = 0; svc && i < tl->cfg->n_svc; i++)
		if (!strcmp(tl->cfg->svc[i].name, svc))
			s = &tl->svc[i];
	if (!strcmp(type, "run.started")) {
		if (json_is_integer(json_object_get(data, "iteration")))
			tl->iteration = (int)json_integer_value(json_object_get(data, "iteration"));
		if (json_is_integer(json_object_get(data, "iterations")))
			tl->iterations = (int)json_integer_value(json_object_get(data, "iterations"));
	} else if (!strcmp(type, "image.cached") || !strcmp(type, "image.build_completed") ||
		   !strcmp(type, "image.pulled")) {
		tl->image = PFS_MAX(tl->image, t);
	} else if (!strcmp(type, "network.created")) {
		if (tl->network < 0)
			tl->network = t;
	} else if (s && !strcmp(type, "service.started")) {
		if (s->started < 0)
			s->started = t;
	} else if (s && !strcmp(type, "service.ready")) {
		if (s->ready < 0)
			s->ready = t;
	} else if (s && !strcmp(type, "service.exited")) {
		s->exit_code = (int)json_integer_value(json_object_get(data, "exit_code"));
		if (s->finished < 0)
			s->finished = t;
	} else if (s && (!strcmp(type, "service.stopped") || !strcmp(type, "service.lost"))) {
		s->stopped = true;
		if (s->finished < 0)
			s->finished = t;
	} else if (!strcmp(type, "run.succeeded") || !strcmp(type, "run.failed") || !strcmp(type, "run.stopped") ||
		   !strcmp(type, "run.unsupported")) {
		tl->end = t;
		tl->end_type = !strcmp(type, "run.succeeded") ? "succeeded" : !strcmp(type, "run.failed") ? "failed" :
			       !strcmp(type, "run.unsupported") ? "unsupported" : "stopped";
		snprintf(tl->end_reason, sizeof(tl->end_reason), "%s",
			 json_string_value(json_object_get(data, "reason")) ?: "");
	}
out:
	json_decref(ev);
}

/* Reads the events file line by line: a run's build steps can make it long. */
static int read_events(const char *path, struct timeline *tl)
{
	struct pfs_buf line = PFS_BUF_INIT(EVENT_LINE_CAP);
	bool skipping = false;
	char *buf;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	buf = malloc(READ_CHUNK);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		const char *p = buf, *end;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		if (n <= 0)
			break;
		end = buf + n;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);

			/* a line beyond the cap is not an event pantherfs wrote: skip it */
			if (!skipping && pfs_buf_add(&line, p, take) < 0)
				skipping = true;
			if (nl) {
				if (!skipping && line.len)
					one_event(tl, line.ptr, line.len);
				pfs_buf_reset(&line);
				skipping = false;
			}
			p += take + (nl ? 1 : 0);
		}
	}
	pfs_buf_release(&line);
	free(buf);
	close(fd);
	return r;
}

static int64_t after(int64_t t, int64_t base)
{
	return t < 0 || base < 0 ? -1 : PFS_MAX(t - base, 0);
}

int results_from_run_dir(const struct catalog *cat, const char *run_dir, const char *test, int run,
			 json_t **out, struct pfs_err *err)
{
	struct pfs_buf text = PFS_BUF_INIT(CONFIG_MAX_BYTES), rj = PFS_BUF_INIT(RUN_JSON_CAP);
	struct timeline tl = { .first = -1, .image = -1, .network = -1, .end = -1 };
	struct pfs_config *cfg = NULL;
	struct cfg_report rep = { 0 };
	struct res_service *rs = NULL;
	json_t *runj = NULL, *settings = NULL, **metrics = NULL;
	struct res_run in = { .test = test, .run = run };
	const char *state;
	char *path = NULL;
	int64_t queued, last_client = -1;
	bool clients_done = true, live;
	int r;

	path = pfs_strdup_printf("%s/config.yaml", run_dir);
	if (!path) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = pfs_read_file(path, &text);
	if (r < 0) {
		pfs_err_set(err, r, "%s: %s", path, strerror(-r));
		goto out;
	}
	r = config_load(cat, "config.yaml", text.ptr, text.len, &cfg, &rep);
	if (r < 0) {
		r = pfs_err_set(err, -EINVAL, "%s: %s", path, rep.n_errors ? rep.errors[0] : "refused");
		goto out;
	}
	free(path);
	path = pfs_strdup_printf("%s/run.json", run_dir);
	if (path && pfs_read_file(path, &rj) == 0)
		runj = json_loadb(rj.ptr, rj.len, 0, NULL);
	free(path);
	path = pfs_strdup_printf("%s/events", run_dir);
	tl.cfg = cfg;
	tl.svc = calloc(cfg->n_svc + 1, sizeof(*tl.svc));
	rs = calloc(cfg->n_svc + 1, sizeof(*rs));
	metrics = calloc(cfg->n_svc + 1, sizeof(*metrics));
	settings = results_settings(cfg);
	if (!path || !tl.svc || !rs || !metrics || !settings ||
	    results_settings_add_yaml(settings, text.ptr, text.len) < 0) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cfg->n_svc; i++)
		tl.svc[i] = (struct svc_seen){ -1, -1, -1, -1, false };
	r = read_events(path, &tl);
	if (r < 0) {
		pfs_err_set(err, -EIO, "%s: %s", path, strerror(-r));
		r = -EIO;
		goto out;
	}

	queued = json_is_integer(json_object_get(runj, "created_ms")) ?
		 (int64_t)json_integer_value(json_object_get(runj, "created_ms")) : tl.first;
	if (queued < 0)
		queued = 0;
	state = json_string_value(json_object_get(runj, "state"));
	live = state ? (strcmp(state, "succeeded") && strcmp(state, "failed") && strcmp(state, "stopped") &&
			strcmp(state, "error") && strcmp(state, "unsupported"))
		     : !tl.end_type;
	in.verdict = state ? state : tl.end_type ? tl.end_type : "running";
	in.reason = json_string_value(json_object_get(runj, "reason")) ?: tl.end_reason;
	in.iteration = tl.iteration;
	in.iterations = tl.iterations;
	in.queued_wall_ms = queued;
	in.image_ms = after(tl.image, queued);
	in.network_ms = after(tl.network, queued);
	in.end_ms = after(tl.end, queued);
	if (in.end_ms < 0 && !live && json_is_integer(json_object_get(runj, "ended_ms")) &&
	    json_integer_value(json_object_get(runj, "ended_ms")) > 0)
		in.end_ms = after((int64_t)json_integer_value(json_object_get(runj, "ended_ms")), queued);
	in.settings = settings;

	for (size_t i = 0; i < cfg->n_svc; i++) {
		const struct cfg_service *s = &cfg->svc[i];
		struct svc_seen *seen = &tl.svc[i];
		struct mrules *rules = NULL;
		struct mx *x = NULL;
		struct mx_end end = { .role = s->role == CFG_SERVER ? "server" : "client" };
		char *logs;

		if (s->role == CFG_CLIENT) {
			if (seen->finished < 0)
				clients_done = false;
			last_client = PFS_MAX(last_client, seen->finished);
		}
		if (seen->started < 0)
			end.how = MX_NEVER_STARTED;
		else if (seen->stopped)
			end.how = MX_STOPPED;
		else if (seen->exit_code >= 0)
			end = (struct mx_end){ MX_EXITED, seen->exit_code, end.role };
		else
			end.how = live ? MX_RUNNING : MX_STOPPED;
		r = results_service_rules(s, &rules, err);
		if (r < 0)
			goto out;
		logs = pfs_strdup_printf("%s/services/%s/logs", run_dir, s->name);
		r = logs ? mx_new(rules, s->ctx, &x) : -ENOMEM;
		if (r == 0)
			r = mx_feed_file(x, logs);
		if (r == 0) {
			metrics[i] = mx_result(x, &end);
			r = metrics[i] ? 0 : -ENOMEM;
		}
		free(logs);
		mx_free(x);
		mrules_free(rules);
		if (r < 0) {
			pfs_err_set(err, r == -ENOMEM ? r : -EIO, "%s: services/%s/logs: %s", run_dir, s->name, strerror(-r));
			r = r == -ENOMEM ? r : -EIO;
			goto out;
		}
		rs[i] = (struct res_service){
			.name = s->name, .role = end.role, .implementation = s->implementation,
			.version = s->version_name, .program = s->program,
			.started_ms = after(seen->started, queued), .ready_ms = after(seen->ready, queued),
			.finished_ms = after(seen->finished, queued), .exit_code = seen->exit_code,
			.stopped = seen->stopped, .metrics = metrics[i],
		};
	}
	in.client_finished_ms = cfg->n_clients && clients_done ? after(last_client, queued) : -1;
	in.svc = rs;
	in.n_svc = cfg->n_svc;
	r = results_compose(&in, out);
	if (r < 0)
		pfs_err_set(err, r, "%s: cannot compose result.json: %s", run_dir, strerror(-r));
out:
	for (size_t i = 0; metrics && cfg && i < cfg->n_svc; i++)
		json_decref(metrics[i]);
	free(metrics);
	free(rs);
	free(tl.svc);
	free(path);
	json_decref(settings);
	json_decref(runj);
	config_free(cfg);
	cfg_report_release(&rep);
	pfs_buf_release(&text);
	pfs_buf_release(&rj);
	return r;
}
