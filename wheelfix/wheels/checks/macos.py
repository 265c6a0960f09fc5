"""macOS wheels: the Mach-O files' architectures, minimum macOS, dylibs and debug bytes.

Dylib references are resolved the way delocate resolves them (``delocate-listdeps``):
``@loader_path`` is the folder of the file that loads, ``@rpath`` tries that file's
``LC_RPATH`` entries in order, ``@executable_path`` is the folder of the Python executable,
which is never inside a wheel. ``/usr/lib/`` and ``/System/`` are the system's. Anything
else that is not in the wheel must be copied in (``delocate-wheel``) or the import fails.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wheelfix.findings import Check, Finding, Severity
from wheelfix.units import human, percent
from wheelfix.wheels.checks import WheelView
from wheelfix.wheels.checks.native import MacTag, NativeVerdict, install_path, mac_tag

if TYPE_CHECKING:  # annotations only: the reader loads when a wheel holds Mach-O files
    from wheelfix.formats.macho import MachOInfo, MachOSlice

__all__ = ["analyze_macos", "best_mac_tag", "is_system_dylib", "resolve_dylib"]

_SYSTEM_PREFIXES = ("/usr/lib/", "/System/")
#: arm64 Macs run macOS 11 or later, so a ``macosx_10_X`` tag means 11.0 for arm64 slices.
_ARM64_FLOOR = (11, 0)
_REPAIR = "run `delocate-wheel` on macOS to copy it into the wheel, or link it statically"


def is_system_dylib(name: str) -> bool:
    return name.startswith(_SYSTEM_PREFIXES)


def _normal(version: tuple[int, ...]) -> tuple[int, int]:
    """Since macOS 11 only the major version counts in tags (``macosx_11_0`` covers 11.x)."""
    major, minor = version[0], version[1]
    return (major, 0) if major >= 11 else (major, minor)


def _tag_version(version: tuple[int, int]) -> str:
    major, minor = _normal(version)
    return f"{major}_{minor}"


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where one install name leads: ``system``, ``wheel`` (``member`` set) or ``outside``."""

    where: str
    member: str | None = None
    host_path: str | None = None
    reason: str = ""


def resolve_dylib(
    name: str, loader: str, rpaths: Iterable[str], installed: Mapping[str, str]
) -> Resolved:
    """Resolve an install name needed by the member ``loader``.

    ``installed`` maps install paths (see :func:`install_path`) to wheel members.
    """
    if is_system_dylib(name):
        return Resolved("system")
    folder = posixpath.dirname(install_path(loader))
    head, _, rest = name.partition("/")
    if head == "@loader_path":
        candidates = [posixpath.join(folder, rest)]
    elif head == "@rpath":
        candidates = [
            posixpath.join(folder, r.partition("/")[2], rest)
            if r.split("/", 1)[0] == "@loader_path"
            else posixpath.join(r, rest)
            for r in rpaths
        ]
    elif head == "@executable_path":
        return Resolved("outside", reason="@executable_path is the Python executable's folder")
    elif name.startswith("/"):
        return Resolved("outside", host_path=name, reason="an absolute path on the build machine")
    else:
        return Resolved("outside", reason="a bare name that only the dyld fallback paths find")
    for candidate in candidates:
        if candidate.startswith("/"):
            if is_system_dylib(candidate):
                return Resolved("system")
            continue
        member = installed.get(posixpath.normpath(candidate))
        if member is not None:
            return Resolved("wheel", member=member)
    absolute = [c for c in candidates if c.startswith("/")]
    if absolute:
        return Resolved("outside", host_path=absolute[0], reason="an absolute LC_RPATH")
    if head == "@rpath" and not candidates:
        return Resolved("outside", reason="@rpath, but the file has no LC_RPATH")
    return Resolved("outside", reason="it leads to no file in the wheel")


def best_mac_tag(slices: Iterable[MachOSlice], arch: str) -> str | None:
    """The oldest ``macosx_X_Y_ARCH`` tag every slice allows (None: nothing states a version).

    An arm64 slice needing at most 11.0 does not constrain the tag: arm64 Macs start at 11.
    """
    versions = [
        _normal(s.min_os)
        for s in slices
        if s.min_os is not None and not (s.arch == "arm64" and _normal(s.min_os) <= _ARM64_FLOOR)
    ]
    if not versions:
        arm = [s for s in slices if s.arch == "arm64" and s.min_os is not None]
        if not arm:
            return None
        versions = [_ARM64_FLOOR]
    return f"macosx_{_tag_version(max(versions))}_{arch}"


@dataclass(slots=True)
class _State:
    findings: list[Finding] = field(default_factory=list)
    externals: dict[str, list[str]] = field(default_factory=dict)
    external_paths: dict[str, str | None] = field(default_factory=dict)


def analyze_macos(view: WheelView, target: str | None = None) -> NativeVerdict:
    """Every Mach-O finding of one wheel; the best tag when the wheel is tagged for macOS."""
    tags = [t for t in (mac_tag(p) for p in view.name.platforms) if t is not None]
    state = _State()
    state.findings += [
        Finding(check=Check.CORRUPT_MACHO, path=p, message=reason)
        for p, reason in sorted(view.macho_errors.items())
    ]
    state.findings += _debug_findings(view.machos)
    if not tags:
        return NativeVerdict(findings=tuple(state.findings))
    installed = {install_path(m.name): m.name for m in view.members}
    loadable = {
        p: m
        for p, m in sorted(view.machos.items())
        if not all(s.filetype in ("object", "dsym") for s in m.slices)
    }
    for path, info in loadable.items():
        state.findings += _arch_findings(path, info, tags)
        _library_findings(state, path, info, installed)
    # The widest tag names the wheel's architecture (universal2 over its thin companions).
    arch = max(tags, key=lambda t: len(t.arches)).arch
    state.findings += _version_findings(loadable, tags)
    if target is not None:
        state.findings += _target_findings(loadable, target)
    return NativeVerdict(
        consistent=_best_tags(loadable, tags),
        arch=arch,
        external_libraries={k: tuple(v) for k, v in sorted(state.externals.items())},
        external_paths=dict(sorted(state.external_paths.items())),
        findings=tuple(state.findings),
    )


def _best_tags(loadable: Mapping[str, MachOInfo], tags: list[MacTag]) -> str | None:
    """The honest counterpart of every claimed tag, joined like a compressed tag set."""
    best: list[str] = []
    for tag in tags:
        slices = [
            s
            for m in loadable.values()
            for s in m.slices
            if s.arch in tag.arches and s.platform in (None, "macos")
        ]
        found = best_mac_tag(slices, tag.arch) if slices else None
        if found is not None and found not in best:
            best.append(found)
    return ".".join(best) or None


def _arch_findings(path: str, info: MachOInfo, tags: list[MacTag]) -> list[Finding]:
    other_os = [s for s in info.slices if s.platform not in (None, "macos")]
    if other_os:
        s = other_os[0]
        return [
            Finding(
                check=Check.FOREIGN_BINARY,
                path=path,
                bytes=info.file_size,
                message=f"the {s.arch} code is built for {s.platform} (LC_BUILD_VERSION), "
                "not macOS: it cannot be loaded where this wheel installs",
            )
        ]
    present = {s.arch for s in info.slices}
    for tag in tags:
        missing = sorted(tag.arches - present)
        if missing:
            return [
                Finding(
                    check=Check.WRONG_ARCH,
                    path=path,
                    bytes=info.file_size,
                    message=f"{info.identity}, but the wheel is for {tag.arch} "
                    f"(missing {', '.join(missing)})",
                    fix="build every architecture the tag names (cibuildwheel: "
                    "CIBW_ARCHS_MACOS), merge slices with `lipo -create`, or fix the tag",
                )
            ]
    return []


#: (minimum macOS version, path, slice) of a binary that needs more than a tag says
_Need = tuple[tuple[int, int], str, "MachOSlice"]


def _needs(loadable: Mapping[str, MachOInfo], tag: MacTag) -> tuple[list[_Need], list[_Need]]:
    """The covered macOS slices that need a newer macOS than the tag: those no tag of this
    major version allows (errors), and those needing a minor version a macOS 11+ tag cannot
    state (warnings). Each as ((major, minor), file, slice)."""
    errors, warnings = [], []
    for path, info in loadable.items():
        for s in info.slices:
            if s.arch not in tag.arches or s.min_os is None or s.platform != "macos":
                continue
            allowed = _normal(tag.version)
            if s.arch == "arm64":
                allowed = max(allowed, _ARM64_FLOOR)
            needed = (s.min_os[0], s.min_os[1])
            if _normal(needed) > allowed:
                errors.append((needed, path, s))
            elif needed > max(tag.version, allowed):
                warnings.append((needed, path, s))
    return errors, warnings


def _version_findings(loadable: Mapping[str, MachOInfo], tags: list[MacTag]) -> list[Finding]:
    out = []
    for tag in tags:
        errors, warnings = _needs(loadable, tag)
        if errors:
            needed, path, s = max(errors, key=lambda n: n[0])
            version = ".".join(map(str, s.min_os or ()))
            best = f"macosx_{_tag_version(needed)}_{tag.arch}"
            out.append(
                Finding(
                    check=Check.TAG_OVERCLAIMS,
                    path=path,
                    message=f"filename claims {tag.tag}, but the {s.arch} code needs macOS "
                    f"{version} (minimum OS in its load commands); the honest tag is {best}",
                    fix="build with MACOSX_DEPLOYMENT_TARGET set to the tag's version "
                    f"(and dependencies built for it too), or retag the wheel {best}",
                )
            )
        elif warnings:
            # macOS 11+ tags cannot say 11.3: pip on 11.0-11.2 installs it (delocate warns too)
            needed, path, s = max(warnings, key=lambda n: n[0])
            version = ".".join(map(str, s.min_os or ()))
            out.append(
                Finding(
                    check=Check.TAG_OVERCLAIMS,
                    path=path,
                    severity=Severity.WARNING,
                    message=f"the {s.arch} code needs macOS {version}, but {tag.tag} also "
                    f"installs on macOS {needed[0]}.0 to {needed[0]}.{needed[1] - 1}, where "
                    "the import fails; no macOS tag can say a minor version since macOS 11",
                    fix=f"build with MACOSX_DEPLOYMENT_TARGET={needed[0]}.0 (dependencies "
                    f"too), or tag the wheel macosx_{needed[0] + 1}_0_{tag.arch}",
                )
            )
    return out


def _library_findings(
    state: _State, path: str, info: MachOInfo, installed: Mapping[str, str]
) -> None:
    seen: set[str] = set()
    for s in info.slices:
        for rpath in s.rpaths:
            if rpath.startswith("/") and not is_system_dylib(rpath) and rpath not in seen:
                seen.add(rpath)
                state.findings.append(
                    Finding(
                        check=Check.ABSOLUTE_RPATH,
                        path=path,
                        message=f"LC_RPATH {rpath} is a path on the build machine",
                        fix="use @loader_path-relative LC_RPATHs "
                        "(`install_name_tool -delete_rpath`); delocate-wheel rewrites them",
                    )
                )
        for dylib in s.dylibs:
            if dylib.name in seen:
                continue
            seen.add(dylib.name)
            _one_dylib(state, path, s, dylib.name, dylib.kind, installed)


def _one_dylib(
    state: _State,
    path: str,
    s: MachOSlice,
    name: str,
    kind: str,
    installed: Mapping[str, str],
) -> None:
    base = posixpath.basename(name)
    if base.startswith("libpython") or "Python.framework/" in name:
        state.findings.append(
            Finding(
                check=Check.LIBPYTHON_LINKED,
                path=path,
                message=f"links {name}",
                fix="link extensions with `-undefined dynamic_lookup`, not against "
                "libpython or Python.framework",
            )
        )
        return
    found = resolve_dylib(name, path, s.rpaths, installed)
    if found.where != "outside":
        return
    state.externals.setdefault(name, []).append(path)
    state.external_paths[name] = found.host_path
    weak = kind == "weak"
    how = "weakly links" if weak else "links"
    if found.host_path is not None and not found.host_path.startswith("@"):
        state.findings.append(
            Finding(
                check=Check.EXTERNAL_LIBRARY,
                path=path,
                severity=Severity.WARNING if weak else None,
                message=f"{how} {name} ({found.reason}, {found.host_path}): not in the wheel "
                "and not a macOS system library, so the target Mac needs it installed there",
                fix=_REPAIR,
            )
        )
        return
    state.findings.append(
        Finding(
            check=Check.LIBRARY_NOT_FOUND,
            path=path,
            severity=Severity.WARNING if weak else None,
            message=f"{how} {name} ({found.reason}): dyld will not find it when the "
            "wheel is installed",
            fix="put the library in the wheel where the install name points "
            "(`delocate-wheel` does), or fix the install name with `install_name_tool`",
        )
    )


def _debug_findings(machos: Mapping[str, MachOInfo]) -> list[Finding]:
    out = []
    for path, info in sorted(machos.items()):
        if info.debug_bytes:
            dwarf = sum(s.dwarf_bytes for s in info.slices)
            what = "__DWARF segment" if dwarf else "STABS debug-map entries"
            out.append(
                Finding(
                    check=Check.DEBUG_INFO,
                    path=path,
                    bytes=info.debug_bytes,
                    message=f"{human(info.debug_bytes)} of debug information ({what}; "
                    f"{percent(info.debug_bytes, info.file_size)} of {human(info.file_size)})",
                    fix="`strip -S` on macOS (or build without -g) removes it",
                )
            )
        if info.local_symbol_bytes:
            out.append(
                Finding(
                    check=Check.SYMBOL_TABLE,
                    path=path,
                    bytes=info.local_symbol_bytes,
                    message=f"{human(info.local_symbol_bytes)} of local symbols in the Mach-O "
                    "symbol table; not needed to load or link",
                    fix="`strip -x` on macOS removes them; exported symbols stay",
                )
            )
    return out


def _target_findings(loadable: Mapping[str, MachOInfo], target: str) -> list[Finding]:
    want = mac_tag(target)
    if want is None or not loadable:
        return []
    first = next(iter(loadable))
    slices = [s for m in loadable.values() for s in m.slices if s.arch in want.arches]
    present = {s.arch or f"cputype {s.cputype}" for m in loadable.values() for s in m.slices}
    missing = sorted(want.arches - present)
    if missing:
        return [
            Finding(
                check=Check.TARGET_INCOMPATIBLE,
                path=first,
                message=f"binaries are {', '.join(sorted(present))}; {target} needs "
                f"{', '.join(missing)}",
            )
        ]
    allowed = _normal(want.version)
    for path, info in loadable.items():
        for s in info.slices:
            if s in slices and s.min_os is not None and s.platform == "macos":
                floor = max(allowed, _ARM64_FLOOR) if s.arch == "arm64" else allowed
                if _normal(s.min_os) > floor:
                    version = ".".join(map(str, s.min_os))
                    return [
                        Finding(
                            check=Check.TARGET_INCOMPATIBLE,
                            path=path,
                            message=f"the {s.arch} code needs macOS {version}; {target} is older",
                        )
                    ]
    return []
