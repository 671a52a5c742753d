/**
 * @file resolver.h
 * @brief DNS for outbound delivery: a small versioned resolver adapter
 *        (asynchronous: start a query, wait on descriptors and a
 *        deadline, process, collect the answer), a strict parser that
 *        turns answers into typed records (MX, A, AAAA, TLSA, TXT, CNAME)
 *        with their DNSSEC state, and three bundled adapters: c-ares,
 *        libunbound (DNSSEC-validating) and a scripted one for tests.
 *
 * Like ::smtp_io, an ::smtp_resolver is a struct of functions that is
 * copied by whoever takes it; its @c user_data is the adapter's own state,
 * released by @c close. Adapters hand back the raw DNS message of each
 * answer; libsmtp parses it itself (smtp_dns_parse()), so every adapter's
 * answers go through one bounded parser.
 *
 * Driving it without an event loop: smtp_resolver_wait() waits once on the
 * adapter's descriptors and deadline and lets it process them. With an
 * event loop: register the descriptors of smtp_resolver::fds, sleep at most
 * smtp_resolver::timeout_ms, then call smtp_resolver::process with the
 * ready events filled in.
 *
 * DNSSEC: an answer is "authenticated" when the adapter says it validated
 * it (libunbound) or, for adapters that do not validate, when the AD bit of
 * the answer is set (RFC 4035 3.2.3, RFC 6840 5.7): trust that bit only
 * from a validating resolver reached over a path you trust (loopback).
 * Queries are sent with RD and AD set and an EDNS(0) OPT record.
 */
#ifndef SMTP_RESOLVER_H
#define SMTP_RESOLVER_H

#include <smtp/common.h>
#include <smtp/features.h>

#if SMTP_HAVE_DELIVERY

#ifdef __cplusplus
extern "C" {
#endif

/** @brief The ::smtp_resolver layout this header describes. */
#define SMTP_RESOLVER_VERSION 1

/** @name DNS record types (RFC 1035 3.2.2, RFC 3596, RFC 6698)
 * @{ */
#define SMTP_DNS_A 1u      /**< IPv4 address. */
#define SMTP_DNS_CNAME 5u  /**< Canonical name. */
#define SMTP_DNS_MX 15u    /**< Mail exchanger. */
#define SMTP_DNS_TXT 16u   /**< Text. */
#define SMTP_DNS_AAAA 28u  /**< IPv6 address. */
#define SMTP_DNS_TLSA 52u  /**< TLSA (DANE). */
/** @} */

/** @brief Outcome of one query (smtp_dns_result_status()). */
typedef enum smtp_dns_status {
  SMTP_DNS_OK = 0,        /**< Records of the type asked for. */
  SMTP_DNS_NODATA = 1,    /**< The name exists but has no records of that type. */
  SMTP_DNS_NXDOMAIN = 2,  /**< The name does not exist (RCODE 3). */
  SMTP_DNS_TEMPFAIL = 3,  /**< SERVFAIL, REFUSED, a network error, a truncated answer: ask again later. */
  SMTP_DNS_TIMEOUT = 4,   /**< No answer in time. */
  SMTP_DNS_BOGUS = 5,     /**< DNSSEC validation failed: the answer must not be used. */
  SMTP_DNS_MALFORMED = 6, /**< The answer breaks the DNS message format, or a CNAME chain loops or is too long. */
} smtp_dns_status;

/** @name DNSSEC state an adapter reports with an answer (smtp_resolver_answer::security)
 * @{ */
#define SMTP_DNS_SEC_FROM_AD 0u  /**< The adapter did not validate: take the answer's AD bit. */
#define SMTP_DNS_SEC_INSECURE 1u /**< Validated as insecure (no DNSSEC) or not validated. */
#define SMTP_DNS_SEC_SECURE 2u   /**< Validated as secure. */
#define SMTP_DNS_SEC_BOGUS 3u    /**< Validation failed. */
/** @} */

/** @brief smtp_resolver_fd::events bit: wait until readable. */
#define SMTP_RESOLVER_READ 1u
/** @brief smtp_resolver_fd::events bit: wait until writable. */
#define SMTP_RESOLVER_WRITE 2u

/** @brief A descriptor an adapter wants to wait on. */
typedef struct smtp_resolver_fd {
  int fd;               /**< The descriptor. */
  unsigned int events;  /**< What to wait for: ::SMTP_RESOLVER_READ and/or ::SMTP_RESOLVER_WRITE. */
  unsigned int revents; /**< Filled by the caller before smtp_resolver::process: what is ready. */
} smtp_resolver_fd;

/** @brief A finished query as an adapter hands it back. */
typedef struct smtp_resolver_answer {
  /** ::SMTP_DNS_OK when @c wire holds the answer; ::SMTP_DNS_TEMPFAIL or
   *  ::SMTP_DNS_TIMEOUT when there is none; ::SMTP_DNS_BOGUS when the
   *  adapter's validator refused it (then @c wire may be empty). */
  int status;
  /** One of the SMTP_DNS_SEC_* values. */
  unsigned int security;
  /** The DNS message (RFC 1035 4.1), owned by the adapter until
   *  smtp_resolver::forget for this query. */
  const unsigned char *wire;
  /** Octets in @c wire. */
  size_t len;
  /** Zeroed by the library before smtp_resolver::answer; an adapter leaves
   *  it alone (room to grow within a major version). */
  uint64_t reserved[2];
} smtp_resolver_answer;

/**
 * @brief A resolver adapter: a DNS client seen as seven functions.
 *
 * Copied by whoever takes it (smtp_delivery_new(), ...). All functions get
 * @c user_data last. Nothing is thread safe: one thread uses an adapter.
 */
typedef struct smtp_resolver {
  /** Set to ::SMTP_RESOLVER_VERSION. Later versions only append fields. */
  unsigned int version;
  /** The adapter's state (owned by the adapter, released by @c close). */
  void *user_data;
  /**
   * Start a query for @p name (presentation form, ASCII, no trailing dot
   * needed) and record type @p type (SMTP_DNS_*).
   * @return a query id >= 0; ::SMTP_ERR_INVALID_ARGUMENT (bad name);
   *         ::SMTP_ERR_NOMEM; ::SMTP_ERR_DNS.
   */
  int (*query)(const char *name, unsigned int type, void *user_data);
  /**
   * Fill up to @p cap descriptors to wait on.
   * @return how many were filled (0..cap; 0 is fine: wait for the deadline only).
   */
  int (*fds)(smtp_resolver_fd *fds, size_t cap, void *user_data);
  /**
   * @return milliseconds until the adapter must process again even if no
   *         descriptor is ready (0: now), or -1 when nothing is pending.
   */
  int (*timeout_ms)(void *user_data);
  /**
   * Do the work: read what is ready (@p fds as returned by @c fds, with
   * @c revents filled; @p n may be 0), send retries, expire deadlines.
   * @return 0 or ::SMTP_ERR_DNS (the adapter is unusable).
   */
  int (*process)(const smtp_resolver_fd *fds, size_t n, void *user_data);
  /**
   * The answer to query @p id.
   * @return 0 (filled @p out); ::SMTP_ERR_WOULDBLOCK (still pending);
   *         ::SMTP_ERR_NOT_FOUND (no such query).
   */
  int (*answer)(int id, smtp_resolver_answer *out, void *user_data);
  /** Forget query @p id (cancel it if pending; free its answer). */
  void (*forget)(int id, void *user_data);
  /** Release the adapter; called once, last. May be NULL. */
  void (*close)(void *user_data);
} smtp_resolver;

/**
 * @brief Check that @p r is usable: known version, every function but
 *        @c close set.
 * @param r the adapter.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_UNSUPPORTED (version).
 */
SMTP_API int smtp_resolver_check(const smtp_resolver *r);

/**
 * @brief Close an adapter (calls its @c close) and clear the struct.
 * @param r the adapter, or NULL.
 */
SMTP_API void smtp_resolver_close(smtp_resolver *r);

/**
 * @brief Wait once, at most @p max_ms milliseconds (-1: up to the
 *        adapter's own deadline), on the adapter's descriptors, then let it
 *        process. Blocking helper for programs without an event loop.
 * @param r      the adapter.
 * @param max_ms upper bound of the wait.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_DNS (adapter failure
 *         or poll(2) error).
 */
SMTP_API int smtp_resolver_wait(const smtp_resolver *r, int max_ms);

/**
 * @brief One DNS record of a parsed answer. Which fields mean something
 *        depends on @c type; the rest are 0/NULL. Strings and data belong
 *        to the ::smtp_dns_result.
 */
typedef struct smtp_dns_rr {
  unsigned int type;           /**< SMTP_DNS_*. */
  uint32_t ttl;                /**< Time to live in seconds. */
  unsigned int preference;     /**< MX: the preference (lower first). */
  const char *target;          /**< MX exchange or CNAME target: lower-case presentation form without the final dot ("" for the root, i.e. a null MX). */
  unsigned char addr[16];      /**< A (4 octets) or AAAA (16 octets), network order. */
  unsigned int addr_len;       /**< 4, 16 or 0. */
  unsigned int usage;          /**< TLSA: certificate usage (RFC 6698 2.1.1). */
  unsigned int selector;       /**< TLSA: selector (0 full certificate, 1 SubjectPublicKeyInfo). */
  unsigned int matching;       /**< TLSA: matching type (0 exact, 1 SHA-256, 2 SHA-512). */
  const unsigned char *data;   /**< TLSA: the association data; TXT: the character-strings joined. */
  size_t data_len;             /**< Octets in @c data. */
  uint64_t reserved[2];        /**< Zero; fields are only appended. */
} smtp_dns_rr;

/** @brief A parsed answer (opaque). */
typedef struct smtp_dns_result smtp_dns_result;

/**
 * @brief Parse a DNS answer to the question (@p qname, @p qtype).
 *
 * Checks the header, that the question section is that question, and every
 * resource record's bounds (compression pointers must point backwards, so
 * no loop is possible). The CNAME chain in the answer section is followed
 * from @p qname (at most 16 links; a name seen twice is a loop:
 * ::SMTP_DNS_MALFORMED) and the records of @p qtype owned by its last name
 * are kept, in answer order. NXDOMAIN, SERVFAIL and the like become the
 * result's status; only an allocation failure or a bad argument fails the
 * call.
 *
 * @param wire      the message; not kept.
 * @param len       its length.
 * @param qname     the name asked for (presentation form).
 * @param qtype     the type asked for.
 * @param security  SMTP_DNS_SEC_* as the adapter reported it.
 * @param out       receives the result (free with smtp_dns_result_del()).
 * @param mem       allocator (NULL: default); copied.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_dns_parse(const unsigned char *wire, size_t len, const char *qname,
                            unsigned int qtype, unsigned int security, smtp_dns_result **out,
                            const smtp_mem *mem);

/**
 * @brief A result for an answer that never came (timeout, network error).
 * @param status ::SMTP_DNS_TEMPFAIL, ::SMTP_DNS_TIMEOUT, ::SMTP_DNS_BOGUS, ...
 * @param qname  the name asked for (copied).
 * @param out    receives the result.
 * @param mem    allocator (NULL: default).
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_dns_result_failed(int status, const char *qname, smtp_dns_result **out,
                                    const smtp_mem *mem);

/**
 * @brief Free a result. @param r the result, or NULL.
 */
SMTP_API void smtp_dns_result_del(smtp_dns_result *r);

/** @brief The outcome. @param r the result. @return a ::smtp_dns_status value (::SMTP_DNS_MALFORMED for NULL). */
SMTP_API int smtp_dns_result_status(const smtp_dns_result *r);

/**
 * @brief Whether the answer is DNSSEC-authenticated.
 * @param r the result.
 * @return 1 when secure (validated by the adapter, or the AD bit with
 *         ::SMTP_DNS_SEC_FROM_AD); 0 otherwise.
 */
SMTP_API int smtp_dns_result_authenticated(const smtp_dns_result *r);

/**
 * @brief The name the records belong to after the CNAME chain (the name
 *        asked for when there was none).
 * @param r the result.
 * @return lower-case presentation form, valid while @p r lives; "" for NULL.
 */
SMTP_API const char *smtp_dns_result_name(const smtp_dns_result *r);

/** @brief Number of records kept. @param r the result. @return the count (0 for NULL). */
SMTP_API size_t smtp_dns_result_count(const smtp_dns_result *r);

/**
 * @brief Record @p i (0-based).
 * @param r the result.
 * @param i the index.
 * @return the record, valid while @p r lives; NULL when out of range.
 */
SMTP_API const smtp_dns_rr *smtp_dns_result_record(const smtp_dns_result *r, size_t i);

/**
 * @brief Blocking convenience: query, wait (smtp_resolver_wait()) until the
 *        answer is there or @p timeout_ms passed, parse.
 * @param r          the adapter.
 * @param name, type the question.
 * @param timeout_ms limit (the result is ::SMTP_DNS_TIMEOUT past it).
 * @param out        receives the result.
 * @param mem        allocator (NULL: default).
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM; ::SMTP_ERR_DNS.
 */
SMTP_API int smtp_resolver_lookup(const smtp_resolver *r, const char *name, unsigned int type,
                                  int timeout_ms, smtp_dns_result **out, const smtp_mem *mem);

/**
 * @brief Fill @p out with a c-ares adapter (the default resolver).
 * @param out     receives the adapter.
 * @param server  "HOST", "HOST:PORT" or "[IPv6]:PORT" of the DNS server to
 *                ask (an address, not a name), or NULL for the system's
 *                (/etc/resolv.conf).
 * @param timeout_ms per-query limit (0: 5000); the answer is then
 *                ::SMTP_DNS_TIMEOUT.
 * @param mem     allocator for the adapter's own state and the answers it
 *                keeps (NULL: default). c-ares allocates its channel,
 *                sockets' buffers and queries in flight itself, with
 *                malloc unless the application called
 *                ares_library_init_mem() before the first adapter was made
 *                (process-wide; libsmtp does not call it, see the delivery
 *                page of the documentation).
 * @return 0; ::SMTP_ERR_UNSUPPORTED (built without c-ares);
 *         ::SMTP_ERR_INVALID_ARGUMENT (bad @p server); ::SMTP_ERR_NOMEM;
 *         ::SMTP_ERR_DNS (c-ares failed to start).
 */
SMTP_API int smtp_resolver_cares_new(smtp_resolver *out, const char *server, int timeout_ms,
                                     const smtp_mem *mem);

/**
 * @brief Fill @p out with a DNSSEC-validating adapter on libunbound.
 * @param out         receives the adapter.
 * @param server      "HOST[:PORT]" to forward to, or NULL for the system's
 *                    resolvers (resolv.conf).
 * @param anchor_file a trust anchor file (DS or DNSKEY records in zone file
 *                    format), or NULL for none (then every answer is
 *                    insecure).
 * @param timeout_ms  per-query limit (0: 10000).
 * @param mem         allocator for the adapter's own state and the answers
 *                    it keeps (NULL: default); libunbound allocates its
 *                    context, cache and validator state with malloc (it
 *                    has no allocator hook).
 * @return 0; ::SMTP_ERR_UNSUPPORTED (built without libunbound);
 *         ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM; ::SMTP_ERR_DNS
 *         (libunbound refused the server or the anchor file).
 */
SMTP_API int smtp_resolver_unbound_new(smtp_resolver *out, const char *server,
                                       const char *anchor_file, int timeout_ms,
                                       const smtp_mem *mem);

/** @name Flags of a scripted entry (smtp_resolver_scripted_add())
 * @{ */
#define SMTP_SCRIPTED_SECURE 1u    /**< Answer with the AD bit set (through a CNAME chain: only when every link has it too). */
#define SMTP_SCRIPTED_BOGUS 2u     /**< Report a validation failure (::SMTP_DNS_SEC_BOGUS). */
#define SMTP_SCRIPTED_SERVFAIL 4u  /**< Answer RCODE 2. */
#define SMTP_SCRIPTED_NXDOMAIN 8u  /**< Answer RCODE 3. */
#define SMTP_SCRIPTED_TIMEOUT 16u  /**< Never answer: ::SMTP_DNS_TIMEOUT after the delay. */
#define SMTP_SCRIPTED_MALFORMED 32u /**< Answer with a truncated message. */
/** @} */

/**
 * @brief Fill @p out with a scripted adapter: answers come from a table
 *        (smtp_resolver_scripted_add()), after a delay. It has no
 *        descriptors; smtp_resolver::timeout_ms tells when the next answer
 *        is due (CLOCK_MONOTONIC). A name not in the table is NXDOMAIN; a
 *        name in it without records of the type asked for is NODATA; a
 *        name with a CNAME entry is answered with the chain followed
 *        through the table (at most 20 links), as a recursive server
 *        does. Answers are real DNS messages, parsed like any other.
 * @param out receives the adapter.
 * @param mem allocator (NULL: default).
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_resolver_scripted_new(smtp_resolver *out, const smtp_mem *mem);

/**
 * @brief Add a record (or a failure) for (@p name, @p type) to a scripted
 *        adapter. Several calls for one pair add several records; flags
 *        and delay of all calls for the pair are combined (OR, maximum).
 * @param r        a scripted adapter.
 * @param name     owner name.
 * @param type     record type.
 * @param rdata    the record in presentation form: MX "10 mx.example.com"
 *                 ("0 ." is a null MX), A "192.0.2.1", AAAA "2001:db8::1",
 *                 CNAME "target.example", TXT the text (one string, split
 *                 into 255-octet character-strings), TLSA "3 1 1 <hex>";
 *                 or NULL to add only @p flags and @p delay_ms.
 * @param flags    SMTP_SCRIPTED_* bits.
 * @param delay_ms how long the answer takes.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (not a scripted adapter, bad
 *         rdata for the type); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_resolver_scripted_add(const smtp_resolver *r, const char *name,
                                        unsigned int type, const char *rdata,
                                        unsigned int flags, unsigned int delay_ms);

/**
 * @brief How many queries a scripted adapter received for @p type (0: all types).
 * @param r    a scripted adapter.
 * @param type a record type, or 0.
 * @return the count; ::SMTP_ERR_INVALID_ARGUMENT when @p r is not a scripted adapter.
 */
SMTP_API int smtp_resolver_scripted_queries(const smtp_resolver *r, unsigned int type);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_HAVE_DELIVERY */

#endif /* SMTP_RESOLVER_H */
