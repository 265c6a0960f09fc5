"""repair's own steps, on wheels built on the fly (the whole pipeline with auditwheel is in
tests/integration/test_repair.py)."""

from __future__ import annotations

from pathlib import Path

from wheelmaker import MakeWheel

from wheelfix.formats.wheelfile import WheelArchive
from wheelfix.formats.writer import iter_files
from wheelfix.wheels.repair import _update_tree


def _tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), bool(p.stat().st_mode & 0o111))
        for p in iter_files(root)
    }


def _folders(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir()}


def test_update_tree_leaves_the_tree_exactly_as_unpacking_would(
    make_wheel: MakeWheel, tmp_path: Path
) -> None:
    produced = make_wheel(
        {
            "demo/__init__.py": b"VALUE = 1\n",  # unchanged
            "demo/_ext.so": b"patched\n",  # rewritten
            "demo.libs/libfoo.so.1": b"grafted\n",  # new, in a new folder
        }
    )
    tree = tmp_path / "tree"
    (tree / "demo").mkdir(parents=True)
    (tree / "demo/__init__.py").write_bytes(b"VALUE = 1\n")
    (tree / "demo/_ext.so").write_bytes(b"original\n")
    (tree / "demo/old").mkdir()
    (tree / "demo/old/gone.py").write_bytes(b"")  # not in the output: removed, folder too
    (tree / "demo-1.0.dist-info").mkdir()
    (tree / "demo-1.0.dist-info/RECORD").write_bytes(b"stale\n")
    same = tree / "demo/__init__.py"
    same_inode = same.stat().st_ino

    with WheelArchive(produced) as archive:
        _update_tree(archive, tree)
        expected = {m.name: (archive.read(m), m.executable) for m in archive.members}

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    with WheelArchive(produced) as archive:
        for member in archive.members:
            target = fresh / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
    assert _tree(tree) == expected
    assert _folders(tree) == _folders(fresh)
    assert same.stat().st_ino == same_inode  # unchanged bytes: the file was not rewritten


def test_update_tree_follows_the_executable_bit(make_wheel: MakeWheel, tmp_path: Path) -> None:
    produced = make_wheel({"demo/tool.py": b"print(1)\n"})
    tree = tmp_path / "tree"
    (tree / "demo").mkdir(parents=True)
    tool = tree / "demo/tool.py"
    tool.write_bytes(b"print(1)\n")
    tool.chmod(0o755)  # same bytes, but the output says not executable
    with WheelArchive(produced) as archive:
        _update_tree(archive, tree)
    assert tool.stat().st_mode & 0o777 == 0o644
