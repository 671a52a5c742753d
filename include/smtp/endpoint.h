/**
 * @file endpoint.h
 * @brief Network endpoints (address and port) of a connection, and lists
 *        of trusted source networks (CIDR).
 *
 * A session knows the client's and the server's endpoint of its
 * connection: the driver records them from the socket, an application that
 * does its own I/O sets them, and a PROXY protocol header (proxy.h) or an
 * XCLIENT command replaces them with the ones a trusted proxy reports.
 * Every callback can read them (smtp_server_session_addr(),
 * smtp_client_session_addr()).
 *
 * ::smtp_endpoint is a plain struct of fixed-width fields (no pointers), so
 * bindings can declare it directly; its reserved octets are zero and keep
 * room for later fields.
 */
#ifndef SMTP_ENDPOINT_H
#define SMTP_ENDPOINT_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief smtp_endpoint::family: unknown or not applicable. */
#define SMTP_AF_NONE 0
/** @brief smtp_endpoint::family: a local (UNIX domain) socket; no address bytes are kept. */
#define SMTP_AF_UNIX 1
/** @brief smtp_endpoint::family: IPv4; smtp_endpoint::addr holds 4 octets. */
#define SMTP_AF_INET 4
/** @brief smtp_endpoint::family: IPv6; smtp_endpoint::addr holds 16 octets. */
#define SMTP_AF_INET6 6

/** @brief smtp_endpoint::origin: not set. */
#define SMTP_ORIGIN_NONE 0
/** @brief smtp_endpoint::origin: the transport (the socket's own addresses). */
#define SMTP_ORIGIN_TRANSPORT 1
/** @brief smtp_endpoint::origin: set by the application. */
#define SMTP_ORIGIN_APPLICATION 2
/** @brief smtp_endpoint::origin: from a PROXY protocol header. */
#define SMTP_ORIGIN_PROXY 3
/** @brief smtp_endpoint::origin: from an XCLIENT command. */
#define SMTP_ORIGIN_XCLIENT 4
/** @brief smtp_endpoint::origin: from an XFORWARD command. */
#define SMTP_ORIGIN_XFORWARD 5

/**
 * @brief One end of a connection (32 octets).
 */
typedef struct smtp_endpoint {
  /** ::SMTP_AF_NONE, ::SMTP_AF_UNIX, ::SMTP_AF_INET or ::SMTP_AF_INET6. */
  uint16_t family;
  /** Port in host byte order (0 when unknown). */
  uint16_t port;
  /** Where the value came from: an `SMTP_ORIGIN_*` constant. */
  uint32_t origin;
  /** Address in network byte order: 4 octets for IPv4, 16 for IPv6, the rest zero. */
  uint8_t addr[16];
  /** Zero; room for later fields. */
  uint8_t reserved[8];
} smtp_endpoint;

/** @brief Which endpoint of a session: the client's (the connecting side). */
#define SMTP_ADDR_CLIENT 0
/** @brief Which endpoint of a session: the server's (the address the client connected to). */
#define SMTP_ADDR_SERVER 1
/** @brief Which endpoint of a session (server role): the transport's own
 *  peer, kept when a PROXY header, XCLIENT or XFORWARD replaced the client
 *  address (family ::SMTP_AF_NONE while the client address is the
 *  transport's). */
#define SMTP_ADDR_PEER 2

/** @brief Longest text smtp_endpoint_format() writes, NUL included ("IPv6:" prefix and a full IPv6 text form). */
#define SMTP_ENDPOINT_TEXT_MAX 52

/**
 * @brief Fill @p ep from a POSIX socket address (`struct sockaddr_in`,
 *        `sockaddr_in6` or `sockaddr_un`, as getpeername(2) returns it).
 *        An IPv4-mapped IPv6 address (prefix 0:0:0:0:0:ffff/96) is recorded as IPv4.
 * @param ep     receives the endpoint (origin ::SMTP_ORIGIN_TRANSPORT).
 * @param sa     the socket address.
 * @param salen  its length.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL, too short);
 *         ::SMTP_ERR_UNSUPPORTED (another address family).
 */
SMTP_API int smtp_endpoint_from_sockaddr(smtp_endpoint *ep, const void *sa, size_t salen);

/**
 * @brief Fill @p ep from the text form of an IPv4 address (dotted quad) or
 *        an IPv6 address (RFC 4291 2.2, optionally with the `IPv6:` prefix
 *        of RFC 5321 4.1.3, any case) and a port.
 * @param ep    receives the endpoint (origin ::SMTP_ORIGIN_APPLICATION).
 * @param text  the address; @p len octets (need not be NUL-terminated).
 * @param len   its length.
 * @param port  0..65535.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL, port out of range);
 *         ::SMTP_ERR_SYNTAX (not an address).
 */
SMTP_API int smtp_endpoint_parse(smtp_endpoint *ep, const char *text, size_t len,
                                 unsigned int port);

/**
 * @brief Write the address of @p ep as text, NUL-terminated: dotted quad
 *        for IPv4, RFC 5952 form for IPv6 (no prefix), "unix" for a local
 *        socket, "unknown" for ::SMTP_AF_NONE.
 * @param ep   the endpoint.
 * @param buf  destination (::SMTP_ENDPOINT_TEXT_MAX octets always suffice).
 * @param len  size of @p buf.
 * @return the text length; ::SMTP_ERR_INVALID_ARGUMENT;
 *         ::SMTP_ERR_BUFFER_TOO_SMALL.
 */
SMTP_API int smtp_endpoint_format(const smtp_endpoint *ep, char *buf, size_t len);

/** @brief A list of trusted networks (opaque). */
typedef struct smtp_cidr_list smtp_cidr_list;

/**
 * @brief Create an empty list.
 * @param out  receives the list.
 * @param mem  allocator (NULL: default); copied.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_cidr_list_new(smtp_cidr_list **out, const smtp_mem *mem);

/**
 * @brief Free a list.
 * @param l the list, or NULL (nothing happens).
 */
SMTP_API void smtp_cidr_list_del(smtp_cidr_list *l);

/**
 * @brief Add a network: `ADDR` (a single host) or `ADDR/PREFIX`, IPv4
 *        (`192.0.2.0/24`) or IPv6 (`2001:db8::/32`), NUL-terminated. Bits
 *        below the prefix are ignored.
 * @param l     the list.
 * @param cidr  the network.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL); ::SMTP_ERR_SYNTAX (not an
 *         address, prefix out of range, trailing text); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_cidr_list_add(smtp_cidr_list *l, const char *cidr);

/**
 * @brief Whether @p ep lies in one of the list's networks. An IPv4-mapped
 *        IPv6 address is matched as IPv4; a local (UNIX domain) endpoint
 *        matches when the list holds the entry `unix` (smtp_cidr_list_add()
 *        accepts it).
 * @param l   the list (NULL: an empty list).
 * @param ep  the endpoint.
 * @return 1 when it matches, else 0.
 */
SMTP_API int smtp_cidr_list_match(const smtp_cidr_list *l, const smtp_endpoint *ep);

/**
 * @brief How many networks the list holds.
 * @param l the list (NULL: 0).
 * @return the count.
 */
SMTP_API size_t smtp_cidr_list_count(const smtp_cidr_list *l);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_ENDPOINT_H */
