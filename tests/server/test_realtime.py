"""Realtime on the real server: sockets opened with the Python ``websockets`` client against ``/v1/realtime``,
writes made through the official SDK (as users, guests, an API key and a function calling the API back).

"Receives nothing" is shown without sleeping: a write's events are queued on every socket before its HTTP
answer returns, so a ``ping`` sent after the answer is answered after any event frame the write caused; the
next frame being ``pong`` proves there was none.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from appwrite.client import Client
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.role import Role
from appwrite.services.account import Account
from appwrite.services.functions import Functions
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from support.npm import npm_ci
from support.sdk import create_jwt
from support.server import LocalServer
from test_functions import deploy, wait_for
from test_permissions_enforced import _session  # a user with a password, signed in (SSR flow)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from quixotic.server import admin

pytestmark = pytest.mark.local_only("opens WebSockets to the local server's Realtime endpoint")


class Socket:
    """One Realtime connection and the frames it receives."""

    def __init__(self, server: LocalServer, query: str, headers: dict[str, str] | None = None,
                 origin: str | None = None) -> None:  # fmt: skip
        url = server.url.replace("http://", "ws://", 1) + "/realtime?" + query
        opened = connect(url, additional_headers=headers or {}, origin=origin, open_timeout=10)  # type: ignore[arg-type]
        self.ws: ClientConnection = opened.__enter__()  # websockets 17 warns about a connection used without `with`

    def recv(self, timeout: float = 10) -> dict[str, Any]:
        frame = json.loads(self.ws.recv(timeout))
        assert isinstance(frame, dict)
        return frame

    def send(self, message: Any) -> dict[str, Any]:
        self.ws.send(message if isinstance(message, str) else json.dumps(message))
        return self.recv()

    def subscribe(self, sub_id: str, names: list[str], queries: list[str] | None = None) -> dict[str, Any]:
        reply = self.send({"type": "subscribe", "data": [{"subscriptionId": sub_id, "channels": names,
                                                          "queries": queries or []}]})  # fmt: skip
        assert reply["type"] == "response" and reply["data"]["to"] == "subscribe", reply
        return reply

    def event(self) -> dict[str, Any]:
        frame = self.recv()
        assert frame["type"] == "event", frame
        data = frame["data"]
        assert isinstance(data, dict)
        return data

    def nothing(self) -> None:
        """No event was delivered before now (see the module doc)."""
        assert self.send({"type": "ping"}) == {"type": "pong"}

    def closed_with(self, code: int) -> None:
        with pytest.raises(ConnectionClosed) as closed:
            self.ws.recv(10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == code

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def sockets() -> Iterator[list[Socket]]:
    opened: list[Socket] = []
    yield opened
    for s in opened:
        s.close()


@pytest.fixture
def app(server: LocalServer, project: admin.ProjectCredentials) -> dict[str, Any]:
    """Alice and Bob signed in, a notes table (row security on, users may create) and a key client."""
    secrets = {name: _session(server, project, name) for name in ("alice", "bob")}
    key = server.client(project.project_id, project.api_key)
    db = TablesDB(key)
    db.create("app", "App")
    db.create_table("app", "notes", "Notes", permissions=[Permission.create(Role.users())], row_security=True,
                    columns=[{"key": "text", "type": "varchar", "size": 100, "required": False},
                             {"key": "n", "type": "integer", "required": False}])  # fmt: skip
    wait_for(lambda: all(c["status"] == "available" for c in db.list_columns("app", "notes")["columns"]))
    users = {name: _client(server, project).set_session(secret) for name, secret in secrets.items()}
    return {"secrets": secrets, "key": key, "users": users, "project": project.project_id}


def _client(server: LocalServer, project: admin.ProjectCredentials) -> Client:
    return Client().set_endpoint(server.url).set_project(project.project_id)


def _open(server: LocalServer, app: dict[str, Any], sockets: list[Socket], who: str | None) -> Socket:
    """A socket of ``who`` (a user signed in by cookie, or a guest for None), past its connected frame."""
    headers = {"Cookie": f"a_session_{app['project']}={quote(app['secrets'][who])}"} if who else {}
    s = Socket(server, f"project={app['project']}", headers)
    sockets.append(s)
    connected = s.recv()
    assert connected["type"] == "connected" and connected["data"]["channels"] == []
    user = connected["data"]["user"]
    assert (user or {}).get("$id") == who and (user is None or "password" not in user)
    return s


# --- rows ----------------------------------------------------------------------------------------


def test_a_user_receives_the_changes_of_a_row_they_may_read(server: LocalServer, app: dict[str, Any],
                                                            sockets: list[Socket]) -> None:  # fmt: skip
    alice_ws, bob_ws, guest_ws = (_open(server, app, sockets, who) for who in ("alice", "bob", None))
    channel = "tablesdb.app.tables.notes.rows"
    for s in (alice_ws, bob_ws, guest_ws):
        reply = s.subscribe("sub-rows", [channel])
        assert reply["data"]["subscriptions"] == [
            {"subscriptionId": "sub-rows", "channels": [channel], "queries": ['{"method":"select","values":["*"]}']}
        ]
    alice = TablesDB(app["users"]["alice"])

    created = alice.create_row("app", "notes", "n1", {"text": "hello", "n": 1})  # alice's own by default
    event = alice_ws.event()
    assert event["subscriptions"] == ["sub-rows"]
    assert event["payload"] == created
    assert event["events"][0] == "databases.app.tables.notes.rows.n1.create"
    assert {"tablesdb.app.tables.notes.rows.n1.create", "databases.*.collections.*.documents.*.create"} <= set(
        event["events"]
    )
    assert len(event["channels"]) == 16 and {channel, "rows.create", f"{channel}.n1.create"} <= set(event["channels"])
    assert event["timestamp"].endswith("+00:00") and len(event["timestamp"]) == len("2026-08-21T12:00:00.000+00:00")
    bob_ws.nothing()
    guest_ws.nothing()

    updated = alice.update_row("app", "notes", "n1", {"text": "changed"})
    event = alice_ws.event()
    assert event["payload"]["text"] == "changed" and event["payload"] == updated
    assert "databases.app.tables.notes.rows.n1.update" in event["events"] and "rows.update" in event["channels"]
    alice.delete_row("app", "notes", "n1")
    event = alice_ws.event()
    assert event["payload"]["$id"] == "n1" and "rows.delete" in event["channels"]
    bob_ws.nothing()
    guest_ws.nothing()

    # A row anyone may read reaches all three, the guest too; one written with the key as well.
    alice.create_row("app", "notes", "pub", {"text": "for all"}, permissions=[Permission.read(Role.any())])
    app_key = TablesDB(app["key"])
    app_key.create_row("app", "notes", "k1", {"text": "bob's"}, permissions=[Permission.read(Role.user("bob"))])
    for s in (alice_ws, bob_ws, guest_ws):
        assert s.event()["payload"]["$id"] == "pub"
    assert bob_ws.event()["payload"]["$id"] == "k1"
    for s in (alice_ws, bob_ws, guest_ws):
        s.nothing()


def test_table_permissions_without_row_security(server: LocalServer, app: dict[str, Any],
                                                sockets: list[Socket]) -> None:  # fmt: skip
    """With row security off only the table's read counts: users read it, the guest does not."""
    key = TablesDB(app["key"])
    key.create_table("app", "board", "Board", permissions=[Permission.read(Role.users())],
                     columns=[{"key": "text", "type": "varchar", "size": 50, "required": False}])  # fmt: skip
    wait_for(lambda: key.list_columns("app", "board")["columns"][0]["status"] == "available")
    bob_ws, guest_ws = _open(server, app, sockets, "bob"), _open(server, app, sockets, None)
    for s in (bob_ws, guest_ws):
        s.subscribe("all-rows", ["rows"])
    key.create_row("app", "board", "b1", {"text": "x"}, permissions=[Permission.read(Role.any())])
    event = bob_ws.event()
    assert event["payload"]["$id"] == "b1" and "tablesdb.app.tables.board.rows.b1" in event["channels"]
    guest_ws.nothing()  # the row's own read("any") counts for nothing without row security


def test_legacy_channels_and_documents(server: LocalServer, app: dict[str, Any], sockets: list[Socket]) -> None:
    alice_ws = _open(server, app, sockets, "alice")
    alice_ws.subscribe("legacy", ["databases.app.collections.notes.documents"])
    TablesDB(app["users"]["alice"]).create_row("app", "notes", "l1", {"text": "old API channel"})
    event = alice_ws.event()
    assert event["subscriptions"] == ["legacy"] and "databases.app.collections.notes.documents.l1" in event["channels"]


def test_a_query_filters_and_unsubscribe_stops_delivery(server: LocalServer, app: dict[str, Any],
                                                        sockets: list[Socket]) -> None:  # fmt: skip
    alice_ws = _open(server, app, sockets, "alice")
    big = json.dumps({"method": "greaterThan", "attribute": "n", "values": [10]})
    alice_ws.subscribe("big", ["rows"], [big])
    alice_ws.subscribe("all", ["tablesdb.app.tables.notes.rows"])
    alice = TablesDB(app["users"]["alice"])
    alice.create_row("app", "notes", "small", {"n": 3})
    assert alice_ws.event()["subscriptions"] == ["all"]
    alice.create_row("app", "notes", "large", {"n": 30})
    assert sorted(alice_ws.event()["subscriptions"]) == ["all", "big"]

    reply = alice_ws.send({"type": "unsubscribe", "data": [{"subscriptionId": "all"}, {"subscriptionId": "nope"}]})
    assert reply["data"]["subscriptions"] == [{"subscriptionId": "all", "removed": True},
                                              {"subscriptionId": "nope", "removed": False}]  # fmt: skip
    alice.create_row("app", "notes", "small2", {"n": 4})
    alice_ws.nothing()
    alice.create_row("app", "notes", "large2", {"n": 40})
    assert alice_ws.event()["subscriptions"] == ["big"]

    # Subscribing again with the same ID replaces the subscription (the SDKs' update()).
    alice_ws.subscribe("big", ["files"])
    alice.create_row("app", "notes", "large3", {"n": 50})
    alice_ws.nothing()


def test_unsupported_query_is_refused_and_the_socket_stays(server: LocalServer, app: dict[str, Any],
                                                           sockets: list[Socket]) -> None:  # fmt: skip
    alice_ws = _open(server, app, sockets, "alice")
    search = json.dumps({"method": "search", "attribute": "text", "values": ["x"]})
    reply = alice_ws.send({"type": "subscribe", "data": [{"subscriptionId": "s", "channels": ["rows"],
                                                          "queries": [search]}]})  # fmt: skip
    assert reply["type"] == "error" and reply["data"]["code"] == 1003
    assert "Invalid query" in reply["data"]["message"] and "search" in reply["data"]["message"]
    alice_ws.nothing()


# --- files and account -------------------------------------------------------------------------------


def test_file_events_follow_bucket_permissions(server: LocalServer, app: dict[str, Any],
                                               sockets: list[Socket]) -> None:  # fmt: skip
    storage = Storage(app["key"])
    storage.create_bucket("audio", "Audio", permissions=[Permission.create(Role.users())], file_security=True)
    alice_ws, bob_ws = _open(server, app, sockets, "alice"), _open(server, app, sockets, "bob")
    alice_ws.subscribe("mine", ["buckets.audio.files"])
    bob_ws.subscribe("theirs", ["files"])
    uploaded = Storage(app["users"]["alice"]).create_file("audio", "rec1", InputFile.from_bytes(b"RIFF....", "a.wav"))
    event = alice_ws.event()
    assert event["subscriptions"] == ["mine"] and event["payload"]["$id"] == "rec1"
    assert event["payload"] == uploaded
    assert {"files", "buckets.audio.files.rec1", "buckets.audio.files.create"} <= set(event["channels"])
    assert "buckets.audio.files.rec1.create" in event["events"]
    bob_ws.nothing()  # alice's file is hers alone
    Storage(app["users"]["alice"]).delete_file("audio", "rec1")
    assert "buckets.audio.files.rec1.delete" in alice_ws.event()["events"]
    bob_ws.nothing()


def test_account_channel(server: LocalServer, app: dict[str, Any], sockets: list[Socket]) -> None:
    alice_ws, bob_ws = _open(server, app, sockets, "alice"), _open(server, app, sockets, "bob")
    reply = alice_ws.subscribe("me", ["account", "account.bob"])
    assert reply["data"]["subscriptions"][0]["channels"] == ["account", "account.alice"]  # another's is dropped
    bob_ws.subscribe("me", ["account"])
    Account(app["users"]["alice"]).update_name("Alice A.")
    event = alice_ws.event()
    assert event["payload"]["name"] == "Alice A." and "password" not in event["payload"]
    assert {"account", "account.alice", "account.update", "account.alice.update"} <= set(event["channels"])
    assert "users.alice.update.name" in event["events"]
    bob_ws.nothing()


# --- connecting -----------------------------------------------------------------------------------


def test_in_band_authentication_and_jwt(server: LocalServer, app: dict[str, Any], sockets: list[Socket]) -> None:
    """The web SDK's flow: connect as a guest, send the session, subscribe; and a JWT in the query string."""
    guest = _open(server, app, sockets, None)
    guest.subscribe("me", ["account", "account.update"])
    bad = guest.send({"type": "authentication", "data": {"session": "bm90IGEgc2Vzc2lvbg=="}})
    assert bad["type"] == "error" and bad["data"] == {"code": 1003, "message": "Session is not valid."}
    reply = guest.send({"type": "authentication", "data": {"session": app["secrets"]["alice"]}})
    assert reply["type"] == "response" and reply["data"]["user"]["$id"] == "alice"
    Account(app["users"]["alice"]).update_prefs({"theme": "dark"})
    event = guest.event()
    assert event["subscriptions"] == ["me"] and event["payload"]["prefs"] == {"theme": "dark"}

    jwt = create_jwt(Account(app["users"]["bob"]))["jwt"]
    bob_ws = Socket(server, f"project={app['project']}&jwt={jwt}")
    sockets.append(bob_ws)
    assert bob_ws.recv()["data"]["user"]["$id"] == "bob"
    forged = Socket(server, f"project={app['project']}&jwt={jwt[:-4]}AAAA")
    sockets.append(forged)
    refused = forged.recv()
    assert refused["type"] == "error" and refused["data"]["code"] == 401
    forged.closed_with(1008)


def test_fallback_cookie_header(server: LocalServer, app: dict[str, Any], sockets: list[Socket]) -> None:
    fallback = json.dumps({f"a_session_{app['project']}": app["secrets"]["bob"]})
    s = Socket(server, f"project={app['project']}", {"X-Fallback-Cookies": fallback})
    sockets.append(s)
    assert s.recv()["data"]["user"]["$id"] == "bob"


def test_unknown_project_and_missing_project_context(server: LocalServer, sockets: list[Socket]) -> None:
    unknown = Socket(server, "project=nosuchproject")
    sockets.append(unknown)
    assert unknown.recv() == {"type": "error", "data": {"code": 1008, "message": "Missing or unknown project ID"}}
    unknown.closed_with(1008)

    console = Socket(server, "")  # no project: the console's, which has nothing to subscribe to here
    sockets.append(console)
    assert console.recv()["type"] == "connected"
    assert console.send({"type": "ping"}) == {"type": "pong"}  # ping needs no project
    reply = console.send({"type": "subscribe", "data": [{"channels": ["rows"]}]})
    assert reply["data"] == {"code": 1008, "message": "Missing project context. Reconnect to the project first."}
    console.closed_with(1008)


def test_bad_messages_get_1003_and_the_socket_stays(server: LocalServer, app: dict[str, Any],
                                                    sockets: list[Socket]) -> None:  # fmt: skip
    s = _open(server, app, sockets, None)
    for message, words in (
        ("{not json", "Message format is not valid."),
        ("[]", "Message format is not valid."),
        ({"type": "dance", "data": {}}, "Message type is not valid."),
        ({"type": "subscribe", "data": [{"subscriptionId": "x"}]}, "channels is not present in payload."),
        ({"type": "subscribe", "data": [{"channels": "rows"}]}, "channels is not a valid array."),
        ({"type": "subscribe", "data": [{"subscriptionId": "!bad", "channels": []}]}, "not a valid id"),
        ({"type": "unsubscribe", "data": [{}]}, "non-empty subscriptionId"),
    ):
        reply = s.send(message)
        assert reply["type"] == "error" and reply["data"]["code"] == 1003, (message, reply)
        assert words in reply["data"]["message"]
    reply = s.send({"type": "subscribe", "data": [{"channels": ["rows"]}]})
    assert reply["data"]["subscriptions"][0]["subscriptionId"]  # the server makes an ID when none is sent
    s.nothing()


def test_limits(server: LocalServer, app: dict[str, Any], sockets: list[Socket]) -> None:
    s = _open(server, app, sockets, None)
    for _ in range(32):
        assert s.send({"type": "ping"}) == {"type": "pong"}
    assert s.send({"type": "ping"}) == {"type": "error", "data": {"code": 1013, "message": "Too many messages."}}
    big = _open(server, app, sockets, None)
    big.ws.send(json.dumps({"type": "ping", "data": "x" * 70_000}))
    frame = big.recv()
    assert frame["type"] == "error" and frame["data"]["code"] == 1009
    big.closed_with(1009)


def test_origin_must_be_a_platform(server: LocalServer, app: dict[str, Any], sockets: list[Socket]) -> None:
    refused = Socket(server, f"project={app['project']}", origin="http://evil.example")
    sockets.append(refused)
    frame = refused.recv()
    assert frame["type"] == "error" and frame["data"]["code"] == 1008 and "evil.example" in frame["data"]["message"]
    refused.closed_with(1008)
    local = Socket(server, f"project={app['project']}", origin="http://localhost:5173")
    sockets.append(local)
    assert local.recv()["type"] == "connected"


def test_url_mode(server: LocalServer, app: dict[str, Any], sockets: list[Socket]) -> None:
    """Legacy clients name the channels in the URL, with per-channel queries in the channel's parameter."""
    big = quote(json.dumps({"method": "greaterThan", "attribute": "n", "values": [10]}))
    s = Socket(server, f"project={app['project']}&channels[]=rows&channels[]=account&rows[]={big}",
               {"Cookie": f"a_session_{app['project']}={quote(app['secrets']['alice'])}"})  # fmt: skip
    sockets.append(s)
    connected = s.recv()["data"]
    assert connected["channels"] == ["rows", "account", "account.alice"] and len(connected["subscriptions"]) == 1
    alice = TablesDB(app["users"]["alice"])
    alice.create_row("app", "notes", "u1", {"n": 1})
    s.nothing()
    alice.create_row("app", "notes", "u2", {"n": 11})
    assert s.event()["subscriptions"] == connected["subscriptions"]
    bad = Socket(server, f"project={app['project']}&channels[]=rows&rows[]={quote('{bad')}")
    sockets.append(bad)
    assert bad.recv()["data"]["code"] == 1008
    bad.closed_with(1008)


# --- functions ------------------------------------------------------------------------------------

TRANSCRIBE = """
import json
import os
from urllib import request as rq


def main(context):
    # what QuixoticWhisper's transcribe does: update the transcript row with the function's own key
    row = json.loads(context.req.body_text or "{}").get("row", "t1")
    url = f"{os.environ['APPWRITE_FUNCTION_API_ENDPOINT']}/tablesdb/app/tables/notes/rows/{row}"
    req = rq.Request(url, method="PATCH", data=json.dumps({"data": {"text": "transcribed"}}).encode(), headers={
        "X-Appwrite-Project": os.environ["APPWRITE_FUNCTION_PROJECT_ID"],
        "X-Appwrite-Key": context.req.headers["x-appwrite-key"], "Content-Type": "application/json"})
    with rq.urlopen(req) as resp:
        return context.res.json({"status": resp.status})
"""


def test_a_row_updated_by_a_function_reaches_the_subscriber(server: LocalServer, app: dict[str, Any],
                                                            sockets: list[Socket]) -> None:  # fmt: skip
    fn = Functions(app["key"])
    fn.create("transcribe", "Transcribe", "python-3.11", execute=[Role.users()], entrypoint="main.py",
              scopes=["rows.read", "rows.write"], timeout=15)  # fmt: skip
    dep = deploy(fn, "transcribe", {"main.py": TRANSCRIBE})
    assert dep["status"] == "ready", dep["buildLogs"]
    wait_for(lambda: fn.get("transcribe")["deploymentId"] == dep["$id"])
    alice = TablesDB(app["users"]["alice"])
    alice.create_row("app", "notes", "t1", {"text": "pending"})
    alice_ws, bob_ws = _open(server, app, sockets, "alice"), _open(server, app, sockets, "bob")
    for s in (alice_ws, bob_ws):
        s.subscribe("transcript", ["tablesdb.app.tables.notes.rows.t1"])

    done = Functions(app["users"]["alice"]).create_execution("transcribe", body=json.dumps({"row": "t1"}))
    assert done["status"] == "completed" and json.loads(done["responseBody"]) == {"status": 200}, done
    event = alice_ws.event()
    assert event["subscriptions"] == ["transcript"] and event["payload"]["text"] == "transcribed"
    assert "tablesdb.app.tables.notes.rows.t1.update" in event["channels"]
    bob_ws.nothing()


def test_a_users_execution_reaches_that_user_without_its_logs(server: LocalServer, app: dict[str, Any],
                                                              sockets: list[Socket]) -> None:  # fmt: skip
    fn = Functions(app["key"])
    fn.create("echo", "Echo", "python-3.11", execute=[Role.users()], entrypoint="main.py", timeout=15)
    dep = deploy(
        fn,
        "echo",
        {"main.py": "def main(context):\n    context.log('secret log')\n    return context.res.text('ok')\n"},
    )
    assert dep["status"] == "ready", dep["buildLogs"]
    wait_for(lambda: fn.get("echo")["deploymentId"] == dep["$id"])
    alice_ws, bob_ws = _open(server, app, sockets, "alice"), _open(server, app, sockets, "bob")
    for s in (alice_ws, bob_ws):
        s.subscribe("runs", ["executions", "functions.echo"])
    done = Functions(app["users"]["alice"]).create_execution("echo")
    assert done["status"] == "completed" and done["logs"] == "", done  # sensitive: a user never sees the logs
    seen = [alice_ws.event() for _ in range(3)]  # created, processing, completed
    assert [e["payload"]["status"] for e in seen] == ["waiting", "processing", "completed"]
    assert all(e["payload"]["$id"] == done["$id"] and e["payload"]["logs"] == "" for e in seen)
    assert seen[0]["events"][0] == f"functions.echo.executions.{done['$id']}.create"
    assert {"executions", f"executions.{done['$id']}", "functions.echo"} <= set(seen[2]["channels"])
    assert all(e["subscriptions"] == ["runs"] for e in seen)
    bob_ws.nothing()
    assert fn.get_execution("echo", done["$id"])["logs"].strip() == "secret log"  # the key does


# --- the official web SDK -------------------------------------------------------------------------

JS = Path(__file__).parent / "realtime_js"


def test_the_web_sdk_receives_its_transcript_and_nothing_else(server: LocalServer, app: dict[str, Any]) -> None:
    """npm's ``appwrite`` (pinned in realtime_js/package.json) under node: an anonymous user subscribes with
    ``Realtime.subscribe`` (its session reaching Realtime through the SDK's cookieFallback and the
    ``authentication`` message), writes its row and sees each change once per matching subscription; Bob's
    row never arrives, nor anything after ``close()``."""
    node = shutil.which("node")
    assert node, "node (20 or later) is needed for the web SDK test"
    npm_ci(JS, "appwrite")
    done = subprocess.run(
        [node, str(JS / "scenario.mjs"), server.url, app["project"], "app", "notes", app["secrets"]["bob"]],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    channel = "tablesdb.app.tables.notes.rows"
    received = result["received"]
    assert [r.get("id") or r.get("big") for r in received] == ["mine", "mine", "mine", "mine"], received
    create, update, big_update, big_after_close = received
    assert create["text"] == "pending" and create["events"] == ["databases.app.tables.notes.rows.mine.create"]
    assert channel in create["channels"] and len(create["subscriptions"]) == 1
    assert update["text"] == "transcribed" and len(update["subscriptions"]) == 2  # both subscriptions matched
    assert big_update == {"big": "mine"} and big_after_close == {"big": "mine"}
    owner = Users(app["key"]).get(result["userId"])
    assert owner["$id"] == result["userId"]  # the anonymous user the SDK signed in
