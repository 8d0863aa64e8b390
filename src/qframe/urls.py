"""URLs that may carry credentials: find them, hide them, check a base URL.

A URL such as ``http://admin:pw@host:9200`` is a secret: nothing qframe logs, serves
(``/health``, ``/metrics``) or prints (``validate``, config errors) shows its
credentials: :func:`redact` replaces them with ``***``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["check_base_url", "has_credentials", "redact", "redact_text"]

# scheme://userinfo@ — userinfo has no "/", "@" or whitespace
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def has_credentials(url: str) -> bool:
    """True when ``url`` has a user (and maybe a password) before its host."""
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
    except ValueError:
        return "@" in url
    return parts.username is not None or parts.password is not None


def redact(url: str) -> str:
    """``http://***@host:9200/`` for ``http://admin:pw@host:9200/``; other URLs unchanged."""
    return redact_text(url)


def redact_text(text: str) -> str:
    """Every ``scheme://user:password@`` in ``text`` with its credentials replaced."""
    if "@" not in text:
        return text
    return _USERINFO.sub(r"\g<scheme>***@", text)


def check_base_url(url: str, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    """Why ``url`` cannot be a base URL (no host, a bad port, another scheme), or None."""
    full = url if "://" in url else f"http://{url}"
    try:
        parts = urlsplit(full)
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return f"not a URL ({exc})"
    del port
    if parts.scheme not in schemes:
        return f"scheme {parts.scheme!r} is not one of {', '.join(schemes)}"
    if not parts.hostname:
        return "no host"
    return None
