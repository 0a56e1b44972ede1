"""Which browser origins may call a project, and the CORS headers its answers carry (pure: no I/O).

Appwrite's rules (``shared/appwrite-spec/CLIENT.md`` sections 6 and 7), kept here so that they are tested
with literals:

- An origin with a web scheme (``http``, ``https``, the browser-extension schemes, ``tauri``) passes when
  its host is an allowed hostname: the server's own domain (``localhost`` by default), every ``web``
  platform's hostname (``*.example.com`` wildcards too) and every native platform's key (bundle or package
  ID). When ``localhost`` is allowed, ``127.0.0.1`` and ``[::1]`` are too.
- Any other scheme passes when it is an allowed scheme, whatever its host: ``exp`` and
  ``appwrite-callback-<project>`` always, and one per native platform type (``appwrite-android`` for an
  Android app, ``appwrite-ios`` ... for an Apple one). A Flutter app on a phone is let in by the platform
  of its OS, not by its package name.
- A preflight (``OPTIONS``) always passes: the origin's own host is allowed while it is answered.
- ``Access-Control-Allow-Origin`` echoes the origin, lowercased, only when its host is allowed; never ``*``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from quixotic.platform_types import PLATFORM_SCHEMES, PLATFORM_TYPES, WEB_TYPES

__all__ = ["PLATFORM_TYPES", "Origins", "Platform", "cors_headers", "split_origin"]

WEB_SCHEMES: Final = frozenset(
    {"http", "https", "chrome-extension", "moz-extension", "safari-web-extension", "ms-browser-extension", "tauri"}
)
LOOPBACK_ALIASES: Final = ("127.0.0.1", "[::1]", "::1")


ALLOW_HEADERS: Final = ", ".join(
    (
        "Accept", "Origin", "Cookie", "Set-Cookie", "Content-Type", "Content-Range", "X-Appwrite-Project",
        "X-Appwrite-Key", "X-Appwrite-Dev-Key", "X-Appwrite-Locale", "X-Appwrite-Mode", "X-Appwrite-JWT",
        "X-Appwrite-Organization", "X-Appwrite-Response-Format", "X-Appwrite-Timeout", "X-Appwrite-ID",
        "X-Appwrite-Timestamp", "X-Appwrite-Session", "X-Appwrite-Platform", "X-Appwrite-Impersonate-User-Id",
        "X-Appwrite-Impersonate-User-Email", "X-Appwrite-Impersonate-User-Phone", "X-SDK-Version", "X-SDK-Name",
        "X-SDK-Language", "X-SDK-Platform", "X-SDK-GraphQL", "X-SDK-Profile", "Range", "Cache-Control", "Expires",
        "Pragma", "X-Fallback-Cookies", "X-Requested-With", "X-Forwarded-For", "X-Forwarded-User-Agent",
    )
)  # fmt: skip
# Headers on every answer, whatever the origin (the fallback cookie must be readable by cross-origin JS).
CORS_HEADERS: Final[tuple[tuple[str, str], ...]] = (
    ("Access-Control-Allow-Credentials", "true"),
    ("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE"),
    ("Access-Control-Allow-Headers", ALLOW_HEADERS),
    ("Access-Control-Expose-Headers", "X-Appwrite-Session, X-Fallback-Cookies"),
    ("Access-Control-Max-Age", "86400"),
    ("X-Content-Type-Options", "nosniff"),
)


@dataclass(frozen=True)
class Platform:
    """What of a project's platform the origin rules read."""

    type: str
    hostname: str = ""
    key: str = ""


@dataclass(frozen=True)
class Origins:
    """The hostnames and schemes one project lets in."""

    hostnames: frozenset[str]
    schemes: frozenset[str]

    @classmethod
    def of(cls, project: str, platforms: Iterable[Platform], server_hosts: Iterable[str] = ("localhost",)) -> Origins:
        hosts = {h.lower() for h in server_hosts if h}
        schemes: set[str] = set()
        if project and project != "console":
            schemes |= {"exp", f"appwrite-callback-{project}"}
            for platform in platforms:
                schemes.update(PLATFORM_SCHEMES.get(platform.type, ()))
                if platform.type in WEB_TYPES:
                    if platform.hostname:
                        hosts.add(platform.hostname.lower())
                elif platform.key:
                    hosts.add(platform.key.lower())
        return cls(frozenset(hosts), frozenset(schemes))

    def host_allowed(self, host: str) -> bool:
        host = host.lower()
        if host in self.hostnames:
            return True
        if "localhost" in self.hostnames and host in LOOPBACK_ALIASES:
            return True
        return any(_wildcard(pattern, host) for pattern in self.hostnames if pattern.startswith("*."))

    def allows(self, origin: str) -> bool:
        """Whether a request with this ``Origin`` (and no API key) may go on."""
        scheme, host = split_origin(origin)
        if scheme in WEB_SCHEMES:
            return bool(host) and self.host_allowed(host)
        return bool(scheme) and scheme in self.schemes

    def refusal(self, origin: str) -> str:
        """Appwrite's words for a refused origin, with what to do about it."""
        scheme, host = split_origin(origin)
        if scheme in WEB_SCHEMES:
            return (
                f"Invalid Origin. Register your new client ({host or origin}) as a new Web platform on your "
                "project console dashboard (locally: quixotic local platform add --type web --hostname "
                f"{host or 'HOST'} --project PROJECT)."
            )
        return (
            f"Invalid Scheme. The scheme used ({scheme or origin}) in the Origin ({origin}) is not supported. "
            "If you are using a custom scheme, please change it to `appwrite-callback-<PROJECT_ID>`, or add "
            "a platform of your app's OS to the project."
        )


def split_origin(origin: str) -> tuple[str, str]:
    """``(scheme, host)`` of an Origin header, lowercased; the host without its port."""
    try:
        parts = urlsplit(origin.strip())
        host = parts.hostname or ""
    except ValueError:
        return "", ""
    if ":" in host:  # an IPv6 literal: as Appwrite's hostname validator sees it
        host = f"[{host}]"
    return parts.scheme.lower(), host.lower()


def _wildcard(pattern: str, host: str) -> bool:
    """``*.example.com`` takes ``a.example.com`` and ``a.b.example.com``, not ``example.com`` itself."""
    suffix = pattern[1:]  # ".example.com"
    return host.endswith(suffix) and len(host) > len(suffix)


def cors_headers(origin: str | None, origins: Origins | None, preflight: bool) -> list[tuple[str, str]]:
    """The CORS headers of one answer: the fixed ones, plus Allow-Origin when the origin's host is allowed."""
    headers = list(CORS_HEADERS)
    if not origin:
        return headers
    _, host = split_origin(origin)
    if host and (preflight or (origins is not None and origins.host_allowed(host))):
        headers.append(("Access-Control-Allow-Origin", origin.strip().lower()))
    return headers
