/* SPDX-License-Identifier: MIT */
/*
 * The netem helper against the real engine, with real QUIC: ngtcp2's
 * gtlsserver and gtlsclient (Debian's, the pantherfs/ngtcp2 image) on a
 * network of their own, each service joining its helper's namespace the
 * way a run will (netem.h), through pantherfs's own Docker client and the
 * functions the run is to call. No run, no mount: the wiring comes later.
 *  - bandwidth: 10Mbit on the server: the client's 1 MiB download takes at
 *    least 0.8 s; unshaped, less than that;
 *  - latency: 100 on both: the client's run takes at least 2 x 100 ms more
 *    than unshaped, and the helper reports the mtu it set;
 *  - packet_loss: 100 on the client: it fails, by its handshake timeout;
 *  - a shaped and an unshaped pair at the same time: each as if alone;
 *  - capture: the pcap (growing while the helper runs) opens with tshark,
 *    holds QUIC both ways, and with keys.log (SSLKEYLOGFILE) tshark
 *    decrypts STREAM frames; qlog files appear in qlog/.
 * The client's own elapsed time is measured inside its container (date
 * before and after), so the engine's start-up time does not count.
 * Everything carries pantherfs.testrun=<id>; an unchecked teardown sweeps
 * containers and the network and removes the temporary dirs. The images
 * stay: they are pantherfs's cache.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pfs_check.h"
#include "itest.h"
#include "pantherfs/catalog.h"
#include "pantherfs/certs.h"
#include "pantherfs/config.h"
#include "pantherfs/docker.h"
#include "pantherfs/image.h"
#include "pantherfs/netem.h"
#include "pantherfs/render.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static char run_value[48], run_label[80], tmp_root[64];

static void sweep(void)
{
	struct docker_client *c = itest_client(60000);

	if (c) {
		itest_sweep_label(c, run_label);
		docker_client_free(c);
	}
	if (tmp_root[0])
		pfs_rm_rf(tmp_root);
}

static struct docker_client *new_client(void)
{
	struct docker_client_opts o = { .timeout_ms = 60000 };
	struct docker_client *c = NULL;

	ck_assert_int_eq(docker_client_new(&o, &c, NULL), 0);
	return c;
}

/* ---- images ------------------------------------------------------------------------------- */

struct build_wait {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
	int err;
	char msg[PFS_ERR_MSG_MAX];
	struct pfs_buf log;
};

static void bw_line(void *ud, const char *t, size_t n)
{
	struct build_wait *b = ud;

	pthread_mutex_lock(&b->m);
	pfs_buf_add(&b->log, t, n);
	pfs_buf_addc(&b->log, '\n');
	pthread_mutex_unlock(&b->m);
}

static void bw_done(void *ud, const struct docker_result *r, const char *id)
{
	struct build_wait *b = ud;

	(void)id;
	pthread_mutex_lock(&b->m);
	b->err = r->err;
	snprintf(b->msg, sizeof(b->msg), "%s", r->message);
	b->done = true;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->m);
}

/* The image of s, found by its content hash or built (bounded), into ref. */
static void ensure_image(struct docker_client *c, const struct cfg_service *s, char *ref, size_t n)
{
	struct docker_build_cbs cbs = { .on_line = bw_line, .on_done = bw_done };
	struct build_wait b = { .m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	struct pfs_err err = { 0 };
	struct image_plan p;
	struct docker_call *call;
	struct timespec dl;
	json_t *j = NULL;
	bool done;

	ck_assert_msg(image_plan_compute(s, &p, &err) == 0, "%s", err.msg);
	snprintf(ref, n, "%s", p.ref);
	if (docker_image_inspect(c, p.ref, &j, NULL) == 0) {
		json_decref(j);
		return;
	}
	pfs_buf_init(&b.log, 16u << 20);
	cbs.ud = &b;
	call = image_build(c, s, &p, false, &cbs, &err);
	ck_assert_msg(call != NULL, "%s", err.msg);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 900;
	pthread_mutex_lock(&b.m);
	while (!b.done && pthread_cond_timedwait(&b.cv, &b.m, &dl) != ETIMEDOUT)
		;
	done = b.done;
	pthread_mutex_unlock(&b.m);
	if (!done) {
		docker_call_cancel(call);
		pthread_mutex_lock(&b.m);
		while (!b.done)
			pthread_cond_wait(&b.cv, &b.m);
		pthread_mutex_unlock(&b.m);
	}
	docker_call_unref(call);
	ck_assert_msg(done, "the build of %s did not end within 900 s", p.ref);
	ck_assert_msg(b.err == 0, "%s: %s\n%s", p.ref, b.msg, pfs_buf_str(&b.log));
	pfs_buf_release(&b.log);
}

/* ---- a world: the images, a network, a key pair -------------------------------------------------- */

struct world {
	struct docker_client *c;
	struct catalog *cat;
	struct pfs_config *cfg;   /* the ngtcp2 pair with capture (so: a helper image) */
	char ngtcp2[256], helper[256];
	char net[96];
	char *netid;
	char certs[200];
};

static const char pair_yaml[] =
	"network_environment: {type: docker_compose, capture: true}\n"
	"services:\n"
	"  server:\n"
	"    implementation: {name: ngtcp2}\n"
	"    protocol: {role: server}\n"
	"    config: {qlog: true}\n"
	"  client:\n"
	"    implementation: {name: ngtcp2}\n"
	"    protocol: {role: client, target: server}\n"
	"    config: {download: 1M, qlog: true, handshake_timeout: 3s}\n";

static void world_up(struct world *w, const char *tag)
{
	const char *labels[] = { "pantherfs.testrun", run_value, NULL };
	struct pfs_err err = { 0 };
	struct cfg_report rep;

	memset(w, 0, sizeof(*w));
	w->c = new_client();
	ck_assert_msg(catalog_load(getenv("PFS_SOURCE_DIR"), &w->cat, &err) == 0, "%s", err.msg);
	ck_assert_msg(config_load(w->cat, "config.yaml", pair_yaml, strlen(pair_yaml), &w->cfg, &rep) == 0, "%s",
		      rep.n_errors ? rep.errors[0] : "");
	cfg_report_release(&rep);
	ck_assert_ptr_nonnull(w->cfg->netem);
	ensure_image(w->c, &w->cfg->svc[0], w->ngtcp2, sizeof(w->ngtcp2));
	ensure_image(w->c, w->cfg->netem, w->helper, sizeof(w->helper));
	ck_assert_int_eq(strncmp(w->helper, "pantherfs/netem:bookworm-", 25), 0);
	snprintf(w->net, sizeof(w->net), "pantherfs-netem-test-%s-%s", run_value, tag);
	ck_assert_msg(docker_network_create(w->c, w->net, labels, false, &w->netid, &err) == 0, "%s", err.msg);
	snprintf(w->certs, sizeof(w->certs), "%s/certs", tmp_root);
	ck_assert_int_eq(pfs_mkdir_p(w->certs, 0755), 0);
	ck_assert_msg(certs_generate(w->certs, "server", &err) == 0, "%s", err.msg);
}

static void world_down(struct world *w)
{
	docker_network_remove(w->c, w->netid, NULL);
	free(w->netid);
	config_free(w->cfg);
	catalog_free(w->cat);
	docker_client_free(w->c);
}

/* ---- one service, shaped through its helper or not --------------------------------------------------- */

struct svc_run {
	char *helper;        /* the helper's id, or NULL */
	char *id;            /* the service's container */
	char addr[64];
	json_t *applied;     /* what the helper reported */
	char dir[256];       /* its host dir (capture.pcap, keys.log, qlog/) */
};

/*
 * Starts service s (its rendered command, server's address in addr_json)
 * under tag: through a helper when nc shapes or capture, else on the
 * network itself.
 */
static void svc_start(struct world *w, const char *tag, const struct cfg_service *s, const struct netcond *nc,
		      bool capture, json_t *addr_json, bool timed, struct svc_run *out)
{
	const char *labels[] = { "pantherfs.testrun", run_value, "pantherfs.service", s->name, NULL };
	const char *aliases[] = { s->name, NULL };
	const char *binds[6] = { NULL };
	char name[200], hname[240], mode[160], certs_bind[300];
	struct pfs_buf cmd = PFS_BUF_INIT(65536), wrapped = PFS_BUF_INIT(65536);
	struct netem_mounts m = { { NULL } };
	struct pfs_err err = { 0 };
	const char *argv[] = { "sh", "-c", NULL, NULL };
	size_t nb = 0;
	json_t *j = NULL;

	memset(out, 0, sizeof(*out));
	snprintf(out->dir, sizeof(out->dir), "%s/%s-%s", tmp_root, tag, s->name);
	ck_assert_int_eq(pfs_mkdir_p(out->dir, 0755), 0);
	snprintf(name, sizeof(name), "pantherfs-netem-test-%s-%s-%s", run_value, tag, s->name);
	if (netcond_active(nc) || capture) {
		struct netem_helper_opts o = { .name = hname, .image = w->helper, .network = w->net, .aliases = aliases,
					       .labels = labels, .nc = nc, .capture_dir = capture ? out->dir : NULL };
		uint64_t t0 = pfs_now_ms();

		snprintf(hname, sizeof(hname), "%s-helper", name);
		ck_assert_msg(netem_helper_start(w->c, &o, &out->helper, &err) == 0, "%s", err.msg);
		ck_assert_msg(netem_helper_wait(w->c, out->helper, NETEM_WAIT_MS, &out->applied, &err) == 0, "%s",
			      err.msg);
		printf("# %s %s: helper applied in %llu ms: %s\n", tag, s->name,
		       (unsigned long long)(pfs_now_ms() - t0), json_dumps(out->applied, JSON_COMPACT));
		ck_assert_int_eq(docker_container_inspect(w->c, out->helper, &j, &err), 0);
		netem_network_mode(out->helper, mode, sizeof(mode));
	}
	ck_assert_int_eq(render_command(w->cat, w->cfg, s, addr_json, &cmd, &err), 0);
	if (timed)
		/* the client's own duration, in ms, on its last line */
		pfs_buf_printf(&wrapped, "t0=$(date +%%s%%N); %s; rc=$?; t1=$(date +%%s%%N); "
			       "echo \"pfs-elapsed-ms $(( (t1 - t0) / 1000000 ))\"; exit $rc", pfs_buf_str(&cmd));
	else
		pfs_buf_addstr(&wrapped, pfs_buf_str(&cmd));
	argv[2] = pfs_buf_str(&wrapped);
	ck_assert_msg(netem_service_mounts(s, out->dir, &m, &err) == 0, "%s", err.msg);
	for (size_t i = 0; m.binds[i]; i++)
		binds[nb++] = m.binds[i];
	if (s->gen_certs) {
		snprintf(certs_bind, sizeof(certs_bind), "%s:%s:ro", w->certs, CONFIG_CERTS_DIR);
		binds[nb++] = certs_bind;
	}
	{
		struct docker_container_spec sp = {
			.name = name, .image = w->ngtcp2, .cmd = argv, .env = (const char *const *)s->env,
			.labels = labels, .network = out->helper ? mode : w->net,
			.aliases = out->helper ? NULL : aliases, .binds = nb ? binds : NULL, .init = true,
		};

		ck_assert_msg(docker_container_create(w->c, &sp, &out->id, &err) == 0, "%s", err.msg);
	}
	ck_assert_msg(docker_container_start(w->c, out->id, &err) == 0, "%s", err.msg);
	/* the service's address is its helper's when it has one */
	json_decref(j);
	ck_assert_int_eq(docker_container_inspect(w->c, out->helper ? out->helper : out->id, &j, &err), 0);
	ck_assert_int_eq(docker_inspect_ip(j, w->net, out->addr, sizeof(out->addr)), 0);
	json_decref(j);
	netem_mounts_release(&m);
	pfs_buf_release(&cmd);
	pfs_buf_release(&wrapped);
}

static void svc_end(struct world *w, struct svc_run *s)
{
	struct pfs_err err = { 0 };

	ck_assert_int_eq(docker_container_remove(w->c, s->id, true, &err), 0);
	if (s->helper)
		ck_assert_msg(netem_helper_remove(w->c, s->helper, 5, &err) == 0, "%s", err.msg);
	free(s->id);
	free(s->helper);
	json_decref(s->applied);
}

/* Waits for the client (bounded), returns its exit code and its elapsed ms; log into log. */
static int client_result(struct world *w, struct svc_run *cl, long *elapsed, struct pfs_buf *log)
{
	struct pfs_err err = { 0 };
	const char *e;
	int code = -1;

	ck_assert_msg(docker_container_wait_sync(w->c, cl->id, 120000, &code, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(docker_container_logs_sync(w->c, cl->id, false, log, log, &err), 0);
	e = strstr(pfs_buf_str(log), "pfs-elapsed-ms ");
	ck_assert_msg(e != NULL, "%s", pfs_buf_str(log));
	ck_assert_int_eq(pfs_parse_long(strndupa(e + 15, strcspn(e + 15, "\n")), 0, 1L << 30, elapsed), 0);
	return code;
}

struct pair {
	struct svc_run srv, cli;
	long elapsed;
	int code;
	struct pfs_buf log;
};

/* Starts a pair under tag with these conditions; the client is not waited for. */
static void pair_start(struct world *w, const char *tag, const struct netcond *srv_nc, const struct netcond *cli_nc,
		       bool capture, struct pair *p)
{
	json_t *addr;

	memset(p, 0, sizeof(*p));
	pfs_buf_init(&p->log, 1u << 20);
	svc_start(w, tag, config_find_service(w->cfg, "server"), srv_nc, capture, NULL, false, &p->srv);
	addr = json_pack("{s:s}", "server", p->srv.addr);
	usleep(500000); /* gtlsserver binds at once; readiness probes are the run's */
	svc_start(w, tag, config_find_service(w->cfg, "client"), cli_nc, capture, addr, true, &p->cli);
	json_decref(addr);
}

static void pair_finish(struct world *w, struct pair *p)
{
	p->code = client_result(w, &p->cli, &p->elapsed, &p->log);
}

static void pair_end(struct world *w, struct pair *p)
{
	svc_end(w, &p->cli);
	svc_end(w, &p->srv);
	pfs_buf_release(&p->log);
}

static void run_pair(struct world *w, const char *tag, const struct netcond *srv_nc, const struct netcond *cli_nc,
		     struct pair *p)
{
	pair_start(w, tag, srv_nc, cli_nc, false, p);
	pair_finish(w, p);
	printf("# %s: client exited %d after %ld ms\n", tag, p->code, p->elapsed);
}

/* ---- the tests -------------------------------------------------------------------------------------------- */

START_TEST(bandwidth_limits_the_download)
{
	struct world w;
	struct netcond none = { 0 }, slow = { .set = NC_BANDWIDTH, .rate_bps = 10000000 };
	struct pair plain, shaped;
	const char *qdisc;

	world_up(&w, "rate");
	run_pair(&w, "plain", &none, &none, &plain);
	ck_assert_msg(plain.code == 0 && strstr(pfs_buf_str(&plain.log), "1M: OK"), "%s", pfs_buf_str(&plain.log));
	/* the server sends the file: its egress is the bottleneck. 1 MiB at 10 Mbit/s is 0.84 s */
	run_pair(&w, "rate", &slow, &none, &shaped);
	ck_assert_msg(shaped.code == 0 && strstr(pfs_buf_str(&shaped.log), "1M: OK"), "%s", pfs_buf_str(&shaped.log));
	ck_assert_int_ge(shaped.elapsed, 800);
	ck_assert_int_lt(plain.elapsed, shaped.elapsed);
	/* the settings as applied: the kernel's own words */
	qdisc = json_string_value(json_object_get(shaped.srv.applied, "qdisc"));
	ck_assert_msg(qdisc && strstr(qdisc, "tbf") && strstr(qdisc, "rate 10Mbit"), "%s", qdisc ? qdisc : "none");
	ck_assert_ptr_null(json_object_get(shaped.srv.applied, "emulator"));
	ck_assert_ptr_null(shaped.cli.helper);
	pair_end(&w, &plain);
	pair_end(&w, &shaped);
	world_down(&w);
}
END_TEST

START_TEST(latency_adds_two_delays)
{
	struct world w;
	struct netcond none = { 0 }, slow = { .set = NC_LATENCY, .latency_ms = 100 };
	struct netcond slow_mtu = { .set = NC_LATENCY | NC_MTU, .latency_ms = 100, .mtu = 1400 };
	struct pair plain, shaped;

	world_up(&w, "delay");
	run_pair(&w, "plain", &none, &none, &plain);
	run_pair(&w, "delay", &slow, &slow_mtu, &shaped);
	ck_assert_msg(plain.code == 0, "%s", pfs_buf_str(&plain.log));
	ck_assert_msg(shaped.code == 0 && strstr(pfs_buf_str(&shaped.log), "1M: OK"), "%s", pfs_buf_str(&shaped.log));
	/* a round trip is 2 x 100 ms, and a download needs one after the handshake's */
	ck_assert_int_ge(shaped.elapsed, plain.elapsed + 200);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(shaped.cli.applied, "emulator")),
				     "delay 100ms"));
	ck_assert_int_eq(json_integer_value(json_object_get(shaped.cli.applied, "mtu")), 1400);
	ck_assert_int_eq(json_integer_value(json_object_get(shaped.srv.applied, "mtu")), 1500);
	/* the address the helper reports is the one the client was given */
	ck_assert_int_eq(strncmp(json_string_value(json_object_get(shaped.srv.applied, "address")), shaped.srv.addr,
				 strlen(shaped.srv.addr)), 0);
	pair_end(&w, &plain);
	pair_end(&w, &shaped);
	world_down(&w);
}
END_TEST

START_TEST(total_loss_fails_the_client_by_its_timeout)
{
	struct world w;
	struct netcond none = { 0 }, dead = { .set = NC_LOSS, .loss = 100 };
	struct pair p;

	world_up(&w, "loss");
	run_pair(&w, "loss", &none, &dead, &p);
	/* nothing the client sends arrives: its handshake timeout (3 s) ends it, not an error at once */
	ck_assert_int_ne(p.code, 0);
	ck_assert_int_ge(p.elapsed, 3000);
	ck_assert_ptr_null(strstr(pfs_buf_str(&p.log), "1M: OK"));
	pair_end(&w, &p);
	world_down(&w);
}
END_TEST

START_TEST(shaped_and_unshaped_side_by_side)
{
	struct world w;
	struct netcond none = { 0 }, slow = { .set = NC_LATENCY | NC_BANDWIDTH, .latency_ms = 100, .rate_bps = 10000000 };
	struct pair plain, shaped;

	world_up(&w, "side");
	/* both at once, on the same network and the same bridge */
	pair_start(&w, "side-shaped", &slow, &slow, false, &shaped);
	pair_start(&w, "side-plain", &none, &none, false, &plain);
	pair_finish(&w, &plain);
	pair_finish(&w, &shaped);
	printf("# side by side: shaped %ld ms, unshaped %ld ms\n", shaped.elapsed, plain.elapsed);
	ck_assert_msg(plain.code == 0 && shaped.code == 0, "%s\n%s", pfs_buf_str(&plain.log), pfs_buf_str(&shaped.log));
	/* the shaped pair is shaped: 0.84 s of sending, and round trips of 200 ms */
	ck_assert_int_ge(shaped.elapsed, 1000);
	/*
	 * The unshaped one is not: shaped like its neighbour it would take as
	 * long. Half of it leaves room for a loaded machine (an unshaped 1 MiB
	 * took 70-730 ms here) while the shaped one is at least 1 s.
	 */
	ck_assert_msg(plain.elapsed * 2 < shaped.elapsed, "unshaped %ld ms, shaped %ld ms", plain.elapsed,
		      shaped.elapsed);
	pair_end(&w, &plain);
	pair_end(&w, &shaped);
	world_down(&w);
}
END_TEST

/* Runs tshark on the host; its stdout into out. */
static int tshark(struct pfs_buf *out, const char *const *args)
{
	const char *argv[24] = { "tshark" };
	int fds[2], status = -1;
	size_t n = 1;
	pid_t pid;
	char buf[4096];
	ssize_t k;

	for (; *args && n < 23; args++)
		argv[n++] = *args;
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (!freopen("/dev/null", "w", stderr))
			_exit(126);
		execvp("tshark", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	while ((k = read(fds[0], buf, sizeof(buf))) > 0)
		ck_assert_int_eq(pfs_buf_add(out, buf, (size_t)k), 0);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static size_t count_lines_with(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

START_TEST(capture_with_keys_and_qlog)
{
	struct world w;
	struct netcond none = { 0 };
	struct pair p;
	char pcap[400], keys[400], kopt[450], qdir[400], path[700];
	struct pfs_buf dirs = PFS_BUF_INIT(1u << 20), plain = PFS_BUF_INIT(8u << 20), dec = PFS_BUF_INIT(8u << 20);
	struct stat st;
	struct dirent *de;
	DIR *d;
	size_t qlogs = 0;
	off_t live;

	world_up(&w, "capture");
	pair_start(&w, "capture", &none, &none, true, &p);
	pair_finish(&w, &p);
	ck_assert_msg(p.code == 0 && strstr(pfs_buf_str(&p.log), "1M: OK"), "%s", pfs_buf_str(&p.log));
	/* capture alone still needs the namespace's owner: the helper waits on tcpdump */
	ck_assert_ptr_nonnull(p.cli.helper);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(p.cli.applied, "capture")), "listening on eth0"));
	snprintf(pcap, sizeof(pcap), "%s/" NETEM_CAPTURE_FILE, p.cli.dir);
	snprintf(keys, sizeof(keys), "%s/" NETEM_KEYLOG_FILE, p.cli.dir);
	/* written packet by packet while the helper still runs: the 1 MiB is in it already */
	ck_assert_int_eq(stat(pcap, &st), 0);
	live = st.st_size;
	{
		/* and the helper's stop makes tcpdump say what it saw and dropped */
		struct pfs_buf hl = PFS_BUF_INIT(1u << 20);
		struct pfs_err err = { 0 };

		ck_assert_int_eq(docker_container_stop(w.c, p.cli.helper, 5, &err), 0);
		ck_assert_int_eq(docker_container_logs_sync(w.c, p.cli.helper, false, &hl, &hl, &err), 0);
		printf("# client helper's log ends: %s\n", strstr(pfs_buf_str(&hl), "pantherfs-netem: tcpdump:") ?: "?");
		ck_assert_ptr_nonnull(strstr(pfs_buf_str(&hl), "pantherfs-netem: tcpdump: 0 packets dropped by kernel"));
		pfs_buf_release(&hl);
	}
	pair_end(&w, &p);
	ck_assert_int_eq(stat(pcap, &st), 0);
	printf("# capture.pcap: %lld bytes while running, %lld at the end\n", (long long)live, (long long)st.st_size);
	ck_assert_int_gt(live, 1048576);
	ck_assert_int_ge(st.st_size, live);

	/* QUIC both ways, as tshark reads it */
	ck_assert_int_eq(tshark(&dirs, (const char *[]){ "-r", pcap, "-Y", "quic", "-T", "fields", "-e", "ip.src",
							   "-e", "ip.dst", NULL }), 0);
	ck_assert_msg(count_lines_with(pfs_buf_str(&dirs), "\n") > 10, "%s", pfs_buf_str(&dirs));
	{
		char first[64];
		const char *s = pfs_buf_str(&dirs);
		size_t n = strcspn(s, "\t");
		char back[160];

		snprintf(first, sizeof(first), "%.*s", (int)n, s);
		snprintf(back, sizeof(back), "\t%s\n", first);  /* a packet to the first sender */
		ck_assert_msg(strstr(s, back) != NULL, "no QUIC packet back to %s:\n%s", first, s);
	}
	/* the keys decrypt it: STREAM frames appear only with them */
	ck_assert_int_eq(stat(keys, &st), 0);
	ck_assert_int_gt(st.st_size, 100);
	snprintf(kopt, sizeof(kopt), "tls.keylog_file:%s", keys);
	ck_assert_int_eq(tshark(&plain, (const char *[]){ "-r", pcap, "-Y", "quic.stream.stream_id", "-T", "fields",
							    "-e", "quic.stream.stream_id", NULL }), 0);
	ck_assert_int_eq(tshark(&dec, (const char *[]){ "-o", kopt, "-r", pcap, "-Y", "quic.stream.stream_id", "-T",
							  "fields", "-e", "quic.stream.stream_id", NULL }), 0);
	printf("# STREAM frames: %zu without keys, %zu lines with keys\n", count_lines_with(pfs_buf_str(&plain), "\n"),
	       count_lines_with(pfs_buf_str(&dec), "\n"));
	ck_assert_uint_eq(pfs_buf_len(&plain), 0);
	/* (the client's request, the server's control streams and its answer; the engine's
	 * large GSO datagrams hold many QUIC packets, of which tshark reads the first) */
	ck_assert_uint_ge(count_lines_with(pfs_buf_str(&dec), "\n"), 2);

	/* qlog files, one per connection, JSON text */
	snprintf(qdir, sizeof(qdir), "%s/" NETEM_QLOG_DIR, p.cli.dir);
	d = opendir(qdir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		struct pfs_buf q = PFS_BUF_INIT(64u << 20);

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", qdir, de->d_name);
		ck_assert_int_eq(pfs_read_file(path, &q), 0);
		ck_assert_msg(strstr(pfs_buf_str(&q), "\"qlog_version\""), "%s: %.200s", path, pfs_buf_str(&q));
		pfs_buf_release(&q);
		qlogs++;
	}
	closedir(d);
	ck_assert_uint_ge(qlogs, 1);
	pfs_buf_release(&dirs);
	pfs_buf_release(&plain);
	pfs_buf_release(&dec);
	world_down(&w);
}
END_TEST

START_TEST(a_failing_helper_says_why)
{
	struct world w;
	/* an mtu no interface takes (config refuses it; the helper must say so too) */
	struct netcond bad = { .set = NC_MTU, .mtu = 65535 * 2 };
	const char *labels[] = { "pantherfs.testrun", run_value, NULL };
	char name[200], *id = NULL;
	struct netem_helper_opts o = { .name = name, .network = NULL, .labels = labels, .nc = &bad };
	struct pfs_err err = { 0 };
	json_t *applied = NULL;
	int r;

	world_up(&w, "bad");
	snprintf(name, sizeof(name), "pantherfs-netem-test-%s-bad", run_value);
	o.image = w.helper;
	o.network = w.net;
	ck_assert_msg(netem_helper_start(w.c, &o, &id, &err) == 0, "%s", err.msg);
	r = netem_helper_wait(w.c, id, NETEM_WAIT_MS, &applied, &err);
	ck_assert_int_eq(r, -EIO);
	ck_assert_ptr_null(applied);
	ck_assert_msg(strstr(err.msg, "cannot set the mtu of eth0 to 131070"), "%s", err.msg);
	/* a second start of the same name adopts the container (a restarted pantherfs) */
	{
		char *again = NULL;

		ck_assert_msg(netem_helper_start(w.c, &o, &again, &err) == 0, "%s", err.msg);
		ck_assert_str_eq(again, id);
		free(again);
	}
	ck_assert_int_eq(netem_helper_remove(w.c, id, 1, &err), 0);
	ck_assert_int_eq(netem_helper_remove(w.c, id, 1, &err), 0);
	free(id);
	world_down(&w);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("netem");
	TCase *t = tcase_create("netem");

	tcase_set_timeout(t, 1500);
	tcase_add_unchecked_fixture(t, NULL, sweep);
	tcase_add_test(t, bandwidth_limits_the_download);
	tcase_add_test(t, latency_adds_two_delays);
	tcase_add_test(t, total_loss_fails_the_client_by_its_timeout);
	tcase_add_test(t, shaped_and_unshaped_side_by_side);
	tcase_add_test(t, capture_with_keys_and_qlog);
	tcase_add_test(t, a_failing_helper_says_why);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	int r;

	snprintf(run_value, sizeof(run_value), "%ld-%ld", (long)getpid(), (long)time(NULL));
	snprintf(run_label, sizeof(run_label), "pantherfs.testrun=%s", run_value);
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/pfs-netem-XXXXXX");
	if (!mkdtemp(tmp_root))
		return 1;
	r = itest_docker_or_skip();
	if (r) {
		pfs_rm_rf(tmp_root);
		return r;
	}
	r = pfs_check_run(suite());
	sweep();
	return r;
}
