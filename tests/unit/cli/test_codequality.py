"""--format gitlab: a Code Quality report GitLab reads (the fields its docs require)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wheelfix.cli.app import cli

REPO = Path(__file__).resolve().parents[3]
SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def check_issue(issue: dict[str, object]) -> None:
    # GitLab requires description, check_name, fingerprint, severity, location.path and
    # location.lines.begin (or positions); the fingerprint must be unique in the report.
    assert isinstance(issue["description"], str) and issue["description"]
    assert isinstance(issue["check_name"], str)
    assert isinstance(issue["fingerprint"], str) and len(issue["fingerprint"]) == 32
    assert issue["severity"] in SEVERITIES
    location = issue["location"]
    assert isinstance(location, dict)
    assert isinstance(location["path"], str)
    assert isinstance(location["lines"]["begin"], int) and location["lines"]["begin"] >= 1


def test_check_report_for_gitlab(monkeypatch: pytest.MonkeyPatch) -> None:
    wheels = sorted(str(p.relative_to(REPO)) for p in (REPO / "sample_wheels").glob("*.whl"))
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["check", "--no-config", "--format", "gitlab", *wheels])
    assert result.exit_code == 1
    issues = json.loads(result.stdout)
    assert issues
    for issue in issues:
        check_issue(issue)
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    (overclaim,) = [i for i in issues if i["check_name"] == "WF101 tag-overclaims"]
    assert overclaim["severity"] == "critical"
    assert overclaim["location"]["path"].startswith("sample_wheels/wfdemo_overclaim-")


def test_dockerfile_issues_have_their_line(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nRUN pip install x\n")
    result = CliRunner().invoke(cli, ["dockerfile", "--format", "gitlab", str(tmp_path)])
    (issue,) = json.loads(result.stdout)
    check_issue(issue)
    assert issue["location"] == {"path": str(tmp_path / "Dockerfile"), "lines": {"begin": 2}}
    assert issue["severity"] == "minor" and issue["check_name"] == "WF803 pip-cache-kept"
