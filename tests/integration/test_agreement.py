"""wheelfix's verdicts against ``auditwheel show --json`` on real wheels and the samples.

``tags.consistent`` must equal auditwheel's ``overall_tag`` and the keys of
``external_libraries`` its ``external_libs``. ``tags.repairable`` must equal ``sym_tag`` —
except where wheelfix reports why a repair cannot reach it (a forbidden symbol, an ISA
level, PyFPE), which auditwheel's symbol tag ignores; the test then requires that finding.
Real wheels come from PyPI (pinned in bench/wheels.py) into the git-ignored .cache/.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import wheelfix

REPO = Path(__file__).resolve().parents[2]
EXPLAINS_LOWER_REPAIRABLE = {"WF107", "WF108", "WF112"}


def _bench_wheels() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_wheels", REPO / "bench" / "wheels.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_wheels"] = module
    spec.loader.exec_module(module)
    return module


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for var in ("LD_LIBRARY_PATH", "AUDITWHEEL_LD_LIBRARY_PATH"):
        env.pop(var, None)
    return env


@pytest.fixture(scope="session")
def agreement_wheels() -> list[Path]:
    module = _bench_wheels()
    return [module.fetch(key) for key in module.AGREEMENT_SET]


def _auditwheel(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", "--json", str(path)],
        capture_output=True, text=True, env=_clean_env(), check=False,
    )  # fmt: skip
    document: dict[str, Any] = json.loads(out.stdout)
    return document


@pytest.fixture(scope="session")
def verdicts(agreement_wheels: list[Path]) -> Iterator[dict[str, tuple[Any, Any]]]:
    samples = sorted((REPO / "sample_wheels").glob("*.whl"))
    platform_samples = [p for p in samples if not p.name.endswith("-any.whl")]
    paths = agreement_wheels + platform_samples
    saved = {v: os.environ.pop(v, None) for v in ("LD_LIBRARY_PATH", "AUDITWHEEL_LD_LIBRARY_PATH")}
    try:
        report = wheelfix.check(paths, jobs=0)
    finally:
        for var, value in saved.items():
            if value is not None:
                os.environ[var] = value
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        theirs = list(pool.map(_auditwheel, paths))
    yield {p.name: (r, t) for p, r, t in zip(paths, report.results, theirs, strict=True)}


def _names() -> list[str]:
    module = _bench_wheels()
    names = [module.WHEELS[k].filename for k in module.AGREEMENT_SET]
    samples = sorted((REPO / "sample_wheels").glob("*.whl"))
    return names + [p.name for p in samples if not p.name.endswith("-any.whl")]


pytestmark = [pytest.mark.network, pytest.mark.slow]


@pytest.mark.parametrize("filename", _names())
def test_agrees_with_auditwheel(verdicts: dict[str, tuple[Any, Any]], filename: str) -> None:
    ours, theirs = verdicts[filename]
    assert ours.error is None, ours.error
    assert "overall_tag" in theirs, theirs
    assert ours.tags.consistent == theirs["overall_tag"]
    assert sorted(ours.external_libraries) == sorted(theirs["external_libs"])
    if ours.tags.repairable != theirs["sym_tag"]:
        codes = {f.code for f in ours.findings}
        assert codes & EXPLAINS_LOWER_REPAIRABLE, (
            f"repairable {ours.tags.repairable} differs from sym_tag {theirs['sym_tag']} "
            f"without a finding that explains it: {sorted(codes)}"
        )


def test_pure_wheel_is_not_a_platform_wheel() -> None:
    (pure,) = (REPO / "sample_wheels").glob("*-any.whl")
    theirs = _auditwheel(pure)
    (ours,) = wheelfix.check(pure).results
    assert "overall_tag" not in theirs  # auditwheel: "not a platform wheel"
    assert ours.tags is not None and ours.tags.consistent is None
