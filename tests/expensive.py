"""Expensive fixtures, built once per run and shared: sample builds, a runner root
filesystem, a builder-stage wheel compiled from a PyPI sdist.

Where a fixture needs something the machine lacks (root, debootstrap, a compiler), it skips
locally and fails in CI (``CI=true``): CI installs everything in .ci/run, so a skip there
would hide a missing install step.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"
DEBIAN_MIRROR = os.environ.get("WHEELFIX_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def unavailable(reason: str) -> None:
    """Skip locally; in CI a missing prerequisite is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample wheels rebuilt from C; ``<dir>/work/lib`` holds libwfext.so.1."""
    if shutil.which("gcc") is None:
        unavailable("gcc is not installed")
    spec = importlib.util.spec_from_file_location("sample_build", REPO / "sample_wheels/build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sample_build"] = module
    spec.loader.exec_module(module)
    root = tmp_path_factory.mktemp("samples")
    module.build_all(root / "wheels", root / "work")
    assert (root / "work" / "lib" / "libwfext.so.1").exists()
    return root


@pytest.fixture(scope="session")
def rootfs() -> Path:
    """A minimal Debian root filesystem with python3 and pip: the runner stage.

    Built with ``debootstrap --variant=minbase`` once and cached in .cache/rootfs/.
    """
    if os.geteuid() != 0:
        unavailable("the runner proof needs root (chroot)")
    if shutil.which("debootstrap") is None:
        unavailable("debootstrap is not installed (apt-get install debootstrap)")
    target = CACHE / "rootfs" / "bookworm-python3-pip"
    if (target / "usr" / "bin" / "python3").exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-pip",
            "bookworm",
            str(partial),
            DEBIAN_MIRROR,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        pytest.fail(f"debootstrap failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    partial.rename(target)
    return target


@pytest.fixture(scope="session")
def pyyaml_builder_wheel() -> Path:
    """PyYAML compiled here from its PyPI sdist against Debian's libyaml-dev: a real
    builder-stage wheel (linux_x86_64, links libyaml-0.so.2, built with -g)."""
    if not Path("/usr/include/yaml.h").exists():
        unavailable("libyaml-dev is not installed")
    built = CACHE / "sdist" / "built"
    wheels = sorted(built.glob("pyyaml-6.0.2-*-linux_*.whl"))
    if wheels:
        return wheels[0]
    sdist_dir = CACHE / "sdist"
    sdist_dir.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [
            *pip,
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "pyyaml==6.0.2",
            "-d",
            str(sdist_dir),
            "-q",
        ],
        check=True,
    )
    (sdist,) = sdist_dir.glob("pyyaml-6.0.2.tar.gz")
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-cache-dir", "-w", str(built), str(sdist), "-q"],
        check=True,
    )
    (wheel,) = built.glob("pyyaml-6.0.2-*-linux_*.whl")
    return wheel


def _installed_stack(name: str) -> Path:
    """``.cache/stacks/NAME-PINS``: the pinned stack of ``tools/stacks.py``, installed once."""
    from tools import stacks

    try:
        return stacks.ensure_stack(name)
    except stacks.StackBuildError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def scientific_stack() -> Path:
    """numpy, scipy, pandas, scikit-learn, matplotlib, Cython and their dependencies, pinned,
    installed for CPython 3.11 with ``pip install --target --only-binary=:all:`` (bytecode
    compiled, as pip does by default) into .cache/stacks/scientific-PINS/ (about 465 MB).
    Read-only: copy it before changing anything."""
    return _installed_stack("scientific")


@pytest.fixture(scope="session")
def web_stack() -> Path:
    """requests, pydantic, sqlalchemy[asyncio], lxml, cryptography, jinja2 and their
    dependencies, installed like ``scientific_stack`` into .cache/stacks/web-PINS/ (about 75 MB).
    Read-only: copy it before changing anything."""
    return _installed_stack("web")


@pytest.fixture(scope="session")
def analytics_stack() -> Path:
    """statsmodels, sympy, networkx, scikit-image, astropy, xarray and their dependencies,
    installed like ``scientific_stack`` into .cache/stacks/analytics-PINS/ (about 620 MB).
    Read-only: copy it before changing anything."""
    return _installed_stack("analytics")
