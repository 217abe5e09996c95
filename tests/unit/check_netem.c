/* SPDX-License-Identifier: MIT */
/*
 * Network conditions: the config keys through config_load() with the
 * shipped catalogue (values, units, ranges, positions, overrides, what goes
 * to warnings, keys.log and qlog), and the netem helper's pure parts: its
 * script for given conditions, the tbf sizes, and the reading of its report.
 * The helper in real containers is tests/integration/check_netem.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfs_check.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/netcond.h"
#include "pantherfs/netem.h"
#include "pantherfs/render.h"
#include "pantherfs/util.h"

static struct catalog *shipped(void)
{
	const char *src = getenv("PFS_SOURCE_DIR");
	struct catalog *c = NULL;
	struct pfs_err err = { 0 };

	ck_assert_msg(catalog_load(src ? src : ".", &c, &err) == 0, "%s", err.msg);
	return c;
}

static const char pair_head[] =
	"network_environment:\n"
	"  type: docker_compose\n";

static const char pair_services[] =
	"services:\n"
	"  server:\n"
	"    implementation: {name: ngtcp2}\n"
	"    protocol: {role: server}\n"
	"  client:\n"
	"    implementation: {name: ngtcp2}\n"
	"    protocol: {role: client, target: server}\n";

/* Loads head + pair_services + tail; returns the config or NULL (rep filled either way). */
static struct pfs_config *try_load(struct catalog *c, const char *head, const char *tail, struct cfg_report *rep)
{
	char *text = pfs_strdup_printf("%s%s%s", head, pair_services, tail);
	struct pfs_config *cfg = NULL;

	ck_assert_ptr_nonnull(text);
	config_load(c, "config.yaml", text, strlen(text), &cfg, rep);
	free(text);
	return cfg;
}

static bool has_line(char **lines, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(lines[i], want))
			return true;
	return false;
}

static void dump(const struct cfg_report *rep)
{
	for (size_t i = 0; i < rep->n_errors; i++)
		fprintf(stderr, "error: %s\n", rep->errors[i]);
	for (size_t i = 0; i < rep->n_warnings; i++)
		fprintf(stderr, "warning: %s\n", rep->warnings[i]);
}

/* ---- configuration ------------------------------------------------------------------------- */

START_TEST(test_conditions_reach_every_service)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg = try_load(c,
		"network_environment:\n"
		"  type: docker_compose\n"
		"  network: {latency: 50, jitter: 5ms, packet_loss: \"1%\", bandwidth: 10Mbit,\n"
		"            duplicate: 2, corrupt: 0.5, reorder: 25, mtu: 1400}\n", "", &rep);
	const struct cfg_service *s, *k;
	char text[256];

	dump(&rep);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(rep.n_warnings, 0);
	s = config_find_service(cfg, "server");
	k = config_find_service(cfg, "client");
	for (int i = 0; i < 2; i++) {
		const struct netcond *n = i ? &k->net : &s->net;

		ck_assert(n->latency_ms == 50 && n->jitter_ms == 5 && n->loss == 1 && n->duplicate == 2);
		ck_assert(n->corrupt == 0.5 && n->reorder == 25);
		ck_assert_uint_eq(n->rate_bps, 10000000);
		ck_assert_int_eq(n->mtu, 1400);
		ck_assert(netcond_active(n));
	}
	netcond_describe(&s->net, text, sizeof(text));
	ck_assert_str_eq(text, "latency 50 ms, jitter 5 ms, loss 1 %, duplicate 2 %, corrupt 0.5 %, reorder 25 %, "
			       "bandwidth 10 Mbit/s, mtu 1400");
	/* nothing to capture: no helper image unless conditions; here there are */
	ck_assert_ptr_nonnull(cfg->netem);
	ck_assert_str_eq(cfg->netem->image.repo, "pantherfs/netem");
	ck_assert(!s->capture && !s->keylog && !s->qlog);
	/* status.json's plan says it */
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_object_get(json_object_get(
		json_object_get(cfg->summary, "services"), "client"), "network"), "conditions"), "bandwidth_bps")),
		10000000);
	cfg_report_release(&rep);
	config_free(cfg);
	catalog_free(c);
}
END_TEST

START_TEST(service_block_overrides_key_by_key)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg = try_load(c,
		"network_environment:\n"
		"  type: docker_compose\n"
		"  network: {latency: 50, packet_loss: 1, bandwidth: 10Mbit, blackhole: {on: 5, off: 2}}\n",
		"    network: {packet_loss: 5, latency: 0, bandwidth: 0, blackhole: false}\n", &rep);
	const struct cfg_service *s, *k;

	dump(&rep);
	ck_assert_ptr_nonnull(cfg);
	s = config_find_service(cfg, "server");
	k = config_find_service(cfg, "client");
	/* the server has the test's; the client its own where it says, the test's elsewhere */
	ck_assert(s->net.latency_ms == 50 && s->net.loss == 1 && s->net.rate_bps == 10000000);
	ck_assert(s->net.blackhole_on_s == 5 && s->net.blackhole_off_s == 2);
	ck_assert(k->net.latency_ms == 0 && k->net.loss == 5 && k->net.rate_bps == 0);
	ck_assert(k->net.blackhole_off_s == 0);
	cfg_report_release(&rep);
	config_free(cfg);

	/* no condition, no capture: no helper */
	cfg = try_load(c, pair_head, "", &rep);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_ptr_null(cfg->netem);
	ck_assert(!netcond_active(&cfg->svc[0].net) && !netcond_active(&cfg->svc[1].net));
	cfg_report_release(&rep);
	config_free(cfg);
	catalog_free(c);
}
END_TEST

struct bad_case {
	const char *block;    /* the test's network block */
	const char *error;    /* the exact error line */
};

START_TEST(bad_values_are_refused_with_their_position)
{
	static const struct bad_case cases[] = {
		{ "{latency: -5}", "config.yaml:3:22: network_environment.network.latency: -5 ms is out of range (0-60000 ms)" },
		{ "{bandwidth: fast}", "config.yaml:3:24: network_environment.network.bandwidth: \"fast\" is not a rate with "
		  "its tc unit (10Mbit, 500kbit, 1gbit; bps is bytes per second), or 0 for no limit" },
		{ "{bandwidth: 10}", "config.yaml:3:24: network_environment.network.bandwidth: must be a rate with its tc "
		  "unit (10Mbit, 500kbit, 1gbit; bps is bytes per second), or 0 for no limit, not a number" },
		{ "{packet_loss: 101}", "config.yaml:3:26: network_environment.network.packet_loss: 101 % is out of range (0-100 %)" },
		{ "{duplicate: \"5 percent\"}", "config.yaml:3:24: network_environment.network.duplicate: \"5 percent\" "
		  "is not a percentage (0-100, or \"5%\")" },
		{ "{jitter: [1]}", "config.yaml:3:21: network_environment.network.jitter: must be a duration in "
		  "milliseconds (50, or \"50ms\"), not a list" },
		{ "{mtu: 20}", "config.yaml:3:18: network_environment.network.mtu: 20 is out of range (68-65535 bytes)" },
		{ "{bandwidth: 200gbit}", "config.yaml:3:24: network_environment.network.bandwidth: \"200gbit\" is out of "
		  "range (8bit to 100gbit)" },
		{ "{blackhole: {on: 5}}", "config.yaml:3:24: network_environment.network.blackhole.off: missing: {on: "
		  "SECONDS, off: SECONDS}: the link works for on seconds, then drops everything for off seconds, and again" },
		{ "{blackhole: {on: 5, off: 0}}", "config.yaml:3:37: network_environment.network.blackhole.off: 0 s is out "
		  "of range (more than 0, at most 3600 s)" },
		{ "{speed: 1}", "config.yaml:3:13: network_environment.network.speed: unknown key (known here: latency, "
		  "jitter, packet_loss, duplicate, corrupt, reorder, bandwidth, mtu, blackhole)" },
		{ "5", "config.yaml:3:12: network_environment.network: must be a mapping of network conditions (latency, "
		  "jitter, packet_loss, bandwidth, ...)" },
	};
	struct catalog *c = shipped();

	for (size_t i = 0; i < PFS_ARRAY_SIZE(cases); i++) {
		char *head = pfs_strdup_printf("network_environment:\n  type: docker_compose\n  network: %s\n",
					       cases[i].block);
		struct cfg_report rep;
		struct pfs_config *cfg = try_load(c, head, "", &rep);

		ck_assert_ptr_null(cfg);
		ck_assert_msg(rep.n_errors == 1 && !strcmp(rep.errors[0], cases[i].error), "%s: got %s", cases[i].block,
			      rep.n_errors ? rep.errors[0] : "no error");
		cfg_report_release(&rep);
		free(head);
	}
	catalog_free(c);
}
END_TEST

START_TEST(rates_follow_tc)
{
	static const struct {
		const char *text;
		unsigned long long bps;
	} ok[] = {
		{ "10Mbit", 10000000 }, { "500kbit", 500000 }, { "1gbit", 1000000000 }, { "1.5mbit", 1500000 },
		{ "100kbps", 800000 }, { "1kibit", 1024 }, { "2mibps", 16777216 }, { "64bit", 64 }, { "10 MBIT", 10000000 },
	};
	static const char *const bad[] = { "fast", "10", "10Mb", "mbit", "", "-1mbit", "1e400mbit" };
	uint64_t v;

	for (size_t i = 0; i < PFS_ARRAY_SIZE(ok); i++) {
		ck_assert_msg(netcond_parse_rate(ok[i].text, &v) == 0, "%s", ok[i].text);
		ck_assert_msg(v == ok[i].bps, "%s: %llu", ok[i].text, (unsigned long long)v);
	}
	for (size_t i = 0; i < PFS_ARRAY_SIZE(bad); i++)
		ck_assert_msg(netcond_parse_rate(bad[i], &v) < 0, "%s accepted", bad[i]);
	ck_assert_int_eq(netcond_parse_rate("4bit", &v), -ERANGE);
	ck_assert_int_eq(netcond_parse_rate("101gbit", &v), -ERANGE);
}
END_TEST

START_TEST(what_cannot_be_honoured_is_a_warning)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg;
	const char *mvfst =
		"network_environment:\n"
		"  type: docker_compose\n"
		"  capture: true\n"
		"  network: {reorder: 10}\n"
		"services:\n"
		"  server:\n"
		"    implementation: {name: mvfst}\n"
		"    protocol: {role: server}\n"
		"    config: {application: tperf, qlog: true}\n"
		"  client:\n"
		"    implementation: {name: mvfst}\n"
		"    protocol: {role: client, target: server}\n"
		"    network: {interface: eth1, latency: 10}\n"
		"    config: {qlog: true}\n";

	ck_assert_int_eq(config_load(c, "config.yaml", mvfst, strlen(mvfst), &cfg, &rep), 0);
	dump(&rep);
	ck_assert(has_line(rep.warnings, rep.n_warnings,
			   "config.yaml:3:3: network_environment.capture: no keys.log for server: mvfst has no key log "
			   "(no SSLKEYLOGFILE, no flag): its capture stays encrypted"));
	ck_assert(has_line(rep.warnings, rep.n_warnings,
			   "config.yaml:3:3: network_environment.capture: no keys.log for client: mvfst has no key log "
			   "(no SSLKEYLOGFILE, no flag): its capture stays encrypted"));
	ck_assert(has_line(rep.warnings, rep.n_warnings,
			   "config.yaml:4:13: network_environment.network.reorder: not applied to server: reordering sends "
			   "some packets ahead of delayed ones, so it needs a latency"));
	ck_assert(has_line(rep.warnings, rep.n_warnings,
			   "config.yaml:13:15: services.client.network.interface: not applied: Docker gives each service "
			   "its interface and address on the test network (services/<name>/address)"));
	ck_assert(has_line(rep.warnings, rep.n_warnings,
			   "config.yaml:14:14: services.client.config.qlog: not applied: tperf writes qlog on the server "
			   "side only (--server_qlogger_path)"));
	ck_assert_uint_eq(rep.n_warnings, 5);
	/* the server's tperf writes qlog; the client does not; neither has a key log; both capture */
	ck_assert(cfg->svc[0].qlog && !cfg->svc[1].qlog);
	ck_assert(!cfg->svc[0].keylog && !cfg->svc[1].keylog);
	ck_assert(cfg->svc[0].capture && cfg->svc[1].capture);
	/* the client's reorder applies (it has a latency); the server's has nothing to reorder */
	ck_assert(!netcond_active(&cfg->svc[0].net) && netcond_active(&cfg->svc[1].net));
	ck_assert_ptr_nonnull(cfg->netem);
	cfg_report_release(&rep);
	config_free(cfg);
	catalog_free(c);
}
END_TEST

START_TEST(keylog_and_qlog_reach_the_command)
{
	struct catalog *c = shipped();
	struct cfg_report rep;
	struct pfs_config *cfg = try_load(c,
		"network_environment:\n"
		"  type: docker_compose\n"
		"  capture: true\n",
		"    config: {qlog: true}\n", &rep);
	struct pfs_buf cmd = PFS_BUF_INIT(65536);
	json_t *addr = json_pack("{s:s}", "server", "10.1.2.3");
	const struct cfg_service *s, *k;
	struct pfs_err err = { 0 };
	bool env = false;

	dump(&rep);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(rep.n_warnings, 0);
	s = config_find_service(cfg, "server");
	k = config_find_service(cfg, "client");
	/* GnuTLS's variable, to the bind-mounted file; the client asked for qlog, the server did not */
	ck_assert(s->keylog && k->keylog && k->qlog && !s->qlog);
	for (size_t i = 0; k->env[i]; i++)
		env |= !strcmp(k->env[i], "SSLKEYLOGFILE=" CONFIG_KEYLOG_FILE);
	ck_assert(env);
	ck_assert_int_eq(render_command(c, cfg, k, addr, &cmd, &err), 0);
	ck_assert_msg(strstr(pfs_buf_str(&cmd), " --qlog-dir=" CONFIG_QLOG_DIR " "), "%s", pfs_buf_str(&cmd));
	pfs_buf_reset(&cmd);
	ck_assert_int_eq(render_command(c, cfg, s, NULL, &cmd, &err), 0);
	ck_assert_ptr_null(strstr(pfs_buf_str(&cmd), "qlog"));
	/* capture alone needs a helper too */
	ck_assert_ptr_nonnull(cfg->netem);
	json_decref(addr);
	pfs_buf_release(&cmd);
	cfg_report_release(&rep);
	config_free(cfg);
	catalog_free(c);
}
END_TEST

/* ---- the helper's script and report ---------------------------------------------------------------- */

START_TEST(script_for_every_condition)
{
	struct netcond nc = { .latency_ms = 100, .jitter_ms = 5, .loss = 1.5, .duplicate = 2, .corrupt = 0.5,
			      .reorder = 25, .rate_bps = 10000000, .mtu = 1400, .blackhole_on_s = 5,
			      .blackhole_off_s = 2 };
	struct pfs_buf b = PFS_BUF_INIT(1u << 16);

	ck_assert_int_eq(netem_script(&nc, true, &b), 0);
	ck_assert_str_eq(pfs_buf_str(&b),
		"set -u\n"
		"say() { echo \"pantherfs-netem: $*\"; }\n"
		"fail() { echo \"pantherfs-netem: error: $*\"; kill $pids 2>/dev/null; exit 1; }\n"
		"pids=\n"
		"trap 'kill $pids 2>/dev/null; wait; end; exit 0' TERM INT\n"
		"end() { [ ! -e /run/tcpdump.log ] || sed -n 's/^\\([0-9]\\)/pantherfs-netem: tcpdump: \\1/p' "
		"/run/tcpdump.log; }\n"
		"ip link set dev eth0 mtu 1400 || fail \"cannot set the mtu of eth0 to 1400\"\n"
		"tc qdisc replace dev eth0 root tbf rate 10000000bit burst 12500 limit 125000 || "
		"fail \"tc cannot limit eth0 to 10000000bit\"\n"
		"pfs-netem --queue=0 --mark=28774 --ready=/run/pfs-netem.ready --delay=100 --jitter=5 --loss=1.5 "
		"--duplicate=2 --corrupt=0.5 --reorder=25 --blackhole=5:2 &\n"
		"main=$!; pids=\"$pids $main\"\n"
		"n=0; until [ -e /run/pfs-netem.ready ]; do kill -0 $main 2>/dev/null || fail \"pfs-netem ended\"; "
		"n=$((n+1)); [ $n -le 100 ] || fail \"pfs-netem did not start in 10 s\"; sleep 0.1; done\n"
		"for t in iptables ip6tables; do $t -w 5 -A OUTPUT -o eth0 -m mark ! --mark 28774 -j NFQUEUE "
		"--queue-num 0 || fail \"$t cannot queue the output of eth0\"; done\n"
		"tcpdump --immediate-mode -B 16384 -Z root -U -n -s 0 -i eth0 -w /pantherfs/capture/capture.pcap 2>/run/tcpdump.log &\n"
		"cap=$!; pids=\"$pids $cap\"; main=${main:-$cap}\n"
		"n=0; until grep -q 'listening on' /run/tcpdump.log 2>/dev/null; do kill -0 $cap 2>/dev/null || "
		"fail \"tcpdump: $(cat /run/tcpdump.log)\"; n=$((n+1)); [ $n -le 100 ] || "
		"fail \"tcpdump did not start in 10 s\"; sleep 0.1; done\n"
		"say \"capture $(head -n 1 /run/tcpdump.log)\"\n"
		"say \"interface eth0\"\n"
		"say \"address $(ip -o -4 addr show dev eth0 | head -n 1)\"\n"
		"say \"mtu $(cat /sys/class/net/eth0/mtu)\"\n"
		"say \"qdisc $(tc qdisc show dev eth0 | head -n 1)\"\n"
		"say applied\n"
		"if [ -n \"${main:-}\" ]; then wait $main; end; fail \"the emulator or the capture ended\"; fi\n"
		"sleep infinity & pids=\"$pids $!\"; wait $!\n");
	pfs_buf_release(&b);
}
END_TEST

START_TEST(script_applies_only_what_is_set)
{
	struct netcond rate = { .rate_bps = 500000 }, none = { 0 }, reorder_alone = { .reorder = 50 };
	struct pfs_buf b = PFS_BUF_INIT(1u << 16);

	/* a rate alone: tbf, no emulator, no queue rule, no capture */
	ck_assert_int_eq(netem_script(&rate, false, &b), 0);
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&b), "tbf rate 500000bit burst 3028 limit 6250 "));
	ck_assert_ptr_null(strstr(pfs_buf_str(&b), "pfs-netem --"));
	ck_assert_ptr_null(strstr(pfs_buf_str(&b), "NFQUEUE"));
	ck_assert_ptr_null(strstr(pfs_buf_str(&b), "tcpdump --"));
	ck_assert_ptr_null(strstr(pfs_buf_str(&b), "mtu 1"));
	pfs_buf_reset(&b);
	/* capture alone: tcpdump is what the helper waits on */
	ck_assert_int_eq(netem_script(&none, true, &b), 0);
	ck_assert_ptr_nonnull(strstr(pfs_buf_str(&b), "tcpdump --immediate-mode -B 16384 -Z root"));
	ck_assert_ptr_null(strstr(pfs_buf_str(&b), "tc qdisc replace"));
	ck_assert_ptr_null(strstr(pfs_buf_str(&b), "pfs-netem --"));
	pfs_buf_reset(&b);
	/* reorder without latency reorders nothing: nothing to emulate */
	ck_assert_int_eq(netem_script(&reorder_alone, false, &b), 0);
	ck_assert_ptr_null(strstr(pfs_buf_str(&b), "pfs-netem --"));
	pfs_buf_release(&b);
	/* a full buffer is an error, not a cut script */
	pfs_buf_init(&b, 64);
	ck_assert_int_eq(netem_script(&rate, true, &b), -E2BIG);
	pfs_buf_release(&b);
}
END_TEST

START_TEST(tbf_sizes)
{
	unsigned long long burst, limit;

	netem_tbf_sizes(10000000, 0, &burst, &limit);
	ck_assert_uint_eq(burst, 12500);
	ck_assert_uint_eq(limit, 125000);
	/* slow links: two packets of the mtu at least */
	netem_tbf_sizes(64000, 9000, &burst, &limit);
	ck_assert_uint_eq(burst, 18028);
	ck_assert_uint_eq(limit, 36056);
	/* fast links: the bucket stays bounded */
	netem_tbf_sizes(100000000000ull, 0, &burst, &limit);
	ck_assert_uint_eq(burst, 16u << 20);
	ck_assert_uint_eq(limit, 1250000000ull);
}
END_TEST

START_TEST(report_parse)
{
	static const char log[] =
		"pfs-netem: ready queue 0 delay 100ms jitter 0ms loss 0% duplicate 0% corrupt 0% reorder 0% "
		"blackhole 0s/0s limit 1000\n"
		"pantherfs-netem: capture listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n"
		"pantherfs-netem: interface eth0\n"
		"pantherfs-netem: address 2: eth0    inet 172.18.0.2/16 brd 172.18.255.255 scope global eth0\n"
		"pantherfs-netem: mtu 1400\n"
		"pantherfs-netem: qdisc qdisc tbf 8001: root refcnt 3 rate 10Mbit burst 12500b lat 90ms\n"
		"pantherfs-netem: applied\n";
	struct pfs_err err = { 0 };
	json_t *o = NULL;

	/* not yet: everything but the last line */
	ck_assert_int_eq(netem_report_parse(log, strlen(log) - 25, &o, &err), 0);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(netem_report_parse(log, strlen(log), &o, &err), 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "address")), "172.18.0.2/16");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "mtu")), 1400);
	ck_assert_str_eq(json_string_value(json_object_get(o, "interface")), "eth0");
	ck_assert_str_eq(json_string_value(json_object_get(o, "qdisc")),
			 "qdisc tbf 8001: root refcnt 3 rate 10Mbit burst 12500b lat 90ms");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "emulator")), "delay 100ms"));
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "capture")), "listening on eth0"));
	json_decref(o);
	o = NULL;
	/* a failure, in the helper's words */
	ck_assert_int_eq(netem_report_parse("x\npantherfs-netem: error: tc cannot limit eth0 to 8bit\n", 54, &o, &err),
			 -EIO);
	ck_assert_ptr_null(o);
	ck_assert_str_eq(err.msg, "the netem helper failed: tc cannot limit eth0 to 8bit");
}
END_TEST

START_TEST(names_and_modes)
{
	char name[300], mode[120];

	netem_helper_name("0123456789abcdef", "t1", 3, "client", name, sizeof(name));
	ck_assert_str_eq(name, "pantherfs-netem-0123456789abcdef-t1-3-client");
	netem_network_mode("4f1c", mode, sizeof(mode));
	ck_assert_str_eq(mode, "container:4f1c");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("netem");
	TCase *t = tcase_create("netem");

	tcase_add_test(t, test_conditions_reach_every_service);
	tcase_add_test(t, service_block_overrides_key_by_key);
	tcase_add_test(t, bad_values_are_refused_with_their_position);
	tcase_add_test(t, rates_follow_tc);
	tcase_add_test(t, what_cannot_be_honoured_is_a_warning);
	tcase_add_test(t, keylog_and_qlog_reach_the_command);
	tcase_add_test(t, script_for_every_condition);
	tcase_add_test(t, script_applies_only_what_is_set);
	tcase_add_test(t, tbf_sizes);
	tcase_add_test(t, report_parse);
	tcase_add_test(t, names_and_modes);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
