"""Evaluating a wheel that was read: every check over its view, and the result.

Imported by :func:`wheelfix.wheels.audit.check_wheel` once the wheel was read, so that
reading does not wait for these modules (a repair hands auditwheel its input in between).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wheelfix.linux.loadable import is_extension
from wheelfix.wheels.checks import WheelView
from wheelfix.wheels.checks.debug import strip_savings
from wheelfix.wheels.checks.integrity import check_metadata
from wheelfix.wheels.checks.macos import analyze_macos
from wheelfix.wheels.checks.native import NativeVerdict, foreign_findings
from wheelfix.wheels.checks.platform import analyze_platform
from wheelfix.wheels.checks.sbom import read_sboms
from wheelfix.wheels.checks.windows import analyze_windows
from wheelfix.wheels.registry import WHEEL_CHECKS
from wheelfix.wheels.results import (
    ElfSummary,
    MachOSummary,
    PeSummary,
    Sizes,
    Tags,
    WheelResult,
)

if TYPE_CHECKING:
    from wheelfix.linux.libraries import HostLibraries
    from wheelfix.wheels.audit import CheckOptions

__all__ = ["evaluate"]


def evaluate(view: WheelView, options: CheckOptions, host: HostLibraries) -> WheelResult:
    """The result of every selected check on ``view``."""
    metadata, findings = check_metadata(view)
    verdict = analyze_platform(
        view,
        host,
        target=options.target,
        root_is_purelib=metadata.root_is_purelib,
        exclude=options.exclude,
        siblings={k: v for k, v in options.siblings.items() if v != view.name.name},
    )
    findings += verdict.findings
    native = _native(view, options.target)
    findings += native.findings
    rules = options.content_rules()
    for registered in WHEEL_CHECKS:
        if options.selection.any_of(registered.codes):
            findings += registered.run(view, rules)
    kept = sorted(
        options.selection.keep(findings),
        key=lambda f: (-f.level, f.code, f.path or ""),
    )
    elves = view.elves
    sizes = Sizes(
        compressed=view.file_size,
        uncompressed=sum(m.size for m in view.members),
        elf=sum(e.file_size for e in elves.values()),
        debug_info=sum(e.debug_bytes for e in elves.values()),
        symbol_table=sum(e.symtab_bytes for e in elves.values()),
    )
    return WheelResult(
        path=view.path,
        filename=view.name.filename,
        tags=Tags(
            claimed=view.name.platforms,
            wheel_file=metadata.tags,
            consistent=verdict.consistent,
            repairable=verdict.repairable,
            native_consistent=native.consistent,
        ),
        libc=verdict.libc,
        arch=verdict.arch or native.arch,
        external_libraries={**verdict.external_libraries, **native.external_libraries},
        external_library_paths={**verdict.external_paths, **native.external_paths},
        sizes=sizes,
        strip_savings=strip_savings(view),
        elf_files=tuple(
            ElfSummary(
                path=p,
                arch=e.arch,
                libc=e.libc,
                size=e.file_size,
                debug_info=e.debug_bytes,
                symbol_table=e.symtab_bytes,
                needed=e.needed,
                isa_level=e.isa_level,
                extension_module=is_extension(p, e),
            )
            for p, e in sorted(elves.items())
        ),
        macho_files=tuple(MachOSummary.of(p, m) for p, m in sorted(view.machos.items())),
        pe_files=tuple(PeSummary.of(p, e) for p, e in sorted(view.pes.items())),
        findings=tuple(kept),
        sboms=read_sboms(view),
    )


def _native(view: WheelView, target: str | None) -> NativeVerdict:
    """The macOS and Windows checks (binaries found by magic bytes, like ELF)."""
    mac = analyze_macos(view, target)
    win = analyze_windows(view, target)
    chosen = mac if mac.arch is not None else win
    return NativeVerdict(
        consistent=chosen.consistent,
        arch=chosen.arch,
        external_libraries={**mac.external_libraries, **win.external_libraries},
        external_paths={**mac.external_paths, **win.external_paths},
        findings=(*mac.findings, *win.findings, *foreign_findings(view, target)),
    )
