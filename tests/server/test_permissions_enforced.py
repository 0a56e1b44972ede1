"""Permissions as a client app meets them: two signed-in users and a guest, through the official SDK without a
key (``set_session`` / ``set_jwt``), against rows (TablesDB and the legacy API), files and function executions.
The key client of the ``client`` fixture sets things up and shows that API keys bypass every check."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from appwrite.client import Client
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role
from appwrite.services.account import Account
from appwrite.services.functions import Functions
from appwrite.services.storage import Storage
from appwrite.services.users import Users
from column_specs import column
from support.sdk import Flavour, create_jwt, expect_error
from support.server import LocalServer
from test_functions import deploy, wait_for

from quixotic.server import admin

PASSWORD = "correct horse battery"
HEADERS_FUNCTION = """
def main(context):
    return context.res.json(context.req.headers)
"""


def _public(server: LocalServer, project_id: str) -> Client:
    return Client().set_endpoint(server.url).set_project(project_id)


def _session(server: LocalServer, project: admin.ProjectCredentials, user_id: str) -> str:
    """A user with a password, signed in (the SSR flow: the key's session model carries the secret)."""
    Users(server.client(project.project_id, project.api_key)).create(
        user_id, f"{user_id}@example.com", password=PASSWORD
    )
    account = Account(server.client(project.project_id, project.api_key))
    secret = account.create_email_password_session(f"{user_id}@example.com", PASSWORD)["secret"]
    assert isinstance(secret, str) and secret
    return secret


def _ids(listed: dict[str, Any], key: str) -> list[str]:
    return sorted(r["$id"] for r in listed[key])


def _own(user_id: str) -> list[str]:
    return [Permission.read(Role.user(user_id)), Permission.update(Role.user(user_id)),
            Permission.delete(Role.user(user_id))]  # fmt: skip


@pytest.fixture
def secrets(server: LocalServer, project: admin.ProjectCredentials) -> dict[str, str]:
    """The session secrets of Alice and Bob."""
    return {name: _session(server, project, name) for name in ("alice", "bob")}


@pytest.fixture
def people(server: LocalServer, project: admin.ProjectCredentials, secrets: dict[str, str]) -> dict[str, Client]:
    """Alice and Bob signed in, and a guest."""
    signed_in = {name: _public(server, project.project_id).set_session(secret) for name, secret in secrets.items()}
    return {**signed_in, "guest": _public(server, project.project_id)}


def _as(api: Flavour, client: Client) -> Flavour:
    return Flavour(api.name, client)


# --- rows -----------------------------------------------------------------------------------------


def test_row_security_on(api: Flavour, api_db: str, people: dict[str, Client]) -> None:
    """Users may create; each reads, changes and lists only rows whose own permissions name them."""
    db, rows, not_found = api_db, api.word("rows"), api.word("row_not_found")
    api.create_table(db, "notes", "Notes", permissions=[Permission.create(Role.users())], row_security=True,
                     columns=[column("n")])  # fmt: skip
    alice, bob, guest = (_as(api, people[k]) for k in ("alice", "bob", "guest"))

    mine = alice.create_row(db, "notes", "a1", {"n": 1})
    assert sorted(mine["$permissions"]) == sorted(_own("alice"))  # the creator's default
    for n in (2, 3):
        alice.create_row(db, "notes", f"a{n}", {"n": n})
    public = alice.create_row(db, "notes", "pub", {"n": 9}, permissions=[Permission.read(Role.any())])
    assert public["$permissions"] == ['read("any")']
    bob.create_row(db, "notes", "b1", {"n": 5})
    api.create_row(db, "notes", "k1", {"n": 0}, permissions=[Permission.read(Role.user("alice2"))])  # not alice's

    page = alice.list_rows(db, "notes", [Query.limit(1)])
    assert page["total"] == 4 and len(page[rows]) == 1  # total counts every readable row, not the page
    assert _ids(alice.list_rows(db, "notes"), rows) == ["a1", "a2", "a3", "pub"]
    assert _ids(bob.list_rows(db, "notes"), rows) == ["b1", "pub"]
    assert bob.list_rows(db, "notes", [Query.greater_than("n", 4)])["total"] == 2
    assert _ids(guest.list_rows(db, "notes"), rows) == ["pub"]
    assert guest.get_row(db, "notes", "pub")["n"] == 9

    expect_error(lambda: bob.get_row(db, "notes", "a1"), 404, not_found)
    expect_error(lambda: guest.get_row(db, "notes", "a1"), 404, not_found)
    expect_error(lambda: bob.update_row(db, "notes", "a1", {"n": 7}), 401, "user_unauthorized")
    expect_error(lambda: bob.delete_row(db, "notes", "a1"), 401, "user_unauthorized")
    expect_error(lambda: bob.update_row(db, "notes", "pub", {"n": 7}), 401, "user_unauthorized")  # read only
    expect_error(lambda: guest.create_row(db, "notes", "g1", {"n": 1}), 401, "user_unauthorized")
    expect_error(lambda: bob.list_rows(db, "notes", [Query.cursor_after("a1")]), 400, "general_cursor_not_found")

    assert alice.update_row(db, "notes", "a1", {"n": 10})["n"] == 10
    alice.delete_row(db, "notes", "a2")
    # The API key sees and changes everything; the failed writes above changed nothing.
    assert _ids(api.list_rows(db, "notes"), rows) == ["a1", "a3", "b1", "k1", "pub"]
    assert api.get_row(db, "notes", "pub")["n"] == 9


def test_row_security_off(api: Flavour, api_db: str, people: dict[str, Client]) -> None:
    """Only the table's permissions count: a row's own permissions open nothing."""
    db = api_db
    api.create_table(db, "board", "Board", permissions=[Permission.read(Role.users()), Permission.create(Role.users())],
                     row_security=False, columns=[column("n")])  # fmt: skip
    alice, bob, guest = (_as(api, people[k]) for k in ("alice", "bob", "guest"))
    alice.create_row(db, "board", "a1", {"n": 1})
    api.create_row(db, "board", "k1", {"n": 2}, permissions=[Permission.update(Role.user("bob"))])
    assert bob.get_row(db, "board", "a1")["n"] == 1  # the table's read
    assert bob.list_rows(db, "board")["total"] == 2
    expect_error(lambda: bob.update_row(db, "board", "k1", {"n": 3}), 401, "user_unauthorized")
    expect_error(lambda: alice.delete_row(db, "board", "a1"), 401, "user_unauthorized")  # no table delete
    expect_error(lambda: guest.list_rows(db, "board"), 401, "user_unauthorized")
    expect_error(lambda: guest.get_row(db, "board", "a1"), 404, api.word("row_not_found"))
    expect_error(lambda: alice.increment_row_column(db, "board", "a1", "n"), 401, "user_unauthorized")
    assert api.get_row(db, "board", "a1")["n"] == 1
    # A disabled table is not found by clients; the key still reaches it.
    api.update_table(db, "board", "Board", enabled=False)
    expect_error(lambda: bob.get_row(db, "board", "a1"), 404, api.word("table_not_found"))
    expect_error(lambda: bob.list_rows(db, "board"), 404, api.word("table_not_found"))
    assert api.list_rows(db, "board")["total"] == 2


def test_a_client_grants_only_roles_it_holds(api: Flavour, api_db: str, people: dict[str, Client]) -> None:
    db = api_db
    api.create_table(db, "t", "T", permissions=[Permission.create(Role.any())], row_security=True,
                     columns=[column("n")])  # fmt: skip
    alice, guest = _as(api, people["alice"]), _as(api, people["guest"])
    err = expect_error(
        lambda: alice.create_row(db, "t", "x", {"n": 1}, permissions=[Permission.read(Role.user("bob"))]),
        401, "user_unauthorized",
    )  # fmt: skip
    assert err.message.startswith("Permissions must be one of: (any, user:alice, users")
    expect_error(lambda: alice.create_row(db, "t", "x", {"n": 1}, permissions=[Permission.read(Role.team("t1"))]),
                 401, "user_unauthorized")  # fmt: skip
    expect_error(lambda: alice.create_row(db, "t", "x", {"n": 1}, permissions=[Permission.read(Role.guests())]),
                 401, "user_unauthorized")  # fmt: skip
    verified = alice.create_row(db, "t", "v", {"n": 1}, permissions=[Permission.read(Role.users("unverified"))])
    assert verified["$permissions"] == ['read("users/unverified")']
    alice.create_row(db, "t", "a", {"n": 1})
    expect_error(lambda: alice.update_row(db, "t", "a", permissions=[Permission.write(Role.user("bob"))]),
                 401, "user_unauthorized")  # fmt: skip
    expect_error(lambda: alice.upsert_row(db, "t", "u", {"n": 1}, permissions=[Permission.read(Role.user("bob"))]),
                 401, "user_unauthorized")  # fmt: skip
    upserted = alice.upsert_row(db, "t", "u", {"n": 1})
    assert sorted(upserted["$permissions"]) == sorted(_own("alice"))
    assert not api.list_rows(db, "t", [Query.equal("$id", ["x"])])["total"]  # nothing was written
    # A guest creating a row gets no permissions by default: nobody but keys can read it.
    assert guest.create_row(db, "t", "g", {"n": 1})["$permissions"] == []
    expect_error(lambda: guest.get_row(db, "t", "g"), 404, api.word("row_not_found"))


def test_bulk_writes_and_transactions(api: Flavour, api_db: str, people: dict[str, Client]) -> None:
    """Bulk routes take a key; a transaction is its creator's, and its operations are checked like direct writes."""
    db, rows = api_db, api.word("rows")
    api.create_table(db, "t", "T", permissions=[Permission.create(Role.users())], row_security=True,
                     columns=[column("n")])  # fmt: skip
    alice, bob = _as(api, people["alice"]), _as(api, people["bob"])
    expect_error(lambda: alice.create_rows(db, "t", [{"$id": "r", "n": 1}]), 401, "general_unauthorized_scope")
    expect_error(lambda: alice.delete_rows(db, "t"), 401, "general_unauthorized_scope")
    expect_error(lambda: alice.update_rows(db, "t", {"n": 2}), 401, "general_unauthorized_scope")
    alice.create_row(db, "t", "a1", {"n": 1})

    tx = alice.create_transaction()
    expect_error(lambda: bob.get_transaction(tx["$id"]), 404, "transaction_not_found")
    assert bob.list_transactions()["total"] == 0 and alice.list_transactions()["total"] == 1
    alice.create_row(db, "t", "a2", {"n": 2}, transaction_id=tx["$id"])
    expect_error(lambda: alice.create_operations(tx["$id"], [{"action": "bulkDelete", "databaseId": db,
                 api.word("tableId"): "t", "data": {"queries": []}}]), 401, "user_unauthorized")  # fmt: skip
    bob_tx = bob.create_transaction()
    expect_error(lambda: bob.update_row(db, "t", "a1", {"n": 5}, transaction_id=bob_tx["$id"]), 401,
                 "user_unauthorized")  # fmt: skip
    alice.update_transaction(tx["$id"], commit=True)
    assert sorted(api.get_row(db, "t", "a2")["$permissions"]) == sorted(_own("alice"))
    assert _ids(bob.list_rows(db, "t"), rows) == []


# --- files ----------------------------------------------------------------------------------------


def _upload(storage: Storage, bucket: str, file_id: str, permissions: list[str] | None = None) -> dict[str, Any]:
    data = InputFile.from_bytes(f"audio of {file_id}".encode(), f"{file_id}.txt")
    return storage.create_file(bucket, file_id, data, permissions)


def test_files_with_file_security(
    server: LocalServer, project: admin.ProjectCredentials, client: Client, people: dict[str, Client],
    secrets: dict[str, str],
) -> None:  # fmt: skip
    keyed = Storage(client)
    keyed.create_bucket("audio", "Audio", permissions=[Permission.create(Role.users())], file_security=True)
    alice, bob, guest = (Storage(people[k]) for k in ("alice", "bob", "guest"))
    mine = _upload(alice, "audio", "a1")
    assert sorted(mine["$permissions"]) == sorted(_own("alice"))
    _upload(alice, "audio", "a2")
    _upload(bob, "audio", "b1")
    assert alice.get_file_download("audio", "a1") == b"audio of a1"
    assert alice.get_file_view("audio", "a1") == b"audio of a1"
    assert alice.list_files("audio")["total"] == 2 and bob.list_files("audio")["total"] == 1
    assert alice.list_files("audio", [Query.limit(1)])["total"] == 2
    for call in (lambda: bob.get_file("audio", "a1"), lambda: bob.get_file_download("audio", "a1"),
                 lambda: bob.get_file_view("audio", "a1"), lambda: guest.get_file("audio", "a1")):  # fmt: skip
        expect_error(call, 404, "storage_file_not_found")
    expect_error(lambda: bob.delete_file("audio", "a1"), 401, "user_unauthorized")
    expect_error(lambda: bob.update_file("audio", "a1", "renamed"), 401, "user_unauthorized")
    expect_error(lambda: _upload(guest, "audio", "g1"), 401, "user_unauthorized")
    expect_error(lambda: _upload(alice, "audio", "x", [Permission.read(Role.user("bob"))]), 401, "user_unauthorized")
    assert guest.list_files("audio")["total"] == 0
    # A browser loads the SDK's view URL (?project=) with no headers: the session cookie alone says who it is.
    view = f"{server.url}/storage/buckets/audio/files/a1/view?project={project.project_id}"
    cookie = {f"a_session_{project.project_id}": secrets["alice"]}
    assert requests.get(view, cookies=cookie, timeout=10).content == b"audio of a1"
    assert requests.get(view, timeout=10).json()["type"] == "storage_file_not_found"
    assert alice.update_file("audio", "a1", "mine.txt")["name"] == "mine.txt"
    alice.delete_file("audio", "a2")
    assert sorted(f["$id"] for f in keyed.list_files("audio")["files"]) == ["a1", "b1"]  # keys see all


def test_files_without_file_security(client: Client, people: dict[str, Client]) -> None:
    keyed = Storage(client)
    keyed.create_bucket("open", "Open", permissions=[Permission.read(Role.any())], file_security=False)
    keyed.create_bucket("shut", "Shut", permissions=[], file_security=False)
    _upload(keyed, "open", "f1", [])
    _upload(keyed, "shut", "f2", [Permission.read(Role.any())])  # ignored: file security is off
    guest = Storage(people["guest"])
    assert guest.list_files("open")["total"] == 1 and guest.get_file_download("open", "f1") == b"audio of f1"
    expect_error(lambda: guest.get_file("shut", "f2"), 401, "user_unauthorized")
    expect_error(lambda: guest.list_files("shut"), 401, "user_unauthorized")
    expect_error(lambda: guest.get_file_download("shut", "f2"), 401, "user_unauthorized")
    expect_error(lambda: _upload(guest, "open", "g"), 401, "user_unauthorized")  # no create on the bucket
    expect_error(lambda: Storage(people["alice"]).delete_file("open", "f1"), 401, "user_unauthorized")


# --- functions ------------------------------------------------------------------------------------


def test_execute_roles_and_the_user_headers(
    server: LocalServer, project: admin.ProjectCredentials, client: Client, people: dict[str, Client]
) -> None:
    fn = Functions(client)
    fn.create("whoami", "Who am I", "python-3.11", execute=[Role.users()], entrypoint="main.py", commands="",
              timeout=10)  # fmt: skip
    assert deploy(fn, "whoami", {"main.py": HEADERS_FUNCTION})["status"] == "ready"
    wait_for(lambda: fn.get("whoami")["deploymentId"])
    guest, alice, bob = (Functions(people[k]) for k in ("guest", "alice", "bob"))
    expect_error(lambda: guest.create_execution("whoami"), 401, "user_unauthorized")

    done = alice.create_execution("whoami", headers={"x-appwrite-user-id": "bob"})  # a forged header is ignored
    assert done["status"] == "completed", done
    seen = json.loads(done["responseBody"])
    assert seen["x-appwrite-user-id"] == "alice"
    jwt = seen["x-appwrite-user-jwt"]
    assert jwt and Account(_public(server, project.project_id).set_jwt(jwt)).get()["$id"] == "alice"
    assert done["$permissions"] == [Permission.read(Role.user("alice"))]

    # Signed in with a JWT, the user is known but gets no JWT to pass on, as on Appwrite.
    alice_jwt = create_jwt(Account(people["alice"]))["jwt"]
    by_jwt = Functions(_public(server, project.project_id).set_jwt(alice_jwt)).create_execution("whoami")
    assert json.loads(by_jwt["responseBody"])["x-appwrite-user-id"] == "alice"
    assert json.loads(by_jwt["responseBody"])["x-appwrite-user-jwt"] == ""

    by_key = json.loads(fn.create_execution("whoami")["responseBody"])
    assert (by_key["x-appwrite-user-id"], by_key["x-appwrite-user-jwt"]) == ("", "")

    assert alice.list_executions("whoami")["total"] == 2 and bob.list_executions("whoami")["total"] == 0
    assert alice.get_execution("whoami", done["$id"])["$id"] == done["$id"]
    expect_error(lambda: bob.get_execution("whoami", done["$id"]), 404, "execution_not_found")
    expect_error(lambda: guest.list_executions("whoami"), 401, "general_unauthorized_scope")  # users only
    assert fn.list_executions("whoami")["total"] == 3  # the key sees every execution

    fn.update("whoami", "Who am I", execute=[Role.any()])
    assert json.loads(guest.create_execution("whoami")["responseBody"])["x-appwrite-user-id"] == ""
    fn.update("whoami", "Who am I", execute=[])
    expect_error(lambda: alice.create_execution("whoami"), 401, "user_unauthorized")  # empty: keys only
