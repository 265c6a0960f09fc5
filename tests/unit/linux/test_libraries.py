"""Library search on a root filesystem: ld.so.conf includes, symlinks, compatibility."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from wheelmaker import MakeWheel

from wheelfix.formats.elf import parse_elf
from wheelfix.linux.libraries import HostLibraries, Library, LibraryTree, needed_through
from wheelfix.wheels.audit import CheckOptions, check_wheel

_CANDIDATES = (Path("/lib/x86_64-linux-gnu/libz.so.1"), Path("/usr/lib/x86_64-linux-gnu/libz.so.1"))
REAL_LIB = next((p for p in _CANDIDATES if p.exists()), None)
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
    other_machine = type(like)(
        **{**{f: getattr(like, f) for f in like.__slots__}, "machine": "EM_AARCH64"}
    )
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


def _gcc(out: Path, source: str, *args: str) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("needs gcc")
    src = out.with_suffix(".c")
    src.write_text(source)
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(out), str(src), *args], check=True)


def test_a_library_needed_only_by_another_is_named_through_it(
    root: Path, make_wheel: MakeWheel
) -> None:
    """ext -> liba.so.1 -> libb.so.1, both on the host: libb is "needed by liba.so.1"."""
    lib = root / "usr/lib"
    _gcc(lib / "libb.so.1", "int b(void) { return 2; }\n", "-Wl,-soname,libb.so.1")
    (lib / "libb.so").symlink_to("libb.so.1")
    _gcc(
        lib / "liba.so.1",
        "int b(void);\nint a(void) { return b(); }\n",
        "-Wl,-soname,liba.so.1",
        f"-L{lib}",
        "-lb",
    )
    (lib / "liba.so").symlink_to("liba.so.1")
    ext = root / "_ext.cpython-311-x86_64-linux-gnu.so"
    _gcc(ext, "int a(void);\nvoid *PyInit__ext(void) { a(); return 0; }\n", f"-L{lib}", "-la")
    wheel = make_wheel(
        {"pkg/__init__.py": "", "pkg/" + ext.name: ext.read_bytes()},
        name="pkg",
        tag="cp311-cp311-linux_x86_64",
    )
    result = check_wheel(wheel, CheckOptions(ld_root=str(root)))
    assert set(result.external_libraries) == {"liba.so.1", "libb.so.1"}
    messages = {f.message.split(",", 1)[0]: f for f in result.findings if f.code == "WF201"}
    assert "needs liba.so.1" in messages
    (indirect,) = [m for m in messages if "libb.so.1" in m]
    assert indirect == "needs libb.so.1 indirectly: needed by liba.so.1"
    full = messages[indirect].message
    assert full.startswith(f"needs libb.so.1 indirectly: needed by liba.so.1, needed by {ext.name}")


def test_needed_through_on_a_tree(root: Path) -> None:
    tree = LibraryTree("pkg/_ext.so")
    tree.libraries = {
        "liba.so.1": Library("liba.so.1", False, "/usr/lib/liba.so.1", None),
        "libb.so.1": Library("libb.so.1", False, "/usr/lib/libb.so.1", None),
        "libc.so.9": Library("libc.so.9", False, "/usr/lib/libc.so.9", None),
    }
    tree.needed_by = {
        "liba.so.1": {"pkg/_ext.so"},
        "libb.so.1": {"/usr/lib/liba.so.1"},
        "libc.so.9": {"/usr/lib/libb.so.1"},
    }
    direct = {"pkg/_ext.so"}
    assert needed_through(tree, "liba.so.1", direct) == ()
    assert needed_through(tree, "libb.so.1", direct) == ("liba.so.1",)
    assert needed_through(tree, "libc.so.9", direct) == ("libb.so.1", "liba.so.1")
