"""Auditing an installed environment: where the megabytes are and what would break.

Every regular file is read once (on a few threads: hashing and reading release the GIL):
sha256 for RECORD drift and duplicate detection, the ELF reader for binaries. Findings use
the same codes as ``check`` where the meaning is the same (WF104, WF105, WF111, WF202,
WF301, WF302) and WF6xx for what only an installed tree has; content categories (tests,
sources, ...) are reported as bytes per distribution and as what slim would save.
"""

from __future__ import annotations

import base64
import hashlib
import os
import platform
import posixpath
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from wheelfix import __version__
from wheelfix.categories import classify
from wheelfix.checks.platform import extension_module_name, interest_for
from wheelfix.elf import ELF_MAGIC, CorruptElfError, ElfInfo, parse_elf, read_layout
from wheelfix.env import Distribution, Environment, default_site_packages, read_environment
from wheelfix.findings import Check, Finding, Severity
from wheelfix.policy import blacklisted_symbols
from wheelfix.resolve import LIBPYTHON_RE, HostLibraries, resolve_tree
from wheelfix.results import SCHEMA_VERSION
from wheelfix.strip import StripLevel, disk_saving
from wheelfix.units import human

__all__ = ["DistReport", "EnvReport", "FileFacts", "scan", "scan_environment"]

_UNOWNED = "<unowned>"
#: Smaller duplicate groups are counted in the dedupe saving but not reported one by one.
_DUPLICATE_FINDING_MIN = 64 * 1024
#: Files smaller than this are never deduplicated: a hard link saves less than it confuses.
DEDUPE_MIN_SIZE = 4096
_HOST_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}.get(
    platform.machine().lower(), platform.machine()
)


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What one read of a file told us."""

    size: int
    sha256: str
    elf: ElfInfo | None
    elf_error: str | None
    inode: tuple[int, int] = (0, 0)
    #: permission bits, owner and group: identical content with another mode is not a duplicate
    mode: tuple[int, int, int] = (0, 0, 0)
    #: strip level -> bytes the file would shrink by (see strip.disk_saving)
    strip_tail: dict[str, int] = field(default_factory=dict)


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
        if self.fail_on is None:
            return 0
        levels = [f.level for d in self.distributions for f in d.findings]
        levels += [f.level for f in self.findings]
        return 1 if any(level >= self.fail_on for level in levels) else 0

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


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _slurp(path: str) -> tuple[bytes, os.stat_result]:
    """A whole file, unbuffered and without following a symlink: pathlib and buffered
    files cost more than the read itself on thousands of small files (bench/RESULTS.md)."""
    with open(path, "rb", buffering=0, opener=_no_follow) as fh:
        return fh.readall(), os.fstat(fh.fileno())


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def _read(root: str, rel: str, blacklisted: frozenset[str]) -> FileFacts:
    try:
        data, st = _slurp(f"{root}/{rel}")
    except OSError:
        return FileFacts(0, "", None, None)  # vanished or unreadable: nothing to report
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
    digest = _b64(hashlib.sha256(data).digest())
    return FileFacts(
        len(data), digest, elf, error, (st.st_dev, st.st_ino), (st.st_mode & 0o7777, st.st_uid,
        st.st_gid), tail,
    )  # fmt: skip


def read_facts(
    env: Environment, *, threads: int = 0, on_file: Callable[[int], None] | None = None
) -> dict[str, FileFacts]:
    """Read every file once. Work goes out in batches of similar total size: one task per
    file costs more in thread hand-offs than small files take to read."""
    blacklisted = blacklisted_symbols()
    root = os.fspath(env.root)
    workers = threads or min(4, os.cpu_count() or 1)
    names = sorted(env.files, key=lambda n: -env.files[n])
    batches: list[list[str]] = [[] for _ in range(max(1, workers * 8))]
    loads = [0] * len(batches)
    for name in names:  # biggest first onto the least-loaded batch
        i = loads.index(min(loads))
        batches[i].append(name)
        loads[i] += env.files[name] + 4096

    def run(batch: list[str]) -> list[tuple[str, FileFacts]]:
        return [(n, _read(root, n, blacklisted)) for n in batch]

    facts: dict[str, FileFacts] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for results in pool.map(run, batches):
            for name, fact in results:
                facts[name] = fact
                if on_file is not None:
                    on_file(fact.size)
    return facts


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
                    message=f"needs {soname} (needed by {who}): found neither in the "
                    "environment nor on this system, so importing it fails",
                ))  # fmt: skip
    return out


def scan_environment(
    env: Environment,
    facts: dict[str, FileFacts],
    *,
    host: HostLibraries | None = None,
    fail_on: Severity | None = Severity.ERROR,
) -> EnvReport:
    owners: dict[str, Distribution] = env.owner_of()
    by_dist: dict[str, list[str]] = defaultdict(list)
    for path in env.files:
        dist = owners.get(path)
        by_dist[dist.dist_info if dist else _UNOWNED].append(path)
    lib_findings = _library_findings(env, facts, host or HostLibraries(use_env=True))
    global_findings: list[Finding] = []

    # Byte-identical files, grouped; only groups that span distributions are findings.
    groups: dict[tuple[int, str], dict[tuple[int, int], str]] = defaultdict(dict)
    for path, fact in sorted(facts.items()):
        if fact.size > 0 and fact.sha256:
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
        elf = debug = symtab = 0
        for path in sorted(paths):
            fact = facts[path]
            category = classify(path)
            if category is not None:
                categories[category.value] += fact.size
            if fact.elf is not None and fact.elf.elf_type != "ET_REL":
                elf += fact.size
                debug += fact.elf.debug_bytes
                symtab += fact.elf.symtab_bytes
            if fact.elf_error:
                findings.append(Finding(check=Check.CORRUPT_ELF, path=path, message=fact.elf_error))
            findings += lib_findings.get(path, [])
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
            findings.append(Finding(check=Check.UNOWNED_FILES, path=None,
                                    bytes=sum(facts[p].size for p in paths),
                                    message=f"{len(paths)} files no distribution's RECORD lists, "
                                    f"e.g. {', '.join(sorted(paths)[:3])}"))  # fmt: skip
        for name, size in categories.items():
            if dist is not None and dist.has_record:
                savings[name] += size
        if dist is not None and dist.has_record:
            savings["strip"] += sum(facts[p].strip_tail.get("unneeded", 0) for p in paths)
        reports.append(DistReport(
            name=dist.name if dist else _UNOWNED, version=dist.version if dist else "",
            dist_info=dist.dist_info if dist else None, files=len(paths),
            total=sum(facts[p].size for p in paths), elf=elf, debug_info=debug,
            symbol_table=symtab, categories=dict(categories), findings=tuple(findings),
            verifiable=bool(dist and dist.has_record),
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
        return [Finding(check=Check.CANNOT_VERIFY, path=dist.dist_info,
                        message=f"{dist.name} has no RECORD: its files cannot be verified, "
                        "and slim leaves it alone")]  # fmt: skip
    out = []
    outside = [r.path for r in dist.rows if not r.inside]
    if outside:
        out.append(Finding(check=Check.OUTSIDE_ROOT, path=dist.dist_info,
                           message=f"{len(outside)} RECORD rows outside the root, e.g. "
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
        out.append(Finding(check=Check.RECORD_DRIFT, path=dist.dist_info,
                           message=f"{len(drifted)} files differ from RECORD since install, "
                           f"e.g. {', '.join(drifted[:3])}"))  # fmt: skip
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
    env = read_environment(root)
    facts = read_facts(env, threads=threads, on_file=on_file)
    return scan_environment(env, facts, fail_on=fail_on)
