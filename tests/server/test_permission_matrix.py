"""Every client route that takes permissions, over a matrix of containers, callers and permission inputs, against
an oracle written from Appwrite's rules (shared/appwrite-spec/CLIENT.md section 5), not from the server's code.

Routes: create, upsert and update of rows (TablesDB) and documents (legacy API), create and update of files.
Containers: four permission sets (users may do all; alice by id; guests may create; nothing), with row/document/
file security on and off. Callers: a guest and two signed-in users, through the official SDK without a key.
Permission inputs: none (the creator's default), read(any), the caller's own, another user's, a team's, and a
malformed string. For every resource created, every caller then gets, lists, updates and deletes it, and each
answer must be the oracle's. The API key sees the truth at the end: refused writes wrote nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role
from appwrite.services.account import Account
from appwrite.services.storage import Storage
from appwrite.services.users import Users
from column_specs import column
from support.sdk import Flavour
from support.server import LocalServer

from quixotic.server import admin

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy Databases API is part of it

PASSWORD = "correct horse battery"
CALLERS = ("guest", "alice", "bob")
ROLES = {
    "guest": {"any", "guests"},
    "alice": {"any", "users", "users/unverified", "user:alice", "user:alice/unverified"},
    "bob": {"any", "users", "users/unverified", "user:bob", "user:bob/unverified"},
}
CONTAINERS = {
    "users-all": [
        Permission.create(Role.users()),
        Permission.read(Role.users()),
        Permission.update(Role.users()),
        Permission.delete(Role.users()),
    ],
    "alice-by-id": [
        Permission.create(Role.any()),
        Permission.read(Role.user("alice")),
        Permission.update(Role.user("alice")),
        Permission.delete(Role.user("alice")),
    ],
    "guests-create": [Permission.create(Role.guests())],
    "nothing": [],
}
INPUTS = ("default", "read-any", "own", "other-user", "team", "malformed")


def given(option: str, creator: str) -> list[str] | None:
    """The ``permissions`` a creator sends for ``option`` (None: the parameter left out)."""
    role = Role.guests() if creator == "guest" else Role.user(creator)
    return {
        "default": None,
        "read-any": [Permission.read(Role.any())],
        "own": [Permission.read(role), Permission.update(role), Permission.delete(role)],
        "other-user": [Permission.read(Role.user("bob" if creator != "bob" else "alice"))],
        "team": [Permission.read(Role.team("t1"))],
        "malformed": ['read("any"'],
    }[option]


# --- the oracle: CLIENT.md section 5 ------------------------------------------------------------------


def _roles_of(permissions: list[str], kind: str) -> set[str]:
    """The roles ``permissions`` grant ``kind`` to (``write`` is create+update+delete)."""
    out = set()
    for p in permissions:
        name = p.partition("(")[0]
        if name == kind or (name == "write" and kind in ("create", "update", "delete")):
            out.add(_role(p))
    return out


def _role(permission: str) -> str:
    return permission.partition("(")[2].rstrip(")").strip('"')


def _holds(caller: str, permissions: list[str], kind: str) -> bool:
    return bool(ROLES[caller] & _roles_of(permissions, kind))


def expected_create(container: list[str], creator: str, sent: list[str] | None) -> int:
    if sent is not None and any(p.count("(") != 1 or not p.endswith(")") for p in sent):
        return 400
    if not _holds(creator, container, "create"):
        return 401
    if sent is not None and not all(_role(p) in ROLES[creator] for p in sent):
        return 401  # a client grants only roles it holds
    return 201


def stored(creator: str, sent: list[str] | None) -> list[str]:
    if sent is not None:
        return sent
    if creator == "guest":
        return []
    role = Role.user(creator)
    return [Permission.read(role), Permission.update(role), Permission.delete(role)]


def may(caller: str, container: list[str], security: bool, own: list[str], kind: str) -> bool:
    return _holds(caller, container, kind) or (security and _holds(caller, own, kind))


@dataclass
class Made:
    """One resource the matrix created, with what the oracle says it holds."""

    id: str
    permissions: list[str]


# --- the three kinds of resource behind one set of verbs ----------------------------------------------


class Rows:
    """Rows or documents: ``api`` is the TablesDB or legacy flavour of a client."""

    def __init__(self, name: str, key: Client, db: str) -> None:
        self.name, self.key, self.db = name, key, db
        self.not_found = Flavour(name, key).word("row_not_found")

    def api(self, client: Client) -> Flavour:
        return Flavour(self.name, client)

    def container(self, cid: str, permissions: list[str], security: bool) -> None:
        self.api(self.key).create_table(self.db, cid, cid, permissions=permissions, row_security=security,
                                        columns=[column("n")])  # fmt: skip

    def create(self, client: Client, cid: str, rid: str, sent: list[str] | None, upsert: bool) -> dict[str, Any]:
        api = self.api(client)
        extra = {} if sent is None else {"permissions": sent}
        if upsert:
            return dict(api.upsert_row(self.db, cid, rid, {"n": 1}, **extra))
        return dict(api.create_row(self.db, cid, rid, {"n": 1}, **extra))

    def get(self, client: Client, cid: str, rid: str) -> dict[str, Any]:
        return dict(self.api(client).get_row(self.db, cid, rid))

    def listed(self, client: Client, cid: str) -> list[str]:
        key = Flavour(self.name, client).word("rows")
        return sorted(r["$id"] for r in self.api(client).list_rows(self.db, cid, [Query.limit(100)])[key])

    def update(self, client: Client, cid: str, rid: str, upsert: bool) -> None:
        api = self.api(client)
        if upsert:
            api.upsert_row(self.db, cid, rid, {"n": 2})
        else:
            api.update_row(self.db, cid, rid, {"n": 2})

    def delete(self, client: Client, cid: str, rid: str) -> None:
        self.api(client).delete_row(self.db, cid, rid)


class Files:
    name = "files"
    not_found = "storage_file_not_found"

    def __init__(self, key: Client) -> None:
        self.key = key

    def container(self, cid: str, permissions: list[str], security: bool) -> None:
        Storage(self.key).create_bucket(cid, cid, permissions=permissions, file_security=security)

    def create(self, client: Client, cid: str, rid: str, sent: list[str] | None, upsert: bool) -> dict[str, Any]:
        extra = {} if sent is None else {"permissions": sent}
        return dict(Storage(client).create_file(cid, rid, InputFile.from_bytes(b"audio", "a.txt"), **extra))

    def get(self, client: Client, cid: str, rid: str) -> dict[str, Any]:
        return dict(Storage(client).get_file(cid, rid))

    def listed(self, client: Client, cid: str) -> list[str]:
        return sorted(f["$id"] for f in Storage(client).list_files(cid, [Query.limit(100)])["files"])

    def update(self, client: Client, cid: str, rid: str, upsert: bool) -> None:
        Storage(client).update_file(cid, rid, name="renamed.txt")

    def delete(self, client: Client, cid: str, rid: str) -> None:
        Storage(client).delete_file(cid, rid)


Kind = Rows | Files


def outcome(call: Callable[[], Any]) -> tuple[int, str]:
    try:
        call()
    except AppwriteException as exc:
        return int(exc.code or 0), str(exc.type)
    return 200, ""


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(server: LocalServer) -> Iterator[tuple[admin.ProjectCredentials, dict[str, Client]]]:
    """One project, alice and bob signed in (email sessions), and a guest."""
    project = server.new_project()
    key = server.client(project.project_id, project.api_key)
    clients = {"guest": server.client(project.project_id, None), "key": key}
    for name in ("alice", "bob"):
        Users(key).create(name, f"{name}@example.com", password=PASSWORD)
        secret = Account(key).create_email_password_session(f"{name}@example.com", PASSWORD)["secret"]
        clients[name] = server.client(project.project_id, None).set_session(secret)
    yield project, clients


def kinds(clients: dict[str, Client]) -> dict[str, Kind]:
    key = clients["key"]
    Flavour("tablesdb", key).create(database_id="mdb", name="matrix")
    Flavour("legacy", key).create(database_id="mdl", name="matrix legacy")
    return {"tablesdb": Rows("tablesdb", key, "mdb"), "legacy": Rows("legacy", key, "mdl"), "files": Files(key)}


@pytest.fixture(scope="module")
def resources(world: tuple[admin.ProjectCredentials, dict[str, Client]]) -> dict[str, Kind]:
    return kinds(world[1])


@pytest.mark.parametrize("kind_name", ["tablesdb", "legacy", "files"])
@pytest.mark.parametrize("security", [True, False], ids=["security-on", "security-off"])
def test_the_permission_matrix(
    world: tuple[admin.ProjectCredentials, dict[str, Client]], resources: dict[str, Kind], kind_name: str,
    security: bool,
) -> None:  # fmt: skip
    clients = world[1]
    kind = resources[kind_name]
    mismatches: list[str] = []

    def check(what: str, got: tuple[int, str], want: int, want_type: str = "") -> bool:
        ok = got[0] == want and (not want_type or got[1] == want_type)
        if not ok:
            mismatches.append(f"{what}: got {got}, expected {want} {want_type}".rstrip())
        return ok

    for container_name, container in CONTAINERS.items():
        cid = f"{container_name[:8]}{'on' if security else 'off'}".replace("-", "")
        kind.container(cid, container, security)
        made: list[Made] = []
        for n, (creator, option) in enumerate(itertools.product(CALLERS, INPUTS)):
            sent = given(option, creator)
            rid = f"r{n}"
            upsert = kind_name != "files" and n % 2 == 1
            want = expected_create(container, creator, sent)
            label = f"{kind_name}/{cid}: {creator} {'upserts' if upsert else 'creates'} with {option}"
            got = outcome(partial(kind.create, clients[creator], cid, rid, sent, upsert))
            ok = check(label, got, 200 if want == 201 else want, "user_unauthorized" if want == 401 else "")
            if ok and want == 201:
                made.append(Made(rid, stored(creator, sent)))
        for item in made:
            for caller in CALLERS:
                where = f"{kind_name}/{cid}/{item.id} {item.permissions} by {caller}"
                readable = may(caller, container, security, item.permissions, "read")
                if readable:
                    want_get: tuple[int, str] = (200, "")
                elif kind_name == "files" and not security:
                    want_get = (401, "user_unauthorized")  # a file without file security: the bucket's word
                else:
                    want_get = (404, kind.not_found)  # never 401: no telling it exists
                check(f"get {where}", outcome(partial(kind.get, clients[caller], cid, item.id)), *want_get)
        for caller in CALLERS:
            visible = [m.id for m in made if may(caller, container, security, m.permissions, "read")]
            listing_allowed = _holds(caller, container, "read") or security
            got_list: tuple[int, str] = (200, "")
            try:
                ids = kind.listed(clients[caller], cid)
            except AppwriteException as exc:
                got_list, ids = (int(exc.code or 0), str(exc.type)), []
            listed_ok = check(f"list {kind_name}/{cid} by {caller}", got_list, 200 if listing_allowed else 401)
            if listed_ok and listing_allowed and ids != sorted(visible):
                mismatches.append(f"list {kind_name}/{cid} by {caller}: got {ids}, expected {sorted(visible)}")
        for index, item in enumerate(made):
            for caller in CALLERS:
                where = f"{kind_name}/{cid}/{item.id} {item.permissions} by {caller}"
                allowed = may(caller, container, security, item.permissions, "update")
                upsert = kind_name != "files" and index % 2 == 0
                if upsert:  # an upsert inherits the row's permissions, and may only name the caller's roles
                    allowed = allowed and all(_role(p) in ROLES[caller] for p in item.permissions)
                got = outcome(partial(kind.update, clients[caller], cid, item.id, upsert))
                check(f"{'upsert' if upsert else 'update'} {where}", got, *(200, "") if allowed else
                      (401, "user_unauthorized"))  # fmt: skip
            for caller in CALLERS:
                where = f"{kind_name}/{cid}/{item.id} {item.permissions} by {caller}"
                allowed = may(caller, container, security, item.permissions, "delete")
                got = outcome(partial(kind.delete, clients[caller], cid, item.id))
                check(f"delete {where}", got, *(200, "") if allowed else (401, "user_unauthorized"))
                if allowed:
                    break
        # The key sees what is left: each created resource that nobody could delete, and nothing refused.
        survivors = [m.id for m in made if not any(may(c, container, security, m.permissions, "delete")
                                                   for c in CALLERS)]  # fmt: skip
        left = kind.listed(clients["key"], cid)
        if left != sorted(survivors):
            mismatches.append(f"{kind_name}/{cid}: the key lists {left}, expected {sorted(survivors)}")
    assert not mismatches, f"{len(mismatches)} answer(s) differ from Appwrite's rules:\n" + "\n".join(mismatches)
