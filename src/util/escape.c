/* SPDX-License-Identifier: MIT */
/*
 * Text for showing: control characters escaped, so that a value from a
 * config (or a daemon's message) can never move a terminal's cursor, ring
 * its bell, rewrite a line with CR or split a one-line file in two.
 *
 * No library fits: glib's g_strescape() and systemd's cescape() also escape
 * every non-ASCII byte and double backslashes, which would mangle the
 * UTF-8 text and the shell-quoted commands pantherfs shows; what we need is
 * the narrow "controls only" rule below, over UTF-8 that may be broken.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pantherfs/util.h"
#include "pantherfs/banned.h"

/*
 * Length of the well-formed UTF-8 sequence at p (1-4) with its code point,
 * or 0 when the bytes there are not one (overlong, surrogate, cut, > U+10FFFF).
 */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2, c = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3, c = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4, c = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * C1 controls (a terminal may take U+009B as CSI) and the bidirectional
 * overrides and isolates, which reorder what is shown around them.
 */
static bool shown_escaped(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * How many bytes at p are shown as one escape (0: none, they pass as they
 * are); *seq is the length of the character there, 0 for a byte that is
 * not UTF-8.
 */
static size_t next_escape(const unsigned char *p, size_t n, unsigned flags, uint32_t *cp, size_t *seq)
{
	*seq = utf8_seq(p, n, cp);
	if (!*seq)
		return 1;
	if (*cp < 0x20 || *cp == 0x7f)
		return *cp == '\n' && (flags & PFS_ESC_KEEP_NL) ? 0 : 1;
	return shown_escaped(*cp) ? *seq : 0;
}

size_t pfs_find_ctl(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, seq;
	uint32_t cp;

	while (i < len) {
		if (next_escape(p + i, len - i, 0, &cp, &seq))
			return i;
		i += seq;
	}
	return len;
}

int pfs_escape_ctl(struct pfs_buf *b, const char *s, size_t len, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, seq;
	uint32_t cp;
	int r = 0;

	if (!len && pfs_buf_add(b, "", 0) < 0)
		return -ENOMEM; /* an empty buffer still yields a C string */
	while (i < len && r == 0) {
		size_t esc = next_escape(p + i, len - i, flags, &cp, &seq);
		char e[8];

		if (!esc) {
			run += seq;
			i += seq;
			continue;
		}
		/* the plain text before it, in one piece */
		if (run && (r = pfs_buf_add(b, s + i - run, run)) < 0)
			break;
		run = 0;
		if (!seq)
			snprintf(e, sizeof(e), "\\x%02x", p[i]);
		else if (cp == '\n')
			snprintf(e, sizeof(e), "\\n");
		else if (cp == '\r')
			snprintf(e, sizeof(e), "\\r");
		else if (cp == '\t')
			snprintf(e, sizeof(e), "\\t");
		else if (cp == 0x1b)
			snprintf(e, sizeof(e), "\\e");
		else if (cp < 0x80)
			snprintf(e, sizeof(e), "\\x%02x", (unsigned)cp);
		else
			snprintf(e, sizeof(e), "\\u%04x", (unsigned)cp);
		r = pfs_buf_addstr(b, e);
		i += esc;
	}
	if (r == 0 && run)
		r = pfs_buf_add(b, s + len - run, run);
	return r;
}

char *pfs_escape_ctl_dup(const char *s, unsigned flags)
{
	size_t len = s ? strlen(s) : 0;
	/* the longest escape, "\u202e", is 6 bytes for 3 */
	struct pfs_buf b = PFS_BUF_INIT(len * 6 + 1);

	if (!s)
		s = "";
	/* nothing to escape: the common case, one copy */
	if (pfs_find_ctl(s, len) == len)
		return strdup(s);
	if (pfs_escape_ctl(&b, s, len, flags) < 0)
		return NULL;
	return pfs_buf_steal(&b, NULL);
}
