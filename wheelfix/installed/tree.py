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
import stat
import sysconfig
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wheelfix.containment import ContainmentError, open_folder, open_root, read_under
from wheelfix.errors import UsageError
from wheelfix.formats.headers import parse_headers

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
#: The most bytes read from one METADATA, RECORD or top_level.txt (the biggest RECORD on
#: PyPI, torch's, is under 2 MiB); a bigger one makes its distribution unverifiable.
RECORD_LIMIT = 16 << 20
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
    #: why METADATA or RECORD could not be read (a symlink, not a regular file, over
    #: RECORD_LIMIT, a permission): such a distribution is unverifiable and left alone
    problem: str | None = None

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


#: A folder is opened under its parent's descriptor, never through a link, never blocking.
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def walk_into(
    folder_fd: int, prefix: str, stats: dict[str, os.stat_result], special: list[str]
) -> None:
    """Add the regular files under the open folder ``folder_fd`` (relative path ``prefix``,
    ``""`` or ending in ``/``) to ``stats`` (relative path -> lstat) and everything else to
    ``special``. Nothing is followed through a link: each folder is opened with
    ``O_NOFOLLOW`` under the descriptor of the folder that listed it, so a folder swapped
    for a link while the walk runs cannot lead it outside. ``os.scandir`` gives the type for
    free; one ``lstat`` per file for its size. Open descriptors: one per level of depth.
    Slim's journal folder at the top is skipped. ``folder_fd`` stays open."""

    def listing(fd: int, rel: str) -> list[str]:
        folders = []
        with os.scandir(fd) as entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if rel or entry.name != JOURNAL_DIR:  # slim's journal is not the tree
                            folders.append(entry.name)
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished while listing
                if stat.S_ISREG(st.st_mode):
                    stats[rel + entry.name] = st
                else:
                    special.append(rel + entry.name)
        return folders

    stack = [(prefix, os.dup(folder_fd), listing(folder_fd, prefix))]
    try:
        while stack:
            rel, fd, pending = stack[-1]
            if not pending:
                os.close(fd)
                stack.pop()
                continue
            name = pending.pop()
            try:
                child = os.open(name, _FOLDER_FLAGS, dir_fd=fd)
            except OSError:
                continue  # vanished, unreadable, or swapped for a link since it was listed
            child_rel = f"{rel}{name}/"
            try:
                stack.append((child_rel, child, listing(child, child_rel)))
            except OSError:
                os.close(child)
    finally:
        for _rel, fd, _pending in stack:
            os.close(fd)


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


def _name_and_version(text: str) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` from the header block of METADATA (``None`` when absent)."""
    headers = parse_headers(text)
    name, version = headers.get_all("Name"), headers.get_all("Version")
    return (name[0].strip() if name else None, version[0].strip() if version else None)


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
    """Read-only look at slim's journal folder: ``None`` when there is nothing in it. Nothing
    in it is followed through a link or read beyond RECORD_LIMIT."""
    try:
        root_fd = open_root(root)
    except ContainmentError:
        return None
    try:
        base = open_folder(root_fd, JOURNAL_DIR)
    except (OSError, ContainmentError):
        os.close(root_fd)
        return None
    try:
        with os.scandir(base) as found:
            journals = sorted(e.name for e in found if e.is_dir(follow_symlinks=False))
        if not journals:
            return None
        running = _lock_held(base)
        changes = 0
        for name in journals:
            try:
                data, _st = read_under(base, f"{name}/journal.jsonl", limit=RECORD_LIMIT)
            except (OSError, ContainmentError):
                continue
            changes += sum(1 for line in data.split(b"\n") if line.strip())
    finally:
        os.close(base)
        os.close(root_fd)
    return PendingSlim(tuple(journals), changes, running)


def _lock_held(base: int) -> bool:
    try:
        fd = os.open("lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=base)
    except OSError:
        return False  # no lock file: nobody holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we got
    return False


def read_metadata_file(root: Path | int, rel: str) -> str | None:
    """The text of a small metadata file under ``root`` (a path or an open descriptor), or
    ``None`` when it is missing or unreadable; see :func:`_read_small`."""
    text, _problem = _read_small(root, rel)
    return text


def _read_small(root: Path | int, rel: str) -> tuple[str | None, str | None]:
    """(text, problem) of ``rel`` under ``root``: never a symlink on the way or at the end,
    never a FIFO or device, never more than RECORD_LIMIT bytes. Both are ``None`` when the
    file does not exist."""
    fd = root if isinstance(root, int) else open_root(root)
    try:
        data, _st = read_under(fd, rel, limit=RECORD_LIMIT)
    except FileNotFoundError:
        return None, None
    except ContainmentError as exc:
        return None, f"{rel}: {exc.reason}"
    except OSError as exc:
        return None, f"{rel}: {exc.strerror or exc}"
    finally:
        if not isinstance(root, int):
            os.close(fd)
    return data.decode("utf-8", errors="replace"), None


def read_distributions(root: Path) -> tuple[Distribution, ...]:
    """Every ``*.dist-info`` folder directly under ``root`` (not symlinked), sorted. Its
    METADATA and RECORD are read through descriptors (containment.py); one that cannot be
    read safely makes that distribution unverifiable, with the reason in ``problem``."""
    dists = []
    root_fd = open_root(root)
    try:
        for entry in sorted(root.iterdir()):
            if not entry.name.endswith(".dist-info") or not entry.is_dir() or entry.is_symlink():
                continue
            dists.append(_distribution(root_fd, entry.name))
    finally:
        os.close(root_fd)
    return tuple(dists)


def _distribution(root_fd: int, dist_info: str) -> Distribution:
    name, version = dist_info[: -len(".dist-info")].rpartition("-")[::2]
    metadata, problem = _read_small(root_fd, f"{dist_info}/METADATA")
    if metadata is not None:
        found_name, found_version = _name_and_version(metadata)
        name = found_name or name
        version = found_version or version
    record, record_problem = _read_small(root_fd, f"{dist_info}/RECORD")
    problem = problem or record_problem
    if record is None or problem is not None:
        return Distribution(name, version, dist_info, (), False, problem)
    return Distribution(name, version, dist_info, tuple(_parse_record(record)), True)


def require_folder(root: Path) -> None:
    """``UsageError`` unless ``root`` is a folder, saying whether it is missing or a file."""
    if not root.is_dir():
        raise UsageError(f"{root}: {'not a folder' if root.exists() else 'no such folder'}")


def read_environment(root: Path) -> Environment:
    """Read every ``*.dist-info`` under ``root`` and list the files that exist."""
    require_folder(root)
    stats: dict[str, os.stat_result] = {}
    special: list[str] = []
    try:
        root_fd = open_root(root)
    except ContainmentError as exc:
        raise UsageError(f"{root}: {exc.reason}") from None
    try:
        walk_into(root_fd, "", stats, special)
    finally:
        os.close(root_fd)
    dists = read_distributions(root)
    files = {rel: st.st_size for rel, st in stats.items()}
    return Environment(root, dists, files, tuple(sorted(special)), stats)
