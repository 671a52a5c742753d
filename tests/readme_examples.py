#!/usr/bin/env python3
"""Compiles and links every C block of README.md marked with
<!-- readme-example: NAME --> against the public headers and the shared
library, so the README's examples cannot rot.
usage: readme_examples.py README INCLUDE_DIRS(: between) LIBSMTP_SO OUTDIR CC [CC ARGS...]"""
import os
import re
import subprocess
import sys

readme, incdir, lib, outdir, *cc = sys.argv[1:]
text = open(readme, encoding="utf-8").read()
blocks = re.findall(r"<!-- readme-example: (\w+) -->\s*```c\n(.*?)```", text, re.S)
if len(blocks) < 2:
    print(f"expected at least 2 marked examples, found {len(blocks)}")
    sys.exit(1)
os.makedirs(outdir, exist_ok=True)
failed = 0
for name, code in blocks:
    src = os.path.join(outdir, f"readme_{name}.c")
    exe = os.path.join(outdir, f"readme_{name}")
    with open(src, "w", encoding="utf-8") as f:
        f.write(code)
    # incdir: the source include/ and the build's (generated <smtp/features.h>), os.pathsep between
    incs = [a for d in incdir.split(os.pathsep) for a in ("-I", d)]
    cmd = cc + ["-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-Werror"] + incs + \
        [src, "-o", exe, lib, "-Wl,-rpath," + os.path.dirname(lib)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(f"{name}: {'ok' if r.returncode == 0 else 'FAILED'}")
    if r.returncode != 0:
        print(" ".join(cmd))
        print(r.stdout + r.stderr)
        failed += 1
sys.exit(1 if failed else 0)
