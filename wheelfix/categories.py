"""What kind of content a path is: the categories that check reports and prune/slim remove.

Rules are deliberately narrow (see docs/checks.md): ``numpy/testing`` is public API, so only
folders named exactly ``tests`` or ``test`` count as tests; C headers and Cython ``.pxd``
files are API for downstream builds, so they are not "sources".
"""

from __future__ import annotations

import enum
import posixpath

__all__ = ["Category", "classify", "test_root"]


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
_LEFTOVER_DIRS = frozenset({".git", ".hg", ".svn", ".tox", ".idea", ".vscode", "CMakeFiles",
                            ".nox"})  # fmt: skip
_CACHE_DIRS = frozenset({".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis",
                         ".ipynb_checkpoints"})  # fmt: skip
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
