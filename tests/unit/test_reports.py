"""The report envelope: one JSON header and exit code for all six reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wheelfix import __version__
from wheelfix.cli.app import cli
from wheelfix.containers.dockerfile import DockerfileReport
from wheelfix.findings import Check, Finding, Severity
from wheelfix.installed.slim import SlimResult
from wheelfix.reports import SCHEMA_VERSION, Report
from wheelfix.wheels.repair import RepairReport
from wheelfix.wheels.results import CheckReport


def test_every_report_shares_the_envelope() -> None:
    from wheelfix.containers.image import ImageReport
    from wheelfix.installed.scan import EnvReport

    for kind in (CheckReport, RepairReport, EnvReport, SlimResult, ImageReport, DockerfileReport):
        assert issubclass(kind, Report), kind


def test_envelope_keys_and_gate() -> None:
    warn = Finding(check=Check.PIP_CACHE, message="m", path="Dockerfile:3")
    report = DockerfileReport(path="Dockerfile", stages=1, findings=(warn,))
    document = report.to_json()
    assert list(document)[:2] == ["schema_version", "wheelfix_version"]
    assert list(document)[-1] == "exit_code"
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["wheelfix_version"] == __version__
    assert document["exit_code"] == 0  # a warning under the default gate (error)
    stricter = DockerfileReport(
        path="Dockerfile", stages=1, findings=(warn,), fail_on=Severity.WARNING
    )
    assert stricter.exit_code == 1
    assert list(stricter.all_findings()) == [warn]


def test_cli_select_and_ignore_apply_to_dockerfile(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.12\nRUN pip install numpy\nCOPY . /app\n")
    runner = CliRunner()
    every = runner.invoke(cli, ["dockerfile", "--no-config", "--format", "json", str(dockerfile)])
    codes = {f["code"] for f in json.loads(every.stdout)["findings"]}
    assert {"WF802", "WF803"} <= codes
    only = runner.invoke(
        cli,
        ["dockerfile", "--no-config", "--format", "json", "--select", "WF803", str(dockerfile)],
    )
    assert {f["code"] for f in json.loads(only.stdout)["findings"]} == {"WF803"}
    unknown = runner.invoke(cli, ["dockerfile", "--no-config", "--ignore", "WF9", str(dockerfile)])
    assert unknown.exit_code == 2
    assert "ignore 'WF9' matches no check" in unknown.stderr


def test_config_file_reaches_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wheelfix]\nselect = ["WF0"]\n')
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site"
    site.mkdir()
    result = CliRunner().invoke(cli, ["scan", str(site)])
    assert result.exit_code == 2
    assert "select 'WF0' matches no check" in result.stderr
    assert CliRunner().invoke(cli, ["scan", "--no-config", str(site)]).exit_code == 0
