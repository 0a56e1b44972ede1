"""Conformance of the Users service, driven only through the official SDK (appwrite 15.x) against the
real server process of the session fixture."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from appwrite.client import Client
from appwrite.id import ID
from appwrite.query import Query
from appwrite.services.users import Users
from support.sdk import ASKS_FOR_V25, expect_error
from support.server import LocalServer

from quixotic.server import admin


def project_header(client: Client) -> dict[str, str]:
    """For ``Client.call``: 27.x keeps the project out of the global headers (its config); 15.x has it there."""
    config = getattr(client, "get_config", None)
    return {"X-Appwrite-Project": config("project")} if config else {}


@pytest.fixture
def users(client: Client) -> Users:
    return Users(client)


def test_create_get_delete(users: Users) -> None:
    created = users.create(
        "alice", email="Alice@Example.COM", phone="+14155550100", password="s3cret-pass", name="Alice"
    )
    assert created["$id"] == "alice"
    assert created["name"] == "Alice"
    assert created["email"] == "alice@example.com"  # lower-cased
    assert created["phone"] == "+14155550100"
    assert created["status"] is True
    assert created["labels"] == []
    assert created["prefs"] == {}
    assert not any(created[k] for k in ("emailVerification", "phoneVerification", "mfa"))
    assert created["registration"] <= created["$createdAt"] <= created["$updatedAt"]
    assert created["passwordUpdate"]
    assert created["accessedAt"] == ""
    # The password comes back hashed, never as given.
    assert created["password"] and "s3cret-pass" not in json.dumps(created)
    assert created["hash"] == "scrypt"
    assert created["hashOptions"]["type"] == "scrypt"
    targets = {(t["providerType"], t["identifier"]) for t in created["targets"]}
    assert targets == {("email", "alice@example.com"), ("sms", "+14155550100")}

    assert users.get("alice") == created

    users.delete("alice")
    expect_error(lambda: users.get("alice"), 404, "user_not_found")
    expect_error(lambda: users.delete("alice"), 404, "user_not_found")


def test_create_minimal_user_has_string_defaults(users: Users) -> None:
    user = users.create(ID.unique())
    assert len(user["$id"]) == 20
    assert (user["email"], user["phone"], user["name"], user["passwordUpdate"]) == ("", "", "", "")
    assert user["password"] is None
    assert user["targets"] == []


def test_list_queries_search_and_paging(users: Users) -> None:
    names = ["Carol", "Alice", "Eve", "Bob", "Dave"]
    for i, name in enumerate(names):
        users.create(f"u{i}", email=f"{name.lower()}@example.com", name=name)
    users.update_labels("u2", ["admin", "vip"])

    listed = users.list()
    assert listed["total"] == 5
    assert [u["$id"] for u in listed["users"]] == ["u0", "u1", "u2", "u3", "u4"]  # creation order

    found = users.list([Query.equal("email", ["eve@example.com"])])
    assert (found["total"], [u["name"] for u in found["users"]]) == (1, ["Eve"])
    assert users.list([Query.contains("labels", ["vip"])])["users"][0]["$id"] == "u2"

    assert [u["name"] for u in users.list(search="dave")["users"]] == ["Dave"]
    assert [u["$id"] for u in users.list(search="u3")["users"]] == ["u3"]

    ordered = users.list([Query.order_desc("name")])
    assert [u["name"] for u in ordered["users"]] == ["Eve", "Dave", "Carol", "Bob", "Alice"]

    page = users.list([Query.order_asc("name"), Query.limit(2), Query.offset(1)])
    assert page["total"] == 5  # the total ignores limit and offset
    assert [u["name"] for u in page["users"]] == ["Bob", "Carol"]

    seen: list[str] = []
    cursor: list[str] = []
    while True:
        batch = users.list([Query.order_asc("name"), Query.limit(2), *cursor])["users"]
        if not batch:
            break
        seen += [u["name"] for u in batch]
        cursor = [Query.cursor_after(batch[-1]["$id"])]
    assert seen == sorted(names)

    assert users.list(total=False)["total"] == 0
    expect_error(lambda: users.list([Query.equal("password", ["x"])]), 400, "general_query_invalid")
    expect_error(lambda: users.list([Query.cursor_after("nobody")]), 400, "general_cursor_not_found")


def test_updates(users: Users) -> None:
    user = users.create("bob", email="bob@example.com", phone="+14155550101", password="first-password")

    assert users.update_name("bob", "Bobby")["name"] == "Bobby"
    assert users.update_status("bob", False)["status"] is False
    assert users.list([Query.equal("status", [False])])["users"][0]["$id"] == "bob"
    assert users.update_labels("bob", ["team1", "vip", "vip"])["labels"] == ["team1", "vip"]
    assert users.update_email_verification("bob", True)["emailVerification"] is True
    assert users.update_phone_verification("bob", True)["phoneVerification"] is True

    changed = users.update_email("bob", "Robert@Example.com")
    assert changed["email"] == "robert@example.com"
    assert changed["emailVerification"] is False  # a new address is unverified
    assert "robert@example.com" in [t["identifier"] for t in changed["targets"]]
    changed = users.update_phone("bob", "+14155550199")
    assert (changed["phone"], changed["phoneVerification"]) == ("+14155550199", False)

    updated = users.update_password("bob", "second-password")
    assert updated["password"] != user["password"]
    assert updated["passwordUpdate"] >= user["passwordUpdate"]
    assert updated["$updatedAt"] >= user["$updatedAt"]

    cleared = users.update_email("bob", "")
    assert cleared["email"] == ""
    assert [t["providerType"] for t in cleared["targets"]] == ["sms"]

    final = users.get("bob")
    assert (final["name"], final["status"], final["labels"], final["phone"]) == (
        "Bobby", False, ["team1", "vip"], "+14155550199",
    )  # fmt: skip


def test_prefs_round_trip(users: Users) -> None:
    users.create("carol")
    assert users.get_prefs("carol") == {}
    prefs = {"theme": "dark", "count": 3, "nested": {"list": [1, "two", None], "flag": True}}
    assert users.update_prefs("carol", prefs) == prefs
    assert users.get_prefs("carol") == prefs
    assert users.get("carol")["prefs"] == prefs
    # PATCH replaces the whole object.
    assert users.update_prefs("carol", {"lang": "fr"}) == {"lang": "fr"}
    assert users.get_prefs("carol") == {"lang": "fr"}
    expect_error(lambda: users.update_prefs("carol", {"big": "x" * 70_000}), 400, "general_argument_invalid")


def test_conflicts(users: Users) -> None:
    users.create("dave", email="dave@example.com", phone="+14155550102")
    users.create("erin", email="erin@example.com", phone="+14155550103")
    expect_error(lambda: users.create("dave"), 409, "user_already_exists")
    # Create answers one type for a taken id, email or phone (updates name the field, as Appwrite).
    expect_error(lambda: users.create("x1", email="DAVE@example.com"), 409, "user_already_exists")
    expect_error(lambda: users.create("x2", phone="+14155550102"), 409, "user_already_exists")
    expect_error(lambda: users.update_email("erin", "dave@example.com"), 409, "user_email_already_exists")
    expect_error(lambda: users.update_phone("erin", "+14155550102"), 409, "user_phone_already_exists")
    assert users.update_email("dave", "dave@example.com")["email"] == "dave@example.com"  # own address
    assert users.list()["total"] == 2


@pytest.mark.parametrize(
    "call",
    [
        lambda u: u.create("bad id!"),
        lambda u: u.create(ID.unique(), email="not-an-email"),
        lambda u: u.create(ID.unique(), phone="14155550100"),
        lambda u: u.create(ID.unique(), phone="+1234567890123456"),
        lambda u: u.create(ID.unique(), password="short"),
        lambda u: u.create(ID.unique(), name="n" * 129),
        lambda u: u.update_email("frank", "frank@"),
        lambda u: u.update_phone("frank", "+0123"),
        lambda u: u.update_password("frank", "1234567"),
        lambda u: u.update_labels("frank", ["not-alphanumeric"]),
        lambda u: u.update_labels("frank", ["x" * 37]),
        lambda u: u.list(search="s" * 257),
    ],
)
def test_invalid_arguments(users: Users, call: Callable[[Users], Any]) -> None:
    users.create("frank")
    expect_error(lambda: call(users), 400, "general_argument_invalid")
    assert users.list()["total"] == 1


def test_unknown_user(users: Users) -> None:
    for call in (
        lambda: users.get("ghost"),
        lambda: users.update_name("ghost", "Ghost"),
        lambda: users.update_status("ghost", False),
        lambda: users.get_prefs("ghost"),
        lambda: users.update_prefs("ghost", {}),
        lambda: users.delete("ghost"),
    ):
        expect_error(call, 404, "user_not_found")


def test_imported_password_hashes(users: Users) -> None:
    md5 = users.create_md5_user("m1", "m1@example.com", "5f4dcc3b5aa765d61d8327deb882cf99")
    assert (md5["hash"], md5["hashOptions"], md5["password"]) == (
        "md5", {"type": "md5"}, "5f4dcc3b5aa765d61d8327deb882cf99",
    )  # fmt: skip
    scrypt = users.create_scrypt_user("s1", "s1@example.com", "abcdef0123456789", "salt", 16384, 8, 1, 64)
    assert scrypt["hashOptions"] == {
        "type": "scrypt", "salt": "salt", "costCpu": 16384, "costMemory": 8, "costParallel": 1, "length": 64,
    }  # fmt: skip
    modified = users.create_scrypt_modified_user("s2", "s2@example.com", "abcdef0123456789", "salt", "sep", "key")
    assert (modified["hash"], modified["hashOptions"]) == (
        "scryptMod", {"type": "scryptMod", "salt": "salt", "saltSeparator": "sep", "signerKey": "key"},
    )  # fmt: skip
    argon2 = users.create_argon2_user("a1", "a1@example.com", "$argon2id$v=19$m=65536,t=4,p=3$c2FsdA$aGFzaA")
    assert (argon2["hash"], argon2["hashOptions"]) == (
        "argon2", {"type": "argon2", "memoryCost": 65536, "timeCost": 4, "threads": 3},
    )  # fmt: skip
    for name, create in (("bcrypt", users.create_bcrypt_user), ("phpass", users.create_ph_pass_user)):
        made = create(f"{name}1", f"{name}1@example.com", "$2y$10$" + "a" * 53)
        assert (made["hash"], made["hashOptions"]) == (name, {"type": name})
    expect_error(lambda: users.create_md5_user("m2", "m1@example.com", "0" * 32), 409, "user_already_exists")


@pytest.mark.local_only("makes API keys or projects with quixotic local")
def test_key_without_write_scope_cannot_create(server: LocalServer, project: admin.ProjectCredentials) -> None:
    owner = Users(server.client(project.project_id, project.api_key))
    owner.create("gina")
    secret = admin.create_key(server.data_dir, project.project_id, ["users.read"])
    reader = Users(server.client(project.project_id, secret))
    assert reader.get("gina")["$id"] == "gina"
    error = expect_error(lambda: reader.create("hank"), 401, "general_unauthorized_scope")
    assert "users.write" in error.message
    expect_error(lambda: reader.delete("gina"), 401, "general_unauthorized_scope")
    assert owner.list()["total"] == 1


@pytest.mark.local_only("makes API keys or projects with quixotic local")
def test_projects_are_isolated(server: LocalServer, project: admin.ProjectCredentials) -> None:
    Users(server.client(project.project_id, project.api_key)).create("ivy", email="ivy@example.com")
    other = server.new_project()
    # The other project's key does not open this project.
    stranger = Users(server.client(project.project_id, other.api_key))
    expect_error(lambda: stranger.list(), 401, "general_unauthorized_scope")
    expect_error(lambda: stranger.get("ivy"), 401, "general_unauthorized_scope")
    # In its own project it sees none of this project's users, and may reuse their IDs and emails.
    own = Users(server.client(other.project_id, other.api_key))
    assert own.list()["total"] == 0
    expect_error(lambda: own.get("ivy"), 404, "user_not_found")
    assert own.create("ivy", email="ivy@example.com")["$id"] == "ivy"


def test_password_pwned_in_2_5_only(users: Users, client: Client) -> None:
    """2.5.0's ``passwordPwned`` (false: the local server checks no breach lists) on users made, got and listed,
    which 27.x's User and UserList parse; no older format has it."""
    created = users.create("pat", email="pat@example.com", password="s3cret-pass")
    got, listed = users.get("pat"), users.list()["users"]
    for user in (created, got, *listed):
        assert user.get("passwordPwned") is (False if ASKS_FOR_V25 else None)
    headers = {"content-type": "application/json", **project_header(client)}
    for fmt, present in (("2.5.0", True), ("2.0.0", False), ("1.9.6", False), ("1.8.0", False)):
        answer = client.call("get", "/users/pat", {**headers, "X-Appwrite-Response-Format": fmt})
        assert ("passwordPwned" in answer) is present, fmt
        assert answer.get("passwordPwned") is (False if present else None), fmt
