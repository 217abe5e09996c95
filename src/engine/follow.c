/* SPDX-License-Identifier: MIT */
/*
 * Following a container's logs into the state dir.
 *
 * Entries arrive stamped (timestamps=1) on the Docker client's I/O thread,
 * which matches them against the success lines and hands them to the log
 * writer (logw.c): the writer appends them to services/<s>/logs (page
 * cache, no fsync) and then publishes the new size (log_written). Every
 * 200 ms, and when the stream ends, logs.pos records the stamp of the last
 * entry written, how many entries carried that stamp (Docker splits long
 * lines into entries with one stamp), and the file's size. The position is
 * written after the data, so after a crash the file is cut back to the
 * recorded size and the follow resumes `since` that stamp, skipping the
 * entries already written: the log ends up byte for byte what Docker has,
 * with no gap and no duplicate. The end of a stream goes through the writer
 * too (a marker after its last entry): `following` turns false only once
 * everything the stream brought is on disk.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine_internal.h"
#include "pantherfs/docker_swarm.h"
#include "pantherfs/log.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define POS_EVERY_MS 200
#define RESCAN_CAP (256u << 20)
#define POS_RECORD 160 /* {"ts":<48>,"n":<int>,"size":<int64>} padded with spaces, then a newline */

bool svc_line_matches(const char *text, size_t len, const char *pattern)
{
	size_t pl = strlen(pattern);
	const char *p = text, *end = text + len;

	if (!pl)
		return true;
	while (p < end) {
		const char *hit = memmem(p, (size_t)(end - p), pattern, pl);
		const char *after;

		if (!hit)
			return false;
		after = hit + pl;
		/* the whole message, not a prefix of a longer one ("echo hi" in "echo hit") */
		if (after == end || *after == '\n' || *after == '\r' || *after == ' ' ||
		    pattern[pl - 1] == ' ')
			return true;
		p = hit + 1;
	}
	return false;
}

void svc_pos_save(struct svc *s)
{
	char *path = pfs_strdup_printf("%s/services/%s/logs.pos", s->r->dir, s->name);
	json_t *j = json_pack("{s:s,s:i,s:I}", "ts", s->wr_ts, "n", s->wr_n, "size", (json_int_t)s->log_size);
	char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
	char rec[POS_RECORD];
	int n = txt ? snprintf(rec, sizeof(rec), "%-*s\n", POS_RECORD - 2, txt) : -1;

	/* rewritten in place, padded to one length (see util.h): a reader never sees half a record */
	if (path && (n != POS_RECORD - 1 || pfs_write_file_inplace(path, rec, (size_t)n) < 0))
		pfs_warn("%s: cannot save the log position", path);
	s->pos_written_ms = pfs_now_ms();
	free(txt);
	json_decref(j);
	free(path);
}

int svc_logs_open(struct svc *s)
{
	char *dir = pfs_strdup_printf("%s/services/%s", s->r->dir, s->name);
	char *pos = dir ? pfs_strdup_printf("%s/logs.pos", dir) : NULL;
	struct pfs_buf b = PFS_BUF_INIT(4096);
	struct stat st;
	int r = 0;

	if (!dir || !pos) {
		r = -ENOMEM;
		goto out;
	}
	r = pfs_mkdir_p(dir, 0700);
	if (r < 0)
		goto out;
	if (s->logs_fd >= 0) {
		close(s->logs_fd);
		s->logs_fd = -1;
	}
	s->log_size = 0;
	s->log_broken = false;
	s->last_ts[0] = s->skip_ts[0] = '\0';
	s->n_at_ts = s->skip_n = 0;
	if (pfs_read_file(pos, &b) == 0) {
		json_t *j = json_loadb(b.ptr, b.len, 0, NULL);

		if (j) {
			snprintf(s->last_ts, sizeof(s->last_ts), "%s", json_string_value(json_object_get(j, "ts")) ?: "");
			s->n_at_ts = (int)json_integer_value(json_object_get(j, "n"));
			s->log_size = (off_t)json_integer_value(json_object_get(j, "size"));
			json_decref(j);
		}
	}
	pfs_buf_release(&b);
	s->logs_fd = open(s->logs_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->logs_fd < 0) {
		r = -errno;
		goto out;
	}
	if (fstat(s->logs_fd, &st) == 0) {
		/* written after the last position: those entries come again */
		if (st.st_size > s->log_size && ftruncate(s->logs_fd, s->log_size) < 0)
			r = -errno;
		else if (st.st_size < s->log_size)
			s->log_size = st.st_size;
		s->log_mtime = st.st_mtim;
	}
	memcpy(s->skip_ts, s->last_ts, sizeof(s->skip_ts));
	s->skip_n = s->n_at_ts;
	memcpy(s->wr_ts, s->last_ts, sizeof(s->wr_ts));
	s->wr_n = s->n_at_ts;
out:
	free(pos);
	free(dir);
	return r;
}

void svc_rescan_lines(struct svc *s)
{
	struct pfs_buf b = PFS_BUF_INIT(RESCAN_CAP);

	if (!s->n_lines || pfs_read_file(s->logs_path, &b) < 0)
		return;
	s->n_seen = 0;
	for (size_t i = 0; i < s->n_lines; i++) {
		s->seen[i] = svc_line_matches(b.ptr, b.len < (size_t)s->log_size ? b.len : (size_t)s->log_size,
					  s->cfg->success.lines[i]);
		s->n_seen += s->seen[i];
	}
	pfs_buf_release(&b);
}

/* "2026-11-26T11:14:29.162092118Z" -> "1795691669.162092118" for since= */
static void ts_to_since(const char *ts, char *out, size_t n)
{
	struct tm tm = { 0 };
	const char *frac = strchr(ts, '.');
	char *end = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
	char digits[16] = "0";

	if (!end) {
		out[0] = '\0';
		return;
	}
	if (frac) {
		size_t k = 0;

		for (const char *p = frac + 1; *p >= '0' && *p <= '9' && k < 9; p++)
			digits[k++] = *p;
		digits[k] = '\0';
	}
	snprintf(out, n, "%lld.%s", (long long)timegm(&tm), digits);
}

/* A piece is on disk (the writer's thread): readers may read it now. */
static void log_written(void *owner, const struct logw_item *it, int rc)
{
	struct svc *s = owner;
	struct test *t = s->r->t;

	pthread_mutex_lock(&t->lock);
	if (rc == 0 && !s->log_broken) {
		s->log_size += (off_t)it->len;
		if (it->len)
			pfs_realtime_ts(&s->log_mtime);
		memcpy(s->wr_ts, it->ts, sizeof(s->wr_ts));
		s->wr_n = it->n;
		if (pfs_now_ms() - s->pos_written_ms >= POS_EVERY_MS)
			svc_pos_save(s);
	} else if (rc < 0 && !s->log_broken) {
		/*
		 * Nothing more is published; the stream ends, and the next follow
		 * (after a restart) cuts the file back to its last position.
		 */
		s->log_broken = true;
		pfs_warn("%s: cannot write: %s", s->logs_path, strerror(-rc));
		if (s->follow)
			docker_call_cancel(s->follow);
	}
	pthread_mutex_unlock(&t->lock);
	if (it->len)
		engine_ctx_notify(t->x, ENGINE_LOGS, t->name, s->r->n, s->name);
}

/* The stream's end, once everything it brought is written. t->lock held. */
static void follow_ended_locked(struct svc *s)
{
	svc_pos_save(s);
	s->following = false;
	s->follow_done = true;
	run_wake(s->r);
}

static void log_ended(void *owner, const struct logw_item *it, int rc)
{
	struct svc *s = owner;
	struct test *t = s->r->t;

	(void)it;
	(void)rc;
	pthread_mutex_lock(&t->lock);
	follow_ended_locked(s);
	pthread_mutex_unlock(&t->lock);
	engine_ctx_notify(t->x, ENGINE_LOGS, t->name, s->r->n, s->name);
}

static int on_entry(void *ud, enum docker_log_stream st, const char *ts, size_t tslen,
		    const char *payload, size_t plen)
{
	struct svc *s = ud;
	struct test *t = s->r->t;
	bool wake = false, now = false, seen = false;
	int r = 0;

	(void)st;
	pthread_mutex_lock(&t->lock);
	if (s->skip_ts[0]) {
		int c = docker_ts_cmp(ts, tslen, s->skip_ts, strlen(s->skip_ts));

		if (c < 0 || (c == 0 && s->skip_n > 0)) {
			if (c == 0)
				s->skip_n--;
			pthread_mutex_unlock(&t->lock);
			return 0;
		}
		s->skip_ts[0] = '\0';
	}
	if (tslen && tslen < sizeof(s->last_ts)) {
		if (strlen(s->last_ts) == tslen && !memcmp(s->last_ts, ts, tslen)) {
			s->n_at_ts++;
		} else {
			memcpy(s->last_ts, ts, tslen);
			s->last_ts[tslen] = '\0';
			s->n_at_ts = 1;
		}
	}
	if (s->logs_fd >= 0 && !s->log_broken) {
		/* to the writer; this thread never waits on the disk */
		struct logw_piece p = { .fd = s->logs_fd, .data = payload, .len = plen, .owner = s,
					.done = log_written, .pending = &s->lw_pending, .ts = s->last_ts,
					.n = s->n_at_ts, .producer = s->follow };

		r = logw_push(&t->x->lw, &p);
		if (r == 0) {
			/* no writer thread: written here */
			s->log_size += (off_t)plen;
			if (plen)
				pfs_realtime_ts(&s->log_mtime);
			memcpy(s->wr_ts, s->last_ts, sizeof(s->wr_ts));
			s->wr_n = s->n_at_ts;
			now = plen > 0;
			if (pfs_now_ms() - s->pos_written_ms >= POS_EVERY_MS)
				svc_pos_save(s);
		}
		r = r < 0 ? r : 0;
	}
	for (size_t i = 0; i < s->n_lines; i++)
		if (!s->seen[i] && svc_line_matches(payload, plen, s->cfg->success.lines[i])) {
			s->seen[i] = true;
			s->n_seen++;
			pfs_realtime_ts(&s->status_mtime); /* status.json shows lines_seen */
			wake = s->n_seen == s->n_lines;
			seen = true;
		}
	if (wake)
		run_wake(s->r);
	pthread_mutex_unlock(&t->lock);
	if (now || seen)
		engine_ctx_notify(t->x, ENGINE_LOGS, t->name, s->r->n, s->name);
	return r;
}

static void on_done(void *ud, const struct docker_result *res)
{
	struct svc *s = ud;
	struct test *t = s->r->t;
	struct logw_piece p = { .fd = -1, .owner = s, .done = log_ended, .pending = &s->lw_pending };

	if (res->err && res->err != -ECANCELED)
		pfs_debug("logs of %s/%d/%s ended: %s", t->name, s->r->n, s->name, res->message);
	/* after the stream's last entries: the writer says when they are all on disk */
	if (logw_push(&t->x->lw, &p) == 1)
		return;
	pthread_mutex_lock(&t->lock);
	follow_ended_locked(s);
	pthread_mutex_unlock(&t->lock);
	engine_ctx_notify(t->x, ENGINE_LOGS, t->name, s->r->n, s->name);
}

void svc_follow_start(struct svc *s, bool follow, uint64_t gen)
{
	struct test *t = s->r->t;
	struct docker_logs_opts o = { .follow = follow, .timestamps = true, .tty = 0 };
	struct docker_logs_cbs cbs = { .on_entry = on_entry, .on_done = on_done, .ud = s };
	struct pfs_err err = { 0 };
	struct docker_call *call, *old;
	char since[40] = "", service[64];
	bool swarm = run_on_swarm(s->r);

	pthread_mutex_lock(&t->lock);
	/* on a Swarm the manager relays the service's logs, from whichever node runs it */
	snprintf(service, sizeof(service), "%s", s->service_id);
	if (s->following || !(swarm ? service[0] : s->container[0])) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (s->last_ts[0])
		ts_to_since(s->last_ts, since, sizeof(since));
	/* resuming: the entries at or before the last stamp were written already */
	memcpy(s->skip_ts, s->last_ts, sizeof(s->skip_ts));
	s->skip_n = s->n_at_ts;
	s->following = true;
	s->follow_done = false;
	old = s->follow;
	s->follow = NULL;
	pthread_mutex_unlock(&t->lock);
	docker_call_unref(old);

	o.since = since[0] ? since : NULL;
	call = swarm ? docker_service_logs(t->x->dc, service, &o, &cbs, &err)
		     : docker_container_logs(t->x->dc, s->container, &o, &cbs, &err);
	pthread_mutex_lock(&t->lock);
	if (!call) {
		s->following = false;
		s->follow_done = true;
		pfs_warn("logs of %s/%d/%s: %s", t->name, s->r->n, s->name, err.msg);
	}
	s->follow = call;
	s->follow_gen = gen;
	pthread_mutex_unlock(&t->lock);
}

void svc_follow_stop(struct svc *s)
{
	struct test *t = s->r->t;
	struct docker_call *call;

	pthread_mutex_lock(&t->lock);
	call = s->follow;
	pthread_mutex_unlock(&t->lock);
	if (call)
		docker_call_cancel(call);
}
