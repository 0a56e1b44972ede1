"""The Account API as a client app uses it: the official SDK without a key (``set_session`` / ``set_jwt``),
and raw HTTP (requests) for what a browser or the Flutter cookie jar does with cookies and the
``X-Fallback-Cookies`` header. All against the real server process of the session fixture."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import time
from typing import Any

import pytest
import requests
from appwrite.client import Client
from appwrite.enums.password_hash import PasswordHash
from appwrite.id import ID
from appwrite.services.account import Account
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from argon2 import PasswordHasher
from support.sdk import create_jwt, expect_error
from support.server import LocalServer

from quixotic.server import admin, platforms

PASSWORD = "correct horse battery"


def _public(server: LocalServer, project_id: str) -> Client:
    """A client app's client: a project, no key."""
    return Client().set_endpoint(server.url).set_project(project_id)


def _signed_in(server: LocalServer, project_id: str, session: dict[str, Any]) -> Account:
    return Account(_public(server, project_id).set_session(session["secret"]))


def _ssr_session(server: LocalServer, project: admin.ProjectCredentials, email: str) -> dict[str, Any]:
    """A session made with the key (the SSR flow), whose model carries the secret to set on a client."""
    return Account(server.client(project.project_id, project.api_key)).create_email_password_session(email, PASSWORD)


def test_sign_up_sign_in_get_account_and_sessions(server: LocalServer, project: admin.ProjectCredentials) -> None:
    guest = Account(_public(server, project.project_id))
    created = guest.create("alice", "Alice@Example.com", PASSWORD, "Alice")
    assert (created["$id"], created["email"], created["name"]) == ("alice", "alice@example.com", "Alice")
    assert not {"password", "hash", "hashOptions"} & created.keys()

    browser = guest.create_email_password_session("alice@example.com", PASSWORD)
    assert (browser["userId"], browser["provider"], browser["providerUid"]) == ("alice", "email", "alice@example.com")
    assert browser["factors"] == ["password"] and browser["current"] is True
    assert browser["secret"] == ""  # only a key caller sees it

    session = _ssr_session(server, project, "alice@example.com")
    account = _signed_in(server, project.project_id, session)
    me = account.get()
    assert (me["$id"], me["email"]) == ("alice", "alice@example.com")
    assert not {"password", "hash", "hashOptions"} & me.keys()

    listed = account.list_sessions()
    assert listed["total"] == 2
    assert {s["$id"]: s["current"] for s in listed["sessions"]} == {browser["$id"]: False, session["$id"]: True}
    assert all(s["secret"] == "" for s in listed["sessions"])
    assert account.get_session("current")["$id"] == session["$id"]
    assert account.get_session(browser["$id"])["current"] is False
    expect_error(lambda: account.get_session("nope"), 404, "user_session_not_found")

    assert account.update_name("Alice A.")["name"] == "Alice A."
    assert account.update_prefs({"theme": "dark"})["prefs"] == {"theme": "dark"}
    assert account.get_prefs() == {"theme": "dark"}

    account.delete_session(browser["$id"])  # another device: this one stays signed in
    assert [s["$id"] for s in account.list_sessions()["sessions"]] == [session["$id"]]


def test_passwords_are_argon2id(server: LocalServer, project: admin.ProjectCredentials) -> None:
    Account(_public(server, project.project_id)).create("bob", "bob@example.com", PASSWORD)
    stored = Users(server.client(project.project_id, project.api_key)).get("bob")
    assert stored["hash"] == "argon2" and stored["password"].startswith("$argon2id$v=19$m=65536,t=4,p=3$")
    assert stored["hashOptions"] == {"type": "argon2", "memoryCost": 65536, "timeCost": 4, "threads": 3}


def test_anonymous_session(server: LocalServer, project: admin.ProjectCredentials) -> None:
    key_account = Account(server.client(project.project_id, project.api_key))
    session = key_account.create_anonymous_session()
    assert session["provider"] == "anonymous" and session["factors"] == ["anonymous"]
    me = _signed_in(server, project.project_id, session).get()
    assert me["$id"] == session["userId"] and me["email"] == "" and me["name"] == ""
    assert Users(server.client(project.project_id, project.api_key)).get(me["$id"])["password"] is None


def test_bad_credentials_and_an_existing_session(server: LocalServer, project: admin.ProjectCredentials) -> None:
    guest = Account(_public(server, project.project_id))
    guest.create("carol", "carol@example.com", PASSWORD)
    expect_error(lambda: guest.create_email_password_session("carol@example.com", "wrong password"), 401,
                 "user_invalid_credentials")  # fmt: skip
    expect_error(lambda: guest.create_email_password_session("nobody@example.com", PASSWORD), 401,
                 "user_invalid_credentials")  # fmt: skip
    expect_error(lambda: guest.create("carol", "other@example.com", PASSWORD), 409, "user_already_exists")
    expect_error(lambda: guest.create("dave", "dave@example.com", "short"), 400, "general_argument_invalid")

    account = _signed_in(server, project.project_id, _ssr_session(server, project, "carol@example.com"))
    expect_error(lambda: account.create_email_password_session("carol@example.com", PASSWORD), 401,
                 "user_session_already_exists")  # fmt: skip
    expect_error(account.create_anonymous_session, 401, "user_session_already_exists")


def test_guest_is_refused_account_routes(server: LocalServer, project: admin.ProjectCredentials) -> None:
    guest = Account(_public(server, project.project_id))
    err = expect_error(guest.get, 401, "general_unauthorized_scope")
    assert err.message == 'User (role: guests) missing scopes (["account"])'
    expect_error(guest.list_sessions, 401, "general_unauthorized_scope")
    expect_error(lambda: create_jwt(guest), 401, "general_unauthorized_scope")
    expect_error(lambda: guest.delete_session("current"), 401, "general_unauthorized_scope")
    # A secret that opens nothing is a guest, silently, as on Appwrite.
    forged = base64.b64encode(json.dumps({"id": "alice", "secret": "0" * 256}).encode()).decode()
    expect_error(
        Account(_public(server, project.project_id).set_session(forged)).get, 401, "general_unauthorized_scope"
    )
    expect_error(Account(_public(server, project.project_id).set_session("not base64!")).get, 401,
                 "general_unauthorized_scope")  # fmt: skip


@pytest.mark.local_only("the local server holds the console member's scopes back from a project's users")
def test_data_routes_check_permissions(server: LocalServer, project: admin.ProjectCredentials) -> None:
    """A signed-in client reaches the rows routes, which check the table's permissions (none here), not every row."""
    keyed = TablesDB(server.client(project.project_id, project.api_key))
    keyed.create("db", "DB")
    keyed.create_table("db", "t", "T")
    Account(_public(server, project.project_id)).create("erin", "erin@example.com", PASSWORD)
    secret = _ssr_session(server, project, "erin@example.com")["secret"]
    client = _public(server, project.project_id).set_session(secret)
    expect_error(lambda: TablesDB(client).list_rows("db", "t"), 401, "user_unauthorized")
    # Nor do the console member's scopes (projects.read) open the project's variables to its users.
    session = {"X-Appwrite-Project": project.project_id, "X-Appwrite-Session": secret}
    variables = requests.get(f"{server.url}/project/variables", headers=session)
    assert (variables.status_code, variables.json()["type"]) == (401, "general_unauthorized_scope")
    assert requests.get(f"{server.url}/account", headers=session).status_code == 200


def test_jwt_works_and_expires(server: LocalServer, project: admin.ProjectCredentials) -> None:
    Account(_public(server, project.project_id)).create("frank", "frank@example.com", PASSWORD)
    session = _ssr_session(server, project, "frank@example.com")
    account = _signed_in(server, project.project_id, session)
    jwt = create_jwt(account)["jwt"]
    header, payload, _ = jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"typ": "JWT", "alg": "HS256"}
    assert claims.keys() == {"userId", "sessionId", "exp"}
    assert (claims["userId"], claims["sessionId"]) == ("frank", session["$id"])
    assert abs(claims["exp"] - (time.time() + 900)) < 60  # 15 minutes

    by_jwt = Account(_public(server, project.project_id).set_jwt(jwt))
    assert by_jwt.get()["$id"] == "frank"
    assert by_jwt.get_session("current")["$id"] == session["$id"]
    expect_error(lambda: create_jwt(by_jwt), 403, "user_jwt_creation_denied")
    both = _public(server, project.project_id).set_session(session["secret"]).set_jwt(jwt)
    expect_error(Account(both).get, 403, "user_jwt_and_cookie_set")

    tampered = jwt[:-2] + ("AA" if not jwt.endswith("AA") else "BB")
    expect_error(Account(_public(server, project.project_id).set_jwt(tampered)).get, 401, "user_jwt_invalid")
    expect_error(Account(_public(server, project.project_id).set_jwt("a.b")).get, 401, "user_jwt_invalid")

    short = create_jwt(account, duration=1)["jwt"]
    assert Account(_public(server, project.project_id).set_jwt(short)).get()["$id"] == "frank"
    time.sleep(2.1)
    err = expect_error(Account(_public(server, project.project_id).set_jwt(short)).get, 401, "user_jwt_invalid")
    assert "Expired" in err.message
    expect_error(lambda: create_jwt(account, duration=3601), 400, "general_argument_invalid")


def test_logout_invalidates_session_and_its_jwts(server: LocalServer, project: admin.ProjectCredentials) -> None:
    Account(_public(server, project.project_id)).create("gina", "gina@example.com", PASSWORD)
    session = _ssr_session(server, project, "gina@example.com")
    account = _signed_in(server, project.project_id, session)
    jwt = create_jwt(account)["jwt"]
    account.delete_session("current")
    expect_error(account.get, 401, "general_unauthorized_scope")
    expect_error(Account(_public(server, project.project_id).set_jwt(jwt)).get, 401, "general_unauthorized_scope")

    again = _signed_in(server, project.project_id, _ssr_session(server, project, "gina@example.com"))
    other = _signed_in(server, project.project_id, _ssr_session(server, project, "gina@example.com"))
    again.delete_sessions()
    expect_error(other.get, 401, "general_unauthorized_scope")


@pytest.mark.local_only("ages a session in the local server's SQLite")
def test_session_expires(server: LocalServer, project: admin.ProjectCredentials) -> None:
    """A session past its ``expire`` (Appwrite's one year, aged here in the server's own database) is a guest."""
    Account(_public(server, project.project_id)).create("hank", "hank@example.com", PASSWORD)
    session = _ssr_session(server, project, "hank@example.com")
    expire = time.strftime("%Y", time.gmtime(time.time() + 31_536_000 - 86_400))
    assert session["expire"][:4] in {expire, str(int(expire) + 1)}
    account = _signed_in(server, project.project_id, session)
    assert account.get()["$id"] == "hank"
    conn = sqlite3.connect(server.data_dir / "quixotic.db", timeout=30)
    try:
        with conn:
            conn.execute(
                "UPDATE account_sessions SET expire='2000-01-01T00:00:00.000+00:00' WHERE project=? AND id=?",
                (project.project_id, session["$id"]),
            )
    finally:
        conn.close()
    expect_error(account.get, 401, "general_unauthorized_scope")


def test_users_api_and_accounts_are_one(server: LocalServer, project: admin.ProjectCredentials) -> None:
    users = Users(server.client(project.project_id, project.api_key))
    users.create("ivan", email="ivan@example.com", password=PASSWORD, name="Ivan")  # scrypt on the local server
    session = Account(_public(server, project.project_id)).create_email_password_session("ivan@example.com", PASSWORD)
    assert session["userId"] == "ivan"
    assert users.get("ivan")["hash"] == "argon2"  # re-hashed at sign-in, as Appwrite does
    assert (
        _signed_in(server, project.project_id, _ssr_session(server, project, "ivan@example.com")).get()["name"]
        == "Ivan"
    )

    Account(_public(server, project.project_id)).create("jane", "jane@example.com", PASSWORD, "Jane")
    assert users.get("jane")["email"] == "jane@example.com"
    assert "jane" in [u["$id"] for u in users.list()["users"]]

    users.update_status("ivan", False)
    expect_error(lambda: Account(_public(server, project.project_id)).create_email_password_session(
        "ivan@example.com", PASSWORD), 403, "user_blocked")  # fmt: skip


@pytest.mark.local_only("makes a second project with `quixotic local`")
def test_a_session_of_one_project_opens_nothing_in_another(server: LocalServer) -> None:
    a, b = server.new_project(), server.new_project()
    for p in (a, b):
        Users(server.client(p.project_id, p.api_key)).create("kim", email="kim@example.com", password=PASSWORD)
    session = _ssr_session(server, a, "kim@example.com")
    jwt = create_jwt(_signed_in(server, a.project_id, session))["jwt"]
    assert _signed_in(server, a.project_id, session).get()["$id"] == "kim"
    expect_error(_signed_in(server, b.project_id, session).get, 401, "general_unauthorized_scope")
    expect_error(Account(_public(server, b.project_id).set_jwt(jwt)).get, 401, "general_unauthorized_scope")
    cookie = {f"a_session_{b.project_id}": session["secret"], f"a_session_{a.project_id}": session["secret"]}
    answer = requests.get(f"{server.url}/account", headers={"X-Appwrite-Project": b.project_id}, cookies=cookie)
    assert answer.status_code == 401


# --- cookies and the fallback header, as browsers and the Flutter cookie jar use them ---------------------


def _sign_in_raw(server: LocalServer, project_id: str, email: str, **headers: str) -> requests.Response:
    answer = requests.post(
        f"{server.url}/account/sessions/email",
        json={"email": email, "password": PASSWORD},
        headers={"X-Appwrite-Project": project_id, **headers},
    )
    assert answer.status_code == 201, answer.text
    return answer


def test_session_cookies_and_fallback_header(server: LocalServer, project: admin.ProjectCredentials) -> None:
    pid = project.project_id
    Account(_public(server, pid)).create("lena", "lena@example.com", PASSWORD)
    answer = _sign_in_raw(server, pid, "lena@example.com", Origin="http://localhost:5173")
    set_cookies = answer.raw.headers.getlist("Set-Cookie")
    assert len(set_cookies) == 2
    legacy, main = set_cookies
    assert legacy.startswith(f"a_session_{pid}_legacy=") and main.startswith(f"a_session_{pid}=")
    for value in (legacy, main):
        attributes = {a.strip().split("=")[0].lower() for a in value.split(";")[1:]}
        assert {"expires", "path", "httponly"} <= attributes
        assert "domain" not in attributes and "secure" not in attributes  # 127.0.0.1 over http
    assert "samesite=none" in main.lower() and "samesite" not in legacy.lower()

    assert answer.headers["X-Fallback-Cookies"].startswith(f'{{"a_session_{pid}":"')
    fallback = json.loads(answer.headers["X-Fallback-Cookies"])
    encoded = fallback[f"a_session_{pid}"]
    decoded = json.loads(base64.b64decode(encoded))
    assert decoded["id"] == "lena" and len(decoded["secret"]) == 256
    assert (
        answer.cookies[f"a_session_{pid}"] == encoded
        or requests.utils.unquote(answer.cookies[f"a_session_{pid}"]) == encoded
    )

    headers = {"X-Appwrite-Project": pid}
    # Each way of carrying the session opens the account: the cookie jar, the legacy cookie, the fallback header.
    jar = requests.Session()
    jar.cookies.update(answer.cookies)
    by_cookie = jar.get(f"{server.url}/account", headers=headers)
    assert (by_cookie.json()["$id"], by_cookie.headers["X-Debug-Fallback"]) == ("lena", "false")
    legacy_only = {f"a_session_{pid}_legacy": answer.cookies[f"a_session_{pid}_legacy"]}
    assert requests.get(f"{server.url}/account", headers=headers, cookies=legacy_only).json()["$id"] == "lena"
    by_fallback = requests.get(
        f"{server.url}/account", headers={**headers, "X-Fallback-Cookies": answer.headers["X-Fallback-Cookies"]}
    )
    assert (by_fallback.json()["$id"], by_fallback.headers["X-Debug-Fallback"]) == ("lena", "true")
    bad_fallback = requests.get(f"{server.url}/account", headers={**headers, "X-Fallback-Cookies": "{not json"})
    assert (bad_fallback.status_code, bad_fallback.json()["type"]) == (401, "general_unauthorized_scope")

    # Logout through the cookie jar: both cookies expired, the fallback emptied, the session gone.
    out = jar.delete(f"{server.url}/account/sessions/current", headers=headers)
    assert out.status_code == 204
    assert out.headers["X-Fallback-Cookies"] == "[]"
    cleared = out.raw.headers.getlist("Set-Cookie")
    assert [c.split("=")[0] for c in cleared] == [f"a_session_{pid}_legacy", f"a_session_{pid}"]
    assert all(c.split(";")[0].endswith("=") for c in cleared)
    assert f"a_session_{pid}" not in jar.cookies  # expired in the past: the jar dropped it
    again = requests.get(
        f"{server.url}/account", headers={**headers, "X-Fallback-Cookies": answer.headers["X-Fallback-Cookies"]}
    )
    assert again.status_code == 401


@pytest.mark.local_only("sends a Host header of another domain")
def test_same_site_page_gets_no_fallback_header(server: LocalServer, project: admin.ProjectCredentials) -> None:
    """A page on the API's own domain keeps its session in cookies: no X-Fallback-Cookies then."""
    if isinstance(server, LocalServer):  # the page's origin is a web platform of the project (remotely: set it up)
        platforms.add(server.data_dir, project.project_id, "web", hostname="app.example.com")
    Account(_public(server, project.project_id)).create("mia", "mia@example.com", PASSWORD)
    answer = requests.post(
        f"{server.url}/account/sessions/email",
        json={"email": "mia@example.com", "password": PASSWORD},
        headers={"X-Appwrite-Project": project.project_id, "Origin": "https://app.example.com",
                 "Host": "api.example.com"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert "X-Fallback-Cookies" not in answer.headers
    assert all("domain=.api.example.com" in c for c in answer.raw.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("route", ["/account/sessions/anonymous", "/account/sessions/email"])
def test_session_routes_refuse_a_signed_in_cookie(
    server: LocalServer, project: admin.ProjectCredentials, route: str
) -> None:
    pid = project.project_id
    email = f"ned-{route.rsplit('/', 1)[-1]}@example.com"  # one project for all tests in remote mode
    Account(_public(server, pid)).create(ID.unique(), email, PASSWORD)
    answer = _sign_in_raw(server, pid, email)
    again = requests.post(
        f"{server.url}{route}", json={"email": email, "password": PASSWORD},
        headers={"X-Appwrite-Project": pid}, cookies=answer.cookies,
    )  # fmt: skip
    assert (again.status_code, again.json()["type"]) == (401, "user_session_already_exists")


def test_unique_ids_and_many_sessions(server: LocalServer, project: admin.ProjectCredentials) -> None:
    """At most ten sessions a user: an eleventh deletes the oldest."""
    created = Account(_public(server, project.project_id)).create(ID.unique(), "olga@example.com", PASSWORD)
    first = _ssr_session(server, project, "olga@example.com")
    for _ in range(10):
        last = _ssr_session(server, project, "olga@example.com")
    account = _signed_in(server, project.project_id, last)
    ids = [s["$id"] for s in account.list_sessions()["sessions"]]
    assert len(ids) == 10 and first["$id"] not in ids and last["$id"] in ids
    assert account.get()["$id"] == created["$id"]


def test_a_deleted_user_s_sessions_do_not_open_a_new_user_of_that_id(
    server: LocalServer, project: admin.ProjectCredentials
) -> None:
    users = Users(server.client(project.project_id, project.api_key))
    users.create("pat", email="pat@example.com", password=PASSWORD)
    session = _ssr_session(server, project, "pat@example.com")
    jwt = create_jwt(_signed_in(server, project.project_id, session))["jwt"]
    users.delete("pat")
    users.create("pat", email="someone-else@example.com", password=PASSWORD)
    assert users.list_sessions("pat")["total"] == 0  # the deleted user's sessions went with it
    expect_error(_signed_in(server, project.project_id, session).get, 401, "general_unauthorized_scope")
    expect_error(Account(_public(server, project.project_id).set_jwt(jwt)).get, 401, "general_unauthorized_scope")


def test_update_password(server: LocalServer, project: admin.ProjectCredentials) -> None:
    guest = Account(_public(server, project.project_id))
    guest.create("quinn", "quinn@example.com", PASSWORD)
    account = _signed_in(server, project.project_id, _ssr_session(server, project, "quinn@example.com"))
    expect_error(lambda: account.update_password("a new password", "not the old one"), 401,
                 "user_invalid_credentials")  # fmt: skip
    assert account.update_password("a new password", PASSWORD)["passwordUpdate"]
    expect_error(lambda: guest.create_email_password_session("quinn@example.com", PASSWORD), 401,
                 "user_invalid_credentials")  # fmt: skip
    assert guest.create_email_password_session("quinn@example.com", "a new password")["userId"] == "quinn"


def test_users_api_session_routes(server: LocalServer, project: admin.ProjectCredentials) -> None:
    """What a server with a key does with a user's sessions: make one (SSR), list, JWT, delete."""
    users = Users(server.client(project.project_id, project.api_key))
    users.create("rita", email="rita@example.com", password=PASSWORD)
    no_session_jwt = users.create_jwt("rita")["jwt"]  # no sessions yet: the JWT names none, as on Appwrite
    assert Account(_public(server, project.project_id).set_jwt(no_session_jwt)).get()["$id"] == "rita"

    made = users.create_session("rita")
    assert (made["provider"], made["factors"]) == ("server", ["server"]) and made["secret"]
    account = _signed_in(server, project.project_id, made)
    assert account.get()["$id"] == "rita"
    listed = users.list_sessions("rita")
    assert (listed["total"], [s["$id"] for s in listed["sessions"]]) == (1, [made["$id"]])
    assert listed["sessions"][0]["secret"] == ""

    jwt = users.create_jwt("rita", session_id="recent", duration=60)["jwt"]
    assert Account(_public(server, project.project_id).set_jwt(jwt)).get_session("current")["$id"] == made["$id"]
    expect_error(lambda: users.create_jwt("rita", duration=-1), 400, "general_argument_invalid")
    expect_error(lambda: users.delete_session("rita", "nope"), 404, "user_session_not_found")
    expect_error(lambda: users.list_sessions("nobody"), 404, "user_not_found")

    users.delete_session("rita", made["$id"])
    expect_error(account.get, 401, "general_unauthorized_scope")
    expect_error(Account(_public(server, project.project_id).set_jwt(jwt)).get, 401, "general_unauthorized_scope")
    other = users.create_session("rita")
    users.delete_sessions("rita")
    expect_error(_signed_in(server, project.project_id, other).get, 401, "general_unauthorized_scope")
    assert users.list_sessions("rita")["total"] == 0


def test_an_anonymous_user_becomes_an_email_user(server: LocalServer, project: admin.ProjectCredentials) -> None:
    session = Account(server.client(project.project_id, project.api_key)).create_anonymous_session()
    account = _signed_in(server, project.project_id, session)
    upgraded = account.update_email("Sam@Example.com", PASSWORD)  # no password yet: this one becomes it
    assert (upgraded["email"], upgraded["emailVerification"]) == ("sam@example.com", False)
    assert upgraded["passwordUpdate"]
    guest = Account(_public(server, project.project_id))
    assert guest.create_email_password_session("sam@example.com", PASSWORD)["userId"] == session["userId"]
    expect_error(lambda: account.update_email("sam2@example.com", "not the password"), 401, "user_invalid_credentials")
    guest.create("tom", "tom@example.com", PASSWORD)
    expect_error(lambda: account.update_email("tom@example.com", PASSWORD), 409, "user_target_already_exists")
    assert account.update_email("sam2@example.com", PASSWORD)["email"] == "sam2@example.com"
    targets = Users(server.client(project.project_id, project.api_key)).get(session["userId"])["targets"]
    assert [t["identifier"] for t in targets] == ["sam2@example.com"]


def _imported(users: Users, kind: str) -> None:
    """A user imported with a hash made elsewhere from PASSWORD."""
    data = PASSWORD.encode()
    if kind == "md5":
        users.create_md5_user(kind, f"{kind}@example.com", hashlib.md5(data).hexdigest())
    elif kind == "sha":
        users.create_sha_user(kind, f"{kind}@example.com", hashlib.sha256(data).hexdigest(), PasswordHash.SHA256)
    elif kind == "argon2":
        users.create_argon2_user(
            kind, f"{kind}@example.com", PasswordHasher(time_cost=1, memory_cost=1024).hash(PASSWORD)
        )
    else:
        salt = "pepper"
        derived = hashlib.scrypt(data, salt=salt.encode(), n=1024, r=8, p=1, dklen=32).hex()
        users.create_scrypt_user(kind, f"{kind}@example.com", derived, salt, 1024, 8, 1, 32)


@pytest.mark.parametrize("kind", ["md5", "sha", "argon2", "scrypt"])
def test_imported_users_sign_in_and_are_rehashed(
    server: LocalServer, project: admin.ProjectCredentials, kind: str
) -> None:
    users = Users(server.client(project.project_id, project.api_key))
    _imported(users, kind)
    guest = Account(_public(server, project.project_id))
    expect_error(lambda: guest.create_email_password_session(f"{kind}@example.com", "wrong password"), 401,
                 "user_invalid_credentials")  # fmt: skip
    assert guest.create_email_password_session(f"{kind}@example.com", PASSWORD)["userId"] == kind
    # Re-hashed with Appwrite's Argon2 unless it was an Argon2 hash already (kept then, as Appwrite keeps it).
    expected = "$argon2id$v=19$m=1024,t=1," if kind == "argon2" else "$argon2id$v=19$m=65536,t=4,p=3$"
    assert users.get(kind)["password"].startswith(expected)
    assert users.get(kind)["hash"] == "argon2"
