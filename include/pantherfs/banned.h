/* SPDX-License-Identifier: MIT */
/*
 * Functions pantherfs does not use, as in git's banned.h: unbounded copies,
 * formatting without a size, hidden state, and conversions that cannot report
 * errors. Include this LAST in every .c file (after system headers, whose
 * declarations the macros would otherwise break). tests/unit/lint-banned.sh
 * checks the same list by grep, so a missing include cannot hide a use.
 *
 * Use instead: snprintf or pfs_buf_printf; memcpy with a checked length;
 * strtok_r; strtol/strtoul with end and errno checks (pfs_parse_*).
 */
#ifndef PANTHERFS_BANNED_H
#define PANTHERFS_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef gets
#define gets(x) BANNED(gets)

#endif
