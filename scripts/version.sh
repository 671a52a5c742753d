#!/bin/sh
# Prints the version from include/smtp/version.h (the one source of it).
cd "$(dirname "$0")/.." || exit 1
awk '/define SMTP_API_VERSION_(MAJOR|MINOR|PATCH) /{v[$2]=$3} END{printf "%s.%s.%s\n", v["SMTP_API_VERSION_MAJOR"], v["SMTP_API_VERSION_MINOR"], v["SMTP_API_VERSION_PATCH"]}' include/smtp/version.h
