"""The options several commands share, driven through a tiny click command with CliRunner.

Precedence: ``[tool.wheelfix]`` in the nearest pyproject.toml, then the command line;
``--select``/``--ignore`` split on commas; an unknown code is a usage error before any work.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from wheelfix.cli.options import Gate, gate_options, output_format, quiet_option, settings
from wheelfix.config import Config
from wheelfix.errors import UsageError
from wheelfix.findings import Check


@click.command()
@output_format("How to report.")
@quiet_option
@gate_options
@click.option("--target")
def tiny(fmt: str, quiet: bool, gate: Gate, target: str | None) -> None:
    """Prints what the shared options resolved to, as JSON."""
    config = gate.settings(target=target)
    click.echo(
        json.dumps(
            {
                "fmt": fmt,
                "quiet": quiet,
                "gate": [gate.fail_on, list(gate.select), list(gate.ignore), gate.no_config],
                "fail_on": config.fail_on,
                "select": list(config.select),
                "ignore": list(config.ignore),
                "target": config.target,
                "checks": len(config.selection().checks),
            }
        )
    )


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(tiny, list(args))


def out(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.output
    loaded: dict[str, object] = json.loads(result.output)
    return loaded


def pyproject(tmp_path: Path, body: str) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.wheelfix]\n" + body, encoding="utf-8")


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got = out(run(tmp_path, monkeypatch))
    assert got["fmt"] == "text"
    assert got["quiet"] is False
    assert got["gate"] == [None, [], [], False]
    assert (got["fail_on"], got["select"], got["ignore"]) == (None, [], [])
    assert got["checks"] == len(Check)


def test_format_and_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got = out(run(tmp_path, monkeypatch, "--format", "sarif", "-q"))
    assert (got["fmt"], got["quiet"]) == ("sarif", True)


def test_unknown_format_is_a_click_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(tmp_path, monkeypatch, "--format", "xml")
    assert result.exit_code == 2
    assert "xml" in result.output


def test_fail_on_is_a_closed_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert out(run(tmp_path, monkeypatch, "--fail-on", "never"))["fail_on"] == "never"
    result = run(tmp_path, monkeypatch, "--fail-on", "fatal")
    assert result.exit_code == 2
    assert "fatal" in result.output


def test_comma_separated_and_repeated_entries_are_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = out(
        run(tmp_path, monkeypatch, "--select", "WF2, WF301,", "--select", "WF4", "--ignore", "WF2")
    )
    assert got["gate"] == [None, ["WF2, WF301,", "WF4"], ["WF2"], False]  # as given
    assert got["select"] == ["WF2", "WF301", "WF4"]
    assert got["ignore"] == ["WF2"]
    expected = {c for c in Check if c.code.startswith(("WF301", "WF4"))}
    assert got["checks"] == len(expected)


def test_file_values_apply_when_the_command_line_is_silent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject(tmp_path, 'fail-on = "warning"\nignore = ["WF4"]\ntarget = "manylinux_2_28_x86_64"\n')
    got = out(run(tmp_path, monkeypatch))
    assert (got["fail_on"], got["ignore"], got["target"]) == (
        "warning",
        ["WF4"],
        "manylinux_2_28_x86_64",
    )


def test_command_line_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pyproject(tmp_path, 'fail-on = "warning"\nignore = ["WF4"]\ntarget = "manylinux_2_28_x86_64"\n')
    got = out(
        run(
            tmp_path,
            monkeypatch,
            "--fail-on",
            "info",
            "--ignore",
            "WF3",
            "--target",
            "musllinux_1_2_x86_64",
        )
    )
    assert (got["fail_on"], got["ignore"], got["target"]) == (
        "info",
        ["WF3"],
        "musllinux_1_2_x86_64",
    )


def test_no_config_ignores_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pyproject(tmp_path, 'fail-on = "warning"\nignore = ["WF4"]\n')
    got = out(run(tmp_path, monkeypatch, "--no-config"))
    assert (got["fail_on"], got["ignore"]) == (None, [])
    assert got["gate"] == [None, [], [], True]


def test_no_config_also_skips_a_broken_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject(tmp_path, 'colour = "blue"\n')
    assert run(tmp_path, monkeypatch).exit_code != 0
    assert out(run(tmp_path, monkeypatch, "--no-config"))["fail_on"] is None


def test_unknown_code_on_the_command_line_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(tmp_path, monkeypatch, "--select", "WF2,WF999")
    assert isinstance(result.exception, UsageError)
    assert result.exception.exit_code == 2
    assert "WF999" in str(result.exception)
    assert result.output == ""  # refused before the command printed anything


def test_unknown_code_in_the_file_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject(tmp_path, 'ignore = ["no-such-check"]\n')
    result = run(tmp_path, monkeypatch)
    assert isinstance(result.exception, UsageError)
    assert "pyproject.toml" in str(result.exception)
    assert "no-such-check" in str(result.exception)


def test_settings_directly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = settings(True, select=("WF301,WF302",), ignore=(), fail_on=None)
    assert config == Config(select=("WF301", "WF302"))
    with pytest.raises(UsageError):
        settings(True, ignore=("WF0",))


def test_gate_settings_passes_extra_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pyproject(tmp_path, "jobs = 3\n")
    gate = Gate("error", ("debug-info",), (), False)
    config = gate.settings(jobs=None, max_uncompressed=10)
    assert (config.fail_on, config.select, config.jobs, config.max_uncompressed) == (
        "error",
        ("debug-info",),
        3,
        10,
    )
