/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for yamltree: any input either parses or fails with a
 * well-formed message; a parsed tree is walked whole (aliases followed, as
 * a consumer would) and every node, key, value and item is looked up.
 * Invariants that must hold are checked with abort(), so the fuzzer reports
 * a logic error the same way as a crash.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -Iinclude src/config/yamltree.c \
 *     src/util/{buf,err,util}.c tests/fuzz/fuzz_yaml.c -o fuzz_yaml \
 *     $(pkg-config --cflags --libs jansson yaml-0.1 libcrypto)
 *   ./fuzz_yaml -max_len=8192 corpus/ ../shared/examples/{seed,panther}
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pantherfs/yamltree.h"
#include "pantherfs/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static int placed(struct ydoc_pos p)
{
	return p.line >= 1 && p.col >= 1;
}

static unsigned long walk(const struct ydoc *d, const json_t *v, int depth)
{
	unsigned long n = 1;

	/* the depth limit covers what aliases bring in */
	check(depth <= YDOC_MAX_DEPTH);
	if (!json_is_true(v) && !json_is_false(v) && !json_is_null(v))
		check(placed(ydoc_pos(d, v)));
	if (json_is_object(v)) {
		const char *k;
		json_t *c;

		json_object_foreach((json_t *)v, k, c) {
			check(placed(ydoc_key_pos(d, v, k)));
			check(placed(ydoc_value_pos(d, v, k)));
			n += walk(d, c, depth + 1);
		}
		check(!placed(ydoc_key_pos(d, v, "\x01 not a key")));
	} else if (json_is_array(v)) {
		size_t i;

		for (i = 0; i < json_array_size(v); i++) {
			check(placed(ydoc_item_pos(d, v, i)));
			n += walk(d, json_array_get(v, i), depth + 1);
		}
		check(!placed(ydoc_item_pos(d, v, i)));
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ydoc *d = NULL;
	struct pfs_err err = {0};
	int r = ydoc_parse("fuzz.yaml", (const char *)data, size, &d, &err);

	if (r < 0) {
		check(d == NULL);
		check(err.code == r);
		check(strncmp(err.msg, "fuzz.yaml:", 10) == 0);
		check(strchr(err.msg, '\n') == NULL);
		check(r == -EINVAL || r == -EFBIG || r == -ELOOP || r == -ERANGE || r == -ENOMEM);
		return 0;
	}
	check(r == 0 && d != NULL && ydoc_root(d) != NULL);
	/* expanded walk: bounded by the alias limit, so it always ends */
	check(walk(d, ydoc_root(d), 0) <= YDOC_MAX_NODES);
	ydoc_free(d);
	return 0;
}
