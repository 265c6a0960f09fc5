"""Reading an installed environment's metadata: RECORD rows and METADATA headers."""

from __future__ import annotations

import csv
import io
import os
import posixpath
from email.parser import HeaderParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from wheelfix.cli.app import cli
from wheelfix.installed.scan import scan
from wheelfix.installed.tree import (
    RECORD_LIMIT,
    _name_and_version,
    _parse_record,
    read_distributions,
)


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


# -- reading METADATA and RECORD without leaving the tree -------------------------------------
def dist(root: Path, name: str = "pkg") -> Path:
    folder = root / f"{name}-1.0.dist-info"
    folder.mkdir(parents=True)
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (folder / "RECORD").write_text(f"{name}/__init__.py,,\n{folder.name}/RECORD,,\n")
    return folder


def test_a_symlinked_metadata_is_never_read_or_printed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("Name: root:x:0:0:SECRET\nVersion: hunter2\n")
    root = tmp_path / "site"
    folder = dist(root)
    (folder / "METADATA").unlink()
    (folder / "METADATA").symlink_to(secret)
    (found,) = read_distributions(root)
    assert (found.name, found.version) == ("pkg", "1.0")  # from the folder name
    assert (
        not found.has_record and found.problem == "pkg-1.0.dist-info/METADATA: a symlink: refused"
    )
    result = CliRunner().invoke(cli, ["scan", str(root)])
    assert "SECRET" not in result.output and "hunter2" not in result.output
    assert "cannot be read (pkg-1.0.dist-info/METADATA: a symlink: refused)" in result.output


def test_a_fifo_or_huge_record_makes_its_distribution_unverifiable(tmp_path: Path) -> None:
    root = tmp_path / "site"
    fifo = dist(root, "fifo")
    (fifo / "RECORD").unlink()
    os.mkfifo(fifo / "RECORD")  # opening it without O_NONBLOCK would hang forever
    huge = dist(root, "huge")
    with (huge / "RECORD").open("r+b") as fh:
        fh.truncate(RECORD_LIMIT + 1)  # sparse: no disk used
    dist(root, "fine")
    found = {d.name: d for d in read_distributions(root)}
    assert found["fifo"].problem == "fifo-1.0.dist-info/RECORD: not a regular file: refused"
    assert found["huge"].problem is not None and "over the" in found["huge"].problem
    assert not found["fifo"].has_record and not found["huge"].has_record
    assert found["fine"].has_record and found["fine"].problem is None
    report = scan(root)
    unverifiable = {f.path for f in report.findings if f.code == "WF603"}
    unverifiable |= {f.path for d in report.distributions for f in d.findings if f.code == "WF603"}
    assert unverifiable == {"fifo-1.0.dist-info", "huge-1.0.dist-info"}


def test_a_record_in_a_symlinked_dist_info_path_is_refused(tmp_path: Path) -> None:
    elsewhere = dist(tmp_path / "elsewhere")
    root = tmp_path / "site"
    folder = dist(root)
    (folder / "RECORD").unlink()
    (folder / "RECORD").symlink_to(elsewhere / "RECORD")
    (found,) = read_distributions(root)
    assert found.problem == "pkg-1.0.dist-info/RECORD: a symlink: refused"
    assert found.rows == ()
