"""Writing wheels: reproducible bytes, RECORD, atomic replacement, retagging."""

from __future__ import annotations

import csv
import io
import os
import random
import resource
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from wheelfix.errors import UsageError
from wheelfix.formats import writer
from wheelfix.formats.writer import atomic_write_wheel, retag, write_record

DIST = "demo-1.0.dist-info"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "__init__.py").write_text("X = 1\n")
    (root / "demo" / "tool").write_text("#!/bin/sh\n")
    (root / "demo" / "tool").chmod(0o755)
    (root / DIST).mkdir()
    (root / DIST / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    (root / DIST / "WHEEL").write_text(
        "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n"
    )
    write_record(root, DIST)
    return root


def test_record_lists_every_file_with_sha256(tree: Path) -> None:
    rows = list(csv.reader((tree / DIST / "RECORD").read_text().splitlines()))
    paths = [r[0] for r in rows]
    assert paths[-1] == f"{DIST}/RECORD" and rows[-1][1:] == ["", ""]
    assert set(paths) == {
        "demo/__init__.py",
        "demo/tool",
        f"{DIST}/METADATA",
        f"{DIST}/WHEEL",
        f"{DIST}/RECORD",
    }
    assert all(r[1].startswith("sha256=") for r in rows[:-1])


def test_output_is_reproducible(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    atomic_write_wheel(tree, DIST, a / "demo-1.0-py3-none-any.whl", force=False)
    os.utime(tree / "demo" / "__init__.py", (0, 0))  # file times must not matter
    atomic_write_wheel(tree, DIST, b / "demo-1.0-py3-none-any.whl", force=False)
    assert (a / "demo-1.0-py3-none-any.whl").read_bytes() == (
        b / "demo-1.0-py3-none-any.whl"
    ).read_bytes()
    with zipfile.ZipFile(a / "demo-1.0-py3-none-any.whl") as zf:
        names = zf.namelist()
        assert names[-1] == f"{DIST}/RECORD"
        assert names == sorted(names[:2]) + names[2:]
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        assert modes["demo/tool"] == 0o755 and modes["demo/__init__.py"] == 0o644
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    atomic_write_wheel(tree, DIST, a / "demo-1.0-py3-none-any.whl", force=True)
    with zipfile.ZipFile(a / "demo-1.0-py3-none-any.whl") as zf:
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_existing_output_needs_force(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo-1.0-py3-none-any.whl"
    out.write_bytes(b"old")
    with pytest.raises(UsageError, match="already exists"):
        atomic_write_wheel(tree, DIST, out, force=False)
    assert out.read_bytes() == b"old"


def test_symlink_output_is_never_followed(tree: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    out = tmp_path / "demo-1.0-py3-none-any.whl"
    out.symlink_to(victim)
    with pytest.raises(UsageError, match="symbolic link"):
        atomic_write_wheel(tree, DIST, out, force=True)
    assert victim.read_bytes() == b"keep"


def test_failure_mid_write_leaves_nothing(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wheelfix.formats import writer as rewrite

    def explode(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(rewrite, "pack", explode)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(KeyboardInterrupt):
        atomic_write_wheel(tree, DIST, out_dir / "demo-1.0-py3-none-any.whl", force=False)
    assert list(out_dir.iterdir()) == []


def test_disk_full_leaves_no_partial_output(tree: Path, tmp_path: Path) -> None:
    # RLIMIT_FSIZE makes writes past the limit fail with EFBIG, as a full disk would.
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (tree / "demo" / "big.bin").write_bytes(os.urandom(200_000))
    write_record(tree, DIST)
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from wheelfix.formats.writer import atomic_write_wheel\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))\n"
        f"atomic_write_wheel(Path({str(tree)!r}), {DIST!r}, Path({str(out_dir)!r}) / "
        "'demo-1.0-py3-none-any.whl', force=False)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert out.returncode != 0
    assert "File too large" in out.stderr or "EFBIG" in out.stderr or "27" in out.stderr
    assert list(out_dir.iterdir()) == []
    assert resource.getrlimit(resource.RLIMIT_FSIZE)  # this process was not limited


def test_retag_rewrites_wheel_tags_and_filename(tree: Path) -> None:
    name = retag(tree, DIST, "demo-1.0-cp311-cp311-linux_x86_64.whl", ["manylinux_2_17_x86_64"])
    assert name == "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    tags = [ln for ln in (tree / DIST / "WHEEL").read_text().splitlines() if ln.startswith("Tag:")]
    assert tags == ["Tag: cp311-cp311-manylinux_2_17_x86_64"]


# -- pack: deflated on threads, the bytes zipfile writes ------------------------------------
def _random_tree(root: Path, seed: int) -> str:
    rng = random.Random(seed)  # noqa: S311 - test data from a fixed seed
    names = ["a.py", "pkg/__init__.py", "pkg/données.txt", "pkg/empty", "pkg/lib.so", "z/b"]
    for i, name in enumerate(rng.sample(names, rng.randint(2, len(names)))):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = rng.choice(["random", "text", "empty", "zeros"])
        size = rng.choice([0, 1, 100, 70_000, 300_000])
        data = {
            "random": rng.randbytes(size),
            "text": (b"def f(): return %d\n" % i) * (size // 20 + 1),
            "empty": b"",
            "zeros": bytes(size),
        }[kind]
        path.write_bytes(data)
        path.chmod(0o755 if rng.random() < 0.3 else 0o644)
    dist_info = "demo-1.0.dist-info"
    (root / dist_info).mkdir()
    (root / dist_info / "WHEEL").write_text("Wheel-Version: 1.0\n")
    write_record(root, dist_info)
    return dist_info


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("level", [0, 6])
def test_pack_writes_the_bytes_zipfile_writes(
    tmp_path: Path, seed: int, level: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    dist_info = _random_tree(root, seed)
    monkeypatch.setattr(writer, "_AHEAD_BYTES", 1 << 16)  # the window slides on every tree
    monkeypatch.setattr(writer, "_PART", 1 << 30)  # no member is cut in pieces here
    ours = io.BytesIO()
    writer.pack(root, dist_info, ours, level=level)
    members = [writer._PackedMember.of(root, p) for p in writer._order(root, dist_info)]
    theirs = io.BytesIO()
    writer._pack_with_zipfile(root, members, theirs, level)
    assert ours.getvalue() == theirs.getvalue()
    with zipfile.ZipFile(ours) as zf:
        assert zf.testzip() is None
        assert zf.namelist()[-1] == f"{dist_info}/RECORD"


def test_pack_leaves_archives_that_need_zip64_to_zipfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    dist_info = _random_tree(root, 1)
    calls: list[int] = []
    real = writer._pack_with_zipfile

    def spy(*args: Any) -> None:
        calls.append(1)
        real(*args)

    monkeypatch.setattr(writer, "_pack_with_zipfile", spy)
    writer.pack(root, dist_info, io.BytesIO())
    assert calls == []
    monkeypatch.setattr(writer, "_ZIP64_LIMIT", 1000)  # as if every member were huge
    writer.pack(root, dist_info, io.BytesIO())
    assert calls == [1]


@pytest.mark.parametrize("seed", range(6))
def test_big_members_deflated_in_pieces_read_back_whole_and_alike_on_every_machine(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    dist_info = _random_tree(root, seed)
    monkeypatch.setattr(writer, "_PART", 40_000)  # 70 kB and 300 kB members are cut
    outputs = []
    for cpus in (1, 2, 5):
        monkeypatch.setattr(os, "cpu_count", lambda cpus=cpus: cpus)
        buffer = io.BytesIO()
        writer.pack(root, dist_info, buffer)
        outputs.append(buffer.getvalue())
    assert outputs[0] == outputs[1] == outputs[2]  # pieces do not depend on the threads
    with zipfile.ZipFile(io.BytesIO(outputs[0])) as zf:
        assert zf.testzip() is None  # every CRC matches what is inflated
        for info in zf.infolist():
            assert zf.read(info) == (root / info.filename).read_bytes()
    whole = io.BytesIO()
    members = [writer._PackedMember.of(root, p) for p in writer._order(root, dist_info)]
    writer._pack_with_zipfile(root, members, whole, 6)
    # The pieces cost little: each is primed with the window before it.
    assert len(outputs[0]) <= len(whole.getvalue()) * 1.01 + 200
