"""The pull-request comment as a pure value, on literal plans: one marker, a digest per environment that
reads back, fences that survive backticks, a cut that keeps the digest, the freeze's notes."""

from __future__ import annotations

import pytest

from quixotic.ci.comment import LIMIT, MARKER, check_reviewed, render_comment, reviewed_digest
from quixotic.errors import PlanError
from quixotic.plan.changes import Change
from quixotic.plan.plan import Plan


def plan(env: str, *addresses: str, reason: str = "new") -> Plan:
    changes = tuple(
        Change("create", "function", f"function:{a}", None, {"id": a}, "additive", reason) for a in addresses
    )
    return Plan(env, f"p-{env}", "fingerprint", changes)


def test_one_marker_and_a_digest_per_environment_that_reads_back() -> None:
    dev, prod = plan("dev", "hello"), plan("prod")
    text = render_comment({"dev": dev, "prod": prod})
    assert text.startswith(MARKER + "\n") and text.count(MARKER) == 1
    assert reviewed_digest(text, "dev") == dev.digest() and reviewed_digest(text, "prod") == prod.digest()
    assert "### dev: 1 change(s)" in text and "### prod: no changes" in text and "function:hello" in text
    check_reviewed(dev, dev.digest())
    with pytest.raises(PlanError) as err:
        check_reviewed(plan("dev", "hello", "extra"), dev.digest())
    assert "not the one reviewed" in err.value.message and dev.digest() in err.value.message
    later = render_comment({"dev": plan("dev", "hello", "extra")})
    assert reviewed_digest(text + "\n" + later, "dev") == plan("dev", "hello", "extra").digest()  # the last wins


def test_backticks_in_the_plan_cannot_close_the_fence() -> None:
    text = render_comment({"dev": plan("dev", "hello", reason="a ``` b ```` c")})
    assert "`````text" in text and text.rstrip().endswith("`````")


def test_a_huge_plan_is_cut_but_keeps_its_digest() -> None:
    big = plan("prod", *(f"fn{i:05d}" for i in range(4000)))
    text = render_comment({"prod": big})
    assert len(text) < LIMIT + 2_000 and "(cut: run `quixotic plan prod` for the whole plan)" in text
    assert reviewed_digest(text, "prod") == big.digest()


def test_freeze_notes_and_a_plan_given_for_the_wrong_environment() -> None:
    text = render_comment({"prod": plan("prod", "new")}, {"prod": ["**prod is frozen.**", "- `create function:new`"]})
    assert "> **prod is frozen.**\n> - `create function:new`" in text
    with pytest.raises(PlanError) as err:
        render_comment({"dev": plan("prod")})
    assert "a plan of 'prod'" in err.value.message
