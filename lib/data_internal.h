/* Internal entry points of lib/data.c for other library modules. Not installed. */
#ifndef SMTP_DATA_INTERNAL_H
#define SMTP_DATA_INTERNAL_H

#include <stddef.h>

/* The first CR or LF in [p, end), or end; adds to *seen the
 * SMTP_DATA_SEEN_NUL and SMTP_DATA_SEEN_8BIT bits of exactly the bytes
 * before it (SSE2 when the build has it, else word at a time). Used by the
 * client's BDAT line-end normaliser (lib/client.c). */
const char *smtp__data_scan_crlf(const char *p, const char *end, unsigned int *seen);

/* Offset of the first "." at a line start in the @p n octets at @p p: the
 * first octet when @p at_bol, else one right after an LF; @p n when there is
 * none. For bodies whose line ends are all CRLF (the client's DATA path for
 * vetted memory bodies, RFC 5321 4.5.2). */
size_t smtp__data_find_bol_dot(const char *p, size_t n, int at_bol);

#endif
