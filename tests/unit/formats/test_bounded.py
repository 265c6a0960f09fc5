"""The bounded readers: files that are not regular, caps, digit caps, strict text, JSON shapes.

Every hostile input is made on the fly: a FIFO with no writer (opening it for reading would
block forever), ``/dev/zero`` (never ends), a sparse file of 3 GiB (reading it whole would
take 3 GiB of memory), numbers with thousands of digits, JSON nested 100 000 levels deep.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from unprivileged import as_nobody, shared_folder

from wheelfix.errors import WheelfixError
from wheelfix.formats.bounded import (
    MAX_DIGITS,
    MAX_JSON_DEPTH,
    MalformedInputError,
    decode_text,
    describe,
    excerpt,
    expect_int,
    expect_list,
    expect_object,
    expect_str,
    load_json,
    open_regular,
    parse_decimal,
    read_capped,
    read_regular,
    where,
)

GiB = 1 << 30


def refused(path: Path, limit: int = 1 << 20) -> str:
    with pytest.raises(MalformedInputError) as info:
        read_regular(path, limit)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message


# -- files -------------------------------------------------------------------------------------
def test_reads_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert read_regular(path, 3) == b"abc"


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # nobody ever writes: a blocking open would never return
    assert "FIFO" in refused(fifo)
    with pytest.raises(MalformedInputError, match="FIFO"):
        open_regular(fifo)


def test_device_is_refused(tmp_path: Path) -> None:
    zero = Path("/dev/zero")
    if not zero.exists():
        pytest.skip("no /dev/zero here")
    assert "device" in refused(zero)


def test_sparse_file_above_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big"
    with big.open("wb") as fh:
        fh.truncate(3 * GiB)  # sparse: no disk used, but 3 GiB if read whole
    message = refused(big)
    assert f"{3 * GiB} bytes" in message
    assert "limit" in message


def test_directory_missing_and_symlink(tmp_path: Path) -> None:
    assert "is a directory" in refused(tmp_path)
    assert "no such file" in refused(tmp_path / "absent")
    target = tmp_path / "target"
    target.write_bytes(b"x")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert read_regular(link, 10) == b"x"  # a path the user typed is followed
    with pytest.raises(MalformedInputError, match="symbolic link"):
        read_regular(link, 10, follow_symlinks=False)


def test_permission_denied() -> None:
    with shared_folder() as folder:
        path = folder / "secret"
        path.write_bytes(b"x")
        path.chmod(0)
        assert "permission denied" in as_nobody(lambda: refused(path))
        path.chmod(0o644)  # the same file, readable: the refusal was the mode
        assert as_nobody(lambda: read_regular(path, 10)) == b"x"


def test_read_capped_refuses_rather_than_truncates(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    with path.open("rb") as fh:
        assert read_capped(fh, 5, "f") == b"12345"
    with path.open("rb") as fh, pytest.raises(MalformedInputError, match="limit of 4 bytes"):
        read_capped(fh, 4, "f")


# -- numbers and text --------------------------------------------------------------------------
def test_parse_decimal() -> None:
    assert parse_decimal("0", "n") == 0
    assert parse_decimal("9" * MAX_DIGITS, "n") == int("9" * MAX_DIGITS)


@pytest.mark.parametrize("text", ["", "-1", "1.0", " 1", "0x1", "\u00b2", "\u0661", "1e3"])
def test_parse_decimal_refuses_non_digits(text: str) -> None:
    with pytest.raises(MalformedInputError, match="not a number"):
        parse_decimal(text, "size")


def test_parse_decimal_caps_digits_before_int() -> None:
    # int() itself raises ValueError above 4300 digits: that was a crash (exit 4).
    with pytest.raises(MalformedInputError, match="5000 digits") as info:
        parse_decimal("7" * 5000, "RECORD line 3: size")
    assert len(str(info.value)) < 200
    with pytest.raises(MalformedInputError, match="more than 20"):
        parse_decimal("1" * (MAX_DIGITS + 1), "size")


def test_decode_text_names_the_byte() -> None:
    assert decode_text("é".encode(), "f") == "é"
    with pytest.raises(MalformedInputError, match=r"byte 0xff at offset 2"):
        decode_text(b"ab\xffcd", "f")


def test_excerpt_bounds_hostile_values() -> None:
    assert excerpt("abc") == "'abc'"
    long = excerpt("x" * 100_000)
    assert len(long) < 120
    assert "100000 characters" in long


# -- JSON --------------------------------------------------------------------------------------
def test_load_json() -> None:
    assert load_json(b'{"a": [1, "b", null]}', "doc") == {"a": [1, "b", None]}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b'{"a": ' * 1000 + b"1" + b"}" * 1000, "nested deeper"),
        (b"[" + b"9" * 5000 + b"]", "digits"),
        (b"[NaN]", "not JSON"),
        (b"{", "not JSON"),
        (b'"\xff"', "not UTF-8"),
    ],
)
def test_load_json_refuses(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedInputError, match=reason) as info:
        load_json(data, "index.json")
    assert str(info.value).startswith("index.json: ")


def test_brackets_inside_strings_are_not_nesting() -> None:
    document = b'["' + b"[" * (MAX_JSON_DEPTH * 2) + b'\\"["]'
    assert load_json(document, "doc") == ["[" * (MAX_JSON_DEPTH * 2) + '"[']


def test_shape_errors_name_the_json_path() -> None:
    path = where(where(where("manifest.json", 0), "Layers"), 2)
    assert path == "manifest.json[0].Layers[2]"
    with pytest.raises(MalformedInputError) as info:
        expect_str({"x": 1}, path)
    assert str(info.value) == "manifest.json[0].Layers[2]: expected a string, got an object"
    assert isinstance(info.value, WheelfixError)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("value", "kind"),
    [(None, "null"), (True, "a boolean"), ([], "a list"), ("s", "a string"), (1.5, "a number")],
)
def test_describe(value: object, kind: str) -> None:
    assert describe(value) == kind


def test_expect_helpers() -> None:
    assert expect_object({"a": 1}, "x") == {"a": 1}
    assert expect_list([1], "x") == [1]
    assert expect_int(3, "x") == 3
    with pytest.raises(MalformedInputError, match="expected an object, got a list"):
        expect_object([], "x")
    with pytest.raises(MalformedInputError, match="expected a list, got null"):
        expect_list(None, "x")
    with pytest.raises(MalformedInputError, match="expected an integer, got a boolean"):
        expect_int(True, "x")
    with pytest.raises(MalformedInputError, match="expected an integer, got a string"):
        expect_int("12", "x")
    with pytest.raises(MalformedInputError, match=">= 0, got -1"):
        expect_int(-1, "x")
