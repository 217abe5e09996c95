/* SPDX-License-Identifier: MIT */
/*
 * The readiness probe: one UDP datagram out, one Version Negotiation back.
 * A connected UDP socket, so ICMP port-unreachable surfaces as ECONNREFUSED
 * on the next receive (the server is not bound yet) instead of a silent
 * wait for the whole timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
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

int quic_probe(const char *ip, int port, int wait_ms, uint32_t *versions, size_t *n)
{
	unsigned char pkt[PROBE_DATAGRAM], reply[2048], dcid[8], scid[8];
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	uint64_t deadline = pfs_now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
	int fd, r = -ETIMEDOUT;

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
	if (RAND_bytes(dcid, 8) != 1 || RAND_bytes(scid, 8) != 1)
		return -EIO;
	quic_probe_packet(pkt, sizeof(pkt), dcid, scid);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 || send(fd, pkt, sizeof(pkt), 0) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		uint64_t now = pfs_now_ms();
		ssize_t got;
		int pr;

		if (now >= deadline)
			break;
		pr = poll(&pf, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		got = recv(fd, reply, sizeof(reply), 0);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = -errno; /* ECONNREFUSED: nothing bound to the port yet */
			break;
		}
		r = quic_probe_parse_vn(reply, (size_t)got, dcid, scid, versions, n);
		if (r == 0)
			break;
	}
out:
	close(fd);
	return r;
}
