/* Internal knobs of the client session for tests and fuzzers. Not installed. */
#ifndef SMTP_CLIENT_INTERNAL_H
#define SMTP_CLIENT_INTERNAL_H

#include <smtp/client.h>

/* When @p on, smtp_client_session_mem_recv() returns after every complete
 * reply, so a driver that writes between calls sees the same behaviour
 * whatever the read sizes are (used to compare split and whole feeds). */
void smtp__client_session_set_one_reply(smtp_client_session *c, int on);

#endif
