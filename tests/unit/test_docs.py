"""docs/checks.md and docs/concepts.md stay in step with the code they describe."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from wheelfix.findings import Check
from wheelfix.formats.wheelfile import Limits

REPO = Path(__file__).resolve().parents[2]
CHECKS_MD = REPO / "docs" / "checks.md"
CONCEPTS_MD = REPO / "docs" / "concepts.md"

_SECTION_RE = re.compile(r"^## (WF\d{3}) (\S+)[ \t]*$", re.MULTILINE)
_ANY_H2_RE = re.compile(r"^## ", re.MULTILINE)
_CODE_RE = re.compile(r"\bWF\d{3}\b")
_SUBHEADINGS = ("### Meaning", "### Common causes", "### Fix", "### Example")


def _text() -> str:
    return CHECKS_MD.read_text(encoding="utf-8")


def _sections() -> dict[str, tuple[str, str]]:
    """code -> (name in the heading, body up to the next level-2 heading)."""
    text = _text()
    starts = [m.start() for m in _ANY_H2_RE.finditer(text)] + [len(text)]
    out: dict[str, tuple[str, str]] = {}
    for match in _SECTION_RE.finditer(text):
        end = next(s for s in starts if s > match.start())
        code, name = match.group(1), match.group(2)
        assert code not in out, f"two sections for {code}"
        out[code] = (name, text[match.end() : end])
    return out


def test_sections_are_in_code_order() -> None:
    codes = [m.group(1) for m in _SECTION_RE.finditer(_text())]
    assert codes == sorted(codes)


def test_no_section_for_an_unknown_code() -> None:
    known = {check.code for check in Check}
    unknown = sorted(set(_sections()) - known)
    assert not unknown, f"docs/checks.md documents codes that do not exist: {unknown}"


def test_every_code_mentioned_exists() -> None:
    known = {check.code for check in Check}
    for path in (CHECKS_MD, CONCEPTS_MD):
        mentioned = set(_CODE_RE.findall(path.read_text(encoding="utf-8")))
        assert mentioned <= known, f"{path.name} mentions unknown codes {mentioned - known}"


@pytest.mark.parametrize("check", list(Check), ids=lambda c: c.code)
def test_every_check_has_a_section(check: Check) -> None:
    sections = _sections()
    assert check.code in sections, f"docs/checks.md has no '## {check.code} {check.slug}'"
    name, body = sections[check.code]
    assert name == check.slug
    positions = []
    for heading in _SUBHEADINGS:
        found = re.search(rf"^{re.escape(heading)}[ \t]*$", body, re.MULTILINE)
        assert found is not None, f"{check.code}: no '{heading}' sub-heading"
        positions.append(found.start())
    assert positions == sorted(positions), f"{check.code}: sub-headings out of order"
    assert f"Default severity: **{check.severity.label}**" in body


@pytest.mark.parametrize("check", list(Check), ids=lambda c: c.code)
def test_example_is_an_output_line(check: Check) -> None:
    _, body = _sections()[check.code]
    example = body.split("### Example", 1)[1]
    assert "```text" in example
    line = re.search(r"^  (error|warning|info) +(WF\d{3}) (\S+)  ", example, re.MULTILINE)
    assert line is not None, f"{check.code}: the example is not a `wheelfix check` line"
    shown = Check.by_code(line.group(2))
    assert (shown.severity.label, shown.slug) == (line.group(1), line.group(3))


def test_limits_defaults_are_documented() -> None:
    text = _text()
    for field in dataclasses.fields(Limits):
        default = field.default
        assert isinstance(default, int)
        row = re.search(rf"^\| `{field.name}` \|(.*)$", text, re.MULTILINE)
        assert row is not None, f"Limits.{field.name} is not in the limits table"
        numbers = {int(n) for n in re.findall(r"\d+", row.group(1))}
        assert default in numbers, f"Limits.{field.name} default {default} not in {row.group(0)}"


def test_concepts_links_resolve_to_sections() -> None:
    anchors = {f"{code.lower()}-{name}" for code, (name, _) in _sections().items()}
    for path in (CHECKS_MD, CONCEPTS_MD):
        text = path.read_text(encoding="utf-8")
        for target in re.findall(r"\((?:checks\.md)?#(wf\d{3}-[a-z0-9-]+)\)", text):
            assert target in anchors, f"{path.name}: broken link to #{target}"
