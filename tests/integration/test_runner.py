"""The runner proof in a real minimal Debian root filesystem (debootstrap + chroot).

The root filesystem has python3 and pip, and nothing a builder stage has: no compiler, no
``-dev`` packages, none of the builder's libraries. Unrepaired builder-stage wheels must
fail there; repaired ones must import and work.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import wheelfix
from wheelfix.verify.runner import prove_in_root
from wheelfix.wheels.repair import repair

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"


def sample(prefix: str) -> Path:
    (path,) = (REPO / "sample_wheels").glob(f"{prefix}-*.whl")
    return path


def elf_bytes(wheel: Path) -> int:
    with zipfile.ZipFile(wheel) as zf:
        return sum(i.file_size for i in zf.infolist() if zf.read(i)[:4] == b"\x7fELF")


def test_outside_library_fails_unrepaired_and_works_repaired(
    rootfs: Path, sample_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = sample("wfdemo_extlib")
    before = prove_in_root(original, rootfs)
    assert not before.ok
    assert "libwfext.so.1" in before.detail

    monkeypatch.setenv("LD_LIBRARY_PATH", str(sample_build / "work" / "lib"))
    (result,) = repair(original, tmp_path, strip="unneeded").results
    assert result.output is not None, result.error
    after = prove_in_root(
        Path(result.output),
        rootfs,
        code="import wfdemo_extlib\nassert wfdemo_extlib.answer() == 42",
    )
    assert after.ok, after.detail
    assert after.python == "3.11"


def test_stripped_wheel_still_imports_and_works(rootfs: Path, tmp_path: Path) -> None:
    (result,) = repair(sample("wfdemo_debug"), tmp_path, strip="all").results
    assert result.output is not None, result.error
    assert elf_bytes(Path(result.output)) < elf_bytes(sample("wfdemo_debug")) * 0.6
    proof = prove_in_root(
        Path(result.output), rootfs, code="import wfdemo_debug\nassert wfdemo_debug.answer() == 42"
    )
    assert proof.ok, proof.detail


def test_verify_in_through_the_cli(rootfs: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wheelfix.cli.app import cli

    args = [
        "repair",
        "--strip",
        "--verify-in",
        str(rootfs),
        "-w",
        str(tmp_path),
        str(sample("wfdemo_debug")),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f"imports in {rootfs}" in result.stdout


def test_pyyaml_from_sdist_needs_repair(
    rootfs: Path, pyyaml_builder_wheel: Path, tmp_path: Path
) -> None:
    """A real builder-stage wheel: PyYAML compiled against Debian's libyaml-dev, with -g."""
    (pre,) = wheelfix.check(pyyaml_builder_wheel).results
    assert "libyaml-0.so.2" in pre.external_libraries
    assert pre.sizes.debug_info > 0.5 * pre.sizes.elf

    before = prove_in_root(pyyaml_builder_wheel, rootfs)
    assert not before.ok
    assert "libyaml-0.so.2" in before.modules["yaml._yaml"]  # type: ignore[operator]

    (result,) = repair(pyyaml_builder_wheel, tmp_path, strip="unneeded").results
    assert result.output is not None, result.error
    assert set(result.grafted) == {"libyaml-0.so.2"}
    after = prove_in_root(
        Path(result.output),
        rootfs,
        code="import yaml\nassert yaml.__with_libyaml__\n"
        "assert yaml.load('a: [1, 2]', Loader=yaml.CLoader) == {'a': [1, 2]}",
    )
    assert after.ok, after.detail
    # The binaries of a builder-stage wheel shrink by at least 70 % (grafted library included).
    assert elf_bytes(Path(result.output)) <= 0.3 * pre.sizes.elf


def test_docker_guide_replayed(rootfs: Path, pyyaml_builder_wheel: Path, tmp_path: Path) -> None:
    """docs/docker.md, step by step: builder `pip wheel` + `wheelfix repair --strip`;
    runner `pip install --no-index --no-cache-dir` from the wheelhouse, no -dev packages."""
    wheelhouse = tmp_path / "wheelhouse"
    (result,) = repair(pyyaml_builder_wheel, wheelhouse, strip="unneeded").results
    assert result.output is not None, result.error
    inside = rootfs / "wheelhouse-test"
    app = rootfs / "opt" / "app-test"
    shutil.rmtree(inside, ignore_errors=True)
    shutil.rmtree(app, ignore_errors=True)
    shutil.copytree(wheelhouse, inside)
    try:
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        install = subprocess.run(
            [
                CHROOT,
                str(rootfs),
                "python3",
                "-m",
                "pip",
                "install",
                "--no-index",
                "--no-cache-dir",
                "--target",
                "/opt/app-test",
                "--find-links",
                "/wheelhouse-test",
                "pyyaml",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert install.returncode == 0, install.stderr
        run = subprocess.run(
            [
                CHROOT,
                str(rootfs),
                "python3",
                "-c",
                "import yaml; assert yaml.__with_libyaml__; print(yaml.dump({'ok': True}, "
                "Dumper=yaml.CDumper).strip())",
            ],
            capture_output=True,
            text=True,
            env={**env, "PYTHONPATH": "/opt/app-test"},
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "ok: true"
        # No compiler and no libyaml in the runner: the wheel carried what it needs.
        assert not (rootfs / "usr" / "bin" / "gcc").exists()
        assert not list((rootfs / "usr" / "lib").rglob("libyaml-0.so*"))
    finally:
        shutil.rmtree(inside, ignore_errors=True)
        shutil.rmtree(app, ignore_errors=True)


def test_failed_proof_leaves_an_existing_output_alone(
    rootfs: Path, sample_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--force and a proof that fails: the previous wheel at the target name survives."""
    monkeypatch.setenv("LD_LIBRARY_PATH", str(sample_build / "work" / "lib"))
    original = sample("wfdemo_extlib")
    (first,) = repair(original, tmp_path).results
    assert first.output is not None, first.error
    before = Path(first.output).read_bytes()
    # Excluding the library the extension needs: the wheel is written, but cannot import.
    (again,) = repair(
        original, tmp_path, exclude=["libwfext*"], verify_in=rootfs, force=True
    ).results
    assert again.error is not None and "runner proof failed" in again.error
    assert Path(first.output).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [Path(first.output).name]
