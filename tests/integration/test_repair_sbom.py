"""The SBOM through a repair, with the real auditwheel on the PyYAML builder wheel.

auditwheel 6.8+ writes ``*.dist-info/sboms/auditwheel.cdx.json`` naming the distribution
package each grafted library came from; wheelfix's repaired wheel must carry the same
components, with wheelfix added to the tools, and an SBOM already in the input must survive
strip, prune and the RECORD rewrite.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from wheelmaker import MakeWheel

import wheelfix
from wheelfix.wheels.repair import repair

pytestmark = pytest.mark.slow


def _sboms(wheel: Path) -> dict[str, Any]:
    """Member name -> parsed document, for every ``*.dist-info/sboms/*`` member."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if ".dist-info/sboms/" in n and n.endswith(".json")]
        return {n: json.loads(zf.read(n)) for n in names}


def _purls(document: dict[str, Any]) -> list[str]:
    return sorted(c["purl"] for c in document["components"])


@pytest.fixture
def auditwheel_output(pyyaml_builder_wheel: Path, tmp_path: Path) -> Path:
    """``auditwheel repair`` on its own, as the reference."""
    if shutil.which("dpkg") is None:
        pytest.skip("no dpkg: auditwheel cannot name the owner package")
    out = tmp_path / "auditwheel"
    subprocess.run(
        [sys.executable, "-m", "auditwheel", "repair", "-w", str(out), str(pyyaml_builder_wheel)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


def test_repaired_wheel_has_auditwheels_sbom(
    pyyaml_builder_wheel: Path, auditwheel_output: Path, tmp_path: Path
) -> None:
    ((name, reference),) = _sboms(auditwheel_output).items()
    assert any(p.startswith("pkg:deb/debian/libyaml-0-2@") for p in _purls(reference))
    (result,) = repair(pyyaml_builder_wheel, tmp_path / "out", strip="unneeded").results
    assert result.error is None, result.error
    assert result.output is not None
    ours = _sboms(Path(result.output))
    assert list(ours) == [name]
    assert _purls(ours[name]) == _purls(reference)
    assert [t["name"] for t in ours[name]["metadata"]["tools"]] == ["auditwheel", "wheelfix"]
    (post,) = wheelfix.check(result.output, fail_on="info").results
    assert post.findings == ()  # no WF210: the SBOM names libyaml-0-2
    assert [s.path for s in post.sboms] == [name]
    assert post.sizes.debug_info == 0 and post.sizes.symbol_table == 0


def test_grafted_library_is_stripped_after_auditwheel(
    sample_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libwfext.so.1 is built here with -g and belongs to no package: auditwheel grafts the
    # original, wheelfix strips the copy in the wheel, and check says no SBOM covers it.
    monkeypatch.setenv("LD_LIBRARY_PATH", str(sample_build / "work" / "lib"))
    (source,) = (sample_build / "wheels").glob("wfdemo_extlib-*.whl")
    original = sample_build / "work" / "lib" / "libwfext.so.1"
    debug = tmp_path / "debug"
    (result,) = repair(source, tmp_path / "out", strip="unneeded", keep_debug=debug).results
    assert result.error is None, result.error
    assert result.grafted == {"libwfext.so.1": original.stat().st_size}
    (grafted,) = [p for p in result.stripped if p.startswith("wfdemo_extlib.libs/")]
    # --keep-debug kept what was cut from the grafted library (its build ID names the file)
    (kept,) = debug.rglob("*.debug")
    assert kept.parent.parent.name == ".build-id"
    (post,) = wheelfix.check(result.output or "", fail_on="info").results
    assert post.sizes.debug_info == 0 and post.sizes.symbol_table == 0
    assert [(f.code, f.path) for f in post.findings] == [("WF210", grafted)]
    assert post.sboms == ()


@pytest.mark.parametrize("plat", ["auto", "manylinux_2_28_x86_64"])
def test_input_sbom_survives_strip_prune_and_retag(
    auditwheel_output: Path, tmp_path: Path, make_wheel: MakeWheel, plat: str
) -> None:
    # auditwheel's output, with a test folder and debug info still in the grafted library:
    # a compliant wheel that only gets stripped and pruned
    with zipfile.ZipFile(auditwheel_output) as zf:
        files: dict[str, bytes | str] = {
            n: zf.read(n)
            for n in zf.namelist()
            if not n.endswith(("/RECORD", "/WHEEL", "/"))  # folder entries are not files
        }
    files["yaml/tests/test_x.py"] = "def test() -> None: ...\n"
    dist_info = next(n.split("/", 1)[0] for n in files if ".dist-info/" in n)
    name, version = dist_info.removesuffix(".dist-info").split("-")
    tag = auditwheel_output.name.removesuffix(".whl").split("-", 2)[2]
    source = make_wheel(files, name=name, version=version, tag=tag)
    before = _sboms(source)
    (result,) = repair(
        source, tmp_path / "out", strip="unneeded", prune=["tests"], plat=plat
    ).results
    assert result.error is None, result.error
    assert result.auditwheel is (plat != "auto")  # a new tag: auditwheel retags the wheel
    assert (plat in result.tag_out) is (plat != "auto")
    assert result.pruned == {"yaml/tests/test_x.py": len(files["yaml/tests/test_x.py"])}
    assert result.output is not None
    assert _sboms(Path(result.output)) == before
    (post,) = wheelfix.check(result.output).results
    assert [s.error for s in post.sboms] == [None]
