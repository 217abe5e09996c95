/* SPDX-License-Identifier: MIT */
/*
 * Network conditions from a config block, checked value by value.
 *
 * Numbers may be written bare (PANTHER's shadow_ns writes `latency: 50`) or
 * with their unit as text ("50ms", "1s", "5%"), since both appear in the
 * wild; anything else is refused with the unit the key wants. Rates follow
 * tc(8) exactly (bit, kbit, mbit, gbit, tbit; bps and friends are BYTES per
 * second; the i forms are powers of 1024), so a value copied from a tc
 * command line means the same here.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pantherfs/config.h"
#include "pantherfs/netcond.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define PATH_LEN 512

static const char *const pct_keys[] = { "packet_loss", "duplicate", "corrupt", "reorder" };
static const unsigned pct_bits[] = { NC_LOSS, NC_DUPLICATE, NC_CORRUPT, NC_REORDER };

/* PANTHER's service network block describes addressing, which Docker does here. */
static const char *const panther_service_keys[] = { "interface", "port", "host" };

static const char known_keys[] =
	"latency, jitter, packet_loss, duplicate, corrupt, reorder, bandwidth, mtu, blackhole";

struct pctx {
	const struct netcond_sink *sink;
	const char *path;
	int errors;
};

static void err_at(struct pctx *p, json_t *parent, const char *key, bool at_key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void err_at(struct pctx *p, json_t *parent, const char *key, bool at_key, const char *fmt, ...)
{
	char msg[512], path[PATH_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s.%s", p->path, key);
	p->errors++;
	if (p->sink && p->sink->error)
		p->sink->error(p->sink->ud, parent, key, at_key, path, msg);
}

static void warn_key(struct pctx *p, json_t *parent, const char *key, const char *msg)
{
	char path[PATH_LEN];

	snprintf(path, sizeof(path), "%s.%s", p->path, key);
	if (p->sink && p->sink->warn)
		p->sink->warn(p->sink->ud, parent, key, path, msg);
}

static const char *kind(json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "a mapping";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "text";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "empty";
	default: return "a number";
	}
}

/* A finite number at the start of s; *end past it. false when there is none. */
static bool leading_number(const char *s, double *v, const char **end)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s || !(isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.'))
		return false;
	*v = strtod(s, &e);
	if (e == s || !isfinite(*v))
		return false;
	while (isspace((unsigned char)*e))
		e++;
	*end = e;
	return true;
}

/*
 * A number, bare or followed by one of the units (each with its factor to
 * the key's unit). Returns false (and says why) when it is neither.
 */
struct unit {
	const char *name;
	double factor;
};

static bool number_with_unit(struct pctx *p, json_t *parent, const char *key, json_t *j,
			     const struct unit *units, const char *want, double *out)
{
	const char *end;
	double v;

	if (json_is_number(j)) {
		*out = json_number_value(j);
		return true;
	}
	if (json_is_string(j) && leading_number(json_string_value(j), &v, &end)) {
		if (!*end) {
			*out = v;
			return true;
		}
		for (const struct unit *u = units; u->name; u++)
			if (!strcasecmp(end, u->name)) {
				*out = v * u->factor;
				return true;
			}
	}
	if (json_is_string(j))
		err_at(p, parent, key, false, "\"%s\" is not %s", json_string_value(j), want);
	else
		err_at(p, parent, key, false, "must be %s, not %s", want, kind(j));
	return false;
}

static const struct unit ms_units[] = { { "ms", 1 }, { "s", 1000 }, { "us", 0.001 }, { NULL, 0 } };
static const struct unit s_units[] = { { "s", 1 }, { "ms", 0.001 }, { NULL, 0 } };
static const struct unit pct_units[] = { { "%", 1 }, { NULL, 0 } };

static bool get_ms(struct pctx *p, json_t *parent, const char *key, json_t *j, double *out)
{
	double v;

	if (!number_with_unit(p, parent, key, j, ms_units, "a duration in milliseconds (50, or \"50ms\")", &v))
		return false;
	if (v < 0 || v > NETCOND_MAX_DELAY_MS) {
		err_at(p, parent, key, false, "%g ms is out of range (0-%g ms)", v, NETCOND_MAX_DELAY_MS);
		return false;
	}
	*out = v;
	return true;
}

static bool get_pct(struct pctx *p, json_t *parent, const char *key, json_t *j, double *out)
{
	double v;

	if (!number_with_unit(p, parent, key, j, pct_units, "a percentage (0-100, or \"5%\")", &v))
		return false;
	if (v < 0 || v > 100) {
		err_at(p, parent, key, false, "%g %% is out of range (0-100 %%)", v);
		return false;
	}
	*out = v;
	return true;
}

static const struct {
	const char *suffix;
	double factor;   /* to bit/s */
} rate_units[] = {
	{ "bit", 1 }, { "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 }, { "tbit", 1e12 },
	{ "bps", 8 }, { "kbps", 8e3 }, { "mbps", 8e6 }, { "gbps", 8e9 }, { "tbps", 8e12 },
	{ "kibit", 1024.0 }, { "mibit", 1048576.0 }, { "gibit", 1073741824.0 }, { "tibit", 1099511627776.0 },
	{ "kibps", 8 * 1024.0 }, { "mibps", 8 * 1048576.0 }, { "gibps", 8 * 1073741824.0 },
	{ "tibps", 8 * 1099511627776.0 },
};

int netcond_parse_rate(const char *s, uint64_t *bps)
{
	const char *end;
	double v;

	if (!s || !leading_number(s, &v, &end) || !*end)
		return -EINVAL;
	for (size_t i = 0; i < PFS_ARRAY_SIZE(rate_units); i++) {
		if (strcasecmp(end, rate_units[i].suffix))
			continue;
		v *= rate_units[i].factor;
		if (!(v >= (double)NETCOND_MIN_RATE && v <= (double)NETCOND_MAX_RATE))
			return -ERANGE;
		*bps = (uint64_t)(v + 0.5);
		return 0;
	}
	return -EINVAL;
}

static bool get_rate(struct pctx *p, json_t *parent, const char *key, json_t *j, uint64_t *out)
{
	static const char want[] =
		"a rate with its tc unit (10Mbit, 500kbit, 1gbit; bps is bytes per second), or 0 for no limit";
	int r;

	if (json_is_integer(j) && json_integer_value(j) == 0) {
		*out = 0;
		return true;
	}
	if (!json_is_string(j)) {
		err_at(p, parent, key, false, "must be %s, not %s", want, kind(j));
		return false;
	}
	r = netcond_parse_rate(json_string_value(j), out);
	if (r == -ERANGE)
		err_at(p, parent, key, false, "\"%s\" is out of range (8bit to 100gbit)", json_string_value(j));
	else if (r < 0)
		err_at(p, parent, key, false, "\"%s\" is not %s", json_string_value(j), want);
	return r == 0;
}

static bool get_blackhole(struct pctx *p, json_t *parent, const char *key, json_t *j, struct netcond *nc)
{
	static const char want[] = "{on: SECONDS, off: SECONDS}: the link works for on seconds, "
				   "then drops everything for off seconds, and again";
	char sub[PATH_LEN];
	struct pctx q = *p;
	const char *k;
	json_t *v;
	double on = 0, off = 0;
	bool ok = true;

	if (json_is_false(j) || json_is_null(j)) {
		nc->blackhole_on_s = nc->blackhole_off_s = 0;
		return true;
	}
	if (!json_is_object(j)) {
		err_at(p, parent, key, false, "must be %s, or false", want);
		return false;
	}
	snprintf(sub, sizeof(sub), "%s.%s", p->path, key);
	q.path = sub;
	q.errors = 0;
	json_object_foreach(j, k, v) {
		double *dst = !strcmp(k, "on") ? &on : !strcmp(k, "off") ? &off : NULL;

		if (!dst) {
			err_at(&q, j, k, true, "unknown key (known here: on, off)");
			continue;
		}
		if (!number_with_unit(&q, j, k, v, s_units, "a duration in seconds (5, or \"500ms\")", dst))
			continue;
		if (*dst <= 0 || *dst > NETCOND_MAX_BLACKHOLE_S) {
			err_at(&q, j, k, false, "%g s is out of range (more than 0, at most %g s)", *dst,
			       NETCOND_MAX_BLACKHOLE_S);
			*dst = 0;
		}
	}
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "off" : "on";

		if (json_object_get(j, name))
			continue;
		err_at(&q, j, name, false, "missing: %s", want);
	}
	p->errors += q.errors;
	ok = q.errors == 0;
	if (ok) {
		nc->blackhole_on_s = on;
		nc->blackhole_off_s = off;
	}
	return ok;
}

int netcond_parse(json_t *block, const char *path, bool service_block, const struct netcond_sink *sink,
		  struct netcond *out)
{
	struct pctx p = { .sink = sink, .path = path };
	const char *k;
	json_t *v;

	memset(out, 0, sizeof(*out));
	json_object_foreach(block, k, v) {
		bool known = true, ok = false;
		unsigned bit = 0;
		size_t i;

		for (i = 0; i < PFS_ARRAY_SIZE(pct_keys); i++)
			if (!strcmp(k, pct_keys[i]))
				break;
		if (i < PFS_ARRAY_SIZE(pct_keys)) {
			double *dst[] = { &out->loss, &out->duplicate, &out->corrupt, &out->reorder };

			bit = pct_bits[i];
			ok = get_pct(&p, block, k, v, dst[i]);
		} else if (!strcmp(k, "latency")) {
			bit = NC_LATENCY;
			ok = get_ms(&p, block, k, v, &out->latency_ms);
		} else if (!strcmp(k, "jitter")) {
			bit = NC_JITTER;
			ok = get_ms(&p, block, k, v, &out->jitter_ms);
		} else if (!strcmp(k, "bandwidth")) {
			bit = NC_BANDWIDTH;
			ok = get_rate(&p, block, k, v, &out->rate_bps);
		} else if (!strcmp(k, "mtu")) {
			bit = NC_MTU;
			if (!json_is_integer(v))
				err_at(&p, block, k, false, "must be a whole number of bytes (68-65535), not %s", kind(v));
			else if (json_integer_value(v) < 68 || json_integer_value(v) > 65535)
				err_at(&p, block, k, false, "%lld is out of range (68-65535 bytes)",
				       (long long)json_integer_value(v));
			else
				out->mtu = (int)json_integer_value(v), ok = true;
		} else if (!strcmp(k, "blackhole")) {
			bit = NC_BLACKHOLE;
			ok = get_blackhole(&p, block, k, v, out);
		} else {
			known = false;
		}
		if (ok)
			out->set |= bit;
		if (known)
			continue;
		for (i = 0; service_block && i < PFS_ARRAY_SIZE(panther_service_keys); i++)
			if (!strcmp(k, panther_service_keys[i]))
				break;
		if (service_block && i < PFS_ARRAY_SIZE(panther_service_keys))
			warn_key(&p, block, k, "not applied: Docker gives each service its interface and address "
					       "on the test network (services/<name>/address)");
		else
			err_at(&p, block, k, true, "unknown key (known here: %s)", known_keys);
	}
	if ((out->set & NC_LOSS) && out->loss > 0 && out->loss < 1 && sink && sink->note) {
		char msg[PATH_LEN + 160];

		snprintf(msg, sizeof(msg), "%s.packet_loss: %g is read as a percentage (%g %% of packets)", path,
			 out->loss, out->loss);
		sink->note(sink->ud, msg);
	}
	return p.errors;
}

void netcond_merge(const struct netcond *test, const struct netcond *svc, struct netcond *out)
{
	struct netcond r = *test;
	unsigned s = svc->set;

	if (s & NC_LATENCY)
		r.latency_ms = svc->latency_ms;
	if (s & NC_JITTER)
		r.jitter_ms = svc->jitter_ms;
	if (s & NC_LOSS)
		r.loss = svc->loss;
	if (s & NC_DUPLICATE)
		r.duplicate = svc->duplicate;
	if (s & NC_CORRUPT)
		r.corrupt = svc->corrupt;
	if (s & NC_REORDER)
		r.reorder = svc->reorder;
	if (s & NC_BANDWIDTH)
		r.rate_bps = svc->rate_bps;
	if (s & NC_MTU)
		r.mtu = svc->mtu;
	if (s & NC_BLACKHOLE) {
		r.blackhole_on_s = svc->blackhole_on_s;
		r.blackhole_off_s = svc->blackhole_off_s;
	}
	r.set = test->set | s;
	*out = r;
}

bool netcond_active(const struct netcond *nc)
{
	return nc->latency_ms > 0 || nc->jitter_ms > 0 || nc->loss > 0 || nc->duplicate > 0 || nc->corrupt > 0 ||
	       (nc->reorder > 0 && nc->latency_ms > 0) || nc->rate_bps > 0 || nc->mtu > 0 ||
	       nc->blackhole_off_s > 0;
}

static void rate_text(uint64_t bps, char *out, size_t n)
{
	static const char *const names[] = { "bit/s", "kbit/s", "Mbit/s", "Gbit/s" };
	size_t i = 0;

	/* exact units only: 1500 kbit/s stays so, not 1.5 Mbit/s */
	while (bps >= 1000 && bps % 1000 == 0 && i + 1 < PFS_ARRAY_SIZE(names)) {
		bps /= 1000;
		i++;
	}
	snprintf(out, n, "%llu %s", (unsigned long long)bps, names[i]);
}

void netcond_describe(const struct netcond *nc, char *out, size_t n)
{
	size_t k = 0;
	char rate[48];

#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (k < n)                                                                         \
			k += (size_t)snprintf(out + k, n - k, "%s", k ? ", " : "");                \
		if (k < n)                                                                         \
			k += (size_t)snprintf(out + k, n - k, __VA_ARGS__);                        \
	} while (0)
	out[0] = '\0';
	if (nc->latency_ms > 0)
		ADD("latency %g ms", nc->latency_ms);
	if (nc->jitter_ms > 0)
		ADD("jitter %g ms", nc->jitter_ms);
	if (nc->loss > 0)
		ADD("loss %g %%", nc->loss);
	if (nc->duplicate > 0)
		ADD("duplicate %g %%", nc->duplicate);
	if (nc->corrupt > 0)
		ADD("corrupt %g %%", nc->corrupt);
	if (nc->reorder > 0 && nc->latency_ms > 0)
		ADD("reorder %g %%", nc->reorder);
	if (nc->rate_bps > 0) {
		rate_text(nc->rate_bps, rate, sizeof(rate));
		ADD("bandwidth %s", rate);
	}
	if (nc->mtu > 0)
		ADD("mtu %d", nc->mtu);
	if (nc->blackhole_off_s > 0)
		ADD("blackhole %g s after every %g s", nc->blackhole_off_s, nc->blackhole_on_s);
#undef ADD
	if (!out[0])
		snprintf(out, n, "none");
}

json_t *netcond_json(const struct netcond *nc)
{
	json_t *j = json_object();

	if (!j)
		return NULL;
	if (nc->latency_ms > 0)
		json_object_set_new(j, "latency_ms", json_real(nc->latency_ms));
	if (nc->jitter_ms > 0)
		json_object_set_new(j, "jitter_ms", json_real(nc->jitter_ms));
	if (nc->loss > 0)
		json_object_set_new(j, "packet_loss", json_real(nc->loss));
	if (nc->duplicate > 0)
		json_object_set_new(j, "duplicate", json_real(nc->duplicate));
	if (nc->corrupt > 0)
		json_object_set_new(j, "corrupt", json_real(nc->corrupt));
	if (nc->reorder > 0 && nc->latency_ms > 0)
		json_object_set_new(j, "reorder", json_real(nc->reorder));
	if (nc->rate_bps > 0)
		json_object_set_new(j, "bandwidth_bps", json_integer((json_int_t)nc->rate_bps));
	if (nc->mtu > 0)
		json_object_set_new(j, "mtu", json_integer(nc->mtu));
	if (nc->blackhole_off_s > 0)
		json_object_set_new(j, "blackhole", json_pack("{s:f,s:f}", "on_s", nc->blackhole_on_s, "off_s",
							      nc->blackhole_off_s));
	return j;
}

/* ---- the plan ------------------------------------------------------------------------------ */

static void say(const struct netcond_sink *sink, json_t *parent, const char *key, const char *path,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void say(const struct netcond_sink *sink, json_t *parent, const char *key, const char *path,
		const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sink && sink->warn)
		sink->warn(sink->ud, parent, key, path, msg);
}

static bool env_has(char **env, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], name, n) && env[i][n] == '=')
			return true;
	return false;
}

static bool role_listed(json_t *roles, const char *role)
{
	json_t *it;
	size_t i;

	json_array_foreach(roles, i, it)
		if (json_is_string(it) && !strcmp(json_string_value(it), role))
			return true;
	return false;
}

int netcond_plan_service(struct cfg_service *s, json_t *impl, json_t *node, const char *svc_path,
			 const struct netcond *test, const struct netcond *own, bool capture,
			 json_t *netenv, const struct netcond_sink *sink)
{
	json_t *cfg = json_object_get(node, "config"), *capture_parent = netenv;
	json_t *keylog = json_object_get(impl, "keylog");
	json_t *rule = json_object_get(json_object_get(json_object_get(impl, "keys"), "qlog"), s->program);
	const char *role = s->role == CFG_SERVER ? "server" : "client";
	char path[PATH_LEN];

	netcond_merge(test, own, &s->net);
	s->capture = capture;
	if (s->net.reorder > 0 && s->net.latency_ms <= 0) {
		/* said where the reorder this service gets was written */
		bool mine = own->set & NC_REORDER;

		snprintf(path, sizeof(path), "%s.network.reorder", mine ? svc_path : "network_environment");
		say(sink, json_object_get(mine ? node : netenv, "network"), "reorder", path,
		    "not applied to %s: reordering sends some packets ahead of delayed ones, so it needs a latency",
		    s->name);
	}
	if (capture && json_is_string(json_object_get(keylog, "env"))) {
		const char *var = json_string_value(json_object_get(keylog, "env"));

		if (env_has(s->env, var)) {
			snprintf(path, sizeof(path), "%s.environment", svc_path);
			say(sink, capture_parent, "capture", "network_environment.capture",
			    "no keys.log for %s: its environment sets %s itself", s->name, var);
		} else {
			if (pfs_strv_append(&s->env, pfs_strdup_printf("%s=%s", var, CONFIG_KEYLOG_FILE)) < 0)
				return -ENOMEM;
			s->keylog = true;
		}
	} else if (capture) {
		say(sink, capture_parent, "capture", "network_environment.capture",
		    "no keys.log for %s: %s", s->name,
		    json_string_value(json_object_get(keylog, "unsupported")) ?:
			    "its implementation cannot export TLS secrets: the capture stays encrypted");
	}
	if (json_is_true(json_object_get(cfg, "qlog")) && json_is_object(rule) && json_object_get(rule, "template")) {
		json_t *roles = json_object_get(rule, "roles");

		if (roles && !role_listed(roles, role)) {
			snprintf(path, sizeof(path), "%s.config.qlog", svc_path);
			say(sink, cfg, "qlog", path, "not applied: %s",
			    json_string_value(json_object_get(rule, "reason")) ?: "not in this role");
			json_object_set_new(s->ctx, "qlog", json_false());
		} else {
			s->qlog = true;
		}
	}
	return json_object_set_new(s->ctx, "qlog_dir", json_string(CONFIG_QLOG_DIR)) < 0 ? -ENOMEM : 0;
}

struct cfg_service *netcond_helper_new(const char *data_dir)
{
	struct cfg_service *s = calloc(1, sizeof(*s));
	char **args = calloc(3, sizeof(*args));

	if (!s || !args)
		goto fail;
	s->image.args = args;
	/* filled in order, so the list stays NULL-terminated for the free below */
	if ((args[0] = strdup("BASE_IMAGE")))
		args[1] = strdup("debian:bookworm-slim");
	s->name = strdup("netem");
	s->implementation = strdup("netem");
	s->version_name = strdup("bookworm");
	s->image.context_dir = pfs_strdup_printf("%s/docker/netem", data_dir);
	s->image.dockerfile = strdup("Dockerfile");
	s->image.repo = strdup("pantherfs/netem");
	s->image.tag_prefix = strdup("bookworm");
	if (args[0] && args[1] && s->name && s->implementation && s->version_name && s->image.context_dir &&
	    s->image.dockerfile && s->image.repo && s->image.tag_prefix)
		return s;
	netcond_helper_free(s);
	return NULL;
fail:
	free(s);
	free(args);
	return NULL;
}

void netcond_helper_free(struct cfg_service *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->image.args && s->image.args[i]; i++)
		free(s->image.args[i]);
	free(s->image.args);
	free(s->name);
	free(s->implementation);
	free(s->version_name);
	free(s->image.context_dir);
	free(s->image.dockerfile);
	free(s->image.repo);
	free(s->image.tag_prefix);
	free(s);
}
