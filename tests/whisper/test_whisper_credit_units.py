"""The transcribe function's credit movements against the deployed backend: a debit and its ledger entry are
ONE transaction, so a failure between the two (a worker killed, an error) leaves neither, and parallel
charges of one account never overdraw nor leave the ledger short."""

from __future__ import annotations

import importlib
import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest
from whisper_helpers import Whisper

from quixotic.server.ids import new_id

FUNCTION_SRC = Path(__file__).resolve().parents[2] / "functions" / "transcribe" / "src"


def _backend_module() -> types.ModuleType:
    """The function's ``backend`` module, imported as the package its relative imports expect."""
    if "transcribe_src" not in sys.modules:
        package = types.ModuleType("transcribe_src")
        package.__path__ = [str(FUNCTION_SRC)]
        sys.modules["transcribe_src"] = package
    return importlib.import_module("transcribe_src.backend")


backend = _backend_module()
failures = importlib.import_module("transcribe_src.failures")


def user() -> str:
    return "u" + new_id()[:20]


def entries(whisper: Whisper, user_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in whisper.ledger(user_id) if e["kind"] == kind]


def test_a_charge_is_the_debit_and_its_entry(whisper: Whisper) -> None:
    owner = user()
    whisper.fund(owner, 5.0)
    b = backend.Backend(whisper.client)
    assert b.charge(owner, "f1", 1, 2.0, "test") == 3.0
    assert whisper.balance(owner) == 3.0
    (entry,) = entries(whisper, owner, "charge")
    assert entry["amount"] == 2.0 and entry["balanceAfter"] == 3.0 and entry["entryKey"] == "charge:f1:1"
    assert b.refund(owner, "f1", 1, 2.0, "test") == 5.0
    assert whisper.balance(owner) == 5.0 and len(entries(whisper, owner, "refund")) == 1


def test_a_failure_after_the_debit_leaves_no_debit(whisper: Whisper, monkeypatch: pytest.MonkeyPatch) -> None:
    owner = user()
    whisper.fund(owner, 5.0)
    b = backend.Backend(whisper.client)

    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("worker died between the debit and the ledger entry")

    monkeypatch.setattr(b, "_ledger", boom)
    opened: list[str] = []
    create = b.tables.create_transaction
    monkeypatch.setattr(b.tables, "create_transaction",
                        lambda **kw: (lambda tx: (opened.append(tx["$id"]), tx)[1])(create(**kw)))  # fmt: skip
    with pytest.raises(RuntimeError):
        b.charge(owner, "f2", 1, 2.0, "test")
    assert whisper.balance(owner) == 5.0 and not entries(whisper, owner, "charge")
    # the staged debit was rolled back at once (not merely left to expire, which the next test covers)
    assert opened and [b.tables.get_transaction(tx)["status"] for tx in opened] == ["failed"] * len(opened)


def test_an_abandoned_charge_applies_nothing(whisper: Whisper, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed before the commit: its transaction is never committed (it expires), nothing moved."""
    owner = user()
    whisper.fund(owner, 5.0)
    b = backend.Backend(whisper.client)
    monkeypatch.setattr(b, "_drop", lambda _tx: None)  # a dead worker rolls nothing back
    monkeypatch.setattr(b.tables, "update_transaction", lambda *_a, **_k: (_ for _ in ()).throw(SystemExit(1)))
    with pytest.raises(SystemExit):
        b.charge(owner, "f3", 1, 2.0, "test")
    assert whisper.balance(owner) == 5.0 and not entries(whisper, owner, "charge")


def test_parallel_charges_never_overdraw_nor_lose_an_entry(whisper: Whisper) -> None:
    owner = user()
    whisper.fund(owner, 3.0)
    barrier = threading.Barrier(5)
    outcomes: list[Any] = [None] * 5

    def charge(i: int) -> None:
        b = backend.Backend(whisper.server.client(whisper.project_id, whisper.api_key))
        barrier.wait()
        try:
            outcomes[i] = b.charge(owner, f"p{i}", 1, 1.0, "test")
        except failures.FunctionError as exc:
            outcomes[i] = exc.code

    threads = [threading.Thread(target=charge, args=(i,)) for i in range(5)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert outcomes.count("insufficient_credits") == 2, outcomes
    assert sorted(o for o in outcomes if isinstance(o, float)) == [0.0, 1.0, 2.0]
    assert whisper.balance(owner) == 0.0 and len(entries(whisper, owner, "charge")) == 3
