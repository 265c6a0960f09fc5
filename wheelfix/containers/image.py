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
import json
import posixpath
import re
import tarfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from wheelfix.categories import Category, classify
from wheelfix.errors import WheelfixError
from wheelfix.findings import Check, Finding, Selection, Severity
from wheelfix.formats.elf import ELF_MAGIC, CorruptElfError, ElfInfo, parse_elf
from wheelfix.linux.loadable import Machine, interest_for, normalise_arch, unloadable
from wheelfix.linux.policy import blacklisted_symbols
from wheelfix.reports import Report, findings_json
from wheelfix.units import human

__all__ = ["ImageReport", "InvalidImageError", "analyze_image"]

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_TEXT_LIMIT = 16 << 20
_ELF_LIMIT = 1 << 30
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json")  # fmt: skip
_TEXT_FILES = re.compile(
    r"^(etc/ld\.so\.conf(\.d/.*)?|etc/ld-musl-[^/]+\.path|var/lib/dpkg/status"
    r"|lib/apk/db/installed|.*/(site|dist)-packages/[^/]+\.dist-info/(RECORD|METADATA))$"
)
_COMPILERS = re.compile(r"^(gcc|g\+\+|cpp|clang|build-essential|build-base|make|cmake|gfortran)"
                        r"(-[0-9.]+)?$|-dev$")  # fmt: skip


class InvalidImageError(WheelfixError):
    """An input that cannot be read as an image archive (exit code 2)."""


# -- reading the archive ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _LayerRef:
    name: str  # member path in the archive, or blob path in a layout folder
    size: int  # compressed size as stored


class _Source:
    """An image archive or layout folder: its config, its layers, and a way to open them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar: tarfile.TarFile | None = None
        if path.is_dir():
            self._members: dict[str, tarfile.TarInfo] = {}
        else:
            try:
                self._tar = tarfile.open(path, "r:")  # noqa: SIM115 - closed in close()
            except (tarfile.TarError, OSError) as exc:
                raise InvalidImageError(f"{path}: not an image archive ({exc})") from None
            self._members = {}
            for member in self._tar.getmembers():
                self._members[posixpath.normpath(member.name.lstrip("./") or ".")] = member
        try:
            self.name, self.config, self.layers = self._read_manifest()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()

    def _inside(self, name: str) -> str:
        norm = posixpath.normpath(name)
        if norm.startswith(("../", "/")) or norm == "..":
            raise InvalidImageError(f"{self.path}: manifest points outside the archive: {name}")
        return norm

    def _open(self, name: str, depth: int = 0) -> IO[bytes]:
        norm = self._inside(name)
        if self._tar is None:
            target = self.path / norm
            if not target.is_file() or target.is_symlink():
                raise InvalidImageError(f"{self.path}: {name} is missing")
            return target.open("rb")
        member = self._members.get(norm)
        if member is None:
            raise InvalidImageError(f"{self.path}: {name} is missing from the archive")
        if member.issym() and depth < 4:
            # docker save links <id>/layer.tar to ../<digest>.tar: follow inside the archive only
            return self._open(posixpath.join(posixpath.dirname(norm), member.linkname), depth + 1)
        stream = self._tar.extractfile(member) if member.isfile() else None
        if stream is None:
            raise InvalidImageError(f"{self.path}: {name} is not a regular file")
        return stream

    def _json(self, name: str) -> Any:  # noqa: ANN401 - JSON documents
        with self._open(name) as fh:
            try:
                return json.loads(fh.read(_TEXT_LIMIT))
            except ValueError as exc:
                raise InvalidImageError(f"{self.path}: {name} is not JSON ({exc})") from None

    def _object(self, name: str) -> dict[str, Any]:
        document = self._json(name)
        if not isinstance(document, dict):
            raise InvalidImageError(f"{self.path}: {name} is not a JSON object")
        return document

    def _blob(self, digest: object) -> str:
        if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
            raise InvalidImageError(f"{self.path}: invalid digest {digest!r}")
        return "blobs/sha256/" + digest.split(":", 1)[1]

    def _size(self, name: str) -> int:
        name = self._inside(name)
        if self._tar is None:
            target = self.path / name
            if not target.is_file():
                raise InvalidImageError(f"{self.path}: {name} is missing")
            return target.stat().st_size
        member = self._members.get(posixpath.normpath(name))
        for _ in range(4):  # docker save's layer.tar links; a cycle must not spin
            if member is None or not member.issym():
                break
            member = self._members.get(
                posixpath.normpath(posixpath.join(posixpath.dirname(member.name), member.linkname))
            )
        if member is None or member.issym():
            raise InvalidImageError(f"{self.path}: {name} is missing or a link loop")
        return member.size

    def _exists(self, name: str) -> bool:
        if self._tar is None:
            return (self.path / name).is_file()
        return posixpath.normpath(name) in self._members

    def _read_manifest(self) -> tuple[str, dict[str, Any], list[_LayerRef]]:
        if self._exists("manifest.json"):  # docker save, both layouts
            manifest = self._json("manifest.json")
            if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
                raise InvalidImageError(f"{self.path}: manifest.json has an unexpected shape")
            entry = manifest[0]
            tags = entry.get("RepoTags") or ["<untagged>"]
            config = self._object(str(entry.get("Config", "")))
            layers = [_LayerRef(str(n), self._size(str(n))) for n in entry.get("Layers", [])]
            return str(tags[0]), config, layers
        if self._exists("index.json"):  # OCI layout or archive
            document = self._json("index.json")
            for _ in range(4):  # an index may point at another index (multi-platform)
                manifests = document.get("manifests") or []
                if not manifests:
                    raise InvalidImageError(f"{self.path}: index.json lists no manifest")
                chosen = next(
                    (m for m in manifests
                     if (m.get("platform") or {}).get("architecture") in ("amd64", None)),
                    manifests[0],
                )  # fmt: skip
                document = self._json(self._blob(chosen.get("digest")))
                if chosen.get("mediaType") not in _INDEX_TYPES and "layers" in document:
                    break
            name = (chosen.get("annotations") or {}).get("org.opencontainers.image.ref.name", "")
            config = self._object(self._blob((document.get("config") or {}).get("digest")))
            layers = [
                _LayerRef(self._blob(layer.get("digest")), int(layer.get("size", 0)))
                for layer in document.get("layers", [])
            ]
            return name or self.path.name, config, layers
        raise InvalidImageError(f"{self.path}: neither manifest.json nor index.json: not an image")

    @contextmanager
    def layer_stream(self, ref: _LayerRef) -> Iterator[IO[bytes]]:
        raw = self._open(ref.name)
        try:
            head = raw.read(4)
            rest: IO[bytes] = io.BufferedReader(_Prefixed(head, raw), buffer_size=1 << 20)
            if head[:2] == b"\x1f\x8b":
                rest = gzip.GzipFile(fileobj=rest)  # type: ignore[assignment]
            elif head == b"\x28\xb5\x2f\xfd":
                raise InvalidImageError(
                    f"{self.path}: layer {ref.name} is zstd-compressed, which is not supported yet"
                )
            yield rest
        finally:
            raw.close()


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
class ImageReport(Report):
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

    @property
    def exit_code(self) -> int:
        return self.gate(self.fail_on)

    def all_findings(self) -> Iterator[Finding]:
        return iter(self.findings)

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
    # (layer that wrote the bytes, layer that superseded them) -> [bytes, files, examples, how]
    waste: dict[tuple[int, int], list[Any]] = field(default_factory=dict)
    written: int = 0


def _clean(name: str, image: Path) -> str:
    norm = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    raw = name.replace("\\", "/").split("/")
    if ".." in raw:
        raise InvalidImageError(f"{image}: layer entry climbs out of the root: {name!r}")
    return norm


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
    """A whiteout hides what *lower* layers wrote; entries of its own layer stay."""
    prefix = path + "/" if path else ""
    doomed = [
        p for p, n in state.nodes.items()
        if (p == path or p.startswith(prefix)) and n.layer < by
    ]  # fmt: skip
    for p in doomed:
        _supersede(state, p, by, "removed")
    return len(doomed)


def _read_layer(
    source: _Source, ref: _LayerRef, index: int, state: _State, limit: int
) -> tuple[int, int, int, int, list[tuple[str, int]]]:
    added = changed = removed = 0
    total = 0
    biggest: list[tuple[str, int]] = []
    blacklisted = blacklisted_symbols()
    with source.layer_stream(ref) as stream:
        try:
            tar = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - streamed below
            for member in tar:
                name = _clean(member.name, source.path)
                if not name or name == ".":
                    continue
                base = posixpath.basename(name)
                folder = posixpath.dirname(name)
                if base == ".wh..wh..opq":
                    removed += _remove_tree(state, folder, index) and 1
                    continue
                if base.startswith(".wh."):
                    removed += _remove_tree(state, posixpath.join(folder, base[4:]), index) and 1
                    continue
                if name in state.folders and not member.isdir():
                    # A file over a lower layer's folder hides everything in it.
                    removed += _remove_tree(state, name, index) and 1
                    state.folders.discard(name)
                existed = name in state.nodes and state.nodes[name].kind != "dir"
                parent = folder
                while parent and parent not in state.folders:
                    state.folders.add(parent)
                    parent = posixpath.dirname(parent)
                if member.isdir():
                    state.folders.add(name)
                    if existed:  # a file (or link) replaced by a folder
                        _supersede(state, name, index, "overwritten")
                        changed += 1
                    state.nodes.setdefault(name, _Node(0, index, "dir"))
                    continue
                if existed:
                    _supersede(state, name, index, "overwritten")
                    changed += 1
                else:
                    added += 1
                if member.issym():
                    state.nodes[name] = _Node(0, index, "symlink", member.linkname)
                elif member.islnk():
                    # Same data as an earlier entry of this layer: no new bytes, same facts.
                    target = _clean(member.linkname, source.path)
                    state.nodes[name] = _Node(0, index, "hardlink", target)
                    if target in state.elves:
                        state.elves[name] = state.elves[target]
                elif member.isfile():
                    size = member.size
                    total += size
                    if total > limit:
                        raise InvalidImageError(
                            f"{source.path}: a layer expands beyond the limit of {limit} bytes"
                        )
                    state.written += size
                    state.nodes[name] = _Node(size, index, "file")
                    biggest.append((name, size))
                    if len(biggest) > 50:
                        biggest = sorted(biggest, key=lambda b: -b[1])[:10]
                    _inspect(tar, member, name, state, blacklisted)
                else:
                    state.nodes[name] = _Node(0, index, "other")
        except tarfile.TarError as exc:
            raise InvalidImageError(f"{source.path}: layer {ref.name} is corrupt ({exc})") from None
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InvalidImageError(f"{source.path}: layer {ref.name} is corrupt ({exc})") from None
    return added, changed, removed, total, sorted(biggest, key=lambda b: -b[1])[:5]


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
        self._musl = [d.strip() for d in musl[0].split(":") if d.strip()] if musl else [
            "/lib", "/usr/local/lib", "/usr/lib"]  # fmt: skip

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
                        target = parent.link if parent.link.startswith("/") else posixpath.join(
                            "/" + base, parent.link)  # fmt: skip
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
    if any(fnmatch.fnmatch(p, "lib*/ld-linux*.so.*") or fnmatch.fnmatch(p, "usr/lib*/ld-linux*")
           for p in names):  # fmt: skip
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
        history = [h for h in source.config.get("history", []) if not h.get("empty_layer")]
        starts = [i for i, h in enumerate(source.config.get("history", []))
                  if str(h.get("comment", "")).startswith("FROM ")]  # fmt: skip
        layers = []
        stats = []
        for index, ref in enumerate(source.layers):
            stats.append(_read_layer(source, ref, index, state, limit))
        if base_layers is None:
            base_layers = _guess_base_layers(source.config, starts)
        for index, (ref, (added, changed, removed, total, biggest)) in enumerate(
            zip(source.layers, stats, strict=True)
        ):
            instruction = str(history[index].get("created_by", "")) if index < len(history) else ""
            layers.append(LayerInfo(
                index=index, instruction=_short(instruction), compressed=ref.size,
                uncompressed=total, added=added, changed=changed, removed=removed,
                biggest=tuple(biggest), base=index < base_layers,
            ))  # fmt: skip
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
        path=str(image), name=source.name, layers=tuple(layers), written=state.written,
        final=final, wasted=state.written - final, base_bytes=base_bytes,
        app_bytes=final - base_bytes, libc=libc, environments=tuple(environments),
        findings=tuple(sorted(selection.keep(findings),
                              key=lambda f: (-f.level, f.code, f.path or ""))),
        fail_on=fail_on,
    )  # fmt: skip


def _guess_base_layers(config: dict[str, Any], starts: list[int]) -> int:
    """Layers before the final stage's first instruction belong to the base image.

    buildah marks every step "FROM <parent>"; the step built on a *named* image (not a bare
    12-hex-digit id of an intermediate) starts the final stage. Docker records no such mark:
    then nothing is counted as base, and ``--base-layers N`` says it.
    """
    history = config.get("history", [])
    named = [
        i for i in starts
        if not re.fullmatch(r"FROM [0-9a-f]{12}", str(history[i].get("comment", "")))
    ]  # fmt: skip
    if not named:
        return 0
    return sum(1 for h in history[: named[-1]] if not h.get("empty_layer"))


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
            out.append(Finding(
                check=Check.WASTED_BYTES, path="/" + examples[0], bytes=size,
                message=f"{human(size)} in {files} file{'s' if files != 1 else ''} that layer "
                f"{wrote} ({first}) lists more than once, e.g. "
                f"{', '.join('/' + e for e in examples)}: only the last copy is seen, the "
                "earlier ones stay in the layer",
            ))  # fmt: skip
            continue
        out.append(Finding(
            check=Check.WASTED_BYTES, path="/" + examples[0], bytes=size,
            message=f"{human(size)} in {files} file{'s' if files != 1 else ''} added by layer "
            f"{wrote} ({first}) and {how} "
            f"by layer {by} ({later}), e.g. {', '.join('/' + e for e in examples)}: the bytes stay "
            f"in layer "
            f"{wrote}",
        ))  # fmt: skip
    return out


def _python_findings(
    state: _State, libc: str | None, arch: str | None
) -> tuple[list[str], list[Finding]]:
    envs = sorted({
        posixpath.dirname(p.rsplit(".dist-info/", 1)[0]) for p in state.texts
        if ".dist-info/" in p
    })  # fmt: skip
    out: list[Finding] = []
    if not envs:
        return envs, out
    libs = _ImageLibraries(state, libc)
    machine = Machine(
        arch=arch, libc=libc, place="this image",
        fix_missing="install the system package that provides {soname} in this stage, or "
        "repair the wheel in the builder stage (wheelfix repair) so the library travels "
        "inside it",
    )  # fmt: skip
    for env in envs:
        prefix = env + "/"
        tests = sum(
            node.size for path, node in state.nodes.items()
            if path.startswith(prefix) and node.kind == "file"
            and classify(path[len(prefix):]) is Category.TESTS
        )  # fmt: skip
        debug = sum(
            e.debug_bytes for p, e in state.elves.items()
            if p.startswith(prefix) and e.elf_type != "ET_REL"
        )  # fmt: skip
        found = unloadable(state.elves, libs, machine, within=prefix, shown="/")
        out += [f for path in sorted(found) for f in found[path]]
        if debug:
            message = f"{human(debug)} of DWARF debug info in installed binaries"
            out.append(Finding(check=Check.DEBUG_INFO, path="/" + env, bytes=debug,
                               message=message))  # fmt: skip
        if tests:
            out.append(Finding(check=Check.TESTS, path="/" + env, bytes=tests,
                               message=f"{human(tests)} of test suites installed"))  # fmt: skip
    return ["/" + e for e in envs], out


def _leftover_findings(state: _State) -> list[Finding]:
    out: list[Finding] = []
    caches: dict[str, int] = defaultdict(int)
    context: dict[str, int] = defaultdict(int)
    # A virtual environment is a folder with pyvenv.cfg (the stdlib's venv module is not).
    # Only one that sits beside project files was copied with the build context; a venv
    # made on purpose in the image (/opt/venv) is not a leftover.
    markers = ("requirements.txt", "pyproject.toml", "setup.py", "Dockerfile", ".git")
    venvs = [
        posixpath.dirname(p) for p, n in state.nodes.items()
        if p.endswith("/pyvenv.cfg") and n.kind == "file" and any(
            posixpath.join(posixpath.dirname(posixpath.dirname(p)), m) in state.nodes
            for m in markers
        )
    ]  # fmt: skip
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
        venv = next((v for v in venvs if path.startswith(v + "/")), None)
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
        out.append(Finding(check=Check.CONTEXT_LEFTOVERS, path=where, bytes=size,
                           message=f"{human(size)} copied from the build context (missing "
                           ".dockerignore?)"))  # fmt: skip
    packages = _installed_packages(state)
    tools = sorted(p for p in packages if _COMPILERS.search(p))
    if tools:
        out.append(Finding(
            check=Check.BUILD_TOOLS, path="/var/lib/dpkg/status" if "var/lib/dpkg/status"
            in state.texts else "/lib/apk/db/installed",
            message=f"{len(tools)} build tools or -dev packages installed: "
            f"{', '.join(tools[:8])}" + (" …" if len(tools) > 8 else ""),
        ))  # fmt: skip
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
