/* SPDX-License-Identifier: MIT */
/*
 * "Does this server answer QUIC?" the way the QUIC interop runner asks: a
 * 1207-byte long-header datagram carrying a version no implementation
 * speaks (0x57414954, "WAIT") must be answered with a Version Negotiation
 * packet. Any QUIC server answers it before any handshake state exists, so
 * it tells "listening and processing packets" from "process started".
 */
#ifndef PANTHERFS_PROBE_H
#define PANTHERFS_PROBE_H

#include <stddef.h>
#include <stdint.h>

#define PROBE_VERSION 0x57414954u
#define PROBE_DATAGRAM 1207

/*
 * Sends one probe to ip:port (IPv4 or IPv6 text) and waits up to wait_ms for
 * a Version Negotiation packet echoing its connection IDs. On success fills
 * versions (up to *n, the count written back) with what the server offers.
 * Returns 0, -ETIMEDOUT (no answer: not listening yet, or dropped),
 * -EPROTO (an answer that is not a matching VN), or another -errno.
 */
int quic_probe(const char *ip, int port, int wait_ms, uint32_t *versions, size_t *n);

/* Builds the probe datagram (exposed for tests): dcid and scid are 8 bytes. */
size_t quic_probe_packet(unsigned char *buf, size_t len, const unsigned char dcid[8],
			 const unsigned char scid[8]);

/* Checks a reply against the ids the probe sent; returns 0 or -EPROTO. */
int quic_probe_parse_vn(const unsigned char *pkt, size_t len, const unsigned char dcid[8],
			const unsigned char scid[8], uint32_t *versions, size_t *n);

#endif
