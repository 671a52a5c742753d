/* Internal helpers shared by the files in lib/. Not installed. */
#ifndef SMTP_INTERNAL_H
#define SMTP_INTERNAL_H

#include <smtp/common.h>

/* Allocation through a session's copied allocator hook. */
/* 1 when all four functions of @p mem are set (every _new checks an
 * allocator it is given with this; NULL means the default). */
int smtp__mem_valid(const smtp_mem *mem);
void *smtp__malloc(const smtp_mem *mem, size_t size);
void *smtp__calloc(const smtp_mem *mem, size_t nmemb, size_t size);
void *smtp__realloc(const smtp_mem *mem, void *ptr, size_t size);
void smtp__free(const smtp_mem *mem, void *ptr);

/* ASCII helpers that never depend on the locale. */
static inline int smtp__lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }
static inline int smtp__is_digit(int c) { return c >= '0' && c <= '9'; }
static inline int smtp__is_alpha(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
int smtp__casecmp(const char *a, size_t alen, const char *b, size_t blen);

/* A connection endpoint as a session keeps it (20 octets; endpoint.c). */
struct smtp_endpoint;
typedef struct smtp__ep {
  uint8_t family, origin;
  uint16_t port;
  uint8_t addr[16];
} smtp__ep;
/* Set slot @which of @slots (SMTP_ADDR_*; @n slots) from @ep (NULL:
 * clear). Replacing a transport or application client address by a
 * PROXY/XCLIENT/XFORWARD one first keeps the old one in SMTP_ADDR_PEER
 * (when @n has that slot and it is empty). */
int smtp__ep_set(smtp__ep *slots, unsigned int n, unsigned int which, const struct smtp_endpoint *ep);
int smtp__ep_get(const smtp__ep *slots, unsigned int n, unsigned int which, struct smtp_endpoint *out);

#define SMTP__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
