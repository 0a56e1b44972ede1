"""diff(live, desired): one case per rule, with literal states (see plan_states)."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest
from hypothesis import given, settings
from plan_states import (
    APP,
    AUDIO,
    BY_OWNER,
    CODE_V1,
    CODE_V2,
    OWNER,
    PROJECT,
    SECONDS,
    STATUS,
    TEXT,
    TRANSCRIBE,
    TRANSCRIPTIONS,
    columns_with,
    desired,
    live,
    states,
    table_with,
    var,
)

from quixotic.config.resources import Bucket, Column, Database, Index, Table
from quixotic.errors import PlanError
from quixotic.plan.changes import Change
from quixotic.plan.diff import diff
from quixotic.plan.state import PROJECT_SCOPE, FunctionState, ProjectState, VariableState
from quixotic.plan.views import column_from, function_from, index_from, table_from


def one(changes: list[Change]) -> Change:
    assert len(changes) == 1, changes
    return changes[0]


def summary(changes: list[Change]) -> list[tuple[str, str, str]]:
    return sorted((c.action, c.address, c.safety) for c in changes)


def with_column(*cols: Column) -> ProjectState:
    return desired(tables=(table_with(columns=columns_with(*cols)),))


# --- no changes ---------------------------------------------------------------------------------


def test_the_live_project_as_read_back_matches_its_configuration() -> None:
    # live() differs only in ways that are not changes: no local path, ids, permission order,
    # an unset bound read back as Appwrite's extreme, an unset index order, the tool's own database.
    assert diff(live(), desired()) == []


def test_the_tools_own_database_is_never_touched() -> None:
    system_only = desired(databases=(APP, Database("quixotic", "renamed")))
    assert diff(live(), system_only) == []
    assert diff(live(), desired(), ignore_databases=frozenset()) != []  # without the guard it would be dropped


def test_settings_a_column_type_does_not_use_are_not_compared() -> None:
    # as the adapter reads them back: no size for a formatted string, no bounds for text, ...
    noisy = (
        replace(OWNER, format="email"),  # a varchar has no format
        replace(TEXT, size=100, min=1, max=2, elements=("a",)),
        replace(STATUS, size=999),  # an enum's size is Appwrite's
        replace(SECONDS, size=5, encrypt=True, elements=("a",)),
    )
    assert diff(live(), with_column(*noisy)) == []


def test_function_path_and_an_unset_specification_are_not_compared() -> None:
    want = desired(functions=(FunctionState(replace(TRANSCRIBE, path="elsewhere"), CODE_V1),))
    assert diff(live(), want) == []
    spec = desired(functions=(FunctionState(replace(TRANSCRIBE, specification="s-1vcpu-1gb"), CODE_V1),))
    assert one(diff(live(), spec)).fields == ("specification",)


# --- creates --------------------------------------------------------------------------------------


def test_everything_missing_is_created_additively_with_all_the_applier_needs() -> None:
    changes = diff(ProjectState(PROJECT), desired())
    assert summary(changes) == [
        ("create", "bucket:audio", "additive"),
        ("create", "column:app/transcriptions/owner", "additive"),
        ("create", "column:app/transcriptions/seconds", "additive"),
        ("create", "column:app/transcriptions/status", "additive"),
        ("create", "column:app/transcriptions/text", "additive"),
        ("create", "database:app", "additive"),
        ("create", "deployment:transcribe", "compatible"),
        ("create", "function:transcribe", "additive"),
        ("create", "index:app/transcriptions/by_owner", "additive"),
        ("create", "table:app/transcriptions", "additive"),
        ("create", "variable:project/REGION", "additive"),
        ("create", "variable:transcribe/MAX_FILE_SIZE_MB", "additive"),
        ("create", "variable:transcribe/OPENAI_API_KEY", "additive"),
    ]
    by_address = {c.address: c for c in changes}
    status = by_address["column:app/transcriptions/status"]
    assert status.before is None
    assert status.after == {
        "databaseId": "app",
        "tableId": "transcriptions",
        **asdict(STATUS),
        "elements": ["queued", "done", "failed"],
    }
    assert column_from(status.after) == ("app", "transcriptions", STATUS)
    assert status.reason == "new column: string, enum, elements queued|done|failed, default queued"
    assert index_from(by_address["index:app/transcriptions/by_owner"].after or {}) == (
        "app",
        "transcriptions",
        BY_OWNER,
    )
    assert table_from(by_address["table:app/transcriptions"].after or {}) == replace(
        TRANSCRIPTIONS, columns=(), indexes=()
    )
    assert function_from(by_address["function:transcribe"].after or {}) == TRANSCRIBE
    assert by_address["deployment:transcribe"].after == {
        "functionId": "transcribe",
        "codeHash": CODE_V1,
        "path": "functions/transcribe",
    }
    assert by_address["variable:transcribe/OPENAI_API_KEY"].after == {
        "scope": "transcribe",
        "key": "OPENAI_API_KEY",
        "secret": True,
        "valueHash": desired().variables[1].value_hash,
    }


def test_a_unique_index_on_an_existing_table_warns_about_duplicates() -> None:
    want = desired(tables=(table_with(indexes=(BY_OWNER, Index("one_text", "unique", ("text",)))),))
    change = one(diff(live(), want))
    assert (change.action, change.safety) == ("create", "additive")
    assert change.reason == "new unique index on (text); fails if existing rows hold duplicate values"


# --- settings updates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("want", "address", "fields"),
    [
        (desired(databases=(Database("app", "Application"),)), "database:app", ("name",)),
        (desired(tables=(table_with(name="T", enabled=False),)), "table:app/transcriptions", ("name", "enabled")),
        (desired(tables=(table_with(row_security=False),)), "table:app/transcriptions", ("row_security",)),
        (desired(tables=(table_with(permissions=('read("any")',)),)), "table:app/transcriptions", ("permissions",)),
        (
            desired(buckets=(replace(AUDIO, antivirus=False, compression="gzip"),)),
            "bucket:audio",
            ("compression", "antivirus"),
        ),
        (
            desired(buckets=(replace(AUDIO, allowed_file_extensions=("mp3",)),)),
            "bucket:audio",
            ("allowed_file_extensions",),
        ),
        (
            desired(functions=(FunctionState(replace(TRANSCRIBE, timeout=900, events=("users.*",)), CODE_V1),)),
            "function:transcribe",
            ("events", "timeout"),
        ),
    ],
)
def test_settings_that_differ_are_compatible_updates(want: ProjectState, address: str, fields: tuple[str, ...]) -> None:
    change = one(diff(live(), want))
    assert (change.action, change.kind, change.address, change.safety) == (
        "update",
        address.split(":")[0],
        address,
        "compatible",
    )
    assert change.fields == fields
    assert change.before is not None and change.after is not None
    assert all(change.before[f] != change.after[f] for f in fields)


# --- columns --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "fields"),
    [
        (replace(TEXT, required=True), ("required",)),
        (replace(STATUS, default="done"), ("default",)),
        (replace(OWNER, size=64), ("size",)),
        (replace(OWNER, size=None, required=False), ("required", "size")),  # no size: 255, an increase
        (replace(STATUS, elements=("queued", "done", "failed", "cancelled")), ("elements",)),
        (replace(SECONDS, min=-10), ("min",)),
        (replace(SECONDS, min=None), ("min",)),
    ],
)
def test_column_changes_appwrite_makes_in_place_are_compatible_updates(column: Column, fields: tuple[str, ...]) -> None:
    change = one(diff(live(), with_column(column)))
    assert (change.action, change.safety, change.fields) == ("update", "compatible", fields)
    assert change.reason == f"updated in place ({', '.join(fields)}), no data lost"
    assert change.after is not None and column_from(change.after)[2] == column


def test_widening_a_bound_is_compatible() -> None:
    have = live(tables=(replace(TRANSCRIPTIONS, columns=columns_with(replace(SECONDS, max=100))),))
    for wider in (1000, None, 2**63 - 1):
        change = one(diff(have, with_column(replace(SECONDS, max=wider))))
        assert (change.action, change.safety, change.fields) == ("update", "compatible", ("max",))


@pytest.mark.parametrize(
    ("column", "reason"),
    [
        (replace(OWNER, size=20), "size reduced: existing values may not fit"),
        (replace(STATUS, elements=("queued", "done")), "elements failed removed: existing values may not fit"),
        (replace(SECONDS, min=1), "min raised: existing values may not fit"),
        (replace(SECONDS, max=3600), "max lowered: existing values may not fit"),
        (replace(SECONDS, min=-1, max=3600), "max lowered: existing values may not fit"),
    ],
)
def test_narrowing_a_column_is_an_update_flagged_destructive(column: Column, reason: str) -> None:
    change = one(diff(live(), with_column(column)))
    assert (change.action, change.safety, change.reason) == ("update", "destructive", reason)


@pytest.mark.parametrize(
    ("column", "reason"),
    [
        (replace(SECONDS, type="string", size=16), "type integer -> string: recreating drops its data"),
        (replace(TEXT, array=True), "array false -> true: recreating drops its data"),
        (replace(STATUS, format="", elements=()), 'format enum -> "": recreating drops its data'),
        (replace(TEXT, encrypt=True), "encrypt false -> true: recreating drops its data"),
    ],
)
def test_type_array_format_or_encrypt_recreate_the_column_destructively(column: Column, reason: str) -> None:
    changes = diff(live(), with_column(column))
    change = next(c for c in changes if c.kind == "column")
    assert (change.action, change.safety, change.reason) == ("replace", "destructive", reason)
    assert change.before is not None and change.before["key"] == column.key


def test_an_index_over_a_recreated_column_is_dropped_first_and_built_again() -> None:
    changes = diff(live(), with_column(replace(OWNER, type="text", size=None)))
    assert [(c.action, c.kind, c.safety) for c in changes] == [
        ("replace", "column", "destructive"),
        ("delete", "index", "compatible"),
        ("create", "index", "compatible"),
    ]
    dropped, rebuilt = changes[1], changes[2]
    assert dropped.address == rebuilt.address == "index:app/transcriptions/by_owner"
    assert dropped.after is None and dropped.before is not None
    assert rebuilt.after is not None and index_from(rebuilt.after)[2] == BY_OWNER
    assert rebuilt.reason == "rebuilt key index on (owner) after column owner is recreated"


def test_an_index_over_a_deleted_column_goes_with_it() -> None:
    want = desired(tables=(table_with(columns=(TEXT, STATUS, SECONDS), indexes=()),))
    assert summary(diff(live(), want)) == [
        ("delete", "column:app/transcriptions/owner", "destructive"),
        ("delete", "index:app/transcriptions/by_owner", "destructive"),
    ]
    moved = desired(
        tables=(table_with(columns=(TEXT, STATUS, SECONDS), indexes=(replace(BY_OWNER, columns=("text",)),)),)
    )
    assert summary(diff(live(), moved)) == [
        ("create", "index:app/transcriptions/by_owner", "compatible"),
        ("delete", "column:app/transcriptions/owner", "destructive"),
        ("delete", "index:app/transcriptions/by_owner", "compatible"),
    ]


# --- indexes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "reason"),
    [
        (replace(BY_OWNER, orders=("DESC",)), "orders [ASC] -> [DESC]: rebuilt, no data lost"),
        (
            replace(BY_OWNER, columns=("owner", "status")),
            "columns [owner] -> [owner, status], orders [ASC] -> [ASC, ASC]: rebuilt, no data lost",
        ),
        (
            replace(BY_OWNER, type="unique"),
            "type key -> unique: rebuilt, no data lost; fails if existing rows hold duplicate values",
        ),
    ],
)
def test_an_index_that_differs_is_rebuilt_compatibly(index: Index, reason: str) -> None:
    change = one(diff(live(), desired(tables=(table_with(indexes=(index,)),))))
    assert (change.action, change.kind, change.safety, change.reason) == ("replace", "index", "compatible", reason)


def test_a_unique_index_over_more_columns_of_a_unique_one_cannot_meet_duplicates() -> None:
    unique = replace(BY_OWNER, type="unique")
    wider = replace(unique, columns=("owner", "status"), orders=())
    have = live(tables=(replace(TRANSCRIPTIONS, indexes=(unique,)),))
    change = one(diff(have, desired(tables=(table_with(indexes=(wider,)),))))
    assert "duplicate" not in change.reason


# --- deletes --------------------------------------------------------------------------------------


def test_whatever_the_configuration_lacks_is_deleted_destructively() -> None:
    want = desired(
        tables=(table_with(columns=(OWNER, TEXT, STATUS), indexes=()),),
        buckets=(),
    )
    changes = diff(live(), want)
    assert summary(changes) == [
        ("delete", "bucket:audio", "destructive"),
        ("delete", "column:app/transcriptions/seconds", "destructive"),
        ("delete", "index:app/transcriptions/by_owner", "destructive"),
    ]
    assert {c.address: c.reason for c in changes}["bucket:audio"] == (
        "not in the configuration: deletes the bucket and every file in it"
    )


def test_deleting_a_database_or_function_takes_its_contents_along() -> None:
    changes = diff(live(), desired(databases=(), tables=(), functions=(), variables=()))
    assert summary(changes) == [
        ("delete", "database:app", "destructive"),
        ("delete", "function:transcribe", "destructive"),
        ("delete", "variable:project/REGION", "destructive"),
    ]
    reasons = {c.address: c.reason for c in changes}
    assert reasons["database:app"] == (
        "not in the configuration: drops the database, its 1 table (transcriptions) and all their rows"
    )
    assert reasons["function:transcribe"] == (
        "not in the configuration: deletes the function, its deployments and 3 variables"
    )


def test_a_table_delete_says_what_it_drops() -> None:
    change = one(diff(live(), desired(tables=())))
    assert (change.action, change.address, change.safety) == ("delete", "table:app/transcriptions", "destructive")
    assert change.reason == "not in the configuration: drops the table, its 4 columns and all its rows"


# --- deployments ----------------------------------------------------------------------------------


def deployment_changes(have: FunctionState, want: FunctionState) -> list[Change]:
    return [c for c in diff(live(functions=(have,)), desired(functions=(want,))) if c.kind == "deployment"]


def test_new_code_is_deployed() -> None:
    change = one(deployment_changes(FunctionState(TRANSCRIBE, CODE_V1, "dep1"), FunctionState(TRANSCRIBE, CODE_V2)))
    assert (change.action, change.address, change.safety) == ("create", "deployment:transcribe", "compatible")
    assert change.before == {"functionId": "transcribe", "codeHash": CODE_V1, "deploymentId": "dep1"}
    assert change.after == {"functionId": "transcribe", "codeHash": CODE_V2, "path": "functions/transcribe"}
    assert change.reason == "code changed: build and activate a new deployment"


@pytest.mark.parametrize(
    ("have", "reason"),
    [
        (FunctionState(TRANSCRIBE), "no active deployment: build and activate the code"),
        (
            FunctionState(TRANSCRIBE, None, "dep9"),
            "the active deployment's code is unknown to quixotic: build and activate the code",
        ),
        (
            FunctionState(replace(TRANSCRIBE, runtime="python-3.11", entrypoint="main.py"), CODE_V1, "dep1"),
            "build settings changed (runtime, entrypoint): build and activate again",
        ),
    ],
)
def test_a_function_without_the_right_build_is_deployed(have: FunctionState, reason: str) -> None:
    assert one(deployment_changes(have, FunctionState(TRANSCRIBE, CODE_V1))).reason == reason


def test_same_code_or_nothing_to_deploy_means_no_deployment() -> None:
    assert deployment_changes(FunctionState(TRANSCRIBE, CODE_V1, "d"), FunctionState(TRANSCRIBE, CODE_V1)) == []
    assert deployment_changes(FunctionState(TRANSCRIBE, CODE_V1, "d"), FunctionState(TRANSCRIBE, None)) == []


# --- variables ------------------------------------------------------------------------------------

SECRET_KEY = "OPENAI_API_KEY"


def variable_change(
    live_vars: tuple[VariableState, ...], want_vars: tuple[VariableState, ...], *, prune_variables: bool = False
) -> list[Change]:
    changes = diff(live(variables=live_vars), desired(variables=want_vars), prune_variables=prune_variables)
    return [c for c in changes if c.kind == "variable"]


def test_variable_values_are_compared_by_hash() -> None:
    change = one(variable_change((var("transcribe", "LEVEL", "1", id="v"),), (var("transcribe", "LEVEL", "2"),)))
    assert (change.action, change.safety, change.fields, change.reason) == (
        "update",
        "compatible",
        ("value",),
        "value changed",
    )
    assert change.before == {
        "scope": "transcribe",
        "key": "LEVEL",
        "secret": False,
        "valueHash": var("t", "k", "1").value_hash,
        "value": "1",
        "id": "v",
    }
    assert variable_change((var("transcribe", "LEVEL", "1"),), (var("transcribe", "LEVEL", "1"),)) == []


def test_a_secret_quixotic_never_set_is_set() -> None:
    unknown = var("transcribe", SECRET_KEY, "whatever", secret=True, known=False, id="v2")
    change = one(variable_change((unknown,), (var("transcribe", SECRET_KEY, "s3", secret=True),)))
    assert (change.action, change.safety) == ("update", "compatible")
    assert change.reason == "secret value unknown to quixotic; will be set"


def test_a_changed_secret_is_updated_and_an_unchanged_one_left() -> None:
    have = (var("transcribe", SECRET_KEY, "old", secret=True),)
    assert one(variable_change(have, (var("transcribe", SECRET_KEY, "new", secret=True),))).reason == (
        "secret value changed"
    )
    assert variable_change(have, (var("transcribe", SECRET_KEY, "old", secret=True),)) == []


@pytest.mark.parametrize(
    ("was_secret", "reason"),
    [
        (False, "becomes secret: deleted and created again as a secret"),
        (True, "no longer secret: Appwrite cannot unset secret, so it is deleted and created again"),
    ],
)
def test_changing_the_secret_flag_replaces_the_variable(was_secret: bool, reason: str) -> None:
    have = (var("transcribe", "TOKEN", "t", secret=was_secret),)
    change = one(variable_change(have, (var("transcribe", "TOKEN", "t", secret=not was_secret),)))
    assert (change.action, change.safety, change.reason, change.fields) == (
        "replace",
        "compatible",
        reason,
        ("secret",),
    )


def test_managed_variables_without_a_value_are_deleted_others_left_unless_pruning() -> None:
    have = (
        var("transcribe", "LOG_LEVEL", "debug"),  # managed by the configuration, no value now
        var("transcribe", "SENTRY_DSN", "x"),  # someone else's
        var(PROJECT_SCOPE, "OTHER", "y"),  # someone else's
    )
    change = one(variable_change(have, ()))
    assert (change.action, change.address, change.safety) == ("delete", "variable:transcribe/LOG_LEVEL", "destructive")
    assert change.reason == "managed by quixotic and no longer set for this environment"
    pruned = variable_change(have, (), prune_variables=True)
    assert summary(pruned) == [
        ("delete", "variable:project/OTHER", "destructive"),
        ("delete", "variable:transcribe/LOG_LEVEL", "destructive"),
        ("delete", "variable:transcribe/SENTRY_DSN", "destructive"),
    ]
    assert {c.address: c.reason for c in pruned}["variable:project/OTHER"] == (
        "not in the configuration (pruning unmanaged variables)"
    )


# --- contradictions -------------------------------------------------------------------------------


def test_a_desired_state_that_contradicts_itself_is_refused_with_every_problem() -> None:
    want = desired(
        tables=(
            Table("orphan", "nowhere", "Orphan"),
            table_with(indexes=(Index("bad", "key", ("missing", "$createdAt")),)),
        ),
        variables=(var("ghost", "X", "1"),),
    )
    with pytest.raises(PlanError) as info:
        diff(live(), want)
    assert info.value.message == (
        "the desired state contradicts itself; fix the configuration:\n"
        "  - table orphan is in database nowhere, which is not defined\n"
        "  - index transcriptions.bad is on missing, which the table lacks\n"
        "  - variable X belongs to function ghost, which is not defined"
    )


def test_a_resource_twice_is_refused() -> None:
    with pytest.raises(PlanError, match="the configuration has bucket:audio twice"):
        diff(live(), desired(buckets=(AUDIO, Bucket("audio", "again"))))
    with pytest.raises(PlanError, match="has column text twice"):
        diff(live(), desired(tables=(table_with(columns=(TEXT, TEXT)),)))
    with pytest.raises(PlanError, match="the live project has function:transcribe twice"):
        diff(live(functions=(FunctionState(TRANSCRIBE),) * 2), desired())


# --- properties -----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(states(is_live=True))
def test_a_state_never_differs_from_itself(state: ProjectState) -> None:
    # A live secret of unknown value is the one exception: quixotic cannot know it is already right.
    known = replace(state, variables=tuple(v for v in state.variables if v.value_hash))
    assert diff(known, known) == []
    assert diff(known, known, prune_variables=True) == []
