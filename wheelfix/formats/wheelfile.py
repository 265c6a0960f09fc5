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

import io
import itertools
import os
import posixpath
import re
import stat
import struct
import threading
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from packaging.tags import Tag
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from wheelfix.errors import InvalidWheelError
from wheelfix.formats.bounded import MalformedInputError, open_regular, parse_decimal
from wheelfix.formats.headers import parse_headers

__all__ = [
    "SUPPORTED_WHEEL_MAJOR",
    "Limits",
    "Member",
    "WheelArchive",
    "WheelName",
    "parse_name",
    "validate_member_name",
    "wheel_version",
]

MiB = 1 << 20
GiB = 1 << 30

_EOCD_SIG = b"PK\x05\x06"
_EOCD64_LOCATOR_SIG = b"PK\x06\x07"
_LOCAL_SIG = b"PK\x03\x04"
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_EOCD64_SIG = b"PK\x06\x06"
_EOCD64_SIZE = 56
_EOCD64_LOCATOR_SIZE = 20
_FLAG_ENCRYPTED = 0x1
_FLAG_DATA_DESCRIPTOR = 0x8
_FLAG_PATCHED = 0x20
_FLAG_UTF8 = 0x800
# Traditional (0x1) and strong (0x40) encryption, and encrypted local headers (0x2000).
_FLAGS_ENCRYPTION = _FLAG_ENCRYPTED | 0x40 | 0x2000
#: The Wheel-Version major this reader understands; a newer major must be refused (spec).
SUPPORTED_WHEEL_MAJOR = 1
_WHEEL_TEXT_LIMIT = 1 << 20
#: Digits in each part of ``Wheel-Version``: no real version needs more.
_VERSION_DIGITS = 6
#: The largest dist-info text (RECORD, WHEEL, METADATA...) read into memory as text.
TEXT_LIMIT = 16 * MiB


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

    @property
    def executable(self) -> bool:
        """Whether the archive marks the file executable (Unix mode bits)."""
        return bool((self._info.external_attr >> 16) & 0o111)


def parse_name(path: str, filename: str) -> WheelName:
    """Validate a wheel filename with packaging's parser."""
    try:
        name, version, build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        why = _filename_part_at_fault(filename) or str(exc)
        raise InvalidWheelError(path, f"invalid wheel filename: {why}") from None
    return WheelName(filename, name, version, build, tags)


def _filename_part_at_fault(filename: str) -> str | None:
    """Which part of ``NAME-VERSION(-BUILD)?-PYTHON-ABI-PLATFORM.whl`` is wrong, in words;
    ``None`` when no single part can be blamed (packaging's message is used then)."""
    if not filename.endswith(".whl"):
        return f"{filename!r} does not end in .whl"
    parts = filename[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        return (
            f"{filename!r} has {len(parts)} '-'-separated parts; expected 5 or 6 "
            "(NAME-VERSION[-BUILD]-PYTHON-ABI-PLATFORM.whl, with '-' in NAME written as '_')"
        )
    try:
        Version(parts[1])
    except InvalidVersion:
        hint = ""
        if len(parts) == 6 and parts[1] and _is_version(parts[2]):
            hint = f"; a '-' in the project name? write it as {parts[0]}_{parts[1]}"
        return f"the version part {parts[1]!r} of {filename!r} is not a version{hint}"
    if len(parts) == 6 and not parts[2][:1].isdigit():
        return f"the build tag {parts[2]!r} of {filename!r} must start with a digit"
    return None


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def wheel_version(text: str) -> tuple[int, int] | None:
    """``Wheel-Version`` of a WHEEL file as ``(major, minor)``; ``None`` if absent or malformed.

    Each part is at most six ASCII digits: ``int()`` on thousands of digits raises.
    """
    value = parse_headers(text).get("Wheel-Version").strip()
    major, sep, minor = value.partition(".")
    if not sep:
        return None
    try:
        return (
            parse_decimal(major, "Wheel-Version", max_digits=_VERSION_DIGITS),
            parse_decimal(minor, "Wheel-Version", max_digits=_VERSION_DIGITS),
        )
    except MalformedInputError:
        return None


def _oversized_version(text: str) -> int:
    """The digit count of a ``Wheel-Version`` part above the cap, or 0."""
    value = parse_headers(text).get("Wheel-Version").strip()
    parts = value.split(".")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
        return 0
    longest = max(len(p) for p in parts)
    return longest if longest > _VERSION_DIGITS else 0


#: C0 control characters and DEL (one regex search: names are checked for every member)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_member_name(name: str) -> str | None:
    """Return why ``name`` is unsafe as an archive member, or ``None`` when it is fine."""
    if not name:
        return "empty member name"
    if _CONTROL.search(name):
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


class _PositionalFile(io.RawIOBase):
    """A read-only view of an open file that keeps its own position and reads with
    ``os.pread``: it never moves the descriptor's shared offset.

    zipfile seeks and reads through this. A forked child (``wheelfix.parallel``) inherits
    the descriptor, and with it the offset, which a plain file object would move under the
    parent's feet; with ``pread`` each process, and each copy of this object, reads at its
    own position.
    """

    def __init__(self, fd: int, name: str) -> None:
        super().__init__()
        self._fd = fd
        self._pos = 0
        self.name = name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            target = offset
        elif whence == os.SEEK_CUR:
            target = self._pos + offset
        elif whence == os.SEEK_END:
            target = os.fstat(self._fd).st_size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if target < 0:
            raise OSError(22, "negative seek position")
        self._pos = target
        return target

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = max(0, os.fstat(self._fd).st_size - self._pos)
        data = os.pread(self._fd, size, self._pos)
        self._pos += len(data)
        return data

    def close(self) -> None:
        super().close()  # the descriptor belongs to the archive's own file object


class WheelArchive:
    """An open, validated wheel. Use as a context manager; members are read on demand."""

    def __init__(self, path: Path, *, limits: Limits | None = None) -> None:
        self.path = path
        self.limits = limits or Limits()
        self._display = str(path)
        if not path.exists() and not path.is_symlink():  # before the name: a glob that
            raise InvalidWheelError(self._display, "no such file")  # matched nothing
        self.wheel_name = parse_name(self._display, path.name)
        self._zip = self._open_zip()
        # ZipFile.open and ZipExtFile.close update an unlocked reference count on the shared
        # file handle, and members are read on several threads.
        self._lock = threading.Lock()
        try:
            self.members = self._validate()
            self.by_name = {m.name: m for m in self.members}
            self.dist_info = self._find_dist_info()
            self._check_wheel_version()
        except BaseException:
            self.close()
            raise

    def _open(self) -> zipfile.ZipFile:
        # One descriptor, opened without blocking and checked with fstat, serves zipfile
        # and the framing checks: a FIFO or device is refused before anything waits on it,
        # and a file replaced or removed after the check is never opened a second time.
        try:
            self._fh = open_regular(self.path)
        except MalformedInputError as exc:
            reason = exc.reason
            if reason == "is a directory":
                reason = "is a directory, not a wheel"
            raise self._fail(reason) from None
        try:
            self.file_size = os.fstat(self._fh.fileno()).st_size
            return zipfile.ZipFile(_PositionalFile(self._fh.fileno(), self._display))
        except BaseException:
            self._fh.close()
            raise

    def _open_zip(self) -> zipfile.ZipFile:
        try:
            return self._open()
        except PermissionError:
            raise self._fail("permission denied") from None
        # Before ValueError, of which it is a subclass: the name's raw bytes identify it.
        except UnicodeDecodeError as exc:
            raw = exc.object if isinstance(exc.object, bytes) else b""
            raise self._fail("member name is not valid UTF-8", repr(raw)) from None
        except NotImplementedError as exc:
            # zipfile refuses "version needed to extract" above 6.3 this way.
            raise self._fail(f"unsupported zip feature ({exc})") from None
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            OSError,
            ValueError,
            EOFError,
            struct.error,
        ) as exc:
            raise self._fail(f"not a zip archive ({exc})") from None

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
        self._fh.close()

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
            name = self._checked_name(info)
            folded = unicodedata.normalize("NFC", name)
            if folded in seen:
                raise self._fail("duplicate member name", name)
            seen.add(folded)
            if info.flag_bits & _FLAGS_ENCRYPTION:
                raise self._fail("encrypted member", name)
            if info.flag_bits & _FLAG_PATCHED:
                raise self._fail("unsupported zip feature (patched data, flag bit 5)", name)
            if info.compress_type not in _SUPPORTED_COMPRESSION:
                raise self._fail(f"unsupported compression method {info.compress_type}", name)
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            # Extractors disagree on which "made by" systems carry Unix modes, so a symlink
            # is refused whatever the system; other odd kinds only when made on Unix.
            if kind == stat.S_IFLNK:
                raise self._fail("symbolic link member (never materialised)", name)
            if info.create_system == 3 and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
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
        self._check_file_folder_clash(members)
        self._check_framing(infos)
        return tuple(members)

    def _checked_name(self, info: zipfile.ZipInfo) -> str:
        """The member's name, refused unless safe and read the same way by every reader."""
        # zipfile cuts ``filename`` at the first NUL (and may take it from a Unicode path
        # extra field): validate the raw name, then insist both say the same.
        raw, name = info.orig_filename, info.filename
        if not info.flag_bits & _FLAG_UTF8 and not raw.isascii():
            raise self._fail("non-ASCII member name without the UTF-8 flag", repr(raw))
        reason = validate_member_name(raw)
        if reason is not None:
            raise self._fail(reason, repr(raw))
        if name != raw:
            raise self._fail("member name is read differently by different readers", repr(raw))
        return name

    def _check_file_folder_clash(self, members: list[Member]) -> None:
        # "a" as a file and "a/b" as another: extraction fails or depends on the order.
        # Sorted with "/" as the smallest character (names hold no NUL), a file that is also
        # a folder comes right before the first member inside it, so neighbours are enough:
        # walking every prefix of every name was quadratic in the depth (5000 names 2000
        # folders deep: 172 s).
        names = sorted((m.name for m in members), key=lambda name: name.replace("/", "\0"))
        for before, after in itertools.pairwise(names):
            if after.startswith(before + "/"):
                raise self._fail(f"{before} is both a file and a folder", after)

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
        data followed by the next header (or its data descriptor), the central directory
        right after the last entry, and the end records at the very end. Every local header
        must say what the central directory says.
        """
        fh = self._fh
        try:
            self._check_framing_of(fh, infos)
        except OSError as exc:
            raise self._fail(f"cannot be read ({exc.strerror or exc})") from None

    def _check_framing_of(self, fh: IO[bytes], infos: list[zipfile.ZipInfo]) -> None:
        cd_offset, cd_size, cd_end, count = self._end_records(fh)
        if cd_offset + cd_size != cd_end:
            raise self._fail(
                "central directory does not end where the end record starts "
                "(data before or inside the archive: ambiguous framing)"
            )
        if count != len(infos):
            # zipfile reads the central directory by size; other readers by count.
            raise self._fail(
                f"end record counts {count} entries, the central directory has "
                f"{len(infos)} (ambiguous framing)"
            )
        expected = 0
        for info in sorted(infos, key=lambda i: i.header_offset):
            if info.header_offset != expected:
                what = (
                    "data before the first entry"
                    if expected == 0
                    else "gap or overlap between entries"
                )
                raise self._fail(f"{what} (ambiguous framing)", info.filename)
            expected = self._check_local_header(fh, info)
        if expected != cd_offset:
            raise self._fail(
                "data between the last entry and the central directory (ambiguous framing)"
            )

    def _end_records(self, fh: IO[bytes]) -> tuple[int, int, int, int]:
        """(central directory offset, its size, where it must end, entry count)."""
        tail_len = min(self.file_size, 22 + 0xFFFF)
        fh.seek(self.file_size - tail_len)
        tail = fh.read(tail_len)
        eocd = tail.rfind(_EOCD_SIG)
        if eocd < 0 or len(tail) - eocd < 22:
            raise self._fail("end of central directory record not found")
        (comment_len,) = struct.unpack_from("<H", tail, eocd + 20)
        if eocd + 22 + comment_len != len(tail):
            raise self._fail("data after the end of the zip archive")
        count, cd_size, cd_offset = struct.unpack_from("<HII", tail, eocd + 10)
        eocd_abs = self.file_size - tail_len + eocd
        locator = eocd_abs - _EOCD64_LOCATOR_SIZE
        fh.seek(max(locator, 0))
        # Like zipfile, honour a zip64 locator whenever there is one, not only when the
        # classic record says "see zip64": otherwise the two could describe two archives.
        if locator < 0 or fh.read(4) != _EOCD64_LOCATOR_SIG:
            if 0xFFFFFFFF in (cd_size, cd_offset):
                raise self._fail("zip64 end record locator missing")
            return cd_offset, cd_size, eocd_abs, count
        record = locator - _EOCD64_SIZE
        head = fh.read(_EOCD64_LOCATOR_SIZE - 4)
        (rec_off,) = struct.unpack_from("<Q", head, 4) if len(head) == 16 else (-1,)
        fh.seek(max(record, 0))
        body = fh.read(_EOCD64_SIZE)
        if record < 0 or rec_off != record or body[:4] != _EOCD64_SIG:
            raise self._fail("zip64 end record is not where its locator says (ambiguous framing)")
        count64, size64, offset64 = struct.unpack_from("<QQQ", body, 32)
        pairs = (
            (count, count64, 0xFFFF),
            (cd_size, size64, 0xFFFFFFFF),
            (cd_offset, offset64, 0xFFFFFFFF),
        )
        for classic, wide, limit in pairs:
            if classic not in (limit, wide):
                raise self._fail("zip64 and classic end records disagree (ambiguous framing)")
        return offset64, size64, record, count64

    def _check_local_header(self, fh: IO[bytes], info: zipfile.ZipInfo) -> int:
        """Compare one local header with the central directory; return where the entry ends."""
        fh.seek(info.header_offset)
        header = fh.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size:
            raise self._fail("truncated local header", info.filename)
        (sig, _ver, flags, method, _t, _d, crc, csize, usize, nlen, xlen) = _LOCAL_HEADER.unpack(
            header
        )
        if sig != _LOCAL_SIG:
            raise self._fail("bad local header signature", info.filename)
        raw_name = fh.read(nlen)
        central_name = info.orig_filename.encode(
            "utf-8" if info.flag_bits & _FLAG_UTF8 else "cp437"
        )
        if raw_name != central_name:
            raise self._fail("local header name disagrees with central directory", info.filename)
        if method != info.compress_type:
            raise self._fail("local header compression disagrees", info.filename)
        # A streaming reader goes by the local flags: encrypted or not must agree.
        for bit in (_FLAGS_ENCRYPTION, _FLAG_DATA_DESCRIPTOR):
            if bool(flags & bit) != bool(info.flag_bits & bit):
                reason = "local header flags disagree with central directory"
                raise self._fail(reason, info.filename)
        if (
            not flags & _FLAG_DATA_DESCRIPTOR
            and csize != 0xFFFFFFFF
            and (crc != info.CRC or csize != info.compress_size or usize != info.file_size)
        ):
            raise self._fail("local header sizes disagree with central directory", info.filename)
        end: int = info.header_offset + _LOCAL_HEADER.size + nlen + xlen + info.compress_size
        if end > self.file_size:
            raise self._fail("member data runs past the end of the file", info.filename)
        if flags & _FLAG_DATA_DESCRIPTOR:
            end += self._check_descriptor(fh, end, info)
        return end

    def _check_descriptor(self, fh: IO[bytes], offset: int, info: zipfile.ZipInfo) -> int:
        """The data descriptor after a member must repeat the central CRC and sizes."""
        fh.seek(offset)
        raw = fh.read(24)
        signed = raw[:4] == b"PK\x07\x08"
        body = raw[4:] if signed else raw
        zip64 = info.file_size > 0xFFFFFFFF or info.compress_size > 0xFFFFFFFF
        fields = "<IQQ" if zip64 else "<III"
        if len(body) < struct.calcsize(fields):
            raise self._fail("truncated data descriptor", info.filename)
        crc, csize, usize = struct.unpack_from(fields, body)
        if (crc, csize, usize) != (info.CRC, info.compress_size, info.file_size):
            raise self._fail("data descriptor disagrees with central directory", info.filename)
        return (4 if signed else 0) + struct.calcsize(fields)

    def _check_wheel_version(self) -> None:
        # The spec: refuse a Wheel-Version whose major is newer than we know. A missing or
        # unreadable WHEEL is left to the integrity checks, which report it as a finding.
        name = self.dist_info_path("WHEEL")
        member = self.by_name.get(name)
        if member is None or member.size > _WHEEL_TEXT_LIMIT:
            return
        text = self.read_text(name)
        if text is None:
            return
        digits = _oversized_version(text)
        if digits:
            # Thousands of digits are no version any reader knows: refused like a newer
            # major, without int() (which raises above 4300 digits).
            raise self._fail(
                f"Wheel-Version has a part with {digits} digits (more than "
                f"{_VERSION_DIGITS}): not supported",
                name,
            )
        version = wheel_version(text)
        if version is not None and version[0] > SUPPORTED_WHEEL_MAJOR:
            raise self._fail(
                f"Wheel-Version {version[0]}.{version[1]} is not supported "
                f"(this tool reads {SUPPORTED_WHEEL_MAJOR}.x)",
                name,
            )

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
            with self._lock:
                fh = self._zip.open(member._info)
            try:
                data = fh.read(member.size + 1)
            finally:
                with self._lock:
                    fh.close()
        except zipfile.BadZipFile as exc:
            raise self._fail(f"corrupt member data ({exc})", member.name) from None
        except (NotImplementedError, RuntimeError) as exc:
            # Features refused at open time; kept here so a gap there cannot crash a read.
            raise self._fail(f"unsupported zip feature ({exc})", member.name) from None
        except (zlib.error, EOFError, OSError, ValueError) as exc:
            raise self._fail(f"corrupt compressed stream ({exc})", member.name) from None
        if len(data) != member.size:
            raise self._fail("member size differs from its declared size", member.name)
        return data

    def read_text(self, name: str) -> str | None:
        """A dist-info text file, or ``None`` when it is absent, above ``TEXT_LIMIT`` bytes
        or not UTF-8."""
        member = self.by_name.get(name)
        if member is None or member.size > TEXT_LIMIT:
            return None
        try:
            return self.read(member).decode("utf-8")
        except UnicodeDecodeError:
            return None

    def dist_info_path(self, name: str) -> str:
        return posixpath.join(self.dist_info, name)
