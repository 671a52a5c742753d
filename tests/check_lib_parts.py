#!/usr/bin/env python3
"""Every C file in lib/ belongs to a part of the build (lib/meson.build
picks the parts by file name; docs/footprint.md): a file that no list
names would never be compiled, in any configuration. Prints each file's
parts (core when it has none) and fails on a file that is not listed.
usage: check_lib_parts.py LIBDIR FILE=PARTS..."""
import os
import sys

libdir, *pairs = sys.argv[1:]
parts = dict(p.split("=", 1) for p in pairs)
bad = 0
for f in sorted(os.listdir(libdir)):
    if not f.endswith(".c"):
        continue
    if f not in parts:
        print(f"{f}: in no list of lib/meson.build (add it to core_names)")
        bad += 1
    else:
        print(f"{f}: {parts[f]}")
sys.exit(1 if bad else 0)
