"""Turning an untrusted name into a place under a root, and acting on it without escaping.

Every name that comes from an input (a soname, a RECORD row, a journal entry, a tar member,
a link target) becomes a path only through :func:`relative_parts`: relative, ``/``-separated,
no empty, ``.`` or ``..`` component, no NUL or other control character, no backslash, no
drive letter. What is done with it goes through directory file descriptors opened one
component at a time with ``O_NOFOLLOW | O_DIRECTORY``: a component that is a symlink when it
is used is refused, and a folder swapped for a symlink after it was opened cannot redirect a
delete or a rename, because the kernel resolves the last name inside the folder already open.

Everything here raises :class:`ContainmentError` (exit code 2) for a refused name or place;
other ``OSError`` (a file that vanished, a permission) pass through for the caller to report
for that item.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from wheelfix.errors import WheelfixError

__all__ = [
    "ContainmentError",
    "exists_under",
    "inside",
    "link_under",
    "lstat_under",
    "open_folder",
    "open_root",
    "read_under",
    "relative_parts",
    "remove_empty_dirs",
    "remove_tree",
    "rename_under",
    "unlink_under",
    "write_under",
]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


class ContainmentError(WheelfixError):
    """A name that would leave its root, or a place that is not what it must be (exit 2)."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{name!r}: {reason}")


def relative_parts(name: str) -> tuple[str, ...]:
    """The components of ``name``, an untrusted path that must stay under its root."""
    if not name:
        raise ContainmentError(name, "empty name")
    if _CONTROL.search(name):
        raise ContainmentError(name, "NUL or control character in the name")
    if "\\" in name:
        raise ContainmentError(name, "backslash in the name")
    if name.startswith("/") or _DRIVE.match(name):
        raise ContainmentError(name, "absolute path")
    parts = tuple(name.split("/"))
    for part in parts:
        if part in ("", ".", ".."):
            raise ContainmentError(
                name, f"{part or 'empty'!r} component: not a plain relative path"
            )
        if len(part.encode("utf-8", "surrogateescape")) > 255:
            raise ContainmentError(name, "a component longer than 255 bytes")
    return parts


def open_root(root: str | os.PathLike[str]) -> int:
    """A descriptor for ``root``, the one path the user named (it may itself be a link)."""
    try:
        return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise ContainmentError(os.fspath(root), f"cannot open the folder: {exc.strerror}") from None


def _open_dir(fd: int, parts: tuple[str, ...], name: str, *, create: bool) -> int:
    """A descriptor for ``parts`` under ``fd``, never following a symlink; the caller closes
    it. With ``create``, missing folders are made (mode 0o755 less the umask)."""
    current = os.dup(fd)
    try:
        for part in parts:
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=current)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=current)
                nxt = os.open(part, _DIR_FLAGS, dir_fd=current)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise ContainmentError(
                        name, f"{part!r} is a symlink or not a folder: refused"
                    ) from None
                raise
            os.close(current)
            current = nxt
    except BaseException:
        os.close(current)
        raise
    return current


def open_folder(fd: int, name: str, *, create: bool = False) -> int:
    """A descriptor for the folder ``name`` under ``fd`` (no link followed on the way, made
    if missing with ``create``); the caller closes it."""
    return _open_dir(fd, relative_parts(name), name, create=create)


@contextlib.contextmanager
def _parent(fd: int, name: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
    """The folder holding ``name`` under ``fd`` (open, no link followed) and the last name."""
    parts = relative_parts(name)
    folder = _open_dir(fd, parts[:-1], name, create=create)
    try:
        yield folder, parts[-1]
    finally:
        os.close(folder)


def lstat_under(fd: int, name: str) -> os.stat_result | None:
    """``lstat`` of ``name`` under ``fd``; ``None`` when it (or a folder on the way) is missing."""
    try:
        with _parent(fd, name) as (folder, leaf):
            return os.stat(leaf, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None


def exists_under(fd: int, name: str) -> bool:
    return lstat_under(fd, name) is not None


def read_under(fd: int, name: str, *, limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file ``name`` under ``fd`` and its ``fstat``. A symlink, FIFO,
    device or folder is refused (``O_NOFOLLOW | O_NONBLOCK``, then ``fstat``), and so is a
    file over ``limit`` bytes: it is never read whole into memory."""
    with _parent(fd, name) as (folder, leaf):
        try:
            handle = os.open(leaf, _READ_FLAGS, dir_fd=folder)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ContainmentError(name, "a symlink: refused") from None
            raise
    try:
        st = os.fstat(handle)
        if not stat.S_ISREG(st.st_mode):
            raise ContainmentError(name, "not a regular file: refused")
        if st.st_size > limit:
            raise ContainmentError(name, f"{st.st_size} bytes, over the {limit}-byte limit")
        chunks, total = [], 0
        while chunk := os.read(handle, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew since fstat
                raise ContainmentError(name, f"over the {limit}-byte limit")
        return b"".join(chunks), st
    finally:
        os.close(handle)


def write_under(fd: int, name: str, data: bytes, *, mode: int = 0o644) -> None:
    """Create ``name`` under ``fd`` (folders made as needed) holding ``data``, fsynced. An
    existing file of that name is replaced by unlinking it first: never written through."""
    with _parent(fd, name, create=True) as (folder, leaf):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leaf, dir_fd=folder)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        handle = os.open(leaf, flags, mode & 0o7777, dir_fd=folder)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(handle, view) :]
            os.fchmod(handle, mode & 0o7777)  # the umask must not change a restored mode
            os.fsync(handle)
        finally:
            os.close(handle)


def unlink_under(fd: int, name: str) -> None:
    """Remove the file (or symlink: never followed) ``name`` under ``fd``."""
    with _parent(fd, name) as (folder, leaf):
        os.unlink(leaf, dir_fd=folder)


def rename_under(src_fd: int, src: str, dst_fd: int, dst: str) -> None:
    """Move ``src`` under ``src_fd`` to ``dst`` under ``dst_fd`` (folders for ``dst`` made as
    needed). Both ends are resolved inside folders already open: no link is followed."""
    with (
        _parent(src_fd, src) as (src_dir, src_leaf),
        _parent(dst_fd, dst, create=True) as (dst_dir, dst_leaf),
    ):
        os.rename(src_leaf, dst_leaf, src_dir_fd=src_dir, dst_dir_fd=dst_dir)


def link_under(src_fd: int, src: str, dst_fd: int, dst: str) -> None:
    """Hard-link ``src`` under ``src_fd`` as ``dst`` under ``dst_fd`` (replacing ``dst``)."""
    with (
        _parent(src_fd, src) as (src_dir, src_leaf),
        _parent(dst_fd, dst, create=True) as (dst_dir, dst_leaf),
    ):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(dst_leaf, dir_fd=dst_dir)
        os.link(src_leaf, dst_leaf, src_dir_fd=src_dir, dst_dir_fd=dst_dir, follow_symlinks=False)


def remove_empty_dirs(fd: int, name: str) -> None:
    """Remove the folder ``name`` under ``fd`` and then its parents, while they are empty."""
    parts = list(relative_parts(name))
    while parts:
        try:
            with _parent(fd, "/".join(parts)) as (folder, leaf):
                os.rmdir(leaf, dir_fd=folder)
        except (OSError, ContainmentError):
            return  # not empty, gone, or not a plain folder: stop there
        parts.pop()


def remove_tree(fd: int, name: str) -> None:
    """Remove the folder ``name`` under ``fd`` and everything in it, never following a link:
    a symlink inside is removed as a link, a folder swapped for one is refused."""
    with _parent(fd, name) as (parent, leaf):
        folder = _open_dir(parent, (leaf,), name, create=False)
        try:
            _empty(folder)
        finally:
            os.close(folder)
        os.rmdir(leaf, dir_fd=parent)


def _empty(folder: int) -> None:
    with os.scandir(folder) as entries:
        names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
    for entry, is_dir in names:
        if is_dir:
            sub = _open_dir(folder, (entry,), entry, create=False)
            try:
                _empty(sub)
            finally:
                os.close(sub)
            os.rmdir(entry, dir_fd=folder)
        else:
            os.unlink(entry, dir_fd=folder)


def inside(root: Path, name: str) -> Path:
    """``root / name`` for a validated ``name`` whose folders, as they are now, are no
    symlinks. For building paths handed to other programs; act through the ``*_under``
    functions wherever a descriptor can be used instead."""
    parts = relative_parts(name)
    current = root
    for part in parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise ContainmentError(name, f"{part!r} is a symlink: refused")
    return root.joinpath(*parts)
