"""Reading an installed tree (wheelfix/installed/reader.py) on small trees built in the test:
sizes, a sha256 only where something needs it, ELF facts for a real ELF file, symlinks and
FIFOs listed but never opened, and files that vanish or change between listing and reading."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

import pytest
from unprivileged import as_nobody, shared_folder
from wheelmaker import add_dist

from wheelfix.errors import UsageError
from wheelfix.formats.strip import StripLevel
from wheelfix.installed.reader import FileFacts, _read, _shard_tree, read_facts, read_tree
from wheelfix.installed.tree import JOURNAL_DIR, read_distributions, read_environment
from wheelfix.linux.policy import blacklisted_symbols

REPO = Path(__file__).resolve().parents[3]
#: an extension module built with -g: debug info and a symbol table to report
DEBUG_WHEEL = REPO / "sample_wheels" / "wfdemo_debug-1.0.0-cp311-cp311-linux_x86_64.whl"
DEBUG_SO = "wfdemo_debug/_debug.cpython-311-x86_64-linux-gnu.so"
#: bigger than the size up to which files are read whole whatever they are
BIG = 100_000


def sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def elf_bytes() -> bytes:
    with zipfile.ZipFile(DEBUG_WHEEL) as archive:
        return archive.read(DEBUG_SO)


def test_sizes_and_hashes_where_needed(tmp_path: Path) -> None:
    recorded = b"x" * BIG
    add_dist(tmp_path, "demo", {"demo/__init__.py": b"X = 1\n", "demo/big.dat": recorded})
    (tmp_path / "unowned_big.bin").write_bytes(b"u" * (BIG + 1))  # no RECORD, unique size
    (tmp_path / "twin_a.bin").write_bytes(b"a" * (BIG + 7))  # no RECORD, a shared size
    (tmp_path / "twin_b.bin").write_bytes(b"b" * (BIG + 7))
    (tmp_path / "small.txt").write_bytes(b"small")  # read whole anyway: hashed for free
    env, facts = read_tree(tmp_path, threads=1)
    assert env.files["demo/big.dat"] == BIG
    assert facts["demo/big.dat"] == facts["demo/big.dat"]._replace(sha256=sha256(recorded))
    assert facts["demo/big.dat"].size == BIG
    assert facts["unowned_big.bin"].sha256 == ""  # nothing needs it
    assert facts["unowned_big.bin"].size == BIG + 1
    assert facts["twin_a.bin"].sha256 == sha256(b"a" * (BIG + 7))  # may be a duplicate
    assert facts["twin_b.bin"].sha256 == sha256(b"b" * (BIG + 7))
    assert facts["small.txt"].sha256 == sha256(b"small")
    assert facts["demo/__init__.py"].elf is None
    assert env.special == ()
    assert {d.name for d in env.distributions} == {"demo"}


def test_inode_and_mode_are_recorded(tmp_path: Path) -> None:
    add_dist(tmp_path, "demo", {"demo/run.sh": b"#!/bin/sh\n"})
    (tmp_path / "demo" / "run.sh").chmod(0o751)
    _env, facts = read_tree(tmp_path, threads=1)
    st = os.lstat(tmp_path / "demo" / "run.sh")
    fact = facts["demo/run.sh"]
    assert fact.inode == (st.st_dev, st.st_ino)
    assert fact.mode == (0o751, st.st_uid, st.st_gid)


def test_elf_facts_for_a_real_extension_module(tmp_path: Path) -> None:
    data = elf_bytes()
    add_dist(tmp_path, "wfdemo_debug", {DEBUG_SO: data})
    _env, facts = read_tree(tmp_path, threads=1)
    fact = facts[DEBUG_SO]
    assert fact.elf is not None
    assert fact.elf_error is None
    assert fact.elf.debug_bytes > 0
    assert fact.elf.file_size == len(data) == fact.size
    assert set(fact.strip_tail) == {level.value for level in StripLevel}
    # each level removes at least what the one before it does, and never the whole file
    savings = [fact.strip_tail[level] for level in ("debug", "unneeded", "all")]
    assert 0 < savings[0] <= savings[1] <= savings[2] < len(data)


def test_a_big_elf_file_is_read_because_of_its_magic(tmp_path: Path) -> None:
    data = elf_bytes()
    padded = data + b"\0" * (BIG - len(data))  # bytes after the last section: still ELF
    (tmp_path / "big.so").write_bytes(padded)
    (tmp_path / "big.dat").write_bytes(b"\0" * (BIG + 3))
    _env, facts = read_tree(tmp_path, threads=1)
    assert facts["big.so"].elf is not None
    assert facts["big.so"].sha256 == ""  # read for its ELF facts, not hashed: nothing asked
    assert facts["big.dat"] == FileFacts(BIG + 3, "", None, None, *facts["big.dat"][4:6])


def test_a_corrupt_elf_file_is_reported_not_raised(tmp_path: Path) -> None:
    truncated = elf_bytes()[:100]  # the header promises section headers past the end
    (tmp_path / "broken.so").write_bytes(truncated)
    (tmp_path / "fake.so").write_bytes(b"\x7fELF" + b"\xff" * 60)
    _env, facts = read_tree(tmp_path, threads=1)
    for name in ("broken.so", "fake.so"):
        assert facts[name].elf is None
        assert facts[name].elf_error
    assert facts["broken.so"].size == 100


def test_symlinks_and_fifos_are_listed_never_opened(tmp_path: Path) -> None:
    add_dist(tmp_path, "demo", {"demo/__init__.py": b"X = 1\n"})
    (tmp_path / "link.py").symlink_to("demo/__init__.py")
    (tmp_path / "demo" / "dir_link").symlink_to(tmp_path / "demo")  # a loop if followed
    (tmp_path / "outside").symlink_to("/etc/passwd")
    os.mkfifo(tmp_path / "demo" / "pipe")  # no writer: a blocking open would hang here
    env, facts = read_tree(tmp_path, threads=2)
    assert env.special == ("demo/dir_link", "demo/pipe", "link.py", "outside")
    assert not set(env.special) & set(facts)
    assert not set(env.special) & set(env.files)


def test_the_journal_folder_is_not_read(tmp_path: Path) -> None:
    add_dist(tmp_path, "demo", {"demo/__init__.py": b""})
    (tmp_path / JOURNAL_DIR).mkdir()
    (tmp_path / JOURNAL_DIR / "journal.json").write_bytes(b"{}")
    env, facts = read_tree(tmp_path, threads=1)
    assert not any(name.startswith(JOURNAL_DIR) for name in (*env.files, *facts))


def test_progress_is_reported_once_per_file(tmp_path: Path) -> None:
    add_dist(tmp_path, "demo", {"demo/__init__.py": b"X = 1\n", "demo/a.bin": b"a" * 3000})
    seen: list[int] = []
    env, facts = read_tree(tmp_path, threads=1, on_file=seen.append)
    assert sorted(seen) == sorted(f.size for f in facts.values())
    assert len(seen) == len(env.files)


def test_a_file_that_vanishes_after_listing(tmp_path: Path) -> None:
    add_dist(tmp_path, "demo", {"demo/__init__.py": b"X = 1\n", "demo/gone.py": b"Y = 2\n"})
    environment = read_environment(tmp_path)
    (tmp_path / "demo" / "gone.py").unlink()
    facts = read_facts(environment, threads=1)
    assert facts["demo/gone.py"] == FileFacts(0, "", None, None)
    assert facts["demo/__init__.py"].sha256 == sha256(b"X = 1\n")


def test_a_file_replaced_after_listing_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"x" * 10)
    listed = os.lstat(tmp_path / "data.bin")
    (tmp_path / "other.bin").write_bytes(b"y" * 10)
    (tmp_path / "other.bin").replace(tmp_path / "data.bin")  # another inode, same name
    fact = _read(str(tmp_path), "data.bin", listed, True, blacklisted_symbols())
    assert fact == FileFacts(0, "", None, None)


def test_a_file_swapped_for_a_symlink_after_listing_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"x" * 10)
    listed = os.lstat(tmp_path / "data.bin")
    (tmp_path / "data.bin").unlink()
    (tmp_path / "data.bin").symlink_to("/etc/passwd")
    fact = _read(str(tmp_path), "data.bin", listed, True, blacklisted_symbols())
    assert fact == FileFacts(0, "", None, None)


def test_a_file_that_grew_after_listing_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_bytes(b"x" * 10)
    listed = os.lstat(tmp_path / "log.txt")
    with (tmp_path / "log.txt").open("ab") as handle:
        handle.write(b"y" * 5)
    fact = _read(str(tmp_path), "log.txt", listed, True, blacklisted_symbols())
    assert fact.size == 15
    assert fact.sha256 == sha256(b"x" * 10 + b"y" * 5)


def test_missing_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such folder"):
        read_tree(tmp_path / "nowhere")


def test_a_dominant_folder_is_split_between_workers(tmp_path: Path) -> None:
    root = tmp_path / "site"
    big = {f"big/sub{i}/data.bin": os.urandom(20_000) for i in range(6)}
    add_dist(root, "big", {"big/__init__.py": b"", **big})
    add_dist(root, "small", {"small.py": b"X = 1\n"})
    shards = _shard_tree(str(root), read_distributions(root), 2)
    assert len(shards) == 2
    items = sorted(p for shard in shards for p in shard)
    assert "big" not in items and "big/sub0" in items and "small.py" in items


def test_a_file_swapped_for_a_fifo_after_listing_is_not_opened_for_reading(
    tmp_path: Path,
) -> None:
    (tmp_path / "data.bin").write_bytes(b"x" * 10)
    listed = os.lstat(tmp_path / "data.bin")
    (tmp_path / "data.bin").unlink()
    os.mkfifo(tmp_path / "data.bin")  # no writer: a blocking open would hang here forever
    fact = _read(str(tmp_path), "data.bin", listed, True, blacklisted_symbols())
    assert fact == FileFacts(0, "", None, None)


def test_a_folder_swapped_for_a_link_after_listing_never_leads_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "site", tmp_path / "outside"
    add_dist(root, "demo", {"demo/sub/data.py": b"INSIDE = 1\n"})
    environment = read_environment(root)
    (outside / "sub").mkdir(parents=True)
    (outside / "sub" / "data.py").write_bytes(b"SECRET = 1\n")
    (root / "demo" / "sub").rename(tmp_path / "moved")
    (root / "demo" / "sub").symlink_to(outside / "sub")  # the same name now leads outside
    facts = read_facts(environment, threads=1)
    assert facts["demo/sub/data.py"] == FileFacts(0, "", None, None)


def test_a_shard_folder_that_is_a_link_is_listed_not_walked(tmp_path: Path) -> None:
    root, outside = tmp_path / "site", tmp_path / "outside"
    add_dist(root, "demo", {"demo/__init__.py": b""})
    outside.mkdir()
    (outside / "secret.py").write_bytes(b"SECRET = 1\n")
    (root / "big").symlink_to(outside)
    for threads in (1, 2):
        env, facts = read_tree(root, threads=threads)
        assert "big" in env.special
        assert not any(name.startswith("big/") for name in (*env.files, *facts))


def test_files_and_folders_that_cannot_be_read_for_their_mode(tmp_path: Path) -> None:
    with shared_folder() as root:
        add_dist(root, "demo", {"demo/__init__.py": b"X = 1\n", "demo/secret.py": b"S = 1\n"})
        (root / "demo" / "private").mkdir()
        (root / "demo" / "private" / "inner.py").write_bytes(b"I = 1\n")
        read_tree(root, threads=1)  # loads what the reader loads lazily
        for path in root.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (root / "demo" / "secret.py").chmod(0)
        (root / "demo" / "private").chmod(0)

        def read() -> tuple[list[str], dict[str, FileFacts]]:
            env, facts = read_tree(root, threads=2)
            return sorted(env.files), facts

        files, facts = as_nobody(read)
        assert "demo/secret.py" in files  # listed, never read
        assert facts["demo/secret.py"] == FileFacts(0, "", None, None)
        assert facts["demo/__init__.py"].sha256 == sha256(b"X = 1\n")
        assert not any(name.startswith("demo/private/") for name in files)
