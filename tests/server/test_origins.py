"""Appwrite's origin rules (CLIENT.md sections 6 and 7) on literals: no server, no store."""

from __future__ import annotations

import pytest

from quixotic.server.origins import CORS_HEADERS, Origins, Platform, cors_headers, split_origin

WEB = Platform("web", hostname="app.example.com")
WILD = Platform("web", hostname="*.preview.example.com")
ANDROID = Platform("flutter-android", key="com.quixotic.whisper")
IOS = Platform("apple-ios", key="com.quixotic.whisper.ios")


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("http://localhost:3000", True),  # the server's own domain
        ("http://127.0.0.1:5173", True),  # loopback aliases of localhost
        ("http://[::1]:8080", True),
        ("https://app.example.com", True),
        ("https://APP.Example.com", True),
        ("https://evil.example.com", False),
        ("https://app.example.com.evil.io", False),
        ("https://pr-12.preview.example.com", True),
        ("https://a.b.preview.example.com", True),
        ("https://preview.example.com", False),  # a wildcard is not its own apex
        ("appwrite-android://com.anything.else", True),  # scheme by platform type: the package is not compared
        ("appwrite-ios://x", True),
        ("appwrite-windows://x", False),
        ("exp://192.168.1.5:19000", True),
        ("appwrite-callback-p1://done", True),
        ("appwrite-callback-p2://done", False),
        ("chrome-extension://com.quixotic.whisper", True),  # a web scheme: its host is a native key
        ("chrome-extension://abcdef", False),
        ("null", False),
        ("", False),
        ("http://", False),
    ],
)
def test_which_origins_a_project_lets_in(origin: str, expected: bool) -> None:
    origins = Origins.of("p1", [WEB, WILD, ANDROID, IOS])
    assert origins.allows(origin) is expected


def test_a_project_without_platforms_takes_only_localhost_and_its_callback_schemes() -> None:
    bare = Origins.of("p1", [])
    assert (
        bare.allows("http://localhost:3000") and bare.allows("exp://host") and bare.allows("appwrite-callback-p1://x")
    )
    assert not bare.allows("https://app.example.com") and not bare.allows("appwrite-android://x")


def test_the_console_takes_only_the_servers_own_hosts() -> None:
    console = Origins.of("console", [WEB, ANDROID], server_hosts=("localhost", "console.example.com"))
    assert console.allows("https://console.example.com") and console.allows("http://127.0.0.1")
    assert not console.allows("https://app.example.com") and not console.allows("exp://x")


def test_without_localhost_the_loopback_aliases_are_not_allowed() -> None:
    origins = Origins.of("p1", [WEB], server_hosts=("api.example.com",))
    assert not origins.allows("http://127.0.0.1:3000") and origins.allows("https://app.example.com")


def test_refusals_say_what_to_register() -> None:
    origins = Origins.of("p1", [])
    assert "quixotic local platform add --type web --hostname evil.io" in origins.refusal("https://evil.io:8443")
    assert "appwrite-callback-<PROJECT_ID>" in origins.refusal("myapp://x")


def test_split_origin_lowercases_and_drops_the_port() -> None:
    assert split_origin("HTTPS://App.Example.COM:8443") == ("https", "app.example.com")
    assert split_origin("http://[::1]:80") == ("http", "[::1]")
    assert split_origin("http://[bad") == ("", "")


def test_cors_headers_echo_an_allowed_origin_lowercased_and_never_a_star() -> None:
    origins = Origins.of("p1", [WEB])
    allowed = dict(cors_headers("https://App.Example.com", origins, preflight=False))
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert allowed["Access-Control-Allow-Credentials"] == "true"
    assert allowed["Access-Control-Expose-Headers"] == "X-Appwrite-Session, X-Fallback-Cookies"
    refused = dict(cors_headers("https://evil.io", origins, preflight=False))
    assert "Access-Control-Allow-Origin" not in refused and refused.keys() == dict(CORS_HEADERS).keys()
    assert (
        dict(cors_headers("https://evil.io", None, preflight=True))["Access-Control-Allow-Origin"] == "https://evil.io"
    )
    assert "*" not in {v for _, v in cors_headers("https://evil.io", origins, preflight=True)}
