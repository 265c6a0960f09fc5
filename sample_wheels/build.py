"""Build the sample wheels in this folder from the C sources in ``src/``.

The extensions are compiled with the host ``gcc`` against the running interpreter's
headers, and the wheels are written directly with :mod:`zipfile` (no setuptools), so
the script has no dependencies beyond the standard library and a C toolchain.

The zips are reproducible: members in a fixed order (package files sorted, then the
``.dist-info`` files with ``RECORD`` last), one timestamp for every member
(``SOURCE_DATE_EPOCH``, default 1980-01-01), fixed permissions (0644, 0755 for shared
objects) and deflate compression. Debug info is made independent of the checkout and
work directory with ``-ffile-prefix-map``.

Usage::

    python sample_wheels/build.py [--out DIR] [--work DIR]
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import importlib.util
import io
import marshal
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
DEFAULT_WORK = HERE / "build"
VERSION = "1.0.0"
GENERATOR = "wheelfix-sample-build"
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip can store

# Flags shared by every compile: position-independent shared object, warnings on.
COMMON_FLAGS = ("-fPIC", "-shared", "-Wall", "-Wextra")
# Release build: optimised, no debug info, stripped at link time.
RELEASE_FLAGS = ("-O2", "-s")
# Builder-stage build, like CPython's own CFLAGS: debug info kept, not stripped.
DEBUG_FLAGS = ("-g", "-O2")
# Build-machine path baked into _extlib as its RUNPATH; it does not exist anywhere.
EXTLIB_RPATH = "/opt/wfdemo/lib"


class BuildError(RuntimeError):
    """A compiler run failed or the interpreter cannot be targeted."""


@dataclass(frozen=True)
class Target:
    """What the running interpreter and host need in the wheels' names and binaries."""

    python_tag: str  # cp311
    abi_tag: str  # cp311
    arch: str  # x86_64
    ext_suffix: str  # .cpython-311-x86_64-linux-gnu.so
    include_dir: str
    cache_tag: str  # cpython-311

    def tag(self, platform: str) -> str:
        return f"{self.python_tag}-{self.abi_tag}-{platform}_{self.arch}"


@dataclass(frozen=True)
class Wheel:
    """One wheel's contents before it is zipped."""

    dist: str  # distribution name, already normalised (wfdemo_clean)
    summary: str
    tag: str  # cp311-cp311-manylinux_2_17_x86_64, or py3-none-any
    files: dict[str, bytes]  # archive name -> contents, without the .dist-info

    @property
    def purelib(self) -> bool:
        return self.tag.endswith("-any")

    @property
    def filename(self) -> str:
        return f"{self.dist}-{VERSION}-{self.tag}.whl"


def current_target() -> Target:
    """Describe the running CPython on Linux, or raise :class:`BuildError`."""
    if sys.implementation.name != "cpython":
        raise BuildError(f"needs CPython, not {sys.implementation.name}")
    platform = sysconfig.get_platform()  # linux-x86_64
    if not platform.startswith("linux-"):
        raise BuildError(f"needs Linux, not {platform}")
    ext_suffix = sysconfig.get_config_var("EXT_SUFFIX")
    cache_tag = sys.implementation.cache_tag
    if not isinstance(ext_suffix, str) or cache_tag is None:
        raise BuildError("the interpreter reports no EXT_SUFFIX or cache tag")
    version = f"{sys.version_info.major}{sys.version_info.minor}"
    return Target(
        python_tag=f"cp{version}",
        abi_tag=f"cp{version}{sys.abiflags}",
        arch=platform.removeprefix("linux-").replace("-", "_").replace(".", "_"),
        ext_suffix=ext_suffix,
        include_dir=sysconfig.get_paths()["include"],
        cache_tag=cache_tag,
    )


def source_date_epoch() -> int:
    """``SOURCE_DATE_EPOCH`` if set (and not empty), else 1980-01-01; never before 1980."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return ZIP_EPOCH
    try:
        epoch = int(value)
    except ValueError:
        raise BuildError(f"SOURCE_DATE_EPOCH is not an integer: {value!r}") from None
    return max(epoch, ZIP_EPOCH)


def zip_date_time() -> tuple[int, int, int, int, int, int]:
    """The timestamp of every member: :func:`source_date_epoch`, as a zip stores it."""
    tm = time.gmtime(source_date_epoch())
    return (min(tm.tm_year, 2107), tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)


# --------------------------------------------------------------------------- compiling


def _gcc(args: Sequence[str]) -> None:
    """Run gcc from this folder, so sources are named ``src/...`` in debug info."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise BuildError("gcc not found on PATH (apt-get install gcc libc6-dev)")
    # Map the checkout to "." in DWARF and __FILE__, whatever directory it lives in.
    cmd = [gcc, f"-ffile-prefix-map={HERE}=.", *args]
    env = {**os.environ, "PWD": str(HERE), "LC_ALL": "C"}
    proc = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    if proc.stderr:  # warnings: show them, but do not fail
        sys.stderr.write(proc.stderr)


def build_extension(
    target: Target,
    work_dir: Path,
    name: str,
    flags: Sequence[str],
    ldflags: Sequence[str] = (),
) -> bytes:
    """Compile ``src/<name>.c`` into ``<work_dir>/ext/<name><EXT_SUFFIX>``; return its bytes."""
    out = work_dir / "ext" / f"{name}{target.ext_suffix}"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Sources are given relative to HERE (the cwd) so .symtab's FILE symbols are short too.
    source = (SRC / f"{name}.c").relative_to(HERE)
    include = ("-I", target.include_dir, "-I", str(SRC.relative_to(HERE)))
    _gcc([*COMMON_FLAGS, *flags, *include, str(source), "-o", str(out), *ldflags])
    return out.read_bytes()


def build_libwfext(work_dir: Path) -> Path:
    """Build ``<work_dir>/lib/libwfext.so.1`` plus the ``libwfext.so`` link-time symlink."""
    lib_dir = work_dir / "lib"
    lib_dir.mkdir(parents=True, exist_ok=True)
    lib = lib_dir / "libwfext.so.1"
    source = (SRC / "wfext.c").relative_to(HERE)
    _gcc([*COMMON_FLAGS, "-O2", "-Wl,-soname,libwfext.so.1", str(source), "-o", str(lib)])
    link = lib_dir / "libwfext.so"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(lib.name)
    return lib


def compile_pyc(source: str, name: str) -> bytes:
    """A timestamp-based .pyc of ``source`` as a builder's ``compileall`` would leave it.

    The recorded source mtime is the archive timestamp, so the bytes are reproducible.
    """
    data = source.encode()
    mtime = source_date_epoch()
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
    header += (mtime & 0xFFFFFFFF).to_bytes(4, "little") + len(data).to_bytes(4, "little")
    return header + marshal.dumps(compile(data, name, "exec", dont_inherit=True))


# --------------------------------------------------------------------------- the wheels


def _init(module: str, names: Sequence[str], doc: str) -> bytes:
    exported = ", ".join(names)
    listed = ", ".join(f'"{n}"' for n in names)
    return f'"""{doc}"""\n\nfrom .{module} import {exported}\n\n__all__ = [{listed}]\n'.encode()


def clean_wheel(target: Target, work_dir: Path) -> Wheel:
    so = build_extension(target, work_dir, "_clean", RELEASE_FLAGS)
    return Wheel(
        dist="wfdemo_clean",
        summary="A genuinely manylinux_2_17 compliant wheel: stripped, old libc symbols only.",
        tag=target.tag("manylinux_2_17"),
        files={
            "wfdemo_clean/__init__.py": _init(
                "_clean", ["answer", "utf8_len"], "A clean, stripped extension."
            ),
            f"wfdemo_clean/_clean{target.ext_suffix}": so,
        },
    )


DEBUG_TEST = b'''"""Tests that were shipped by mistake."""

import wfdemo_debug


def test_answer() -> None:
    assert wfdemo_debug.answer() == 42


def test_stats() -> None:
    assert wfdemo_debug.stats([1, 2, 3]) == (3, 1, 3, 2.0)
'''


def debug_wheel(target: Target, work_dir: Path) -> Wheel:
    so = build_extension(target, work_dir, "_debug", DEBUG_FLAGS)
    init = _init(
        "_debug", ["answer", "distance", "stats"], "An unstripped extension built with -g."
    )
    pyc = compile_pyc(init.decode(), "wfdemo_debug/__init__.py")
    return Wheel(
        dist="wfdemo_debug",
        summary="A builder-stage wheel: debug info, symbol table, sources, tests and bytecode.",
        tag=target.tag("linux"),
        files={
            "wfdemo_debug/__init__.py": init,
            f"wfdemo_debug/__pycache__/__init__.{target.cache_tag}.pyc": pyc,
            f"wfdemo_debug/_debug{target.ext_suffix}": so,
            "wfdemo_debug/src/_debug.c": (SRC / "_debug.c").read_bytes(),
            "wfdemo_debug/tests/test_debug.py": DEBUG_TEST,
        },
    )


def extlib_wheel(target: Target, work_dir: Path) -> Wheel:
    lib = build_libwfext(work_dir)
    ldflags = (
        f"-L{lib.parent}",
        "-lwfext",
        # Spell out DT_RUNPATH (the Debian default) so other toolchains match.
        "-Wl,--enable-new-dtags",
        f"-Wl,-rpath,{EXTLIB_RPATH}",
    )
    so = build_extension(target, work_dir, "_extlib", RELEASE_FLAGS, ldflags)
    return Wheel(
        dist="wfdemo_extlib",
        summary="An extension that needs libwfext.so.1, which the wheel does not ship.",
        tag=target.tag("linux"),
        files={
            "wfdemo_extlib/__init__.py": _init(
                "_extlib", ["answer"], "An extension linked against libwfext.so.1."
            ),
            f"wfdemo_extlib/_extlib{target.ext_suffix}": so,
        },
    )


def overclaim_wheel(target: Target, work_dir: Path) -> Wheel:
    so = build_extension(target, work_dir, "_overclaim", RELEASE_FLAGS)
    return Wheel(
        dist="wfdemo_overclaim",
        summary="Tagged manylinux_2_17, but its extension needs getrandom@GLIBC_2.25.",
        tag=target.tag("manylinux_2_17"),
        files={
            "wfdemo_overclaim/__init__.py": _init(
                "_overclaim", ["answer", "token"], "An extension that needs GLIBC_2.25."
            ),
            f"wfdemo_overclaim/_overclaim{target.ext_suffix}": so,
        },
    )


PURE_INIT = b'''"""A pure-Python package."""

from .core import answer, double

__all__ = ["answer", "double"]
'''
PURE_CORE = b'''"""The pure package's only module."""


def double(value: int) -> int:
    return 2 * value


def answer() -> int:
    return double(21)
'''
PURE_TEST = b'''"""Tests shipped inside the package."""

from wfdemo_pure import answer, double


def test_answer() -> None:
    assert answer() == 42


def test_double() -> None:
    assert double(2) == 4
'''


def pure_wheel() -> Wheel:
    return Wheel(
        dist="wfdemo_pure",
        summary="A pure-Python wheel with a tests/ folder.",
        tag="py3-none-any",
        files={
            "wfdemo_pure/__init__.py": PURE_INIT,
            "wfdemo_pure/core.py": PURE_CORE,
            "wfdemo_pure/tests/__init__.py": b"",
            "wfdemo_pure/tests/test_core.py": PURE_TEST,
        },
    )


# --------------------------------------------------------------------------- zipping


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode('ascii')}"


def _is_shared_object(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.endswith(".so") or ".so." in base


def wheel_members(wheel: Wheel) -> list[tuple[str, bytes]]:
    """All archive members in order: package files sorted, then METADATA, WHEEL, RECORD."""
    dist_info = f"{wheel.dist}-{VERSION}.dist-info"
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {wheel.dist.replace('_', '-')}\n"
        f"Version: {VERSION}\n"
        f"Summary: {wheel.summary}\n"
        "License: MIT\n"
        "Requires-Python: >=3.8\n"
    )
    wheel_file = (
        "Wheel-Version: 1.0\n"
        f"Generator: {GENERATOR}\n"
        f"Root-Is-Purelib: {'true' if wheel.purelib else 'false'}\n"
        f"Tag: {wheel.tag}\n"
    )
    members = sorted(wheel.files.items())
    members.append((f"{dist_info}/METADATA", metadata.encode()))
    members.append((f"{dist_info}/WHEEL", wheel_file.encode()))
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in members:
        writer.writerow([name, record_hash(data), len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    members.append((f"{dist_info}/RECORD", record.getvalue().encode()))
    return members


def write_wheel(wheel: Wheel, out_dir: Path) -> Path:
    """Write ``wheel`` into ``out_dir`` reproducibly; return the path written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / wheel.filename
    date_time = zip_date_time()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in wheel_members(wheel):
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.create_system = 3  # Unix, so external_attr carries the mode
            mode = 0o755 if _is_shared_object(name) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=9)
    path.write_bytes(buffer.getvalue())
    return path


def build_all(out_dir: Path, work_dir: Path | None = None) -> list[Path]:
    """Compile every sample and write its wheel into ``out_dir``; return the paths, sorted.

    Intermediates (extensions, ``lib/libwfext.so.1``) go to ``work_dir``, by default
    ``sample_wheels/build/``.
    """
    target = current_target()
    work = (work_dir if work_dir is not None else DEFAULT_WORK).resolve()
    work.mkdir(parents=True, exist_ok=True)
    wheels = [
        clean_wheel(target, work),
        debug_wheel(target, work),
        extlib_wheel(target, work),
        overclaim_wheel(target, work),
        pure_wheel(),
    ]
    return sorted(write_wheel(wheel, out_dir) for wheel in wheels)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out", type=Path, default=HERE, help="where to write the wheels (default: %(default)s)"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=DEFAULT_WORK,
        help="intermediate files, e.g. lib/libwfext.so.1 (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    out_dir: Path = args.out
    work_dir: Path = args.work
    try:
        paths = build_all(out_dir, work_dir)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"{path.name}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
