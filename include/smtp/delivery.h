/**
 * @file delivery.h
 * @brief Outbound delivery to a recipient domain (RFC 5321 5): the mail
 *        exchangers of the domain in the order to try them, null MX
 *        (RFC 7505), the TLS each host must get (DANE, RFC 7672; MTA-STS,
 *        RFC 8461), per-recipient results, and the pure checks behind
 *        them: the TLSA matcher and the MTA-STS policy parser.
 *
 * The delivery object does DNS through a resolver adapter (resolver.h) and
 * never connects: it says which address to try next and with what TLS; the
 * application connects, runs a client session (client.h, driver.h), and
 * reports what happened. The queue stays the application's: a recipient
 * ends as delivered, failed permanently, or worth retrying later.
 *
 * @code
 * smtp_delivery_new(&d, "example.org", &resolver, &cfg, NULL);
 * smtp_delivery_add_rcpt(d, "bob@example.org");
 * while ((rc = smtp_delivery_resolve(d)) == SMTP_ERR_WOULDBLOCK)
 *   smtp_resolver_wait(&resolver, -1);
 * while (rc == 0 && smtp_delivery_next(d, &t) == 0) {
 *   connect to t.addr_text port 25; on failure:
 *     smtp_delivery_report(d, &t, SMTP_DELIVERY_CONNECT_FAILED); continue;
 *   run the session with TLS as t.tls says, the TLS configuration's
 *     verification callback being smtp_delivery_tls_verify() with @c d
 *     and the connection's name t.tls_name (DANE and MTA-STS are then
 *     decided inside the handshake); record each RCPT/DATA reply with
 *     smtp_delivery_rcpt_reply(), then
 *     smtp_delivery_report(d, &t, SMTP_DELIVERY_DONE or the failure);
 * }
 * read smtp_delivery_rcpt(d, i) for every recipient.
 * @endcode
 *
 * Thread safety: one delivery is used by one thread at a time (the
 * verification callback writes into it during a handshake).
 *
 * Order of hosts (RFC 5321 5.1): MX records by preference, records of
 * equal preference shuffled with the configured random source; no MX
 * records: the domain itself; the CNAME chain of an answer is followed;
 * an MX naming an address (a literal is not a host name) or the root is
 * not used. Each host's addresses are tried IPv6 first, then alternating
 * families (RFC 8305 4).
 */
#ifndef SMTP_DELIVERY_H
#define SMTP_DELIVERY_H

#include <smtp/common.h>
#include <smtp/resolver.h>
#include <smtp/features.h>
#include <smtp/tls.h>

#if SMTP_HAVE_DELIVERY

#ifdef __cplusplus
extern "C" {
#endif

/** @brief A delivery to one domain (opaque). */
typedef struct smtp_delivery smtp_delivery;

/** @name Configuration flags (smtp_delivery_config::flags)
 * @{ */
#define SMTP_DELIVERY_DANE 1u    /**< Look up TLSA records (RFC 7672) for hosts whose MX and address answers are DNSSEC-authenticated: when the address answers came through a CNAME chain (authenticated with them), at the expanded name first, then, when nothing is there, at the MX host name (RFC 7672 2.2.2, RFC 7671 7). */
#define SMTP_DELIVERY_NO_IPV6 2u /**< Do not use IPv6 addresses. */
#define SMTP_DELIVERY_NO_IPV4 4u /**< Do not use IPv4 addresses. */
/** @} */

/** @brief ::smtp_delivery_config layout version. */
#define SMTP_DELIVERY_CONFIG_VERSION 1

/** @brief Settings of a delivery (copied by smtp_delivery_new()). */
typedef struct smtp_delivery_config {
  /** Set to ::SMTP_DELIVERY_CONFIG_VERSION. */
  unsigned int version;
  /** SMTP_DELIVERY_* flags. */
  unsigned int flags;
  /** MX hosts used at most, in order (0: 10). Hundreds of MX records are
   *  sorted, the rest is not resolved. */
  unsigned int max_hosts;
  /** Addresses used per host at most (0: 4). */
  unsigned int max_addrs;
  /** The SMTP port (0: 25); names the TLSA records, _PORT._tcp.HOST. */
  unsigned int port;
  /** Random source for shuffling equal preferences: returns a uniformly
   *  distributed 32-bit value. NULL: answer order is kept. */
  uint32_t (*random)(void *user_data);
  /** Passed to @c random. */
  void *random_user_data;
  /** Zero; room to grow. */
  void *reserved[4];
} smtp_delivery_config;

/** @name TLS a target must get (smtp_delivery_target::tls)
 * @{ */
#define SMTP_DELIVERY_TLS_OPPORTUNISTIC 0u /**< STARTTLS when offered, certificate not checked (RFC 7435). */
#define SMTP_DELIVERY_TLS_ENCRYPT 1u       /**< TLS mandatory, not authenticated (RFC 7672 2.2: TLSA records present but none usable). */
#define SMTP_DELIVERY_TLS_DANE 2u          /**< TLS mandatory, the chain must match the host's TLSA records (smtp_dane_match()). */
#define SMTP_DELIVERY_TLS_VERIFY 3u        /**< TLS mandatory, WebPKI chain valid for the MX host name (RFC 8461 4.2). */
/** @} */

/** @brief One address to try. Strings are valid until smtp_delivery_del(). */
typedef struct smtp_delivery_target {
  const char *host;          /**< The MX host (or the domain itself for an implicit MX), lower-case. */
  unsigned int preference;   /**< Its MX preference (0 for an implicit MX). */
  unsigned int host_index;   /**< Position of the host in the order (0-based). */
  unsigned int family;       /**< 4 or 6. */
  unsigned char addr[16];    /**< The address (4 or 16 octets used). */
  char addr_text[48];        /**< The address as text ("192.0.2.1", "2001:db8::1"). */
  unsigned int port;         /**< The port to connect to. */
  unsigned int tls;          /**< SMTP_DELIVERY_TLS_*. */
  unsigned int dnssec;       /**< 1 when the MX and address answers were authenticated. */
  unsigned int sts_testing;  /**< 1 when an MTA-STS policy in testing mode would have required verified TLS: report, do not refuse. */
  /** The name to give smtp_tls_conn_new() (SNI, and how
   *  smtp_delivery_tls_verify() finds the host): the TLSA base domain
   *  (RFC 7672 2.2.2: the CNAME-expanded host name when the TLSA records
   *  were found there, RFC 7672 8.1), else @c host. */
  const char *tls_name;
  uint64_t reserved[4];      /**< Zeroed by the library; room to grow within a major version. */
} smtp_delivery_target;

/** @name What happened with a target (smtp_delivery_report())
 * @{ */
#define SMTP_DELIVERY_CONNECT_FAILED 1u /**< No TCP connection: the next address. */
#define SMTP_DELIVERY_TEMPFAIL 2u       /**< 4xx greeting or EHLO reply, 421, connection lost before the transaction: the next host. */
#define SMTP_DELIVERY_TLS_FAILED 3u     /**< STARTTLS missing where TLS is mandatory, handshake or verification failure: the next host, never plaintext. */
#define SMTP_DELIVERY_DONE 4u           /**< The transaction ran: recipients' replies are recorded; nothing more to try. */
/** @} */

/** @brief State of a recipient. */
typedef enum smtp_delivery_rcpt_state {
  SMTP_DELIVERY_PENDING = 0,   /**< Nothing final yet. */
  SMTP_DELIVERY_DELIVERED = 1, /**< A host took it (2xx after the data). */
  SMTP_DELIVERY_PERMANENT = 2, /**< Failed for good (5xx, null MX, no such domain): bounce. */
  SMTP_DELIVERY_RETRY = 3      /**< Failed for now (4xx, DNS failure, no host reachable): retry later. */
} smtp_delivery_rcpt_state;

/** @brief A recipient's result. Strings valid until smtp_delivery_del(). */
typedef struct smtp_delivery_rcpt_result {
  const char *addr;         /**< The recipient as added. */
  int state;                /**< ::smtp_delivery_rcpt_state. */
  int code;                 /**< The reply code (0 when none: see @c error). */
  char enhanced[16];        /**< The enhanced status code ("5.1.10"), "" when none. */
  const char *text;         /**< The reply text, or the library's explanation. */
  const char *host;         /**< The MX host that answered, or NULL. */
  const char *addr_text;    /**< Its address, or NULL. */
  int error;                /**< 0, or the SMTP_ERR_* behind a failure without a reply. */
  uint64_t reserved[4];     /**< Zeroed by the library; room to grow within a major version. */
} smtp_delivery_rcpt_result;

/**
 * @brief Create a delivery to @p domain.
 * @param out      receives the object.
 * @param domain   the recipient domain (ASCII or A-labels; copied).
 * @param resolver the resolver adapter; copied, not owned: it must stay
 *                 open while the delivery lives.
 * @param cfg      settings (NULL: defaults); copied.
 * @param mem      allocator (NULL: default); copied.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL, a domain that is not a DNS
 *         name, unknown config version); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_delivery_new(smtp_delivery **out, const char *domain,
                               const smtp_resolver *resolver, const smtp_delivery_config *cfg,
                               const smtp_mem *mem);

/** @brief Free a delivery (pending queries are forgotten). @param d the delivery, or NULL. */
SMTP_API void smtp_delivery_del(smtp_delivery *d);

/**
 * @brief Add a recipient (before smtp_delivery_resolve() finishes).
 * @param d    the delivery.
 * @param addr the address (copied).
 * @return its index (>= 0); ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_delivery_add_rcpt(smtp_delivery *d, const char *addr);

/**
 * @brief Do the DNS work that can be done now (starts queries, reads
 *        answers). Call again after the resolver's descriptors or deadline
 *        fired (smtp_resolver_wait()).
 * @param d the delivery.
 * @return 0 when the order of targets is known; ::SMTP_ERR_WOULDBLOCK
 *         while answers are pending; when nothing can be delivered (every
 *         pending recipient then carries the result): ::SMTP_ERR_NULL_MX
 *         (permanent, 556 5.1.10), ::SMTP_ERR_NOT_FOUND (the domain does
 *         not exist: permanent, 550 5.1.2), ::SMTP_ERR_DNS or
 *         ::SMTP_ERR_DNSSEC_BOGUS (retry later), ::SMTP_ERR_NO_ROUTE (no
 *         usable host: MX records all unusable is permanent, hosts without
 *         reachable addresses retry), ::SMTP_ERR_MTA_STS (an enforced policy
 *         matches no MX: retry); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_delivery_resolve(smtp_delivery *d);

/**
 * @brief The next address to try.
 * @param d the delivery (resolved).
 * @param t filled in.
 * @return 0; ::SMTP_ERR_NO_ROUTE when none is left (the pending
 *         recipients are then marked to retry with the last failure);
 *         ::SMTP_ERR_INVALID_STATE before smtp_delivery_resolve() returned
 *         0, or after ::SMTP_DELIVERY_DONE.
 */
SMTP_API int smtp_delivery_next(smtp_delivery *d, smtp_delivery_target *t);

/**
 * @brief Say what happened with the target smtp_delivery_next() gave.
 * @param d       the delivery.
 * @param t       that target.
 * @param outcome SMTP_DELIVERY_CONNECT_FAILED, _TEMPFAIL, _TLS_FAILED or _DONE.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_delivery_report(smtp_delivery *d, const smtp_delivery_target *t,
                                  unsigned int outcome);

/**
 * @brief Record a recipient's reply from the host of @p t (RCPT, or the
 *        reply after the data): 2xx after the data delivers, 5xx fails
 *        permanently, 4xx retries later. A reply to RCPT that is 2xx
 *        leaves the recipient pending until the data's reply.
 * @param d        the delivery.
 * @param index    the recipient.
 * @param t        the target that answered.
 * @param code     the reply code (200..599).
 * @param enhanced the enhanced status code text ("2.0.0"), or NULL.
 * @param text     the reply text (copied, truncated to 200 octets), or NULL.
 * @param final    1 for the reply after the data (or a refusal at RCPT/MAIL), 0 for a 2xx to RCPT.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_delivery_rcpt_reply(smtp_delivery *d, size_t index,
                                      const smtp_delivery_target *t, int code,
                                      const char *enhanced, const char *text, int final);

/** @brief Number of recipients. @param d the delivery. @return the count. */
SMTP_API size_t smtp_delivery_rcpt_count(const smtp_delivery *d);

/**
 * @brief A recipient's result.
 * @param d     the delivery.
 * @param index the recipient.
 * @param out   filled in.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_delivery_rcpt(const smtp_delivery *d, size_t index,
                                smtp_delivery_rcpt_result *out);

/**
 * @brief The usable TLSA records (RFC 7672 3.1: usages 2 and 3, selectors
 *        0 and 1, matching types 0, 1 and 2) of a target's host.
 * @param d     the delivery.
 * @param t     a target from smtp_delivery_next().
 * @param count receives how many.
 * @return the records (valid until smtp_delivery_del()), or NULL when none.
 */
SMTP_API const smtp_dns_rr *smtp_delivery_tlsa(const smtp_delivery *d,
                                               const smtp_delivery_target *t, size_t *count);

/* ---- DANE ---- */

/** @brief smtp_dane_match() result: a DANE-EE(3) record matched the leaf. */
#define SMTP_DANE_MATCH_EE 1
/** @brief smtp_dane_match() result: a DANE-TA(2) record matched an issuer and the names fit. */
#define SMTP_DANE_MATCH_TA 2

/**
 * @brief Check a server's certificate chain against TLSA records (RFC 7671,
 *        RFC 7672 3). A pure function: no I/O, no clock, no allocation.
 *
 * DANE-EE(3): the leaf certificate (selector 0) or its SubjectPublicKeyInfo
 * (selector 1) matches, exactly (matching type 0) or by SHA-256 (1) or
 * SHA-512 (2) digest; names and validity dates are not checked (RFC 7672
 * 3.1.1). DANE-TA(2): a certificate of the chain after the leaf matches;
 * every certificate from the leaf up to it must name the next one as its
 * issuer and carry a valid signature by the next one's key (checked with
 * the TLS library's X.509 code; validity dates are not checked); and the
 * leaf must carry one of @p names as a DNS subjectAltName (or, when it has
 * none, as its subject common name), with a "*." wildcard covering exactly
 * one leftmost label (RFC 7672 3.2.3). Records with other usages,
 * selectors or matching types are skipped (RFC 7672 3.1.3). The digests
 * are the library's own, in every build; a build without TLS has no
 * signature checks, so DANE-TA there gives ::SMTP_ERR_UNSUPPORTED.
 *
 * @param records  the TLSA records (as smtp_delivery_tlsa() gives).
 * @param nrec     how many.
 * @param chain    the chain as sent, leaf first: DER certificates.
 * @param lens     their lengths.
 * @param ncerts   how many (1..16).
 * @param names    the reference identifiers for DANE-TA (the MX host name,
 *                 and the name it was reached through); may be NULL when
 *                 @p nnames is 0.
 * @param nnames   how many.
 * @return ::SMTP_DANE_MATCH_EE or ::SMTP_DANE_MATCH_TA; ::SMTP_ERR_DANE
 *         when nothing matched; ::SMTP_ERR_SYNTAX when a certificate is
 *         not DER this function can read; ::SMTP_ERR_UNSUPPORTED when a
 *         digest is needed and the build has none;
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_dane_match(const smtp_dns_rr *records, size_t nrec,
                             const unsigned char *const *chain, const size_t *lens,
                             size_t ncerts, const char *const *names, size_t nnames);

/**
 * @brief A TLS verification callback (::smtp_tls_on_verify) that applies
 *        the delivery's policy to the server's certificate inside the
 *        handshake, so a server that fails is refused before any SMTP
 *        command is sent under TLS. Install it with
 *        smtp_tls_config_set_verify_callback(cfg, smtp_delivery_tls_verify, d)
 *        on a client configuration whose verification is
 *        ::SMTP_TLS_VERIFY_REQUIRED for ::SMTP_DELIVERY_TLS_DANE and
 *        ::SMTP_DELIVERY_TLS_VERIFY targets (::SMTP_TLS_VERIFY_OPTIONAL for
 *        the others when an MTA-STS testing policy should see the
 *        verdict), and make each connection with
 *        smtp_delivery_target::tls_name as its name: that name finds the
 *        host (the same callback serves every host of the delivery).
 *
 * - ::SMTP_DELIVERY_TLS_DANE: the chain the server sent (at most 16
 *   certificates, read with smtp_tls_peer_cert()) goes through
 *   smtp_dane_match() with the host's usable TLSA records; reference
 *   identifiers for DANE-TA are the TLSA base domain, the MX host name and
 *   the recipient domain (RFC 7672 3.2.2). The WebPKI verdict is ignored
 *   (RFC 7672 3.1). A mismatch refuses the certificate and records a
 *   "validation-failure" (policy "tlsa").
 * - ::SMTP_DELIVERY_TLS_VERIFY: accepted when the TLS library verified
 *   chain and name (RFC 8461 4.2); else refused, recorded as
 *   "certificate-expired", "certificate-host-mismatch" or
 *   "certificate-not-trusted" (policy "sts") from the library's reason.
 * - otherwise accepted (unauthenticated TLS, RFC 7672 2.2, RFC 7435); with
 *   an MTA-STS policy in testing mode a negative verdict is recorded.
 *
 * The same code runs with every TLS backend: the chain comes through the
 * backend-neutral smtp_tls_peer_cert(), the matching is the library's own.
 * @param conn      the connection being verified.
 * @param info      the verification facts (expected_name: the name given
 *                  to smtp_tls_conn_new()).
 * @param user_data the ::smtp_delivery (resolved).
 * @return ::SMTP_TLS_VERIFY_ACCEPT or ::SMTP_TLS_VERIFY_REFUSE (also for a
 *         name that is none of the delivery's hosts, a server-side
 *         connection, or NULL arguments).
 */
SMTP_API int smtp_delivery_tls_verify(smtp_tls_conn *conn, const smtp_tls_verify_info *info,
                                      void *user_data);

/**
 * @brief The outcome of the last DANE check smtp_delivery_tls_verify() made
 *        for the host of @p t.
 * @param d the delivery.
 * @param t a target from smtp_delivery_next().
 * @return ::SMTP_DANE_MATCH_EE or ::SMTP_DANE_MATCH_TA (accepted); 0 when
 *         no DANE check ran for this host; the smtp_dane_match() error that
 *         refused it (::SMTP_ERR_DANE, ::SMTP_ERR_SYNTAX, ...) or
 *         ::SMTP_ERR_NOMEM; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_delivery_dane_result(const smtp_delivery *d, const smtp_delivery_target *t);

/* ---- MTA-STS ---- */

/** @name MTA-STS policy modes (RFC 8461 3.2)
 * @{ */
#define SMTP_MTA_STS_NONE 0u    /**< mode: none. */
#define SMTP_MTA_STS_TESTING 1u /**< mode: testing (report, deliver anyway). */
#define SMTP_MTA_STS_ENFORCE 2u /**< mode: enforce. */
/** @} */

/** @brief A parsed MTA-STS policy (opaque). */
typedef struct smtp_mta_sts_policy smtp_mta_sts_policy;

/** @brief Largest policy body accepted (RFC 8461 3.3 suggests 64 KiB). */
#define SMTP_MTA_STS_MAX_POLICY 65536

/**
 * @brief Parse the `_mta-sts` TXT record (RFC 8461 3.1): "v=STSv1" first,
 *        then an "id" of 1 to 32 letters and digits; other fields ignored.
 * @param txt   the record's text (character-strings joined).
 * @param len   its length.
 * @param id    receives the id, NUL-terminated (at least 33 octets).
 * @param idcap size of @p id.
 * @return 0; ::SMTP_ERR_SYNTAX (not an STSv1 record, or a bad id);
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_mta_sts_txt_parse(const char *txt, size_t len, char *id, size_t idcap);

/**
 * @brief Parse a policy body (RFC 8461 3.2) strictly: "key: value" lines
 *        ending in CRLF or LF; "version: STSv1" must come first; "mode"
 *        (enforce, testing, none) and "max_age" (0..31557600 seconds) are
 *        required, each once; "mx" is repeatable and required unless the
 *        mode is none, each a host name or "*." and a name; unknown keys
 *        are ignored; at most 256 mx lines and ::SMTP_MTA_STS_MAX_POLICY
 *        octets.
 * @param body the body.
 * @param len  its length.
 * @param out  receives the policy (free with smtp_mta_sts_policy_del()).
 * @param mem  allocator (NULL: default).
 * @return 0; ::SMTP_ERR_SYNTAX; ::SMTP_ERR_TOO_LONG; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_mta_sts_policy_parse(const char *body, size_t len, smtp_mta_sts_policy **out,
                                       const smtp_mem *mem);

/** @brief Free a policy. @param p the policy, or NULL. */
SMTP_API void smtp_mta_sts_policy_del(smtp_mta_sts_policy *p);

/** @brief The mode. @param p the policy. @return SMTP_MTA_STS_*. */
SMTP_API unsigned int smtp_mta_sts_policy_mode(const smtp_mta_sts_policy *p);

/** @brief max_age in seconds. @param p the policy. @return the value (0 for NULL). */
SMTP_API uint32_t smtp_mta_sts_policy_max_age(const smtp_mta_sts_policy *p);

/** @brief Number of mx patterns. @param p the policy. @return the count. */
SMTP_API size_t smtp_mta_sts_policy_mx_count(const smtp_mta_sts_policy *p);

/**
 * @brief An mx pattern. @param p the policy. @param i the index.
 * @return the pattern (lower-case), or NULL when out of range.
 */
SMTP_API const char *smtp_mta_sts_policy_mx(const smtp_mta_sts_policy *p, size_t i);

/**
 * @brief Whether an MX host name matches the policy (RFC 8461 4.1): equal
 *        ignoring case, or a "*.example.com" pattern covering exactly one
 *        more leftmost label.
 * @param p    the policy.
 * @param host the MX host name (a trailing dot is ignored).
 * @return 1 when it matches, 0 otherwise.
 */
SMTP_API int smtp_mta_sts_mx_match(const smtp_mta_sts_policy *p, const char *host);

/**
 * @brief Apply a policy to a delivery before it resolves: in enforce mode
 *        only matching MX hosts are used and each needs TLS verified for
 *        its name (::SMTP_DELIVERY_TLS_VERIFY, unless DANE applies, which
 *        wins: RFC 8461 2); in testing mode targets are marked
 *        smtp_delivery_target::sts_testing and failures only reported;
 *        mode none changes nothing.
 * @param d the delivery.
 * @param p the policy; copied.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_INVALID_STATE (already resolving); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_delivery_set_mta_sts(smtp_delivery *d, const smtp_mta_sts_policy *p);

/**
 * @brief Fetch an MTA-STS policy over HTTPS (RFC 8461 3.3) from
 *        https://mta-sts.DOMAIN/.well-known/mta-sts.txt: certificate
 *        verified for that name against @p ca_file (NULL: the system
 *        store), no redirects, at most ::SMTP_MTA_STS_MAX_POLICY octets,
 *        within @p timeout_ms, status 200 and a text/plain media type;
 *        then parsed. Blocking. Needs libcurl at build time; the first
 *        call initialises libcurl (curl_global_init(), not thread safe:
 *        make it before starting threads); libcurl allocates with malloc
 *        unless the application called curl_global_init_mem() first.
 * @param domain     the recipient domain.
 * @param ca_file    trust anchors (PEM), or NULL.
 * @param connect_to "HOST:PORT" to connect to instead of resolving
 *                   mta-sts.DOMAIN:443 (tests, or an address resolved with
 *                   a resolver adapter), or NULL.
 * @param timeout_ms limit for the whole fetch (0: 60000).
 * @param out        receives the policy.
 * @param err        receives a one-line reason on failure (may be NULL).
 * @param errcap     size of @p err.
 * @param mem        allocator (NULL: default).
 * @return 0; ::SMTP_ERR_MTA_STS (fetch failed: sts-policy-fetch-error);
 *         ::SMTP_ERR_TLS_VERIFY (sts-webpki-invalid); ::SMTP_ERR_SYNTAX or
 *         ::SMTP_ERR_TOO_LONG (sts-policy-invalid);
 *         ::SMTP_ERR_UNSUPPORTED (no libcurl); ::SMTP_ERR_INVALID_ARGUMENT;
 *         ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_mta_sts_fetch(const char *domain, const char *ca_file, const char *connect_to,
                                int timeout_ms, smtp_mta_sts_policy **out, char *err,
                                size_t errcap, const smtp_mem *mem);

/**
 * @brief Serialise a policy with its id and the time it was fetched, for
 *        an application's cache (RFC 8461 5.1: keyed by domain, used until
 *        fetched + max_age, refreshed when the TXT id changes).
 * @param p       the policy.
 * @param id      the TXT record's id it was fetched under.
 * @param fetched the fetch time (seconds since the epoch; the caller's clock).
 * @param buf     destination.
 * @param cap     its size.
 * @return the length written (NUL-terminated); ::SMTP_ERR_BUFFER_TOO_SMALL;
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API smtp_ssize smtp_mta_sts_cache_format(const smtp_mta_sts_policy *p, const char *id,
                                              int64_t fetched, char *buf, size_t cap);

/**
 * @brief Read back what smtp_mta_sts_cache_format() wrote.
 * @param buf     the cached text.
 * @param len     its length.
 * @param out     receives the policy.
 * @param id      receives the id (at least 33 octets).
 * @param idcap   size of @p id.
 * @param fetched receives the fetch time.
 * @param mem     allocator (NULL: default).
 * @return 0; ::SMTP_ERR_SYNTAX; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_mta_sts_cache_parse(const char *buf, size_t len, smtp_mta_sts_policy **out,
                                      char *id, size_t idcap, int64_t *fetched,
                                      const smtp_mem *mem);

/**
 * @brief Load the cached policy of @p domain from @p dir (the file
 *        DIR/mta-sts-DOMAIN that smtp_mta_sts_cache_store() wrote), when it
 *        is still valid at @p now (RFC 8461 5.1: until its fetch time plus
 *        max_age). Does file I/O.
 * @param dir     the cache directory (the application's choice).
 * @param domain  the policy domain (a DNS name; letters, digits, '-', '.', '_').
 * @param now     the current time (seconds since the epoch; the caller's clock).
 * @param out     receives the policy.
 * @param id      receives the id it was fetched under (at least 33 octets).
 * @param idcap   size of @p id.
 * @param fetched receives its fetch time (may be NULL).
 * @param mem     allocator (NULL: default).
 * @return 0; ::SMTP_ERR_NOT_FOUND (no file, unreadable, or expired);
 *         ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_mta_sts_cache_load(const char *dir, const char *domain, int64_t now,
                                     smtp_mta_sts_policy **out, char *id, size_t idcap,
                                     int64_t *fetched, const smtp_mem *mem);

/**
 * @brief Store a policy for @p domain in @p dir (created if missing, mode
 *        0700; the file is written under a temporary name and renamed, so a
 *        reader never sees half of it). Does file I/O.
 * @param dir     the cache directory.
 * @param domain  the policy domain.
 * @param p       the policy.
 * @param id      the TXT record's id it was fetched under.
 * @param fetched its fetch time.
 * @param mem     allocator (NULL: default).
 * @return 0; ::SMTP_ERR_IO; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_mta_sts_cache_store(const char *dir, const char *domain,
                                      const smtp_mta_sts_policy *p, const char *id,
                                      int64_t fetched, const smtp_mem *mem);

/* ---- TLS reporting ---- */

/** @brief TLS-RPT result types (RFC 8460 4.3). */
typedef enum smtp_tlsrpt_result {
  SMTP_TLSRPT_STARTTLS_NOT_SUPPORTED = 1,  /**< "starttls-not-supported" */
  SMTP_TLSRPT_CERTIFICATE_HOST_MISMATCH,   /**< "certificate-host-mismatch" */
  SMTP_TLSRPT_CERTIFICATE_EXPIRED,         /**< "certificate-expired" */
  SMTP_TLSRPT_CERTIFICATE_NOT_TRUSTED,     /**< "certificate-not-trusted" */
  SMTP_TLSRPT_VALIDATION_FAILURE,          /**< "validation-failure" */
  SMTP_TLSRPT_TLSA_INVALID,                /**< "tlsa-invalid" */
  SMTP_TLSRPT_DNSSEC_INVALID,              /**< "dnssec-invalid" */
  SMTP_TLSRPT_DANE_REQUIRED,               /**< "dane-required" */
  SMTP_TLSRPT_STS_POLICY_FETCH_ERROR,      /**< "sts-policy-fetch-error" */
  SMTP_TLSRPT_STS_POLICY_INVALID,          /**< "sts-policy-invalid" */
  SMTP_TLSRPT_STS_WEBPKI_INVALID           /**< "sts-webpki-invalid" */
} smtp_tlsrpt_result;

/**
 * @brief The RFC 8460 name of a result type.
 * @param r a ::smtp_tlsrpt_result.
 * @return a static string; "" for an unknown value.
 */
SMTP_API const char *smtp_tlsrpt_result_name(int r);

/** @brief One failure as a TLS report records it (RFC 8460 4.4, "failure-details"). Strings valid until smtp_delivery_del(). */
typedef struct smtp_tlsrpt_failure {
  int result_type;                 /**< ::smtp_tlsrpt_result. */
  int policy_type;                 /**< 1 "sts", 2 "tlsa", 0 "no-policy-found". */
  const char *receiving_mx_hostname; /**< The MX host, or NULL. */
  const char *receiving_ip;        /**< Its address, or NULL. */
  const char *failure_reason_code; /**< Free text, or NULL. */
  uint64_t reserved[4];            /**< Zero; fields are only appended. */
} smtp_tlsrpt_failure;

/**
 * @brief Record a TLS failure for the report (the delivery records the
 *        ones it sees itself: DNSSEC-bogus TLSA answers, MX hosts outside
 *        an enforced policy).
 * @param d      the delivery.
 * @param t      the target it happened with, or NULL.
 * @param result a ::smtp_tlsrpt_result.
 * @param reason free text (copied, truncated to 200 octets), or NULL.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_delivery_tls_failure(smtp_delivery *d, const smtp_delivery_target *t,
                                       int result, const char *reason);

/**
 * @brief The recorded TLS failures.
 * @param d     the delivery.
 * @param count receives how many.
 * @return the list (valid until the next record or smtp_delivery_del()), or NULL.
 */
SMTP_API const smtp_tlsrpt_failure *smtp_delivery_tls_failures(const smtp_delivery *d,
                                                               size_t *count);

/* ---- TLS reports (RFC 8460) ---- */

/**
 * @brief Parse a `_smtp._tls` TXT record (RFC 8460 3): "v=TLSRPTv1"
 *        first (case-sensitive), then ";"-separated fields with optional
 *        white space around the ";"; exactly one "rua=" field, a
 *        ","-separated list of URIs; other fields must have the
 *        extension syntax and are ignored. Of the URIs, those with the
 *        schemes the RFC defines for delivery, "mailto:" and "https:"
 *        (case-insensitive), are returned; others are skipped. When a
 *        lookup returns several records, only those starting with
 *        "v=TLSRPTv1" count, and unless exactly one remains the domain
 *        does not use TLS reporting (RFC 8460 3); that choice is the
 *        caller's.
 * @param txt   the record's text (character-strings joined).
 * @param len   its length.
 * @param uris  receives up to @p cap URIs as spans into @p txt (not
 *              percent-decoded); may be NULL when @p cap is 0.
 * @param cap   room in @p uris.
 * @param count receives how many URIs the record has (may exceed @p cap).
 * @return 0 (also with no usable URI: @p count 0); ::SMTP_ERR_SYNTAX;
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_tlsrpt_txt_parse(const char *txt, size_t len, smtp_span *uris, size_t cap,
                                   size_t *count);

/** @brief A TLS report being gathered for one policy domain (opaque). */
typedef struct smtp_tlsrpt_report smtp_tlsrpt_report;

/** @brief ::smtp_tlsrpt_report_info layout version. */
#define SMTP_TLSRPT_REPORT_INFO_VERSION 1

/** @brief The fixed fields of a report (RFC 8460 4.4); copied by smtp_tlsrpt_report_new(). */
typedef struct smtp_tlsrpt_report_info {
  unsigned int version;          /**< ::SMTP_TLSRPT_REPORT_INFO_VERSION. */
  const char *organization_name; /**< "organization-name": who sends the report (printable ASCII, 1..200 octets). */
  const char *contact_info;      /**< "contact-info": an address or URI (printable ASCII, 1..200 octets). */
  const char *report_id;         /**< "report-id": unique per report (printable ASCII, 1..200 octets). */
  const char *policy_domain;     /**< "policy-domain": the recipient domain every added delivery went to. */
  const char *sending_mta_ip;    /**< "sending-mta-ip" in every failure detail, or NULL to leave it out. */
  int64_t start;                 /**< "start-datetime": seconds since the epoch (UTC). */
  int64_t end;                   /**< "end-datetime": seconds since the epoch, >= @c start. */
  void *reserved[4];             /**< Zero; room to grow. */
} smtp_tlsrpt_report_info;

/**
 * @brief Start a report for one policy domain and one period (RFC 8460 4:
 *        one report per policy domain, usually per day). No I/O.
 * @param out  receives the report.
 * @param info its fixed fields (copied).
 * @param mem  allocator (NULL: default); copied.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL, unknown version, a field
 *         missing, empty, too long or not printable ASCII, end before
 *         start, a date outside years 1970..9999); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_tlsrpt_report_new(smtp_tlsrpt_report **out, const smtp_tlsrpt_report_info *info,
                                    const smtp_mem *mem);

/** @brief Free a report. @param r the report, or NULL. */
SMTP_API void smtp_tlsrpt_report_del(smtp_tlsrpt_report *r);

/**
 * @brief Count a finished delivery into the report: its policies (an
 *        MTA-STS policy as "sts" with the policy's lines as policy-string
 *        and its mx patterns as mx-host; each DANE host as "tlsa" with its
 *        usable TLSA records in presentation form and the host as
 *        mx-host; failures without a policy under "no-policy-found"), the
 *        successful sessions (a transaction ran on a host whose
 *        certificate smtp_delivery_tls_verify() accepted under a policy)
 *        and every recorded failure (smtp_delivery_tls_failures(); equal
 *        ones are merged with a failed-session-count). Policies equal
 *        across deliveries are merged.
 * @param r the report.
 * @param d a delivery to the report's policy domain (it may be deleted
 *          afterwards: what is needed is copied).
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL, another domain);
 *         ::SMTP_ERR_NOMEM (the report may then hold part of @p d).
 */
SMTP_API int smtp_tlsrpt_report_add(smtp_tlsrpt_report *r, const smtp_delivery *d);

/**
 * @brief Write the report as the JSON document of RFC 8460 4.4:
 *        organization-name, date-range (start-datetime, end-datetime as
 *        RFC 3339 UTC), contact-info, report-id, policies (each with
 *        policy: policy-type, policy-string, policy-domain, mx-host;
 *        summary: total-successful-session-count,
 *        total-failure-session-count; failure-details: result-type,
 *        sending-mta-ip, receiving-mx-hostname, receiving-ip,
 *        failed-session-count, failure-reason-code, each present when
 *        known). Strings are escaped per RFC 8259 7. Compressing and
 *        sending it (RFC 8460 5: gzip, mailto or https) is the
 *        application's.
 * @param r   the report.
 * @param buf destination (may be NULL when @p cap is 0).
 * @param cap its size.
 * @param len receives the length written (without the NUL written after
 *            it), or the size needed minus one on ::SMTP_ERR_BUFFER_TOO_SMALL.
 * @return 0; ::SMTP_ERR_BUFFER_TOO_SMALL; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_tlsrpt_report_format(const smtp_tlsrpt_report *r, char *buf, size_t cap,
                                       size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_HAVE_DELIVERY */

#endif /* SMTP_DELIVERY_H */
