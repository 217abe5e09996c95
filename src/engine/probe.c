/* SPDX-License-Identifier: MIT */
/*
 * The readiness probe: one UDP datagram out, one Version Negotiation back.
 * A connected UDP socket, so ICMP port-unreachable surfaces as ECONNREFUSED
 * on the next receive (the server is not bound yet) instead of a silent
 * wait for the whole timeout. A prober keeps its socket and connection IDs
 * across the probes of one wait, so an answer that comes late, to an
 * earlier probe, still counts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "pantherfs/probe.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

size_t quic_probe_packet(unsigned char *buf, size_t len, const unsigned char dcid[8],
			 const unsigned char scid[8])
{
	size_t k = 0;

	if (len < PROBE_DATAGRAM)
		return 0;
	memset(buf, 0, PROBE_DATAGRAM);
	buf[k++] = 0xc0;                  /* long header, fixed bit, type Initial */
	buf[k++] = (PROBE_VERSION >> 24) & 0xff;
	buf[k++] = (PROBE_VERSION >> 16) & 0xff;
	buf[k++] = (PROBE_VERSION >> 8) & 0xff;
	buf[k++] = PROBE_VERSION & 0xff;
	buf[k++] = 8;
	memcpy(buf + k, dcid, 8);
	k += 8;
	buf[k++] = 8;
	memcpy(buf + k, scid, 8);
	/* the rest is padding: servers only look at the invariant header */
	return PROBE_DATAGRAM;
}

int quic_probe_parse_vn(const unsigned char *p, size_t len, const unsigned char dcid[8],
			const unsigned char scid[8], uint32_t *versions, size_t *n)
{
	size_t k = 5, max = n ? *n : 0, got = 0;

	/* RFC 9000 17.2.1: long header form bit, version 0, DCID = our SCID, SCID = our DCID */
	if (len < 7 || !(p[0] & 0x80) || p[1] || p[2] || p[3] || p[4])
		return -EPROTO;
	if (p[k] != 8 || k + 1 + 8 > len || memcmp(p + k + 1, scid, 8) != 0)
		return -EPROTO;
	k += 9;
	if (k >= len || p[k] != 8 || k + 1 + 8 > len || memcmp(p + k + 1, dcid, 8) != 0)
		return -EPROTO;
	k += 9;
	if (k + 4 > len || (len - k) % 4)
		return -EPROTO;
	for (; k + 4 <= len; k += 4) {
		if (got < max)
			versions[got] = (uint32_t)p[k] << 24 | (uint32_t)p[k + 1] << 16 |
					(uint32_t)p[k + 2] << 8 | p[k + 3];
		got++;
	}
	if (n)
		*n = got < max ? got : max;
	return 0;
}

int quic_probe_script(const char *ip, int port, int bound_s, bool hold, const unsigned char dcid[8],
		      const unsigned char scid[8], struct pfs_buf *out)
{
	unsigned char pkt[PROBE_DATAGRAM], a[sizeof(struct in6_addr)];
	size_t n = quic_probe_packet(pkt, sizeof(pkt), dcid, scid);
	int r;

	/* the address goes into a script: only what inet_pton takes */
	if (!ip || (inet_pton(AF_INET, ip, a) != 1 && inet_pton(AF_INET6, ip, a) != 1) || port < 1 ||
	    port > 65535 || bound_s < 1)
		return -EINVAL;
	r = pfs_buf_printf(out, "end=$((SECONDS + %d))\n"
			   "while [ $SECONDS -lt $end ]; do\n"
			   "  exec 3<>/dev/udp/%s/%d || exit 2\n"
			   "  printf '", bound_s, ip, port);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = pfs_buf_printf(out, "\\x%02x", pkt[i]);
	/*
	 * One write, one datagram: bash flushes its printf at every newline
	 * byte (an id may hold 0x0a), so dd gathers the whole of it first.
	 */
	if (r == 0)
		r = pfs_buf_printf(out, "' | dd bs=%zu count=1 iflag=fullblock 2>/dev/null >&3\n"
				   "  timeout 0.25 cat <&3 > /tmp/pfs-probe\n"
				   "  exec 3<&-\n"
				   "  if [ -s /tmp/pfs-probe ]; then\n"
				   "    od -An -v -tx1 /tmp/pfs-probe; echo '" QUIC_PROBE_ANSWERED "'\n"
				   "    %s\n"
				   "  fi\n"
				   "  sleep 0.05\n"
				   "done\n"
				   "echo '" QUIC_PROBE_NO_ANSWER "'\n"
				   "%s\n", n, hold ? "exec sleep infinity" : "exit 0",
				   hold ? "exec sleep infinity" : "exit 1");
	return r < 0 ? -ENOMEM : 0;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int quic_probe_hex_decode(const char *text, unsigned char *out, size_t cap, size_t *len)
{
	size_t k = 0;

	for (const char *p = text; *p;) {
		int hi, lo;

		if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
			p++;
			continue;
		}
		hi = hex_val(p[0]);
		lo = hi >= 0 ? hex_val(p[1]) : -1;
		if (lo < 0 || (p[2] && p[2] != ' ' && p[2] != '\n' && p[2] != '\t' && p[2] != '\r'))
			return -EPROTO;
		if (k >= cap)
			return -E2BIG;
		out[k++] = (unsigned char)(hi << 4 | lo);
		p += 2;
	}
	*len = k;
	return 0;
}

int quic_probe_helper_result(const char *printed, const unsigned char dcid[8], const unsigned char scid[8],
			     uint32_t *versions, size_t *n)
{
	const char *mark = strstr(printed, QUIC_PROBE_ANSWERED);
	unsigned char reply[2048];
	size_t len = 0;
	char *hex;
	int r;

	if (!mark)
		return strstr(printed, QUIC_PROBE_NO_ANSWER) ? -ETIMEDOUT : -EAGAIN;
	hex = strndup(printed, (size_t)(mark - printed));
	if (!hex)
		return -ENOMEM;
	r = quic_probe_hex_decode(hex, reply, sizeof(reply), &len);
	free(hex);
	if (r == 0)
		r = quic_probe_parse_vn(reply, len, dcid, scid, versions, n);
	return r < 0 ? -EPROTO : 0;
}

int quic_probe_interval_ms(unsigned attempt, uint64_t waited_ms)
{
	static const int first[] = { 2, 5, 10 };
	int ms = 20;

	if (attempt < PFS_ARRAY_SIZE(first))
		return first[attempt];
	if (waited_ms < PROBE_FAST_MS)
		return 10;
	/* then doubling every PROBE_FAST_MS: 20, 40, 80, PROBE_SLOW_MS */
	for (uint64_t t = 2 * PROBE_FAST_MS; t <= waited_ms && ms < PROBE_SLOW_MS; t += PROBE_FAST_MS)
		ms *= 2;
	return ms < PROBE_SLOW_MS ? ms : PROBE_SLOW_MS;
}

struct quic_prober {
	int fd;
	unsigned char dcid[8], scid[8], pkt[PROBE_DATAGRAM];
};

int quic_prober_new(const char *ip, int port, struct quic_prober **out)
{
	struct sockaddr_storage ss = { 0 };
	struct quic_prober *p;
	socklen_t sl;
	int r = 0;

	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd = -1;
	if (RAND_bytes(p->dcid, 8) != 1 || RAND_bytes(p->scid, 8) != 1) {
		r = -EIO;
		goto out;
	}
	quic_probe_packet(p->pkt, sizeof(p->pkt), p->dcid, p->scid);
	p->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&ss, sl) < 0)
		r = -errno;
out:
	if (r < 0) {
		quic_prober_free(p);
		return r;
	}
	*out = p;
	return 0;
}

void quic_prober_free(struct quic_prober *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

int quic_prober_send(struct quic_prober *p)
{
	/* a refusal of an earlier probe may be pending: it says nothing about this one */
	if (send(p->fd, p->pkt, sizeof(p->pkt), 0) < 0 && errno != ECONNREFUSED && errno != EAGAIN)
		return -errno;
	return 0;
}

int quic_prober_wait(struct quic_prober *p, int wait_ms, uint32_t *versions, size_t *n)
{
	unsigned char reply[2048];
	uint64_t deadline = pfs_now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
	int r = -ETIMEDOUT;

	for (;;) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		uint64_t now = pfs_now_ms();
		size_t got_n = n ? *n : 0;
		ssize_t got;
		int pr;

		if (now >= deadline)
			return r;
		pr = poll(&pf, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			return r;
		got = recv(p->fd, reply, sizeof(reply), 0);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno; /* ECONNREFUSED: nothing bound to the port yet */
		}
		if (quic_probe_parse_vn(reply, (size_t)got, p->dcid, p->scid, versions, &got_n) == 0) {
			if (n)
				*n = got_n;
			return 0;
		}
		r = -EPROTO;
	}
}

int quic_probe(const char *ip, int port, int wait_ms, uint32_t *versions, size_t *n)
{
	struct quic_prober *p = NULL;
	int r = quic_prober_new(ip, port, &p);

	if (r == 0)
		r = quic_prober_send(p);
	if (r == 0)
		r = quic_prober_wait(p, wait_ms, versions, n);
	quic_prober_free(p);
	return r;
}
