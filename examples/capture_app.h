/* smtp-server --capture FILE: one JSON object per line for every finished
 * transaction, built by the library's capture (smtp/capture.h) from each
 * session's trace. */
#ifndef EXAMPLES_CAPTURE_APP_H
#define EXAMPLES_CAPTURE_APP_H

#include <sys/socket.h>

#include <smtp/capture.h>
#include <smtp/tls.h>

/* Open FILE for appending ("-": stdout). Returns 0, or prints a line and
 * returns 1. */
int capture_app_open(const char *path);
void capture_app_close(void);

/* A capture for one connection that writes its records to the file. */
smtp_capture *capture_app_conn_new(void);

/* Who the client is: the one place where the record's `client` and `peer`
 * are taken from. @p client is the address the session knows (the accepted
 * socket's peer today; the PROXY/XCLIENT one once sessions carry it);
 * @p tcp_peer the socket's own peer when that differs, else NULL. */
void capture_app_set_client(smtp_capture *c, const struct sockaddr *client,
                            const struct sockaddr *tcp_peer);

/* The client certificate of @p t (an established connection), if any, for
 * the records' `client_cert` (subject, issuer, SHA-256). */
void capture_app_note_cert(smtp_capture *c, const smtp_tls_conn *t);

#endif
