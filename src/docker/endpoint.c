/* SPDX-License-Identifier: MIT */
/*
 * DOCKER_HOST and TLS settings, read the way the docker CLI reads them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pantherfs/docker.h"
#include "pantherfs/banned.h"

static bool env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0 && strcmp(v, "false") != 0;
}

int docker_endpoint_parse(const char *host, struct docker_endpoint *ep, struct pfs_err *err)
{
	const char *certdir, *home;
	char defdir[512];

	memset(ep, 0, sizeof(*ep));
	if (!host || !*host)
		host = getenv("DOCKER_HOST");
	if (!host || !*host)
		host = "unix://" DOCKER_DEFAULT_SOCKET;

	if (!strncmp(host, "unix://", 7)) {
		const char *p = host + 7;

		if (*p != '/')
			return pfs_err_set(err, -EINVAL, "docker host \"%s\": the socket path must be absolute", host);
		if (strlen(p) >= sizeof(ep->unix_path))
			return pfs_err_set(err, -ENAMETOOLONG, "docker host \"%s\": socket path too long", host);
		snprintf(ep->unix_path, sizeof(ep->unix_path), "%s", p);
		snprintf(ep->base_url, sizeof(ep->base_url), "http://docker");
		return 0;
	}
	if (strncmp(host, "tcp://", 6) != 0)
		return pfs_err_set(err, -EINVAL,
				   "docker host \"%s\": expected unix:///path or tcp://host:port", host);

	const char *hp = host + 6;
	size_t n = strcspn(hp, "/");

	if (n == 0 || n > 200)
		return pfs_err_set(err, -EINVAL, "docker host \"%s\": missing or overlong host", host);
	ep->tls = env_set("DOCKER_TLS_VERIFY") || env_set("DOCKER_TLS") ||
		  (getenv("DOCKER_CERT_PATH") && *getenv("DOCKER_CERT_PATH"));
	ep->tls_verify = env_set("DOCKER_TLS_VERIFY");
	snprintf(ep->base_url, sizeof(ep->base_url), "%s://%.*s", ep->tls ? "https" : "http", (int)n, hp);
	if (!memchr(hp, ':', n) && !(hp[0] == '['))
		snprintf(ep->base_url + strlen(ep->base_url), sizeof(ep->base_url) - strlen(ep->base_url),
			 ":%d", ep->tls ? 2376 : 2375);
	if (!ep->tls)
		return 0;

	certdir = getenv("DOCKER_CERT_PATH");
	if (!certdir || !*certdir) {
		home = getenv("HOME");
		snprintf(defdir, sizeof(defdir), "%s/.docker", home && *home ? home : "/root");
		certdir = defdir;
	}
	if ((size_t)snprintf(ep->ca, sizeof(ep->ca), "%s/ca.pem", certdir) >= sizeof(ep->ca) ||
	    (size_t)snprintf(ep->cert, sizeof(ep->cert), "%s/cert.pem", certdir) >= sizeof(ep->cert) ||
	    (size_t)snprintf(ep->key, sizeof(ep->key), "%s/key.pem", certdir) >= sizeof(ep->key))
		return pfs_err_set(err, -ENAMETOOLONG, "DOCKER_CERT_PATH too long");
	return 0;
}
