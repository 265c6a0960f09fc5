"""Wheel metadata against hostile input (BAD_INPUTS.md, "Wheel metadata").

What makes the archive unusable (its filename, its ``.dist-info`` folder, a Wheel-Version
from the future) is an error result; everything else that is wrong but readable (WHEEL,
METADATA, RECORD, ``.data``, entry points, ``.pth``) is a finding with a stable code.
RECORD is only ever verified against the archive, never used to open anything.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from wheelmaker import (
    MakeWheel,
    RawEntry,
    assert_refused,
    raw_wheel_entries,
    raw_zip,
    record_text,
    sha256_field,
    snapshot,
)

from wheelfix.findings import Finding, Severity
from wheelfix.wheels.audit import check_wheel
from wheelfix.wheels.results import WheelResult

FILES = {"demo/__init__.py": "VALUE = 1\n", "demo/data.txt": "some data\n"}
DIST = "demo-1.0.dist-info"
WHEEL_FILE = f"{DIST}/WHEEL"
RECORD = f"{DIST}/RECORD"
GOOD_WHEEL_TEXT = "Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def findings(result: WheelResult, code: str) -> list[Finding]:
    assert result.error is None, result.error
    return [f for f in result.findings if f.code == code]


def codes(result: WheelResult) -> set[str]:
    assert result.error is None, result.error
    return {f.code for f in result.findings}


def record_for(files: dict[str, bytes], *, extra_rows: str = "") -> str:
    """A correct RECORD for ``files`` plus the generated dist-info files, then extra rows."""
    metadata = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
    entries = [
        *files.items(),
        (f"{DIST}/METADATA", metadata),
        (WHEEL_FILE, GOOD_WHEEL_TEXT.encode()),
    ]
    return record_text(entries, RECORD) + extra_rows


def checked(make_wheel: MakeWheel, files: dict[str, bytes], record: str) -> WheelResult:
    return check_wheel(make_wheel(files, record=record, wheel_text=GOOD_WHEEL_TEXT))


BINARY_FILES = {k: v.encode() for k, v in FILES.items()}


# -- the filename -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "filename",
    [
        "demo.whl",
        "demo-1.0.whl",
        "demo-1.0-py3-none.whl",
        "demo-1.0-py3-any.whl",
        "demo-1.0-x-py3-none-any.whl",  # a build tag must start with a digit
        "demo-1.0-1-2-py3-none-any.whl",
        "demo-not.a.version!-py3-none-any.whl",
        "demo-1.0-py3-none-any.zip",
        "demo--1.0-py3-none-any.whl",
        ".whl",
    ],
)
def test_invalid_filename(make_wheel: MakeWheel, filename: str) -> None:
    path = make_wheel(FILES, filename=filename)
    assert_refused(path, reason="invalid wheel filename")


def test_filename_with_build_tag_is_fine(make_wheel: MakeWheel) -> None:
    path = make_wheel(FILES, filename="demo-1.0-1build-py3-none-any.whl")
    assert check_wheel(path).error is None


def test_output_names_never_come_from_metadata(make_wheel: MakeWheel, tmp_path: Path) -> None:
    # METADATA naming a path is a mismatch finding; nothing is created from it.
    metadata = "Metadata-Version: 2.1\nName: ../../evil\nVersion: 1.0/../../x\n"
    before = snapshot(tmp_path)
    result = check_wheel(make_wheel(FILES, metadata_text=metadata))
    assert [f.code for f in findings(result, "WF514")] == ["WF514"]
    assert set(snapshot(tmp_path)) - set(before) == {"demo-1.0-py3-none-any.whl"}


# -- the .dist-info folder ------------------------------------------------------------------
def _raw(tmp_path: Path, entries: list[RawEntry], name: str = "demo-1.0-py3-none-any.whl") -> Path:
    path = tmp_path / name
    path.write_bytes(raw_zip(entries))
    return path


def test_no_dist_info(tmp_path: Path) -> None:
    entries = [RawEntry(name="demo/__init__.py", data=b"")]
    assert_refused(_raw(tmp_path, entries), reason="no .dist-info")


def test_dist_info_file_at_top_level_only(tmp_path: Path) -> None:
    entries = [RawEntry(name="demo-1.0.dist-info", data=b"not a folder")]
    assert_refused(_raw(tmp_path, entries), reason="no .dist-info")


def test_two_dist_infos(tmp_path: Path) -> None:
    entries = raw_wheel_entries(FILES)
    entries.append(RawEntry(name="demo-2.0.dist-info/METADATA", data=b"Name: demo\n"))
    assert_refused(_raw(tmp_path, entries), reason="more than one .dist-info")


@pytest.mark.parametrize(
    ("name", "version"),
    [("other", "1.0"), ("demo", "2.0"), ("demo", "notaversion")],
)
def test_dist_info_does_not_match_filename(tmp_path: Path, name: str, version: str) -> None:
    entries = raw_wheel_entries(FILES, name=name, version=version)
    assert_refused(_raw(tmp_path, entries), reason="does not match the filename")


def test_dist_info_name_normalisation_matches(tmp_path: Path) -> None:
    # "My.Demo" and "my_demo" are one project (PEP 503 normalisation).
    entries = raw_wheel_entries(FILES, name="My.Demo")
    path = _raw(tmp_path, entries, name="my_demo-1.0-py3-none-any.whl")
    assert check_wheel(path).error is None


def test_dist_info_without_version(tmp_path: Path) -> None:
    entries = [RawEntry(name="demo.dist-info/METADATA", data=b""), *raw_wheel_entries(FILES)]
    assert_refused(_raw(tmp_path, entries), reason="more than one .dist-info")


# -- WHEEL -------------------------------------------------------------------------------
def test_wheel_file_missing(make_wheel: MakeWheel) -> None:
    files = dict(BINARY_FILES)
    path = make_wheel(files, record=True, wheel_text="")
    # An empty WHEEL is readable but says nothing: every field is reported.
    result = check_wheel(path)
    messages = [f.message for f in findings(result, "WF511")]
    assert any("Wheel-Version" in m for m in messages)
    assert any("Root-Is-Purelib" in m for m in messages)
    assert any("no Tag lines" in m for m in messages)


def test_wheel_file_absent(tmp_path: Path) -> None:
    entries = [e for e in raw_wheel_entries(FILES) if e.raw_name() != WHEEL_FILE.encode()]
    result = check_wheel(_raw(tmp_path, entries))
    [finding] = findings(result, "WF511")
    assert "missing" in finding.message
    assert finding.level is Severity.ERROR


def test_wheel_file_not_utf8(make_wheel: MakeWheel) -> None:
    path = make_wheel({**FILES, WHEEL_FILE: b"Wheel-Version: 1.0\n\xff\xfe\x00bad"})
    [finding] = findings(check_wheel(path), "WF511")
    assert "not UTF-8" in finding.message


@pytest.mark.parametrize("version", ["2.0", "2.1", "3.0", "10.0"])
def test_wheel_version_2_is_refused(make_wheel: MakeWheel, version: str) -> None:
    text = GOOD_WHEEL_TEXT.replace("1.0", version, 1)
    path = make_wheel(FILES, wheel_text=text)
    assert_refused(path, reason=f"Wheel-Version {version} is not supported", member=WHEEL_FILE)


@pytest.mark.parametrize("version", ["1.1", "1.9", "1.10"])
def test_wheel_version_newer_minor_warns(make_wheel: MakeWheel, version: str) -> None:
    path = make_wheel(FILES, wheel_text=GOOD_WHEEL_TEXT.replace("1.0", version, 1))
    result = check_wheel(path)
    [finding] = findings(result, "WF510")
    assert finding.level is Severity.WARNING
    assert version in finding.message
    assert codes(result) == {"WF510"}


@pytest.mark.parametrize("version", ["", "1", "one.zero", "1.0.0", "\u00b2.0", "1.\u0661", "-1.0"])
def test_wheel_version_malformed(make_wheel: MakeWheel, version: str) -> None:
    text = GOOD_WHEEL_TEXT.replace("Wheel-Version: 1.0", f"Wheel-Version: {version}")
    result = check_wheel(make_wheel(FILES, wheel_text=text))
    [finding] = findings(result, "WF511")
    assert "MAJOR.MINOR" in finding.message


def test_root_is_purelib_invalid(make_wheel: MakeWheel) -> None:
    text = GOOD_WHEEL_TEXT.replace("Root-Is-Purelib: true", "Root-Is-Purelib: maybe")
    [finding] = findings(check_wheel(make_wheel(FILES, wheel_text=text)), "WF511")
    assert "maybe" in finding.message


@pytest.mark.parametrize(
    "tag_lines",
    [
        "Tag: py2-none-any\n",
        "Tag: py3-none-any\nTag: cp311-cp311-linux_x86_64\n",
        "Tag: not-a-tag-at-all\n",
        "Tag: garbage\n",
    ],
)
def test_tag_lines_disagree_with_filename(make_wheel: MakeWheel, tag_lines: str) -> None:
    text = GOOD_WHEEL_TEXT.replace("Tag: py3-none-any\n", tag_lines)
    [finding] = findings(check_wheel(make_wheel(FILES, wheel_text=text)), "WF103")
    assert "disagree" in finding.message


def test_compressed_tag_set_matches_expanded_lines(make_wheel: MakeWheel) -> None:
    path = make_wheel(FILES, tag="py2.py3-none-any")  # WHEEL lists both tags
    assert "WF103" not in codes(check_wheel(path))


# -- METADATA ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "metadata",
    [
        "Metadata-Version: 2.1\nName: other\nVersion: 1.0\n",
        "Metadata-Version: 2.1\nName: demo\nVersion: 2.0\n",
        "Metadata-Version: 2.1\nName: demo\nVersion: not a version\n",
        "Metadata-Version: 2.1\n",
        "",
    ],
)
def test_metadata_mismatch(make_wheel: MakeWheel, metadata: str) -> None:
    assert findings(check_wheel(make_wheel(FILES, metadata_text=metadata)), "WF514")


def test_metadata_not_utf8(make_wheel: MakeWheel) -> None:
    path = make_wheel({**FILES, f"{DIST}/METADATA": b"Name: \xff\n"})
    [finding] = findings(check_wheel(path), "WF514")
    assert "not UTF-8" in finding.message


# -- RECORD ----------------------------------------------------------------------------------
def test_record_missing(make_wheel: MakeWheel) -> None:
    result = check_wheel(make_wheel(FILES, record=False))
    [finding] = findings(result, "WF501")
    assert finding.path == RECORD
    assert finding.level is Severity.ERROR


def test_record_not_utf8(make_wheel: MakeWheel) -> None:
    [finding] = findings(check_wheel(make_wheel({**FILES, RECORD: b"\xff\xfe,,"})), "WF501")
    assert "not UTF-8" in finding.message


def test_record_correct(make_wheel: MakeWheel) -> None:
    assert codes(checked(make_wheel, BINARY_FILES, record_for(BINARY_FILES))) == set()


def test_record_crlf_line_endings_are_fine(make_wheel: MakeWheel) -> None:
    record = record_for(BINARY_FILES).replace("\n", "\r\n")
    assert codes(checked(make_wheel, BINARY_FILES, record)) == set()


def test_record_malformed_csv(make_wheel: MakeWheel) -> None:
    record = record_for(BINARY_FILES) + "x" * (csv.field_size_limit() + 10) + ",,\n"
    result = checked(make_wheel, BINARY_FILES, record)
    [finding] = findings(result, "WF502")
    assert "not valid CSV" in finding.message


@pytest.mark.parametrize(
    "row",
    ["demo/extra.py\n", "demo/extra.py,sha256=abc\n", "demo/extra.py,sha256=abc,1,extra\n"],
)
def test_record_wrong_column_count(make_wheel: MakeWheel, row: str) -> None:
    files = {**BINARY_FILES, "demo/extra.py": b"x"}
    record = record_for(BINARY_FILES, extra_rows=row)
    result = checked(make_wheel, files, record)
    [finding] = findings(result, "WF502")
    assert "columns" in finding.message


@pytest.mark.parametrize("algo", ["md5", "sha1"])
def test_record_weak_hash(make_wheel: MakeWheel, algo: str) -> None:
    files = {**BINARY_FILES, "demo/extra.py": b"x"}
    record = record_for(BINARY_FILES, extra_rows=f"demo/extra.py,{algo}=AAAA,1\n")
    [finding] = findings(checked(make_wheel, files, record), "WF507")
    assert finding.path == "demo/extra.py"
    assert algo in finding.message


@pytest.mark.parametrize("hash_field", ["", "sha256", "sha256=", "=abc", "sha999=abc"])
def test_record_unusable_hash(make_wheel: MakeWheel, hash_field: str) -> None:
    files = {**BINARY_FILES, "demo/extra.py": b"x"}
    record = record_for(BINARY_FILES, extra_rows=f"demo/extra.py,{hash_field},1\n")
    [finding] = findings(checked(make_wheel, files, record), "WF502")
    assert finding.path == "demo/extra.py"


@pytest.mark.parametrize("size", ["", "abc", "-1", "1.0", " 1", "\u00b2", "\u0661", "0x1"])
def test_record_bad_size(make_wheel: MakeWheel, size: str) -> None:
    files = {**BINARY_FILES, "demo/extra.py": b"x"}
    row = f"demo/extra.py,{sha256_field(b'x')},{size}\n"
    result = checked(make_wheel, files, record_for(BINARY_FILES, extra_rows=row))
    [finding] = findings(result, "WF502")
    assert "not a number" in finding.message


def test_record_duplicate_rows(make_wheel: MakeWheel) -> None:
    row = f"demo/data.txt,{sha256_field(BINARY_FILES['demo/data.txt'])},10\n"
    result = checked(make_wheel, BINARY_FILES, record_for(BINARY_FILES, extra_rows=row))
    [finding] = findings(result, "WF509")
    assert finding.path == "demo/data.txt"


def test_record_duplicate_by_normalised_path(make_wheel: MakeWheel) -> None:
    row = f"demo/sub/../data.txt,{sha256_field(BINARY_FILES['demo/data.txt'])},10\n"
    result = checked(make_wheel, BINARY_FILES, record_for(BINARY_FILES, extra_rows=row))
    assert findings(result, "WF509")


def test_record_hash_mismatch(make_wheel: MakeWheel) -> None:
    record = record_for(BINARY_FILES)
    changed = {**BINARY_FILES, "demo/data.txt": b"SOME DATA\n"}  # same size
    result = checked(make_wheel, changed, record)
    [finding] = findings(result, "WF503")
    assert finding.path == "demo/data.txt"
    assert "WF504" not in codes(result)


def test_record_size_mismatch(make_wheel: MakeWheel) -> None:
    data_row = f"demo/data.txt,{sha256_field(BINARY_FILES['demo/data.txt'])},10\n"
    record = record_for(BINARY_FILES).replace(data_row, data_row.replace(",10", ",11"))
    result = checked(make_wheel, BINARY_FILES, record)
    [finding] = findings(result, "WF504")
    assert finding.path == "demo/data.txt"
    assert "RECORD says 11" in finding.message


def test_unlisted_member(make_wheel: MakeWheel) -> None:
    files = {**BINARY_FILES, "demo/sneaky.py": b"import os\n"}
    result = checked(make_wheel, files, record_for(BINARY_FILES))
    [finding] = findings(result, "WF505")
    assert finding.path == "demo/sneaky.py"
    assert finding.bytes == len(b"import os\n")


def test_listed_but_missing(make_wheel: MakeWheel) -> None:
    row = f"demo/gone.py,{sha256_field(b'')},0\n"
    result = checked(make_wheel, BINARY_FILES, record_for(BINARY_FILES, extra_rows=row))
    [finding] = findings(result, "WF506")
    assert finding.path == "demo/gone.py"


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "//host/share/x",
        "../../etc/passwd",
        "demo/../../outside",
        "..",
        "C:/Windows/x",
        "c:x",
        "demo\\x.py",
        "",
    ],
)
def test_record_unsafe_path(make_wheel: MakeWheel, tmp_path: Path, path: str) -> None:
    row = io.StringIO()
    csv.writer(row, lineterminator="\n").writerow([path, sha256_field(b"x"), "1"])
    before = snapshot(tmp_path)
    result = checked(make_wheel, BINARY_FILES, record_for(BINARY_FILES, extra_rows=row.getvalue()))
    [finding] = findings(result, "WF508")
    assert finding.path == RECORD
    # RECORD is something to verify, never a list of files to open: nothing else changed.
    assert set(snapshot(tmp_path)) - set(before) == {"demo-1.0-py3-none-any.whl"}
    assert "WF506" not in codes(result)


def test_signature_files_need_no_hash(make_wheel: MakeWheel) -> None:
    files = {**BINARY_FILES, f"{DIST}/RECORD.jws": b"{}"}
    record = record_for(BINARY_FILES, extra_rows=f"{DIST}/RECORD.jws,,\n")
    assert codes(checked(make_wheel, files, record)) == set()


# -- .data, entry points, .pth ---------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["lib", "purelib2", "..data", "etc", "Scripts"])
def test_data_unknown_scheme(make_wheel: MakeWheel, scheme: str) -> None:
    files = {**FILES, f"demo-1.0.data/{scheme}/x.txt": "x"}
    [finding] = findings(check_wheel(make_wheel(files)), "WF512")
    assert scheme in finding.message


def test_data_file_directly_under_data(make_wheel: MakeWheel) -> None:
    files = {**FILES, "demo-1.0.data/loose.txt": "x"}
    assert findings(check_wheel(make_wheel(files)), "WF512")


def test_data_folder_for_another_distribution(make_wheel: MakeWheel) -> None:
    files = {**FILES, "other-1.0.data/scripts/run": "#!/bin/sh\n"}
    [finding] = findings(check_wheel(make_wheel(files)), "WF512")
    assert "does not match" in finding.message


@pytest.mark.parametrize("scheme", ["purelib", "platlib", "headers", "scripts", "data"])
def test_data_known_schemes_are_fine(make_wheel: MakeWheel, scheme: str) -> None:
    files = {**FILES, f"demo-1.0.data/{scheme}/x.txt": "x"}
    assert "WF512" not in codes(check_wheel(make_wheel(files)))


def test_data_climbing_path_is_refused(tmp_path: Path) -> None:
    entries = raw_wheel_entries(FILES)
    entries.append(RawEntry(name="demo-1.0.data/scripts/../../../bin/evil", data=b"x"))
    assert_refused(_raw(tmp_path, entries), reason="climbs out")


@pytest.mark.parametrize(
    "name",
    ["../evil", "bin/evil", "..\\evil", "C:\\evil", "/usr/bin/evil", "..", ".", ""],
)
def test_entry_point_name_with_path(make_wheel: MakeWheel, name: str) -> None:
    text = f"[console_scripts]\n{name} = demo:main\n"
    files = {**FILES, f"{DIST}/entry_points.txt": text}
    [finding] = findings(check_wheel(make_wheel(files)), "WF513")
    assert finding.path == f"{DIST}/entry_points.txt"


def test_entry_point_names_fine(make_wheel: MakeWheel) -> None:
    text = (
        "[console_scripts]\ndemo = demo:main\ndemo-cli=demo.cli:run\n"
        "[gui_scripts]\ndemo-gui = demo:gui\n[demo.plugins]\na/b = demo:plugin\n"
    )
    files = {**FILES, f"{DIST}/entry_points.txt": text}
    assert "WF513" not in codes(check_wheel(make_wheel(files)))


@pytest.mark.parametrize(
    "where", ["evil.pth", "demo-1.0.data/purelib/evil.pth", "demo-1.0.data/platlib/evil.pth"]
)
def test_pth_with_import_line(make_wheel: MakeWheel, where: str) -> None:
    files = {**FILES, where: "demo\nimport os; os.system('echo hi')\n"}
    [finding] = findings(check_wheel(make_wheel(files)), "WF407")
    assert finding.path == where
    assert "import os" in finding.message
    assert finding.level is Severity.WARNING


def test_pth_with_tab_import(make_wheel: MakeWheel) -> None:
    files = {**FILES, "evil.pth": "import\tsys\n"}
    assert findings(check_wheel(make_wheel(files)), "WF407")


def test_pth_with_paths_only_is_fine(make_wheel: MakeWheel) -> None:
    files = {**FILES, "demo.pth": "demo\n# import nothing\nimportant_dir\n"}
    assert "WF407" not in codes(check_wheel(make_wheel(files)))


def test_pth_in_a_package_is_not_run(make_wheel: MakeWheel) -> None:
    # site.py only reads .pth files at the top of site-packages.
    files = {**FILES, "demo/nested.pth": "import os\n"}
    assert "WF407" not in codes(check_wheel(make_wheel(files)))


# -- stronger hashes and signature files ------------------------------------------------------
def _strong_record(algorithm: str, *, tamper: bool = False) -> str:
    import base64
    import hashlib

    rows = []
    for line in record_for(BINARY_FILES).splitlines():
        path, hash_field, size = next(csv.reader([line]))
        if path == "demo/data.txt":
            data = BINARY_FILES[path] + (b"!" if tamper else b"")
            digest = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest())
            hash_field = f"{algorithm}={digest.rstrip(b'=').decode()}"
        rows.append(f"{path},{hash_field},{size}")
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("algorithm", ["sha384", "sha512"])
def test_stronger_hashes_are_verified(make_wheel: MakeWheel, algorithm: str) -> None:
    assert codes(checked(make_wheel, BINARY_FILES, _strong_record(algorithm))) == set()
    tampered = checked(make_wheel, BINARY_FILES, _strong_record(algorithm, tamper=True))
    [finding] = findings(tampered, "WF503")
    assert algorithm in finding.message


def test_unlisted_signature_file_is_fine(make_wheel: MakeWheel) -> None:
    files = {**BINARY_FILES, f"{DIST}/RECORD.p7s": b"signature"}
    assert codes(checked(make_wheel, files, record_for(BINARY_FILES))) == set()


@pytest.mark.parametrize(
    ("filename", "blamed"),
    [
        ("demo.whl", "has 1 '-'-separated parts; expected 5 or 6"),
        ("demo-1.0-1-2-py3-none-any.whl", "has 7 '-'-separated parts"),
        ("demo-1.0-x-py3-none-any.whl", "the build tag 'x'"),
        ("demo-not.a.version!-py3-none-any.whl", "the version part 'not.a.version!'"),
        (
            "debug-demo-1.0-py3-none-any.whl",
            "the version part 'demo' of 'debug-demo-1.0-py3-none-any.whl' is not a version; "
            "a '-' in the project name? write it as debug_demo",
        ),
    ],
)
def test_invalid_filename_says_which_part(
    make_wheel: MakeWheel, filename: str, blamed: str
) -> None:
    result = check_wheel(make_wheel(FILES, filename=filename))
    assert result.error is not None
    assert blamed in result.error


# -- bounded and total: hostile sizes, versions and fields (issue 10) ---------------------
def test_record_size_with_thousands_of_digits(make_wheel: MakeWheel) -> None:
    # int() raises ValueError above 4300 digits: this was an internal error (exit 4).
    files = {**BINARY_FILES, "demo/extra.py": b"x"}
    row = f"demo/extra.py,{sha256_field(b'x')},{'7' * 5000}\n"
    result = checked(make_wheel, files, record_for(BINARY_FILES, extra_rows=row))
    [finding] = findings(result, "WF502")
    assert "5000 digits" in finding.message
    assert len(finding.message) < 200


def test_record_field_over_the_csv_limit(make_wheel: MakeWheel) -> None:
    files = {**BINARY_FILES, "demo/extra.py": b"x"}
    row = f'demo/extra.py,"sha256={"A" * (csv.field_size_limit() + 1)}",1\n'
    result = checked(make_wheel, files, record_for(BINARY_FILES, extra_rows=row))
    [finding] = findings(result, "WF502")
    assert "not valid CSV" in finding.message


def test_record_above_the_text_limit(make_wheel: MakeWheel) -> None:
    from wheelfix.formats.wheelfile import TEXT_LIMIT

    huge = record_for(BINARY_FILES) + "#" * TEXT_LIMIT + "\n"
    result = checked(make_wheel, BINARY_FILES, huge)
    [finding] = findings(result, "WF501")
    assert f"above the limit of {TEXT_LIMIT}" in finding.message


def test_metadata_version_with_thousands_of_digits(make_wheel: MakeWheel) -> None:
    # packaging's Version() calls int() on each part: a plain ValueError, not InvalidVersion.
    metadata = f"Metadata-Version: 2.1\nName: demo\nVersion: 1.{'9' * 5000}\n"
    result = check_wheel(make_wheel(FILES, metadata_text=metadata))
    [finding] = findings(result, "WF514")
    assert "not a valid version" in finding.message
    assert len(finding.message) < 200


def test_cli_reports_the_good_wheel_beside_a_hostile_one(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from wheelmaker import build_wheel

    from wheelfix.cli.app import cli

    bad_text = f"Wheel-Version: {'9' * 5000}.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    (tmp_path / "bad").mkdir()
    bad = build_wheel(tmp_path / "bad", FILES, wheel_text=bad_text)
    good = build_wheel(tmp_path, FILES, name="good")
    for jobs in ("-j1", "-j2"):
        result = CliRunner().invoke(
            cli, ["check", "--no-config", jobs, "--format", "json", str(bad), str(good)]
        )
        assert result.exit_code == 2, result.output
        document = json.loads(result.stdout)
        statuses = {Path(r["path"]).name: r["status"] for r in document["results"]}
        assert statuses == {bad.name: "error", good.name: "ok"}
        assert "internal error" not in result.stderr
        assert "5000 digits" in result.stderr


def test_compressed_tag_line_that_would_expand_to_a_million_tags(make_wheel: MakeWheel) -> None:
    # 1.5 KB of "py0.py1...-a0.a1...-p0.p1..." asked packaging for 10**6 tags (17 s).
    from wheelfix.wheels.checks.integrity import MAX_TAGS_PER_LINE

    def part(prefix: str) -> str:
        return ".".join(f"{prefix}{i}" for i in range(100))

    text = GOOD_WHEEL_TEXT + f"Tag: {part('py')}-{part('a')}-{part('p')}\n"
    result = check_wheel(make_wheel(FILES, wheel_text=text))
    messages = [f.message for f in findings(result, "WF511")]
    assert any(f"expands to 1000000 tags (more than {MAX_TAGS_PER_LINE})" in m for m in messages)
    assert codes(result) == {"WF511", "WF103"}  # and the line is not in the filename


def test_metadata_and_wheel_headers_above_the_limit(make_wheel: MakeWheel) -> None:
    # The email parser took 10 s on 16 MiB of header lines; only 1 MiB of headers is read.
    from wheelfix.wheels.checks.integrity import HEADER_LIMIT

    many = "X-Pad: y\n" * (HEADER_LIMIT // 9 + 1)
    metadata = f"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n{many}"
    result = check_wheel(make_wheel(FILES, metadata_text=metadata))
    [finding] = findings(result, "WF514")
    assert f"longer than {HEADER_LIMIT} characters" in finding.message
    result = check_wheel(make_wheel(FILES, wheel_text=GOOD_WHEEL_TEXT + many))
    [finding] = findings(result, "WF511")
    assert "WHEEL headers are longer" in finding.message


def test_a_long_description_after_the_headers_is_fine(make_wheel: MakeWheel) -> None:
    body = "Long description line.\n" * (2 * HEADER_LIMIT_LINES)
    metadata = f"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\n{body}"
    assert codes(check_wheel(make_wheel(FILES, metadata_text=metadata))) == set()
    crlf = "Metadata-Version: 2.1\r\nName: demo\r\nVersion: 1.0\r\n\r\n" + body
    assert codes(check_wheel(make_wheel(FILES, metadata_text=crlf))) == set()


HEADER_LIMIT_LINES = (1 << 20) // 23 + 1
