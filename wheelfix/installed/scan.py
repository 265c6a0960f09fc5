"""Auditing an installed environment: where the megabytes are and what would break.

Every regular file is read once (on a few threads: hashing and reading release the GIL):
sha256 for RECORD drift and duplicate detection, the ELF reader for binaries. Findings use
the same codes as ``check`` where the meaning is the same (WF104, WF105, WF111, WF202,
WF301, WF302) and WF6xx for what only an installed tree has; content categories (tests,
sources, ...) are reported as bytes per distribution and as what slim would save.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from wheelfix.categories import classify
from wheelfix.findings import Check, Finding, Selection, Severity
from wheelfix.formats.strip import DEFAULT_LEVEL
from wheelfix.installed.reader import DEDUPE_MIN_SIZE, FileFacts, read_tree
from wheelfix.installed.tree import (
    JOURNAL_DIR,
    NO_DISTRIBUTIONS,
    Distribution,
    Environment,
    PendingSlim,
    default_site_packages,
    pending_slim,
)
from wheelfix.linux.libraries import HostLibraries
from wheelfix.linux.loadable import host_machine, unloadable
from wheelfix.reports import Report, findings_json
from wheelfix.units import human

__all__ = ["DistReport", "EnvReport", "FileFacts", "scan", "scan_environment"]

_UNOWNED = "<unowned>"
#: Smaller duplicate groups are counted in the dedupe saving but not reported one by one.
_DUPLICATE_FINDING_MIN = 64 * 1024


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
class EnvReport(Report):
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
        return self.gate(self.fail_on)

    def all_findings(self) -> Iterator[Finding]:
        yield from (f for d in self.distributions for f in d.findings)
        yield from self.findings

    def json_body(self) -> dict[str, object]:
        return {
            "root": self.root,
            "total": self.total,
            "savings": dict(self.savings),
            "duplicates": [{"size": s, "paths": list(p)} for s, p in self.duplicates],
            "distributions": [d.to_json() for d in self.distributions],
            "findings": findings_json(self.findings),
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _library_findings(facts: dict[str, FileFacts], host: HostLibraries) -> dict[str, list[Finding]]:
    """Per file: it cannot load on this machine, or needs a library found nowhere."""
    elves = {p: f.elf for p, f in facts.items() if f.elf is not None}
    return unloadable(elves, host, host_machine(host.root))


def scan_environment(
    env: Environment,
    facts: dict[str, FileFacts],
    *,
    host: HostLibraries | None = None,
    fail_on: Severity | None = Severity.ERROR,
    pending: PendingSlim | None = None,
) -> EnvReport:
    """The report on a tree already read: per distribution, then for the whole tree."""
    owners: dict[str, Distribution] = env.owner_of()
    by_dist: dict[str, list[str]] = defaultdict(list)
    for path in env.files:
        dist = owners.get(path)
        by_dist[dist.dist_info if dist else _UNOWNED].append(path)
    lib_findings = _library_findings(facts, host or HostLibraries(use_env=True))
    global_findings = _pending_findings(pending)
    duplicates, duplicate_findings = _duplicates(facts, owners)
    global_findings += duplicate_findings
    reports = []
    savings: dict[str, int] = defaultdict(int)
    for dist in [*env.distributions, None]:
        paths = by_dist.get(dist.dist_info if dist else _UNOWNED, [])
        if dist is None and not paths:
            continue
        report, categories, strip_saving = _distribution(
            env, dist, sorted(paths), facts, lib_findings
        )
        reports.append(report)
        if dist is not None and dist.has_record:
            for name, size in categories.items():
                savings[name] += size
            savings["strip"] += strip_saving
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


def _pending_findings(pending: PendingSlim | None) -> list[Finding]:
    if pending is None:
        return []
    message = pending.describe() + (
        "; files may change while they are read"
        if pending.running
        else "; until it is rolled back, those files are missing or changed (WF601)"
    )
    return [Finding(check=Check.INTERRUPTED_SLIM, path=JOURNAL_DIR, message=message)]


def _duplicates(
    facts: dict[str, FileFacts], owners: dict[str, Distribution]
) -> tuple[list[tuple[int, tuple[str, ...]]], list[Finding]]:
    """Byte-identical files, grouped, biggest saving first; only groups that span
    distributions are findings. Hard links to one file are one copy, not duplicates."""
    groups: dict[tuple[int, str], dict[tuple[int, int], str]] = defaultdict(dict)
    for path in sorted(p for p, f in facts.items() if f.sha256 and f.size > 0):
        fact = facts[path]
        groups[(fact.size, fact.sha256)].setdefault(fact.inode, path)
    duplicates = []
    findings = []
    for (size, _digest), by_inode in groups.items():
        paths = sorted(by_inode.values())
        if len(paths) < 2:
            continue
        duplicates.append((size, tuple(paths)))
        dists = {owners[p].name if p in owners else _UNOWNED for p in paths}
        if len(dists) > 1 and size * (len(paths) - 1) >= _DUPLICATE_FINDING_MIN:
            more = " …" if len(paths) > 3 else ""
            findings.append(
                Finding(
                    check=Check.DUPLICATE_FILES,
                    path=paths[0],
                    bytes=size * (len(paths) - 1),
                    message=f"{len(paths)} identical copies ({human(size)} each) in "
                    f"{', '.join(sorted(dists))}: {', '.join(paths[1:3])}{more}",
                )
            )
    duplicates.sort(key=lambda d: -d[0] * (len(d[1]) - 1))
    return duplicates, findings


def _distribution(
    env: Environment,
    dist: Distribution | None,
    paths: list[str],
    facts: dict[str, FileFacts],
    lib_findings: Mapping[str, list[Finding]],
) -> tuple[DistReport, dict[str, int], int]:
    """One distribution's report (``None``: the files no RECORD lists), its bytes per
    category and what stripping would save."""
    key = dist.dist_info if dist else _UNOWNED
    findings: list[Finding] = []
    categories: dict[str, int] = defaultdict(int)
    total = elf = debug = symtab = strip_saving = 0
    for path in paths:
        fact = facts[path]
        total += fact.size
        category = classify(path)
        if category is not None:
            categories[category.value] += fact.size
        if fact.elf is not None:
            strip_saving += fact.strip_tail.get(DEFAULT_LEVEL.value, 0)
            if fact.elf.elf_type != "ET_REL":
                elf += fact.size
                debug += fact.elf.debug_bytes
                symtab += fact.elf.symtab_bytes
        if fact.elf_error:
            findings.append(Finding(check=Check.CORRUPT_ELF, path=path, message=fact.elf_error))
        findings += lib_findings.get(path, [])
    if debug:
        message = f"{human(debug)} of DWARF debug info in its binaries"
        findings.append(Finding(check=Check.DEBUG_INFO, path=key, bytes=debug, message=message))
    if symtab:
        message = f"{human(symtab)} of static symbol tables"
        findings.append(Finding(check=Check.SYMBOL_TABLE, path=key, bytes=symtab, message=message))
    if dist is not None:
        findings += _record_findings(dist, facts)
    else:
        message = (
            f"{_count(len(paths), 'file')} no distribution's RECORD lists, "
            f"e.g. {', '.join(paths[:3])}"
        )
        if not env.distributions:
            message += f" — {NO_DISTRIBUTIONS}"
        findings.append(Finding(check=Check.UNOWNED_FILES, path=None, bytes=total, message=message))
    report = DistReport(
        name=dist.name if dist else _UNOWNED,
        version=dist.version if dist else "",
        dist_info=dist.dist_info if dist else None,
        files=len(paths),
        total=total,
        elf=elf,
        debug_info=debug,
        symbol_table=symtab,
        categories=dict(categories),
        findings=tuple(findings),
        verifiable=bool(dist and dist.has_record),
    )
    return report, categories, strip_saving


def _record_findings(dist: Distribution, facts: dict[str, FileFacts]) -> list[Finding]:
    if not dist.has_record:
        why = "has no RECORD" if dist.problem is None else f"cannot be read ({dist.problem})"
        return [
            Finding(
                check=Check.CANNOT_VERIFY,
                path=dist.dist_info,
                message=f"{dist.name} {why}: its files cannot be verified, "
                "and slim leaves it alone",
            )
        ]
    out = []
    outside = [r.path for r in dist.rows if not r.inside]
    if outside:
        out.append(
            Finding(
                check=Check.OUTSIDE_ROOT,
                path=dist.dist_info,
                message=f"{_count(len(outside), 'RECORD row')} outside the root, e.g. "
                f"{outside[0]}: reported, never modified",
            )
        )
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
        out.append(
            Finding(
                check=Check.RECORD_DRIFT,
                path=dist.dist_info,
                message=f"{_count(len(drifted), 'file')} {verb} from RECORD since "
                f"install, e.g. {', '.join(drifted[:3])}",
            )
        )
    return out


def scan(
    path: str | os.PathLike[str] | None = None,
    *,
    fail_on: Severity | str | None = Severity.ERROR,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    threads: int = 0,
    on_file: Callable[[int], None] | None = None,
) -> EnvReport:
    """Scan an installed environment (default: this interpreter's site-packages).

    ``select``/``ignore`` filter the findings as in :func:`wheelfix.check` (codes,
    prefixes or names; an unknown one raises :class:`~wheelfix.UsageError` first)."""
    selection = Selection.resolve(select, ignore)
    root = Path(path) if path is not None else default_site_packages()
    fail_on = Severity.gate(fail_on)
    env, facts = read_tree(root, threads=threads, on_file=on_file)
    report = scan_environment(env, facts, fail_on=fail_on, pending=pending_slim(root))
    return replace(
        report,
        distributions=tuple(
            replace(d, findings=tuple(selection.keep(d.findings))) for d in report.distributions
        ),
        findings=tuple(selection.keep(report.findings)),
    )
