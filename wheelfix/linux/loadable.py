"""Will these binaries load here? One answer for an installed tree and for an image.

``scan`` asks it of a site-packages folder on this machine, ``image`` of the Python
environments inside an image; both hand over the ELF files they read, a
:class:`~wheelfix.linux.libraries.LibrarySource` (this host's loader search, or the image's
own) and the :class:`Machine` the files must run on, and get the same findings (WF104,
WF105, WF202) worded for the place.
"""

from __future__ import annotations

import platform
import posixpath
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from wheelfix.findings import Check, Finding
from wheelfix.formats.elf import ElfInfo
from wheelfix.linux.libraries import LIBPYTHON_RE, LibrarySource, resolve_tree

__all__ = [
    "Machine",
    "extension_module_name",
    "host_machine",
    "interest_for",
    "is_extension",
    "normalise_arch",
    "unloadable",
]

_PYFPE = frozenset({"PyFPE_jbuf", "PyFPE_dummy", "PyFPE_counter"})
#: Architecture names as uname, Python and OCI image configs spell them -> ELF/wheel names.
_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "ppc64le": "ppc64le"}


def extension_module_name(path: str) -> str:
    return posixpath.basename(path).split(".", 1)[0]


def is_extension(path: str, elf: ElfInfo) -> bool:
    return f"PyInit_{extension_module_name(path)}" in elf.defined


def interest_for(path: str, blacklisted: frozenset[str]) -> frozenset[str]:
    """The dynamic symbols whose binding the platform checks need for this member."""
    return blacklisted | _PYFPE | {f"PyInit_{extension_module_name(path)}"}


def normalise_arch(name: str | None) -> str | None:
    if not name:
        return None
    lowered = name.lower()
    return _ARCH_ALIASES.get(lowered, lowered)


@dataclass(frozen=True, slots=True)
class Machine:
    """Where the binaries must load: its architecture and C library (``None``: unknown),
    how messages name it (``"this system"``, ``"this image"``) and how to fix a missing
    library there."""

    arch: str | None
    libc: str | None
    place: str
    fix_missing: str


def host_machine(root: str = "/") -> Machine:
    """This machine, as the one detection every command uses."""
    musl = any(Path(root, "lib").glob("ld-musl-*.so.1"))
    return Machine(
        arch=normalise_arch(platform.machine()),
        libc="musl" if musl else "glibc",
        place="this system",
        fix_missing="install the system package that provides {soname} here, or reinstall "
        "from a repaired wheel (wheelfix repair) that carries it",
    )


def _roots(elves: Mapping[str, ElfInfo]) -> list[str]:
    """Files a process loads first: extension modules, and libraries no other file needs."""
    needed = {soname for elf in elves.values() for soname in elf.needed}
    return [
        path
        for path, elf in sorted(elves.items())
        if is_extension(path, elf) or posixpath.basename(path) not in needed
    ]


def unloadable(
    elves: Mapping[str, ElfInfo],
    source: LibrarySource,
    machine: Machine,
    *,
    only: Collection[str] | None = None,
    shown: str = "",
) -> dict[str, list[Finding]]:
    """Per file (its key in ``elves``): why it cannot load on ``machine``.

    Only the files in ``only`` are judged (all, when ``None``); every file in ``elves`` may
    provide a library. ``shown`` is put before each path in findings (``"/"`` for image
    paths). Object files (``ET_REL``) are never loaded and are left out.
    """
    loaded = {p: e for p, e in elves.items() if e.elf_type != "ET_REL"}
    judged = loaded if only is None else {p: loaded[p] for p in only if p in loaded}
    out: dict[str, list[Finding]] = defaultdict(list)
    refused: set[str] = set()
    for path, elf in sorted(judged.items()):
        finding = _refusal(shown + path, elf, machine)
        if finding is not None:
            out[path].append(finding)
            refused.add(path)
    for path in _roots(judged):
        if path in refused:
            continue
        elf = loaded[path]
        tree = resolve_tree(path, elf, loaded, source, libc=elf.libc or machine.libc)
        for soname, lib in sorted(tree.libraries.items()):
            if lib.path is not None or LIBPYTHON_RE.match(soname):
                continue
            who = sorted(tree.needed_by.get(soname, {path}))[0]
            by = "" if who == path else f" (needed by {shown}{who})"
            out[path].append(
                Finding(
                    check=Check.LIBRARY_NOT_FOUND,
                    path=shown + path,
                    message=f"needs {soname}{by}: found neither in the environment nor in "
                    f"{machine.place}'s library path, so importing it fails",
                    fix=machine.fix_missing.format(soname=soname),
                )
            )
    return out


def _refusal(shown_path: str, elf: ElfInfo, machine: Machine) -> Finding | None:
    """WF104/WF105 when the loader of ``machine`` refuses the file outright."""
    if machine.arch is not None and elf.arch is not None and elf.arch != machine.arch:
        return Finding(
            check=Check.WRONG_ARCH,
            path=shown_path,
            bytes=elf.file_size,
            message=f"built for {elf.arch}; {machine.place} is {machine.arch}: it cannot load",
        )
    if machine.libc is not None and elf.libc is not None and elf.libc != machine.libc:
        return Finding(
            check=Check.WRONG_LIBC,
            path=shown_path,
            bytes=elf.file_size,
            message=f"links against {elf.libc}, but {machine.place}'s C library is "
            f"{machine.libc}: it cannot load",
        )
    return None
