"""The wheel-check registry covers every wheel code once and only runs what is selected."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from wheelmaker import MakeWheel

import wheelfix
from wheelfix.findings import Check, Scope
from wheelfix.wheels import audit, registry
from wheelfix.wheels.checks import contents, debug, integrity, platform

_USED = re.compile(r"Check\.([A-Z_]+)")


def _used(source: str) -> set[Check]:
    return {Check[name] for name in _USED.findall(source)}


def test_every_wheel_code_is_registered_exactly_once() -> None:
    groups = [r.codes for r in registry.WHEEL_CHECKS] + list(registry.ANALYSES.values())
    every = [c for group in groups for c in group]
    assert len(every) == len(set(every)), "a code is registered twice"
    assert set(every) == {c for c in Check if c.scope is Scope.WHEEL}


def test_registered_codes_match_what_the_functions_use() -> None:
    # check_record's codes are used in integrity.py together with check_metadata's
    integrity_codes = _used(inspect.getsource(integrity))
    record = next(r for r in registry.WHEEL_CHECKS if r.run is integrity.check_record)
    metadata = registry.ANALYSES["wheelfix.wheels.checks.integrity.check_metadata"]
    assert record.codes | metadata == integrity_codes
    for module in (contents, debug):
        entry = next(r for r in registry.WHEEL_CHECKS if r.run.__module__ == module.__name__)
        assert entry.codes == _used(inspect.getsource(module))
    assert registry.ANALYSES["wheelfix.wheels.checks.platform.analyze_platform"] == _used(
        inspect.getsource(platform)
    )


def test_unselected_checks_do_not_run(
    make_wheel: MakeWheel, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = make_wheel({"demo/__init__.py": b"", "demo/tests/test_x.py": b"def test(): pass\n"})
    calls: list[str] = []
    entries = []
    for entry in registry.WHEEL_CHECKS:

        def spy(view: object, _run: object = entry.run, _name: str = entry.run.__name__) -> object:
            calls.append(_name)
            return _run(view)  # type: ignore[operator]

        entries.append(registry.RegisteredCheck(spy, entry.codes))  # type: ignore[arg-type]
    monkeypatch.setattr(audit, "WHEEL_CHECKS", tuple(entries))
    report = wheelfix.check([Path(wheel)], select=["WF401"], jobs=1)
    assert calls == ["check_contents"]
    assert [f.code for f in report.results[0].findings] == ["WF401"]
    calls.clear()
    wheelfix.check([Path(wheel)], ignore=["WF4", "WF3", "WF5"], jobs=1)
    assert calls == []
