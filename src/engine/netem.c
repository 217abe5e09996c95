/* SPDX-License-Identifier: MIT */
/*
 * The netem helper (netem.h): its script, its report, and its container.
 *
 * The script is generated here, not shipped in the image, so what a run
 * applies is visible in one string (and in the helper's Cmd) and is tested
 * without Docker. Its only inputs are numbers that config checked, printed
 * with %g, and constants: nothing needs quoting.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pantherfs/netem.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define READY_FILE "/run/pfs-netem.ready"
#define TCPDUMP_LOG "/run/tcpdump.log"

/* ---- the script -------------------------------------------------------------------------- */

void netem_tbf_sizes(unsigned long long rate_bps, int mtu, unsigned long long *burst, unsigned long long *limit)
{
	unsigned long long bytes_s = rate_bps / 8, pkt = (unsigned long long)(mtu > 0 ? mtu : 1500) + 14;

	/* a bucket of 10 ms, never below two packets (tbf drops what exceeds it) nor above 16 MiB */
	*burst = PFS_MAX(bytes_s / 100, 2 * pkt);
	*burst = PFS_MIN(*burst, 16ull << 20);
	*burst = PFS_MAX(*burst, 2 * pkt);
	/* a queue of 100 ms, as a router's; a few packets at least */
	*limit = PFS_MAX(bytes_s / 10, 2 * *burst);
}

static bool emulated(const struct netcond *nc)
{
	return nc->latency_ms > 0 || nc->jitter_ms > 0 || nc->loss > 0 || nc->duplicate > 0 || nc->corrupt > 0 ||
	       nc->blackhole_off_s > 0;
}

int netem_script(const struct netcond *nc, bool capture, struct pfs_buf *b)
{
	int r = 0;

/* the first failure stands: a failed append empties the buffer */
#define ADD(call) do { if (r == 0) r = (call); } while (0)

	/* say: a report line; fail: an error line, then out. A TERM ends the
	 * helpers' programs cleanly (tcpdump closes the pcap) before the helper. */
	ADD(pfs_buf_addstr(b, "set -u\n"
			       "say() { echo \"" NETEM_REPORT "$*\"; }\n"
			       "fail() { echo \"" NETEM_REPORT "error: $*\"; kill $pids 2>/dev/null; exit 1; }\n"
			       "pids=\n"
			       "trap 'kill $pids 2>/dev/null; wait; end; exit 0' TERM INT\n"
			       /* tcpdump's counters: a capture that dropped packets says so */
			       "end() { [ ! -e " TCPDUMP_LOG " ] || sed -n 's/^\\([0-9]\\)/" NETEM_REPORT "tcpdump: \\1/p' "
			       TCPDUMP_LOG "; }\n"));
	if (nc->mtu > 0)
		ADD(pfs_buf_printf(b, "ip link set dev " NETEM_IFACE " mtu %d || fail \"cannot set the mtu of "
				    NETEM_IFACE " to %d\"\n", nc->mtu, nc->mtu));
	if (nc->rate_bps > 0) {
		unsigned long long burst, limit;

		netem_tbf_sizes((unsigned long long)nc->rate_bps, nc->mtu, &burst, &limit);
		ADD(pfs_buf_printf(b, "tc qdisc replace dev " NETEM_IFACE " root tbf rate %llubit burst %llu "
				    "limit %llu || fail \"tc cannot limit " NETEM_IFACE " to %llubit\"\n",
				    (unsigned long long)nc->rate_bps, burst, limit, (unsigned long long)nc->rate_bps));
	}
	if (emulated(nc)) {
		ADD(pfs_buf_printf(b, "pfs-netem --queue=%d --mark=%d --ready=" READY_FILE, NETEM_QUEUE, NETEM_MARK));
		if (nc->latency_ms > 0)
			ADD(pfs_buf_printf(b, " --delay=%g", nc->latency_ms));
		if (nc->jitter_ms > 0)
			ADD(pfs_buf_printf(b, " --jitter=%g", nc->jitter_ms));
		if (nc->loss > 0)
			ADD(pfs_buf_printf(b, " --loss=%g", nc->loss));
		if (nc->duplicate > 0)
			ADD(pfs_buf_printf(b, " --duplicate=%g", nc->duplicate));
		if (nc->corrupt > 0)
			ADD(pfs_buf_printf(b, " --corrupt=%g", nc->corrupt));
		if (nc->reorder > 0 && nc->latency_ms > 0)
			ADD(pfs_buf_printf(b, " --reorder=%g", nc->reorder));
		if (nc->blackhole_off_s > 0)
			ADD(pfs_buf_printf(b, " --blackhole=%g:%g", nc->blackhole_on_s, nc->blackhole_off_s));
		ADD(pfs_buf_addstr(b, " &\n"
				       "main=$!; pids=\"$pids $main\"\n"
				       "n=0; until [ -e " READY_FILE " ]; do kill -0 $main 2>/dev/null || "
				       "fail \"pfs-netem ended\"; n=$((n+1)); [ $n -le 100 ] || "
				       "fail \"pfs-netem did not start in 10 s\"; sleep 0.1; done\n"));
		ADD(pfs_buf_printf(b, "for t in iptables ip6tables; do $t -w 5 -A OUTPUT -o " NETEM_IFACE
				    " -m mark ! --mark %d -j NFQUEUE --queue-num %d || fail \"$t cannot queue the "
				    "output of " NETEM_IFACE "\"; done\n", NETEM_MARK, NETEM_QUEUE));
	}
	if (capture)
		ADD(pfs_buf_addstr(b, "tcpdump --immediate-mode -B 16384 -Z root -U -n -s 0 -i " NETEM_IFACE " -w " NETEM_CAPTURE_DIR "/"
				       NETEM_CAPTURE_FILE " 2>" TCPDUMP_LOG " &\n"
				       "cap=$!; pids=\"$pids $cap\"; main=${main:-$cap}\n"
				       "n=0; until grep -q 'listening on' " TCPDUMP_LOG " 2>/dev/null; do kill -0 $cap "
				       "2>/dev/null || fail \"tcpdump: $(cat " TCPDUMP_LOG ")\"; n=$((n+1)); "
				       "[ $n -le 100 ] || fail \"tcpdump did not start in 10 s\"; sleep 0.1; done\n"
				       "say \"capture $(head -n 1 " TCPDUMP_LOG ")\"\n"));
	ADD(pfs_buf_addstr(b, "say \"interface " NETEM_IFACE "\"\n"
			       "say \"address $(ip -o -4 addr show dev " NETEM_IFACE " | head -n 1)\"\n"
			       "say \"mtu $(cat /sys/class/net/" NETEM_IFACE "/mtu)\"\n"
			       "say \"qdisc $(tc qdisc show dev " NETEM_IFACE " | head -n 1)\"\n"
			       "say applied\n"
			       /* the helper lives as long as what shapes: its end is loud */
			       "if [ -n \"${main:-}\" ]; then wait $main; end; fail \"the emulator or the capture ended\"; fi\n"
			       "sleep infinity & pids=\"$pids $!\"; wait $!\n"));
#undef ADD
	return r;
}

/* ---- the report ------------------------------------------------------------------------------ */

/* The address out of `ip -o -4 addr` ("2: eth0    inet 172.18.0.2/16 brd ..."). */
static json_t *address_of(const char *line)
{
	const char *p = strstr(line, " inet ");
	size_t n;

	if (!p)
		return json_string(line);
	p += 6;
	n = strcspn(p, " \t");
	return json_stringn(p, n);
}

int netem_report_parse(const char *log, size_t len, json_t **out, struct pfs_err *err)
{
	static const char *const fields[] = { "interface", "address", "mtu", "qdisc", "capture" };
	static const size_t plen = sizeof(NETEM_REPORT) - 1;
	json_t *o = json_object();
	const char *p = log, *end = log + len;
	int applied = 0;

	if (!o)
		return pfs_err_set(err, -ENOMEM, "out of memory");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
		char line[1024];

		snprintf(line, sizeof(line), "%.*s", (int)(le - p), p);
		p = nl ? nl + 1 : end;
		if (!strncmp(line, "pfs-netem: ready ", 17)) {
			json_object_set_new(o, "emulator", json_string(line + 17));
			continue;
		}
		if (strncmp(line, NETEM_REPORT, plen))
			continue;
		if (!strncmp(line + plen, "error: ", 7)) {
			json_decref(o);
			return pfs_err_set(err, -EIO, "the netem helper failed: %s", line + plen + 7);
		}
		if (!strcmp(line + plen, "applied")) {
			applied = 1;
			continue;
		}
		for (size_t i = 0; i < PFS_ARRAY_SIZE(fields); i++) {
			size_t fl = strlen(fields[i]);
			const char *v = line + plen + fl + 1;
			long num;

			if (strncmp(line + plen, fields[i], fl) || line[plen + fl] != ' ')
				continue;
			if (!strcmp(fields[i], "mtu") && pfs_parse_long(v, 0, 1L << 20, &num) == 0)
				json_object_set_new(o, "mtu", json_integer(num));
			else if (!strcmp(fields[i], "address"))
				json_object_set_new(o, "address", address_of(v));
			else
				json_object_set_new(o, fields[i], json_string(v));
		}
	}
	if (!applied) {
		json_decref(o);
		return 0;
	}
	*out = o;
	return 1;
}

void netem_helper_name(const char *instance, const char *test, int run, const char *service, char *out, size_t n)
{
	snprintf(out, n, "pantherfs-netem-%s-%s-%d-%s", instance, test, run, service);
}

void netem_network_mode(const char *helper_id, char *out, size_t n)
{
	snprintf(out, n, "container:%s", helper_id);
}

/* ---- the container ------------------------------------------------------------------------------ */

int netem_helper_start(struct docker_client *dc, const struct netem_helper_opts *o, char **id, struct pfs_err *err)
{
	static const char *const caps[] = { "NET_ADMIN", "NET_RAW", NULL };
	struct pfs_buf script = PFS_BUF_INIT(1u << 16);
	const char *argv[] = { "sh", "-c", NULL, NULL };
	const char *binds[] = { NULL, NULL };
	const char **labels = NULL;
	char *bind = NULL, *cid = NULL;
	struct docker_container_state st;
	json_t *j = NULL;
	size_t n = 0;
	int r;

	r = netem_script(o->nc, o->capture_dir != NULL, &script);
	if (r < 0) {
		r = pfs_err_set(err, r, "the netem helper's script is too long");
		goto out;
	}
	while (o->labels && o->labels[n])
		n++;
	labels = calloc(n + 3, sizeof(*labels));
	if (!labels) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(labels, o->labels, n * sizeof(*labels));
	labels[n] = "pantherfs.helper";
	labels[n + 1] = "netem";
	if (o->capture_dir) {
		bind = pfs_strdup_printf("%s:%s", o->capture_dir, NETEM_CAPTURE_DIR);
		if (!bind) {
			r = pfs_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		binds[0] = bind;
	}
	argv[2] = pfs_buf_str(&script);
	{
		struct docker_container_spec sp = {
			.name = o->name, .image = o->image, .cmd = argv, .labels = labels, .network = o->network,
			.aliases = o->aliases, .binds = bind ? binds : NULL, .cap_add = caps, .init = true,
		};

		r = docker_container_create(dc, &sp, &cid, err);
	}
	if (r == -EBUSY) {
		/* made before pantherfs restarted: the same helper, by its name */
		r = docker_container_inspect(dc, o->name, &j, err);
		if (r == 0 && !(cid = strdup(json_string_value(json_object_get(j, "Id")) ?: "")))
			r = pfs_err_set(err, -ENOMEM, "out of memory");
	}
	if (r < 0)
		goto out;
	if (!j || (docker_inspect_state(j, &st) == 0 && !st.running)) {
		r = docker_container_start(dc, cid, err);
		if (r < 0)
			goto out;
	}
	*id = cid;
	cid = NULL;
out:
	json_decref(j);
	free(cid);
	free(bind);
	free(labels);
	pfs_buf_release(&script);
	return r;
}

/* The last lines of a log, for an error message (control characters shown as '?'). */
static void tail_of(const struct pfs_buf *b, char *out, size_t n)
{
	const char *s = pfs_buf_str(b), *start = s + pfs_buf_len(b);
	int lines = 0;

	while (start > s && lines < 4)
		if (*--start == '\n' && start + 1 < s + pfs_buf_len(b))
			lines++;
	if (*start == '\n')
		start++;
	snprintf(out, n, "%s", start);
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\n')
			*c = '?';
	for (size_t k = strlen(out); k > 0 && out[k - 1] == '\n'; k--)
		out[k - 1] = '\0';
}

int netem_helper_wait(struct docker_client *dc, const char *id, long timeout_ms, json_t **applied,
		      struct pfs_err *err)
{
	uint64_t deadline = pfs_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	struct pfs_buf log = PFS_BUF_INIT(1u << 20);
	char tail[768];
	int r;

	for (;;) {
		struct docker_container_state st;
		json_t *j = NULL;

		pfs_buf_reset(&log);
		r = docker_container_logs_sync(dc, id, false, &log, &log, err);
		if (r < 0)
			break;
		r = netem_report_parse(pfs_buf_str(&log), pfs_buf_len(&log), applied, err);
		if (r != 0) {
			r = r > 0 ? 0 : r;
			break;
		}
		r = docker_container_inspect(dc, id, &j, err);
		if (r < 0)
			break;
		docker_inspect_state(j, &st);
		json_decref(j);
		if (!st.running && strcmp(st.status, "created")) {
			json_t *late = NULL;

			/* the log may have grown between the two calls: its last words count */
			pfs_buf_reset(&log);
			if (docker_container_logs_sync(dc, id, false, &log, &log, NULL) == 0)
				r = netem_report_parse(pfs_buf_str(&log), pfs_buf_len(&log), &late, err);
			json_decref(late);
			if (r < 0)
				break;
			tail_of(&log, tail, sizeof(tail));
			r = pfs_err_set(err, -EIO, "the netem helper exited %d%s: %s", st.exit_code,
					late ? " after applying its settings" : " before applying its settings",
					tail[0] ? tail : "(no output)");
			break;
		}
		if (pfs_now_ms() >= deadline) {
			tail_of(&log, tail, sizeof(tail));
			/* -ETIME, not -ETIMEDOUT: a Docker call's timeout means the engine, this the helper */
			r = pfs_err_set(err, -ETIME, "the netem helper did not apply its settings within %ld ms%s%s",
					timeout_ms, tail[0] ? ": " : "", tail);
			break;
		}
		usleep(100000);
	}
	pfs_buf_release(&log);
	return r;
}

int netem_helper_remove(struct docker_client *dc, const char *id, int grace_s, struct pfs_err *err)
{
	int r = docker_container_stop(dc, id, grace_s, err);

	if (r < 0 && r != -ENOENT && r != -EALREADY)
		return r;
	r = docker_container_remove(dc, id, true, err);
	return r == -ENOENT ? 0 : r;
}

int netem_service_mounts(const struct cfg_service *s, const char *svc_dir, struct netem_mounts *m,
			 struct pfs_err *err)
{
	size_t k = 0;
	char *path = NULL;
	int r = 0, fd;

	memset(m, 0, sizeof(*m));
	if (s->qlog) {
		path = pfs_strdup_printf("%s/" NETEM_QLOG_DIR, svc_dir);
		if (!path)
			return pfs_err_set(err, -ENOMEM, "out of memory");
		r = pfs_mkdir_p(path, 0755);
		if (r < 0) {
			r = pfs_err_set(err, r, "cannot make %s: %s", path, strerror(-r));
			goto out;
		}
		if (!(m->binds[k++] = pfs_strdup_printf("%s:%s", path, CONFIG_QLOG_DIR))) {
			r = pfs_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		free(path);
		path = NULL;
	}
	if (s->keylog) {
		path = pfs_strdup_printf("%s/" NETEM_KEYLOG_FILE, svc_dir);
		if (!path) {
			r = pfs_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || close(fd) < 0) {
			r = pfs_err_set(err, -errno, "cannot make %s: %s", path, strerror(errno));
			goto out;
		}
		if (!(m->binds[k++] = pfs_strdup_printf("%s:%s", path, CONFIG_KEYLOG_FILE)))
			r = pfs_err_set(err, -ENOMEM, "out of memory");
	}
out:
	free(path);
	if (r < 0)
		netem_mounts_release(m);
	return r;
}

void netem_mounts_release(struct netem_mounts *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < PFS_ARRAY_SIZE(m->binds); i++) {
		free(m->binds[i]);
		m->binds[i] = NULL;
	}
}
