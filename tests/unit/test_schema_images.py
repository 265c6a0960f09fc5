"""The image and Dockerfile JSON documents against their published schemas.

Each schema lives twice, in ``docs/schema/`` and (shipped) in ``wheelfix/schema/``. Real
documents are validated: ``analyze_image`` on a tiny ``docker save`` archive built here and,
when the image fixtures have cached it, on the naive test image; ``analyze_dockerfile`` on a
Dockerfile written here. The command line's ``--format json`` output is validated too.
"""

from __future__ import annotations

import copy
import io
import json
import tarfile
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from schemas import (
    Document,
    docs_schema,
    load_schema,
    package_schema,
    round_trip,
    schema_errors,
)

from tools.images import BuiltImage
from wheelfix.cli.app import cli
from wheelfix.containers.dockerfile import analyze_dockerfile
from wheelfix.containers.image import analyze_image
from wheelfix.wheels.results import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]
NAMES = ("image", "dockerfile")
CHECK_SCHEMA = REPO / "docs" / "schema" / "check.schema.json"


DOCKERFILE = """\
FROM python:3.11
WORKDIR /app
COPY . .
RUN apt-get update && apt-get install -y gcc libpq-dev
RUN pip install -r requirements.txt
RUN rm -rf /root/.cache/pip \\
    && rm -rf /var/lib/apt/lists/*
CMD ["python", "app.py"]
"""


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _layer(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo("app")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, data in files.items():
            _add(tar, name, data)
    return buffer.getvalue()


def _tiny_docker_save(path: Path) -> Path:
    """Layer 0 adds app/a.txt (10 bytes) and app/b.txt; layer 1 removes app/a.txt."""
    layers = [
        _layer({"app/a.txt": b"a" * 10, "app/b.txt": b"b" * 4}),
        _layer({"app/.wh.a.txt": b""}),
    ]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "history": [
            {"created_by": "/bin/sh -c #(nop) COPY dir:0123 in /app "},
            {"created_by": "/bin/sh -c rm /app/a.txt"},
        ],
    }
    manifest = [
        {
            "Config": "config.json",
            "RepoTags": ["tiny:latest"],
            "Layers": ["layer0/layer.tar", "layer1/layer.tar"],
        }
    ]
    with tarfile.open(path, "w") as tar:
        _add(tar, "manifest.json", json.dumps(manifest).encode())
        _add(tar, "config.json", json.dumps(config).encode())
        _add(tar, "layer0/layer.tar", layers[0])
        _add(tar, "layer1/layer.tar", layers[1])
    return path


@pytest.fixture(scope="module")
def tiny_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_docker_save(tmp_path_factory.mktemp("image") / "tiny.tar")


@pytest.fixture(scope="module")
def image_document(tiny_archive: Path) -> Document:
    report = analyze_image(tiny_archive)
    assert report.wasted == 10
    return round_trip(report.to_json())


@pytest.fixture
def dockerfile_path(tmp_path: Path) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(DOCKERFILE, encoding="utf-8")
    return path


@pytest.fixture
def dockerfile_document(dockerfile_path: Path) -> Document:
    return round_trip(analyze_dockerfile(dockerfile_path).to_json())


@pytest.fixture
def documents(image_document: Document, dockerfile_document: Document) -> dict[str, Document]:
    return {"image": image_document, "dockerfile": dockerfile_document}


# -- the schema files -----------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", NAMES)
def test_the_two_copies_are_identical(name: str) -> None:
    assert docs_schema(name).read_bytes() == package_schema(name).read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_schema_version_matches_code(name: str) -> None:
    schema = load_schema(name)
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert "schema_version" in schema["required"]


@pytest.mark.parametrize("name", NAMES)
def test_the_finding_definition_is_the_check_schemas(name: str) -> None:
    check: Document = json.loads(CHECK_SCHEMA.read_text(encoding="utf-8"))
    assert load_schema(name)["$defs"]["finding"] == check["$defs"]["finding"]


# -- real documents -------------------------------------------------------------------------
def test_tiny_image_document_validates(image_document: Document) -> None:
    assert schema_errors("image", image_document) == []
    assert image_document["image"] == "tiny:latest"
    assert (image_document["written"], image_document["final"]) == (14, 4)
    assert image_document["wasted"] == 10
    assert [layer["removed"] for layer in image_document["layers"]] == [0, 1]
    (finding,) = image_document["findings"]
    assert (finding["code"], finding["path"], finding["bytes"]) == ("WF701", "/app/a.txt", 10)


@pytest.mark.slow
def test_naive_image_document_validates(naive_image: BuiltImage) -> None:
    document = round_trip(analyze_image(naive_image.docker_archive).to_json())
    assert schema_errors("image", document) == []
    assert document["wasted"] > 0
    codes = {f["code"] for f in document["findings"]}
    assert {"WF701", "WF703"} <= codes


def test_gate_finding_validates(tiny_archive: Path) -> None:
    report = analyze_image(tiny_archive, lowest_efficiency=0.9, highest_wasted_bytes=1)
    document = round_trip(report.to_json())
    assert schema_errors("image", document) == []
    gates = [f for f in document["findings"] if f["code"] == "WF705"]
    assert len(gates) == 2
    assert all(f["path"] is None and f["bytes"] == 10 for f in gates)
    assert document["exit_code"] == 1


def test_dockerfile_document_validates(dockerfile_document: Document) -> None:
    assert schema_errors("dockerfile", dockerfile_document) == []
    assert dockerfile_document["stages"] == 1
    codes = {f["code"] for f in dockerfile_document["findings"]}
    assert codes == {"WF801", "WF802", "WF803", "WF804", "WF805"}


def test_command_line_json_validates(tiny_archive: Path, dockerfile_path: Path) -> None:
    runner = CliRunner()
    for name, args in (
        ("image", ["image", "--format", "json", str(tiny_archive)]),
        ("dockerfile", ["dockerfile", "--format", "json", str(dockerfile_path)]),
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert schema_errors(name, json.loads(result.output)) == []


@pytest.mark.parametrize("name", NAMES)
def test_missing_schema_version_is_rejected(documents: dict[str, Document], name: str) -> None:
    document = copy.deepcopy(documents[name])
    del document["schema_version"]
    assert schema_errors(name, document) != []


@pytest.mark.parametrize("name", NAMES)
def test_unknown_top_level_key_is_rejected(documents: dict[str, Document], name: str) -> None:
    document = copy.deepcopy(documents[name])
    document["surprise"] = True
    assert schema_errors(name, document) != []


def test_layer_objects_are_closed(image_document: Document) -> None:
    document = copy.deepcopy(image_document)
    document["layers"][0]["surprise"] = 1
    assert schema_errors("image", document) != []
