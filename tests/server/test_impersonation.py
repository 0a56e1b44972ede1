"""Impersonation (Appwrite 1.9): a user an API key marked ``impersonator`` acts as another user of the project by
naming it in ``X-Appwrite-Impersonate-User-Id`` (or ``-Email``, ``-Phone``), through the official SDK.

What Appwrite does, read in its sources (``app/init/resources/request.php``, ``app/controllers/shared/api.php``
at tag 1.9.6 and at HEAD): the headers count only for a signed-in user whose record has ``impersonator: true``;
from anyone else (another user, a guest, an API key) they change nothing, and a target that does not exist leaves
the request as the impersonator's own. The account an impersonator acts as carries ``impersonatorUserId``, and an
impersonator holds ``users.read`` to find its target. Below format 1.9.0 the user has no impersonator fields.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from appwrite.client import Client
from appwrite.permission import Permission
from appwrite.role import Role
from appwrite.services.account import Account
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from support.sdk import SDK_MAJOR, call_in_format, create_jwt, expect_error
from support.server import LocalServer

from quixotic.server import admin

ROOT = Path(__file__).resolve().parents[2]
# 15.x asks for format 1.8.0, where V21 drops both impersonator fields; 17.x and later see them.
SEES_IMPERSONATOR = SDK_MAJOR >= 17


def call(client: Client, method: str, path: str, params: dict[str, Any] | None = None, fmt: str = "1.9.6") -> Any:
    return call_in_format(client, method, path, params, fmt)


def set_impersonator(admin_client: Client, user_id: str, flag: bool) -> dict[str, Any]:
    """``users.updateImpersonator``: the SDK's own method from 17.x on; 15.x has none, so its client sends it."""
    users = Users(admin_client)
    if hasattr(users, "update_impersonator"):
        return users.update_impersonator(user_id, flag)
    return call(admin_client, "patch", f"/users/{user_id}/impersonator", {"impersonator": flag})


def impersonating(client: Client, how: str, value: str) -> Client:
    """``client`` naming a target (``how``: id, email or phone): 27.x's setter, else the header it sets."""
    setter = getattr(client, f"set_impersonate_user_{how}", None)
    return setter(value) if setter else client.add_header(f"X-Appwrite-Impersonate-User-{how.title()}", value)


class People:
    """A project's users made with its key, and SDK clients signed in as them (a server-made session each)."""

    def __init__(self, server: LocalServer, project: admin.ProjectCredentials) -> None:
        self.server, self.project_id, self.key = server, project.project_id, project.api_key
        self.admin = server.client(project.project_id, project.api_key)
        users = Users(self.admin)
        users.create("alice", email="alice@example.com", password="alice-password", name="Alice")
        users.create("bob", email="bob@example.com", phone="+14155550101", name="Bob")
        users.create("carol", email="carol@example.com", name="Carol")

    def signed_in(self, user_id: str) -> Client:
        secret = Users(self.admin).create_session(user_id)["secret"]
        return self.server.client(self.project_id, None).set_session(secret)


@pytest.fixture
def people(server: LocalServer, project: admin.ProjectCredentials) -> People:
    return People(server, project)


def test_update_impersonator_answers_the_user(people: People) -> None:
    marked = set_impersonator(people.admin, "alice", True)
    assert marked["$id"] == "alice"
    assert marked["impersonator"] is True  # 17.x+ parse it; 15.x's request names format 1.9.6 (set_impersonator)
    assert call(people.admin, "get", "/users/alice")["impersonator"] is True
    assert call(people.admin, "get", "/users/bob")["impersonator"] is False
    assert set_impersonator(people.admin, "alice", False)["$id"] == "alice"
    assert call(people.admin, "get", "/users/alice")["impersonator"] is False
    expect_error(lambda: set_impersonator(people.admin, "nobody", True), 404, "user_not_found")


def test_impersonator_acts_as_the_user_named_by_id_email_or_phone(people: People) -> None:
    set_impersonator(people.admin, "alice", True)
    for how, value in (("id", "bob"), ("email", "BOB@example.com"), ("phone", "+14155550101")):
        acting = impersonating(people.signed_in("alice"), how, value)
        me = Account(acting).get()
        assert (me["$id"], me["email"]) == ("bob", "bob@example.com"), how
        assert me.get("impersonatorUserId") == ("alice" if SEES_IMPERSONATOR else None), how
        raw = call(acting, "get", "/account")
        assert (raw["$id"], raw["impersonatorUserId"]) == ("bob", "alice"), how
        assert not {"password", "hash", "hashOptions"} & raw.keys()
    plain = call(people.signed_in("alice"), "get", "/account")  # no header: herself, acting as nobody
    assert (plain["$id"], plain["impersonator"], plain["impersonatorUserId"]) == ("alice", True, None)


def test_an_impersonators_jwt_impersonates_too(people: People) -> None:
    set_impersonator(people.admin, "alice", True)
    jwt = create_jwt(Account(people.signed_in("alice")))["jwt"]
    acting = impersonating(people.server.client(people.project_id, None).set_jwt(jwt), "email", "bob@example.com")
    me = call(acting, "get", "/account")
    assert (me["$id"], me["impersonatorUserId"]) == ("bob", "alice")


def test_impersonated_requests_get_the_targets_roles(people: People) -> None:
    tdb = TablesDB(people.admin)
    tdb.create("d", "D")
    tdb.create_table("d", "t", "T", row_security=True, columns=[{"key": "n", "type": "integer", "required": False}])
    tdb.create_row("d", "t", "bobs", {"n": 1}, [Permission.read(Role.user("bob"))])
    set_impersonator(people.admin, "alice", True)
    as_bob = TablesDB(impersonating(people.signed_in("alice"), "id", "bob"))
    assert as_bob.get_row("d", "t", "bobs")["n"] == 1
    expect_error(lambda: TablesDB(people.signed_in("alice")).get_row("d", "t", "bobs"), 404, "row_not_found")


def test_the_headers_do_nothing_from_anyone_else(people: People) -> None:
    """Carol is not an impersonator: her headers are ignored, and so are a guest's and an API key's."""
    carol = Account(impersonating(people.signed_in("carol"), "id", "bob")).get()
    assert carol["$id"] == "carol"
    assert call(impersonating(people.signed_in("carol"), "email", "bob@example.com"), "get", "/account")[
        "impersonatorUserId"
    ] is None  # fmt: skip
    guest = impersonating(people.server.client(people.project_id, None), "id", "bob")
    expect_error(lambda: Account(guest).get(), 401, "general_unauthorized_scope")
    key = impersonating(people.server.client(people.project_id, people.key), "id", "bob")
    assert Users(key).get("carol")["$id"] == "carol"  # the key stays the key: no user, every user readable
    expect_error(lambda: Account(key).get(), 401, "general_unauthorized_scope")
    set_impersonator(people.admin, "alice", True)
    set_impersonator(people.admin, "alice", False)  # the capability taken back: her headers are ignored again
    assert Account(impersonating(people.signed_in("alice"), "id", "bob")).get()["$id"] == "alice"


def test_an_unknown_target_leaves_the_impersonator_herself(people: People) -> None:
    set_impersonator(people.admin, "alice", True)
    for how, value in (("id", "nobody"), ("email", "nobody@example.com"), ("phone", "+14155550199")):
        me = call(impersonating(people.signed_in("alice"), how, value), "get", "/account")
        assert (me["$id"], me["impersonatorUserId"]) == ("alice", None), how


def test_an_impersonator_can_find_users_but_not_their_hashes(people: People) -> None:
    expect_error(lambda: Users(people.signed_in("carol")).list(), 401, "general_unauthorized_scope")
    set_impersonator(people.admin, "alice", True)
    listed = Users(people.signed_in("alice")).list()
    assert sorted(u["$id"] for u in listed["users"]) == ["alice", "bob", "carol"]
    assert not any({"password", "hash", "hashOptions"} & u.keys() for u in listed["users"])
    one = Users(people.signed_in("alice")).get("bob")
    assert one["$id"] == "bob" and "password" not in one
    assert "password" in call(people.admin, "get", "/users/alice")  # a key still reads them
    expect_error(lambda: Users(people.signed_in("alice")).update_name("bob", "B"), 401, "general_unauthorized_scope")


def test_a_blocked_target_is_refused(people: People) -> None:
    set_impersonator(people.admin, "alice", True)
    Users(people.admin).update_status("bob", False)
    expect_error(lambda: Account(impersonating(people.signed_in("alice"), "id", "bob")).get(), 403, "user_blocked")


def test_format_1_8_0_has_no_impersonator_fields(people: People) -> None:
    set_impersonator(people.admin, "alice", True)
    acting = impersonating(people.signed_in("alice"), "id", "bob")
    old = call(acting, "get", "/account", fmt="1.8.0")
    assert old["$id"] == "bob" and not {"impersonator", "impersonatorUserId"} & old.keys()
    for path in ("/users/alice", "/users"):
        answer = call(people.admin, "get", path, fmt="1.8.0")
        for user in answer.get("users", [answer]):
            assert not {"impersonator", "impersonatorUserId"} & user.keys(), path
    assert "impersonator" in call(people.admin, "get", "/users/alice", fmt="1.9.0")


@pytest.mark.parametrize(("line", "fmt"), [("22", "1.9.5"), ("27", "2.5.0")])
def test_sdk_models_parse_the_impersonation_answers(people: People, line: str, fmt: str) -> None:
    """SDK 22's and 27's own pydantic models (``sdk_models.py``, in each line's environment) parse what
    impersonation answers: the updated user, the impersonated account, the list an impersonator reads."""
    python = ROOT / ".sdk" / line / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no SDK {line}.x environment at {python.parent.parent} (.ci/run creates it)")
    marked = call(people.admin, "patch", "/users/alice/impersonator", {"impersonator": True}, fmt=fmt)
    acting = impersonating(people.signed_in("alice"), "id", "bob")
    cases = [
        ("updateImpersonator", "User", marked),
        ("account", "User" if line == "22" else "Account", call(acting, "get", "/account", fmt=fmt)),
        ("users", "UserList", call(people.signed_in("alice"), "get", "/users", fmt=fmt)),
    ]
    assert cases[1][2]["impersonatorUserId"] == "alice"
    stdin = "\n".join(json.dumps({"label": label, "model": model, "body": body}) for label, model, body in cases)
    script = Path(__file__).with_name("sdk_models.py")
    done = subprocess.run([str(python), str(script)], input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["sdk"].split(".")[0], report["checked"], report["failures"]) == (line, 3, {})
