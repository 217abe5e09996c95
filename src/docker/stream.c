/* SPDX-License-Identifier: MIT */
/*
 * Stream decoders: NDJSON lines, 8-byte framed logs, line splitting, build
 * message classification. Pure state machines over chunks: they keep only
 * the partial item at a chunk boundary, capped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pantherfs/docker_stream.h"
#include "pantherfs/banned.h"

/* ---- NDJSON ------------------------------------------------------------------ */

void docker_ndjson_init(struct docker_ndjson *d)
{
	pfs_buf_init(&d->line, DOCKER_NDJSON_LINE_MAX);
	d->overlong = false;
}

void docker_ndjson_release(struct docker_ndjson *d)
{
	pfs_buf_release(&d->line);
}

static int ndjson_emit(const char *p, size_t n, docker_ndjson_cb cb, void *ud)
{
	json_error_t jerr;
	json_t *obj;
	int r;

	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	while (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
		p++;
		n--;
	}
	if (n == 0)
		return 0;
	obj = json_loadb(p, n, 0, &jerr);
	r = cb(ud, obj, p, n);
	json_decref(obj);
	return r;
}

int docker_ndjson_feed(struct docker_ndjson *d, const char *data, size_t len,
		       docker_ndjson_cb cb, void *ud)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		int r = 0;

		if (d->overlong) {
			if (nl)
				d->overlong = false;
		} else if (nl && d->line.len == 0) {
			/* whole line inside this chunk: no copy */
			r = ndjson_emit(data, take, cb, ud);
		} else if (d->line.len + take > DOCKER_NDJSON_LINE_MAX) {
			size_t room = DOCKER_NDJSON_LINE_MAX - d->line.len;

			if (pfs_buf_add(&d->line, data, room) < 0)
				return -ENOMEM;
			r = cb(ud, NULL, d->line.ptr, d->line.len);
			pfs_buf_reset(&d->line);
			d->overlong = !nl;
		} else {
			if (pfs_buf_add(&d->line, data, take) < 0)
				return -ENOMEM;
			if (nl) {
				r = ndjson_emit(d->line.ptr, d->line.len, cb, ud);
				pfs_buf_reset(&d->line);
			}
		}
		if (r < 0)
			return r;
		if (!nl)
			break;
		data = nl + 1;
		len -= take + 1;
	}
	return 0;
}

int docker_ndjson_finish(struct docker_ndjson *d, docker_ndjson_cb cb, void *ud)
{
	int r = 0;

	if (d->line.len > 0 && !d->overlong)
		r = ndjson_emit(d->line.ptr, d->line.len, cb, ud);
	pfs_buf_reset(&d->line);
	d->overlong = false;
	return r;
}

/* ---- Frames ------------------------------------------------------------------ */

void docker_frames_init(struct docker_frames *f, bool raw)
{
	memset(f, 0, sizeof(*f));
	f->raw = raw;
}

bool docker_frames_complete(const struct docker_frames *f)
{
	return f->raw || (f->hdr_len == 0 && f->remaining == 0);
}

int docker_frames_feed(struct docker_frames *f, const char *data, size_t len,
		       docker_frames_cb cb, void *ud)
{
	if (f->raw)
		return len ? cb(ud, DOCKER_STDOUT, data, len, false) : 0;

	while (len > 0) {
		if (f->remaining == 0) {
			size_t want = 8 - f->hdr_len, take = len < want ? len : want;

			memcpy(f->hdr + f->hdr_len, data, take);
			f->hdr_len += take;
			data += take;
			len -= take;
			if (f->hdr_len < 8)
				break;
			if (f->hdr[0] > 2 || f->hdr[1] || f->hdr[2] || f->hdr[3])
				return -EPROTO;
			f->cur = (enum docker_log_stream)f->hdr[0];
			f->remaining = (uint32_t)f->hdr[4] << 24 | (uint32_t)f->hdr[5] << 16 |
				       (uint32_t)f->hdr[6] << 8 | (uint32_t)f->hdr[7];
			f->hdr_len = 0;
			if (f->remaining == 0) {
				/* an empty frame still ends an entry */
				int r = cb(ud, f->cur, data, 0, true);
				if (r < 0)
					return r;
			}
			continue;
		}
		size_t take = len < f->remaining ? len : f->remaining;
		int r = cb(ud, f->cur, data, take, take == f->remaining);

		if (r < 0)
			return r;
		f->remaining -= (uint32_t)take;
		data += take;
		len -= take;
	}
	return 0;
}

/* ---- Log entries ------------------------------------------------------------- */

void docker_entries_init(struct docker_entries *e, bool raw, docker_entry_cb cb, void *ud)
{
	memset(e, 0, sizeof(*e));
	docker_frames_init(&e->frames, raw);
	pfs_buf_init(&e->cur, DOCKER_LOG_ENTRY_MAX);
	e->cb = cb;
	e->ud = ud;
}

void docker_entries_release(struct docker_entries *e)
{
	pfs_buf_release(&e->cur);
}

/* Splits the timestamp off an entry that starts in cur and delivers it. */
static int entry_emit(struct docker_entries *e, bool last)
{
	const char *ts, *pl;
	size_t tslen, plen;
	int r;

	if (e->ts[0]) {
		/* a continuation part of an over-long entry: same stamp */
		r = e->cb(e->ud, e->cur_stream, e->ts, strlen(e->ts), e->cur.ptr, e->cur.len);
	} else if (docker_log_split_ts(pfs_buf_str(&e->cur), e->cur.len, &ts, &tslen, &pl, &plen) == 0 &&
		   tslen < sizeof(e->ts)) {
		if (!last) {
			memcpy(e->ts, ts, tslen);
			e->ts[tslen] = '\0';
		}
		r = e->cb(e->ud, e->cur_stream, ts, tslen, pl, plen);
	} else {
		r = e->cb(e->ud, e->cur_stream, "", 0, pfs_buf_str(&e->cur), e->cur.len);
	}
	pfs_buf_reset(&e->cur);
	if (last)
		e->ts[0] = '\0';
	return r;
}

static int entry_piece(void *ud, enum docker_log_stream s, const char *data, size_t len, bool end)
{
	struct docker_entries *e = ud;
	int r;

	if (e->frames.raw) {
		/* raw: entries are lines */
		while (len > 0) {
			const char *nl = memchr(data, '\n', len);
			size_t take = nl ? (size_t)(nl - data) + 1 : len;

			e->cur_stream = s;
			while (e->cur.len + take > DOCKER_LOG_ENTRY_MAX) {
				size_t room = DOCKER_LOG_ENTRY_MAX - e->cur.len;

				if (pfs_buf_add(&e->cur, data, room) < 0)
					return -ENOMEM;
				if ((r = entry_emit(e, false)) < 0)
					return r;
				data += room;
				len -= room;
				take -= room;
			}
			if (take && pfs_buf_add(&e->cur, data, take) < 0)
				return -ENOMEM;
			data += take;
			len -= take;
			if (nl && (r = entry_emit(e, true)) < 0)
				return r;
		}
		return 0;
	}
	e->cur_stream = s;
	while (e->cur.len + len > DOCKER_LOG_ENTRY_MAX) {
		size_t room = DOCKER_LOG_ENTRY_MAX - e->cur.len;

		if (pfs_buf_add(&e->cur, data, room) < 0)
			return -ENOMEM;
		if ((r = entry_emit(e, false)) < 0)
			return r;
		data += room;
		len -= room;
	}
	if (len && pfs_buf_add(&e->cur, data, len) < 0)
		return -ENOMEM;
	return end ? entry_emit(e, true) : 0;
}

int docker_entries_feed(struct docker_entries *e, const char *data, size_t len)
{
	return docker_frames_feed(&e->frames, data, len, entry_piece, e);
}

int docker_entries_finish(struct docker_entries *e)
{
	if (e->cur.len == 0)
		return 0;
	return entry_emit(e, true);
}

/* ---- Lines ------------------------------------------------------------------- */

void docker_lines_init(struct docker_lines *l, size_t max)
{
	l->max = max ? max : 65536;
	pfs_buf_init(&l->cur, l->max);
}

void docker_lines_release(struct docker_lines *l)
{
	pfs_buf_release(&l->cur);
}

int docker_lines_feed(struct docker_lines *l, const char *data, size_t len,
		      docker_lines_cb cb, void *ud)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		int r;

		/* fill the current line up to max; emit a partial piece when full */
		while (l->cur.len + take > l->max) {
			size_t room = l->max - l->cur.len;

			if (pfs_buf_add(&l->cur, data, room) < 0)
				return -ENOMEM;
			r = cb(ud, l->cur.ptr, l->cur.len, true);
			pfs_buf_reset(&l->cur);
			if (r < 0)
				return r;
			data += room;
			len -= room;
			take -= room;
		}
		if (!nl) {
			if (take && pfs_buf_add(&l->cur, data, take) < 0)
				return -ENOMEM;
			break;
		}
		if (l->cur.len == 0) {
			r = cb(ud, data, take, false);
		} else {
			if (take && pfs_buf_add(&l->cur, data, take) < 0)
				return -ENOMEM;
			r = cb(ud, l->cur.ptr, l->cur.len, false);
			pfs_buf_reset(&l->cur);
		}
		if (r < 0)
			return r;
		data += take + 1;
		len -= take + 1;
	}
	return 0;
}

int docker_lines_finish(struct docker_lines *l, docker_lines_cb cb, void *ud)
{
	int r = 0;

	if (l->cur.len > 0)
		r = cb(ud, l->cur.ptr, l->cur.len, false);
	pfs_buf_reset(&l->cur);
	return r;
}

/* ---- Timestamps -------------------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int docker_log_split_ts(const char *line, size_t len, const char **ts, size_t *tslen,
			const char **payload, size_t *plen)
{
	const char *sp = memchr(line, ' ', len);
	size_t n;

	/* shortest form: 2006-01-02T15:04:05Z */
	if (!sp)
		n = len;
	else
		n = (size_t)(sp - line);
	if (n < 20 || !is_digit(line[0]) || line[4] != '-' || line[10] != 'T' ||
	    (line[n - 1] != 'Z' && !is_digit(line[n - 1])))
		return -EINVAL;
	*ts = line;
	*tslen = n;
	*payload = sp ? sp + 1 : line + len;
	*plen = sp ? len - n - 1 : 0;
	return 0;
}

/*
 * Timestamps from one engine are UTC with "Z" and up to 9 fraction digits
 * whose trailing zeros are trimmed (Go's RFC3339Nano), so compare the
 * seconds part as text, then the fractions as zero-padded digits.
 */
int docker_ts_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t as = 0, bs = 0;
	int c;

	while (as < alen && a[as] != '.' && a[as] != 'Z' && a[as] != '+')
		as++;
	while (bs < blen && b[bs] != '.' && b[bs] != 'Z' && b[bs] != '+')
		bs++;
	c = memcmp(a, b, as < bs ? as : bs);
	if (c || as != bs)
		return c ? c : (as < bs ? -1 : 1);
	for (size_t i = 1; i <= 9; i++) {
		char x = (as < alen && a[as] == '.' && as + i < alen && is_digit(a[as + i])) ? a[as + i] : '0';
		char y = (bs < blen && b[bs] == '.' && bs + i < blen && is_digit(b[bs + i])) ? b[bs + i] : '0';

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/* ---- Build output -------------------------------------------------------------- */

static bool parse_step(const char *s, int *step, int *steps)
{
	char *end;
	long a, b;

	if (strncmp(s, "Step ", 5) != 0)
		return false;
	a = strtol(s + 5, &end, 10);
	if (end == s + 5 || *end != '/')
		return false;
	s = end + 1;
	b = strtol(s, &end, 10);
	if (end == s || a < 1 || b < a || b > 100000)
		return false;
	*step = (int)a;
	*steps = (int)b;
	return true;
}

void docker_build_classify(json_t *obj, struct docker_build_msg *m)
{
	json_t *v;
	const char *s;

	memset(m, 0, sizeof(*m));
	m->kind = DOCKER_BUILD_OTHER;
	if (!json_is_object(obj))
		return;

	v = json_object_get(obj, "errorDetail");
	if (json_is_object(v) && json_is_string(json_object_get(v, "message"))) {
		m->kind = DOCKER_BUILD_ERROR;
		m->text = json_string_value(json_object_get(v, "message"));
		return;
	}
	if (json_is_string(json_object_get(obj, "error"))) {
		m->kind = DOCKER_BUILD_ERROR;
		m->text = json_string_value(json_object_get(obj, "error"));
		return;
	}
	v = json_object_get(obj, "aux");
	if (json_is_object(v) && json_is_string(json_object_get(v, "ID"))) {
		m->kind = DOCKER_BUILD_IMAGE;
		m->text = json_string_value(json_object_get(v, "ID"));
		return;
	}
	s = json_string_value(json_object_get(obj, "stream"));
	if (!s)
		s = json_string_value(json_object_get(obj, "status"));
	if (!s)
		return;
	m->text = s;
	if (parse_step(s, &m->step, &m->steps)) {
		m->kind = DOCKER_BUILD_STEP;
		return;
	}
	m->kind = DOCKER_BUILD_TEXT;
}
