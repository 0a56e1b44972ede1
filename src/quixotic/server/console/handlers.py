"""Console routes the official CLI calls with an API key: proxy rules, and the console-only group.

Rules. Appwrite creates a function's or site's rule only when it serves their domains
(``_APP_DOMAIN_FUNCTIONS`` / ``_APP_DOMAIN_TARGET``); the local server serves none, so a project holds
no rules unless they are written to its store, and the list answers what is there (``appwrite push
functions`` asks it for the function's URL after each deployment). Creating rules is not implemented.

Console only. The ``/v1/projects`` routes and ``/v1/console/variables`` belong to Appwrite's console:
in Appwrite 1.8 any other project, a project API key included, gets ``general_access_forbidden``
once its scopes pass, and the local server has no console sessions, so that is every caller here.
Appwrite 1.9 also serves ``GET /v1/projects/{projectId}`` to a key holding ``project.read`` (as
``/v1/project``); the local server does not yet, whatever version it emulates, so ``appwrite pull
settings`` and ``push settings`` (and ``push all`` / ``pull all``, which start with them) need the console.
"""

from __future__ import annotations

from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server import queries as q
from quixotic.server import validation
from quixotic.server.console.routes import console_table
from quixotic.server.context import Ctx
from quixotic.server.registry import handles
from quixotic.server.store import Doc, meta_delete, meta_get, meta_list

RULE_KIND: Final = "rule"
MAX_SEARCH: Final = 256
# The attributes Appwrite's rule queries may name (its Queries\Rules validator).
RULE_FIELDS: Final = {
    name: q.Field("string")
    for name in (
        "domain", "type", "trigger", "deploymentResourceType", "deploymentResourceId", "deploymentId",
        "deploymentVcsProviderBranch",
    )
}  # fmt: skip
# Appwrite searches a rule's "<id> <domain>".
RULE_SEARCH: Final = "(_uid || ' ' || COALESCE(json_extract(data, '$.domain'), ''))"
_RULE_KEYS: Final = (
    "domain", "type", "trigger", "redirectUrl", "redirectStatusCode", "deploymentId", "deploymentResourceType",
    "deploymentResourceId", "deploymentVcsProviderBranch", "status", "logs", "renewAt",
)  # fmt: skip
_RULE_DEFAULTS: Final[dict[str, Any]] = {"redirectStatusCode": 0, "status": "created"}
_CONSOLE_ONLY: Final = (
    *sorted(op.id for op in console_table().by_id.values() if op.tag == "projects"),
    "consoleVariables",
)


def rule_model(doc: Doc) -> dict[str, Any]:
    out: dict[str, Any] = {k: doc[k] for k in ("$id", "$createdAt", "$updatedAt")}
    out.update({k: doc.get(k, _RULE_DEFAULTS.get(k, "")) for k in _RULE_KEYS})
    return out


def _rule(ctx: Ctx, rule_id: str) -> Doc:
    with ctx.store.read() as conn:
        doc = meta_get(conn, ctx.project, RULE_KIND, "", rule_id)
    if doc is None:
        raise ApiError(
            "rule_not_found",
            f"Rule with the requested ID '{rule_id}' could not be found. The local server serves no function "
            "or site domains, so it makes no rules of its own.",
            404,
        )
    return doc


@handles("proxyListRules")
def list_rules(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    params = {**p, "search": validation.text(p.get("search"), "search", MAX_SEARCH) or None}
    with ctx.store.read() as conn:
        total, docs = meta_list(conn, ctx.project, RULE_KIND, "", params, RULE_FIELDS, search_expr=RULE_SEARCH)
    return {"total": total, "rules": [rule_model(d) for d in docs]}


@handles("proxyGetRule")
def get_rule(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    return rule_model(_rule(ctx, p["ruleId"]))


@handles("proxyDeleteRule")
def delete_rule(ctx: Ctx, p: dict[str, Any]) -> None:
    _rule(ctx, p["ruleId"])
    with ctx.store.tx() as conn:
        meta_delete(conn, ctx.project, RULE_KIND, "", p["ruleId"])


@handles(*_CONSOLE_ONLY)
def console_only(ctx: Ctx, p: dict[str, Any]) -> None:
    raise ApiError(
        "general_access_forbidden",
        f"Access to this API is forbidden: {ctx.op.method} /v1{ctx.op.path} belongs to Appwrite's console (a signed-in "
        "console session with X-Appwrite-Project: console), which the local server does not have. An API key "
        "manages its project's resources through their own services; create projects with "
        "`quixotic local project create ID`.",
    )
