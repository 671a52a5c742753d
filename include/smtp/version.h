/**
 * @file version.h
 * @brief Compile-time version of the libsmtp API and ABI.
 *
 * The single source of the library's version numbers: meson.build reads
 * these defines back, and the shared library's SONAME is
 * `libsmtp.so.<SMTP_API_VERSION_MAJOR>`.
 */
#ifndef SMTP_VERSION_H
#define SMTP_VERSION_H

/** ABI major version: bumped on every incompatible change (SONAME). */
#define SMTP_API_VERSION_MAJOR 1
/** ABI minor version: bumped when symbols are added. */
#define SMTP_API_VERSION_MINOR 1
/** Patch level: bumped for fixes that change no interface. */
#define SMTP_API_VERSION_PATCH 0

/** The version as one integer: (major << 16) | (minor << 8) | patch. */
#define SMTP_API_VERSION                                                     \
  ((SMTP_API_VERSION_MAJOR << 16) | (SMTP_API_VERSION_MINOR << 8) |         \
   SMTP_API_VERSION_PATCH)

#endif /* SMTP_VERSION_H */
