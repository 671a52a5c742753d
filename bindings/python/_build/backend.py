"""A minimal PEP 517 build backend for the pure-Python libsmtp package.

It uses only the standard library, so pip needs nothing from an index to
build the wheel (offline installs work). The wheel holds libsmtp/*.py and
py.typed; the C library itself comes from the system (the libsmtp1 package,
`meson install`, or LIBSMTP_PATH), found at import time.
"""

import base64
import hashlib
import os
import re
import tarfile
import zipfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "libsmtp"


def _version():
    text = open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8").read()
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def _package_files():
    pkg = os.path.join(HERE, NAME)
    for f in sorted(os.listdir(pkg)):
        if f.endswith(".py") or f == "py.typed":
            yield os.path.join(pkg, f), NAME + "/" + f


def _metadata(version):
    readme = open(os.path.join(HERE, "README.md"), encoding="utf-8").read()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
            "Summary: Python binding of libsmtp, an embeddable SMTP/LMTP protocol library\n"
            "License: MIT\nRequires-Python: >=3.9\n"
            "Classifier: Typing :: Typed\n"
            "Description-Content-Type: text/markdown\n\n%s" % (NAME, version, readme))


def _record_line(arc, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arc, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    dist = "%s-%s.dist-info" % (NAME, version)
    name = "%s-%s-py3-none-any.whl" % (NAME, version)
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w",
                         zipfile.ZIP_DEFLATED) as z:
        def add(arc, data):
            z.writestr(arc, data)
            records.append(_record_line(arc, data))
        for path, arc in _package_files():
            add(arc, open(path, "rb").read())
        add(dist + "/METADATA", _metadata(version).encode("utf-8"))
        add(dist + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: libsmtp-backend\n"
                             b"Root-Is-Purelib: true\nTag: py3-none-any\n")
        records.append(dist + "/RECORD,,")
        z.writestr(dist + "/RECORD", "\n".join(records) + "\n")
    return name


def build_sdist(sdist_directory, config_settings=None):
    version = _version()
    base = "%s-%s" % (NAME, version)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in ("pyproject.toml", "README.md", "_build/backend.py"):
            t.add(os.path.join(HERE, rel), base + "/" + rel)
        for path, arc in _package_files():
            t.add(path, base + "/" + arc)
        pkginfo = _metadata(version).encode("utf-8")
        info = tarfile.TarInfo(base + "/PKG-INFO")
        info.size = len(pkginfo)
        import io
        t.addfile(info, io.BytesIO(pkginfo))
    return name
