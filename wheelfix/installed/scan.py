"""Auditing an installed environment: where the megabytes are and what would break.

Every regular file is read once (on a few threads: hashing and reading release the GIL):
sha256 for RECORD drift and duplicate detection, the ELF reader for binaries. Findings use
the same codes as ``check`` where the meaning is the same (WF104, WF105, WF111, WF202,
WF301, WF302) and WF6xx for what only an installed tree has; content categories (tests,
sources, ...) are reported as bytes per distribution and as what slim would save.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import os
import platform
import posixpath
import stat
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from wheelfix import __version__
from wheelfix.categories import classify
from wheelfix.findings import Check, Finding, Severity, gate_exit_code
from wheelfix.formats.elf import ELF_MAGIC, CorruptElfError, ElfInfo, parse_elf, read_layout
from wheelfix.formats.strip import StripLevel, disk_saving
from wheelfix.installed.tree import (
    JOURNAL_DIR,
    NO_DISTRIBUTIONS,
    Distribution,
    Environment,
    PendingSlim,
    RecordRow,
    default_site_packages,
    pending_slim,
    read_distributions,
    require_folder,
    walk_into,
)
from wheelfix.linux.libraries import LIBPYTHON_RE, HostLibraries, resolve_tree
from wheelfix.linux.policy import blacklisted_symbols
from wheelfix.parallel import fork_is_safe, run_sharded, usable_cpus
from wheelfix.units import human
from wheelfix.wheels.checks.platform import extension_module_name, interest_for
from wheelfix.wheels.results import SCHEMA_VERSION

__all__ = ["DistReport", "EnvReport", "FileFacts", "scan", "scan_environment"]

_UNOWNED = "<unowned>"
#: Smaller duplicate groups are counted in the dedupe saving but not reported one by one.
_DUPLICATE_FINDING_MIN = 64 * 1024
#: Files smaller than this are never deduplicated: a hard link saves less than it confuses.
DEDUPE_MIN_SIZE = 4096
_HOST_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}.get(
    platform.machine().lower(), platform.machine()
)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class DistReport:
    name: str
    version: str
    dist_info: str | None
    files: int
    total: int
    elf: int
    debug_info: int
    symbol_table: int
    categories: dict[str, int]
    findings: tuple[Finding, ...]
    verifiable: bool

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "dist_info": self.dist_info,
            "files": self.files,
            "total": self.total,
            "elf": self.elf,
            "debug_info": self.debug_info,
            "symbol_table": self.symbol_table,
            "categories": dict(self.categories),
            "verifiable": self.verifiable,
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvReport:
    root: str
    distributions: tuple[DistReport, ...]
    duplicates: tuple[tuple[int, tuple[str, ...]], ...]
    savings: dict[str, int]
    total: int
    findings: tuple[Finding, ...]
    fail_on: Severity | None = Severity.ERROR
    facts: dict[str, FileFacts] = field(default_factory=dict, repr=False, compare=False)

    @property
    def exit_code(self) -> int:
        every = [f for d in self.distributions for f in d.findings] + list(self.findings)
        return gate_exit_code(every, self.fail_on)

    def to_json(self) -> dict[str, object]:
        return {
            "schema_version": SCHEMA_VERSION,
            "wheelfix_version": __version__,
            "root": self.root,
            "total": self.total,
            "savings": dict(self.savings),
            "duplicates": [{"size": s, "paths": list(p)} for s, p in self.duplicates],
            "distributions": [d.to_json() for d in self.distributions],
            "findings": [f.to_json() for f in self.findings],
            "exit_code": self.exit_code,
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


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
        if not stat.S_ISREG(now.st_mode) or now.st_ino != st.st_ino:
            return FileFacts(0, "", None, None)  # replaced since it was listed: not ours
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
                tail = {level.value: disk_saving(layout, level) for level in StripLevel}
        except CorruptElfError as exc:
            error = str(exc)
    digest = _b64(hashlib.sha256(data).digest()) if want_hash else ""
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
        stats: dict[str, os.stat_result] = {}
        special: list[str] = []
        for rel in items:
            try:
                st = os.lstat(f"{base}/{rel}")
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                walk_into(f"{base}/{rel}", rel + "/", stats, special)
            elif stat.S_ISREG(st.st_mode):
                stats[rel] = st
            else:
                special.append(rel)
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
            digest = _hash_file(f"{base}/{rel}")
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


def _hash_file(path: str) -> str:
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return _b64(digest.digest())
    except OSError:
        return ""
    finally:
        os.close(fd)


def _host_libc() -> str:
    return "musl" if any(Path("/lib").glob("ld-musl-*.so.1")) else "glibc"


def _library_findings(
    env: Environment, facts: dict[str, FileFacts], host: HostLibraries
) -> dict[str, list[Finding]]:
    """Per file: needs a library found neither in the environment nor on the system."""
    elves = {p: f.elf for p, f in facts.items() if f.elf is not None and f.elf.elf_type != "ET_REL"}
    host_libc = _host_libc()
    out: dict[str, list[Finding]] = defaultdict(list)
    all_needed = {s for e in elves.values() for s in e.needed}
    for path, elf in elves.items():
        if elf.arch is not None and elf.arch != _HOST_ARCH:
            out[path].append(Finding(check=Check.WRONG_ARCH, path=path, bytes=elf.file_size,
                                     message=f"built for {elf.arch}; this machine is "
                                     f"{_HOST_ARCH}: it cannot load"))  # fmt: skip
            continue
        if elf.libc is not None and elf.libc != host_libc:
            out[path].append(Finding(check=Check.WRONG_LIBC, path=path, bytes=elf.file_size,
                                     message=f"links against {elf.libc}, but this system's C "
                                     f"library is {host_libc}: it cannot load"))  # fmt: skip
            continue
        is_root = f"PyInit_{extension_module_name(path)}" in elf.defined or (
            posixpath.basename(path) not in all_needed
        )
        if not is_root:
            continue
        tree = resolve_tree(path, elf, elves, host, libc=elf.libc)
        for soname, lib in sorted(tree.libraries.items()):
            if lib.path is None and not LIBPYTHON_RE.match(soname):
                who = sorted(tree.needed_by.get(soname, {path}))[0]
                out[path].append(Finding(
                    check=Check.LIBRARY_NOT_FOUND, path=path,
                    message=f"needs {soname}{'' if who == path else f' (needed by {who})'}: "
                    "found neither in the "
                    "environment nor on this system, so importing it fails",
                    fix=f"install the system package that provides {soname} here, or "
                    "reinstall from a repaired wheel (wheelfix repair) that carries it",
                ))  # fmt: skip
    return out


def scan_environment(
    env: Environment,
    facts: dict[str, FileFacts],
    *,
    host: HostLibraries | None = None,
    fail_on: Severity | None = Severity.ERROR,
    pending: PendingSlim | None = None,
) -> EnvReport:
    owners: dict[str, Distribution] = env.owner_of()
    by_dist: dict[str, list[str]] = defaultdict(list)
    for path in env.files:
        dist = owners.get(path)
        by_dist[dist.dist_info if dist else _UNOWNED].append(path)
    lib_findings = _library_findings(env, facts, host or HostLibraries(use_env=True))
    global_findings: list[Finding] = []
    if pending is not None:
        message = pending.describe() + (
            "; files may change while they are read"
            if pending.running
            else "; until it is rolled back, those files are missing or changed (WF601)"
        )
        global_findings.append(Finding(check=Check.INTERRUPTED_SLIM, path=JOURNAL_DIR,
                                       message=message))  # fmt: skip

    # Byte-identical files, grouped; only groups that span distributions are findings.
    groups: dict[tuple[int, str], dict[tuple[int, int], str]] = defaultdict(dict)
    hashed = sorted(p for p, f in facts.items() if f.sha256 and f.size > 0)
    for path in hashed:
        fact = facts[path]
        # Hard links to one file are one copy, not duplicates.
        groups[(fact.size, fact.sha256)].setdefault(fact.inode, path)
    duplicates = []
    for (size, _digest), by_inode in groups.items():
        paths = list(by_inode.values())
        if len(paths) < 2:
            continue
        paths.sort()
        duplicates.append((size, tuple(paths)))
        dists = {owners[p].name if p in owners else _UNOWNED for p in paths}
        if len(dists) > 1 and size * (len(paths) - 1) >= _DUPLICATE_FINDING_MIN:
            global_findings.append(Finding(
                check=Check.DUPLICATE_FILES, path=paths[0], bytes=size * (len(paths) - 1),
                message=f"{len(paths)} identical copies ({human(size)} each) in "
                f"{', '.join(sorted(dists))}: {', '.join(paths[1:3])}"
                + (" …" if len(paths) > 3 else ""),
            ))  # fmt: skip
    duplicates.sort(key=lambda d: -d[0] * (len(d[1]) - 1))

    reports = []
    savings: dict[str, int] = defaultdict(int)
    for dist in [*env.distributions, None]:
        key = dist.dist_info if dist else _UNOWNED
        paths = by_dist.get(key, [])
        if dist is None and not paths:
            continue
        findings: list[Finding] = []
        categories: dict[str, int] = defaultdict(int)
        total = elf = debug = symtab = strip_saving = 0
        for path in sorted(paths):
            fact = facts[path]
            total += fact.size
            category = classify(path)
            if category is not None:
                categories[category.value] += fact.size
            if fact.elf is not None:
                strip_saving += fact.strip_tail.get("unneeded", 0)
                if fact.elf.elf_type != "ET_REL":
                    elf += fact.size
                    debug += fact.elf.debug_bytes
                    symtab += fact.elf.symtab_bytes
            if fact.elf_error:
                findings.append(Finding(check=Check.CORRUPT_ELF, path=path, message=fact.elf_error))
            if path in lib_findings:
                findings += lib_findings[path]
        if debug:
            message = f"{human(debug)} of DWARF debug info in its binaries"
            findings.append(Finding(check=Check.DEBUG_INFO, path=key, bytes=debug,
                                    message=message))  # fmt: skip
        if symtab:
            message = f"{human(symtab)} of static symbol tables"
            findings.append(Finding(check=Check.SYMBOL_TABLE, path=key, bytes=symtab,
                                    message=message))  # fmt: skip
        if dist is not None:
            findings += _record_findings(dist, facts)
        else:
            message = (
                f"{len(paths)} file{'s' if len(paths) != 1 else ''} no distribution's RECORD "
                f"lists, e.g. {', '.join(sorted(paths)[:3])}"
            )
            if not env.distributions:
                message += f" — {NO_DISTRIBUTIONS}"
            findings.append(Finding(check=Check.UNOWNED_FILES, path=None, bytes=total,
                                    message=message))  # fmt: skip
        for name, size in categories.items():
            if dist is not None and dist.has_record:
                savings[name] += size
        if dist is not None and dist.has_record:
            savings["strip"] += strip_saving
        reports.append(DistReport(
            name=dist.name if dist else _UNOWNED, version=dist.version if dist else "",
            dist_info=dist.dist_info if dist else None, files=len(paths), total=total, elf=elf,
            debug_info=debug, symbol_table=symtab, categories=dict(categories),
            findings=tuple(findings), verifiable=bool(dist and dist.has_record),
        ))  # fmt: skip
    savings["dedupe"] = sum(
        size * (len(paths) - 1) for size, paths in duplicates if size >= DEDUPE_MIN_SIZE
    )
    reports.sort(key=lambda r: -r.total)
    return EnvReport(
        root=str(env.root),
        distributions=tuple(reports),
        duplicates=tuple(duplicates),
        savings=dict(sorted(savings.items(), key=lambda kv: -kv[1])),
        total=sum(facts[p].size for p in facts),
        findings=tuple(global_findings),
        fail_on=fail_on,
        facts=facts,
    )


def _record_findings(dist: Distribution, facts: dict[str, FileFacts]) -> list[Finding]:
    if not dist.has_record:
        why = "has no RECORD" if dist.problem is None else f"cannot be read ({dist.problem})"
        return [Finding(check=Check.CANNOT_VERIFY, path=dist.dist_info,
                        message=f"{dist.name} {why}: its files cannot be verified, "
                        "and slim leaves it alone")]  # fmt: skip
    out = []
    outside = [r.path for r in dist.rows if not r.inside]
    if outside:
        out.append(Finding(check=Check.OUTSIDE_ROOT, path=dist.dist_info,
                           message=f"{_count(len(outside), 'RECORD row')} outside the root, e.g. "
                           f"{outside[0]}: reported, never modified"))  # fmt: skip
    drifted = []
    for row in dist.rows:
        if not row.inside or row.algorithm != "sha256" or not row.digest:
            continue
        fact = facts.get(row.path)
        if fact is None:
            drifted.append(f"{row.path} (missing)")
        elif fact.sha256 != row.digest.rstrip("="):
            drifted.append(row.path)
    if drifted:
        verb = "differs" if len(drifted) == 1 else "differ"
        out.append(Finding(check=Check.RECORD_DRIFT, path=dist.dist_info,
                           message=f"{_count(len(drifted), 'file')} {verb} from RECORD since "
                           f"install, e.g. {', '.join(drifted[:3])}"))  # fmt: skip
    return out


def scan(
    path: str | os.PathLike[str] | None = None,
    *,
    fail_on: Severity | str | None = Severity.ERROR,
    threads: int = 0,
    on_file: Callable[[int], None] | None = None,
) -> EnvReport:
    """Scan an installed environment (default: this interpreter's site-packages)."""
    root = Path(path) if path is not None else default_site_packages()
    fail_on = Severity.gate(fail_on)
    env, facts = read_tree(root, threads=threads, on_file=on_file)
    return scan_environment(env, facts, fail_on=fail_on, pending=pending_slim(root))
