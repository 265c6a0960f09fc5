"""Debug information (WF301), static symbol tables (WF302) and what each ``--strip`` level
would save (wheelfix/wheels/checks/debug.py), on wheels built on the fly around the ELF
variants the ``elf_fixtures`` fixture compiles with gcc (release, debug, stripped).

The expected byte counts come from binutils' ``readelf -SW``, not from wheelfix's reader.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
from wheelmaker import MakeWheel

from wheelfix.findings import Check, Finding, Severity
from wheelfix.formats.elf import ElfInfo, parse_elf
from wheelfix.formats.wheelfile import parse_name
from wheelfix.wheels.audit import CheckOptions, check_wheel
from wheelfix.wheels.checks import WheelView
from wheelfix.wheels.checks.debug import check_debug, strip_savings
from wheelfix.wheels.results import WheelResult

TAG = "cp311-cp311-linux_x86_64"
EXT = "demo/_wfelf.cpython-311-x86_64-linux-gnu.so"
_SECTION = re.compile(r"^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s")


def sections(path: Path) -> dict[str, tuple[str, int]]:
    """Section name -> (type, size), as readelf prints them."""
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf (binutils) not found")
    text = subprocess.run(
        [readelf, "-SW", str(path)], capture_output=True, text=True, check=True
    ).stdout
    out = {}
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m is not None:
            out[m[1]] = (m[2], int(m[3], 16))
    return out


def expected(path: Path) -> tuple[int, int, int]:
    """(debug, symtab, comment) bytes of ``path`` according to readelf."""
    found = sections(path)
    debug = sum(
        size
        for name, (kind, size) in found.items()
        if name.startswith((".debug_", ".zdebug_")) and kind != "NOBITS"
    )
    symtab = sum(found.get(name, ("", 0))[1] for name in (".symtab", ".strtab"))
    comment = found.get(".comment", ("", 0))[1]
    return debug, symtab, comment


def run(make_wheel: MakeWheel, files: Mapping[str, bytes]) -> WheelResult:
    wheel = make_wheel({"demo/__init__.py": b"", **files}, tag=TAG)
    result = check_wheel(wheel, CheckOptions())
    assert result.error is None, result.error
    return result


def debug_findings(result: WheelResult) -> list[Finding]:
    return [f for f in result.findings if f.check in (Check.DEBUG_INFO, Check.SYMBOL_TABLE)]


def test_debug_build_reports_dwarf_and_symtab_bytes(
    make_wheel: MakeWheel, elf_fixtures: Mapping[str, Path]
) -> None:
    path = elf_fixtures["debug"]
    debug, symtab, comment = expected(path)
    assert debug > 0 and symtab > 0
    result = run(make_wheel, {EXT: path.read_bytes()})
    dwarf, table = debug_findings(result)
    assert (dwarf.check, dwarf.path, dwarf.bytes) == (Check.DEBUG_INFO, EXT, debug)
    assert dwarf.level is Severity.WARNING
    assert "DWARF debug info" in dwarf.message
    assert (table.check, table.path, table.bytes) == (Check.SYMBOL_TABLE, EXT, symtab)
    assert table.level is Severity.INFO
    assert ".symtab/.strtab" in table.message
    assert result.strip_savings == {
        "debug": debug,
        "unneeded": debug + symtab,
        "all": debug + symtab + comment,
    }
    assert result.sizes.debug_info == debug
    assert result.sizes.symbol_table == symtab


def test_message_states_the_share_of_the_file(
    make_wheel: MakeWheel, elf_fixtures: Mapping[str, Path]
) -> None:
    path = elf_fixtures["debug"]
    debug, _symtab, _comment = expected(path)
    size = path.stat().st_size
    found = debug_findings(run(make_wheel, {EXT: path.read_bytes()}))
    (dwarf,) = [f for f in found if f.check is Check.DEBUG_INFO]
    assert f"{100 * debug / size:.0f} % of" in dwarf.message


def test_release_build_has_a_symbol_table_but_no_dwarf(
    make_wheel: MakeWheel, elf_fixtures: Mapping[str, Path]
) -> None:
    path = elf_fixtures["release"]
    debug, symtab, comment = expected(path)
    assert debug == 0 and symtab > 0
    result = run(make_wheel, {EXT: path.read_bytes()})
    (table,) = debug_findings(result)
    assert (table.check, table.bytes) == (Check.SYMBOL_TABLE, symtab)
    assert result.strip_savings == {
        "debug": 0,
        "unneeded": symtab,
        "all": symtab + comment,
    }


def test_stripped_build_has_nothing_to_report(
    make_wheel: MakeWheel, elf_fixtures: Mapping[str, Path]
) -> None:
    path = elf_fixtures["stripped"]
    debug, symtab, comment = expected(path)
    assert (debug, symtab) == (0, 0)
    result = run(make_wheel, {EXT: path.read_bytes()})
    assert debug_findings(result) == []
    assert result.strip_savings == {"debug": 0, "unneeded": 0, "all": comment}


def test_savings_add_up_over_files(make_wheel: MakeWheel, elf_fixtures: Mapping[str, Path]) -> None:
    files = {
        "demo/z/_b.cpython-311-x86_64-linux-gnu.so": elf_fixtures["debug"],
        "demo/a/_a.cpython-311-x86_64-linux-gnu.so": elf_fixtures["release"],
        "demo/m/_c.cpython-311-x86_64-linux-gnu.so": elf_fixtures["stripped"],
    }
    totals = [0, 0, 0]
    for path in files.values():
        totals = [t + e for t, e in zip(totals, expected(path), strict=True)]
    result = run(make_wheel, {name: path.read_bytes() for name, path in files.items()})
    assert result.strip_savings == {
        "debug": totals[0],
        "unneeded": totals[0] + totals[1],
        "all": sum(totals),
    }
    # the report orders by severity, code, then path
    assert [(f.path, f.code) for f in debug_findings(result)] == [
        ("demo/z/_b.cpython-311-x86_64-linux-gnu.so", "WF301"),
        ("demo/a/_a.cpython-311-x86_64-linux-gnu.so", "WF302"),
        ("demo/z/_b.cpython-311-x86_64-linux-gnu.so", "WF302"),
    ]


def view(elves: Mapping[str, ElfInfo]) -> WheelView:
    """A view holding only ELF facts: what check_debug and strip_savings look at."""
    filename = f"demo-1.0-{TAG}.whl"
    return WheelView(
        path=filename,
        name=parse_name(filename, filename),
        dist_info="demo-1.0.dist-info",
        file_size=1,
        members=(),
        digests={},
        elves=elves,
        elf_errors={},
        static_archives=frozenset(),
        texts={},
    )


def test_check_debug_on_its_own_goes_file_by_file_in_path_order(
    elf_fixtures: Mapping[str, Path],
) -> None:
    debug = parse_elf(elf_fixtures["debug"].read_bytes())
    release = parse_elf(elf_fixtures["release"].read_bytes())
    found = check_debug(view({"z/_b.so": debug, "a/_a.so": release, "m/_c.so": release}))
    assert [(f.path, f.code) for f in found] == [
        ("a/_a.so", "WF302"),
        ("m/_c.so", "WF302"),
        ("z/_b.so", "WF301"),
        ("z/_b.so", "WF302"),
    ]
    assert strip_savings(view({})) == {"debug": 0, "unneeded": 0, "all": 0}
    two = strip_savings(view({"a.so": debug, "b.so": debug}))
    one = strip_savings(view({"a.so": debug}))
    assert two == {level: 2 * saved for level, saved in one.items()}


def test_a_pure_wheel_saves_nothing(make_wheel: MakeWheel) -> None:
    wheel = make_wheel({"demo/__init__.py": b"X = 1\n"})
    result = check_wheel(wheel, CheckOptions())
    assert debug_findings(result) == []
    assert result.strip_savings == {"debug": 0, "unneeded": 0, "all": 0}
