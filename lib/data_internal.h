/* Internal entry points of lib/data.c for other library modules. Not installed. */
#ifndef SMTP_DATA_INTERNAL_H
#define SMTP_DATA_INTERNAL_H

/* The first CR or LF in [p, end), or end; adds to *seen the
 * SMTP_DATA_SEEN_NUL and SMTP_DATA_SEEN_8BIT bits of exactly the bytes
 * before it (SSE2 when the build has it, else word at a time). Used by the
 * client's BDAT line-end normaliser (lib/client.c). */
const char *smtp__data_scan_crlf(const char *p, const char *end, unsigned int *seen);

#endif
