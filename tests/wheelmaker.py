"""Wheels for tests: correct ones built on the fly, and hand-framed hostile zips.

``build_wheel`` writes a reproducible wheel with a correct ``RECORD`` (sha256 and size of
every member) unless told otherwise. ``raw_zip`` writes a zip byte by byte so a test can
put exactly the hostile field it wants where it wants it (:mod:`zipfile` sanitises names
and refuses many of these on write). ``assert_refused`` is the common assertion for inputs
that must give an error result: one line naming file, member and reason, nothing written
anywhere, the input unchanged.

The module is plain Python so session-scoped fixtures and other test modules can use it
without going through a fixture.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from packaging.tags import parse_tag

from wheelfix.findings import Finding
from wheelfix.formats.wheelfile import Limits
from wheelfix.wheels.audit import CheckOptions, check_wheel
from wheelfix.wheels.checks.contents import ContentRules
from wheelfix.wheels.results import WheelResult

__all__ = [
    "ZIP_DATE_TIME",
    "MakeWheel",
    "RawEntry",
    "assert_refused",
    "build_wheel",
    "raw_wheel_entries",
    "raw_zip",
    "record_text",
    "sha256_field",
    "snapshot",
    "wheel_entries",
    "wheel_filename",
    "write_zip",
]

#: Every member gets this timestamp, so the same inputs give the same bytes.
ZIP_DATE_TIME = (2020, 1, 1, 0, 0, 0)
_DOS_TIME = 0  # 00:00:00
_DOS_DATE = ((2020 - 1980) << 9) | (1 << 5) | 1
_FILE_MODE = 0o100644
_UTF8_FLAG = 0x800

Files = Mapping[str, bytes | str]


# -- correct wheels ----------------------------------------------------------------------
def sha256_field(data: bytes) -> str:
    """A RECORD hash column: ``sha256=`` and the unpadded urlsafe base64 digest."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def record_text(entries: Iterable[tuple[str, bytes]], record_name: str) -> str:
    """RECORD for ``entries``, with the RECORD row itself last and unhashed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for name, data in entries:
        writer.writerow([name, sha256_field(data), str(len(data))])
    writer.writerow([record_name, "", ""])
    return out.getvalue()


def wheel_filename(name: str, version: str, tag: str) -> str:
    return f"{name.replace('-', '_')}-{version}-{tag}.whl"


def _default_wheel_text(tag: str, root_is_purelib: bool) -> str:
    lines = ["Wheel-Version: 1.0", "Generator: wheelfix-tests"]
    lines.append(f"Root-Is-Purelib: {'true' if root_is_purelib else 'false'}")
    lines += [f"Tag: {t}" for t in sorted(str(t) for t in parse_tag(tag))]
    return "\n".join(lines) + "\n"


def wheel_entries(
    files: Files,
    *,
    name: str = "demo",
    version: str = "1.0",
    tag: str = "py3-none-any",
    record: bool | str = True,
    wheel_text: str | None = None,
    metadata_text: str | None = None,
    root_is_purelib: bool | None = None,
) -> list[tuple[str, bytes]]:
    """The members of a wheel in archive order: ``files``, then METADATA, WHEEL, RECORD.

    A key of ``files`` that names a generated dist-info file (RECORD too) replaces it.
    """
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    if root_is_purelib is None:
        root_is_purelib = tag.endswith("-any")
    generated = {
        f"{dist_info}/METADATA": metadata_text
        if metadata_text is not None
        else f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": wheel_text
        if wheel_text is not None
        else _default_wheel_text(tag, root_is_purelib),
    }
    entries = [(path, _as_bytes(data)) for path, data in files.items()]
    entries += [(path, text.encode()) for path, text in generated.items() if path not in files]
    record_name = f"{dist_info}/RECORD"
    if record_name in files:
        return entries
    if record is True:
        entries.append((record_name, record_text(entries, record_name).encode()))
    elif isinstance(record, str):
        entries.append((record_name, record.encode()))
    return entries


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


def write_zip(path: Path, entries: Iterable[tuple[str, bytes]]) -> Path:
    """A reproducible zip: fixed timestamp and mode, deflated, in the given order."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = _FILE_MODE << 16
            zf.writestr(info, data)
    return path


def build_wheel(
    directory: Path,
    files: Files,
    *,
    name: str = "demo",
    version: str = "1.0",
    tag: str = "py3-none-any",
    record: bool | str = True,
    wheel_text: str | None = None,
    metadata_text: str | None = None,
    filename: str | None = None,
    root_is_purelib: bool | None = None,
) -> Path:
    """Write a wheel into ``directory`` and return its path."""
    entries = wheel_entries(
        files,
        name=name,
        version=version,
        tag=tag,
        record=record,
        wheel_text=wheel_text,
        metadata_text=metadata_text,
        root_is_purelib=root_is_purelib,
    )
    return write_zip(directory / (filename or wheel_filename(name, version, tag)), entries)


class MakeWheel(Protocol):
    """The signature of the ``make_wheel`` fixture (for annotations in tests)."""

    def __call__(
        self,
        files: Files,
        *,
        name: str = "demo",
        version: str = "1.0",
        tag: str = "py3-none-any",
        record: bool | str = True,
        wheel_text: str | None = None,
        metadata_text: str | None = None,
        filename: str | None = None,
        root_is_purelib: bool | None = None,
    ) -> Path: ...


# -- hand-framed zips --------------------------------------------------------------------
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")
_LOCATOR = struct.Struct("<4sIQI")


@dataclass(frozen=True, slots=True, kw_only=True)
class RawEntry:
    """One member of a hand-framed zip. ``None`` fields are computed from ``data``.

    The ``local_*`` fields, when set, make the local header say something else than the
    central directory.
    """

    name: bytes | str
    data: bytes = b""
    method: int = zipfile.ZIP_STORED
    payload: bytes | None = None  # the stored bytes; default: data, deflated for method 8
    flags: int | None = None  # default: the UTF-8 flag when the name is not ASCII
    external_attr: int = _FILE_MODE << 16
    create_system: int = 3
    extract_version: int = 20
    crc: int | None = None
    size: int | None = None
    compressed_size: int | None = None
    header_offset: int | None = None
    local_name: bytes | None = None
    local_flags: int | None = None
    local_method: int | None = None
    local_crc: int | None = None
    descriptor: bytes | None = None  # written after the data (set the 0x8 flag yourself)
    central_only: bool = False  # no local header or data: header_offset points elsewhere

    def raw_name(self) -> bytes:
        return self.name.encode() if isinstance(self.name, str) else self.name

    def stored(self) -> bytes:
        if self.payload is not None:
            return self.payload
        if self.method == zipfile.ZIP_DEFLATED:
            packer = zlib.compressobj(6, zlib.DEFLATED, -15)
            return packer.compress(self.data) + packer.flush()
        return self.data

    def flag_bits(self) -> int:
        if self.flags is not None:
            return self.flags
        return 0 if self.raw_name().isascii() else _UTF8_FLAG


def raw_wheel_entries(
    files: Files,
    *,
    name: str = "demo",
    version: str = "1.0",
    tag: str = "py3-none-any",
    record: bool | str = True,
) -> list[RawEntry]:
    """The members :func:`wheel_entries` would write, as deflated :class:`RawEntry` rows."""
    rows = wheel_entries(files, name=name, version=version, tag=tag, record=record)
    return [RawEntry(name=n, data=d, method=zipfile.ZIP_DEFLATED) for n, d in rows]


def raw_zip(
    entries: Sequence[RawEntry],
    *,
    prefix: bytes = b"",
    suffix: bytes = b"",
    between: bytes = b"",
    comment: bytes = b"",
    entry_count: int | None = None,
    zip64: bool = False,
    zip64_record_offset: int | None = None,
    shift_offsets: bool = False,
) -> bytes:
    """Frame ``entries`` as a zip, exactly as told.

    ``prefix`` goes before the first local header (offsets are *not* adjusted unless
    ``shift_offsets``), ``between`` between the last entry and the central
    directory, ``suffix`` after the end record; ``shift_offsets`` makes the offsets count the
    prefix, as a proper self-extractor does. ``zip64`` writes a zip64 end record and
    locator, with the classic end record's fields set to their "see zip64" values.
    """
    body = bytearray()
    central = bytearray()
    for entry in entries:
        name = entry.raw_name()
        stored = entry.stored()
        crc = entry.crc if entry.crc is not None else zlib.crc32(entry.data)
        size = entry.size if entry.size is not None else len(entry.data)
        csize = entry.compressed_size if entry.compressed_size is not None else len(stored)
        flags = entry.flag_bits()
        offset = len(body) + (len(prefix) if shift_offsets else 0)
        if not entry.central_only:
            body += _local_record(entry, name, stored, crc, size, csize, flags)
        central += _CENTRAL.pack(
            b"PK\x01\x02",
            (entry.create_system << 8) | 20,
            entry.extract_version,
            flags,
            entry.method,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            csize,
            size,
            len(name),
            0,
            0,
            0,
            0,
            entry.external_attr,
            entry.header_offset if entry.header_offset is not None else offset,
        )
        central += name
    body += between
    cd_offset = len(body) + (len(prefix) if shift_offsets else 0)
    count = entry_count if entry_count is not None else len(entries)
    tail = bytearray(central)
    if zip64:
        record_at = cd_offset + len(central)
        tail += _EOCD64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(central), cd_offset)
        where = zip64_record_offset if zip64_record_offset is not None else record_at
        tail += _LOCATOR.pack(b"PK\x06\x07", 0, where, 1)
        tail += _EOCD.pack(b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        tail += _EOCD.pack(b"PK\x05\x06", 0, 0, count, count, len(central), cd_offset, len(comment))
        tail += comment
    return prefix + bytes(body) + bytes(tail) + suffix


def _local_record(
    entry: RawEntry, name: bytes, stored: bytes, crc: int, size: int, csize: int, flags: int
) -> bytes:
    local_name = entry.local_name if entry.local_name is not None else name
    header = _LOCAL.pack(
        b"PK\x03\x04",
        entry.extract_version,
        entry.local_flags if entry.local_flags is not None else flags,
        entry.local_method if entry.local_method is not None else entry.method,
        _DOS_TIME,
        _DOS_DATE,
        entry.local_crc if entry.local_crc is not None else crc,
        csize,
        size,
        len(local_name),
        0,
    )
    return header + local_name + stored + (entry.descriptor or b"")


# -- refusals ----------------------------------------------------------------------------
def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``directory`` with its size and mode, to prove nothing was written."""
    out: dict[str, tuple[int, int]] = {}
    for root, dirs, names in os.walk(directory):
        for entry in [*dirs, *names]:
            path = Path(root, entry)
            st = path.lstat()
            out[str(path.relative_to(directory))] = (st.st_size, st.st_mode)
    return out


def assert_refused(
    path: Path,
    *,
    reason: str,
    member: str | None = None,
    limits: Limits | None = None,
    watch: Path | None = None,
) -> WheelResult:
    """``check_wheel(path)`` must give an error result, and touch nothing.

    The error is one line naming the file, ``member`` (when given) and containing
    ``reason`` (case-insensitive). ``watch`` (default: the wheel's folder) is unchanged and
    the input's bytes are the same afterwards.
    """
    folder = watch if watch is not None else path.parent
    before = snapshot(folder)
    data = path.read_bytes() if path.is_file() else None
    result = check_wheel(path, CheckOptions(limits=limits or Limits()))
    message = result.error
    assert message is not None, f"not refused; findings: {[f.code for f in result.findings]}"
    assert "\n" not in message, message
    assert "Traceback" not in message, message
    assert str(path) in message, message
    assert reason.lower() in message.lower(), message
    if member is not None:
        assert member in message, message
    assert result.findings == ()
    assert result.status == "error"
    assert snapshot(folder) == before
    if data is not None:
        assert path.read_bytes() == data
    return result


def add_dist(root: Path, name: str, files: Mapping[str, bytes], *, record: bool = True) -> Path:
    """An installed distribution under ``root`` (as pip leaves it) with a correct RECORD,
    or none when ``record`` is false; returns its ``.dist-info`` folder."""
    dist_info = root / f"{name}-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    rows = []
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        rows.append((rel, sha256_field(data), str(len(data))))
    if record:
        own = [(f"{dist_info.name}/METADATA", "", ""), (f"{dist_info.name}/RECORD", "", "")]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([*rows, *own])
        (dist_info / "RECORD").write_text(buffer.getvalue())
    return dist_info


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path -> what it is (file digest, link target, ``dir``) for everything under
    ``folder``: two calls compare a tree before and after something that must not touch it."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                out[rel] = f"link:{path.readlink()}"
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


#: A small, clean package: what the content and layout tests add their one problem to.
GOOD_PACKAGE: dict[str, bytes | str] = {
    "demo/__init__.py": "VALUE = 1\n",
    "demo/core.py": "def f() -> int:\n    return 1\n",
}


def findings_of(path: Path, rules: ContentRules | None = None) -> list[Finding]:
    """The findings ``check`` reports on a readable wheel, with these content rules."""
    result = check_wheel(path, CheckOptions(contents=rules or ContentRules()))
    assert result.error is None, result.error
    return list(result.findings)


def only(findings: list[Finding], code: str) -> list[Finding]:
    """The findings of one code."""
    return [f for f in findings if f.code == code]
