"""--format github: workflow commands the Actions runner turns into annotations."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from wheelfix.cli.annotations import to_annotations
from wheelfix.cli.app import cli
from wheelfix.containers.dockerfile import analyze_dockerfile

REPO = Path(__file__).resolve().parents[3]
# ::command key=value,key=value::message (the runner's grammar: properties before '::')
COMMAND_RE = re.compile(r"^::(error|warning|notice) ((?:[a-z]+=[^,:]*,?)+)::(.*)$")


def parse(line: str) -> tuple[str, dict[str, str], str]:
    match = COMMAND_RE.match(line)
    assert match is not None, line
    properties = dict(p.split("=", 1) for p in match.group(2).split(","))
    return match.group(1), properties, match.group(3)


def unescape(text: str) -> str:
    for code, char in (("%3A", ":"), ("%2C", ","), ("%0A", "\n"), ("%0D", "\r"), ("%25", "%")):
        text = text.replace(code, char)
    return text


def test_dockerfile_annotations_carry_file_line_and_title(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nRUN pip install requests\n")
    result = CliRunner().invoke(cli, ["dockerfile", "--format", "github", str(tmp_path)])
    assert result.exit_code == 0, result.output
    *commands, summary = result.stdout.splitlines()
    (command,) = commands
    kind, properties, message = parse(command)
    assert kind == "warning"
    assert properties == {
        "file": str(tmp_path / "Dockerfile"),
        "line": "2",
        "title": "WF803 pip-cache-kept",
    }
    assert message.startswith("pip install keeps its cache in the layer")
    assert "(hint: pip install --no-cache-dir" in message
    assert summary == "wheelfix dockerfile: 0 errors, 1 warning, 0 info"


def test_check_annotations_name_the_wheel_member() -> None:
    wheel = next((REPO / "sample_wheels").glob("wfdemo_overclaim-*.whl"))
    result = CliRunner().invoke(cli, ["check", "--no-config", "--format", "github", str(wheel)])
    assert result.exit_code == 1
    (command,) = [ln for ln in result.stdout.splitlines() if ln.startswith("::")]
    kind, properties, message = parse(command)
    assert (kind, properties["title"]) == ("error", "WF101 tag-overclaims")
    assert unescape(properties["file"]) == str(wheel)
    assert "line" not in properties
    assert message.startswith(f"{wheel.name}/wfdemo_overclaim/_overclaim.")


def test_special_characters_are_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "a,b:c"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\nRUN pip install x\n")
    document = json.loads(json.dumps(analyze_dockerfile(folder / "Dockerfile").to_json()))
    document["findings"][0]["message"] = "100% of it\nsecond line"
    text = to_annotations("dockerfile", document)
    command = text.splitlines()[0]
    _, properties, message = parse(command)
    assert unescape(properties["file"]) == str(folder / "Dockerfile")
    assert "a%2Cb%3Ac" in properties["file"]
    assert message.startswith("100%25 of it%0Asecond line")
    assert unescape(message).startswith("100% of it\nsecond line")


def test_unreadable_wheel_is_an_error_annotation(tmp_path: Path) -> None:
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_text("not a zip")
    result = CliRunner().invoke(cli, ["check", "--no-config", "--format", "github", str(bad)])
    assert result.exit_code == 2
    (command,) = [ln for ln in result.stdout.splitlines() if ln.startswith("::")]
    kind, properties, message = parse(command)
    assert kind == "error" and unescape(properties["file"]) == str(bad)
    assert "not a zip" in message
    assert result.stdout.splitlines()[-1].endswith("1 unreadable")


def test_info_findings_are_notices() -> None:
    wheel = next((REPO / "sample_wheels").glob("wfdemo_pure-*.whl"))
    text = CliRunner().invoke(cli, ["check", "--no-config", "--format", "github", str(wheel)])
    kinds = {parse(ln)[0] for ln in text.stdout.splitlines() if ln.startswith("::")}
    assert kinds == {"notice"}
