"""The repair pipeline: audit, strip, graft (auditwheel), prune, rewrite, verify.

For one wheel::

    check  ->  unpack  ->  strip own ELF files  ->  auditwheel repair (only when a library
    must be grafted or the tag fixed)  ->  strip the grafted libraries  ->  note wheelfix in
    auditwheel's SBOM  ->  prune  ->  RECORD  ->  reproducible zip  ->  atomic write  ->
    check the output  ->  (runner proof)

For a builder-stage wheel, the strip and auditwheel's start come between the check's
reading and its verdict (:func:`_hand_over`): auditwheel works while the check evaluates,
and a verdict that refuses the wheel, or needs no auditwheel, kills that run.

The wheel's own files are stripped before auditwheel sees them. auditwheel grafts the
host's original libraries, so the SBOM it writes (``*.dist-info/sboms/auditwheel.cdx.json``,
PEP 770) names the distribution packages that own them; wheelfix's strip engine then cuts
the grafted copies inside the wheel (it handles files patchelf rewrote, unlike GNU strip:
auditwheel #716). Nothing is written for a wheel whose repair fails; the input is never
modified.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from wheelfix import __version__
from wheelfix.containment import ContainmentError, relative_parts
from wheelfix.errors import InvalidWheelError, ToolError, UsageError, WheelfixError
from wheelfix.findings import Finding, Severity
from wheelfix.formats.elf import ELF_MAGIC, CorruptElfError
from wheelfix.formats.strip import StripLevel, StripResult, strip_elf
from wheelfix.formats.wheelfile import Member, WheelArchive, parse_name
from wheelfix.formats.writer import (
    atomic_write_wheel,
    check_target,
    iter_files,
    pack,
    retag,
    write_member,
    write_record,
)
from wheelfix.linux.libraries import LIBPYTHON_RE, HostLibraries
from wheelfix.linux.policy import Libc, parse_platform_tag, policies_for
from wheelfix.parallel import map_balanced
from wheelfix.reports import Report
from wheelfix.wheels.audit import check_wheel
from wheelfix.wheels.auditwheel import (
    Auditwheel,
    Submitted,
    is_builder_wheel,
    standby_waiting,
    standing_by,
    submit_repair,
)
from wheelfix.wheels.checks.sbom import is_sbom_member, parse_sbom

# --keep-debug, --prune and --verify-in import their modules when asked: a repair of a
# small wheel is short enough for their import time to show.
if TYPE_CHECKING:
    from wheelfix.categories import Category
    from wheelfix.verify.runner import RunnerProof
    from wheelfix.wheels.results import WheelResult

__all__ = ["RepairOptions", "RepairReport", "RepairResult", "repair", "repair_wheel"]


class RepairError(WheelfixError):
    """The wheel cannot be repaired as asked (exit code 1): nothing is written for it.
    ``findings`` are the ones that stopped it, when there are any."""

    exit_code = 1

    def __init__(self, message: str, findings: Sequence[Finding] = ()) -> None:
        self.findings = tuple(findings)
        super().__init__(message)


#: After a repair these must be gone: a wheel that still has them did not get repaired.
_BLOCKING = frozenset({"WF101", "WF103", "WF104", "WF105", "WF109", "WF111", "WF201", "WF202"})
#: Libraries the user excluded on purpose are reported by these codes; they do not block.
_EXCLUDABLE = frozenset({"WF101", "WF201", "WF202"})
#: RECORD does not vouch for the files (missing, malformed, a hash or size that differs, a
#: file it does not list, ...): a repair would bless them with a fresh RECORD, so it is
#: refused unless ``allow_record_mismatch``.
_RECORD_MISMATCH = frozenset(f"WF50{n}" for n in range(1, 10))


@dataclass(frozen=True, slots=True, kw_only=True)
class RepairOptions:
    strip: StripLevel | None = None
    prune: frozenset[Category] = frozenset()
    plat: str = "auto"
    exclude: tuple[str, ...] = ()
    verify: bool = True
    verify_in: Path | None = None
    force: bool = False
    #: write what the strip removes into separate debug files under this folder
    keep_debug: Path | None = None
    allow_record_mismatch: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RepairResult:
    """What happened to one wheel."""

    input: str
    output: str | None = None
    error: str | None = None
    exit_code: int = 0
    size_in: int = 0
    size_out: int = 0
    tag_in: tuple[str, ...] = ()
    tag_out: tuple[str, ...] = ()
    auditwheel: bool = False
    grafted: dict[str, int] = field(default_factory=dict)
    stripped: dict[str, int] = field(default_factory=dict)
    strip_skipped: dict[str, str] = field(default_factory=dict)
    pruned: dict[str, int] = field(default_factory=dict)
    #: path or folder -> why ``--prune sources`` left it (read at run time)
    kept: dict[str, str] = field(default_factory=dict)
    remaining: tuple[Finding, ...] = ()
    proof: RunnerProof | None = None

    @property
    def status(self) -> str:
        return "error" if self.error is not None else "repaired"

    def to_json(self) -> dict[str, object]:
        return {
            "input": self.input,
            "output": self.output,
            "status": self.status,
            "error": None if self.error is None else {"message": self.error},
            "size_in": self.size_in,
            "size_out": self.size_out,
            "tags_in": list(self.tag_in),
            "tags_out": list(self.tag_out),
            "auditwheel": self.auditwheel,
            "grafted": dict(self.grafted),
            "stripped": dict(self.stripped),
            "strip_skipped": dict(self.strip_skipped),
            "pruned": dict(self.pruned),
            "kept": dict(self.kept),
            "remaining_findings": [f.to_json() for f in self.remaining],
            "proof": None if self.proof is None else self.proof.to_json(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RepairReport(Report):
    results: tuple[RepairResult, ...]

    @property
    def exit_code(self) -> int:
        return max((r.exit_code for r in self.results), default=0)

    def all_findings(self) -> Iterator[Finding]:
        return (f for r in self.results for f in r.remaining)

    def json_body(self) -> dict[str, object]:
        return {"results": [r.to_json() for r in self.results]}


def _needs_auditwheel(pre: WheelResult, plat: str) -> bool:
    """Graft or retag only when something asks for it; compliant wheels pass untouched."""
    if pre.tags is None or pre.tags.consistent is None:
        return False  # no binaries: a pure wheel
    if pre.external_libraries:
        return True
    if plat != "auto" and plat not in pre.tags.claimed:
        return True
    return any(
        info is not None and info.base == "linux"
        for info in (parse_platform_tag(t) for t in pre.tags.claimed)
    ) or any(f.code == "WF101" for f in pre.findings)


def _honest_platforms(pre: WheelResult, platforms: tuple[str, ...]) -> list[str] | None:
    """Platform tags without the ones the binaries do not satisfy; ``None`` if all are honest.

    auditwheel adds the tag it reached but keeps an overclaiming one it was given
    (``manylinux_2_17`` on a binary that needs glibc 2.25 stays); a repaired wheel must not.
    """
    if pre.tags is None or pre.tags.repairable is None or pre.libc is None or pre.arch is None:
        return None
    policies = policies_for(Libc(pre.libc), pre.arch)
    reachable = policies.by_tag(pre.tags.repairable)
    if reachable is None:
        return None
    keep = []
    for tag in platforms:
        policy = policies.by_tag(tag)
        if policy is not None and not policy.is_linux and policy.priority > reachable.priority:
            continue
        keep.append(tag)
    if len(keep) == len(platforms):
        return None
    return keep or [reachable.name]


def _strip_one(data: bytes, level: StripLevel, keep_debug: Path | None, name: str) -> StripResult:
    if keep_debug is None:
        return strip_elf(data, level)
    from wheelfix.formats.debuglink import strip_keeping_debug  # noqa: PLC0415 - see imports

    return strip_keeping_debug(data, level, keep_debug, name)


def _strip_tree(
    root: Path,
    level: StripLevel,
    skipped: dict[str, str],
    keep_debug: Path | None,
    only: frozenset[str] | None = None,
) -> dict[str, int]:
    saved: dict[str, int] = {}
    for path in iter_files(root):
        if only is not None and path.relative_to(root).as_posix() not in only:
            continue
        with path.open("rb") as fh:
            if fh.read(4) != ELF_MAGIC:
                continue
        rel = path.relative_to(root).as_posix()
        try:
            result = _strip_one(path.read_bytes(), level, keep_debug, rel)
        except CorruptElfError as exc:  # the safety checks refused the rewrite
            skipped[rel] = f"left alone: {exc}"
            continue
        if result.skipped:
            skipped[rel] = result.skipped
        if result.data is not None:
            mode = path.stat().st_mode
            path.write_bytes(result.data)
            path.chmod(mode)
            saved[rel] = result.saved
    return saved


def _relative_files(root: Path) -> frozenset[str]:
    return frozenset(p.relative_to(root).as_posix() for p in iter_files(root))


def _grafted_sizes(pre: WheelResult, options: RepairOptions) -> dict[str, int]:
    """The host libraries auditwheel will graft, as they are (their owner package is known).

    A soname comes from the wheel: one that is not a plain file name (a path in DT_NEEDED)
    is refused before auditwheel runs."""
    sizes: dict[str, int] = {}
    for soname, where in pre.external_library_paths.items():
        if where is None or any(fnmatch.fnmatch(soname, e) for e in options.exclude):
            continue
        _plain_soname(soname)
        sizes[soname] = Path(where).stat().st_size
    return sizes


def _strip_grafted(
    work: Path, before: frozenset[str], options: RepairOptions, skipped: dict[str, str]
) -> dict[str, int]:
    """Strip what auditwheel added (the ``<name>.libs/`` copies), after patchelf rewrote them.

    auditwheel grafted the original files, so the SBOM it wrote names their owner packages;
    our strip engine keeps every loaded segment's bytes and alignment on patchelf's output.
    """
    if options.strip is None:
        return {}
    added = _relative_files(work) - before
    return _strip_tree(work, options.strip, skipped, options.keep_debug, only=added)


def _sbom_files(work: Path, dist_info: str) -> dict[Path, bytes]:
    """The SBOM documents in an unpacked wheel (regular files only), with their bytes."""
    folder = work / dist_info / "sboms"
    if not folder.is_dir() or folder.is_symlink():
        return {}
    return {
        path: path.read_bytes()
        for path in sorted(folder.iterdir())
        if is_sbom_member(f"{dist_info}/sboms/{path.name}", dist_info)
        and not path.is_symlink()
        and path.is_file()
    }


def _note_in_sbom(
    work: Path, dist_info: str, before: dict[Path, bytes], renamed: tuple[str, str]
) -> None:
    """Name wheelfix in ``metadata.tools`` of the SBOMs auditwheel wrote in this run
    (CycloneDX allows several tools; wheelfix strips the grafted files after auditwheel
    described them, and re-packs the wheel).

    ``renamed`` is (auditwheel's output filename, ours): when the tags were made honest,
    the wheel's own purl (``pkg:pypi/NAME@VERSION?file_name=...``) names the final file.
    SBOMs the input carried and auditwheel left alone stay byte for byte as they were, as
    does a document :func:`parse_sbom` cannot read; the library components are never
    touched."""
    for path, data in _sbom_files(work, dist_info).items():
        if before.get(path) == data:
            continue
        parsed = parse_sbom(f"{dist_info}/sboms/{path.name}", data)
        if parsed.error is not None or parsed.tools[:1] != ("auditwheel",):
            continue  # not the document auditwheel writes
        if "wheelfix" in parsed.tools:
            continue
        names = (f"file_name={quote(n, safe='')}" for n in renamed)
        doc: Any = _renamed(json.loads(data), *names)
        tools = doc["metadata"]["tools"]
        entry = {"name": "wheelfix", "version": __version__}
        if isinstance(tools, dict):  # CycloneDX 1.5+: tools is {"components": [...]}
            tools["components"].append({"type": "application", **entry})
        else:
            tools.append(entry)
        path.write_text(json.dumps(doc), encoding="utf-8")


def _renamed(value: object, old: str, new: str) -> object:
    """``value`` (parsed JSON) with ``old`` replaced by ``new`` inside every string."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_renamed(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _renamed(v, old, new) for k, v in value.items()}
    return value


def _plain_soname(soname: str) -> None:
    """``RepairError`` unless ``soname`` is one plain file name (``libfoo.so.1``)."""
    try:
        parts = relative_parts(soname)
    except ContainmentError as exc:
        parts = (exc.reason, "")
    if len(parts) != 1:
        raise RepairError(
            f"cannot graft {soname!r}: a DT_NEEDED entry that is a path, not a soname (the "
            "extension was linked against a library file without a SONAME); relink it "
            "against a library built with -Wl,-soname,libNAME.so.N, or --exclude it"
        )


def _refuse_record_mismatch(pre: WheelResult, options: RepairOptions) -> None:
    """A wheel whose RECORD does not vouch for its files is not repaired: the fresh RECORD
    a repair writes would bless whatever changed (exit 1, the findings named)."""
    if options.allow_record_mismatch:
        return
    found = [f for f in pre.findings if f.code in _RECORD_MISMATCH and f.level is Severity.ERROR]
    if not found:
        return
    listed = "; ".join(f"{f.code} {f.path}: {f.message}" for f in found[:3])
    more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
    raise RepairError(
        f"RECORD does not match the wheel's files: {listed}{more}. A repair would write a "
        "fresh RECORD that vouches for them; rebuild the wheel, or pass "
        "--allow-record-mismatch if you trust its content",
        found,
    )


def _refuse_unreachable_plat(pre: WheelResult, plat: str) -> None:
    """``--plat`` below what the binaries can reach is exit 1 naming the tag they reach,
    before auditwheel is asked (it would fail with its usage text)."""
    if plat == "auto" or pre.tags is None or pre.libc is None or pre.arch is None:
        return
    policies = policies_for(Libc(pre.libc), pre.arch)
    asked = policies.by_tag(plat)
    if asked is None:
        return  # not a tag of this libc and architecture: auditwheel says what is wrong
    reachable = policies.by_tag(pre.tags.repairable) if pre.tags.repairable else None
    best = reachable.name if reachable is not None else policies.linux.name
    if asked.priority <= (reachable.priority if reachable is not None else 0):
        return
    why = [f.message for f in pre.findings if f.code == "WF101"]
    raise RepairError(
        f"--plat {plat}: the binaries reach {best} at best"
        + (f" ({why[0]})" if why else "")
        + f"; use --plat {best} or --plat auto",
        [f for f in pre.findings if f.code == "WF101"],
    )


def repair_wheel(
    path: str | os.PathLike[str], out_dir: str | os.PathLike[str], options: RepairOptions
) -> RepairResult:
    """Repair one wheel into ``out_dir``; failures become a result with ``error`` set."""
    display = os.fspath(path)
    try:
        return _repair(Path(display), Path(out_dir), options)
    except RepairError as exc:
        return RepairResult(input=display, error=str(exc), exit_code=1, remaining=exc.findings)
    except InvalidWheelError as exc:
        return RepairResult(input=display, error=str(exc), exit_code=2)
    except ToolError as exc:
        return RepairResult(input=display, error=str(exc), exit_code=3)
    except WheelfixError as exc:
        return RepairResult(input=display, error=str(exc), exit_code=exc.exit_code)


@dataclass(slots=True)
class _Unpacked:
    """The input, unpacked under ``work`` while the check read it (the wheel is decompressed
    once, not twice), with the members whose bytes start with ELF's magic (the only ones a
    strip reads again), and what was done to it before the check's verdict."""

    work: Path
    elves: set[str] = field(default_factory=set)
    #: the strip of the wheel's own files, when it is done (``None``: not yet)
    stripped: dict[str, int] | None = None
    #: auditwheel's input, packed before the verdict (see :func:`_hand_over`)
    packed: Path | None = None
    #: auditwheel's command line, handed over before the verdict (``None``: not, or no
    #: child took it)
    submitted: Submitted | None = None

    def unpack(self, member: Member, data: bytes) -> None:  # maybe on several threads
        write_member(self.work, member, data)
        if data[:4] == ELF_MAGIC:
            self.elves.add(member.name)

    def strip(self, options: RepairOptions, skipped: dict[str, str]) -> dict[str, int]:
        if self.stripped is None:
            self.stripped = (
                _strip_tree(
                    self.work,
                    options.strip,
                    skipped,
                    options.keep_debug,
                    only=frozenset(self.elves),
                )
                if options.strip
                else {}
            )
        return self.stripped


def _hand_over(
    unpacked: _Unpacked, path: Path, tmp: Path, options: RepairOptions, skipped: dict[str, str]
) -> Callable[[], None] | None:
    """What to do between the check's reading of a builder-stage wheel and its verdict: strip
    the wheel's own files, pack auditwheel's input and hand it to the child standing by
    (:func:`submit_repair`), so that auditwheel works while the check evaluates the wheel.

    Only where a child waits, the file name says the wheel comes from a builder
    (``linux_*``: auditwheel will almost surely be needed) and nothing would be written
    outside the temporary folder before the verdict (no ``--keep-debug``). A verdict that
    refuses the wheel, or needs no auditwheel, cancels the command (:func:`_repair`);
    auditwheel only ever reads the wheel wheelfix packed from what it unpacked."""
    if options.keep_debug is not None or not is_builder_wheel(path.name) or not standby_waiting():
        return None

    def prepare() -> None:
        unpacked.strip(options, skipped)
        unpacked.packed = _pack_plain(unpacked.work, tmp, path.name)
        unpacked.submitted = submit_repair(
            unpacked.packed, _fresh(tmp / "after"), plat=options.plat, exclude=options.exclude
        )

    return prepare


def _repair(path: Path, out_dir: Path, options: RepairOptions) -> RepairResult:
    with tempfile.TemporaryDirectory(prefix="wheelfix-repair-") as tmp:
        work = Path(tmp) / "wheel"
        work.mkdir()
        unpacked = _Unpacked(work)
        try:
            return _repair_unpacked(path, out_dir, options, unpacked)
        finally:
            if unpacked.submitted is not None:
                unpacked.submitted.cancel()  # a no-op once auditwheel's outcome was taken


def _repair_unpacked(
    path: Path, out_dir: Path, options: RepairOptions, unpacked: _Unpacked
) -> RepairResult:
    skipped: dict[str, str] = {}
    work = unpacked.work
    tmp = work.parent
    # One view of this host's libraries for both checks, before and after (read once).
    host = HostLibraries()
    pre = check_wheel(
        path,
        host=host,
        sink=unpacked.unpack,
        after_read=_hand_over(unpacked, path, tmp, options, skipped),
    )
    if pre.error is not None:
        raise InvalidWheelError(str(path), pre.error.split(": ", 1)[-1])
    _refuse_record_mismatch(pre, options)
    tags = pre.tags
    if tags is None:  # pragma: no cover - a readable wheel always has tags
        raise InvalidWheelError(str(path), "no tags")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    if path.resolve().parent == out_dir.resolve():
        raise UsageError(f"{out_dir}: the output folder must differ from the input's folder")
    dist_info = _dist_info_of(work)
    stripped = dict(unpacked.strip(options, skipped))
    filename = path.name
    grafted: dict[str, int] = {}
    ran_auditwheel = _needs_auditwheel(pre, options.plat)
    if not ran_auditwheel and unpacked.submitted is not None:
        unpacked.submitted.cancel()  # handed over for nothing: stop it now
    sboms = _sbom_files(work, dist_info)  # as the input had them
    if ran_auditwheel:
        _refuse_unreachable_plat(pre, options.plat)
        before = _relative_files(work)
        filename, grafted, dist_info = _graft(pre, unpacked, filename, options)
        stripped.update(_strip_grafted(work, before, options, skipped))
    grafted_name = filename
    honest = _honest_platforms(pre, parse_name(filename, filename).platforms)
    if honest is not None:
        filename = retag(work, dist_info, filename, honest)
    if ran_auditwheel:
        _note_in_sbom(work, dist_info, sboms, (grafted_name, filename))
    pruned, kept = _prune(work, options.prune)
    write_record(work, dist_info)
    parse_name(filename, filename)  # never write under a name we did not validate
    out = out_dir / filename
    check_target(out, force=options.force)
    # Written and verified under a private folder beside the target, then renamed: a
    # repair that fails verification leaves the target exactly as it was.
    staging = Path(tempfile.mkdtemp(prefix=".wheelfix-", dir=out_dir))
    try:
        staged = staging / filename
        size_out = atomic_write_wheel(work, dist_info, staged, force=True)
        result = RepairResult(
            input=str(path),
            output=str(out),
            size_in=path.stat().st_size,
            size_out=size_out,
            tag_in=tags.claimed,
            tag_out=parse_name(filename, filename).platforms,
            auditwheel=ran_auditwheel,
            grafted=grafted,
            stripped=stripped,
            strip_skipped=skipped,
            pruned=pruned,
            kept=kept,
        )
        result = _verify(result, staged, options, host)
        if result.error is None:
            check_target(out, force=options.force)  # another run may have written it
            staged.replace(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _prune(work: Path, categories: frozenset[Category]) -> tuple[dict[str, int], dict[str, str]]:
    """Remove what ``categories`` select: (path -> size removed, path -> why kept)."""
    if not categories:
        return {}, {}
    from wheelfix.wheels.prune import apply_plan, prune_plan  # noqa: PLC0415 - see imports

    plan = prune_plan(work, categories)
    apply_plan(work, plan.items)
    return {i.path: i.size for i in plan.items}, plan.kept


def _categories(prune: Iterable[str]) -> frozenset[Category]:
    values = list(prune)
    if not values:
        return frozenset()
    from wheelfix.wheels.prune import parse_categories  # noqa: PLC0415 - see imports

    return parse_categories(values)


def _graft(
    pre: WheelResult, unpacked: _Unpacked, filename: str, options: RepairOptions
) -> tuple[str, dict[str, int], str]:
    work = unpacked.work
    tmp = work.parent
    missing = [
        soname
        for soname, where in pre.external_library_paths.items()
        if where is None
        and not any(fnmatch.fnmatch(soname, e) for e in options.exclude)
        and not LIBPYTHON_RE.match(soname)
    ]
    if missing:
        raise RepairError(
            f"cannot graft {', '.join(missing)}: not found on this host; install it (its "
            "runtime package) where you repair, set LD_LIBRARY_PATH, or --exclude it"
        )
    grafted = _grafted_sizes(pre, options)
    submitted = unpacked.submitted
    # Packed already when it was handed over (the tree has not changed since).
    before = unpacked.packed or _pack_plain(work, tmp, filename)
    after = tmp / "after"
    if not after.is_dir():
        after.mkdir()
    produced = Auditwheel.find(submitted).repair(
        before,
        after,
        plat=options.plat,
        exclude=options.exclude,
        submitted=submitted,
    )
    with WheelArchive(produced) as archive:
        _update_tree(archive, work)
        dist_info = archive.dist_info
    kept = {
        k: v
        for k, v in grafted.items()
        if not any(fnmatch.fnmatch(k, pattern) for pattern in options.exclude)
    }
    return produced.name, kept, dist_info


def _update_tree(archive: WheelArchive, root: Path) -> None:
    """Make ``root`` (the tree auditwheel's input was packed from) hold exactly the members
    of ``archive`` (its output), as unpacking into an empty folder would.

    Most members come back byte for byte as they went in and are left alone: creating files
    is the slow part of unpacking. The others are written again, and files the archive does
    not have are removed with the folders that become empty."""
    stale = {path.relative_to(root).as_posix(): path for path in iter_files(root)}
    for member in archive.members:
        data = archive.read(member)
        path = stale.pop(member.name, None)
        if path is not None:
            if path.read_bytes() == data and _executable(path) == member.executable:
                continue
            path.unlink()
        write_member(root, member, data)
    for path in stale.values():
        path.unlink()
    for name, _, _ in os.walk(root, topdown=False):  # deepest first
        folder = Path(name)
        if folder != root and not any(folder.iterdir()):
            folder.rmdir()


def _executable(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o111)


def _dist_info_of(root: Path) -> str:
    """The one ``*.dist-info`` folder of an unpacked, checked wheel (a *file* with that
    suffix is allowed beside it, as the wheel reader allows it)."""
    return next(
        p.name for p in sorted(root.iterdir()) if p.name.endswith(".dist-info") and p.is_dir()
    )


def _pack_plain(root: Path, tmp: Path, filename: str) -> Path:
    """A temporary wheel for auditwheel to read (RECORD rewritten: we may have stripped),
    written as ``tmp/before/FILENAME``.

    Not compressed (auditwheel reads it once) and not flushed to disk: it lives in our own
    temporary folder and is never an output, so the atomic write's ``fsync`` buys nothing."""
    dist_info = _dist_info_of(root)
    write_record(root, dist_info)
    out = _fresh(tmp / "before") / filename
    with out.open("xb") as fh:
        pack(root, dist_info, fh, level=0)
    return out


def _fresh(folder: Path) -> Path:
    """``folder``, created now (it must not exist: each run of a repair makes its own)."""
    folder.mkdir()
    return folder


def _verify(
    result: RepairResult, out: Path, options: RepairOptions, host: HostLibraries
) -> RepairResult:
    problems: list[Finding] = []
    post_findings: tuple[Finding, ...] = ()
    if options.verify:
        post = check_wheel(out, host=host)
        post_findings = post.findings
        # Any integrity error (WF5xx) means we wrote a broken wheel; the rest must be gone.
        problems = [
            f
            for f in post.findings
            if f.code in _BLOCKING or (f.code.startswith("WF5") and f.level is Severity.ERROR)
        ]
        excluded = [
            s
            for s in post.external_libraries
            if any(fnmatch.fnmatch(s, pattern) for pattern in options.exclude)
        ]
        if excluded and len(excluded) == len(post.external_libraries):
            problems = [f for f in problems if f.code not in _EXCLUDABLE]
        if options.strip is not None:
            problems += [
                f
                for f in post.findings
                if f.code in ("WF301", "WF302")
                and f.path not in result.strip_skipped
                and (f.code == "WF301" or options.strip is not StripLevel.DEBUG)
            ]
    proof = None
    if options.verify_in is not None:
        try:
            from wheelfix.verify.runner import prove_in_root  # noqa: PLC0415 - see imports

            proof = prove_in_root(out, options.verify_in)
        except WheelfixError:
            out.unlink(missing_ok=True)  # the proof could not run: nothing is written
            raise
    if not problems and (proof is None or proof.ok):
        return dataclasses.replace(result, remaining=post_findings, proof=proof)
    out.unlink(missing_ok=True)  # the staged copy: a failed repair writes nothing
    reasons = [f"{f.code} {f.path}: {f.message}" for f in problems]
    if proof is not None and not proof.ok:
        reasons.append(f"runner proof failed: {proof.detail}")
    return dataclasses.replace(
        result,
        output=None,
        error="output failed verification: " + "; ".join(reasons[:3]),
        exit_code=1,
        remaining=tuple(problems),
        proof=proof,
    )


def repair(
    wheels: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    strip: StripLevel | str | None = None,
    prune: Iterable[str] = (),
    plat: str = "auto",
    exclude: Iterable[str] = (),
    verify: bool = True,
    verify_in: str | os.PathLike[str] | None = None,
    force: bool = False,
    keep_debug: str | os.PathLike[str] | None = None,
    allow_record_mismatch: bool = False,
    jobs: int = 0,
    on_result: Callable[[RepairResult], None] | None = None,
) -> RepairReport:
    """Repair wheels into ``out_dir``. Never prints; one wheel's failure leaves the others.

    A wheel whose RECORD does not match its files is refused (exit 1) unless
    ``allow_record_mismatch``: the repaired wheel's fresh RECORD would vouch for them."""
    if isinstance(wheels, (str, os.PathLike)):
        wheels = [wheels]
    if isinstance(strip, str):
        try:
            strip = StripLevel.parse(strip)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    options = RepairOptions(
        strip=strip,
        prune=_categories(prune),
        plat=plat,
        exclude=tuple(exclude),
        verify=verify,
        verify_in=Path(verify_in) if verify_in is not None else None,
        force=force,
        keep_debug=Path(keep_debug) if keep_debug is not None else None,
        allow_record_mismatch=allow_record_mismatch,
    )
    if options.keep_debug is not None and options.strip is None:
        raise UsageError("--keep-debug keeps what --strip removes: give --strip too")
    names = [os.fspath(w) for w in wheels]
    # Threads (the concurrency policy in parallel.py): the heavy parts (zlib, auditwheel,
    # patchelf) run outside the GIL, and a repair is never redone over its own output.
    # auditwheel's import starts now, beside the first wheel's check and strip.
    with standing_by(names):
        results = map_balanced(
            lambda w: repair_wheel(w, out_dir, options),
            names,
            jobs=jobs,
            processes=False,
            on_result=on_result,
        )
    return RepairReport(results=tuple(results))
