"""Will it load here? The one pipeline behind scan's and image's WF104/WF105/WF202."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from wheelfix.formats.elf import ElfInfo, parse_elf
from wheelfix.linux.libraries import HostLibraries
from wheelfix.linux.loadable import (
    Machine,
    extension_module_name,
    host_machine,
    normalise_arch,
    unloadable,
)

REPO = Path(__file__).resolve().parents[3]
EXT = "wfdemo_extlib/_extlib.cpython-311-x86_64-linux-gnu.so"


def extension(sample: str = "wfdemo_extlib", member: str = EXT) -> ElfInfo:
    (wheel,) = (REPO / "sample_wheels").glob(f"{sample}-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        name = extension_module_name(member)
        return parse_elf(archive.read(member), interest=frozenset({f"PyInit_{name}"}))


def machine(arch: str | None = "x86_64", libc: str | None = "glibc") -> Machine:
    return Machine(arch=arch, libc=libc, place="this box", fix_missing="get {soname}")


@pytest.fixture
def empty_root(tmp_path: Path) -> HostLibraries:
    for folder in ("lib", "usr/lib"):
        (tmp_path / folder).mkdir(parents=True)
    return HostLibraries(str(tmp_path), use_env=False)


def test_a_missing_library_is_wf202_with_the_places_fix(empty_root: HostLibraries) -> None:
    found = unloadable({EXT: extension()}, empty_root, machine())
    codes = {f.code: f for f in found[EXT]}
    assert "WF202" in codes
    missing = codes["WF202"]
    assert missing.message.startswith("needs libwfext.so.1: found neither in the environment")
    assert "this box's library path" in missing.message
    assert missing.hint == "get libwfext.so.1"


def test_another_architecture_is_wf104_and_nothing_else(empty_root: HostLibraries) -> None:
    (finding,) = unloadable({EXT: extension()}, empty_root, machine(arch="aarch64"))[EXT]
    assert finding.code == "WF104"
    assert finding.message == "built for x86_64; this box is aarch64: it cannot load"


def test_another_libc_is_wf105(empty_root: HostLibraries) -> None:
    member = "wfdemo_overclaim/_overclaim.cpython-311-x86_64-linux-gnu.so"
    elf = extension("wfdemo_overclaim", member)
    assert elf.libc == "glibc"
    (finding,) = unloadable({member: elf}, empty_root, machine(libc="musl"))[member]
    assert finding.code == "WF105"
    assert "this box's C library is musl" in finding.message


def test_only_and_shown_limit_and_prefix_paths(empty_root: HostLibraries) -> None:
    elves = {EXT: extension()}
    assert unloadable(elves, empty_root, machine(), only={"other/x.so"}) == {}
    found = unloadable(elves, empty_root, machine(), shown="/")
    assert all(f.path == "/" + EXT for f in found[EXT])


def test_names_and_host() -> None:
    assert extension_module_name("pkg/_x.cpython-311-x86_64-linux-gnu.so") == "_x"
    assert normalise_arch("amd64") == "x86_64"
    assert normalise_arch("ARM64") == "aarch64"
    assert normalise_arch("") is None
    here = host_machine()
    assert here.libc in {"glibc", "musl"}
    assert here.place == "this system"
