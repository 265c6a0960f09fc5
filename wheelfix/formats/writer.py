"""Writing wheels: safe unpacking, RECORD, reproducible zips, atomic replacement.

Outputs are written to a temporary file in the destination folder, flushed to disk and
renamed over the final name, so the final name never holds a partial wheel — not on a full
disk, not on SIGINT, not when two runs race (the last complete rename wins).
"""

from __future__ import annotations

import io
import os
import tempfile
import time
import zipfile
from collections.abc import Iterator
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
    """Write a reproducible zip of ``root``: fixed order, timestamps and permissions."""
    stamp = time.gmtime(source_date_epoch())[:6]
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in _order(root, dist_info):
            rel = path.relative_to(root).as_posix()
            info = zipfile.ZipInfo(rel, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3
            zf.writestr(info, path.read_bytes(), compresslevel=level)


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
