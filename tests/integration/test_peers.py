"""Every verdict check-wheel-contents and pydistcheck give on their own test data has a
wheelfix counterpart, through the code table in docs/peers.md.

check-wheel-contents' expectations are its recorded outputs (``*.json`` beside each wheel);
pydistcheck is run side by side (it is a test dependency). The data and its origin are in
tests/data/peers/README.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from wheelfix.findings import Check
from wheelfix.wheels.audit import CheckOptions, check_wheel
from wheelfix.wheels.checks.contents import ContentRules
from wheelfix.wheels.results import WheelResult

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "peers"
CWC = DATA / "check-wheel-contents"
PDC = DATA / "pydistcheck"
REFUSED = "refused"
_ROW_RE = re.compile(r"^\| (check-wheel-contents|pydistcheck) \| ([^|]+?) \| ([^|]+?) \|", re.M)
#: (file, peer code) pairs without a wheelfix counterpart yet, each explained in peers.md;
#: none today (the Mach-O debug symbols of debug-baseballmetrics are WF301/WF302 now)
KNOWN_GAPS: set[tuple[str, str]] = set()


def table() -> dict[tuple[str, str], set[str]]:
    """(tool, peer code) -> wheelfix codes, or {"refused"}, from docs/peers.md."""
    text = (REPO / "docs" / "peers.md").read_text(encoding="utf-8")
    out = {}
    for tool, peer, ours in _ROW_RE.findall(text):
        codes = {c.strip() for c in ours.split(",")}
        for code in codes - {REFUSED}:
            Check.by_code(code)  # KeyError for a code that does not exist
        out[(tool, peer)] = codes
    return out


def test_the_table_covers_every_peer_code() -> None:
    rows = table()
    cwc = {p for t, p in rows if t == "check-wheel-contents" and re.fullmatch(r"W\d{3}", p)}
    assert cwc == {f"W00{i}" for i in range(1, 10)} | {"W010", "W101", "W102", "W201", "W202"}
    pdc = {p for t, p in rows if t == "pydistcheck"}
    assert len(pdc) == 11


def satisfied(result: WheelResult, wanted: set[str]) -> bool:
    if wanted == {REFUSED}:
        return result.error is not None
    assert result.error is None, result.error
    return bool(wanted & {f.code for f in result.findings})


def _cwc_expected(recorded: dict[str, object]) -> list[str]:
    """The peer codes one recorded check-wheel-contents run asserts."""
    stdout, stderr = str(recorded["stdout"]), str(recorded["stderr"])
    codes = sorted(set(re.findall(r": (W\d{3}): ", stdout)))
    if "wheel has invalid filename" in stderr:
        codes.append("wheel has invalid filename")
    elif "invalid wheel: " in stderr:
        reason = stderr.split("invalid wheel: ", 1)[1]
        rows = [p for t, p in table() if t == "check-wheel-contents" and not p.startswith("W")]
        codes += [p for p in rows if p.lower() in reason.lower()]
        assert codes, f"no row in docs/peers.md for {reason!r}"
    return codes


@pytest.mark.parametrize("golden", sorted(CWC.glob("*.json")), ids=lambda p: p.stem)
def test_check_wheel_contents_verdicts_have_counterparts(golden: Path) -> None:
    recorded = json.loads(golden.read_text(encoding="utf-8"))
    wheel = golden.with_suffix(".whl")
    result = check_wheel(wheel)
    rows = table()
    expected = _cwc_expected(recorded)
    for peer in expected:
        wanted = rows[("check-wheel-contents", peer)]
        assert satisfied(result, wanted), f"{wheel.name}: {peer} has no {wanted} finding"
    if recorded["rc"] == 0:  # "OK": wheelfix agrees there is no content problem either
        ours = {c for (t, _), cs in rows.items() if t == "check-wheel-contents" for c in cs}
        assert result.error is None
        assert not ours & {f.code for f in result.findings}, result.findings


def run_pydistcheck(path: Path, args: Sequence[str], cwd: Path) -> set[str]:
    exe = shutil.which("pydistcheck")
    if exe is None:
        pytest.skip("pydistcheck is not installed (pip install -e '.[test]')")
    done = subprocess.run(
        [exe, *args, str(path)], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    return set(re.findall(r"^\d+\. \[([a-z-]+)\]", done.stdout, re.M))


#: (file, pydistcheck options, the same limits for wheelfix)
_TIGHT = ContentRules(
    max_files=2,
    max_compressed_size=1024,
    max_unpacked_size=1024,
    max_path_length=10,
    expected_files=("*/nonexistent.py",),
)
_TIGHT_ARGS = (
    "--max-allowed-files=2",
    "--max-allowed-size-compressed=1K",
    "--max-allowed-size-uncompressed=1K",
    "--max-path-length=10",
    "--expected-files=*/nonexistent.py",
)
CASES: list[tuple[str, tuple[str, ...], ContentRules]]
CASES = [(p.name, (), ContentRules()) for p in sorted(PDC.iterdir()) if p.name != "LICENSE"]
CASES += [(n, _TIGHT_ARGS, _TIGHT) for n in ("base-package-0.1.0.tar.gz", "base-package-0.1.0.zip")]
CASES += [
    (f"baseballmetrics-0.1.0-py3-none-{tag}.whl", _TIGHT_ARGS, _TIGHT)
    for tag in (
        "macosx_12_0_arm64",
        "manylinux1_x86_64.manylinux_2_28_x86_64.manylinux_2_5_x86_64",
    )
]


def _readable_copy(path: Path, tmp_path: Path) -> Path:
    """pydistcheck's debug wheels carry a '-' in the project name, which wheelfix refuses
    (naming the version part); the same bytes under the name their .dist-info has."""
    if not path.name.startswith("debug-baseballmetrics-"):
        return path
    refused = check_wheel(path)
    assert refused.error is not None
    assert "the version part 'baseballmetrics'" in refused.error
    assert "write it as debug_baseballmetrics" in refused.error
    copy = tmp_path / path.name.removeprefix("debug-")
    shutil.copyfile(path, copy)
    return copy


@pytest.mark.parametrize(("name", "args", "rules"), CASES, ids=lambda v: str(v)[:60])
def test_pydistcheck_verdicts_have_counterparts(
    tmp_path: Path, name: str, args: tuple[str, ...], rules: ContentRules
) -> None:
    path = PDC / name
    theirs = run_pydistcheck(path, args, tmp_path)
    result = check_wheel(_readable_copy(path, tmp_path), CheckOptions(contents=rules))
    rows = table()
    missing = {
        peer
        for peer in theirs
        if (name, peer) not in KNOWN_GAPS and not satisfied(result, rows[("pydistcheck", peer)])
    }
    assert not missing, f"{name}: no wheelfix counterpart for {sorted(missing)}"
    if args:  # the tight limits exercise the size, count, length and pattern checks
        assert {"too-many-files", "path-too-long", "expected-files"} <= theirs
