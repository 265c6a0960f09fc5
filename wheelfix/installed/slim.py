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
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wheelfix import __version__
from wheelfix.categories import (
    Category,
    RuntimeSource,
    classify,
    kept_reasons,
    read_bounded,
    runtime_sources,
    test_root,
)
from wheelfix.errors import UsageError
from wheelfix.formats.elf import CorruptElfError
from wheelfix.formats.strip import StripLevel, strip_elf
from wheelfix.installed.scan import DEDUPE_MIN_SIZE, FileFacts, read_tree
from wheelfix.installed.tree import (
    JOURNAL_DIR,
    NO_DISTRIBUTIONS,
    Distribution,
    Environment,
    default_site_packages,
    pending_slim,
    require_folder,
)
from wheelfix.verify.runner import IMPORT_PROBE
from wheelfix.wheels.results import SCHEMA_VERSION

__all__ = ["SLIM_CATEGORIES", "SlimAction", "SlimResult", "recover", "slim"]

#: Categories slim knows; the default set leaves bytecode (start-up time) alone.
SLIM_CATEGORIES = ("strip", "tests", "sources", "build-leftovers", "caches", "dedupe",
                   "source-maps", "static-archives", "bytecode")  # fmt: skip
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
class SlimResult:
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

    @property
    def exit_code(self) -> int:
        return 1 if self.restored else 0

    def to_json(self) -> dict[str, object]:
        return {
            "schema_version": SCHEMA_VERSION,
            "wheelfix_version": __version__,
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
            "exit_code": self.exit_code,
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
class _Journal:
    """Append-only log of intended changes, fsynced before each change is made."""

    def __init__(self, root: Path) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.folder = root / JOURNAL_DIR / f"{stamp}-{os.getpid()}"
        self.backup = self.folder / "backup"
        self.backup.mkdir(parents=True)
        self.fh = (self.folder / _JOURNAL).open("a", encoding="utf-8")

    def scratch(self, rel: str) -> Path:
        tmp = self.folder / "new" / rel
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        return tmp

    def write(self, entry: dict[str, str]) -> None:
        self.fh.write(json.dumps(entry) + "\n")
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()


def _restore(root: Path, folder: Path, entries: list[dict[str, str]]) -> None:
    """Undo journaled changes, newest first; each step is safe to repeat."""
    backup = folder / "backup"
    for entry in reversed(entries):
        path = root / entry["path"]
        saved = backup / entry["path"]
        if saved.exists() or saved.is_symlink():
            if path.exists() or path.is_symlink():
                path.unlink()
            path.parent.mkdir(parents=True, exist_ok=True)
            saved.replace(path)


def _entries(folder: Path) -> list[dict[str, str]]:
    entries = []
    journal = folder / _JOURNAL
    if journal.exists():
        for line in journal.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                break  # a torn last line: the change it announced never started
    return entries


@contextlib.contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    """One slim at a time per root: a second one fails at once instead of interleaving."""
    base = root / JOURNAL_DIR
    base.mkdir(exist_ok=True)
    with (base / "lock").open("w") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"{root}: another wheelfix slim is running on it") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    if base.is_dir() and not any(p.is_dir() for p in base.iterdir()):
        shutil.rmtree(base, ignore_errors=True)


def recover(root: str | os.PathLike[str]) -> str | None:
    """Roll back what an interrupted slim left behind. Returns what was done, or ``None``.

    Refuses (UsageError) while another slim holds the root's lock."""
    root = Path(root)
    require_folder(root)
    if not (root / JOURNAL_DIR).is_dir():
        return None
    with _exclusive(root):
        return _recover(root)


def _recover(root: Path) -> str | None:
    base = root / JOURNAL_DIR
    if not base.is_dir():
        return None
    done = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        entries = [e for e in _entries(folder) if "path" in e]
        _restore(root, folder, entries)
        shutil.rmtree(folder)
        done.append(f"{folder.name} ({len(entries)} changes restored)")
    return "rolled back an interrupted slim: " + ", ".join(done) if done else None


# -- verification -------------------------------------------------------------------------------
def top_level_modules(root: Path, dist: Distribution) -> list[str]:
    top = root / dist.dist_info / "top_level.txt"
    names: set[str] = set()
    if top.is_file():
        names = {n.strip() for n in top.read_text(errors="replace").splitlines() if n.strip()}
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
        input="", capture_output=True, text=True, env=env, timeout=1800, check=False,
    )  # fmt: skip
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
def _apply_one(root: Path, journal: _Journal, action: SlimAction, level: StripLevel) -> None:
    path = root / action.path
    saved = journal.backup / action.path
    saved.parent.mkdir(parents=True, exist_ok=True)
    journal.write({"op": action.kind, "path": action.path})
    if action.kind == "remove":
        path.replace(saved)
    elif action.kind == "strip":
        data = path.read_bytes()
        try:
            result = strip_elf(data, level)
        except CorruptElfError:
            return  # the strip engine's own checks refused this file: leave it as it is
        if result.data is None:
            return
        # New content is written inside the journal folder first, so a kill leaves no
        # stray file in the tree: the journal folder is removed as a whole.
        tmp = journal.scratch(action.path)
        tmp.write_bytes(result.data)
        tmp.chmod(path.stat().st_mode)
        path.replace(saved)
        tmp.replace(path)
    elif action.kind == "link" and action.target is not None:
        tmp = journal.scratch(action.path)
        os.link(root / action.target, tmp)
        path.replace(saved)
        tmp.replace(path)


def _rewrite_record(
    root: Path, journal: _Journal, dist: Distribution, changed: frozenset[str]
) -> None:
    """RECORD without the files slim removed, with new hashes and sizes for the ones it
    changed; every other row is kept exactly as it was (drift stays visible)."""
    record = root / dist.dist_info / "RECORD"
    rel = f"{dist.dist_info}/RECORD"
    text = record.read_text(encoding="utf-8")
    removed = frozenset(p for p in changed if not (root / p).exists())
    rows = []
    for row in csv.reader(io.StringIO(text, newline="")):
        if len(row) != 3:
            rows.append(row)
            continue
        norm = os.path.normpath(row[0]).replace(os.sep, "/")
        target = root / norm
        inside = not norm.startswith(("..", "/"))
        if inside and norm in removed:
            continue  # removed by slim
        if inside and norm in changed and row[1] and target.is_file():
            data = target.read_bytes()
            algorithm = row[1].partition("=")[0] or "sha256"
            digest = hashlib.new(algorithm, data).digest()
            encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            rows.append([row[0], f"{algorithm}={encoded}", str(len(data))])
        else:
            rows.append(row)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    saved = journal.backup / rel
    saved.parent.mkdir(parents=True, exist_ok=True)
    journal.write({"op": "record", "path": rel})
    shutil.copy2(record, saved)
    tmp = record.with_name("RECORD.wheelfix-new")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    tmp.replace(record)


def slim(
    path: str | os.PathLike[str] | None = None,
    *,
    apply: bool = False,
    categories: Iterable[str] = DEFAULT_CATEGORIES,
    keep: Iterable[str] = (),
    strip: StripLevel | str = StripLevel.UNNEEDED,
    python: str | None = None,
    verify: bool = True,
    on_progress: Callable[[str], None] | None = None,
) -> SlimResult:
    """Plan (and with ``apply=True`` carry out) slimming of an installed environment."""
    root = Path(path) if path is not None else default_site_packages()
    require_folder(root)
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
            then = (
                "--apply would fail until it ends" if found.running
                else "--apply rolls it back first, then plans again (--recover only rolls back)"
            )  # fmt: skip
            result = dataclasses.replace(result, pending=f"{found.describe()}; {then}")
        return result
    with _exclusive(root):
        recovered = _recover(root)
        result, env = _plan_result(root, chosen, tuple(keep), level, recovered)
        if not result.plan:
            return dataclasses.replace(result, applied=True)
        return _apply(root, env, result, level, python or sys.executable, verify, on_progress)


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
            root=str(root), applied=False, before=before, after=before, plan=(),
            by_category={}, kept=kept, recovered=recovered, skipped=tuple(skipped),
            notes=_notes(env, keep),
        ),
        tuple(actions),
    )  # fmt: skip
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


def _apply(
    root: Path,
    env: Environment,
    result: SlimResult,
    level: StripLevel,
    python: str,
    verify: bool,
    on_progress: Callable[[str], None] | None,
) -> SlimResult:
    dists = {d.dist_info: d for d in env.distributions}
    # Every distribution's modules, not only the touched ones: slimming B can break A.
    modules = {d.dist_info: top_level_modules(root, d) for d in env.distributions if d.has_record}
    every = sorted({m for ms in modules.values() for m in ms})
    baseline: dict[str, str | None] = {}
    if verify:
        if on_progress:
            on_progress(f"importing {len(every)} modules before slimming")
        baseline, loaded = import_modules(root, every, python)
        narrowed, kept = _spare_loaded(result.plan, loaded)
        result = dataclasses.replace(_with_plan(result, narrowed), kept={**result.kept, **kept})
    touched = sorted({a.dist for a in result.plan})
    journal = _Journal(root)
    # Crash-safety tests kill the process after N changes (documented in docs/slim.md).
    fault_after = int(os.environ.get("WHEELFIX_FAULT_AFTER_CHANGES", "0") or 0)
    try:
        if on_progress:
            on_progress(f"applying {len(result.plan)} changes")
        # Strip before linking: identical inputs strip to identical outputs, so a link made
        # afterwards points at the stripped copy.
        order = {"remove": 0, "strip": 1, "link": 2}
        for count, action in enumerate(
            sorted(result.plan, key=lambda a: (order[a.kind], a.path)), start=1
        ):
            _apply_one(root, journal, action, level)
            if count == fault_after:
                os._exit(137)  # as if killed with SIGKILL: no cleanup runs
        _remove_empty_folders(root, [a.path for a in result.plan if a.kind == "remove"])
        for dist in touched:
            changed = frozenset(a.path for a in result.plan if a.dist == dist)
            _rewrite_record(root, journal, dists[dist], changed)
        restored: dict[str, str] = {}
        if verify:
            restored = _verify_and_restore(
                root, journal, result.plan, touched, modules, baseline, python, on_progress
            )
    except BaseException:
        journal.close()
        _restore(root, journal.folder, _entries(journal.folder))
        shutil.rmtree(journal.folder, ignore_errors=True)
        raise
    journal.close()
    shutil.rmtree(journal.folder, ignore_errors=True)  # committed: the backups can go
    if restored:  # what was put back is no longer part of what was done
        result = _with_plan(result, tuple(a for a in result.plan if a.dist not in restored))
    return dataclasses.replace(result, applied=True, after=disk_bytes(root), restored=restored)


def _verify_and_restore(
    root: Path,
    journal: _Journal,
    plan: tuple[SlimAction, ...],
    touched: list[str],
    modules: dict[str, list[str]],
    baseline: dict[str, str | None],
    python: str,
    on_progress: Callable[[str], None] | None,
) -> dict[str, str]:
    """Import everything again; restore what broke. Returns dist -> why it was restored."""
    every = sorted({m for ms in modules.values() for m in ms})
    owner = {a.path: a.dist for a in plan}

    def broken_now() -> dict[str, str]:
        after, _loaded = import_modules(root, every, python)
        return {m: e for m, e in after.items() if e and baseline.get(m) is None}

    if on_progress:
        on_progress(f"importing {len(every)} modules again")
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
            e for e in _entries(journal.folder)
            if owner.get(e["path"], e["path"].split("/", 1)[0]) in restored
        ]  # fmt: skip
        _restore(root, journal.folder, undo)
        broken = broken_now()
        if not broken:
            return restored
    # A module broke that we cannot pin on one distribution: undo everything.
    _restore(root, journal.folder, _entries(journal.folder))
    first = next(iter(broken))
    return dict.fromkeys(touched, f"{first}: {broken[first]} (everything restored)")


def _remove_empty_folders(root: Path, removed: list[str]) -> None:
    """Folders emptied by removals go too (a restore recreates them)."""
    for start in sorted({(root / p).parent for p in removed}, key=lambda f: -len(f.parts)):
        folder = start
        while folder != root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent


def disk_bytes(root: Path) -> int:
    """Bytes of the regular files under ``root``, each hard-linked file counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))  # noqa: PTH118 - hot loop, plain strings
            key = (st.st_dev, st.st_ino)
            if key not in seen and (st.st_mode & 0o170000) == 0o100000:
                seen.add(key)
                total += st.st_size
    return total
