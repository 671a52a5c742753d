/* One DER element reader (X.690 8.1, the DER rules of 10.1) for the two
 * places that look inside certificates: DANE matching (dane.c) and the
 * capture record's certificate names (capture.c). Not installed. */
#ifndef SMTP_DER_H
#define SMTP_DER_H

#include <stddef.h>

typedef struct smtp__der {
  const unsigned char *p; /* the whole element (tag, length, contents) */
  size_t len;
  const unsigned char *c; /* its contents */
  size_t clen;
  unsigned int tag;
} smtp__der;

/* Read the element at buf[0..len): single-octet tags, definite lengths in
 * minimal form of up to four length octets, contents inside the buffer.
 * 0, or -1 for anything else (nothing is read past @p len). */
int smtp__der_read(const unsigned char *buf, size_t len, smtp__der *out);

#endif
