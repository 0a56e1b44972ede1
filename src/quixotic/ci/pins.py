"""The third-party actions the workflows use, pinned by full commit SHA (a tag can move; a SHA cannot),
with the tag each SHA was released as, written beside it as a comment for people and update bots."""

from __future__ import annotations

from typing import Final, NamedTuple


class Pin(NamedTuple):
    action: str
    sha: str
    tag: str

    def uses(self) -> str:
        """What follows ``uses: <action>@``: the SHA, then the tag as a YAML comment."""
        return f"{self.sha} # {self.tag}"


PINS: Final = {
    "checkout": Pin("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "setup_python": Pin("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "flutter": Pin("subosito/flutter-action", "1a449444c387b1966244ae4d4f8c696479add0b2", "v2.23.0"),
}
