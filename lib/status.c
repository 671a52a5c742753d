/* Default replies per situation and the IANA titles of enhanced status codes
 * (RFC 3463, RFC 5248). The title table is generated into status_table.h by
 * tools/gen_status_table.py from the IANA registry. */
#include <smtp/reply.h>

#include "internal.h"
#include "status_table.h"

#define E(c, s, d) {(c), (s), (d)}
#define NONE {0, 0, 0}

/* Codes follow RFC 5321 4.2.2/4.2.3 and 4.3.2, enhanced codes RFC 3463 and
 * the extension RFCs cited per line. Every enhanced code is registered with
 * IANA (checked by tests/test_status.c). */
static const smtp_status status_table[SMTP_STATUS_COUNT] = {
  /* RFC 2034 3: no enhanced code on the greeting (it precedes EHLO). */
  [SMTP_STATUS_GREETING] = {220, NONE, "Service ready"},
  [SMTP_STATUS_GREETING_REFUSED] = {554, E(5, 3, 2), "No SMTP service here"},
  /* The EHLO/HELO reply: its lines are the greeting and the keywords. */
  [SMTP_STATUS_HELO_OK] = {250, NONE, "Hello"},
  [SMTP_STATUS_OK] = {250, E(2, 0, 0), "OK"},
  [SMTP_STATUS_MAIL_OK] = {250, E(2, 1, 0), "Sender OK"},
  [SMTP_STATUS_RCPT_OK] = {250, E(2, 1, 5), "Recipient OK"},
  /* 3yz replies carry no enhanced code (RFC 3463 2: classes 2, 4, 5). */
  [SMTP_STATUS_DATA_START] = {354, NONE, "End data with <CR><LF>.<CR><LF>"},
  [SMTP_STATUS_DATA_OK] = {250, E(2, 0, 0), "Message accepted"},
  [SMTP_STATUS_RSET_OK] = {250, E(2, 0, 0), "Reset"},
  [SMTP_STATUS_NOOP_OK] = {250, E(2, 0, 0), "OK"},
  [SMTP_STATUS_QUIT] = {221, E(2, 0, 0), "Bye"},
  /* RFC 5321 3.5.3: 252 when the server cannot verify. */
  [SMTP_STATUS_VRFY_CANNOT] = {252, E(2, 5, 0), "Cannot VRFY user"},
  /* RFC 5321 3.5.2: 502 (or 252) when EXPN is disabled. */
  [SMTP_STATUS_EXPN_REFUSED] = {502, E(5, 5, 1), "EXPN not available"},
  [SMTP_STATUS_HELP] = {214, E(2, 0, 0), "See RFC 5321"},
  /* RFC 3207 4. */
  [SMTP_STATUS_STARTTLS_GO] = {220, E(2, 0, 0), "Ready to start TLS"},
  [SMTP_STATUS_TLS_NOT_AVAILABLE] = {454, E(4, 7, 0), "TLS not available"},
  /* RFC 4954 6. */
  [SMTP_STATUS_AUTH_OK] = {235, E(2, 7, 0), "Authentication successful"},
  [SMTP_STATUS_AUTH_FAILED] = {535, E(5, 7, 8), "Authentication credentials invalid"},
  [SMTP_STATUS_AUTH_CANCELLED] = {501, E(5, 7, 0), "Authentication cancelled"},
  [SMTP_STATUS_AUTH_BAD_BASE64] = {501, E(5, 5, 2), "Cannot decode response"},
  [SMTP_STATUS_AUTH_MECH_UNKNOWN] = {504, E(5, 5, 4), "Unrecognized authentication type"},
  [SMTP_STATUS_AUTH_TOO_WEAK] = {534, E(5, 7, 9), "Authentication mechanism is too weak"},
  [SMTP_STATUS_AUTH_TEMP] = {454, E(4, 7, 0), "Temporary authentication failure"},
  [SMTP_STATUS_AUTH_REQUIRED] = {530, E(5, 7, 0), "Authentication required"},
  [SMTP_STATUS_ENCRYPTION_REQUIRED] = {530, E(5, 7, 0), "Must issue a STARTTLS command first"},
  [SMTP_STATUS_AUTH_ENCRYPTION_REQUIRED] = {538, E(5, 7, 11),
                                            "Encryption required for requested authentication mechanism"},
  /* RFC 5321 4.2.4, 4.3.2. */
  [SMTP_STATUS_SYNTAX_ERROR] = {500, E(5, 5, 2), "Syntax error, command unrecognized"},
  /* RFC 5321 4.5.3.1.9: 500 Line too long. X.5.6 is registered by RFC 4954
   * for over-long AUTH exchange lines; it is the closest registered code. */
  [SMTP_STATUS_LINE_TOO_LONG] = {500, E(5, 5, 6), "Line too long"},
  [SMTP_STATUS_PARAM_SYNTAX] = {501, E(5, 5, 4), "Syntax error in parameters or arguments"},
  [SMTP_STATUS_BAD_ADDRESS_SYNTAX] = {501, E(5, 1, 3), "Bad address syntax"},
  [SMTP_STATUS_BAD_SENDER_SYNTAX] = {501, E(5, 1, 7), "Bad sender address syntax"},
  [SMTP_STATUS_NOT_IMPLEMENTED] = {502, E(5, 5, 1), "Command not implemented"},
  [SMTP_STATUS_BAD_SEQUENCE] = {503, E(5, 5, 1), "Bad sequence of commands"},
  [SMTP_STATUS_PARAM_NOT_IMPLEMENTED] = {504, E(5, 5, 4), "Command parameter not implemented"},
  /* RFC 5321 4.1.1.11. */
  [SMTP_STATUS_PARAM_UNKNOWN] = {555, E(5, 5, 4), "MAIL/RCPT parameters not recognized"},
  [SMTP_STATUS_MAILBOX_UNKNOWN] = {550, E(5, 1, 1), "Mailbox unknown"},
  [SMTP_STATUS_MAILBOX_TEMPFAIL] = {450, E(4, 2, 0), "Mailbox temporarily unavailable"},
  [SMTP_STATUS_MAILBOX_NAME_INVALID] = {553, E(5, 1, 3), "Mailbox name not allowed"},
  /* RFC 5321 4.5.3.1.10. */
  [SMTP_STATUS_TOO_MANY_RCPTS] = {452, E(4, 5, 3), "Too many recipients"},
  /* RFC 1870 6.1. */
  [SMTP_STATUS_SIZE_EXCEEDED] = {552, E(5, 3, 4), "Message size exceeds fixed limit"},
  [SMTP_STATUS_STORAGE_TEMP] = {452, E(4, 3, 1), "Insufficient system storage"},
  [SMTP_STATUS_NO_VALID_RCPTS] = {554, E(5, 5, 1), "No valid recipients"},
  /* RFC 6531 3.5. */
  [SMTP_STATUS_NEEDS_SMTPUTF8] = {553, E(5, 6, 7), "Address requires SMTPUTF8"},
  /* The RFC 5321bis drafts were said to use X.6.11 here, but the IANA
   * registry (2024-12-06) has no X.6.11: X.6.0 "Other or undefined media
   * error" is used instead. */
  [SMTP_STATUS_BARE_LINE_END] = {550, E(5, 6, 0), "Bare CR or LF in message"},
  [SMTP_STATUS_DATA_REFUSED] = {554, E(5, 6, 0), "Message content refused"},
  [SMTP_STATUS_NULL_BYTE] = {554, E(5, 6, 0), "Message contains NUL"},
  /* RFC 8689 5. */
  [SMTP_STATUS_REQUIRETLS_NEEDS_TLS] = {530, E(5, 7, 10), "REQUIRETLS needs a TLS session"},
  /* RFC 5321 4.5.3.2, RFC 3463 3.5 (X.4.2 bad connection). */
  [SMTP_STATUS_TIMEOUT] = {421, E(4, 4, 2), "Timeout, closing connection"},
  [SMTP_STATUS_SHUTDOWN] = {421, E(4, 3, 2), "Service shutting down"},
  [SMTP_STATUS_TOO_MANY_ERRORS] = {421, E(4, 7, 0), "Too many errors"},
  [SMTP_STATUS_LOCAL_ERROR] = {451, E(4, 3, 0), "Local error in processing"},
};

const smtp_status *smtp_status_default(int id) {
  if (id < 0 || id >= SMTP_STATUS_COUNT) return NULL;
  return &status_table[id];
}

const char *smtp_enhanced_code_title(int subject, int detail) {
  size_t lo = 0, hi = SMTP__ARRAY_LEN(smtp__status_titles);
  if (subject < 0 || subject > 999 || detail < 0 || detail > 999) return NULL;
  /* Binary search over the table sorted by (subject, detail). */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const smtp__status_title *t = &smtp__status_titles[mid];
    int c = (int)t->subject != subject ? (int)t->subject - subject : (int)t->detail - detail;
    if (c == 0) return t->title;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}
