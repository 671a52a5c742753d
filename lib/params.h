/* The MAIL/RCPT parameter table shared by the server (parsing) and the client
 * (formatting): one entry, one parser and one formatter per parameter.
 * Not installed. */
#ifndef SMTP_PARAMS_H
#define SMTP_PARAMS_H

#include <smtp/ext.h>

#include "internal.h"

/* Parameter ids: the order of the table in params.c. */
enum {
  SMTP__P_SIZE = 0,
  SMTP__P_BODY,
  SMTP__P_SMTPUTF8,
  SMTP__P_REQUIRETLS,
  SMTP__P_RET,
  SMTP__P_ENVID,
  SMTP__P_AUTH,
  SMTP__P_MT_PRIORITY,
  SMTP__P_BY,
  SMTP__P_HOLDFOR,
  SMTP__P_HOLDUNTIL,
  SMTP__P_SOLICIT,
  SMTP__P_MTRK,
  SMTP__P_SUBMITTER,
  SMTP__P_NOTIFY,
  SMTP__P_ORCPT,
  SMTP__P_RRVS,
  SMTP__P_COUNT
};

/* A typed parameter value. Which members count depends on the parameter
 * (see the table's comments in params.c). */
typedef struct smtp__pval {
  uint64_t u;      /* SIZE; HOLDFOR seconds; MTRK timeout; NOTIFY bits */
  int64_t i;       /* MT-PRIORITY; BY time; HOLDUNTIL/RRVS seconds since 1970 (UTC) */
  int mode;        /* BODY (smtp_server_body); RET; BY 'N'/'R'; RRVS 'C'/'R'/0 */
  int flag;        /* BY: 1 with the trace modifier "T" */
  smtp_span text;  /* decoded / as-sent value text (see the table) */
  smtp_span type;  /* ORCPT addr-type */
} smtp__pval;

/* Parse a value. @p v is the value as sent (empty when there was no "=").
 * Decoded text goes to @p scratch (@p cap octets; *used grows). Returns 0,
 * or -1 when the value is malformed. */
typedef int (*smtp__param_parse_fn)(smtp_span v, int has_value, smtp__pval *out, char *scratch,
                                    size_t cap, size_t *used);
/* Format the value (the text after "=") into @p buf; returns the length it
 * needs (which may exceed @p cap: then nothing past @p cap is written). */
typedef size_t (*smtp__param_format_fn)(const smtp__pval *v, char *buf, size_t cap);

typedef struct smtp__param_def {
  const char *keyword;
  unsigned int ext;        /* the ::smtp_ext_flag that owns it */
  unsigned char cmd;       /* SMTP_VERB_MAIL or SMTP_VERB_RCPT */
  unsigned char has_value; /* 1: "=value" required; 0: bare keyword */
  unsigned char enh_detail;/* 501 5.5.<detail> when malformed */
  unsigned short budget;   /* octets it may add to the command line */
  const char *grammar;     /* the value grammar, for documentation */
  smtp__param_format_fn format;
} smtp__param_def;

extern const smtp__param_def smtp__param_table[SMTP__P_COUNT];

/* Parse a value of parameter @p d (its parser, see smtp__param_parse_fn). */
int smtp__param_parse(const smtp__param_def *d, smtp_span v, int has_value, smtp__pval *out,
                      char *scratch, size_t cap, size_t *used);

/* The entry for @p kw (case-insensitive) of command @p cmd, or NULL. */
const smtp__param_def *smtp__param_find(int cmd, const char *kw, size_t len);

/* Append " KEYWORD[=value]" to @p buf at *n (the length grows past @p cap
 * when it does not fit; nothing is written past @p cap). */
void smtp__param_put(const smtp__param_def *d, const smtp__pval *v, char *buf, size_t cap,
                     size_t *n);

/* Octets the parameters of the extensions @p ext add to a @p cmd line. */
size_t smtp__param_budget(int cmd, unsigned int ext);

/* RFC 3339 5.6 date-time into seconds since 1970-01-01T00:00:00Z. With
 * @p utc_only, only "Z" or a zero offset is accepted. Returns 0 or -1. */
int smtp__datetime_parse(const char *s, size_t n, int utc_only, int64_t *out);

/* Validate the parameters of an EHLO keyword of an extension libsmtp
 * implements (MT-PRIORITY profile, DELIVERBY min-by-time, FUTURERELEASE
 * interval and date-time, NO-SOLICITING keywords, BURL URL prefixes).
 * Returns 0 when @p params (may be empty) suits @p ext, else -1. */
int smtp__ehlo_params_check(unsigned int ext, const char *params, size_t n);

/* RFC 3865 solicitation keywords list: keyword *("," keyword). 0 or -1. */
int smtp__solicit_check(const char *s, size_t n);

#endif
