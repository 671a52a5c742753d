#!/usr/bin/env python3
"""The Doxygen HTML as a reader sees it.

usage: check_docs_browser.py DOXYGEN DOXYFILE OUTDIR

Runs Doxygen (the project's Doxyfile, output into OUTDIR), then:
- every internal link of every page resolves: the file exists and, for a
  link with a #fragment, the target page has that anchor;
- headless Chromium (Debian's chromium) renders the main page, the server
  and client header pages, and the guides: the DOM after scripts ran has
  the page title, the navigation tree and menu that Doxygen's JavaScript
  builds, and the expected headings;
- a screenshot of the main page (OUTDIR/mainpage.png, kept for a human
  look) is a real rendering: an image of the window size with text on it
  (many distinct colours, not a blank page).
Exit 77 (skipped) when Chromium is not installed.
"""
import html.parser
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.parse
import zlib

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--virtual-time-budget=3000"]


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.anchors = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.anchors.add(a[key])
        for key in ("href", "src"):
            v = a.get(key)
            if v and tag in ("a", "link", "script", "img", "iframe"):
                self.links.append(v)


def parse(path, cache):
    if path not in cache:
        p = Links()
        with open(path, encoding="utf-8", errors="replace") as f:
            p.feed(f.read())
        cache[path] = p
    return cache[path]


def check_links(html_dir):
    cache, bad, count = {}, [], 0
    for name in sorted(os.listdir(html_dir)):
        if not name.endswith(".html"):
            continue
        page = os.path.join(html_dir, name)
        for link in parse(page, cache).links:
            u = urllib.parse.urlsplit(link)
            if u.scheme or link.startswith("//") or link.startswith("javascript:"):
                continue                     # external: not checked (no network)
            count += 1
            target = os.path.normpath(os.path.join(html_dir, urllib.parse.unquote(u.path))) \
                if u.path else page
            if not os.path.exists(target):
                bad.append(f"{name}: {link} (no such file)")
                continue
            if u.fragment and target.endswith(".html"):
                if u.fragment not in parse(target, cache).anchors:
                    bad.append(f"{name}: {link} (no anchor #{u.fragment})")
    return count, bad


def chromium():
    for c in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(c)
        if p:
            return p
    return None


def dump_dom(browser, page, profile):
    r = subprocess.run([browser] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile,
                                                     "--dump-dom", "file://" + page],
                       capture_output=True, text=True, timeout=120)
    return r.stdout


def png_facts(path):
    """(width, height, distinct colours in a sample) of an 8-bit RGB(A) PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    w = h = ctype = 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), "unexpected PNG format"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    bpp = 4 if ctype == 6 else 3
    stride = w * bpp + 1
    colours = set()
    prev = bytearray(w * bpp)
    for y in range(h):
        line = bytearray(raw[y * stride + 1:(y + 1) * stride])
        f = raw[y * stride]
        for i in range(len(line)):       # undo the PNG row filter
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            for x in range(0, w, 3):
                colours.add(bytes(line[x * bpp:x * bpp + 3]))
        prev = line
    return w, h, len(colours)


def main():
    doxygen, doxyfile, out = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
    browser = chromium()
    if not browser:
        print("chromium not installed: skipped")
        return 77
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    conf = os.path.join(out, "Doxyfile")
    with open(conf, "w") as f:
        f.write(f"@INCLUDE = {doxyfile}\nOUTPUT_DIRECTORY = {out}\n")
    r = subprocess.run([doxygen, conf], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print(r.stdout[-2000:], r.stderr[-2000:])
        return 1
    html_dir = os.path.join(out, "html")
    failures = 0

    count, bad = check_links(html_dir)
    if bad:
        failures += 1
        print(f"FAIL links: {len(bad)} of {count} internal links do not resolve")
        for b in bad[:30]:
            print("   ", b)
    else:
        print(f"ok   links: {count} internal links resolve")

    pages = {"index.html": ["libsmtp"],
             "server_8h.html": ["server.h", "smtp_server_session_new"],
             "client_8h.html": ["client.h", "smtp_client_session_new"]}
    # The guides: every page listed on Doxygen's "Related Pages".
    for link in parse(os.path.join(html_dir, "pages.html"), {}).links:
        u = urllib.parse.urlsplit(link)
        if not u.scheme and u.path.endswith(".html") and u.path not in pages \
                and os.path.exists(os.path.join(html_dir, u.path)) and "_8h" not in u.path:
            pages[u.path] = []
    if len(pages) < 8:
        failures += 1
        print(f"FAIL pages: only {len(pages)} pages found to render")
    with tempfile.TemporaryDirectory() as profile:
        for name, words in pages.items():
            dom = dump_dom(browser, os.path.join(html_dir, name), profile)
            problems = []
            if "<title>" not in dom:
                problems.append("no title")
            # Doxygen's scripts fill the menu and the navigation tree.
            if not re.search(r'id="main-menu"[^>]*>\s*<li', dom):
                problems.append("menu not built by the page's scripts")
            if 'id="nav-tree-contents"' not in dom:
                problems.append("navigation tree missing")
            for w in words:
                if w not in dom:
                    problems.append(f"'{w}' not on the page")
            if problems:
                failures += 1
                print(f"FAIL render {name}: {'; '.join(problems)}")
            else:
                print(f"ok   render {name}")

        shot = os.path.join(out, "mainpage.png")
        subprocess.run([browser] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile,
                                                     "--window-size=1280,900",
                                                     "--screenshot=" + shot,
                                                     "file://" + os.path.join(html_dir,
                                                                              "index.html")],
                       capture_output=True, timeout=120)
    if not os.path.exists(shot):
        failures += 1
        print("FAIL screenshot: none written")
    else:
        w, h, colours = png_facts(shot)
        if (w, h) != (1280, 900) or colours < 20:
            failures += 1
            print(f"FAIL screenshot {shot}: {w}x{h}, {colours} colours (a blank page?)")
        else:
            print(f"ok   screenshot {shot}: {w}x{h}, {colours} colours sampled")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
