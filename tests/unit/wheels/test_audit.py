"""check(): one result per input in input order, errors kept per wheel, parallel = serial."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from wheelmaker import MakeWheel

from wheelfix.errors import UsageError
from wheelfix.findings import Severity
from wheelfix.formats.wheelfile import WheelArchive
from wheelfix.wheels.audit import CheckOptions, _scan, check, check_wheel


def test_a_clean_pure_wheel_has_no_findings(make_wheel: MakeWheel) -> None:
    wheel = make_wheel({"demo/__init__.py": "VALUE = 1\n"})
    report = check(wheel, jobs=1)
    (result,) = report.results
    assert result.status == "ok", result.findings
    assert result.sizes.compressed == wheel.stat().st_size
    assert report.exit_code == 0


def test_results_keep_input_order_and_errors_stay_per_wheel(
    make_wheel: MakeWheel, tmp_path: Path
) -> None:
    good = make_wheel({"demo/__init__.py": ""})
    tests = make_wheel({"other/__init__.py": "", "other/tests/test_a.py": ""}, name="other")
    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    seen: list[str] = []
    report = check([tests, broken, good], jobs=2, on_result=lambda r: seen.append(r.filename))
    assert [r.filename for r in report.results] == [tests.name, broken.name, good.name]
    assert sorted(seen) == sorted(r.filename for r in report.results)
    assert report.results[1].status == "error"
    assert report.results[0].findings[0].code == "WF401"
    assert report.exit_code == 2  # an unreadable input wins over findings


def test_parallel_and_serial_runs_agree(make_wheel: MakeWheel) -> None:
    wheels = [
        make_wheel({f"p{i}/__init__.py": "", f"p{i}/tests/t.py": ""}, name=f"p{i}")
        for i in range(5)
    ]
    serial = check(wheels, jobs=1).to_json()
    parallel = check(wheels, jobs=3).to_json()
    assert serial == parallel


def test_fail_on_decides_the_exit_code(make_wheel: MakeWheel) -> None:
    wheel = make_wheel({"demo/__init__.py": "", "demo/tests/test_a.py": ""})  # WF401 info
    assert check(wheel, jobs=1).exit_code == 0
    assert check(wheel, jobs=1, fail_on="info").exit_code == 1
    assert check(wheel, jobs=1, fail_on=Severity.INFO).exit_code == 1
    assert check(wheel, jobs=1, fail_on="never").exit_code == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "solaris_2_sparc"}, "is not a manylinux_X_Y_ARCH, musllinux_X_Y_ARCH"),
        ({"target": "manylinux_9_99_x86_64"}, "no such policy"),
        ({"select": ["WF000"]}, "select 'WF000' matches no check"),
        ({"fail_on": "sometimes"}, "unknown severity"),
    ],
)
def test_options_that_make_no_sense_raise_before_any_work(
    make_wheel: MakeWheel, kwargs: dict[str, object], message: str
) -> None:
    wheel = make_wheel({"demo/__init__.py": ""})
    with pytest.raises(UsageError, match=message):
        check(wheel, **kwargs)  # type: ignore[arg-type]


def test_check_wheel_never_raises_for_a_missing_file(tmp_path: Path) -> None:
    result = check_wheel(tmp_path / "gone-1.0-py3-none-any.whl", CheckOptions())
    assert result.status == "error"
    assert result.error is not None


def _big_wheel(make_wheel: MakeWheel, elf: bytes) -> Path:
    """A wheel above the size where members are read in parallel (8 MiB), with ELF files,
    texts and incompressible data spread over many members."""
    rng = random.Random(7)  # noqa: S311 - test data, not secrets
    files: dict[str, str | bytes] = {"demo/__init__.py": "VALUE = 1\n"}
    for i in range(24):
        files[f"demo/blob{i}.bin"] = rng.randbytes(400_000 + 1000 * i)
        files[f"demo/_ext{i}.cpython-311-x86_64-linux-gnu.so"] = elf
        files[f"demo/mod{i}.py"] = f"X = {i}\n"
    return make_wheel(files, tag="cp311-cp311-linux_x86_64")


def test_parallel_reads_agree_with_one_reader(
    make_wheel: MakeWheel, elf_fixtures: Mapping[str, Path]
) -> None:
    wheel = _big_wheel(make_wheel, elf_fixtures["debug"].read_bytes())
    with WheelArchive(wheel) as archive:
        alone = _scan(archive, 1)
        forked = _scan(archive, 2)  # shards in forked children (this test has one thread)
        seen: list[str] = []
        threaded = _scan(archive, 2, sink=lambda member, _data: seen.append(member.name))
    assert forked == alone
    assert threaded == alone
    assert sorted(seen) == sorted(m.name for m in archive.members)
    assert len(alone.elves) == 24
    assert list(forked.digests) == [m.name for m in archive.members]  # archive order


def test_a_forked_reader_never_moves_the_parents_file_offset(
    make_wheel: MakeWheel, elf_fixtures: Mapping[str, Path]
) -> None:
    wheel = _big_wheel(make_wheel, elf_fixtures["release"].read_bytes())
    with WheelArchive(wheel) as archive:
        fd = archive._fh.fileno()
        os.lseek(fd, 123, os.SEEK_SET)
        first = _scan(archive, 2)
        assert os.lseek(fd, 0, os.SEEK_CUR) == 123
        assert _scan(archive, 2) == first


def test_after_read_runs_once_every_member_was_read_and_before_the_verdict(
    make_wheel: MakeWheel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wheelfix.wheels import evaluate

    wheel = make_wheel({"demo/__init__.py": b"", "demo/data.txt": b"x"})
    events: list[str] = []
    real = evaluate.evaluate

    def spy(*args: Any) -> Any:
        events.append("verdict")
        return real(*args)

    monkeypatch.setattr(evaluate, "evaluate", spy)
    result = check_wheel(
        wheel,
        sink=lambda member, _data: events.append(member.name),
        after_read=lambda: events.append("after_read"),
    )
    assert result.error is None
    assert events[-2:] == ["after_read", "verdict"]
    with WheelArchive(Path(wheel)) as archive:  # every member went to the sink before
        assert sorted(events[:-2]) == sorted(m.name for m in archive.members)


def test_after_read_is_not_run_for_an_unreadable_wheel_and_what_it_raises_is_raised(
    make_wheel: MakeWheel, tmp_path: Path
) -> None:
    bad = tmp_path / "demo-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    calls: list[int] = []
    assert check_wheel(bad, after_read=lambda: calls.append(1)).error is not None
    assert calls == []

    def fail() -> None:
        raise UsageError("stop here")

    with pytest.raises(UsageError, match="stop here"):
        check_wheel(make_wheel({"demo/__init__.py": b""}), after_read=fail)
