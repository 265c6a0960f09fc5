"""Source distributions: the content checks that apply to them, on archives built here."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

import wheelfix
from wheelfix.findings import Selection
from wheelfix.wheels.audit import CheckOptions, check_wheel
from wheelfix.wheels.checks.contents import ContentRules

REPO = Path(__file__).resolve().parents[3]
ROOT = "demo-1.0"
FILES = {
    f"{ROOT}/PKG-INFO": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    f"{ROOT}/demo/__init__.py": b"VALUE = 1\n",
    f"{ROOT}/tests/test_demo.py": b"def test() -> None:\n    pass\n",
    f"{ROOT}/src/_ext.c": b"int x;\n",
}


def make_sdist(tmp_path: Path, files: dict[str, bytes], kind: str) -> Path:
    if kind == "zip":
        path = tmp_path / f"{ROOT}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        return path
    path = tmp_path / f"{ROOT}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_a_clean_sdist_ships_tests_and_sources_without_findings(tmp_path: Path, kind: str) -> None:
    result = check_wheel(make_sdist(tmp_path, FILES, kind))
    assert result.error is None
    assert result.findings == ()
    assert result.tags is not None and result.tags.claimed == ()
    assert result.tags.consistent is None
    assert result.sizes.uncompressed == sum(len(d) for d in FILES.values())


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_sdist_content_findings(tmp_path: Path, kind: str) -> None:
    files = {
        **FILES,
        f"{ROOT}/.github/workflows/ci.yml": b"on: push\n",
        f"{ROOT}/conf.yaml": b"a: 1\n",
        f"{ROOT}/demo/Data.txt": b"x\n",
        f"{ROOT}/demo/data.txt": b"y\n",
        f"{ROOT}/beep boop.ini": b"[x]\n",
        f"{ROOT}/demo/__pycache__/__init__.cpython-312.pyc": b"\0",
    }
    result = check_wheel(make_sdist(tmp_path, files, kind))
    codes = sorted({f.code for f in result.findings})
    assert codes == ["WF402", "WF408", "WF425", "WF427", "WF430"]
    narrow = CheckOptions(
        selection=Selection.resolve(["WF43"]), contents=ContentRules(unexpected_files=())
    )
    assert check_wheel(make_sdist(tmp_path, files, kind), narrow).findings == ()


@pytest.mark.parametrize("name", ["../evil.py", "/abs.py", "a\\b.py"])
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    result = check_wheel(make_sdist(tmp_path, {**FILES, name: b"x"}, "tar.gz"))
    assert result.error is not None
    assert result.error.startswith(str(tmp_path / f"{ROOT}.tar.gz") + ": ")
    assert result.findings == ()


def test_not_an_archive_is_an_error_result(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0.tar.gz"
    path.write_text("<html>not found</html>")
    result = check_wheel(path)
    assert result.error is not None
    assert "not a readable gzip-compressed tar archive" in result.error


def test_sdist_json_follows_the_check_schema(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / "wheelfix" / "schema" / "check.schema.json").read_text())
    files = {**FILES, f"{ROOT}/beep boop.ini": b"[x]\n"}
    paths = [make_sdist(tmp_path, files, "zip"), make_sdist(tmp_path, FILES, "tar.gz")]
    report = wheelfix.check(paths, jobs=1)
    jsonschema.validate(report.to_json(), schema)
    assert [r.status for r in report.results] == ["findings", "ok"]
