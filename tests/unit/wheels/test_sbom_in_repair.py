"""What repair does to the SBOM auditwheel wrote in an unpacked wheel: wheelfix added to the
tools, the wheel's purl following an honest retag, everything else left exactly as it was.
(The real auditwheel run is in tests/integration/test_repair_sbom.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import wheelfix
from wheelfix.wheels.repair import _note_in_sbom, _sbom_files

DIST_INFO = "pyyaml-6.0.2.dist-info"
OLD = "pyyaml-6.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux_2_26_x86_64.whl"
NEW = "pyyaml-6.0.2-cp311-cp311-manylinux_2_26_x86_64.whl"
LIB = "pkg:deb/debian/libyaml-0-2@0.2.5-1"


def _document(tools: object) -> dict[str, Any]:
    own = f"pkg:pypi/pyyaml@6.0.2?file_name={OLD}"
    component = {"type": "library", "bom-ref": own, "name": "pyyaml", "purl": own}
    lib = {"type": "library", "bom-ref": f"{LIB}#ab", "name": "libyaml-0-2", "purl": LIB}
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "version": 1,
        "metadata": {"component": component, "tools": tools},
        "components": [component, lib],
        "dependencies": [{"ref": own, "dependsOn": [f"{LIB}#ab"]}, {"ref": f"{LIB}#ab"}],
    }


def _tree(tmp_path: Path, text: str, name: str = "auditwheel.cdx.json") -> Path:
    folder = tmp_path / DIST_INFO / "sboms"
    folder.mkdir(parents=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


AUDITWHEEL = [{"name": "auditwheel", "version": "6.8.2"}]


def test_wheelfix_joins_the_tools_and_the_purl_follows_the_retag(tmp_path: Path) -> None:
    path = _tree(tmp_path, json.dumps(_document(AUDITWHEEL)))
    _note_in_sbom(tmp_path, DIST_INFO, {}, (OLD, NEW))
    doc = json.loads(path.read_text())
    assert doc["metadata"]["tools"] == [
        *AUDITWHEEL,
        {"name": "wheelfix", "version": wheelfix.__version__},
    ]
    assert doc["metadata"]["component"]["purl"] == f"pkg:pypi/pyyaml@6.0.2?file_name={NEW}"
    assert [c["purl"] for c in doc["components"]][1:] == [LIB]
    assert doc["dependencies"][0]["ref"].endswith(NEW)
    # running again (a repair of the output) adds nothing
    before = path.read_bytes()
    _note_in_sbom(tmp_path, DIST_INFO, {}, (NEW, NEW))
    assert path.read_bytes() == before


def test_cyclonedx_15_tools_object(tmp_path: Path) -> None:
    tools = {"components": [{"type": "application", "name": "auditwheel"}]}
    path = _tree(tmp_path, json.dumps(_document(tools)))
    _note_in_sbom(tmp_path, DIST_INFO, {}, (OLD, OLD))
    names = [t["name"] for t in json.loads(path.read_text())["metadata"]["tools"]["components"]]
    assert names == ["auditwheel", "wheelfix"]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(_document([{"name": "syft"}])),  # not auditwheel's
        json.dumps(_document("auditwheel")),
        "{not json",
        json.dumps({"bomFormat": "CycloneDX", "components": 5}),
    ],
    ids=["other-tool", "tools-not-list", "not-json", "bad-shape"],
)
def test_other_documents_are_left_alone(tmp_path: Path, text: str) -> None:
    path = _tree(tmp_path, text)
    _note_in_sbom(tmp_path, DIST_INFO, {}, (OLD, NEW))
    assert path.read_text() == text


def test_an_sbom_the_input_had_is_left_alone(tmp_path: Path) -> None:
    path = _tree(tmp_path, json.dumps(_document(AUDITWHEEL)))
    before = _sbom_files(tmp_path, DIST_INFO)
    _note_in_sbom(tmp_path, DIST_INFO, before, (OLD, NEW))
    assert {path: path.read_bytes()} == before


def test_sbom_files_skips_symlinks_and_other_names(tmp_path: Path) -> None:
    path = _tree(tmp_path, "{}")
    (path.parent / "notes.txt").write_text("x")
    (path.parent / "link.cdx.json").symlink_to(path)
    assert list(_sbom_files(tmp_path, DIST_INFO)) == [path]
