"""Literal project states for the plan tests: a small QuixoticWhisper as configured (``desired``) and as
the SDK adapter reads it back (``live``), plus hypothesis strategies for generated states."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from quixotic.config.resources import (
    COLUMN_TYPES,
    INDEX_TYPES,
    STRING_FORMATS,
    Bucket,
    Column,
    Database,
    Function,
    Index,
    Table,
)
from quixotic.plan.plan import Plan, make_plan
from quixotic.plan.state import PROJECT_SCOPE, FunctionState, ProjectState, VariableState, value_hash

PROJECT = "qw-dev"
SECRET = "sk-live-TOP-SECRET-0042"  # must never show in a plan's JSON or text
CODE_V1 = value_hash("archive v1")
CODE_V2 = value_hash("archive v2")

APP = Database("app", "App")
OWNER = Column("owner", "varchar", required=True, size=36)
TEXT = Column("text", "longtext")
STATUS = Column("status", "string", format="enum", elements=("queued", "done", "failed"), default="queued")
SECONDS = Column("seconds", "integer", min=0)
BY_OWNER = Index("by_owner", "key", ("owner",), ("ASC",))
TRANSCRIPTIONS = Table(
    "transcriptions",
    "app",
    "Transcriptions",
    row_security=True,
    permissions=('create("users")', 'read("users")'),
    columns=(OWNER, TEXT, STATUS, SECONDS),
    indexes=(BY_OWNER,),
)
AUDIO = Bucket("audio", "Audio", maximum_file_size=50_000_000, allowed_file_extensions=("mp3", "wav"))
TRANSCRIBE = Function(
    "transcribe",
    "Transcribe",
    "python-3.12",
    "functions/transcribe",
    "src/main.py",
    commands="pip install -r requirements.txt",
    execute=("users",),
    timeout=300,
)


def var(
    scope: str, key: str, value: str, *, secret: bool = False, known: bool = True, id: str | None = None
) -> VariableState:
    """A variable as the builders make it: no value for a secret, only its hash ("" when not known)."""
    return VariableState(scope, key, None if secret else value, secret, value_hash(value) if known else "", id)


def desired(**changes: Any) -> ProjectState:
    """The configuration's state, with ``changes`` applied (``ProjectState`` fields)."""
    base = ProjectState(
        project_id=PROJECT,
        databases=(APP,),
        tables=(TRANSCRIPTIONS,),
        buckets=(AUDIO,),
        functions=(FunctionState(TRANSCRIBE, CODE_V1),),
        variables=(
            var("transcribe", "MAX_FILE_SIZE_MB", "50"),
            var("transcribe", "OPENAI_API_KEY", SECRET, secret=True),
            var(PROJECT_SCOPE, "REGION", "eu"),
        ),
        managed_variables={
            "transcribe": frozenset({"MAX_FILE_SIZE_MB", "OPENAI_API_KEY", "LOG_LEVEL"}),
            PROJECT_SCOPE: frozenset({"REGION"}),
        },
    )
    return replace(base, **changes)


def live(**changes: Any) -> ProjectState:
    """The same project as the adapter reads it: no local path, ids, permissions in another order,
    unset bounds as Appwrite's extremes, an index order left unset, and the tool's own database."""
    table = replace(
        TRANSCRIPTIONS,
        permissions=tuple(reversed(TRANSCRIPTIONS.permissions)),
        columns=(OWNER, TEXT, STATUS, replace(SECONDS, max=2**63 - 1)),
        indexes=(replace(BY_OWNER, orders=()),),
    )
    system = Database("quixotic", "quixotic")
    releases = Table("releases", "quixotic", "releases", columns=(Column("data", "longtext"),))
    base = ProjectState(
        project_id=PROJECT,
        databases=(APP, system),
        tables=(table, releases),
        buckets=(AUDIO,),
        functions=(FunctionState(replace(TRANSCRIBE, path=""), CODE_V1, "dep1"),),
        variables=(
            var("transcribe", "MAX_FILE_SIZE_MB", "50", id="v1"),
            var("transcribe", "OPENAI_API_KEY", SECRET, secret=True, id="v2"),
            var("transcribe", "SENTRY_DSN", "https://sentry.example", id="v3"),  # not ours
            var(PROJECT_SCOPE, "REGION", "eu", id="v4"),
        ),
    )
    return replace(base, **changes)


def table_with(**changes: Any) -> Table:
    return replace(TRANSCRIPTIONS, **changes)


def columns_with(*columns: Column) -> tuple[Column, ...]:
    """TRANSCRIPTIONS' columns with those of the same key replaced (others appended)."""
    by_key = {c.key: c for c in TRANSCRIPTIONS.columns}
    by_key.update({c.key: c for c in columns})
    return tuple(by_key.values())


def sample_desired() -> ProjectState:
    """live() changed in most ways: a table renamed, a column retyped, a bound lowered, a new index,
    a bucket resized and one added, a function's timeout and code, a variable changed and one dropped."""
    return desired(
        tables=(
            table_with(
                name="Transcripts",
                columns=columns_with(replace(OWNER, type="string"), replace(SECONDS, max=7200)),
                indexes=(BY_OWNER, Index("by_status", "unique", ("status", "$createdAt"), ("ASC", "DESC"))),
            ),
        ),
        buckets=(replace(AUDIO, maximum_file_size=80_000_000), Bucket("images", "Images")),
        functions=(FunctionState(replace(TRANSCRIBE, timeout=600), CODE_V2),),
        variables=(
            var("transcribe", "MAX_FILE_SIZE_MB", "80"),
            var("transcribe", "OPENAI_API_KEY", SECRET, secret=True),
        ),
    )


def sample_plan() -> Plan:
    """The plan from live() to sample_desired() (also made in other processes to compare digests)."""
    return make_plan("dev", live(), sample_desired())


# --- generated states -----------------------------------------------------------------------------

TYPES = st.sampled_from(COLUMN_TYPES)


@st.composite
def columns(draw: st.DrawFn) -> Column:
    return Column(
        key=draw(st.sampled_from(["w", "x", "y", "z"])),
        type=draw(TYPES),
        required=draw(st.booleans()),
        array=draw(st.booleans()),
        size=draw(st.sampled_from([None, 64, 255, 1000])),
        default=draw(st.sampled_from([None, 0, 1, 2.5, "a", True])),
        min=draw(st.sampled_from([None, -5, 0, 5])),
        max=draw(st.sampled_from([None, 10, 100, 2**63 - 1])),
        format=draw(st.sampled_from(STRING_FORMATS)),
        elements=tuple(draw(st.lists(st.sampled_from(["p", "q", "r"]), unique=True, max_size=3))),
        encrypt=draw(st.booleans()),
    )


@st.composite
def tables(draw: st.DrawFn, database_ids: list[str]) -> Table:
    cols = tuple(draw(st.lists(columns(), unique_by=lambda c: c.key, min_size=1, max_size=4)))
    keys = [c.key for c in cols] + ["$createdAt"]
    indexes: list[Index] = []
    for key in draw(st.lists(st.sampled_from(["i1", "i2", "i3"]), unique=True, max_size=3)):
        on = tuple(draw(st.lists(st.sampled_from(keys), unique=True, min_size=1, max_size=2)))
        orders = tuple(draw(st.lists(st.sampled_from(["ASC", "DESC"]), max_size=len(on))))
        indexes.append(Index(key, draw(st.sampled_from(INDEX_TYPES)), on, orders))
    return Table(
        id=draw(st.sampled_from(["t1", "t2", "t3"])),
        database_id=draw(st.sampled_from(database_ids)),
        name=draw(st.sampled_from(["T", "Table"])),
        enabled=draw(st.booleans()),
        row_security=draw(st.booleans()),
        permissions=tuple(draw(st.lists(st.sampled_from(['read("any")', 'create("users")']), unique=True))),
        columns=cols,
        indexes=tuple(indexes),
    )


@st.composite
def functions(draw: st.DrawFn) -> FunctionState:
    spec = Function(
        id=draw(st.sampled_from(["f", "g"])),
        name="F",
        runtime=draw(st.sampled_from(["python-3.12", "node-20"])),
        path=draw(st.sampled_from(["", "functions/f"])),
        entrypoint="main.py",
        timeout=draw(st.sampled_from([15, 300])),
        execute=tuple(draw(st.lists(st.sampled_from(["any", "users"]), unique=True))),
        specification=draw(st.sampled_from([None, "s-1vcpu-1gb"])),
    )
    code = draw(st.sampled_from([None, "h1", "h2"]))
    return FunctionState(spec, code, None if code is None else draw(st.sampled_from(["d1", "d2"])))


@st.composite
def states(draw: st.DrawFn, *, is_live: bool) -> ProjectState:
    """A consistent state; a live one may hold the tool's database and secrets of unknown value."""
    db_ids = draw(st.lists(st.sampled_from(["app", "logs", *(["quixotic"] if is_live else [])]), unique=True))
    databases = tuple(Database(d, draw(st.sampled_from(["A", "B"])), draw(st.booleans())) for d in db_ids)
    table_list = (
        draw(st.lists(tables(db_ids), unique_by=lambda t: (t.database_id, t.id), min_size=1, max_size=3))
        if db_ids
        else []
    )
    buckets = tuple(
        Bucket(b, "B", maximum_file_size=draw(st.sampled_from([1000, 2000])), antivirus=draw(st.booleans()))
        for b in draw(st.lists(st.sampled_from(["audio", "img"]), unique=True))
    )
    fns = tuple(draw(st.lists(functions(), unique_by=lambda f: f.spec.id, max_size=2)))
    scopes = [PROJECT_SCOPE, *(f.spec.id for f in fns)]
    variables: list[VariableState] = []
    for scope in scopes:
        for key in draw(st.lists(st.sampled_from(["A", "B", "C"]), unique=True)):
            secret = draw(st.booleans())
            known = not (is_live and secret and draw(st.booleans()))
            variables.append(var(scope, key, draw(st.sampled_from(["1", "2"])), secret=secret, known=known))
    managed = {s: frozenset(draw(st.lists(st.sampled_from(["A", "B", "C"]), unique=True))) for s in scopes}
    return ProjectState(PROJECT, databases, tuple(table_list), buckets, fns, tuple(variables), managed)


@st.composite
def evolved_columns(draw: st.DrawFn, column: Column) -> Column:
    """``column`` as a new configuration might have it: mostly the same, sometimes one setting changed."""
    change = draw(
        st.sampled_from(["same", "type", "size", "min", "max", "required", "default", "elements", "array", "format"])
    )
    values: dict[str, Any] = {
        "same": {},
        "type": {"type": draw(TYPES)},
        "size": {"size": draw(st.sampled_from([None, 16, 255, 4000]))},
        "min": {"min": draw(st.sampled_from([None, -10, 0, 3]))},
        "max": {"max": draw(st.sampled_from([None, 5, 1000]))},
        "required": {"required": not column.required},
        "default": {"default": draw(st.sampled_from([None, 7, "b"]))},
        "elements": {"elements": tuple(draw(st.lists(st.sampled_from(["p", "q", "r", "s"]), unique=True)))},
        "array": {"array": not column.array},
        "format": {"format": draw(st.sampled_from(STRING_FORMATS))},
    }
    return replace(column, **values[change])


@st.composite
def evolved(draw: st.DrawFn, state: ProjectState) -> ProjectState:
    """A desired state close to the live ``state``: most resources kept, some changed, dropped or added."""
    keep = st.sampled_from([True, True, True, False])
    databases = [
        replace(d, name=draw(st.sampled_from([d.name, "Renamed"])))
        for d in state.databases
        if d.id != "quixotic" and draw(keep)
    ]
    db_ids = [d.id for d in databases]
    tables_out: list[Table] = []
    for table in state.tables:
        if table.database_id not in db_ids or not draw(keep):
            continue
        cols = [draw(evolved_columns(c)) for c in table.columns if draw(keep)]
        if draw(st.booleans()):
            cols += [c for c in [draw(columns())] if c.key not in {k.key for k in cols}]
        keys = {c.key for c in cols} | {"$createdAt"}
        indexes = [
            replace(i, orders=draw(st.sampled_from([i.orders, ("DESC",)])), type=draw(st.sampled_from(INDEX_TYPES)))
            for i in table.indexes
            if set(i.columns) <= keys and draw(keep)
        ]
        tables_out.append(
            replace(
                table, name="T2" if draw(st.booleans()) else table.name, columns=tuple(cols), indexes=tuple(indexes)
            )
        )
    buckets = [replace(b, antivirus=draw(st.booleans())) for b in state.buckets if draw(keep)]
    fns = [
        replace(
            f,
            spec=replace(f.spec, timeout=draw(st.sampled_from([15, 60]))),
            code_hash=draw(st.sampled_from([f.code_hash, "h1", "h3"])),
            deployment_id=None,
        )
        for f in state.functions
        if draw(keep)
    ]
    fn_ids = {f.spec.id for f in fns}
    variables = [
        var(v.scope, v.key, draw(st.sampled_from(["1", "2"])), secret=draw(st.sampled_from([v.secret, not v.secret])))
        for v in state.variables
        if (v.scope == PROJECT_SCOPE or v.scope in fn_ids) and draw(keep)
    ]
    scopes = [PROJECT_SCOPE, *fn_ids]
    managed = {s: frozenset(draw(st.lists(st.sampled_from(["A", "B", "C"]), unique=True))) for s in scopes}
    return ProjectState(
        state.project_id,
        tuple(databases),
        tuple(tables_out),
        tuple(buckets),
        tuple(fns),
        tuple(variables),
        managed,
    )
