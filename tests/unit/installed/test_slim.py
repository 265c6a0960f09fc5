"""The pure parts of slim: narrowing a plan by what the baseline import loaded."""

from __future__ import annotations

from wheelfix.installed.slim import SlimAction, _spare_loaded


def remove(path: str, category: str = "tests") -> SlimAction:
    return SlimAction("remove", path, category, 100, "pkg-1.0.dist-info")


def test_a_loaded_tests_module_keeps_its_whole_tests_folder() -> None:
    plan = (
        remove("pkg/tests/__init__.py"),
        remove("pkg/tests/runner.py"),
        remove("pkg/tests/data/big.bin"),
        remove("pkg/sub/tests/test_sub.py"),
        SlimAction("strip", "pkg/_ext.so", "strip", 50, "pkg-1.0.dist-info"),
    )
    narrowed, kept = _spare_loaded(
        plan, frozenset({"pkg/__init__.py", "pkg/tests/__init__.py", "pkg/tests/runner.py"})
    )
    assert kept == {"pkg/tests": "imported at start-up: pkg/tests/__init__.py, pkg/tests/runner.py"}
    assert [a.path for a in narrowed] == ["pkg/sub/tests/test_sub.py", "pkg/_ext.so"]


def test_any_other_loaded_file_is_spared_alone() -> None:
    plan = (remove("pkg/gen.pyx", "sources"), remove("pkg/_impl.py", "bytecode"))
    narrowed, kept = _spare_loaded(plan, frozenset({"pkg/_impl.py"}))
    assert kept == {"pkg/_impl.py": "imported at start-up"}
    assert [a.path for a in narrowed] == ["pkg/gen.pyx"]


def test_nothing_loaded_changes_nothing() -> None:
    plan = (remove("pkg/tests/test_a.py"),)
    assert _spare_loaded(plan, frozenset()) == (plan, {})
