"""Auditing a container image without a daemon: layers, wasted bytes, the Python inside.

Inputs: a ``docker save`` archive (the classic layout and the OCI-style ``blobs/`` layout
Docker 25+ writes both carry ``manifest.json``), an OCI image layout folder, or an OCI
archive (that folder as a tar). Layers are streamed once, in order, straight out of the
archive: nothing is extracted to disk, and only what the analysis needs is kept — sizes and
paths for every entry, parsed ELF facts for binaries, and the text of a few small files
(``ld.so.conf``, the dpkg/apk databases, ``*.dist-info/RECORD``).

Wasted bytes are every byte a layer writes that a later layer removes (whiteout) or
overwrites, counted once, naming both layers. Efficiency is final bytes / written bytes.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gzip
import io
import os
import posixpath
import re
import stat
import tarfile
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from wheelfix.categories import Category, classify
from wheelfix.containment import ContainmentError, lstat_under, open_folder, open_root
from wheelfix.errors import WheelfixError
from wheelfix.findings import Check, Finding, Selection, Severity
from wheelfix.formats.bounded import (
    MalformedInputError,
    describe,
    excerpt,
    expect_int,
    expect_list,
    expect_object,
    expect_str,
    load_json,
    open_regular,
    read_capped,
)
from wheelfix.formats.bounded import (
    where as jpath,
)
from wheelfix.formats.elf import ELF_MAGIC, CorruptElfError, ElfInfo, parse_elf
from wheelfix.linux.loadable import Machine, interest_for, normalise_arch, unloadable
from wheelfix.linux.policy import blacklisted_symbols
from wheelfix.reports import FindingsReport, findings_json
from wheelfix.units import human

__all__ = ["ImageReport", "InvalidImageError", "analyze_image"]

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_TEXT_LIMIT = 16 << 20
_ELF_LIMIT = 1 << 30
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_TEXT_FILES = re.compile(
    r"^(etc/ld\.so\.conf(\.d/.*)?|etc/ld-musl-[^/]+\.path|var/lib/dpkg/status"
    r"|lib/apk/db/installed|.*/(site|dist)-packages/[^/]+\.dist-info/(RECORD|METADATA))$"
)
_COMPILERS = re.compile(
    r"^(gcc|g\+\+|cpp|clang|build-essential|build-base|make|cmake|gfortran)"
    r"(-[0-9.]+)?$|-dev$"
)


class InvalidImageError(WheelfixError):
    """An input that cannot be read as an image archive (exit code 2)."""


# -- reading the archive ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _LayerRef:
    name: str  # member path in the archive, or blob path in a layout folder
    size: int  # compressed size as stored


#: Extended headers (pax, GNU long names) are read whole by tarfile: cap them.
_EXTENDED_HEADER_LIMIT = 1 << 20
#: The longest layer entry name: Linux's PATH_MAX; no runtime can create a longer path.
_MAX_NAME = 4096
_EXTENDED_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
#: Deflate cannot expand more than 1032 times: a gzip layer holds at most this many
#: bytes per stored byte (plus a little for the headers).
_GZIP_MAX_RATIO = 1032


class _TarRefused(tarfile.TarError):
    """A tar header refused before tarfile acts on it (seeks past it, reads its data)."""


def _checked_tarinfo(room: int, what: str) -> type[tarfile.TarInfo]:
    """A TarInfo whose size is checked as soon as the header is parsed.

    tarfile calls ``_proc_member`` right after parsing a header and before it reads an
    extended header's data or moves past the member (its source says the method is there to
    be overridden). A negative size, a size past the end of a seekable archive, or above
    ``room`` is refused there, so a base-256 size of 2**90 is never seeked to or skipped.
    """

    class _Checked(tarfile.TarInfo):
        def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
            cap = _EXTENDED_HEADER_LIMIT if self.type in _EXTENDED_TYPES else room
            fileobj = tar.fileobj
            if isinstance(fileobj, io.IOBase) and fileobj.seekable():  # not a stream
                cap = min(cap, room - fileobj.tell())
            if self.size < 0 or self.size > cap:
                raise _TarRefused(
                    f"entry {excerpt(self.name)} declares {self.size} bytes, beyond the "
                    f"limit of {max(cap, 0)} bytes left for it (truncated or hostile archive)"
                )
            processed: tarfile.TarInfo = super()._proc_member(tar)  # type: ignore[misc]
            return processed

    _Checked.__qualname__ = f"_Checked[{what}]"
    return _Checked


def _check_entry_size(member: tarfile.TarInfo, room: int, what: str, budget: int) -> None:
    """A pax ``size`` record replaces the header's size after ``_proc_member``: check again
    before the next header is read (tarfile skips the data then)."""
    if member.size < 0 or member.size > room:
        raise InvalidImageError(
            f"{what}: entry {excerpt(member.name)} declares {member.size} bytes: the layer "
            f"would expand beyond the limit of {budget} bytes"
        )


@dataclass(frozen=True, slots=True)
class _Step:
    """One validated ``history`` entry of the image config."""

    created_by: str
    comment: str
    empty_layer: bool


class _Source:
    """An image archive or layout folder: its config, its layers, and a way to open them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar: tarfile.TarFile | None = None
        self._fh: IO[bytes] | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        #: the layout folder (the one path the user named), when the input is a folder
        self._root: int | None = None
        try:
            if path.is_dir():
                self._root = open_root(path)
            else:
                self._open_archive()
            self.name, self.config, self.layers = self._read_manifest()
            self.history = self._history()
        except MalformedInputError as exc:
            self.close()
            raise InvalidImageError(f"{path}: {exc}") from None
        except BaseException:
            self.close()
            raise

    def _open_archive(self) -> None:
        self._fh = open_regular(self.path)  # a FIFO or device is refused, never waited on
        size = os.fstat(self._fh.fileno()).st_size
        try:
            self._tar = tarfile.open(  # noqa: SIM115 - closed in close()
                fileobj=self._fh, mode="r:", tarinfo=_checked_tarinfo(size, str(self.path))
            )
            members = self._tar.getmembers()
        except _TAR_ERRORS as exc:
            raise InvalidImageError(f"{self.path}: not an image archive ({exc})") from None
        for member in members:
            self._members[posixpath.normpath(member.name.lstrip("./") or ".")] = member

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
        if self._fh is not None:
            self._fh.close()
        if self._root is not None:
            os.close(self._root)
            self._root = None

    def _inside(self, name: str) -> str:
        norm = posixpath.normpath(name)
        if norm.startswith(("../", "/")) or norm == ".." or "\0" in norm:
            raise InvalidImageError(
                f"{self.path}: manifest points outside the archive: {excerpt(name)}"
            )
        return norm

    def _open(self, name: str, depth: int = 0) -> IO[bytes]:
        norm = self._inside(name)
        if self._tar is None:
            if self._root is None:
                raise InvalidImageError(f"{self.path}: closed")
            return self._open_in_folder(self._root, norm)
        member = self._members.get(norm)
        if member is None:
            raise InvalidImageError(f"{self.path}: {excerpt(name)} is missing from the archive")
        if member.issym() and depth < 4:
            # docker save links <id>/layer.tar to ../<digest>.tar: follow inside the archive only
            return self._open(posixpath.join(posixpath.dirname(norm), member.linkname), depth + 1)
        stream = self._tar.extractfile(member) if member.isfile() else None
        if stream is None:
            raise InvalidImageError(f"{self.path}: {excerpt(name)} is not a regular file")
        return stream

    def _open_in_folder(self, root: int, norm: str) -> IO[bytes]:
        """A name from the manifest, under the layout folder: no link followed on the way
        (a ``blobs/`` that is a link is refused) or at the end, never a FIFO or device."""
        folder_name, leaf = posixpath.split(norm)
        try:
            folder = open_folder(root, folder_name) if folder_name else os.dup(root)
        except FileNotFoundError:
            raise InvalidImageError(f"{self.path}: {norm} is missing") from None
        except (ContainmentError, OSError) as exc:
            reason = exc.reason if isinstance(exc, ContainmentError) else exc.strerror
            raise InvalidImageError(f"{self.path}: {norm}: {reason}") from None
        try:
            return open_regular(leaf, follow_symlinks=False, dir_fd=folder)
        except MalformedInputError as exc:
            why = "is missing" if exc.reason == "no such file" else f": {exc.reason}"
            raise InvalidImageError(
                f"{self.path}: {norm}{' ' if why[0] != ':' else ''}{why}"
            ) from None
        finally:
            os.close(folder)

    def _json(self, name: str) -> Any:  # noqa: ANN401 - JSON documents: checked by expect_*
        with self._open(name) as fh:
            try:
                data = read_capped(fh, _TEXT_LIMIT, name)
            except _TAR_ERRORS as exc:
                raise InvalidImageError(f"{self.path}: {name} cannot be read ({exc})") from None
        return load_json(data, name)

    def _blob(self, digest: object, where_: str) -> str:
        if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
            shown = excerpt(digest) if isinstance(digest, str) else describe(digest)
            raise InvalidImageError(f"{self.path}: {where_}: invalid digest {shown}")
        return "blobs/sha256/" + digest.split(":", 1)[1]

    def _size(self, name: str) -> int:
        name = self._inside(name)
        if self._root is not None:
            with self._open(name) as fh:
                return os.fstat(fh.fileno()).st_size
        member = self._members.get(posixpath.normpath(name))
        for _ in range(4):  # docker save's layer.tar links; a cycle must not spin
            if member is None or not member.issym():
                break
            member = self._members.get(
                posixpath.normpath(posixpath.join(posixpath.dirname(member.name), member.linkname))
            )
        if member is None or member.issym():
            raise InvalidImageError(f"{self.path}: {excerpt(name)} is missing or a link loop")
        return member.size

    def _exists(self, name: str) -> bool:
        if self._root is not None:
            try:
                found = lstat_under(self._root, posixpath.normpath(name))
            except (ContainmentError, OSError):
                return False  # a link or a file on the way: opening it says why
            return found is not None and stat.S_ISREG(found.st_mode)
        return posixpath.normpath(name) in self._members

    def _read_manifest(self) -> tuple[str, dict[str, Any], list[_LayerRef]]:
        if self._exists("manifest.json"):  # docker save, both layouts
            return self._docker_manifest()
        if self._exists("index.json"):  # OCI layout or archive
            return self._oci_manifest()
        raise InvalidImageError(f"{self.path}: neither manifest.json nor index.json: not an image")

    def _docker_manifest(self) -> tuple[str, dict[str, Any], list[_LayerRef]]:
        manifest = expect_list(self._json("manifest.json"), "manifest.json")
        if not manifest:
            raise InvalidImageError(f"{self.path}: manifest.json lists no image")
        at = jpath("manifest.json", 0)
        entry = expect_object(manifest[0], at)
        tags = entry.get("RepoTags")
        tag = "<untagged>"
        if tags is not None and expect_list(tags, jpath(at, "RepoTags")):
            tag = expect_str(tags[0], jpath(jpath(at, "RepoTags"), 0))
        config_name = expect_str(entry.get("Config"), jpath(at, "Config"))
        config = expect_object(self._json(config_name), config_name)
        names = expect_list(_get(entry, "Layers", []), jpath(at, "Layers"))
        layers = []
        for i, value in enumerate(names):
            name = expect_str(value, jpath(jpath(at, "Layers"), i))
            layers.append(_LayerRef(name, self._size(name)))
        return tag, config, layers

    def _oci_manifest(self) -> tuple[str, dict[str, Any], list[_LayerRef]]:
        document = expect_object(self._json("index.json"), "index.json")
        at = "index.json"
        chosen: dict[str, Any] = {}
        for _ in range(4):  # an index may point at another index (multi-platform)
            manifests = expect_list(_get(document, "manifests", []), jpath(at, "manifests"))
            if not manifests:
                raise InvalidImageError(f"{self.path}: {at} lists no manifest")
            index, chosen = _choose_manifest(manifests, jpath(at, "manifests"))
            at = jpath(jpath(at, "manifests"), index)
            blob = self._blob(chosen.get("digest"), jpath(at, "digest"))
            document = expect_object(self._json(blob), blob)
            if chosen.get("mediaType") not in _INDEX_TYPES and "layers" in document:
                break
            at = blob
        annotations = expect_object(_get(chosen, "annotations", {}), jpath(at, "annotations"))
        name = annotations.get("org.opencontainers.image.ref.name") or self.path.name
        name = expect_str(
            name, jpath(jpath(at, "annotations"), "org.opencontainers.image.ref.name")
        )
        config_at = jpath(blob, "config")
        descriptor = expect_object(document.get("config"), config_at)
        config_blob = self._blob(descriptor.get("digest"), jpath(config_at, "digest"))
        config = expect_object(self._json(config_blob), config_blob)
        layers = []
        for i, value in enumerate(expect_list(_get(document, "layers", []), jpath(blob, "layers"))):
            layer_at = jpath(jpath(blob, "layers"), i)
            layer = expect_object(value, layer_at)
            size = expect_int(layer.get("size", 0), jpath(layer_at, "size"))
            layers.append(
                _LayerRef(self._blob(layer.get("digest"), jpath(layer_at, "digest")), size)
            )
        return name, config, layers

    def _history(self) -> list[_Step]:
        steps = []
        history = expect_list(_get(self.config, "history", []), "config.history")
        for i, value in enumerate(history):
            at = jpath("config.history", i)
            entry = expect_object(value, at)
            created_by = expect_str(entry.get("created_by", ""), jpath(at, "created_by"))
            comment = expect_str(entry.get("comment", ""), jpath(at, "comment"))
            empty = entry.get("empty_layer", False)
            if not isinstance(empty, bool):
                raise MalformedInputError(
                    jpath(at, "empty_layer"), f"expected a boolean, got {describe(empty)}"
                )
            steps.append(_Step(created_by, comment, empty))
        return steps

    @contextmanager
    def layer_stream(self, ref: _LayerRef) -> Iterator[tuple[IO[bytes], int]]:
        """The layer's tar stream, and the most bytes it can expand to."""
        raw = self._open(ref.name)
        try:
            stored = self._size(ref.name)
            try:
                head = raw.read(4)
            except _TAR_ERRORS as exc:
                raise InvalidImageError(
                    f"{self.path}: layer {ref.name} is corrupt ({exc})"
                ) from None
            rest: IO[bytes] = io.BufferedReader(_Prefixed(head, raw), buffer_size=1 << 20)
            budget = stored
            if head[:2] == b"\x1f\x8b":
                rest = gzip.GzipFile(fileobj=rest)  # type: ignore[assignment]
                budget = stored * _GZIP_MAX_RATIO + (1 << 20)
            elif head == b"\x28\xb5\x2f\xfd":
                raise InvalidImageError(
                    f"{self.path}: layer {ref.name} is zstd-compressed, which is not supported yet"
                )
            yield rest, budget
        finally:
            raw.close()


def _get(document: dict[str, Any], key: str, default: object) -> object:
    """``document[key]``, or ``default`` when the key is absent or null (never when it holds
    another falsy value of the wrong shape, such as ``[]`` for an object)."""
    value = document.get(key)
    return default if value is None else value


def _choose_manifest(manifests: list[Any], at: str) -> tuple[int, dict[str, Any]]:
    """The amd64 (or platform-less) entry of an index, else the first; shapes checked."""
    entries = [expect_object(m, jpath(at, i)) for i, m in enumerate(manifests)]
    for i, entry in enumerate(entries):
        platform = expect_object(_get(entry, "platform", {}), jpath(jpath(at, i), "platform"))
        if platform.get("architecture") in ("amd64", None):
            return i, entry
    return 0, entries[0]


class _Prefixed(io.RawIOBase):
    """A stream with a few already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # noqa: ANN401 - a writable buffer
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# -- the analysis -------------------------------------------------------------------------------
@dataclass(slots=True)
class _Node:
    size: int
    layer: int
    kind: str  # file, dir, symlink, hardlink, other
    link: str | None = None
    #: when the path entered the view: whiteouts report what they remove in this order
    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerInfo:
    index: int
    instruction: str
    compressed: int
    uncompressed: int
    added: int
    changed: int
    removed: int
    biggest: tuple[tuple[str, int], ...]
    base: bool

    def to_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "instruction": self.instruction,
            "compressed": self.compressed,
            "uncompressed": self.uncompressed,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "biggest": [{"path": p, "size": s} for p, s in self.biggest],
            "base": self.base,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageReport(FindingsReport):
    path: str
    name: str
    layers: tuple[LayerInfo, ...]
    written: int
    final: int
    wasted: int
    base_bytes: int
    app_bytes: int
    libc: str | None
    environments: tuple[str, ...]
    findings: tuple[Finding, ...]
    fail_on: Severity | None = Severity.ERROR

    @property
    def efficiency(self) -> float:
        return self.final / self.written if self.written else 1.0

    def json_body(self) -> dict[str, object]:
        return {
            "path": self.path,
            "image": self.name,
            "libc": self.libc,
            "written": self.written,
            "final": self.final,
            "wasted": self.wasted,
            "efficiency": round(self.efficiency, 6),
            "base_bytes": self.base_bytes,
            "app_bytes": self.app_bytes,
            "layers": [layer.to_json() for layer in self.layers],
            "python_environments": list(self.environments),
            "findings": findings_json(self.findings),
        }


@dataclass(slots=True)
class _State:
    nodes: dict[str, _Node] = field(default_factory=dict)
    elves: dict[str, ElfInfo] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    #: every folder some entry lives in, explicit or implied (tars may omit folder entries)
    folders: set[str] = field(default_factory=set)
    #: folder -> the paths directly inside it (nodes and implied folders), so a whiteout
    #: walks only the subtree it hides instead of every path in the image
    children: dict[str, set[str]] = field(default_factory=dict)
    #: paths whose subtree holds nothing from a lower layer any more (reset every layer)
    cleared: set[str] = field(default_factory=set)
    #: paths a whiteout walk has visited, over the whole image (the linear-time proof)
    visits: int = 0
    placed: int = 0
    # (layer that wrote the bytes, layer that superseded them) -> [bytes, files, examples, how]
    waste: dict[tuple[int, int], list[Any]] = field(default_factory=dict)
    written: int = 0


def _clean(name: str, image: Path) -> str:
    norm = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    raw = name.replace("\\", "/").split("/")
    if ".." in raw:
        raise InvalidImageError(f"{image}: layer entry climbs out of the root: {excerpt(name)}")
    return norm


def _place(state: _State, path: str, node: _Node) -> None:
    node.seq = state.placed
    state.placed += 1
    state.nodes[path] = node
    state.children.setdefault(posixpath.dirname(path), set()).add(path)


def _add_folders(state: _State, folder: str) -> None:
    """Record ``folder`` and its parents as folders (tars may omit folder entries)."""
    while folder and folder not in state.folders:
        state.folders.add(folder)
        state.children.setdefault(posixpath.dirname(folder), set()).add(folder)
        folder = posixpath.dirname(folder)


def _supersede(state: _State, path: str, by: int, how: str) -> None:
    node = state.nodes.pop(path, None)
    state.elves.pop(path, None)
    state.texts.pop(path, None)
    if node is None or node.kind != "file" or node.size == 0:
        return
    if node.layer == by:  # one layer lists the path twice: its earlier copy is never seen
        how = "listed again"
    entry = state.waste.setdefault((node.layer, by), [0, 0, [], how])
    entry[0] += node.size
    entry[1] += 1
    if len(entry[2]) < 3:
        entry[2].append(path)


def _remove_tree(state: _State, path: str, by: int) -> int:
    """A whiteout hides what *lower* layers wrote; entries of its own layer stay.

    Linear in the image: the walk follows the children index (only the hidden subtree),
    stops at a subtree already cleared in this layer (it holds nothing lower any more), and
    forgets folders left empty, so no whiteout walks the same paths twice.
    """
    order: list[str] = []
    doomed: list[tuple[int, str]] = []
    stack = [path]
    while stack:
        current = stack.pop()
        if current in state.cleared:
            continue
        state.visits += 1
        state.cleared.add(current)
        order.append(current)
        node = state.nodes.get(current)
        if node is not None and node.layer < by:
            doomed.append((node.seq, current))
        stack.extend(state.children.get(current, ()))
    for _, current in sorted(doomed):  # the order the paths came in: stable reports
        _supersede(state, current, by, "removed")
    for current in reversed(order):  # children before their parents
        kids = state.children.get(current)
        if kids is not None:
            kids.difference_update(
                [k for k in kids if k not in state.nodes and k not in state.children]
            )
            if not kids:
                del state.children[current]
        if current not in state.children and current not in state.nodes:
            state.folders.discard(current)
    return len(doomed)


@dataclass(slots=True)
class _LayerStats:
    added: int = 0
    changed: int = 0
    removed: int = 0
    total: int = 0
    biggest: list[tuple[str, int]] = field(default_factory=list)


def _apply(
    state: _State, member: tarfile.TarInfo, name: str, index: int, stats: _LayerStats, image: Path
) -> bool:
    """Apply one layer entry to the merged view; ``True`` when its data should be read."""
    base = posixpath.basename(name)
    folder = posixpath.dirname(name)
    if base == ".wh..wh..opq":
        stats.removed += _remove_tree(state, folder, index) and 1
        return False
    if base.startswith(".wh."):
        stats.removed += _remove_tree(state, posixpath.join(folder, base[4:]), index) and 1
        return False
    if name in state.folders and not member.isdir():
        # A file over a lower layer's folder hides everything in it.
        stats.removed += _remove_tree(state, name, index) and 1
        state.folders.discard(name)
    existed = name in state.nodes and state.nodes[name].kind != "dir"
    _add_folders(state, folder)
    if member.isdir():
        _add_folders(state, name)
        if existed:  # a file (or link) replaced by a folder
            _supersede(state, name, index, "overwritten")
            stats.changed += 1
        if name not in state.nodes:
            _place(state, name, _Node(0, index, "dir"))
        return False
    if existed:
        _supersede(state, name, index, "overwritten")
        stats.changed += 1
    else:
        stats.added += 1
    if member.issym():
        _place(state, name, _Node(0, index, "symlink", member.linkname))
    elif member.islnk():
        # Same data as an earlier entry of this layer: no new bytes, same facts.
        target = _clean(member.linkname, image)
        _place(state, name, _Node(0, index, "hardlink", target))
        if target in state.elves:
            state.elves[name] = state.elves[target]
    elif member.isfile():
        state.written += member.size
        _place(state, name, _Node(member.size, index, "file"))
        stats.biggest.append((name, member.size))
        if len(stats.biggest) > 50:
            stats.biggest = sorted(stats.biggest, key=lambda b: -b[1])[:10]
        return True
    else:
        _place(state, name, _Node(0, index, "other"))
    return False


#: What reading a tar header or its data may raise on hostile bytes besides TarError.
_TAR_ERRORS = (
    tarfile.TarError,
    OSError,
    EOFError,
    zlib.error,
    ValueError,
    OverflowError,
    RecursionError,
)


def _entries(tar: tarfile.TarFile, what: str) -> Iterator[tarfile.TarInfo]:
    """The members of a streamed tar, each error one line; no member list kept in memory."""
    while True:
        try:
            member = tar.next()
        except _TAR_ERRORS as exc:
            raise InvalidImageError(f"{what} is corrupt ({exc})") from None
        if member is None:
            return
        yield member
        # A stream keeps every header otherwise; none is looked up again (links are not
        # extracted), so memory stays flat however many entries a layer has.
        tar.members.clear()  # type: ignore[attr-defined]


def _read_layer(
    source: _Source, ref: _LayerRef, index: int, state: _State, limit: int
) -> tuple[int, int, int, int, list[tuple[str, int]]]:
    stats = _LayerStats()
    state.cleared = set()
    blacklisted = blacklisted_symbols()
    what = f"{source.path}: layer {ref.name}"
    with source.layer_stream(ref) as (stream, most):
        budget = min(most, limit)
        try:
            tar = tarfile.open(  # noqa: SIM115 - streamed below
                fileobj=stream, mode="r|", tarinfo=_checked_tarinfo(budget, what)
            )
        except _TAR_ERRORS as exc:
            raise InvalidImageError(f"{what} is corrupt ({exc})") from None
        for member in _entries(tar, what):
            # Checked before tarfile skips the data: a huge size would never finish.
            _check_entry_size(member, budget - stats.total, what, limit)
            if max(len(member.name), len(member.linkname)) > _MAX_NAME:
                # Walking the folders of a 1 MiB name or link target (a pax header allows
                # it) is quadratic.
                raise InvalidImageError(
                    f"{what}: entry name or link target of "
                    f"{max(len(member.name), len(member.linkname))} characters (more than "
                    f"{_MAX_NAME}): {excerpt(member.name)}"
                )
            name = _clean(member.name, source.path)
            if member.isfile():
                stats.total += member.size
            if (
                not name
                or name == "."
                or not _apply(state, member, name, index, stats, source.path)
            ):
                continue
            try:
                _inspect(tar, member, name, state, blacklisted)
            except _TAR_ERRORS as exc:
                raise InvalidImageError(f"{what} is corrupt ({exc})") from None
    biggest = sorted(stats.biggest, key=lambda b: -b[1])[:5]
    return stats.added, stats.changed, stats.removed, stats.total, biggest


def _inspect(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    name: str,
    state: _State,
    blacklisted: frozenset[str],
) -> None:
    """Keep what the analysis needs of one file: ELF facts, or the text of a few files."""
    wants_text = member.size <= _TEXT_LIMIT and _TEXT_FILES.match(name) is not None
    if (member.size < 4 or member.size > _ELF_LIMIT) and not wants_text:
        return
    fh = tar.extractfile(member)
    if fh is None:
        return
    head = fh.read(4)
    if head == ELF_MAGIC:
        data = head + fh.read()
        # An image's unreadable binaries are not ours to judge here.
        with contextlib.suppress(CorruptElfError):
            state.elves[name] = parse_elf(data, interest=interest_for(name, blacklisted))
    elif wants_text:
        state.texts[name] = (head + fh.read()).decode("utf-8", errors="replace")


class _ImageLibraries:
    """The library search of the image's own loader, over the merged view."""

    root = "/"

    def __init__(self, state: _State, libc: str | None) -> None:
        self._state = state
        self._libc = libc
        self.env_dirs: list[str] = []
        conf: list[str] = []
        for path, text in sorted(state.texts.items()):
            if path == "etc/ld.so.conf" or path.startswith("etc/ld.so.conf.d/"):
                conf += [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
        conf = [c for c in conf if c.startswith("/")]
        self._glibc = list(dict.fromkeys([*conf, "/lib", "/lib64", "/usr/lib", "/usr/lib64"]))
        musl = [t for p, t in state.texts.items() if p.startswith("etc/ld-musl-")]
        self._musl = (
            [d.strip() for d in musl[0].split(":") if d.strip()]
            if musl
            else ["/lib", "/usr/local/lib", "/usr/lib"]
        )

    def system_dirs(self, libc: str | None) -> list[str]:
        return self._musl if (libc or self._libc) == "musl" else self._glibc

    def _resolve(self, path: str) -> str | None:
        path = posixpath.normpath(path).lstrip("/")
        for _ in range(40):
            node = self._state.nodes.get(path)
            if node is None:
                # A parent folder may be a symlink (/lib -> usr/lib on merged-/usr systems).
                parts = path.split("/")
                for i in range(len(parts) - 1, 0, -1):
                    parent = self._state.nodes.get("/".join(parts[:i]))
                    if parent is not None and parent.kind == "symlink" and parent.link:
                        base = posixpath.dirname("/".join(parts[:i]))
                        target = (
                            parent.link
                            if parent.link.startswith("/")
                            else posixpath.join("/" + base, parent.link)
                        )
                        path = posixpath.normpath(posixpath.join(target, *parts[i:])).lstrip("/")
                        break
                else:
                    return None
                continue
            if node.kind == "hardlink" and node.link:
                path = node.link  # an alias of a file written earlier in the same layer
                continue
            if node.kind == "symlink" and node.link:
                target = node.link
                if not target.startswith("/"):
                    target = posixpath.join("/" + posixpath.dirname(path), target)
                path = posixpath.normpath(target).lstrip("/")
                continue
            return path if node.kind == "file" else None
        return None

    def find(self, soname: str, directory: str, like: ElfInfo) -> tuple[str, ElfInfo] | None:
        real = self._resolve(posixpath.join(directory, soname))
        if real is None:
            return None
        info = self._state.elves.get(real)
        if info is None or not like.compatible_with(info):
            return None
        return "/" + real, info


def _image_libc(state: _State) -> str | None:
    names = state.nodes
    if any(fnmatch.fnmatch(p, "lib/ld-musl-*.so.1") for p in names):
        return "musl"
    if any(
        fnmatch.fnmatch(p, "lib*/ld-linux*.so.*") or fnmatch.fnmatch(p, "usr/lib*/ld-linux*")
        for p in names
    ):
        return "glibc"
    return None


def analyze_image(
    path: str | Path,
    *,
    base_layers: int | None = None,
    lowest_efficiency: float | None = None,
    highest_wasted_bytes: int | None = None,
    highest_wasted_percent: float | None = None,
    fail_on: Severity | str | None = Severity.ERROR,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    limit: int = 64 << 30,
) -> ImageReport:
    """Read an image once and report on it. Raises InvalidImageError for unreadable input.

    ``select``/``ignore`` filter the findings as in :func:`wheelfix.check`."""
    selection = Selection.resolve(select, ignore)
    fail_on = Severity.gate(fail_on)
    image = Path(path)
    if not image.exists():
        raise InvalidImageError(f"{image}: no such file or folder")
    source = _Source(image)
    try:
        state = _State()
        history = [h for h in source.history if not h.empty_layer]
        starts = [i for i, h in enumerate(source.history) if h.comment.startswith("FROM ")]
        layers = []
        stats = []
        for index, ref in enumerate(source.layers):
            stats.append(_read_layer(source, ref, index, state, limit))
        if base_layers is None:
            base_layers = _guess_base_layers(source.history, starts)
        for index, (ref, (added, changed, removed, total, biggest)) in enumerate(
            zip(source.layers, stats, strict=True)
        ):
            instruction = history[index].created_by if index < len(history) else ""
            layers.append(
                LayerInfo(
                    index=index,
                    instruction=_short(instruction),
                    compressed=ref.size,
                    uncompressed=total,
                    added=added,
                    changed=changed,
                    removed=removed,
                    biggest=tuple(biggest),
                    base=index < base_layers,
                )
            )
    finally:
        source.close()
    final = sum(n.size for n in state.nodes.values() if n.kind == "file")
    base_bytes = sum(
        n.size for n in state.nodes.values() if n.kind == "file" and n.layer < base_layers
    )
    libc = _image_libc(state)
    findings: list[Finding] = []
    findings += _waste_findings(state, layers)
    arch = normalise_arch(str(source.config.get("architecture") or ""))
    environments, env_findings = _python_findings(state, libc, arch)
    findings += env_findings
    findings += _leftover_findings(state)
    findings += _gate_findings(
        state.written, final, lowest_efficiency, highest_wasted_bytes, highest_wasted_percent
    )
    return ImageReport(
        path=str(image),
        name=source.name,
        layers=tuple(layers),
        written=state.written,
        final=final,
        wasted=state.written - final,
        base_bytes=base_bytes,
        app_bytes=final - base_bytes,
        libc=libc,
        environments=tuple(environments),
        findings=tuple(
            sorted(selection.keep(findings), key=lambda f: (-f.level, f.code, f.path or ""))
        ),
        fail_on=fail_on,
    )


def _guess_base_layers(history: list[_Step], starts: list[int]) -> int:
    """Layers before the final stage's first instruction belong to the base image.

    buildah marks every step "FROM <parent>"; the step built on a *named* image (not a bare
    12-hex-digit id of an intermediate) starts the final stage. Docker records no such mark:
    then nothing is counted as base, and ``--base-layers N`` says it.
    """
    named = [i for i in starts if not re.fullmatch(r"FROM [0-9a-f]{12}", history[i].comment)]
    if not named:
        return 0
    return sum(1 for h in history[: named[-1]] if not h.empty_layer)


def _short(instruction: str) -> str:
    text = instruction.removesuffix("# buildkit").strip()
    text = text.replace("/bin/sh -c #(nop) ", "")
    text = text.replace("RUN /bin/sh -c ", "RUN ").replace("/bin/sh -c ", "RUN ")
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:117] + "..."


def _waste_findings(state: _State, layers: list[LayerInfo]) -> list[Finding]:
    out = []
    for (wrote, by), (size, files, examples, how) in sorted(
        state.waste.items(), key=lambda kv: -kv[1][0]
    ):
        first = layers[wrote].instruction if wrote < len(layers) else "?"
        later = layers[by].instruction if by < len(layers) else "?"
        if wrote == by:
            out.append(
                Finding(
                    check=Check.WASTED_BYTES,
                    path="/" + examples[0],
                    bytes=size,
                    message=f"{human(size)} in {files} file{'s' if files != 1 else ''} that layer "
                    f"{wrote} ({first}) lists more than once, e.g. "
                    f"{', '.join('/' + e for e in examples)}: only the last copy is seen, the "
                    "earlier ones stay in the layer",
                )
            )
            continue
        out.append(
            Finding(
                check=Check.WASTED_BYTES,
                path="/" + examples[0],
                bytes=size,
                message=f"{human(size)} in {files} file{'s' if files != 1 else ''} added by "
                f"layer {wrote} ({first}) and {how} by layer {by} ({later}), e.g. "
                f"{', '.join('/' + e for e in examples)}: the bytes stay in layer {wrote}",
            )
        )
    return out


def _python_findings(
    state: _State, libc: str | None, arch: str | None
) -> tuple[list[str], list[Finding]]:
    envs = sorted(
        {
            posixpath.dirname(p.rsplit(".dist-info/", 1)[0])
            for p in state.texts
            if ".dist-info/" in p
        }
    )
    out: list[Finding] = []
    if not envs:
        return envs, out
    libs = _ImageLibraries(state, libc)
    machine = Machine(
        arch=arch,
        libc=libc,
        place="this image",
        fix_missing="install the system package that provides {soname} in this stage, or "
        "repair the wheel in the builder stage (wheelfix repair) so the library travels "
        "inside it",
    )
    elves = {p: e for p, e in state.elves.items() if e.elf_type != "ET_REL"}
    # One pass over the image, not one per environment: hostile images list thousands.
    env_set = set(envs)
    test_bytes: dict[str, int] = defaultdict(int)
    for path, node in state.nodes.items():
        if node.kind == "file":
            for env in _envs_holding(path, env_set):
                if classify(path[len(env) + 1 :]) is Category.TESTS:
                    test_bytes[env] += node.size
    env_elves: dict[str, list[str]] = defaultdict(list)
    for path in sorted(elves):
        for env in _envs_holding(path, env_set):
            env_elves[env].append(path)
    judged = {path for paths in env_elves.values() for path in paths}
    found = unloadable(elves, libs, machine, only=judged, shown="/")
    for env in envs:
        tests = test_bytes[env]
        debug = sum(elves[path].debug_bytes for path in env_elves[env])
        out += [f for path in env_elves[env] for f in found.get(path, [])]
        if debug:
            message = f"{human(debug)} of DWARF debug info in installed binaries"
            out.append(
                Finding(check=Check.DEBUG_INFO, path="/" + env, bytes=debug, message=message)
            )
        if tests:
            out.append(
                Finding(
                    check=Check.TESTS,
                    path="/" + env,
                    bytes=tests,
                    message=f"{human(tests)} of test suites installed",
                )
            )
    return ["/" + e for e in envs], out


def _envs_holding(path: str, envs: set[str]) -> list[str]:
    """The environments (folders named ``site-packages``/``dist-packages``) above ``path``,
    found from the path's own components instead of trying every environment."""
    parts = path.split("/")
    held = []
    for i, part in enumerate(parts[:-1]):
        if part in ("site-packages", "dist-packages"):
            folder = "/".join(parts[: i + 1])
            if folder in envs:
                held.append(folder)
    return held


def _outermost(path: str, folders: set[str], depths: list[int]) -> str | None:
    """The shortest folder of ``folders`` above ``path``; ``depths`` are their component
    counts, sorted, so only prefixes that could match are built."""
    parts = path.split("/")
    for depth in depths:
        if depth >= len(parts):
            break
        folder = "/".join(parts[:depth])
        if folder in folders:
            return folder
    return None


def _leftover_findings(state: _State) -> list[Finding]:
    out: list[Finding] = []
    caches: dict[str, int] = defaultdict(int)
    context: dict[str, int] = defaultdict(int)
    # A virtual environment is a folder with pyvenv.cfg (the stdlib's venv module is not).
    # Only one that sits beside project files was copied with the build context; a venv
    # made on purpose in the image (/opt/venv) is not a leftover.
    markers = ("requirements.txt", "pyproject.toml", "setup.py", "Dockerfile", ".git")
    venvs = [
        posixpath.dirname(p)
        for p, n in state.nodes.items()
        if p.endswith("/pyvenv.cfg")
        and n.kind == "file"
        and any(
            posixpath.join(posixpath.dirname(posixpath.dirname(p)), m) in state.nodes
            for m in markers
        )
    ]
    venv_set = set(venvs)
    venv_depths = sorted({v.count("/") + 1 for v in venvs})
    for path, node in state.nodes.items():
        if node.kind != "file":
            continue
        parts = path.split("/")
        for i, part in enumerate(parts[:-1]):
            if part == ".cache" and i + 1 < len(parts) - 1 and parts[i + 1] in ("pip", "uv"):
                caches["/" + "/".join(parts[: i + 2])] += node.size
                break
        if path.startswith(("var/cache/apt/archives/", "var/lib/apt/lists/")) and node.size:
            caches["/" + "/".join(parts[:4])] += node.size
        in_site = "site-packages" in parts or "dist-packages" in parts
        venv = _outermost(path, venv_set, venv_depths)
        if venv is not None:
            context["/" + venv] += node.size
        elif not in_site:
            for i, part in enumerate(parts[:-1]):
                if part in (".git", ".idea", ".vscode", ".ipynb_checkpoints"):
                    context["/" + "/".join(parts[: i + 1])] += node.size
                    break
            else:
                if path.endswith(".ipynb"):
                    context["/" + path] += node.size
    for where, size in sorted(caches.items(), key=lambda kv: -kv[1]):
        message = f"{human(size)} of package-manager cache in the final image"
        out.append(Finding(check=Check.PACKAGE_CACHE, path=where, bytes=size, message=message))
    for where, size in sorted(context.items(), key=lambda kv: -kv[1]):
        out.append(
            Finding(
                check=Check.CONTEXT_LEFTOVERS,
                path=where,
                bytes=size,
                message=f"{human(size)} copied from the build context (missing .dockerignore?)",
            )
        )
    packages = _installed_packages(state)
    tools = sorted(p for p in packages if _COMPILERS.search(p))
    if tools:
        out.append(
            Finding(
                check=Check.BUILD_TOOLS,
                path="/var/lib/dpkg/status"
                if "var/lib/dpkg/status" in state.texts
                else "/lib/apk/db/installed",
                message=f"{len(tools)} build tools or -dev packages installed: "
                f"{', '.join(tools[:8])}" + (" …" if len(tools) > 8 else ""),
            )
        )
    return out


def _installed_packages(state: _State) -> list[str]:
    names: list[str] = []
    status = state.texts.get("var/lib/dpkg/status", "")
    for stanza in status.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            names.append(fields["Package"])
    for line in state.texts.get("lib/apk/db/installed", "").splitlines():
        if line.startswith("P:"):
            names.append(line[2:].strip())
    return names


def _gate_findings(
    written: int,
    final: int,
    lowest_efficiency: float | None,
    highest_wasted_bytes: int | None,
    highest_wasted_percent: float | None,
) -> list[Finding]:
    wasted = written - final
    efficiency = final / written if written else 1.0
    problems = []
    if lowest_efficiency is not None and efficiency < lowest_efficiency:
        problems.append(f"efficiency {efficiency:.1%} is below {lowest_efficiency:.1%}")
    if highest_wasted_bytes is not None and wasted > highest_wasted_bytes:
        problems.append(f"{human(wasted)} wasted is above {human(highest_wasted_bytes)}")
    if highest_wasted_percent is not None and written and wasted / written > highest_wasted_percent:
        problems.append(f"{wasted / written:.2%} wasted is above {highest_wasted_percent:.2%}")
    return [Finding(check=Check.IMAGE_GATE, message=p, bytes=wasted) for p in problems]
