"""wheelfix image on real images built with buildah (tests/images.py): the naive one, the
fixed one, a multi-stage one where wheelfix repairs in the builder, and a runner that lacks
a library."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tools.images import BuiltImage, hand_count_wasted
from wheelfix.cli.app import cli
from wheelfix.containers.image import analyze_image

pytestmark = pytest.mark.slow


def codes(report: object) -> set[str]:
    return {f.code for f in report.findings}  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["docker_archive", "oci_archive"])
def test_naive_image(naive_image: BuiltImage, kind: str) -> None:
    archive: Path = getattr(naive_image, kind)
    report = analyze_image(archive)
    # Wasted bytes match a count made by hand from the layer tars.
    assert report.wasted == hand_count_wasted(archive, under=None)
    tombstones = [f for f in report.findings if f.code == "WF701" and "removed" in f.message]
    assert any("/wheelhouse" in (f.path or "") for f in tombstones)
    assert any("rm -rf" in f.message for f in tombstones)  # names the later RUN
    assert {"WF202", "WF703", "WF704"} <= codes(report)
    (missing,) = [f for f in report.findings if f.code == "WF202"]
    assert "libyaml-0.so.2" in missing.message and "in this image's library path" in missing.message
    assert report.app_bytes > 0 and report.base_bytes > report.app_bytes


def test_fixed_image_has_no_waste_and_imports(fixed_image: BuiltImage) -> None:
    report = analyze_image(fixed_image.docker_archive)
    assert not {"WF202", "WF702", "WF703"} & codes(report)
    assert report.wasted == hand_count_wasted(fixed_image.docker_archive, under=None)


def test_broken_runner_is_flagged(broken_runner_image: BuiltImage) -> None:
    report = analyze_image(broken_runner_image.docker_archive)
    assert "WF202" in codes(report)
    assert report.exit_code == 1


def test_multistage_runner_is_clean(multistage_image: BuiltImage) -> None:
    report = analyze_image(multistage_image.oci_archive)
    assert "WF202" not in codes(report)
    assert "WF704" not in codes(report)


def test_oci_layout_folder_gives_the_same_answer(
    oci_layout_dir: Path, naive_image: BuiltImage
) -> None:
    folder = analyze_image(oci_layout_dir)
    archive = analyze_image(naive_image.docker_archive)
    assert (folder.written, folder.final, folder.wasted) == (
        archive.written,
        archive.final,
        archive.wasted,
    )


def test_cli_gate_and_json(naive_image: BuiltImage) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["image", "--fail-on", "never", str(naive_image.docker_archive)])
    assert ok.exit_code == 0, ok.output
    assert "wasted" in ok.stdout and "efficiency" in ok.stdout
    gate = runner.invoke(
        cli,
        [
            "image",
            "--fail-on",
            "never",
            "--highest-wasted-bytes",
            "1K",
            str(naive_image.docker_archive),
        ],
    )
    assert gate.exit_code == 0  # --fail-on never: reported, not failed
    strict = runner.invoke(
        cli, ["image", "--highest-wasted-bytes", "1K", str(naive_image.docker_archive)]
    )
    assert strict.exit_code == 1
    assert "WF705" in strict.stdout
