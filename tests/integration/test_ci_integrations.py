"""The doors teams already use, run for real: pre-commit's try-repo on the hooks, the
cibuildwheel repair command substituted by cibuildwheel itself, and the shell steps of the
composite GitHub Action (action.yml) run as the Actions runner runs them."""

from __future__ import annotations

import json
import os
import re
import shutil
import string
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "tests" / "data" / "sarif" / "sarif-schema-2.1.0.json"
BAD = "FROM python:3.11\nRUN pip install requests\n"
GOOD = "FROM python:3.11-slim\nRUN pip install --no-cache-dir requests\n"


def sarif_errors(log: object) -> list[str]:
    validator = jsonschema.Draft4Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    return [e.message for e in validator.iter_errors(log)]


def wheelfix_on_path(folder: Path) -> dict[str, str]:
    """An environment whose ``wheelfix`` command runs this checkout (as an installed
    entry point would), whatever else is installed."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "wheelfix"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m wheelfix "$@"\n')
    script.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{folder}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


# --- pre-commit --------------------------------------------------------------------------


def hooks() -> dict[str, dict[str, Any]]:
    loaded = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    return {hook["id"]: hook for hook in loaded}


@pytest.mark.parametrize(
    ("name", "matched"),
    [
        ("Dockerfile", True),
        ("docker/Dockerfile.prod", True),
        ("Containerfile", True),
        ("services/api.Dockerfile", True),
        ("build.containerfile", True),
        ("Dockerfile.dockerignore", False),
        ("docs/Dockerfile.md", False),
        ("MyDockerfile", False),
        ("Dockerfiles/setup.py", False),
    ],
)
def test_dockerfile_hook_matches_dockerfile_names(name: str, matched: bool) -> None:
    # pre-commit selects files with re.search on the path relative to the repository.
    assert bool(re.search(hooks()["wheelfix-dockerfile"]["files"], name)) is matched


def test_check_hook_is_manual_and_reads_wheels() -> None:
    hook = hooks()["wheelfix-check"]
    assert hook["stages"] == ["manual"]
    assert hook["entry"] == "wheelfix check"
    assert re.search(hook["files"], "dist/x-1.0-py3-none-any.whl")


def _try_repo(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cache = REPO / ".cache"
    env = dict(os.environ)
    # The hook's environment is built once per revision of this repository and reused.
    env["PRE_COMMIT_HOME"] = str(cache / "pre-commit" if cache.is_dir() else project / ".pc")
    env.pop("PYTHONPATH", None)  # the hook runs the wheelfix pre-commit installs, nothing else
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.slow
def test_pre_commit_try_repo_flags_the_bad_dockerfile_only(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "good").mkdir(parents=True)
    (project / "Dockerfile").write_text(BAD)
    (project / "good" / "Containerfile").write_text(GOOD)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "."], cwd=project, check=True)

    bad = _try_repo(project, "wheelfix-dockerfile", "--files", "Dockerfile")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "wheelfix dockerfile" in bad.stdout and "Failed" in bad.stdout
    assert "WF803 pip-cache-kept  Dockerfile:2" in bad.stdout

    good = _try_repo(project, "wheelfix-dockerfile", "--files", "good/Containerfile")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout

    wheel = next((REPO / "sample_wheels").glob("wfdemo_overclaim-*.whl"))
    shutil.copy(wheel, project / wheel.name)
    subprocess.run(["git", "add", wheel.name], cwd=project, check=True)
    skipped = _try_repo(project, "wheelfix-check", "--files", wheel.name)
    assert "No hook with id `wheelfix-check` in stage `pre-commit`" in skipped.stdout  # manual
    manual = _try_repo(project, "wheelfix-check", "--hook-stage", "manual", "--files", wheel.name)
    assert manual.returncode == 1, manual.stdout + manual.stderr
    assert "WF101" in manual.stdout


# --- cibuildwheel --------------------------------------------------------------------------


def _documented_cibuildwheel_config() -> dict[str, Any]:
    text = (REPO / "docs" / "repair.md").read_text(encoding="utf-8")
    section = text.split("## cibuildwheel\n", 1)[1]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    config: dict[str, Any] = tomllib.loads(block)["tool"]["cibuildwheel"]["linux"]
    return config


def _placeholders(command: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(command) if field}


def test_cibuildwheel_placeholders_are_cibuildwheel_s_own() -> None:
    pytest.importorskip("cibuildwheel", reason="cibuildwheel needs Python 3.11+")
    defaults_text = resources.files("cibuildwheel").joinpath("resources/defaults.toml")
    defaults = tomllib.loads(defaults_text.read_text(encoding="utf-8"))
    theirs = defaults["tool"]["cibuildwheel"]["linux"]["repair-wheel-command"]
    ours = _documented_cibuildwheel_config()["repair-wheel-command"]
    assert _placeholders(theirs) == {"wheel", "dest_dir"}
    assert _placeholders(ours) == _placeholders(theirs)
    assert ours.startswith("wheelfix repair ")
    assert _documented_cibuildwheel_config()["before-all"] == "pipx install wheelfix"


@pytest.mark.slow
def test_cibuildwheel_repair_command_runs_as_cibuildwheel_runs_it(tmp_path: Path) -> None:
    pytest.importorskip("cibuildwheel", reason="cibuildwheel needs Python 3.11+")
    from cibuildwheel.util.helpers import prepare_command

    built = tmp_path / "built_wheel"
    built.mkdir()
    source = next((REPO / "sample_wheels").glob("wfdemo_debug-*.whl"))
    wheel = built / source.name
    shutil.copy(source, wheel)
    dest = tmp_path / "repaired_wheel"
    dest.mkdir()
    command = prepare_command(
        _documented_cibuildwheel_config()["repair-wheel-command"],
        wheel=wheel,
        dest_dir=dest,
        package=tmp_path,
        project=tmp_path,
    )
    assert command == f"wheelfix repair --strip -w {dest} {wheel}"
    env = wheelfix_on_path(tmp_path / "bin")
    done = subprocess.run(
        ["sh", "-c", command], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (repaired,) = dest.glob("*.whl")  # cibuildwheel wants exactly one wheel there
    assert "manylinux" in repaired.name
    assert repaired.stat().st_size < wheel.stat().st_size


# --- the composite action ------------------------------------------------------------------


def _action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    return loaded


def _expand(text: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        if expression == "github.action_path":
            return str(REPO)
        if expression.startswith("inputs."):
            return inputs[expression.removeprefix("inputs.")]
        if expression.startswith("steps.check.outputs."):
            return outputs.get(expression.removeprefix("steps.check.outputs."), "")
        raise AssertionError(f"expression the test does not know: {expression}")

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def _run_action(workspace: Path, given: dict[str, str]) -> list[tuple[str, int, str]]:
    """Every ``run`` step in order, as the runner does: ``bash --noprofile --norc -eo
    pipefail`` on the script, ``GITHUB_PATH``/``GITHUB_OUTPUT`` files, inputs expanded.
    Stops after the first failing step (as a job does)."""
    action = _action()
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update(given)
    temp = workspace.parent / "runner-temp"
    temp.mkdir(exist_ok=True)
    paths: list[str] = []
    outputs: dict[str, str] = {}
    ran = []
    for number, step in enumerate(action["runs"]["steps"]):
        if "run" not in step:
            continue
        if step["name"] == "Gate on the exit code" and inputs["fail"] != "true":
            continue
        script = temp / f"step{number}.sh"
        script.write_text(_expand(step["run"], inputs, outputs))
        output_file, path_file = temp / f"output{number}", temp / f"path{number}"
        output_file.touch()
        path_file.touch()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update({k: _expand(str(v), inputs, outputs) for k, v in step.get("env", {}).items()})
        env.update(
            RUNNER_TEMP=str(temp),
            GITHUB_OUTPUT=str(output_file),
            GITHUB_PATH=str(path_file),
            PATH=os.pathsep.join([*paths, env["PATH"]]),
        )
        assert step["shell"] == "bash"
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        paths = [ln for ln in path_file.read_text().splitlines() if ln] + paths
        for line in output_file.read_text().splitlines():
            key, _, value = line.partition("=")
            outputs[key] = value
        ran.append((step["name"], done.returncode, done.stdout + done.stderr))
        if done.returncode != 0:
            break
    return ran


def test_action_uploads_the_sarif_it_writes() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    (upload,) = [s for s in action["runs"]["steps"] if "uses" in s]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "${{ steps.check.outputs.sarif-file }}"
    assert "always()" in upload["if"]


@pytest.mark.slow
def test_action_steps_install_check_annotate_and_gate(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    (workspace / "dist").mkdir(parents=True)
    for wheel in (REPO / "sample_wheels").glob("*.whl"):
        shutil.copy(wheel, workspace / "dist" / wheel.name)

    ran = _run_action(workspace, {"args": "--no-config --ignore WF4"})
    assert [(name, code) for name, code, _ in ran] == [
        ("Install wheelfix", 0),
        ("Check wheels", 0),
        ("Gate on the exit code", 1),
    ], ran
    check_output = ran[1][2]
    assert "::error file=dist/wfdemo_overclaim-" in check_output
    assert "title=WF101 tag-overclaims" in check_output
    assert "WF401" not in check_output  # the args reached wheelfix
    log = json.loads((workspace / "wheelfix.sarif").read_text())
    assert sarif_errors(log) == []
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"WF101", "WF202", "WF301"}
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert all(uri.startswith("dist/") for uri in uris)

    # No wheel matches: an error annotation and exit 2, no SARIF to upload.
    missing = _run_action(workspace, {"wheels": "build/*.whl", "annotations": "false"})
    assert [(name, code) for name, code, _ in missing][-1] == ("Check wheels", 2)
    assert "::error::wheelfix: no wheel matches 'build/*.whl'" in missing[-1][2]


# --- docs/ci.md: every example, replayed where it can run here ---------------------------


def _ci_md_blocks(language: str) -> list[str]:
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def _ci_md_dockerfile() -> str:
    (block,) = _ci_md_blocks("dockerfile")
    return block


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "checkout"
    (workspace / "dist").mkdir(parents=True)
    for wheel in (REPO / "sample_wheels").glob("*.whl"):
        shutil.copy(wheel, workspace / "dist" / wheel.name)
    (workspace / "Dockerfile").write_text(_ci_md_dockerfile())
    return workspace


def _replay(commands: list[str], workspace: Path) -> list[tuple[str, int, str]]:
    """The wheelfix lines of a CI script, each run by bash as the services run them."""
    env = wheelfix_on_path(workspace.parent / "bin")
    out = []
    for command in commands:
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", command],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        out.append((command, done.returncode, done.stdout + done.stderr))
    return out


def test_ci_md_dockerfile_is_clean(tmp_path: Path) -> None:
    from wheelfix.containers.dockerfile import analyze_dockerfile

    (tmp_path / "Dockerfile").write_text(_ci_md_dockerfile())
    report = analyze_dockerfile(tmp_path / "Dockerfile", fail_on="info")
    assert report.findings == () and report.stages == 2


def test_ci_md_action_example_uses_the_action_s_inputs() -> None:
    inputs = set(_action()["inputs"])
    workflows = [yaml.safe_load(b) for b in _ci_md_blocks("yaml") if "jobs:" in b]
    uses = [
        step
        for workflow in workflows
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").startswith("wheelfix/wheelfix@")
    ]
    (step,) = uses
    assert set(step["with"]) <= inputs
    for workflow in workflows:
        assert workflow["permissions"]["security-events"] == "write"


def test_ci_md_github_workflow_commands_run(tmp_path: Path) -> None:
    (workflow,) = [yaml.safe_load(b) for b in _ci_md_blocks("yaml") if "name: wheelfix\n" in b]
    steps = workflow["jobs"]["wheelfix"]["steps"]
    commands = [s["run"] for s in steps if s.get("run", "").startswith("wheelfix ")]
    workspace = _workspace(tmp_path)
    ran = _replay(commands, workspace)
    assert [code for _, code, _ in ran] == [1, 0, 0], ran  # the gate fails on the samples
    assert "::error file=dist/wfdemo_overclaim-" in ran[0][2]
    uploads = [s["with"]["sarif_file"] for s in steps if "upload-sarif" in s.get("uses", "")]
    assert uploads == ["wheelfix-check.sarif", "wheelfix-dockerfile.sarif"]
    for name in uploads:
        log = json.loads((workspace / name).read_text())
        assert sarif_errors(log) == []
    dockerfile_log = json.loads((workspace / "wheelfix-dockerfile.sarif").read_text())
    assert dockerfile_log["runs"][0]["results"] == []


def test_ci_md_gitlab_job_writes_its_report(tmp_path: Path) -> None:
    (pipeline,) = [yaml.safe_load(b) for b in _ci_md_blocks("yaml") if "codequality" in b]
    job = pipeline["wheelfix"]
    commands = [line for line in job["script"] if line.startswith("wheelfix ")]
    workspace = _workspace(tmp_path)
    ran = _replay(commands, workspace)
    assert [code for _, code, _ in ran] == [0, 1], ran
    report = workspace / job["artifacts"]["reports"]["codequality"]
    issues = json.loads(report.read_text())
    assert {i["check_name"].split()[0] for i in issues} >= {"WF101", "WF202"}
    assert "2 wheels checked" not in ran[1][2] and "5 wheels checked" in ran[1][2]


def test_ci_md_pre_commit_and_cibuildwheel_examples_match_the_real_files() -> None:
    (config,) = [yaml.safe_load(b) for b in _ci_md_blocks("yaml") if "repos:" in b]
    ids = {hook["id"] for hook in config["repos"][0]["hooks"]}
    assert ids == set(hooks())
    (toml_block,) = _ci_md_blocks("toml")
    assert tomllib.loads(toml_block)["tool"]["cibuildwheel"]["linux"] == (
        _documented_cibuildwheel_config()
    )
