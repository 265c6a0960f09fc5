"""repair refuses what it would launder: a wheel whose RECORD does not vouch for its files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from wheelmaker import wheel_entries, wheel_filename, write_zip

from wheelfix.cli.app import cli
from wheelfix.wheels.repair import repair

FILES = {"demo/__init__.py": b"VALUE = 1\n", "demo/util.py": b"def f():\n    return 1\n"}


def tampered(folder: Path, how: str) -> Path:
    """A pure wheel built with a correct RECORD, then changed the way an attacker would."""
    entries = wheel_entries(FILES)
    if how == "changed-module":  # WF503 (and WF504: the size differs too)
        entries = [
            (n, b"import os; os.system('id')\n" if n == "demo/util.py" else d) for n, d in entries
        ]
    elif how == "unlisted-file":  # WF505
        entries.insert(0, ("demo/extra.py", b"import os\n"))
    return write_zip(folder / wheel_filename("demo", "1.0", "py3-none-any"), entries)


@pytest.mark.parametrize(
    ("how", "codes"),
    [("changed-module", {"WF503", "WF504"}), ("unlisted-file", {"WF505"})],
)
def test_a_wheel_whose_record_does_not_match_is_not_repaired(
    tmp_path: Path, how: str, codes: set[str]
) -> None:
    wheel = tampered(tmp_path, how)
    out = tmp_path / "out"
    (result,) = repair(wheel, out).results
    assert result.exit_code == 1 and result.output is None
    assert result.error is not None and "RECORD does not match the wheel's files" in result.error
    assert "--allow-record-mismatch" in result.error
    assert {f.code for f in result.remaining} == codes
    assert not list(out.glob("*.whl"))

    cli_result = CliRunner().invoke(
        cli, ["repair", "--format", "json", "-w", str(tmp_path / "cli"), str(wheel)]
    )
    assert cli_result.exit_code == 1
    (document,) = json.loads(cli_result.stdout)["results"]
    assert {f["code"] for f in document["remaining_findings"]} == codes


def test_allow_record_mismatch_repairs_it_with_a_fresh_record(tmp_path: Path) -> None:
    wheel = tampered(tmp_path, "unlisted-file")
    (result,) = repair(wheel, tmp_path / "out", allow_record_mismatch=True).results
    assert result.error is None and result.exit_code == 0
    assert result.output is not None
    with zipfile.ZipFile(result.output) as zf:
        record = zf.read("demo-1.0.dist-info/RECORD").decode()
    assert "demo/extra.py,sha256=" in record

    cli_result = CliRunner().invoke(
        cli, ["repair", "--allow-record-mismatch", "-w", str(tmp_path / "cli"), str(wheel)]
    )
    assert cli_result.exit_code == 0, cli_result.output


def test_a_wheel_with_a_matching_record_is_repaired(tmp_path: Path) -> None:
    wheel = write_zip(
        tmp_path / wheel_filename("demo", "1.0", "py3-none-any"), wheel_entries(FILES)
    )
    (result,) = repair(wheel, tmp_path / "out").results
    assert result.error is None and result.exit_code == 0
