"""One planned change to one resource, and its JSON form (what a saved plan file holds).

A change names the resource by ``address`` (``kind:path``), carries JSON views of the resource as it
is (``before``) and as it should be (``after``; see :mod:`quixotic.plan.views`), and says how safe it
is, so a person can review it and the applier needs nothing else but secret values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, cast, get_args

from quixotic.config.jsonfile import camel_json
from quixotic.errors import PlanError

Action = Literal["create", "update", "replace", "delete"]
Kind = Literal["database", "table", "column", "index", "bucket", "function", "deployment", "variable"]
Safety = Literal["additive", "compatible", "destructive"]

ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
SAFETIES: Final[tuple[Safety, ...]] = get_args(Safety)


@dataclass(frozen=True)
class Change:
    """What happens to one resource. ``replace`` is delete then create (Appwrite cannot update it in place).

    ``before``/``after`` are JSON views (None: absent); neither ever holds a secret value, only its hash.
    ``fields`` names the view keys that differ, for updates and replaces.
    """

    action: Action
    kind: Kind
    address: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    safety: Safety
    reason: str
    fields: tuple[str, ...] = ()

    def __hash__(self) -> int:  # the views are dicts; equal changes agree on everything hashed here
        return hash((self.action, self.kind, self.address, self.safety, self.reason, self.fields))

    @property
    def destructive(self) -> bool:
        return self.safety == "destructive"

    def to_json(self) -> dict[str, Any]:
        return {
            **camel_json(self, "action kind address before after safety reason"),
            "fields": list(self.fields),
        }

    @classmethod
    def from_json(cls, data: object, where: str = "change") -> Change:
        """The change ``data`` describes, or :class:`PlanError` saying which part is wrong."""
        if not isinstance(data, dict):
            raise PlanError(f"{where}: expected an object, got {type(data).__name__}")
        expected = {"action", "kind", "address", "before", "after", "safety", "reason", "fields"}
        if set(data) != expected:
            missing, extra = sorted(expected - set(data)), sorted(set(data) - expected)
            raise PlanError(f"{where}: keys differ from a plan change's (missing {missing}, unexpected {extra})")
        for name, allowed in (("action", ACTIONS), ("kind", KINDS), ("safety", SAFETIES)):
            if data[name] not in allowed:
                raise PlanError(f"{where}: {name} {data[name]!r} is not one of {', '.join(allowed)}")
        for name in ("address", "reason"):
            if not isinstance(data[name], str):
                raise PlanError(f"{where}: {name} must be a string")
        for name in ("before", "after"):
            if data[name] is not None and not isinstance(data[name], dict):
                raise PlanError(f"{where}: {name} must be an object or null")
        fields = data["fields"]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise PlanError(f"{where}: fields must be a list of strings")
        return cls(
            action=cast(Action, data["action"]),
            kind=cast(Kind, data["kind"]),
            address=data["address"],
            before=data["before"],
            after=data["after"],
            safety=cast(Safety, data["safety"]),
            reason=data["reason"],
            fields=tuple(fields),
        )


# --- addresses: ``kind:path``, ids joined by "/" (Appwrite ids and variable keys cannot hold "/") ---------


def database_address(database_id: str) -> str:
    return f"database:{database_id}"


def table_address(database_id: str, table_id: str) -> str:
    return f"table:{database_id}/{table_id}"


def column_address(database_id: str, table_id: str, key: str) -> str:
    return f"column:{database_id}/{table_id}/{key}"


def index_address(database_id: str, table_id: str, key: str) -> str:
    return f"index:{database_id}/{table_id}/{key}"


def bucket_address(bucket_id: str) -> str:
    return f"bucket:{bucket_id}"


def function_address(function_id: str) -> str:
    return f"function:{function_id}"


def deployment_address(function_id: str) -> str:
    return f"deployment:{function_id}"


def variable_address(scope: str, key: str) -> str:
    return f"variable:{scope}/{key}"
