"""QuixoticWhisper ``grant-credits``: open a new user's credit account with DEFAULT_USER_CREDITS, exactly once.

Triggers: the event ``users.*.create`` (the body is the user) or HTTP ``POST {"userId": ...}`` with a server key.

Exactly once: the ledger entry ``grant:<userId>`` has a unique ``entryKey``, so only one execution can write it;
the one that does creates the account (row id = the user id) with the grant as its balance. A repeat event finds
the entry and changes nothing, except finishing the job of an execution that died between the two writes (the
account is then created from the recorded grant). An account that somehow exists without a grant gets the
grant added with an atomic increment, so the ledger and the balance always agree.

Answers ``{"ok": true, "userId", "granted": bool, "balance"}`` or ``{"ok": false, "error": {"code", "message"}}``.
"""

from __future__ import annotations

import re
from typing import Any

from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role
from appwrite.services.tables_db import TablesDB

from .function_kit import Failure, code_of, env_number, json_body, serve, server_client

DATABASE = "quixotic_app"
ACCOUNTS = "credit_accounts"
LEDGER = "credit_ledger"
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")


def main(context: Any) -> Any:
    return serve(context, "grant-credits", open_account)


def open_account(context: Any) -> dict[str, Any]:
    user_id = requested_user(context)
    amount = default_credits()
    granted, balance = grant(TablesDB(server_client(context)), user_id, amount)
    context.log(f"{'granted' if granted else 'already granted'}: {user_id} balance {balance:g}")
    return {"ok": True, "userId": user_id, "granted": granted, "balance": balance}


def requested_user(context: Any) -> str:
    body = json_body(context, '{"userId": "..."}')
    event = context.req.headers.get("x-appwrite-trigger") == "event"
    user_id = body.get("$id") if event else body.get("userId")
    if not isinstance(user_id, str) or not ID_RE.match(user_id):
        raise Failure("bad_request", "give the user's id (userId, or the user model of a users.*.create event)", 400)
    return user_id


def default_credits() -> float:
    return env_number("DEFAULT_USER_CREDITS", 10, zero_allowed=True)


def grant(tables: TablesDB, user_id: str, amount: float) -> tuple[bool, float]:
    """(whether this call granted, the balance after)."""
    readable = [Permission.read(Role.user(user_id))]
    entry = {"userId": user_id, "kind": "grant", "amount": amount, "reason": "new user", "entryKey": f"grant:{user_id}"}
    try:
        tables.create_row(DATABASE, LEDGER, ID.unique(), {**entry, "balanceAfter": amount}, readable)
        granted = True
    except AppwriteException as exc:
        if code_of(exc) != 409:
            raise
        granted = False
    if granted:
        try:
            account = tables.create_row(DATABASE, ACCOUNTS, user_id, {"userId": user_id, "balance": amount}, readable)
        except AppwriteException as exc:
            if code_of(exc) != 409:
                raise
            account = tables.increment_row_column(DATABASE, ACCOUNTS, user_id, "balance", value=amount)
        return True, float(account.data["balance"])
    try:
        return False, float(tables.get_row(DATABASE, ACCOUNTS, user_id).data["balance"])
    except AppwriteException as exc:
        if code_of(exc) != 404:
            raise
    # The grant is recorded but its account is missing (the execution that wrote it died): finish its job.
    rows = tables.list_rows(DATABASE, LEDGER, [Query.equal("entryKey", [f"grant:{user_id}"]), Query.limit(1)]).rows
    recorded = float(rows[0].data["amount"]) if rows else amount
    try:
        account = tables.create_row(DATABASE, ACCOUNTS, user_id, {"userId": user_id, "balance": recorded}, readable)
    except AppwriteException as exc:
        if code_of(exc) != 409:
            raise
        account = tables.get_row(DATABASE, ACCOUNTS, user_id)
    return False, float(account.data["balance"])
