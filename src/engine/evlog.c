/* SPDX-License-Identifier: MIT */
/*
 * Events: one JSON object per line, numbered per test, never rewritten.
 * Each is appended to the test's events file and, when it belongs to a run,
 * to that run's; the sizes readers may read grow only after the writes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_internal.h"
#include "pantherfs/log.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static int append(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int r;

	if (fd < 0)
		return -errno;
	r = pfs_write_all(fd, data, len);
	close(fd);
	return r;
}

void evlog_add_locked(struct test *t, struct run *r, const char *type, const char *service,
		      json_t *data)
{
	struct timespec ts;
	char when[40], *line, *path;
	json_t *ev;
	size_t len;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	pfs_time_format(&ts, when, sizeof(when));
	ev = json_pack("{s:I,s:s,s:s,s:o,s:s}", "seq", (json_int_t)(t->seq + 1), "time", when, "test", t->name,
		       "run", r ? json_integer(r->n) : json_null(), "type", type);
	if (!ev) {
		json_decref(data);
		return;
	}
	/* which run of a series: every event of one says so */
	if (r && r->iterations > 1)
		json_object_set_new(ev, "iteration", json_integer(r->iteration));
	if (service)
		json_object_set_new(ev, "service", json_string(service));
	json_object_set_new(ev, "data", data ? data : json_object());
	line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(ev);
	if (!line)
		return;
	len = strlen(line);
	line[len++] = '\n'; /* json_dumps leaves room: it NUL-terminates; we replace it */
	path = pfs_strdup_printf("%s/events", t->dir);
	rc = path ? append(path, line, len) : -ENOMEM;
	free(path);
	if (rc < 0) {
		pfs_err_log("test %s: cannot record event %s: %s", t->name, type, strerror(-rc));
		free(line);
		return;
	}
	t->seq++;
	t->events_size += (off_t)len;
	t->events_mtime = ts;
	if (r) {
		path = pfs_strdup_printf("%s/events", r->dir);
		rc = path ? append(path, line, len) : -ENOMEM;
		free(path);
		if (rc == 0) {
			r->events_size += (off_t)len;
			r->events_mtime = ts;
		}
	}
	free(line);
}

void evlog_add(struct test *t, struct run *r, const char *type, const char *service, json_t *data)
{
	pthread_mutex_lock(&t->lock);
	evlog_add_locked(t, r, type, service, data);
	pthread_mutex_unlock(&t->lock);
	engine_ctx_notify(t->x, ENGINE_EVENTS, t->name, r ? r->n : 0, NULL);
}

uint64_t event_last_seq(const char *path, off_t *size)
{
	struct pfs_buf b = PFS_BUF_INIT(64u << 20);
	uint64_t seq = 0;
	size_t end;

	*size = 0;
	if (pfs_read_file(path, &b) < 0)
		return 0;
	end = b.len;
	/* a line torn by a crash is not an event: cut it */
	while (end > 0 && b.ptr[end - 1] != '\n')
		end--;
	if (end != b.len && truncate(path, (off_t)end) < 0)
		pfs_warn("%s: cannot cut a torn last line: %s", path, strerror(errno));
	*size = (off_t)end;
	if (end > 0) {
		size_t start = end - 1;
		json_t *j;

		while (start > 0 && b.ptr[start - 1] != '\n')
			start--;
		j = json_loadb(b.ptr + start, end - start, 0, NULL);
		seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
		json_decref(j);
	}
	pfs_buf_release(&b);
	return seq;
}
