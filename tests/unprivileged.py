"""Run a function as an unprivileged user, for the tests of permission errors.

The suite runs as root in CI, and root reads a file whatever its mode, so a test of "permission
denied" would prove nothing there. ``as_nobody`` forks, drops to ``nobody``/``nogroup`` in the
child (groups cleared), runs the function with what this process has already imported, and
sends the result back pickled. When the tests do not run as root, the function simply runs here.

The child imports nothing it can avoid: the interpreter may live in a folder ``nobody`` cannot
read (``/root/.pyenv`` on the CI machines), so what the readers load lazily (zipfile's cp437
codec for names without the UTF-8 flag) is loaded here before the fork.
"""

from __future__ import annotations

import codecs
import os
import pickle
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

NOBODY = 65534


def as_nobody(work: Callable[[], T]) -> T:
    """``work()`` as user ``nobody`` (its result must be picklable; an exception is raised
    here as ``RuntimeError`` with the child's description of it)."""
    if os.geteuid() != 0:
        return work()
    codecs.lookup("cp437")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its result is what the tests check
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            try:
                payload = pickle.dumps(("ok", work()))
            except Exception as exc:  # noqa: BLE001 - sent back to the test
                payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        raw = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not raw:
        raise RuntimeError(f"the unprivileged child failed (wait status {status})")
    kind, value = pickle.loads(raw)  # noqa: S301 - our own child
    if kind == "error":
        raise RuntimeError(value)
    return value  # type: ignore[no-any-return]


@contextmanager
def shared_folder() -> Iterator[Path]:
    """A temporary folder ``nobody`` can enter (pytest's ``tmp_path`` is private to root)."""
    with tempfile.TemporaryDirectory(prefix="wheelfix-unprivileged-") as name:
        folder = Path(name)
        folder.chmod(0o755)
        yield folder
