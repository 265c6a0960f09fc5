"""``wheelfix scan`` and ``wheelfix slim`` on a real installed scientific stack.

The stack (numpy, scipy, pandas, scikit-learn, matplotlib and their dependencies, pinned in
``STACKS``) is installed once for CPython 3.11 with ``pip install --target`` into
``.cache/stacks/scientific/`` (built into a ``.partial`` folder, then renamed). Then:

* **floor**: read every file of the tree once (``os.walk`` + ``open().read()``, one thread,
  in this process), best of ``--repeat``;
* **scan**: ``wheelfix scan --format json STACK`` (subprocess), best of ``--repeat``;
* **sizes**: the tree as installed; after ``wheelfix slim --apply`` (default categories) on a
  copy; after serverless-python-requirements' documented ``slim`` rules on another copy
  (``strip`` every ``*.so``; delete ``**/*.py[c|o]``, ``**/__pycache__*``, ``**/*.dist-info*``),
  re-implemented by ``serverless_slim`` below;
* **smoke**: the workload of ``tests/integration/test_slim_stack.py`` (imports, a
  scikit-learn fit, a pandas groupby, a scipy minimisation, a matplotlib PNG,
  ``importlib.metadata.version()`` of every distribution) on each tree, with this machine's
  ``python3`` and ``PYTHONPATH=TREE``, step by step.

    python bench/bench_env.py [--repeat 3] [--markdown bench/RESULTS.md]

The report (Markdown: machine facts and tables) goes to stdout and is appended to
``--markdown PATH``. Needs network access to PyPI the first time and ``strip`` (binutils).
Tests import this file for ``STACKS``, ``ensure_stack`` and the smoke workload.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STACK_CACHE = REPO / ".cache" / "stacks"

STACKS: dict[str, tuple[str, ...]] = {
    # The five the issue names, then every dependency pip resolved for them (cp311,
    # manylinux x86_64), pinned too so the tree is the same on every machine.
    "scientific": (
        "numpy==2.4.6",
        "scipy==1.17.1",
        "pandas==3.1.1",
        "scikit-learn==1.9.1",
        "matplotlib==3.11.2",
        "cloudpickle==3.1.3",
        "contourpy==1.3.3",
        "cycler==0.12.1",
        "fonttools==4.68.0",
        "joblib==1.6.0",
        "kiwisolver==1.5.1",
        "narwhals==2.29.0",
        "packaging==26.4",
        "pillow==13.0.0",
        "pyparsing==3.3.3",
        "python-dateutil==4.0.0",
        "threadpoolctl==3.8.0",
        "tzdata==2026.6",
    ),
    # A different kind of stack: web/IO libraries, most with compiled parts (pydantic-core
    # and cryptography are Rust, lxml bundles libxml2/libxslt, cffi, sqlalchemy's Cython).
    "web": (
        "requests==2.34.2",
        "pydantic==2.14.4",
        "sqlalchemy==2.1.9",
        "lxml==6.1.3",
        "cryptography==50.0.2",
        "annotated-types==0.8.0",
        "certifi==2026.10.19.post1",
        "cffi==2.1.1",
        "charset-normalizer==3.5.3",
        "idna==3.20",
        "pycparser==3.12",
        "pydantic-core==2.50.5",
        "typing-extensions==4.16.0",
        "typing-inspection==0.4.5",
        "urllib3==2.8.0",
    ),
}

#: Platform tags pip may pick: manylinux up to the glibc of the test root filesystem
#: (Debian bookworm, 2.36). pip does not widen ``manylinux_2_X`` tags given with --platform.
_PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(36, 16, -1)),
    "manylinux2014_x86_64",  # pip widens this one to manylinux2010 and manylinux1
)


class StackBuildError(RuntimeError):
    """``pip install --target`` failed; the message has the end of its output."""


def pip_command(target: Path, requirements: tuple[str, ...], python: str) -> list[str]:
    """The pip command that installs a stack for CPython 3.11 (binaries only, no .pyc)."""
    platforms = [arg for tag in _PLATFORMS for arg in ("--platform", tag)]
    return [
        python, "-m", "pip", "install", "--target", str(target), "--only-binary=:all:",
        "--no-compile", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
        *platforms, "--disable-pip-version-check", "--no-input", "--quiet", *requirements,
    ]  # fmt: skip


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_stack(
    name: str,
    *,
    cache: Path = STACK_CACHE,
    python: str = sys.executable,
    log: Callable[[str], None] | None = None,
) -> Path:
    """``cache/NAME``, installed from ``STACKS[NAME]`` unless already there with these pins.

    Built into ``NAME.partial`` and renamed, under a lock, so an interrupted or concurrent
    run never leaves (or sees) a half tree. ``NAME.pins`` next to it records the pins.
    """
    requirements = STACKS[name]
    target = cache / name
    stamp = cache / f"{name}.pins"
    pins = "".join(f"{r}\n" for r in requirements)
    with _locked(cache / f"{name}.lock"):
        if target.is_dir() and stamp.is_file() and stamp.read_text() == pins:
            return target
        partial = cache / f"{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        if log is not None:
            log(f"installing the {name} stack into {target} ({len(requirements)} pins)")
        out = subprocess.run(
            pip_command(partial, requirements, python),
            capture_output=True, text=True, check=False,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )  # fmt: skip
        if out.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise StackBuildError(
                f"pip install --target for the {name} stack failed (exit {out.returncode}):\n"
                f"{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
            )
        stamp.unlink(missing_ok=True)
        if target.exists():  # built with other pins
            old = cache / f"{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            shutil.rmtree(old)
        partial.rename(target)
        stamp.write_text(pins)
    return target
