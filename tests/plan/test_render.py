"""render_text: what a person reviews before a deploy."""

from __future__ import annotations

from dataclasses import replace

from plan_states import AUDIO, PROJECT, SECRET, live, sample_plan, var

from quixotic.plan.changes import Change
from quixotic.plan.plan import Plan, make_plan
from quixotic.plan.render import render_change, render_text
from quixotic.plan.state import PROJECT_SCOPE, ProjectState


def test_the_sample_plan_reads_grouped_by_kind_with_destructive_changes_flagged() -> None:
    assert render_text(sample_plan()) == (
        "Plan for environment 'dev' (project qw-dev):\n"
        "\n"
        "Tables\n"
        "    ~   table:app/transcriptions  name: Transcriptions -> Transcripts\n"
        "Columns\n"
        "  ! -/+ column:app/transcriptions/owner  type varchar -> string: recreating drops its data\n"
        "  ! ~   column:app/transcriptions/seconds  max: 9223372036854775807 -> 7200"
        "  (max lowered: existing values may not fit)\n"
        "Indexes\n"
        "    -   index:app/transcriptions/by_owner  over column owner, which is deleted or recreated:"
        " dropped first, built again after\n"
        "    +   index:app/transcriptions/by_owner  rebuilt key index on (owner) after column owner is recreated\n"
        "    +   index:app/transcriptions/by_status  new unique index on (status, $createdAt);"
        " fails if existing rows hold duplicate values\n"
        "Buckets\n"
        "    ~   bucket:audio  maximum_file_size: 50000000 -> 80000000\n"
        "    +   bucket:images  new bucket\n"
        "Functions\n"
        "    ~   function:transcribe  timeout: 300 -> 600\n"
        "Variables\n"
        "  ! -   variable:project/REGION  managed by quixotic and no longer set for this environment\n"
        "    ~   variable:transcribe/MAX_FILE_SIZE_MB  value: 50 -> 80\n"
        "Deployments\n"
        "    +   deployment:transcribe  code changed: build and activate a new deployment\n"
        "\n"
        "4 to create, 5 to update, 1 to replace, 2 to delete (3 destructive)\n"
        "! marks a destructive change (data may be lost): review it before applying.\n"
    )


def test_an_empty_plan_says_so() -> None:
    assert render_text(make_plan("local", live(), live())) == (
        "Plan for environment 'local' (project qw-dev):\n\nNo changes. The live project matches the configuration.\n"
    )


def test_secret_values_show_as_stars_or_as_unknown() -> None:
    have = live(
        variables=(
            var("transcribe", "OPENAI_API_KEY", "old", secret=True, id="v2"),
            var(PROJECT_SCOPE, "DB_PASSWORD", "?", secret=True, known=False, id="v5"),
        )
    )
    want = replace(
        have,
        variables=(
            var("transcribe", "OPENAI_API_KEY", SECRET, secret=True),
            var(PROJECT_SCOPE, "DB_PASSWORD", SECRET, secret=True),
        ),
    )
    text = render_text(make_plan("dev", have, want))
    assert SECRET not in text
    assert "    ~   variable:transcribe/OPENAI_API_KEY  value: ******** -> ********\n" in text
    assert "    ~   variable:project/DB_PASSWORD  value: (unknown) -> ********\n" in text


def test_each_action_has_its_marker_and_values_print_plainly() -> None:
    view = {"id": "audio", "name": "Audio files", "allowed_file_extensions": ["mp3"], "compression": None}
    after = {**view, "name": "Audio", "allowed_file_extensions": ["mp3", "wav"], "compression": "gzip"}
    fields = ("name", "allowed_file_extensions", "compression")
    update = Change("update", "bucket", "bucket:audio", view, after, "compatible", "updated in place", fields)
    assert render_change(update) == (
        '    ~   bucket:audio  name: "Audio files" -> Audio, allowed_file_extensions: [mp3] -> [mp3, wav],'
        " compression: null -> gzip"
    )
    assert render_change(replace(update, action="create", before=None, reason="new bucket")) == (
        "    +   bucket:audio  new bucket"
    )
    delete = Change("delete", "bucket", "bucket:audio", view, None, "destructive", "deletes every file")
    assert render_change(delete) == "  ! -   bucket:audio  deletes every file"


def test_the_summary_counts_every_action() -> None:
    plan = make_plan("dev", ProjectState(PROJECT, buckets=(AUDIO,)), ProjectState(PROJECT, buckets=()))
    assert render_text(plan).splitlines()[-2:] == [
        "0 to create, 0 to update, 0 to replace, 1 to delete (1 destructive)",
        "! marks a destructive change (data may be lost): review it before applying.",
    ]
    assert isinstance(Plan.from_json(plan.to_json()), Plan)


def test_a_secret_planned_without_a_fingerprint_says_its_value_is_read_when_applied() -> None:
    """A never-deployed target has no fingerprint key: the plan cannot tie the secret to a value."""
    have = live(variables=())
    want = replace(have, variables=(var(PROJECT_SCOPE, "DB_PASSWORD", SECRET, secret=True, known=False),
                                    var(PROJECT_SCOPE, "PLAIN", "x")))  # fmt: skip
    text = render_text(make_plan("dev", have, want))
    assert SECRET not in text
    (secret_line,) = [line for line in text.splitlines() if "DB_PASSWORD" in line]
    assert secret_line.startswith("    +   variable:project/DB_PASSWORD") and "without a fingerprint" in secret_line
    (plain_line,) = [line for line in text.splitlines() if "PLAIN" in line]
    assert "fingerprint" not in plain_line
