"""A read-only view of an installed environment: distributions from ``*.dist-info/RECORD``.

The filesystem is the truth for what exists; RECORD says who owns what and what it looked
like at install time. Only regular files are ever read (``lstat`` first): symlinks, FIFOs
and devices are listed apart and never followed or opened. RECORD rows that resolve
outside the environment's root (``../../bin/x`` is normal for scripts) are kept as such and
never touched.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import posixpath
import re
import stat
import sysconfig
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wheelfix.errors import UsageError

__all__ = [
    "NO_DISTRIBUTIONS",
    "Distribution",
    "Environment",
    "PendingSlim",
    "RecordRow",
    "default_site_packages",
    "pending_slim",
    "read_environment",
]

JOURNAL_DIR = ".wheelfix-slim"
#: Said when a folder has no distribution at all: scan and slim were probably pointed at the
#: wrong folder (a virtual environment's root instead of its site-packages).
NO_DISTRIBUTIONS = (
    "no *.dist-info folder here: is this the site-packages folder? (in a virtual "
    "environment: VENV/lib/pythonX.Y/site-packages)"
)


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One RECORD row. ``path`` is relative to the root, normalised; ``inside`` is False
    for rows that climb out of the root (console scripts, headers)."""

    path: str
    algorithm: str
    digest: str
    size: int | None
    inside: bool


@dataclass(frozen=True, slots=True)
class Distribution:
    name: str
    version: str
    dist_info: str
    rows: tuple[RecordRow, ...]
    has_record: bool

    def owned(self) -> Iterator[str]:
        for row in self.rows:
            if row.inside:
                yield row.path


@dataclass(frozen=True, slots=True)
class Environment:
    root: Path
    distributions: tuple[Distribution, ...]
    files: dict[str, int]  # regular files under root (relative path -> size)
    special: tuple[str, ...]  # symlinks, FIFOs, devices: listed, never opened
    #: the ``lstat`` of each regular file, taken while listing (same keys as ``files``)
    stats: dict[str, os.stat_result] = field(default_factory=dict, repr=False, compare=False)

    def owner_of(self) -> dict[str, Distribution]:
        owners: dict[str, Distribution] = {}
        for dist in self.distributions:
            for path in dist.owned():
                owners.setdefault(path, dist)
        return owners


def default_site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def walk_into(
    folder: str, prefix: str, stats: dict[str, os.stat_result], special: list[str]
) -> None:
    """Add the regular files under ``folder`` (relative path ``prefix``, ``""`` or ending in
    ``/``) to ``stats`` (relative path -> lstat) and everything else to ``special``, without
    following links. ``os.scandir`` gives the type for free; one ``lstat`` per file for its
    size. Slim's journal folder at the top is skipped."""
    pending = [(prefix, folder)]
    while pending:
        prefix, folder = pending.pop()
        try:
            entries = os.scandir(folder)
        except OSError:
            continue
        with entries:
            for entry in entries:
                rel = prefix + entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if rel != JOURNAL_DIR:  # slim's own journal is not part of the tree
                            pending.append((rel + "/", entry.path))
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished while listing
                if stat.S_ISREG(st.st_mode):
                    stats[rel] = st
                else:
                    special.append(rel)


def _parse_record(text: str) -> list[RecordRow]:
    """RECORD rows. Without quotes or carriage returns, splitting lines at ``\\n`` and fields
    at ``,`` is exactly what the csv module does, several times faster; any other RECORD
    goes through csv."""
    lines: Iterable[list[str]]
    if '"' in text or "\r" in text:
        lines = csv.reader(io.StringIO(text, newline=""))
    else:
        lines = (line.split(",") for line in text.split("\n"))
    rows = []
    for fields in lines:
        if len(fields) != 3 or not fields[0]:
            continue
        raw, hash_field, size = fields
        norm = raw.replace("\\", "/")
        if "/." in norm or norm.startswith(".") or "//" in norm or norm.endswith("/"):
            # only then can normpath change anything
            norm = posixpath.normpath(norm)
        inside = not (norm.startswith(("../", "/")) or norm == "..")
        algorithm, _, digest = hash_field.partition("=")
        rows.append(RecordRow(norm, algorithm, digest, _size(size), inside))
    return rows


def _size(text: str) -> int | None:
    """A RECORD size: ASCII digits only (``"²".isdigit()`` is true, ``int("²")`` fails)."""
    return int(text) if text.isascii() and text.isdigit() else None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _name_and_version(text: str) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` from the header block of METADATA, read as an RFC 822 header
    block like ``email.parser`` does: lines end at CR/LF only, and a line starting with a
    space or tab continues the previous header (Name and Version are never folded)."""
    name = version = None
    for line in _LINE_BREAK.split(text):
        if not line:
            break  # the body starts
        if line[0] in " \t":
            continue  # a folded continuation of some other header
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "name" and name is None:
            name = value.strip()
        elif key == "version" and version is None:
            version = value.strip()
    return name, version


@dataclass(frozen=True, slots=True)
class PendingSlim:
    """What ``.wheelfix-slim/`` says: journals a slim left, and whether one runs now."""

    journals: tuple[str, ...]
    changes: int
    running: bool

    def describe(self) -> str:
        if self.running:
            return "a wheelfix slim is running on this folder right now"
        return (
            f"an interrupted wheelfix slim left {self.changes} journaled change"
            f"{'s' if self.changes != 1 else ''} in {JOURNAL_DIR}/{self.journals[0]}"
            + (f" (and {len(self.journals) - 1} more journals)" if len(self.journals) > 1 else "")
            + ": what it removed or changed is in that journal's backup"
        )


def pending_slim(root: Path) -> PendingSlim | None:
    """Read-only look at slim's journal folder: ``None`` when there is nothing in it."""
    base = root / JOURNAL_DIR
    try:
        journals = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return None
    if not journals:
        return None
    running = False
    try:
        fd = os.open(base / "lock", os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        pass  # no lock file: nobody holds it
    else:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            running = True
        finally:
            os.close(fd)  # closing releases a lock we got
    changes = 0
    for name in journals:
        try:
            text = (base / name / "journal.jsonl").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        changes += sum(1 for line in text.splitlines() if line.strip())
    return PendingSlim(tuple(journals), changes, running)


def read_distributions(root: Path) -> tuple[Distribution, ...]:
    """Every ``*.dist-info`` folder directly under ``root`` (not symlinked), sorted."""
    dists = []
    for entry in sorted(root.iterdir()):
        if not entry.name.endswith(".dist-info") or not entry.is_dir() or entry.is_symlink():
            continue
        metadata = entry / "METADATA"
        name, version = entry.name[: -len(".dist-info")].rpartition("-")[::2]
        if metadata.is_file():
            found_name, found_version = _name_and_version(
                metadata.read_text(encoding="utf-8", errors="replace")
            )
            name = found_name or name
            version = found_version or version
        record = entry / "RECORD"
        has_record = record.is_file() and not record.is_symlink()
        rows = _parse_record(record.read_text(encoding="utf-8", errors="replace")) if has_record \
            else []  # fmt: skip
        dists.append(Distribution(name, version, entry.name, tuple(rows), has_record))
    return tuple(dists)


def require_folder(root: Path) -> None:
    """``UsageError`` unless ``root`` is a folder, saying whether it is missing or a file."""
    if not root.is_dir():
        raise UsageError(f"{root}: {'not a folder' if root.exists() else 'no such folder'}")


def read_environment(root: Path) -> Environment:
    """Read every ``*.dist-info`` under ``root`` and list the files that exist."""
    require_folder(root)
    stats: dict[str, os.stat_result] = {}
    special: list[str] = []
    walk_into(os.fspath(root), "", stats, special)
    dists = read_distributions(root)
    files = {rel: st.st_size for rel, st in stats.items()}
    return Environment(root, dists, files, tuple(sorted(special)), stats)
