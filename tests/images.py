"""Session fixtures for the real container images (a pytest plugin module, registered in
conftest.py): ``base_image``, ``naive_image``, ``fixed_image``, ``broken_runner_image``,
``multistage_image``, ``oci_layout_dir``. What each image holds and how it is built is in
``tools/images.py``, the build system these fixtures call.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar, cast

import pytest

from tools.images import (
    APP_SDISTS,
    APP_WHEELS,
    BUILDAH_DIR,
    CONTEXTS,
    ROOTFS_EMPTY_DIRS,
    ROOTFS_LEFT_OUT,
    BuildahStore,
    BuildError,
    BuiltImage,
    ImageSpec,
    Unavailable,
    build_image,
    copy_files,
    digests,
    file_digest,
    host_libyaml,
    make_app,
    pypi_files,
    repaired_wheel,
    rootfs_fingerprint,
    run_step,
    tree_digest,
    wheel_digest,
    wheelfix_deps,
    wheelfix_source_digest,
    wheelfix_wheel,
)

F = TypeVar("F", bound=Callable[..., object])


def _reported(fixture: F) -> F:
    """A missing prerequisite skips locally and fails in CI; a failed build step fails."""

    @functools.wraps(fixture)
    def run(*args: object, **kwargs: object) -> object:
        from expensive import unavailable  # imported late: see expensive.py (assert rewriting)

        try:
            return fixture(*args, **kwargs)
        except Unavailable as exc:
            unavailable(str(exc))
        except BuildError as exc:
            pytest.fail(str(exc))
        raise AssertionError  # unreachable: both branches above raise

    return cast(F, run)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def buildah_store() -> Iterator[BuildahStore]:
    """The session's private buildah storage (made only if something must be built)."""
    store = BuildahStore(BUILDAH_DIR)
    try:
        yield store
    finally:
        store.remove()


def _app_wheels() -> list[Path]:
    return sorted(pypi_files(APP_WHEELS).glob("*.whl"))


def _venv_wheels() -> list[Path]:
    """What the developer's venv/ has installed: six."""
    return [w for w in _app_wheels() if w.name.startswith("six-")]


def _app_sdists() -> list[Path]:
    return sorted(pypi_files(APP_SDISTS, sdist=True).glob("*.tar.gz"))


def _app_inputs(wheelhouse: Sequence[Path]) -> dict[str, str]:
    return {
        "app": tree_digest(CONTEXTS / "app"),
        **{f"wheelhouse/{k}": v for k, v in digests(wheelhouse).items()},
    }


@pytest.fixture(scope="session")
@_reported
def base_image(rootfs: Path, buildah_store: BuildahStore) -> BuiltImage:
    """``localhost/wf-base``: FROM scratch, ADD rootfs.tar /, CMD ["python3"]."""

    def context(ctx: Path) -> None:
        cmd = ["tar", "--create", "--file", str(ctx / "rootfs.tar"), "--numeric-owner"]
        cmd += ["--sort=name", "-C", str(rootfs)]
        cmd += [f"--exclude=./{d}/*" for d in ROOTFS_EMPTY_DIRS]
        cmd += [f"--exclude=./{p}" for p in ROOTFS_LEFT_OUT]
        run_step([*cmd, "."], "tar of the rootfs")

    spec = ImageSpec(
        "base",
        CONTEXTS / "base.Containerfile",
        {"rootfs.tar": rootfs_fingerprint(rootfs)},
        context,
    )
    return build_image(spec, buildah_store)


@pytest.fixture(scope="session")
@_reported
def naive_image(
    base_image: BuiltImage, pyyaml_builder_wheel: Path, buildah_store: BuildahStore
) -> BuiltImage:
    """``localhost/wf-naive``: see naive.Containerfile. The PyYAML it installs is the
    unrepaired builder wheel, so its ``yaml._yaml`` cannot load here either."""
    wheelhouse = [*_app_wheels(), *_app_sdists(), pyyaml_builder_wheel]
    status = CONTEXTS / "leftover-packages.status"

    def context(ctx: Path) -> None:
        make_app(ctx, _venv_wheels())
        copy_files(wheelhouse, ctx / "wheelhouse")
        copy_files([status], ctx / "docker")

    inputs = {**_app_inputs(wheelhouse), "docker/leftover-packages.status": file_digest(status)}
    spec = ImageSpec(
        "naive",
        CONTEXTS / "naive.Containerfile",
        inputs,
        context,
        parents=[base_image],
        oci_layout=True,
    )
    return build_image(spec, buildah_store)


def _runner_spec(short: str, base: BuiltImage, pyyaml: Path, pyyaml_digest: str) -> ImageSpec:
    """fixed.Containerfile with ``pyyaml`` in the wheelhouse (fixed and broken-runner)."""
    wheelhouse = [*_app_wheels(), *_app_sdists(), pyyaml]
    dockerignore = CONTEXTS / "fixed.dockerignore"

    def context(ctx: Path) -> None:
        make_app(ctx / "app", _venv_wheels())
        copy_files(wheelhouse, ctx / "wheelhouse")
        shutil.copy2(dockerignore, ctx / ".dockerignore")

    inputs = _app_inputs(wheelhouse)
    inputs[".dockerignore"] = file_digest(dockerignore)
    inputs[f"wheelhouse/{pyyaml.name}"] = pyyaml_digest
    return ImageSpec(short, CONTEXTS / "fixed.Containerfile", inputs, context, parents=[base])


@pytest.fixture(scope="session")
@_reported
def fixed_image(
    base_image: BuiltImage, pyyaml_builder_wheel: Path, buildah_store: BuildahStore
) -> BuiltImage:
    """``localhost/wf-fixed``: see fixed.Containerfile; PyYAML repaired on this host with
    ``wheelfix repair --strip`` (libyaml grafted in, so ``yaml.__with_libyaml__`` is true)."""
    pyyaml = repaired_wheel(pyyaml_builder_wheel, wheelfix_source_digest())
    # Keyed by the repaired wheel's contents, not by wheelfix's source or zip timestamps: an
    # edit to wheelfix that repairs PyYAML the same way does not rebuild this image.
    spec = _runner_spec("fixed", base_image, pyyaml, wheel_digest(pyyaml))
    return build_image(spec, buildah_store)


@pytest.fixture(scope="session")
@_reported
def broken_runner_image(
    base_image: BuiltImage, pyyaml_builder_wheel: Path, buildah_store: BuildahStore
) -> BuiltImage:
    """``localhost/wf-broken-runner``: the fixed recipe with the UNREPAIRED PyYAML builder
    wheel; ``yaml/_yaml.cpython-311-x86_64-linux-gnu.so`` needs libyaml-0.so.2, which the
    image does not have (PyYAML itself imports: it falls back to pure Python)."""
    digest = file_digest(pyyaml_builder_wheel)
    spec = _runner_spec("broken-runner", base_image, pyyaml_builder_wheel, digest)
    return build_image(spec, buildah_store)


@pytest.fixture(scope="session")
@_reported
def multistage_image(
    base_image: BuiltImage, pyyaml_builder_wheel: Path, buildah_store: BuildahStore
) -> BuiltImage:
    """``localhost/wf-multistage``: see multistage.Containerfile. The builder stage runs
    ``wheelfix repair --strip`` (a wheel of this working tree); the runner stage installs the
    repaired wheel. Rebuilt whenever wheelfix's source changes."""
    source = wheelfix_source_digest()
    libyaml = host_libyaml()
    deps = sorted(wheelfix_deps().glob("*.whl"))

    def context(ctx: Path) -> None:
        copy_files([*deps, wheelfix_wheel(source)], ctx / "wheelhouse")
        (ctx / "libs").mkdir()
        shutil.copyfile(libyaml, ctx / "libs" / "libyaml-0.so.2")
        copy_files([pyyaml_builder_wheel], ctx / "wheels")

    inputs = {
        "wheelfix-source": source,
        "libs/libyaml-0.so.2": file_digest(libyaml),
        **{f"wheelhouse/{k}": v for k, v in digests(deps).items()},
        **{f"wheels/{k}": v for k, v in digests([pyyaml_builder_wheel]).items()},
    }
    spec = ImageSpec(
        "multistage",
        CONTEXTS / "multistage.Containerfile",
        inputs,
        context,
        parents=[base_image],
    )
    return build_image(spec, buildah_store)


@pytest.fixture(scope="session")
@_reported
def oci_layout_dir(naive_image: BuiltImage) -> Path:
    """The naive image as an OCI image layout folder (oci-layout, index.json, blobs/),
    made by ``buildah push localhost/wf-naive oci:DIR:localhost/wf-naive``. Read-only."""
    return naive_image.docker_archive.parent / "oci-layout"
