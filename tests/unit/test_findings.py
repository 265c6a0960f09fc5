"""The check registry: codes, scopes, and --select/--ignore resolved before anything runs."""

from __future__ import annotations

import re

import pytest

from wheelfix.errors import UsageError
from wheelfix.findings import Check, Finding, Scope, Selection, Severity, gate_exit_code


def test_codes_and_names_are_unique() -> None:
    codes = [c.code for c in Check]
    slugs = [c.slug for c in Check]
    assert len(codes) == len(set(codes))
    assert len(slugs) == len(set(slugs))


def test_scope_follows_the_hundreds_digit() -> None:
    assert Check.DEBUG_INFO.scope is Scope.WHEEL
    assert Check.RECORD_DRIFT.scope is Scope.INSTALLED
    assert Check.WASTED_BYTES.scope is Scope.IMAGE
    assert Check.PIP_CACHE.scope is Scope.DOCKERFILE


def test_everything_is_selected_by_default() -> None:
    assert Selection.resolve().checks == frozenset(Check)
    assert Selection.every().checks == frozenset(Check)


@pytest.mark.parametrize(
    ("select", "ignore", "expected"),
    [
        (["WF30"], [], {"WF301", "WF302"}),
        (["WF301,WF302"], ["WF302"], {"WF301"}),
        (["debug-info"], [], {"WF301"}),
        (["wf301"], [], {"WF301"}),
        ([" WF301 ", ""], [], {"WF301"}),
    ],
)
def test_entries_resolve_to_members(
    select: list[str], ignore: list[str], expected: set[str]
) -> None:
    assert {c.code for c in Selection.resolve(select, ignore).checks} == expected


def test_ignore_alone_removes_a_family() -> None:
    chosen = Selection.resolve(ignore=["WF4"]).checks
    assert Check.TESTS not in chosen
    assert Check.DEBUG_INFO in chosen


def test_a_lone_string_is_one_entry() -> None:
    assert {c.code for c in Selection.resolve("WF301").checks} == {"WF301"}


@pytest.mark.parametrize("entry", ["WF999", "WF9", "debug", "W301", "*"])
def test_unknown_entries_are_usage_errors(entry: str) -> None:
    with pytest.raises(UsageError, match=re.escape(f"select {entry!r} matches no check")):
        Selection.resolve([entry])


def test_errors_name_their_origin() -> None:
    with pytest.raises(UsageError, match=r"^pyproject.toml: ignore 'WF000'"):
        Selection.resolve(ignore=["WF000"], origin="pyproject.toml")


def test_keep_and_any_of() -> None:
    selection = Selection.resolve(["WF301"])
    debug = Finding(check=Check.DEBUG_INFO, message="m")
    symtab = Finding(check=Check.SYMBOL_TABLE, message="m")
    assert selection.keep([debug, symtab]) == [debug]
    assert selection.any_of({Check.DEBUG_INFO, Check.TESTS})
    assert not selection.any_of({Check.TESTS})
    assert Check.DEBUG_INFO in selection


def test_gate_exit_code() -> None:
    info = Finding(check=Check.TESTS, message="m")
    assert gate_exit_code([info], Severity.INFO) == 1
    assert gate_exit_code([info], Severity.WARNING) == 0
    assert gate_exit_code([info], None) == 0
