"""The session cookies and the ``X-Fallback-Cookies`` header, as Appwrite writes them.

On session creation two cookies carry the store string: ``a_session_<project>`` (``SameSite=None``) and
``a_session_<project>_legacy`` (no SameSite, for old browsers), both ``path=/``, ``httponly``, ``secure``
only over https, with the session's expiry, and a ``domain`` of ``.<host>`` unless the host is
``localhost`` or an IP address. Logout sends both empty, expired an hour ago.

Browsers drop ``SameSite=None`` cookies without ``Secure`` on cross-site requests, so whenever the
request's Origin (or Referer) is not on the API host's registrable domain Appwrite also answers the
session in the ``X-Fallback-Cookies`` header (``{"a_session_<project>": "<store string>"}``, or ``[]`` on
logout), which the web SDK keeps in localStorage and sends back. The registrable domain is taken as the
host's last two labels (no public-suffix list here): enough for ``localhost``, IPs and ordinary hosts.
"""

from __future__ import annotations

import ipaddress
import json
import time
from email.utils import formatdate
from typing import Final
from urllib.parse import quote, urlsplit

from quixotic.timestamps import parse_iso

FALLBACK_HEADER: Final = "X-Fallback-Cookies"


def cookie_name(project: str) -> str:
    return f"a_session_{project}"


def _is_ip_or_localhost(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def cookie_domain(host: str) -> str | None:
    """``.<host>``, or None (no domain attribute) for localhost and IP addresses."""
    return None if not host or _is_ip_or_localhost(host) else f".{host}"


def _registrable(host: str) -> str:
    labels = [label for label in host.lower().split(".") if label]
    return ".".join(labels[-2:])


def domain_verified(host: str, origin: str | None, referer: str | None) -> bool:
    """Whether the page that calls shares the API's registrable domain, so that cookies alone will do."""
    source = origin or referer or ""
    page = (urlsplit(source).hostname or "") if source else ""
    if not page or _is_ip_or_localhost(host) or _is_ip_or_localhost(page):
        return False
    return _registrable(page) == _registrable(host)


def _cookie(name: str, value: str, expires: float, host: str, https: bool, same_site: str | None) -> str:
    parts = [f"{name}={quote(value, safe='')}", f"expires={formatdate(expires, usegmt=True)}", "path=/"]
    domain = cookie_domain(host)
    if domain:
        parts.append(f"domain={domain}")
    if https:
        parts.append("secure")
    parts.append("httponly")
    if same_site:
        parts.append(f"samesite={same_site}")
    return "; ".join(parts)


def session_cookies(project: str, encoded: str, expire_iso: str, host: str, https: bool) -> list[str]:
    """The two ``Set-Cookie`` values of a new session: legacy first, then the SameSite=None one."""
    expires = parse_iso(expire_iso).timestamp()
    name = cookie_name(project)
    return [
        _cookie(f"{name}_legacy", encoded, expires, host, https, None),
        _cookie(name, encoded, expires, host, https, "None"),
    ]


def clearing_cookies(project: str, host: str, https: bool) -> list[str]:
    """The two ``Set-Cookie`` values that log a browser out: empty, expired an hour ago."""
    expires = time.time() - 3600
    name = cookie_name(project)
    return [
        _cookie(f"{name}_legacy", "", expires, host, https, None),
        _cookie(name, "", expires, host, https, "None"),
    ]


def fallback_value(project: str, encoded: str | None) -> str:
    """The ``X-Fallback-Cookies`` answer: the session under its cookie name, or ``[]`` on logout."""
    if encoded is None:
        return "[]"
    return json.dumps({cookie_name(project): encoded}, separators=(",", ":"))  # compact, as PHP's json_encode
