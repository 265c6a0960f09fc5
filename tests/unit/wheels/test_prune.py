"""Prune plans: categories by name, never metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelfix.categories import Category
from wheelfix.errors import UsageError
from wheelfix.wheels.prune import apply_plan, parse_categories, plan_prune


def test_parse_categories() -> None:
    assert parse_categories(["tests,sources", "bytecode"]) == {
        Category.TESTS, Category.SOURCES, Category.BYTECODE,
    }  # fmt: skip
    assert parse_categories(["all"]) == frozenset(Category)
    with pytest.raises(UsageError, match="unknown prune category"):
        parse_categories(["docs"])


def test_plan_and_apply(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/tests/test_x.py": "",
        "pkg/_x.c": "int x;",
        "pkg/__pycache__/m.cpython-311.pyc": "",
        "pkg/testing/__init__.py": "",  # numpy.testing style: public API, kept
        "pkg-1.0.dist-info/tests/odd.txt": "",  # metadata is never pruned
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    plan = plan_prune(tmp_path, parse_categories(["tests,sources,bytecode"]))
    assert {i.path for i in plan} == {
        "pkg/tests/test_x.py", "pkg/_x.c", "pkg/__pycache__/m.cpython-311.pyc",
    }  # fmt: skip
    apply_plan(tmp_path, plan)
    assert not (tmp_path / "pkg/tests").exists()
    assert not (tmp_path / "pkg/__pycache__").exists()
    assert (tmp_path / "pkg/testing/__init__.py").exists()
    assert (tmp_path / "pkg-1.0.dist-info/tests/odd.txt").exists()
