"""Writing wheels: safe unpacking, RECORD, reproducible zips, atomic replacement.

Outputs are written to a temporary file in the destination folder, flushed to disk and
renamed over the final name, so the final name never holds a partial wheel — not on a full
disk, not on SIGINT, not when two runs race (the last complete rename wins).
"""

from __future__ import annotations

import collections
import io
import os
import struct
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from wheelfix.errors import UsageError
from wheelfix.formats.record import digest, record_text
from wheelfix.formats.wheelfile import Member, WheelArchive

__all__ = [
    "atomic_write_wheel",
    "check_target",
    "iter_files",
    "pack",
    "retag",
    "source_date_epoch",
    "unpack",
    "write_member",
    "write_record",
]

_MIN_EPOCH = 315532800  # 1980-01-01: the earliest time a zip can record


def source_date_epoch() -> int:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else 1980-01-01."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return _MIN_EPOCH
    if not value.isdigit():
        raise UsageError(f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds")
    return max(int(value), _MIN_EPOCH)


def unpack(archive: WheelArchive, dest: Path) -> None:
    """Extract every member of a validated archive under ``dest`` (a folder we own)."""
    for member in archive.members:
        write_member(dest, member, archive.read(member))


def write_member(dest: Path, member: Member, data: bytes) -> None:
    """Write one member of a validated archive under ``dest`` (a folder we own). Safe to
    call from several threads for different members."""
    root = dest.resolve()
    target = (root / member.name).resolve()
    if root not in target.parents:
        raise UsageError(f"{member.name}: would be written outside {root}")  # defence
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("xb") as fh:
        fh.write(data)
    target.chmod(0o755 if member.executable else 0o644)


def iter_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root``, sorted; symlinks and other types are never followed."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


def write_record(root: Path, dist_info: str) -> None:
    """Rewrite ``<dist_info>/RECORD`` from the files that exist (sha256, sizes)."""
    record = root / dist_info / "RECORD"
    rows = []
    for path in iter_files(root):
        rel = path.relative_to(root).as_posix()
        if rel == f"{dist_info}/RECORD":
            continue
        data = path.read_bytes()
        rows.append((rel, f"sha256={digest(data)}", str(len(data))))
    rows.append((f"{dist_info}/RECORD", "", ""))
    record.write_text(record_text(rows), encoding="utf-8")


def _order(root: Path, dist_info: str) -> list[Path]:
    files = list(iter_files(root))

    # Sorted, with .dist-info last and RECORD at the very end (installers read it last).
    def key(path: Path) -> tuple[int, str]:
        rel = path.relative_to(root).as_posix()
        if rel == f"{dist_info}/RECORD":
            return (2, rel)
        return (1 if rel.startswith(dist_info + "/") else 0, rel)

    return sorted(files, key=key)


def pack(root: Path, dist_info: str, fh: io.BufferedWriter | io.BytesIO, *, level: int = 6) -> None:
    """Write a reproducible zip of ``root``: fixed order, timestamps and permissions.

    The members are deflated on several threads (zlib releases the GIL), a bounded number
    of bytes ahead of the one being written, and written in order with the records
    :mod:`zipfile` writes. A member up to :data:`_PART` bytes gets the bytes zipfile
    writes too; a bigger one is deflated in pieces on several threads (:func:`_parts`),
    so that one big library does not keep the others waiting: one valid deflate stream,
    the same on every machine. An archive that needs ZIP64 records goes through
    :mod:`zipfile` itself (:func:`_pack_with_zipfile`)."""
    paths = _order(root, dist_info)
    members = [_PackedMember.of(root, path) for path in paths]
    if not _fits_plain_zip(members):
        _pack_with_zipfile(root, members, fh, level)
        return
    stamp = _dos_stamp(time.gmtime(source_date_epoch())[:6])
    central: list[bytes] = []
    offset = 0
    for member, (crc, size, compressed) in zip(members, _deflated(members, level), strict=True):
        if size != member.size:  # the sizes _fits_plain_zip judged must hold
            raise UsageError(f"{member.path}: changed while the wheel was written")
        name, flags = member.encoded_name()
        sizes = (crc, len(compressed), size)
        local = struct.pack(
            _LOCAL, _LOCAL_SIG, 20, 0, flags, _DEFLATED, *stamp, *sizes, len(name), 0
        )
        fh.write(local + name)
        fh.write(compressed)
        central.append(
            struct.pack(
                _CENTRAL,
                _CENTRAL_SIG,
                20,
                3,
                20,
                0,
                flags,
                _DEFLATED,
                *stamp,
                *sizes,
                len(name),
                0,
                0,
                0,
                0,
                member.external_attr,
                offset,
            )
            + name
        )
        offset += len(local) + len(name) + len(compressed)
    directory = b"".join(central)
    fh.write(directory)
    count = len(central)
    fh.write(struct.pack(_END, _END_SIG, 0, 0, count, count, len(directory), offset, 0))


# The zip records zipfile writes for a seekable file without ZIP64 (APPNOTE 4.3.7, 4.3.12,
# 4.3.16): version 2.0, made by Unix (3), deflate, no extra field, no comment.
_LOCAL = "<4s2B4HL2L2H"
_CENTRAL = "<4s4B4HL2L5H2L"
_END = "<4s4H2LH"
_LOCAL_SIG, _CENTRAL_SIG, _END_SIG = b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"
_DEFLATED = 8
_UTF8_NAME = 0x800
_ZIP64_LIMIT = (1 << 31) - 1
#: bytes read and deflated ahead of the member being written
_AHEAD_BYTES = 64 << 20
#: a compressed member bigger than this is deflated in pieces of this size (:func:`_parts`)
_PART = 512 << 10
_WINDOW = 32 << 10


@dataclass(frozen=True, slots=True)
class _PackedMember:
    path: Path
    name: str
    size: int
    external_attr: int

    @classmethod
    def of(cls, root: Path, path: Path) -> _PackedMember:
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        name = path.relative_to(root).as_posix()
        return cls(path, name, path.stat().st_size, (0o100000 | mode) << 16)

    def encoded_name(self) -> tuple[bytes, int]:
        """The name as zipfile stores it: ASCII, else UTF-8 with the flag that says so."""
        try:
            return self.name.encode("ascii"), 0
        except UnicodeEncodeError:
            return self.name.encode("utf-8"), _UTF8_NAME


def _fits_plain_zip(members: list[_PackedMember]) -> bool:
    """Whether the archive surely needs no ZIP64 record (zipfile's own rule per member:
    ``size * 1.05`` over the limit; the sum bounds every offset and the directory)."""
    total = sum(m.size + len(m.name) * 2 + 256 for m in members)
    return (
        len(members) < 0xFFFF
        and all(m.size * 1.05 <= _ZIP64_LIMIT for m in members)
        and total * 1.05 <= _ZIP64_LIMIT
    )


def _dos_stamp(dt: tuple[int, ...]) -> tuple[int, int]:
    return dt[3] << 11 | dt[4] << 5 | (dt[5] // 2), (dt[0] - 1980) << 9 | dt[1] << 5 | dt[2]


def _parts(size: int, level: int) -> list[tuple[int, int]]:
    """Where a member's deflate stream is cut: pieces of :data:`_PART` bytes when it is
    compressed and bigger than that, else one piece. Never depends on the machine, so the
    output does not either."""
    if level == 0 or size <= _PART:
        return [(0, size)]
    return [(start, min(start + _PART, size)) for start in range(0, size, _PART)]


def _deflate_part(data: bytes, part: tuple[int, int], level: int) -> bytes:
    """One piece of a raw deflate stream of ``data``. A piece after the first is primed
    with the 32 KiB before it (what deflate's window would hold) and every piece but the
    last ends on a byte boundary (a sync flush), so the pieces joined are one stream, as
    pigz makes them."""
    start, end = part
    window = memoryview(data)[max(0, start - _WINDOW) : start]
    compressor = (
        zlib.compressobj(level, zlib.DEFLATED, -15, zdict=window)
        if start
        else zlib.compressobj(level, zlib.DEFLATED, -15)
    )
    last = end == len(data)
    body = compressor.compress(memoryview(data)[start:end])
    return body + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def _deflate(path: Path, level: int) -> tuple[int, int, bytes]:
    """(CRC-32, size, raw deflate stream) of a file, the stream in :func:`_parts`."""
    data = path.read_bytes()
    stream = b"".join(_deflate_part(data, part, level) for part in _parts(len(data), level))
    return zlib.crc32(data), len(data), stream


def _deflated(members: list[_PackedMember], level: int) -> Iterator[tuple[int, int, bytes]]:
    """:func:`_deflate` of each member, in order; several members, and the pieces of a big
    one, deflated at once."""
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or level == 0:  # level 0 copies: no work to share
        for member in members:
            yield _deflate(member.path, level)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wheelfix-pack") as pool:
        pending: collections.deque[tuple[int, Callable[[], tuple[int, int, bytes]]]]
        pending = collections.deque()
        ahead = 0
        for member in members:
            while pending and ahead + member.size > _AHEAD_BYTES:
                size, result = pending.popleft()
                ahead -= size
                yield result()
            pending.append((member.size, _submit(pool, member, level)))
            ahead += member.size
        while pending:
            yield pending.popleft()[1]()


def _submit(
    pool: ThreadPoolExecutor, member: _PackedMember, level: int
) -> Callable[[], tuple[int, int, bytes]]:
    """Start deflating ``member`` on ``pool``; what to call for :func:`_deflate`'s result."""
    if len(_parts(member.size, level)) == 1:
        return pool.submit(_deflate, member.path, level).result
    data = member.path.read_bytes()  # its pieces go to every worker
    parts = [pool.submit(_deflate_part, data, part, level) for part in _parts(len(data), level)]
    crc = pool.submit(zlib.crc32, data)
    return lambda: (crc.result(), len(data), b"".join(p.result() for p in parts))


def _pack_with_zipfile(
    root: Path, members: list[_PackedMember], fh: io.BufferedWriter | io.BytesIO, level: int
) -> None:
    """:func:`pack` through :mod:`zipfile`, one member after another (ZIP64 when needed)."""
    stamp = time.gmtime(source_date_epoch())[:6]
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member in members:
            info = zipfile.ZipInfo(member.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = member.external_attr
            info.create_system = 3
            zf.writestr(info, member.path.read_bytes(), compresslevel=level)


def check_target(out: Path, *, force: bool) -> None:
    """Refuse a symlink always, and an existing file unless ``force``."""
    if out.is_symlink():
        raise UsageError(f"{out}: is a symbolic link; refusing to write through it")
    if out.exists() and not force:
        raise UsageError(f"{out}: already exists (use --force to overwrite)")


def atomic_write_wheel(
    root: Path, dist_info: str, out: Path, *, force: bool, level: int = 6
) -> int:
    """Pack ``root`` into ``out`` atomically; return its size. Never follows a symlink."""
    check_target(out, force=force)
    folder = out.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".wheelfix-tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            pack(root, dist_info, fh, level=level)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(0o644)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out.stat().st_size


def retag(root: Path, dist_info: str, filename: str, platforms: list[str]) -> str:
    """Give an unpacked wheel new platform tags: WHEEL's Tag lines and the filename.

    Python and ABI tags are kept. Returns the new filename (validated by the caller).
    """
    stem = filename.removesuffix(".whl").split("-")
    head = stem[:-3]  # name, version and the optional build tag, as the filename spells them
    interpreters, abis = stem[-3].split("."), stem[-2].split(".")
    wheel_file = root / dist_info / "WHEEL"
    # Blank lines end an RFC 822 header block (auditwheel writes one at the end): drop them,
    # or Tag lines added after one would not be headers at all.
    lines = [
        line
        for line in wheel_file.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("Tag:")
    ]
    lines += [f"Tag: {i}-{a}-{p}" for i in interpreters for a in abis for p in platforms]
    wheel_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return "-".join([*head, ".".join(interpreters), ".".join(abis), ".".join(platforms)]) + ".whl"
