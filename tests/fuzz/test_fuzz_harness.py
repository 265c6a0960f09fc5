"""The harness itself: each outcome is recognised, mutants are reproducible, replay works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from fuzzharness import make_mutant, make_sentinel, run_one
from fuzztargets import TARGETS, Mutant, build_readers

import wheelfix

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _raise_key_error(_path: Path, _out: Path) -> str | None:
    raise KeyError("x")


def _refuse(_path: Path, _out: Path) -> str | None:
    raise wheelfix.UsageError("no")


def _report_unreadable(_path: Path, _out: Path) -> str | None:
    return "unreadable"


def _sleep(_path: Path, _out: Path) -> str | None:
    time.sleep(30)
    return None


def _write_in_cwd(_path: Path, _out: Path) -> str | None:
    Path("dropped").write_bytes(b"x")
    return None


def _change_input(path: Path, _out: Path) -> str | None:
    path.write_bytes(b"changed")
    return None


def _write_output(path: Path, out: Path) -> str | None:
    (out / path.name).write_bytes(b"a result")
    return None


def _segfault(_path: Path, _out: Path) -> str | None:
    os.kill(os.getpid(), signal.SIGSEGV)
    return None


def _allocate(_path: Path, _out: Path) -> str | None:
    return str(len(bytearray(64 << 30)))


@pytest.mark.parametrize(
    ("target", "outcome", "detail"),
    [
        (_raise_key_error, "crash", "KeyError"),
        (_refuse, "refused", "UsageError: no"),
        (_report_unreadable, "refused", "unreadable"),
        (_sleep, "hang", "no answer within 1 s"),
        (_write_in_cwd, "escape", "sentinel/dropped"),
        (_change_input, "escape", "work/in/input"),
        (_write_output, "ok", ""),
        (_segfault, "crash", f"killed by signal {signal.SIGSEGV}"),
        (_allocate, "crash", "MemoryError"),
    ],
)
def test_outcomes(
    target: Callable[[Path, Path], str | None],
    outcome: str,
    detail: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(TARGETS, "probe", target)
    make_sentinel(tmp_path)
    result = run_one("probe", Mutant({"input": b"data"}, "input", "probe"), tmp_path, guard=1)
    assert result.outcome == outcome
    assert detail in result.detail


@pytest.mark.parametrize("name", ["wheel", "elf", "image", "dockerfile", "tree"])
def test_mutants_depend_only_on_seed_reader_and_index(
    name: str, elf_fixtures: Mapping[str, Path], sample_wheels_dir: Path
) -> None:
    readers = build_readers(elf_fixtures, sample_wheels_dir, REPO / "tests" / "image_contexts")
    reader = readers[name]
    first = [make_mutant(reader, 7, i) for i in range(20)]
    assert [make_mutant(reader, 7, i) for i in range(20)] == first
    assert [make_mutant(reader, 8, i) for i in range(20)] != first


def test_replay_runs_a_saved_mutant(tmp_path: Path) -> None:
    saved = HERE / "corpus" / "strip-alignment-2-63.json"
    out = subprocess.run(
        [sys.executable, str(HERE / "replay.py"), str(saved)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("strip: section 26 sh_addralign")
    assert out.stdout.rstrip().endswith("ok")
