/* SPDX-License-Identifier: MIT */
/*
 * Templates: a strict subset of Jinja2, rendered over a jansson value.
 *
 * pantherfs builds the command lines (and small config files) of the
 * programs under test from templates. The language is Jinja2's, minus the
 * parts that can silently produce a wrong command line: a name that does not
 * exist is an ERROR here, never an empty string (a framework once lost its
 * command-line flags that way). Anything accepted here renders the way
 * Jinja2 would render it, except for the deviations listed at the end.
 *
 * ---- Template text ----------------------------------------------------------
 *
 *   text            copied as it is: no HTML escaping ever, and the final
 *                   newline is kept; "\r\n" and "\r" are read as "\n" (as
 *                   Jinja does)
 *   {{ expr }}      output a value (see "Output")
 *   {% stmt %}      a statement
 *   {# comment #}   nothing
 *
 * Whitespace control: a "-" just inside a delimiter ({{- -}} {%- -%} {#- -#})
 * strips all whitespace, newlines included, on that side of the tag.
 * opts->trim_blocks removes the first newline after a block or comment tag;
 * opts->lstrip_blocks removes the spaces and tabs between the start of a line
 * and a block or comment tag. A "+" ({%+ +%} {#+ +#}) turns lstrip_blocks
 * (at the start) or trim_blocks (at the end) off for one tag.
 *
 * ---- Statements -------------------------------------------------------------
 *
 *   {% if e %} .. {% elif e %} .. {% else %} .. {% endif %}
 *   {% for x in e %} .. {% else %} .. {% endfor %}
 *       e is an array (each item) or an object (each key, in insertion
 *       order). The else branch runs when there was nothing to iterate.
 *   {% for k, v in e.items() %} .. {% endfor %}
 *       each key and value of the object e, in insertion order. .items() is
 *       only accepted here.
 *       In a loop body: loop.index (from 1), loop.index0, loop.first,
 *       loop.last, loop.length, loop.revindex (to 1), loop.revindex0; loop is
 *       the innermost loop and cannot be used on its own.
 *   {% set name = e %}
 *       visible from the next statement to the end of the enclosing for body
 *       (each iteration starts afresh, nothing leaks out of a loop) or, at top
 *       level, of the template. "if" does not open a scope. A set name hides
 *       the context's. "loop" and the keywords cannot be assigned.
 *       Refused at compile time: a set of a name after a loop nested in the
 *       same scope read it, as in
 *         {% for f in fs %}{{ p }}{% endfor %}{% set p = 1 %}
 *       (Jinja resolves names like Python locals and would find p undefined
 *       in that loop, whatever the context says).
 *
 * ---- Expressions, loosest first ---------------------------------------------
 *
 *   a if c else b          the else is required; not allowed unparenthesized
 *                          as the whole condition of if, elif or for (Jinja
 *                          does not parse it there either)
 *   a or b, a and b        short-circuit; the value is an operand (Python)
 *   not a
 *   == != < > <= >= in, not in
 *                          chain as in Python (a < b < c). == compares
 *                          deeply, as Python: 1 == 1.0, true == 1. < > <= >=
 *                          take two numbers or two strings. "in": item of an
 *                          array, key of an object, substring of a string.
 *   + -                    numbers; + also joins two strings or two arrays
 *   ~                      concatenates the text of two scalars (see Output)
 *   * /                    numbers; / always gives a float
 *   // %                   integers, floored as in Python (-7 // 2 is -4)
 *   -a +a                  numbers
 *   a | f | f(x, y)        filters (list below), and the tests
 *   a is [not] defined, a is [not] none
 *                          tests take no argument: a name or literal right
 *                          after one is an error (Jinja would read it as the
 *                          argument: "x is defined if y else z" misparses)
 *   a.name a["key"] a[0] a[-1]
 *                          object member, array item (negative counts from
 *                          the end), a string's character (UTF-8 code point).
 *                          a.name is refused for names that are dict methods
 *                          in Jinja (items, keys, values, get, update, ...)
 *                          and for __names: write a["values"].
 *   'str' "str"            escapes \\ \' \" \n \t; adjacent literals join
 *   42 1.5 1e3 true True false False none None [a, b] (e)
 *                          (no leading zeros: 007 is refused, as in Jinja)
 *
 * Undefined: a name that is neither set nor in the context, a missing object
 * member, an index out of range, a member or index of something that is not
 * an object/array/string, and first/last of an empty array or string are
 * "undefined". Only "is defined", "is not defined" and "| default(..)" may
 * look at an undefined value; anything else (output, an operator, another
 * filter or test, if, for, set, a member of it) fails with
 *   <name>:<line>: undefined name "certs.cert_param"
 * quoting the expression as written in the template, plus a hint in
 * parentheses for "(index 5 out of range for length 3)" and
 * "("cfg.port" is an integer)"; first/last say "undefined value". So a.b.c
 * where a has no b fails (naming "a.b") even under "is defined": test a.b
 * first.
 *
 * Truthiness (if, not, and, or, a if c else b, | bool) is Python's: false,
 * none, 0, 0.0, "", [] and {} are false; everything else is true.
 *
 * Output ({{ }}, ~, join, string, quote and the text-taking filters):
 * strings as they are, integers in decimal, floats in their shortest
 * round-trip form as Python's repr prints them (1.5, 2.0, 1e+16), booleans as
 * "true" and "false". none, arrays and objects cannot be output (an error):
 * use default, join or tojson.
 *
 * Filters (x is the left side; all but default fail on an undefined x):
 *   default(d[, b])  d when x is undefined (or, when b is true, falsy);
 *                    otherwise x. none is defined: none | default(1) is none
 *   quote            POSIX shell quoting of the text of x as ONE word:
 *                    unchanged when non-empty and only [A-Za-z0-9_@%+=:,./-],
 *                    else in single quotes with ' written as '\''
 *   join(sep="")     the texts of an array's items, separated by sep
 *   int              integer: floats truncate, strings are parsed (decimal,
 *                    surrounding whitespace allowed, "3.7" gives 3), booleans
 *                    give 0/1; anything else is an error (Jinja gives 0)
 *   float            float from a number, boolean or decimal string
 *   string           the text of a scalar
 *   lower, upper     ASCII case mapping of the text of a scalar (Python
 *                    would also map non-ASCII letters)
 *   trim             the text of a scalar without surrounding ASCII whitespace
 *                    (Python would also strip non-ASCII spaces)
 *   length           code points of a string, items of an array or object
 *   replace(a, b)    every a in the text of x replaced with b
 *   first, last      first/last item of an array or code point of a string
 *   tojson           compact JSON (no spaces, keys in insertion order, no
 *                    HTML escaping, non-ASCII as UTF-8)
 *   bool             truthiness of x as true/false ("false" | bool is TRUE:
 *                    a non-empty string; this is not Ansible's bool)
 *
 * ---- Deviations from Jinja2 -------------------------------------------------
 *
 *  - Undefined values are errors (as with StrictUndefined), see above.
 *  - Booleans print as true/false, not True/False: the outputs are flags of
 *    gflags programs. Likewise for ~, join, string, etc.
 *  - Booleans are not numbers in arithmetic or ordering: true + 1 and
 *    true < 2 are errors (== and "in" do follow Python: true == 1).
 *  - Iterating a string, a number, none or a boolean is an error (iterating a
 *    string one character at a time is never what a command line wants).
 *  - Integers are 64-bit: overflow is an error; so is a float result that is
 *    not finite, and int / int beyond 2^53. The int/float filters fail
 *    instead of returning 0. // and % refuse floats.
 *  - tojson is compact and keeps insertion order (Jinja sorts keys, adds
 *    spaces and escapes <>&').
 *  - The final newline of a template is kept (keep_trailing_newline).
 *  - lower, upper and trim only know ASCII (see Filters).
 *  - Only the statements, operators, filters and tests above exist. Not
 *    supported: macros, include/import/extends/block, raw, filter blocks,
 *    with, block set, loop controls (break/continue), recursive or filtered
 *    loops, tuple unpacking other than .items(), function and method calls
 *    (range(), x.upper()), slices, dict and tuple literals, **, "%"
 *    formatting of strings, string/list repetition with *, keyword arguments
 *    to filters, tests other than defined/none, loop.cycle/depth/previtem/
 *    nextitem/changed, line statements.
 *  - Source must be valid UTF-8 without NUL bytes. Numbers are read and
 *    printed with the C locale's "." (pantherfs never calls setlocale).
 *
 * ---- Errors -----------------------------------------------------------------
 *
 * Every function returns 0 or a negative errno and fills the optional
 * struct pfs_err (only on failure) with "<name>:<line>: <problem>", line
 * counting from 1, e.g.
 *   x.jinja:3: unexpected end of template, expected "endif" (the "if" on line 1 is not closed)
 *   x.jinja:5: filter "frobnicate" does not exist
 *   x.jinja:12: undefined name "certificates.cert_param"
 * Compile: -EINVAL for any syntax error, -E2BIG for a source over
 * TMPL_MAX_SOURCE, -ELOOP for nesting over TMPL_MAX_DEPTH, -ENOMEM.
 * Render: -EINVAL for undefined values and type errors (wrong operand or
 * filter input, division by zero, overflow, output of none/array/object),
 * -E2BIG when the output would pass the buffer's cap or a string/array value
 * passes TMPL_MAX_STRING/TMPL_MAX_ARRAY, -ELOOP when TMPL_MAX_DEPTH (value
 * nesting in tojson, ==, in, list literals), TMPL_MAX_ITERATIONS or
 * TMPL_MAX_STEPS is reached, -ENOMEM.
 *
 * ---- Ownership and threads --------------------------------------------------
 *
 * A struct tmpl owns copies of its name and source and borrows nothing. It
 * is immutable after tmpl_compile: any number of threads may render the same
 * template at once. Rendering only reads ctx, not even taking references on
 * its values (values the template builds hold copies), so one ctx may be
 * shared by concurrent renders; it must not be modified during a render.
 * The output goes to a private buffer first and is appended to out at the
 * end, so out is only touched by the calling thread, once.
 */
#ifndef PANTHERFS_TEMPLATE_H
#define PANTHERFS_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "pantherfs/buf.h"
#include "pantherfs/err.h"

#define TMPL_MAX_SOURCE (1u << 20)      /* bytes of template source */
#define TMPL_MAX_DEPTH 64               /* block, expression and value nesting */
#define TMPL_MAX_ITERATIONS 1000000u    /* loop iterations per render, all loops */
#define TMPL_MAX_STEPS 20000000u        /* evaluation steps per render (template_eval.c) */
#define TMPL_MAX_STRING (16u << 20)     /* bytes of a string built while rendering */
#define TMPL_MAX_ARRAY (1u << 20)       /* items of an array built while rendering */

/* A compiled template: immutable after compile, see "Ownership and threads". */
struct tmpl;

/* Jinja's options of the same names; NULL opts means both true. */
struct tmpl_opts {
	bool trim_blocks;
	bool lstrip_blocks;
};

/*
 * Compiles len bytes of src (need not be NUL-terminated; NULL only when len
 * is 0). name (NULL: "<template>") is copied and prefixes every message. On
 * success *out is a new template (tmpl_free it); on failure *out is NULL.
 */
int tmpl_compile(const char *name, const char *src, size_t len, const struct tmpl_opts *opts,
		 struct tmpl **out, struct pfs_err *err);

/* NULL is fine. */
void tmpl_free(struct tmpl *t);

/*
 * Renders t over ctx (a JSON object, borrowed; NULL means no names; anything
 * else is -EINVAL) and appends the output to out (caller-owned; its cap
 * bounds the output). On
 * failure nothing is appended (out keeps its content, unless pfs_buf itself
 * ran out of memory, which frees it as buf.h says).
 */
int tmpl_render(const struct tmpl *t, json_t *ctx, struct pfs_buf *out, struct pfs_err *err);

/* tmpl_compile (NUL-terminated src, default options) + tmpl_render + tmpl_free. */
int tmpl_render_string(const char *name, const char *src, json_t *ctx, struct pfs_buf *out,
		       struct pfs_err *err);

#endif
