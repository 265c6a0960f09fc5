"""Time ``wheelfix image`` against the floor, and compare its figures with dive's formula.

The archive is a ``docker save`` image of about 1 GB assembled here from real parts:

* layer 0: a Debian bookworm root filesystem with python3 (the test base image's layer, or
  ``.cache/rootfs/bookworm-python3-pip`` tarred);
* layer 1: the scientific stack from ``.cache/stacks/scientific`` in site-packages;
* layer 2: a pip cache (real wheels from ``.cache/wheels``) plus new versions of 20 stack files;
* layer 3: the cache removed (an opaque whiteout) and every ``tests`` folder of scipy removed.

The floor reads the archive once and decompresses every layer (reading each entry's data).
dive does not install from the registries reachable here, so its published efficiency
formula is computed by :func:`dive_formula` on the same archive (see docs/image.md).

    python bench/bench_image.py [--repeat 3] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
TARGET = CACHE / "bench" / "image-1g.tar"
SITE = "usr/local/lib/python3.11/site-packages"


def _add_tree(tar: tarfile.TarFile, source: Path, prefix: str) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_file() and not path.is_symlink():
            tar.add(path, arcname=f"{prefix}/{path.relative_to(source).as_posix()}")


def _layer(build: Callable[[tarfile.TarFile], None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    return buffer.getvalue()


def build_archive() -> Path:
    if TARGET.exists():
        return TARGET
    rootfs = CACHE / "rootfs" / "bookworm-python3-pip"
    stack = CACHE / "stacks" / "scientific"
    if not rootfs.is_dir() or not stack.is_dir():
        raise SystemExit(
            "needs .cache/rootfs/bookworm-python3-pip and .cache/stacks/scientific "
            "(run the slow tests once)"
        )
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    stack_files = sorted(p for p in stack.rglob("*.py") if p.is_file())[:20]

    def base(tar: tarfile.TarFile) -> None:
        for path in sorted(rootfs.rglob("*")):
            rel = path.relative_to(rootfs).as_posix()
            if rel.split("/")[0] in ("proc", "sys", "dev"):
                continue
            if path.is_symlink() or path.is_file() or path.is_dir():
                tar.add(path, arcname=rel, recursive=False)

    def cache(tar: tarfile.TarFile) -> None:
        for wheel in sorted((CACHE / "wheels").glob("*.whl")):
            tar.add(wheel, arcname=f"root/.cache/pip/wheels/{wheel.name}")
        for path in stack_files:
            data = path.read_bytes() + b"\n# patched\n"
            info = tarfile.TarInfo(f"{SITE}/{path.relative_to(stack).as_posix()}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    def cleanup(tar: tarfile.TarFile) -> None:
        for name in [
            "root/.cache/pip/.wh..wh..opq",
            *(
                f"{SITE}/{p.parent.relative_to(stack).as_posix()}/.wh.{p.name}"
                for p in sorted(stack.glob("scipy/**/tests"))
                if p.is_dir()
            ),
        ]:
            tar.addfile(tarfile.TarInfo(name))

    layers = [
        _layer(base),
        _layer(lambda t: _add_tree(t, stack, SITE)),
        _layer(cache),
        _layer(cleanup),
    ]
    history = [
        "ADD rootfs.tar /",
        "COPY site-packages /usr/local/lib/python3.11/site-packages",
        "RUN pip install -r requirements.txt",
        "RUN rm -rf /root/.cache/pip scipy tests",
    ]
    config = json.dumps({"history": [{"created_by": h} for h in history]}).encode()
    names = [f"{hashlib.sha256(layer).hexdigest()}/layer.tar" for layer in layers]
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["bench:1g"], "Layers": names}])
    with tarfile.open(TARGET.with_suffix(".partial"), "w") as tar:
        for name, data in [
            ("manifest.json", manifest.encode()),
            ("config.json", config),
            *zip(names, layers, strict=True),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    TARGET.with_suffix(".partial").rename(TARGET)
    return TARGET


def layers(archive: Path) -> Iterator[tarfile.TarFile]:
    """Each layer of a docker-save archive, in order, opened as a stream."""
    with tarfile.open(archive) as outer:
        manifest = json.loads(outer.extractfile("manifest.json").read())  # type: ignore[union-attr]
        for name in manifest[0]["Layers"]:
            stream = outer.extractfile(name)
            assert stream is not None
            with tarfile.open(fileobj=stream, mode="r|*") as layer:
                yield layer


def floor(archive: Path) -> float:
    """Read the archive once and decompress every layer, reading every entry's data."""
    start = time.perf_counter()
    for layer in layers(archive):
        for member in layer:
            if member.isfile():
                data = layer.extractfile(member)
                if data is not None:
                    while data.read(1 << 20):
                        pass
    return time.perf_counter() - start


def dive_formula(archive: Path) -> tuple[float, int]:
    """dive's published efficiency: per path, the smallest version over the sum of all
    versions (a folder whiteout counts the bytes it removes, a file whiteout nothing);
    wasted = the sum of all versions of every path seen more than once. Our own reading of
    its documented behaviour, not dive's code."""
    cumulative: dict[str, int] = defaultdict(int)
    smallest: dict[str, int] = {}
    seen: dict[str, int] = defaultdict(int)
    current: dict[str, int] = {}
    for layer in layers(archive):
        for member in layer:
            path = member.name.lstrip("./")
            base = path.rsplit("/", 1)[-1]
            if base.startswith(".wh."):
                folder = path.rsplit("/", 1)[0] if "/" in path else ""
                target = (
                    folder
                    if base == ".wh..wh..opq"
                    else (f"{folder}/{base[4:]}" if folder else base[4:])
                )
                inside = [p for p in current if p.startswith(target + "/")]
                # dive sums the removed bytes for a folder whiteout; a file whiteout
                # counts nothing.
                size = sum(current[p] for p in inside)
                for p in [*inside, target]:
                    current.pop(p, None)
                path = target
            elif member.isfile():
                size = member.size
                current[path] = size
            else:
                continue
            cumulative[path] += size
            smallest[path] = min(smallest.get(path, size), size)
            seen[path] += 1
    total = sum(cumulative.values())
    score = sum(smallest.values()) / total if total else 1.0
    wasted = sum(cumulative[p] for p, n in seen.items() if n > 1)
    return score, wasted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    archive = build_archive()
    floors, ours = [], []
    document: dict[str, object] = {}
    for _ in range(args.repeat):
        floors.append(floor(archive))
        start = time.perf_counter()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "wheelfix",
                "image",
                "--format",
                "json",
                "--fail-on",
                "never",
                str(archive),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        ours.append(time.perf_counter() - start)
        document = json.loads(out.stdout)
    score, dive_wasted = dive_formula(archive)
    best_floor, best_ours = min(floors), min(ours)
    lines = [
        f"### bench_image, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Command: `python bench/bench_image.py --repeat {args.repeat}`. Archive: "
        f"`{archive.relative_to(REPO)}`, {archive.stat().st_size:,} bytes, 4 layers "
        f"(see the script). Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"CPython {platform.python_version()}; best of {args.repeat}, page cache warm.",
        "",
        "| measurement | seconds | vs floor |",
        "|---|---:|---:|",
        f"| floor: read the archive once, decompress every layer | {best_floor:.2f} | 1.00x |",
        f"| `wheelfix image --format json` | {best_ours:.2f} | {best_ours / best_floor:.2f}x |",
        "",
        "| figure | wheelfix | dive's formula |",
        "|---|---:|---:|",
        f"| efficiency | {document['efficiency']:.4f} | {score:.4f} |",
        f"| wasted bytes | {document['wasted']:,} | {dive_wasted:,} |",
        f"| bytes written in all layers | {document['written']:,} | |",
        f"| bytes in the final filesystem | {document['final']:,} | |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with args.markdown.open("a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
