/* SPDX-License-Identifier: MIT */
/*
 * A process that hosts the engine without a mount, for the orchestrator's
 * integration tests (which kill it with SIGKILL and start it again). Reads
 * commands on stdin, one per line, answers one line each on stdout:
 *   create T | remove T | apply T FILE | ctl T VERB  -> "ok" or "err <errno> <message>"
 *   state T                                          -> "state <word>"
 *   wait T SECONDS     until the current run is over -> "done <status line>" or "timeout <status>"
 *   quit
 * Usage: engine-host STATE_DIR [DATA_DIR]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pantherfs/engine.h"
#include "pantherfs/log.h"
#include "pantherfs/util.h"

int main(int argc, char **argv)
{
	struct engine_opts o = { 0 };
	struct engine *e = NULL;
	struct pfs_err err = { 0 };
	char line[4096];

	if (argc < 2) {
		fprintf(stderr, "usage: engine-host STATE_DIR [DATA_DIR]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("PFS_DEBUG"))
		pfs_log_set_level(PFS_LOG_DEBUG);
	o.state_dir = argv[1];
	o.data_dir = argc > 2 ? argv[2] : NULL;
	o.stop_grace_s = 2;
	if (engine_new(&o, &e, &err) < 0) {
		printf("err %d %s\n", -err.code, err.msg);
		return 1;
	}
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[32] = "", a[256] = "", b[2048] = "";
		int n = sscanf(line, "%31s %255s %2047[^\n]", cmd, a, b);
		int r = 0;

		err.code = 0;
		err.msg[0] = '\0';
		if (n < 1)
			continue;
		if (!strcmp(cmd, "quit"))
			break;
		if (!strcmp(cmd, "create")) {
			r = engine_test_create(e, a, &err);
		} else if (!strcmp(cmd, "remove")) {
			r = engine_test_remove(e, a, &err);
		} else if (!strcmp(cmd, "ctl")) {
			r = engine_test_ctl(e, a, b, &err);
		} else if (!strcmp(cmd, "apply")) {
			struct pfs_buf buf = PFS_BUF_INIT(2u << 20);
			struct cfg_report rep;

			r = pfs_read_file(b, &buf);
			if (r == 0) {
				r = engine_test_apply_config(e, a, buf.ptr, buf.len, &rep);
				if (r < 0 && rep.n_errors)
					snprintf(err.msg, sizeof(err.msg), "%s", rep.errors[0]);
				cfg_report_release(&rep);
			}
			pfs_buf_release(&buf);
		} else if (!strcmp(cmd, "state")) {
			char st[64];

			r = engine_test_state(e, a, st, sizeof(st));
			if (r == 0) {
				printf("state %s\n", st);
				continue;
			}
		} else if (!strcmp(cmd, "status")) {
			struct engine_file f;

			r = engine_file_get(e, a, 0, NULL, PFS_F_STATUS, &f);
			if (r == 0) {
				printf("status %.*s", (int)f.len, f.data);
				engine_file_release(&f);
				continue;
			}
		} else if (!strcmp(cmd, "wait")) {
			long secs = strtol(b, NULL, 10);
			uint64_t until = pfs_now_ms() + (uint64_t)secs * 1000;
			struct engine_file f;

			while (engine_run_live(e, a, 0) && pfs_now_ms() < until)
				usleep(100000);
			if (engine_file_get(e, a, 0, NULL, PFS_F_STATUS, &f) == 0) {
				printf("%s %.*s", engine_run_live(e, a, 0) ? "timeout" : "done", (int)f.len, f.data);
				engine_file_release(&f);
			} else {
				printf("err %d no status\n", ENOENT);
			}
			continue;
		} else {
			r = -EINVAL;
			snprintf(err.msg, sizeof(err.msg), "unknown command %s", cmd);
		}
		if (r < 0)
			printf("err %d %s\n", -r, err.msg);
		else
			printf("ok\n");
	}
	engine_free(e);
	return 0;
}
