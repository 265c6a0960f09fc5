"""The committed sample wheels, and the script that builds them (``sample_wheels/build.py``).

The script is run once per module into a temporary directory; the rebuilt wheels must
match the committed ones by name and members, and must really import.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_wheels"
COMMITTED = sorted(SAMPLES.glob("*.whl"))
PLATFORM_DISTS = ["wfdemo_clean", "wfdemo_debug", "wfdemo_extlib", "wfdemo_overclaim"]


@dataclass(frozen=True)
class Built:
    wheels: dict[str, Path]  # distribution name -> rebuilt wheel
    work_dir: Path


def _load_build_all() -> Callable[[Path, Path | None], list[Path]]:
    spec = importlib.util.spec_from_file_location("wheelfix_sample_build", SAMPLES / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    build_all: Callable[[Path, Path | None], list[Path]] = module.build_all
    return build_all


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out_dir = tmp_path_factory.mktemp("sample-wheels")
    work_dir = tmp_path_factory.mktemp("sample-work")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SOURCE_DATE_EPOCH", raising=False)  # the committed wheels use the default
        paths = _load_build_all()(out_dir, work_dir)
    return Built({p.name.split("-", 1)[0]: p for p in paths}, work_dir)


def _python_tags(filename: str) -> str:
    """The ``python-abi`` part of a wheel filename (``cp311-cp311``, ``py3-none``)."""
    return "-".join(filename[: -len(".whl")].split("-")[2:4])


def _unpack(wheel: Path, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(dest)
    return dest


def _import_answer(
    site: Path, dist: str, *, ld_library_path: Path | None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"LD_LIBRARY_PATH", "PYTHONPATH"}}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if ld_library_path is not None:
        env["LD_LIBRARY_PATH"] = str(ld_library_path)
    code = f"import {dist}; assert {dist}.answer() == 42, {dist}.answer()"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=site,  # "-c" puts the current directory first on sys.path
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _extension(wheel: Path, dest: Path) -> Path:
    """Extract the one shared object in ``wheel`` into ``dest``; return its path."""
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".so")]
        return Path(zf.extract(name, dest))


def _readelf(path: Path, option: str) -> str:
    proc = subprocess.run(
        ["readelf", option, "-W", str(path)], capture_output=True, text=True, check=True
    )
    return proc.stdout


def _committed(dist: str) -> Path:
    (path,) = [p for p in COMMITTED if p.name.startswith(f"{dist}-")]
    return path


# --------------------------------------------------------------------------- (a) names


def test_committed_wheels_exist() -> None:
    assert [p.name.split("-", 1)[0] for p in COMMITTED] == [
        *PLATFORM_DISTS,
        "wfdemo_pure",
    ]


def test_rebuild_gives_the_committed_filenames(built: Built) -> None:
    rebuilt = sorted(p.name for p in built.wheels.values())
    committed = sorted(p.name for p in COMMITTED)
    if sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11):
        assert rebuilt == committed
    else:  # the committed wheels are cp311: only the python/abi tags may differ
        own = {_python_tags(n) for n in rebuilt if not n.endswith("-any.whl")}
        assert len(own) == 1
        assert rebuilt == sorted(n.replace("cp311-cp311", own.pop()) for n in committed)


@pytest.mark.parametrize("dist", [*PLATFORM_DISTS, "wfdemo_pure"])
def test_rebuild_has_the_committed_members(built: Built, dist: str) -> None:
    if dist != "wfdemo_pure" and sys.version_info[:2] != (3, 11):
        # The extension suffix and the .pyc cache tag follow the running interpreter.
        pytest.skip("the committed wheels are cp311: member names differ on other versions")
    with zipfile.ZipFile(built.wheels[dist]) as zf:
        rebuilt = zf.namelist()
    with zipfile.ZipFile(_committed(dist)) as zf:
        committed = zf.namelist()
    assert rebuilt == committed


def test_pure_rebuild_is_byte_identical(built: Built) -> None:
    # No compiler involved: same members, timestamps, modes and deflate output.
    assert built.wheels["wfdemo_pure"].read_bytes() == _committed("wfdemo_pure").read_bytes()


# --------------------------------------------------------------------------- (b) imports


@pytest.mark.parametrize("dist", ["wfdemo_clean", "wfdemo_debug", "wfdemo_overclaim"])
def test_platform_wheel_imports(built: Built, dist: str, tmp_path: Path) -> None:
    site = _unpack(built.wheels[dist], tmp_path)
    proc = _import_answer(site, dist, ld_library_path=None)
    assert proc.returncode == 0, proc.stderr


def test_extlib_imports_with_its_library(built: Built, tmp_path: Path) -> None:
    site = _unpack(built.wheels["wfdemo_extlib"], tmp_path)
    proc = _import_answer(site, "wfdemo_extlib", ld_library_path=built.work_dir / "lib")
    assert proc.returncode == 0, proc.stderr


def test_extlib_fails_without_its_library(built: Built, tmp_path: Path) -> None:
    site = _unpack(built.wheels["wfdemo_extlib"], tmp_path)
    proc = _import_answer(site, "wfdemo_extlib", ld_library_path=None)
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert "libwfext.so.1" in proc.stderr


def test_pure_wheel_imports(built: Built, tmp_path: Path) -> None:
    site = _unpack(built.wheels["wfdemo_pure"], tmp_path)
    proc = _import_answer(site, "wfdemo_pure", ld_library_path=None)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- (c) ELF


@pytest.mark.parametrize("source", ["committed", "rebuilt"])
def test_debug_extension_has_debug_info(built: Built, source: str, tmp_path: Path) -> None:
    wheel = built.wheels["wfdemo_debug"] if source == "rebuilt" else _committed("wfdemo_debug")
    sections = _readelf(_extension(wheel, tmp_path), "-S")
    assert " .debug_info " in sections
    assert " .symtab " in sections


@pytest.mark.parametrize("source", ["committed", "rebuilt"])
def test_clean_extension_is_stripped(built: Built, source: str, tmp_path: Path) -> None:
    wheel = built.wheels["wfdemo_clean"] if source == "rebuilt" else _committed("wfdemo_clean")
    sections = _readelf(_extension(wheel, tmp_path), "-S")
    assert " .dynsym " in sections  # sanity: readelf did list the sections
    assert " .symtab " not in sections
    assert ".debug_" not in sections


def test_overclaim_extension_needs_glibc_2_25(tmp_path: Path) -> None:
    wheel = _committed("wfdemo_overclaim")
    assert wheel.name.endswith("-manylinux_2_17_x86_64.whl")  # what the filename claims
    so = _extension(wheel, tmp_path)
    assert "GLIBC_2.25" in _readelf(so, "-V")  # what the binary needs (getrandom)


def test_extlib_extension_needs_libwfext_and_has_build_runpath(tmp_path: Path) -> None:
    so = _extension(_committed("wfdemo_extlib"), tmp_path)
    dynamic = _readelf(so, "-d").splitlines()
    assert [line for line in dynamic if "(NEEDED)" in line and "[libwfext.so.1]" in line]
    assert [line for line in dynamic if "(RUNPATH)" in line and "[/opt/wfdemo/lib]" in line]
    with zipfile.ZipFile(_committed("wfdemo_extlib")) as zf:
        assert not [n for n in zf.namelist() if "libwfext" in n]


# --------------------------------------------------------------------------- (d) RECORD


@pytest.mark.parametrize("wheel", COMMITTED, ids=lambda p: p.name.split("-", 1)[0])
def test_record_matches_members(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        dist_info = f"{'-'.join(wheel.name.split('-')[:2])}.dist-info"
        record_name = f"{dist_info}/RECORD"
        rows = list(csv.reader(io.StringIO(zf.read(record_name).decode())))
        assert sorted(row[0] for row in rows) == sorted(names)
        for name, hash_, size in rows:
            if name == record_name:
                assert (hash_, size) == ("", "")
                continue
            data = zf.read(name)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert hash_ == f"sha256={digest.decode()}", name
            assert int(size) == len(data), name


@pytest.mark.parametrize("wheel", COMMITTED, ids=lambda p: p.name.split("-", 1)[0])
def test_wheel_file_and_zip_metadata(wheel: Path) -> None:
    tag = "-".join(wheel.name[: -len(".whl")].split("-")[2:])
    dist_info = f"{'-'.join(wheel.name.split('-')[:2])}.dist-info"
    with zipfile.ZipFile(wheel) as zf:
        lines = zf.read(f"{dist_info}/WHEEL").decode().splitlines()
        infos = zf.infolist()
    purelib = "true" if tag.endswith("-any") else "false"
    assert lines == [
        "Wheel-Version: 1.0",
        "Generator: wheelfix-sample-build",
        f"Root-Is-Purelib: {purelib}",
        f"Tag: {tag}",
    ]
    assert infos[-1].filename == f"{dist_info}/RECORD"
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        assert info.compress_type == zipfile.ZIP_DEFLATED, info.filename
        mode = 0o100755 if info.filename.endswith(".so") else 0o100644
        assert info.external_attr >> 16 == mode, info.filename
