/* SPDX-License-Identifier: MIT */
/*
 * Image references as Docker reads them ("debian:bookworm-slim",
 * "registry.example:5000/team/app:1.2@sha256:<hex>"), checked before one
 * reaches the engine: a config's docker_image goes into API paths and query
 * strings, and is shown in status and events.
 *
 * The grammar is the one of Docker's reference library
 * (distribution/reference, reference.go, v0.5.0):
 *
 *   reference        := name [ ":" tag ] [ "@" digest ]
 *   name             := [domain '/'] remote-name
 *   domain           := host [':' port-number]
 *   host             := domain-name | IPv4address | \[ IPv6address \]
 *   domain-name      := domain-component ['.' domain-component]*
 *   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 *   port-number      := /[0-9]+/
 *   path-component   := alpha-numeric [separator alpha-numeric]*
 *   remote-name      := path-component ['/' path-component]*
 *   alpha-numeric    := /[a-z0-9]+/
 *   separator        := /[_.]|__|[-]+/
 *   tag              := /[\w][\w.-]{0,127}/
 *   digest           := digest-algorithm ":" digest-hex
 *   digest-algorithm := algorithm-component [ /[+.-_]/ algorithm-component ]*
 *   algorithm-component := a letter, then letters and digits
 *   digest-hex       := /[0-9a-fA-F]{32,}/
 *
 * with its other rules: the first component is the domain only when it
 * holds a '.' or a ':', is "localhost", or has an upper-case letter
 * (normalize.go, splitDockerDomain); the name is at most 255 characters;
 * and a name of 64 hex digits is an image id, not a name.
 */
#ifndef PANTHERFS_DOCKER_REF_H
#define PANTHERFS_DOCKER_REF_H

#include "pantherfs/err.h"

/* Longest name (domain and path, without tag and digest), as Docker's. */
#define DOCKER_REF_NAME_MAX 255

/*
 * 0 when ref follows the grammar above; else -EINVAL and err (when not
 * NULL) says what is wrong and at which character (1-based), e.g.
 * "character 1: a name component starts with a lowercase letter or a digit,
 * not '.'"; control characters in the message are escaped. Pure: no I/O, no
 * state; any thread.
 */
int docker_ref_check(const char *ref, struct pfs_err *err);

/*
 * 0 when host is a registry's address Docker reads as one in front of a
 * name ("10.0.0.5:5000", "registry.example", "localhost:5000",
 * "[::1]:5000"): the domain of the grammar, holding a '.' or a ':' (or
 * being localhost), without a path. Else -EINVAL and err says why.
 */
int docker_registry_check(const char *host, struct pfs_err *err);

#endif
