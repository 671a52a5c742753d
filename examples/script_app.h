/* smtp-server --script FILE: scripted replies, delays, tarpits and
 * disconnects for test harnesses. The rules and the per-session matching
 * are the library's (smtp/script.h); this file carries out what the
 * library decides: it sets scripted replies inside the session's callbacks
 * and holds, slows or cuts the connection's output through an I/O adapter
 * wrapped around the socket's ("the gate"). */
#ifndef EXAMPLES_SCRIPT_APP_H
#define EXAMPLES_SCRIPT_APP_H

#include <stdint.h>

#include <smtp/io.h>
#include <smtp/script.h>
#include <smtp/server.h>

/* Read and parse FILE. Returns 0, or prints "smtp-server: FILE:LINE: why"
 * and returns 64 (a usage error: nothing has started). */
int script_app_load(const char *path, smtp_script **out);

/* Per connection: the script's run and the output gate. */
typedef struct script_conn script_conn;
script_conn *script_conn_new(const smtp_script *sc);
void script_conn_del(script_conn *g);

/* Inside an event callback: count the command, arm the gate, set a
 * scripted reply. Returns the scripted code when a reply was set (the
 * callback then returns 0), else 0 (the application answers as usual). */
int script_conn_event(script_conn *g, smtp_server_session *s, int stage, const char *verb,
                      size_t verb_len);
/* The same in two steps: count, arm the gate and return the scripted code
 * (0: none) without answering; then send that reply (returns its code, or
 * 0 when there is none or the session would not take it). */
int script_conn_decide(script_conn *g, int stage, const char *verb, size_t verb_len);
int script_conn_reply(script_conn *g, smtp_server_session *s);
/* BDAT (RFC 3030 2): every BDAT line is noted (its size and LAST) from the
 * trace; a chunk's scripted reply is kept until its octets arrived, then
 * given from the bdat_chunk callback (script_conn_chunk_reply()) or, for
 * the LAST chunk, as the end-of-data reply (script_conn_decide_eod()). */
void script_conn_note_bdat(script_conn *g, uint64_t size, int last);
/* Count one more BDAT chunk, arm the gate, keep its reply; returns its code. */
int script_conn_bdat(script_conn *g);
/* The same for the first chunk, from data_start: answers only a refusal of
 * a first `BDAT 0` (no chunk event follows it); returns the code answered. */
int script_conn_bdat_first(script_conn *g, smtp_server_session *s);
/* Give the kept chunk reply (from the bdat_chunk callback); its code or 0. */
int script_conn_chunk_reply(script_conn *g, smtp_server_session *s);
/* DATA-END: count and decide; when no DATA-END rule replies, the reply kept
 * for the LAST BDAT chunk (@p bdat) is the one. Then script_conn_reply(). */
int script_conn_decide_eod(script_conn *g, int bdat);
/* The drop-keyword flags of the EHLO/LHLO just counted. */
unsigned int script_conn_drop(const script_conn *g);
/* The reply the last event set (code 0: none), for LMTP's repeated
 * answers after the data. */
int script_conn_last_reply(const script_conn *g, const char **enhanced, const char **text);

/* Set the callbacks of the stages the application does not handle itself
 * (greeting, EHLO, MAIL, RSET, VRFY, EXPN, HELP, NOOP, QUIT, STARTTLS,
 * other verbs). Their user_data must be a server_app_conn. */
void script_app_install(smtp_server_callbacks *k);

/* Replace *io with the gate over it (the gate passes close through and
 * is freed with @p g, after the driver). @p blocking: sleep instead of
 * returning SMTP_ERR_WOULDBLOCK (the --stdio loop). */
void script_conn_wrap_io(script_conn *g, smtp_io *io, int blocking);
/* Event loops: -1 when the gate holds nothing back, else the
 * milliseconds until it opens (0: now: call smtp_driver_on_writable()). */
int script_conn_wait_ms(script_conn *g);
/* The gate opened: forget that it held output back. */
void script_conn_woken(script_conn *g);

#endif
