"""Finding shared libraries the way the dynamic loader (and auditwheel) does, without loading them.

A wheel's ELF files are resolved against a *virtual* filesystem made of the wheel's own
members, plus the host (or another root filesystem). Search order for a library needed by
``E`` in the tree rooted at ``R`` follows auditwheel's lddtree, so that our verdicts agree:
RPATH of ``R``, RPATH and RUNPATH of ``E``, ``$LD_LIBRARY_PATH``/``$AUDITWHEEL_LD_LIBRARY_PATH``,
RUNPATH of ``R``, ``/etc/ld.so.conf`` and the trusted directories. RPATH is ignored when the
same object has a RUNPATH. ``$ORIGIN`` expands to the directory of the object that carries it.
"""

from __future__ import annotations

import functools
import glob
import os
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from wheelfix.formats.elf import CorruptElfError, ElfInfo, is_elf, parse_elf

__all__ = [
    "HostLibraries",
    "Library",
    "LibraryTree",
    "Outside",
    "needed_through",
    "resolve_tree",
]

LIBPYTHON_RE = re.compile(r"^libpython\d+\.\d+m?\.so(\.\d+)*$")
_ORIGIN_RE = re.compile(r"\$(ORIGIN|\{ORIGIN\})")
_MAX_HOST_LIB = 2 << 30


def is_loader(soname: str) -> bool:
    """The ELF interpreter itself is never grafted."""
    return "ld-linux" in soname or soname in ("ld64.so.1", "ld64.so.2")


@dataclass(frozen=True, slots=True)
class Location:
    """A directory: inside the wheel (relative path) or on the host (absolute)."""

    in_wheel: bool
    path: str


@dataclass(frozen=True, slots=True)
class Library:
    """A needed library and where it was found: in the wheel, on the host, or nowhere."""

    soname: str
    in_wheel: bool
    path: str | None
    elf: ElfInfo | None
    #: the distribution expected to install it next to the wheel (``$ORIGIN/../../nvidia/..``)
    supplied_by: str | None = None

    @property
    def found(self) -> bool:
        return (
            self.path is not None
            or self.supplied_by is not None
            or LIBPYTHON_RE.match(self.soname) is not None
        )


@dataclass(slots=True)
class LibraryTree:
    root: str
    libraries: dict[str, Library] = field(default_factory=dict)
    needed_by: dict[str, set[str]] = field(default_factory=dict)


def needed_through(tree: LibraryTree, soname: str, direct: set[str]) -> tuple[str, ...]:
    """The sonames through which a file in ``direct`` reaches ``soname``, nearest to
    ``soname`` first: ``("libpq.so.5",)`` when only libpq.so.5 needs it. Empty when a file
    in ``direct`` needs it itself."""
    by_path = {lib.path: name for name, lib in tree.libraries.items() if lib.path is not None}
    chain: list[str] = []
    current = soname
    while len(chain) < 64:
        needers = tree.needed_by.get(current, set())
        if not needers or needers & direct:
            break
        parent = next((by_path[p] for p in sorted(needers) if p in by_path), None)
        if parent is None or parent in chain or parent == soname:
            break
        chain.append(parent)
        current = parent
    return tuple(chain)


def _parse_ld_so_conf(path: str, root: str, depth: int = 0) -> list[str]:
    out: list[str] = []
    if depth > 8:
        return out
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return out
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include "):
            pattern = line[len("include ") :].strip()
            if pattern.startswith("/"):
                pattern = root.rstrip("/") + pattern
            else:
                pattern = posixpath.join(posixpath.dirname(path), pattern)
            for inc in sorted(glob.glob(pattern)):  # noqa: PTH207 - an absolute pattern
                out += _parse_ld_so_conf(inc, root, depth + 1)
        else:
            out.append(root.rstrip("/") + line)
    return out


class HostLibraries:
    """Search paths and parsed libraries of a root filesystem (``/`` by default), cached."""

    def __init__(self, root: str = "/", *, use_env: bool = True) -> None:
        self.root = root
        env: list[str] = []
        if use_env:
            for var in ("AUDITWHEEL_LD_LIBRARY_PATH", "LD_LIBRARY_PATH"):
                env += [p for p in os.environ.get(var, "").split(":") if p]
        self.env_dirs = [d for d in dict.fromkeys(env) if Path(d).is_dir()]
        prefix = root.rstrip("/")
        conf = _parse_ld_so_conf(prefix + "/etc/ld.so.conf", root)
        conf += [prefix + d for d in ("/lib", "/lib64", "/usr/lib", "/usr/lib64")]
        self.glibc_dirs = [d for d in dict.fromkeys(conf) if Path(d).is_dir()]
        musl = [prefix + d for d in ("/lib", "/usr/local/lib", "/usr/lib")]
        musl_conf = sorted(Path(prefix + "/etc").glob("ld-musl-*.path"))
        if musl_conf:
            musl = [prefix + p.strip() for p in musl_conf[0].read_text().split(":") if p.strip()]
        self.musl_dirs = [d for d in dict.fromkeys(musl) if Path(d).is_dir()]

    def system_dirs(self, libc: str | None) -> list[str]:
        if libc == "android":
            return []  # cross-compiled: this machine's libraries are never Android's
        return self.musl_dirs if libc == "musl" else self.glibc_dirs

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one instance per run, bounded
    def read(self, path: str) -> ElfInfo | None:
        """Parse a host file; ``None`` when it is missing, not ELF or unreadable."""
        try:
            p = Path(path)
            if not p.is_file() or p.stat().st_size > _MAX_HOST_LIB:
                return None
            with p.open("rb") as fh:
                if not is_elf(fh.read(4)):
                    return None
            return parse_elf(p.read_bytes())
        except (OSError, CorruptElfError):
            return None

    @functools.lru_cache(maxsize=16384)  # noqa: B019 - one instance per run, bounded
    def _lookup(self, candidate: str) -> ElfInfo | None:
        if not os.path.lexists(candidate):
            return None
        real = os.path.realpath(candidate)
        if self.root != "/" and not real.startswith(self.root.rstrip("/") + "/"):
            # An absolute symlink inside another root filesystem points into that root.
            real = os.path.realpath(self.root.rstrip("/") + real)
        return self.read(real)

    def find(self, soname: str, directory: str, like: ElfInfo) -> tuple[str, ElfInfo] | None:
        candidate = posixpath.join(directory, soname)
        info = self._lookup(candidate)
        if info is None or not like.compatible_with(info):
            return None
        return candidate, info


class LibrarySource(Protocol):
    """Where libraries outside the wheel live: this host, or another filesystem (an image)."""

    root: str

    @property
    def env_dirs(self) -> list[str]: ...

    def system_dirs(self, libc: str | None) -> list[str]: ...

    def find(self, soname: str, directory: str, like: ElfInfo) -> tuple[str, ElfInfo] | None: ...


def _expand(entries: tuple[str, ...], origin: Location, host: LibrarySource) -> list[Location]:
    out: list[Location] = []
    for entry in entries:
        if _ORIGIN_RE.search(entry):
            if origin.in_wheel:
                expanded = posixpath.normpath(_ORIGIN_RE.sub(origin.path or ".", entry))
                if expanded == ".." or expanded.startswith("../"):
                    continue  # points outside the wheel: unknowable until installed
                out.append(Location(True, "" if expanded == "." else expanded))
            else:
                expanded = posixpath.normpath(_ORIGIN_RE.sub(origin.path, entry))
                out.append(Location(False, expanded))
        elif entry.startswith("/"):
            out.append(Location(False, host.root.rstrip("/") + posixpath.normpath(entry)))
        # A relative entry without $ORIGIN depends on the process's working directory:
        # the loader's behaviour there is an accident, and we do not guess it.
    return list(dict.fromkeys(out))


#: site-packages-relative path of a library a wheel does not ship -> the distribution that
#: is expected to install it there, or ``None`` (see ``resolve_tree``)
Outside = Callable[[str], "str | None"]


def resolve_tree(
    root_path: str,
    root: ElfInfo,
    wheel_elves: Mapping[str, ElfInfo],
    host: LibrarySource,
    *,
    libc: str | None,
    outside: Outside | None = None,
) -> LibraryTree:
    """Resolve every library ``root`` needs, transitively.

    Wheel paths are site-packages paths, so an ``$ORIGIN`` entry such as
    ``$ORIGIN/../../nvidia/cublas/lib`` names a folder another distribution installs.
    ``outside`` answers for such a path when the wheel has no file there; a library it
    names is "supplied by" that distribution and not followed further."""
    tree = LibraryTree(root_path)
    root_loc = Location(True, posixpath.dirname(root_path))
    top_rpath = [] if root.runpath else _expand(root.rpath, root_loc, host)
    top_runpath = _expand(root.runpath, root_loc, host)
    env = [Location(False, d) for d in host.env_dirs]
    system = [Location(False, d) for d in host.system_dirs(libc)]
    if root.interpreter:
        interp_dir = posixpath.dirname(root.interpreter)
        system += [Location(False, host.root.rstrip("/") + interp_dir)]

    def visit(path: str, loc: Location, elf: ElfInfo, depth: int) -> None:
        own_rpath = [] if elf.runpath else _expand(elf.rpath, loc, host)
        own_runpath = _expand(elf.runpath, loc, host)
        search = list(
            dict.fromkeys(top_rpath + own_rpath + own_runpath + env + top_runpath + system)
        )
        for soname in elf.needed:
            tree.needed_by.setdefault(soname, set()).add(path)
            if soname in tree.libraries:
                continue
            if LIBPYTHON_RE.match(soname):
                tree.libraries[soname] = Library(soname, False, None, None)
                continue
            lib = _find(soname, search, elf, wheel_elves, host, outside)
            tree.libraries[soname] = lib
            if lib.elf is not None and lib.path is not None and depth < 64:
                lib_loc = Location(lib.in_wheel, posixpath.dirname(lib.path))
                visit(lib.path, lib_loc, lib.elf, depth + 1)

    visit(root_path, root_loc, root, 0)
    return tree


def _find(
    soname: str,
    search: list[Location],
    like: ElfInfo,
    wheel_elves: Mapping[str, ElfInfo],
    host: LibrarySource,
    outside: Outside | None = None,
) -> Library:
    for loc in search:
        if loc.in_wheel:
            candidate = posixpath.join(loc.path, soname) if loc.path else soname
            info = wheel_elves.get(candidate)
            if info is not None and like.compatible_with(info):
                return Library(soname, True, candidate, info)
            provider = outside(candidate) if outside is not None and info is None else None
            if provider is not None:
                return Library(soname, False, candidate, None, supplied_by=provider)
        else:
            found = host.find(soname, loc.path, like)
            if found is not None:
                return Library(soname, False, found[0], found[1])
    return Library(soname, False, None, None)
