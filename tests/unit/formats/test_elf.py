"""The ELF reader against real and corrupted shared objects (BAD_INPUTS.md, "ELF").

The real files are compiled once per session from ``elf_fixtures/wfelf.c``. Each
corruption patches a copy at a field located with :mod:`struct` (not with the reader under
test). The contract: :func:`parse_elf` either raises :class:`CorruptElfError` (never any
other exception, never hangs) or returns what the file really says; inside a wheel a
corrupt ELF is a WF111 finding, never an error result or a crash.

32-bit and big-endian files cannot be compiled here without a cross toolchain, so
``craft_elf`` writes minimal but loadable-shaped ones (ELF header, PT_LOAD, PT_DYNAMIC,
a dynamic string table) byte by byte.
"""

from __future__ import annotations

import functools
import random
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from wheelmaker import MakeWheel

from wheelfix.formats.elf import CorruptElfError, ElfInfo, is_elf, parse_elf
from wheelfix.formats.strip import StripLevel, strip_elf
from wheelfix.wheels.audit import check_wheel
from wheelfix.wheels.results import WheelResult

INTEREST = frozenset({"PyInit_wfelf", "wfelf_counter", "sqrt", "cos", "no_such_symbol"})
EXT = "demo/wfelf.cpython-311-x86_64-linux-gnu.so"
LINUX_TAG = "cp311-cp311-linux_x86_64"


# -- locating fields in a 64-bit little-endian ELF (the compiled fixtures) -----------------
@dataclass(frozen=True)
class Section:
    name: str
    index: int
    header: int  # file offset of this section's header
    offset: int
    size: int
    link: int
    info: int
    entsize: int


def sections(data: bytes) -> dict[str, Section]:
    assert data[4] == 2, "the compiled fixtures are 64-bit"
    assert data[5] == 1, "the compiled fixtures are little-endian"
    (shoff,) = struct.unpack_from("<Q", data, 40)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 58)
    headers = [shoff + i * shentsize for i in range(shnum)]
    _, names_at, _ = _section_header(data, headers[shstrndx])
    out = {}
    for index, header in enumerate(headers):
        name_off, offset, size = _section_header(data, header)
        start = names_at + name_off
        name = data[start : data.index(b"\0", start)].decode()
        link, info = struct.unpack_from("<II", data, header + 40)
        (entsize,) = struct.unpack_from("<Q", data, header + 56)
        out[name] = Section(name, index, header, offset, size, link, info, entsize)
    return out


def _section_header(data: bytes, at: int) -> tuple[int, int, int]:
    (name,) = struct.unpack_from("<I", data, at)
    offset, size = struct.unpack_from("<QQ", data, at + 24)
    return name, offset, size


def dynamic_entries(data: bytes) -> list[tuple[int, int, int]]:
    """(file offset, d_tag, d_val) of every .dynamic entry up to DT_NULL."""
    dyn = sections(data)[".dynamic"]
    out = []
    for at in range(dyn.offset, dyn.offset + dyn.size, 16):
        tag, val = struct.unpack_from("<qQ", data, at)
        out.append((at, tag, val))
        if tag == 0:
            break
    return out


DT_NEEDED, DT_STRSZ, DT_SONAME, DT_RUNPATH = 1, 10, 14, 29


def patch(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


# -- crafted ELF files ------------------------------------------------------------------
EM_386, EM_PPC64, EM_S390, EM_ARM, EM_X86_64, EM_AARCH64 = 3, 21, 22, 40, 62, 183


def craft_elf(
    *,
    bits: int,
    little: bool,
    machine: int,
    needed: tuple[str, ...] = ("libc.so.6",),
    soname: str | None = None,
    flags: int = 0,
) -> bytes:
    """A minimal ELF shared object: header, PT_LOAD over the file, PT_DYNAMIC, .dynstr."""
    end = "<" if little else ">"
    wide = bits == 64
    ehsize, phentsize = (64, 56) if wide else (52, 32)
    dyn_fmt = end + ("qQ" if wide else "iI")
    strings = b"\0"
    offsets = {}
    for name in (*needed, *((soname,) if soname else ())):
        offsets[name] = len(strings)
        strings += name.encode() + b"\0"
    strtab = ehsize + 2 * phentsize
    dynamic_at = strtab + len(strings) + (-(strtab + len(strings)) % 8)
    entries = [(DT_NEEDED, offsets[n]) for n in needed]
    if soname:
        entries.append((DT_SONAME, offsets[soname]))
    entries += [(5, strtab), (DT_STRSZ, len(strings)), (0, 0)]  # DT_STRTAB, DT_STRSZ, DT_NULL
    dynamic = b"".join(struct.pack(dyn_fmt, tag, val) for tag, val in entries)
    total = dynamic_at + len(dynamic)
    ident = b"\x7fELF" + bytes([2 if wide else 1, 1 if little else 2, 1]) + bytes(9)
    if wide:
        header = ident + struct.pack(
            end + "HHIQQQIHHHHHH",
            3,
            machine,
            1,
            0,
            ehsize,
            0,
            flags,
            ehsize,
            phentsize,
            2,
            64,
            0,
            0,
        )
        load = struct.pack(end + "IIQQQQQQ", 1, 5, 0, 0, 0, total, total, 0x1000)
        dyn = struct.pack(
            end + "IIQQQQQQ",
            2,
            6,
            dynamic_at,
            dynamic_at,
            dynamic_at,
            len(dynamic),
            len(dynamic),
            8,
        )
    else:
        header = ident + struct.pack(
            end + "HHIIIIIHHHHHH",
            3,
            machine,
            1,
            0,
            ehsize,
            0,
            flags,
            ehsize,
            phentsize,
            2,
            40,
            0,
            0,
        )
        load = struct.pack(end + "IIIIIIII", 1, 0, 0, 0, total, total, 5, 0x1000)
        dyn = struct.pack(
            end + "IIIIIIII",
            2,
            dynamic_at,
            dynamic_at,
            dynamic_at,
            len(dynamic),
            len(dynamic),
            6,
            4,
        )
    body = header + load + dyn + strings
    return body + bytes(dynamic_at - len(body)) + dynamic


# -- helpers -------------------------------------------------------------------------------
def parse_or_corrupt(data: bytes) -> ElfInfo | CorruptElfError:
    """Parse ``data``; a CorruptElfError is returned, anything else propagates (a failure)."""
    try:
        return parse_elf(data, interest=INTEREST)
    except CorruptElfError as exc:
        return exc


def within(seconds: float, action: Callable[[], object]) -> object:
    """Run ``action`` on a thread; fail the test (instead of hanging) if it takes too long."""
    box: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            box.append(action())
        except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"did not finish within {seconds} s (unbounded loop?)")
    if errors:
        raise errors[0]
    return box[0]


def corrupt(data: bytes) -> CorruptElfError:
    outcome = within(10, lambda: parse_or_corrupt(data))
    assert isinstance(outcome, CorruptElfError), f"parsed: {outcome}"
    return outcome


def in_wheel(make_wheel: MakeWheel, data: bytes, path: str = EXT) -> WheelResult:
    result = check_wheel(make_wheel({path: data, "demo/__init__.py": ""}, tag=LINUX_TAG))
    assert result.error is None, result.error
    return result


@pytest.fixture(scope="module")
def release(elf_fixtures: Mapping[str, Path]) -> bytes:
    return elf_fixtures["release"].read_bytes()


# -- real files parse correctly ------------------------------------------------------------
def test_release_library(release: bytes) -> None:
    info = parse_elf(release, interest=INTEREST)
    assert info.elf_class == 64
    assert info.little_endian
    assert info.elf_type == "ET_DYN"
    assert info.soname == "libwfelf.so.1"
    assert "libm.so.6" in info.needed
    assert info.runpath == ("/opt/wfelf/lib",) or info.rpath == ("/opt/wfelf/lib",)
    assert info.libc == "glibc"
    libs = dict(info.version_needs)
    assert any(v.startswith("GLIBC_") for v in libs["libm.so.6"])
    assert {"PyInit_wfelf", "wfelf_counter"} <= info.defined
    assert "no_such_symbol" not in info.defined | info.undefined
    assert {"sqrt", "cos"} & info.undefined
    assert info.debug_bytes == 0
    assert info.symtab_bytes > 0
    assert info.file_size == len(release)


def test_debug_and_stripped_variants(elf_fixtures: Mapping[str, Path]) -> None:
    debug = parse_elf(elf_fixtures["debug"].read_bytes())
    stripped = parse_elf(elf_fixtures["stripped"].read_bytes())
    assert debug.debug_bytes > 0
    assert stripped.debug_bytes == 0
    assert stripped.symtab_bytes == 0
    assert stripped.needed == debug.needed


def test_isa_level_note(elf_fixtures: Mapping[str, Path]) -> None:
    if "isa" not in elf_fixtures:
        pytest.skip("the ISA note fixture is built on x86_64 only")
    assert parse_elf(elf_fixtures["isa"].read_bytes()).isa_level == 3


def _interp_header(data: bytes) -> int:
    (phoff,) = struct.unpack_from("<Q", data, 32)
    (phnum,) = struct.unpack_from("<H", data, 56)
    for at in range(phoff, phoff + 56 * phnum, 56):
        if struct.unpack_from("<I", data, at)[0] == 3:  # PT_INTERP
            return at
    raise AssertionError("no PT_INTERP")


def test_program_interpreter(elf_fixtures: Mapping[str, Path]) -> None:
    data = elf_fixtures["program"].read_bytes()
    info = parse_elf(data)
    assert info.elf_type in ("ET_DYN", "ET_EXEC")
    assert info.interpreter is not None
    assert info.interpreter.startswith("/")
    at = _interp_header(data)
    (filesz,) = struct.unpack_from("<Q", data, at + 32)
    corrupt(patch(data, at + 8, "<Q", len(data) + 1))  # p_offset past the end
    corrupt(patch(data, at + 32, "<Q", filesz - 1))  # the path loses its NUL
    corrupt(patch(data, at + 32, "<Q", 0))  # empty


def test_is_elf() -> None:
    assert is_elf(b"\x7fELF\x02\x01")
    assert not is_elf(b"MZ\x90\x00")
    assert not is_elf(b"")


@pytest.mark.parametrize(
    "data",
    [b"", b"\x7fEL", b"MZ\x90\x00" + bytes(60), b"!<arch>\n", b"#!/bin/sh\n"],
    ids=["empty", "short-magic", "pe", "ar", "script"],
)
def test_not_elf_raises_corrupt(data: bytes) -> None:
    assert "not an ELF file" in str(corrupt(data))


# -- truncation and header fields -------------------------------------------------------
def _shoff(data: bytes) -> int:
    (shoff,) = struct.unpack_from("<Q", data, 40)
    return int(shoff)


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "magic-only": lambda d: d[:4],
    "ident-only": lambda d: d[:16],
    "header-only": lambda d: d[:64],
    "header-and-program-headers": lambda d: d[: 64 + 56 * struct.unpack_from("<H", d, 56)[0]],
    "half-file": lambda d: d[: len(d) // 2],
    "cut-inside-section-headers": lambda d: d[: _shoff(d) + 3 * 64 + 10],
    "cut-last-byte": lambda d: d[:-1],
    "e_shoff-past-end": lambda d: patch(d, 40, "<Q", len(d) + 4096),
    "e_shoff-huge": lambda d: patch(d, 40, "<Q", 2**63),
    "e_phoff-past-end": lambda d: patch(d, 32, "<Q", len(d)),
    "e_shentsize-0": lambda d: patch(d, 58, "<H", 0),
    "e_shentsize-63": lambda d: patch(d, 58, "<H", 63),
    "e_phentsize-0": lambda d: patch(d, 54, "<H", 0),
    "e_shnum-huge": lambda d: patch(d, 60, "<H", 0xFFFF),
    "e_shnum-0-extended": lambda d: patch(d, 60, "<H", 0),
    "e_phnum-huge": lambda d: patch(d, 56, "<H", 0xFFFF),
    "e_shstrndx-out-of-range": lambda d: patch(d, 62, "<H", struct.unpack_from("<H", d, 60)[0]),
    "e_shstrndx-xindex": lambda d: patch(d, 62, "<H", 0xFFFF),
    "big-endian-flip": lambda d: patch(d, 5, "<B", 2),
    "bad-ei-data": lambda d: patch(d, 5, "<B", 7),
    "bad-ei-class": lambda d: patch(d, 4, "<B", 3),
    "class-flip-to-32": lambda d: patch(d, 4, "<B", 1),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corrupt_header(release: bytes, name: str) -> None:
    corrupt(CORRUPTIONS[name](release))


def _section_field(
    name: str, field: int, fmt: str, value: Callable[[Section, bytes], int]
) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        section = sections(data)[name]
        return patch(data, section.header + field, fmt, value(section, data))

    return apply


SECTION_CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    # sh_offset / sh_size past the end of the file
    "dynstr-offset-past-end": _section_field(".dynstr", 24, "<Q", lambda s, d: len(d) + 1),
    "dynsym-size-huge": _section_field(".dynsym", 32, "<Q", lambda s, d: 2**40),
    "shstrtab-size-huge": _section_field(".shstrtab", 32, "<Q", lambda s, d: 2**40),
    # a section name offset past the end of .shstrtab
    "section-name-past-table": _section_field(".dynsym", 0, "<I", lambda s, d: 0xFFFFFF),
    # hash tables with zero buckets / an empty bloom filter
    "gnu-hash-zero-buckets": lambda d: patch(d, sections(d)[".gnu.hash"].offset, "<I", 0),
    "gnu-hash-zero-bloom": lambda d: patch(d, sections(d)[".gnu.hash"].offset + 8, "<I", 0),
    "sysv-hash-zero-buckets": lambda d: patch(d, sections(d)[".hash"].offset, "<I", 0),
    # version needs: a count that cannot fit, strings past the end
    "verneed-count-huge": _section_field(".gnu.version_r", 44, "<I", lambda s, d: 0xFFFFFFFF),
    "verneed-file-past-strtab": lambda d: patch(
        d, sections(d)[".gnu.version_r"].offset + 4, "<I", sections(d)[".dynstr"].size + 100
    ),
    "vernaux-name-past-strtab": lambda d: _vernaux_name(d, sections(d)[".dynstr"].size + 1),
    # a symbol table linked to itself (pyelftools recurses)
    "dynsym-links-itself": _section_field(".dynsym", 40, "<I", lambda s, d: s.index),
    "dynsym-entsize-0": _section_field(".dynsym", 56, "<Q", lambda s, d: 0),
}


def _vernaux_name(data: bytes, value: int) -> bytes:
    verneed = sections(data)[".gnu.version_r"].offset
    (aux,) = struct.unpack_from("<I", data, verneed + 8)
    return patch(data, verneed + aux + 8, "<I", value)


@pytest.mark.parametrize("name", sorted(SECTION_CORRUPTIONS))
def test_corrupt_sections(release: bytes, name: str) -> None:
    corrupt(SECTION_CORRUPTIONS[name](release))


def _dynamic_patch(data: bytes, tag: int, value: Callable[[int, bytes], int]) -> bytes:
    at, _, val = next(e for e in dynamic_entries(data) if e[1] == tag)
    return patch(data, at + 8, "<Q", value(val, data))


def _strsz(data: bytes) -> int:
    return next(v for _, t, v in dynamic_entries(data) if t == DT_STRSZ)


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (DT_NEEDED, lambda v, d: _strsz(d)),  # just past the end of .dynstr
        (DT_NEEDED, lambda v, d: _strsz(d) + 40),  # inside the file, in the next section
        (DT_NEEDED, lambda v, d: 2**40),  # past the end of the file
        (DT_NEEDED, lambda v, d: 0),  # the empty string
        (DT_SONAME, lambda v, d: _strsz(d) + 1),
        (DT_RUNPATH, lambda v, d: 2**32),
        (DT_STRSZ, lambda v, d: 2**40),  # the table runs past the end of the file
    ],
    ids=[
        "needed-at-end",
        "needed-past-table",
        "needed-past-file",
        "needed-empty",
        "soname-past-table",
        "runpath-past-file",
        "strsz-huge",
    ],
)
def test_dynamic_strings_out_of_bounds(
    release: bytes, tag: int, value: Callable[[int, bytes], int]
) -> None:
    corrupt(_dynamic_patch(release, tag, value))


def test_needed_past_dynstr_is_not_read_from_next_section(release: bytes) -> None:
    # Without bounds pyelftools returns whatever string follows .dynstr (a silent lie).
    data = _dynamic_patch(release, DT_NEEDED, lambda v, d: _strsz(d) + 8)
    assert "past the end of the dynamic string table" in str(corrupt(data))


def test_dynamic_string_inside_table_is_read(release: bytes) -> None:
    # An offset into the middle of a string is legal: the loader reads the tail.
    data = _dynamic_patch(release, DT_SONAME, lambda v, d: v + 3)
    assert parse_elf(data).soname == "wfelf.so.1"


def test_no_dynamic_string_table(release: bytes) -> None:
    data = release
    for at, tag, _ in dynamic_entries(release):
        if tag == DT_STRSZ:
            data = patch(data, at, "<q", 0x6FFFFDFF)  # an unknown tag: DT_STRSZ is gone
    corrupt(data)


def test_repeated_string_table_tag(release: bytes) -> None:
    # The loader would use the last DT_STRTAB, pyelftools the first: ambiguous.
    entries = dynamic_entries(release)
    at, tag, _ = entries[-1]
    assert tag == 0
    strtab = next(v for _, t, v in entries if t == 5)
    dyn = sections(release)[".dynamic"]
    if at + 32 > dyn.offset + dyn.size:
        pytest.skip("no spare DT_NULL slot in .dynamic in this build")
    # The first DT_NULL becomes a second DT_STRTAB; the spare slot after it ends the list.
    data = patch(release, at, "<qQ", 5, strtab + 8)
    assert "more than one string table" in str(corrupt(data))


def test_sysv_hash_chain_loop_does_not_hang(release: bytes) -> None:
    # .hash chains pointing at themselves: pyelftools would walk them forever.
    hashed = sections(release)[".hash"]
    nbucket, nchain = struct.unpack_from("<II", release, hashed.offset)
    data = bytearray(release)
    for i in range(nbucket):
        struct.pack_into("<I", data, hashed.offset + 8 + 4 * i, 1)
    for i in range(nchain):
        struct.pack_into("<I", data, hashed.offset + 8 + 4 * nbucket + 4 * i, i)
    outcome = within(10, lambda: parse_or_corrupt(bytes(data)))
    if isinstance(outcome, ElfInfo):
        assert "PyInit_wfelf" in outcome.defined


def test_verneed_next_zero_is_bounded(release: bytes) -> None:
    # vn_next = 0 with a count that still fits the section: the same entry, bounded times.
    verneed = sections(release)[".gnu.version_r"]
    data = patch(release, verneed.offset + 12, "<I", 0)
    within(10, lambda: parse_or_corrupt(data))


def test_corrupt_property_note(elf_fixtures: Mapping[str, Path]) -> None:
    if "isa" not in elf_fixtures:
        pytest.skip("the ISA note fixture is built on x86_64 only")
    data = elf_fixtures["isa"].read_bytes()
    note = sections(data)[".note.gnu.property"]
    corrupt(patch(data, note.offset + 4, "<I", 0x7FFFFFF0))  # n_descsz past the section
    corrupt(patch(data, note.offset, "<I", 0x7FFFFFF0))  # n_namesz past the section
    within(10, lambda: parse_or_corrupt(patch(data, note.offset + 16, "<II", 0, 0)))


def test_other_notes_are_not_interpreted(release: bytes) -> None:
    build_id = sections(release)[".note.gnu.build-id"]
    data = patch(release, build_id.offset + 4, "<I", 0x7FFFFFF0)
    assert parse_elf(data).needed == parse_elf(release).needed


def test_dwarf_garbage_is_measured_not_parsed(elf_fixtures: Mapping[str, Path]) -> None:
    data = bytearray(elf_fixtures["debug"].read_bytes())
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not secrets
    for section in sections(bytes(data)).values():
        if section.name.startswith(".debug_"):
            data[section.offset : section.offset + section.size] = rng.randbytes(section.size)
    info = parse_elf(bytes(data))
    assert info.debug_bytes == parse_elf(elf_fixtures["debug"].read_bytes()).debug_bytes


# -- crafted: 32-bit, big-endian, other machines ------------------------------------------
@pytest.mark.parametrize(
    ("bits", "little", "machine", "flags", "arch"),
    [
        (64, False, EM_S390, 0, "s390x"),
        (64, False, EM_PPC64, 0, "ppc64"),
        (64, True, EM_PPC64, 0, "ppc64le"),
        (64, True, EM_AARCH64, 0, "aarch64"),
        (64, True, EM_X86_64, 0, "x86_64"),
        (32, True, EM_386, 0, "i686"),
        (32, True, EM_ARM, 0x05000400, "armv7l"),
        (32, True, EM_ARM, 0x05000200, None),  # soft-float EABI5 is not armv7l
    ],
)
def test_crafted_elf_identity(
    bits: int, little: bool, machine: int, flags: int, arch: str | None
) -> None:
    data = craft_elf(
        bits=bits,
        little=little,
        machine=machine,
        flags=flags,
        needed=("libfoo.so.1", "libc.so.6"),
        soname="libdemo.so.2",
    )
    info = parse_elf(data)
    assert info.elf_class == bits
    assert info.little_endian is little
    assert info.arch == arch
    assert (info.arch_problem is None) is (arch is not None)
    assert info.needed == ("libfoo.so.1", "libc.so.6")
    assert info.soname == "libdemo.so.2"


def test_crafted_big_endian_strings_out_of_bounds() -> None:
    data = bytearray(craft_elf(bits=64, little=False, machine=EM_S390))
    # The first dynamic entry is DT_NEEDED: point it far past DT_STRSZ.
    dynamic_at = len(data) - 4 * 16
    struct.pack_into(">Q", data, dynamic_at + 8, 4096)
    corrupt(bytes(data))


def test_32bit_elf_in_x86_64_wheel(make_wheel: MakeWheel) -> None:
    data = craft_elf(bits=32, little=True, machine=EM_386)
    result = in_wheel(make_wheel, data)
    [finding] = [f for f in result.findings if f.code == "WF104"]
    assert finding.path == EXT
    assert "i686" in finding.message


def test_wrong_machine_for_tag(make_wheel: MakeWheel) -> None:
    data = craft_elf(bits=64, little=True, machine=EM_AARCH64)
    result = in_wheel(make_wheel, data)
    assert [f.path for f in result.findings if f.code == "WF104"] == [EXT]


def test_big_endian_wheel_parsed(make_wheel: MakeWheel) -> None:
    data = craft_elf(bits=64, little=False, machine=EM_S390)
    path = "demo/_x.cpython-311-s390x-linux-gnu.so"
    result = check_wheel(make_wheel({path: data}, tag="cp311-cp311-manylinux_2_17_s390x"))
    assert result.error is None
    assert [(e.path, e.arch) for e in result.elf_files] == [(path, "s390x")]
    assert not {"WF104", "WF111"} & {f.code for f in result.findings}


# -- corrupt files inside wheels: WF111, never a crash ---------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "header-only",
        "cut-inside-section-headers",
        "e_shoff-past-end",
        "e_shentsize-0",
        "e_shnum-huge",
        "e_shstrndx-out-of-range",
        "big-endian-flip",
    ],
)
def test_corrupt_elf_in_wheel_is_a_finding(
    make_wheel: MakeWheel, release: bytes, name: str
) -> None:
    result = in_wheel(make_wheel, CORRUPTIONS[name](release))
    [finding] = [f for f in result.findings if f.code == "WF111"]
    assert finding.path == EXT
    assert finding.level.label == "error"


@pytest.mark.parametrize("name", ["gnu-hash-zero-buckets", "verneed-file-past-strtab"])
def test_corrupt_sections_in_wheel_are_findings(
    make_wheel: MakeWheel, release: bytes, name: str
) -> None:
    result = in_wheel(make_wheel, SECTION_CORRUPTIONS[name](release))
    assert [f.path for f in result.findings if f.code == "WF111"] == [EXT]


def test_needed_past_dynstr_in_wheel(make_wheel: MakeWheel, release: bytes) -> None:
    data = _dynamic_patch(release, DT_NEEDED, lambda v, d: _strsz(d) + 8)
    result = in_wheel(make_wheel, data)
    assert [f.path for f in result.findings if f.code == "WF111"] == [EXT]


@pytest.mark.parametrize(
    "content",
    [b"not a library\n", b"MZ\x90\x00" + bytes(200), b"", b"INPUT(-lfoo)\n"],
    ids=["text", "pe", "empty", "linker-script"],
)
def test_so_that_is_not_elf(make_wheel: MakeWheel, content: bytes) -> None:
    result = in_wheel(make_wheel, content, path="demo/libfoo.so.1")
    [finding] = [f for f in result.findings if f.code == "WF110"]
    assert finding.path == "demo/libfoo.so.1"
    assert "WF111" not in {f.code for f in result.findings}


def test_static_archive_named_so(make_wheel: MakeWheel, elf_fixtures: Mapping[str, Path]) -> None:
    if "archive" not in elf_fixtures:
        pytest.skip("ar is not installed")
    result = in_wheel(make_wheel, elf_fixtures["archive"].read_bytes(), path="demo/libx.so")
    assert {"WF110", "WF404"} <= {f.code for f in result.findings}


@pytest.mark.parametrize(
    ("variant", "path"),
    [("archive", "demo/libwfelf.a"), ("object", "demo/wfelf.o"), ("archive", "demo/libx.bin")],
)
def test_static_archives_and_objects(
    make_wheel: MakeWheel, elf_fixtures: Mapping[str, Path], variant: str, path: str
) -> None:
    if variant not in elf_fixtures:
        pytest.skip(f"no {variant} fixture (toolchain)")
    result = in_wheel(make_wheel, elf_fixtures[variant].read_bytes(), path=path)
    [finding] = [f for f in result.findings if f.code == "WF404"]
    assert finding.path == path
    assert "WF111" not in {f.code for f in result.findings}


def test_real_library_in_wheel(make_wheel: MakeWheel, release: bytes) -> None:
    result = in_wheel(make_wheel, release)
    assert [e.path for e in result.elf_files] == [EXT]
    assert not {"WF110", "WF111"} & {f.code for f in result.findings}


# -- fuzzing: random byte flips only ever raise CorruptElfError ------------------------------
def _structural_ranges(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges the reader interprets: headers, dynamic linking, hash and version tables."""
    found = sections(data)
    ranges = [(0, 64), (64, 64 + 56 * struct.unpack_from("<H", data, 56)[0])]
    ranges.append((_shoff(data), _shoff(data) + 64 * len(found)))
    for name in (
        ".dynamic",
        ".dynstr",
        ".gnu.hash",
        ".hash",
        ".gnu.version_r",
        ".dynsym",
        ".shstrtab",
        ".note.gnu.property",
    ):
        if name in found:
            ranges.append((found[name].offset, found[name].offset + found[name].size))
    return ranges


@pytest.mark.parametrize("variant", ["release", "isa"])
def test_fuzz_random_byte_flips(elf_fixtures: Mapping[str, Path], variant: str) -> None:
    if variant not in elf_fixtures:
        pytest.skip(f"no {variant} fixture")
    original = elf_fixtures[variant].read_bytes()
    ranges = _structural_ranges(original)
    rng = random.Random(20240601)  # noqa: S311 - a fixed seed makes failures reproducible
    outcomes = {"parsed": 0, "corrupt": 0}
    started = time.monotonic()
    for _ in range(300 if variant == "release" else 100):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.8:
                low, high = rng.choice(ranges)
                at = rng.randrange(low, max(high, low + 1))
            else:
                at = rng.randrange(len(data))
            data[at] = rng.choice((0, 0xFF, rng.randrange(256), data[at] ^ (1 << rng.randrange(8))))
        outcome = within(10, functools.partial(parse_or_corrupt, bytes(data)))
        outcomes["parsed" if isinstance(outcome, ElfInfo) else "corrupt"] += 1
    assert outcomes["corrupt"] > 0
    assert outcomes["parsed"] > 0
    assert time.monotonic() - started < 120


def test_annobin_notes_count_with_the_comment_section(
    elf_fixtures: Mapping[str, Path], tmp_path: Path
) -> None:
    notes = tmp_path / "notes.bin"
    notes.write_bytes(b"\x01" * 300)
    annotated = tmp_path / "annotated.so"
    subprocess.run(
        [
            "objcopy",
            "--add-section",
            f".gnu.build.attributes={notes}",
            str(elf_fixtures["release"]),
            str(annotated),
        ],
        check=True,
    )
    before = parse_elf(elf_fixtures["release"].read_bytes())
    after = parse_elf(annotated.read_bytes())
    assert after.comment_bytes == before.comment_bytes + 300
    stripped = strip_elf(annotated.read_bytes(), StripLevel.ALL).data
    assert stripped is not None
    assert parse_elf(stripped).comment_bytes == 0
