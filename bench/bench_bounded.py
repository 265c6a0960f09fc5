"""CPU time of the readers on hostile inputs that used to be quadratic or unbounded.

Every input is built here, in a temporary folder, and run through the public entry points
(``analyze_image``, ``analyze_dockerfile``, ``check_wheel``). The figures are CPU seconds
of the analysis (the archive is written before the clock starts):

* 20 000 plain whiteouts over 20 000 files of a lower layer;
* 20 000 opaque whiteouts of one folder that holds 20 000 files of the same layer;
* 3000 Python environments and 3000 copied virtual environments in one layer;
* a 1 MiB ``ENV PIP_NO_CACHE_DIR`` line of spaces and a 1 MiB ``--mount=`` word;
* a WHEEL ``Tag`` line of 1.5 KB that asks for a million tags.

    python bench/bench_bounded.py
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wheelfix.containers.dockerfile import MAX_DOCKERFILE_BYTES, analyze_dockerfile  # noqa: E402
from wheelfix.containers.image import analyze_image  # noqa: E402
from wheelfix.wheels.audit import check_wheel  # noqa: E402

Files = list[tuple[str, bytes]]


def _tar(entries: Files) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def docker_save(path: Path, layers: list[Files]) -> Path:
    names = [f"{i:064x}/layer.tar" for i in range(len(layers))]
    config = {"history": [{"created_by": f"RUN step {i}"} for i in range(len(layers))]}
    manifest = [{"Config": "config.json", "RepoTags": ["bench:1"], "Layers": names}]
    members = [
        ("manifest.json", json.dumps(manifest).encode()),
        ("config.json", json.dumps(config).encode()),
        *((name, _tar(layer)) for name, layer in zip(names, layers, strict=True)),
    ]
    path.write_bytes(_tar(members))
    return path


def cpu(label: str, run: Callable[[], object]) -> None:
    start = time.process_time()
    run()
    print(f"{label:<58} {time.process_time() - start:8.2f} s CPU")


def main() -> None:
    n = 20_000
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        lower = [(f"d/f{i}", b"x") for i in range(n)]
        plain = docker_save(tmp / "plain.tar", [lower, [(f"d/.wh.f{i}", b"") for i in range(n)]])
        cpu("image: 20k plain whiteouts (whole analysis)", lambda: analyze_image(plain))
        own = [(f"e/g{i}", b"x") for i in range(n)] + [("e/.wh..wh..opq", b"")] * n
        opaque = docker_save(tmp / "opaque.tar", [lower, own])
        cpu("image: 20k opaque whiteouts over 20k own files", lambda: analyze_image(opaque))
        envs: Files = []
        for i in range(3000):
            envs.append((f"e{i}/site-packages/p-1.0.dist-info/METADATA", b"Name: p\n"))
            envs.append((f"v{i}/venv/pyvenv.cfg", b"home = /usr\n"))
            envs.append((f"v{i}/requirements.txt", b"x\n"))
        many = docker_save(tmp / "envs.tar", [envs])
        cpu("image: 3000 environments and 3000 copied venvs", lambda: analyze_image(many))
        room = MAX_DOCKERFILE_BYTES - 200
        spaces = tmp / "spaces.Dockerfile"
        spaces.write_text(f"FROM python:3.11-slim\nENV PIP_NO_CACHE_DIR{' ' * room}x\n")
        cpu(
            "dockerfile: 1 MiB of spaces after PIP_NO_CACHE_DIR", lambda: analyze_dockerfile(spaces)
        )
        mounts = tmp / "mounts.Dockerfile"
        word = "type=cache" * (room // 10)
        mounts.write_text(f"FROM python:3.11-slim\nRUN --mount={word} pip install x\n")
        cpu("dockerfile: a 1 MiB --mount= word", lambda: analyze_dockerfile(mounts))
        cpu("check: a Tag line asking for a million tags", lambda: check_wheel(_tag_wheel(tmp)))


def _tag_wheel(tmp: Path) -> Path:
    def part(prefix: str) -> str:
        return ".".join(f"{prefix}{i}" for i in range(100))

    wheel_text = (
        "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        f"Tag: {part('py')}-{part('a')}-{part('p')}\n"
    )
    path = tmp / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("demo-1.0.dist-info/WHEEL", wheel_text)
        zf.writestr("demo-1.0.dist-info/METADATA", "Name: demo\nVersion: 1.0\n")
        zf.writestr("demo-1.0.dist-info/RECORD", "")
    return path


if __name__ == "__main__":
    main()
