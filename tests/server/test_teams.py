"""Teams and memberships through the official SDK's ``Teams`` service over real HTTP: with a key (the server
SDK), and as client apps use them (signed-in users without a key: owners inviting by email, the invitee
accepting with the secret from the local outbox), and the roles a membership gives in permissions."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote

import pytest
import requests
from appwrite.client import Client
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role
from appwrite.services.account import Account
from appwrite.services.tables_db import TablesDB
from appwrite.services.teams import Teams
from appwrite.services.users import Users
from support.sdk import expect_error, wait_for
from support.server import LocalServer
from test_permissions_enforced import _session  # a user with a password, signed in (SSR flow)
from test_realtime import Socket

from quixotic.server import admin


def _user(server: LocalServer, project: admin.ProjectCredentials, secret: str) -> Client:
    return Client().set_endpoint(server.url).set_project(project.project_id).set_session(secret)


def _outbox(server: LocalServer, membership_id: str) -> dict[str, Any]:
    """The invitation the server wrote instead of mailing it."""
    for line in (server.data_dir / "outbox.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["membershipId"] == membership_id:
            assert isinstance(record, dict)
            return record
    raise AssertionError(f"no invitation for {membership_id} in the outbox")


@pytest.fixture
def people(server: LocalServer, project: admin.ProjectCredentials) -> dict[str, Teams]:
    """Alice, Bob and Carol signed in (as client apps), and the key's Teams."""
    teams = {name: Teams(_user(server, project, _session(server, project, name))) for name in ("alice", "bob", "carol")}
    teams["key"] = Teams(server.client(project.project_id, project.api_key))
    return teams


def test_teams_with_a_key(client: Client) -> None:
    teams = Teams(client)
    created = teams.create("t1", "Team One")
    assert (created["$id"], created["name"], created["total"], created["prefs"]) == ("t1", "Team One", 0, {})
    expect_error(lambda: teams.create("t1", "Again"), 409, "team_already_exists")
    teams.create("t2", "Other")
    assert teams.list()["total"] == 2
    assert [t["$id"] for t in teams.list(search="Other")["teams"]] == ["t2"]
    assert [t["$id"] for t in teams.list([Query.equal("name", "Team One")])["teams"]] == ["t1"]
    assert teams.update_name("t1", "Renamed")["name"] == "Renamed"
    assert teams.update_prefs("t1", {"plan": "pro"}) == {"plan": "pro"}
    assert teams.get_prefs("t1") == {"plan": "pro"}
    assert teams.get("t1")["prefs"] == {"plan": "pro"}

    Users(client).create("u1", "u1@example.com", password="correct horse battery", name="U One")
    member = teams.create_membership("t1", ["editor"], user_id="u1")
    assert (member["userId"], member["teamId"], member["teamName"], member["confirm"]) == ("u1", "t1", "Renamed", True)
    assert (member["userName"], member["userEmail"], member["roles"]) == ("U One", "u1@example.com", ["editor"])
    assert member["joined"] and "secret" not in member
    assert teams.get("t1")["total"] == 1
    expect_error(lambda: teams.create_membership("t1", ["x"], user_id="u1"), 409, "team_invite_already_exists")
    expect_error(lambda: teams.create_membership("t1", ["x"], user_id="nobody"), 404, "user_not_found")
    expect_error(lambda: teams.create_membership("t1", ["x"]), 400, "general_argument_invalid")
    by_email = teams.create_membership("t1", [], email="New@Example.com", name="Newcomer")  # makes the user
    assert Users(client).get(by_email["userId"])["email"] == "new@example.com"

    listed = teams.list_memberships("t1")
    assert listed["total"] == 2 and {m["userId"] for m in listed["memberships"]} == {"u1", by_email["userId"]}
    assert teams.list_memberships("t1", [Query.equal("userId", "u1")])["total"] == 1
    assert teams.get_membership("t1", member["$id"])["roles"] == ["editor"]
    assert teams.update_membership("t1", member["$id"], ["editor", "admin"])["roles"] == ["editor", "admin"]
    assert [m["teamId"] for m in Users(client).list_memberships("u1")["memberships"]] == ["t1"]
    expect_error(lambda: teams.get_membership("t2", member["$id"]), 404, "team_membership_mismatch")
    expect_error(lambda: teams.get_membership("t1", "nope"), 404, "membership_not_found")

    teams.delete_membership("t1", member["$id"])
    assert teams.get("t1")["total"] == 1
    teams.delete("t1")
    expect_error(lambda: teams.get("t1"), 404, "team_not_found")
    assert Users(client).list_memberships(by_email["userId"])["total"] == 0


def test_a_client_owns_its_team_and_invites_by_email(
    server: LocalServer, project: admin.ProjectCredentials, people: dict[str, Teams]
) -> None:
    alice, bob = people["alice"], people["bob"]
    team = alice.create("club", "Club")
    assert team["total"] == 1
    (owner,) = alice.list_memberships("club")["memberships"]
    assert (owner["userId"], owner["roles"], owner["confirm"]) == ("alice", ["owner"], True)
    expect_error(lambda: bob.get("club"), 404, "team_not_found")  # not a member: not found
    assert bob.list()["total"] == 0 and alice.list()["total"] == 1

    invite = alice.create_membership("club", ["player"], email="bob@example.com", url="http://localhost:3000/join")
    assert (invite["userId"], invite["confirm"], invite["joined"]) == ("bob", False, "")
    expect_error(lambda: bob.get("club"), 404, "team_not_found")  # an invitation gives no role yet
    mail = _outbox(server, invite["$id"])
    assert mail["to"] == "bob@example.com" and mail["teamName"] == "Club"
    assert mail["url"].startswith("http://localhost:3000/join?membershipId=") and mail["secret"] in mail["url"]
    assert mail["secret"] in server.log_path.read_text()  # and in the server's log

    expect_error(
        lambda: bob.update_membership_status("club", invite["$id"], "bob", "wrong"), 401, "team_invalid_secret"
    )
    expect_error(
        lambda: people["carol"].update_membership_status("club", invite["$id"], "bob", mail["secret"]),
        401, "team_invite_mismatch",
    )  # fmt: skip
    accepted = bob.update_membership_status("club", invite["$id"], "bob", mail["secret"])
    assert accepted["confirm"] is True and accepted["joined"]
    expect_error(
        lambda: bob.update_membership_status("club", invite["$id"], "bob", mail["secret"]), 409,
        "membership_already_confirmed",
    )  # fmt: skip
    assert bob.get("club")["total"] == 2
    assert Users(server.client(project.project_id, project.api_key)).get("bob")["emailVerification"] is True

    # A player is no owner: cannot rename, invite or change roles; may leave.
    expect_error(lambda: bob.update_name("club", "Mine"), 401, "user_unauthorized")
    expect_error(lambda: bob.create_membership("club", [], email="x@example.com"), 401, "user_unauthorized")
    expect_error(lambda: bob.update_membership("club", invite["$id"], ["owner"]), 401, "user_unauthorized")
    expect_error(lambda: alice.update_membership("club", owner["$id"], ["player"]), 400,
                 "membership_downgrade_prohibited")  # fmt: skip
    assert alice.update_membership("club", invite["$id"], ["player", "captain"])["roles"] == ["player", "captain"]
    bob.delete_membership("club", invite["$id"])
    expect_error(lambda: bob.get("club"), 404, "team_not_found")
    assert alice.get("club")["total"] == 1
    expect_error(lambda: bob.delete("club"), 404, "team_not_found")
    alice.delete("club")
    assert alice.list()["total"] == 0


def test_a_guest_accepting_an_invitation_is_signed_in(
    server: LocalServer, project: admin.ProjectCredentials, people: dict[str, Teams]
) -> None:
    """As a browser does it: the answer's session cookie signs the invitee in (the Python SDK keeps no cookies)."""
    people["alice"].create("band", "Band")
    invite = people["alice"].create_membership("band", ["member"], email="dave@example.com")
    secret = _outbox(server, invite["$id"])["secret"]
    answer = requests.patch(
        f"{server.url}/teams/band/memberships/{invite['$id']}/status",
        json={"userId": invite["userId"], "secret": secret},
        headers={"X-Appwrite-Project": project.project_id},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["confirm"] is True
    cookie = unquote(answer.cookies[f"a_session_{project.project_id}"])
    dave = _user(server, project, cookie)
    assert Account(dave).get()["email"] == "dave@example.com"
    assert Teams(dave).get("band")["total"] == 2


def test_team_roles_in_row_permissions(
    server: LocalServer, project: admin.ProjectCredentials, people: dict[str, Teams]
) -> None:
    """A row readable by ``team:t1`` is seen by its members only, one readable by ``team:t1/owner`` by its
    owners only; a member may grant the team's role, an outsider may not."""
    key = people["key"]
    key.create("t1", "T1")
    key.create_membership("t1", ["owner"], user_id="alice")
    key.create_membership("t1", ["player"], user_id="bob")
    db = TablesDB(server.client(project.project_id, project.api_key))
    db.create("app", "App")
    db.create_table("app", "notes", "Notes", permissions=[Permission.create(Role.users())], row_security=True,
                    columns=[{"key": "text", "type": "varchar", "size": 100, "required": False}])  # fmt: skip
    wait_for(lambda: all(c["status"] == "available" for c in db.list_columns("app", "notes")["columns"]))
    db.create_row("app", "notes", "team", {"text": "team"}, [Permission.read(Role.team("t1"))])
    db.create_row("app", "notes", "owners", {"text": "owners"}, [Permission.read(Role.team("t1", "owner"))])
    seen = {
        name: sorted(r["$id"] for r in TablesDB(people[name].client).list_rows("app", "notes")["rows"])
        for name in ("alice", "bob", "carol")
    }
    assert seen == {"alice": ["owners", "team"], "bob": ["team"], "carol": []}
    assert TablesDB(people["bob"].client).get_row("app", "notes", "team")["text"] == "team"
    expect_error(lambda: TablesDB(people["bob"].client).get_row("app", "notes", "owners"), 404, "row_not_found")

    bob_rows = TablesDB(people["bob"].client)
    bob_rows.create_row("app", "notes", "mine", {"text": "x"}, [Permission.read(Role.team("t1", "player"))])
    assert sorted(r["$id"] for r in TablesDB(people["alice"].client).list_rows("app", "notes")["rows"]) == [
        "owners", "team"
    ]  # fmt: skip
    carol_rows = TablesDB(people["carol"].client)
    granted = [Permission.read(Role.team("t1"))]
    expect_error(lambda: carol_rows.create_row("app", "notes", "no", {"text": "x"}, granted), 401, "user_unauthorized")
    (bob_membership,) = key.list_memberships("t1", [Query.equal("userId", "bob")])["memberships"]
    db.create_row("app", "notes", "member", {"text": "m"}, [Permission.read(Role.member(bob_membership["$id"]))])
    assert "member" in {r["$id"] for r in bob_rows.list_rows("app", "notes")["rows"]}
    key.delete_membership("t1", bob_membership["$id"])  # roles go with the membership, on the next request
    assert bob_rows.list_rows("app", "notes")["rows"] == []  # even "mine": it granted only team:t1/player


@pytest.mark.local_only("opens WebSockets to the local server's Realtime endpoint")
def test_realtime_teams_and_memberships_channels(server: LocalServer, project: admin.ProjectCredentials) -> None:
    secrets = {name: _session(server, project, name) for name in ("alice", "bob")}
    key = Teams(server.client(project.project_id, project.api_key))
    key.create("t1", "T1")
    key.create_membership("t1", ["owner"], user_id="alice")
    opened = []
    try:
        for name in ("alice", "bob"):
            cookie = {"Cookie": f"a_session_{project.project_id}={quote(secrets[name])}"}
            ws = Socket(server, f"project={project.project_id}", cookie)
            opened.append(ws)
            assert ws.recv()["type"] == "connected"
            ws.subscribe("s", ["teams", "memberships"])
        alice_ws, bob_ws = opened
        key.update_name("t1", "Renamed")
        event = alice_ws.event()
        assert event["channels"][:2] == ["teams", "teams.t1"] and "teams.t1.update" in event["events"]
        assert event["payload"]["name"] == "Renamed"
        added = key.create_membership("t1", ["player"], user_id="bob")
        event = alice_ws.event()
        assert f"memberships.{added['$id']}" in event["channels"] and event["payload"]["userId"] == "bob"
        bob_ws.nothing()  # not a member when it connected
    finally:
        for ws in opened:
            ws.close()
