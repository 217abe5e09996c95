/* SPDX-License-Identifier: MIT */
/*
 * pfs-netem: what tc's netem does to a link's egress (delay, jitter, loss,
 * duplicate, corrupt, reorder) plus the interop runner's blackhole, done in
 * user space on an NFQUEUE. pantherfs's netem helper runs it in a service's
 * network namespace, with an iptables rule sending the interface's output
 * to the queue.
 *
 * Why not netem itself: many Docker hosts run kernels without sch_netem
 * (CONFIG_NET_SCH_NETEM unset, no modules: the VMs pantherfs is tested on),
 * while every Docker host has netfilter, which Docker needs itself. Rates
 * stay in the kernel (tbf), which every kernel has.
 *
 * Semantics follow netem(8), in its order: a packet is dropped (loss), may
 * be duplicated, may be corrupted (one random bit of the UDP payload; the
 * UDP checksum is made right again, so the QUIC stack, not the kernel, meets
 * the damage), then held for latency +- jitter (uniform), or sent at once
 * with probability reorder (netem's reordering; only with a latency). With
 * jitter, packets may leave out of order, as with netem. At most `limit`
 * packets are held (netem's default, 1000); more are dropped.
 * The blackhole drops every packet during the last `off` seconds of each
 * `on + off` period, counted from the start.
 *
 * The kernel keeps each queued packet until its verdict, so holding one
 * costs no copy; copies sent by duplication go out through a raw socket
 * whose mark (--mark) the iptables rule lets pass.
 *
 * Prints one line when the queue is bound ("pfs-netem: ready ...", and
 * touches --ready FILE), and its counters when it ends (SIGTERM, SIGINT).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif

struct pkt {
	uint64_t due_ns;
	uint64_t seq;          /* ties keep arrival order */
	uint32_t id;
	bool dup;
	unsigned char *data;   /* the corrupted packet, else NULL (the kernel's is sent) */
	uint32_t len;
	unsigned char *copy;   /* for dup: what the raw socket sends */
	uint32_t copy_len;
};

struct emu {
	/* settings */
	unsigned queue;
	double delay_ms, jitter_ms, loss, duplicate, corrupt, reorder;   /* percent */
	double on_s, off_s;
	unsigned limit;
	uint32_t mark;
	const char *ready;
	/* state */
	struct nfq_q_handle *qh;
	struct pkt *heap;
	size_t n, alloc;
	uint64_t seq, start_ns, rng;
	int raw4, raw6;
	/* counters */
	uint64_t in, passed, lost, duplicated, corrupted, reordered, blackholed, overlimit, failed;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, and good enough to decide the fate of packets */
static uint64_t rnd(struct emu *e)
{
	e->rng ^= e->rng >> 12;
	e->rng ^= e->rng << 25;
	e->rng ^= e->rng >> 27;
	return e->rng * 2685821657736338717ull;
}

/* uniform in [0, 1) */
static double rnd01(struct emu *e)
{
	return (double)(rnd(e) >> 11) * (1.0 / 9007199254740992.0);
}

static bool chance(struct emu *e, double percent)
{
	return percent > 0 && rnd01(e) * 100.0 < percent;
}

/* ---- the held packets: a binary min-heap on (due, seq) ---------------------------------- */

static bool before(const struct pkt *a, const struct pkt *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static int heap_push(struct emu *e, const struct pkt *p)
{
	size_t i;

	if (e->n == e->alloc) {
		size_t na = e->alloc ? e->alloc * 2 : 256;
		struct pkt *nh = realloc(e->heap, na * sizeof(*nh));

		if (!nh)
			return -ENOMEM;
		e->heap = nh;
		e->alloc = na;
	}
	i = e->n++;
	e->heap[i] = *p;
	while (i > 0 && before(&e->heap[i], &e->heap[(i - 1) / 2])) {
		struct pkt t = e->heap[i];

		e->heap[i] = e->heap[(i - 1) / 2];
		e->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
	return 0;
}

static struct pkt heap_pop(struct emu *e)
{
	struct pkt top = e->heap[0];
	size_t i = 0;

	e->heap[0] = e->heap[--e->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < e->n && before(&e->heap[l], &e->heap[m]))
			m = l;
		if (r < e->n && before(&e->heap[r], &e->heap[m]))
			m = r;
		if (m == i)
			break;
		struct pkt t = e->heap[i];
		e->heap[i] = e->heap[m];
		e->heap[m] = t;
		i = m;
	}
	return top;
}

/* ---- packets ---------------------------------------------------------------------------- */

static uint32_t sum16(const unsigned char *p, size_t len, uint32_t s)
{
	for (; len > 1; p += 2, len -= 2)
		s += (uint32_t)p[0] << 8 | p[1];
	if (len)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/*
 * Flips one random bit of the UDP payload and makes the UDP checksum right
 * again; for other protocols, one bit after the IP header (the receiver's
 * checksum then drops it, as with netem). false when there is nothing to flip.
 */
static bool corrupt_packet(struct emu *e, unsigned char *d, size_t len)
{
	size_t l3, l4 = 0, off;
	int proto;

	if (len < 20)
		return false;
	if ((d[0] >> 4) == 4) {
		l3 = (size_t)(d[0] & 0xf) * 4;
		proto = d[9];
	} else if ((d[0] >> 4) == 6 && len >= 40) {
		l3 = 40;
		proto = d[6];
	} else {
		return false;
	}
	if (proto == IPPROTO_UDP)
		l4 = 8;
	if (len <= l3 + l4)
		return false;
	off = l3 + l4 + (size_t)(rnd(e) % (len - l3 - l4));
	d[off] ^= (unsigned char)(1u << (rnd(e) % 8));
	if (proto == IPPROTO_UDP && len >= l3 + 8) {
		unsigned char *u = d + l3;
		size_t ulen = len - l3;
		uint32_t s = 0;
		uint16_t c;

		u[6] = u[7] = 0;
		if ((d[0] >> 4) == 4)
			s = sum16(d + 12, 8, 0);
		else
			s = sum16(d + 8, 32, 0);
		s += IPPROTO_UDP + (uint32_t)ulen;
		c = fold(sum16(u, ulen, s));
		if (c == 0)
			c = 0xffff;
		u[6] = (unsigned char)(c >> 8);
		u[7] = (unsigned char)c;
	}
	return true;
}

static void send_copy(struct emu *e, const unsigned char *d, size_t len)
{
	if (len >= 20 && (d[0] >> 4) == 4 && e->raw4 >= 0) {
		struct sockaddr_in to = { .sin_family = AF_INET };

		memcpy(&to.sin_addr, d + 16, 4);
		if (sendto(e->raw4, d, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len)
			return;
	} else if (len >= 40 && (d[0] >> 4) == 6 && e->raw6 >= 0) {
		struct sockaddr_in6 to = { .sin6_family = AF_INET6 };

		memcpy(&to.sin6_addr, d + 24, 16);
		if (sendto(e->raw6, d, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len)
			return;
	}
	e->failed++;
}

static void release(struct emu *e, struct pkt *p)
{
	if (nfq_set_verdict(e->qh, p->id, NF_ACCEPT, p->data ? p->len : 0, p->data) < 0)
		e->failed++;
	else
		e->passed++;
	if (p->copy)
		send_copy(e, p->copy, p->copy_len);
	free(p->data);
	free(p->copy);
}

static bool blackholed(struct emu *e, uint64_t now)
{
	double period = e->on_s + e->off_s, t;

	if (e->off_s <= 0)
		return false;
	t = (double)(now - e->start_ns) / 1e9;
	t -= period * (double)(uint64_t)(t / period);
	return t >= e->on_s;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *ud)
{
	struct emu *e = ud;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *payload = NULL;
	int len = nfq_get_payload(nfa, &payload);
	uint64_t now = now_ns();
	struct pkt p = { 0 };
	double d;

	(void)msg;
	if (!ph)
		return 0;
	p.id = ntohl(ph->packet_id);
	e->in++;
	if (blackholed(e, now)) {
		e->blackholed++;
		return nfq_set_verdict(qh, p.id, NF_DROP, 0, NULL);
	}
	if (chance(e, e->loss)) {
		e->lost++;
		return nfq_set_verdict(qh, p.id, NF_DROP, 0, NULL);
	}
	if (chance(e, e->duplicate) && len > 0 && (p.copy = malloc((size_t)len))) {
		memcpy(p.copy, payload, (size_t)len);
		p.copy_len = (uint32_t)len;
		e->duplicated++;
	}
	if (chance(e, e->corrupt) && len > 0 && (p.data = malloc((size_t)len))) {
		memcpy(p.data, payload, (size_t)len);
		p.len = (uint32_t)len;
		if (corrupt_packet(e, p.data, p.len)) {
			e->corrupted++;
		} else {
			free(p.data);
			p.data = NULL;
		}
	}
	d = e->delay_ms;
	if (e->jitter_ms > 0)
		d += (rnd01(e) * 2 - 1) * e->jitter_ms;
	if (d < 0)
		d = 0;
	if (e->delay_ms > 0 && chance(e, e->reorder)) {
		d = 0;
		e->reordered++;
	}
	if (d <= 0) {
		release(e, &p);
		return 0;
	}
	if (e->n >= e->limit) {
		e->overlimit++;
		free(p.data);
		free(p.copy);
		return nfq_set_verdict(qh, p.id, NF_DROP, 0, NULL);
	}
	p.due_ns = now + (uint64_t)(d * 1e6);
	p.seq = e->seq++;
	if (heap_push(e, &p) < 0) {
		release(e, &p);
		e->failed++;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: pfs-netem [--queue=N] [--delay=MS] [--jitter=MS] [--loss=PCT] [--duplicate=PCT]\n"
			"                 [--corrupt=PCT] [--reorder=PCT] [--blackhole=ON:OFF] [--limit=PACKETS]\n"
			"                 [--mark=N] [--ready=FILE]\n");
	exit(2);
}

static double num(const char *s, double lo, double hi)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "pfs-netem: \"%s\": not a number in %g-%g\n", s, lo, hi);
		exit(2);
	}
	return v;
}

static void parse(struct emu *e, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "queue", 1, NULL, 'q' }, { "delay", 1, NULL, 'd' }, { "jitter", 1, NULL, 'j' },
		{ "loss", 1, NULL, 'l' }, { "duplicate", 1, NULL, 'D' }, { "corrupt", 1, NULL, 'c' },
		{ "reorder", 1, NULL, 'r' }, { "blackhole", 1, NULL, 'b' }, { "limit", 1, NULL, 'L' },
		{ "mark", 1, NULL, 'm' }, { "ready", 1, NULL, 'R' }, { NULL, 0, NULL, 0 },
	};
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q': e->queue = (unsigned)num(optarg, 0, 65535); break;
		case 'd': e->delay_ms = num(optarg, 0, 600000); break;
		case 'j': e->jitter_ms = num(optarg, 0, 600000); break;
		case 'l': e->loss = num(optarg, 0, 100); break;
		case 'D': e->duplicate = num(optarg, 0, 100); break;
		case 'c': e->corrupt = num(optarg, 0, 100); break;
		case 'r': e->reorder = num(optarg, 0, 100); break;
		case 'L': e->limit = (unsigned)num(optarg, 1, 1000000); break;
		case 'm': e->mark = (uint32_t)num(optarg, 1, 4294967295.0); break;
		case 'R': e->ready = optarg; break;
		case 'b': {
			char *colon = strchr(optarg, ':');

			if (!colon)
				usage();
			*colon = '\0';
			e->on_s = num(optarg, 0.001, 86400);
			e->off_s = num(colon + 1, 0.001, 86400);
			break;
		}
		default: usage();
		}
	}
	if (optind != argc)
		usage();
}

static int raw_socket(int family, uint32_t mark)
{
	int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW), one = 1;

	if (fd < 0)
		return -1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_HDRINCL, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
		/* an unmarked copy would be queued again: better no copies */
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct emu e = { .limit = 1000, .mark = 0x7066, .raw4 = -1, .raw6 = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct nfq_handle *h;
	char buf[65536 + 4096];
	int fd, one = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse(&e, argc, argv);
	if (getrandom(&e.rng, sizeof(e.rng), 0) != sizeof(e.rng) || !e.rng)
		e.rng = now_ns() | 1;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (e.duplicate > 0) {
		e.raw4 = raw_socket(AF_INET, e.mark);
		e.raw6 = raw_socket(AF_INET6, e.mark);
		if (e.raw4 < 0) {
			perror("pfs-netem: raw socket for duplicates");
			return 1;
		}
	}
	h = nfq_open();
	if (!h) {
		perror("pfs-netem: nfq_open");
		return 1;
	}
	e.qh = nfq_create_queue(h, (uint16_t)e.queue, on_packet, &e);
	if (!e.qh) {
		perror("pfs-netem: nfq_create_queue");
		return 1;
	}
	if (nfq_set_mode(e.qh, NFQNL_COPY_PACKET, 0xffff) < 0 ||
	    nfq_set_queue_maxlen(e.qh, e.limit * 2 + 64) < 0) {
		perror("pfs-netem: configuring the queue");
		return 1;
	}
	nfnl_rcvbufsiz(nfq_nfnlh(h), 16u << 20);
	fd = nfq_fd(h);
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	e.start_ns = now_ns();
	printf("pfs-netem: ready queue %u delay %gms jitter %gms loss %g%% duplicate %g%% corrupt %g%% "
	       "reorder %g%% blackhole %gs/%gs limit %u\n", e.queue, e.delay_ms, e.jitter_ms, e.loss,
	       e.duplicate, e.corrupt, e.reorder, e.off_s, e.on_s, e.limit);
	if (e.ready) {
		FILE *f = fopen(e.ready, "w");

		if (!f || fclose(f) != 0) {
			perror("pfs-netem: the ready file");
			return 1;
		}
	}

	while (!stopping) {
		uint64_t now = now_ns();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct timespec ts = { 1, 0 };
		ssize_t n;

		while (e.n && e.heap[0].due_ns <= now) {
			struct pkt p = heap_pop(&e);

			release(&e, &p);
		}
		if (e.n) {
			uint64_t wait = e.heap[0].due_ns - now;

			ts.tv_sec = (time_t)(wait / 1000000000ull);
			ts.tv_nsec = (long)(wait % 1000000000ull);
		}
		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR) {
			perror("pfs-netem: ppoll");
			break;
		}
		if (!(pfd.revents & POLLIN))
			continue;
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			nfq_handle_packet(h, buf, (int)n);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ENOBUFS) {
			perror("pfs-netem: recv");
			break;
		}
	}
	/* what is held goes out: the link ends, it does not eat packets */
	while (e.n) {
		struct pkt p = heap_pop(&e);

		release(&e, &p);
	}
	printf("pfs-netem: counters in %llu passed %llu lost %llu duplicated %llu corrupted %llu reordered %llu "
	       "blackholed %llu overlimit %llu failed %llu\n", (unsigned long long)e.in,
	       (unsigned long long)e.passed, (unsigned long long)e.lost, (unsigned long long)e.duplicated,
	       (unsigned long long)e.corrupted, (unsigned long long)e.reordered, (unsigned long long)e.blackholed,
	       (unsigned long long)e.overlimit, (unsigned long long)e.failed);
	nfq_destroy_queue(e.qh);
	nfq_close(h);
	free(e.heap);
	return stopping ? 0 : 1;
}
