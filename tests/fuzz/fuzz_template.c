/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for src/template: compiles the input as a template and
 * renders it over a fixed context into a 64 KiB buffer. Any return code is
 * fine; a crash, a sanitizer report, a leak or a hang is a bug.
 *
 * The first byte picks the options (bit 0 trim_blocks, bit 1 lstrip_blocks)
 * so both whitespace paths are explored; the rest is the template.
 *
 * The context is parsed once and shared by every run: rendering must never
 * modify it (a run that did would make later runs diverge, which the fuzzer
 * would notice as flakiness), and it is still reachable at exit, so it is not
 * a leak.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined, linking every .c of
 * src/template plus src/util/buf.c, err.c and util.c, jansson and libcrypto.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pantherfs/template.h"
#include "pantherfs/banned.h"

#define OUTPUT_CAP (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context_json[] =
	"{\"name\": \"srv\", \"port\": 4433, \"ratio\": 0.5, \"big\": 9223372036854775807,"
	" \"neg\": -7, \"on\": true, \"off\": false, \"nothing\": null, \"empty\": \"\","
	" \"text\": \"Hello, W\\u00f6rld \\\"q\\\" it's\","
	" \"flags\": [\"--v=2\", \"--name=a b\", \"it's\", \"\"],"
	" \"nums\": [1, 2, 3, -4, 2.5, 0],"
	" \"mixed\": [1, \"a\", true, null, [1, [2]], {\"k\": \"v\"}],"
	" \"cfg\": {\"tls\": {\"cert\": \"/etc/c.pem\", \"key\": \"/etc/k.pem\"},"
	"  \"hosts\": [\"a\", \"b\"], \"none\": {}, \"list\": [], \"values\": 3},"
	" \"deep\": {\"a\": {\"b\": {\"c\": [{\"d\": \"e\"}]}}}}";

static json_t *context(void)
{
	static json_t *ctx;

	if (!ctx) {
		ctx = json_loads(context_json, 0, NULL);
		if (!ctx)
			abort();
	}
	return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfs_buf out = PFS_BUF_INIT(OUTPUT_CAP);
	struct tmpl_opts opts = { false, false };
	struct pfs_err err = { 0 };
	struct tmpl *t = NULL;

	if (size == 0)
		return 0;
	opts.trim_blocks = data[0] & 1;
	opts.lstrip_blocks = data[0] & 2;
	if (tmpl_compile("fuzz.jinja", (const char *)data + 1, size - 1, &opts, &t, &err) == 0) {
		if (tmpl_render(t, context(), &out, &err) == 0 && pfs_buf_len(&out) > OUTPUT_CAP)
			abort();
	}
	tmpl_free(t);
	pfs_buf_release(&out);
	return 0;
}
