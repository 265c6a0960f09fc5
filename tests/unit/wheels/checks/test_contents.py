"""Content checks WF409 and WF422-WF430 on wheels built on the fly: one passing and one failing
wheel per code, and the ``[tool.wheelfix]`` keys that tune them (layout checks: test_layout.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from wheelmaker import GOOD_PACKAGE as GOOD
from wheelmaker import MakeWheel, only
from wheelmaker import findings_of as run

from wheelfix.config import load_config
from wheelfix.errors import UsageError
from wheelfix.wheels.checks.contents import ContentRules, content_rules, package_tree_files


def test_a_clean_wheel_has_no_content_findings(make_wheel: MakeWheel) -> None:
    found = run(make_wheel(GOOD))
    assert [f for f in found if f.code.startswith("WF4")] == []


def test_duplicate_contents(make_wheel: MakeWheel) -> None:
    body = "def neural() -> None:\n    pass\n"
    path = make_wheel(
        {**GOOD, "demo/net.py": body, "build/lib/demo/net.py": body, "demo/py.typed": ""}
    )
    (dup,) = only(run(path), "WF409")
    assert dup.path == "build/lib/demo/net.py"
    assert dup.bytes == len(body)
    assert "demo/net.py" in dup.message
    assert only(run(path, ContentRules(duplicate_min_size=len(body) + 1)), "WF409") == []


def test_empty_and_encoding_line_files_are_not_duplicates(make_wheel: MakeWheel) -> None:
    files = {**GOOD, "demo/a/__init__.py": "", "demo/b/__init__.py": ""}
    files |= {"demo/c.py": "# -*- coding: utf-8 -*-\n", "demo/d.py": "# -*- coding: utf-8 -*-\n"}
    assert only(run(make_wheel(files)), "WF409") == []


def test_package_tree_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a folder"):
        package_tree_files(packages=[tmp_path / "nope"])


def test_size_and_count_limits(make_wheel: MakeWheel) -> None:
    path = make_wheel({**GOOD, "demo/blob.bin": b"\0" * 5000})
    assert only(run(path), "WF422") == only(run(path), "WF423") == []
    tight = ContentRules(max_compressed_size=100, max_unpacked_size=4000, max_files=3)
    found = run(path, tight)
    (compressed,) = only(found, "WF422")
    assert compressed.bytes == path.stat().st_size
    (unpacked,) = only(found, "WF423")
    assert unpacked.bytes is not None and unpacked.bytes > 5000
    (count,) = only(found, "WF424")
    assert "6 files" in count.message  # 3 files + METADATA, WHEEL, RECORD


def test_mixed_extensions_default_and_configured(make_wheel: MakeWheel) -> None:
    files = {**GOOD, "demo/a.yaml": "a: 1\n", "demo/b.yml": "b: 1\n", "demo/c.yml": "c: 1\n"}
    (mixed,) = only(run(make_wheel(files)), "WF425")
    assert ".yaml (1 files), .yml (2 files)" in mixed.message
    only_html = ContentRules(mixed_extensions=((".htm", ".html"),))
    assert only(run(make_wheel(files), only_html), "WF425") == []


def test_non_ascii_spaces_and_long_paths(make_wheel: MakeWheel) -> None:
    files: dict[str, bytes | str] = {
        **GOOD,
        "demo/\N{LATIN CAPITAL LETTER E WITH ACUTE}veryone.py": "X = 1\n",
        "demo/beep boop/a.ini": "x\n",
        "demo/beep boop/b.ini": "x\n",
        "demo/" + "d" * 60 + "/" + "f" * 60 + ".txt": "x\n",
    }
    found = run(make_wheel(files))
    (non_ascii,) = only(found, "WF426")
    assert non_ascii.path == "demo/\N{LATIN CAPITAL LETTER E WITH ACUTE}veryone.py"
    assert non_ascii.message.isascii()
    (space,) = only(found, "WF427")
    assert space.path == "demo/beep boop/"
    assert "2 files" in space.message
    assert only(found, "WF428") == []
    (long,) = only(run(make_wheel(files), ContentRules(max_path_length=100)), "WF428")
    assert long.path is not None and long.path.endswith(".txt")


def test_expected_and_unexpected_files(make_wheel: MakeWheel) -> None:
    files: dict[str, bytes | str] = {
        **GOOD,
        "demo/.github/workflows/ci.yml": "on: push\n",
        "demo/.github/dependabot.yml": "version: 2\n",
        "demo/appveyor.yml": "x\n",
    }
    found = run(make_wheel(files))
    assert [f.path for f in only(found, "WF430")] == ["demo/.github/", "demo/appveyor.yml"]
    assert "2 file(s)" in only(found, "WF430")[0].message
    rules = ContentRules(expected_files=("*/py.typed", "LICENSE*", "demo/"), unexpected_files=())
    found = run(make_wheel(files), rules)
    assert only(found, "WF430") == []
    assert sorted(f.message for f in only(found, "WF429")) == [
        "no file matches '*/py.typed' (expected-files)",
        "no file matches 'LICENSE*' (expected-files)",
    ]


def test_config_keys_reach_the_rules(tmp_path: Path, make_wheel: MakeWheel) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.wheelfix]\nmax-files = 2\nmax-path-length = 10\nduplicate-min-size = 5\n"
        'expected-files = ["*/py.typed"]\nunexpected-files = []\ntoplevel = ["demo"]\n'
        'mixed-extensions = [[".htm", ".html"]]\npackage = ["pkg"]\n'
    )
    config = load_config(tmp_path)
    rules = content_rules(config.contents, packages=config.packages, src_dirs=config.src_dirs)
    assert (rules.max_files, rules.max_path_length, rules.duplicate_min_size) == (2, 10, 5)
    assert rules.expected_files == ("*/py.typed",)
    assert rules.unexpected_files == ()
    assert rules.toplevel == ("demo",)
    assert rules.mixed_extensions == ((".htm", ".html"),)
    assert rules.package_files == frozenset({"pkg/__init__.py"})
    assert content_rules(config.contents, toplevel=["a,b"]).toplevel == ("a", "b")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max-files = -1", "max-files must be a non-negative integer"),
        ('max-path-length = "long"', "max-path-length must be a non-negative integer"),
        ('mixed-extensions = ["yaml"]', "mixed-extensions must be a list of lists"),
        ('toplevel = "demo"', "toplevel must be a list of strings"),
    ],
)
def test_bad_config_values_are_usage_errors(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.wheelfix]\n{line}\n")
    with pytest.raises(UsageError, match=message):
        load_config(tmp_path)
