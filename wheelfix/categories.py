"""What kind of content a path is: the categories that check reports and prune/slim remove.

Rules are deliberately narrow (see docs/checks.md): ``numpy/testing`` is public API, so only
folders named exactly ``tests`` or ``test`` count as tests; C headers and Cython ``.pxd``
files are API for downstream builds, so they are not "sources".

Some sources are read at run time (Cython's ``Utility`` folder when it translates a
``.pyx``, f2py's ``fortranobject.c``, JIT back ends compiling their ``driver.c``):
``runtime_sources`` finds the ones a distribution's own Python code names, so that slim and
prune keep them (docs/slim.md, "Sources read at run time").
"""

from __future__ import annotations

import enum
import os
import posixpath
import re
import stat
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

__all__ = [
    "Category",
    "RuntimeSource",
    "classify",
    "kept_reasons",
    "read_bounded",
    "runtime_sources",
    "test_root",
]


class Category(enum.Enum):
    TESTS = "tests"
    BYTECODE = "bytecode"
    SOURCES = "sources"
    STATIC = "static-archives"
    BUILD_LEFTOVERS = "build-leftovers"
    SOURCE_MAPS = "source-maps"
    CACHES = "caches"


_TEST_DIRS = frozenset({"tests", "test"})
_SOURCE_SUFFIXES = frozenset(
    {".c", ".cc", ".cpp", ".cxx", ".c++", ".pyx", ".f", ".f77", ".f90", ".f95", ".for", ".cu"}
)
_STATIC_SUFFIXES = frozenset({".a", ".o", ".obj", ".lib"})
_LEFTOVER_NAMES = frozenset(
    {
        ".DS_Store",
        "Thumbs.db",
        ".gitignore",
        ".gitattributes",
        ".coverage",
        "CMakeCache.txt",
        "setup.cfg.orig",
    }
)
_LEFTOVER_DIRS = frozenset(
    {".git", ".hg", ".svn", ".tox", ".idea", ".vscode", "CMakeFiles", ".nox"}
)
_CACHE_DIRS = frozenset(
    {".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".ipynb_checkpoints"}
)
_LEFTOVER_SUFFIXES = (".orig", ".rej", ".swp", ".swo", "~", ".bak", ".tmp")
_MAP_SUFFIXES = (".js.map", ".css.map", ".mjs.map", ".cjs.map")


def _is_metadata(parts: list[str]) -> bool:
    return parts[0].endswith(".dist-info")


def test_root(path: str) -> str | None:
    """The ``.../tests`` folder a path lies in, or ``None``."""
    parts = path.split("/")
    if _is_metadata(parts):
        return None
    for i, part in enumerate(parts[:-1]):
        if part in _TEST_DIRS:
            return "/".join(parts[: i + 1])
    return None


def classify(path: str) -> Category | None:
    """The category of one file path (``/``-separated, relative), or ``None``."""
    parts = path.split("/")
    if _is_metadata(parts):
        return None
    folders = parts[:-1]
    # Bytecode of tests belongs to the tests: removing tests/ must not leave tests/__pycache__.
    if not _TEST_DIRS.isdisjoint(folders):
        return Category.TESTS
    name = parts[-1]
    lower = name.lower()
    if "__pycache__" in parts or lower.endswith((".pyc", ".pyo")):
        return Category.BYTECODE
    if not _CACHE_DIRS.isdisjoint(folders):
        return Category.CACHES
    if (
        not _LEFTOVER_DIRS.isdisjoint(folders)
        or name in _LEFTOVER_NAMES
        or (lower.endswith(_LEFTOVER_SUFFIXES))
    ):
        return Category.BUILD_LEFTOVERS
    if lower.endswith(_MAP_SUFFIXES):
        return Category.SOURCE_MAPS
    suffix = posixpath.splitext(lower)[1]
    if suffix in _SOURCE_SUFFIXES:
        return Category.SOURCES
    if suffix in _STATIC_SUFFIXES:
        return Category.STATIC
    return None


# -- sources read at run time ---------------------------------------------------------------
#: Modules and extension modules: a folder holding either is a package, not a folder of
#: sources (``__init__.py`` alone does not count: Cython's ``Utility`` folder has one).
_CODE_SUFFIXES = (".py", ".so", ".pyd")
#: A name standing alone between quotes or path separators: ``"Utility"``, ``'driver.c'``,
#: ``/aoti_runtime/``. A name in a comment or a docstring's prose does not count. (A leading
#: character class rather than a look-behind: the regex engine then skips ahead to the next
#: quote or slash, four times faster on astropy's 14 MB of ``.py``.)
_QUOTED = re.compile(rb"""["'/\\]([\w.+-]+)(?=["'/\\])""")
#: Build scripts shipped by accident (astropy's ``setup_package.py``): they name every
#: source, and never run after the build.
_BUILD_SCRIPTS = frozenset({"setup.py", "setup_package.py"})
#: Python files bigger than this are read only this far (generated tables, not loaders).
PYTHON_READ_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RuntimeSource:
    """Why a source file stays: ``group`` (the file itself, or with ``folder`` the folder the
    code names, kept whole) is named as ``name`` in the Python file ``named_in``."""

    group: str
    name: str
    named_in: str
    folder: bool = False

    def reason(self, files: int) -> str:
        """``read at run time: source folder 'Utility' (39 files) named in ...``"""
        what = "source folder" if self.folder else "source"
        count = f" ({files} files)" if files > 1 else ""
        return f"read at run time: {what} {self.name!r}{count} named in {self.named_in}"


def _source_folders(files: Collection[str]) -> set[str]:
    """Folders below the top level holding no module and no extension at any depth."""
    code: set[str] = set()
    folders: set[str] = set()
    for path in files:
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(2, len(parts))]
        folders.update(prefixes)
        if parts[-1] != "__init__.py" and parts[-1].lower().endswith(_CODE_SUFFIXES):
            code.update(prefixes)
    return folders - code


def _raw(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def _referrers(files: Collection[str]) -> list[str]:
    return sorted(
        p
        for p in files
        if p.endswith(".py") and p.rpartition("/")[2] not in _BUILD_SCRIPTS and classify(p) is None
    )


def _folders_of(path: str) -> list[str]:
    """``a/b/c.py`` -> ``["a/", "a/b/"]``: the folders ``path`` lies in, with a ``/``."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


@dataclass(slots=True)
class _Targets:
    """What may be named, indexed by what can name it, so that each lookup is one dict get.

    A file name counts in a module whose *scope* (its package's parent package, or its
    top-level package) contains the file: ``numpy/distutils/system_info.py`` names
    ``numpy/f2py/src/fortranobject.c``. A folder name counts in a module that lies in the
    folder's parent (``Cython/Compiler/Code.py`` names ``Cython/Utility``): short folder
    names such as ``src`` are quoted for many other reasons elsewhere."""

    files: dict[tuple[bytes, str], list[str]]  # (file name, a folder above it) -> sources
    folders: dict[tuple[bytes, str], list[str]]  # (folder name, its parent/) -> folders
    inside: dict[str, list[str]]  # source folder -> the sources below it
    names: set[bytes]

    @classmethod
    def of(cls, files: Collection[str], sources: list[str]) -> _Targets:
        source_folders = _source_folders(files)
        targets = cls({}, {}, {}, set())
        for path in sources:
            name = _raw(path.rpartition("/")[2])
            targets.names.add(name)
            for folder in _folders_of(path):
                targets.files.setdefault((name, folder), []).append(path)
                if folder[:-1] in source_folders:
                    targets.inside.setdefault(folder[:-1], []).append(path)
        for folder in targets.inside:
            parent, _, last = folder.rpartition("/")
            targets.folders.setdefault((_raw(last), parent + "/"), []).append(folder)
            targets.names.add(_raw(last))
        return targets


def runtime_sources(
    files: Collection[str], read: Callable[[str], bytes]
) -> dict[str, RuntimeSource]:
    """The ``sources`` among ``files`` (one distribution's, or one wheel's, relative paths) that
    its own ``.py`` files name: source path -> why it must stay.

    A name counts when it stands between quotes or path separators in a ``.py`` file (not in
    a test or a build script) that can reach the source (``_Targets``): the source's file
    name (``'fortranobject.c'``, ``"driver.c"``), or the name of a folder containing it that
    holds no module or extension (``"Utility"``, ``/aoti_runtime/``), which keeps the
    folder's sources whole. ``read`` gives a file's bytes (``read_bounded``); names built at
    run time (``name + ".c"``) cannot be seen. Linear in the bytes of ``.py`` read and in
    the number of files times their depth.
    """
    sources = sorted(p for p in files if classify(p) is Category.SOURCES)
    if not sources:
        return {}
    targets = _Targets.of(files, sources)
    named: dict[str, RuntimeSource] = {}  # by file name
    whole: dict[str, RuntimeSource] = {}  # by a folder: reported as the folder
    left = set(sources)
    for module in _referrers(files):
        if not left:
            break
        above = _folders_of(module)
        scope = above[-2] if len(above) > 1 else (above[0] if above else "")
        for raw in targets.names & set(_QUOTED.findall(read(module))):
            word = raw.decode("utf-8", "surrogateescape")
            for path in targets.files.pop((raw, scope), ()):
                named.setdefault(path, RuntimeSource(path, word, module))
                left.discard(path)
            for folder in (f for a in above for f in targets.folders.pop((raw, a), ())):
                why = RuntimeSource(folder, word, module, folder=True)
                for path in targets.inside[folder]:
                    whole.setdefault(path, why)
                    left.discard(path)
    return named | whole


def kept_reasons(spared: Mapping[str, RuntimeSource]) -> dict[str, str]:
    """One entry per group (a named file, or a named folder kept whole): group -> why."""
    members: dict[RuntimeSource, int] = {}
    for why in spared.values():
        members[why] = members.get(why, 0) + 1
    return {
        why.group: why.reason(n) for why, n in sorted(members.items(), key=lambda kv: kv[0].group)
    }


#: O_NONBLOCK: a FIFO swapped in after listing must not hang the open; O_NOFOLLOW: nor may
#: a symlink lead elsewhere.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def read_bounded(path: str, limit: int = PYTHON_READ_LIMIT) -> bytes:
    """Up to ``limit`` bytes of a regular file; ``b""`` for anything else or on error."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        chunks = []
        left = limit
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return b""
    finally:
        os.close(fd)
