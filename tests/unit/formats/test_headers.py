"""The header reader against the standard library's ``HeaderParser`` it stands in for."""

from __future__ import annotations

import random
from email.parser import HeaderParser

import pytest

from wheelfix.formats.headers import parse_headers

#: Pieces that exercise every rule: names in both cases, separators, line breaks of the
#: three kinds, continuations, envelope lines, empty names, bytes outside printable ASCII.
_PIECES = (
    "Name",
    "name",
    "Version",
    "Tag",
    ":",
    ": ",
    " ",
    "\t",
    "\r",
    "\n",
    "\r\n",
    "\n\n",
    "From ",
    "a",
    "é",
    "x y",
    "Tag: py3-none-any\n",
    "Name: foo\n",
    " cont\n",
    "::",
    "\x7f",
    "\x0b",
    "\u2028",
)


def _email(text: str, name: str) -> list[str]:
    return [str(v) for v in HeaderParser().parsestr(text).get_all(name) or []]


def test_agrees_with_email_parser_on_generated_blocks() -> None:
    rng = random.Random(20261203)  # noqa: S311 - a fixed seed makes failures reproducible
    for _ in range(5_000):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 14)))
        headers = parse_headers(text)
        for name in ("Name", "Version", "Tag", "name", "TAG"):
            assert headers.get_all(name) == _email(text, name), repr(text)
            first = _email(text, name)
            assert headers.get(name, "-") == (first[0] if first else "-"), repr(text)


@pytest.mark.parametrize(
    ("text", "name", "values"),
    [
        ("Wheel-Version: 1.0\nTag: a\nTag: b\n\nTag: body\n", "Tag", ["a", "b"]),
        ("Name: x\r\nVersion:\t 1.0\r\n", "version", ["1.0"]),
        ("Tag: a\n  folded\nName: n\n", "Tag", ["a\n  folded"]),
        ("  leading continuation\nName: n\n", "Name", ["n"]),
        ("From someone\nName: n\n", "Name", ["n"]),
        ("Name: n\nno colon here\nVersion: 1\n", "Version", []),
        (": empty name\nName: n\n", "Name", ["n"]),
        ("Name : spaced\n", "Name", []),
        ("Name: a\u2028b\n", "Name", ["a\u2028b"]),
    ],
)
def test_rules(text: str, name: str, values: list[str]) -> None:
    assert parse_headers(text).get_all(name) == values == _email(text, name)


def test_missing_header_gives_the_default() -> None:
    headers = parse_headers("Name: n\n")
    assert headers.get("Version") == ""
    assert headers.get("Version", "none") == "none"
    assert headers.get_all("Version") == []
