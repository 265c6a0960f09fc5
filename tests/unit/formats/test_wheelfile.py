"""The archive layer against hostile zips (BAD_INPUTS.md, "Archive").

Every hostile archive goes through the library entry point, ``check_wheel``, and must give
an error result: one line naming the file (and the member, when there is one) and the
reason; nothing written next to it; the input's bytes unchanged (``assert_refused``).
The zips are framed by hand (``raw_zip``) so each test puts exactly one lie in an
otherwise valid wheel.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from unprivileged import as_nobody, shared_folder
from wheelmaker import (
    MakeWheel,
    RawEntry,
    assert_refused,
    raw_wheel_entries,
    raw_zip,
    snapshot,
    wheel_entries,
    write_zip,
)

import wheelfix
from wheelfix.errors import InvalidWheelError
from wheelfix.formats.wheelfile import Limits, WheelArchive, validate_member_name
from wheelfix.wheels.audit import CheckOptions, check_wheel

WHEEL = "demo-1.0-py3-none-any.whl"
GOOD_FILES = {"demo/__init__.py": "VALUE = 1\n"}


def hostile(tmp_path: Path, *extra: RawEntry, **framing: Any) -> Path:
    """A correct wheel (``GOOD_FILES``) plus ``extra`` members, framed with ``framing``."""
    entries = [*raw_wheel_entries(GOOD_FILES), *extra]
    path = tmp_path / WHEEL
    path.write_bytes(raw_zip(entries, **framing))
    return path


def write(tmp_path: Path, data: bytes, name: str = WHEEL) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def good_zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in wheel_entries(GOOD_FILES):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


# -- baselines: the builders make wheels the reader accepts -------------------------------
def test_factory_wheel_is_clean(make_wheel: MakeWheel) -> None:
    result = check_wheel(make_wheel(GOOD_FILES))
    assert result.error is None
    assert result.findings == ()


def test_factory_is_reproducible(make_wheel: MakeWheel, tmp_path: Path) -> None:
    first = make_wheel(GOOD_FILES).read_bytes()
    second = make_wheel(GOOD_FILES, filename="again-1.0-py3-none-any.whl")
    assert second.read_bytes() == first


def test_factory_options(make_wheel: MakeWheel) -> None:
    path = make_wheel(
        {"demo/_x.py": b"x"},
        name="other",
        version="2.5",
        tag="cp311-cp311-linux_x86_64",
        record=False,
    )
    assert path.name == "other-2.5-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        wheel_text = zf.read("other-2.5.dist-info/WHEEL").decode()
    assert "other-2.5.dist-info/RECORD" not in names
    assert "Root-Is-Purelib: false" in wheel_text
    assert "Tag: cp311-cp311-linux_x86_64" in wheel_text


def test_raw_framing_is_accepted(tmp_path: Path) -> None:
    result = check_wheel(hostile(tmp_path))
    assert result.error is None
    assert result.findings == ()


def test_zip64_end_records_are_accepted(tmp_path: Path) -> None:
    assert check_wheel(hostile(tmp_path, zip64=True)).error is None


@pytest.mark.slow
def test_zip64_written_by_zipfile_is_accepted(tmp_path: Path) -> None:
    # More than 65535 entries: zipfile writes real zip64 end records (about 3 s).
    files = {f"demo/d/{i}": b"" for i in range(0x10000)}
    path = write_zip(tmp_path / WHEEL, wheel_entries(files))
    with path.open("rb") as fh:
        fh.seek(-(22 + 20 + 56), os.SEEK_END)
        assert fh.read(4) == b"PK\x06\x06"
    result = check_wheel(path)
    assert result.error is None
    # readable; the only findings are about the contents (65536 files, no Python module)
    assert sorted(f.code for f in result.findings) == ["WF417", "WF424"]


def test_archive_comment_is_accepted(tmp_path: Path) -> None:
    assert check_wheel(hostile(tmp_path, comment=b"built by hand")).error is None


def test_data_descriptors_are_accepted(tmp_path: Path) -> None:
    # zipfile writes data descriptors when the output cannot seek.
    class Unseekable:
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, chunk: bytes, /) -> int:
            self.data += chunk
            return len(chunk)

        def flush(self) -> None:
            pass

        def close(self) -> None:
            pass

    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in wheel_entries(GOOD_FILES):
            with zf.open(name, "w") as fh:
                fh.write(data)
    data = bytes(sink.data)
    assert b"PK\x07\x08" in data
    assert check_wheel(write(tmp_path, data)).error is None


def test_many_members_read_on_threads(tmp_path: Path) -> None:
    # More than the threading threshold: members are decompressed on a pool.
    files: dict[str, bytes | str] = {f"demo/blob{i}.bin": os.urandom(1 << 20) for i in range(10)}
    files["demo/__init__.py"] = ""  # a package, so the data has an owner (no WF417)
    path = write_zip(tmp_path / WHEEL, wheel_entries(files))
    result = check_wheel(path, threads=4)
    assert result.error is None
    assert result.findings == ()


# -- not a zip, truncated, corrupt data ------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is a text file, not a wheel\n", id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\x7fELF\x02\x01\x01" + bytes(57), id="elf"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(100), id="png"),
        pytest.param(b"PK\x05\x06" + bytes(18), id="empty-zip"),
    ],
)
def test_not_a_zip(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, content)
    result = assert_refused(path, reason="")
    assert result.error is not None
    assert "zip" in result.error.lower() or "archive" in result.error.lower()


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda n: 30, id="inside-first-member"),
        pytest.param(lambda n: n // 2, id="half"),
        pytest.param(lambda n: n * 9 // 10, id="inside-central-directory"),
        pytest.param(lambda n: n - 22, id="end-record-missing"),
        pytest.param(lambda n: n - 10, id="inside-end-record"),
        pytest.param(lambda n: n - 1, id="last-byte"),
    ],
)
def test_truncated_zip(tmp_path: Path, cut: Callable[[int], int]) -> None:
    data = good_zip_bytes()
    assert_refused(write(tmp_path, data[: cut(len(data))]), reason="")


def test_corrupt_deflate_stream(tmp_path: Path) -> None:
    bad = RawEntry(
        name="demo/x.py", data=b"print(1)\n" * 10, method=zipfile.ZIP_DEFLATED, payload=b"\xff" * 24
    )
    assert_refused(hostile(tmp_path, bad), reason="corrupt", member="demo/x.py")


def test_crc_mismatch(tmp_path: Path) -> None:
    bad = RawEntry(name="demo/x.py", data=b"print(1)\n", crc=0x12345678)
    assert_refused(hostile(tmp_path, bad), reason="CRC", member="demo/x.py")


def test_stored_data_changed_after_crc(tmp_path: Path) -> None:
    data = b"print('hello')\n"
    bad = RawEntry(name="demo/x.py", data=data, payload=data.replace(b"hello", b"HELLO"))
    assert_refused(hostile(tmp_path, bad), reason="CRC", member="demo/x.py")


def test_declared_size_smaller_than_stream(tmp_path: Path) -> None:
    # Decompression stops at the declared size; the CRC of the whole then cannot match.
    data = b"A" * 50_000
    bad = RawEntry(name="demo/x.bin", data=data, method=zipfile.ZIP_DEFLATED, size=100)
    assert_refused(hostile(tmp_path, bad), reason="CRC", member="demo/x.bin")


def test_read_never_returns_more_than_declared(tmp_path: Path) -> None:
    # Even with a CRC that matches the declared prefix, the reader stops at the size.
    data = b"A" * 50_000
    bad = RawEntry(
        name="demo/x.bin",
        data=data,
        method=zipfile.ZIP_DEFLATED,
        size=100,
        crc=zlib.crc32(data[:100]),
    )
    with WheelArchive(hostile(tmp_path, bad)) as archive:
        assert archive.read(archive.by_name["demo/x.bin"]) == data[:100]


def test_declared_size_larger_than_stream(tmp_path: Path) -> None:
    bad = RawEntry(name="demo/x.bin", data=b"abc", method=zipfile.ZIP_DEFLATED, size=10_000)
    assert_refused(hostile(tmp_path, bad), reason="", member="demo/x.bin")


# -- member names -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"../x", "climbs out"),
        (b"demo/../../x", "climbs out"),
        (b"a/../../x", "climbs out"),
        (b"demo/..", "climbs out"),
        (b"/abs", "absolute"),
        (b"/etc/passwd", "absolute"),
        (b"//host/share/x", "absolute"),
        (b"C:/x", "drive letter"),
        (b"c:x", "drive letter"),
        (b"demo\\x.py", "backslash"),
        (b"..\\..\\x", "backslash"),
        (b"demo/x.py\x00../../evil", "control character"),
        (b"demo/x\x00", "control character"),
        (b"demo/x\x1b[31m.py", "control character"),
        (b"demo/x\n.py", "control character"),
        (b"demo/x\x7f.py", "control character"),
        (b"demo/" + b"a" * 256, "too long"),
        (b"demo/" + b"ab/" * 1400 + b"x", "too long"),
        (b"demo/./x.py", "'.' path component"),
        (b"demo//x.py", "empty or '.'"),
        (b"", "empty member name"),
    ],
    ids=lambda v: repr(v)[:40] if isinstance(v, bytes) else None,
)
def test_unsafe_member_names(tmp_path: Path, raw: bytes, reason: str) -> None:
    assert_refused(hostile(tmp_path, RawEntry(name=raw, data=b"x")), reason=reason)


def test_name_error_names_the_member(tmp_path: Path) -> None:
    result = assert_refused(
        hostile(tmp_path, RawEntry(name=b"../evil.py", data=b"x")),
        reason="climbs out",
        member="../evil.py",
    )
    assert result.error is not None
    assert result.error.startswith(f"{tmp_path / WHEEL}: ")


def test_name_not_utf8_despite_flag(tmp_path: Path) -> None:
    bad = RawEntry(name=b"demo/\xff\xfe.py", data=b"x", flags=0x800)
    assert_refused(hostile(tmp_path, bad), reason="not valid UTF-8", member="xff")


def test_non_ascii_name_without_utf8_flag(tmp_path: Path) -> None:
    bad = RawEntry(name="demo/caf\u00e9.py".encode("latin-1"), data=b"x", flags=0)
    assert_refused(hostile(tmp_path, bad), reason="without the UTF-8 flag")


def test_utf8_name_with_flag_is_fine(tmp_path: Path) -> None:
    good = RawEntry(name="demo/caf\u00e9.py", data=b"x")
    result = check_wheel(hostile(tmp_path, good))
    assert result.error is None
    # readable: not in RECORD, and a non-ASCII path (a warning, not a refusal)
    assert [f.code for f in result.findings] == ["WF505", "WF426"]


def test_too_many_members(tmp_path: Path) -> None:
    files = {f"demo/m{i}.py": "" for i in range(10)}
    path = write_zip(tmp_path / WHEEL, wheel_entries(files))
    assert_refused(path, reason="too many members", limits=Limits(max_members=5))
    assert check_wheel(path, CheckOptions(limits=Limits(max_members=13))).error is None


def test_validate_member_name_accepts_ordinary_names() -> None:
    for name in ("demo/__init__.py", "demo-1.0.dist-info/RECORD", "a/b/", "caf\u00e9.txt"):
        assert validate_member_name(name) is None


# -- symlinks and other non-regular members ----------------------------------------------
@pytest.mark.parametrize("system", [3, 0], ids=["unix", "dos"])
def test_symlink_member(tmp_path: Path, system: int) -> None:
    link = RawEntry(
        name="demo/link",
        data=b"/etc/passwd",
        create_system=system,
        external_attr=(stat.S_IFLNK | 0o777) << 16,
    )
    assert_refused(hostile(tmp_path, link), reason="symbolic link", member="demo/link")


def test_symlink_written_by_zipfile(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("demo/escape", date_time=(2020, 1, 1, 0, 0, 0))
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = tmp_path / WHEEL
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in wheel_entries(GOOD_FILES):
            zf.writestr(name, data)
        zf.writestr(info, "../../../../etc")
    assert_refused(path, reason="symbolic link", member="demo/escape")
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("kind", [stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK])
def test_special_file_member(tmp_path: Path, kind: int) -> None:
    bad = RawEntry(name="demo/dev", external_attr=(kind | 0o644) << 16)
    assert_refused(hostile(tmp_path, bad), reason="not a regular file", member="demo/dev")


def test_directory_entries_are_fine(tmp_path: Path) -> None:
    folder = RawEntry(name="demo/sub/", external_attr=(stat.S_IFDIR | 0o755) << 16)
    assert check_wheel(hostile(tmp_path, folder)).error is None


def test_directory_entry_with_data(tmp_path: Path) -> None:
    folder = RawEntry(name="demo/sub/", data=b"surprise")
    assert_refused(hostile(tmp_path, folder), reason="directory entry with data")


# -- duplicates -----------------------------------------------------------------------------
def test_duplicate_member_names(tmp_path: Path) -> None:
    first = RawEntry(name="demo/x.py", data=b"safe = True\n")
    second = RawEntry(name="demo/x.py", data=b"import os; os.system('boom')\n")
    assert_refused(hostile(tmp_path, first, second), reason="duplicate", member="demo/x.py")


def test_duplicate_of_dist_info_file(tmp_path: Path) -> None:
    shadow = RawEntry(name="demo-1.0.dist-info/RECORD", data=b"")
    assert_refused(hostile(tmp_path, shadow), reason="duplicate")


def test_duplicate_after_unicode_normalisation(tmp_path: Path) -> None:
    composed = unicodedata.normalize("NFC", "demo/caf\u00e9.py")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    entries = (RawEntry(name=decomposed, data=b"a"), RawEntry(name=composed, data=b"b"))
    assert_refused(hostile(tmp_path, *entries), reason="duplicate")


def test_case_only_duplicates_are_a_warning(make_wheel: MakeWheel) -> None:
    result = check_wheel(make_wheel({"demo/README.txt": "a", "demo/Readme.txt": "b"}))
    assert result.error is None
    collisions = [f for f in result.findings if f.code == "WF408"]
    assert len(collisions) == 1
    assert collisions[0].level.label == "warning"
    assert collisions[0].path == "demo/Readme.txt"


def test_file_and_folder_with_one_name(tmp_path: Path) -> None:
    entries = (RawEntry(name="demo/x", data=b"file"), RawEntry(name="demo/x/y.py", data=b""))
    assert_refused(hostile(tmp_path, *entries), reason="both a file and a folder")


# -- ambiguous framing ----------------------------------------------------------------------
def test_local_name_disagrees(tmp_path: Path) -> None:
    bad = RawEntry(name="demo/x.py", data=b"x", local_name=b"demo/y.py")
    assert_refused(hostile(tmp_path, bad), reason="local header name disagrees", member="demo/x.py")


def test_local_crc_disagrees(tmp_path: Path) -> None:
    bad = RawEntry(name="demo/x.py", data=b"x", local_crc=1)
    assert_refused(hostile(tmp_path, bad), reason="local header sizes disagree")


def test_local_method_disagrees(tmp_path: Path) -> None:
    bad = RawEntry(name="demo/x.py", data=b"x", local_method=zipfile.ZIP_DEFLATED)
    assert_refused(hostile(tmp_path, bad), reason="compression disagrees")


def test_local_flags_say_encrypted(tmp_path: Path) -> None:
    bad = RawEntry(name="demo/x.py", data=b"x", local_flags=0x1)
    assert_refused(hostile(tmp_path, bad), reason="flags disagree", member="demo/x.py")


def test_data_descriptor_disagrees(tmp_path: Path) -> None:
    data = b"print(1)\n"
    descriptor = struct.pack("<4sIII", b"PK\x07\x08", zlib.crc32(data) ^ 1, len(data), len(data))
    bad = RawEntry(name="demo/x.py", data=data, flags=0x8, descriptor=descriptor)
    assert_refused(hostile(tmp_path, bad), reason="data descriptor disagrees")


def test_matching_data_descriptor_is_fine(tmp_path: Path) -> None:
    data = b"print(1)\n"
    descriptor = struct.pack("<4sIII", b"PK\x07\x08", zlib.crc32(data), len(data), len(data))
    good = RawEntry(name="demo/x.py", data=data, flags=0x8, descriptor=descriptor)
    assert check_wheel(hostile(tmp_path, good)).error is None


def test_two_entries_share_a_local_header(tmp_path: Path) -> None:
    first = RawEntry(name="demo/a.py", data=b"a")
    alias = RawEntry(name="demo/b.py", data=b"a", central_only=True, header_offset=0)
    assert_refused(hostile(tmp_path, first, alias), reason="ambiguous framing")


def test_entry_hidden_inside_another(tmp_path: Path) -> None:
    # The classic overlap: member B's local header and data live inside member A's data.
    inner_name = b"demo/b.py"
    inner_data = b"evil = True\n"
    inner = (
        struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            20,
            0,
            0,
            0,
            0,
            zlib.crc32(inner_data),
            len(inner_data),
            len(inner_data),
            len(inner_name),
            0,
        )
        + inner_name
        + inner_data
    )
    entries = raw_wheel_entries(GOOD_FILES)
    start = len(raw_zip(entries)) - _central_and_end_size(entries)
    outer_name = b"demo/a.bin"
    outer = RawEntry(name=outer_name, data=inner)
    hidden = RawEntry(
        name=inner_name,
        data=inner_data,
        central_only=True,
        header_offset=start + 30 + len(outer_name),
    )
    path = write(tmp_path, raw_zip([*entries, outer, hidden]))
    assert_refused(path, reason="ambiguous framing", member="demo/b.py")


def _central_and_end_size(entries: list[RawEntry]) -> int:
    return sum(46 + len(e.raw_name()) for e in entries) + 22


def test_data_before_the_archive(tmp_path: Path) -> None:
    assert_refused(hostile(tmp_path, prefix=b"#!/bin/sh\nexec evil\n"), reason="ambiguous framing")


def test_self_extractor_stub_with_shifted_offsets(tmp_path: Path) -> None:
    path = hostile(tmp_path, prefix=b"MZ" + bytes(62), shift_offsets=True)
    assert_refused(path, reason="data before the first entry")


def test_data_after_the_archive(tmp_path: Path) -> None:
    assert_refused(hostile(tmp_path, suffix=b"trailing garbage"), reason="data after the end")


def test_second_archive_appended(tmp_path: Path) -> None:
    data = raw_zip(raw_wheel_entries(GOOD_FILES)) + good_zip_bytes()
    assert_refused(write(tmp_path, data), reason="")


def test_data_between_entries_and_central_directory(tmp_path: Path) -> None:
    assert_refused(hostile(tmp_path, between=b"hidden payload"), reason="data between")


def test_end_record_entry_count_disagrees(tmp_path: Path) -> None:
    entries = raw_wheel_entries(GOOD_FILES)
    path = write(tmp_path, raw_zip(entries, entry_count=len(entries) - 1))
    assert_refused(path, reason="counts")


def test_zip64_locator_points_elsewhere(tmp_path: Path) -> None:
    path = hostile(tmp_path, zip64=True, zip64_record_offset=10**12)
    assert_refused(path, reason="zip64")


# -- compression bombs ------------------------------------------------------------------
def test_declared_member_size_above_limit(tmp_path: Path) -> None:
    big = RawEntry(name="demo/big.bin", data=b"x" * 5000, method=zipfile.ZIP_DEFLATED)
    limits = Limits(max_member_size=4096)
    assert_refused(
        hostile(tmp_path, big), reason="above the limit", member="demo/big.bin", limits=limits
    )


def test_declared_size_is_checked_before_decompressing(tmp_path: Path) -> None:
    # 3 GiB declared, 3 bytes stored: refused from the header alone.
    bomb = RawEntry(name="demo/bomb.bin", data=b"abc", size=3 << 30)
    limits = Limits(max_member_size=1 << 30)
    assert_refused(hostile(tmp_path, bomb), reason="above the limit", limits=limits)


def test_compression_ratio_above_limit(tmp_path: Path) -> None:
    bomb = RawEntry(name="demo/zeros.bin", data=bytes(200_000), method=zipfile.ZIP_DEFLATED)
    limits = Limits(ratio_threshold=100_000, max_ratio=50)
    assert_refused(hostile(tmp_path, bomb), reason="compression ratio", limits=limits)


def test_high_ratio_below_threshold_is_fine(tmp_path: Path) -> None:
    small = RawEntry(name="demo/zeros.bin", data=bytes(200_000), method=zipfile.ZIP_DEFLATED)
    result = check_wheel(hostile(tmp_path, small))  # default threshold: 64 MiB
    assert result.error is None


def test_total_size_above_limit(tmp_path: Path) -> None:
    parts = [RawEntry(name=f"demo/p{i}.bin", data=bytes(4000)) for i in range(3)]
    limits = Limits(max_total_size=10_000)
    assert_refused(hostile(tmp_path, *parts), reason="uncompressed size exceeds", limits=limits)


# -- unsupported compression and encryption -----------------------------------------------
@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, 14, 93, 99, 1])
def test_unsupported_compression(tmp_path: Path, method: int) -> None:
    bad = RawEntry(name="demo/x.py", data=b"x", method=method, payload=b"????")
    assert_refused(
        hostile(tmp_path, bad), reason=f"compression method {method}", member="demo/x.py"
    )


def test_real_bzip2_member(tmp_path: Path) -> None:
    path = tmp_path / WHEEL
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as zf:
        for name, data in wheel_entries(GOOD_FILES):
            zf.writestr(name, data)
    assert_refused(path, reason="compression method 12")


@pytest.mark.parametrize("flags", [0x1, 0x41, 0x40, 0x2000], ids=hex)
def test_encrypted_member(tmp_path: Path, flags: int) -> None:
    bad = RawEntry(name="demo/x.py", data=b"x", flags=flags)
    assert_refused(hostile(tmp_path, bad), reason="encrypted member", member="demo/x.py")


def test_patched_data_flag(tmp_path: Path) -> None:
    bad = RawEntry(name="demo/x.py", data=b"x", flags=0x20)
    assert_refused(hostile(tmp_path, bad), reason="unsupported zip feature")


def test_version_needed_to_extract_too_new(tmp_path: Path) -> None:
    # zipfile raises NotImplementedError for these while listing the archive.
    bad = RawEntry(name="demo/x.py", data=b"x", extract_version=90)
    assert_refused(hostile(tmp_path, bad), reason="unsupported zip feature")


# -- the input path itself ------------------------------------------------------------------
def test_missing_file(tmp_path: Path) -> None:
    result = check_wheel(tmp_path / WHEEL)
    assert result.error is not None
    assert "no such file" in result.error
    assert snapshot(tmp_path) == {}


def test_directory_named_like_a_wheel(tmp_path: Path) -> None:
    folder = tmp_path / WHEEL
    folder.mkdir()
    assert_refused(folder, reason="is a directory", watch=tmp_path)


def test_fifo_named_like_a_wheel(tmp_path: Path) -> None:
    fifo = tmp_path / WHEEL
    os.mkfifo(fifo)
    results: list[str | None] = []
    worker = threading.Thread(target=lambda: results.append(check_wheel(fifo).error))
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # unblock the reader before failing
        with fifo.open("wb"):
            pass
        worker.join()
        pytest.fail("check_wheel blocked on a FIFO")
    assert results[0] is not None
    assert "not a regular file" in results[0]


def test_other_inputs_are_still_checked(tmp_path: Path, make_wheel: MakeWheel) -> None:
    good = make_wheel(GOOD_FILES)
    bad = write(tmp_path, b"not a zip", name="bad-1.0-py3-none-any.whl")
    report = wheelfix.check([bad, good], jobs=1)
    assert [r.status for r in report.results] == ["error", "ok"]
    assert report.exit_code == 2
    parallel = wheelfix.check([bad, good, bad], jobs=2)
    assert [r.status for r in parallel.results] == ["error", "ok", "error"]


def test_wheel_archive_raises_invalid_wheel_error(tmp_path: Path) -> None:
    path = hostile(tmp_path, RawEntry(name=b"../x", data=b""))
    with pytest.raises(InvalidWheelError) as info:
        WheelArchive(path)
    assert info.value.path == str(path)
    assert info.value.member == "'../x'"
    assert "climbs out" in info.value.reason


def test_a_missing_path_is_no_such_file_even_with_a_name_no_wheel_has(tmp_path: Path) -> None:
    # A shell glob that matched nothing arrives as its pattern: say it is missing.
    from wheelfix.errors import InvalidWheelError
    from wheelfix.formats.wheelfile import WheelArchive

    with pytest.raises(InvalidWheelError, match="no such file"):
        WheelArchive(tmp_path / "*.whl")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_device_given_as_a_wheel(tmp_path: Path, device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device} here")
    link = tmp_path / WHEEL  # a path the user gives is followed, then refused: never read
    link.symlink_to(device)
    result = check_wheel(link)
    assert result.error is not None
    assert "not a regular file (a device)" in result.error


def test_file_removed_after_the_check_is_never_reopened(
    tmp_path: Path, make_wheel: MakeWheel
) -> None:
    # The framing checks used to open the path a second time: a wheel deleted (or swapped
    # for a FIFO) in between crashed with FileNotFoundError. One descriptor serves both.
    path = make_wheel(GOOD_FILES)
    with WheelArchive(path) as archive:
        path.unlink()
        assert archive.read(archive.members[0])


@pytest.mark.parametrize("digits", [7, 5000])
def test_wheel_version_with_too_many_digits_is_refused(make_wheel: MakeWheel, digits: int) -> None:
    # int() raises ValueError above 4300 digits: that was an internal error (exit 4).
    wheel_text = f"Wheel-Version: {'9' * digits}.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    path = make_wheel(GOOD_FILES, wheel_text=wheel_text)
    result = assert_refused(path, reason=f"a part with {digits} digits", member="WHEEL")
    assert result.error is not None
    assert len(result.error) < 300


def test_wheel_version_parser_is_total() -> None:
    from wheelfix.formats.wheelfile import wheel_version

    assert wheel_version("Wheel-Version: 1.0\n") == (1, 0)
    assert wheel_version(f"Wheel-Version: 1.{'1' * 5000}\n") is None
    assert wheel_version(f"Wheel-Version: {'1' * 5000}.0\n") is None


@pytest.mark.parametrize("clash", [False, True])
def test_deep_names_are_checked_for_clashes_in_linear_time(
    make_wheel: MakeWheel, clash: bool
) -> None:
    # Every prefix of every name was built and looked up: 5000 names 2000 folders deep took
    # 172 s. Neighbours in a sorted list are enough; correctness on deep names is asserted.
    deep = "demo/" + "a/" * 2000
    files: dict[str, bytes | str] = {f"{deep}f{i}": b"" for i in range(300)}
    files["demo/a-b"] = b""  # sorts between "demo/a" and "demo/a/..." in plain order
    files["demo/a.txt"] = b""
    if clash:
        files[deep.rstrip("/")] = b"a file where a folder is"
        assert_refused(make_wheel(files), reason="is both a file and a folder", member="/f")
    else:
        assert check_wheel(make_wheel(files)).error is None


def test_file_and_folder_clash_with_names_sorting_in_between(tmp_path: Path) -> None:
    entries = (
        RawEntry(name="demo/x", data=b"file"),
        RawEntry(name="demo/x-y", data=b""),
        RawEntry(name="demo/x.py", data=b""),
        RawEntry(name="demo/x/y.py", data=b""),
    )
    assert_refused(hostile(tmp_path, *entries), reason="demo/x is both a file and a folder")


def test_a_wheel_that_cannot_be_read_for_its_mode(make_wheel: MakeWheel) -> None:
    source = make_wheel({"demo/__init__.py": ""})
    with shared_folder() as folder:
        wheel = folder / source.name
        wheel.write_bytes(source.read_bytes())
        assert check_wheel(wheel).error is None  # and loads what checks load lazily
        wheel.chmod(0)

        def open_it() -> str:
            with pytest.raises(InvalidWheelError) as info:
                WheelArchive(wheel)
            return str(info.value)

        assert as_nobody(open_it) == f"{wheel}: permission denied"
        result = as_nobody(lambda: check_wheel(wheel))
        assert result.error == f"{wheel}: permission denied"
        wheel.chmod(0o644)
        assert as_nobody(lambda: check_wheel(wheel)).error is None
