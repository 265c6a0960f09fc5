"""Reading an installed tree: every regular file read once, in shards, on every usable core.

What ``scan`` reports and what ``slim`` plans both come from here: per file its size, its
sha256 where something needs it (RECORD drift, duplicates), and its parsed ELF header and
tables for binaries. Files are opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked with
``fstat``, so a symlink or FIFO swapped in after the listing is never followed or blocked on.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import stat
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from wheelfix.containment import ContainmentError, lstat_under, open_folder, open_root
from wheelfix.formats.elf import ELF_MAGIC, CorruptElfError, ElfInfo, parse_elf, read_layout
from wheelfix.formats.record import encode_digest
from wheelfix.formats.strip import StripLevel, disk_saving
from wheelfix.installed.tree import (
    JOURNAL_DIR,
    Distribution,
    Environment,
    RecordRow,
    read_distributions,
    require_folder,
    walk_into,
)
from wheelfix.linux.loadable import interest_for
from wheelfix.linux.policy import blacklisted_symbols
from wheelfix.parallel import fork_is_safe, run_sharded, usable_cpus

__all__ = ["DEDUPE_MIN_SIZE", "FileFacts", "files_to_hash", "read_facts", "read_tree"]

#: Files smaller than this are never deduplicated: a hard link saves less than it confuses.
DEDUPE_MIN_SIZE = 4096


class FileFacts(NamedTuple):
    """What one read of a file told us. A named tuple: tens of thousands are made per scan,
    and they travel back from worker processes pickled."""

    size: int
    #: urlsafe base64 without padding, as in RECORD; "" when nothing needed it (see
    #: ``files_to_hash``) or the file could not be read
    sha256: str
    elf: ElfInfo | None
    elf_error: str | None
    inode: tuple[int, int] = (0, 0)
    #: permission bits, owner and group: identical content with another mode is not a duplicate
    mode: tuple[int, int, int] = (0, 0, 0)
    #: strip level -> bytes the file would shrink by (see strip.disk_saving); read-only
    strip_tail: Mapping[str, int] = {}


#: Files up to this size that need no hash are read whole anyway (one read costs what a
#: header read does); bigger ones are read only if their first bytes are ELF.
_SMALL = 64 * 1024
#: O_NONBLOCK: a FIFO swapped in after the listing must not hang the open (regular files
#: ignore the flag); O_NOFOLLOW: nor may a symlink lead elsewhere.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def _read_all(fd: int, size: int) -> bytes:
    """Everything from ``fd``: one read for a file of the size it was listed with (asking
    for one byte more notices a file that grew), then reads until end of file."""
    chunks = []
    want = size + 1
    while chunk := os.read(fd, want):
        chunks.append(chunk)
        want = 1 << 20
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read(
    root: str, rel: str, st: os.stat_result, want_hash: bool, blacklisted: frozenset[str]
) -> FileFacts:
    """What one file says: its sha256 if ``want_hash``; ELF facts if it is ELF. Plain
    ``os`` calls: file objects and pathlib cost more than the reading itself on thousands
    of small files (bench/RESULTS.md)."""
    inode = (st.st_dev, st.st_ino)
    mode = (st.st_mode & 0o7777, st.st_uid, st.st_gid)
    try:
        fd = os.open(f"{root}/{rel}", _OPEN_FLAGS)
    except OSError:
        return FileFacts(0, "", None, None)  # vanished or unreadable: nothing to report
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != inode:
            # Replaced since it was listed, or reached through a folder swapped for a link:
            # only the very file the listing saw inside the tree is read.
            return FileFacts(0, "", None, None)
        if want_hash or st.st_size <= _SMALL or os.pread(fd, 4, 0) == ELF_MAGIC:
            data = _read_all(fd, st.st_size)
        else:
            return FileFacts(st.st_size, "", None, None, inode, mode)
    except OSError:
        return FileFacts(0, "", None, None)
    finally:
        os.close(fd)
    elf = error = None
    tail: dict[str, int] = {}
    if data[:4] == ELF_MAGIC:
        try:
            elf = parse_elf(data, interest=interest_for(rel, blacklisted))
            if elf.debug_bytes or elf.symtab_bytes or elf.comment_bytes:
                layout = read_layout(data)
                tail = {level.value: disk_saving(layout, level, data) for level in StripLevel}
        except CorruptElfError as exc:
            error = str(exc)
    digest = encode_digest(hashlib.sha256(data).digest()) if want_hash else ""
    return FileFacts(len(data), digest, elf, error, inode, mode, tail)


def files_to_hash(env: Environment) -> set[str]:
    """The files whose sha256 anything uses: those RECORD lists with a sha256 (drift) and
    those sharing their size with another file (duplicates can only be among these).
    Bytecode pip compiled at install is listed without a hash, so it is usually spared."""
    sizes = Counter(size for size in env.files.values() if size > 0)
    wanted = {path for path, size in env.files.items() if size > 0 and sizes[size] > 1}
    return wanted | _recorded_sha256(env.distributions)


def _recorded_sha256(dists: tuple[Distribution, ...]) -> set[str]:
    """Paths RECORD lists with a sha256: their drift is checked, so they are hashed."""
    return {
        r.path for d in dists for r in d.rows if r.inside and r.algorithm == "sha256" and r.digest
    }


def read_facts(
    env: Environment, *, threads: int = 0, on_file: Callable[[int], None] | None = None
) -> dict[str, FileFacts]:
    """Read every file (at most) once, split over ``threads`` workers (default: every
    usable CPU; see parallel.py for how). Shards are balanced by what they cost: bytes to
    hash or read, plus a fixed cost per file."""
    blacklisted = blacklisted_symbols()
    root = os.fspath(env.root)
    hashed = files_to_hash(env)
    stats = env.stats
    workers = threads or usable_cpus()
    shards: list[list[str]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for name in sorted(env.files, key=lambda n: -env.files[n]):
        size = env.files[name]
        i = loads.index(min(loads))  # biggest first onto the least-loaded shard
        shards[i].append(name)
        loads[i] += (size if name in hashed else min(size, _SMALL)) + 16384

    def work(shard: list[str]) -> list[tuple[str, FileFacts]]:
        out = []
        for name in shard:
            st = stats.get(name)
            if st is None:  # an Environment built by hand: stat now
                try:
                    st = os.lstat(f"{root}/{name}")
                except OSError:
                    out.append((name, FileFacts(0, "", None, None)))
                    continue
            out.append((name, _read(root, name, st, name in hashed, blacklisted)))
        return out

    facts: dict[str, FileFacts] = {}
    with _gc_paused():
        for rows in run_sharded(work, [shard for shard in shards if shard]):
            facts.update(rows)
            if on_file is not None:
                for _name, fact in rows:
                    on_file(fact.size)
    return facts


#: A shard item heavier than this share of the whole is split into its children.
_SPLIT_SHARE = 2
#: Cost of a file beyond its hashed bytes (open, read, bookkeeping), in "bytes".
_FILE_COST = 16384


def _weights(rows: list[RecordRow], prefix: str) -> dict[str, int]:
    """Estimated cost of each child of folder ``prefix`` (``""`` or ending in ``/``) from
    the RECORD ``rows`` under it: the bytes that will be hashed plus a fixed cost per file."""
    out: dict[str, int] = defaultdict(int)
    start = len(prefix)
    for row in rows:
        end = row.path.find("/", start)
        child = row.path if end < 0 else row.path[:end]
        out[child] += ((row.size or 0) if row.algorithm == "sha256" else 0) + _FILE_COST
    return out


def _shard_tree(root: str, dists: tuple[Distribution, ...], count: int) -> list[list[str]]:
    """Split the tree into ``count`` lists of paths (folders or files) of similar cost.
    Folders much heavier than a fair share are split into their children first."""
    items: dict[str, bool] = {}  # relative path -> is a folder
    rows = [r for d in dists for r in d.rows if r.inside]
    weights = _weights(rows, "")

    def children(rel: str) -> None:
        folder = f"{root}/{rel}" if rel else root
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    child = f"{rel}/{entry.name}" if rel else entry.name
                    if child != JOURNAL_DIR:
                        items[child] = entry.is_dir(follow_symlinks=False)
        except OSError:
            pass

    children("")
    total = sum(weights.get(p, _FILE_COST) for p in items) or 1
    for _ in range(64):  # bounded: a pathological tree stays merely unbalanced
        heavy = max((p for p in items if items[p]), key=lambda p: weights.get(p, 0), default=None)
        if heavy is None or weights.get(heavy, 0) * count * _SPLIT_SHARE <= total:
            break
        del items[heavy]
        children(heavy)
        prefix = heavy + "/"
        weights.update(_weights([r for r in rows if r.path.startswith(prefix)], prefix))
    shards: list[list[str]] = [[] for _ in range(count)]
    loads = [0] * count
    for path in sorted(items, key=lambda p: -weights.get(p, _FILE_COST)):
        i = loads.index(min(loads))  # heaviest first onto the least-loaded shard
        shards[i].append(path)
        loads[i] += weights.get(path, _FILE_COST)
    return [shard for shard in shards if shard]


def _list(base: str, items: list[str]) -> tuple[dict[str, os.stat_result], list[str]]:
    """The regular files (relative path -> lstat) and the other entries under the shard
    ``items`` (paths of files or folders under ``base``), listed under a descriptor of
    ``base`` so that no link is followed on the way (see ``walk_into``)."""
    stats: dict[str, os.stat_result] = {}
    special: list[str] = []
    try:
        root_fd = open_root(base)
    except ContainmentError:
        return stats, special  # the root itself went away: nothing to list
    try:
        for rel in items:
            try:
                st = lstat_under(root_fd, rel)
                if st is not None and stat.S_ISDIR(st.st_mode):
                    folder = open_folder(root_fd, rel)
                    try:
                        walk_into(folder, rel + "/", stats, special)
                    finally:
                        os.close(folder)
                    continue
            except (OSError, ContainmentError):
                continue  # vanished, or a folder on the way became a link
            if st is None:
                continue
            if stat.S_ISREG(st.st_mode):
                stats[rel] = st
            else:
                special.append(rel)
    finally:
        os.close(root_fd)
    return stats, special


def read_tree(
    root: Path, *, threads: int = 0, on_file: Callable[[int], None] | None = None
) -> tuple[Environment, dict[str, FileFacts]]:
    """List and read a whole environment in one go: the listing is split over the workers
    too (see ``read_facts`` for the reading). Small files are hashed while they are in
    memory anyway; bigger ones only when RECORD has their sha256, or, in a second pass, when
    another file has their size."""
    require_folder(root)
    dists = read_distributions(root)
    blacklisted = blacklisted_symbols()
    base = os.fspath(root)
    recorded = _recorded_sha256(dists)
    workers = threads or usable_cpus()
    count = workers if fork_is_safe() else workers * 8

    here = os.getpid()

    def work(items: list[str]) -> tuple[list[tuple[str, int, FileFacts]], list[str], bool]:
        # Progress is reported file by file where it can be seen: in this process (its own
        # shard, or any shard on threads); a forked child's files when its result arrives.
        live = on_file if on_file is not None and os.getpid() == here else None
        stats, special = _list(base, items)
        out = []
        for rel, st in stats.items():
            want = rel in recorded or st.st_size <= _SMALL
            fact = _read(base, rel, st, want, blacklisted)
            out.append((rel, st.st_size, fact))
            if live is not None:
                live(fact.size)
        return out, special, live is not None

    files: dict[str, int] = {}
    facts: dict[str, FileFacts] = {}
    special: list[str] = []
    with _gc_paused():
        for rows, odd, reported in run_sharded(
            work, _shard_tree(base, dists, count), threads=workers
        ):
            special += odd
            for rel, size, fact in rows:
                files[rel] = size
                facts[rel] = fact
                if on_file is not None and not reported:
                    on_file(fact.size)
    # Duplicates can only share a size: hash the files of a shared size not hashed yet.
    sizes = Counter(fact.size for fact in facts.values() if fact.size > 0)
    for rel, fact in facts.items():
        if not fact.sha256 and fact.size > 0 and sizes[fact.size] > 1:
            digest = _hash_file(f"{base}/{rel}", fact.inode)
            if digest:
                facts[rel] = fact._replace(sha256=digest)
    env = Environment(root, dists, files, tuple(sorted(special)))
    return env, facts


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while tens of thousands of acyclic tuples are made: each
    collection would walk all of them again (measured: a tenth of the reading time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _hash_file(path: str, inode: tuple[int, int]) -> str:
    """The sha256 of the file at ``path`` if it is still the file ``inode`` names, else
    ``""``."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        return ""
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != inode:
            return ""
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return encode_digest(digest.digest())
    except OSError:
        return ""
    finally:
        os.close(fd)
