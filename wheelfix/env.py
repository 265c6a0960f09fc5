"""A read-only view of an installed environment: distributions from ``*.dist-info/RECORD``.

The filesystem is the truth for what exists; RECORD says who owns what and what it looked
like at install time. Only regular files are ever read (``lstat`` first): symlinks, FIFOs
and devices are listed apart and never followed or opened. RECORD rows that resolve
outside the environment's root (``../../bin/x`` is normal for scripts) are kept as such and
never touched.
"""

from __future__ import annotations

import csv
import io
import os
import posixpath
import stat
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from wheelfix.errors import UsageError

__all__ = ["Distribution", "Environment", "RecordRow", "default_site_packages", "read_environment"]

JOURNAL_DIR = ".wheelfix-slim"


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

    def owner_of(self) -> dict[str, Distribution]:
        owners: dict[str, Distribution] = {}
        for dist in self.distributions:
            for path in dist.owned():
                owners.setdefault(path, dist)
        return owners


def default_site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def _walk(root: Path) -> tuple[dict[str, int], list[str]]:
    files: dict[str, int] = {}
    special: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == JOURNAL_DIR or rel_dir.startswith(JOURNAL_DIR + os.sep):
            dirnames[:] = []
            continue
        keep = []
        for d in sorted(dirnames):
            if Path(dirpath, d).is_symlink():
                special.append(posixpath.normpath(posixpath.join(rel_dir, d)))
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            full = Path(dirpath, name)
            rel = posixpath.normpath(posixpath.join(rel_dir.replace(os.sep, "/"), name))
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                files[rel] = st.st_size
            else:
                special.append(rel)
    return files, special


def _parse_record(text: str) -> list[RecordRow]:
    rows = []
    for row in csv.reader(io.StringIO(text, newline="")):
        if len(row) != 3 or not row[0]:
            continue
        raw, hash_field, size = row
        norm = posixpath.normpath(raw.replace("\\", "/"))
        inside = not (norm.startswith(("../", "/")) or norm == "..")
        algorithm, _, digest = hash_field.partition("=")
        rows.append(
            RecordRow(norm, algorithm, digest, int(size) if size.isdigit() else None, inside)
        )
    return rows


def read_environment(root: Path) -> Environment:
    """Read every ``*.dist-info`` under ``root`` and list the files that exist."""
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder")
    files, special = _walk(root)
    dists = []
    for entry in sorted(root.iterdir()):
        if not entry.name.endswith(".dist-info") or not entry.is_dir() or entry.is_symlink():
            continue
        metadata = entry / "METADATA"
        name, version = entry.name[: -len(".dist-info")].rpartition("-")[::2]
        if metadata.is_file():
            headers = HeaderParser().parsestr(
                metadata.read_text(encoding="utf-8", errors="replace")
            )
            name = headers.get("Name", name) or name
            version = headers.get("Version", version) or version
        record = entry / "RECORD"
        has_record = record.is_file() and not record.is_symlink()
        rows = _parse_record(record.read_text(encoding="utf-8", errors="replace")) if has_record \
            else []  # fmt: skip
        dists.append(Distribution(name, version, entry.name, tuple(rows), has_record))
    return Environment(root, tuple(dists), files, tuple(sorted(special)))
