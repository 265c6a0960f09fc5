"""Real wheels from PyPI, pinned, downloaded on demand into ``<repo>/.cache/wheels/``.

Two sets:

* the *agreement* set (small, ~26 MB in all): wheels the integration tests compare against
  ``auditwheel show``; it covers manylinux with and without vendored libraries, musllinux
  (with and without vendored libraries), aarch64, and a Rust extension;
* the *bench* set: scipy (~36 MB) and torch (~190 MB, a CPU build kept on these machines).

Every wheel is pinned by version, platform, file name, size and sha256, so a cache hit
costs one ``stat`` and a fresh download is verified before it is moved into place.

Use ``fetch("numpy")`` from Python, or ``python bench/wheels.py [NAMES...]`` from a shell
(names are keys of :data:`WHEELS`, or ``agreement``, ``bench``, ``all``; default
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
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
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

BENCH_SET: tuple[str, ...] = ("scipy", "torch")
"""Large wheels for ``bench/bench_check.py``."""

SETS: dict[str, tuple[str, ...]] = {
    "agreement": AGREEMENT_SET,
    "bench": BENCH_SET,
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
        prog="python bench/wheels.py",
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
