/* SPDX-License-Identifier: MIT */
/*
 * What the integration suites against the real Docker engine share: a
 * client, the "Docker answers or skip" prologue of main(), and the label
 * sweeps and counts their teardowns and leftover checks use. Each suite keeps
 * its own label scheme (pantherfs.testrun=<run> or pantherfs.instance=<id>)
 * and its own client timeouts: the sweeps take the client to use.
 *
 * Nothing here allocates what the caller must free but the client of
 * itest_client() and itest_client_connect().
 */
#ifndef PFS_ITEST_H
#define PFS_ITEST_H

#include <stdbool.h>
#include <stddef.h>

struct docker_client;

/*
 * A client to the default engine ($DOCKER_HOST, else the default socket)
 * with this timeout for short calls and the library's default connect
 * timeout. The caller frees it with docker_client_free(). NULL when it
 * cannot be made (no error is said: the callers either skip what needs it
 * or assert it is there).
 */
struct docker_client *itest_client(long timeout_ms);

/* The same, with this connect timeout (0: the library's default). */
struct docker_client *itest_client_connect(long timeout_ms, long connect_timeout_ms);

/*
 * The prologue of each integration suite's main(): a client (5 s timeout)
 * pings the engine. Returns 0 when the suite can run (the engine answers,
 * or fails otherwise than by being absent: the suite then fails loudly).
 * When no client can be made, or the ping finds no engine (-ENOTCONN,
 * -ENOENT), prints the TAP line "1..0 # SKIP <why>" and returns 77, which
 * main returns as is.
 */
int itest_docker_or_skip(void);

/*
 * Removes every container (running or not, forced) and then every network
 * carrying label ("key=value"), through c. Unchecked: a list that fails is
 * skipped and removals that fail are ignored, as a teardown wants.
 */
void itest_sweep_label(struct docker_client *c, const char *label);

/*
 * The instance id pantherfs wrote in state_dir/instance: its first 16 bytes
 * (fewer when the file is shorter) into id, NUL-terminated. Returns the
 * length of the file (the callers decide whether a short one counts), or a
 * negative errno when it cannot be read (then id is "").
 */
int itest_instance_id(const char *state_dir, char id[17]);

/* itest_sweep_label() of "pantherfs.instance=<id>". */
void itest_sweep_instance(struct docker_client *c, const char *id);

/*
 * How many containers (networks false; stopped ones too) or networks
 * (networks true) carry "pantherfs.instance=<id>". Checked: a failing list
 * fails the current test (ck_assert_int_eq(r, 0)).
 */
size_t itest_count_instance(struct docker_client *c, const char *id, bool networks);

/* Runs argv (argv[0] searched in PATH) and returns its exit status, or -1. Unchecked. */
int run_argv(const char *const *argv);

#endif
