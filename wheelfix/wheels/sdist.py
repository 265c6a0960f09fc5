"""Source distributions (``.tar.gz``, ``.zip``): the content checks that apply to them.

Only the file list is read (names and declared sizes); no member is extracted or
decompressed into memory beyond what reading a ``.tar.gz`` stream takes. Unsafe names
are refused like a wheel's (docs/checks.md, "Archive-level refusals").
"""

from __future__ import annotations

import os
import posixpath
import tarfile
import zipfile
import zlib
from pathlib import Path

from packaging.utils import InvalidSdistFilename, parse_sdist_filename

from wheelfix.errors import InvalidWheelError
from wheelfix.formats.wheelfile import Limits, Member, validate_member_name
from wheelfix.wheels.checks.contents import ContentRules, check_sdist_contents
from wheelfix.wheels.results import Sizes, Tags, WheelResult

__all__ = ["SDIST_SUFFIXES", "check_sdist", "is_sdist", "sdist_members"]

SDIST_SUFFIXES = (".tar.gz", ".zip")


def is_sdist(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is named like a source distribution: any ``.tar.gz``, and a
    ``.zip`` whose name parses as ``NAME-VERSION.zip`` (a wheel saved as
    ``demo-1.0-py3-none-any.zip`` stays an invalid wheel filename)."""
    name = posixpath.basename(os.fspath(path).replace(os.sep, "/"))
    if name.lower().endswith(".tar.gz"):
        return True
    if not name.lower().endswith(".zip"):
        return False
    try:
        parse_sdist_filename(name[: -len(".zip")] + ".zip")
    except (InvalidSdistFilename, ValueError):
        return False
    return True


def _member(path: str, name: str, size: int, compressed: int) -> Member:
    reason = validate_member_name(name)
    if reason is not None:
        raise InvalidWheelError(path, reason, member=ascii(name))
    return Member(
        name=name, size=size, compressed_size=compressed, crc=0, _info=zipfile.ZipInfo(name)
    )


def _bound(path: str, members: list[Member], limits: Limits) -> None:
    if len(members) > limits.max_members:
        raise InvalidWheelError(path, f"too many members (above {limits.max_members})")
    if members[-1].size > limits.max_member_size:
        raise InvalidWheelError(path, "member declares too many bytes", member=members[-1].name)
    if sum(m.size for m in members) > limits.max_total_size:
        raise InvalidWheelError(path, "uncompressed size exceeds the limit")


def _tar_members(path: str, limits: Limits) -> list[Member]:
    members: list[Member] = []
    with tarfile.open(path, mode="r:gz") as archive:
        while (info := archive.next()) is not None:
            if not info.isreg():
                continue  # folders, links and devices are never materialised
            members.append(_member(path, info.name, info.size, 0))
            _bound(path, members, limits)
    return members


def _zip_members(path: str, limits: Limits) -> list[Member]:
    members: list[Member] = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            members.append(_member(path, info.filename, info.file_size, info.compress_size))
            _bound(path, members, limits)
    return members


def sdist_members(path: str, limits: Limits | None = None) -> list[Member]:
    """The regular files of a source distribution. ``InvalidWheelError`` for an archive
    that cannot be read, an unsafe name or a bound exceeded."""
    limits = limits or Limits()
    source = Path(path)
    if not source.is_file():
        raise InvalidWheelError(path, "no such file" if not source.exists() else "not a file")
    try:
        if path.lower().endswith(".zip"):
            return _zip_members(path, limits)
        return _tar_members(path, limits)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
        kind = "zip" if path.lower().endswith(".zip") else "gzip-compressed tar"
        raise InvalidWheelError(path, f"not a readable {kind} archive ({exc})") from None


def check_sdist(
    path: str | os.PathLike[str], rules: ContentRules | None = None, limits: Limits | None = None
) -> WheelResult:
    """Check a source distribution's file list; unreadable input becomes a result with
    ``error`` set."""
    display = os.fspath(path)
    filename = posixpath.basename(display.replace(os.sep, "/"))
    try:
        members = sdist_members(display, limits)
        file_size = Path(display).stat().st_size
    except (InvalidWheelError, OSError) as exc:
        return WheelResult(path=display, filename=filename, error=str(exc))
    findings = check_sdist_contents(members, file_size, rules)
    return WheelResult(
        path=display,
        filename=filename,
        # The JSON contract gives a readable input tags and strip savings; an sdist claims
        # no platform and holds nothing to strip.
        tags=Tags(claimed=(), wheel_file=(), consistent=None, repairable=None),
        strip_savings={"debug": 0, "unneeded": 0, "all": 0},
        sizes=Sizes(compressed=file_size, uncompressed=sum(m.size for m in members)),
        findings=tuple(sorted(findings, key=lambda f: (-f.level, f.code, f.path or ""))),
    )
