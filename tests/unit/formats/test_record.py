"""RECORD: one parser for wheels and installed trees, bounded and total."""

from __future__ import annotations

import hashlib

import pytest

from wheelfix.formats.record import (
    MAX_FIELD,
    RecordRow,
    digest,
    encode_digest,
    normalise,
    parse_record,
    record_text,
)


def test_digest_is_unpadded_urlsafe_base64() -> None:
    assert digest(b"") == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
    assert encode_digest(hashlib.sha256(b"").digest()) == digest(b"")
    assert "=" not in digest(b"x", "sha512")


def test_rows_round_trip_through_the_writer() -> None:
    rows = [("a/b.py", f"sha256={digest(b'x')}", "1"), ("a-1.0.dist-info/RECORD", "", "")]
    parsed, problems = parse_record(record_text(rows))
    assert problems == []
    assert [r.to_fields() for r in parsed] == rows
    assert parsed[0].size == 1
    assert parsed[1].size is None
    assert parsed[1].hash_field == ""


def test_quoted_fields_take_the_csv_path() -> None:
    text = '"a,b.py",sha256=x,3\r\nc.py,sha256=y,4\r\n'
    parsed, problems = parse_record(text)
    assert problems == []
    assert [r.path for r in parsed] == ["a,b.py", "c.py"]


@pytest.mark.parametrize(
    ("path", "norm", "inside", "safe"),
    [
        ("pkg/mod.py", "pkg/mod.py", True, True),
        ("./pkg//mod.py", "pkg/mod.py", True, True),
        ("..foo/x.py", "..foo/x.py", True, True),  # a name starting with dots does not climb
        ("../../bin/tool", "../../bin/tool", False, False),
        ("pkg/../../x", "../x", False, False),
        ("/etc/passwd", "/etc/passwd", False, False),
        ("C:/x", "C:/x", True, False),
        ("pkg\\x.py", "pkg\\x.py", True, False),
        ("pkg/\x01x", "pkg/\x01x", True, False),
    ],
)
def test_one_path_rule(path: str, norm: str, inside: bool, safe: bool) -> None:
    row = RecordRow.from_fields([path, "", ""], 1)
    assert normalise(path) == norm
    assert row.path == norm
    assert row.inside is inside
    assert row.safe_in_wheel is safe


@pytest.mark.parametrize("size", ["9" * 5000, "²", "-1", "1.0", " 1", "0x10"])
def test_sizes_are_bounded_ascii_decimals(size: str) -> None:
    (row,), problems = parse_record(f"a.py,sha256=x,{size}\n")
    assert problems == []
    assert row.size is None
    assert row.size_text == size


def test_unknown_hash_names_are_data() -> None:
    rows, _ = parse_record("a.py,shake_128=abc,1\nb.py,nosuchhash,2\n")
    assert rows[0].algorithm == "shake_128"
    assert rows[1].algorithm == "nosuchhash"
    assert rows[1].digest == ""


def test_problems_are_reported_not_raised() -> None:
    huge = "x" * (MAX_FIELD + 1)
    text = f"a.py,sha256=x\n,sha256=x,1\n{huge},,\nok.py,,\n"
    rows, problems = parse_record(text)
    assert [r.path for r in rows] == ["ok.py"]
    assert [p.line for p in problems] == [1, 2, 3]
    assert "2 columns" in problems[0].message
    assert "empty path" in problems[1].message
    assert "longer than" in problems[2].message


def test_bad_csv_stops_with_a_problem() -> None:
    field = "y" * 200_000  # over csv's own field limit
    rows, problems = parse_record(f'a.py,,\n"{field}",,\n')
    assert [r.path for r in rows] == ["a.py"]
    assert len(problems) == 1
    assert "not valid CSV" in problems[0].message


def test_blank_lines_are_skipped() -> None:
    rows, problems = parse_record("\n\na.py,,\n\n")
    assert [r.line for r in rows] == [3]
    assert problems == []
