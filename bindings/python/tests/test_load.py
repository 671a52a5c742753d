"""Loading the library: search order, the run-time ABI check
(smtp_version_check), struct layouts, prototypes against the ABI list,
error codes against smtp_strerror()."""

import ctypes
import ctypes.util
import os
import re
import subprocess
import sys
import unittest

import support  # noqa: F401  (puts the package on sys.path)
import libsmtp
from libsmtp import _ffi, errors


def header_version():
    with open(os.path.join(support.SOURCE_ROOT, "include", "smtp", "version.h")) as f:
        text = f.read()
    return tuple(int(re.search(r"#define SMTP_API_VERSION_%s\s+(\d+)" % p, text).group(1))
                 for p in ("MAJOR", "MINOR", "PATCH"))


class TestLoad(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = libsmtp.load()
        cls.path = libsmtp.loaded_path()

    def test_loaded_from_env(self):
        env = os.environ.get("LIBSMTP_PATH")
        if env:
            self.assertEqual(self.path, env)
        self.assertTrue(os.path.exists(self.path))

    def test_version_matches_header(self):
        major, minor, patch = header_version()
        self.assertEqual(libsmtp.version(), (major, minor, patch))
        self.assertEqual(libsmtp.version_string(), "%d.%d.%d" % (major, minor, patch))
        # The binding was written for this major version and at most this
        # minor one (a library with a newer minor version stays usable).
        self.assertEqual(libsmtp.ABI_MAJOR, major)
        self.assertLessEqual(libsmtp.ABI_MINOR, minor)

    def test_version_check_rules(self):
        major, minor, _ = libsmtp.version()
        check = self.lib.smtp_version_check
        self.assertEqual(check(major, minor), 0)
        if minor > 0:
            self.assertEqual(check(major, minor - 1), 0)      # older minor: compatible
        self.assertEqual(check(major, minor + 1), errors.ERR_UNSUPPORTED)  # needs newer
        self.assertEqual(check(major + 1, 0), errors.ERR_UNSUPPORTED)      # other major
        if major > 0:
            self.assertEqual(check(major - 1, minor), errors.ERR_UNSUPPORTED)

    def test_refuses_other_major(self):
        with self.assertRaises(libsmtp.LibraryVersionError) as cm:
            _ffi._open(self.path, required=(libsmtp.ABI_MAJOR + 1, 0))
        self.assertIn("needs ABI %d.x" % (libsmtp.ABI_MAJOR + 1), str(cm.exception))

    def test_refuses_older_minor(self):
        # a minor version above the loaded library's (the binding's own
        # ABI_MINOR may be older than the library it loads)
        with self.assertRaises(libsmtp.LibraryVersionError):
            _ffi._open(self.path, required=(libsmtp.ABI_MAJOR, libsmtp.version()[1] + 1))

    def test_refuses_a_library_that_is_not_libsmtp(self):
        libc = ctypes.util.find_library("c")
        if not libc:
            self.skipTest("no libc name")
        with self.assertRaises(libsmtp.LibraryVersionError):
            _ffi._open(libc)

    def test_missing_file(self):
        with self.assertRaises(libsmtp.LibraryNotFound):
            _ffi._open("/nonexistent/libsmtp.so")

    def test_second_load_with_another_path(self):
        self.assertIs(libsmtp.load(self.path), self.lib)
        with self.assertRaises(RuntimeError):
            libsmtp.load("/nonexistent/other/libsmtp.so")

    def _child(self, code, **env):
        e = dict(os.environ)
        e.update(env)
        e["PYTHONPATH"] = os.path.dirname(support.HERE)
        return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True,
                              text=True, timeout=60)

    def test_env_path_that_does_not_exist(self):
        r = self._child("import libsmtp; libsmtp.version()", LIBSMTP_PATH="/nonexistent/libsmtp.so")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("LibraryNotFound", r.stderr)
        self.assertIn("LIBSMTP_PATH", r.stderr)

    def test_build_tree_and_find_library_fallbacks(self):
        # Without LIBSMTP_PATH the package looks in the build trees of this
        # source tree, then asks ctypes.util.find_library().
        r = self._child("import libsmtp; libsmtp.version(); print(libsmtp.loaded_path())",
                        LIBSMTP_PATH="")
        if r.returncode != 0:
            self.assertIn("LibraryNotFound", r.stderr)
        else:
            self.assertTrue(r.stdout.strip())

    def test_struct_layouts_match_the_headers(self):
        probe = os.environ.get("LIBSMTP_LAYOUT_PROBE")
        if not probe or not os.access(probe, os.X_OK):
            self.skipTest("layout probe not built")
        c = {}
        for line in subprocess.run([probe], capture_output=True, text=True, timeout=30,
                                   check=True).stdout.split("\n"):
            if line:
                name, value = line.split()
                c[name] = int(value)
        for cname, cls in _ffi.STRUCTS.items():
            self.assertEqual(ctypes.sizeof(cls), c[cname], "sizeof(%s)" % cname)
            for f in cls._fields_:
                key = "%s.%s" % (cname, f[0])
                self.assertEqual(getattr(cls, f[0]).offset, c[key], "offsetof " + key)

    def test_prototypes_are_in_the_abi_list(self):
        path = os.path.join(support.SOURCE_ROOT, "abi", "libsmtp.symbols")
        if not os.path.exists(path):
            self.skipTest("abi/libsmtp.symbols not found")
        with open(path) as f:
            names = {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}
        missing = sorted(set(_ffi._PROTOTYPES) - names)
        self.assertEqual(missing, [], "the binding calls symbols outside the recorded ABI")

    def test_error_table_matches_the_library(self):
        codes = [v for k, v in vars(errors).items() if k.startswith("ERR_") and isinstance(v, int)]
        self.assertGreater(len(codes), 60)
        for code in codes:
            if code == errors.ERR_FATAL:
                continue
            self.assertNotEqual(errors.strerror(code), "Unknown error", errors.name(code))
            self.assertEqual(errors.is_fatal(code), code <= errors.ERR_FATAL)
        self.assertEqual(errors.strerror(-12345), "Unknown error")
        e = errors.Error(errors.ERR_SYNTAX, "parsing")
        self.assertEqual(e.code, errors.ERR_SYNTAX)
        self.assertIn("ERR_SYNTAX", str(e))
        self.assertFalse(e.fatal)
        self.assertTrue(errors.Error(errors.ERR_PROTOCOL).fatal)


if __name__ == "__main__":
    support.main()
