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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pantherfs/buf.h"

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

/*
 * The same, as many probes as a wait needs: one socket and one pair of
 * connection IDs for all of them, so a late answer to an earlier probe is
 * taken by a later wait. Not thread-safe (one waiter).
 *   quic_prober_new    -EINVAL (not an address), -ENOMEM, -EIO, -errno
 *   quic_prober_send   sends one datagram; 0 or -errno
 *   quic_prober_wait   up to wait_ms for a matching Version Negotiation:
 *                      0 (versions filled as quic_probe does), -ETIMEDOUT,
 *                      -ECONNREFUSED at once when the port is not bound,
 *                      -EPROTO when only non-matching datagrams came
 *   quic_prober_free   accepts NULL
 */
struct quic_prober;
int quic_prober_new(const char *ip, int port, struct quic_prober **out);
int quic_prober_send(struct quic_prober *p);
int quic_prober_wait(struct quic_prober *p, int wait_ms, uint32_t *versions, size_t *n);
void quic_prober_free(struct quic_prober *p);

/*
 * How long to wait after the probe numbered attempt (0: the first, sent at
 * once) before the next, waited_ms into the wait. A server starts listening
 * tens of milliseconds after its container starts, so the cadence begins at
 * 2 ms and stays at 10 ms for the first PROBE_FAST_MS: readiness is seen
 * within 10 ms of the server answering. A server slow to start (a debugger
 * wrapper, a cold cache) is then probed less often, up to every
 * PROBE_SLOW_MS. Each probe is one datagram, and each wait is also the
 * probe's own wait for the answer: an unbound port answers ICMP, which the
 * kernel rate-limits per peer, so a refused probe and a dropped one cost the
 * same interval.
 */
#define PROBE_FAST_MS 3000
#define PROBE_SLOW_MS 100
int quic_probe_interval_ms(unsigned attempt, uint64_t waited_ms);

/* Builds the probe datagram (exposed for tests): dcid and scid are 8 bytes. */
size_t quic_probe_packet(unsigned char *buf, size_t len, const unsigned char dcid[8],
			 const unsigned char scid[8]);

/*
 * The same probe from inside a network the host cannot reach (a Swarm
 * overlay): a bash script for a helper container on that network. It sends
 * the datagram of dcid and scid to ip:port through bash's /dev/udp (in one
 * write, through dd), keeps what comes back within 250 ms, and on the first
 * answer prints it as hex (od), then the line QUIC_PROBE_ANSWERED; it tries
 * again every 300 ms or so (a refused port costs the 50 ms pause) for
 * bound_s seconds, then prints QUIC_PROBE_NO_ANSWER. Then it exits (0 on an
 * answer, 1 without), or with hold it sleeps until it is removed: a helper
 * that stays keeps the overlay instantiated on its engine, so the next
 * helper's attachment does not race the teardown of the last one's. It
 * needs bash, timeout, cat, dd, od, sleep and a writable /tmp (every Debian
 * image). The answer is judged here, not in the container:
 * quic_probe_hex_decode() on what precedes the marker, then
 * quic_probe_parse_vn(). Appends to out; -EINVAL for a bad address or
 * port, -ENOMEM when out is full.
 */
#define QUIC_PROBE_ANSWERED "pfs-probe: answered"
#define QUIC_PROBE_NO_ANSWER "pfs-probe: no answer"
int quic_probe_script(const char *ip, int port, int bound_s, bool hold, const unsigned char dcid[8],
		      const unsigned char scid[8], struct pfs_buf *out);
/*
 * Decodes od's "-An -tx1" output (hex bytes separated by blanks and
 * newlines) into out (up to cap bytes); *len is how many. -EPROTO at
 * anything else, -E2BIG past cap.
 */
int quic_probe_hex_decode(const char *text, unsigned char *out, size_t cap, size_t *len);

/*
 * Judges what a helper running quic_probe_script() printed so far: 0 with
 * versions (as quic_probe fills them) when it answered with a matching
 * Version Negotiation, -EAGAIN while it has printed no marker yet,
 * -ETIMEDOUT when it gave up, -EPROTO when what it printed is not a
 * matching answer.
 */
int quic_probe_helper_result(const char *printed, const unsigned char dcid[8], const unsigned char scid[8],
			     uint32_t *versions, size_t *n);

/* Checks a reply against the ids the probe sent; returns 0 or -EPROTO. */
int quic_probe_parse_vn(const unsigned char *pkt, size_t len, const unsigned char dcid[8],
			const unsigned char scid[8], uint32_t *versions, size_t *n);

#endif
