"""The readers under fuzz: their seeds, how each mutates, and the public call it ends in.

A mutant is a small file tree (:data:`Files`, relative path -> content) plus the name of
the entry handed to the reader, so one materialise/save/replay path serves a wheel file, an
ELF file, an image archive, a Dockerfile with its context and a whole site-packages tree.
Each target calls the *public* library API in-process and returns ``None`` (read) or a
refusal reason (an input reported as unreadable without raising); a
:class:`~wheelfix.WheelfixError` is a refusal too, anything else is a crash.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import random
import tarfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fuzzengine import (
    HOSTILE_NAMES,
    mutate_bytes,
    mutate_dockerfile,
    mutate_elf,
    mutate_json,
    mutate_tar_header,
    mutate_zip_fields,
    stack,
)
from wheelmaker import RawEntry, raw_zip, record_text

import wheelfix
from wheelfix.formats.elf import parse_elf, read_layout
from wheelfix.formats.strip import StripLevel, strip_elf

__all__ = [
    "TARGETS",
    "Entry",
    "Files",
    "Mutant",
    "Reader",
    "build_readers",
    "materialize",
    "mutant_from_json",
    "mutant_to_json",
]

#: bytes (a regular file) or ("dir",), ("symlink", target), ("fifo",)
Entry = bytes | tuple[str, ...]
Files = dict[str, Entry]
Target = Callable[[Path, Path], "str | None"]
#: names whose binding parse_elf is asked about (so the symbol table walk runs)
_INTEREST = frozenset({"sqrt", "malloc", "wfelf_hypot", "PyInit_wfelf", "free", "main"})


@dataclass(frozen=True, slots=True)
class Mutant:
    files: Files
    input: str  # the entry of ``files`` handed to the reader
    what: str  # how it was made, for the failure report


@dataclass(frozen=True, slots=True)
class Reader:
    name: str
    seeds: tuple[Mutant, ...]
    mutate: Callable[[random.Random, Mutant, Sequence[Mutant]], Mutant]


# -- on disk ------------------------------------------------------------------------------------
def _safe(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def materialize(files: Files, into: Path) -> None:
    """Write ``files`` under ``into``; names that would leave it are skipped, not followed."""
    for name in sorted(files):
        entry = files[name]
        if not _safe(name):
            continue
        path = into / os.fsdecode(name.encode("utf-8", "surrogateescape"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(entry, bytes):
                path.write_bytes(entry)
            elif entry[0] == "dir":
                path.mkdir(exist_ok=True)
            elif entry[0] == "symlink":
                path.symlink_to(entry[1])
            elif entry[0] == "fifo":
                os.mkfifo(path)
        except OSError:
            continue  # a name clash made by a mutation (a file where a folder should be)


def mutant_to_json(mutant: Mutant) -> dict[str, object]:
    def one(entry: Entry) -> object:
        if isinstance(entry, bytes):  # gzip: saved mutants are mostly tar and zip framing
            return {"gzip": base64.b64encode(gzip.compress(entry, mtime=0)).decode()}
        return {"kind": list(entry)}

    return {
        "input": mutant.input,
        "what": mutant.what,
        "files": [
            [base64.b64encode(n.encode("utf-8", "surrogateescape")).decode(), one(e)]
            for n, e in sorted(mutant.files.items())
        ],
    }


def mutant_from_json(document: Mapping[str, object]) -> Mutant:
    files: Files = {}
    rows = document["files"]
    assert isinstance(rows, list)
    for raw_name, raw_entry in rows:
        name = base64.b64decode(raw_name).decode("utf-8", "surrogateescape")
        if "gzip" in raw_entry:
            files[name] = gzip.decompress(base64.b64decode(raw_entry["gzip"]))
        elif "bytes" in raw_entry:
            files[name] = base64.b64decode(raw_entry["bytes"])
        else:
            files[name] = tuple(raw_entry["kind"])
    return Mutant(files, str(document["input"]), str(document["what"]))


# -- targets: one public call each ------------------------------------------------------------
def _check_wheel(path: Path, _out: Path) -> str | None:
    report = wheelfix.check([path], jobs=1)
    json.dumps(report.to_json())
    return report.results[0].error


def _parse_elf(path: Path, _out: Path) -> str | None:
    data = path.read_bytes()
    refused = []
    for read in (lambda: parse_elf(data, interest=_INTEREST), lambda: read_layout(data)):
        try:
            read()
        except wheelfix.WheelfixError as exc:
            refused.append(str(exc))
    return "; ".join(refused) or None


def _strip(path: Path, out: Path) -> str | None:
    """Every level on a copy; a result is written like repair writes it, then re-read."""
    data = path.read_bytes()
    skipped = []
    for level in StripLevel:
        result = strip_elf(data, level)
        if result.data is None:
            skipped.append(f"{level.value}: {result.skipped}")
            continue
        tmp = out / f"{path.name}.{level.value}.tmp"
        tmp.write_bytes(result.data)
        tmp.replace(out / f"{path.name}.{level.value}")
        read_layout(result.data)
    return "; ".join(skipped) if len(skipped) == len(StripLevel) else None


def _analyze_image(path: Path, _out: Path) -> str | None:
    json.dumps(wheelfix.analyze_image(path).to_json())
    return None


def _analyze_dockerfile(path: Path, _out: Path) -> str | None:
    report = wheelfix.analyze_dockerfile(path, wheelhouse=path.parent / "wheelhouse")
    json.dumps(report.to_json())
    return None


def _scan(path: Path, _out: Path) -> str | None:
    json.dumps(wheelfix.scan(path, threads=1).to_json())
    return None


TARGETS: dict[str, Target] = {
    "wheel": _check_wheel,
    "elf": _parse_elf,
    "strip": _strip,
    "image": _analyze_image,
    "dockerfile": _analyze_dockerfile,
    "tree": _scan,
}


# -- wheels -------------------------------------------------------------------------------------
def _zip_entries(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def _mutate_text(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    lines = data.split(b"\n")
    action = rng.choice(("shuffle", "dup", "drop", "hostile", "field"))
    at = rng.randrange(len(lines))
    if action == "shuffle":
        rng.shuffle(lines)
    elif action == "dup":
        lines.insert(at, lines[at])
    elif action == "drop":
        del lines[at]
    elif action == "hostile":
        name = rng.choice(HOSTILE_NAMES)
        lines.insert(
            at,
            f"{name},sha256={'A' * 43},{rng.choice(('1', '-1', '9' * 30, 'x'))}".encode(
                "utf-8", "surrogateescape"
            ),
        )
    else:
        fields = lines[at].split(b",")
        index = rng.randrange(len(fields))
        fields[index] = rng.choice((b"", b"md5=x", b"sha256=", b'"', b"-1", b"9" * 40, b"a,b"))
        lines[at] = b",".join(fields)
    return b"\n".join(lines), f"text lines: {action} at {at}"


def _mutate_member(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    if data[:4] == b"\x7fELF":
        return stack(rng, data, (mutate_elf, mutate_elf, mutate_bytes))
    if data and rng.random() < 0.6:
        return _mutate_text(rng, data)
    return mutate_bytes(rng, data)


def _mutate_wheel_members(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Member-level: names, duplicates, modes, contents; RECORD made right again or not."""
    entries = [RawEntry(name=n, data=d, method=zipfile.ZIP_DEFLATED) for n, d in _zip_entries(data)]
    at = rng.randrange(len(entries))
    old = entries[at]
    action = rng.choice(
        ("rename", "content", "content", "content", "dup", "drop", "mode", "method", "case")
    )
    if action == "rename":
        name = rng.choice(HOSTILE_NAMES)
        entries[at] = RawEntry(
            name=name.encode("utf-8", "surrogateescape"), data=old.data, method=old.method
        )
    elif action == "content":
        new, what = _mutate_member(rng, old.data)
        entries[at] = RawEntry(name=old.name, data=new, method=old.method)
        action = f"content of {old.name!r}: {what}"
    elif action == "dup":
        entries.insert(at, old)
    elif action == "drop":
        del entries[at]
    elif action == "mode":
        mode = rng.choice((0o120777, 0o040755, 0o010644, 0o104755, 0))
        entries[at] = RawEntry(
            name=old.name,
            data=b"../../../x" if mode == 0o120777 else old.data,
            method=old.method,
            external_attr=mode << 16,
        )
    elif action == "method":
        entries[at] = RawEntry(name=old.name, data=old.data, method=rng.choice((0, 1, 12, 14, 99)))
    else:
        entries.insert(at, RawEntry(name=str(old.name).upper(), data=old.data, method=old.method))
    if rng.random() < 0.7:  # a correct RECORD, so the reader gets past the hashes
        record = next(
            (i for i, e in enumerate(entries) if str(e.name).endswith(".dist-info/RECORD")), None
        )
        if record is not None:
            name = str(entries[record].name)
            rows = [
                (e.raw_name().decode("utf-8", "surrogateescape"), e.data)
                for i, e in enumerate(entries)
                if i != record
            ]
            text = record_text(rows, name).encode("utf-8", "surrogateescape")
            entries[record] = RawEntry(name=name, data=text, method=zipfile.ZIP_DEFLATED)
    return raw_zip(entries), f"member {at}: {action}"


def _mutate_wheel(rng: random.Random, seed: Mutant, _seeds: Sequence[Mutant]) -> Mutant:
    (name,) = seed.files
    data = seed.files[name]
    assert isinstance(data, bytes)
    others = [m for s in _seeds for m in s.files.values() if isinstance(m, bytes)]
    roll = rng.random()
    if roll < 0.5:
        data, what = _mutate_wheel_members(rng, data)
    else:
        data, what = stack(
            rng,
            data,
            (mutate_zip_fields, mutate_zip_fields, lambda r, d: mutate_bytes(r, d, others)),
        )
    if rng.random() < 0.08:
        name = rng.choice(
            (
                "demo.whl",
                "a-1-py3-none-any.whl",
                "a-1-x-py3-none-any.whl",
                "a-1.0-py3-none-any.zip",
                "\u00e9-1-py3-none-any.whl",
                f"{'a' * 200}-1-py3-none-any.whl",
                "a-1-1-1-1-1.whl",
            )
        )
        what += f"; file name {name!r}"
    return Mutant({name: data}, name, what)


# -- ELF and strip -----------------------------------------------------------------------------
def _mutate_elf_file(rng: random.Random, seed: Mutant, seeds: Sequence[Mutant]) -> Mutant:
    data = seed.files[seed.input]
    assert isinstance(data, bytes)
    others = [m for s in seeds for m in s.files.values() if isinstance(m, bytes)]
    new, what = stack(
        rng, data, (mutate_elf, mutate_elf, mutate_elf, lambda r, d: mutate_bytes(r, d, others))
    )
    return Mutant({seed.input: new}, seed.input, what)


def elf_seeds(elf_files: Mapping[str, Path], sample_wheels: Path) -> tuple[Mutant, ...]:
    out = [
        Mutant({"lib.so": p.read_bytes()}, "lib.so", f"seed {v}")
        for v, p in sorted(elf_files.items())
        if v != "archive"
    ]
    for wheel in sorted(sample_wheels.glob("*.whl")):
        for name, data in _zip_entries(wheel.read_bytes()):
            if data[:4] == b"\x7fELF":
                out.append(Mutant({"lib.so": data}, "lib.so", f"seed {wheel.name}:{name}"))
    return tuple(out)


# -- images ---------------------------------------------------------------------------------------
def _tar(members: Sequence[tuple[str, Entry]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, entry in members:
            info = tarfile.TarInfo(name)
            if isinstance(entry, bytes):
                info.size = len(entry)
                tar.addfile(info, io.BytesIO(entry))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hard": tarfile.LNKTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[entry[0]]
            info.linkname = entry[1] if len(entry) > 1 else ""
            tar.addfile(info)
    return buffer.getvalue()


def _untar(data: bytes) -> list[tuple[str, Entry]]:
    out: list[tuple[str, Entry]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for info in tar.getmembers():
            if info.isfile():
                stream = tar.extractfile(info)
                assert stream is not None
                out.append((info.name, stream.read()))
            elif info.isdir():
                out.append((info.name, ("dir",)))
            elif info.issym():
                out.append((info.name, ("symlink", info.linkname)))
            elif info.islnk():
                out.append((info.name, ("hard", info.linkname)))
            else:
                out.append((info.name, ("fifo",)))
    return out


def _layers(so: bytes, status: bytes) -> list[list[tuple[str, Entry]]]:
    site = "usr/lib/python3/dist-packages"
    dist = f"{site}/demo-1.0.dist-info"
    record = record_text(
        [(f"{site}/demo/_x.so", so), (f"{site}/demo/__init__.py", b"")], f"{dist}/RECORD"
    ).encode()
    return [
        [
            ("etc", ("dir",)),
            ("etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n"),
            ("etc/ld.so.conf.d/x.conf", b"/usr/local/lib\n"),
            ("var/lib/dpkg/status", status),
            ("lib/x86_64-linux-gnu/libm.so.6", so),
            ("usr/bin/python3", ("symlink", "python3.11")),
            ("usr/bin/python3.11", b"\x7fELF" + b"\0" * 60),
        ],
        [
            (f"{site}/demo/__init__.py", b""),
            (f"{site}/demo/_x.so", so),
            (f"{dist}/METADATA", b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"),
            (f"{dist}/RECORD", record),
            ("root/.cache/pip/http/a", b"x" * 3000),
            ("app/tests/test_x.py", b"assert 1\n"),
            ("app/x.c", b"int x;\n"),
        ],
        [
            ("root/.cache/.wh.pip", b""),
            ("app/.wh..wh..opq", b""),
            ("app/main.py", b"print()\n"),
            ("usr/local/lib/libhard.so", ("hard", f"{site}/demo/_x.so")),
        ],
    ]


def _docker_archive(layers: list[list[tuple[str, Entry]]]) -> bytes:
    blobs = [_tar(layer) for layer in layers]
    names = [f"{i:064x}/layer.tar" for i in range(len(blobs))]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {
            "type": "layers",
            "diff_ids": ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs],
        },
        "history": [
            {"created_by": "ADD base", "comment": "FROM scratch"},
            {"created_by": "RUN pip install demo"},
            {"created_by": "RUN rm", "empty_layer": False},
        ],
    }
    manifest = [{"Config": "config.json", "RepoTags": ["fuzz:latest"], "Layers": names}]
    return _tar(
        [
            ("manifest.json", json.dumps(manifest).encode()),
            ("config.json", json.dumps(config).encode()),
            ("repositories", b'{"fuzz": {"latest": "0"}}'),
            *zip(names, blobs, strict=True),
        ]
    )


def _oci_archive(layers: list[list[tuple[str, Entry]]]) -> bytes:
    files: list[tuple[str, Entry]] = []

    def blob(data: bytes, media: str) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        files.append((f"blobs/sha256/{digest}", data))
        return {"mediaType": media, "digest": f"sha256:{digest}", "size": len(data)}

    descs = [
        blob(gzip.compress(_tar(layer), mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
        for layer in layers
    ]
    config = blob(
        json.dumps({"history": [{"created_by": "ADD x"}] * len(layers)}).encode(),
        "application/vnd.oci.image.config.v1+json",
    )
    manifest = blob(
        json.dumps({"schemaVersion": 2, "config": config, "layers": descs}).encode(),
        "application/vnd.oci.image.manifest.v1+json",
    )
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                **manifest,
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"org.opencontainers.image.ref.name": "fuzz"},
            }
        ],
    }
    files += [
        ("index.json", json.dumps(index).encode()),
        ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
    ]
    return _tar(files)


def image_seeds(elf_files: Mapping[str, Path], status: bytes) -> tuple[Mutant, ...]:
    layers = _layers(elf_files["release"].read_bytes(), status)
    return (
        Mutant({"image.tar": _docker_archive(layers)}, "image.tar", "seed docker-archive"),
        Mutant({"image.tar": _oci_archive(layers)}, "image.tar", "seed OCI archive"),
    )


def _mutate_layer(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    gz = data[:2] == b"\x1f\x8b"
    raw = gzip.decompress(data) if gz else data
    if rng.random() < 0.5:
        raw, what = stack(rng, raw, (mutate_tar_header, mutate_tar_header, mutate_bytes))
    else:
        members = _untar(raw)
        raw, what = _tar(_mutate_members(rng, members)), "layer members"
    return (gzip.compress(raw, mtime=0) if gz else raw), f"layer: {what}"


def _mutate_members(
    rng: random.Random, members: list[tuple[str, Entry]]
) -> list[tuple[str, Entry]]:
    at = rng.randrange(len(members))
    name, entry = members[at]
    action = rng.choice(("rename", "symlink", "hard", "dup", "drop", "dir", "fifo"))
    whiteouts = (".wh..wh..opq", ".wh..", "a/.wh..wh..opq", ".wh.", "usr/.wh.lib", "../.wh.x")
    hostile = rng.choice((*HOSTILE_NAMES, *whiteouts, name, name + "/x", members[-1][0]))
    hostile = hostile.replace("\0", "")  # tarfile cannot write a NUL in a name
    if action == "rename":
        members[at] = (hostile, entry)
    elif action in ("symlink", "hard"):
        members[at] = (name, (action, hostile))
    elif action == "dup":
        members.insert(at, (name, entry))
    elif action == "drop":
        del members[at]
    else:
        members[at] = (name, (action,))
    return members


def _mutate_image(rng: random.Random, seed: Mutant, _seeds: Sequence[Mutant]) -> Mutant:
    data = seed.files[seed.input]
    assert isinstance(data, bytes)
    roll = rng.random()
    if roll < 0.3:
        data, what = stack(rng, data, (mutate_tar_header, mutate_tar_header, mutate_bytes))
    else:
        members = _untar(data)
        at = rng.randrange(len(members))
        name, entry = members[at]
        if isinstance(entry, bytes) and entry[:1] in (b"{", b"["):
            members[at] = (name, mutate_json(rng, entry)[0])
            what = f"JSON of {name}"
        elif isinstance(entry, bytes) and roll < 0.8:
            members[at] = (name, _mutate_layer(rng, entry)[0])
            what = f"layer {name}"
        else:
            members = _mutate_members(rng, members)
            what = "archive members"
        data = _tar(members)
    return Mutant({seed.input: data}, seed.input, what)


# -- Dockerfiles -----------------------------------------------------------------------------------
_DOCKERFILE = b"""\
# syntax=docker/dockerfile:1
FROM python:3.12 AS builder
ENV PIP_NO_CACHE_DIR=1
COPY . /src
RUN pip wheel -w /wheels /src && \\
    wheelfix repair --strip -w /wheelhouse /wheels/*.whl
RUN --mount=type=cache,target=/root/.cache/pip pip install numpy
FROM python:3.12-slim
COPY --from=builder /wheelhouse /wheelhouse
RUN apt-get update && apt-get install -y gcc libpq-dev && pip install /wheelhouse/*.whl
RUN rm -rf /wheelhouse
RUN <<EOF
pip install requests
EOF
CMD ["python", "-m", "app"]
"""


def dockerfile_seeds(contexts: Path) -> tuple[Mutant, ...]:
    ignore = (contexts / "fixed.dockerignore").read_bytes()
    texts = [_DOCKERFILE] + [p.read_bytes() for p in sorted(contexts.glob("*.Containerfile"))]
    wheelhouse: Files = {
        "wheelhouse/a-1.0-cp311-cp311-manylinux_2_17_x86_64.whl": b"",
        "wheelhouse/b-1.0-py3-none-any.whl": b"",
    }
    return tuple(
        Mutant({"Dockerfile": t, ".dockerignore": ignore, **wheelhouse}, "Dockerfile", "seed")
        for t in texts
    )


def _mutate_docker(rng: random.Random, seed: Mutant, seeds: Sequence[Mutant]) -> Mutant:
    files = dict(seed.files)
    target = "Dockerfile" if rng.random() < 0.9 else ".dockerignore"
    data = files[target]
    assert isinstance(data, bytes)
    others = [s.files["Dockerfile"] for s in seeds if isinstance(s.files["Dockerfile"], bytes)]
    files[target], what = stack(
        rng, data, (mutate_dockerfile, mutate_dockerfile, lambda r, d: mutate_bytes(r, d, others))
    )
    return Mutant(files, seed.input, f"{target}: {what}")


# -- installed trees -------------------------------------------------------------------------------
def tree_seeds(sample_wheels: Path) -> tuple[Mutant, ...]:
    """Three sample wheels (pure, debug info, an external library) unpacked into one
    site-packages, as pip would, and a slim journal. Few files: each mutant writes them all."""
    files: Files = {}
    for prefix in ("wfdemo_pure", "wfdemo_debug", "wfdemo_extlib"):
        (wheel,) = sample_wheels.glob(f"{prefix}-*.whl")
        for name, data in _zip_entries(wheel.read_bytes()):
            files[f"site-packages/{name}"] = data
            if name.endswith(".dist-info/RECORD"):
                folder = name.rsplit("/", 1)[0]
                files[f"site-packages/{folder}/INSTALLER"] = b"pip\n"
                files[f"site-packages/{name}"] = data + b"../bin/tool,,\n"
    files["bin/tool"] = b"#!/bin/sh\n"
    journal = [
        {"op": "remove", "path": "wfdemo_pure/tests/test_x.py"},
        {"op": "record", "path": "wfdemo_pure-1.0.0.dist-info/RECORD"},
    ]
    files["site-packages/.wheelfix-slim/20260101T000000-1/journal.jsonl"] = "".join(
        json.dumps(j) + "\n" for j in journal
    ).encode()
    return (Mutant(files, "site-packages", "seed"),)


def _mutate_tree(rng: random.Random, seed: Mutant, _seeds: Sequence[Mutant]) -> Mutant:
    files = dict(seed.files)
    names = sorted(n for n in files if n.startswith("site-packages/"))
    name = rng.choice(names)
    entry = files[name]
    folder = name.rsplit("/", 1)[0]
    action = rng.choice(
        ("content", "content", "content", "record", "symlink", "fifo", "dir", "drop", "weird")
    )
    if action == "content" and isinstance(entry, bytes):
        if name.endswith(".jsonl"):
            line = rng.choice(entry.split(b"\n")[:-1] or [b"{}"])
            new, what = mutate_json(rng, line)
            files[name] = entry + new + b"\n"
        else:
            new, what = _mutate_member(rng, entry)
            files[name] = new
        action = f"content of {name!r}: {what}"
    elif action == "record":
        record = rng.choice([n for n in names if n.endswith("/RECORD")])
        row = rng.choice(HOSTILE_NAMES) + rng.choice((",,", ",sha256=x,1", ",md5=x,-1", ",,9" * 9))
        text = files[record]
        assert isinstance(text, bytes)
        files[record] = text + row.encode("utf-8", "surrogateescape") + b"\n"
        action = f"RECORD row {row!r} in {record}"
    elif action == "symlink":
        target = rng.choice(
            (
                "../../sentinel",
                "../../../sentinel/victim",
                "/",
                ".",
                "..",
                name.rsplit("/", 1)[-1],
                "/proc/self/fd/0",
                "/dev/zero",
                "/dev/stdin",
                "nowhere",
            )
        )
        files[name] = ("symlink", target)
        action = f"{name} -> {target}"
    elif action in ("fifo", "dir"):
        files[name] = (action,)
        action = f"{name} is a {action}"
    elif action == "drop":
        del files[name]
        action = f"drop {name}"
    else:
        weird = rng.choice(("a\nb.py", "\udcff.py", "-rf", "x" * 250, " ", "a\\b.py", "\u2028"))
        files[f"{folder}/{weird}"] = b"x" * rng.choice((0, 1, 5000))
        action = f"file {weird!r} in {folder}"
    return Mutant(files, seed.input, action)


# -- all of them -------------------------------------------------------------------------------
def build_readers(
    elf_files: Mapping[str, Path], sample_wheels: Path, contexts: Path
) -> dict[str, Reader]:
    wheels = tuple(
        Mutant({p.name: p.read_bytes()}, p.name, f"seed {p.name}")
        for p in sorted(sample_wheels.glob("*.whl"))
    )
    elves = elf_seeds(elf_files, sample_wheels)
    status = (contexts / "leftover-packages.status").read_bytes()
    return {
        "wheel": Reader("wheel", wheels, _mutate_wheel),
        "elf": Reader("elf", elves, _mutate_elf_file),
        "strip": Reader("strip", elves, _mutate_elf_file),
        "image": Reader("image", image_seeds(elf_files, status), _mutate_image),
        "dockerfile": Reader("dockerfile", dockerfile_seeds(contexts), _mutate_docker),
        "tree": Reader("tree", tree_seeds(sample_wheels), _mutate_tree),
    }
