"""Text rendering: one summary line per wheel, findings most severe first, plain off-terminal."""

from __future__ import annotations

import io

from rich.console import Console
from wheelmaker import MakeWheel

from wheelfix.cli.render import render_dockerfile, render_text
from wheelfix.containers.dockerfile import DockerfileReport
from wheelfix.findings import Check, Finding
from wheelfix.wheels.audit import check


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, no_color=True, width=160, soft_wrap=True, highlight=False), out


def test_check_text_has_a_summary_line_then_findings(make_wheel: MakeWheel) -> None:
    wheel = make_wheel({"demo/__init__.py": "", "demo/tests/test_a.py": "", "demo/x.pyc": b""})
    console, out = plain_console()
    render_text(check(wheel, jobs=1), console)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("! ") or lines[0].startswith("✓ ")
    assert wheel.name in lines[0]
    body = [line.split()[1] for line in lines[1:-1]]
    assert body == sorted(body, key=lambda c: c != "WF402")  # the warning before the info
    assert lines[-1].startswith("1 wheel checked")
    assert "\x1b[" not in out.getvalue()


def test_verbose_adds_each_hint(make_wheel: MakeWheel) -> None:
    wheel = make_wheel({"demo/__init__.py": "", "demo/tests/test_a.py": ""})
    console, out = plain_console()
    render_text(check(wheel, jobs=1), console, verbose=1)
    assert Check.TESTS.hint in out.getvalue()


def test_dockerfile_rendering_names_line_and_code() -> None:
    finding = Finding(check=Check.PIP_CACHE, path="Dockerfile:3", message="pip cache kept")
    console, out = plain_console()
    render_dockerfile(DockerfileReport(path="Dockerfile", stages=1, findings=(finding,)), console)
    text = out.getvalue()
    assert "Dockerfile:3" in text
    assert "WF803" in text
