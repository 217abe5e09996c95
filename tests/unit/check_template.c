/* SPDX-License-Identifier: MIT */
/*
 * Tests for the template module: one test per feature and per error, each
 * with the exact output or the exact message. Templates are named "x.jinja"
 * unless the test is about the name.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pantherfs/template.h"
#include "pfs_check.h"
#include "pantherfs/banned.h"

static const struct tmpl_opts no_opts = { false, false };
static const struct tmpl_opts trim_only = { true, false };
static const struct tmpl_opts lstrip_only = { false, true };

/* Compiles src as "x.jinja" with opts (NULL: both on), renders over json (NULL: no context). */
static int run(const char *src, const char *json, const struct tmpl_opts *opts,
	       struct pfs_buf *out, struct pfs_err *err)
{
	json_error_t je;
	json_t *ctx = NULL;
	struct tmpl *t = NULL;
	int r;

	if (json) {
		ctx = json_loads(json, 0, &je);
		ck_assert_msg(ctx != NULL, "bad test JSON: %s", je.text);
	}
	r = tmpl_compile("x.jinja", src, strlen(src), opts, &t, err);
	if (r == 0)
		r = tmpl_render(t, ctx, out, err);
	tmpl_free(t);
	json_decref(ctx);
	return r;
}

#define OUT_OPTS(src_, json_, opts_, want_)                                           \
	do {                                                                         \
		struct pfs_buf b_ = PFS_BUF_INIT(1u << 20);                          \
		struct pfs_err e_ = { 0 };                                           \
		int r_ = run(src_, json_, opts_, &b_, &e_);                          \
		ck_assert_msg(r_ == 0, "render failed: %d %s", r_, e_.msg);           \
		ck_assert_str_eq(pfs_buf_str(&b_), want_);                           \
		pfs_buf_release(&b_);                                                   \
	} while (0)

#define OUT(src_, json_, want_) OUT_OPTS(src_, json_, NULL, want_)

#define ERR(src_, json_, code_, text_)                                               \
	do {                                                                         \
		struct pfs_buf b_ = PFS_BUF_INIT(1u << 20);                          \
		struct pfs_err e_ = { 0 };                                           \
		int r_ = run(src_, json_, NULL, &b_, &e_);                           \
		ck_assert_msg(r_ == (code_), "got %d (%s), want %d", r_, e_.msg, code_); \
		ck_assert_str_eq(e_.msg, text_);                                     \
		ck_assert_uint_eq(pfs_buf_len(&b_), 0);                              \
		pfs_buf_release(&b_);                                                   \
	} while (0)

/* ---- text and output ----------------------------------------------------- */

START_TEST(test_text_only)
{
	OUT("plain text, {single} braces and % signs\n", NULL,
	    "plain text, {single} braces and % signs\n");
	OUT("", NULL, "");
}
END_TEST

START_TEST(test_output_scalars)
{
	OUT("{{ s }}|{{ i }}|{{ neg }}|{{ big }}", "{\"s\": \"a <b> & 'c'\", \"i\": 42, \"neg\": -7, "
	    "\"big\": 9223372036854775807}", "a <b> & 'c'|42|-7|9223372036854775807");
}
END_TEST

START_TEST(test_output_reals)
{
	OUT("{{ a }} {{ b }} {{ c }} {{ d }} {{ e }} {{ f }} {{ g }}",
	    "{\"a\": 1.5, \"b\": 2.0, \"c\": 0.1, \"d\": 1e16, \"e\": 123456.789, \"f\": 1e-05, \"g\": -0.0}",
	    "1.5 2.0 0.1 1e+16 123456.789 1e-05 -0.0");
	OUT("{{ 0.1 + 0.2 }} {{ 1e15 }} {{ 1 / 3 }}", NULL,
	    "0.30000000000000004 1000000000000000.0 0.3333333333333333");
}
END_TEST

START_TEST(test_output_booleans_lowercase)
{
	OUT("--enabled={{ on }} --disabled={{ off }} {{ true }} {{ False }}",
	    "{\"on\": true, \"off\": false}", "--enabled=true --disabled=false true false");
}
END_TEST

START_TEST(test_output_none_is_error)
{
	ERR("a\n{{ cfg.flag }}", "{\"cfg\": {\"flag\": null}}", -EINVAL,
	    "x.jinja:2: cannot output none (\"cfg.flag\")");
}
END_TEST

START_TEST(test_output_array_is_error)
{
	ERR("{{ xs }}", "{\"xs\": [1]}", -EINVAL,
	    "x.jinja:1: cannot output an array (\"xs\"); use join or tojson");
	ERR("{{ o }}", "{\"o\": {}}", -EINVAL,
	    "x.jinja:1: cannot output an object (\"o\"); use join or tojson");
}
END_TEST

START_TEST(test_no_html_escaping)
{
	OUT("{{ s }}", "{\"s\": \"<a href=\\\"x\\\">&amp;</a>\"}", "<a href=\"x\">&amp;</a>");
}
END_TEST

START_TEST(test_appends_to_buffer)
{
	struct pfs_buf b = PFS_BUF_INIT(64);
	struct pfs_err e = { 0 };

	ck_assert_int_eq(pfs_buf_addstr(&b, "cmd"), 0);
	ck_assert_int_eq(run(" {{ 1 }}", NULL, NULL, &b, &e), 0);
	ck_assert_int_eq(run(" {{ 2 }}", NULL, NULL, &b, &e), 0);
	ck_assert_str_eq(pfs_buf_str(&b), "cmd 1 2");
	pfs_buf_release(&b);
}
END_TEST

/* ---- statements ------------------------------------------------------------ */

START_TEST(test_if_elif_else)
{
	const char *src = "{% if a %}A{% elif b %}B{% else %}C{% endif %}";

	OUT(src, "{\"a\": 1, \"b\": 1}", "A");
	OUT(src, "{\"a\": 0, \"b\": 1}", "B");
	OUT(src, "{\"a\": 0, \"b\": 0}", "C");
	OUT("{% if a %}A{% endif %}.", "{\"a\": false}", ".");
}
END_TEST

START_TEST(test_truthiness)
{
	const char *src = "{% for v in vs %}{% if v %}T{% else %}F{% endif %}{% endfor %}";

	OUT(src, "{\"vs\": [false, null, 0, 0.0, \"\", [], {}]}", "FFFFFFF");
	OUT(src, "{\"vs\": [true, 1, -1, 0.5, \"0\", \"false\", [0], {\"a\": null}]}", "TTTTTTTT");
}
END_TEST

START_TEST(test_for_array)
{
	OUT("{% for x in xs %}[{{ x }}]{% endfor %}", "{\"xs\": [\"a\", 2, 3.5, true]}",
	    "[a][2][3.5][true]");
}
END_TEST

START_TEST(test_for_object_keys)
{
	OUT("{% for k in o %}{{ k }};{% endfor %}", "{\"o\": {\"zeta\": 1, \"alpha\": 2}}",
	    "zeta;alpha;");
}
END_TEST

START_TEST(test_for_items_insertion_order)
{
	OUT("{% for k, v in o.items() %}{{ k }}={{ v }} {% endfor %}",
	    "{\"o\": {\"zeta\": 1, \"alpha\": \"two\", \"mid\": false}}", "zeta=1 alpha=two mid=false ");
}
END_TEST

START_TEST(test_for_else)
{
	const char *src = "{% for x in xs %}{{ x }}{% else %}none given{% endfor %}";

	OUT(src, "{\"xs\": []}", "none given");
	OUT(src, "{\"xs\": [1]}", "1");
	OUT("{% for k, v in o.items() %}x{% else %}empty{% endfor %}", "{\"o\": {}}", "empty");
}
END_TEST

START_TEST(test_loop_variables)
{
	OUT("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
	    "{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }} {% endfor %}",
	    "{\"xs\": [\"a\", \"b\", \"c\"]}",
	    "10truefalse332 21falsefalse321 32falsetrue310 ");
	OUT("{% for x in xs %}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
	    "{\"xs\": [1, 2, 3]}", "1,2,3");
}
END_TEST

START_TEST(test_loop_nested_is_innermost)
{
	OUT("{% for a in [1, 2] %}{% for b in ['x', 'y', 'z'] %}{{ loop.index }}/{{ loop.length }} "
	    "{% endfor %}| {{ loop.index }}/{{ loop.length }}\n{% endfor %}", NULL,
	    "1/3 2/3 3/3 | 1/2\n1/3 2/3 3/3 | 2/2\n");
}
END_TEST

START_TEST(test_loop_errors)
{
	ERR("{% for x in [1] %}{{ loop }}{% endfor %}", NULL, -EINVAL,
	    "x.jinja:1: \"loop\" can only be used as loop.index, loop.index0, loop.revindex, "
	    "loop.revindex0, loop.first, loop.last or loop.length");
	ERR("{% for x in [1] %}{{ loop.cycle }}{% endfor %}", NULL, -EINVAL,
	    "x.jinja:1: loop.cycle is not supported");
	ERR("{% for x in [1] %}{{ loop.nope }}{% endfor %}", NULL, -EINVAL,
	    "x.jinja:1: undefined name \"loop.nope\"");
	ERR("{% for c in s %}{% endfor %}", "{\"s\": \"abc\"}", -EINVAL,
	    "x.jinja:1: cannot iterate over a string (\"s\")");
	ERR("{% for k, v in xs.items() %}{% endfor %}", "{\"xs\": [1]}", -EINVAL,
	    "x.jinja:1: cannot iterate over the items of an array (\"xs\")");
}
END_TEST

START_TEST(test_set_top_level)
{
	OUT("{% set port = 80 + 1 %}--port={{ port }} {% set port = port + 1 %}{{ port }}", NULL,
	    "--port=81 82");
}
END_TEST

START_TEST(test_set_shadows_context)
{
	OUT("{{ x }} {% set x = 'mine' %}{{ x }}", "{\"x\": \"ctx\"}", "ctx mine");
}
END_TEST

START_TEST(test_set_scoped_to_for_body)
{
	/* each iteration starts from the outer value; nothing leaks out */
	OUT("{% set acc = 'a' %}{% for i in [1, 2, 3] %}{% set acc = acc ~ i %}{{ acc }} "
	    "{% endfor %}{{ acc }}", NULL, "a1 a2 a3 a");
	OUT("{% for i in [1] %}{% set inner = 1 %}{% endfor %}{{ inner is defined }}", NULL, "false");
}
END_TEST

START_TEST(test_set_in_if_is_not_scoped)
{
	OUT("{% if true %}{% set x = 'set in if' %}{% endif %}{{ x }}", NULL, "set in if");
}
END_TEST

START_TEST(test_set_errors)
{
	ERR("{% set loop = 1 %}", NULL, -EINVAL, "x.jinja:1: cannot assign to \"loop\"");
	ERR("{% set true = 1 %}", NULL, -EINVAL, "x.jinja:1: cannot assign to \"true\"");
	ERR("{% set x %}", NULL, -EINVAL, "x.jinja:1: unexpected \"%}\", expected \"=\"");
	ERR("{% set x = missing %}", NULL, -EINVAL, "x.jinja:1: undefined name \"missing\"");
}
END_TEST

START_TEST(test_set_after_loop_read_refused)
{
	ERR("{% for f in fs %}\n{{ p }}{% endfor %}\n{% set p = 1 %}", "{\"fs\": [1], \"p\": 2}",
	    -EINVAL, "x.jinja:3: \"p\" is set here after a loop read it (line 2), where Jinja would "
	    "find it undefined: set it before that loop or use another name");
	/* fine: set before the loop, or bound by the loop itself */
	OUT("{% set p = 1 %}{% for f in fs %}{{ p }}{% endfor %}{% set p = 3 %}{{ p }}",
	    "{\"fs\": [1, 2]}", "113");
	OUT("{% for p in fs %}{{ p }}{% endfor %}{% set p = 3 %}{{ p }}", "{\"fs\": [1, 2]}", "123");
}
END_TEST

START_TEST(test_comment)
{
	OUT("a{# a comment with {{ tags }} and {% blocks %} #}b", NULL, "ab");
}
END_TEST

/* ---- expressions -------------------------------------------------------------- */

START_TEST(test_literals)
{
	OUT("{{ 'single' }} {{ \"double\" }} {{ 42 }} {{ 2.50 }} {{ 1e3 }} {{ true }} {{ True }} "
	    "{{ false }} {{ False }} {{ none is none }} {{ None is none }} {{ [1, 'a', [2]] | tojson }}",
	    NULL, "single double 42 2.5 1000.0 true true false false true true [1,\"a\",[2]]");
	OUT("{{ 'a' 'b' \"c\" }}|{{ [] | length }}|{{ [1, 2,] | length }}", NULL, "abc|0|2");
}
END_TEST

START_TEST(test_string_escapes)
{
	OUT("{{ 'it\\'s' }}|{{ \"say \\\"hi\\\"\" }}|{{ 'back\\\\slash' }}|{{ 'a\\tb' }}|{{ 'l1\\nl2' }}",
	    NULL, "it's|say \"hi\"|back\\slash|a\tb|l1\nl2");
	ERR("{{ 'bad \\q' }}", NULL, -EINVAL, "x.jinja:1: invalid escape \"\\q\" in string literal");
}
END_TEST

START_TEST(test_attribute_and_subscript)
{
	const char *ctx = "{\"a\": {\"b\": {\"c\": \"deep\"}, \"k e y\": 5}, \"xs\": [10, 20, 30], "
			  "\"s\": \"h\\u00e9llo\", \"i\": 1}";

	OUT("{{ a.b.c }} {{ a['b']['c'] }} {{ a[\"k e y\"] }} {{ xs[0] }} {{ xs[-1] }} {{ xs[i] }} "
	    "{{ s[1] }} {{ s[-1] }}", ctx, "deep deep 5 10 30 20 \xc3\xa9 o");
}
END_TEST

START_TEST(test_precedence)
{
	OUT("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 * 3 ~ 4 }} {{ 1 ~ 2 * 3 }} {{ 10 - 2 - 3 }}",
	    NULL, "7 9 64 16 5");
	OUT("{{ not 1 == 2 }} {{ true or false and false }} {{ not true or true }} {{ -2 * 3 }}",
	    NULL, "true true true -6");
	OUT("{{ 1 + xs | length }} {{ 1 if false else 2 + 3 }} {{ 'a' if x is defined else 'b' ~ 'c' }}",
	    "{\"xs\": [1, 2, 3]}", "4 5 bc");
	OUT("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 < 2 == 2 }}", NULL, "true false true");
}
END_TEST

START_TEST(test_arithmetic)
{
	OUT("{{ 7 + 3 }} {{ 7 - 10 }} {{ 6 * 7 }} {{ 7 / 2 }} {{ 8 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} "
	    "{{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }}", NULL, "10 -3 42 3.5 4.0 3 -4 1 2 -2");
	OUT("{{ 1.5 + 1 }} {{ 2 * 0.25 }} {{ -x }} {{ +x }}", "{\"x\": 4}", "2.5 0.5 -4 4");
	OUT("{{ 'ab' + 'cd' }} {{ ([1] + [2, 3]) | join(',') }}", NULL, "abcd 1,2,3");
}
END_TEST

START_TEST(test_arithmetic_errors)
{
	ERR("{{ 1 / 0 }}", NULL, -EINVAL, "x.jinja:1: division by zero");
	ERR("{{ 1 // 0 }}", NULL, -EINVAL, "x.jinja:1: division by zero");
	ERR("{{ 9223372036854775807 + 1 }}", NULL, -EINVAL, "x.jinja:1: integer overflow");
	ERR("{{ 'a' + 1 }}", NULL, -EINVAL,
	    "x.jinja:1: operator \"+\" does not accept a string and an integer");
	ERR("{{ true + 1 }}", NULL, -EINVAL,
	    "x.jinja:1: operator \"+\" does not accept a boolean and an integer");
	ERR("{{ 7.5 // 2 }}", NULL, -EINVAL,
	    "x.jinja:1: operator \"//\" does not accept a float and an integer");
	ERR("{{ 1e308 * 10 }}", NULL, -EINVAL, "x.jinja:1: float result out of range");
}
END_TEST

START_TEST(test_concat)
{
	OUT("{{ '--port=' ~ port ~ ' --v=' ~ 2 ~ ' --tls=' ~ tls ~ ' ' ~ 1.5 }}",
	    "{\"port\": 443, \"tls\": true}", "--port=443 --v=2 --tls=true 1.5");
	ERR("{{ 'a' ~ n }}", "{\"n\": null}", -EINVAL,
	    "x.jinja:1: operator \"~\" does not accept none");
}
END_TEST

START_TEST(test_comparisons_values)
{
	OUT("{{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ [1, [2]] == [1, [2]] }} {{ 2 > 1.5 }} {{ 'abc' < 'abd' }} "
	    "{{ true == 1 }} {{ 'a' == 1 }}", NULL, "true true true true true true false");
	ERR("{{ 'a' < 1 }}", NULL, -EINVAL,
	    "x.jinja:1: operator \"<\" does not accept a string and an integer");
}
END_TEST

START_TEST(test_in_operator)
{
	OUT("{{ 2 in xs }} {{ 5 in xs }} {{ 'ell' in 'hello' }} {{ 'k' in o }} {{ 'z' not in o }} "
	    "{{ 4 not in xs }}", "{\"xs\": [1, 2, 3], \"o\": {\"k\": 0}}",
	    "true false true true true true");
	ERR("{{ 1 in 2 }}", NULL, -EINVAL,
	    "x.jinja:1: operator \"in\" does not accept an integer and an integer");
}
END_TEST

START_TEST(test_and_or_values)
{
	OUT("{{ 0 or 'fallback' }} {{ 1 and 'second' }} {{ '' or 0 or 'last' }} {{ port or 8080 }}",
	    "{\"port\": 0}", "fallback second last 8080");
	/* short-circuit: the undefined right side is never looked at */
	OUT("{{ x is defined and x.y }}", NULL, "false");
}
END_TEST

START_TEST(test_inline_if)
{
	OUT("{{ 'yes' if on else 'no' }} {{ 1 if 0 else 2 if 0 else 3 }}", "{\"on\": true}", "yes 3");
	ERR("{{ 'yes' if on }}", "{\"on\": true}", -EINVAL,
	    "x.jinja:1: unexpected \"}}\", expected \"else\"");
}
END_TEST

START_TEST(test_is_defined)
{
	const char *ctx = "{\"a\": {\"b\": 1, \"n\": null}, \"port\": 1, \"xs\": []}";

	OUT("{{ a is defined }} {{ a.b is defined }} {{ a.c is defined }} {{ nope is not defined }} "
	    "{{ port.x is defined }} {{ xs[0] is defined }} {{ a.n is defined }}", ctx,
	    "true true false true false false true");
}
END_TEST

START_TEST(test_is_none)
{
	OUT("{{ n is none }} {{ z is none }} {{ n is not none }} {{ s is not none }}",
	    "{\"n\": null, \"z\": 0, \"s\": \"\"}", "true false false true");
	ERR("{{ nope is none }}", NULL, -EINVAL, "x.jinja:1: undefined name \"nope\"");
	ERR("{{ x is odd }}", "{\"x\": 1}", -EINVAL, "x.jinja:1: test \"odd\" does not exist");
}
END_TEST

/* ---- undefined ------------------------------------------------------------------- */

START_TEST(test_undefined_name)
{
	ERR("line one\n{{ nope }}", NULL, -EINVAL, "x.jinja:2: undefined name \"nope\"");
}
END_TEST

START_TEST(test_undefined_nested_key)
{
	struct pfs_buf b = PFS_BUF_INIT(4096);
	struct pfs_err e = { 0 };
	json_t *ctx = json_pack("{s:{s:s}}", "certificates", "cert", "/etc/cert.pem");
	const char *src = "server\n  --cert={{ certificates.cert }}\n"
			  "  --key={{ certificates.cert_param }}\n";

	ck_assert_int_eq(tmpl_render_string("mvfst/server.jinja", src, ctx, &b, &e), -EINVAL);
	ck_assert_str_eq(e.msg, "mvfst/server.jinja:3: undefined name \"certificates.cert_param\"");
	ck_assert_uint_eq(pfs_buf_len(&b), 0);
	json_decref(ctx);
	pfs_buf_release(&b);
}
END_TEST

START_TEST(test_undefined_deep_chain)
{
	/* the first missing link is named, even under "is defined" */
	ERR("{{ a.missing.x is defined }}", "{\"a\": {}}", -EINVAL,
	    "x.jinja:1: undefined name \"a.missing\"");
	ERR("{% if a.b.c %}{% endif %}", "{\"a\": {\"b\": {}}}", -EINVAL,
	    "x.jinja:1: undefined name \"a.b.c\"");
}
END_TEST

START_TEST(test_undefined_index_and_non_object)
{
	ERR("{{ xs[5] }}", "{\"xs\": [1, 2, 3]}", -EINVAL,
	    "x.jinja:1: undefined name \"xs[5]\" (index 5 out of range for length 3)");
	ERR("{{ xs[-4] }}", "{\"xs\": [1, 2, 3]}", -EINVAL,
	    "x.jinja:1: undefined name \"xs[-4]\" (index -4 out of range for length 3)");
	ERR("{{ cfg.port.number }}", "{\"cfg\": {\"port\": 80}}", -EINVAL,
	    "x.jinja:1: undefined name \"cfg.port.number\" (\"cfg.port\" is an integer)");
	ERR("{{ xs.first }}", "{\"xs\": []}", -EINVAL,
	    "x.jinja:1: undefined name \"xs.first\" (\"xs\" is an array)");
}
END_TEST

START_TEST(test_undefined_in_operators)
{
	ERR("{{ 1 + nope }}", NULL, -EINVAL, "x.jinja:1: undefined name \"nope\"");
	ERR("{{ nope | upper }}", NULL, -EINVAL, "x.jinja:1: undefined name \"nope\"");
	ERR("{% for x in nope %}{% endfor %}", NULL, -EINVAL, "x.jinja:1: undefined name \"nope\"");
	ERR("{{ [nope] }}", NULL, -EINVAL, "x.jinja:1: undefined name \"nope\"");
}
END_TEST

START_TEST(test_dict_method_attribute_refused)
{
	ERR("{{ cfg.values }}", "{\"cfg\": {\"values\": 1}}", -EINVAL,
	    "x.jinja:1: \".values\" is a Python attribute in Jinja, not a key: write [\"values\"]");
	OUT("{{ cfg['values'] }}", "{\"cfg\": {\"values\": 1}}", "1");
}
END_TEST

/* ---- filters ----------------------------------------------------------------------- */

START_TEST(test_filter_quote)
{
	OUT("{{ a | quote }}|{{ b | quote }}|{{ c | quote }}|{{ d | quote }}|{{ e | quote }}|{{ 8 | quote }}",
	    "{\"a\": \"--name=x/y.z:1,2@h%+\", \"b\": \"two words\", \"c\": \"it's\", \"d\": \"\", "
	    "\"e\": \"$(rm -rf /)\"}",
	    "--name=x/y.z:1,2@h%+|'two words'|'it'\\''s'|''|'$(rm -rf /)'|8");
	ERR("{{ xs | quote }}", "{\"xs\": []}", -EINVAL,
	    "x.jinja:1: filter \"quote\" does not accept an array");
}
END_TEST

START_TEST(test_filter_default)
{
	OUT("{{ nope | default('d') }} {{ a.missing | default(7) }} {{ a.x | default(7) }} "
	    "{{ nope | default }}|{{ '' | default('e', true) }} {{ 0 | default(5, true) }} "
	    "{{ n | default(1) is none }}", "{\"a\": {\"x\": 3}, \"n\": null}",
	    "d 7 3 |e 5 true");
}
END_TEST

START_TEST(test_filter_join)
{
	OUT("{{ xs | join }}|{{ xs | join(', ') }}|{{ [] | join('-') }}|{{ [1, 2.5, true] | join(' ') }}",
	    "{\"xs\": [\"a\", \"b\"]}", "ab|a, b||1 2.5 true");
	ERR("{{ [1, none] | join(',') }}", NULL, -EINVAL,
	    "x.jinja:1: filter \"join\" does not accept none as item 1");
	ERR("{{ 'abc' | join }}", NULL, -EINVAL, "x.jinja:1: filter \"join\" does not accept a string");
}
END_TEST

START_TEST(test_filter_int)
{
	OUT("{{ '42' | int }} {{ ' -7 ' | int }} {{ '3.9' | int }} {{ 3.9 | int }} {{ -3.9 | int }} "
	    "{{ true | int }} {{ 5 | int }}", NULL, "42 -7 3 3 -3 1 5");
	ERR("{{ 'abc' | int }}", NULL, -EINVAL,
	    "x.jinja:1: filter \"int\" cannot convert \"abc\" to an integer");
	ERR("{{ none | int }}", NULL, -EINVAL, "x.jinja:1: filter \"int\" does not accept none");
}
END_TEST

START_TEST(test_filter_float)
{
	OUT("{{ '2.5' | float }} {{ 3 | float }} {{ ' 1e3 ' | float }} {{ false | float }}", NULL,
	    "2.5 3.0 1000.0 0.0");
	ERR("{{ 'nan' | float }}", NULL, -EINVAL,
	    "x.jinja:1: filter \"float\" cannot convert \"nan\" to a float");
}
END_TEST

START_TEST(test_filter_string)
{
	OUT("{{ (5 | string) ~ (true | string) ~ (1.0 | string) ~ ('s' | string) }} {{ 12 | string | length }}",
	    NULL, "5true1.0s 2");
	ERR("{{ [1] | string }}", NULL, -EINVAL, "x.jinja:1: filter \"string\" does not accept an array");
}
END_TEST

START_TEST(test_filter_lower_upper_trim)
{
	OUT("{{ 'MiXeD' | lower }} {{ 'MiXeD' | upper }} [{{ '  \t pad\n ' | trim }}] {{ true | upper }}",
	    NULL, "mixed MIXED [pad] TRUE");
}
END_TEST

START_TEST(test_filter_length)
{
	OUT("{{ 'h\xc3\xa9llo' | length }} {{ xs | length }} {{ o | length }} {{ '' | length }}",
	    "{\"xs\": [1, 2, 3], \"o\": {\"a\": 1}}", "5 3 1 0");
	ERR("{{ 5 | length }}", NULL, -EINVAL, "x.jinja:1: filter \"length\" does not accept an integer");
}
END_TEST

START_TEST(test_filter_replace)
{
	OUT("{{ 'a.b.c' | replace('.', '::') }} {{ 'aaa' | replace('a', '') }} {{ 'ab' | replace('', '-') }} "
	    "{{ 1234 | replace(2, 9) }}", NULL, "a::b::c  -a-b- 1934");
}
END_TEST

START_TEST(test_filter_first_last)
{
	OUT("{{ xs | first }} {{ xs | last }} {{ 'h\xc3\xa9' | last }} {{ 'abc' | first }} "
	    "{{ [] | first | default('none') }}", "{\"xs\": [1, 2, 3]}", "1 3 \xc3\xa9 a none");
	ERR("{{ xs | last }}", "{\"xs\": []}", -EINVAL,
	    "x.jinja:1: undefined value \"xs | last\" (empty array)");
}
END_TEST

START_TEST(test_filter_tojson)
{
	OUT("{{ o | tojson }} {{ 'q\"\\\\\\n' | tojson }} {{ none | tojson }} {{ 1.0 | tojson }}",
	    "{\"o\": {\"z\": [1, 2.5, null, true], \"a\": {\"s\": \"<&>\"}}}",
	    "{\"z\":[1,2.5,null,true],\"a\":{\"s\":\"<&>\"}} \"q\\\"\\\\\\n\" null 1.0");
}
END_TEST

START_TEST(test_filter_bool)
{
	OUT("{{ 1 | bool }} {{ 0 | bool }} {{ '' | bool }} {{ 'false' | bool }} {{ [] | bool }} {{ none | bool }}",
	    NULL, "true false false true false false");
}
END_TEST

START_TEST(test_filter_chain)
{
	OUT("{{ '  Hello World ' | trim | lower | replace(' ', '-') | quote }}", NULL, "hello-world");
}
END_TEST

START_TEST(test_filter_unknown)
{
	ERR("1\n2\n3\n4\n{{ x | frobnicate }}", NULL, -EINVAL,
	    "x.jinja:5: filter \"frobnicate\" does not exist");
}
END_TEST

START_TEST(test_filter_arity)
{
	ERR("{{ 'a' | replace('a') }}", NULL, -EINVAL,
	    "x.jinja:1: filter \"replace\" takes exactly 2 arguments (1 given)");
	ERR("{{ 'a' | upper(1) }}", NULL, -EINVAL,
	    "x.jinja:1: filter \"upper\" takes exactly 0 arguments (1 given)");
	ERR("{{ xs | join(sep=',') }}", NULL, -EINVAL, "x.jinja:1: keyword arguments are not supported");
}
END_TEST

/* ---- whitespace control -------------------------------------------------------------- */

START_TEST(test_ws_minus_on_output)
{
	OUT_OPTS("a  \n  {{- x -}}  \n  b", "{\"x\": \"X\"}", &no_opts, "aXb");
	OUT_OPTS("a  {{- x }}  b", "{\"x\": \"X\"}", &no_opts, "aX  b");
}
END_TEST

START_TEST(test_ws_minus_on_blocks_and_comments)
{
	OUT_OPTS("<\n  {%- if true -%}\n  yes\n  {%- endif -%}\n>", NULL, &no_opts, "<yes>");
	OUT_OPTS("a \n {#- gone -#} \n b", NULL, &no_opts, "ab");
}
END_TEST

static const char *ws_src = "list:\n  {% for x in xs %}\n  - {{ x }}\n  {% endfor %}\nend\n";

START_TEST(test_ws_no_options)
{
	OUT_OPTS(ws_src, "{\"xs\": [1, 2]}", &no_opts, "list:\n  \n  - 1\n  \n  - 2\n  \nend\n");
}
END_TEST

START_TEST(test_ws_trim_blocks)
{
	OUT_OPTS(ws_src, "{\"xs\": [1, 2]}", &trim_only, "list:\n    - 1\n    - 2\n  end\n");
}
END_TEST

START_TEST(test_ws_lstrip_blocks)
{
	OUT_OPTS(ws_src, "{\"xs\": [1, 2]}", &lstrip_only, "list:\n\n  - 1\n\n  - 2\n\nend\n");
}
END_TEST

START_TEST(test_ws_both_and_default)
{
	OUT(ws_src, "{\"xs\": [1, 2]}", "list:\n  - 1\n  - 2\nend\n");
	OUT_OPTS("  {# c #}\nx\n", NULL, NULL, "x\n");
}
END_TEST

START_TEST(test_ws_plus_disables)
{
	OUT("a\n  {%+ if true +%}\nb\n  {% endif %}\n", NULL, "a\n  \nb\n");
}
END_TEST

START_TEST(test_ws_lstrip_only_at_line_start)
{
	OUT("x  {% if true %}y{% endif %}\n\t {% if true %}z{% endif %}\n", NULL, "x  yz");
}
END_TEST

START_TEST(test_crlf_read_as_lf)
{
	OUT("a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\rd", NULL, "a\nb\nc\nd");
}
END_TEST

/* ---- syntax errors ---------------------------------------------------------------------- */

START_TEST(test_unterminated_tags)
{
	ERR("a\n{{ x", NULL, -EINVAL, "x.jinja:2: unterminated tag \"{{\", expected \"}}\"");
	ERR("{% if x", NULL, -EINVAL, "x.jinja:1: unterminated tag \"{%\", expected \"%}\"");
	ERR("a\n\n{# never closed", NULL, -EINVAL,
	    "x.jinja:3: unterminated comment \"{#\", expected \"#}\"");
	ERR("{{ 'open }}", NULL, -EINVAL, "x.jinja:1: unterminated string literal");
	ERR("{{ x }", NULL, -EINVAL, "x.jinja:1: unexpected \"}\", expected \"}}\"");
}
END_TEST

START_TEST(test_unexpected_end)
{
	ERR("{% if x %}\nyes\n", "{\"x\": 1}", -EINVAL,
	    "x.jinja:3: unexpected end of template, expected \"endif\" (the \"if\" on line 1 is not closed)");
	ERR("\n{% for x in xs %}{% else %}", NULL, -EINVAL,
	    "x.jinja:2: unexpected end of template, expected \"endfor\" (the \"for\" on line 2 is not closed)");
}
END_TEST

START_TEST(test_unknown_statement)
{
	ERR("{% include 'other.jinja' %}", NULL, -EINVAL, "x.jinja:1: unknown statement \"include\"");
	ERR("{% %}", NULL, -EINVAL, "x.jinja:1: expected a statement, got \"%}\"");
}
END_TEST

START_TEST(test_stray_end_tags)
{
	ERR("a\n{% endfor %}", NULL, -EINVAL, "x.jinja:2: \"endfor\" without matching \"for\"");
	ERR("{% endif %}", NULL, -EINVAL, "x.jinja:1: \"endif\" without matching \"if\"");
	ERR("{% elif x %}", NULL, -EINVAL, "x.jinja:1: \"elif\" without matching \"if\"");
	ERR("{% else %}", NULL, -EINVAL, "x.jinja:1: \"else\" without matching \"if\" or \"for\"");
	ERR("{% if x %}\n{% endfor %}", NULL, -EINVAL,
	    "x.jinja:2: unexpected \"endfor\", expected \"endif\" (the \"if\" on line 1 is not closed)");
}
END_TEST

START_TEST(test_expression_syntax_errors)
{
	ERR("{{ }}", NULL, -EINVAL, "x.jinja:1: expected an expression, got \"}}\"");
	ERR("{{ a b }}", NULL, -EINVAL, "x.jinja:1: unexpected \"b\", expected \"}}\"");
	ERR("{{ (1 + }}", NULL, -EINVAL, "x.jinja:1: expected an expression, got \"}}\"");
	ERR("{{ range(3) }}", NULL, -EINVAL, "x.jinja:1: calling \"range\" is not supported");
	ERR("{{ {'a': 1} }}", NULL, -EINVAL, "x.jinja:1: dict literals are not supported");
	ERR("{{ xs[1:2] }}", NULL, -EINVAL, "x.jinja:1: slices are not supported");
	ERR("{{ $x }}", NULL, -EINVAL, "x.jinja:1: unexpected character \"$\"");
	ERR("{{ 007 }}", NULL, -EINVAL, "x.jinja:1: integer literal 007 has a leading zero");
	ERR("{% if x is defined if y else z %}{% endif %}", NULL, -EINVAL,
	    "x.jinja:1: unexpected \"if\" after \"is defined\" (tests take no arguments; use parentheses)");
}
END_TEST

START_TEST(test_items_misuse)
{
	ERR("{{ o.items() }}", NULL, -EINVAL,
	    "x.jinja:1: .items() is only supported in \"for k, v in x.items()\"");
	ERR("{% for x in o.items() %}{% endfor %}", NULL, -EINVAL,
	    "x.jinja:1: .items() needs two names, as in \"for k, v in x.items()\"");
	ERR("{% for k, v in o %}{% endfor %}", NULL, -EINVAL,
	    "x.jinja:1: \"for k, v\" needs an object's .items(), as in \"for k, v in x.items()\"");
}
END_TEST

START_TEST(test_source_checks)
{
	struct pfs_err e = { 0 };
	struct tmpl *t = (struct tmpl *)&e; /* not NULL: a failed compile must reset it */
	char *big = malloc(TMPL_MAX_SOURCE + 1);

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(tmpl_compile("n.jinja", "a\n\xff", 3, NULL, &t, &e), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(e.msg, "n.jinja:2: invalid UTF-8");
	ck_assert_int_eq(tmpl_compile("n.jinja", "a\0b", 3, NULL, &t, &e), -EINVAL);
	ck_assert_str_eq(e.msg, "n.jinja:1: NUL byte in template");
	memset(big, 'a', TMPL_MAX_SOURCE + 1);
	ck_assert_int_eq(tmpl_compile("n.jinja", big, TMPL_MAX_SOURCE + 1, NULL, &t, &e), -E2BIG);
	ck_assert_str_eq(e.msg, "n.jinja: template larger than 1048576 bytes");
	ck_assert_int_eq(tmpl_compile("n.jinja", big, TMPL_MAX_SOURCE, NULL, &t, &e), 0);
	tmpl_free(t);
	free(big);
	tmpl_free(NULL);
}
END_TEST

START_TEST(test_context_must_be_object)
{
	struct pfs_buf b = PFS_BUF_INIT(64);
	struct pfs_err e = { 0 };
	json_t *arr = json_array();

	ck_assert_int_eq(tmpl_render_string("c.jinja", "x", arr, &b, &e), -EINVAL);
	ck_assert_str_eq(e.msg, "c.jinja: the context is an array, not an object");
	ck_assert_int_eq(tmpl_render_string("c.jinja", "{{ 1 }}", NULL, &b, &e), 0);
	ck_assert_str_eq(pfs_buf_str(&b), "1");
	json_decref(arr);
	pfs_buf_release(&b);
}
END_TEST

/* ---- limits ------------------------------------------------------------------------------ */

START_TEST(test_output_cap)
{
	struct pfs_buf b = PFS_BUF_INIT(16);
	struct pfs_err e = { 0 };

	ck_assert_int_eq(pfs_buf_addstr(&b, "keep"), 0);
	ck_assert_int_eq(run("0123456789{{ 'abc' }}", NULL, NULL, &b, &e), -E2BIG);
	ck_assert_str_eq(e.msg, "x.jinja:1: output larger than the buffer's cap of 16 bytes");
	ck_assert_str_eq(pfs_buf_str(&b), "keep"); /* nothing appended */
	ck_assert_int_eq(run("0123456789ab", NULL, NULL, &b, &e), 0);
	ck_assert_str_eq(pfs_buf_str(&b), "keep0123456789ab");
	pfs_buf_release(&b);
}
END_TEST

/* n copies of s, then tail, in a malloc'd string. */
static char *repeat(const char *s, int n, const char *tail)
{
	size_t ls = strlen(s), lt = strlen(tail);
	char *p = malloc(ls * (size_t)n + lt + 1);

	ck_assert_ptr_nonnull(p);
	for (int i = 0; i < n; i++)
		memcpy(p + ls * (size_t)i, s, ls);
	memcpy(p + ls * (size_t)n, tail, lt + 1);
	return p;
}

START_TEST(test_nesting_limit_parentheses)
{
	char *deep = repeat("(", 100000, "1");
	char *ok = repeat("(", 60, "1");
	char *src = NULL;

	ck_assert_int_ge(asprintf(&src, "{{ %s }}", deep), 0);
	ERR(src, NULL, -ELOOP, "x.jinja:1: expression nested too deeply (limit 64)");
	free(src);
	free(deep);
	deep = repeat(")", 60, " }}");
	ck_assert_int_ge(asprintf(&src, "{{ %s%s", ok, deep), 0);
	OUT(src, NULL, "1");
	free(src);
	free(deep);
	free(ok);
}
END_TEST

START_TEST(test_nesting_limit_lists_and_not)
{
	char *lists = repeat("[", 100000, "");
	char *nots = repeat("not ", 100000, "x }}");
	char *src = NULL;

	ck_assert_int_ge(asprintf(&src, "{{ %s", lists), 0);
	ERR(src, NULL, -ELOOP, "x.jinja:1: expression nested too deeply (limit 64)");
	free(src);
	ck_assert_int_ge(asprintf(&src, "{{ %s", nots), 0);
	ERR(src, NULL, -ELOOP, "x.jinja:1: expression nested too deeply (limit 64)");
	free(src);
	free(lists);
	free(nots);
}
END_TEST

START_TEST(test_nesting_limit_blocks)
{
	char *src = repeat("{% if true %}", 65, "");

	ERR(src, NULL, -ELOOP, "x.jinja:1: blocks nested too deeply (limit 64)");
	free(src);
}
END_TEST

START_TEST(test_long_flat_chain_is_not_deep)
{
	char *src = repeat("'a' ~ ", 5000, "'b' }}");
	char *full = NULL;
	struct pfs_buf b = PFS_BUF_INIT(1u << 20);
	struct pfs_err e = { 0 };

	ck_assert_int_ge(asprintf(&full, "{{ %s", src), 0);
	ck_assert_int_eq(run(full, NULL, NULL, &b, &e), 0);
	ck_assert_uint_eq(pfs_buf_len(&b), 5001);
	pfs_buf_release(&b);
	free(full);
	free(src);
}
END_TEST

START_TEST(test_value_nesting_limit)
{
	char *src = repeat("{% set l = [l] %}", 70, "{{ l | tojson }}");

	ERR(src, "{\"l\": 1}", -ELOOP, "x.jinja:1: value nested too deeply for a list (limit 64)");
	free(src);
}
END_TEST

START_TEST(test_iteration_limit)
{
	json_t *ctx = json_object(), *xs = json_array();
	struct pfs_buf b = PFS_BUF_INIT(1024);
	struct pfs_err e = { 0 };

	for (int i = 0; i < 1001; i++)
		json_array_append_new(xs, json_integer(i));
	json_object_set_new(ctx, "xs", xs);
	ck_assert_int_eq(tmpl_render_string("l.jinja", "{% for a in xs %}{% for b in xs %}"
					    "{% endfor %}{% endfor %}", ctx, &b, &e), -ELOOP);
	ck_assert_str_eq(e.msg, "l.jinja:1: too many loop iterations (limit 1000000)");
	json_decref(ctx);
	pfs_buf_release(&b);
}
END_TEST

START_TEST(test_step_limit)
{
	/* 2000 iterations of a 20001-operand "and": twice TMPL_MAX_STEPS */
	char *chain = repeat("x and ", 20000, "x %}");
	char *items = repeat("1,", 1999, "1]}");
	char *src = NULL, *ctx = NULL;

	ck_assert_int_ge(asprintf(&src, "{%% for i in xs %%}{%% set s = %s{%% endfor %%}", chain), 0);
	ck_assert_int_ge(asprintf(&ctx, "{\"x\": 1, \"xs\": [%s", items), 0);
	ERR(src, ctx, -ELOOP, "x.jinja:1: too many evaluation steps (limit 20000000)");
	free(src);
	free(ctx);
	free(items);
	free(chain);
}
END_TEST

START_TEST(test_string_value_limit)
{
	char *src = repeat("{% set s = s ~ s %}", 30, "");

	ERR(src, "{\"s\": \"x\"}", -E2BIG, "x.jinja:1: string longer than 16777216 bytes");
	free(src);
}
END_TEST

/* ---- whole templates ------------------------------------------------------------------------ */

static const char *server_src =
	"{# hq server: one command line #}\n"
	"{{ binary }} --mode=server\n"
	"  {%- if host is defined %} --host={{ host | quote }}{% endif %}\n"
	"  {{- ' --port=' ~ port }}\n"
	"  {%- for f in extra_flags %} {{ f | quote }}{% endfor %}\n"
	"  {%- if qlog_dir is defined %} --qlog={{ qlog_dir | quote }}{% endif %}\n"
	"  {{- ' --pacing=' ~ pacing | default(false) }}\n";

START_TEST(test_realistic_command_line)
{
	OUT(server_src, "{\"binary\": \"/usr/local/bin/hq\", \"port\": 4433, \"host\": \"::1\", "
	    "\"extra_flags\": [\"--v=2\", \"--name=two words\"], \"qlog_dir\": \"/tmp/q logs\"}",
	    "/usr/local/bin/hq --mode=server --host=::1 --port=4433 --v=2 '--name=two words' "
	    "--qlog='/tmp/q logs' --pacing=false\n");
	OUT(server_src, "{\"binary\": \"hq\", \"port\": 1, \"extra_flags\": [], \"pacing\": true}",
	    "hq --mode=server --port=1 --pacing=true\n");
	ERR(server_src, "{\"binary\": \"hq\", \"extra_flags\": []}", -EINVAL,
	    "x.jinja:4: undefined name \"port\"");
}
END_TEST

/* Every way a context value travels: names, members, loops, lists, set, filters. */
static const char *travel_src =
	"{% set l = [o, xs, o.a] + xs + [xs[0]] %}{% set m = l %}"
	"{% for x in m %}{% set y = x %}{{ y | tojson }};{% endfor %}"
	"{{ (nope | default(o)).b }}{{ xs | first }}{{ xs | last }}{{ [xs] | first | length }}"
	"{% for k, v in o.items() %}{{ v }}{% endfor %}{{ (o.a if o else xs) + +o.b }}\n";

static const char *travel_want =
	"{\"a\":1,\"b\":2};[5,6];1;5;6;5;2562123\n";

START_TEST(test_context_refcounts_untouched)
{
	json_t *ctx = json_pack("{s:{s:i,s:i},s:[i,i]}", "o", "a", 1, "b", 2, "xs", 5, 6);
	json_t *o = json_object_get(ctx, "o"), *xs = json_object_get(ctx, "xs");
	size_t rc_o = o->refcount, rc_xs = xs->refcount, rc_5 = json_array_get(xs, 0)->refcount;
	struct pfs_buf b = PFS_BUF_INIT(4096);
	struct pfs_err e = { 0 };

	ck_assert_int_eq(tmpl_render_string("t.jinja", travel_src, ctx, &b, &e), 0);
	ck_assert_str_eq(pfs_buf_str(&b), travel_want);
	ck_assert_uint_eq(o->refcount, rc_o);
	ck_assert_uint_eq(xs->refcount, rc_xs);
	ck_assert_uint_eq(json_array_get(xs, 0)->refcount, rc_5);
	json_decref(ctx);
	pfs_buf_release(&b);
}
END_TEST

struct thread_arg {
	const struct tmpl *t;
	json_t *ctx;
	int failures;
};

static void *render_many(void *p)
{
	struct thread_arg *a = p;

	for (int i = 0; i < 200; i++) {
		struct pfs_buf b = PFS_BUF_INIT(4096);

		if (tmpl_render(a->t, a->ctx, &b, NULL) != 0 ||
		    strcmp(pfs_buf_str(&b), travel_want) != 0)
			a->failures++;
		pfs_buf_release(&b);
	}
	return NULL;
}

/* One template, one context, four threads (run it under -fsanitize=thread too). */
START_TEST(test_concurrent_renders)
{
	struct thread_arg args[4];
	pthread_t th[4];
	struct tmpl *t = NULL;
	json_t *ctx = json_pack("{s:{s:i,s:i},s:[i,i]}", "o", "a", 1, "b", 2, "xs", 5, 6);

	ck_assert_int_eq(tmpl_compile("c.jinja", travel_src, strlen(travel_src), NULL, &t, NULL), 0);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ t, ctx, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, render_many, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].failures, 0);
	}
	tmpl_free(t);
	json_decref(ctx);
}
END_TEST

static Suite *template_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_text_only);
	tcase_add_test(tc, test_output_scalars);
	tcase_add_test(tc, test_output_reals);
	tcase_add_test(tc, test_output_booleans_lowercase);
	tcase_add_test(tc, test_output_none_is_error);
	tcase_add_test(tc, test_output_array_is_error);
	tcase_add_test(tc, test_no_html_escaping);
	tcase_add_test(tc, test_appends_to_buffer);
	tcase_add_test(tc, test_if_elif_else);
	tcase_add_test(tc, test_truthiness);
	tcase_add_test(tc, test_for_array);
	tcase_add_test(tc, test_for_object_keys);
	tcase_add_test(tc, test_for_items_insertion_order);
	tcase_add_test(tc, test_for_else);
	tcase_add_test(tc, test_loop_variables);
	tcase_add_test(tc, test_loop_nested_is_innermost);
	tcase_add_test(tc, test_loop_errors);
	tcase_add_test(tc, test_set_top_level);
	tcase_add_test(tc, test_set_shadows_context);
	tcase_add_test(tc, test_set_scoped_to_for_body);
	tcase_add_test(tc, test_set_in_if_is_not_scoped);
	tcase_add_test(tc, test_set_errors);
	tcase_add_test(tc, test_set_after_loop_read_refused);
	tcase_add_test(tc, test_comment);
	tcase_add_test(tc, test_literals);
	tcase_add_test(tc, test_string_escapes);
	tcase_add_test(tc, test_attribute_and_subscript);
	tcase_add_test(tc, test_precedence);
	tcase_add_test(tc, test_arithmetic);
	tcase_add_test(tc, test_arithmetic_errors);
	tcase_add_test(tc, test_concat);
	tcase_add_test(tc, test_comparisons_values);
	tcase_add_test(tc, test_in_operator);
	tcase_add_test(tc, test_and_or_values);
	tcase_add_test(tc, test_inline_if);
	tcase_add_test(tc, test_is_defined);
	tcase_add_test(tc, test_is_none);
	tcase_add_test(tc, test_undefined_name);
	tcase_add_test(tc, test_undefined_nested_key);
	tcase_add_test(tc, test_undefined_deep_chain);
	tcase_add_test(tc, test_undefined_index_and_non_object);
	tcase_add_test(tc, test_undefined_in_operators);
	tcase_add_test(tc, test_dict_method_attribute_refused);
	tcase_add_test(tc, test_filter_quote);
	tcase_add_test(tc, test_filter_default);
	tcase_add_test(tc, test_filter_join);
	tcase_add_test(tc, test_filter_int);
	tcase_add_test(tc, test_filter_float);
	tcase_add_test(tc, test_filter_string);
	tcase_add_test(tc, test_filter_lower_upper_trim);
	tcase_add_test(tc, test_filter_length);
	tcase_add_test(tc, test_filter_replace);
	tcase_add_test(tc, test_filter_first_last);
	tcase_add_test(tc, test_filter_tojson);
	tcase_add_test(tc, test_filter_bool);
	tcase_add_test(tc, test_filter_chain);
	tcase_add_test(tc, test_filter_unknown);
	tcase_add_test(tc, test_filter_arity);
	tcase_add_test(tc, test_ws_minus_on_output);
	tcase_add_test(tc, test_ws_minus_on_blocks_and_comments);
	tcase_add_test(tc, test_ws_no_options);
	tcase_add_test(tc, test_ws_trim_blocks);
	tcase_add_test(tc, test_ws_lstrip_blocks);
	tcase_add_test(tc, test_ws_both_and_default);
	tcase_add_test(tc, test_ws_plus_disables);
	tcase_add_test(tc, test_ws_lstrip_only_at_line_start);
	tcase_add_test(tc, test_crlf_read_as_lf);
	tcase_add_test(tc, test_unterminated_tags);
	tcase_add_test(tc, test_unexpected_end);
	tcase_add_test(tc, test_unknown_statement);
	tcase_add_test(tc, test_stray_end_tags);
	tcase_add_test(tc, test_expression_syntax_errors);
	tcase_add_test(tc, test_items_misuse);
	tcase_add_test(tc, test_source_checks);
	tcase_add_test(tc, test_context_must_be_object);
	tcase_add_test(tc, test_output_cap);
	tcase_add_test(tc, test_nesting_limit_parentheses);
	tcase_add_test(tc, test_nesting_limit_lists_and_not);
	tcase_add_test(tc, test_nesting_limit_blocks);
	tcase_add_test(tc, test_long_flat_chain_is_not_deep);
	tcase_add_test(tc, test_value_nesting_limit);
	tcase_add_test(tc, test_iteration_limit);
	tcase_add_test(tc, test_step_limit);
	tcase_add_test(tc, test_string_value_limit);
	tcase_add_test(tc, test_realistic_command_line);
	tcase_add_test(tc, test_context_refcounts_untouched);
	tcase_add_test(tc, test_concurrent_renders);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	Suite *suite = template_suite();

	return pfs_check_run(suite);
}
