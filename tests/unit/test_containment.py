"""containment.py: untrusted names become places under a root, and nothing escapes it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from wheelmaker import tree_digest

from wheelfix.containment import (
    ContainmentError,
    exists_under,
    inside,
    link_under,
    open_root,
    read_under,
    relative_parts,
    remove_empty_dirs,
    remove_tree,
    rename_under,
    unlink_under,
    write_under,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    (folder / "pkg" / "sub").mkdir(parents=True)
    (folder / "pkg" / "sub" / "a.txt").write_text("a")
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "sub" / "a.txt").write_text("precious")
    (outside / "victim").write_text("precious")
    return folder


@pytest.fixture
def fd(root: Path) -> Iterator[int]:
    handle = open_root(root)
    yield handle
    os.close(handle)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty name"),
        ("/etc/passwd", "absolute path"),
        ("../x", "'..' component"),
        ("a/../../x", "'..' component"),
        ("a//b", "'empty' component"),
        ("./a", "'.' component"),
        ("a/", "'empty' component"),
        ("a\x00b", "NUL or control character"),
        ("a\nb", "NUL or control character"),
        ("a\\..\\b", "backslash"),
        ("C:/x", "absolute path"),
        ("x" * 256, "longer than 255 bytes"),
    ],
)
def test_names_that_leave_the_root_are_refused(name: str, reason: str) -> None:
    with pytest.raises(ContainmentError, match=reason):
        relative_parts(name)


def test_plain_relative_names_pass() -> None:
    assert relative_parts("pkg/sub/lib.so.1") == ("pkg", "sub", "lib.so.1")
    assert relative_parts("libfoo.so") == ("libfoo.so",)
    assert relative_parts("ab:c/d..e") == ("ab:c", "d..e")  # a drive letter is one letter


def test_a_symlinked_folder_is_refused_for_every_operation(root: Path, fd: int) -> None:
    outside = root.parent / "outside"
    (root / "link").symlink_to(outside)
    before = tree_digest(outside)
    with pytest.raises(ContainmentError, match="'link' is a symlink"):
        unlink_under(fd, "link/victim")
    with pytest.raises(ContainmentError):
        rename_under(fd, "link/victim", fd, "pkg/moved")
    with pytest.raises(ContainmentError):
        rename_under(fd, "pkg/sub/a.txt", fd, "link/sub/a.txt")
    with pytest.raises(ContainmentError):
        write_under(fd, "link/new", b"x")
    with pytest.raises(ContainmentError):
        read_under(fd, "link/victim", limit=100)
    with pytest.raises(ContainmentError):
        link_under(fd, "pkg/sub/a.txt", fd, "link/hard")
    with pytest.raises(ContainmentError):
        remove_tree(fd, "link/sub")
    with pytest.raises(ContainmentError):
        inside(root, "link/victim")
    remove_empty_dirs(fd, "link/sub")
    assert tree_digest(outside) == before
    assert (root / "pkg" / "sub" / "a.txt").read_text() == "a"


def test_a_folder_swapped_for_a_symlink_after_it_was_opened_is_not_followed(
    root: Path, fd: int
) -> None:
    # Open the folder, then swap it: removing through the descriptor acts on the folder
    # that was opened (now moved aside), never on the symlink's target.
    from wheelfix.containment import open_folder

    outside = root.parent / "outside"
    before = tree_digest(outside)
    folder = open_folder(fd, "pkg/sub")
    try:
        (root / "pkg" / "sub").rename(root / "moved")
        (root / "pkg" / "sub").symlink_to(outside / "sub")
        os.unlink("a.txt", dir_fd=folder)
    finally:
        os.close(folder)
    assert tree_digest(outside) == before
    assert not (root / "moved" / "a.txt").exists()


def test_remove_tree_removes_links_not_their_targets(root: Path, fd: int) -> None:
    outside = root.parent / "outside"
    before = tree_digest(outside)
    (root / "pkg" / "sub" / "to_outside").symlink_to(outside)
    (root / "pkg" / "sub" / "to_file").symlink_to(outside / "victim")
    remove_tree(fd, "pkg")
    assert not (root / "pkg").exists()
    assert tree_digest(outside) == before


def test_read_under_refuses_links_fifos_folders_and_big_files(root: Path, fd: int) -> None:
    (root / "secret").symlink_to(root.parent / "outside" / "victim")
    os.mkfifo(root / "fifo")
    (root / "big").write_bytes(b"x" * 1001)
    with pytest.raises(ContainmentError, match="a symlink"):
        read_under(fd, "secret", limit=1000)
    with pytest.raises(ContainmentError, match="not a regular file"):
        read_under(fd, "fifo", limit=1000)  # O_NONBLOCK: opening it does not hang
    with pytest.raises(ContainmentError, match="not a regular file"):
        read_under(fd, "pkg", limit=1000)
    with pytest.raises(ContainmentError, match="over the 1000-byte limit"):
        read_under(fd, "big", limit=1000)
    data, st = read_under(fd, "pkg/sub/a.txt", limit=1000)
    assert data == b"a" and st.st_size == 1


def test_write_under_replaces_a_symlink_instead_of_writing_through_it(root: Path, fd: int) -> None:
    outside = root.parent / "outside"
    before = tree_digest(outside)
    (root / "pkg" / "out").symlink_to(outside / "victim")
    write_under(fd, "pkg/out", b"new", mode=0o600)
    assert not (root / "pkg" / "out").is_symlink()
    assert (root / "pkg" / "out").read_bytes() == b"new"
    assert (root / "pkg" / "out").stat().st_mode & 0o777 == 0o600
    assert tree_digest(outside) == before


def test_moves_links_and_empty_folders_stay_inside(root: Path, fd: int) -> None:
    rename_under(fd, "pkg/sub/a.txt", fd, "backup/pkg/sub/a.txt")
    assert (root / "backup" / "pkg" / "sub" / "a.txt").read_text() == "a"
    assert not exists_under(fd, "pkg/sub/a.txt")
    remove_empty_dirs(fd, "pkg/sub")
    assert not (root / "pkg").exists()
    link_under(fd, "backup/pkg/sub/a.txt", fd, "copy/a.txt")
    assert (root / "copy" / "a.txt").stat().st_nlink == 2
