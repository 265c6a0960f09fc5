"""A copy of an ELF file modified by patchelf as auditwheel leaves the libraries it grafts,
for the strip and debug-link tests (the files every one of PyPI's repaired wheels holds)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def patchelf_copy(source: Path, target: Path, *args: str) -> bytes:
    """A copy of ``source`` modified by patchelf as auditwheel does it (new RPATH, and a new
    DT_NEEDED so the dynamic string table grows and moves to an appended segment)."""
    if shutil.which("patchelf") is None:
        pytest.skip("patchelf not installed")
    shutil.copyfile(source, target)
    subprocess.run(
        [
            "patchelf",
            *args,
            "--set-rpath",
            "$ORIGIN/../wfelf.libs",
            "--add-needed",
            "libz.so.1",
            str(target),
        ],
        check=True,
        capture_output=True,
    )
    return target.read_bytes()
