"""--format sarif: valid against the official SARIF 2.1.0 schema, rules from docs/checks.md,
locations a code-scanning UI can show, fingerprints that survive a rerun."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from wheelfix.cli.app import cli
from wheelfix.cli.sarif import CHECKS_URL, rule_url, rules_from_checks_md, to_sarif
from wheelfix.findings import Check

REPO = Path(__file__).resolve().parents[3]
SCHEMA = REPO / "tests" / "data" / "sarif" / "sarif-schema-2.1.0.json"
RULES = REPO / "wheelfix" / "cli" / "rules.json"
CHECKS_MD = REPO / "docs" / "checks.md"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def sarif_errors(log: object) -> list[str]:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]


def run(args: list[str], *, code: int | None = None) -> Any:
    result = CliRunner().invoke(cli, args)
    if code is not None:
        assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def samples() -> list[str]:
    return sorted(str(p) for p in (REPO / "sample_wheels").glob("*.whl"))


@pytest.fixture(scope="module")
def check_log() -> Any:
    return run(["check", "--no-config", "-j1", "--format", "sarif", *samples()], code=1)


def test_shipped_rules_are_read_from_docs_checks_md() -> None:
    derived = rules_from_checks_md(CHECKS_MD.read_text(encoding="utf-8"))
    if os.environ.get("WHEELFIX_UPDATE_GOLDEN"):
        text = json.dumps(derived, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        RULES.write_text(text, encoding="utf-8")
    shipped = json.loads(RULES.read_text(encoding="utf-8"))
    assert shipped == derived, "rerun with WHEELFIX_UPDATE_GOLDEN=1 after editing docs/checks.md"
    assert set(shipped) == {check.code for check in Check}


def test_check_log_is_valid_sarif(check_log: Any) -> None:
    assert sarif_errors(check_log) == []
    assert check_log["version"] == "2.1.0"
    (run_,) = check_log["runs"]
    assert run_["tool"]["driver"]["name"] == "wheelfix"
    assert run_["automationDetails"]["id"] == "wheelfix/check/"


def test_one_rule_per_code_with_docs_text_and_help_uri(check_log: Any) -> None:
    rules = check_log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [c.code for c in Check]
    anchors = set(re.findall(r"^## (WF\d{3} \S+)", CHECKS_MD.read_text(), re.MULTILINE))
    for rule, check in zip(rules, Check, strict=True):
        assert rule["name"] == check.slug
        assert rule["defaultConfiguration"]["level"] == LEVELS[check.severity.label]
        assert rule["helpUri"] == rule_url(check)
        anchor = rule["helpUri"].removeprefix(CHECKS_URL + "#")
        assert anchor == f"{check.code.lower()}-{check.slug}"
        assert f"{check.code} {check.slug}" in anchors
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert "Reported by" not in rule["shortDescription"]["text"]
    wf101 = rules[0]
    assert wf101["shortDescription"]["text"].startswith("The filename claims a manylinux")
    assert "readelf -V" in wf101["help"]["text"]
    # links of the docs become absolute in the markdown forms, plain text in the text forms
    wf801 = rules[[r["id"] for r in rules].index("WF801")]
    assert f"]({CHECKS_URL}#wf703-build-context-leftovers)" in wf801["help"]["markdown"]
    assert "(see WF703 for a fuller list)" in wf801["help"]["text"]


def test_one_result_per_finding_with_wheel_and_member(check_log: Any) -> None:
    document = run(["check", "--no-config", "-j1", "--format", "json", *samples()], code=1)
    findings = [(r, f) for r in document["results"] for f in r["findings"]]
    results = check_log["runs"][0]["results"]
    rules = check_log["runs"][0]["tool"]["driver"]["rules"]
    assert len(results) == len(findings) > 0
    for result, (wheel, finding) in zip(results, findings, strict=True):
        assert result["ruleId"] == finding["code"] == rules[result["ruleIndex"]]["id"]
        assert result["level"] == LEVELS[finding["severity"]]
        assert result["message"]["text"] == finding["message"]
        (location,) = result["locations"]
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == "file://" + wheel["path"]  # absolute paths become file URIs
        (logical,) = location["logicalLocations"]
        expected = wheel["filename"] + ("/" + finding["path"] if finding["path"] else "")
        assert logical["fullyQualifiedName"] == expected
    fingerprints = [r["partialFingerprints"]["wheelfix/v1"] for r in results]
    assert len(set(fingerprints)) == len(fingerprints)


def test_fingerprints_survive_a_rerun_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, check_log: Any
) -> None:
    # Same wheel, another folder and a relative path: the same findings, the same prints.
    shutil.copytree(REPO / "sample_wheels", tmp_path / "dist", ignore=shutil.ignore_patterns("src"))
    monkeypatch.chdir(tmp_path)
    wheels = sorted(f"dist/{Path(p).name}" for p in samples())
    again = run(["check", "--no-config", "--format", "sarif", *wheels], code=1)
    before = [r["partialFingerprints"] for r in check_log["runs"][0]["results"]]
    after = [r["partialFingerprints"] for r in again["runs"][0]["results"]]
    assert before == after
    uri = again["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"].startswith("dist/")


def test_unreadable_wheel_is_a_tool_notification(tmp_path: Path) -> None:
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_text("not a zip")
    log = run(["check", "--no-config", "--format", "sarif", str(bad)], code=2)
    assert sarif_errors(log) == []
    (invocation,) = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 2
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "not a zip" in note["message"]["text"]


NAIVE = """\
FROM python:3.11
COPY . .
RUN apt-get update && apt-get install -y gcc
RUN pip install -r requirements.txt
RUN rm -rf /var/lib/apt/lists/*
"""


def test_dockerfile_results_point_at_the_line(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(NAIVE)
    log = run(["dockerfile", "--format", "sarif", str(tmp_path)], code=0)
    assert sarif_errors(log) == []
    lines = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
        for r in log["runs"][0]["results"]
    }
    assert lines == {("WF801", 2), ("WF802", 1), ("WF805", 3), ("WF803", 4), ("WF804", 5)}
    result = log["runs"][0]["results"][0]
    assert "logicalLocations" not in result["locations"][0]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (tmp_path / "Dockerfile").as_uri()


def test_dockerfile_fingerprints_ignore_line_shifts(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(NAIVE)
    first = run(["dockerfile", "--format", "sarif", str(tmp_path / "Dockerfile")])
    (tmp_path / "Dockerfile").write_text(NAIVE.replace("COPY . .\n", "COPY . .\nENV A=1\n"))
    second = run(["dockerfile", "--format", "sarif", str(tmp_path / "Dockerfile")])

    def prints(log: Any) -> dict[str, str]:
        return {
            r["ruleId"]: r["partialFingerprints"]["wheelfix/v1"] for r in log["runs"][0]["results"]
        }

    assert prints(first) == prints(second)


def test_several_dockerfiles_share_one_run(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Containerfile").write_text(NAIVE)
    log = run(["dockerfile", "--format", "sarif", str(tmp_path / "a"), str(tmp_path / "b")])
    assert sarif_errors(log) == []
    (run_,) = log["runs"]
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run_["results"]
    }
    assert uris == {(tmp_path / n / "Containerfile").as_uri() for n in ("a", "b")}
    fingerprints = [r["partialFingerprints"]["wheelfix/v1"] for r in run_["results"]]
    assert len(set(fingerprints)) == len(fingerprints) == 10


def test_scan_results_name_the_distribution_and_file(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "demo").mkdir(parents=True)
    (site / "demo" / "__init__.py").write_text("")
    (site / "demo-1.0.dist-info").mkdir()
    (site / "demo-1.0.dist-info" / "METADATA").write_text("Name: demo\nVersion: 1.0\n")
    log = run(["scan", "--format", "sarif", str(site)])
    assert sarif_errors(log) == []
    results = log["runs"][0]["results"]
    (no_record,) = [r for r in results if r["ruleId"] == "WF603"]
    (logical,) = no_record["locations"][0]["logicalLocations"]
    assert logical["fullyQualifiedName"] == "demo/demo-1.0.dist-info"
    uri = no_record["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (site / "demo-1.0.dist-info").as_uri()


def _docker_save(path: Path, layers: list[dict[str, bytes | None]]) -> Path:
    """A `docker save` archive; a ``None`` file is a whiteout of that path."""
    blobs = []
    for layer in layers:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for member, content in layer.items():
                folder, _, base = member.rpartition("/")
                name = member if content is not None else f"{folder}/.wh.{base}"
                data = content if content is not None else b""
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        blobs.append(buffer.getvalue())
    names = [f"{i:064x}/layer.tar" for i in range(len(blobs))]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {
            "type": "layers",
            "diff_ids": ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs],
        },
        "history": [{"created_by": f"RUN step {i}"} for i in range(len(blobs))],
    }
    manifest = [{"Config": "config.json", "RepoTags": ["demo:latest"], "Layers": names}]
    with tarfile.open(path, "w") as tar:
        members = [
            ("manifest.json", json.dumps(manifest).encode()),
            ("config.json", json.dumps(config).encode()),
            *zip(names, blobs, strict=True),
        ]
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_image_results_name_the_image_and_path(tmp_path: Path) -> None:
    image = _docker_save(
        tmp_path / "demo.tar",
        [{"tmp/big.bin": b"x" * 200_000}, {"tmp/big.bin": None}],
    )
    log = run(["image", "--format", "sarif", str(image)])
    assert sarif_errors(log) == []
    (wasted,) = [r for r in log["runs"][0]["results"] if r["ruleId"] == "WF701"]
    (logical,) = wasted["locations"][0]["logicalLocations"]
    assert logical["fullyQualifiedName"].endswith("/tmp/big.bin")
    assert wasted["properties"]["bytes"] == 200_000


def test_to_sarif_refuses_documents_without_findings() -> None:
    with pytest.raises(ValueError, match="no findings in a 'slim' document"):
        to_sarif("slim", {})
