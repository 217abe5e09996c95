/* SPDX-License-Identifier: MIT */
/*
 * yamltree: a YAML file as a jansson tree, with the line and column of every
 * node and every mapping key, read under hard limits.
 *
 * Used for user-written test configurations (config.yaml), which PANTHER
 * itself reads with PyYAML's SafeLoader (YAML 1.1). The values produced here
 * are the ones PyYAML produces wherever JSON can hold them, so a file means
 * the same thing to both tools; where they differ, this module refuses rather
 * than guesses (see "Differences from PyYAML" below).
 *
 * ---- Values --------------------------------------------------------------
 * Plain (unquoted) scalars are resolved as PyYAML's YAML 1.1 resolver does:
 *   null   ~ null Null NULL and the empty scalar          -> json null
 *   bool   yes Yes YES no No NO true True TRUE false False FALSE
 *          on On ON off Off OFF                          -> json true/false
 *   int    [-+]? then 0b[01_]+ | 0[0-7_]+ (octal) | 0 | [1-9][0-9_]*
 *          | 0x[0-9a-fA-F_]+ | [1-9][0-9_]*(:[0-5]?[0-9])+ (base 60,
 *          "1:30" is 90)                                 -> json integer
 *   float  [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?  ("1.", "-2.0e+3")
 *          | \.[0-9][0-9_]*([eE][-+][0-9]+)?            (".5"; no sign)
 *          | base 60 with a fraction ("1:30.5")          -> json real
 *   anything else, e.g. "0o17", "1e3", "1.0e3", "-.5", "yEs", "2024-01-01",
 *   is a string. Quoted and block (| >) scalars are always strings.
 * Explicit tags !!str !!int !!float !!bool !!null !!map !!seq are honoured
 * (!!bool is case-insensitive, !!float also takes "1" and "1e3", as PyYAML);
 * a value that does not fit its tag is an error. The non-specific tag "!"
 * on a scalar resolves its text as if it were plain, even quoted text
 * (! "12" is 12), as PyYAML does. Any other tag is an error naming it.
 *
 * Mapping keys must be scalars (or aliases of scalars); each key is the
 * scalar's text as written ("1:" is "1", "true:" is "true", "~:" is "~").
 * A key with a tag must fit it (!!int x: is an error); a key with an anchor
 * is also resolved as a value, since an alias may use it as one.
 * Merge keys (a plain or "!"-tagged "<<" key whose value is a mapping, an alias of one, or
 * a sequence of those) work as in YAML 1.1: keys written in the mapping win
 * over merged ones, an earlier mapping in "<< : [*a, *b]" wins over a later
 * one, a later "<<" key wins over an earlier one, and merged keys never count
 * as duplicates.
 *
 * Aliases do not copy: *a is the anchor's json_t, shared (json_incref), so
 * ydoc_pos() of it is the anchor's position.
 *
 * ---- Errors --------------------------------------------------------------
 * Every failure returns a negative errno and, when err is not NULL, a message
 * "<name>:<line>:<col>: <what>" (or "<name>: <what>" when there is no
 * position), with no trailing newline. Errors about one value (the -ERANGE
 * ones, "invalid integer", "does not fit tag", "unsupported tag" on a
 * scalar, NUL, "plain ... used as a value") name where it sits, as config
 * paths are written: "<name>:<line>:<col>: tests[0].services.s.config.port:
 * integer out of range (-2^63 to 2^63-1)" (for a key: its mapping's path;
 * a merged mapping is "<<"). Lines and columns are 1-based and
 * count characters (code points), as libyaml does; a UTF-8 BOM at the very
 * start is not counted; LF, CR, CRLF, U+0085, U+2028 and U+2029 end a line.
 *   -EFBIG   len > YDOC_MAX_BYTES: "larger than 1 MiB (N bytes)" (no position)
 *   -EFBIG   "aliases expand beyond the size limit": counting every alias as
 *            if it were a copy of its anchor, the document would hold more
 *            than YDOC_MAX_NODES nodes (keys included) or more than
 *            YDOC_MAX_BYTES bytes of scalar text (keys included). Without any
 *            alias the same limit reads "document expands beyond the size
 *            limit" (escapes such as "\L" can make text longer than input).
 *   -EINVAL  "binary content (byte 0xNN)": a control byte other than tab, LF
 *            and CR (0x00-0x1f, 0x7f); "binary content (U+NNNN)": a C1 control
 *            character other than U+0085, or U+FFFE / U+FFFF.
 *   -EINVAL  "not valid UTF-8" at the first bad byte (overlong forms and
 *            surrogates included). Checked before libyaml sees the data.
 *   -ELOOP   "nesting deeper than 256 levels" (YDOC_MAX_DEPTH), counting
 *            mappings and sequences, including those an alias brings in.
 *   -EINVAL  "several YAML documents in one file" at the second document.
 *   -EINVAL  "duplicate key "k" (first at line N)" at the second key.
 *   -EINVAL  "a mapping cannot be a mapping key" (or "a sequence ...").
 *   -EINVAL  "undefined alias "a"", "recursive alias "a" (anchor used inside
 *            itself)", "duplicate anchor "a" (first at line N)".
 *   -EINVAL  "unsupported tag "!foo"", "value "x" does not fit tag !!int",
 *            "tag !!map needs a mapping, found a scalar" and the like.
 *   -ERANGE  "integer out of range (-2^63 to 2^63-1)", "float out of range"
 *            (the value is infinite or NaN: ".inf", ".nan", "1.0e+999";
 *            JSON has no way to hold them).
 *   -EINVAL  "invalid integer "0b_"" (matches the int pattern, no digits).
 *   -EINVAL  "string contains a NUL character" (from an escape such as "\0";
 *            jansson strings and C consumers would silently cut it).
 *   -EINVAL  "plain "<<" used as a value" / "plain "=" used as a value"
 *            (PyYAML cannot construct them either; quote them).
 *   -EINVAL  "expected a mapping or list of mappings for merging, but found a
 *            scalar" / "expected a mapping for merging, but found a sequence".
 *   -EINVAL  "tab character used for indentation; YAML indents with spaces"
 *            at a tab with only blanks before it on its line, where libyaml
 *            stopped ("found character that cannot start any token").
 *   -EINVAL  libyaml's other scanner, parser and reader errors, as
 *            "<line>:<col>: <libyaml problem text>".
 *   -ENOMEM  allocation failure ("out of memory").
 *
 * ---- Differences from PyYAML (deliberate) ---------------------------------
 *  - Keys are strings (their text), so "1:" and "'1':" are the same key (a
 *    duplicate here, two keys in PyYAML) and "0x1:" and "1:" are different
 *    keys (one key in PyYAML). PyYAML silently keeps the last of duplicate
 *    keys; here a duplicate is an error.
 *  - Timestamps ("2024-01-01") stay strings; JSON has no date type.
 *  - ".inf", ".nan" and floats that overflow are errors (see -ERANGE).
 *  - "!!null x" is an error (PyYAML returns None for any text); "!!binary",
 *    "!!timestamp", "!!set", "!!omap", "!!pairs" and "!!merge" are errors.
 *  - Recursive aliases (&a [*a]) are errors; PyYAML builds a cyclic list.
 *  - NUL characters inside scalars are errors.
 *
 * ---- Thread safety -------------------------------------------------------
 * ydoc_parse() keeps no global state. A parsed ydoc is read-only and may be
 * queried from several threads at once.
 */
#ifndef PANTHERFS_YAMLTREE_H
#define PANTHERFS_YAMLTREE_H

#include <stddef.h>

#include <jansson.h>

#include "pantherfs/err.h"

#define YDOC_MAX_BYTES (1u << 20)   /* input cap, and scalar text cap: 1 MiB */
#define YDOC_MAX_NODES 1000000u     /* nodes, counting aliases as copies */
#define YDOC_MAX_DEPTH 256          /* nested mappings and sequences */

struct ydoc;

struct ydoc_pos {
	int line, col;   /* 1-based; {0,0} when unknown */
};

/*
 * Parses data[0..len) (need not be NUL-terminated; data may be NULL when len
 * is 0). name is only used in messages ("config.yaml"; NULL gives "<input>").
 * On success *out is a new document the caller frees with ydoc_free(); on
 * failure *out is NULL, the return value is a negative errno (table above)
 * and err, when not NULL, holds the message. data is not kept.
 */
int ydoc_parse(const char *name, const char *data, size_t len,
	       struct ydoc **out, struct pfs_err *err);

/* Frees the document and its tree (the caller's own references, taken with
 * json_incref, stay valid). NULL is fine. */
void ydoc_free(struct ydoc *d);

/*
 * The root value, borrowed: valid until ydoc_free() unless the caller takes
 * a reference. json null for an empty stream or a document holding only
 * comments. Never NULL for a parsed document. Do not modify the tree: the
 * positions are keyed by its pointers and its keys.
 */
json_t *ydoc_root(const struct ydoc *d);

/*
 * Where a node's value starts (its anchor or tag when it has one; for a block
 * mapping, its first key; for a block sequence, its first "-").
 *
 * Keyed by the json_t pointer, so it cannot tell apart the jansson
 * singletons true, false and null: for those it returns {0,0}, except for
 * the root. Use ydoc_value_pos() / ydoc_item_pos() for values in a mapping or
 * a sequence; they work for every value. {0,0} also for a node that is not
 * part of this document. O(1) on average.
 */
struct ydoc_pos ydoc_pos(const struct ydoc *d, const json_t *node);

/*
 * Where key `key` of mapping `obj` is written (the key token, not the value).
 * For a key that came in through a merge ("<<"), where it is written in the
 * merged mapping. {0,0} when obj is not a mapping of this document or has no
 * such key. O(1) on average.
 */
struct ydoc_pos ydoc_key_pos(const struct ydoc *d, const json_t *obj, const char *key);

/*
 * Where the value of key `key` of mapping `obj` is written: the value token,
 * or the alias ("*a") when the value is an alias; for an empty value ("a:"),
 * just after the colon. Merged keys: as ydoc_key_pos(). {0,0} when unknown.
 */
struct ydoc_pos ydoc_value_pos(const struct ydoc *d, const json_t *obj, const char *key);

/*
 * Where item `index` of sequence `arr` is written (the item itself, or the
 * alias), {0,0} when arr is not a sequence of this document or index is out
 * of range.
 */
struct ydoc_pos ydoc_item_pos(const struct ydoc *d, const json_t *arr, size_t index);

#endif
