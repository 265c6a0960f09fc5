"""The auditwheel command line: in a forked child when safe, else a subprocess."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from wheelfix.errors import ToolError
from wheelfix.wheels import auditwheel
from wheelfix.wheels.auditwheel import Auditwheel, tool_env


def test_this_interpreters_auditwheel_may_run_forked() -> None:
    found = Auditwheel.find()
    assert found.own
    assert found.version >= (6, 8)


def test_an_override_always_runs_as_a_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setenv("WHEELFIX_AUDITWHEEL", f"{sys.executable} -m auditwheel")
    assert not Auditwheel.find().own


def test_forked_run_is_the_command_line() -> None:
    out = auditwheel._run_forked(["--version"], tool_env())
    assert out is not None
    assert out.returncode == 0
    assert out.stdout.startswith("auditwheel ")


def test_forked_run_reports_failures_like_the_command_line(tmp_path: Path) -> None:
    args = ["repair", "-w", str(tmp_path), str(tmp_path / "missing-1.0-py3-none-any.whl")]
    out = auditwheel._run_forked(args, tool_env())
    assert out is not None
    assert out.returncode != 0
    assert "missing-1.0-py3-none-any.whl" in out.stderr


def test_forked_run_sees_only_the_environment_it_is_given() -> None:
    # A child that prints its environment the way auditwheel would see it: argparse's
    # version string names the install location, so use the unknown-command path instead.
    out = auditwheel._run_forked(["no-such-command"], {"PATH": "/nonexistent"})
    assert out is not None
    assert out.returncode == 2  # argparse: invalid choice
    assert "invalid choice" in out.stderr


def test_with_other_threads_it_falls_back_to_the_subprocess() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert auditwheel._run_forked(["--version"], tool_env()) is None
    finally:
        stop.set()
        thread.join()


def test_repair_failure_is_a_tool_error(tmp_path: Path) -> None:
    bad = tmp_path / "demo-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(ToolError, match="repair failed"):
        Auditwheel.find().repair(bad, out_dir, plat="manylinux_2_17_x86_64")
