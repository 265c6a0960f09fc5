"""Real wheels from PyPI, pinned, downloaded on demand into ``<repo>/.cache/wheels/``.

Two sets:

* the *agreement* set (small, ~26 MB in all): wheels the integration tests compare against
  ``auditwheel show``; it covers manylinux with and without vendored libraries, musllinux
  (with and without vendored libraries), aarch64, and a Rust extension;
* the *bench* set: scipy (~36 MB) and torch (~190 MB, a CPU build kept on these machines).

Every wheel is pinned by version, platform, file name, size and sha256, so a cache hit
costs one ``stat`` and a fresh download is verified before it is moved into place.

Use ``fetch("numpy")`` from Python, or ``python tools/realwheels.py [NAMES...]`` from a shell
(names are keys of :data:`WHEELS`, or ``agreement``, ``bench``, ``strip``, ``all``; default
``agreement``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository this file lives in."""

CACHE_ENV = "WHEELFIX_WHEEL_CACHE"
"""Environment variable that, when set, overrides the cache folder."""


@dataclass(frozen=True)
class WheelSpec:
    """One pinned real wheel."""

    key: str
    """Short unique name used by :func:`fetch` and the CLI."""
    name: str
    """Project name on PyPI."""
    version: str
    """Exact pinned version."""
    platform: str | None
    """Value given to ``pip download --platform``; ``None`` for a plain ``pip download``."""
    filename: str
    """The wheel's file name as pip saves it."""
    size: int
    """Size in bytes."""
    sha256: str
    """Hex sha256 of the whole file."""
    note: str
    """What makes this wheel interesting."""
    python: str = "3.11"
    """Value given to ``pip download --python-version`` (the ABI is ``cp`` plus its digits)."""

    @property
    def requirement(self) -> str:
        """``NAME==VERSION`` as given to pip."""
        return f"{self.name}=={self.version}"

    def pip_download_args(self, dest: Path) -> list[str]:
        """The ``pip download`` command (without the interpreter) that produces this wheel."""
        if self.platform is None:
            return ["pip", "download", "--no-deps", self.requirement, "-d", str(dest)]
        return [
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            self.platform,
            "--python-version",
            self.python,
            "--implementation",
            "cp",
            "--abi",
            "cp" + self.python.replace(".", ""),
            "-d",
            str(dest),
            self.requirement,
        ]


WHEELS: dict[str, WheelSpec] = {
    spec.key: spec
    for spec in (
        # ---- agreement set ----------------------------------------------------------------
        WheelSpec(
            key="numpy",
            name="numpy",
            version="2.3.5",
            platform="manylinux_2_28_x86_64",
            filename="numpy-2.3.5-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
            size=16_897_903,
            sha256="8cba086a43d54ca804ce711b2a940b16e452807acebe7852ff327f1ecd49b0d4",
            note="manylinux x86_64, vendors libscipy_openblas and libgfortran in numpy.libs/",
        ),
        WheelSpec(
            key="markupsafe",
            name="markupsafe",
            version="3.0.3",
            platform="manylinux_2_17_x86_64",
            filename=(
                "markupsafe-3.0.3-cp311-cp311-manylinux2014_x86_64."
                "manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"
            ),
            size=22_940,
            sha256="0bf2a864d67e76e5c9a34dc26ec616a66b9888e25e7b9460e1c76d3293bd9dbf",
            note="manylinux x86_64, one small extension, no vendored libraries",
        ),
        WheelSpec(
            key="pyyaml-musllinux",
            name="pyyaml",
            version="6.0.3",
            platform="musllinux_1_2_x86_64",
            filename="pyyaml-6.0.3-cp311-cp311-musllinux_1_2_x86_64.whl",
            size=794_986,
            sha256="37503bfbfc9d2c40b344d06b2199cf0e96e97957ab1c1b546fd4f87e53e5d3e4",
            note="musllinux_1_2 x86_64, libyaml linked statically, no vendored libraries",
        ),
        WheelSpec(
            key="pyyaml-aarch64",
            name="pyyaml",
            version="6.0.3",
            platform="manylinux_2_17_aarch64",
            filename=(
                "pyyaml-6.0.3-cp311-cp311-manylinux2014_aarch64."
                "manylinux_2_17_aarch64.manylinux_2_28_aarch64.whl"
            ),
            size=775_556,
            sha256="10892704fc220243f5305762e276552a0395f7beb4dbf9b14ec8fd43b57f126c",
            note="manylinux aarch64 (foreign architecture on an x86_64 host)",
        ),
        WheelSpec(
            key="psycopg2-binary",
            name="psycopg2-binary",
            version="2.9.11",
            platform="manylinux_2_17_x86_64",
            filename=(
                "psycopg2_binary-2.9.11-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
            ),
            size=4_165_012,
            sha256="2c226ef95eb2250974bf6fa7a842082b31f68385c4f3268370e3f3870e7859ee",
            note="manylinux x86_64, vendors libpq, OpenSSL, Kerberos, LDAP, SASL (14 libraries)",
        ),
        WheelSpec(
            key="psycopg2-binary-musllinux",
            name="psycopg2-binary",
            version="2.9.11",
            platform="musllinux_1_2_x86_64",
            filename="psycopg2_binary-2.9.11-cp311-cp311-musllinux_1_2_x86_64.whl",
            size=3_345_842,
            sha256="cffe9d7697ae7456649617e8bb8d7a45afb71cd13f7ab22af3e5c61f04840908",
            note="musllinux_1_2 x86_64 with vendored libraries",
        ),
        WheelSpec(
            key="orjson",
            name="orjson",
            version="3.11.4",
            platform="manylinux_2_17_x86_64",
            filename="orjson-3.11.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            size=136_160,
            sha256="95713e5fc8af84d8edc75b785d2386f653b63d62b16d681687746734b4dfc0be",
            note="manylinux x86_64, a Rust (PyO3) extension, no vendored libraries",
        ),
        # ---- macOS and Windows set ---------------------------------------------------------
        WheelSpec(
            key="numpy-macos-arm64",
            name="numpy",
            version="2.5.5",
            platform="macosx_11_0_arm64",
            filename="numpy-2.5.5-cp312-cp312-macosx_11_0_arm64.whl",
            size=10_749_920,
            sha256="b96e9ee49ccbdb5676359f852a4497f7a9c5df6c377d8877f5330d6fd3ff42e4",
            note="macOS arm64, vendors libscipy_openblas64_ in numpy/.dylibs/ (@loader_path)",
            python="3.12",
        ),
        WheelSpec(
            key="numpy-macos-x86_64",
            name="numpy",
            version="2.5.5",
            platform="macosx_10_13_x86_64",
            filename="numpy-2.5.5-cp312-cp312-macosx_10_13_x86_64.whl",
            size=14_750_374,
            sha256="7da9a248f149cfbb220c6da964a59c8d051d516704f7758acfb81eb382a05d97",
            note="macOS x86_64 (minimum macOS 10.13), vendors OpenBLAS in numpy/.dylibs/",
            python="3.12",
        ),
        WheelSpec(
            key="numpy-windows",
            name="numpy",
            version="2.5.5",
            platform="win_amd64",
            filename="numpy-2.5.5-cp312-cp312-win_amd64.whl",
            size=12_580_189,
            sha256="919eb420662b0b4ba34889df503f3d5329775b0c1d5f7e5f5af4fba8315b1e30",
            note="win_amd64 repaired by delvewheel: mangled OpenBLAS and msvcp140 in numpy.libs/",
            python="3.12",
        ),
        WheelSpec(
            key="pillow-macos-arm64",
            name="pillow",
            version="13.0.0",
            platform="macosx_11_0_arm64",
            filename="pillow-13.0.0-cp312-cp312-macosx_11_0_arm64.whl",
            size=4_852_329,
            sha256="fc481f742ccda20e9ed760b8f978dff50f2a4e9bc253ac167fb0a05b0783ef52",
            note="macOS arm64 repaired by delocate: 20 dylibs in PIL/.dylibs/",
            python="3.12",
        ),
        WheelSpec(
            key="pillow-macos-x86_64",
            name="pillow",
            version="13.0.0",
            platform="macosx_10_13_x86_64",
            filename="pillow-13.0.0-cp312-cp312-macosx_10_13_x86_64.whl",
            size=5_568_643,
            sha256="67c8d44ad89fa7eb88de5d6ef6199b1e03dd24974f85a67639fc8badb801fe79",
            note="macOS x86_64 repaired by delocate",
            python="3.12",
        ),
        WheelSpec(
            key="pillow-windows",
            name="pillow",
            version="13.0.0",
            platform="win_amd64",
            filename="pillow-13.0.0-cp312-cp312-win_amd64.whl",
            size=7_272_166,
            sha256="ff3fe9eb621fbb9db4c4be33ab946f6bac5f98ab50ca8d3260503653656c961b",
            note="win_amd64, libraries linked statically: imports only system DLLs",
            python="3.12",
        ),
        WheelSpec(
            key="markupsafe-universal2",
            name="markupsafe",
            version="2.1.5",
            platform="macosx_10_9_universal2",
            filename="MarkupSafe-2.1.5-cp312-cp312-macosx_10_9_universal2.whl",
            size=18_215,
            sha256="8dec4936e9c3100156f8a2dc89c4b88d5c435175ff03413b443469c7c8c5f4d1",
            note="macOS universal2: one fat extension (x86_64 10.9 + arm64 11.0)",
            python="3.12",
        ),
        WheelSpec(
            key="charset-normalizer-universal2",
            name="charset-normalizer",
            version="3.5.3",
            platform="macosx_10_9_universal2",
            filename="charset_normalizer-3.5.3-cp37-abi3-macosx_10_9_universal2.whl",
            size=376_114,
            sha256="84356c7b7ddf090e3e4692cb99fc820e6189b5f6662ca7e8589f41095cc8efca",
            note="macOS universal2 abi3: two fat extensions",
            python="3.12",
        ),
        WheelSpec(
            key="pillow",
            name="pillow",
            version="13.0.0",
            platform="manylinux_2_28_x86_64",
            filename="pillow-13.0.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
            size=7_140_667,
            sha256="a625df9a2a5597fa5e5266e01aefc82604bb85d291e3547981e863560d75da6c",
            note="manylinux x86_64, patchelf-modified extensions with DWARF (strip tests)",
        ),
        # ---- bench set --------------------------------------------------------------------
        WheelSpec(
            key="scipy",
            name="scipy",
            version="1.16.3",
            platform="manylinux_2_17_x86_64",
            filename="scipy-1.16.3-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
            size=35_899_798,
            sha256="0151a0749efeaaab78711c78422d413c583b8cdd2011a3c1d6c794938ee9fdb2",
            note="~36 MB, hundreds of extension modules, vendors OpenBLAS and libgfortran",
        ),
        WheelSpec(
            key="torch",
            name="torch",
            version="2.13.0",
            platform=None,
            filename="torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",
            size=191_794_682,
            sha256="6746dbcbeb526eb61330b76b41ff1b4eb848951103a892eeb080dfa2b264667b",
            note="~190 MB CPU build; pip finds it in the machine's local wheel folder",
        ),
        WheelSpec(
            key="cython",
            name="cython",
            version="3.3.1",
            platform="manylinux_2_17_x86_64",
            filename=(
                "cython-3.3.1-cp311-cp311-manylinux2014_x86_64."
                "manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"
            ),
            size=3_483_723,
            sha256="26a28e0ca5dffe9c7d69d1e3a0f78cb74f41b2b6b40771f620262a5d04862a00",
            note="reads its own C/C++/Cython sources (Cython/Utility) whenever it translates",
        ),
    )
}
"""Every known wheel, by key."""

AGREEMENT_SET: tuple[str, ...] = (
    "numpy",
    "markupsafe",
    "pyyaml-musllinux",
    "pyyaml-aarch64",
    "psycopg2-binary",
    "psycopg2-binary-musllinux",
    "orjson",
)
"""Small wheels for the integration tests that compare wheelfix with auditwheel."""

NATIVE_SET: tuple[str, ...] = (
    "numpy-macos-arm64",
    "numpy-macos-x86_64",
    "numpy-windows",
    "pillow-macos-arm64",
    "pillow-macos-x86_64",
    "pillow-windows",
    "markupsafe-universal2",
    "charset-normalizer-universal2",
)
"""macOS and Windows wheels for tests/integration/test_macos_windows.py and the bench."""
BENCH_SET: tuple[str, ...] = ("scipy", "torch")
"""Large wheels for ``bench/bench_check.py``."""

STRIP_SET: tuple[str, ...] = ("pillow", "numpy", "scipy", "torch")
"""Wheels auditwheel already repaired (patchelf-modified), for ``bench/bench_strip.py``."""

SETS: dict[str, tuple[str, ...]] = {
    "agreement": AGREEMENT_SET,
    "bench": BENCH_SET,
    "native": NATIVE_SET,
    "strip": STRIP_SET,
    "all": tuple(WHEELS),
}
"""Set names the CLI accepts in place of wheel keys."""


class FetchError(RuntimeError):
    """A wheel could not be downloaded, or what was downloaded is not the pinned file."""


def cache_dir() -> Path:
    """The folder that holds downloaded wheels (``$WHEELFIX_WHEEL_CACHE`` if set)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    return REPO_ROOT / ".cache" / "wheels"


def spec(name: str) -> WheelSpec:
    """Look a wheel up by key, or by project name when only one wheel has that name."""
    if name in WHEELS:
        return WHEELS[name]
    matches = [s for s in WHEELS.values() if s.name == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        keys = ", ".join(s.key for s in matches)
        raise KeyError(f"{name!r} is ambiguous: use one of {keys}")
    raise KeyError(f"unknown wheel {name!r}: known keys are {', '.join(WHEELS)}")


def expand(names: Iterable[str]) -> list[WheelSpec]:
    """Turn keys, project names and set names into specs, in order, without repeats."""
    out: list[WheelSpec] = []
    for name in names:
        for key in SETS.get(name, (name,)):
            found = spec(key)
            if found not in out:
                out.append(found)
    return out


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _download(wheel: WheelSpec, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest_dir) as tmp:
        tmp_dir = Path(tmp)
        cmd = [sys.executable, "-m", *wheel.pip_download_args(tmp_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise FetchError(f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{tail}")
        got = sorted(p.name for p in tmp_dir.iterdir() if p.name.endswith(".whl"))
        if got != [wheel.filename]:
            raise FetchError(
                f"pip download {wheel.requirement} saved {got}, expected [{wheel.filename!r}]"
            )
        downloaded = tmp_dir / wheel.filename
        actual = sha256_file(downloaded)
        if actual != wheel.sha256:
            raise FetchError(
                f"{wheel.filename}: sha256 {actual} does not match the pinned {wheel.sha256}"
            )
        final = dest_dir / wheel.filename
        downloaded.replace(final)
        return final


def fetch(name: str, *, dest_dir: Path | None = None) -> Path:
    """Return the path of a pinned wheel, downloading it first if it is not cached.

    ``name`` is a key of :data:`WHEELS` (or a project name that only one wheel has).
    A cached file whose size differs from the pinned size is downloaded again.
    """
    wheel = spec(name)
    folder = cache_dir() if dest_dir is None else dest_dir
    path = folder / wheel.filename
    try:
        if path.stat().st_size == wheel.size:
            return path
    except FileNotFoundError:
        pass
    return _download(wheel, folder)


def fetch_many(names: Iterable[str]) -> list[Path]:
    """:func:`fetch` for each of ``names`` (keys, project names or set names)."""
    return [fetch(wheel.key) for wheel in expand(names)]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: download the named wheels (default: the agreement set) and print their paths."""
    parser = argparse.ArgumentParser(
        prog="python tools/realwheels.py",
        description="Download pinned real wheels into the cache and print their paths.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"wheel keys or set names ({', '.join(SETS)}); default: agreement",
    )
    parser.add_argument("--list", action="store_true", help="list known wheels and exit")
    args = parser.parse_args(argv)

    if args.list:
        for wheel in WHEELS.values():
            sets = ",".join(s for s in ("agreement", "bench") if wheel.key in SETS[s])
            print(f"{wheel.key:28} {sets:10} {wheel.size:>12,}  {wheel.filename}")
        return 0

    try:
        wheels = expand(args.names or ["agreement"])
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    status = 0
    for wheel in wheels:
        try:
            path = fetch(wheel.key)
        except FetchError as exc:
            print(f"error: {wheel.key}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}\t{path.stat().st_size}")
    return status


if __name__ == "__main__":
    sys.exit(main())
