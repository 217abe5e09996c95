/* SPDX-License-Identifier: MIT */
/*
 * Decoders for the byte streams the Docker Engine API sends, as pure
 * functions over chunks: no I/O, no threads, no clocks. A chunk boundary may
 * fall anywhere (inside a JSON line, inside an 8-byte frame header); feeding
 * the same bytes in any split yields the same callbacks in the same order.
 *
 * Every decoder caps what it buffers. Callbacks return 0 to go on or a
 * negative errno to stop; a feed function returns that value unchanged.
 */
#ifndef PANTHERFS_DOCKER_STREAM_H
#define PANTHERFS_DOCKER_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pantherfs/buf.h"

/* ---- NDJSON (build output, events, pull progress) ---------------------- */

#define DOCKER_NDJSON_LINE_MAX (1u << 20)

/*
 * obj is the parsed line (borrowed: valid during the call only; json_incref
 * it to keep it) or NULL when the line is not JSON or is longer than
 * DOCKER_NDJSON_LINE_MAX; raw/rawlen are the line without its newline
 * (for an over-long line: its first DOCKER_NDJSON_LINE_MAX bytes).
 * Empty lines are skipped.
 */
typedef int (*docker_ndjson_cb)(void *ud, json_t *obj, const char *raw, size_t rawlen);

struct docker_ndjson {
	struct pfs_buf line;
	bool overlong; /* dropping bytes until the next newline */
};

void docker_ndjson_init(struct docker_ndjson *d);
void docker_ndjson_release(struct docker_ndjson *d);
int docker_ndjson_feed(struct docker_ndjson *d, const char *data, size_t len,
		       docker_ndjson_cb cb, void *ud);
/* Delivers a last line that had no newline; call at end of stream. */
int docker_ndjson_finish(struct docker_ndjson *d, docker_ndjson_cb cb, void *ud);

/* ---- Container log streams ---------------------------------------------- */

enum docker_log_stream {
	DOCKER_STDIN = 0,
	DOCKER_STDOUT = 1,
	DOCKER_STDERR = 2,
};

/*
 * Multiplexed streams (no TTY) carry frames [stream,0,0,0,len32 BE] + len
 * bytes; raw streams (TTY) carry bare bytes, all reported as DOCKER_STDOUT.
 * Payload is delivered as it arrives, possibly in several pieces per frame;
 * only the 8-byte header is reassembled. `end` is true on the last piece of
 * a frame (always false for raw streams, which have no frames). A header
 * whose stream byte is not 0, 1 or 2 or whose padding is non-zero fails
 * with -EPROTO.
 */
typedef int (*docker_frames_cb)(void *ud, enum docker_log_stream s, const char *data, size_t len,
				bool end);

struct docker_frames {
	bool raw;
	unsigned char hdr[8];
	size_t hdr_len;
	uint32_t remaining;
	enum docker_log_stream cur;
};

void docker_frames_init(struct docker_frames *f, bool raw);
int docker_frames_feed(struct docker_frames *f, const char *data, size_t len,
		       docker_frames_cb cb, void *ud);
/* True when the stream ended between frames (false: cut inside a frame). */
bool docker_frames_complete(const struct docker_frames *f);

/*
 * Log entries of a stream fetched with timestamps=1: the engine stamps each
 * log message, and splits messages longer than 16 KiB into several, each
 * stamped, only the last ending in a newline. Framed streams: one entry per
 * frame. Raw (TTY) streams: one entry per line. The payload keeps its
 * newline when it had one; ts is the engine's RFC 3339 timestamp, or empty
 * when the entry had none (then payload is the whole entry). Entries longer
 * than DOCKER_LOG_ENTRY_MAX are delivered in several parts with the same ts.
 */
#define DOCKER_LOG_ENTRY_MAX (256u << 10)

typedef int (*docker_entry_cb)(void *ud, enum docker_log_stream s, const char *ts, size_t tslen,
			       const char *payload, size_t plen);

struct docker_entries {
	struct docker_frames frames;
	struct pfs_buf cur;
	char ts[48];
	enum docker_log_stream cur_stream;
	docker_entry_cb cb;
	void *ud;
};

void docker_entries_init(struct docker_entries *e, bool raw, docker_entry_cb cb, void *ud);
void docker_entries_release(struct docker_entries *e);
int docker_entries_feed(struct docker_entries *e, const char *data, size_t len);
/* Delivers a last unterminated raw line; call at the end of the stream. */
int docker_entries_finish(struct docker_entries *e);

/* ---- Lines --------------------------------------------------------------- */

/*
 * Splits a byte stream into lines (without the newline). A line longer than
 * `max` is delivered in pieces of `max` bytes with partial=true on all but
 * the last piece.
 */
typedef int (*docker_lines_cb)(void *ud, const char *line, size_t len, bool partial);

struct docker_lines {
	struct pfs_buf cur;
	size_t max;
};

void docker_lines_init(struct docker_lines *l, size_t max);
void docker_lines_release(struct docker_lines *l);
int docker_lines_feed(struct docker_lines *l, const char *data, size_t len,
		      docker_lines_cb cb, void *ud);
int docker_lines_finish(struct docker_lines *l, docker_lines_cb cb, void *ud);

/*
 * A log line fetched with timestamps=1 is "<RFC 3339 nano> <payload>".
 * On success (ts, tslen) is the timestamp and (payload, plen) the rest.
 * -EINVAL when the line does not start with a timestamp.
 */
int docker_log_split_ts(const char *line, size_t len, const char **ts, size_t *tslen,
			const char **payload, size_t *plen);
/* Compares two Docker RFC 3339 timestamps (UTC, any fraction): <0, 0, >0. */
int docker_ts_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* ---- Build output --------------------------------------------------------- */

enum docker_build_kind {
	DOCKER_BUILD_TEXT,  /* text: output of the builder ("stream"/"status") */
	DOCKER_BUILD_STEP,  /* step/steps: "Step 12/31 : RUN ..." began; text as well */
	DOCKER_BUILD_IMAGE, /* text: the image id (aux.ID or "Successfully built") */
	DOCKER_BUILD_ERROR, /* text: errorDetail.message, else error */
	DOCKER_BUILD_OTHER, /* anything else (progressDetail, aux of other kinds) */
};

struct docker_build_msg {
	enum docker_build_kind kind;
	const char *text; /* borrowed from the JSON object; may be NULL for OTHER */
	int step, steps;
};

/* Classifies one decoded line of POST /build output. */
void docker_build_classify(json_t *obj, struct docker_build_msg *m);

#endif
