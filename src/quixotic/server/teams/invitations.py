"""Team invitations on a server that sends no mail: each is written where a local developer looks for it.

Appwrite mails the invitee a link to the ``url`` the inviter gave, with ``membershipId``, ``userId``,
``secret``, ``teamId`` and ``teamName`` in its query; the app passes them to
``teams.updateMembershipStatus``. Here the same link (and its parts) is appended as one JSON line to
``outbox.jsonl`` in the data folder and logged in the server's log, so the secret is found the way a mail
catcher (Appwrite's own development setup uses one) would show it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from quixotic.server.clock import now_iso

OUTBOX: Final = "outbox.jsonl"
log = logging.getLogger("quixotic.server.mail")
log.setLevel(logging.INFO)  # what a developer reads the log for, whatever the server's level


def link(url: str, params: dict[str, str]) -> str:
    """The invitation link: ``url`` with the invitation's parameters added to its query."""
    if not url:
        return ""
    return url + ("&" if "?" in url else "?") + urlencode(params)


def deliver(data_dir: Path, project: str, to: str, url: str, params: dict[str, str]) -> dict[str, Any]:
    """Record one invitation in the outbox and the log; returns the record."""
    record: dict[str, Any] = {
        "time": now_iso(),
        "project": project,
        "type": "team_invitation",
        "to": to,
        "url": link(url, params),
        **params,
    }
    path = data_dir / OUTBOX
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    log.info(
        "team invitation (no mail is sent locally) to %s for team %s: membershipId=%s userId=%s secret=%s %s",
        to or params["userId"], params["teamId"], params["membershipId"], params["userId"], params["secret"],
        f"link: {record['url']}" if record["url"] else f"(also in {path})",
    )  # fmt: skip
    return record
