"""What macOS and Windows checks share: platform tags, the verdict shape, cross-OS findings.

A wheel's operating system comes from its platform tags (``macosx_*``, ``win*``, Linux
tags); its binaries' from their magic bytes (ELF, Mach-O, PE). An extension module built for
another operating system can never be imported where pip installs the wheel.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wheelfix.findings import Check, Finding
from wheelfix.formats.magic import is_macho, is_pe
from wheelfix.linux.policy import parse_platform_tag
from wheelfix.wheels.checks import WheelView

if TYPE_CHECKING:  # the readers are imported when a member starts with their magic bytes
    from wheelfix.formats.macho import MachOInfo
    from wheelfix.formats.pe import PeInfo

__all__ = [
    "MacTag",
    "NativeVerdict",
    "foreign_findings",
    "install_path",
    "is_native_target",
    "mac_tag",
    "read_macho",
    "read_native",
    "read_pe",
    "tag_os",
]

_MAC_TAG_RE = re.compile(r"^macosx_(?P<major>\d{1,3})_(?P<minor>\d{1,3})_(?P<arch>[a-z0-9_]+)$")
_WIN_TAGS = frozenset({"win32", "win_amd64", "win_arm64", "win_arm32", "win_ia64"})
_DATA_PREFIX_RE = re.compile(r"^[^/]+\.data/(?:purelib|platlib)/")

#: The architectures each macOS tag architecture promises (``packaging.tags`` reads them
#: the same way): a binary in the wheel must contain every one of them.
MAC_TAG_ARCHES: Mapping[str, frozenset[str]] = {
    "x86_64": frozenset({"x86_64"}),
    "arm64": frozenset({"arm64"}),
    "i386": frozenset({"i386"}),
    "ppc": frozenset({"ppc"}),
    "ppc64": frozenset({"ppc64"}),
    "universal2": frozenset({"x86_64", "arm64"}),
    "intel": frozenset({"i386", "x86_64"}),
    "fat": frozenset({"i386", "ppc"}),
    "fat32": frozenset({"i386", "ppc"}),
    "fat3": frozenset({"i386", "ppc", "x86_64"}),
    "fat64": frozenset({"ppc64", "x86_64"}),
    "universal": frozenset({"i386", "ppc", "ppc64", "x86_64"}),
}


@dataclass(frozen=True, slots=True)
class MacTag:
    """``macosx_X_Y_ARCH`` split into its parts."""

    tag: str
    version: tuple[int, int]
    arch: str

    @property
    def arches(self) -> frozenset[str]:
        return MAC_TAG_ARCHES.get(self.arch, frozenset({self.arch}))


def mac_tag(tag: str) -> MacTag | None:
    m = _MAC_TAG_RE.match(tag)
    if m is None:
        return None
    return MacTag(tag, (int(m["major"]), int(m["minor"])), m["arch"])


def tag_os(tag: str) -> str | None:
    """``"macos"``, ``"windows"``, ``"linux"`` or ``None`` (``any`` and the unknown)."""
    if mac_tag(tag) is not None:
        return "macos"
    if tag in _WIN_TAGS:
        return "windows"
    if parse_platform_tag(tag) is not None:
        return "linux"
    return None


def is_native_target(target: str) -> bool:
    """Is ``--target`` a macOS or Windows tag that the native checks understand?"""
    tag = mac_tag(target)
    if tag is not None:
        return tag.arch in MAC_TAG_ARCHES
    return target in _WIN_TAGS


def read_macho(data: bytes) -> tuple[MachOInfo | None, str | None]:
    """A Mach-O file (``is_macho(data)``) parsed: ``(info, None)`` or ``(None, reason)``."""
    from wheelfix.formats.macho import CorruptMachOError, parse_macho  # noqa: PLC0415

    try:
        return parse_macho(data), None
    except CorruptMachOError as exc:
        return None, str(exc)


def read_pe(data: bytes) -> tuple[PeInfo | None, str | None]:
    """A PE file (``is_pe(data)``) parsed: ``(info, None)`` or ``(None, reason)``."""
    from wheelfix.formats.pe import CorruptPeError, parse_pe  # noqa: PLC0415

    try:
        return parse_pe(data), None
    except CorruptPeError as exc:
        return None, str(exc)


def read_native(data: bytes) -> tuple[MachOInfo | PeInfo | None, tuple[str, str] | None]:
    """Parse a Mach-O or PE file found by its magic bytes: ``(info, None)``, or
    ``(None, ("macho" | "pe", reason))`` when it is corrupt, ``(None, None)`` when neither.
    The readers are imported only here, when a file starts with their magic bytes: most
    wheels hold neither kind."""
    info: MachOInfo | PeInfo | None
    if is_macho(data):
        info, reason = read_macho(data)
        return info, None if reason is None else ("macho", reason)
    if is_pe(data):
        info, reason = read_pe(data)
        return info, None if reason is None else ("pe", reason)
    return None, None


def install_path(member: str) -> str:
    """Where a member lands relative to site-packages (``X.data/platlib/`` dropped)."""
    return _DATA_PREFIX_RE.sub("", member, count=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class NativeVerdict:
    """The macOS or Windows answer to the questions analyze_platform answers for Linux."""

    consistent: str | None = None
    arch: str | None = None
    external_libraries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    external_paths: Mapping[str, str | None] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()


_OS_NAMES = {"macos": "macOS", "windows": "Windows", "linux": "Linux"}


def _is_extension(path: str) -> bool:
    """Named like something Python imports or the loader maps (any system's naming): a PE
    renamed ``.so`` in a Linux wheel is as foreign as a ``.pyd``."""
    base = posixpath.basename(path)
    return base.endswith((".so", ".pyd")) or ".so." in base


def foreign_findings(view: WheelView, target: str | None) -> list[Finding]:
    """Extension modules built for an OS the wheel's tags do not name, and ``--target``
    values on another OS than the wheel's binaries."""
    oses = {tag_os(t.platform) for t in view.name.tags}
    pure = all(t.platform == "any" for t in view.name.tags)
    binaries = [("macos", p, m.identity) for p, m in view.machos.items()]
    binaries += [("windows", p, e.identity) for p, e in view.pes.items()]
    out = []
    for fmt, path, identity in sorted(binaries, key=lambda b: b[1]):
        if fmt in oses or not _is_extension(path):
            continue
        check = Check.ELF_IN_PURELIB if pure else Check.FOREIGN_BINARY
        out.append(
            Finding(
                check=check,
                path=path,
                message=f"{identity} extension module for {_OS_NAMES[fmt]}, but the wheel is "
                + (
                    "pure Python ('any'): installers treat it as portable"
                    if pure
                    else f"tagged {'.'.join(view.name.platforms)}: it can never be imported there"
                ),
            )
        )
    out += _not_native_findings(view)
    if target is not None:
        out += _target_os_findings(view, target)
    return out


def _not_native_findings(view: WheelView) -> list[Finding]:
    out = []
    for member in view.members:
        lower = member.name.lower()
        if lower.endswith(".dylib"):
            known, what = member.name in view.machos or member.name in view.macho_errors, "Mach-O"
        elif lower.endswith((".pyd", ".dll")):
            known, what = member.name in view.pes or member.name in view.pe_errors, "PE"
        else:
            continue
        if not known:
            out.append(
                Finding(
                    check=Check.NOT_NATIVE_LIBRARY,
                    path=member.name,
                    bytes=member.size,
                    message=f"named like a shared library but is not a {what} file",
                )
            )
    return out


def _target_os_findings(view: WheelView, target: str) -> list[Finding]:
    want = tag_os(target)
    have = []
    if view.elves:
        have.append(("linux", next(iter(sorted(view.elves)))))
    if view.machos:
        have.append(("macos", next(iter(sorted(view.machos)))))
    if view.pes:
        have.append(("windows", next(iter(sorted(view.pes)))))
    return [
        Finding(
            check=Check.TARGET_INCOMPATIBLE,
            path=first,
            message=f"binaries are built for {_OS_NAMES[os_name]}; {target} is "
            f"{_OS_NAMES.get(want or '', 'another platform')}",
        )
        for os_name, first in have
        if os_name != want
    ]
