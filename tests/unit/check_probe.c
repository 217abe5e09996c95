/* SPDX-License-Identifier: MIT */
/*
 * The readiness probe: its cadence, and a prober against a responder on the
 * loopback that answers the way a QUIC server does (a Version Negotiation
 * echoing the connection IDs), late or not at all.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pfs_check.h"
#include "pantherfs/probe.h"
#include "pantherfs/util.h"

START_TEST(cadence)
{
	int prev = 0;

	/* at once, then short: a server that listens 20 ms after its start is seen within 10 ms */
	ck_assert_int_eq(quic_probe_interval_ms(0, 0), 2);
	ck_assert_int_eq(quic_probe_interval_ms(1, 2), 5);
	ck_assert_int_le(quic_probe_interval_ms(2, 7), 10);
	for (unsigned a = 0; (uint64_t)a * 10 < PROBE_FAST_MS; a++) {
		int ms = quic_probe_interval_ms(a, (uint64_t)a * 10);

		ck_assert_int_le(ms, 10);
		ck_assert_int_ge(ms, prev);
		prev = ms;
	}
	/* then backing off, never past the slow cadence */
	ck_assert_int_gt(quic_probe_interval_ms(500, PROBE_FAST_MS), 10);
	prev = 0;
	for (uint64_t w = PROBE_FAST_MS; w < 120000; w += 500) {
		int ms = quic_probe_interval_ms(1000, w);

		ck_assert_int_ge(ms, prev);
		ck_assert_int_le(ms, PROBE_SLOW_MS);
		prev = ms;
	}
	ck_assert_int_eq(prev, PROBE_SLOW_MS);
}
END_TEST

START_TEST(packet_and_reply)
{
	unsigned char pkt[PROBE_DATAGRAM], vn[64], dcid[8] = "ABCDEFGH", scid[8] = "abcdefgh";
	uint32_t v[4];
	size_t n = 4, k = 0;

	ck_assert_uint_eq(quic_probe_packet(pkt, sizeof(pkt), dcid, scid), PROBE_DATAGRAM);
	ck_assert_uint_eq(pkt[0] & 0x80, 0x80);
	ck_assert_uint_eq((uint32_t)pkt[1] << 24 | pkt[2] << 16 | pkt[3] << 8 | pkt[4], PROBE_VERSION);
	/* the server's answer swaps the ids */
	vn[k++] = 0x80;
	memset(vn + k, 0, 4);
	k += 4;
	vn[k++] = 8;
	memcpy(vn + k, scid, 8);
	k += 8;
	vn[k++] = 8;
	memcpy(vn + k, dcid, 8);
	k += 8;
	memcpy(vn + k, "\0\0\0\1", 4);
	k += 4;
	ck_assert_int_eq(quic_probe_parse_vn(vn, k, dcid, scid, v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(v[0], 1);
	/* not ours: other ids */
	ck_assert_int_eq(quic_probe_parse_vn(vn, k, scid, dcid, v, &n), -EPROTO);
}
END_TEST

/* ---- a responder on the loopback ---------------------------------------------------------- */

struct responder {
	int fd;
	int delay_ms;   /* before answering the first probe */
	int answered;
	int stop;
};

static void *respond(void *arg)
{
	struct responder *rs = arg;
	unsigned char in[2048], out[64];

	while (!__atomic_load_n(&rs->stop, __ATOMIC_SEQ_CST)) {
		struct pollfd pf = { .fd = rs->fd, .events = POLLIN };
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t got;
		size_t k = 0;

		if (poll(&pf, 1, 50) <= 0)
			continue;
		got = recvfrom(rs->fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
		if (got < 23)
			continue;
		if (rs->delay_ms) {
			usleep((useconds_t)rs->delay_ms * 1000);
			rs->delay_ms = 0;
		}
		out[k++] = 0x80;
		memset(out + k, 0, 4);
		k += 4;
		out[k++] = 8;
		memcpy(out + k, in + 15, 8); /* their SCID */
		k += 8;
		out[k++] = 8;
		memcpy(out + k, in + 6, 8); /* their DCID */
		k += 8;
		memcpy(out + k, "\0\0\0\1", 4);
		k += 4;
		sendto(rs->fd, out, k, 0, (struct sockaddr *)&from, fl);
		__atomic_add_fetch(&rs->answered, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static int bind_loopback(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

START_TEST(prober_answered)
{
	struct responder rs = { 0 };
	struct quic_prober *p = NULL;
	uint32_t v[4];
	size_t n = 4;
	pthread_t th;
	int port;

	rs.fd = bind_loopback(&port);
	ck_assert_int_eq(pthread_create(&th, NULL, respond, &rs), 0);
	ck_assert_int_eq(quic_probe("127.0.0.1", port, 5000, v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(v[0], 1);
	/*
	 * An answer later than the probe's own wait still counts at the next
	 * wait of the same prober: the responder sleeps 300 ms, each wait is 20.
	 */
	rs.delay_ms = 300;
	ck_assert_int_eq(quic_prober_new("127.0.0.1", port, &p), 0);
	ck_assert_int_eq(quic_prober_send(p), 0);
	n = 4;
	ck_assert_int_eq(quic_prober_wait(p, 20, v, &n), -ETIMEDOUT);
	for (int i = 0; i < 200; i++) {
		n = 4;
		if (quic_prober_wait(p, 20, v, &n) == 0)
			break;
		ck_assert_int_lt(i, 199);
	}
	ck_assert_uint_eq(n, 1);
	quic_prober_free(p);
	__atomic_store_n(&rs.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);
	close(rs.fd);
}
END_TEST

START_TEST(prober_refused_and_bad_address)
{
	struct quic_prober *p = NULL;
	uint64_t t0;
	int port, fd = bind_loopback(&port);

	/* nothing bound any more: the ICMP refusal ends the wait at once, not at its end */
	close(fd);
	ck_assert_int_eq(quic_prober_new("127.0.0.1", port, &p), 0);
	ck_assert_int_eq(quic_prober_send(p), 0);
	t0 = pfs_now_ms();
	ck_assert_int_eq(quic_prober_wait(p, 10000, NULL, NULL), -ECONNREFUSED);
	ck_assert_uint_lt(pfs_now_ms() - t0, 5000);
	quic_prober_free(p);
	quic_prober_free(NULL);
	ck_assert_int_eq(quic_prober_new("not an address", 4433, &p), -EINVAL);
}
END_TEST

/* Runs script with bash, its stdout into out; returns its exit status (-1: could not run). */
static int run_bash(const char *script, struct pfs_buf *out)
{
	int p[2], st;
	char buf[4096];
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(p[1], 1) < 0)
			_exit(127);
		execlp("bash", "bash", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		pfs_buf_add(out, buf, (size_t)n);
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * The script a helper container runs on a Swarm overlay, run here by bash
 * on loopback: refused at first (nothing bound), then answered by a server
 * that comes up 700 ms later; its hex judged by the probe's own parser.
 */
START_TEST(helper_script_probes_from_bash)
{
	/* 0x0a among the ids: a newline that bash would flush its printf at */
	static const unsigned char dcid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, scid[8] = { 9, 10, 11, 12, 13, 14, 15, 16 };
	struct pfs_buf script = PFS_BUF_INIT(65536), out = PFS_BUF_INIT(65536);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct responder rs = { 0 };
	unsigned char reply[512];
	uint32_t v[4];
	size_t n = 4, len = 0;
	pthread_t th;
	pid_t pid;
	int port, st, p[2];
	char buf[4096];
	ssize_t got;

	rs.fd = bind_loopback(&port);
	close(rs.fd); /* refused until the responder binds it again */
	ck_assert_int_eq(quic_probe_script("127.0.0.1", port, 20, false, dcid, scid, &script), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(p[1], 1) < 0)
			_exit(127);
		execlp("bash", "bash", "-c", pfs_buf_str(&script), (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	usleep(700000);
	a.sin_port = htons((uint16_t)port);
	rs.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(rs.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, respond, &rs), 0);
	while ((got = read(p[0], buf, sizeof(buf))) > 0)
		pfs_buf_add(&out, buf, (size_t)got);
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	__atomic_store_n(&rs.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);
	close(rs.fd);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the script ended %d: %s", st, pfs_buf_str(&out));
	ck_assert_int_ge(rs.answered, 1);
	ck_assert_int_eq(quic_probe_helper_result(pfs_buf_str(&out), dcid, scid, v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(v[0], 1);
	/* the answer judged with other ids: not ours */
	n = 4;
	ck_assert_int_eq(quic_probe_helper_result(pfs_buf_str(&out), scid, dcid, v, &n), -EPROTO);
	/* the marker is no hex: the answer is what precedes it */
	len = strstr(pfs_buf_str(&out), QUIC_PROBE_ANSWERED) - pfs_buf_str(&out);
	ck_assert_int_eq(quic_probe_hex_decode(pfs_buf_str(&out) + len, reply, sizeof(reply), &len), -EPROTO);

	/* nobody answers: it gives up after its bound, exit 1, saying so */
	pfs_buf_reset(&script);
	pfs_buf_reset(&out);
	ck_assert_int_eq(quic_probe_script("127.0.0.1", port, 1, false, dcid, scid, &script), 0);
	ck_assert_int_eq(run_bash(pfs_buf_str(&script), &out), 1);
	ck_assert_str_eq(pfs_buf_str(&out), QUIC_PROBE_NO_ANSWER "\n");
	ck_assert_int_eq(quic_probe_helper_result(pfs_buf_str(&out), dcid, scid, v, &n), -ETIMEDOUT);
	ck_assert_int_eq(quic_probe_helper_result("", dcid, scid, v, &n), -EAGAIN);
	ck_assert_int_eq(quic_probe_helper_result("bash: not found\n" QUIC_PROBE_ANSWERED "\n", dcid, scid, v, &n),
			 -EPROTO);

	/* only an address goes into the script */
	ck_assert_int_eq(quic_probe_script("1.2.3.4; rm -rf /", 4433, 5, false, dcid, scid, &script), -EINVAL);
	ck_assert_int_eq(quic_probe_script("10.0.0.1", 0, 5, false, dcid, scid, &script), -EINVAL);
	ck_assert_int_eq(quic_probe_script("10.0.0.1", 4433, 0, false, dcid, scid, &script), -EINVAL);
	ck_assert_int_eq(quic_probe_script(NULL, 4433, 5, false, dcid, scid, &script), -EINVAL);
	pfs_buf_release(&script);
	pfs_buf_release(&out);
}
END_TEST

/* With hold, the helper stays after its verdict (it keeps the overlay instantiated): killed here. */
START_TEST(helper_script_holds)
{
	static const unsigned char dcid[8] = { 1, 1, 1, 1, 1, 1, 1, 1 }, scid[8] = { 2, 2, 2, 2, 2, 2, 2, 2 };
	struct pfs_buf script = PFS_BUF_INIT(65536), out = PFS_BUF_INIT(4096);
	int port, fd = bind_loopback(&port), p[2], st;
	char buf[256];
	ssize_t got;
	pid_t pid;

	close(fd);
	ck_assert_int_eq(quic_probe_script("127.0.0.1", port, 1, true, dcid, scid, &script), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(p[1], 1) < 0)
			_exit(127);
		execlp("bash", "bash", "-c", pfs_buf_str(&script), (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (!strstr(pfs_buf_str(&out), "\n") && (got = read(p[0], buf, sizeof(buf))) > 0)
		pfs_buf_add(&out, buf, (size_t)got);
	ck_assert_str_eq(pfs_buf_str(&out), QUIC_PROBE_NO_ANSWER "\n");
	/* still there a second later */
	usleep(1000000);
	ck_assert_int_eq(waitpid(pid, &st, WNOHANG), 0);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(p[0]);
	pfs_buf_release(&script);
	pfs_buf_release(&out);
}
END_TEST

START_TEST(hex_decode)
{
	unsigned char b[4];
	size_t n = 99;

	ck_assert_int_eq(quic_probe_hex_decode(" 80 00 0a\n ff\n", b, sizeof(b), &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(b[0], 0x80);
	ck_assert_uint_eq(b[2], 0x0a);
	ck_assert_uint_eq(b[3], 0xff);
	ck_assert_int_eq(quic_probe_hex_decode("", b, sizeof(b), &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(quic_probe_hex_decode("80 00 0a ff 01", b, sizeof(b), &n), -E2BIG);
	ck_assert_int_eq(quic_probe_hex_decode("8", b, sizeof(b), &n), -EPROTO);
	ck_assert_int_eq(quic_probe_hex_decode("800", b, sizeof(b), &n), -EPROTO);
	ck_assert_int_eq(quic_probe_hex_decode("bash: no such file", b, sizeof(b), &n), -EPROTO);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("probe");
	TCase *t = tcase_create("probe");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, cadence);
	tcase_add_test(t, packet_and_reply);
	tcase_add_test(t, prober_answered);
	tcase_add_test(t, prober_refused_and_bad_address);
	tcase_add_test(t, helper_script_probes_from_bash);
	tcase_add_test(t, helper_script_holds);
	tcase_add_test(t, hex_decode);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
