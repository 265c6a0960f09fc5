"""Debug information and symbol tables: bytes per file, and what each strip level recovers."""

from __future__ import annotations

from wheelfix.findings import Check, Finding
from wheelfix.units import human, percent
from wheelfix.wheels.checks import WheelView

__all__ = ["check_debug", "strip_savings"]


def check_debug(view: WheelView) -> list[Finding]:
    out = []
    for path, elf in sorted(view.elves.items()):
        if elf.debug_bytes:
            out.append(
                Finding(
                    check=Check.DEBUG_INFO,
                    path=path,
                    bytes=elf.debug_bytes,
                    message=f"{human(elf.debug_bytes)} of DWARF debug info "
                    f"({percent(elf.debug_bytes, elf.file_size)} of {human(elf.file_size)})",
                )
            )
        if elf.symtab_bytes:
            out.append(
                Finding(
                    check=Check.SYMBOL_TABLE,
                    path=path,
                    bytes=elf.symtab_bytes,
                    message=f"{human(elf.symtab_bytes)} of static symbol table (.symtab/.strtab); "
                    "not needed to load or link",
                )
            )
    return out


def strip_savings(view: WheelView) -> dict[str, int]:
    """Bytes each ``--strip`` level would remove (section contents; headers are negligible)."""
    debug = sum(e.debug_bytes for e in view.elves.values())
    symtab = sum(e.symtab_bytes for e in view.elves.values())
    comment = sum(e.comment_bytes for e in view.elves.values())
    return {"debug": debug, "unneeded": debug + symtab, "all": debug + symtab + comment}
