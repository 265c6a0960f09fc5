"""Result types: frozen dataclasses carrying exactly what the JSON report carries.

The JSON shape is a contract (``schema_version``; schema in ``docs/schema/check.schema.json``,
validated by the tests). Add keys freely; never change or remove one without bumping the
schema version.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wheelfix.findings import Finding, Severity
from wheelfix.reports import SCHEMA_VERSION, Report, gate_label
from wheelfix.wheels.checks.sbom import SbomDocument

if TYPE_CHECKING:  # annotations only: the readers load when a wheel holds such files
    from wheelfix.formats.macho import MachOInfo
    from wheelfix.formats.pe import PeInfo

__all__ = [
    "SCHEMA_VERSION",
    "CheckReport",
    "ElfSummary",
    "MachOSummary",
    "PeSummary",
    "Sizes",
    "Tags",
    "WheelResult",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Tags:
    claimed: tuple[str, ...]
    wheel_file: tuple[str, ...]
    consistent: str | None
    repairable: str | None
    #: macOS and Windows wheels: the best tag the Mach-O/PE binaries satisfy as they are
    #: (``consistent`` stays a Linux tag, as the schema has always said)
    native_consistent: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "claimed": list(self.claimed),
            "wheel_file": list(self.wheel_file),
            "consistent": self.consistent,
            "repairable": self.repairable,
            "native_consistent": self.native_consistent,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    compressed: int = 0
    uncompressed: int = 0
    elf: int = 0
    debug_info: int = 0
    symbol_table: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "compressed": self.compressed,
            "uncompressed": self.uncompressed,
            "elf": self.elf,
            "debug_info": self.debug_info,
            "symbol_table": self.symbol_table,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ElfSummary:
    """Per-file detail (shown with ``-v``)."""

    path: str
    arch: str | None
    libc: str | None
    size: int
    debug_info: int
    symbol_table: int
    needed: tuple[str, ...]
    isa_level: int
    extension_module: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "extension_module": self.extension_module,
            "arch": self.arch,
            "libc": self.libc,
            "size": self.size,
            "debug_info": self.debug_info,
            "symbol_table": self.symbol_table,
            "needed": list(self.needed),
            "isa_level": self.isa_level,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MachOSummary:
    """Per-file detail of a Mach-O file (macOS), one entry per architecture slice."""

    path: str
    info: MachOInfo

    @classmethod
    def of(cls, path: str, info: MachOInfo) -> MachOSummary:
        return cls(path=path, info=info)

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "fat": self.info.fat,
            "size": self.info.file_size,
            "slices": [
                {
                    "arch": s.arch,
                    "filetype": s.filetype,
                    "min_os": None if s.min_os is None else ".".join(map(str, s.min_os)),
                    "platform": s.platform,
                    "install_name": s.install_name,
                    "dylibs": [{"name": d.name, "kind": d.kind} for d in s.dylibs],
                    "rpaths": list(s.rpaths),
                    "debug_info": s.debug_bytes,
                    "local_symbols": s.local_symbol_bytes,
                    "symbol_table": s.symtab_bytes,
                }
                for s in self.info.slices
            ],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PeSummary:
    """Per-file detail of a PE file (Windows)."""

    path: str
    info: PeInfo

    @classmethod
    def of(cls, path: str, info: PeInfo) -> PeSummary:
        return cls(path=path, info=info)

    def to_json(self) -> dict[str, object]:
        pe = self.info
        return {
            "path": self.path,
            "machine": pe.machine,
            "platform": pe.platform,
            "size": pe.file_size,
            "imports": list(pe.imports),
            "delay_imports": list(pe.delay_imports),
            "pdb_path": pe.pdb_path,
            "debug_directory": pe.debug_directory_bytes,
            "debug_info": pe.debug_bytes,
            "symbol_table": pe.symtab_bytes,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelResult:
    path: str
    filename: str
    error: str | None = None
    tags: Tags | None = None
    libc: str | None = None
    arch: str | None = None
    external_libraries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    external_library_paths: Mapping[str, str | None] = field(default_factory=dict)
    sizes: Sizes = field(default_factory=Sizes)
    strip_savings: Mapping[str, int] = field(default_factory=dict)
    elf_files: tuple[ElfSummary, ...] = ()
    macho_files: tuple[MachOSummary, ...] = ()
    pe_files: tuple[PeSummary, ...] = ()
    findings: tuple[Finding, ...] = ()
    #: CycloneDX documents under ``*.dist-info/sboms/`` (PEP 770), read whatever is selected
    sboms: tuple[SbomDocument, ...] = ()

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        return "findings" if self.findings else "ok"

    def worst(self) -> Severity | None:
        return max((f.level for f in self.findings), default=None)

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "filename": self.filename,
            "status": self.status,
            "error": None if self.error is None else {"message": self.error},
            "tags": None if self.tags is None else self.tags.to_json(),
            "libc": self.libc,
            "arch": self.arch,
            "external_libraries": {k: list(v) for k, v in self.external_libraries.items()},
            "external_library_paths": dict(self.external_library_paths),
            "sizes": self.sizes.to_json(),
            "strip_savings": dict(self.strip_savings),
            "elf_files": [e.to_json() for e in self.elf_files],
            "macho_files": [m.to_json() for m in self.macho_files],
            "pe_files": [p.to_json() for p in self.pe_files],
            "findings": [f.to_json() for f in self.findings],
            "sboms": [s.to_json() for s in self.sboms],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport(Report):
    results: tuple[WheelResult, ...]
    fail_on: Severity | None = Severity.ERROR

    @property
    def exit_code(self) -> int:
        """0 clean, 1 findings at or above ``fail_on``, 2 an input could not be read."""
        if any(r.error is not None for r in self.results):
            return 2
        return self.gate(self.fail_on)

    def all_findings(self) -> Iterator[Finding]:
        return (f for r in self.results for f in r.findings)

    def json_body(self) -> dict[str, object]:
        return {
            "fail_on": gate_label(self.fail_on),
            "results": [r.to_json() for r in self.results],
        }
