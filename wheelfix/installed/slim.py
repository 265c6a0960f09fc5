"""Slimming an installed environment safely: plan, journal, apply, verify, roll back.

``slim`` plans by category (dry run by default). With ``apply=True``:

1. an interrupted earlier run is rolled back first (its journal says exactly what it did);
2. the top-level modules of every distribution are imported in a subprocess — the baseline —
   and the plan is narrowed by what that loaded (a ``tests`` folder a package imports from
   at start-up is kept whole);
3. every change is journaled *before* it is made, and what it replaces is moved into a
   backup folder inside the root (a rename on the same filesystem: atomic, no copy);
4. each touched distribution's RECORD is rewritten (rows removed, new hashes and sizes);
5. the modules are imported again; a distribution whose modules stopped importing gets all
   its changes restored and is reported;
6. only then are the journal and the backups deleted.

Killed at any point (even ``kill -9``), the next run finds the journal and restores every
recorded change, so nothing is ever lost. ``*.dist-info`` is never removed; bytecode is kept
unless asked for; distributions without RECORD are left alone.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import dataclasses
import fcntl
import fnmatch
import hashlib
import hmac
import io
import json
import os
import posixpath
import secrets
import stat
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wheelfix.categories import (
    Category,
    RuntimeSource,
    classify,
    kept_reasons,
    read_bounded,
    runtime_sources,
    test_root,
)
from wheelfix.containment import (
    ContainmentError,
    link_under,
    lstat_under,
    open_folder,
    open_root,
    read_under,
    relative_parts,
    remove_empty_dirs,
    remove_tree,
    rename_under,
    unlink_under,
    write_under,
)
from wheelfix.errors import UsageError
from wheelfix.findings import Finding
from wheelfix.formats.debuglink import strip_keeping_debug
from wheelfix.formats.elf import CorruptElfError
from wheelfix.formats.strip import DEFAULT_LEVEL, StripLevel, strip_elf
from wheelfix.installed.reader import DEDUPE_MIN_SIZE, FileFacts, read_tree
from wheelfix.installed.tree import (
    JOURNAL_DIR,
    NO_DISTRIBUTIONS,
    RECORD_LIMIT,
    Distribution,
    Environment,
    default_site_packages,
    pending_slim,
    read_metadata_file,
    require_folder,
)
from wheelfix.reports import Report
from wheelfix.verify.runner import IMPORT_PROBE

__all__ = ["SLIM_CATEGORIES", "JournalError", "SlimAction", "SlimResult", "recover", "slim"]

#: Categories slim knows; the default set leaves bytecode (start-up time) alone.
SLIM_CATEGORIES = (
    "strip",
    "tests",
    "sources",
    "build-leftovers",
    "caches",
    "dedupe",
    "source-maps",
    "static-archives",
    "bytecode",
)
DEFAULT_CATEGORIES = ("strip", "tests", "sources", "build-leftovers", "caches", "dedupe")
_JOURNAL = "journal.jsonl"


@dataclass(frozen=True, slots=True)
class SlimAction:
    """One planned change. ``kind`` is remove, strip or link (``target`` for link)."""

    kind: str
    path: str
    category: str
    saved: int
    dist: str
    target: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SlimResult(Report):
    root: str
    applied: bool
    before: int
    after: int
    plan: tuple[SlimAction, ...]
    by_category: dict[str, tuple[int, int]]  # category -> (files, bytes)
    restored: dict[str, str] = field(default_factory=dict)  # dist -> why it was restored
    #: path (a tests folder or a file) -> why the plan spared it (see ``_spare_loaded``)
    kept: dict[str, str] = field(default_factory=dict)
    recovered: str | None = None
    skipped: tuple[str, ...] = ()
    #: dry run only: an interrupted (or running) slim's journal that --apply would meet
    pending: str | None = None
    #: warnings about the request itself (a --keep pattern that matches nothing, ...)
    notes: tuple[str, ...] = ()
    #: path -> why a planned change was refused or failed while applying (left as it was):
    #: a folder on its way became a symlink, the file vanished, a permission, ...
    refused: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.restored or self.refused else 0

    def all_findings(self) -> Iterator[Finding]:
        return iter(())

    def json_body(self) -> dict[str, object]:
        return {
            "root": self.root,
            "applied": self.applied,
            "before": self.before,
            "after": self.after,
            "by_category": {k: {"files": f, "bytes": b} for k, (f, b) in self.by_category.items()},
            "restored": dict(self.restored),
            "kept": dict(self.kept),
            "recovered": self.recovered,
            "pending": self.pending,
            "notes": list(self.notes),
            "skipped": list(self.skipped),
            "refused": dict(self.refused),
        }


# -- planning -------------------------------------------------------------------------------
def parse_slim_categories(values: Iterable[str]) -> tuple[str, ...]:
    chosen: list[str] = []
    for value in values:
        for word in (w.strip().lower() for w in value.split(",")):
            if not word:
                continue
            if word == "default":
                chosen += DEFAULT_CATEGORIES
            elif word == "all":
                chosen += SLIM_CATEGORIES
            elif word in SLIM_CATEGORIES:
                chosen.append(word)
            else:
                raise UsageError(
                    f"unknown slim category {word!r} (choose from {', '.join(SLIM_CATEGORIES)}, "
                    "default, all)"
                )
    return tuple(dict.fromkeys(chosen))


def runtime_kept(env: Environment) -> dict[str, RuntimeSource]:
    """Source path -> why it stays: the sources each distribution's own ``.py`` files name
    (``categories.runtime_sources``), looked up only in distributions that have sources."""
    found: dict[str, RuntimeSource] = {}
    root = os.fspath(env.root)
    for dist in env.distributions:
        files = [p for p in dict.fromkeys(dist.owned()) if p in env.files]
        if not any(classify(p) is Category.SOURCES for p in files):
            continue
        found |= runtime_sources(files, lambda rel: read_bounded(f"{root}/{rel}"))
    return found


def _plan(
    env: Environment,
    facts: dict[str, FileFacts],
    categories: tuple[str, ...],
    keep: tuple[str, ...],
    level: StripLevel,
) -> tuple[list[SlimAction], list[str], dict[str, str]]:
    """The plan, the distributions left alone, and the run-time sources spared (group ->
    why)."""
    owners = env.owner_of()
    skipped = [d.dist_info for d in env.distributions if not d.has_record]
    actions: list[SlimAction] = []
    removed: set[str] = set()
    spared = runtime_kept(env) if Category.SOURCES.value in categories else {}
    kept: dict[str, RuntimeSource] = {}

    def allowed(path: str) -> Distribution | None:
        dist = owners.get(path)
        if dist is None or not dist.has_record or path.startswith(dist.dist_info + "/"):
            return None  # unowned, unverifiable or metadata: never touched
        if any(fnmatch.fnmatch(path, pattern) for pattern in keep):
            return None
        return dist

    for path in sorted(env.files):
        dist = allowed(path)
        if dist is None:
            continue
        category = classify(path)
        if category is Category.SOURCES and path in spared:
            kept[path] = spared[path]
            continue
        if category is not None and category.value in categories:
            actions.append(
                SlimAction("remove", path, category.value, facts[path].size, dist.dist_info)
            )
            removed.add(path)
    if "strip" in categories:
        for path, fact in sorted(facts.items()):
            dist = allowed(path)
            if dist is None or path in removed or fact.elf is None:
                continue
            # Only sections after the mapped image shrink the file; the others are zeroed
            # in place (see strip.py), which saves nothing on disk.
            saved = fact.strip_tail.get(level.value, 0)
            if saved:
                actions.append(SlimAction("strip", path, "strip", saved, dist.dist_info))
    if "dedupe" in categories:
        # Hard links share one inode, so only files with the same content *and* the same
        # mode and owner may become one: an executable linked to a plain copy would lose +x.
        groups: dict[tuple[int, str, tuple[int, int, int]], list[str]] = defaultdict(list)
        for path, fact in facts.items():
            big_enough = fact.size >= DEDUPE_MIN_SIZE and fact.sha256
            if big_enough and path not in removed and allowed(path):
                groups[(fact.size, fact.sha256, fact.mode)].append(path)
        for (size, _digest, _mode), paths in groups.items():
            if len(paths) < 2:
                continue
            first, *rest = sorted(paths)
            first_inode = facts[first].inode
            for path in rest:
                if facts[path].inode == first_inode:
                    continue  # already one file
                dist = owners[path]
                actions.append(SlimAction("link", path, "dedupe", size, dist.dist_info, first))
    return actions, skipped, kept_reasons(kept)


# -- journal ----------------------------------------------------------------------------------
#: Bytes of one journal.jsonl read back; a RECORD slim rewrites (the scanner's cap).
_JOURNAL_LIMIT = 256 << 20
#: The biggest file slim reads whole to strip or re-hash (torch's largest library is 1.5 GB).
_FILE_LIMIT = 8 << 30
_KEY_NAME = "slim-journal.key"
_OPS = frozenset({"remove", "strip", "link", "record"})
#: RECORD hashes slim writes again as they were; any other (md5, sha1, shake_128, a name no
#: hashlib knows) is written as sha256, which every installer reads.
_RECORD_HASHES = frozenset({"sha256", "sha384", "sha512"})


class JournalError(UsageError):
    """A journal slim will not replay (exit 2): wheelfix did not write it here, it was
    changed, it is corrupt, or it names a path outside the root. Nothing was changed."""


def state_dir() -> Path:
    """Where the journal key lives: ``$WHEELFIX_STATE_DIR``, else ``$XDG_STATE_HOME/wheelfix``,
    else ``~/.local/state/wheelfix``: outside any tree slim works on."""
    explicit = os.environ.get("WHEELFIX_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME")
    return (Path(base) if base else Path.home() / ".local" / "state") / "wheelfix"


def journal_key(root: Path, *, create: bool) -> bytes | None:
    """The secret that signs this user's journals (made on first use with ``create``), or
    ``None`` when there is none yet. A key inside ``root`` could have come with a wheel."""
    folder = state_dir()
    if folder.resolve().is_relative_to(root.resolve()):
        raise UsageError(
            f"{folder}: slim's journal key folder is inside {root}, which slim changes; "
            "set WHEELFIX_STATE_DIR to a private folder outside it"
        )
    path = folder / _KEY_NAME
    if create and not os.path.lexists(path):
        _make_key(folder, path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot read slim's journal key: {exc.strerror} (set WHEELFIX_STATE_DIR "
            "to a private folder outside the tree)"
        ) from None
    try:
        st = os.fstat(fd)
        key = os.read(fd, 64) if stat.S_ISREG(st.st_mode) else b""
    finally:
        os.close(fd)
    if len(key) != 32 or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise UsageError(
            f"{path}: slim's journal key must be a 32-byte file owned by this user that no "
            "one else can read; remove it and wheelfix makes a new one"
        )
    return key


def _make_key(folder: Path, path: Path) -> None:
    """Write a fresh key under a temporary name, then link it into place: two runs that
    start at once end up with one complete key."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = folder / f".{_KEY_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, secrets.token_bytes(32))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    except OSError as exc:
        raise UsageError(
            f"{folder}: cannot store slim's journal key: {exc.strerror} (set "
            "WHEELFIX_STATE_DIR to a private, writable folder outside the tree)"
        ) from None


def _mac(key: bytes, journal: str, index: int, op: str, path: str) -> str:
    message = json.dumps([journal, index, op, path]).encode("utf-8", "surrogateescape")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class _Journal:
    """Append-only log of intended changes, fsynced before each change is made. Each line
    carries an HMAC, keyed by a secret kept outside the tree, over the journal's name, the
    line's number and the change: a journal found in a tree is replayed only if this user's
    wheelfix wrote it (see docs/slim.md, Containment)."""

    def __init__(self, root_fd: int, key: bytes) -> None:
        self.key = key
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.name = f"{stamp}-{os.getpid()}-{secrets.token_hex(3)}"
        self.rel = f"{JOURNAL_DIR}/{self.name}"
        self.root_fd = root_fd
        base = open_folder(root_fd, JOURNAL_DIR, create=True)
        try:
            os.mkdir(self.name, 0o700, dir_fd=base)
            self.fd = open_folder(base, self.name)
        finally:
            os.close(base)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        self.log = os.open(_JOURNAL, flags, 0o600, dir_fd=self.fd)
        self.entries: list[tuple[str, str]] = []
        #: changes that could not be put back: the journal is then kept for --recover
        self.stuck: list[str] = []

    def write(self, op: str, path: str) -> None:
        mac = _mac(self.key, self.name, len(self.entries), op, path)
        line = json.dumps({"op": op, "path": path, "mac": mac}) + "\n"
        os.write(self.log, line.encode("utf-8", "surrogateescape"))
        os.fsync(self.log)
        self.entries.append((op, path))

    def close(self) -> None:
        os.close(self.log)
        os.close(self.fd)

    def discard(self) -> None:
        """Remove the journal folder: its changes are committed or restored."""
        self.close()
        remove_tree(self.root_fd, self.rel)


def _restore(root_fd: int, journal_fd: int, entries: Iterable[tuple[str, str]]) -> list[str]:
    """Undo journaled changes, newest first; each step is safe to repeat. Returns what could
    not be put back (path: why); the others are restored all the same."""
    failed = []
    for _op, rel in reversed(list(entries)):
        saved = f"backup/{rel}"
        try:
            if lstat_under(journal_fd, saved) is None:
                continue  # the change never started
            now = lstat_under(root_fd, rel)
            if now is not None and not stat.S_ISDIR(now.st_mode):
                unlink_under(root_fd, rel)
            rename_under(journal_fd, saved, root_fd, rel)
        except (OSError, ContainmentError) as exc:
            failed.append(f"{rel}: {exc}")
    return failed


def _journal_problem(root: Path, name: str, reason: str) -> JournalError:
    where = f"{root}/{JOURNAL_DIR}/{name}"
    return JournalError(
        f"{where}: {reason}; nothing was replayed or changed. wheelfix only replays journals "
        f"it wrote itself (docs/slim.md, Containment): look at {where} (its backup/ holds "
        "what an interrupted run moved aside), then remove that folder and run again"
    )


def _entries(root: Path, base_fd: int, name: str, key: bytes | None) -> list[tuple[str, str]]:
    """The verified entries of journal ``name``; :class:`JournalError` for anything else."""
    try:
        data, _st = read_under(base_fd, f"{name}/{_JOURNAL}", limit=_JOURNAL_LIMIT)
    except FileNotFoundError:
        folder = open_folder(base_fd, name)
        try:
            if not os.listdir(folder):  # noqa: PTH208 - a descriptor
                return []  # killed between making the folder and the journal: nothing done
        finally:
            os.close(folder)
        raise _journal_problem(root, name, f"no {_JOURNAL} beside other files") from None
    except (OSError, ContainmentError) as exc:
        raise _journal_problem(root, name, f"{_JOURNAL} cannot be read ({exc})") from None
    # Only complete lines count: a torn last one announced a change that never started.
    lines = data.split(b"\n")[:-1]
    entries = []
    for index, raw in enumerate(lines):
        fields = _parse_line(raw)
        if fields is None:
            raise _journal_problem(root, name, f"line {index + 1} is not a journal entry")
        op, path, mac = fields
        try:
            relative_parts(path)
        except ContainmentError as exc:
            raise _journal_problem(
                root, name, f"line {index + 1} names a path outside the root: {exc}"
            ) from None
        if key is None:
            raise _journal_problem(root, name, f"no journal key in {state_dir()} to verify it")
        if op not in _OPS or not hmac.compare_digest(mac, _mac(key, name, index, op, path)):
            raise _journal_problem(
                root, name, f"line {index + 1} was not written by this wheelfix (or was changed)"
            )
        entries.append((op, path))
    return entries


def _refusal(root: Path) -> str | None:
    """Why ``--apply``/``--recover`` would refuse the journals under ``root``, or ``None``
    when they would replay them. Read-only: for a dry run to say so beforehand."""
    try:
        root_fd = open_root(root)
    except ContainmentError as exc:
        return str(exc)
    try:
        base = _open_base(root, root_fd, create=False)
        if base is None:
            return None
        try:
            with os.scandir(base) as found:
                names = sorted(e.name for e in found if e.is_dir(follow_symlinks=False))
            key = journal_key(root, create=False)
            for name in names:
                _entries(root, base, name, key)
        finally:
            os.close(base)
    except UsageError as exc:  # JournalError included
        return str(exc)
    finally:
        os.close(root_fd)
    return None


def _parse_line(raw: bytes) -> tuple[str, str, str] | None:
    """(op, path, mac) of one journal line, or ``None`` when it is not shaped like one."""
    try:
        entry = json.loads(raw.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):  # deep nesting: "[[[[..." is not a journal line
        return None
    if not isinstance(entry, dict):
        return None
    fields = (entry.get("op"), entry.get("path"), entry.get("mac"))
    if not all(isinstance(f, str) for f in fields) or not str(fields[2]).isascii():
        return None
    return fields  # type: ignore[return-value]


def _open_base(root: Path, root_fd: int, *, create: bool) -> int | None:
    try:
        return open_folder(root_fd, JOURNAL_DIR, create=create)
    except FileNotFoundError:
        return None
    except ContainmentError:
        raise JournalError(
            f"{root}/{JOURNAL_DIR}: a symlink or not a folder, so not wheelfix's journal "
            "folder; look at it and remove it"
        ) from None


@contextlib.contextmanager
def _exclusive(root: Path) -> Iterator[int]:
    """One slim at a time per root: a second one fails at once instead of interleaving.
    Yields a descriptor for the root that every change goes through."""
    root_fd = open_root(root)
    try:
        base = _open_base(root, root_fd, create=True)
        assert base is not None  # noqa: S101 - created when missing
        held = False
        try:
            _locked(root, base)
            with _held(root, base):
                held = True
                yield root_fd
        finally:
            if held:  # our own lock, and nothing else left: the folder goes
                with contextlib.suppress(OSError):
                    if os.listdir(base) == ["lock"]:  # noqa: PTH208 - a descriptor
                        os.unlink("lock", dir_fd=base)
                        os.rmdir(JOURNAL_DIR, dir_fd=root_fd)
            os.close(base)
    finally:
        os.close(root_fd)


def _locked(root: Path, base: int) -> None:
    """Refuse a ``lock`` that is not a plain file (a wheel can ship one: never opened for
    writing through a link)."""
    try:
        st = os.stat("lock", dir_fd=base, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise JournalError(f"{root}/{JOURNAL_DIR}/lock: not a plain file; look at it and remove it")


@contextlib.contextmanager
def _held(root: Path, base: int) -> Iterator[None]:
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open("lock", flags, 0o600, dir_fd=base)
    except OSError as exc:
        raise JournalError(f"{root}/{JOURNAL_DIR}/lock: {exc.strerror}; remove it") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise JournalError(f"{root}/{JOURNAL_DIR}/lock: not a plain file; remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"{root}: another wheelfix slim is running on it") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def recover(root: str | os.PathLike[str]) -> str | None:
    """Roll back what an interrupted slim left behind. Returns what was done, or ``None``.

    Refuses (UsageError) while another slim holds the root's lock, and (JournalError, exit
    2) a journal this user's wheelfix did not write: nothing is changed then."""
    root = Path(root)
    require_folder(root)
    if not os.path.lexists(root / JOURNAL_DIR):
        return None
    with _exclusive(root) as root_fd:
        return _recover(root, root_fd)


def _recover(root: Path, root_fd: int) -> str | None:
    base = _open_base(root, root_fd, create=False)
    if base is None:
        return None
    try:
        with os.scandir(base) as found:
            names = sorted(e.name for e in found if e.is_dir(follow_symlinks=False))
        if not names:
            return None
        key = journal_key(root, create=False)
        # Every journal is verified before any is replayed: one foreign journal stops all.
        journals = [(name, _entries(root, base, name, key)) for name in names]
        done = []
        for name, entries in journals:
            folder = open_folder(base, name)
            try:
                failed = _restore(root_fd, folder, entries)
            finally:
                os.close(folder)
            if failed:
                raise _journal_problem(
                    root, name, f"{len(failed)} change(s) could not be put back, e.g. {failed[0]}"
                )
            remove_tree(base, name)
            done.append(f"{name} ({len(entries)} changes restored)")
    finally:
        os.close(base)
    return "rolled back an interrupted slim: " + ", ".join(done)


# -- verification -------------------------------------------------------------------------------
def top_level_modules(root: Path, dist: Distribution) -> list[str]:
    names: set[str] = set()
    text = read_metadata_file(root, f"{dist.dist_info}/top_level.txt")
    if text is not None:
        names = {n.strip() for n in text.splitlines() if n.strip()}
    else:
        for row in dist.rows:
            parts = row.path.split("/")
            if not row.inside or parts[0].endswith((".dist-info", ".data")):
                continue
            if len(parts) > 1 and parts[1] == "__init__.py":
                names.add(parts[0])
            elif len(parts) == 1 and parts[0].endswith(".py"):
                names.add(parts[0][:-3])
    return sorted(n for n in names if n.replace(".", "_").isidentifier() and "/" not in n)


def import_modules(
    root: Path, modules: list[str], python: str
) -> tuple[dict[str, str | None], frozenset[str]]:
    """Import each module in a fresh interpreter: ``None`` for success, else the error; and
    the files (relative to ``root``) of every module those imports loaded from the root."""
    if not modules:
        return {}, frozenset()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["MPLBACKEND"] = "Agg"
    out = subprocess.run(
        # -B: the check must not write __pycache__ into the tree it is checking.
        [python, "-B", "-c", IMPORT_PROBE, str(root), *modules],
        input="",
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    try:
        document = json.loads(out.stdout.strip().splitlines()[-1])
        result: dict[str, str | None] = {
            name: None if error is None else str(error)[:300]
            for name, error in document["modules"].items()
        }
        loaded = frozenset(str(p) for p in document["loaded"])
    except (ValueError, IndexError, KeyError, TypeError, AttributeError):
        # The interpreter itself died (a crash in some extension): one module at a time.
        if len(modules) == 1:
            return {modules[0]: f"interpreter died (exit {out.returncode})"}, frozenset()
        merged: dict[str, str | None] = {}
        every: set[str] = set()
        for module in modules:
            errors, files = import_modules(root, [module], python)
            merged.update(errors)
            every |= files
        return merged, frozenset(every)
    return result, loaded


def _spare_loaded(
    plan: tuple[SlimAction, ...], loaded: frozenset[str]
) -> tuple[tuple[SlimAction, ...], dict[str, str]]:
    """Narrow the plan by what the baseline imported: a package that imports a module from
    its own ``tests`` folder at start-up (astropy does: ``astropy.tests.runner``) keeps that
    whole folder, and no other file a module was loaded from is removed. Returns the
    narrowed plan and path -> why it was spared."""
    used_roots: dict[str, list[str]] = defaultdict(list)
    for path in sorted(loaded):
        folder = test_root(path)
        if folder is not None:
            used_roots[folder].append(path)
    kept: dict[str, str] = {}
    actions = []
    for action in plan:
        if action.kind == "remove":
            folder = test_root(action.path)
            if folder is not None and folder in used_roots:
                files = used_roots[folder]
                kept[folder] = (
                    "imported at start-up: "
                    + ", ".join(files[:3])
                    + (f" and {len(files) - 3} more" if len(files) > 3 else "")
                )
                continue
            if action.path in loaded:
                kept[action.path] = "imported at start-up"  # not a tests file: spared alone
                continue
        actions.append(action)
    return tuple(actions), kept


# -- applying -------------------------------------------------------------------------------------
def _apply_one(
    root_fd: int,
    journal: _Journal,
    action: SlimAction,
    level: StripLevel,
    keep_debug: Path | None = None,
) -> None:
    """One change, journaled first. Every name is resolved inside folders opened without
    following links (containment.py): a folder swapped for a symlink is refused."""
    saved, scratch = f"backup/{action.path}", f"new/{action.path}"
    journal.write(action.kind, action.path)
    if action.kind == "remove":
        rename_under(root_fd, action.path, journal.fd, saved)
    elif action.kind == "strip":
        data, st = read_under(root_fd, action.path, limit=_FILE_LIMIT)
        try:
            result = (
                strip_elf(data, level)
                if keep_debug is None
                else strip_keeping_debug(data, level, keep_debug, action.path)
            )
        except CorruptElfError:
            return  # the strip engine's own checks refused this file: leave it as it is
        if result.data is None:
            return
        # New content is written inside the journal folder first, so a kill leaves no
        # stray file in the tree: the journal folder is removed as a whole.
        write_under(journal.fd, scratch, result.data, mode=st.st_mode)
        rename_under(root_fd, action.path, journal.fd, saved)
        rename_under(journal.fd, scratch, root_fd, action.path)
    elif action.kind == "link" and action.target is not None:
        link_under(root_fd, action.target, journal.fd, scratch)
        rename_under(root_fd, action.path, journal.fd, saved)
        rename_under(journal.fd, scratch, root_fd, action.path)


def _rewrite_record(
    root_fd: int, journal: _Journal, dist: Distribution, changed: frozenset[str]
) -> str | None:
    """RECORD without the files slim removed, with new hashes and sizes for the ones it
    changed; every other row is kept exactly as it was (drift stays visible), and so are
    bytes that are not UTF-8. Returns why it was left as it was, when the csv module
    cannot read it (a NUL before Python 3.11, a field over its size limit)."""
    rel = f"{dist.dist_info}/RECORD"
    old, st = read_under(root_fd, rel, limit=RECORD_LIMIT)
    text = old.decode("utf-8", "surrogateescape")
    try:
        rows = _new_rows(root_fd, list(csv.reader(io.StringIO(text, newline=""))), changed)
    except csv.Error as exc:
        return f"not rewritten: not CSV the csv module reads ({exc}); rows of changed files stay"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    journal.write("record", rel)
    write_under(journal.fd, f"backup/{rel}", old, mode=st.st_mode)
    write_under(
        journal.fd,
        f"new/{rel}",
        buffer.getvalue().encode("utf-8", "surrogateescape"),
        mode=st.st_mode,
    )
    rename_under(journal.fd, f"new/{rel}", root_fd, rel)
    return None


def _new_rows(root_fd: int, old: list[list[str]], changed: frozenset[str]) -> list[list[str]]:
    rows = []
    for row in old:
        norm = posixpath.normpath(row[0].replace("\\", "/")) if len(row) == 3 else ""
        if norm not in changed:
            rows.append(row)
            continue
        try:
            data, _st = read_under(root_fd, norm, limit=_FILE_LIMIT)
        except FileNotFoundError:
            continue  # removed by slim
        except (OSError, ContainmentError):
            rows.append(row)
            continue
        if not row[1]:
            rows.append(row)
            continue
        algorithm = row[1].partition("=")[0]
        algorithm = algorithm if algorithm in _RECORD_HASHES else "sha256"
        digest = hashlib.new(algorithm, data).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        rows.append([row[0], f"{algorithm}={encoded}", str(len(data))])
    return rows


def slim(
    path: str | os.PathLike[str] | None = None,
    *,
    apply: bool = False,
    categories: Iterable[str] = DEFAULT_CATEGORIES,
    keep: Iterable[str] = (),
    strip: StripLevel | str = DEFAULT_LEVEL,
    python: str | None = None,
    verify: bool = True,
    on_progress: Callable[[str], None] | None = None,
    keep_debug: str | os.PathLike[str] | None = None,
) -> SlimResult:
    """Plan (and with ``apply=True`` carry out) slimming of an installed environment.

    ``keep_debug`` names a folder for separate debug files of what the strip removes."""
    root = Path(path) if path is not None else default_site_packages()
    require_folder(root)
    debug_dir = _debug_dir(root, keep_debug)
    try:
        level = StripLevel.parse(strip) if isinstance(strip, str) else strip
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # A lone string is one value ("tests,strip", "pkg/tests/*"), not a list of characters.
    if isinstance(categories, str):
        categories = (categories,)
    if isinstance(keep, str):
        keep = (keep,)
    chosen = parse_slim_categories(categories)
    if not apply:
        result, _env = _plan_result(root, chosen, tuple(keep), level, None)
        found = pending_slim(root)
        if found is not None:
            refusal = None if found.running else _refusal(root)
            then = (
                "--apply would fail until it ends"
                if found.running
                else f"--apply and --recover refuse it (exit 2): {refusal}"
                if refusal
                else "--apply rolls it back first, then plans again (--recover only rolls back)"
            )
            result = dataclasses.replace(result, pending=f"{found.describe()}; {then}")
        return result
    key = journal_key(root, create=True)
    assert key is not None  # noqa: S101 - just made when missing
    with _exclusive(root) as root_fd:
        recovered = _recover(root, root_fd)
        result, env = _plan_result(root, chosen, tuple(keep), level, recovered)
        if not result.plan:
            return dataclasses.replace(result, applied=True)
        run = _Run(
            root, root_fd, key, level, python or sys.executable, verify, on_progress, debug_dir
        )
        return _apply(run, env, result)


def _debug_dir(root: Path, keep_debug: str | os.PathLike[str] | None) -> Path | None:
    """The --keep-debug folder; never inside the environment being slimmed."""
    if keep_debug is None:
        return None
    folder = Path(keep_debug).resolve()
    if folder == root.resolve() or root.resolve() in folder.parents:
        raise UsageError(f"{keep_debug}: the debug folder must lie outside {root}")
    return folder


def _plan_result(
    root: Path,
    chosen: tuple[str, ...],
    keep: tuple[str, ...],
    level: StripLevel,
    recovered: str | None,
) -> tuple[SlimResult, Environment]:
    """The plan, and the environment it was made from (read once, used again to apply)."""
    env, facts = read_tree(root)
    actions, skipped, kept = _plan(env, facts, chosen, keep, level)
    before = disk_bytes(root)
    result = _with_plan(
        SlimResult(
            root=str(root),
            applied=False,
            before=before,
            after=before,
            plan=(),
            by_category={},
            kept=kept,
            recovered=recovered,
            skipped=tuple(skipped),
            notes=_notes(env, keep),
        ),
        tuple(actions),
    )
    return result, env


def _notes(env: Environment, keep: tuple[str, ...]) -> tuple[str, ...]:
    """What a user probably did not mean: keep patterns that match nothing, a folder that
    is not a site-packages."""
    notes = [
        f"--keep {pattern!r} matches no file: patterns are matched against paths relative "
        "to the folder, such as 'pkg/tests/*'"
        for pattern in keep
        if not any(fnmatch.fnmatch(path, pattern) for path in env.files)
    ]
    if not env.distributions:
        notes.append(NO_DISTRIBUTIONS)
    return tuple(notes)


def _with_plan(result: SlimResult, actions: tuple[SlimAction, ...]) -> SlimResult:
    """``result`` with this plan, its per-category summary and the size it leads to."""
    by_category: dict[str, tuple[int, int]] = {}
    for action in actions:
        files, size = by_category.get(action.category, (0, 0))
        by_category[action.category] = (files + 1, size + action.saved)
    return dataclasses.replace(
        result,
        plan=actions,
        by_category=dict(sorted(by_category.items(), key=lambda kv: -kv[1][1])),
        after=result.before - sum(a.saved for a in actions),
    )


@dataclass(frozen=True, slots=True)
class _Run:
    """What one ``slim --apply`` works with: the root (by path and by descriptor), the
    journal key and the options."""

    root: Path
    root_fd: int
    key: bytes
    level: StripLevel
    python: str
    verify: bool
    on_progress: Callable[[str], None] | None
    #: the --keep-debug folder, if any
    keep_debug: Path | None = None


def _apply(run: _Run, env: Environment, result: SlimResult) -> SlimResult:
    root, on_progress = run.root, run.on_progress
    dists = {d.dist_info: d for d in env.distributions}
    # Every distribution's modules, not only the touched ones: slimming B can break A.
    modules = {d.dist_info: top_level_modules(root, d) for d in env.distributions if d.has_record}
    every = sorted({m for ms in modules.values() for m in ms})
    baseline: dict[str, str | None] = {}
    if run.verify:
        if on_progress:
            on_progress(f"importing {len(every)} modules before slimming")
        baseline, loaded = import_modules(root, every, run.python)
        narrowed, kept = _spare_loaded(result.plan, loaded)
        result = dataclasses.replace(_with_plan(result, narrowed), kept={**result.kept, **kept})
    journal = _Journal(run.root_fd, run.key)
    try:
        if on_progress:
            on_progress(f"applying {len(result.plan)} changes")
        refused = _apply_all(run, journal, result.plan)
        if refused:
            result = _with_plan(result, tuple(a for a in result.plan if a.path not in refused))
        touched = sorted({a.dist for a in result.plan})
        removed = [a.path for a in result.plan if a.kind == "remove"]
        for folder in sorted(
            {posixpath.dirname(p) for p in removed if "/" in p}, key=len, reverse=True
        ):
            remove_empty_dirs(run.root_fd, folder)
        for dist in touched:
            changed = frozenset(a.path for a in result.plan if a.dist == dist)
            problem = _rewrite_record(run.root_fd, journal, dists[dist], changed)
            if problem is not None:
                refused[f"{dist}/RECORD"] = problem
        restored: dict[str, str] = {}
        if run.verify:
            restored = _verify_and_restore(run, journal, result.plan, touched, modules, baseline)
    except BaseException:
        failed = _restore(run.root_fd, journal.fd, journal.entries)
        if failed:  # keep the journal: --recover can try again
            journal.close()
        else:
            journal.discard()
        raise
    if journal.stuck:
        journal.close()  # something could not be put back: its backup must survive
    else:
        journal.discard()  # committed: the backups can go
    if restored:  # what was put back is no longer part of what was done
        result = _with_plan(result, tuple(a for a in result.plan if a.dist not in restored))
    return dataclasses.replace(
        result, applied=True, after=disk_bytes(root), restored=restored, refused=refused
    )


def _apply_all(run: _Run, journal: _Journal, plan: tuple[SlimAction, ...]) -> dict[str, str]:
    """Carry out the plan; returns path -> why for changes refused or failed on the way
    (each one undone on the spot, so the tree holds the file as it was)."""
    refused: dict[str, str] = {}
    # Strip before linking: identical inputs strip to identical outputs, so a link made
    # afterwards points at the stripped copy.
    order = {"remove": 0, "strip": 1, "link": 2}
    for action in sorted(plan, key=lambda a: (order[a.kind], a.path)):
        try:
            _apply_one(run.root_fd, journal, action, run.level, run.keep_debug)
        except (OSError, ContainmentError) as exc:
            # The path is the key: the reason alone ("'tests' is a symlink ...: refused").
            refused[action.path] = (
                exc.reason if isinstance(exc, ContainmentError) else exc.strerror or str(exc)
            )
            stuck = _restore(run.root_fd, journal.fd, [(action.kind, action.path)])
            if stuck:  # moved aside, and the way back is blocked too: keep it for --recover
                journal.stuck += stuck
                refused[action.path] += (
                    f"; the original is kept in {journal.rel}/backup (wheelfix slim --recover "
                    "puts it back, with the rest of this run)"
                )
    return refused


def _verify_and_restore(
    run: _Run,
    journal: _Journal,
    plan: tuple[SlimAction, ...],
    touched: list[str],
    modules: dict[str, list[str]],
    baseline: dict[str, str | None],
) -> dict[str, str]:
    """Import everything again; restore what broke. Returns dist -> why it was restored."""
    every = sorted({m for ms in modules.values() for m in ms})
    owner = {a.path: a.dist for a in plan}

    def broken_now() -> dict[str, str]:
        after, _loaded = import_modules(run.root, every, run.python)
        return {m: e for m, e in after.items() if e and baseline.get(m) is None}

    if run.on_progress:
        run.on_progress(f"importing {len(every)} modules again")
    broken = broken_now()
    if not broken:
        return {}
    restored: dict[str, str] = {}
    for dist in touched:
        hits = [m for m in modules.get(dist, []) if m in broken]
        if hits:
            restored[dist] = f"{hits[0]}: {broken[hits[0]]}"
    attributed = {m for d in restored for m in modules.get(d, [])}
    if restored and set(broken) <= attributed:
        undo = [
            (op, path)
            for op, path in journal.entries
            if owner.get(path, path.split("/", 1)[0]) in restored
        ]
        journal.stuck += _restore(run.root_fd, journal.fd, undo)
        broken = broken_now()
        if not broken:
            return restored
    # A module broke that we cannot pin on one distribution: undo everything.
    journal.stuck += _restore(run.root_fd, journal.fd, journal.entries)
    first = next(iter(broken))
    return dict.fromkeys(touched, f"{first}: {broken[first]} (everything restored)")


def disk_bytes(root: Path) -> int:
    """Bytes of the regular files under ``root``, each hard-linked file counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))  # noqa: PTH118 - hot loop, plain strings
            except OSError:
                continue  # vanished while listing: it takes no room
            key = (st.st_dev, st.st_ino)
            if key not in seen and (st.st_mode & 0o170000) == 0o100000:
                seen.add(key)
                total += st.st_size
    return total
