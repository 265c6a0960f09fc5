"""Every mutant in tests/fuzz/corpus/ once made a reader crash, hang or escape: never again.

Each file is what the fuzz suite saves for a failing mutant (replay one by hand with
``python tests/fuzz/replay.py FILE``). It runs here through the same forked, guarded,
escape-checked harness as the campaigns.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from fuzzharness import make_sentinel, run_one, settings
from fuzztargets import mutant_from_json

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.json")), ids=lambda p: p.stem)
def test_saved_mutant_is_read_or_refused(path: Path) -> None:
    document = json.loads(path.read_text())
    mutant = mutant_from_json(document)
    _seed, _mutants, guard = settings()
    with tempfile.TemporaryDirectory(prefix="wheelfix-corpus-") as tmp:
        root = Path(tmp)
        make_sentinel(root)
        result = run_one(document["reader"], mutant, root, guard)
    assert result.outcome in ("ok", "refused"), f"{path.name} ({mutant.what}): {result.detail}"
