"""Mutation fuzzing of every reader through its public API: zero crash, hang or escape.

CI runs ``WHEELFIX_FUZZ_MUTANTS`` (default 300) mutants per reader with a fixed seed
(``WHEELFIX_FUZZ_SEED``); the long campaign is the same test with a bigger count, see
docs/security.md. The counts table is printed to the terminal even without ``-s``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from fuzzharness import failure_message, run_campaign, settings, table
from fuzztargets import Reader, build_readers

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def readers(elf_fixtures: Mapping[str, Path], sample_wheels_dir: Path) -> dict[str, Reader]:
    return build_readers(elf_fixtures, sample_wheels_dir, TESTS / "image_contexts")


@pytest.mark.parametrize("name", ["wheel", "elf", "strip", "image", "dockerfile", "tree"])
def test_reader_survives_mutants(
    name: str, readers: dict[str, Reader], capsys: pytest.CaptureFixture[str]
) -> None:
    seed, mutants, guard = settings()
    campaign = run_campaign(readers[name], seed, mutants, guard)
    with capsys.disabled():
        print(f"\n{table([campaign])}")
    assert sum(campaign.counts.values()) == mutants
    assert campaign.failed == 0, failure_message(campaign)
