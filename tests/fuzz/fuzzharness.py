"""Running mutants: one forked child each, a hang guard, an escape check, saved failures.

Outcomes, per mutant:

``ok``        the reader read it;
``refused``   a clean refusal: a :class:`~wheelfix.WheelfixError`, or an error result;
``crash``     any other exception, or a child killed by a signal (the CLI's exit 4);
``hang``      no answer within the guard (``WHEELFIX_FUZZ_GUARD`` seconds, default 20: a
              generous bound on a busy machine, not a speed assertion);
``escape``    something outside the mutant's own folders was created or changed (a
              sentinel folder beside them is hashed before and after, and the child's
              working directory is inside it), or the input itself was changed.

The child runs with its address space capped (``WHEELFIX_FUZZ_MEMORY`` MiB above what it
already uses, default 2048), so "bounded memory" failures show up as crashes, not as a
machine swapping for everyone.
"""

from __future__ import annotations

import faulthandler
import gc
import hashlib
import json
import os
import random
import resource
import select
import shutil
import signal
import stat
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from fuzztargets import TARGETS, Mutant, Reader, materialize, mutant_to_json

import wheelfix

__all__ = [
    "OUTCOMES",
    "Campaign",
    "Result",
    "make_sentinel",
    "run_campaign",
    "run_one",
    "settings",
    "table",
]

OUTCOMES = ("ok", "refused", "crash", "hang", "escape")
FAILURES = ("crash", "hang", "escape")


@dataclass(frozen=True, slots=True)
class Result:
    outcome: str
    detail: str


@dataclass
class Campaign:
    reader: str
    seed: int
    mutants: int
    counts: Counter[str] = field(default_factory=Counter)
    signatures: Counter[str] = field(default_factory=Counter)
    saved: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.counts[o] for o in FAILURES)


def settings() -> tuple[int, int, float]:
    """(seed, mutants per reader, guard seconds) from the environment, with the CI defaults."""
    seed = int(os.environ.get("WHEELFIX_FUZZ_SEED", "20261203"))
    mutants = int(os.environ.get("WHEELFIX_FUZZ_MUTANTS", "300"))
    guard = float(os.environ.get("WHEELFIX_FUZZ_GUARD", "20"))
    return seed, mutants, guard


def make_mutant(reader: Reader, seed: int, index: int) -> Mutant:
    """Mutant ``index`` of ``reader``: depends on (seed, reader, index) and nothing else."""
    rng = random.Random(f"{seed}:{reader.name}:{index}")  # noqa: S311 - reproducible, not secret
    return reader.mutate(rng, rng.choice(reader.seeds), reader.seeds)


# -- escape detection ------------------------------------------------------------------------
def snapshot(root: Path, skip: Path) -> dict[str, str]:
    """Every entry under ``root`` except ``skip``: kind, mode and content hash, links unfollowed."""
    out: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        if Path(folder) == skip:
            dirs[:] = []
            continue
        for name in dirs + files:
            path = Path(folder, name)
            st = path.lstat()
            what = f"{stat.S_IFMT(st.st_mode):o} {stat.S_IMODE(st.st_mode):o}"
            if stat.S_ISREG(st.st_mode):
                what += " " + hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                what += " -> " + str(path.readlink())
            out[str(path.relative_to(root))] = what
    return out


def make_sentinel(root: Path) -> None:
    (root / "sentinel" / "sub").mkdir(parents=True)
    (root / "sentinel" / "victim").write_bytes(b"must not change\n")
    (root / "sentinel" / "sub" / "victim.py").write_bytes(b"print('must not run')\n")
    (root / "sentinel" / "sub" / "x").symlink_to("../victim")


# -- one mutant ------------------------------------------------------------------------------
def _child(reader: str, path: Path, out: Path, cwd: Path, write_end: int) -> None:
    """In the forked child: cap memory, run the target, report one JSON line, exit."""
    code = 0
    faulthandler.disable()  # pytest's dump of every thread is noise: the signal is reported
    try:
        os.chdir(cwd)
        tempfile.tempdir = str(out)
        used = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
        cap = used + (int(os.environ.get("WHEELFIX_FUZZ_MEMORY", "2048")) << 20)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        try:
            refusal = TARGETS[reader](path, out)
        except wheelfix.WheelfixError as exc:
            result = Result("refused", f"{type(exc).__name__}: {exc}")
        except BaseException as exc:  # noqa: BLE001 - classifying every failure is the point
            frames = traceback.extract_tb(exc.__traceback__)
            where = next(
                (
                    f"{Path(f.filename).name}:{f.lineno}"
                    for f in reversed(frames)
                    if "/wheelfix/" in f.filename
                ),
                "?",
            )
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            result = Result("crash", f"{type(exc).__name__} at {where}\n{text}")
        else:
            result = Result("refused" if refusal else "ok", refusal or "")
        os.write(write_end, json.dumps([result.outcome, result.detail]).encode())
    except BaseException:  # noqa: BLE001 - the parent sees "no answer" and says crash
        code = 70
    finally:
        os._exit(code)


def run_one(reader: str, mutant: Mutant, root: Path, guard: float) -> Result:
    """Materialise ``mutant`` under ``root/work`` and run ``reader`` on it in a child."""
    work = root / "work"
    shutil.rmtree(work, ignore_errors=True)
    (work / "in").mkdir(parents=True)
    (work / "out").mkdir()
    materialize(mutant.files, work / "in")
    before = snapshot(root, work / "out")
    read_end, write_end = os.pipe()
    # Frozen objects are left alone by the child's collector: without this, its first
    # collection touches every page of the parent's heap and copies it (copy-on-write).
    gc.freeze()
    with warnings.catch_warnings():  # 3.12+ warns about fork with threads; we have none
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        os.close(read_end)
        _child(reader, work / "in" / mutant.input, work / "out", root / "sentinel", write_end)
    gc.unfreeze()
    os.close(write_end)
    try:
        result = _collect(pid, read_end, guard)
    finally:
        os.close(read_end)
    if result.outcome in ("ok", "refused"):
        after = snapshot(root, work / "out")
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        if changed:
            result = Result("escape", "changed outside the output folder: " + ", ".join(changed))
    return result


def _collect(pid: int, read_end: int, guard: float) -> Result:
    chunks = []
    deadline = time.monotonic() + guard
    while True:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([read_end], [], [], max(left, 0))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return Result("hang", f"no answer within {guard:g} s (the guard, not a speed limit)")
        chunk = os.read(read_end, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if chunks:
        outcome, detail = json.loads(b"".join(chunks))
        return Result(outcome, detail)
    if os.WIFSIGNALED(status):
        return Result("crash", f"killed by signal {os.WTERMSIG(status)}")
    return Result("crash", f"exited with {os.waitstatus_to_exitcode(status)} and no answer")


# -- a campaign --------------------------------------------------------------------------------
def failure_dir() -> Path:
    configured = os.environ.get("WHEELFIX_FUZZ_FAILURES")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / "wheelfix-fuzz-failures"


def _save(campaign: Campaign, index: int, mutant: Mutant, result: Result) -> Path:
    folder = failure_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{campaign.reader}-{campaign.seed}-{index}.json"
    document = {
        "reader": campaign.reader,
        "seed": campaign.seed,
        "index": index,
        "outcome": result.outcome,
        "detail": result.detail,
        **mutant_to_json(mutant),
    }
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


def _warm_up(reader: Reader, root: Path) -> None:
    """Read every seed once in this process, so the caches a reader fills on first use
    (policy data, the host's libraries) are inherited by each forked child, not rebuilt."""
    for index, seed in enumerate(reader.seeds):
        folder = root / "warm" / str(index)
        (folder / "out").mkdir(parents=True)
        materialize(seed.files, folder)
        TARGETS[reader.name](folder / seed.input, folder / "out")
    shutil.rmtree(root / "warm")


def run_campaign(reader: Reader, seed: int, mutants: int, guard: float) -> Campaign:
    campaign = Campaign(reader.name, seed, mutants)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"wheelfix-fuzz-{reader.name}-") as tmp:
        root = Path(tmp)
        make_sentinel(root)
        _warm_up(reader, root)
        for index in range(mutants):
            mutant = make_mutant(reader, seed, index)
            result = run_one(reader.name, mutant, root, guard)
            campaign.counts[result.outcome] += 1
            if result.outcome in FAILURES:
                signature = result.detail.split("\n", 1)[0]
                campaign.signatures[signature] += 1
                if campaign.signatures[signature] <= 3:  # a few of each kind is enough
                    campaign.saved.append(_save(campaign, index, mutant, result))
    campaign.seconds = time.monotonic() - started
    return campaign


def table(campaigns: list[Campaign]) -> str:
    head = f"{'reader':<11}" + "".join(f"{o:>9}" for o in OUTCOMES) + f"{'seconds':>9}"
    lines = [head]
    for c in campaigns:
        lines.append(
            f"{c.reader:<11}"
            + "".join(f"{c.counts[o]:>9}" for o in OUTCOMES)
            + f"{c.seconds:>9.1f}"
        )
    return "\n".join(lines)


def failure_message(campaign: Campaign) -> str:
    kinds = "\n".join(f"  {n} x {s}" for s, n in campaign.signatures.most_common())
    saved = "\n".join(f"  python tests/fuzz/replay.py {p}" for p in campaign.saved)
    return (
        f"{campaign.reader}: {campaign.failed} of {campaign.mutants} mutants failed "
        f"(seed {campaign.seed}):\n{kinds}\nreplay one in-process, with its traceback:\n{saved}"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run the fuzz suite with pytest, or tests/fuzz/replay.py to replay one mutant")
