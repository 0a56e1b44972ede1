"""The Plan value: order, safety, JSON round trip, digest, freshness; and, by property, that applying a
plan's changes in order to the live state (in a pure simulator of Appwrite's rules) yields the desired one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plan_states import (
    AUDIO,
    BY_OWNER,
    CODE_V2,
    OWNER,
    PROJECT,
    SECRET,
    STATUS,
    TEXT,
    TRANSCRIBE,
    columns_with,
    desired,
    evolved,
    live,
    sample_desired,
    sample_plan,
    states,
    table_with,
    var,
)

from quixotic.config.resources import SYSTEM_COLUMNS, Bucket, Column, Database, Function, Table
from quixotic.errors import PlanError
from quixotic.plan.changes import Change
from quixotic.plan.diff import diff
from quixotic.plan.plan import Plan, check_fresh, check_safety, make_plan
from quixotic.plan.render import render_text
from quixotic.plan.state import PROJECT_SCOPE, FunctionState, ProjectState, VariableState
from quixotic.plan.views import bucket_from, column_from, database_from, function_from, index_from, table_from

HERE = Path(__file__).parent


def addresses(plan: Plan) -> list[str]:
    return [f"{c.action} {c.address}" for c in plan.changes]


# --- order ----------------------------------------------------------------------------------------


def test_a_plan_from_nothing_creates_parents_first_and_deploys_after_variables() -> None:
    plan = make_plan("dev", ProjectState(PROJECT), desired())
    assert addresses(plan) == [
        "create database:app",
        "create table:app/transcriptions",
        "create column:app/transcriptions/owner",
        "create column:app/transcriptions/seconds",
        "create column:app/transcriptions/status",
        "create column:app/transcriptions/text",
        "create index:app/transcriptions/by_owner",
        "create bucket:audio",
        "create function:transcribe",
        "create variable:project/REGION",
        "create variable:transcribe/MAX_FILE_SIZE_MB",
        "create variable:transcribe/OPENAI_API_KEY",
        "create deployment:transcribe",
    ]


def test_deletes_come_first_children_before_parents() -> None:
    have = live(
        databases=(*live().databases, Database("old", "Old")),
        tables=(*live().tables, Table("gone", "old", "Gone", columns=(TEXT,))),
        buckets=(AUDIO, Bucket("tmp", "Tmp")),
        functions=(*live().functions, FunctionState(replace(TRANSCRIBE, id="legacy"), "h", "d")),
        variables=(*live().variables, var("legacy", "X", "1"), var("transcribe", "LOG_LEVEL", "debug")),
    )
    want = desired(
        tables=(table_with(columns=columns_with(Column("duration", "double")), indexes=(BY_OWNER,)),),
        functions=(FunctionState(TRANSCRIBE, CODE_V2),),
        variables=(*desired().variables, var("transcribe", "LANG", "en")),
    )
    want = replace(want, tables=(replace(want.tables[0], columns=(OWNER, STATUS, Column("duration", "double"))),))
    assert addresses(make_plan("dev", have, want)) == [
        "delete variable:transcribe/LOG_LEVEL",
        "delete column:app/transcriptions/seconds",
        "delete column:app/transcriptions/text",
        "delete database:old",
        "delete bucket:tmp",
        "delete function:legacy",
        "create column:app/transcriptions/duration",
        "create variable:transcribe/LANG",
        "create deployment:transcribe",
    ]


def test_an_index_over_a_replaced_column_is_dropped_before_and_created_after_it() -> None:
    want = desired(
        tables=(table_with(columns=columns_with(replace(OWNER, type="string", size=64))),),
        variables=(*desired().variables[1:], var("transcribe", "MAX_FILE_SIZE_MB", "80")),
    )
    assert addresses(make_plan("dev", live(), want)) == [
        "delete index:app/transcriptions/by_owner",
        "replace column:app/transcriptions/owner",
        "create index:app/transcriptions/by_owner",
        "update variable:transcribe/MAX_FILE_SIZE_MB",
    ]


def test_the_same_states_always_give_the_same_plan() -> None:
    shuffled = live(variables=tuple(reversed(live().variables)), databases=tuple(reversed(live().databases)))
    assert sample_plan() == sample_plan()
    assert (
        make_plan("dev", shuffled, desired(buckets=())).changes == make_plan("dev", live(), desired(buckets=())).changes
    )


def test_states_of_different_projects_are_refused() -> None:
    with pytest.raises(PlanError, match="the live state is of project 'other' but the configuration is of 'qw-dev'"):
        make_plan("dev", ProjectState("other"), desired())


# --- the value ------------------------------------------------------------------------------------


def test_plans_and_changes_hash_like_they_compare() -> None:
    assert hash(sample_plan()) == hash(Plan.from_json(sample_plan().to_json()))
    assert len(set(sample_plan().changes)) == len(sample_plan().changes)


def test_counts_emptiness_and_destructive_changes() -> None:
    plan = sample_plan()
    assert plan.counts() == {"create": 4, "update": 5, "replace": 1, "delete": 2}
    assert [c.address for c in plan.destructive()] == [
        "variable:project/REGION",
        "column:app/transcriptions/owner",
        "column:app/transcriptions/seconds",
    ]
    assert not plan.is_empty
    empty = make_plan("dev", live(), desired())
    assert empty.is_empty and empty.counts() == {"create": 0, "update": 0, "replace": 0, "delete": 0}
    assert empty.live_fingerprint == live().fingerprint() and empty.project_id == PROJECT


def test_destructive_changes_are_refused_unless_allowed_and_each_is_named() -> None:
    plan = sample_plan()
    with pytest.raises(PlanError) as info:
        check_safety(plan, allow_destructive=False)
    assert info.value.message == (
        "the plan for 'dev' has 3 destructive changes:\n"
        "  - delete variable:project/REGION: managed by quixotic and no longer set for this environment\n"
        "  - replace column:app/transcriptions/owner: type varchar -> string: recreating drops its data\n"
        "  - update column:app/transcriptions/seconds: max lowered: existing values may not fit\n"
        "Review them (back up first if data matters), then pass --allow-destructive to apply them."
    )
    check_safety(plan, allow_destructive=True)
    check_safety(make_plan("dev", live(), desired(buckets=(replace(AUDIO, name="A"),))), allow_destructive=False)


def test_a_saved_plan_is_refused_when_the_live_project_changed() -> None:
    plan = sample_plan()
    check_fresh(plan, live())
    with pytest.raises(PlanError, match=r"changed since this plan was made; make a new plan \(quixotic plan dev\)"):
        check_fresh(plan, live(buckets=()))
    with pytest.raises(PlanError, match="changed since"):  # a secret set by someone else changes it too
        check_fresh(plan, live(variables=(var("transcribe", "OPENAI_API_KEY", "rotated", secret=True),)))
    with pytest.raises(PlanError, match="the plan is for project 'qw-dev', not 'other'"):
        check_fresh(plan, replace(live(), project_id="other"))


# --- JSON -----------------------------------------------------------------------------------------


def test_json_round_trips_to_an_equal_plan_with_the_same_digest() -> None:
    plan = sample_plan()
    text = plan.to_json()
    again = Plan.from_json(text)
    assert again == plan
    assert again.digest() == plan.digest() == json.loads(text)["digest"]
    assert again.to_json() == text
    assert Plan.from_json(json.dumps(json.loads(text), indent=2)) == plan  # layout does not matter
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_the_digest_is_the_same_in_every_process() -> None:
    code = "import plan_states; print(plan_states.sample_plan().digest())"
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(HERE)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert digests == {sample_plan().digest()}


def test_the_digest_covers_every_part_of_the_plan() -> None:
    plan = sample_plan()
    first = plan.changes[0]
    variants = [
        replace(plan, environment="prod"),
        replace(plan, live_fingerprint="0" * 64),
        replace(plan, changes=plan.changes[1:]),
        replace(plan, changes=(replace(first, safety="compatible"), *plan.changes[1:])),
        replace(plan, changes=(*plan.changes[1:], first)),
    ]
    assert len({v.digest() for v in variants} | {plan.digest()}) == len(variants) + 1


def edited(text: str, edit: Callable[[dict[str, Any]], object]) -> str:
    data = json.loads(text)
    edit(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["changes"][0].update(safety="compatible"), "was changed after it was made"),
        (lambda d: d["changes"].pop(0), "was changed after it was made"),
        (lambda d: d.update(liveFingerprint="0" * 64), "was changed after it was made"),
        (lambda d: d.update(format=2), "has format 2, this quixotic reads format 1"),
        (lambda d: d.pop("digest"), r"missing \['digest'\]"),
        (lambda d: d["changes"][0].update(action="explode"), "change 1: action 'explode' is not one of create"),
        (lambda d: d["changes"][1].pop("reason"), r"change 2: keys differ .* \(missing \['reason'\]"),
        (lambda d: d["changes"][0].update(fields="value"), "change 1: fields must be a list of strings"),
        (lambda d: d["changes"][0].update(after=[]), "change 1: after must be an object or null"),
        (lambda d: d.update(changes={}), "changes must be a list"),
    ],
)
def test_a_tampered_or_malformed_plan_file_is_refused(edit: Callable[[dict[str, Any]], object], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        Plan.from_json(edited(sample_plan().to_json(), edit))


@pytest.mark.parametrize("text", ["", "{", "[]", "null"])
def test_text_that_is_not_a_plan_is_refused(text: str) -> None:
    with pytest.raises(PlanError, match="make the plan again"):
        Plan.from_json(text)


def test_no_secret_value_is_ever_written_or_shown() -> None:
    have = live(variables=(var("transcribe", "TOKEN", SECRET, id="t"),))  # a plain variable that should be secret
    want = desired(
        variables=(
            var("transcribe", "OPENAI_API_KEY", SECRET, secret=True),
            var("transcribe", "TOKEN", SECRET, secret=True),
            var(PROJECT_SCOPE, "DB_PASSWORD", SECRET + "x", secret=True),
        )
    )
    plan = make_plan("dev", have, want)
    assert {c.address for c in plan.changes if c.kind == "variable"} >= {
        "variable:transcribe/OPENAI_API_KEY",
        "variable:transcribe/TOKEN",
        "variable:project/DB_PASSWORD",
    }
    after_texts = [json.dumps(c.after) for c in plan.changes if c.kind == "variable"]
    for text in (plan.to_json(), render_text(plan), *after_texts):
        assert SECRET not in text


# --- the simulator --------------------------------------------------------------------------------


@dataclass
class Simulator:
    """A project as Appwrite keeps it, changed one plan change at a time, refusing what Appwrite refuses:
    a child without its parent, a column deleted under an index, a duplicate; and checking that a
    function's code is deployed only after its variables are set."""

    databases: dict[str, Database]
    tables: dict[tuple[str, str], Table]
    buckets: dict[str, Bucket]
    functions: dict[str, FunctionState]
    variables: dict[tuple[str, str], VariableState]
    project_id: str = PROJECT
    deployed: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, state: ProjectState) -> Simulator:
        return cls(
            {d.id: d for d in state.databases},
            {(t.database_id, t.id): t for t in state.tables},
            {b.id: b for b in state.buckets},
            {f.spec.id: f for f in state.functions},
            {(v.scope, v.key): v for v in state.variables},
            state.project_id,
        )

    def state(self) -> ProjectState:
        return ProjectState(
            self.project_id,
            tuple(self.databases.values()),
            tuple(self.tables.values()),
            tuple(self.buckets.values()),
            tuple(self.functions.values()),
            tuple(self.variables.values()),
        )

    def apply(self, change: Change) -> None:
        if change.action in ("delete", "replace"):
            self.remove(change)
        if change.action in ("create", "replace", "update"):
            assert change.after is not None, change
            self.put(change, change.after, update=change.action == "update")

    def remove(self, change: Change) -> None:
        view = change.before
        assert view is not None, change
        if change.kind == "database":
            del self.databases[view["id"]]
            self.tables = {k: t for k, t in self.tables.items() if k[0] != view["id"]}
        elif change.kind == "table":
            del self.tables[(view["database_id"], view["id"])]
        elif change.kind in ("column", "index"):
            key = (view["databaseId"], view["tableId"])
            table = self.tables[key]
            if change.kind == "column":
                assert table.column(view["key"]) is not None, change
                used = [i.key for i in table.indexes if view["key"] in i.columns]
                assert not used, f"{change.address}: column deleted under index {used}"
                self.tables[key] = replace(table, columns=tuple(c for c in table.columns if c.key != view["key"]))
            else:
                assert any(i.key == view["key"] for i in table.indexes), change
                self.tables[key] = replace(table, indexes=tuple(i for i in table.indexes if i.key != view["key"]))
        elif change.kind == "bucket":
            del self.buckets[view["id"]]
        elif change.kind == "function":
            del self.functions[view["id"]]
            self.variables = {k: v for k, v in self.variables.items() if k[0] != view["id"]}
        elif change.kind == "variable":
            del self.variables[(view["scope"], view["key"])]
        else:
            raise AssertionError(f"cannot remove {change}")

    def put(self, change: Change, view: dict[str, object], *, update: bool) -> None:
        exists = self.exists(change.kind, view)
        assert exists == update or change.kind == "deployment", f"{change.action} {change.address}: exists={exists}"
        if change.kind == "database":
            self.databases[str(view["id"])] = database_from(view)
        elif change.kind == "table":
            new = table_from(view)
            assert new.database_id in self.databases, change
            old = self.tables.get((new.database_id, new.id))
            if old is not None:
                new = replace(new, columns=old.columns, indexes=old.indexes)
            self.tables[(new.database_id, new.id)] = new
        elif change.kind == "column":
            db, tid, column = column_from(view)
            table = self.tables[(db, tid)]
            kept = tuple(c for c in table.columns if c.key != column.key)
            self.tables[(db, tid)] = replace(table, columns=(*kept, column))
        elif change.kind == "index":
            db, tid, index = index_from(view)
            table = self.tables[(db, tid)]
            have = {c.key for c in table.columns} | set(SYSTEM_COLUMNS)
            assert set(index.columns) <= have, f"{change.address}: index before its columns"
            self.tables[(db, tid)] = replace(table, indexes=(*table.indexes, index))
        elif change.kind == "bucket":
            self.buckets[str(view["id"])] = bucket_from(view)
        elif change.kind == "function":
            spec: Function = function_from(view)
            old_fn = self.functions.get(spec.id)
            self.functions[spec.id] = FunctionState(spec, *((old_fn.code_hash, old_fn.deployment_id) if old_fn else ()))
        elif change.kind == "variable":
            scope = str(view["scope"])
            assert scope == PROJECT_SCOPE or scope in self.functions, change
            assert not (self.deployed & ({scope} if scope != PROJECT_SCOPE else set(self.functions))), (
                f"{change.address}: set after the code was deployed"
            )
            value = view.get("value")
            self.variables[(scope, str(view["key"]))] = VariableState(
                scope,
                str(view["key"]),
                None if value is None else str(value),
                bool(view["secret"]),
                str(view["valueHash"]),
            )
        elif change.kind == "deployment":
            function_id = str(view["functionId"])
            fn = self.functions[function_id]
            self.functions[function_id] = replace(fn, code_hash=str(view["codeHash"]), deployment_id="new")
            self.deployed.add(function_id)

    def exists(self, kind: str, view: dict[str, object]) -> bool:
        if kind == "database":
            return view["id"] in self.databases
        if kind == "table":
            return (view["database_id"], view["id"]) in self.tables
        if kind in ("column", "index"):
            table = self.tables.get((str(view["databaseId"]), str(view["tableId"])))
            assert table is not None, f"{kind} {view['key']} before its table"
            items = table.columns if kind == "column" else table.indexes
            return any(i.key == view["key"] for i in items)
        if kind == "bucket":
            return view["id"] in self.buckets
        if kind == "function":
            return view["id"] in self.functions
        if kind == "variable":
            return (view["scope"], view["key"]) in self.variables
        return True


def simulate(live_state: ProjectState, plan: Plan) -> ProjectState:
    sim = Simulator.of(live_state)
    for change in plan.changes:
        sim.apply(change)
    return sim.state()


def test_the_simulator_reaches_the_desired_state_of_the_sample() -> None:
    after = simulate(live(), sample_plan())
    assert diff(after, sample_desired()) == []
    assert diff(after, desired()) != []


@settings(max_examples=100, deadline=None)
@given(states(is_live=True), states(is_live=False), st.booleans())
def test_applying_a_plan_in_order_yields_the_desired_state(
    live_state: ProjectState, want: ProjectState, prune: bool
) -> None:
    plan = make_plan("dev", live_state, want, prune_variables=prune)
    after = simulate(live_state, plan)
    assert diff(after, want, prune_variables=prune) == []
    assert Plan.from_json(plan.to_json()) == plan
    # the tool's own database is exactly as it was
    assert [t for t in after.tables if t.database_id == "quixotic"] == [
        t for t in live_state.tables if t.database_id == "quixotic"
    ]


@settings(max_examples=200, deadline=None)
@given(st.data(), st.booleans())
def test_applying_a_plan_to_a_close_state_yields_it(data: st.DataObject, prune: bool) -> None:
    live_state = data.draw(states(is_live=True))
    want = data.draw(evolved(live_state))
    after = simulate(live_state, make_plan("dev", live_state, want, prune_variables=prune))
    assert diff(after, want, prune_variables=prune) == []
