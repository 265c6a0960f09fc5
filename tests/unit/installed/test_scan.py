"""scan() on small hand-made trees: RECORD drift, unowned files, missing RECORDs, selection."""

from __future__ import annotations

from pathlib import Path

import pytest
from wheelmaker import add_dist

from wheelfix.errors import UsageError
from wheelfix.installed.scan import scan


def codes(report: object) -> set[str]:
    from wheelfix.installed.scan import EnvReport

    assert isinstance(report, EnvReport)
    return {f.code for f in report.all_findings()}


def test_a_clean_tree_has_no_warnings(tmp_path: Path) -> None:
    add_dist(tmp_path, "demo", {"demo/__init__.py": b"x = 1\n"})
    report = scan(tmp_path, threads=1)
    assert not {c for c in codes(report) if c in {"WF601", "WF603", "WF605"}}
    assert report.exit_code == 0
    assert [d.name for d in report.distributions] == ["demo"]


def test_drift_unowned_and_unverifiable_are_reported(tmp_path: Path) -> None:
    add_dist(tmp_path, "demo", {"demo/__init__.py": b"x = 1\n"})
    (tmp_path / "demo" / "__init__.py").write_bytes(b"x = 2\n")  # changed after install
    (tmp_path / "stray.py").write_bytes(b"")
    add_dist(tmp_path, "norecord", {"norecord/__init__.py": b""}, record=False)
    found = codes(scan(tmp_path, threads=1, fail_on="never"))
    assert {"WF601", "WF603", "WF605"} <= found


def test_select_and_ignore_filter_findings(tmp_path: Path) -> None:
    add_dist(tmp_path, "demo", {"demo/__init__.py": b"x = 1\n"})
    (tmp_path / "demo" / "__init__.py").write_bytes(b"x = 2\n")
    (tmp_path / "stray.py").write_bytes(b"")
    assert codes(scan(tmp_path, threads=1, select=["WF601"])) == {"WF601"}
    assert "WF601" not in codes(scan(tmp_path, threads=1, ignore="record-drift"))
    with pytest.raises(UsageError, match="matches no check"):
        scan(tmp_path, select=["WF6999"])


def test_not_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        scan(tmp_path / "missing")
