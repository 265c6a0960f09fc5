"""A read-only, validated view of a wheel archive.

Opening a wheel validates the zip framing (one archive, no bytes before or after it, local
headers that agree with the central directory, no overlapping entries), every member name,
the declared sizes (bombs), the filename and the ``.dist-info`` folder. Anything that makes
the archive ambiguous or unsafe raises :class:`~wheelfix.errors.InvalidWheelError`: such a
file is not read further. Problems that leave the wheel readable (RECORD, WHEEL metadata)
are reported later as findings by the integrity checks.

Nothing is extracted to disk. Member data is read through :meth:`WheelArchive.read`, which
is bounded by the declared size and verifies the CRC.
"""

from __future__ import annotations

import posixpath
import stat
import struct
import threading
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from packaging.tags import Tag
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from wheelfix.errors import InvalidWheelError

__all__ = ["Limits", "Member", "WheelArchive", "WheelName", "parse_name", "validate_member_name"]

MiB = 1 << 20
GiB = 1 << 30

_EOCD_SIG = b"PK\x05\x06"
_EOCD64_LOCATOR_SIG = b"PK\x06\x07"
_LOCAL_SIG = b"PK\x03\x04"
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_FLAG_ENCRYPTED = 0x1
_FLAG_DATA_DESCRIPTOR = 0x8
_FLAG_UTF8 = 0x800


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on what a wheel may ask us to decompress. Overridable; documented in docs/."""

    max_total_size: int = 8 * GiB
    max_member_size: int = 4 * GiB
    max_members: int = 200_000
    #: Above this size a member must not compress better than ``max_ratio`` (PyPI's rule).
    ratio_threshold: int = 64 * MiB
    max_ratio: int = 50


@dataclass(frozen=True, slots=True)
class WheelName:
    """The parts of a validated wheel filename."""

    filename: str
    name: NormalizedName
    version: Version
    build: tuple[int, str] | tuple[()]
    tags: frozenset[Tag]

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(sorted({t.platform for t in self.tags}))


@dataclass(frozen=True, slots=True)
class Member:
    """One regular file in the archive (directories are not members)."""

    name: str
    size: int
    compressed_size: int
    crc: int
    _info: zipfile.ZipInfo


def parse_name(path: str, filename: str) -> WheelName:
    """Validate a wheel filename with packaging's parser."""
    try:
        name, version, build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise InvalidWheelError(path, f"invalid wheel filename: {exc}") from None
    return WheelName(filename, name, version, build, tags)


def validate_member_name(name: str) -> str | None:
    """Return why ``name`` is unsafe as an archive member, or ``None`` when it is fine."""
    if not name:
        return "empty member name"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "control character in member name"
    if "\\" in name:
        return "backslash in member name"
    if name.startswith("/"):
        return "absolute member name"
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        return "drive letter in member name"
    parts = name.rstrip("/").split("/")
    if any(p == ".." for p in parts):
        return "member name climbs out of the archive ('..')"
    if any(p in ("", ".") for p in parts):
        return "empty or '.' path component in member name"
    if any(len(p.encode()) > 255 for p in parts) or len(name.encode()) > 4096:
        return "member name too long"
    return None


class WheelArchive:
    """An open, validated wheel. Use as a context manager; members are read on demand."""

    def __init__(self, path: Path, *, limits: Limits | None = None) -> None:
        self.path = path
        self.limits = limits or Limits()
        self._display = str(path)
        self.wheel_name = parse_name(self._display, path.name)
        try:
            self.file_size = path.stat().st_size
            self._zip = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise InvalidWheelError(self._display, "no such file") from None
        except IsADirectoryError:
            raise InvalidWheelError(self._display, "is a directory, not a wheel") from None
        except PermissionError:
            raise InvalidWheelError(self._display, "permission denied") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise InvalidWheelError(self._display, f"not a zip archive ({exc})") from None
        except UnicodeDecodeError:
            raise InvalidWheelError(self._display, "member name is not valid UTF-8") from None
        self._lock = threading.Lock()
        try:
            self.members = self._validate()
        except BaseException:
            self._zip.close()
            raise
        self.by_name = {m.name: m for m in self.members}
        self.dist_info = self._find_dist_info()

    # -- context manager -----------------------------------------------------------------
    def __enter__(self) -> WheelArchive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    # -- validation ----------------------------------------------------------------------
    def _fail(self, reason: str, member: str | None = None) -> InvalidWheelError:
        return InvalidWheelError(self._display, reason, member=member)

    def _validate(self) -> tuple[Member, ...]:
        infos = self._zip.infolist()
        if len(infos) > self.limits.max_members:
            raise self._fail(f"too many members ({len(infos)} > {self.limits.max_members})")
        if not infos:
            raise self._fail("empty archive")
        seen: set[str] = set()
        members: list[Member] = []
        total = 0
        for info in infos:
            name = info.filename
            if not info.flag_bits & _FLAG_UTF8 and not name.isascii():
                raise self._fail("non-ASCII member name without the UTF-8 flag", repr(name))
            reason = validate_member_name(name)
            if reason is not None:
                raise self._fail(reason, repr(name))
            if unicodedata.normalize("NFC", name) in seen or name in seen:
                raise self._fail("duplicate member name", name)
            seen.add(name)
            if info.flag_bits & _FLAG_ENCRYPTED:
                raise self._fail("encrypted member", name)
            if info.compress_type not in _SUPPORTED_COMPRESSION:
                raise self._fail(f"unsupported compression method {info.compress_type}", name)
            mode = info.external_attr >> 16
            if mode and info.create_system == 3:  # Unix: the mode bits are meaningful
                kind = stat.S_IFMT(mode)
                if kind == stat.S_IFLNK:
                    raise self._fail("symbolic link member (never materialised)", name)
                if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise self._fail("member is not a regular file or directory", name)
            if name.endswith("/"):
                if info.file_size:
                    raise self._fail("directory entry with data", name)
                continue
            self._check_bomb(info)
            total += info.file_size
            if total > self.limits.max_total_size:
                raise self._fail(
                    f"uncompressed size exceeds the limit of {self.limits.max_total_size} bytes"
                )
            members.append(Member(name, info.file_size, info.compress_size, info.CRC, info))
        self._check_framing(infos)
        return tuple(members)

    def _check_bomb(self, info: zipfile.ZipInfo) -> None:
        limits = self.limits
        if info.file_size > limits.max_member_size:
            raise self._fail(
                f"member declares {info.file_size} bytes, above the limit of "
                f"{limits.max_member_size}",
                info.filename,
            )
        if info.file_size > limits.ratio_threshold:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise self._fail(
                    f"compression ratio {ratio:.0f} above {limits.max_ratio} (zip bomb?)",
                    info.filename,
                )

    def _check_framing(self, infos: list[zipfile.ZipInfo]) -> None:
        """Reject archives that zip readers could disagree on.

        The entries must tile the file: the first local header at offset 0, each entry's
        data followed by the next header (or an optional data descriptor), the central
        directory right after the last entry, and the end record at the very end.
        """
        with self.path.open("rb") as fh:
            tail_len = min(self.file_size, 22 + 0xFFFF)
            fh.seek(self.file_size - tail_len)
            tail = fh.read(tail_len)
            eocd = tail.rfind(_EOCD_SIG)
            if eocd < 0 or len(tail) - eocd < 22:
                raise self._fail("end of central directory record not found")
            (comment_len,) = struct.unpack_from("<H", tail, eocd + 20)
            if eocd + 22 + comment_len != len(tail):
                raise self._fail("data after the end of the zip archive")
            cd_size, cd_offset = struct.unpack_from("<II", tail, eocd + 12)
            eocd_abs = self.file_size - tail_len + eocd
            if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
                loc = eocd_abs - 20
                fh.seek(loc)
                if fh.read(4) != _EOCD64_LOCATOR_SIG:
                    raise self._fail("zip64 end record locator missing")
                fh.seek(loc + 8)
                (rec_off,) = struct.unpack("<Q", fh.read(8))
                fh.seek(rec_off + 40)
                cd_size, cd_offset = struct.unpack("<QQ", fh.read(16))
                cd_end = rec_off
            else:
                cd_end = eocd_abs
            if cd_offset + cd_size != cd_end:
                raise self._fail("central directory does not end where the end record starts")
            expected = 0
            for info in sorted(infos, key=lambda i: i.header_offset):
                if info.header_offset != expected:
                    where = "before the first entry" if expected == 0 else "between entries"
                    kind = "gap or overlap" if expected else "data"
                    raise self._fail(f"{kind} {where} (ambiguous framing)", info.filename)
                fh.seek(info.header_offset)
                header = fh.read(_LOCAL_HEADER.size)
                if len(header) != _LOCAL_HEADER.size:
                    raise self._fail("truncated local header", info.filename)
                (sig, _ver, flags, method, _t, _d, crc, csize, usize, nlen, xlen) = (
                    _LOCAL_HEADER.unpack(header)
                )
                if sig != _LOCAL_SIG:
                    raise self._fail("bad local header signature", info.filename)
                raw_name = fh.read(nlen)
                central_name = info.orig_filename.encode(
                    "utf-8" if info.flag_bits & _FLAG_UTF8 else "cp437"
                )
                if raw_name != central_name:
                    raise self._fail(
                        "local header name disagrees with central directory", info.filename
                    )
                if method != info.compress_type:
                    raise self._fail("local header compression disagrees", info.filename)
                if (
                    not flags & _FLAG_DATA_DESCRIPTOR
                    and csize != 0xFFFFFFFF
                    and (crc != info.CRC or csize != info.compress_size or usize != info.file_size)
                ):
                    raise self._fail(
                        "local header sizes disagree with central directory", info.filename
                    )
                end = info.header_offset + _LOCAL_HEADER.size + nlen + xlen + info.compress_size
                if flags & _FLAG_DATA_DESCRIPTOR:
                    end += self._descriptor_len(fh, end, info)
                expected = end
            if expected != cd_offset:
                raise self._fail("data between the last entry and the central directory")

    @staticmethod
    def _descriptor_len(fh: BinaryIO, offset: int, info: zipfile.ZipInfo) -> int:
        fh.seek(offset)
        head = fh.read(4)
        signed = head == b"PK\x07\x08"
        zip64 = info.file_size > 0xFFFFFFFF or info.compress_size > 0xFFFFFFFF
        return (4 if signed else 0) + (20 if zip64 else 12)

    def _find_dist_info(self) -> str:
        tops = {m.name.split("/", 1)[0] for m in self.members if "/" in m.name}
        dist_infos = sorted(t for t in tops if t.endswith(".dist-info"))
        if not dist_infos:
            raise self._fail("no .dist-info folder")
        if len(dist_infos) > 1:
            raise self._fail(f"more than one .dist-info folder: {', '.join(dist_infos)}")
        (folder,) = dist_infos
        stem = folder[: -len(".dist-info")]
        name, sep, version = stem.rpartition("-")
        expected = self.wheel_name
        try:
            matches = (
                bool(sep)
                and canonicalize_name(name) == expected.name
                and Version(version) == expected.version
            )
        except ValueError:
            matches = False
        if not matches:
            raise self._fail(
                f"{folder} does not match the filename ({expected.name} {expected.version})"
            )
        return folder

    # -- reading -------------------------------------------------------------------------
    def read(self, member: Member) -> bytes:
        """Return a member's bytes: bounded by its declared size, CRC-checked."""
        try:
            with self._zip.open(member._info) as fh:
                data = fh.read(member.size + 1)
        except zipfile.BadZipFile as exc:
            raise self._fail(f"corrupt member data ({exc})", member.name) from None
        except (zlib.error, EOFError, OSError, ValueError) as exc:
            raise self._fail(f"corrupt compressed stream ({exc})", member.name) from None
        if len(data) != member.size:
            raise self._fail("member size differs from its declared size", member.name)
        return data

    def read_text(self, name: str) -> str | None:
        """A dist-info text file, or ``None`` when it is absent or not UTF-8."""
        member = self.by_name.get(name)
        if member is None:
            return None
        try:
            return self.read(member).decode("utf-8")
        except UnicodeDecodeError:
            return None

    def dist_info_path(self, name: str) -> str:
        return posixpath.join(self.dist_info, name)
