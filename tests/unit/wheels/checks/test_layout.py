"""Library layout checks WF410-WF421 (wheelfix/wheels/checks/layout.py) on wheels built on
the fly: top-level names, importable modules, declared top-level entries and package trees."""

from __future__ import annotations

from pathlib import Path

from wheelmaker import GOOD_PACKAGE as GOOD
from wheelmaker import MakeWheel, only
from wheelmaker import findings_of as run

from wheelfix.wheels.checks.contents import ContentRules, package_tree_files


def test_non_module_and_init_at_top_level(make_wheel: MakeWheel) -> None:
    files = {**GOOD, "README.md": "# demo\n", "__init__.py": "", "demo.pth": "demo\n"}
    found = run(make_wheel(files))
    assert [f.path for f in only(found, "WF410")] == ["README.md"]
    assert [f.path for f in only(found, "WF413")] == ["__init__.py"]


def test_top_level_of_data_purelib_counts_as_library(make_wheel: MakeWheel) -> None:
    found = run(make_wheel({**GOOD, "demo-1.0.data/purelib/NOTICE": "x\n"}))
    assert [f.path for f in only(found, "WF410")] == ["demo-1.0.data/purelib/NOTICE"]


def test_module_not_importable(make_wheel: MakeWheel) -> None:
    files: dict[str, bytes | str] = {
        **GOOD,
        "demo/bad code/__init__.py": "",
        "demo/bad code/ship-it.py": "X = 1\n",
        "demo/ship-it.py": "Y = 1\n",
        "demo/class.py": "Z = 1\n",
        "demo/_ext.cpython-312-x86_64-linux-gnu.so": b"not elf",
    }
    found = only(run(make_wheel(files)), "WF411")
    assert [f.path for f in found] == ["demo/bad code/", "demo/class.py", "demo/ship-it.py"]
    assert "2 module(s)" in found[0].message


def test_common_top_level_names_and_toplevel_exemption(make_wheel: MakeWheel) -> None:
    files = {**GOOD, "src/__init__.py": "", "docs/index.rst": "x\n", "tests/test_a.py": "x\n"}
    path = make_wheel(files)
    assert [f.path for f in only(run(path), "WF412")] == ["docs/", "src/"]
    assert [f.path for f in only(run(path), "WF401")] == ["tests/"]  # tests: WF401, not twice
    exempt = ContentRules(toplevel=("demo", "docs", "src", "tests"))
    assert [f.path for f in only(run(path, exempt), "WF412")] == []


def test_empty_library_and_empty_wheel(make_wheel: MakeWheel) -> None:
    scripts_only = run(make_wheel({"demo-1.0.data/scripts/demo": "#!python\n"}))
    assert len(only(scripts_only, "WF414")) == 1
    assert only(scripts_only, "WF415") == []
    empty = run(make_wheel({}))
    assert len(only(empty, "WF415")) == 1
    assert only(empty, "WF414") == []  # the stronger finding only


def test_multiple_top_level_entries(make_wheel: MakeWheel) -> None:
    files = {**GOOD, "other/__init__.py": "", "_private.py": "", "demo.libs/libx.so.1": b"x"}
    (multi,) = only(run(make_wheel(files)), "WF416")
    assert "2 top-level entries" in multi.message
    assert "demo/" in multi.message and "other/" in multi.message
    declared = ContentRules(toplevel=("demo", "other"))
    assert only(run(make_wheel(files), declared), "WF416") == []


def test_top_level_folder_without_modules(make_wheel: MakeWheel) -> None:
    files = {**GOOD, "demo_data/table.csv": "a,b\n", "demo-stubs/__init__.pyi": "X: int\n"}
    found = only(run(make_wheel(files)), "WF417")
    assert [f.path for f in found] == ["demo_data/"]
    assert "table.csv" in found[0].message


def test_toplevel_missing_and_undeclared(make_wheel: MakeWheel) -> None:
    files = {**GOOD, "extra.py": "X = 1\n", "demo.pth": "demo\n"}
    found = run(make_wheel(files), ContentRules(toplevel=("demo", "gone")))
    assert [f.path for f in only(found, "WF421")] == ["extra.py"]
    (missing,) = only(found, "WF420")
    assert "'gone'" in missing.message


def test_package_tree_against_the_wheel(make_wheel: MakeWheel, tmp_path: Path) -> None:
    package = tmp_path / "src" / "demo"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("VALUE = 1\n")
    (package / "core.py").write_text("def f() -> int:\n    return 1\n")
    (package / "new.py").write_text("NEW = 1\n")
    (package / "__pycache__" / "core.cpython-312.pyc").write_bytes(b"\0")
    expected = package_tree_files(packages=[package])
    assert expected == {"demo/__init__.py", "demo/core.py", "demo/new.py"}
    assert package_tree_files(src_dirs=[tmp_path / "src"]) == expected
    files = {**GOOD, "demo/old.py": "OLD = 1\n", "demo/_c.cpython-312-x86_64-linux-gnu.so": b"x"}
    found = run(make_wheel(files), ContentRules(package_files=expected))
    (missing,) = only(found, "WF418")
    assert "demo/new.py" in missing.message
    (extra,) = only(found, "WF419")
    assert extra.path == "demo/old.py"  # the built extension module is not "extra"
    assert only(found, "WF416") == []
