#!/usr/bin/env python3
"""Generate lib/ext_registry.c from the IANA "SMTP Service Extensions" registry.

Usage:
  gen_ext_registry.py [--xml PATH] [--out PATH]   write the C file
  gen_ext_registry.py [--xml PATH] --check PATH   exit 1 when PATH is stale,
                                                  77 (skip) when the XML is missing

Source: https://www.iana.org/assignments/smtp (registry id
"smtp-service-extensions"), a copy in /work/shared/spec/iana-smtp-registry.xml.

The registry's "SMTP Verbs" and "MAIL/RCPT parameters" columns hold only a
reference to the defining document (an <xref/>), or the words "None" /
"Not supplied", never the names themselves. So the names come from the
hand-written map VERBS_PARAMS below, for the extensions libsmtp implements,
each checked against its RFC; a registry value of "None" means none. The
"SMTP Service Extension Parameters" sub-registry (mail-parameters-3) is closed
and empty (folded into the "EHLO Parameters" column), so it adds nothing.

Python 3 standard library only.
"""
import argparse
import os
import sys
import xml.etree.ElementTree as ET

NS = {"i": "http://www.iana.org/assignments"}
DEFAULT_XML = "/work/shared/spec/iana-smtp-registry.xml"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib",
                           "ext_registry.c")

# keyword -> (verbs, MAIL params, RCPT params), space-separated.
VERBS_PARAMS = {
    "SIZE": ("", "SIZE", ""),                       # RFC 1870 6
    "8BITMIME": ("", "BODY", ""),                   # RFC 6152 2 (BODY=8BITMIME)
    "BINARYMIME": ("", "BODY", ""),                 # RFC 3030 3 (BODY=BINARYMIME)
    "CHUNKING": ("BDAT", "", ""),                   # RFC 3030 2
    "DSN": ("", "RET ENVID", "NOTIFY ORCPT"),       # RFC 3461 4
    "SMTPUTF8": ("", "SMTPUTF8", ""),               # RFC 6531 3.4
    "AUTH": ("AUTH", "AUTH", ""),                   # RFC 4954 3, 5
    "STARTTLS": ("STARTTLS", "", ""),               # RFC 3207 4
    "REQUIRETLS": ("", "REQUIRETLS", ""),           # RFC 8689 4
    "MT-PRIORITY": ("", "MT-PRIORITY", ""),         # RFC 6710 3
    "DELIVERBY": ("", "BY", ""),                    # RFC 2852 4
    "FUTURERELEASE": ("", "HOLDFOR HOLDUNTIL", ""), # RFC 4865 3
    "ETRN": ("ETRN", "", ""),                       # RFC 1985 4
    "RRVS": ("", "", "RRVS"),                       # RFC 7293 3
    "NO-SOLICITING": ("", "SOLICIT", ""),           # RFC 3865 2
    "MTRK": ("", "MTRK", ""),                       # RFC 3885 3
    "SUBMITTER": ("", "SUBMITTER", ""),             # RFC 4405 4
    "BURL": ("BURL", "", ""),                       # RFC 4468 3
}

# Keywords with an smtp_ext_flag (include/smtp/ext.h).
FLAGS = {
    "PIPELINING": "SMTP_EXT_PIPELINING",
    "SIZE": "SMTP_EXT_SIZE",
    "8BITMIME": "SMTP_EXT_8BITMIME",
    "BINARYMIME": "SMTP_EXT_BINARYMIME",
    "CHUNKING": "SMTP_EXT_CHUNKING",
    "SMTPUTF8": "SMTP_EXT_SMTPUTF8",
    "ENHANCEDSTATUSCODES": "SMTP_EXT_ENHANCEDSTATUSCODES",
    "DSN": "SMTP_EXT_DSN",
    "STARTTLS": "SMTP_EXT_STARTTLS",
    "AUTH": "SMTP_EXT_AUTH",
    "REQUIRETLS": "SMTP_EXT_REQUIRETLS",
    "LIMITS": "SMTP_EXT_LIMITS",
    "DELIVERBY": "SMTP_EXT_DELIVERBY",
    "MT-PRIORITY": "SMTP_EXT_MT_PRIORITY",
    "FUTURERELEASE": "SMTP_EXT_FUTURERELEASE",
    "ETRN": "SMTP_EXT_ETRN",
    "VRFY": "SMTP_EXT_VRFY",
    "EXPN": "SMTP_EXT_EXPN",
    "HELP": "SMTP_EXT_HELP",
    "RRVS": "SMTP_EXT_RRVS",
    "NO-SOLICITING": "SMTP_EXT_NO_SOLICITING",
    "MTRK": "SMTP_EXT_MTRK",
    "SUBMITTER": "SMTP_EXT_SUBMITTER",
    "BURL": "SMTP_EXT_BURL",
}


def xref_text(x):
    """How an <xref/> reads in running text."""
    typ, data = x.get("type"), x.get("data") or ""
    if x.text and x.text.strip():
        return x.text.strip()
    if typ == "rfc" and data.lower().startswith("rfc"):
        return "RFC " + data[3:]
    return data


def flat_text(elem):
    """Element text with <xref/> children rendered, whitespace collapsed."""
    parts = [elem.text or ""]
    for child in elem:
        if child.tag.endswith("}xref"):
            parts.append(xref_text(child))
        else:
            parts.append(flat_text(child))
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def load(xml_path):
    root = ET.parse(xml_path).getroot()
    reg = None
    for r in root.iter("{%s}registry" % NS["i"]):
        if r.get("id") == "smtp-service-extensions":
            reg = r
            break
    if reg is None:
        raise SystemExit("registry smtp-service-extensions not found in " + xml_path)
    entries = []
    for rec in reg.findall("i:record", NS):
        kw = (rec.findtext("i:value", default="", namespaces=NS)).strip().upper()
        desc_el = rec.find("i:description", NS)
        desc = flat_text(desc_el) if desc_el is not None else ""
        refs = [xref_text(x) for x in rec.findall("i:xref", NS)]
        ref = ", ".join(r for r in refs if r)
        verbs, mail, rcpt = VERBS_PARAMS.get(kw, ("", "", ""))
        entries.append({
            "keyword": kw, "description": desc, "reference": ref,
            "verbs": verbs, "mail": mail, "rcpt": rcpt,
            "flag": FLAGS.get(kw, "0"),
        })
    entries.sort(key=lambda e: e["keyword"].lower())
    for a, b in zip(entries, entries[1:]):
        if a["keyword"] == b["keyword"]:
            raise SystemExit("duplicate keyword " + a["keyword"])
    updated = root.findtext("i:updated", default="", namespaces=NS).strip()
    return entries, updated


def c_str(s):
    out = []
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= o < 127:
            out.append(ch)
        else:  # UTF-8 bytes as octal escapes: the C file stays ASCII
            out.extend("\\%03o" % b for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def render(entries, updated):
    lines = [
        "/* Generated by tools/gen_ext_registry.py from the IANA \"SMTP Service",
        " * Extensions\" registry (https://www.iana.org/assignments/smtp, updated %s)." % updated,
        " * Do not edit; re-run the script. */",
        "#include <string.h>",
        "",
        "#include <smtp/ext.h>",
        "",
        "#include \"internal.h\"",
        "",
        "/* Number of records in the registry. */",
        "#define SMTP__EXT_REGISTRY_COUNT %d" % len(entries),
        "",
        "/* Sorted by lower-cased keyword, the order smtp_ext_lookup() compares in. */",
        "static const smtp_ext_info ext_registry[SMTP__EXT_REGISTRY_COUNT] = {",
    ]
    for e in entries:
        lines.append("    {%s, %s, %s," % (c_str(e["keyword"]), c_str(e["description"]),
                                           c_str(e["reference"])))
        lines.append("     %s, %s, %s, %s}," % (c_str(e["verbs"]), c_str(e["mail"]),
                                               c_str(e["rcpt"]), e["flag"]))
    lines += [
        "};",
        "",
        "const smtp_ext_info *smtp_ext_lookup(const char *keyword, size_t len) {",
        "  size_t lo = 0, hi = SMTP__EXT_REGISTRY_COUNT;",
        "  if (!keyword) return NULL;",
        "  while (lo < hi) {",
        "    size_t mid = lo + (hi - lo) / 2;",
        "    const char *k = ext_registry[mid].keyword;",
        "    size_t klen = strlen(k), i, n = len < klen ? len : klen;",
        "    int cmp = 0;",
        "    for (i = 0; i < n && cmp == 0; i++)",
        "      cmp = smtp__lower((unsigned char)keyword[i]) - smtp__lower((unsigned char)k[i]);",
        "    if (cmp == 0 && len != klen) cmp = len < klen ? -1 : 1;",
        "    if (cmp == 0) return &ext_registry[mid];",
        "    if (cmp < 0)",
        "      hi = mid;",
        "    else",
        "      lo = mid + 1;",
        "  }",
        "  return NULL;",
        "}",
        "",
        "const smtp_ext_info *smtp_ext_registry(size_t *count) {",
        "  if (count) *count = SMTP__EXT_REGISTRY_COUNT;",
        "  return ext_registry;",
        "}",
        "",
    ]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xml", default=DEFAULT_XML)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", metavar="PATH",
                    help="compare with PATH instead of writing")
    args = ap.parse_args()
    if args.check and not os.path.exists(args.xml):
        print("registry XML not found: %s (skipped)" % args.xml)
        return 77
    text = render(*load(args.xml))
    if args.check:
        with open(args.check, encoding="utf-8") as f:
            if f.read() != text:
                print("%s is stale: run tools/gen_ext_registry.py" % args.check)
                return 1
        return 0
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
