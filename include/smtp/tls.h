/**
 * @file tls.h
 * @brief TLS for STARTTLS (RFC 3207) and implicit TLS (RFC 8314), behind a
 *        TLS-neutral interface (the implementation uses Mbed TLS 2.28 or
 *        3.x; no Mbed TLS type appears here).
 *
 * Two objects:
 * - ::smtp_tls_config: what one side of many connections uses (role,
 *   certificate and key, trust anchors, verification, versions). Set it up
 *   first, then share it read-only between connections (also across
 *   threads); it must outlive every connection made from it.
 * - ::smtp_tls_conn: one TLS connection, driven entirely over memory. The
 *   application (or the driver, driver.h) moves ciphertext between the
 *   transport and the connection with smtp_tls_feed() and
 *   smtp_tls_pending_output() / smtp_tls_consume_output(), and plaintext
 *   with smtp_tls_read() / smtp_tls_write(). Nothing blocks; "need more
 *   ciphertext" or "flush first" is ::SMTP_ERR_WOULDBLOCK.
 *
 * Errors: handshake failures are ::SMTP_ERR_TLS_HANDSHAKE, certificate
 * chain or name failures ::SMTP_ERR_TLS_VERIFY, bad certificates, keys or
 * CA files ::SMTP_ERR_TLS_CONFIG, a close_notify or a fatal alert after
 * the handshake ::SMTP_ERR_TLS_CLOSED (the SMTP session ends: never a
 * fallback to plaintext). smtp_tls_last_error() and
 * smtp_tls_config_last_error() give the TLS library's reason as text.
 *
 * Without TLS in the build (`-Dtls=disabled`) every function that would
 * need it returns ::SMTP_ERR_TLS_UNAVAILABLE; smtp_tls_available() says so
 * up front.
 *
 * A whole drive loop, transport reads and writes elided:
 * @code
 * smtp_tls_conn *c;
 * smtp_tls_conn_new(&c, cfg, "mx.example.org", NULL);
 * for (;;) {
 *   int r = smtp_tls_handshake(c);
 *   const char *out;
 *   smtp_ssize n = smtp_tls_pending_output(c, &out);
 *   if (n > 0) smtp_tls_consume_output(c, (size_t)send_to_peer(out, (size_t)n));
 *   if (r == 0) break;                       // up: use smtp_tls_read/write
 *   if (r != SMTP_ERR_WOULDBLOCK) fail(r);   // see smtp_tls_last_error()
 *   if (n <= 0) smtp_tls_feed(c, buf, recv_from_peer(buf, sizeof buf));
 * }
 * @endcode
 */
#ifndef SMTP_TLS_H
#define SMTP_TLS_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Shared TLS settings for one role (opaque). */
typedef struct smtp_tls_config smtp_tls_config;
/** @brief One TLS connection over memory (opaque). */
typedef struct smtp_tls_conn smtp_tls_conn;

/** @brief Role of a configuration: accept connections. */
#define SMTP_TLS_SERVER 0
/** @brief Role of a configuration: make connections. */
#define SMTP_TLS_CLIENT 1

/** @brief Verification: do not check the peer's certificate at all. */
#define SMTP_TLS_VERIFY_NONE 0
/**
 * @brief Verification: check it, but finish the handshake either way;
 *        smtp_tls_info::peer_verified tells the outcome (opportunistic
 *        STARTTLS, RFC 7435).
 */
#define SMTP_TLS_VERIFY_OPTIONAL 1
/**
 * @brief Verification: the handshake fails with ::SMTP_ERR_TLS_VERIFY
 *        unless the chain and (client side) the host name verify. The
 *        client default.
 */
#define SMTP_TLS_VERIFY_REQUIRED 2

/** @brief Protocol version number for TLS 1.2 (smtp_tls_config_set_versions()). */
#define SMTP_TLS_VERSION_1_2 0x0303
/** @brief Protocol version number for TLS 1.3 (smtp_tls_config_set_versions()). */
#define SMTP_TLS_VERSION_1_3 0x0304

/** @brief Where the client looks for the system trust store by default. */
#define SMTP_TLS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/**
 * @brief Whether this build has TLS.
 * @return 1 with TLS, 0 when built with `-Dtls=disabled`.
 */
SMTP_API int smtp_tls_available(void);

/**
 * @brief The TLS library in use.
 * @return a static string such as "Mbed TLS 2.28.3", or "none" without
 *         TLS; never NULL.
 */
SMTP_API const char *smtp_tls_backend(void);

/**
 * @brief Create a configuration.
 *
 * Defaults: TLS 1.2 minimum, the highest version the TLS library has as
 * maximum (1.3 with Mbed TLS 3.6); client: ::SMTP_TLS_VERIFY_REQUIRED and
 * the system trust store (::SMTP_TLS_SYSTEM_CA_FILE), loaded when the first
 * connection is made unless a CA was set (that first smtp_tls_conn_new()
 * changes the configuration: when several threads share a client
 * configuration, call smtp_tls_config_system_ca() or make one connection
 * before sharing it); server: no client certificate
 * requested (::SMTP_TLS_VERIFY_NONE).
 *
 * @param out   receives the configuration (NULL on failure).
 * @param role  ::SMTP_TLS_SERVER or ::SMTP_TLS_CLIENT.
 * @param mem   allocator for libsmtp's own allocations (NULL: default);
 *              copied. (Mbed TLS allocates its internal state through its
 *              own, global allocator.)
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM;
 *         ::SMTP_ERR_TLS_CONFIG when the random generator cannot be
 *         seeded; ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_config_new(smtp_tls_config **out, int role, const smtp_mem *mem);

/**
 * @brief Free a configuration. No connection may still use it.
 * @param cfg the configuration, or NULL (nothing happens).
 */
SMTP_API void smtp_tls_config_del(smtp_tls_config *cfg);

/**
 * @brief The role given to smtp_tls_config_new().
 * @param cfg the configuration.
 * @return ::SMTP_TLS_SERVER or ::SMTP_TLS_CLIENT; ::SMTP_ERR_INVALID_ARGUMENT
 *         for NULL; ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_config_role(const smtp_tls_config *cfg);

/**
 * @brief Load the own certificate chain (leaf first) and private key from
 *        PEM (or DER) files. Server: required; client: optional (a client
 *        certificate). Only one pair per configuration: a second call (or
 *        one after smtp_tls_config_self_signed()) fails with
 *        ::SMTP_ERR_INVALID_STATE.
 * @param cfg       the configuration.
 * @param cert_file path of the chain.
 * @param key_file  path of the key.
 * @param password  key password, or NULL when the key is not encrypted.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM;
 *         ::SMTP_ERR_TLS_CONFIG (unreadable, unparsable, or the key does not
 *         match the certificate; see smtp_tls_config_last_error());
 *         ::SMTP_ERR_INVALID_STATE; ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_config_cert_file(smtp_tls_config *cfg, const char *cert_file,
                                       const char *key_file, const char *password);

/**
 * @brief Like smtp_tls_config_cert_file() with the PEM (or DER) bytes in
 *        memory. The bytes are parsed and copied; a terminating NUL is not
 *        required.
 * @param cfg      the configuration.
 * @param cert     the chain, leaf first.
 * @param cert_len its length in bytes.
 * @param key      the private key.
 * @param key_len  its length in bytes.
 * @param password key password, or NULL.
 * @return as smtp_tls_config_cert_file().
 */
SMTP_API int smtp_tls_config_cert_mem(smtp_tls_config *cfg, const char *cert, size_t cert_len,
                                      const char *key, size_t key_len, const char *password);

/**
 * @brief Generate a throw-away ECDSA P-256 key and a self-signed
 *        certificate for @p hostname (subject CN and subjectAltName
 *        dNSName), valid from a day ago for 10 years, and use them as the
 *        own certificate. For demos and tests; export the certificate with
 *        smtp_tls_config_export_cert() so a client can trust it as a CA file.
 * @param cfg       the configuration.
 * @param hostname  a DNS name of 1..253 octets (letters, digits, '-', '.').
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM;
 *         ::SMTP_ERR_TLS_CONFIG (key or certificate generation failed);
 *         ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_config_self_signed(smtp_tls_config *cfg, const char *hostname);

/**
 * @brief Write the own certificate chain as PEM into @p buf.
 * @param cfg     the configuration.
 * @param buf     destination (may be NULL when @p len is 0).
 * @param len     size of @p buf.
 * @param out_len receives the length written, or the length needed when
 *                the result is ::SMTP_ERR_BUFFER_TOO_SMALL (not counting
 *                the NUL that is written after the PEM when it fits).
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOT_FOUND (no own
 *         certificate); ::SMTP_ERR_BUFFER_TOO_SMALL;
 *         ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_config_export_cert(const smtp_tls_config *cfg, char *buf, size_t len,
                                         size_t *out_len);

/**
 * @brief Add trust anchors from a PEM file (may hold many certificates).
 * @param cfg  the configuration.
 * @param path the file.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_TLS_CONFIG (unreadable,
 *         or no certificate in it could be parsed); ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_config_ca_file(smtp_tls_config *cfg, const char *path);

/**
 * @brief Add trust anchors from every certificate file in a directory
 *        (e.g. /etc/ssl/certs).
 * @param cfg  the configuration.
 * @param path the directory.
 * @return as smtp_tls_config_ca_file().
 */
SMTP_API int smtp_tls_config_ca_dir(smtp_tls_config *cfg, const char *path);

/**
 * @brief Add trust anchors from PEM (or DER) bytes in memory (copied).
 * @param cfg the configuration.
 * @param pem the certificates.
 * @param len their length in bytes.
 * @return as smtp_tls_config_ca_file().
 */
SMTP_API int smtp_tls_config_ca_mem(smtp_tls_config *cfg, const char *pem, size_t len);

/**
 * @brief Add the system trust store now (::SMTP_TLS_SYSTEM_CA_FILE, else
 *        other well-known bundle paths). A client that set no CA does this
 *        implicitly on its first connection.
 * @param cfg the configuration.
 * @return as smtp_tls_config_ca_file().
 */
SMTP_API int smtp_tls_config_system_ca(smtp_tls_config *cfg);

/**
 * @brief Set how the peer's certificate is checked.
 * @param cfg  the configuration.
 * @param mode ::SMTP_TLS_VERIFY_NONE, ::SMTP_TLS_VERIFY_OPTIONAL or
 *             ::SMTP_TLS_VERIFY_REQUIRED. On a server, OPTIONAL and REQUIRED
 *             request a client certificate checked against the configured CAs.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_config_set_verify(smtp_tls_config *cfg, int mode);

/**
 * @brief Restrict protocol versions.
 * @param cfg         the configuration.
 * @param min_version ::SMTP_TLS_VERSION_1_2 or ::SMTP_TLS_VERSION_1_3
 *                    (nothing older is ever offered).
 * @param max_version ::SMTP_TLS_VERSION_1_2 or ::SMTP_TLS_VERSION_1_3, or 0
 *                    for the highest the TLS library has.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_UNSUPPORTED (TLS 1.3
 *         requested as the minimum but not available);
 *         ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_config_set_versions(smtp_tls_config *cfg, int min_version, int max_version);

/**
 * @brief Server Name Indication callback (server side).
 *
 * Called during the handshake with the name the client sent (untrusted
 * bytes: the span is valid only during the call and may
 * hold anything). It may pick another certificate with
 * smtp_tls_conn_use_cert().
 * @return 0 to continue (with the configuration's own certificate unless
 *         one was picked); any other value aborts the handshake
 *         (unrecognized_name).
 */
typedef int (*smtp_tls_on_sni)(smtp_tls_conn *conn, const char *name, size_t len,
                                     void *user_data);

/**
 * @brief Install the SNI callback (server). The SNI name is recorded in
 *        smtp_tls_info::sni whether or not a callback is set.
 * @param cfg       a server configuration.
 * @param cb        the callback, or NULL to remove it.
 * @param user_data passed to @p cb.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p cfg, client role);
 *         ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_config_set_sni_callback(smtp_tls_config *cfg, smtp_tls_on_sni cb,
                                              void *user_data);

/**
 * @brief The reason of the last failure of a configuration call, as text
 *        (always NUL-terminated, truncated to @p len; "" when none).
 * @param cfg the configuration.
 * @param buf destination.
 * @param len size of @p buf.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL, or @p len 0).
 */
SMTP_API int smtp_tls_config_last_error(const smtp_tls_config *cfg, char *buf, size_t len);

/**
 * @brief Create a connection.
 * @param out       receives the connection.
 * @param cfg       configuration (not copied: must outlive the connection).
 * @param hostname  client: the server's name, sent as SNI (when it is not
 *                  an IP address literal) and verified against the
 *                  certificate per RFC 7817 / RFC 6125 (wildcards only as
 *                  the whole left-most label). Required unless verification
 *                  is ::SMTP_TLS_VERIFY_NONE. Server: must be NULL.
 * @param mem       allocator (NULL: default); copied.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM;
 *         ::SMTP_ERR_TLS_CONFIG (server without certificate, client whose
 *         trust store cannot be loaded); ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_conn_new(smtp_tls_conn **out, const smtp_tls_config *cfg,
                               const char *hostname, const smtp_mem *mem);

/**
 * @brief Free a connection. Sends nothing; see smtp_tls_close_notify().
 * @param conn the connection, or NULL (nothing happens).
 */
SMTP_API void smtp_tls_conn_del(smtp_tls_conn *conn);

/**
 * @brief Advance the handshake.
 * @param conn the connection.
 * @return 0 when the handshake is complete (also on later calls);
 *         ::SMTP_ERR_WOULDBLOCK (feed more ciphertext, or flush pending
 *         output, then call again); ::SMTP_ERR_TLS_HANDSHAKE;
 *         ::SMTP_ERR_TLS_VERIFY; ::SMTP_ERR_TLS_CLOSED (the peer closed
 *         or sent an alert); ::SMTP_ERR_EOF (the transport ended, see
 *         smtp_tls_feed_eof(); reported as ::SMTP_ERR_TLS_HANDSHAKE);
 *         ::SMTP_ERR_INVALID_ARGUMENT. Errors are sticky.
 */
SMTP_API int smtp_tls_handshake(smtp_tls_conn *conn);

/**
 * @brief Whether the connection is usable for application data.
 * @param conn the connection (NULL gives 0).
 * @return 1 once the handshake is complete and no error happened, else 0.
 */
SMTP_API int smtp_tls_is_established(const smtp_tls_conn *conn);

/**
 * @brief Hand ciphertext from the transport to the connection.
 * @param conn the connection.
 * @param data the bytes (copied).
 * @param len  their number.
 * @return bytes taken (0..len; fewer than @p len when the input buffer is
 *         full: call smtp_tls_read()/smtp_tls_handshake() and feed the
 *         rest later); ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_INVALID_STATE
 *         after smtp_tls_feed_eof().
 */
SMTP_API smtp_ssize smtp_tls_feed(smtp_tls_conn *conn, const char *data, size_t len);

/**
 * @brief Free space for smtp_tls_feed().
 * @param conn the connection.
 * @return bytes smtp_tls_feed() would take now (0 for NULL or after
 *         smtp_tls_feed_eof()).
 */
SMTP_API size_t smtp_tls_feed_space(const smtp_tls_conn *conn);

/**
 * @brief Tell the connection that the transport ended (no more
 *        ciphertext). Reads then return ::SMTP_ERR_EOF after the buffered
 *        records: a truncation without close_notify.
 * @param conn the connection.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_tls_feed_eof(smtp_tls_conn *conn);

/**
 * @brief Peek at ciphertext waiting to go to the transport.
 * @param conn  the connection.
 * @param data  receives a pointer into the connection's buffer, valid until
 *              the next call on @p conn.
 * @return bytes available (0 when none); ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API smtp_ssize smtp_tls_pending_output(smtp_tls_conn *conn, const char **data);

/**
 * @brief Drop @p n bytes of pending output once the transport took them.
 * @param conn the connection.
 * @param n    bytes the transport took.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (more than is pending).
 */
SMTP_API int smtp_tls_consume_output(smtp_tls_conn *conn, size_t n);

/**
 * @brief Read decrypted bytes.
 * @param conn the connection.
 * @param buf  destination.
 * @param len  size of @p buf (>= 1).
 * @return bytes read (1..len); ::SMTP_ERR_WOULDBLOCK (feed more); ::SMTP_ERR_TLS_CLOSED
 *         (close_notify or alert); ::SMTP_ERR_EOF (transport ended without
 *         close_notify); ::SMTP_ERR_TLS (other failure, e.g. a bad record
 *         MAC); ::SMTP_ERR_INVALID_STATE before the handshake completed;
 *         ::SMTP_ERR_INVALID_ARGUMENT. Errors are sticky.
 */
SMTP_API smtp_ssize smtp_tls_read(smtp_tls_conn *conn, char *buf, size_t len);

/**
 * @brief Whether input is still buffered inside the connection, so
 *        smtp_tls_read() may return data without more input (check before
 *        waiting for the transport).
 * @param conn the connection.
 * @return 1 when decrypted or undecrypted input is buffered, else 0.
 */
SMTP_API int smtp_tls_has_pending(const smtp_tls_conn *conn);

/**
 * @brief Encrypt plaintext into the pending output.
 *
 * After ::SMTP_ERR_WOULDBLOCK, call again with the same data (at least as
 * many bytes as before): the connection remembers the length it started
 * with and finishes that record first.
 * @param conn the connection.
 * @param data plaintext.
 * @param len  its length (>= 1).
 * @return bytes taken (1..len, at most one record);
 *         ::SMTP_ERR_WOULDBLOCK (flush pending output first);
 *         ::SMTP_ERR_TLS_CLOSED; ::SMTP_ERR_TLS; ::SMTP_ERR_INVALID_STATE
 *         before the handshake completed; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API smtp_ssize smtp_tls_write(smtp_tls_conn *conn, const char *data, size_t len);

/**
 * @brief Queue a close_notify alert (flush it with
 *        smtp_tls_pending_output()).
 * @param conn the connection.
 * @return 0; ::SMTP_ERR_WOULDBLOCK (flush first, call again);
 *         ::SMTP_ERR_INVALID_STATE (handshake not complete: nothing sent);
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_tls_close_notify(smtp_tls_conn *conn);

/**
 * @brief Fill @p info with the facts of the established connection.
 *
 * The strings point into static storage or into @p conn and stay valid
 * until @p conn is deleted.
 * @param conn the connection.
 * @param info filled in.
 * @return 0; ::SMTP_ERR_INVALID_STATE before the handshake completed;
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_tls_get_info(const smtp_tls_conn *conn, smtp_tls_info *info);

/**
 * @brief The reason of the last failure, as text from the TLS library
 *        (e.g. "certificate verification failed: the CN does not match")
 *        (always NUL-terminated, truncated to @p len; "" when none).
 * @param conn the connection.
 * @param buf  destination.
 * @param len  size of @p buf.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL, or @p len 0).
 */
SMTP_API int smtp_tls_last_error(const smtp_tls_conn *conn, char *buf, size_t len);

/**
 * @brief From an SNI callback only: present the certificate and key of
 *        @p other (a server configuration with its own certificate) in
 *        this handshake. @p other must outlive @p conn.
 * @param conn  the connection passed to the callback.
 * @param other the configuration whose certificate and key to use.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_INVALID_STATE (not
 *         inside the SNI callback); ::SMTP_ERR_NOT_FOUND (@p other has no
 *         certificate); ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_conn_use_cert(smtp_tls_conn *conn, const smtp_tls_config *other);

/* ---- Peer certificate chain (for checks outside the TLS library, such as
 * DANE: smtp_dane_match() in delivery.h) ---- */

/**
 * @brief Certificate @p index of the chain the peer sent (0: its own
 *        certificate), in DER, once the handshake is done.
 * @param conn  the connection.
 * @param index position in the chain as sent.
 * @param der   receives a pointer valid until smtp_tls_conn_del().
 * @param len   receives its length.
 * @return 0; ::SMTP_ERR_NOT_FOUND (no certificate at @p index);
 *         ::SMTP_ERR_INVALID_STATE (no handshake done);
 *         ::SMTP_ERR_UNSUPPORTED (the TLS library keeps no peer chain);
 *         ::SMTP_ERR_TLS_UNAVAILABLE; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_tls_peer_cert(const smtp_tls_conn *conn, size_t index,
                                const unsigned char **der, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_TLS_H */
