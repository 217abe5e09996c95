/* SPDX-License-Identifier: MIT */
/*
 * Self-signed certificates for servers that need key and certificate files
 * (ngtcp2's gtlsserver does; mvfst uses a built-in test certificate).
 * pantherfs makes a fresh pair per run and mounts it read-only at
 * CONFIG_CERTS_DIR. OpenSSL does the work.
 */
#ifndef PANTHERFS_CERTS_H
#define PANTHERFS_CERTS_H

#include "pantherfs/err.h"

/*
 * Writes dir/key.pem (EC P-256, PKCS#8, mode 0644 so the container's user
 * can read it: it protects nothing beyond one test run) and dir/cert.pem
 * (self-signed, CN and subjectAltName DNS:common_name, valid 30 days from one
 * hour ago). dir must exist. -EIO with err on any OpenSSL failure.
 */
int certs_generate(const char *dir, const char *common_name, struct pfs_err *err);

#endif
