"""The wheel-check registry covers every wheel code once and only runs what is selected."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from wheelmaker import MakeWheel

import wheelfix
from wheelfix.findings import Check, Finding, Scope
from wheelfix.wheels import evaluate, registry
from wheelfix.wheels.checks import contents, debug, integrity, layout, sbom

_USED = re.compile(r"Check\.([A-Z_]+)")


def _used(source: str) -> set[Check]:
    return {Check[name] for name in _USED.findall(source)}


def test_every_wheel_code_is_registered() -> None:
    groups = [r.codes for r in registry.WHEEL_CHECKS] + list(registry.ANALYSES.values())
    every = {c for group in groups for c in group}
    assert every == {c for c in Check if c.scope is Scope.WHEEL}


def test_skippable_checks_share_no_code() -> None:
    # Were a code reported by two skippable functions, selecting it would run both.
    every = [c for r in registry.WHEEL_CHECKS for c in r.codes]
    assert len(every) == len(set(every))


@pytest.mark.parametrize("name", sorted(registry.ANALYSES))
def test_analyses_declare_what_their_modules_use(name: str) -> None:
    import importlib

    module = importlib.import_module(name.rsplit(".", 1)[0])
    assert registry.ANALYSES[name] == _used(inspect.getsource(module)) - _shared(name)


def _shared(name: str) -> set[Check]:
    """Codes the integrity module uses for check_record (a skippable check)."""
    if name.endswith("check_metadata"):
        record = next(r for r in registry.WHEEL_CHECKS if r.function.__name__ == "check_record")
        return set(record.codes)
    return set()


def test_registered_codes_match_what_the_functions_use() -> None:
    # check_record's codes are used in integrity.py together with check_metadata's
    integrity_codes = _used(inspect.getsource(integrity))
    record = next(r for r in registry.WHEEL_CHECKS if r.function is integrity.check_record)
    metadata = registry.ANALYSES["wheelfix.wheels.checks.integrity.check_metadata"]
    assert record.codes | metadata == integrity_codes
    # check_contents reports its own codes and those of the layout checks it calls
    sources = {contents: (contents, layout), debug: (debug,), sbom: (sbom,)}
    for module, parts in sources.items():
        entry = next(r for r in registry.WHEEL_CHECKS if r.function.__module__ == module.__name__)
        assert entry.codes == set().union(*(_used(inspect.getsource(m)) for m in parts))


def test_unselected_checks_do_not_run(
    make_wheel: MakeWheel, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = make_wheel({"demo/__init__.py": b"", "demo/tests/test_x.py": b"def test(): pass\n"})
    calls: list[str] = []
    entries = []
    for entry in registry.WHEEL_CHECKS:

        def spy(
            *args: object, _run: object = entry.function, _name: str = entry.function.__name__
        ) -> list[Finding]:
            calls.append(_name)
            return _run(*args)  # type: ignore[operator, no-any-return]

        entries.append(registry.RegisteredCheck(spy, entry.codes, entry.takes_rules))
    monkeypatch.setattr(evaluate, "WHEEL_CHECKS", tuple(entries))
    report = wheelfix.check([Path(wheel)], select=["WF401"], jobs=1)
    assert calls == ["check_contents"]
    assert [f.code for f in report.results[0].findings] == ["WF401"]
    calls.clear()
    wheelfix.check([Path(wheel)], ignore=["WF4", "WF3", "WF5", "WF210"], jobs=1)
    assert calls == []
