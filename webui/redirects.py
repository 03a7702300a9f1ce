"""Where the appliance may send a browser after a form: its own pages only."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def safe_local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None.

    Browsers drop tabs and newlines from a Location and read a backslash as a slash, so
    `/\\t/evil.example` or `/\\\\evil.example` would leave the site; a `\\n` would also split
    the header. Whitespace is refused; a control character or a backslash, a leading `//`, a
    scheme or a host are refused also once percent-decoded.
    """
    if not target or not target.startswith("/"):
        return None
    if any(ch.isspace() for ch in target):
        return None
    # Decoded too: a percent-encoded space is an ordinary path, an encoded control character,
    # backslash or second slash is not.
    for text in (target, unquote(target)):
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in text):
            return None
        if text.startswith("//"):
            return None
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return None
    return target
