"""Prune plans: categories by name, never metadata, never the sources a wheel reads at run
time (also through ``repair --prune``)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from wheelmaker import MakeWheel

from wheelfix.categories import Category
from wheelfix.errors import UsageError
from wheelfix.wheels.prune import apply_plan, parse_categories, plan_prune, prune_plan
from wheelfix.wheels.repair import repair


def test_parse_categories() -> None:
    assert parse_categories(["tests,sources", "bytecode"]) == {
        Category.TESTS,
        Category.SOURCES,
        Category.BYTECODE,
    }
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
        "pkg/tests/test_x.py",
        "pkg/_x.c",
        "pkg/__pycache__/m.cpython-311.pyc",
    }
    apply_plan(tmp_path, plan)
    assert not (tmp_path / "pkg/tests").exists()
    assert not (tmp_path / "pkg/__pycache__").exists()
    assert (tmp_path / "pkg/testing/__init__.py").exists()
    assert (tmp_path / "pkg-1.0.dist-info/tests/odd.txt").exists()


def test_sources_the_wheel_reads_at_run_time_are_not_pruned(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/f2py.py": "SOURCES = ['fortranobject.c']\n",
        "pkg/src/fortranobject.c": "int f;",
        "pkg/_gen.c": "/* generated */",
        "pkg/_gen.pyx": "def f(): pass",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    plan = prune_plan(tmp_path, parse_categories(["sources"]))
    assert {i.path for i in plan.items} == {"pkg/_gen.c", "pkg/_gen.pyx"}
    assert plan.kept == {
        "pkg/src/fortranobject.c": "read at run time: source 'fortranobject.c' named in pkg/f2py.py"
    }
    assert plan_prune(tmp_path, parse_categories(["sources"])) == plan.items
    apply_plan(tmp_path, plan.items)
    assert (tmp_path / "pkg/src/fortranobject.c").exists()
    assert not (tmp_path / "pkg/_gen.c").exists()
    # other categories do not read the wheel's Python for it
    assert prune_plan(tmp_path, parse_categories(["tests"])).kept == {}


def test_repair_prune_sources_keeps_what_the_wheel_names_and_says_so(
    make_wheel: MakeWheel, tmp_path: Path
) -> None:
    wheel = make_wheel(
        {
            "demo/__init__.py": "",
            "demo/jit.py": 'TEMPLATES = os.path.join(HERE, "templates")\n',
            "demo/templates/kernel.c": "int k;",
            "demo/templates/kernel.cpp": "int k;",
            "demo/_gen.c": "/* generated */",
        }
    )
    report = repair(wheel, tmp_path / "out", prune=["sources"])
    (result,) = report.results
    assert result.error is None, result.error
    assert result.pruned == {"demo/_gen.c": len("/* generated */")}
    why = "read at run time: source folder 'templates' (2 files) named in demo/jit.py"
    assert result.kept == {"demo/templates": why}
    assert result.to_json()["kept"] == {"demo/templates": why}
    assert result.output is not None
    with zipfile.ZipFile(result.output) as zf:
        names = set(zf.namelist())
    assert {"demo/templates/kernel.c", "demo/templates/kernel.cpp"} <= names
    assert "demo/_gen.c" not in names
