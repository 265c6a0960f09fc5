"""Running the checks over wheels: read each archive once, build a view, run every check.

Never prints. Several wheels run in parallel processes; the members of one big wheel are
read (decompressed, hashed, parsed) in shards of similar size, each in a forked process
where that is safe (``wheelfix.parallel``), else on threads (zlib and hashlib release the
GIL; parsing does not). ``WheelArchive`` reads with ``pread``, so a forked reader never
moves the file offset its parent reads at.
"""

from __future__ import annotations

import os
import posixpath
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from wheelfix.errors import InvalidWheelError, UsageError
from wheelfix.findings import Selection, Severity
from wheelfix.formats.bounded import MalformedInputError
from wheelfix.formats.elf import AR_MAGIC, ELF_MAGIC, CorruptElfError, ElfInfo, parse_elf
from wheelfix.formats.magic import is_macho, is_pe
from wheelfix.formats.record import digest as record_digest
from wheelfix.formats.wheelfile import TEXT_LIMIT, Limits, Member, WheelArchive
from wheelfix.linux.libraries import HostLibraries
from wheelfix.linux.loadable import interest_for
from wheelfix.linux.policy import blacklisted_symbols, parse_platform_tag, policies_for
from wheelfix.parallel import balance, map_balanced, run_sharded, worker_count
from wheelfix.wheels.checks import WheelView
from wheelfix.wheels.checks.integrity import record_algorithms
from wheelfix.wheels.checks.sbom import is_sbom_member

# Reading a wheel needs only the modules above. What evaluates it (wheels/evaluate.py: the
# checks, the result types) is imported once the wheel was read: a repair hands auditwheel
# its input at that point (``after_read``), and the imports then run beside auditwheel.
if TYPE_CHECKING:
    from wheelfix.formats.macho import MachOInfo
    from wheelfix.formats.pe import PeInfo
    from wheelfix.wheels.checks.contents import ContentRules
    from wheelfix.wheels.results import CheckReport, WheelResult

__all__ = ["CheckOptions", "check", "check_wheel"]

_DIST_INFO_TEXTS = ("RECORD", "WHEEL", "METADATA", "entry_points.txt")
_THREADED_MIN_BYTES = 8 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckOptions:
    target: str | None = None
    selection: Selection = field(default_factory=Selection.every)
    fail_on: Severity | None = Severity.ERROR
    jobs: int = 0
    limits: Limits = field(default_factory=Limits)
    ld_root: str = "/"
    #: the content checks' rules; ``None``: the defaults (see :meth:`content_rules`)
    contents: ContentRules | None = None
    #: soname patterns provided at run time by something else (``--exclude``)
    exclude: tuple[str, ...] = ()
    #: site-packages path of each shared library in the run's other wheels -> distribution
    siblings: Mapping[str, str] = field(default_factory=dict)

    def content_rules(self) -> ContentRules:
        """``contents``, or the default rules (imported only when a wheel is evaluated)."""
        if self.contents is not None:
            return self.contents
        from wheelfix.wheels.checks.contents import ContentRules  # noqa: PLC0415 - see imports

        return ContentRules()


def validate_target(target: str | None) -> None:
    from wheelfix.wheels.checks.native import is_native_target  # noqa: PLC0415 - see imports

    if target is None or is_native_target(target):
        return
    info = parse_platform_tag(target)
    if info is None or info.libc is None:
        raise UsageError(
            f"--target {target!r} is not a manylinux_X_Y_ARCH, musllinux_X_Y_ARCH, "
            "macosx_X_Y_ARCH or win32/win_amd64/win_arm64 tag"
        )
    if policies_for(info.libc, info.arch, info.base).by_tag(target) is None:
        raise UsageError(f"--target {target!r}: no such policy in auditwheel's data")


def _wants_text(name: str, dist_info: str) -> bool:
    if name.startswith(dist_info + "/"):
        return name[len(dist_info) + 1 :] in _DIST_INFO_TEXTS or is_sbom_member(name, dist_info)
    if name.endswith(".pth"):
        top = name.split("/")
        return len(top) == 1 or (
            len(top) == 3 and top[0].endswith(".data") and top[1] in ("purelib", "platlib")
        )
    return False


@dataclass(slots=True)
class _Scan:
    digests: dict[str, str] = field(default_factory=dict)
    other_digests: dict[str, tuple[str, str]] = field(default_factory=dict)
    elves: dict[str, ElfInfo] = field(default_factory=dict)
    elf_errors: dict[str, str] = field(default_factory=dict)
    static: set[str] = field(default_factory=set)
    texts: dict[str, str] = field(default_factory=dict)
    machos: dict[str, MachOInfo] = field(default_factory=dict)
    pes: dict[str, PeInfo] = field(default_factory=dict)
    macho_errors: dict[str, str] = field(default_factory=dict)
    pe_errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Row:
    """What one member contributes to the view."""

    name: str
    digest: str
    other_digest: tuple[str, str] | None
    elf: ElfInfo | None
    elf_error: str | None
    static: bool
    text: str | None
    macho: MachOInfo | None = None
    pe: PeInfo | None = None
    native_error: tuple[str, str] | None = None


#: Receives every member with its bytes while the check reads them (repair unpacks this
#: way, so the wheel is decompressed once). Called from several threads for big wheels.
MemberSink = Callable[[Member, bytes], None]


def _scan_member(
    archive: WheelArchive,
    member: Member,
    blacklisted: frozenset[str],
    algorithm: str | None,
    sink: MemberSink | None,
) -> _Row:
    data = archive.read(member)
    if sink is not None:
        sink(member, data)
    elf: ElfInfo | None = None
    error = None
    macho, pe, native_error = None, None, None
    if data[:4] == ELF_MAGIC:
        try:
            elf = parse_elf(data, interest=interest_for(member.name, blacklisted))
        except CorruptElfError as exc:
            error = str(exc)
    elif is_macho(data):
        from wheelfix.wheels.checks.native import read_macho  # noqa: PLC0415 - see imports

        macho, reason = read_macho(data)
        native_error = None if reason is None else ("macho", reason)
    elif is_pe(data):
        from wheelfix.wheels.checks.native import read_pe  # noqa: PLC0415 - see imports

        pe, reason = read_pe(data)
        native_error = None if reason is None else ("pe", reason)
    text = None
    if _wants_text(member.name, archive.dist_info) and member.size <= TEXT_LIMIT:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    # A relocatable object (.o) is never loaded: it is a build intermediate like an archive.
    relocatable = elf is not None and elf.elf_type == "ET_REL"
    return _Row(
        name=member.name,
        digest=record_digest(data),
        other_digest=(algorithm, record_digest(data, algorithm)) if algorithm else None,
        elf=None if relocatable else elf,
        elf_error=error,
        static=relocatable or data[:8] == AR_MAGIC,
        text=text,
        macho=macho,
        pe=pe,
        native_error=native_error,
    )


def _scan(archive: WheelArchive, threads: int, sink: MemberSink | None = None) -> _Scan:
    scan = _Scan()
    blacklisted = blacklisted_symbols()
    algorithms = record_algorithms(archive.read_text(archive.dist_info_path("RECORD")))
    members = archive.members

    def one(member: Member) -> _Row:
        return _scan_member(archive, member, blacklisted, algorithms.get(member.name), sink)

    def shard(indexes: list[int]) -> list[_Row]:
        return [one(members[i]) for i in indexes]

    sizes = [m.size for m in members]
    if threads < 2 or sum(sizes) < _THREADED_MIN_BYTES:
        rows = [one(m) for m in members]
    elif sink is None:
        # Shards of similar size, each read by its own forked process where that is safe
        # (parsing and bookkeeping then run on every core instead of under one GIL), else
        # on threads; rows come back in archive order either way.
        shards = balance(sizes, threads)
        by_index: dict[int, _Row] = {}
        for indexes, shard_rows in zip(shards, run_sharded(shard, shards), strict=True):
            by_index.update(zip(indexes, shard_rows, strict=True))
        rows = [by_index[i] for i in range(len(members))]
    else:
        # A sink must see every member in this process: threads, biggest member first so
        # that one huge library does not finish last on its own.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            rows = list(pool.map(one, sorted(members, key=lambda m: -m.size)))
    for row in rows:
        scan.digests[row.name] = row.digest
        if row.other_digest is not None:
            scan.other_digests[row.name] = row.other_digest
        if row.elf is not None:
            scan.elves[row.name] = row.elf
        if row.elf_error is not None:
            scan.elf_errors[row.name] = row.elf_error
        if row.static:
            scan.static.add(row.name)
        if row.text is not None:
            scan.texts[row.name] = row.text
        if row.macho is not None:
            scan.machos[row.name] = row.macho
        if row.pe is not None:
            scan.pes[row.name] = row.pe
        if row.native_error is not None:
            kind, reason = row.native_error
            (scan.macho_errors if kind == "macho" else scan.pe_errors)[row.name] = reason
    return scan


def check_wheel(
    path: str | os.PathLike[str],
    options: CheckOptions | None = None,
    *,
    host: HostLibraries | None = None,
    threads: int = 1,
    sink: MemberSink | None = None,
    after_read: Callable[[], None] | None = None,
) -> WheelResult:
    """Check one wheel. Unreadable or malformed input becomes a result with ``error`` set;
    never raises it, so the other wheels of a run are still reported. ``sink`` gets every
    member's bytes as they are read (see ``MemberSink``); what it got is only meaningful if
    the result has no ``error``. ``after_read`` runs once every member was read without
    error, before the wheel is evaluated (what it raises is raised)."""
    options = options or CheckOptions()
    display = os.fspath(path)
    filename = posixpath.basename(display.replace(os.sep, "/"))
    if not filename.lower().endswith(".whl"):
        from wheelfix.wheels.sdist import check_sdist, is_sdist  # noqa: PLC0415 - see imports

        if is_sdist(display):  # the content checks that apply to a source distribution
            result = check_sdist(display, options.content_rules(), options.limits)
            return replace(result, findings=tuple(options.selection.keep(result.findings)))
    try:
        with WheelArchive(Path(display), limits=options.limits) as archive:
            scan = _scan(archive, threads, sink)
            view = WheelView(
                path=display,
                name=archive.wheel_name,
                dist_info=archive.dist_info,
                file_size=archive.file_size,
                members=archive.members,
                digests=scan.digests,
                elves=scan.elves,
                elf_errors=scan.elf_errors,
                static_archives=frozenset(scan.static),
                texts=scan.texts,
                other_digests=scan.other_digests,
                machos=scan.machos,
                macho_errors=scan.macho_errors,
                pes=scan.pes,
                pe_errors=scan.pe_errors,
            )
    except (InvalidWheelError, MalformedInputError) as exc:
        return _unreadable(display, filename, exc)
    if after_read is not None:
        after_read()
    from wheelfix.wheels.evaluate import evaluate  # noqa: PLC0415 - see imports

    try:
        return evaluate(view, options, host or HostLibraries(options.ld_root))
    except (InvalidWheelError, MalformedInputError) as exc:
        return _unreadable(display, filename, exc)


def _unreadable(
    display: str, filename: str, exc: InvalidWheelError | MalformedInputError
) -> WheelResult:
    from wheelfix.wheels.results import WheelResult  # noqa: PLC0415 - see imports

    message = str(exc) if isinstance(exc, InvalidWheelError) else f"{display}: {exc}"
    return WheelResult(path=display, filename=filename, error=message)


def _file_size(name: str) -> int:
    try:
        return Path(name).stat().st_size
    except OSError:
        return 0  # reported by check_wheel


def shared_libraries_of(paths: Sequence[str]) -> dict[str, str]:
    """Shared libraries the given wheels install (site-packages path -> distribution name),
    read from each zip's central directory only. Unreadable wheels are skipped here; their
    own check reports them."""
    out: dict[str, str] = {}
    for path in paths:
        name = posixpath.basename(path.replace(os.sep, "/"))
        if not name.endswith(".whl") or name.count("-") not in (4, 5) or not Path(path).is_file():
            continue  # FIFOs and folders are never opened here
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.namelist()
        except (OSError, zipfile.BadZipFile, ValueError):
            continue
        for member in members[: Limits().max_members]:
            base = posixpath.basename(member)
            if base.endswith(".so") or ".so." in base:
                out.setdefault(member, canonicalize_name(name.split("-", 1)[0]))
    return out


def check(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    target: str | None = None,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    fail_on: Severity | str | None = Severity.ERROR,
    jobs: int = 0,
    limits: Limits | None = None,
    on_result: Callable[[WheelResult], None] | None = None,
    contents: ContentRules | None = None,
    exclude: Iterable[str] = (),
) -> CheckReport:
    """Check wheels and return a :class:`CheckReport` (results in input order).

    ``select``/``ignore`` take codes, code prefixes or check names; one that names no check
    raises :class:`~wheelfix.UsageError` before anything runs, and unselected checks do not
    run. ``jobs=0`` uses every core. Never prints; raises only
    :class:`~wheelfix.WheelfixError` (for options that make no sense — unreadable wheels are
    reported in the results).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    fail_on = Severity.gate(fail_on)
    validate_target(target)
    options = CheckOptions(
        target=target,
        selection=Selection.resolve(select, ignore),
        fail_on=fail_on,
        jobs=jobs,
        limits=limits or Limits(),
        contents=contents,
        exclude=tuple(exclude),
    )
    names = [os.fspath(p) for p in paths]
    if len(names) > 1:
        options = replace(options, siblings=shared_libraries_of(names))
    workers = worker_count(jobs)
    host = HostLibraries(options.ld_root)

    def one(name: str) -> WheelResult:
        # Every worker may use every core for its big members: when the small wheels are
        # done, the big one keeps all cores busy (decompression runs outside the GIL).
        return check_wheel(name, options, host=host, threads=workers)

    results = map_balanced(
        one, names, jobs=jobs, weights=[_file_size(n) for n in names], on_result=on_result
    )
    from wheelfix.wheels.results import CheckReport  # noqa: PLC0415 - see imports

    return CheckReport(results=tuple(results), fail_on=fail_on)
