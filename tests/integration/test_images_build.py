"""The real container images of tests/images.py: built with buildah, readable as archives,
and — run by hand, layer by layer — what their Containerfiles say they are.

These tests check the fixtures, not ``wheelfix image``; its own tests compare against them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.images import (
    CONTEXTS,
    BuiltImage,
    flatten_image,
    hand_count_wasted,
    image_config,
    iter_layers,
)

pytestmark = [pytest.mark.slow, pytest.mark.network]

CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
ROOT_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
IMAGE_FIXTURES = [
    "base_image",
    "naive_image",
    "fixed_image",
    "broken_runner_image",
    "multistage_image",
]


@pytest.fixture(params=IMAGE_FIXTURES)
def image(request: pytest.FixtureRequest) -> BuiltImage:
    built: BuiltImage = request.getfixturevalue(request.param)
    return built


def steps(containerfile: Path) -> list[str]:
    """The instructions of the Containerfile's last stage, FROM left out."""
    lines = [
        line.strip()
        for line in containerfile.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    last_from = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    return lines[last_from + 1 :]


def layer_files(archive: Path) -> list[dict[str, int]]:
    """Per layer: regular file path -> size."""
    return [
        {m.name.lstrip("./"): m.size for m in layer.getmembers() if m.isreg()}
        for layer in iter_layers(archive)
    ]


@pytest.fixture
def flattened(tmp_path: Path) -> Iterator[list[Path]]:
    """Folders for flattened images, removed after the test (each is a few hundred MB)."""
    made: list[Path] = []
    yield made
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


def run_in(root: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The image's python3 in the flattened root (chroot), with a minimal environment."""
    return subprocess.run(
        [CHROOT, str(root), "/usr/bin/python3", "-I", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=ROOT_ENV,
        check=False,
        timeout=120,
    )


def test_archives_open_and_name_the_image(image: BuiltImage) -> None:
    assert image.docker_archive.is_file()
    assert image.oci_archive.is_file()
    with tarfile.open(image.docker_archive) as tar:
        names = set(tar.getnames())
        assert "manifest.json" in names
        manifest = tar.extractfile("manifest.json")
        assert manifest is not None
        (entry,) = json.load(manifest)
    assert entry["RepoTags"] == [f"{image.name}:latest"]
    with tarfile.open(image.oci_archive) as tar:
        names = set(tar.getnames())
    assert {"index.json", "oci-layout"} <= names
    # Both archives hold the same image: the same configuration, the same history.
    docker_config, docker_id = image_config(image.docker_archive)
    oci_config, oci_id = image_config(image.oci_archive)
    assert docker_id == oci_id == image.image_id
    assert [h.get("created_by") for h in docker_config["history"]] == image.history
    assert oci_config["history"] == docker_config["history"]
    assert image.history[0].startswith("/bin/sh -c #(nop) ADD file:")  # the rootfs tar


def test_every_image_is_its_own(request: pytest.FixtureRequest) -> None:
    images = [request.getfixturevalue(name) for name in IMAGE_FIXTURES]
    assert len({image.image_id for image in images}) == len(images)
    assert len({image.name for image in images}) == len(images)


def test_base_image(base_image: BuiltImage) -> None:
    config, _ = image_config(base_image.docker_archive)
    assert config["config"]["Cmd"] == ["python3"]
    assert config["architecture"] == "amd64"
    (layer,) = layer_files(base_image.docker_archive)
    assert "usr/bin/python3.11" in layer
    assert any(p.startswith("usr/lib/python3/dist-packages/pip/") for p in layer)
    # Runtime state and test scratch space stayed out.
    assert not [p for p in layer if p.split("/")[0] in {"proc", "sys", "dev", "tmp"}]
    assert "etc/resolv.conf" not in layer


def test_naive_history_names_each_step(naive_image: BuiltImage) -> None:
    wanted = steps(CONTEXTS / "naive.Containerfile")
    history = naive_image.history[-len(wanted) :]
    base = naive_image.history[: -len(wanted)]
    assert base[0].startswith("/bin/sh -c #(nop) ADD file:")
    assert base[-1] == '/bin/sh -c #(nop) CMD ["python3"]'
    for step, created_by in zip(wanted, history, strict=True):
        instruction, _, argument = step.partition(" ")
        if instruction == "RUN":
            assert created_by == f"/bin/sh -c {argument}"
        elif instruction == "COPY":
            _source, destination = argument.split()
            assert created_by.startswith("/bin/sh -c #(nop) COPY dir:")
            assert created_by.rstrip().endswith(f" in {destination}")
        else:
            assert created_by.replace(" ", "") == f"/bin/sh-c#(nop){step}".replace(" ", "")


def test_naive_image_has_every_mistake(naive_image: BuiltImage) -> None:
    layers = layer_files(naive_image.docker_archive)
    everything = {path for layer in layers for path in layer}
    # No .dockerignore: the checkout's clutter is in /app.
    for clutter in (
        "app/.git/HEAD",
        "app/venv/pyvenv.cfg",
        "app/notebooks/explore.ipynb",
        "app/.idea/workspace.xml",
        "app/wheelhouse/six-1.17.0-py2.py3-none-any.whl",
    ):
        assert clutter in everything, clutter
    git_objects = [p for p in everything if p.startswith("app/.git/objects/")]
    assert len(git_objects) == 8  # 3 blobs, 3 trees, 2 commits
    # The wheelhouse and pip's cache in their layers, hidden by whiteouts in a later one.
    wheelhouse_layer = layers[1]
    assert {p.split("/")[0] for p in wheelhouse_layer} == {"wheelhouse"}
    assert any(p.startswith("wheelhouse/pyyaml-6.0.2-") for p in wheelhouse_layer)
    assert any(p.startswith("root/.cache/pip/wheels/") for p in layers[3])
    rm_layer = [layer.getnames() for layer in iter_layers(naive_image.docker_archive)][4]
    assert {".wh.wheelhouse", "root/.cache/.wh.pip"} <= set(rm_layer)
    # The dpkg database rewritten by the last RUN (its contents: see the flattened test).
    assert "var/lib/dpkg/status" in layers[5]


def test_hand_count_of_the_tombstones(
    naive_image: BuiltImage, fixed_image: BuiltImage, multistage_image: BuiltImage
) -> None:
    layers = layer_files(naive_image.docker_archive)
    expected = sum(
        size
        for layer in layers
        for path, size in layer.items()
        if path.startswith(("wheelhouse/", "root/.cache/pip/"))
    )
    wasted = hand_count_wasted(naive_image.docker_archive)
    assert wasted == expected
    # The wheelhouse (PyYAML's builder wheel alone is over 600 KB) and the cached docopt wheel.
    assert wasted > 700_000
    # The same count from the OCI archive and from the OCI layout folder.
    assert hand_count_wasted(naive_image.oci_archive) == wasted
    # Over everything: also the base layer's /var/lib/dpkg/status, overwritten by the append.
    base_status = layers[0]["var/lib/dpkg/status"]
    everything = hand_count_wasted(naive_image.docker_archive, under=None)
    assert everything == wasted + base_status
    assert hand_count_wasted(naive_image.docker_archive, under=["var/lib/dpkg"]) == base_status
    # Done right: nothing tombstoned, nothing overwritten.
    for image in (fixed_image, multistage_image):
        assert hand_count_wasted(image.docker_archive, under=None) == 0, image.name


def test_oci_layout_dir(oci_layout_dir: Path, naive_image: BuiltImage) -> None:
    layout = json.loads((oci_layout_dir / "oci-layout").read_text())
    assert layout["imageLayoutVersion"] == "1.0.0"
    index = json.loads((oci_layout_dir / "index.json").read_text())
    (manifest,) = index["manifests"]
    assert manifest["annotations"]["org.opencontainers.image.ref.name"] == naive_image.name
    _config, digest = image_config(oci_layout_dir)
    assert digest == naive_image.image_id
    assert hand_count_wasted(oci_layout_dir) == hand_count_wasted(naive_image.docker_archive)


def test_fixed_image_is_clean(fixed_image: BuiltImage) -> None:
    layers = layer_files(fixed_image.docker_archive)
    assert len(layers) == 3  # base, COPY app/, RUN pip install
    app = layers[1]
    assert "app/app.py" in app
    assert not [p for p in app if p.split("/")[1] in {".git", "venv", "notebooks", ".idea"}]
    installed = layers[2]
    assert not [p for p in installed if p.startswith(("wheelhouse", "root/.cache"))]
    assert any("/dist-packages/yaml/_yaml." in p for p in installed)
    grafted = [p for p in installed if "/dist-packages/pyyaml.libs/libyaml" in p]
    assert len(grafted) == 1, sorted(p for p in installed if "yaml" in p)


def test_multistage_history(multistage_image: BuiltImage) -> None:
    wanted = steps(CONTEXTS / "multistage.Containerfile")
    assert multistage_image.history[-len(wanted)] == f"/bin/sh -c {wanted[0].partition(' ')[2]}"
    # The builder stage is not in the image: no wheelfix, no wheelhouse, no libyaml copy.
    layers = layer_files(multistage_image.docker_archive)
    assert len(layers) == 2
    assert not [
        p for p in layers[1] if "wheelfix" in p or p.startswith(("wheels", "usr/local/lib/libyaml"))
    ]


@pytest.mark.parametrize(
    ("fixture", "loads"),
    [
        ("fixed_image", True),
        ("multistage_image", True),
        ("broken_runner_image", False),
        ("naive_image", False),
    ],
)
def test_yaml_extension_in_the_image(
    request: pytest.FixtureRequest, flattened: list[Path], tmp_path: Path, fixture: str, loads: bool
) -> None:
    """Run the image's own python3 on its flattened root filesystem (chroot): the repaired
    PyYAML loads its libyaml extension, the builder wheel's extension cannot."""
    image: BuiltImage = request.getfixturevalue(fixture)
    root = tmp_path / "root"
    flattened.append(root)
    flatten_image(image.docker_archive, root)
    out = run_in(root, "-c", "import yaml, yaml._yaml; print(yaml.__with_libyaml__)")
    if loads:
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "True"
    else:
        assert out.returncode != 0
        assert "libyaml-0.so.2: cannot open shared object file" in out.stderr
        # PyYAML itself still imports: it falls back to pure Python and says nothing.
        quiet = run_in(root, "-c", "import yaml; print(yaml.__with_libyaml__)")
        assert quiet.returncode == 0, quiet.stderr
        assert quiet.stdout.strip() == "False"
    if fixture == "naive_image":
        status = (root / "var/lib/dpkg/status").read_text()
        assert "\n\nPackage: libyaml-dev\nStatus: install ok installed\n" in status
        assert "\n\nPackage: gcc-12\nStatus: install ok installed\n" in status
        assert not (root / "wheelhouse").exists()
        assert not (root / "root/.cache/pip").exists()
    if fixture in {"naive_image", "fixed_image"}:  # the application itself runs
        app = run_in(root, "/app/app.py", stdin="workers: 4\n")
        assert app.returncode == 0, app.stderr
        first = json.loads(app.stdout.splitlines()[0])
        assert first == {"data": {"workers": 4}, "libyaml": loads}


def test_wheelfix_ran_inside_the_build(
    multistage_image: BuiltImage, flattened: list[Path], tmp_path: Path
) -> None:
    """The repaired wheel came out of the builder stage: its grafted libyaml is in the image,
    the builder wheel's tag is not."""
    root = tmp_path / "root"
    flattened.append(root)
    flatten_image(multistage_image.docker_archive, root)
    site = root / "usr/local/lib/python3.11/dist-packages"
    (info,) = site.glob("pyyaml-6.0.2.dist-info")
    wheel_text = (info / "WHEEL").read_text()
    assert "linux_x86_64" not in wheel_text.replace("manylinux", "")
    assert list((site / "pyyaml.libs").glob("libyaml-*.so*"))
