/* SPDX-License-Identifier: MIT */
/*
 * Text for showing (pfs_escape_ctl): what is escaped, what passes as it
 * is, broken UTF-8, the multi-line form, and the bound on growth.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pfs_check.h"
#include "pantherfs/util.h"

static void shown(const char *in, size_t len, unsigned flags, const char *want)
{
	struct pfs_buf b = PFS_BUF_INIT(len * 6 + 1);

	ck_assert_int_eq(pfs_escape_ctl(&b, in, len, flags), 0);
	ck_assert_str_eq(pfs_buf_str(&b), want);
	pfs_buf_release(&b);
}

START_TEST(controls_are_escaped)
{
	shown("a\nb", 3, 0, "a\\nb");
	shown("\r\t\x1b[31m\a", 8, 0, "\\r\\t\\e[31m\\x07");
	shown("\x01\x1f\x7f", 3, 0, "\\x01\\x1f\\x7f");
	/* a NUL inside the given length is a control like any other */
	shown("a\0b", 3, 0, "a\\x00b");
	/* C1 controls (U+009B is CSI to some terminals) and the bidi overrides */
	shown("x\xc2\x9b" "2J", 5, 0, "x\\u009b2J");
	shown("\xc2\x85", 2, 0, "\\u0085");
	shown("abc\xe2\x80\xae" "fed", 9, 0, "abc\\u202efed");
	shown("\xe2\x81\xa6" "x" "\xe2\x81\xa9", 7, 0, "\\u2066x\\u2069");
}
END_TEST

START_TEST(text_passes_unchanged)
{
	/* backslashes, quotes and UTF-8 stay: a shell-quoted command stays usable */
	shown("sh -c 'printf \"%s\\n\" a'", 23, 0, "sh -c 'printf \"%s\\n\" a'");
	shown("été → ✓ \xf0\x9f\x98\x80", 18, 0, "été → ✓ \xf0\x9f\x98\x80");
	/* U+00A0 is past the C1 block, U+2028 is a line separator, not a control */
	shown("\xc2\xa0\xe2\x80\xa8", 5, 0, "\xc2\xa0\xe2\x80\xa8");
	shown("", 0, 0, "");
}
END_TEST

START_TEST(broken_utf8_is_shown_as_bytes)
{
	/* a lone continuation byte, a cut sequence, an overlong '/', a surrogate */
	shown("a\x80z", 3, 0, "a\\x80z");
	shown("\xe2\x82", 2, 0, "\\xe2\\x82");
	shown("\xc0\xaf", 2, 0, "\\xc0\\xaf");
	shown("\xed\xa0\x80", 3, 0, "\\xed\\xa0\\x80");
	/* a cut sequence then a control: both escaped, nothing swallowed */
	shown("\xe2\x82\n", 3, 0, "\\xe2\\x82\\n");
}
END_TEST

START_TEST(newlines_kept_on_request)
{
	shown("one\ntwo\x1b\n", 9, PFS_ESC_KEEP_NL, "one\ntwo\\e\n");
	shown("cr\r\n", 4, PFS_ESC_KEEP_NL, "cr\\r\n");
}
END_TEST

START_TEST(dup_and_find)
{
	char *s = pfs_escape_ctl_dup("status\nsecond line", 0);

	ck_assert_str_eq(s, "status\\nsecond line");
	free(s);
	s = pfs_escape_ctl_dup(NULL, 0);
	ck_assert_str_eq(s, "");
	free(s);
	s = pfs_escape_ctl_dup("plain", PFS_ESC_KEEP_NL);
	ck_assert_str_eq(s, "plain");
	free(s);
	ck_assert_uint_eq(pfs_find_ctl("abc", 3), 3);
	ck_assert_uint_eq(pfs_find_ctl("ab\tc", 4), 2);
	ck_assert_uint_eq(pfs_find_ctl("é\x1b", 3), 2);
	ck_assert_uint_eq(pfs_find_ctl("x\xc2\x9b", 3), 1);
	ck_assert_uint_eq(pfs_find_ctl("x\xff", 2), 1);
}
END_TEST

START_TEST(growth_is_bounded_by_the_cap)
{
	/* six bytes out per byte in at most: a buffer of that size always holds it */
	char in[64];
	struct pfs_buf b = PFS_BUF_INIT(sizeof(in) * 6);
	struct pfs_buf small = PFS_BUF_INIT(10);

	memset(in, 0x01, sizeof(in));
	ck_assert_int_eq(pfs_escape_ctl(&b, in, sizeof(in), 0), 0);
	ck_assert_uint_eq(b.len, sizeof(in) * 4);
	pfs_buf_release(&b);
	/* past its cap a buffer fails whole, as every pfs_buf does */
	ck_assert_int_eq(pfs_escape_ctl(&small, in, sizeof(in), 0), -E2BIG);
	ck_assert_uint_eq(small.len, 0);
	pfs_buf_release(&small);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("util");
	TCase *t = tcase_create("escape");

	tcase_add_test(t, controls_are_escaped);
	tcase_add_test(t, text_passes_unchanged);
	tcase_add_test(t, broken_utf8_is_shown_as_bytes);
	tcase_add_test(t, newlines_kept_on_request);
	tcase_add_test(t, dup_and_find);
	tcase_add_test(t, growth_is_bounded_by_the_cap);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
