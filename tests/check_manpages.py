#!/usr/bin/env python3
"""Each tool's man page and its --help list the same options.

usage: check_manpages.py MAN_DIR TOOL...   (TOOL: path of a built program)

An option is a word that starts with two dashes: in --help, anywhere; in
the scdoc source, where it is set in bold (*--option*). The check fails,
naming them, when an option is in one and not in the other.
"""
import os
import re
import subprocess
import sys

OPT = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*")


def help_options(tool):
    r = subprocess.run([tool, "--help"], capture_output=True, text=True, timeout=30)
    return set(OPT.findall(r.stdout + r.stderr))


def man_options(page):
    text = open(page, encoding="utf-8").read()
    found = set()
    for bold in re.findall(r"\*([^*\n]+)\*", text):
        found.update(OPT.findall(bold))
    return found


def main():
    man_dir, tools = sys.argv[1], sys.argv[2:]
    failures = 0
    for tool in tools:
        name = os.path.basename(tool)
        page = os.path.join(man_dir, name + ".1.scd")
        if not os.path.exists(page):
            print(f"FAIL {name}: no man page {page}")
            failures += 1
            continue
        h, m = help_options(tool), man_options(page)
        if h != m:
            failures += 1
            if h - m:
                print(f"FAIL {name}: in --help, not in the man page: {' '.join(sorted(h - m))}")
            if m - h:
                print(f"FAIL {name}: in the man page, not in --help: {' '.join(sorted(m - h))}")
        else:
            print(f"ok   {name}: {len(h)} options")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
