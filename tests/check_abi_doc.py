#!/usr/bin/env python3
"""Every public struct has exactly one growth rule in docs/abi.md, and its
layout follows that rule: a struct listed with a reserved tail ends with a
`reserved` array, one listed with a version field starts with `version`.

Usage: check_abi_doc.py SOURCE_ROOT. Exit 0 when all hold, 1 with one line
per problem otherwise."""
import pathlib
import re
import sys


def public_structs(include_dir):
    """name -> list of member names, for every `typedef struct X { ... } X;`."""
    out = {}
    for h in sorted(include_dir.glob("*.h")):
        text = h.read_text()
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # comments
        text = re.sub(r"//[^\n]*", "", text)
        for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{", text):
            name, depth, i = m.group(1), 1, m.end()
            while depth and i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            body = text[m.end():i - 1]
            members = []
            for decl in body.split(";"):
                decl = decl.strip()
                if not decl:
                    continue
                fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", decl)  # function pointer
                if fp:
                    members.append(fp.group(1))
                    continue
                mm = re.search(r"(\w+)\s*(\[[^\]]*\])*\s*$", decl)
                if mm:
                    members.append(mm.group(1))
            out[name] = members
    return out


def doc_rows(doc):
    """rule title -> set of struct names named in that row's last column."""
    rows = {}
    for line in doc.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] == "Kind":
            continue
        rule = re.search(r"\*\*(.+?)\*\*", cells[1])
        rows[rule.group(1) if rule else cells[1]] = set(re.findall(r"`(smtp_\w+)`", cells[2]))
    return rows


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    structs = public_structs(root / "include" / "smtp")
    rows = doc_rows((root / "docs" / "abi.md").read_text())
    problems = []
    if len(structs) < 40:
        problems.append(f"only {len(structs)} public structs found: the header scan is broken")
    for name, members in sorted(structs.items()):
        where = [rule for rule, names in rows.items() if name in names]
        if len(where) != 1:
            problems.append(f"{name}: in {len(where)} rows of docs/abi.md (must be exactly 1)")
            continue
        rule = where[0].lower()
        if "reserved" in rule and not (members and members[-1].startswith("reserved")):
            problems.append(f"{name}: listed with a reserved tail, last member is {members[-1:]}")
        if "version" in rule and "frozen" not in rule and (not members or members[0] != "version"):
            problems.append(f"{name}: listed with a version field, first member is {members[:1]}")
    for rule, names in rows.items():
        for n in sorted(names - set(structs)):
            problems.append(f"docs/abi.md names {n} ({rule}), which is not a public struct")
    for p in problems:
        print(p)
    print(f"{len(structs)} public structs, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
