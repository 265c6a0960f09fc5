"""Replay one saved mutant in this process, so its traceback (or its hang) can be seen.

    python tests/fuzz/replay.py /tmp/wheelfix-fuzz-failures/image-20261203-8.json

The file is what the fuzz suite saved for a failing mutant (or one of tests/fuzz/corpus/).
The mutant is written to a temporary folder and handed to the same public call the suite
uses; a crash propagates with its traceback, a refusal or a clean read is printed.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from fuzztargets import TARGETS, materialize, mutant_from_json  # noqa: E402

import wheelfix  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    document = json.loads(Path(argv[0]).read_text())
    mutant = mutant_from_json(document)
    print(f"{document['reader']}: {mutant.what}")
    with tempfile.TemporaryDirectory(prefix="wheelfix-replay-") as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        (work / "out").mkdir()
        materialize(mutant.files, work / "in")
        try:
            refusal = TARGETS[document["reader"]](work / "in" / mutant.input, work / "out")
        except wheelfix.WheelfixError as exc:
            refusal = f"{type(exc).__name__}: {exc}"
    print(f"refused: {refusal}" if refusal else "ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
