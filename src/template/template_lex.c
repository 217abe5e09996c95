/* SPDX-License-Identifier: MIT */
/*
 * Template lexer: text and tags in one pass, tokens on demand.
 *
 * Whitespace control is done here, not in the parser, because it is a
 * property of the characters around a tag: when the lexer finds the next tag
 * it already knows whether the text before it loses its trailing whitespace
 * ("{%-") or its indentation (lstrip_blocks), and when it leaves a tag it
 * skips the whitespace or newline after it ("-%}", trim_blocks). The rules
 * follow Jinja's lexer, including its notion of a "line start" for
 * lstrip_blocks (the text begins the template or follows a newline).
 *
 * Inside a tag the end delimiter is tested before any operator, like Jinja,
 * so "{{ a -}}" strips and "}}" inside a string literal does not end a tag.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "template_internal.h"
#include "pantherfs/banned.h"

void tmpl_lex_init(struct lexer *lx, const char *name, const char *src, size_t len,
		   const struct tmpl_opts *opts, struct pfs_err *err)
{
	memset(lx, 0, sizeof(*lx));
	lx->name = name;
	lx->src = src;
	lx->len = len;
	lx->line = 1;
	lx->trim_blocks = opts->trim_blocks;
	lx->lstrip_blocks = opts->lstrip_blocks;
	lx->mode = LX_TEXT;
	lx->err = err;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || is_digit(c);
}

/* Moves to pos, counting newlines. */
static void advance_to(struct lexer *lx, size_t pos)
{
	for (size_t i = lx->pos; i < pos; i++)
		if (lx->src[i] == '\n')
			lx->line++;
	lx->pos = pos;
}

static bool at(const struct lexer *lx, size_t pos, const char *s)
{
	size_t n = strlen(s);

	return pos <= lx->len && lx->len - pos >= n && memcmp(lx->src + pos, s, n) == 0;
}

static size_t skip_space(const struct lexer *lx, size_t pos)
{
	while (pos < lx->len && is_space(lx->src[pos]))
		pos++;
	return pos;
}

/* Offset of the next "{{", "{%" or "{#" at or after pos, len when none. */
static size_t find_tag(const struct lexer *lx, size_t pos)
{
	while (pos + 1 < lx->len) {
		const char *p = memchr(lx->src + pos, '{', lx->len - pos - 1);
		char c;

		if (!p)
			break;
		pos = (size_t)(p - lx->src);
		c = lx->src[pos + 1];
		if (c == '{' || c == '%' || c == '#')
			return pos;
		pos++;
	}
	return lx->len;
}

/*
 * End of the text [start, end) once the tag at end has had its say:
 * "-" strips all trailing whitespace; lstrip_blocks (block and comment tags
 * without "+") strips spaces and tabs back to the start of the line, when
 * nothing else is on that line before the tag.
 */
static size_t text_end(const struct lexer *lx, size_t start, size_t end)
{
	char kind, mod;
	size_t l;

	if (end >= lx->len)
		return end;
	kind = lx->src[end + 1];
	mod = end + 2 < lx->len ? lx->src[end + 2] : '\0';
	if (mod == '-') {
		while (end > start && is_space(lx->src[end - 1]))
			end--;
		return end;
	}
	if (mod == '+' || kind == '{' || !lx->lstrip_blocks)
		return end;
	l = end;
	while (l > start && is_space(lx->src[l - 1]) && lx->src[l - 1] != '\n')
		l--;
	if (l > start ? lx->src[l - 1] == '\n' : (start == 0 || lx->src[start - 1] == '\n'))
		return l;
	return end;
}

static int skip_comment(struct lexer *lx, size_t tag)
{
	size_t body = tag + 2, end, pos;
	const char *p;
	char mod = '\0';

	if (body < lx->len && (lx->src[body] == '-' || lx->src[body] == '+'))
		body++;
	p = body <= lx->len ? memmem(lx->src + body, lx->len - body, "#}", 2) : NULL;
	if (!p)
		return tmpl_errorf(lx->err, -EINVAL, lx->name, lx->line,
				   "unterminated comment \"{#\", expected \"#}\"");
	end = (size_t)(p - lx->src);
	if (end > body && (lx->src[end - 1] == '-' || lx->src[end - 1] == '+'))
		mod = lx->src[end - 1];
	pos = end + 2;
	if (mod == '-')
		pos = skip_space(lx, pos);
	else if (mod != '+' && lx->trim_blocks && pos < lx->len && lx->src[pos] == '\n')
		pos++;
	advance_to(lx, pos);
	return 0;
}

static void set_tok(struct token *tok, enum tok_type type, size_t off, size_t len, int line)
{
	tok->type = type;
	tok->op = OP_NONE;
	tok->off = off;
	tok->len = len;
	tok->line = line;
}

static int lex_text(struct lexer *lx, struct token *tok)
{
	for (;;) {
		size_t start = lx->pos, tag, end;
		int line = lx->line;
		char mod;

		if (start >= lx->len) {
			set_tok(tok, TK_EOF, lx->len, 0, lx->line);
			return 0;
		}
		tag = find_tag(lx, start);
		end = text_end(lx, start, tag);
		if (end > start) {
			/* the tag itself comes with the next call */
			set_tok(tok, TK_TEXT, start, end - start, line);
			advance_to(lx, tag);
			return 0;
		}
		advance_to(lx, tag);
		if (tag >= lx->len)
			continue;
		if (lx->src[tag + 1] == '#') {
			int r = skip_comment(lx, tag);

			if (r < 0)
				return r;
			continue;
		}
		mod = tag + 2 < lx->len ? lx->src[tag + 2] : '\0';
		lx->tag_line = lx->line;
		if (lx->src[tag + 1] == '{') {
			set_tok(tok, TK_VAR_BEGIN, tag, 2, lx->line);
			lx->mode = LX_VAR;
			advance_to(lx, tag + (mod == '-' ? 3 : 2));
		} else {
			set_tok(tok, TK_BLOCK_BEGIN, tag, 2, lx->line);
			lx->mode = LX_BLOCK;
			advance_to(lx, tag + (mod == '-' || mod == '+' ? 3 : 2));
		}
		return 0;
	}
}

/* Tag end at lx->pos? Consumes it and the whitespace it eats. */
static bool lex_tag_end(struct lexer *lx, struct token *tok)
{
	size_t pos = lx->pos, end, n;
	int line = lx->line;

	if (lx->mode == LX_VAR) {
		if (at(lx, pos, "-}}"))
			n = 3, end = skip_space(lx, pos + 3);
		else if (at(lx, pos, "}}"))
			n = 2, end = pos + 2;
		else
			return false;
		set_tok(tok, TK_VAR_END, pos, n, line);
	} else {
		if (at(lx, pos, "-%}")) {
			n = 3, end = skip_space(lx, pos + 3);
		} else if (at(lx, pos, "+%}")) {
			n = 3, end = pos + 3;
		} else if (at(lx, pos, "%}")) {
			n = 2, end = pos + 2;
			if (lx->trim_blocks && end < lx->len && lx->src[end] == '\n')
				end++;
		} else {
			return false;
		}
		set_tok(tok, TK_BLOCK_END, pos, n, line);
	}
	lx->mode = LX_TEXT;
	advance_to(lx, end);
	return true;
}

static int lex_string(struct lexer *lx, struct token *tok)
{
	size_t start = lx->pos, pos = start + 1;
	char q = lx->src[start];

	while (pos < lx->len && lx->src[pos] != q) {
		if (lx->src[pos] == '\\') {
			char c = pos + 1 < lx->len ? lx->src[pos + 1] : '\0';

			if (c == '\0' || !strchr("\\'\"nt", c)) {
				advance_to(lx, pos);
				if (c > ' ' && c < 0x7f)
					return tmpl_errorf(lx->err, -EINVAL, lx->name, lx->line,
							   "invalid escape \"\\%c\" in string literal", c);
				return tmpl_errorf(lx->err, -EINVAL, lx->name, lx->line,
						   "invalid escape in string literal");
			}
			pos++;
		}
		pos++;
	}
	if (pos >= lx->len)
		return tmpl_errorf(lx->err, -EINVAL, lx->name, lx->line, "unterminated string literal");
	set_tok(tok, TK_STRING, start, pos + 1 - start, lx->line);
	advance_to(lx, pos + 1);
	return 0;
}

static void lex_number(struct lexer *lx, struct token *tok)
{
	size_t start = lx->pos, pos = start;
	enum tok_type type = TK_INT;

	while (pos < lx->len && is_digit(lx->src[pos]))
		pos++;
	if (pos + 1 < lx->len && lx->src[pos] == '.' && is_digit(lx->src[pos + 1])) {
		type = TK_FLOAT;
		pos++;
		while (pos < lx->len && is_digit(lx->src[pos]))
			pos++;
	}
	if (pos < lx->len && (lx->src[pos] == 'e' || lx->src[pos] == 'E')) {
		size_t e = pos + 1;

		if (e < lx->len && (lx->src[e] == '+' || lx->src[e] == '-'))
			e++;
		if (e < lx->len && is_digit(lx->src[e])) {
			type = TK_FLOAT;
			pos = e;
			while (pos < lx->len && is_digit(lx->src[pos]))
				pos++;
		}
	}
	set_tok(tok, type, start, pos - start, lx->line);
	advance_to(lx, pos);
}

static const struct {
	const char *s;
	enum op op;
} ops[] = {
	/* two characters first */
	{ "//", OP_FLOORDIV }, { "**", OP_POW }, { "==", OP_EQ }, { "!=", OP_NE },
	{ "<=", OP_LE }, { ">=", OP_GE },
	{ "(", OP_LPAREN }, { ")", OP_RPAREN }, { "[", OP_LBRACKET }, { "]", OP_RBRACKET },
	{ "{", OP_LBRACE }, { "}", OP_RBRACE }, { ".", OP_DOT }, { ",", OP_COMMA },
	{ ":", OP_COLON }, { "|", OP_PIPE }, { "~", OP_TILDE }, { "=", OP_ASSIGN },
	{ "+", OP_ADD }, { "-", OP_SUB }, { "*", OP_MUL }, { "/", OP_DIV }, { "%", OP_MOD },
	{ "<", OP_LT }, { ">", OP_GT },
};

static int lex_tag(struct lexer *lx, struct token *tok)
{
	size_t pos;
	char c;

	advance_to(lx, skip_space(lx, lx->pos));
	pos = lx->pos;
	if (pos >= lx->len)
		return tmpl_errorf(lx->err, -EINVAL, lx->name, lx->tag_line,
				   "unterminated tag \"%s\", expected \"%s\"",
				   lx->mode == LX_VAR ? "{{" : "{%", lx->mode == LX_VAR ? "}}" : "%}");
	if (lex_tag_end(lx, tok))
		return 0;
	c = lx->src[pos];
	if (is_name_start(c)) {
		size_t end = pos;

		while (end < lx->len && is_name_char(lx->src[end]))
			end++;
		set_tok(tok, TK_NAME, pos, end - pos, lx->line);
		advance_to(lx, end);
		return 0;
	}
	if (is_digit(c)) {
		lex_number(lx, tok);
		return 0;
	}
	if (c == '"' || c == '\'')
		return lex_string(lx, tok);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (at(lx, pos, ops[i].s)) {
			size_t n = strlen(ops[i].s);

			set_tok(tok, TK_OP, pos, n, lx->line);
			tok->op = ops[i].op;
			advance_to(lx, pos + n);
			return 0;
		}
	}
	if (c > ' ' && c < 0x7f)
		return tmpl_errorf(lx->err, -EINVAL, lx->name, lx->line, "unexpected character \"%c\"", c);
	return tmpl_errorf(lx->err, -EINVAL, lx->name, lx->line, "unexpected character 0x%02x",
			   (unsigned char)c);
}

int tmpl_lex(struct lexer *lx, struct token *tok)
{
	if (lx->mode == LX_TEXT)
		return lex_text(lx, tok);
	return lex_tag(lx, tok);
}
