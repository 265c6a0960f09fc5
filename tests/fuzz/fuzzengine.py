"""A small mutation engine: generic byte mutations and cheap structure-aware ones.

Every function takes a :class:`random.Random` and returns the mutated input with a short
description of what was done, so a failing mutant explains itself. Nothing here reads the
clock or global state: the same generator state gives the same mutant on every machine.

Generic mutations work on any bytes: bit flips, interesting bytes, truncation, splices from
another seed, inserted and deleted runs, integers set to boundary values, and "length
bumps" (an integer that looks like a size or offset, nudged). Structure-aware mutations
know just enough of a format to reach past its first check: ELF header, section and
program header fields; zip local/central/end record fields; tar header fields with a
recomputed checksum; JSON values swapped for another type; Dockerfile line shuffles.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Callable, Sequence

__all__ = [
    "HOSTILE_NAMES",
    "Mutator",
    "boundary_values",
    "mutate_bytes",
    "mutate_dockerfile",
    "mutate_elf",
    "mutate_json",
    "mutate_tar_header",
    "mutate_zip_fields",
    "stack",
]

#: (rng, data) -> (mutant, what was done)
Mutator = Callable[[random.Random, bytes], tuple[bytes, str]]

#: Names an archive member, RECORD row, link target or tree entry should never be trusted with.
HOSTILE_NAMES = (
    "../x",
    "a/../../x",
    "/abs",
    "/etc/passwd",
    "C:/x",
    "//host/x",
    "a\\..\\..\\x",
    "a\0b",
    "a\nb",
    "..",
    ".",
    "",
    "a/./b",
    "a//b",
    "x" * 300,
    "/".join(["d"] * 200),
    "\u00e9\u0301",
    "a\x7fb",
    "../sentinel/victim",
    "../../sentinel/victim",
)


def boundary_values(width: int, original: int, size: int) -> list[int]:
    """Values that break integer fields of ``width`` bytes: limits, sizes, neighbours."""
    top = (1 << (8 * width)) - 1
    values = {
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        16,
        0x7F,
        0x80,
        0xFF,
        0x100,
        0x7FFF,
        0x8000,
        0xFFFF,
        0x10000,
        0x7FFFFFFF,
        0x80000000,
        0xFFFFFFFF,
        1 << 32,
        1 << 62,
        1 << 63,
        top,
        top - 1,
        size,
        size - 1,
        size + 1,
        size // 2,
        original + 1,
        original - 1,
        original * 2,
        original // 2,
        original + 4096,
        original ^ top,
    }
    return sorted(v for v in values if 0 <= v <= top)


# -- generic ------------------------------------------------------------------------------
def _flip(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    out = bytearray(data)
    n = rng.choice((1, 1, 2, 4, 8))
    for _ in range(n):
        at = rng.randrange(len(out))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out), f"flip {n} bit(s)"


def _interesting_byte(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    out = bytearray(data)
    at = rng.randrange(len(out))
    value = rng.choice((0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x2F, 0x5C, 0x0A))
    out[at] = value
    return bytes(out), f"byte {at} = {value:#x}"


def _truncate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    at = rng.choice((0, 1, 4, 16, 52, 64, rng.randrange(len(data)), len(data) - 1))
    at = max(0, min(at, len(data) - 1))
    return data[:at], f"truncate at {at}"


def _delete(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    lo = rng.randrange(len(data))
    hi = min(len(data), lo + rng.choice((1, 4, 16, 512, 4096)))
    return data[:lo] + data[hi:], f"delete [{lo}:{hi}]"


def _insert(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    at = rng.randrange(len(data) + 1)
    lo = rng.randrange(len(data))
    chunk = data[lo : lo + rng.choice((1, 8, 64, 1024))]
    if rng.random() < 0.3:
        chunk = bytes(rng.randrange(256) for _ in range(rng.choice((1, 8, 64))))
    return data[:at] + chunk + data[at:], f"insert {len(chunk)} bytes at {at}"


def _int_field(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    width = rng.choice((1, 2, 4, 8))
    if len(data) < width:
        return _flip(rng, data)
    at = rng.randrange(len(data) - width + 1)
    at -= at % width if rng.random() < 0.7 else 0  # fields are usually aligned
    order = rng.choice(("little", "big"))
    original = int.from_bytes(data[at : at + width], order)  # type: ignore[arg-type]
    value = rng.choice(boundary_values(width, original, len(data)))
    packed = value.to_bytes(width, order)  # type: ignore[arg-type]
    return data[:at] + packed + data[at + width :], f"{order} u{8 * width} at {at} = {value:#x}"


def _length_bump(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Find an integer that could be a length or offset into ``data`` and nudge it."""
    width = rng.choice((2, 4, 8))
    fmt = {2: "H", 4: "I", 8: "Q"}[width]
    order = rng.choice(("<", ">"))
    for _ in range(64):
        if len(data) < width:
            break
        at = rng.randrange(0, len(data) - width + 1, width) if len(data) >= 2 * width else 0
        (value,) = struct.unpack_from(order + fmt, data, at)
        if 0 < value <= len(data):
            bumped = rng.choice((value + 1, value - 1, value + 8, value * 2, len(data), 0))
            bumped &= (1 << (8 * width)) - 1
            out = bytearray(data)
            struct.pack_into(order + fmt, out, at, bumped)
            return bytes(out), f"length {value} at {at} -> {bumped}"
    return _int_field(rng, data)


def _splicer(others: Sequence[bytes]) -> Mutator:
    def splice(rng: random.Random, data: bytes) -> tuple[bytes, str]:
        other = rng.choice(others) if others else data
        if not other:
            return _flip(rng, data)
        lo = rng.randrange(len(other))
        chunk = other[lo : lo + rng.choice((16, 256, 4096, len(other)))]
        at = rng.randrange(len(data))
        cut = rng.choice((0, len(chunk)))  # insert, or overwrite
        return data[:at] + chunk + data[at + cut :], f"splice {len(chunk)} bytes at {at}"

    return splice


def mutate_bytes(
    rng: random.Random, data: bytes, others: Sequence[bytes] = ()
) -> tuple[bytes, str]:
    """One generic mutation of ``data`` (never empty input: a one-byte seed is used)."""
    if not data:
        data = b"\0"
    mutators: list[Mutator] = [
        _flip,
        _flip,
        _interesting_byte,
        _truncate,
        _delete,
        _insert,
        _int_field,
        _int_field,
        _length_bump,
        _length_bump,
        _splicer(others),
    ]
    return rng.choice(mutators)(rng, data)


def stack(rng: random.Random, data: bytes, mutators: Sequence[Mutator]) -> tuple[bytes, str]:
    """Apply one to three mutations picked from ``mutators``, in sequence."""
    done = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        data, what = rng.choice(mutators)(rng, data)
        done.append(what)
    return data, "; ".join(done)


# -- ELF ----------------------------------------------------------------------------------
# (name, offset in ELF64, offset in ELF32, width in ELF64, width in ELF32)
_EHDR = (
    ("ei_class", 4, 4, 1, 1),
    ("ei_data", 5, 5, 1, 1),
    ("ei_osabi", 7, 7, 1, 1),
    ("e_type", 16, 16, 2, 2),
    ("e_machine", 18, 18, 2, 2),
    ("e_entry", 24, 24, 8, 4),
    ("e_phoff", 32, 28, 8, 4),
    ("e_shoff", 40, 32, 8, 4),
    ("e_flags", 48, 36, 4, 4),
    ("e_phentsize", 54, 42, 2, 2),
    ("e_phnum", 56, 44, 2, 2),
    ("e_shentsize", 58, 46, 2, 2),
    ("e_shnum", 60, 48, 2, 2),
    ("e_shstrndx", 62, 50, 2, 2),
)
_SHDR = (
    ("sh_name", 0, 0, 4, 4),
    ("sh_type", 4, 4, 4, 4),
    ("sh_flags", 8, 8, 8, 4),
    ("sh_offset", 24, 16, 8, 4),
    ("sh_size", 32, 20, 8, 4),
    ("sh_link", 40, 24, 4, 4),
    ("sh_info", 44, 28, 4, 4),
    ("sh_addralign", 48, 32, 8, 4),
    ("sh_entsize", 56, 36, 8, 4),
)
_PHDR = (
    ("p_type", 0, 0, 4, 4),
    ("p_offset", 8, 4, 8, 4),
    ("p_vaddr", 16, 8, 8, 4),
    ("p_filesz", 32, 16, 8, 4),
    ("p_memsz", 40, 20, 8, 4),
    ("p_align", 48, 28, 8, 4),
)
#: section types the reader and the strip engine treat specially
_SECTION_TYPES = (0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 18, 0x6FFFFFF6, 0x6FFFFFFE, 0x6FFFFFFF)
_SEGMENT_TYPES = (0, 1, 2, 3, 4, 6, 7, 0x6474E550, 0x6474E551, 0x6474E552, 0x6474E553)
_DYNAMIC_TAGS = (0, 1, 5, 10, 14, 15, 29, 0x6FFFFEF5, 0x6FFFFFFE, 0x6FFFFFFF)


def _elf_shape(data: bytes) -> tuple[bool, str, int, int, int, int, int, int] | None:
    """(is64, byte order, phoff, phentsize, phnum, shoff, shentsize, shnum) of a seed."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    is64, order = data[4] == 2, "<" if data[5] == 1 else ">"
    if is64:
        phoff, shoff = struct.unpack_from(order + "QQ", data, 32)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(order + "HHHH", data, 54)
    else:
        phoff, shoff = struct.unpack_from(order + "II", data, 28)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(order + "HHHH", data, 42)
    return is64, order, phoff, phentsize, phnum, shoff, shentsize, shnum


def _set_field(
    rng: random.Random,
    data: bytes,
    at: int,
    width: int,
    order: str,
    name: str,
    special: Sequence[int] = (),
) -> tuple[bytes, str]:
    if at < 0 or at + width > len(data):
        return _flip(rng, data)
    fmt = order + {1: "B", 2: "H", 4: "I", 8: "Q"}[width]
    (original,) = struct.unpack_from(fmt, data, at)
    choices = list(boundary_values(width, original, len(data)))
    choices += [v for v in special if v < 1 << (8 * width)] * 3
    value = rng.choice(choices)
    out = bytearray(data)
    struct.pack_into(fmt, out, at, value)
    return bytes(out), f"{name} = {value:#x} (was {original:#x})"


def mutate_elf(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """One field of the ELF header, a section header, a program header or a dynamic entry."""
    shape = _elf_shape(data)
    if shape is None:
        return mutate_bytes(rng, data)
    is64, order, phoff, phentsize, phnum, shoff, shentsize, shnum = shape
    pick = 0 if is64 else 1
    where = rng.choice(("ehdr", "shdr", "shdr", "phdr", "dyn", "section", "section", "body"))
    if where == "section" and shnum and shoff + shnum * shentsize <= len(data):
        return _mutate_section_body(rng, data, is64, order, shoff, shentsize, shnum)
    if where == "shdr" and shnum and shoff + shnum * shentsize <= len(data):
        index = rng.randrange(shnum)
        name, off64, off32, w64, w32 = rng.choice(_SHDR)
        at = shoff + index * shentsize + (off64, off32)[pick]
        special = {
            "sh_type": _SECTION_TYPES,
            "sh_link": range(shnum + 2),
            "sh_info": range(shnum + 2),
        }.get(name, ())
        return _set_field(
            rng, data, at, (w64, w32)[pick], order, f"section {index} {name}", special
        )
    if where in ("phdr", "dyn") and phnum and phoff + phnum * phentsize <= len(data):
        index = rng.randrange(phnum)
        base = phoff + index * phentsize
        if where == "dyn":
            return _mutate_dynamic(rng, data, is64, order, phoff, phentsize, phnum)
        name, off64, off32, w64, w32 = rng.choice(_PHDR)
        special = _SEGMENT_TYPES if name == "p_type" else ()
        return _set_field(
            rng,
            data,
            base + (off64, off32)[pick],
            (w64, w32)[pick],
            order,
            f"segment {index} {name}",
            special,
        )
    if where == "body":
        return mutate_bytes(rng, data)
    name, off64, off32, w64, w32 = rng.choice(_EHDR)
    return _set_field(rng, data, (off64, off32)[pick], (w64, w32)[pick], order, name)


def _mutate_section_body(
    rng: random.Random,
    data: bytes,
    is64: bool,
    order: str,
    shoff: int,
    shentsize: int,
    shnum: int,
) -> tuple[bytes, str]:
    """A boundary value or a flipped bit inside one section the reader interprets."""
    fmt = order + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    bodies = []
    for i in range(shnum):
        raw = struct.unpack_from(fmt, data, shoff + i * shentsize)
        if (
            raw[1] in _SECTION_TYPES[1:]
            and raw[1] != 8
            and raw[5] > 0
            and raw[4] + raw[5] <= len(data)
        ):
            bodies.append((i, raw[4], raw[5]))
    if not bodies:
        return mutate_bytes(rng, data)
    index, offset, size = rng.choice(bodies)
    body = data[offset : offset + size]
    new, what = rng.choice((_int_field, _int_field, _length_bump, _flip))(rng, body)
    new = new[:size].ljust(size, b"\0")
    return data[:offset] + new + data[offset + size :], f"section {index} body: {what}"


def _mutate_dynamic(
    rng: random.Random,
    data: bytes,
    is64: bool,
    order: str,
    phoff: int,
    phentsize: int,
    phnum: int,
) -> tuple[bytes, str]:
    fmt = order + ("IIQQQQQQ" if is64 else "IIIIIIII")
    for i in range(phnum):
        raw = struct.unpack_from(fmt, data, phoff + i * phentsize)
        p_type, p_offset, p_filesz = (raw[0], raw[2], raw[5]) if is64 else (*raw[:2], raw[4])
        if p_type != 2:
            continue
        entry = 16 if is64 else 8
        count = min(p_filesz, len(data) - p_offset) // entry
        if count <= 0:
            break
        index = rng.randrange(count)
        at = p_offset + index * entry
        half = entry // 2
        if rng.random() < 0.5:
            return _set_field(rng, data, at, half, order, f"dynamic {index} d_tag", _DYNAMIC_TAGS)
        return _set_field(rng, data, at + half, half, order, f"dynamic {index} d_val")
    return mutate_bytes(rng, data)


# -- zip ----------------------------------------------------------------------------------
# signature -> ((field name, offset from the signature, width), ...)
_ZIP_RECORDS: dict[bytes, tuple[tuple[str, int, int], ...]] = {
    b"PK\x03\x04": (
        ("local version", 4, 2),
        ("local flags", 6, 2),
        ("local method", 8, 2),
        ("local crc", 14, 4),
        ("local csize", 18, 4),
        ("local size", 22, 4),
        ("local name length", 26, 2),
        ("local extra length", 28, 2),
    ),
    b"PK\x01\x02": (
        ("central made by", 4, 2),
        ("central flags", 8, 2),
        ("central method", 10, 2),
        ("central crc", 16, 4),
        ("central csize", 20, 4),
        ("central size", 24, 4),
        ("central name length", 28, 2),
        ("central extra length", 30, 2),
        ("central comment length", 32, 2),
        ("central disk", 34, 2),
        ("central external attr", 38, 4),
        ("central local offset", 42, 4),
    ),
    b"PK\x05\x06": (
        ("end disk", 4, 2),
        ("end cd disk", 6, 2),
        ("end entries here", 8, 2),
        ("end entries", 10, 2),
        ("end cd size", 12, 4),
        ("end cd offset", 16, 4),
        ("end comment length", 20, 2),
    ),
}
_ZIP_SPECIAL = (0, 1, 8, 9, 12, 14, 99, 0x800, 0x808, 0x8, 0xA1FF0000, 0x41ED0000, 0x11A40000)


def mutate_zip_fields(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """One field of a local header, central directory entry or end record."""
    found: list[tuple[int, bytes]] = []
    for signature in _ZIP_RECORDS:
        at = data.find(signature)
        while at >= 0:
            found.append((at, signature))
            at = data.find(signature, at + 1)
    if not found:
        return mutate_bytes(rng, data)
    at, signature = rng.choice(found)
    name, offset, width = rng.choice(_ZIP_RECORDS[signature])
    return _set_field(rng, data, at + offset, width, "<", f"{name} @{at}", _ZIP_SPECIAL)


# -- tar ----------------------------------------------------------------------------------
# (field, offset, length, numeric)
_TAR_FIELDS = (
    ("name", 0, 100, False),
    ("mode", 100, 8, True),
    ("uid", 108, 8, True),
    ("size", 124, 12, True),
    ("mtime", 136, 12, True),
    ("typeflag", 156, 1, False),
    ("linkname", 157, 100, False),
    ("magic", 257, 8, False),
    ("devmajor", 329, 8, True),
    ("prefix", 345, 155, False),
)
_TAR_TYPES = b"0123456789gxLKSAD\0"


def tar_headers(data: bytes) -> list[int]:
    """Offsets of the 512-byte headers of a tar stream (stops at the first unreadable one)."""
    out: list[int] = []
    at = 0
    while at + 512 <= len(data) and len(out) < 10_000:
        block = data[at : at + 512]
        if block.count(0) == 512:
            break
        out.append(at)
        size_field = block[124:136]
        try:
            size = int(size_field.rstrip(b"\0 ").decode("ascii") or "0", 8)
        except ValueError:
            break
        at += 512 + (size + 511) // 512 * 512
    return out


def _tar_value(rng: random.Random, length: int, numeric: bool, original: bytes) -> bytes:
    if numeric:
        choice = rng.choice(("octal", "octal", "base256", "garbage"))
        if choice == "octal":
            value = rng.choice((0, 1, 511, 4095, 0o777777, 8 ** (length - 1) - 1, 1 << 33))
            text = f"{value:o}".encode()[: length - 1]
            return text.rjust(length - 1, b"0") + b"\0"
        if choice == "base256":
            value = rng.choice((0, 1, 1 << 40, (1 << 62) + 1)) % (1 << (8 * (length - 1)))
            return b"\x80" + value.to_bytes(length - 1, "big")
        return bytes(rng.choice(b"0123456789 -+x\xff\0") for _ in range(length))
    if length == 1:
        return bytes([rng.choice(_TAR_TYPES)])
    name = rng.choice((*HOSTILE_NAMES, original.rstrip(b"\0").decode("latin-1") + "/../.."))
    raw = name.encode("utf-8", "surrogateescape")[:length]
    return raw.ljust(length, b"\0")


def mutate_tar_header(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """One field of one tar header, with the header checksum recomputed (most of the time)."""
    headers = tar_headers(data)
    if not headers:
        return mutate_bytes(rng, data)
    at = rng.choice(headers)
    name, offset, length, numeric = rng.choice(_TAR_FIELDS)
    out = bytearray(data)
    original = bytes(out[at + offset : at + offset + length])
    out[at + offset : at + offset + length] = _tar_value(rng, length, numeric, original)
    fixed = rng.random() < 0.9
    if fixed:
        out[at + 148 : at + 156] = b" " * 8
        checksum = sum(out[at : at + 512])
        out[at + 148 : at + 156] = f"{checksum:06o}\0 ".encode()
    return bytes(out), f"tar header @{at} {name} (checksum {'fixed' if fixed else 'stale'})"


# -- JSON ---------------------------------------------------------------------------------
_JSON_VALUES: tuple[object, ...] = (
    None,
    True,
    0,
    -1,
    1 << 70,
    1.5e308,
    "",
    "x" * 5000,
    [],
    {},
    [None],
    {"": None},
    "../../etc/passwd",
    "sha256:" + "0" * 64,
    "sha256:../../x",
    [[[[[[[[[[]]]]]]]]]],
)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            out += _paths(inner, (*prefix, index))
    return out


def mutate_json(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Swap one value for another type, drop a key, or duplicate a list element."""
    try:
        document = json.loads(data)
    except ValueError:
        return mutate_bytes(rng, data)
    path = rng.choice(_paths(document))
    if not path:
        return json.dumps(rng.choice(_JSON_VALUES)).encode(), "document replaced"
    parent: object = document
    for key in path[:-1]:
        parent = parent[key]  # type: ignore[index]
    last = path[-1]
    action = rng.choice(("swap", "swap", "swap", "drop", "dup"))
    if action == "drop":
        del parent[last]  # type: ignore[attr-defined]
    elif action == "dup" and isinstance(parent, list):
        parent.insert(int(last), parent[int(last)])  # type: ignore[call-overload]
    else:
        parent[last] = rng.choice(_JSON_VALUES)  # type: ignore[index]
    return json.dumps(document).encode(), f"JSON {action} at {'/'.join(map(str, path))}"


# -- Dockerfile -----------------------------------------------------------------------------
_DOCKER_LINES = (
    "FROM",
    "FROM scratch AS",
    "RUN \\",
    "RUN --mount=type=cache,target=/root/.cache/pip pip",
    "COPY --from=0 / /",
    "COPY . .",
    "ADD . /app",
    "ENV PIP_NO_CACHE_DIR=1",
    "# comment \\",
    "RUN <<EOF",
    "EOF",
    "RUN pip install -r requirements.txt && rm -rf /root/.cache/pip",
    "RUN apt-get install -y gcc && apt-get purge -y gcc",
    "\\",
    "RUN " + "a && " * 2000,
    "FROM " + "x" * 5000,
    "RUN 'unterminated",
    'RUN "unterminated',
    "ARG A=${B:-${C}}",
    "RUN pip wheel -w /w . && wheelfix repair /w/*.whl",
    "\ufeffFROM x",
    "FROM\tx\r",
)


def mutate_dockerfile(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Shuffle, duplicate, drop or splice lines; or fall back to a byte mutation."""
    lines = data.split(b"\n")
    action = rng.choice(("shuffle", "dup", "drop", "insert", "insert", "join", "bytes"))
    if action == "shuffle":
        rng.shuffle(lines)
    elif action == "dup":
        at = rng.randrange(len(lines))
        lines[at:at] = [lines[at]] * rng.choice((1, 2, 100))
    elif action == "drop" and len(lines) > 1:
        del lines[rng.randrange(len(lines))]
    elif action == "insert":
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(_DOCKER_LINES).encode())
    elif action == "join":
        at = rng.randrange(len(lines))
        lines[at] += b" \\"
    else:
        return mutate_bytes(rng, data)
    return b"\n".join(lines), f"Dockerfile lines: {action}"
