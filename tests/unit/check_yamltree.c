/* SPDX-License-Identifier: MIT */
/*
 * yamltree: values as PyYAML's SafeLoader makes them, exact positions, and
 * every refusal with its exact message. Every check_value() expectation was
 * compared with PyYAML 6.0.3's safe_load; the one difference, a timestamp
 * kept as a string, is marked.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfs_check.h"
#include "pantherfs/buf.h"
#include "pantherfs/util.h"
#include "pantherfs/yamltree.h"

#if defined(__has_include)
#if __has_include("pfs_config.h")
#include "pfs_config.h"
#endif
#endif

#include "pantherfs/banned.h"

static struct pfs_err err;

static struct ydoc *parse_n(const char *text, size_t len)
{
	struct ydoc *d = NULL;
	int r;

	pfs_err_clear(&err);
	r = ydoc_parse("config.yaml", text, len, &d, &err);
	ck_assert_msg(r == 0, "parse failed (%d): %s\n--- input:\n%.300s", r, err.msg, text);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(ydoc_root(d));
	return d;
}

static struct ydoc *parse(const char *text)
{
	return parse_n(text, strlen(text));
}

static void expect_err_n(const char *text, size_t len, int code, const char *msg)
{
	struct ydoc *d = (struct ydoc *)&err; /* must be reset to NULL */
	int r;

	pfs_err_clear(&err);
	r = ydoc_parse("config.yaml", text, len, &d, &err);
	ck_assert_msg(r == code, "got %d \"%s\", want %d \"%s\"", r, err.msg, code, msg);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(err.code, code);
	ck_assert_str_eq(err.msg, msg);
}

static void expect_err(const char *text, int code, const char *msg)
{
	expect_err_n(text, strlen(text), code, msg);
}

/* "v: <yaml>" must give the JSON value `want` (exact type: 1 is not 1.0). */
static void check_value(const char *yaml, const char *want)
{
	char doc[512];
	json_error_t jerr;
	json_t *w = json_loads(want, JSON_DECODE_ANY, &jerr), *got;
	struct ydoc *d;
	char *dump;

	ck_assert_msg(w != NULL, "bad expected JSON %s", want);
	snprintf(doc, sizeof(doc), "v: %s\n", yaml);
	d = parse(doc);
	got = json_object_get(ydoc_root(d), "v");
	dump = json_dumps(got, JSON_ENCODE_ANY);
	ck_assert_msg(json_equal(got, w), "v: %s gave %s, want %s", yaml, dump, want);
	free(dump);
	json_decref(w);
	ydoc_free(d);
}

#define ck_pos(p, l, c)                                                              \
	do {                                                                         \
		struct ydoc_pos p_ = (p);                                            \
		ck_assert_msg(p_.line == (l) && p_.col == (c), "%s is %d:%d, want %d:%d", \
			      #p, p_.line, p_.col, (l), (c));                        \
	} while (0)

static json_t *path(json_t *v, const char *p)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", p);
	for (tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save)) {
		if (json_is_array(v))
			v = json_array_get(v, strtoul(tok, NULL, 10));
		else
			v = json_object_get(v, tok);
	}
	ck_assert_msg(v != NULL, "no %s", p);
	return v;
}

/* ---- scalars ----------------------------------------------------------------- */

START_TEST(test_null)
{
	check_value("~", "null");
	check_value("null", "null");
	check_value("Null", "null");
	check_value("NULL", "null");
	check_value("", "null");
	check_value("nULL", "\"nULL\"");
	check_value("\"null\"", "\"null\"");
	check_value("'~'", "\"~\"");
}
END_TEST

START_TEST(test_bool)
{
	static const char *const yes[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
	static const char *const no[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};

	for (size_t i = 0; i < PFS_ARRAY_SIZE(yes); i++) {
		check_value(yes[i], "true");
		check_value(no[i], "false");
	}
	check_value("yEs", "\"yEs\"");
	check_value("y", "\"y\"");
	check_value("n", "\"n\"");
	check_value("'yes'", "\"yes\"");
	check_value("\"on\"", "\"on\"");
}
END_TEST

START_TEST(test_int)
{
	check_value("0", "0");
	check_value("42", "42");
	check_value("+42", "42");
	check_value("-42", "-42");
	check_value("-0", "0");
	check_value("1_000", "1000");
	check_value("1__0_", "10");
	check_value("0x1F", "31");
	check_value("0x_1f", "31");
	check_value("-0x10", "-16");
	check_value("017", "15");          /* leading 0: octal */
	check_value("00", "0");
	check_value("0_", "0");
	check_value("0b101", "5");
	check_value("-0b1_0", "-2");
	check_value("22:22", "1342");      /* YAML 1.1 base 60 */
	check_value("1:30:00", "5400");
	check_value("-1:30", "-90");
	check_value("1_0:30", "630");
	check_value("9223372036854775807", "9223372036854775807");
	check_value("-9223372036854775808", "-9223372036854775808");
	check_value("0x7fffffffffffffff", "9223372036854775807");
	/* what PyYAML leaves as strings */
	check_value("0o17", "\"0o17\"");
	check_value("09", "\"09\"");
	check_value("0b102", "\"0b102\"");
	check_value("1:60", "\"1:60\"");
	check_value("12:70:10", "\"12:70:10\"");
	check_value("5001:5001", "\"5001:5001\"");
	check_value("0:30", "\"0:30\"");
	check_value("1,000", "\"1,000\"");
	check_value("_1", "\"_1\"");
	check_value("\"123\"", "\"123\"");
	check_value("'42'", "\"42\"");
}
END_TEST

START_TEST(test_float)
{
	check_value("1.5", "1.5");
	check_value("-2.0e+3", "-2000.0");
	check_value("2.5E-1", "0.25");
	check_value(".5", "0.5");
	check_value(".5e+1", "5.0");
	check_value("1.", "1.0");
	check_value("+1.25", "1.25");
	check_value("1_000.5", "1000.5");
	check_value("1_.5_", "1.5");
	check_value("-0.0", "-0.0");
	check_value("1:30.5", "90.5");
	check_value("190:20:30.15", "685230.15");
	/* what PyYAML leaves as strings */
	check_value("1e3", "\"1e3\"");
	check_value("1.0e3", "\"1.0e3\"");   /* the exponent needs a sign */
	check_value("-.5", "\"-.5\"");       /* no sign before a bare dot */
	check_value("+.5", "\"+.5\"");
	check_value("._5", "\"._5\"");
	check_value(".", "\".\"");
	check_value("1.5.2", "\"1.5.2\"");
	check_value("'1.5'", "\"1.5\"");
	check_value("inf", "\"inf\"");
	check_value("NaN", "\"NaN\"");
}
END_TEST

START_TEST(test_string)
{
	check_value("hello world", "\"hello world\"");
	check_value("2024-01-01", "\"2024-01-01\"");  /* PyYAML: a date */
	check_value("\"tab\\there \\u00e9 \\x41\"", "\"tab\\there \\u00e9 A\"");
	check_value("'it''s'", "\"it's\"");
	check_value("\"\"", "\"\"");
	check_value("''", "\"\"");
	check_value("{a: b}", "{\"a\": \"b\"}");
	check_value("quic/mvfst", "\"quic/mvfst\"");
	check_value("\"%(asctime)s [%(levelname)s]\"", "\"%(asctime)s [%(levelname)s]\"");
	check_value("'{{ not a map }}'", "\"{{ not a map }}\"");
	check_value("x # comment", "\"x\"");
	check_value("x#y", "\"x#y\"");
	check_value("\"<<\"", "\"<<\"");
}
END_TEST

START_TEST(test_block_scalars)
{
	struct ydoc *d = parse(
		"lit: |\n"
		"  line1\n"
		"    indented\n"
		"  line3\n"
		"fold: >\n"
		"  folded\n"
		"  text\n"
		"\n"
		"  para\n"
		"strip: |-\n"
		"  no newline\n"
		"keep: |+\n"
		"  kept\n"
		"\n"
		"num: |\n"
		"  123\n"
		"plain: one\n"
		"  two\n"
		"   three\n");
	json_t *r = ydoc_root(d);

	ck_assert_str_eq(json_string_value(json_object_get(r, "lit")), "line1\n  indented\nline3\n");
	ck_assert_str_eq(json_string_value(json_object_get(r, "fold")), "folded text\npara\n");
	ck_assert_str_eq(json_string_value(json_object_get(r, "strip")), "no newline");
	ck_assert_str_eq(json_string_value(json_object_get(r, "keep")), "kept\n\n");
	ck_assert_str_eq(json_string_value(json_object_get(r, "num")), "123\n");
	ck_assert_str_eq(json_string_value(json_object_get(r, "plain")), "one two three");
	ck_pos(ydoc_pos(d, json_object_get(r, "lit")), 1, 6);
	ck_pos(ydoc_pos(d, json_object_get(r, "fold")), 5, 7);
	ck_pos(ydoc_pos(d, json_object_get(r, "plain")), 17, 8);
	ydoc_free(d);
}
END_TEST

/* ---- tags ----------------------------------------------------------------------- */

START_TEST(test_tags)
{
	check_value("!!str 123", "\"123\"");
	check_value("!!str yes", "\"yes\"");
	check_value("!!str", "\"\"");
	check_value("!!int \"12\"", "12");
	check_value("!!int 0x10", "16");
	check_value("!!float 1", "1.0");
	check_value("!!float 1e3", "1000.0");
	check_value("!!float \"2.5\"", "2.5");
	check_value("!!float 017", "17.0");
	check_value("!!float 1:30", "90.0");
	check_value("!!bool yEs", "true");
	check_value("!!bool 'OFF'", "false");
	check_value("!!null ~", "null");
	check_value("!!null ''", "null");
	check_value("!!map {a: 1}", "{\"a\": 1}");
	check_value("!!seq [1]", "[1]");
	check_value("!<tag:yaml.org,2002:str> 1", "\"1\"");
	/* the non-specific tag: PyYAML resolves the text as plain, even quoted */
	check_value("! 12", "12");
	check_value("! \"12\"", "12");
	check_value("! [1]", "[1]");
	check_value("! {a: 1}", "{\"a\": 1}");
}
END_TEST

START_TEST(test_tag_errors)
{
	expect_err("v: !!int abc", -EINVAL, "config.yaml:1:4: v: value \"abc\" does not fit tag !!int");
	expect_err("v: !!int 1.5", -EINVAL, "config.yaml:1:4: v: value \"1.5\" does not fit tag !!int");
	expect_err("v: !!float abc", -EINVAL, "config.yaml:1:4: v: value \"abc\" does not fit tag !!float");
	expect_err("v: !!float 0x10", -EINVAL, "config.yaml:1:4: v: value \"0x10\" does not fit tag !!float");
	expect_err("v: !!bool maybe", -EINVAL, "config.yaml:1:4: v: value \"maybe\" does not fit tag !!bool");
	expect_err("v: !!null x", -EINVAL, "config.yaml:1:4: v: value \"x\" does not fit tag !!null");
	expect_err("v: !!map x", -EINVAL, "config.yaml:1:4: v: tag !!map needs a mapping, found a scalar");
	expect_err("v: !!seq x", -EINVAL, "config.yaml:1:4: v: tag !!seq needs a sequence, found a scalar");
	expect_err("- !!seq {a: 1}", -EINVAL, "config.yaml:1:3: tag !!seq needs a sequence, found a mapping");
	expect_err("- !!map [1]", -EINVAL, "config.yaml:1:3: tag !!map needs a mapping, found a sequence");
	expect_err("- !!str {a: 1}", -EINVAL, "config.yaml:1:3: tag !!str needs a scalar, found a mapping");
	expect_err("- !!int [1]", -EINVAL, "config.yaml:1:3: tag !!int needs a scalar, found a sequence");
	expect_err("v: !!binary aGk=", -EINVAL, "config.yaml:1:4: v: unsupported tag \"!!binary\"");
	expect_err("v: !!timestamp 2024-01-01", -EINVAL,
		   "config.yaml:1:4: v: unsupported tag \"!!timestamp\"");
	expect_err("v: !!set {a}", -EINVAL, "config.yaml:1:4: unsupported tag \"!!set\"");
	expect_err("v: !foo x", -EINVAL, "config.yaml:1:4: v: unsupported tag \"!foo\"");
	expect_err("v: !<tag:example.com,2024:x> y", -EINVAL,
		   "config.yaml:1:4: v: unsupported tag \"tag:example.com,2024:x\"");
	expect_err("!!int k: v", -EINVAL, "config.yaml:1:1: value \"k\" does not fit tag !!int");
	expect_err("!custom k: v", -EINVAL, "config.yaml:1:1: unsupported tag \"!custom\"");
}
END_TEST

/* ---- structure and positions ------------------------------------------------------ */

START_TEST(test_nested_flow)
{
	struct ydoc *d = parse(
		"a:\n"
		"  b:\n"
		"    - 1\n"
		"    - [x, {y: [true, ~]}]\n"
		"    - {}\n"
		"    - []\n"
		"  c: {d: {e: [1.5, \"s\"]}, f: [], g: }\n"
		"h: [a, b,\n"
		"    c]\n");
	json_error_t jerr;
	json_t *want = json_loads(
		"{\"a\": {\"b\": [1, [\"x\", {\"y\": [true, null]}], {}, []],"
		"        \"c\": {\"d\": {\"e\": [1.5, \"s\"]}, \"f\": [], \"g\": null}},"
		" \"h\": [\"a\", \"b\", \"c\"]}", 0, &jerr);

	ck_assert_ptr_nonnull(want);
	ck_assert(json_equal(ydoc_root(d), want));
	json_decref(want);
	ydoc_free(d);
}
END_TEST

START_TEST(test_positions_block)
{
	struct ydoc *d = parse(
		"# header\n"                               /* 1 */
		"server:\n"                                /* 2 */
		"  name: alpha\n"                          /* 3 */
		"  ports:\n"                               /* 4 */
		"    - 80\n"                               /* 5 */
		"    - \"443\"\n"                          /* 6 */
		"  nested:\n"                              /* 7 */
		"    deeper:\n"                            /* 8 */
		"      deepest: x\n"                       /* 9 */
		"list:\n"                                  /* 10 */
		"- a\n"                                    /* 11 */
		"-   k: v\n"                               /* 12 */
		"    k2:   \"v2\"\n"                       /* 13 */
		"'quoted key':   &anc 7\n"                 /* 14 */
		"? explicit\n"                             /* 15 */
		": value\n"                                /* 16 */
		"empty:\n");                               /* 17 */
	json_t *r = ydoc_root(d), *server = path(r, "server"), *list = path(r, "list");

	ck_pos(ydoc_pos(d, r), 2, 1);
	ck_pos(ydoc_key_pos(d, r, "server"), 2, 1);
	ck_pos(ydoc_value_pos(d, r, "server"), 3, 3);
	ck_pos(ydoc_pos(d, server), 3, 3);
	ck_pos(ydoc_key_pos(d, server, "name"), 3, 3);
	ck_pos(ydoc_pos(d, path(r, "server.name")), 3, 9);
	ck_pos(ydoc_key_pos(d, server, "ports"), 4, 3);
	ck_pos(ydoc_pos(d, path(r, "server.ports")), 5, 5);
	ck_pos(ydoc_item_pos(d, path(r, "server.ports"), 0), 5, 7);
	ck_pos(ydoc_item_pos(d, path(r, "server.ports"), 1), 6, 7);
	ck_pos(ydoc_pos(d, path(r, "server.ports.1")), 6, 7);
	ck_pos(ydoc_key_pos(d, path(r, "server.nested"), "deeper"), 8, 5);
	ck_pos(ydoc_key_pos(d, path(r, "server.nested.deeper"), "deepest"), 9, 7);
	ck_pos(ydoc_pos(d, path(r, "server.nested.deeper.deepest")), 9, 16);
	ck_pos(ydoc_pos(d, list), 11, 1);
	ck_pos(ydoc_item_pos(d, list, 0), 11, 3);
	ck_pos(ydoc_item_pos(d, list, 1), 12, 5);
	ck_pos(ydoc_key_pos(d, path(r, "list.1"), "k2"), 13, 5);
	ck_pos(ydoc_value_pos(d, path(r, "list.1"), "k2"), 13, 11);
	ck_pos(ydoc_key_pos(d, r, "quoted key"), 14, 1);
	ck_pos(ydoc_pos(d, path(r, "quoted key")), 14, 17);   /* at the anchor */
	ck_pos(ydoc_key_pos(d, r, "explicit"), 15, 3);
	ck_pos(ydoc_value_pos(d, r, "explicit"), 16, 3);
	ck_pos(ydoc_key_pos(d, r, "empty"), 17, 1);
	ck_pos(ydoc_value_pos(d, r, "empty"), 17, 7);         /* after the colon */
	ydoc_free(d);

	/* a tab counts as one column */
	d = parse("a: [1,\t2]\n");
	ck_pos(ydoc_item_pos(d, path(ydoc_root(d), "a"), 1), 1, 8);
	ydoc_free(d);
}
END_TEST

START_TEST(test_positions_flow)
{
	struct ydoc *d = parse(
		"limits: {cpu: 2, mem: [1, 2], deep: {x: {y: z}}}\n"
		"multi: [\n"
		"  one,\n"
		"  {two: 2}\n"
		"]\n"
		"\"é\": [ü, \"x\"]\n");   /* columns count characters, not bytes */
	json_t *r = ydoc_root(d), *lim = path(r, "limits");

	ck_pos(ydoc_pos(d, lim), 1, 9);
	ck_pos(ydoc_key_pos(d, lim, "cpu"), 1, 10);
	ck_pos(ydoc_pos(d, path(r, "limits.cpu")), 1, 15);
	ck_pos(ydoc_key_pos(d, lim, "mem"), 1, 18);
	ck_pos(ydoc_pos(d, path(r, "limits.mem")), 1, 23);
	ck_pos(ydoc_item_pos(d, path(r, "limits.mem"), 1), 1, 27);
	ck_pos(ydoc_key_pos(d, path(r, "limits.deep.x"), "y"), 1, 42);
	ck_pos(ydoc_pos(d, path(r, "limits.deep.x.y")), 1, 45);
	ck_pos(ydoc_pos(d, path(r, "multi")), 2, 8);
	ck_pos(ydoc_item_pos(d, path(r, "multi"), 0), 3, 3);
	ck_pos(ydoc_pos(d, path(r, "multi.1")), 4, 3);
	ck_pos(ydoc_key_pos(d, path(r, "multi.1"), "two"), 4, 4);
	ck_pos(ydoc_key_pos(d, r, "é"), 6, 1);
	ck_pos(ydoc_item_pos(d, path(r, "é"), 0), 6, 7);
	ck_pos(ydoc_item_pos(d, path(r, "é"), 1), 6, 10);
	ydoc_free(d);
}
END_TEST

START_TEST(test_positions_singletons)
{
	struct ydoc *d = parse("a: true\nb: [false, ~, yes]\nc:\n");
	json_t *r = ydoc_root(d), *b = path(r, "b");

	/* true/false/null are shared jansson singletons: no pointer position */
	ck_pos(ydoc_pos(d, path(r, "a")), 0, 0);
	ck_pos(ydoc_value_pos(d, r, "a"), 1, 4);
	ck_pos(ydoc_item_pos(d, b, 0), 2, 5);
	ck_pos(ydoc_item_pos(d, b, 1), 2, 12);
	ck_pos(ydoc_item_pos(d, b, 2), 2, 15);
	ck_pos(ydoc_item_pos(d, b, 3), 0, 0);
	ck_pos(ydoc_value_pos(d, r, "c"), 3, 3);
	ydoc_free(d);

	/* the root is always placed */
	d = parse("\n\n  true\n");
	ck_assert(json_is_true(ydoc_root(d)));
	ck_pos(ydoc_pos(d, ydoc_root(d)), 3, 3);
	ydoc_free(d);
	d = parse("--- 42\n");
	ck_pos(ydoc_pos(d, ydoc_root(d)), 1, 5);
	ydoc_free(d);
}
END_TEST

START_TEST(test_keys_text)
{
	struct ydoc *d = parse("1: a\ntrue: b\n~: c\n0x10: d\n'q': e\n!!int 5: f\n1.5: g\n\"\": h\n=: i\n");
	json_t *r = ydoc_root(d);

	ck_assert_int_eq(json_object_size(r), 9);
	ck_assert_str_eq(json_string_value(json_object_get(r, "1")), "a");
	ck_assert_str_eq(json_string_value(json_object_get(r, "true")), "b");
	ck_assert_str_eq(json_string_value(json_object_get(r, "~")), "c");
	ck_assert_str_eq(json_string_value(json_object_get(r, "0x10")), "d");
	ck_assert_str_eq(json_string_value(json_object_get(r, "q")), "e");
	ck_assert_str_eq(json_string_value(json_object_get(r, "5")), "f");
	ck_assert_str_eq(json_string_value(json_object_get(r, "1.5")), "g");
	ck_assert_str_eq(json_string_value(json_object_get(r, "")), "h");
	ck_assert_str_eq(json_string_value(json_object_get(r, "=")), "i");
	ck_pos(ydoc_key_pos(d, r, "~"), 3, 1);
	ck_pos(ydoc_key_pos(d, r, "5"), 6, 1);
	ck_pos(ydoc_key_pos(d, r, "nope"), 0, 0);
	ydoc_free(d);

	/* keys keep the file's order */
	d = parse("z: 1\na: 2\nm: 3\n");
	{
		const char *order[] = {"z", "a", "m"}, *k;
		json_t *v;
		size_t i = 0;

		json_object_foreach(ydoc_root(d), k, v)
			ck_assert_str_eq(k, order[i++]);
	}
	ydoc_free(d);
}
END_TEST

/* ---- anchors, aliases, merges ------------------------------------------------------- */

START_TEST(test_anchor_alias)
{
	struct ydoc *d = parse(
		"base: &b\n"               /* 1 */
		"  port: 80\n"             /* 2 */
		"copy: *b\n"               /* 3 */
		"list: [&s str, *s, *b]\n" /* 4 */
		"&k key: 1\n"              /* 5 */
		"other: *k\n"              /* 6 */
		"*s : aliased key\n");     /* 7 */
	json_t *r = ydoc_root(d);

	ck_assert_ptr_eq(path(r, "base"), path(r, "copy"));
	ck_assert_ptr_eq(path(r, "list.0"), path(r, "list.1"));
	ck_assert_ptr_eq(path(r, "list.2"), path(r, "base"));
	ck_assert_str_eq(json_string_value(path(r, "other")), "key");
	ck_assert_str_eq(json_string_value(path(r, "str")), "aliased key");
	/* the node's position is the anchor's; the slot's is where the alias is */
	ck_pos(ydoc_pos(d, path(r, "copy")), 1, 7);
	ck_pos(ydoc_value_pos(d, r, "copy"), 3, 7);
	ck_pos(ydoc_pos(d, path(r, "list.1")), 4, 8);
	ck_pos(ydoc_item_pos(d, path(r, "list"), 1), 4, 16);
	ck_pos(ydoc_pos(d, path(r, "other")), 5, 1);
	ck_pos(ydoc_key_pos(d, r, "str"), 7, 1);
	ydoc_free(d);

	/* a modest fan-out is fine */
	d = parse("a: &a [1, 2, 3]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n");
	ck_assert_int_eq(json_array_size(path(ydoc_root(d), "c")), 3);
	ydoc_free(d);
}
END_TEST

START_TEST(test_merge)
{
	struct ydoc *d = parse(
		"defaults: &d\n"                        /* 1 */
		"  timeout: 100\n"                      /* 2 */
		"  role: server\n"                      /* 3 */
		"other: &o {role: client, port: 1}\n"   /* 4 */
		"svc:\n"                                /* 5 */
		"  <<: *d\n"                            /* 6 */
		"  role: client\n"                      /* 7 */
		"list:\n"                               /* 8 */
		"  <<: [*d, *o]\n"                      /* 9 */
		"two:\n"                                /* 10 */
		"  <<: *d\n"                            /* 11 */
		"  <<: *o\n"                            /* 12 */
		"inline: {<<: {a: 1}, b: 2}\n"          /* 13 */
		"quoted: {\"<<\": 1}\n");               /* 14 */
	json_t *r = ydoc_root(d), *svc = path(r, "svc"), *list = path(r, "list");
	json_error_t jerr;
	json_t *want = json_loads(
		"{\"timeout\": 100, \"role\": \"server\", \"port\": 1}", 0, &jerr);
	const char *k, *order[] = {"role", "port", "timeout"};
	json_t *v;
	size_t i = 0;

	/* own keys win over merged ones */
	ck_assert_int_eq(json_integer_value(path(r, "svc.timeout")), 100);
	ck_assert_str_eq(json_string_value(path(r, "svc.role")), "client");
	ck_pos(ydoc_key_pos(d, svc, "role"), 7, 3);
	ck_pos(ydoc_key_pos(d, svc, "timeout"), 2, 3);   /* where it is written */
	ck_pos(ydoc_value_pos(d, svc, "timeout"), 2, 12);
	ck_pos(ydoc_key_pos(d, svc, "<<"), 0, 0);
	/* in a list the first mapping wins; keys in PyYAML's order (o's, then d's) */
	ck_assert(json_equal(list, want));
	json_object_foreach(list, k, v)
		ck_assert_str_eq(k, order[i++]);
	ck_pos(ydoc_key_pos(d, list, "port"), 4, 26);
	/* a later "<<" wins over an earlier one */
	ck_assert_str_eq(json_string_value(path(r, "two.role")), "client");
	ck_assert_int_eq(json_integer_value(path(r, "two.timeout")), 100);
	ck_assert_int_eq(json_integer_value(path(r, "inline.a")), 1);
	ck_assert_int_eq(json_integer_value(path(r, "quoted.<<")), 1);
	/* the anchors are untouched */
	ck_assert_int_eq(json_object_size(path(r, "defaults")), 2);
	json_decref(want);
	ydoc_free(d);
}
END_TEST

START_TEST(test_merge_errors)
{
	expect_err("a:\n  <<: 3\n", -EINVAL,
		   "config.yaml:2:7: expected a mapping or list of mappings for merging, but found a scalar");
	expect_err("a: {<<: [{}, [1]]}\n", -EINVAL,
		   "config.yaml:1:14: expected a mapping for merging, but found a sequence");
	expect_err("a: <<\n", -EINVAL,
		   "config.yaml:1:4: a: plain \"<<\" used as a value (PyYAML cannot load it either; quote it)");
	expect_err("- =\n", -EINVAL,
		   "config.yaml:1:3: [0]: plain \"=\" used as a value (PyYAML cannot load it either; quote it)");
	/* merged keys are not duplicates, own ones are */
	expect_err("a: &a {x: 1}\nb:\n  <<: *a\n  x: 2\n  x: 3\n", -EINVAL,
		   "config.yaml:5:3: duplicate key \"x\" (first at line 4)");
}
END_TEST

START_TEST(test_empty)
{
	static const char *const empties[] = {"", "# only\n# comments\n", "\n\n", "---\n", "--- ~\n", "--- # c\n...\n"};

	for (size_t i = 0; i < PFS_ARRAY_SIZE(empties); i++) {
		struct ydoc *d = parse(empties[i]);

		ck_assert_msg(json_is_null(ydoc_root(d)), "input %zu", i);
		ydoc_free(d);
	}
	expect_err("...\n", -EINVAL, "config.yaml:1:1: did not find expected node content");
}
END_TEST

START_TEST(test_api_misc)
{
	struct ydoc *d = NULL;
	struct ydoc_pos p;

	ydoc_free(NULL);
	ck_assert_ptr_null(ydoc_root(NULL));
	p = ydoc_pos(NULL, NULL);
	ck_pos(p, 0, 0);
	ck_assert_int_eq(ydoc_parse("x.yaml", NULL, 0, &d, NULL), 0);
	ck_assert(json_is_null(ydoc_root(d)));
	ydoc_free(d);
	ck_assert_int_eq(ydoc_parse("x.yaml", "a", 1, NULL, &err), -EINVAL);
	ck_assert_int_eq(ydoc_parse(NULL, "a: [", 4, &d, &err), -EINVAL);
	ck_assert_ptr_null(d);
	ck_assert_str_eq(err.msg, "<input>:2:1: did not find expected node content");
	/* no error struct is fine */
	ck_assert_int_eq(ydoc_parse("x.yaml", "a: *x", 5, &d, NULL), -EINVAL);

	/* not NUL-terminated: only len bytes are read */
	d = parse_n("a: 12345", 5);
	ck_assert_int_eq(json_integer_value(json_object_get(ydoc_root(d), "a")), 12);
	/* lookups with foreign or wrong nodes */
	{
		json_t *foreign = json_object();

		ck_pos(ydoc_pos(d, foreign), 0, 0);
		ck_pos(ydoc_key_pos(d, foreign, "a"), 0, 0);
		ck_pos(ydoc_item_pos(d, ydoc_root(d), 0), 0, 0);
		ck_pos(ydoc_key_pos(d, ydoc_root(d), NULL), 0, 0);
		json_decref(foreign);
	}
	ydoc_free(d);

	/* BOM: skipped, not counted (as PyYAML; libyaml counts it) */
	d = parse("\xef\xbb\xbf" "a: 1\nb: [x]\n");
	ck_pos(ydoc_key_pos(d, ydoc_root(d), "a"), 1, 1);
	ck_pos(ydoc_value_pos(d, ydoc_root(d), "a"), 1, 4);
	ck_pos(ydoc_item_pos(d, path(ydoc_root(d), "b"), 0), 2, 5);
	ydoc_free(d);
	expect_err("\xef\xbb\xbf" "a: \x01", -EINVAL, "config.yaml:1:4: binary content (byte 0x01)");
	expect_err("\xef\xbb\xbf" "a: *x", -EINVAL, "config.yaml:1:4: undefined alias \"x\"");
	/* CRLF line ends */
	d = parse("a: 1\r\nb: 2\r\n");
	ck_pos(ydoc_key_pos(d, ydoc_root(d), "b"), 2, 1);
	ydoc_free(d);
}
END_TEST

/* ---- errors -------------------------------------------------------------------------- */

START_TEST(test_err_duplicate_key)
{
	expect_err("services:\n"
		   "  srv:\n"
		   "    name: a\n"
		   "    timeout: 100\n"
		   "    implementation:\n"
		   "      name: picoquic\n"
		   "    protocol:\n"
		   "      name: quic\n"
		   "    timeout: 200\n",
		   -EINVAL, "config.yaml:9:5: duplicate key \"timeout\" (first at line 4)");
	expect_err("{a: 1, a: 2}", -EINVAL, "config.yaml:1:8: duplicate key \"a\" (first at line 1)");
	/* keys are their text: 1 and "1" are the same key */
	expect_err("1: a\n\"1\": b\n", -EINVAL, "config.yaml:2:1: duplicate key \"1\" (first at line 1)");
	expect_err("\"a\\\"b\": 1\n'a\"b': 2\n", -EINVAL,
		   "config.yaml:2:1: duplicate key \"a\\\"b\" (first at line 1)");
	/* same key in different mappings is fine */
	ydoc_free(parse("a: {x: 1}\nb: {x: 1}\n"));
}
END_TEST

START_TEST(test_err_two_documents)
{
	expect_err("a: 1\n---\nb: 2\n", -EINVAL, "config.yaml:2:1: several YAML documents in one file");
	expect_err("--- 1\n--- 2\n", -EINVAL, "config.yaml:2:1: several YAML documents in one file");
	expect_err("a: 1\n...\n---\nb: 2\n", -EINVAL, "config.yaml:3:1: several YAML documents in one file");
}
END_TEST

START_TEST(test_err_utf8)
{
	expect_err("a: 1\nb: caf\xe9\n", -EINVAL, "config.yaml:2:7: not valid UTF-8");
	expect_err("\xc3\xa9: \xff", -EINVAL, "config.yaml:1:4: not valid UTF-8");   /* é is one column */
	expect_err("a: \xc0\xaf", -EINVAL, "config.yaml:1:4: not valid UTF-8");      /* overlong */
	expect_err("a: \xed\xa0\x80", -EINVAL, "config.yaml:1:4: not valid UTF-8");  /* surrogate */
	expect_err("a: \xf4\x90\x80\x80", -EINVAL, "config.yaml:1:4: not valid UTF-8");
	expect_err("a: x\xe2\x82", -EINVAL, "config.yaml:1:5: not valid UTF-8");     /* cut short */
	expect_err("\xff\xfe" "a\0:\0", -EINVAL, "config.yaml:1:1: not valid UTF-8"); /* UTF-16 */
}
END_TEST

START_TEST(test_err_binary)
{
	expect_err_n("a: 1\nb: x\0y\n", 12, -EINVAL, "config.yaml:2:5: binary content (byte 0x00)");
	expect_err_n("\0", 1, -EINVAL, "config.yaml:1:1: binary content (byte 0x00)");
	expect_err("a: \x1b[0m", -EINVAL, "config.yaml:1:4: binary content (byte 0x1b)");
	expect_err("a:\n  b: \x7f", -EINVAL, "config.yaml:2:6: binary content (byte 0x7f)");
	expect_err("a: \xc2\x80", -EINVAL, "config.yaml:1:4: binary content (U+0080)");
	expect_err("a: \xef\xbf\xbf", -EINVAL, "config.yaml:1:4: binary content (U+FFFF)");
	/* tab, CR and LF are text; a NUL from an escape is refused too */
	ydoc_free(parse("a:\tb\r\nc: d\r"));
	expect_err("a: \"x\\0y\"", -EINVAL, "config.yaml:1:4: a: string contains a NUL character");
	expect_err("\"k\\x00\": 1", -EINVAL, "config.yaml:1:1: string contains a NUL character");
}
END_TEST

START_TEST(test_err_too_big)
{
	size_t n = YDOC_MAX_BYTES + 1;
	char *big = malloc(n);

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', n);
	expect_err_n(big, n, -EFBIG, "config.yaml: larger than 1 MiB (1048577 bytes)");
	/* exactly the cap is fine: "a: 1\n#xxxx..." */
	memcpy(big, "a: 1\n#", 6);
	memset(big + 6, 'x', YDOC_MAX_BYTES - 6);
	ydoc_free(parse_n(big, YDOC_MAX_BYTES));
	/* no alias, but escapes make the text longer than the input:
	 * "\L" (2 bytes) is U+2028 (3 bytes), 400000 of them are 1.2 MB */
	memcpy(big, "a: \"", 4);
	for (size_t i = 0; i < 400000; i++)
		memcpy(big + 4 + 2 * i, "\\L", 2);
	memcpy(big + 4 + 800000, "\"\n", 2);
	expect_err_n(big, 800006, -EFBIG,
		     "config.yaml:1:4: document expands beyond the size limit");
	free(big);
}
END_TEST

/* "a: &a [x, x, ...]", then each level a list of `fan` aliases of the one before */
static char *laughs(int levels, int fan, const char *leaf)
{
	struct pfs_buf b = PFS_BUF_INIT(YDOC_MAX_BYTES);
	char prev = 'a';

	ck_assert_int_eq(pfs_buf_printf(&b, "a: &a [%s", leaf), 0);
	for (int i = 1; i < fan; i++)
		ck_assert_int_eq(pfs_buf_printf(&b, ",%s", leaf), 0);
	ck_assert_int_eq(pfs_buf_addstr(&b, "]\n"), 0);
	for (int l = 1; l < levels; l++, prev++) {
		ck_assert_int_eq(pfs_buf_printf(&b, "%c: &%c [*%c", prev + 1, prev + 1, prev), 0);
		for (int i = 1; i < fan; i++)
			ck_assert_int_eq(pfs_buf_printf(&b, ",*%c", prev), 0);
		ck_assert_int_eq(pfs_buf_addstr(&b, "]\n"), 0);
	}
	return pfs_buf_steal(&b, NULL);
}

START_TEST(test_err_laughs_nodes)
{
	char *doc = laughs(9, 10, "x");   /* 10^9 "x" once expanded */

	/*
	 * One-byte leaves, so the node count trips before the byte count. Nodes
	 * so far (keys count): a..e hold 11, 111, ..., 111111; with the root,
	 * six keys and f's own node that is 123463, and each *e in f adds
	 * 111111: the 8th (line 6, column 8 + 3 * 7) crosses 1,000,000.
	 */
	expect_err(doc, -EFBIG, "config.yaml:6:29: aliases expand beyond the size limit");
	free(doc);
	doc = laughs(5, 10, "lol");       /* 10^5: fine */
	ydoc_free(parse(doc));
	free(doc);
}
END_TEST

START_TEST(test_err_laughs_bytes)
{
	char leaf[2001], *doc;

	memset(leaf, 'x', 2000);
	leaf[2000] = '\0';
	/*
	 * Few nodes, many bytes: a = 10 * 2000 bytes, b = 10 * a, c = 10 * b.
	 * Bytes: 20000 + 200000 (+3 key bytes) in a and b, then each *b in c adds
	 * 200000: the 5th (line 3, column 8 + 3 * 4) crosses 1 MiB.
	 */
	doc = laughs(3, 10, leaf);
	expect_err(doc, -EFBIG, "config.yaml:3:20: aliases expand beyond the size limit");
	free(doc);
	doc = laughs(2, 10, leaf);
	ydoc_free(parse(doc));
	free(doc);
}
END_TEST

static char *nested(int levels, const char *inner)
{
	struct pfs_buf b = PFS_BUF_INIT(YDOC_MAX_BYTES);

	for (int i = 0; i < levels; i++)
		ck_assert_int_eq(pfs_buf_addc(&b, '['), 0);
	ck_assert_int_eq(pfs_buf_addstr(&b, inner), 0);
	for (int i = 0; i < levels; i++)
		ck_assert_int_eq(pfs_buf_addc(&b, ']'), 0);
	return pfs_buf_steal(&b, NULL);
}

START_TEST(test_err_depth)
{
	char *doc = nested(256, "x"), *a, *b;
	struct pfs_buf blk = PFS_BUF_INIT(YDOC_MAX_BYTES);
	json_t *v;
	int depth = 0;

	{
		struct ydoc *d = parse(doc);

		for (v = ydoc_root(d); json_is_array(v); v = json_array_get(v, 0))
			depth++;
		ck_assert_int_eq(depth, 256);
		ydoc_free(d);
	}
	free(doc);
	doc = nested(257, "x");
	expect_err(doc, -ELOOP, "config.yaml:1:257: nesting deeper than 256 levels");
	free(doc);
	doc = nested(100000, "");
	expect_err(doc, -ELOOP, "config.yaml:1:257: nesting deeper than 256 levels");
	free(doc);

	/* block mappings: level i on line i, column 2i - 1 */
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(pfs_buf_printf(&blk, "%*sk:\n", 2 * i, ""), 0);
	expect_err(pfs_buf_str(&blk), -ELOOP, "config.yaml:257:513: nesting deeper than 256 levels");
	pfs_buf_release(&blk);

	/* aliases count at their full depth: 1 (root) + 60 + 200 > 256 */
	a = nested(200, "1");
	b = nested(60, "*a");
	ck_assert_int_eq(pfs_buf_printf(&blk, "a: &a %s\nb: %s\n", a, b), 0);
	expect_err(pfs_buf_str(&blk), -ELOOP, "config.yaml:2:64: nesting deeper than 256 levels");
	pfs_buf_release(&blk);
	free(b);
	b = nested(55, "*a");   /* 1 + 55 + 200 = 256: fine */
	ck_assert_int_eq(pfs_buf_printf(&blk, "a: &a %s\nb: %s\n", a, b), 0);
	ydoc_free(parse(pfs_buf_str(&blk)));
	pfs_buf_release(&blk);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_err_alias)
{
	expect_err("a: *nope\n", -EINVAL, "config.yaml:1:4: undefined alias \"nope\"");
	expect_err("a: [*later]\nb: &later 1\n", -EINVAL, "config.yaml:1:5: undefined alias \"later\"");
	expect_err("a: &r [1, *r]\n", -EINVAL,
		   "config.yaml:1:11: recursive alias \"r\" (anchor used inside itself)");
	expect_err("a: &m\n  b:\n    c: *m\n", -EINVAL,
		   "config.yaml:3:8: recursive alias \"m\" (anchor used inside itself)");
	expect_err("a: &m\n  <<: *m\n", -EINVAL,
		   "config.yaml:2:7: recursive alias \"m\" (anchor used inside itself)");
	expect_err("- &a 1\n- &a 2\n", -EINVAL, "config.yaml:2:3: duplicate anchor \"a\" (first at line 1)");
}
END_TEST

#define INT_RANGE "integer out of range (-2^63 to 2^63-1)"
#define NO_INF "float out of range (JSON has no infinity or NaN)"

START_TEST(test_err_int_range)
{
	expect_err("a: 9223372036854775808", -ERANGE, "config.yaml:1:4: a: " INT_RANGE);
	expect_err("a: -9223372036854775809", -ERANGE, "config.yaml:1:4: a: " INT_RANGE);
	expect_err("a: 0x8000000000000000", -ERANGE, "config.yaml:1:4: a: " INT_RANGE);
	expect_err("a: 99999999999999999999999", -ERANGE, "config.yaml:1:4: a: " INT_RANGE);
	expect_err("a: 1:0:0:0:0:0:0:0:0:0:0:0", -ERANGE, "config.yaml:1:4: a: " INT_RANGE);
	expect_err("- !!int 9223372036854775808", -ERANGE, "config.yaml:1:3: [0]: " INT_RANGE);
	expect_err("a: 0b_", -EINVAL, "config.yaml:1:4: a: invalid integer \"0b_\"");
	expect_err("a: .inf", -ERANGE, "config.yaml:1:4: a: " NO_INF);
	expect_err("a: -.Inf", -ERANGE, "config.yaml:1:4: a: " NO_INF);
	expect_err("a: .NaN", -ERANGE, "config.yaml:1:4: a: " NO_INF);
	expect_err("a: 1.0e+999", -ERANGE, "config.yaml:1:4: a: " NO_INF);
	/* the whole key path, as config errors write it: keys, list indexes, merges */
	expect_err("tests:\n- services:\n    s: {config: {port: 99999999999999999999}}\n", -ERANGE,
		   "config.yaml:3:24: tests[0].services.s.config.port: " INT_RANGE);
	expect_err("a: [1, 2, {b: [x, .nan]}]\n", -ERANGE, "config.yaml:1:19: a[2].b[1]: " NO_INF);
	expect_err("a:\n  <<: {b: 1.0e+999}\n", -ERANGE, "config.yaml:2:11: a.<<.b: " NO_INF);
	/* a bad key is placed in its mapping */
	expect_err("a: {!!int k: v}\n", -EINVAL, "config.yaml:1:5: a: value \"k\" does not fit tag !!int");
}
END_TEST

START_TEST(test_err_complex_key)
{
	expect_err("? [a, b]\n: c\n", -EINVAL, "config.yaml:1:3: a sequence cannot be a mapping key");
	expect_err("{a: 1}: x\n", -EINVAL, "config.yaml:1:1: a mapping cannot be a mapping key");
	expect_err("top:\n  ? {k: v}\n  : x\n", -EINVAL, "config.yaml:2:5: a mapping cannot be a mapping key");
	expect_err("- &k [1]\n- {*k : 2}\n", -EINVAL, "config.yaml:2:4: a sequence cannot be a mapping key");
}
END_TEST

START_TEST(test_err_syntax)
{
	/* bad indentation */
	expect_err("a:\n  b: 1\n c: 2\n", -EINVAL, "config.yaml:3:2: did not find expected key");
	expect_err("key: value: x\n", -EINVAL,
		   "config.yaml:1:11: mapping values are not allowed in this context");
	/* a tab that indents is named; libyaml's words would not say why */
	expect_err("a:\n\tb: 1\n", -EINVAL,
		   "config.yaml:2:1: tab character used for indentation; YAML indents with spaces");
	expect_err("a:\n  b:\n  \t c: 1\n", -EINVAL,
		   "config.yaml:3:3: tab character used for indentation; YAML indents with spaces");
	expect_err("a: \"é\"\n\tb: 1\n", -EINVAL,
		   "config.yaml:2:1: tab character used for indentation; YAML indents with spaces");
	/* other characters that start no token keep libyaml's words; tabs between tokens are fine */
	expect_err("a: @x\n", -EINVAL, "config.yaml:1:4: found character that cannot start any token");
	check_value("{a: 1,\tb: 2}", "{\"a\": 1, \"b\": 2}");
	expect_err("a: \"open\n", -EINVAL, "config.yaml:2:1: found unexpected end of stream");
	expect_err("- a\n-b: 1\n", -EINVAL, "config.yaml:2:1: did not find expected '-' indicator");
}
END_TEST

/* ---- the shared examples ----------------------------------------------------------------- */

/* PFS_SHARED_DIR, else <source root>/../shared: the root from the environment
 * (meson's test setup), from pfs_config.h, or from this file's path. */
static const char *shared_dir(char *buf, size_t size)
{
	const char *env = getenv("PFS_SHARED_DIR");

	if (env && *env)
		return env;
	env = getenv("PFS_SOURCE_DIR");
	if (env && *env) {
		snprintf(buf, size, "%s/../shared", env);
		return buf;
	}
#ifdef PFS_SOURCE_DIR
	snprintf(buf, size, "%s/../shared", PFS_SOURCE_DIR);
#else
	{
		/* <source root>/tests/unit/check_yamltree.c */
		const char *f = __FILE__, *tail = strstr(f, "tests/unit/check_yamltree.c");

		snprintf(buf, size, "%.*s../shared", tail ? (int)(tail - f) : 0, f);
	}
#endif
	return buf;
}

static struct ydoc *parse_file(const char *sub, const char *file)
{
	char dir[1024], p[2048];
	struct pfs_buf b = PFS_BUF_INIT(YDOC_MAX_BYTES + 1);
	struct ydoc *d = NULL;
	int r;

	snprintf(p, sizeof(p), "%s/examples/%s/%s", shared_dir(dir, sizeof(dir)), sub, file);
	r = pfs_read_file(p, &b);
	ck_assert_msg(r == 0, "read %s: %s", p, strerror(-r));
	pfs_err_clear(&err);
	r = ydoc_parse(file, pfs_buf_str(&b), pfs_buf_len(&b), &d, &err);
	ck_assert_msg(r == 0, "%s: %s", p, err.msg);
	pfs_buf_release(&b);
	return d;
}

static void parse_all(const char *sub, int min)
{
	char dir[1024], p[1200];
	DIR *dh;
	struct dirent *de;
	int n = 0;

	snprintf(p, sizeof(p), "%s/examples/%s", shared_dir(dir, sizeof(dir)), sub);
	dh = opendir(p);
	ck_assert_msg(dh != NULL, "opendir %s: %s (set PFS_SHARED_DIR)", p, strerror(errno));
	while ((de = readdir(dh))) {
		size_t l = strlen(de->d_name);
		struct ydoc *d;

		if (l < 6 || strcmp(de->d_name + l - 5, ".yaml"))
			continue;
		d = parse_file(sub, de->d_name);
		ck_assert_msg(json_is_object(ydoc_root(d)), "%s: root not a mapping", de->d_name);
		ydoc_free(d);
		n++;
	}
	closedir(dh);
	ck_assert_int_ge(n, min);
}

START_TEST(test_examples_all)
{
	parse_all("seed", 4);
	parse_all("panther", 3);
}
END_TEST

START_TEST(test_examples_values)
{
	struct ydoc *d = parse_file("seed", "01-basic-server.yaml");
	json_t *r = ydoc_root(d), *srv = path(r, "tests.0.services.mvfst_server");

	ck_assert_int_eq(json_integer_value(path(srv, "timeout")), 100);
	ck_pos(ydoc_key_pos(d, srv, "timeout"), 10, 9);
	ck_pos(ydoc_value_pos(d, srv, "timeout"), 10, 18);
	ck_pos(ydoc_pos(d, path(srv, "timeout")), 10, 18);
	ck_pos(ydoc_key_pos(d, path(r, "tests.0.services"), "mvfst_server"), 8, 7);
	ck_pos(ydoc_item_pos(d, path(r, "tests"), 0), 4, 5);
	ck_assert_str_eq(json_string_value(path(srv, "implementation.name")), "quic/mvfst");
	ck_assert_int_eq(json_integer_value(path(srv, "config.server_port")), 6666);
	ydoc_free(d);

	d = parse_file("seed", "02-high-performance.yaml");
	r = ydoc_root(d);
	ck_assert_int_eq(json_integer_value(path(r, "tests.0.services.mvfst_server.config.max_data")),
			 1073741824);
	ck_assert_str_eq(json_string_value(path(r, "tests.0.execution_environment.0.type")), "gperf_cpu");
	ydoc_free(d);

	d = parse_file("seed", "04-tuning-fragments.yaml");
	ck_pos(ydoc_key_pos(d, ydoc_root(d), "low_latency"), 11, 1);
	ydoc_free(d);

	d = parse_file("panther", "experiment_config_example_minimal_docker.yaml");
	r = ydoc_root(d);
	srv = path(r, "tests.0.services.picoquic_server");
	ck_assert_int_eq(json_array_size(path(r, "tests")), 4);
	ck_assert(json_is_true(path(srv, "generate_new_certificates")));   /* "True" */
	ck_pos(ydoc_value_pos(d, srv, "generate_new_certificates"), 174, 36);
	ck_assert_str_eq(json_string_value(path(r, "logging.level")), "DEBUG");
	ck_pos(ydoc_pos(d, path(r, "logging.level")), 2, 10);
	ydoc_free(d);

	d = parse_file("panther", "experiment_config_quic_modern.yaml");
	r = ydoc_root(d);
	ck_assert(json_is_real(path(r, "fast_fail.disk_space_threshold_gb")));
	ck_assert(json_real_value(path(r, "fast_fail.disk_space_threshold_gb")) == 2.0);
	ck_pos(ydoc_pos(d, path(r, "fast_fail.disk_space_threshold_gb")), 19, 28);
	ydoc_free(d);

	d = parse_file("panther", "quic_demo.yaml");
	r = ydoc_root(d);
	ck_assert_int_eq(json_integer_value(path(r, "tests.1.steps.wait")), 100);
	ck_pos(ydoc_pos(d, path(r, "tests.1.steps.wait")), 69, 13);
	ck_assert_str_eq(json_string_value(path(r, "paths.output_dir")), "outputs");
	ck_pos(ydoc_pos(d, path(r, "paths.output_dir")), 5, 15);
	ydoc_free(d);
}
END_TEST

static Suite *yamltree_suite(void)
{
	Suite *s = suite_create("yamltree");
	TCase *tc = tcase_create("scalars");

	tcase_add_test(tc, test_null);
	tcase_add_test(tc, test_bool);
	tcase_add_test(tc, test_int);
	tcase_add_test(tc, test_float);
	tcase_add_test(tc, test_string);
	tcase_add_test(tc, test_block_scalars);
	tcase_add_test(tc, test_tags);
	tcase_add_test(tc, test_tag_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("structure");
	tcase_add_test(tc, test_nested_flow);
	tcase_add_test(tc, test_positions_block);
	tcase_add_test(tc, test_positions_flow);
	tcase_add_test(tc, test_positions_singletons);
	tcase_add_test(tc, test_keys_text);
	tcase_add_test(tc, test_anchor_alias);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_merge_errors);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_api_misc);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 120);   /* the 1 MiB cases under valgrind */
	tcase_add_test(tc, test_err_duplicate_key);
	tcase_add_test(tc, test_err_two_documents);
	tcase_add_test(tc, test_err_utf8);
	tcase_add_test(tc, test_err_binary);
	tcase_add_test(tc, test_err_too_big);
	tcase_add_test(tc, test_err_laughs_nodes);
	tcase_add_test(tc, test_err_laughs_bytes);
	tcase_add_test(tc, test_err_depth);
	tcase_add_test(tc, test_err_alias);
	tcase_add_test(tc, test_err_int_range);
	tcase_add_test(tc, test_err_complex_key);
	tcase_add_test(tc, test_err_syntax);
	suite_add_tcase(s, tc);

	tc = tcase_create("examples");
	tcase_add_test(tc, test_examples_all);
	tcase_add_test(tc, test_examples_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	Suite *suite = yamltree_suite();

	return pfs_check_run(suite);
}
