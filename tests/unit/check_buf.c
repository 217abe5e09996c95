/* SPDX-License-Identifier: MIT */
/* The capped buffer and the small helpers every layer relies on. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pfs_check.h"
#include "pantherfs/buf.h"
#include "pantherfs/err.h"
#include "pantherfs/util.h"

START_TEST(buf_appends_and_terminates)
{
	struct pfs_buf b = PFS_BUF_INIT(100);

	ck_assert_str_eq(pfs_buf_str(&b), "");
	ck_assert_int_eq(pfs_buf_addstr(&b, "hello"), 0);
	ck_assert_int_eq(pfs_buf_addc(&b, ' '), 0);
	ck_assert_int_eq(pfs_buf_printf(&b, "%d-%s", 42, "x"), 0);
	ck_assert_str_eq(pfs_buf_str(&b), "hello 42-x");
	ck_assert_uint_eq(pfs_buf_len(&b), 10);
	pfs_buf_consume(&b, 6);
	ck_assert_str_eq(pfs_buf_str(&b), "42-x");
	pfs_buf_truncate(&b, 2);
	ck_assert_str_eq(pfs_buf_str(&b), "42");
	pfs_buf_reset(&b);
	ck_assert_str_eq(pfs_buf_str(&b), "");
	pfs_buf_release(&b);
}
END_TEST

START_TEST(buf_cap_is_exact_and_failure_frees)
{
	struct pfs_buf b = PFS_BUF_INIT(8);

	ck_assert_int_eq(pfs_buf_add(&b, "12345678", 8), 0);
	ck_assert_uint_le(b.alloc, 9);
	/* one byte over the cap: the append fails and the buffer is emptied */
	ck_assert_int_eq(pfs_buf_addc(&b, '9'), -E2BIG);
	ck_assert_ptr_null(b.ptr);
	ck_assert_uint_eq(b.len, 0);
	/* and is usable again */
	ck_assert_int_eq(pfs_buf_addstr(&b, "ok"), 0);
	ck_assert_str_eq(pfs_buf_str(&b), "ok");
	ck_assert_int_eq(pfs_buf_printf(&b, "%s", "0123456789"), -E2BIG);
	ck_assert_uint_eq(b.len, 0);
	pfs_buf_release(&b);
}
END_TEST

START_TEST(buf_grows_large)
{
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	char chunk[1000];

	memset(chunk, 'z', sizeof(chunk));
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(pfs_buf_add(&b, chunk, sizeof(chunk)), 0);
	ck_assert_uint_eq(b.len, 1000000);
	ck_assert_int_eq(b.ptr[999999], 'z');
	ck_assert_int_eq(b.ptr[1000000], '\0');
	pfs_buf_release(&b);
}
END_TEST

START_TEST(buf_steal)
{
	struct pfs_buf b = PFS_BUF_INIT(10);
	size_t n = 99;
	char *p = pfs_buf_steal(&b, &n);

	ck_assert_str_eq(p, "");
	ck_assert_uint_eq(n, 0);
	free(p);
	pfs_buf_addstr(&b, "abc");
	p = pfs_buf_steal(&b, &n);
	ck_assert_str_eq(p, "abc");
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_null(b.ptr);
	free(p);
}
END_TEST

START_TEST(buf_pwrite)
{
	struct pfs_buf b = PFS_BUF_INIT(16);

	/* O_TRUNC / ftruncate(0) of an empty buffer: nothing to copy, no memory yet */
	ck_assert_int_eq(pfs_buf_pwrite(&b, "", 0, 0), 0);
	ck_assert_uint_eq(pfs_buf_len(&b), 0);
	/* the first write of an editor's save: an empty buffer, at 0 */
	ck_assert_int_eq(pfs_buf_pwrite(&b, "abc", 3, 0), 0);
	ck_assert_str_eq(pfs_buf_str(&b), "abc");
	ck_assert_int_eq(pfs_buf_pwrite(&b, "XY", 2, 2), 0);
	ck_assert_str_eq(pfs_buf_str(&b), "abXY");
	ck_assert_int_eq(pfs_buf_pwrite(&b, "z", 1, 6), 0); /* a hole reads as NULs */
	ck_assert_uint_eq(pfs_buf_len(&b), 7);
	ck_assert_int_eq(memcmp(b.ptr, "abXY\0\0z", 7), 0);
	ck_assert_int_eq(pfs_buf_pwrite(&b, "0123456789", 10, 7), -EFBIG);
	ck_assert_int_eq(pfs_buf_pwrite(&b, "a", 1, -1), -EINVAL);
	/* a truncate that grows: NULs up to the new size */
	ck_assert_int_eq(pfs_buf_pwrite(&b, "", 0, 9), 0);
	ck_assert_uint_eq(pfs_buf_len(&b), 9);
	pfs_buf_release(&b);
}
END_TEST

START_TEST(names)
{
	static const char *good[] = { "t1", "echo.1", "A_b-c", "0", "a..b" };
	static const char *bad[] = { "", ".hidden", "-x", "a b", "a/b", "é", "x\n" };
	char longname[66];

	for (size_t i = 0; i < PFS_ARRAY_SIZE(good); i++)
		ck_assert_msg(pfs_name_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < PFS_ARRAY_SIZE(bad); i++)
		ck_assert_msg(!pfs_name_valid(bad[i]), "%s", bad[i]);
	memset(longname, 'a', 64);
	longname[64] = '\0';
	ck_assert(pfs_name_valid(longname));
	longname[64] = 'a';
	longname[65] = '\0';
	ck_assert(!pfs_name_valid(longname));
	ck_assert(!pfs_name_valid(NULL));
}
END_TEST

START_TEST(shell_quote)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain", "plain" },
		{ "--host=10.0.0.2", "--host=10.0.0.2" },
		{ "", "''" },
		{ "two words", "'two words'" },
		{ "it's", "'it'\\''s'" },
		{ "$HOME", "'$HOME'" },
		{ "a;b", "'a;b'" },
		{ "/opt/mvfst/bin/echo", "/opt/mvfst/bin/echo" },
	};

	for (size_t i = 0; i < PFS_ARRAY_SIZE(cases); i++) {
		struct pfs_buf b = PFS_BUF_INIT(1024);

		ck_assert_int_eq(pfs_shell_quote(&b, cases[i].in), 0);
		ck_assert_str_eq(pfs_buf_str(&b), cases[i].out);
		pfs_buf_release(&b);
	}
}
END_TEST

START_TEST(parse_long)
{
	long v = 0;

	ck_assert_int_eq(pfs_parse_long("6666", 1, 65535, &v), 0);
	ck_assert_int_eq(v, 6666);
	ck_assert_int_eq(pfs_parse_long("0", 1, 65535, &v), -ERANGE);
	ck_assert_int_eq(pfs_parse_long("65536", 1, 65535, &v), -ERANGE);
	ck_assert_int_eq(pfs_parse_long("12a", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(pfs_parse_long("", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(pfs_parse_long("99999999999999999999999", 0, LONG_MAX, &v), -EINVAL);
	ck_assert_int_eq(v, 6666);
}
END_TEST

START_TEST(time_format)
{
	struct timespec ts = { 1795685607, 123456789 };
	char out[40];

	pfs_time_format(&ts, out, sizeof(out));
	ck_assert_str_eq(out, "2026-11-26T09:33:27.123456Z");
}
END_TEST

START_TEST(err_helpers)
{
	struct pfs_err e = { 0 };

	ck_assert_int_eq(pfs_err_set(&e, -ENOENT, "no %s", "thing"), -ENOENT);
	ck_assert_str_eq(e.msg, "no thing");
	ck_assert_int_eq(pfs_err_prefix(&e, "step %d", 2), -ENOENT);
	ck_assert_str_eq(e.msg, "step 2: no thing");
	ck_assert_str_eq(pfs_err_str(NULL, -ENOENT), "No such file or directory");
	ck_assert_int_eq(pfs_err_set(NULL, -EIO, "ignored"), -EIO);
}
END_TEST

START_TEST(files)
{
	char dir[] = "/tmp/pfs-util-XXXXXX", path[256], sub[256];
	struct pfs_buf b = PFS_BUF_INIT(16);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
	ck_assert_int_eq(pfs_mkdir_p(sub, 0755), 0);
	ck_assert_int_eq(pfs_mkdir_p(sub, 0755), 0);
	snprintf(path, sizeof(path), "%s/a/b/c/f", dir);
	ck_assert_int_eq(pfs_write_file_atomic(path, "first", 5), 0);
	ck_assert_int_eq(pfs_write_file_atomic(path, "second", 6), 0);
	ck_assert_int_eq(pfs_append_file(path, "+more", 5), 0);
	ck_assert_int_eq(pfs_read_file(path, &b), 0);
	ck_assert_str_eq(pfs_buf_str(&b), "second+more");
	pfs_buf_release(&b);
	ck_assert_int_eq(pfs_append_file(path, "0123456789", 10), 0);
	/* 21 bytes do not fit a 16-byte cap */
	ck_assert_int_eq(pfs_read_file(path, &b), -EFBIG);
	ck_assert_int_eq(pfs_read_file("/nonexistent/x", &b), -ENOENT);
	ck_assert_int_eq(pfs_rm_rf(dir), 0);
	ck_assert_int_eq(access(dir, F_OK), -1);
	ck_assert_int_eq(pfs_rm_rf(dir), 0);
}
END_TEST

START_TEST(sha256)
{
	char hex[65];

	pfs_sha256_hex("abc", 3, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(file_inplace)
{
	char dir[] = "/tmp/pfs-inplace.XXXXXX", path[64];
	struct pfs_buf b = PFS_BUF_INIT(1024);
	struct stat st1, st2;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pos", dir);
	/* created when missing */
	ck_assert_int_eq(pfs_write_file_inplace(path, "first  \n", 8), 0);
	ck_assert_int_eq(stat(path, &st1), 0);
	/* rewritten at the start: the same inode (no rename), the new bytes */
	ck_assert_int_eq(pfs_write_file_inplace(path, "second \n", 8), 0);
	ck_assert_int_eq(stat(path, &st2), 0);
	ck_assert_uint_eq(st1.st_ino, st2.st_ino);
	ck_assert_int_eq(pfs_read_file(path, &b), 0);
	ck_assert_str_eq(pfs_buf_str(&b), "second \n");
	pfs_buf_release(&b);
	ck_assert_int_eq(pfs_write_file_inplace("/nonexistent-dir/x", "a", 1), -ENOENT);
	unlink(path);
	rmdir(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("util");
	TCase *t = tcase_create("buf");

	tcase_add_test(t, buf_appends_and_terminates);
	tcase_add_test(t, buf_cap_is_exact_and_failure_frees);
	tcase_add_test(t, buf_grows_large);
	tcase_add_test(t, buf_steal);
	tcase_add_test(t, buf_pwrite);
	suite_add_tcase(s, t);
	t = tcase_create("util");
	tcase_add_test(t, names);
	tcase_add_test(t, shell_quote);
	tcase_add_test(t, parse_long);
	tcase_add_test(t, time_format);
	tcase_add_test(t, err_helpers);
	tcase_add_test(t, files);
	tcase_add_test(t, file_inplace);
	tcase_add_test(t, sha256);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return pfs_check_run(suite());
}
