"""wheelfix checks its own wheel: the pure wheel we ship must have no findings at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import wheelfix

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.network  # pip fetches the build backend into an isolated environment
def test_own_wheel_is_clean(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
    )
    (wheel,) = tmp_path.glob("wheelfix-*.whl")
    (result,) = wheelfix.check(wheel, fail_on="info").results
    assert result.error is None
    assert result.findings == ()
    assert result.tags is not None and result.tags.claimed == ("any",)
