"""The auditwheel command line: in a forked child when safe, else a subprocess."""

from __future__ import annotations

import os
import signal
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


_BUILDER = "demo-1.0-cp311-cp311-linux_x86_64.whl"


def _gone(pid: int) -> bool:
    """Whether ``pid`` is no longer a child of this process (exited and reaped)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_a_builder_wheel_gets_a_child_waiting_that_runs_the_next_command() -> None:
    with auditwheel.standing_by([f"/some/dist/{_BUILDER}"]):
        waiting = auditwheel._Standby.waiting
        assert waiting is not None
        pid = waiting.pid
        out = auditwheel._run_forked(["--version"], tool_env())
        assert auditwheel._Standby.waiting is None  # used once, by that command
    assert out is not None
    assert out.returncode == 0
    assert out.stdout.startswith("auditwheel ")
    assert _gone(pid)


def test_the_waiting_child_sees_only_the_environment_it_is_given() -> None:
    with auditwheel.standing_by([_BUILDER]):
        assert auditwheel._Standby.waiting is not None
        out = auditwheel._run_forked(["no-such-command"], {"PATH": "/nonexistent"})
    assert out is not None
    assert out.returncode == 2  # argparse: invalid choice
    assert "invalid choice" in out.stderr


def _kill(waiting: auditwheel._Standby) -> None:
    """Kill and reap the waiting child here, as if it had died on its own."""
    os.kill(waiting.pid, signal.SIGKILL)
    os.waitpid(waiting.pid, 0)
    waiting.pid = 0  # reaped here


def test_an_unused_child_is_stopped_and_reaped() -> None:
    with auditwheel.standing_by([_BUILDER]):
        waiting = auditwheel._Standby.waiting
        assert waiting is not None
        pid = waiting.pid
    assert auditwheel._Standby.waiting is None
    assert _gone(pid)


def test_a_child_that_died_waiting_falls_back_to_a_fresh_fork() -> None:
    with auditwheel.standing_by([_BUILDER]):
        waiting = auditwheel._Standby.waiting
        assert waiting is not None
        _kill(waiting)
        out = auditwheel._run_forked(["--version"], tool_env())
    assert out is not None
    assert out.returncode == 0
    assert out.stdout.startswith("auditwheel ")


@pytest.mark.parametrize(
    "name",
    [
        "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
        "demo-1.0-py3-none-any.whl",
        "demo-1.0-cp311-cp311-macosx_11_0_arm64.whl",
    ],
)
def test_no_child_waits_for_wheels_that_may_not_need_auditwheel(name: str) -> None:
    with auditwheel.standing_by([name]):
        assert auditwheel._Standby.waiting is None


def test_no_child_waits_for_an_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELFIX_AUDITWHEEL", "auditwheel")
    with auditwheel.standing_by([_BUILDER]):
        assert auditwheel._Standby.waiting is None


def test_no_child_waits_while_other_threads_run() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with auditwheel.standing_by([_BUILDER]):
            assert auditwheel._Standby.waiting is None
    finally:
        stop.set()
        thread.join()


def test_nested_calls_keep_the_one_child() -> None:
    with auditwheel.standing_by([_BUILDER]):
        outer = auditwheel._Standby.waiting
        assert outer is not None
        with auditwheel.standing_by([_BUILDER]):
            assert auditwheel._Standby.waiting is outer
        assert auditwheel._Standby.waiting is outer  # the inner one did not stop it


def test_while_waiting_runs_once_in_this_process_after_the_command_is_sent() -> None:
    calls: list[int] = []

    def warm() -> None:
        calls.append(os.getpid())
        raise RuntimeError("an optimisation that fails changes nothing")

    with auditwheel.standing_by([_BUILDER], while_waiting=warm):
        assert calls == []  # not before the command line is sent
        out = auditwheel._run_forked(["--version"], tool_env())
    assert calls == [os.getpid()]
    assert out is not None
    assert out.returncode == 0
    assert out.stdout.startswith("auditwheel ")


def test_the_waiting_child_reports_the_version_find_uses() -> None:
    from importlib import metadata

    installed = metadata.version("auditwheel")
    with auditwheel.standing_by([_BUILDER]):
        waiting = auditwheel._Standby.waiting
        assert waiting is not None
        assert waiting.version() == installed
        found = Auditwheel.find()
    assert found.own
    assert ".".join(map(str, found.version)) == ".".join(installed.split(".")[:2])


def test_find_falls_back_to_the_metadata_when_the_child_reports_no_version() -> None:
    from importlib import metadata

    with auditwheel.standing_by([_BUILDER]):
        waiting = auditwheel._Standby.waiting
        assert waiting is not None
        _kill(waiting)
        os.close(waiting.ready)  # whatever it wrote is never read: as if it sent nothing
        waiting.ready = -1
        assert waiting.version() is None
        found = Auditwheel.find()
    assert found.own
    assert found.version == tuple(int(x) for x in metadata.version("auditwheel").split(".")[:2])


def test_nothing_is_submitted_without_a_waiting_child(tmp_path: Path) -> None:
    assert not auditwheel.standby_waiting()
    assert auditwheel.submit_repair(tmp_path / _BUILDER, tmp_path, plat="auto") is None


def test_a_submitted_repair_runs_while_this_process_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / _BUILDER
    bad.write_bytes(b"not a zip")
    with auditwheel.standing_by([_BUILDER]):
        assert auditwheel.standby_waiting()
        submitted = auditwheel.submit_repair(bad, tmp_path, plat="auto")
        assert submitted is not None
        pid = submitted.standby.pid
        assert not auditwheel.standby_waiting()  # claimed: one command line per child
        found = Auditwheel.find(submitted)  # the version comes from that child
        assert found.own
        with pytest.raises(ToolError, match="repair failed") as failed:
            found.repair(bad, tmp_path, plat="auto", submitted=submitted)
    assert failed.value.stderr  # auditwheel's own words, from that child
    assert submitted.standby.pid == 0  # its outcome was taken: reaped
    assert _gone(pid)


def test_a_cancelled_submission_is_killed_and_reaped(tmp_path: Path) -> None:
    with auditwheel.standing_by([_BUILDER]):
        submitted = auditwheel.submit_repair(tmp_path / _BUILDER, tmp_path, plat="auto")
        assert submitted is not None
        pid = submitted.standby.pid
        submitted.cancel()
        submitted.cancel()  # idempotent
        assert _gone(pid)
        assert submitted.wait() is None  # nothing to take any more


def test_a_submission_for_another_command_line_is_cancelled(tmp_path: Path) -> None:
    """The command asked for then runs in a fresh child; the submitted one is killed."""
    other = tmp_path / "other"
    other.mkdir()
    bad = tmp_path / _BUILDER
    bad.write_bytes(b"not a zip")
    with auditwheel.standing_by([_BUILDER]):
        submitted = auditwheel.submit_repair(bad, other, plat="manylinux_2_17_x86_64")
        assert submitted is not None
        pid = submitted.standby.pid
        with pytest.raises(ToolError, match="repair failed"):
            Auditwheel.find(submitted).repair(bad, tmp_path, plat="auto", submitted=submitted)
    assert _gone(pid)
