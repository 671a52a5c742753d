/**
 * @file smtp.h
 * @brief Umbrella header: includes every public libsmtp header.
 */
#ifndef SMTP_SMTP_H
#define SMTP_SMTP_H

#include <smtp/version.h>
#include <smtp/common.h>
#include <smtp/reply.h>
#include <smtp/address.h>
#include <smtp/ext.h>
#include <smtp/data.h>
#include <smtp/sasl.h>
#include <smtp/server.h>
#include <smtp/client.h>
#include <smtp/io.h>
#include <smtp/tls.h>
#include <smtp/driver.h>
#include <smtp/endpoint.h>
#include <smtp/proxy.h>
#include <smtp/xclient.h>
#include <smtp/script.h>
#include <smtp/capture.h>
#include <smtp/resolver.h>
#include <smtp/delivery.h>

#endif /* SMTP_SMTP_H */
