"""Reading an installed environment's metadata: RECORD rows and METADATA headers."""

from __future__ import annotations

import csv
import io
import posixpath
from email.parser import HeaderParser

import pytest

from wheelfix.installed.tree import _name_and_version, _parse_record


def csv_paths(text: str) -> list[str]:
    rows = csv.reader(io.StringIO(text, newline=""))
    return [posixpath.normpath(r[0].replace("\\", "/")) for r in rows if len(r) == 3 and r[0]]


@pytest.mark.parametrize(
    "text",
    [
        "a.py,sha256=x,1\nb/c.py,,\n",
        'a.py,sha256=x,1\n"b,c.py",sha256=y,2\n"d""e.py",,\nbad\n',
        "a,b,c,d\nx.py,,\n",  # four fields: not a row, as csv says
        "a\x1cb.py,sha256=q,3\nc\u2028d.py,,\n",  # only \n ends a line
        "a.py,sha256=x,1\r\nb.py,,\r\n",
        '"new\nline.py",,\n',
        "./a/../b.py,,\na//c.py,,\n../../bin/tool,,\n",
    ],
)
def test_record_rows_are_what_the_csv_module_reads(text: str) -> None:
    assert [r.path for r in _parse_record(text)] == csv_paths(text)


def test_record_sizes_are_ascii_digits_only() -> None:
    rows = _parse_record("a.py,sha256=x,\u00b2\nb.py,sha256=y,12\nc.py,,\n")
    assert [r.size for r in rows] == [None, 12, None]  # "²".isdigit() is true


@pytest.mark.parametrize(
    "text",
    [
        "Metadata-Version: 2.1\nName: real\nLicense: MIT\n  Version: 9.9 (folded)\nVersion: 1.0\n",
        "Metadata-Version: 2.1\n Name: fake\nName: pkg\nVersion: 1\n",
        "Name: a\r\nVersion: 3\r\n\r\nName: in the body\n",
        "name: lower\nVERSION: 4\n",
        "Name: form\x0cfeed\nVersion: 5\n",
    ],
)
def test_metadata_name_and_version_as_email_parser_reads_them(text: str) -> None:
    headers = HeaderParser().parsestr(text)
    assert _name_and_version(text) == (headers["Name"].strip(), headers["Version"].strip())
