/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the whole configuration path, YAML loader + schema
 * validation + plan + rendering, against the shipped catalogue (loaded once
 * from PFS_SOURCE_DIR or the source tree the binary was built from).
 */
#include <stdint.h>
#include <stdlib.h>

#include "pfs_config.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct catalog *cat;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;

	if (!cat) {
		const char *dir = getenv("PFS_SOURCE_DIR");

		if (catalog_load(dir ? dir : PFS_SOURCE_DIR, &cat, NULL) < 0)
			abort();
	}
	if (config_load(cat, "config.yaml", (const char *)data, size, &cfg, &rep) == 0) {
		json_t *addr = json_pack("{s:s,s:s}", "server", "10.0.0.2", "srv", "10.0.0.3");

		/* every accepted config renders, or says why not */
		for (size_t i = 0; i < cfg->n_svc; i++) {
			struct pfs_buf out = PFS_BUF_INIT(1u << 20);
			struct pfs_err err = { 0 };

			if (render_command(cat, cfg, &cfg->svc[i], addr, &out, &err) < 0 && !err.msg[0])
				abort();
			pfs_buf_release(&out);
		}
		json_decref(addr);
		config_free(cfg);
	} else if (rep.n_errors == 0) {
		abort(); /* a refusal always says why */
	}
	cfg_report_release(&rep);
	return 0;
}
