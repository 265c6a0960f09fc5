"""Contents: tests, bytecode, sources, static archives, leftovers, source maps, .pth code,
duplicates, sizes, file names and patterns (WF401-WF430).

The thresholds and patterns come from :class:`ContentRules` (``[tool.wheelfix]`` keys,
documented in docs/checks.md); the library layout checks live in :mod:`.layout`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import posixpath
import re
import stat
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import translate
from pathlib import Path

from wheelfix.categories import Category, classify, test_root
from wheelfix.errors import UsageError
from wheelfix.findings import Check, Finding
from wheelfix.formats.wheelfile import Member, MiB
from wheelfix.units import human
from wheelfix.wheels.checks import WheelView
from wheelfix.wheels.checks.layout import check_layout, check_package_tree, check_toplevel

__all__ = [
    "DEFAULT_MIXED_EXTENSIONS",
    "DEFAULT_UNEXPECTED_FILES",
    "ContentRules",
    "check_contents",
    "check_sdist_contents",
    "content_rules",
    "package_tree_files",
]

#: Spellings of one file type; a distribution using two of them gets WF425.
DEFAULT_MIXED_EXTENSIONS: tuple[tuple[str, ...], ...] = (
    (".yaml", ".yml"),
    (".htm", ".html"),
    (".jpeg", ".jpg"),
    (".jsonl", ".ndjson"),
    (".text", ".txt"),
    (".tif", ".tiff"),
    (".cc", ".cpp", ".cxx"),
)
#: CI and tooling configuration (WF430). A pattern ending in ``/`` names a folder.
#: ``.git/``, ``.idea/``, ``.DS_Store``, ``.gitignore`` and tool caches are WF405.
DEFAULT_UNEXPECTED_FILES: tuple[str, ...] = (
    ".github/",
    ".circleci/",
    ".appveyor/",
    ".binder/",
    ".gitlab/",
    ".azure-pipelines/",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".appveyor.yml",
    "azure-pipelines.yml",
    ".azure-pipelines.yml",
    ".cirrus.yml",
    ".cirrus.star",
    ".travis.yml",
    "codecov.yml",
    ".codecov.yml",
    ".coveragerc",
    ".gitpod.yml",
    ".readthedocs.yml",
    ".readthedocs.yaml",
    ".pre-commit-config.yaml",
    ".hadolint.yaml",
    ".lycheeignore",
    ".lycheecache",
    "vsts-ci.yml",
    ".vsts-ci.yml",
    "Jenkinsfile",
    ".drone.yml",
    "bitbucket-pipelines.yml",
)
#: Contents too common to call a duplicate (empty files, encoding lines, ``py.typed``).
_TRIVIAL = (b"", b"\n", b"partial\n", b"# -*- coding: utf-8 -*-\n", b"# coding: utf-8\n")
_TRIVIAL_DIGESTS = frozenset(
    base64.urlsafe_b64encode(hashlib.sha256(t).digest()).rstrip(b"=").decode() for t in _TRIVIAL
)
_TREE_LIMIT = 100_000
#: Tests and compiled-code sources are what an sdist is for.
_SDIST_EXEMPT = frozenset({Check.TESTS, Check.SOURCES})


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentRules:
    """Thresholds and declarations for the content checks; defaults are documented."""

    #: WF409: files smaller than this are never reported as duplicates
    duplicate_min_size: int = 1
    max_compressed_size: int = 50 * MiB  # WF422
    max_unpacked_size: int = 75 * MiB  # WF423
    max_files: int = 2000  # WF424
    max_path_length: int = 200  # WF428
    mixed_extensions: tuple[tuple[str, ...], ...] = DEFAULT_MIXED_EXTENSIONS  # WF425
    expected_files: tuple[str, ...] = ()  # WF429
    unexpected_files: tuple[str, ...] = DEFAULT_UNEXPECTED_FILES  # WF430
    #: ``--toplevel``: the library's declared top-level entries (WF412 exemptions,
    #: WF420/WF421); ``None`` when not declared
    toplevel: tuple[str, ...] | None = None
    #: ``--package``/``--src-dir``: files of the source tree, relative to site-packages
    #: (WF418/WF419); ``None`` when not given
    package_files: frozenset[str] | None = None


_CHECKS = {
    Category.TESTS: Check.TESTS,
    Category.BYTECODE: Check.BYTECODE,
    Category.SOURCES: Check.SOURCES,
    Category.STATIC: Check.STATIC_ARCHIVES,
    Category.BUILD_LEFTOVERS: Check.BUILD_LEFTOVERS,
    Category.SOURCE_MAPS: Check.SOURCE_MAPS,
    Category.CACHES: Check.BUILD_LEFTOVERS,
}
_NOUNS = {  # (singular, plural)
    Category.TESTS: ("test file", "test files"),
    Category.BYTECODE: ("bytecode file", "bytecode files"),
    Category.SOURCES: ("C/C++/Cython/Fortran source", "C/C++/Cython/Fortran sources"),
    Category.STATIC: ("static archive or object file", "static archives or object files"),
    Category.BUILD_LEFTOVERS: ("build/editor/VCS leftover", "build/editor/VCS leftovers"),
    Category.SOURCE_MAPS: ("source map", "source maps"),
    Category.CACHES: ("tool cache file", "tool cache files"),
}


def content_rules(
    settings: Iterable[tuple[str, object]] = (),
    *,
    toplevel: Sequence[str] = (),
    packages: Sequence[str | os.PathLike[str]] = (),
    src_dirs: Sequence[str | os.PathLike[str]] = (),
) -> ContentRules:
    """Rules from ``[tool.wheelfix]`` settings (``CheckConfig.contents``) and the command
    line's ``--toplevel``/``--package``/``--src-dir`` (which win over the file's)."""
    values = dict(settings)
    if toplevel:
        values["toplevel"] = tuple(n for item in toplevel for n in item.split(",") if n)
    if packages or src_dirs:
        values["package_files"] = package_tree_files(packages, src_dirs)
    return dataclasses.replace(ContentRules(), **values)  # type: ignore[arg-type]


def check_contents(view: WheelView, rules: ContentRules | None = None) -> list[Finding]:
    rules = rules or ContentRules()
    out = _categories(view.members, view.static_archives)
    out += _pth_findings(view)
    out += _names_and_sizes(view.members, view.file_size, rules)
    out += _duplicates(view, rules.duplicate_min_size)
    members, dist_info = view.members, view.dist_info
    declared = rules.toplevel is not None or rules.package_files is not None
    out += check_layout(members, dist_info, declared=declared, toplevel=rules.toplevel or ())
    if rules.toplevel is not None:
        out += check_toplevel(members, dist_info, rules.toplevel)
    if rules.package_files is not None:
        out += check_package_tree(members, dist_info, rules.package_files)
    return out


def check_sdist_contents(
    members: Sequence[Member], file_size: int, rules: ContentRules | None = None
) -> list[Finding]:
    """The content checks that apply to a source distribution, from its file list alone:
    bytecode, build leftovers, static archives and source maps (tests and C sources
    belong in an sdist), case collisions, sizes, names and patterns (WF422-WF430)."""
    rules = rules or ContentRules()
    out = [f for f in _categories(members, frozenset()) if f.check not in _SDIST_EXEMPT]
    return out + _names_and_sizes(members, file_size, rules)


def _names_and_sizes(
    members: Sequence[Member], file_size: int, rules: ContentRules
) -> list[Finding]:
    out = _case_collisions(members)
    out += _totals(members, file_size, rules)
    out += _path_findings(members, rules.max_path_length)
    out += _mixed_extensions(members, rules.mixed_extensions)
    out += _patterns(members, rules)
    return out


def _categories(all_members: Sequence[Member], static_archives: frozenset[str]) -> list[Finding]:
    groups: dict[tuple[Category, str], list[Member]] = defaultdict(list)
    for member in all_members:
        category = classify(member.name)
        if category is None and member.name in static_archives:
            category = Category.STATIC
        if category is None:
            continue
        if category is Category.TESTS:
            key = test_root(member.name) or posixpath.dirname(member.name)
        else:
            key = posixpath.dirname(member.name) or "."
        groups[(category, key)].append(member)
    out = []
    for (category, folder), members in sorted(
        groups.items(), key=lambda kv: (kv[0][0].value, kv[0][1])
    ):
        total = sum(m.size for m in members)
        examples = ", ".join(posixpath.basename(m.name) for m in members[:3])
        more = f" and {len(members) - 3} more" if len(members) > 3 else ""
        out.append(
            Finding(
                check=_CHECKS[category],
                path=folder + "/"
                if category is Category.TESTS
                else (members[0].name if len(members) == 1 else folder + "/"),
                bytes=total,
                message=f"{len(members)} {_NOUNS[category][len(members) != 1]} ({human(total)}): "
                f"{examples}{more}",
            )
        )
    return out


def _pth_findings(view: WheelView) -> list[Finding]:
    out = []
    for name, text in sorted(view.texts.items()):
        if not name.endswith(".pth"):
            continue
        lines = [ln for ln in text.splitlines() if ln.startswith(("import ", "import\t"))]
        if lines:
            out.append(
                Finding(
                    check=Check.PTH_IMPORT,
                    path=name,
                    message=f"runs code at every interpreter start: {lines[0][:80]!r}",
                )
            )
    return out


def _case_collisions(members: Sequence[Member]) -> list[Finding]:
    seen: dict[str, str] = {}
    out = []
    for member in members:
        folded = member.name.casefold()
        if folded in seen:
            out.append(
                Finding(
                    check=Check.CASE_COLLISION,
                    path=member.name,
                    message=f"{member.name} and {seen[folded]} differ only by case",
                )
            )
        else:
            seen[folded] = member.name
    return out


def _duplicates(view: WheelView, min_size: int) -> list[Finding]:
    by_digest: dict[str, list[Member]] = defaultdict(list)
    for member in view.members:
        if member.name.startswith(view.dist_info + "/") or member.size < min_size:
            continue
        digest = view.digests.get(member.name)
        if digest is not None and digest not in _TRIVIAL_DIGESTS:
            by_digest[digest].append(member)
    out = []
    for copies in sorted(by_digest.values(), key=lambda ms: ms[0].name):
        if len(copies) < 2:
            continue
        names = sorted(m.name for m in copies)
        out.append(
            Finding(
                check=Check.DUPLICATE_CONTENTS,
                path=names[0],
                bytes=copies[0].size * (len(copies) - 1),
                message=f"{len(copies)} files with the same {human(copies[0].size)} of "
                f"contents: {', '.join(names)}",
            )
        )
    return out


def _totals(members: Sequence[Member], file_size: int, rules: ContentRules) -> list[Finding]:
    unpacked = sum(m.size for m in members)
    out = []
    if file_size > rules.max_compressed_size:
        out.append(
            Finding(
                check=Check.WHEEL_TOO_LARGE,
                bytes=file_size,
                message=f"the archive is {human(file_size)}, above the limit of "
                f"{human(rules.max_compressed_size)} (max-compressed-size)",
            )
        )
    if unpacked > rules.max_unpacked_size:
        out.append(
            Finding(
                check=Check.UNPACKED_TOO_LARGE,
                bytes=unpacked,
                message=f"the files add up to {human(unpacked)} once unpacked, above the limit "
                f"of {human(rules.max_unpacked_size)} (max-unpacked-size)",
            )
        )
    if len(members) > rules.max_files:
        out.append(
            Finding(
                check=Check.TOO_MANY_FILES,
                message=f"{len(members)} files, above the limit of {rules.max_files} (max-files)",
            )
        )
    return out


def _first_bad(name: str, bad: Callable[[str], bool]) -> str | None:
    """The shortest prefix of ``name`` whose last component is ``bad`` (folders end in /)."""
    parts = name.split("/")
    for depth, part in enumerate(parts):
        if bad(part):
            return "/".join(parts[: depth + 1]) + ("/" if depth < len(parts) - 1 else "")
    return None


def _path_findings(members: Sequence[Member], max_length: int) -> list[Finding]:
    non_ascii: dict[str, int] = {}
    spaces: dict[str, int] = {}
    out = []
    for member in members:
        if member.name.isascii() and " " not in member.name and len(member.name) <= max_length:
            continue
        for seen, bad in ((non_ascii, lambda p: not p.isascii()), (spaces, lambda p: " " in p)):
            where = _first_bad(member.name, bad)
            if where is not None:
                seen[where] = seen.get(where, 0) + 1
        if len(member.name) > max_length:
            out.append(
                Finding(
                    check=Check.PATH_TOO_LONG,
                    path=member.name,
                    message=f"path is {len(member.name)} characters, above the limit of "
                    f"{max_length} (max-path-length)",
                )
            )
    for where, count in sorted(non_ascii.items()):
        out.append(
            Finding(
                check=Check.NON_ASCII_PATH,
                path=where,
                message=f"non-ASCII characters in {where.rstrip('/')!a}"
                + (f" ({count} files under it)" if where.endswith("/") else ""),
            )
        )
    for where, count in sorted(spaces.items()):
        out.append(
            Finding(
                check=Check.SPACE_IN_PATH,
                path=where,
                message=f"a space in {where.rstrip('/')!r}"
                + (f" ({count} files under it)" if where.endswith("/") else ""),
            )
        )
    return out


def _mixed_extensions(members: Sequence[Member], groups: Sequence[Sequence[str]]) -> list[Finding]:
    counts: dict[str, int] = defaultdict(int)
    for member in members:
        base = posixpath.basename(member.name)
        dot = base.rfind(".")
        if dot > 0:
            counts[base[dot:]] += 1
    out = []
    for group in groups:
        wanted = {ext.lower() for ext in group}
        found = sorted((ext, n) for ext, n in counts.items() if ext.lower() in wanted)
        if len(found) >= 2:
            out.append(
                Finding(
                    check=Check.MIXED_EXTENSIONS,
                    message="one file type, several extensions: "
                    + ", ".join(f"{ext} ({n} files)" for ext, n in found),
                )
            )
    return out


def _folders(members: Iterable[Member]) -> set[str]:
    """Every folder that holds a member, with a trailing ``/``."""
    out: set[str] = set()
    for member in members:
        name = member.name
        cut = name.rfind("/")
        while cut > 0 and name[: cut + 1] not in out:
            out.add(name[: cut + 1])
            cut = name.rfind("/", 0, cut)
    return out


class _Matcher:
    """Patterns compiled once. A pattern without ``/`` (besides a trailing one) matches the
    last component at any depth; one with ``/`` matches the whole path, shell-style.
    Literal names (most defaults) are a set lookup, the rest one regular expression."""

    def __init__(self, patterns: Iterable[str]) -> None:
        names, name_res, path_res = set(), [], []
        for pattern in (p.rstrip("/") for p in patterns):
            if "/" in pattern:
                path_res.append(translate(pattern))
            elif any(c in pattern for c in "*?["):
                name_res.append(translate(pattern))
            else:
                names.add(pattern)
        self.names = frozenset(names)
        self.name_re = re.compile("|".join(name_res)) if name_res else None
        self.path_re = re.compile("|".join(path_res)) if path_res else None

    def __call__(self, path: str) -> bool:
        path = path.rstrip("/")
        base = path[path.rfind("/") + 1 :]
        return (
            base in self.names
            or (self.name_re is not None and self.name_re.match(base) is not None)
            or (self.path_re is not None and self.path_re.match(path) is not None)
        )


def _patterns(members: Sequence[Member], rules: ContentRules) -> list[Finding]:
    files = [m.name for m in members]
    folders = sorted(_folders(members))
    out = []
    for pattern in rules.expected_files:
        pool = folders if pattern.endswith("/") else files
        if not any(map(_Matcher([pattern]), pool)):
            out.append(
                Finding(
                    check=Check.EXPECTED_FILE_MISSING,
                    message=f"no {'folder' if pattern.endswith('/') else 'file'} matches "
                    f"{pattern!r} (expected-files)",
                )
            )
    hits: set[str] = set()
    for wanted, pool in ((True, folders), (False, files)):
        unexpected = [p for p in rules.unexpected_files if p.endswith("/") is wanted]
        if unexpected:
            hits.update(filter(_Matcher(unexpected), pool))
    hit_folders = [h for h in hits if h.endswith("/")]
    for path in sorted(hits):
        if any(path != h and path.startswith(h) for h in hit_folders):
            continue  # inside a folder already reported
        inside = sum(1 for f in files if f.startswith(path)) if path.endswith("/") else 1
        out.append(
            Finding(
                check=Check.UNEXPECTED_FILE,
                path=path,
                message=f"CI or tooling configuration ({inside} file(s)) matching unexpected-files",
            )
        )
    return out


def package_tree_files(
    packages: Sequence[str | os.PathLike[str]] = (),
    src_dirs: Sequence[str | os.PathLike[str]] = (),
) -> frozenset[str]:
    """The files a wheel built from these folders should install, relative to
    site-packages: ``--package DIR`` contributes ``DIR``'s name and everything under it,
    ``--src-dir DIR`` everything under ``DIR``. Bytecode, ``__pycache__``, hidden entries
    and ``*.egg-info`` are skipped; symlinks are not followed. ``UsageError`` for a folder
    that does not exist."""
    out: set[str] = set()
    for folder, keep_name in [(p, True) for p in packages] + [(s, False) for s in src_dirs]:
        root = Path(folder)
        if not root.is_dir() or root.is_symlink():
            raise UsageError(f"{root}: not a folder (--package/--src-dir)")
        prefix = root.resolve().name + "/" if keep_name else ""
        _walk(root, prefix, out)
    return frozenset(out)


def _walk(folder: Path, prefix: str, out: set[str]) -> None:
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        name = entry.name
        if name.startswith(".") or name == "__pycache__" or name.endswith(".egg-info"):
            continue
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode):
            _walk(Path(entry.path), f"{prefix}{name}/", out)
        elif stat.S_ISREG(mode) and not name.endswith((".pyc", ".pyo")):
            out.add(prefix + name)
            if len(out) > _TREE_LIMIT:
                raise UsageError(f"{folder}: more than {_TREE_LIMIT} files in the source tree")
