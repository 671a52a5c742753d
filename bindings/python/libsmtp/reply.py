"""SMTP replies as the binding hands them around (RFC 5321 4.2, RFC 3463)."""

import ctypes


def _decode(b):
    # Reply text is ASCII, or UTF-8 under SMTPUTF8 (RFC 6531 3.7.4); never
    # fail on a peer's bytes.
    return b.decode("utf-8", "surrogateescape")


class Reply:
    """A reply: three-digit ``code``, optional enhanced status code
    ("5.1.1", RFC 3463) and text lines.

    As an answer from a server callback, ``text`` may be None (the session's
    default text for the event), a string (lines separated by LF) or a list
    of lines; ``enhanced`` None lets the session pick its default.
    """

    __slots__ = ("code", "enhanced", "lines", "_default_text")

    def __init__(self, code, text=None, enhanced=None):
        self.code = int(code)
        self.enhanced = enhanced
        self._default_text = text is None
        if text is None:
            self.lines = []
        elif isinstance(text, (list, tuple)):
            self.lines = [str(t) for t in text]
        else:
            self.lines = str(text).split("\n")

    @property
    def text(self):
        """All lines joined with LF ("" when none)."""
        return "\n".join(self.lines)

    @property
    def positive(self):
        """True for 2yz and 3yz replies."""
        return 200 <= self.code < 400

    @property
    def is_success(self):
        """True for 2yz replies."""
        return 200 <= self.code < 300

    @property
    def transient(self):
        """True for 4yz replies."""
        return 400 <= self.code < 500

    @property
    def permanent(self):
        """True for 5yz replies."""
        return 500 <= self.code < 600

    def c_text(self):
        """Text for smtp_server_session_reply(): None for the default."""
        if self._default_text:
            return None
        return self.text.encode("utf-8")

    def __eq__(self, other):
        if not isinstance(other, Reply):
            return NotImplemented
        return (self.code, self.enhanced, self.lines) == (other.code, other.enhanced, other.lines)

    def __repr__(self):
        return "Reply(%d, %r, enhanced=%r)" % (self.code, self.text, self.enhanced)

    def __str__(self):
        head = "%d %s" % (self.code, self.enhanced) if self.enhanced else str(self.code)
        return "%s %s" % (head, self.text) if self.lines else head

    @classmethod
    def from_c(cls, ptr):
        """Copy a ``const smtp_reply *`` (None for NULL)."""
        if not ptr:
            return None
        r = ptr.contents
        lines = [_decode(ctypes.string_at(r.lines[i].ptr, r.lines[i].len) if r.lines[i].len else b"")
                 for i in range(r.nlines)]
        enh = None
        if r.has_enhanced:
            enh = "%d.%d.%d" % (r.enhanced.cls, r.enhanced.subject, r.enhanced.detail)
        return cls(r.code, lines, enh)


def as_reply(value):
    """Turn a callback's answer into a Reply: a Reply, an int code, or a
    tuple (code,), (code, text) or (code, text, enhanced)."""
    if isinstance(value, Reply):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Reply(value)
    if isinstance(value, tuple) and 1 <= len(value) <= 3:
        return Reply(*value)
    raise TypeError("not a reply: %r" % (value,))
