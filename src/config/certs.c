/* SPDX-License-Identifier: MIT */
/*
 * A throwaway key pair per run. EC P-256 keeps generation in microseconds;
 * the validity starts an hour back so that clock skew between the host and a
 * container never makes a fresh certificate "not yet valid".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pantherfs/certs.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static int ossl_err(struct pfs_err *err, const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return pfs_err_set(err, -EIO, "certificate: %s: %s", what, e ? buf : "failed");
}

static int write_pem(const char *dir, const char *name, EVP_PKEY *key, X509 *crt, struct pfs_err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *path = pfs_strdup_printf("%s/%s", dir, name);
	char *data = NULL;
	long len;
	int r = 0;

	if (!b || !path) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if ((key && !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)) ||
	    (crt && !PEM_write_bio_X509(b, crt))) {
		r = ossl_err(err, "PEM encoding");
		goto out;
	}
	len = BIO_get_mem_data(b, &data);
	r = pfs_write_file_atomic(path, data, (size_t)len);
	if (r < 0)
		pfs_err_set(err, r, "%s: %s", path, strerror(-r));
out:
	BIO_free(b);
	free(path);
	return r;
}

int certs_generate(const char *dir, const char *common_name, struct pfs_err *err)
{
	EVP_PKEY *key = NULL;
	X509 *crt = NULL;
	X509_NAME *name;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char san[300];
	int r = 0;

	key = EVP_EC_gen("P-256");
	crt = X509_new();
	if (!key || !crt) {
		r = ossl_err(err, "key generation");
		goto out;
	}
	if (RAND_bytes(serial, sizeof(serial)) != 1) {
		r = ossl_err(err, "random serial");
		goto out;
	}
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)) || !X509_set_version(crt, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(crt), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(crt), 30L * 24 * 3600) || !X509_set_pubkey(crt, key)) {
		r = ossl_err(err, "certificate fields");
		goto out;
	}
	name = X509_get_subject_name(crt);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"pantherfs", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)common_name, -1, -1, 0) ||
	    !X509_set_issuer_name(crt, name)) {
		r = ossl_err(err, "certificate name");
		goto out;
	}
	snprintf(san, sizeof(san), "DNS:%s", common_name);
	X509V3_set_ctx(&v3, crt, crt, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (!ext || !X509_add_ext(crt, ext, -1)) {
		r = ossl_err(err, "subjectAltName");
		goto out;
	}
	if (!X509_sign(crt, key, EVP_sha256())) {
		r = ossl_err(err, "signing");
		goto out;
	}
	r = write_pem(dir, "key.pem", key, NULL, err);
	if (r == 0)
		r = write_pem(dir, "cert.pem", NULL, crt, err);
out:
	X509_EXTENSION_free(ext);
	BN_free(bn);
	X509_free(crt);
	EVP_PKEY_free(key);
	return r;
}
