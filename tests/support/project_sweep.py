"""What an Appwrite project holds, and deleting what a test added to it: the conformance suite's clean-up when it
runs against a remote endpoint, where it cannot make a fresh project per test.

Plain REST (``requests``), not the SDK under test, so that the clean-up works the same on every SDK line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

PAGE = 100


@dataclass(frozen=True)
class Kind:
    """One kind of top-level resource: where it is listed, under which key, and where one is deleted."""

    name: str
    list_path: str
    plural: str
    delete_path: str  # with {id}


# Deleting a database takes its tables and rows, a bucket its files, a function its deployments, executions and
# variables, a user its sessions: these top-level kinds (and open transactions, which would expire) are all a test
# can leave behind.
KINDS = (
    Kind("database", "/tablesdb", "databases", "/tablesdb/{id}"),
    Kind("legacy database", "/databases", "databases", "/databases/{id}"),
    Kind("transaction", "/tablesdb/transactions", "transactions", "/tablesdb/transactions/{id}"),
    Kind("bucket", "/storage/buckets", "buckets", "/storage/buckets/{id}"),
    Kind("user", "/users", "users", "/users/{id}"),
    Kind("function", "/functions", "functions", "/functions/{id}"),
    Kind("project variable", "/project/variables", "variables", "/project/variables/{id}"),
)

Holdings = dict[str, frozenset[str]]


class SweepError(AssertionError):
    """The project could not be listed or emptied; the message names what and how."""


def _headers(project_id: str, key: str) -> dict[str, str]:
    return {"X-Appwrite-Project": project_id, "X-Appwrite-Key": key, "Content-Type": "application/json"}


def _ids(url: str, headers: Mapping[str, str], kind: Kind) -> frozenset[str] | None:
    """Every id of ``kind`` in the project, page by page; None where the endpoint does not serve that kind."""
    found: set[str] = set()
    offset = 0
    while True:
        queries = [
            json.dumps({"method": "limit", "values": [PAGE]}),
            json.dumps({"method": "offset", "values": [offset]}),
        ]
        resp = requests.get(url + kind.list_path, params={"queries[]": queries}, headers=headers, timeout=30)
        if resp.status_code in (404, 405, 501):
            return None  # a server without this service (e.g. project variables on an older Appwrite)
        if resp.status_code != 200:
            raise SweepError(f"listing {kind.plural} answered {resp.status_code}: {resp.text[:300]}")
        page: list[dict[str, Any]] = resp.json()[kind.plural]
        found.update(str(item["$id"]) for item in page)
        if len(page) < PAGE:
            return frozenset(found)
        offset += PAGE


def holdings(url: str, project_id: str, key: str) -> Holdings:
    """The ids of every top-level resource of the project, by kind; a kind it holds none of is left out (so an empty
    project holds ``{}``), as is one the endpoint does not serve."""
    headers = _headers(project_id, key)
    listed = {kind.name: _ids(url, headers, kind) for kind in KINDS}
    return {name: ids for name, ids in listed.items() if ids}


def added(now: Holdings, before: Holdings) -> Holdings:
    """What ``now`` holds that ``before`` did not."""
    new = {name: ids - before.get(name, frozenset()) for name, ids in now.items()}
    return {name: ids for name, ids in new.items() if ids}


def describe(held: Holdings) -> str:
    """``2 databases (a, b); 1 user (u1)``: for messages."""
    return "; ".join(f"{len(ids)} {name}(s) ({', '.join(sorted(ids)[:10])})" for name, ids in sorted(held.items()))


def sweep(url: str, project_id: str, key: str, keep: Holdings, timeout: float = 60.0) -> None:
    """Delete every top-level resource that is not in ``keep``, and wait until the project lists none of them.

    A refused delete is retried until ``timeout`` (a database is listed by both APIs, so the other one gets a go).
    """
    headers = _headers(project_id, key)
    by_name = {kind.name: kind for kind in KINDS}
    deadline = time.monotonic() + timeout
    refused: dict[str, str] = {}
    while True:
        extra = added(holdings(url, project_id, key), keep)
        if not extra:
            return
        if time.monotonic() > deadline:
            why = "; ".join(f"{what}: {answer}" for what, answer in sorted(refused.items()))
            raise SweepError(f"could not empty project {project_id!r} in {timeout} s: {describe(extra)} ({why})")
        for name, ids in extra.items():
            for resource_id in ids:
                path = by_name[name].delete_path.format(id=resource_id)
                resp = requests.delete(url + path, headers=headers, timeout=30)
                if resp.status_code not in (200, 204, 404):  # 404: already gone through the other database API
                    refused[f"DELETE {path}"] = f"{resp.status_code} {resp.text[:200]}"
        time.sleep(0.2)
