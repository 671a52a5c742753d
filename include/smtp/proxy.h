/**
 * @file proxy.h
 * @brief The PROXY protocol (HAProxy's "PROXY protocol" specification,
 *        versions 1 and 2): a sans-I/O reader for the server side and
 *        writers for the client side.
 *
 * A load balancer that forwards a TCP connection prefixes it with a header
 * naming the original client and the address it connected to. Version 1
 * is one text line of at most 107 octets, CRLF included:
 *
 * @verbatim
 *   PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n
 *   PROXY UNKNOWN\r\n
 * @endverbatim
 *
 * Version 2 is binary: a 12-octet signature, a version/command octet (high
 * nibble 2; command LOCAL 0 or PROXY 1), a family/transport octet
 * (UNSPEC 0, INET 1, INET6 2, UNIX 3; UNSPEC 0, STREAM 1, DGRAM 2), a
 * 16-bit length of what follows, the address block (12, 36 or 216 octets)
 * and type-length-value records (ALPN, AUTHORITY, SSL with its sub-records,
 * NETNS, ...).
 *
 * The reader (::smtp_proxy_reader) takes the header in pieces of any size,
 * consumes exactly its octets and never more (what follows belongs to the
 * next layer: TLS or the SMTP session), and never allocates: its state is a
 * fixed struct the caller places anywhere (the driver keeps it inside its
 * own allocation). Bounds: a version 1 line longer than 107 octets, a
 * version 2 header whose records overrun its declared length, or an
 * address block shorter than its family needs is refused with
 * ::SMTP_ERR_PROXY_HEADER, as is any other malformed form (wrong
 * signature, unknown version, command or family, addresses or ports that
 * do not parse). Records that do not fit the reader's 256-octet record
 * store are skipped (smtp_proxy_info::tlv_truncated counts them) but still
 * checked for framing.
 *
 * A header is only to be believed from a trusted proxy: check the
 * transport's peer against a list (smtp_cidr_list_match()) first; the
 * driver does (smtp_driver_set_proxy_reader()).
 */
#ifndef SMTP_PROXY_H
#define SMTP_PROXY_H

#include <smtp/common.h>
#include <smtp/endpoint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Reader flag: accept version 1 (text) headers. */
#define SMTP_PROXY_V1 1u
/** @brief Reader flag: accept version 2 (binary) headers. */
#define SMTP_PROXY_V2 2u

/** @brief Longest version 1 header, CRLF included. */
#define SMTP_PROXY_V1_MAX 107
/** @brief Octets of a version 2 header before its address block. */
#define SMTP_PROXY_V2_FIXED 16
/** @brief Octets the reader keeps of version 2 records. */
#define SMTP_PROXY_TLV_STORE 256

/** @brief Command LOCAL (v2): the proxy's own connection (health check); no addresses. */
#define SMTP_PROXY_CMD_LOCAL 0
/** @brief Command PROXY: a relayed connection. */
#define SMTP_PROXY_CMD_PROXY 1

/** @brief Transport not given (v1 UNKNOWN, v2 UNSPEC). */
#define SMTP_PROXY_TRANSPORT_UNSPEC 0
/** @brief Stream transport (TCP). */
#define SMTP_PROXY_TRANSPORT_STREAM 1
/** @brief Datagram transport (UDP). */
#define SMTP_PROXY_TRANSPORT_DGRAM 2

/** @brief Record types (PP2_TYPE_*). */
#define SMTP_PP2_TYPE_ALPN 0x01
/** @brief PP2_TYPE_AUTHORITY: the host name the client asked for (SNI). */
#define SMTP_PP2_TYPE_AUTHORITY 0x02
/** @brief PP2_TYPE_CRC32C: CRC-32C (Castagnoli) of the whole header computed with
 *  this record's 4 value octets zero, stored big-endian. The reader checks it
 *  (a mismatch, a length other than 4 or a second such record make the
 *  header malformed: ::SMTP_ERR_PROXY_HEADER; in a LOCAL header, whose
 *  records are skipped unread, it is not checked); smtp_proxy_write_v2()
 *  fills it in. */
#define SMTP_PP2_TYPE_CRC32C 0x03
/** @brief PP2_TYPE_NOOP: padding, ignored. */
#define SMTP_PP2_TYPE_NOOP 0x04
/** @brief PP2_TYPE_UNIQUE_ID: the proxy's connection identifier. */
#define SMTP_PP2_TYPE_UNIQUE_ID 0x05
/** @brief PP2_TYPE_SSL: client flags (1 octet), verify result (4 octets) and sub-records. */
#define SMTP_PP2_TYPE_SSL 0x20
/** @brief PP2_SUBTYPE_SSL_VERSION (inside ::SMTP_PP2_TYPE_SSL). */
#define SMTP_PP2_SUBTYPE_SSL_VERSION 0x21
/** @brief PP2_SUBTYPE_SSL_CN (inside ::SMTP_PP2_TYPE_SSL). */
#define SMTP_PP2_SUBTYPE_SSL_CN 0x22
/** @brief PP2_SUBTYPE_SSL_CIPHER (inside ::SMTP_PP2_TYPE_SSL). */
#define SMTP_PP2_SUBTYPE_SSL_CIPHER 0x23
/** @brief PP2_SUBTYPE_SSL_SIG_ALG (inside ::SMTP_PP2_TYPE_SSL). */
#define SMTP_PP2_SUBTYPE_SSL_SIG_ALG 0x24
/** @brief PP2_SUBTYPE_SSL_KEY_ALG (inside ::SMTP_PP2_TYPE_SSL). */
#define SMTP_PP2_SUBTYPE_SSL_KEY_ALG 0x25
/** @brief PP2_TYPE_NETNS: the network namespace name. */
#define SMTP_PP2_TYPE_NETNS 0x30

/** @brief PP2_CLIENT_SSL: the client connected over TLS (SSL record, client field). */
#define SMTP_PP2_CLIENT_SSL 0x01
/** @brief PP2_CLIENT_CERT_CONN: a certificate was presented on this connection. */
#define SMTP_PP2_CLIENT_CERT_CONN 0x02
/** @brief PP2_CLIENT_CERT_SESS: a certificate was presented in the TLS session. */
#define SMTP_PP2_CLIENT_CERT_SESS 0x04

/**
 * @brief The state of one reader: fixed size, no pointers to free. Place
 *        it anywhere (stack, inside a connection object) and set it up
 *        with smtp_proxy_reader_init(); its content is private.
 */
typedef struct smtp_proxy_reader {
  /** Private. */
  uint64_t opaque[96];
} smtp_proxy_reader;

/**
 * @brief What a complete header said.
 */
typedef struct smtp_proxy_info {
  /** 1 or 2. */
  uint32_t version;
  /** ::SMTP_PROXY_CMD_LOCAL or ::SMTP_PROXY_CMD_PROXY (v1 is always PROXY). */
  uint32_t command;
  /** `SMTP_PROXY_TRANSPORT_*`. */
  uint32_t transport;
  /** Octets the header took on the wire. */
  uint32_t header_len;
  /** Records skipped because the record store was full. */
  uint32_t tlv_truncated;
  /** Zero; room for later fields. */
  uint32_t reserved1[3];
  /** The original client (family ::SMTP_AF_NONE for LOCAL, UNKNOWN and
   *  UNSPEC; ::SMTP_AF_UNIX with the path from smtp_proxy_reader_unix_path()).
   *  Origin ::SMTP_ORIGIN_PROXY. */
  smtp_endpoint source;
  /** The address the client connected to (as @c source). */
  smtp_endpoint destination;
  /** Zero; room for later fields. */
  uint32_t reserved2[8];
} smtp_proxy_info;

/**
 * @brief Prepare (or reset) a reader.
 * @param r      the reader.
 * @param flags  ::SMTP_PROXY_V1 and/or ::SMTP_PROXY_V2; 0 means both.
 */
SMTP_API void smtp_proxy_reader_init(smtp_proxy_reader *r, unsigned int flags);

/**
 * @brief Give the reader the next octets of the connection.
 *
 * It consumes octets only up to the end of the header: when the header
 * completes inside @p data, the return value is smaller than @p len and
 * the rest belongs to the next layer. Errors are sticky.
 *
 * @param r     the reader.
 * @param data  octets (may be NULL when @p len is 0).
 * @param len   their count.
 * @return octets consumed (0 once the header is complete); then
 *         smtp_proxy_reader_done() tells whether it is. ::SMTP_ERR_PROXY_HEADER
 *         for a malformed, oversized or unaccepted header, or one whose
 *         ::SMTP_PP2_TYPE_CRC32C record does not match (the connection must
 *         be closed); ::SMTP_ERR_INVALID_ARGUMENT (NULL).
 */
SMTP_API smtp_ssize smtp_proxy_reader_feed(smtp_proxy_reader *r, const void *data, size_t len);

/**
 * @brief Whether the header is complete.
 * @param r the reader.
 * @return 1 complete; 0 more octets needed; the sticky error (negative).
 */
SMTP_API int smtp_proxy_reader_done(const smtp_proxy_reader *r);

/**
 * @brief The header's content.
 * @param r    a reader whose header is complete.
 * @param out  filled in.
 * @return 0; ::SMTP_ERR_INVALID_STATE (not complete);
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_proxy_reader_info(const smtp_proxy_reader *r, smtp_proxy_info *out);

/**
 * @brief Find the first record of a type. Sub-records of
 *        ::SMTP_PP2_TYPE_SSL are found by their own types
 *        (::SMTP_PP2_SUBTYPE_SSL_VERSION, ...).
 * @param r      a reader whose header is complete.
 * @param type   the record type.
 * @param value  receives a pointer into the reader (valid while it is unchanged).
 * @param len    receives the value's length.
 * @return 0; ::SMTP_ERR_NOT_FOUND; ::SMTP_ERR_INVALID_STATE;
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_proxy_reader_tlv(const smtp_proxy_reader *r, unsigned int type,
                                   const uint8_t **value, size_t *len);

/**
 * @brief The @p index-th record (0-based, in header order, top level only).
 * @param r      a reader whose header is complete.
 * @param index  which record.
 * @param type   receives its type.
 * @param value  receives a pointer into the reader.
 * @param len    receives its length.
 * @return 0; ::SMTP_ERR_NOT_FOUND past the last; ::SMTP_ERR_INVALID_STATE;
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_proxy_reader_tlv_at(const smtp_proxy_reader *r, unsigned int index,
                                      unsigned int *type, const uint8_t **value, size_t *len);

/**
 * @brief The socket path of a version 2 UNIX-family header.
 * @param r            a reader whose header is complete.
 * @param destination  0 for the source path, 1 for the destination path.
 * @param len          receives the path length (up to its first NUL, at most 108).
 * @return a pointer into the reader (not NUL-terminated when it fills 108
 *         octets), or NULL when the header is not complete or not UNIX family.
 */
SMTP_API const char *smtp_proxy_reader_unix_path(const smtp_proxy_reader *r, int destination,
                                                 size_t *len);

/**
 * @brief One record to append to a version 2 header.
 */
typedef struct smtp_proxy_tlv {
  /** Record type (0..255). */
  uint32_t type;
  /** Value length. */
  uint32_t len;
  /** Value octets (not copied). */
  const void *value;
} smtp_proxy_tlv;

/**
 * @brief Write a version 1 header. With @p src and @p dst both IP it is
 *        `PROXY TCP4|TCP6 src dst sport dport\r\n` (an IPv4 end next to an
 *        IPv6 one is written IPv4-mapped under TCP6), else `PROXY UNKNOWN\r\n`.
 * @param buf  destination (::SMTP_PROXY_V1_MAX octets always suffice; no NUL is written).
 * @param cap  its size.
 * @param src  the client (may be NULL: UNKNOWN).
 * @param dst  the server (may be NULL: UNKNOWN).
 * @return octets written; ::SMTP_ERR_BUFFER_TOO_SMALL; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_proxy_write_v1(char *buf, size_t cap, const smtp_endpoint *src,
                                 const smtp_endpoint *dst);

/**
 * @brief Write a version 2 header (STREAM transport). With @p command
 *        ::SMTP_PROXY_CMD_LOCAL, or endpoints that are not both IP, the
 *        family is UNSPEC and no address block is written; an IPv4 and an
 *        IPv6 endpoint are written as INET6 with the IPv4 one mapped
 *        (prefix 0:0:0:0:0:ffff/96).
 * @param buf      destination.
 * @param cap      its size (16 + 36 + the records always suffice).
 * @param command  ::SMTP_PROXY_CMD_LOCAL or ::SMTP_PROXY_CMD_PROXY.
 * @param src      the client (may be NULL with LOCAL).
 * @param dst      the server (may be NULL with LOCAL).
 * @param tlvs     records to append (may be NULL when @p ntlvs is 0). A
 *                 record of type ::SMTP_PP2_TYPE_CRC32C (length 4, value
 *                 not read, may be NULL) gets the header's checksum.
 * @param ntlvs    their count.
 * @return octets written; ::SMTP_ERR_BUFFER_TOO_SMALL; ::SMTP_ERR_INVALID_ARGUMENT
 *         (NULL, unknown command, a record type over 255, a header over
 *         65535 + 16 octets, a CRC32C record not 4 octets long or given twice).
 */
SMTP_API int smtp_proxy_write_v2(void *buf, size_t cap, unsigned int command,
                                 const smtp_endpoint *src, const smtp_endpoint *dst,
                                 const smtp_proxy_tlv *tlvs, size_t ntlvs);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_PROXY_H */
