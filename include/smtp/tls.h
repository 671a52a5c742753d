/**
 * @file tls.h
 * @brief TLS for STARTTLS (RFC 3207) and implicit TLS (RFC 8314), behind a
 *        TLS-neutral interface (the implementation uses OpenSSL 3 or Mbed
 *        TLS 2.28/3.x, or both in one build; no type of either appears
 *        here).
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
 * @brief The TLS library of the default backend.
 * @return a static string such as "OpenSSL 3.0.11 19 Sep 2023" or
 *         "Mbed TLS 2.28.3", or "none" without TLS; never NULL.
 */
SMTP_API const char *smtp_tls_backend(void);

/**
 * @brief Create a configuration.
 *
 * Uses the default backend (see smtp_tls_config_new_backend()).
 * Defaults: TLS 1.2 minimum, the highest version the TLS library has as
 * maximum (1.3 with OpenSSL and with Mbed TLS 3.6); client: ::SMTP_TLS_VERIFY_REQUIRED and
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
 *              copied. (The TLS library allocates its internal state
 *              through its own, process-wide allocator: see docs/tls.md.)
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
 *         after smtp_tls_feed_eof(); ::SMTP_ERR_NOMEM (the connection
 *         holds ciphertext in memory only while it has some, so feeding
 *         may allocate).
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
 *         ::SMTP_ERR_NOMEM (no memory for the alert);
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

/* ------------------------------------------------------------------ */
/* Backends                                                           */

/** @brief Backend id: the build's default (the first in `-Dtls=`; OpenSSL when found). */
#define SMTP_TLS_BACKEND_DEFAULT 0
/** @brief Backend id: Mbed TLS 2.28 or 3.x (small devices; TLS 1.3 only with 3.6). */
#define SMTP_TLS_BACKEND_MBEDTLS 1
/** @brief Backend id: OpenSSL 3 (TLS 1.3, accelerated ciphers). */
#define SMTP_TLS_BACKEND_OPENSSL 2

/**
 * @brief The backends built into this library, the default first.
 * @param ids receives up to @p cap backend ids (may be NULL when @p cap is 0).
 * @param cap room in @p ids.
 * @return the number of backends in the build (0 without TLS), which may
 *         exceed @p cap.
 */
SMTP_API int smtp_tls_backends(int *ids, size_t cap);

/**
 * @brief Short name of a backend id ("openssl", "mbedtls").
 * @param backend a backend id; ::SMTP_TLS_BACKEND_DEFAULT names the default.
 * @return a static string, or NULL when @p backend is not in this build.
 */
SMTP_API const char *smtp_tls_backend_name(int backend);

/**
 * @brief The TLS library behind a backend with its version, e.g.
 *        "OpenSSL 3.0.11 19 Sep 2023" or "Mbed TLS 2.28.3".
 * @param backend a backend id.
 * @return a static string, or NULL when @p backend is not in this build.
 */
SMTP_API const char *smtp_tls_backend_version(int backend);

/**
 * @brief Look a backend up by its short name (case-sensitive: "openssl",
 *        "mbedtls").
 * @param name the name.
 * @return the backend id; ::SMTP_ERR_INVALID_ARGUMENT (NULL or unknown
 *         name); ::SMTP_ERR_TLS_UNAVAILABLE (known, but not in this build).
 */
SMTP_API int smtp_tls_backend_by_name(const char *name);

/**
 * @brief smtp_tls_config_new() with an explicit backend. Connections made
 *        from the configuration use that backend; configurations of
 *        different backends can live side by side (but
 *        smtp_tls_conn_use_cert() needs two of the same backend).
 * @param out     receives the configuration (NULL on failure).
 * @param role    ::SMTP_TLS_SERVER or ::SMTP_TLS_CLIENT.
 * @param backend a backend id (::SMTP_TLS_BACKEND_DEFAULT: the default).
 * @param mem     allocator (NULL: default); copied.
 * @return as smtp_tls_config_new(); ::SMTP_ERR_TLS_UNAVAILABLE when
 *         @p backend is not in this build; ::SMTP_ERR_INVALID_ARGUMENT
 *         for an unknown id.
 */
SMTP_API int smtp_tls_config_new_backend(smtp_tls_config **out, int role, int backend,
                                         const smtp_mem *mem);

/**
 * @brief The backend of a configuration.
 * @param cfg the configuration.
 * @return a backend id (never ::SMTP_TLS_BACKEND_DEFAULT);
 *         ::SMTP_ERR_INVALID_ARGUMENT for NULL.
 */
SMTP_API int smtp_tls_config_backend(const smtp_tls_config *cfg);

/* ------------------------------------------------------------------ */
/* Policy: the peer's certificate, own verification, client certificates */

/**
 * @brief Copy the DER of one certificate the peer sent.
 *
 * Index 0 is the peer's own (leaf) certificate, then the rest of the chain
 * in the order the peer sent it (the trust anchor is usually absent).
 * Works after the handshake and, from inside a verification callback
 * (smtp_tls_config_set_verify_callback()), during it. The bytes are the
 * peer's (untrusted unless verification says otherwise).
 * @param conn  the connection.
 * @param index position in the chain.
 * @param buf   destination (may be NULL when @p cap is 0: ask the length).
 * @param cap   size of @p buf.
 * @param len   receives the DER length (also on ::SMTP_ERR_BUFFER_TOO_SMALL).
 * @return 0; ::SMTP_ERR_NOT_FOUND (no certificate at @p index, or the peer
 *         sent none); ::SMTP_ERR_BUFFER_TOO_SMALL; ::SMTP_ERR_INVALID_STATE
 *         (the certificate was not received yet); ::SMTP_ERR_NOMEM;
 *         ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_peer_cert(const smtp_tls_conn *conn, size_t index, uint8_t *buf, size_t cap,
                                size_t *len);

/**
 * @brief The TLS library's own verdict on the peer's certificate (chain
 *        against the trust anchors and, on a client, the host name),
 *        regardless of what a verification callback decided.
 * @param conn   the connection.
 * @param reason receives the library's reason when not verified ("" when
 *               verified); may be NULL.
 * @param len    size of @p reason.
 * @return 0 (verified); ::SMTP_ERR_TLS_VERIFY (checked and failed);
 *         ::SMTP_ERR_NOT_FOUND (no certificate from the peer, or
 *         verification is ::SMTP_TLS_VERIFY_NONE); ::SMTP_ERR_INVALID_STATE
 *         (before the certificate arrived); ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_tls_peer_verify_result(const smtp_tls_conn *conn, char *reason, size_t len);

/**
 * @brief The subject distinguished name of the peer's certificate as text
 *        (e.g. a client certificate's subject on a server), truncated to
 *        @p len, always NUL-terminated.
 * @param conn the connection.
 * @param buf  destination.
 * @param len  size of @p buf (>= 1).
 * @return 0; ::SMTP_ERR_NOT_FOUND (no peer certificate);
 *         ::SMTP_ERR_INVALID_STATE (handshake not complete);
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_tls_peer_subject(const smtp_tls_conn *conn, char *buf, size_t len);

/** @brief Verification callback result: accept the peer's certificate. */
#define SMTP_TLS_VERIFY_ACCEPT 1
/** @brief Verification callback result: refuse it (the handshake fails). */
#define SMTP_TLS_VERIFY_REFUSE 0

/**
 * @brief What a verification callback is told. Valid during the call only.
 */
typedef struct smtp_tls_verify_info {
  unsigned int size;         /**< sizeof(smtp_tls_verify_info) as libsmtp filled it. */
  int role;                  /**< ::SMTP_TLS_CLIENT (checking a server) or ::SMTP_TLS_SERVER. */
  const char *expected_name; /**< Client: the host name given to smtp_tls_conn_new() (may be NULL); server: NULL. */
  int verdict;               /**< 0 when the TLS library verified the chain (and name); ::SMTP_ERR_TLS_VERIFY when not. */
  const char *reason;        /**< The library's reason when @c verdict is not 0, else "". */
  size_t chain_len;          /**< Certificates the peer sent; read them with smtp_tls_peer_cert(). */
  void *reserved[4];         /**< Zero; room to grow. */
} smtp_tls_verify_info;

/**
 * @brief Verification callback: decides on the peer's certificate.
 *
 * Called once per handshake, after the TLS library checked the chain
 * against the configured trust anchors (and, on a client, the host name),
 * whenever the configuration's verification is ::SMTP_TLS_VERIFY_OPTIONAL
 * or ::SMTP_TLS_VERIFY_REQUIRED and the peer sent a certificate. It sees
 * the library's verdict and the DER chain (smtp_tls_peer_cert() on
 * @p conn), so certificate pinning, DANE (RFC 7672) or MTA-STS (RFC 8461)
 * checks can be built on it.
 *
 * Returning ::SMTP_TLS_VERIFY_ACCEPT makes the certificate verified
 * (smtp_tls_info::peer_verified is 1) even when the library's verdict was
 * negative; ::SMTP_TLS_VERIFY_REFUSE (or any other value) fails the
 * handshake with ::SMTP_ERR_TLS_VERIFY under ::SMTP_TLS_VERIFY_REQUIRED, or
 * leaves it unverified under ::SMTP_TLS_VERIFY_OPTIONAL.
 * smtp_tls_peer_verify_result() keeps reporting the library's verdict.
 * @param conn      the connection being verified.
 * @param info      the facts (see ::smtp_tls_verify_info).
 * @param user_data as given to smtp_tls_config_set_verify_callback().
 */
typedef int (*smtp_tls_on_verify)(smtp_tls_conn *conn, const smtp_tls_verify_info *info,
                                        void *user_data);

/**
 * @brief Install (or remove, with NULL) the verification callback.
 * @param cfg       the configuration.
 * @param cb        the callback, or NULL.
 * @param user_data passed to @p cb.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_config_set_verify_callback(smtp_tls_config *cfg, smtp_tls_on_verify cb,
                                                 void *user_data);

/**
 * @brief Replace the own certificate chain and key for connections made
 *        from now on (e.g. after a renewal). Connections already made keep
 *        the pair they started with. When the new pair fails to load (or
 *        its key does not match), the old pair stays in use.
 *
 * With Mbed TLS each replacement makes a new internal configuration; the
 * older ones (and their certificates) stay allocated until @p cfg is
 * deleted, since connections made from them point into them. On a
 * configuration without a certificate this loads the first pair, like
 * smtp_tls_config_cert_file().
 *
 * Not safe against a concurrent smtp_tls_conn_new() on the same
 * configuration: call it from the thread that makes the connections, or
 * hold a lock around both.
 * @param cfg       the configuration.
 * @param cert_file path of the chain (PEM, leaf first).
 * @param key_file  path of the key.
 * @param password  key password, or NULL.
 * @return 0; ::SMTP_ERR_TLS_CONFIG (the old pair stays; see
 *         smtp_tls_config_last_error()); ::SMTP_ERR_NOMEM;
 *         ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_config_replace_cert_file(smtp_tls_config *cfg, const char *cert_file,
                                               const char *key_file, const char *password);

/* ------------------------------------------------------------------ */
/* Channel bindings (for SASL *-PLUS mechanisms, RFC 5802 6)           */

/** @brief Channel binding "tls-unique" (RFC 5929 3): TLS 1.2 only. */
#define SMTP_TLS_CB_UNIQUE 1
/** @brief Channel binding "tls-server-end-point" (RFC 5929 4): hash of the server's certificate. */
#define SMTP_TLS_CB_SERVER_END_POINT 2
/** @brief Channel binding "tls-exporter" (RFC 9266): 32 bytes of exporter output. */
#define SMTP_TLS_CB_EXPORTER 3

/**
 * @brief The channel-binding data of an established connection.
 *
 * - ::SMTP_TLS_CB_EXPORTER: the TLS exporter (RFC 8446 7.5, RFC 5705)
 *   with label "EXPORTER-Channel-Binding", no context, 32 bytes
 *   (RFC 9266 2). RFC 9266 4.2 permits it over TLS 1.2 only with the
 *   extended master secret (RFC 7627); the caller decides.
 * - ::SMTP_TLS_CB_SERVER_END_POINT: the hash of the server's certificate
 *   with the hash of its signature algorithm, SHA-256 for MD5 and SHA-1
 *   (RFC 5929 4.1); both roles give the same bytes.
 * - ::SMTP_TLS_CB_UNIQUE: the first Finished message of the handshake
 *   (RFC 5929 3.1); TLS 1.2 only (RFC 9266 3: not defined for TLS 1.3).
 * @param conn the connection (handshake complete).
 * @param type one of the SMTP_TLS_CB_* values.
 * @param out  destination (may be NULL when @p cap is 0).
 * @param cap  size of @p out.
 * @param len  receives the length (also on ::SMTP_ERR_BUFFER_TOO_SMALL).
 * @return 0; ::SMTP_ERR_INVALID_STATE (handshake not complete);
 *         ::SMTP_ERR_UNSUPPORTED (this type is not defined for the
 *         negotiated version, or the backend cannot produce it);
 *         ::SMTP_ERR_BUFFER_TOO_SMALL; ::SMTP_ERR_INVALID_ARGUMENT;
 *         ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_tls_channel_binding(const smtp_tls_conn *conn, int type, uint8_t *out, size_t cap,
                                      size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_TLS_H */
