/* SPDX-License-Identifier: MIT */
/*
 * Docker's image reference grammar (the header cites it), as a hand-written
 * scanner: there is no C library for it (the grammar lives in Go, in
 * distribution/reference), and a scanner can say which character is wrong
 * and why, where one big regular expression could only say "no".
 *
 * The reference is cut as Docker cuts it: the digest after the first '@',
 * the tag after the last ':' that follows the last '/', then the domain
 * before the first '/' when it looks like one.
 */
#define _GNU_SOURCE /* memrchr */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pantherfs/docker_ref.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define TAG_MAX 128
#define DIGEST_HEX_MIN 32

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool word(char c)
{
	return alnum(c) || c == '_';
}

static bool xdigit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* "'x'" for a message, the character escaped when it is a control. */
static void show_char(const char *ref, size_t at, char *out, size_t n)
{
	char one[5] = { ref[at], 0 };
	char *e;

	/* a whole UTF-8 character, not one byte of it */
	for (size_t k = 1; k < 4 && ((unsigned char)ref[at + k] & 0xc0) == 0x80 &&
			   ((unsigned char)ref[at] & 0x80); k++)
		one[k] = ref[at + k];
	e = pfs_escape_ctl_dup(one, 0);
	snprintf(out, n, "'%s'", e ? e : "?");
	free(e);
}

static int bad(struct pfs_err *err, size_t at, const char *why)
{
	return pfs_err_set(err, -EINVAL, "character %zu: %s", at + 1, why);
}

static int bad_char(struct pfs_err *err, const char *ref, size_t at, const char *where)
{
	char c[16];

	show_char(ref, at, c, sizeof(c));
	return pfs_err_set(err, -EINVAL, "character %zu: %s cannot be in %s", at + 1, c, where);
}

/* remote-name over ref[from, to) */
static int check_path(const char *ref, size_t from, size_t to, struct pfs_err *err)
{
	size_t i = from;

	for (;;) {
		/* one path-component: alnum+ (separator alnum+)* */
		if (i == to || ref[i] == '/')
			return bad(err, i == to && i > 0 ? i - 1 : i,
				   "empty name component (two '/' in a row, or one at an end)");
		for (;;) {
			if (!lower_alnum(ref[i])) {
				if (ref[i] >= 'A' && ref[i] <= 'Z')
					return bad(err, i, "repository names are lowercase");
				if (ref[i] == '.' || ref[i] == '_' || ref[i] == '-')
					return bad(err, i, "a name component starts and ends with a lowercase "
							   "letter or a digit");
				return bad_char(err, ref, i, "a repository name");
			}
			while (i < to && lower_alnum(ref[i]))
				i++;
			if (i == to || ref[i] == '/')
				break;
			if (ref[i] == '.') {
				i++;
			} else if (ref[i] == '_') {
				i += (i + 1 < to && ref[i + 1] == '_') ? 2 : 1;
			} else if (ref[i] == '-') {
				while (i < to && ref[i] == '-')
					i++;
			} else if (ref[i] >= 'A' && ref[i] <= 'Z') {
				return bad(err, i, "repository names are lowercase");
			} else {
				return bad_char(err, ref, i, "a repository name");
			}
			if (i == to || ref[i] == '/')
				return bad(err, i - 1, "a name component starts and ends with a lowercase "
						       "letter or a digit");
			if (ref[i] == '.' || ref[i] == '_' || ref[i] == '-')
				return bad(err, i, "separators are one '.', one or two '_', or dashes");
		}
		if (i == to)
			return 0;
		i++; /* the '/' */
	}
}

/* domain over ref[from, to): host [':' port] */
static int check_domain(const char *ref, size_t from, size_t to, struct pfs_err *err)
{
	size_t i = from;

	if (ref[i] == '[') {
		/* IPv6: hex digits, ':' and '.' (an embedded IPv4) in brackets */
		size_t colons = 0;

		for (i++; i < to && (xdigit(ref[i]) || ref[i] == ':' || ref[i] == '.'); i++)
			colons += ref[i] == ':';
		if (i == to || ref[i] != ']' || colons < 2)
			return bad(err, i < to ? i : to - 1, "an IPv6 registry address is [hex:hex:...]");
		i++;
	} else {
		for (;;) {
			size_t start = i;

			while (i < to && (alnum(ref[i]) || ref[i] == '-'))
				i++;
			if (i == start)
				return i < to && ref[i] != '.' && ref[i] != ':'
					       ? bad_char(err, ref, i, "a registry host")
					       : bad(err, i < to ? i : to - 1, "a registry host is labels of letters, "
									      "digits and '-' joined by single dots");
			if (ref[start] == '-' || ref[i - 1] == '-')
				return bad(err, ref[start] == '-' ? start : i - 1,
					   "a host name label starts and ends with a letter or a digit");
			if (i < to && ref[i] == '.') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i < to && ref[i] == ':') {
		size_t start = ++i;

		while (i < to && ref[i] >= '0' && ref[i] <= '9')
			i++;
		if (i == start || i != to)
			return bad(err, i < to ? i : to - 1, "the registry port is a number");
	}
	if (i != to)
		return bad_char(err, ref, i, "a registry host");
	return 0;
}

static int check_tag(const char *ref, size_t from, size_t to, struct pfs_err *err)
{
	if (from == to)
		return bad(err, from - 1, "empty tag after ':'");
	if (!word(ref[from]))
		return bad(err, from, "a tag starts with a letter, a digit or '_'");
	for (size_t i = from; i < to; i++)
		if (!word(ref[i]) && ref[i] != '.' && ref[i] != '-')
			return bad_char(err, ref, i, "a tag (letters, digits, '_', '.', '-')");
	if (to - from > TAG_MAX)
		return bad(err, from + TAG_MAX, "a tag is at most 128 characters");
	return 0;
}

static int check_digest(const char *ref, size_t from, size_t to, struct pfs_err *err)
{
	size_t i = from, hex;

	for (;;) {
		if (i == to || !((ref[i] >= 'a' && ref[i] <= 'z') || (ref[i] >= 'A' && ref[i] <= 'Z')))
			return bad(err, i < to ? i : to - 1,
				   "a digest is algorithm:hex, such as sha256:<64 hex digits>");
		while (i < to && alnum(ref[i]))
			i++;
		if (i < to && (ref[i] == '-' || ref[i] == '_' || ref[i] == '+' || ref[i] == '.')) {
			i++;
			continue;
		}
		break;
	}
	if (i == to || ref[i] != ':')
		return bad(err, i < to ? i : to - 1, "a digest is algorithm:hex, such as sha256:<64 hex digits>");
	for (hex = ++i; i < to && xdigit(ref[i]); i++)
		;
	if (i != to)
		return bad_char(err, ref, i, "a digest's hex digits");
	if (i - hex < DIGEST_HEX_MIN)
		return bad(err, to - 1, "a digest has at least 32 hex digits");
	return 0;
}

int docker_ref_check(const char *ref, struct pfs_err *err)
{
	size_t n, name_end, tag_at = 0, slash, remote = 0;
	const char *at, *colon, *last_slash, *first_slash;
	bool hex = true;
	int r;

	if (!ref || !*ref)
		return pfs_err_set(err, -EINVAL, "empty: name an image, such as debian:bookworm-slim");
	n = strlen(ref);
	if (pfs_find_ctl(ref, n) < n)
		return bad_char(err, ref, pfs_find_ctl(ref, n), "an image reference");
	for (size_t i = 0; i < n && hex; i++)
		hex = (ref[i] >= '0' && ref[i] <= '9') || (ref[i] >= 'a' && ref[i] <= 'f');
	if (hex && n == 64)
		return bad(err, 0, "64 hex digits are an image id, not a name");
	at = strchr(ref, '@');
	name_end = at ? (size_t)(at - ref) : n;
	/* the tag: after the last ':' that follows the last '/' of the name */
	last_slash = memrchr(ref, '/', name_end);
	colon = memrchr(ref, ':', name_end);
	if (colon && (!last_slash || colon > last_slash)) {
		tag_at = (size_t)(colon - ref) + 1;
		name_end = (size_t)(colon - ref);
	}
	if (name_end == 0)
		return bad(err, 0, "no name before the tag or digest");
	if (name_end > DOCKER_REF_NAME_MAX)
		return bad(err, DOCKER_REF_NAME_MAX, "a name is at most 255 characters");

	/* a domain when the first component looks like one */
	first_slash = memchr(ref, '/', name_end);
	slash = first_slash ? (size_t)(first_slash - ref) : name_end;
	if (slash < name_end) {
		bool domain = slash == 9 && !strncmp(ref, "localhost", 9);

		for (size_t i = 0; i < slash && !domain; i++)
			domain = ref[i] == '.' || ref[i] == ':' || ref[i] == '[' || (ref[i] >= 'A' && ref[i] <= 'Z');
		if (domain) {
			r = check_domain(ref, 0, slash, err);
			if (r < 0)
				return r;
			remote = slash + 1;
		}
	}
	r = check_path(ref, remote, name_end, err);
	if (r == 0 && tag_at)
		r = check_tag(ref, tag_at, at ? (size_t)(at - ref) : n, err);
	if (r == 0 && at)
		r = check_digest(ref, (size_t)(at - ref) + 1, n, err);
	return r;
}

int docker_registry_check(const char *host, struct pfs_err *err)
{
	size_t n = host ? strlen(host) : 0;
	bool domain = n == 9 && !strcmp(host, "localhost");

	if (!n)
		return pfs_err_set(err, -EINVAL, "empty: name the registry as HOST:PORT, such as 10.0.0.5:5000");
	if (pfs_find_ctl(host, n) < n)
		return bad_char(err, host, pfs_find_ctl(host, n), "a registry's address");
	if (memchr(host, '/', n))
		return bad(err, (size_t)((const char *)memchr(host, '/', n) - host),
			   "a registry is HOST:PORT, without a path");
	for (size_t i = 0; i < n && !domain; i++)
		domain = host[i] == '.' || host[i] == ':' || host[i] == '[';
	/* without '.' or ':' Docker would read it as a name on Docker Hub */
	if (!domain)
		return pfs_err_set(err, -EINVAL, "\"%s\" is not a registry's address: HOST:PORT (or a host name "
				   "with a dot, or localhost)", host);
	return check_domain(host, 0, n, err);
}
