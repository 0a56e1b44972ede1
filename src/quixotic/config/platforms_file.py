"""The platforms an environment file declares (``"platforms": [{"type": "web", "hostname": ...}, ...]``): the
web hostnames and app IDs whose browser or OS origin may call the project without a key.

On Appwrite they are registered in the console (a project key cannot); on the local server ``quixotic up``
registers the ``local`` environment's, so the app (a Flutter build on a phone sends
``appwrite-android://<package>``, a web page its own origin) reaches ``local`` as it will reach PROD.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from quixotic.config.fields import Field, Loc, as_list, choice, read_fields, text
from quixotic.config.problems import Problems
from quixotic.platform_types import PLATFORM_TYPES, missing


@dataclass(frozen=True)
class PlatformSpec:
    """One declared platform: a web one has a ``hostname`` (``*.example.com`` too), a native one a ``key``."""

    type: str
    hostname: str = ""
    key: str = ""
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "hostname": self.hostname, "key": self.key, "name": self.name}


PLATFORM_FIELDS: Final[Mapping[str, Field]] = {
    "type": Field("type", choice(PLATFORM_TYPES)),
    "hostname": Field("hostname", text(), ""),
    "key": Field("key", text(), ""),
    "name": Field("name", text(), ""),
}


def parse_platforms(data: object, loc: Loc, problems: Problems) -> tuple[PlatformSpec, ...]:
    """The platforms ``data`` (a list) declares; a wrong one is reported and left out."""
    if data is None:
        return ()
    out: list[PlatformSpec] = []
    for index, item in enumerate(as_list(data, loc, problems)):
        where = Loc(loc.file, f"{loc.path}[{index}]")
        before = len(problems)
        values = read_fields(item, where, PLATFORM_FIELDS, problems)
        if values is None or len(problems) > before:  # an unknown key too: leave out what is not understood
            continue
        spec = PlatformSpec(**{k: str(v) for k, v in values.items()})
        lacks = missing(spec.type, spec.hostname, spec.key)
        if lacks == "hostname":
            problems.add(str(where), "a web platform needs a 'hostname' (e.g. app.example.com or *.example.com)")
        elif lacks == "key":
            problems.add(str(where), f"a {spec.type} platform needs a 'key': the app's bundle or package ID")
        elif lacks == "host":
            problems.add(str(where), f"hostname {spec.hostname!r} is not a host name: give the host alone")
        else:
            out.append(spec)
    return tuple(out)
