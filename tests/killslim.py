"""``wheelfix slim --apply`` in a subprocess that dies like ``kill -9`` after N changes.

The fault is injected from outside the product: the child replaces slim's per-change step
with one that calls the real step and then ``os._exit(137)`` (no cleanup runs, as with
``SIGKILL``) once N changes are made. Everything else is the real CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import wheelfix

_CHILD = """
import os, runpy, sys
import wheelfix.installed.slim as slim

after = int(sys.argv[1])
real = slim._apply_one
made = [0]

def dying(*args, **kwargs):
    real(*args, **kwargs)
    made[0] += 1
    if made[0] == after:
        os._exit(137)

slim._apply_one = dying
sys.argv = ["wheelfix", *sys.argv[2:]]
runpy.run_module("wheelfix", run_name="__main__")
"""


def killed_slim(
    root: Path,
    after: int,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``wheelfix slim --apply [args] root`` and kill it right after its ``after``-th
    change (exit status 137). The child imports the same wheelfix as this process, so the
    journal it leaves is one this process's ``recover`` trusts (same code, same key)."""
    child_env = dict(os.environ if env is None else env)
    here = str(Path(wheelfix.__file__).resolve().parents[1])
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (here, child_env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(after), "slim", "--apply", *args, str(root)],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=cwd,
        check=False,
        timeout=timeout,
    )
