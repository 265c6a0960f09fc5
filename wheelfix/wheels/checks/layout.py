"""Library layout: what lands in site-packages, and whether it can be imported.

The *library* of a wheel is what an installer puts straight into site-packages: the
members outside ``*.dist-info`` and ``*.data``, plus ``*.data/purelib/`` and
``*.data/platlib/``. These checks look at its top-level names, its modules and, when the
user names them, the source folders it was built from (WF409-WF421).
"""

from __future__ import annotations

import keyword
import posixpath
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from wheelfix.findings import Check, Finding
from wheelfix.formats.wheelfile import Member

__all__ = [
    "COMMON_TOP_LEVEL_NAMES",
    "LibraryFile",
    "check_layout",
    "check_package_tree",
    "check_toplevel",
    "library_files",
]

#: Names that many projects would install at the top of site-packages (so they collide),
#: or that say a build packaged a project folder instead of the package. ``test``/``tests``
#: are reported by WF401 already.
COMMON_TOP_LEVEL_NAMES = frozenset(
    {
        ".eggs",
        ".nox",
        ".tox",
        ".venv",
        "app",
        "benchmarks",
        "build",
        "cli",
        "data",
        "dist",
        "doc",
        "docs",
        "example",
        "examples",
        "lib",
        "scripts",
        "site-packages",
        "src",
        "venv",
    }
)
_MODULE_SUFFIXES = (".py", ".so", ".pyd")
_LIBRARY_SCHEMES = ("purelib", "platlib")
_LIST = 5


@dataclass(frozen=True, slots=True)
class LibraryFile:
    """A member that installs into site-packages, with its path relative to it."""

    member: str
    relative: str


def library_files(members: Iterable[Member], dist_info: str) -> list[LibraryFile]:
    data = dist_info[: -len(".dist-info")] + ".data"
    out = []
    for member in members:
        top, _, rest = member.name.partition("/")
        if top == dist_info:
            continue
        if top == data:
            scheme, _, relative = rest.partition("/")
            if scheme in _LIBRARY_SCHEMES and relative:
                out.append(LibraryFile(member.name, relative))
            continue
        out.append(LibraryFile(member.name, member.name))
    return out


def _grafted(top: str) -> bool:
    """``<dist>.libs/``: libraries grafted by auditwheel (``.dylibs``: delocate), not code."""
    return top.endswith((".libs", ".dylibs"))


def _is_module(name: str) -> bool:
    return name.endswith(_MODULE_SUFFIXES)


def _module_stem(name: str) -> str:
    """``pkg.py`` -> ``pkg``; ``_ext.cpython-312-x86_64-linux-gnu.so`` -> ``_ext``."""
    if name.endswith(".py"):
        return name[:-3]
    return name.split(".", 1)[0]


def _identifier(part: str) -> bool:
    return part.isidentifier() and not keyword.iskeyword(part)


def _listing(names: Sequence[str]) -> str:
    more = f" and {len(names) - _LIST} more" if len(names) > _LIST else ""
    return ", ".join(names[:_LIST]) + more


def _top_level(files: Sequence[LibraryFile]) -> dict[str, list[LibraryFile]]:
    tops: dict[str, list[LibraryFile]] = defaultdict(list)
    for f in files:
        tops[f.relative.split("/", 1)[0]].append(f)
    return tops


def check_layout(
    members: Sequence[Member], dist_info: str, *, declared: bool, toplevel: Iterable[str] = ()
) -> list[Finding]:
    """WF410-WF417. ``declared``: the user named the top-level entries or the source tree
    (``--toplevel``, ``--package``, ``--src-dir``), which turns WF416 off."""
    files = library_files(members, dist_info)
    outside = [m for m in members if not m.name.startswith(dist_info + "/")]
    if not outside:
        return [Finding(check=Check.EMPTY_WHEEL, message="no files outside " + dist_info)]
    if not files:
        names = _listing(sorted({m.name.split("/", 1)[0] + "/" for m in outside}))
        return [
            Finding(
                check=Check.EMPTY_LIBRARY,
                message=f"nothing installs into site-packages; only {names}",
            )
        ]
    tops = _top_level(files)
    out = _top_files(tops)
    out += _unimportable(files)
    out += _common_names(tops, frozenset(toplevel))
    out += _without_modules(tops)
    if not declared:
        out += _multiple_tops(tops)
    return out


def _top_files(tops: Mapping[str, list[LibraryFile]]) -> list[Finding]:
    out = []
    for name, entries in sorted(tops.items()):
        if len(entries) != 1 or entries[0].relative != name:
            continue  # a folder
        member = entries[0].member
        if name == "__init__.py":
            out.append(
                Finding(
                    check=Check.INIT_AT_TOP_LEVEL,
                    path=member,
                    message="__init__.py at the top of site-packages belongs to no package",
                )
            )
        elif not _is_module(name) and not name.endswith(".pth"):
            out.append(
                Finding(
                    check=Check.NON_MODULE_TOP_LEVEL,
                    path=member,
                    message=f"{name} would be installed loose at the top of site-packages",
                )
            )
    return out


def _unimportable(files: Sequence[LibraryFile]) -> list[Finding]:
    groups: dict[tuple[str, str], list[LibraryFile]] = defaultdict(list)
    for f in files:
        if not _is_module(f.relative):
            continue
        parts = f.relative.split("/")
        if parts[0].endswith("-stubs") or _grafted(parts[0]):
            continue
        for depth, part in enumerate(parts[:-1]):
            if not _identifier(part):
                groups[("/".join(parts[: depth + 1]) + "/", part)].append(f)
                break
        else:
            stem = _module_stem(parts[-1])
            if not _identifier(stem):
                groups[(f.member, stem)].append(f)
    out = []
    for (where, part), found in sorted(groups.items()):
        if where.endswith("/"):
            prefix = found[0].member[: len(found[0].member) - len(found[0].relative)]
            path, what = prefix + where, f"{len(found)} module(s) under a folder"
        else:
            path, what = where, "module"
        out.append(
            Finding(
                check=Check.MODULE_NOT_IMPORTABLE,
                path=path,
                message=f"{what} named {part!r}, which is not a Python identifier; "
                "`import` cannot reach it",
            )
        )
    return out


def _entry_path(name: str, entries: Sequence[LibraryFile]) -> str:
    first = entries[0]
    prefix = first.member[: len(first.member) - len(first.relative)]
    folder = len(entries) > 1 or first.relative != name
    return prefix + name + ("/" if folder else "")


def _common_names(tops: Mapping[str, list[LibraryFile]], allowed: frozenset[str]) -> list[Finding]:
    out = []
    for name, entries in sorted(tops.items()):
        stem = name[:-3] if name.endswith(".py") else name
        if stem in COMMON_TOP_LEVEL_NAMES and stem not in allowed:
            out.append(
                Finding(
                    check=Check.COMMON_TOP_LEVEL,
                    path=_entry_path(name, entries),
                    bytes=None,
                    message=f"top-level name {stem!r} is used by many projects; installing "
                    "this wheel overwrites (or is overwritten by) theirs",
                )
            )
    return out


def _without_modules(tops: Mapping[str, list[LibraryFile]]) -> list[Finding]:
    out = []
    for name, entries in sorted(tops.items()):
        folder = len(entries) > 1 or entries[0].relative != name
        if not folder or name.endswith("-stubs") or _grafted(name):
            continue
        if any(_is_module(f.relative) or f.relative.endswith(".pyi") for f in entries):
            continue
        out.append(
            Finding(
                check=Check.TOP_LEVEL_WITHOUT_MODULES,
                path=_entry_path(name, entries),
                message=f"top-level folder with {len(entries)} file(s) and no Python module: "
                f"{_listing(sorted(posixpath.basename(f.relative) for f in entries))}",
            )
        )
    return out


def _multiple_tops(tops: Mapping[str, list[LibraryFile]]) -> list[Finding]:
    names = sorted(
        _entry_path(n, e)
        for n, e in tops.items()
        if not n.startswith("_")
        and not _grafted(n)
        and (len(e) > 1 or e[0].relative != n or _is_module(n))  # loose files are WF410
    )
    if len(names) <= 1:
        return []
    return [
        Finding(
            check=Check.MULTIPLE_TOP_LEVEL,
            message=f"{len(names)} top-level entries in site-packages: {_listing(names)}",
        )
    ]


def check_toplevel(
    members: Sequence[Member], dist_info: str, toplevel: Sequence[str]
) -> list[Finding]:
    """WF420/WF421: the library's top-level entries against ``--toplevel``.

    A declared name matches a folder or a module (``foo`` matches ``foo/``, ``foo.py`` and
    ``foo.cpython-312-x86_64-linux-gnu.so``). ``.pth`` files are never undeclared."""
    tops = _top_level(library_files(members, dist_info))
    names = {name.rstrip("/") for name in toplevel}
    found: set[str] = set()
    out = []
    for name, entries in sorted(tops.items()):
        stem = _module_stem(name) if _is_module(name) else name
        if name in names or stem in names:
            found.add(name if name in names else stem)
        elif not name.endswith(".pth"):
            out.append(
                Finding(
                    check=Check.TOP_LEVEL_UNDECLARED,
                    path=_entry_path(name, entries),
                    message=f"{name} is not one of the declared top-level entries "
                    f"({', '.join(sorted(names))})",
                )
            )
    for name in sorted(names - found):
        out.append(
            Finding(
                check=Check.TOP_LEVEL_MISSING,
                message=f"declared top-level entry {name!r} is not in the wheel",
            )
        )
    return out


def check_package_tree(
    members: Sequence[Member], dist_info: str, expected: frozenset[str]
) -> list[Finding]:
    """WF418/WF419: library files against the files of the source tree (paths relative to
    site-packages). Compiled extension modules are built, not copied, so a ``.so``/``.pyd``
    that the tree lacks is not reported."""
    files = library_files(members, dist_info)
    have = {f.relative for f in files}
    missing = sorted(expected - have)
    extra = sorted(
        f.member
        for f in files
        if f.relative not in expected and not f.relative.endswith((".so", ".pyd"))
    )
    out = []
    if missing:
        out.append(
            Finding(
                check=Check.MISSING_FROM_PACKAGE,
                path=posixpath.commonpath(missing) or None,
                message=f"{len(missing)} file(s) of the source tree are not in the wheel: "
                f"{_listing(missing)}",
            )
        )
    if extra:
        out.append(
            Finding(
                check=Check.NOT_IN_PACKAGE,
                path=posixpath.commonpath(extra) or None,
                message=f"{len(extra)} file(s) in the wheel are not in the source tree: "
                f"{_listing(extra)}",
            )
        )
    return out
