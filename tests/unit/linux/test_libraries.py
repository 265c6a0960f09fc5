"""Library search on a root filesystem: ld.so.conf includes, symlinks, compatibility."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from wheelfix.formats.elf import parse_elf
from wheelfix.linux.libraries import HostLibraries

_CANDIDATES = (Path("/lib/x86_64-linux-gnu/libz.so.1"), Path("/usr/lib/x86_64-linux-gnu/libz.so.1"))
REAL_LIB = next((p for p in _CANDIDATES if p.exists()), None)  # fmt: skip
pytestmark = pytest.mark.skipif(REAL_LIB is None, reason="needs the host's libz.so.1 (x86_64)")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("LD_LIBRARY_PATH", "AUDITWHEEL_LD_LIBRARY_PATH"):
        monkeypatch.delenv(var, raising=False)
    assert REAL_LIB is not None
    (tmp_path / "etc/ld.so.conf.d").mkdir(parents=True)
    (tmp_path / "etc/ld.so.conf").write_text("# comment\ninclude /etc/ld.so.conf.d/*.conf\n")
    (tmp_path / "etc/ld.so.conf.d/opt.conf").write_text("/opt/lib\n")
    (tmp_path / "opt/lib").mkdir(parents=True)
    shutil.copy(REAL_LIB, tmp_path / "opt/lib/libfoo.so.1.2")
    (tmp_path / "opt/lib/libfoo.so.1").symlink_to("/opt/lib/libfoo.so.1.2")
    (tmp_path / "usr/lib").mkdir(parents=True)
    return tmp_path


def test_ld_so_conf_includes_are_followed(root: Path) -> None:
    host = HostLibraries(str(root))
    assert str(root / "opt/lib") in host.glibc_dirs
    assert str(root / "usr/lib") in host.glibc_dirs


def test_absolute_symlink_resolves_inside_the_root(root: Path) -> None:
    assert REAL_LIB is not None
    host = HostLibraries(str(root))
    like = parse_elf(REAL_LIB.read_bytes())
    found = host.find("libfoo.so.1", str(root / "opt/lib"), like)
    assert found is not None
    assert found[1].soname == "libz.so.1"


def test_incompatible_library_is_skipped(root: Path) -> None:
    assert REAL_LIB is not None
    host = HostLibraries(str(root))
    like = parse_elf(REAL_LIB.read_bytes())
    other_machine = type(like)(**{**{f: getattr(like, f) for f in like.__slots__},
                                  "machine": "EM_AARCH64"})  # fmt: skip
    assert host.find("libfoo.so.1", str(root / "opt/lib"), other_machine) is None


def test_env_paths_come_first(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{root / 'opt/lib'}:/does/not/exist")
    host = HostLibraries(str(root))
    assert host.env_dirs == [str(root / "opt/lib")]


def test_missing_and_non_elf_files_read_as_none(root: Path) -> None:
    (root / "usr/lib/libtext.so.1").write_text("INPUT(-lfoo)\n")
    host = HostLibraries(str(root))
    assert host.read(str(root / "usr/lib/libtext.so.1")) is None
    assert host.read(str(root / "usr/lib/missing.so")) is None
