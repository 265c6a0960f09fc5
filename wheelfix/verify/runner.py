"""The runner proof: import a wheel inside a bare root filesystem, as the runner stage would.

A minimal Debian root filesystem (``debootstrap --variant=minbase --include=python3``)
plays the runner stage of a multi-stage build: no compiler, no ``-dev`` packages, none of
the builder's libraries. The wheel is unpacked into a private folder inside that root, and
its top-level modules are imported with the root's own ``/usr/bin/python3 -I`` under
``chroot``, with a minimal environment (``PATH`` and ``LANG`` only). This runs the
wheel's code — inside the root, and only when asked.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import posixpath
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from wheelfix.errors import ToolError, UsageError
from wheelfix.formats.wheelfile import WheelArchive
from wheelfix.formats.writer import unpack
from wheelfix.wheels.audit import check_wheel

__all__ = ["IMPORT_PROBE", "RunnerProof", "prove_in_root", "top_level_modules"]

#: The source of :mod:`wheelfix.verify.probe`, for ``python -c``: the interpreters that run
#: it (the runner root's, slim's ``--python``) do not have wheelfix installed.
IMPORT_PROBE = (
    importlib.resources.files("wheelfix.verify").joinpath("probe.py").read_text(encoding="utf-8")
)


@dataclass(frozen=True, slots=True)
class RunnerProof:
    """Which modules imported in the root filesystem, and which failed (with the error)."""

    root: str
    python: str
    modules: dict[str, str | None] = field(default_factory=dict)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.modules) and all(err is None for err in self.modules.values())

    def to_json(self) -> dict[str, object]:
        return {
            "root": self.root,
            "python": self.python,
            "ok": self.ok,
            "modules": dict(self.modules),
            "detail": self.detail,
        }


def top_level_modules(names: list[str], extensions: frozenset[str] = frozenset()) -> list[str]:
    """What to import: top-level packages and modules, and every extension module (paths in
    ``extensions``) by its dotted name — a package that swallows an ImportError (PyYAML
    falls back to pure Python without libyaml) would otherwise hide a missing library."""
    found: set[str] = set()
    for name in names:
        parts = _installed_parts(name)
        if not parts:
            continue
        head = parts[0]
        if head in ("tests", "test") or not head.split(".", 1)[0].isidentifier():
            continue
        if len(parts) > 1 and parts[1] == "__init__.py":
            found.add(head)
        elif len(parts) == 1 and head.endswith(".py"):
            found.add(head[:-3])
        if name in extensions:
            dotted = [*parts[:-1], parts[-1].split(".", 1)[0]]
            if all(p.isidentifier() and p not in ("tests", "test") for p in dotted):
                found.add(".".join(dotted))
    return sorted(found - {"conftest", "setup"})


def _installed_parts(name: str) -> list[str]:
    """A member's path once installed: .data/purelib and .data/platlib land at the root."""
    parts = name.split("/")
    if parts[0].endswith(".data"):
        return parts[2:] if len(parts) > 2 and parts[1] in ("purelib", "platlib") else []
    if parts[0].endswith(".dist-info"):
        return []
    return parts


def _install(archive: WheelArchive, site: Path) -> None:
    """Lay the wheel out as installed: the root plus .data/purelib and .data/platlib."""
    unpack(archive, site)
    for data_dir in site.glob("*.data"):
        for scheme in ("purelib", "platlib"):
            source = data_dir / scheme
            if source.is_dir():
                shutil.copytree(source, site, dirs_exist_ok=True)
        shutil.rmtree(data_dir)


def prove_in_root(wheel: Path, root: Path, *, code: str = "", timeout: int = 300) -> RunnerProof:
    """Import the wheel's modules with ``chroot ROOT /usr/bin/python3``; then run ``code``
    (for example ``assert pkg.answer() == 42``), whose failure fails the proof too."""
    python = root / "usr" / "bin" / "python3"
    if not python.exists():
        raise UsageError(f"{root}: not a root filesystem with /usr/bin/python3")
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    if not Path(chroot).exists():
        raise ToolError("chroot", "not found")
    if os.geteuid() != 0:
        raise ToolError("chroot", "the runner proof needs root (chroot)")
    (root / "tmp").mkdir(exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix="wheelfix-proof-", dir=root / "tmp"))
    try:
        checked = check_wheel(wheel)
        extensions = frozenset(e.path for e in checked.elf_files if e.extension_module)
        with WheelArchive(wheel) as archive:
            modules = top_level_modules([m.name for m in archive.members], extensions)
            _install(archive, private / "site")
        # The same folder, seen from inside the root: /tmp of the root, not of this host.
        inside = posixpath.join("/tmp", private.name, "site")  # noqa: S108
        command = [chroot, str(root), "/usr/bin/python3", "-I", "-B", "-c", IMPORT_PROBE]
        try:
            out = subprocess.run(
                [*command, inside, *modules],
                input=code,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError("chroot", f"could not run python3 in {root}: {exc}") from None
        try:
            document = json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise ToolError(
                "chroot", f"python3 in {root} failed (exit {out.returncode})", stderr=out.stderr
            ) from None
        failed = {m: e for m, e in document["modules"].items() if e}
        detail = "; ".join(f"{m}: {e}" for m, e in failed.items()) or (
            "no importable top-level module" if not modules else "all modules imported"
        )
        return RunnerProof(str(root), document["python"], document["modules"], detail)
    finally:
        shutil.rmtree(private, ignore_errors=True)
