"""``wheelfix scan`` and ``wheelfix slim`` on real installed stacks.

Three stacks (pinned in ``STACKS``) are installed once for CPython 3.11 with
``pip install --target`` into ``.cache/stacks/NAME-PINS/`` (``stack_folder``; built into a
``.partial`` folder, then renamed; bytecode compiled, as pip does by default):
``scientific`` (numpy, scipy, pandas, scikit-learn, matplotlib: the issue's stack, and
Cython), ``analytics`` (statsmodels, sympy, networkx, scikit-image, astropy, xarray) and
``web`` (requests, pydantic, sqlalchemy, lxml, cryptography, jinja2), each with its
dependencies. Then:

* **scan speed**, on the scientific stack, best of ``--repeat``, interleaved round by round:
  ``wheelfix scan --format json STACK`` as a command, against two floors that read every
  file of the tree once (``os.walk`` + ``open().read()``, one thread): the same loop run as
  a command (``python -S``, so it pays an interpreter start like wheelfix does) and run
  inside this process (no start at all: the stricter one). Commands run without
  ``PYTHONDONTWRITEBYTECODE``, so wheelfix's own modules load from bytecode as they do in
  any installed copy;
* **sizes**, per stack: as installed; after ``wheelfix slim --apply`` (default categories)
  on a copy; after serverless-python-requirements' documented ``slim`` rules on another
  copy (``strip`` every ``*.so``; delete ``**/*.py[c|o]``, ``**/__pycache__*``,
  ``**/*.dist-info*``), re-implemented by ``serverless_slim`` below;
* **smoke**: each stack's workload (``SMOKES``, shared with
  ``tests/integration/test_slim_stack.py``) on each tree, with this machine's ``python3``
  and ``PYTHONPATH=TREE``, step by step.

    python bench/bench_env.py [--repeat 3] [--stacks scientific,analytics,web]
                              [--markdown bench/RESULTS.md]

The report (Markdown: machine facts and tables) goes to stdout and is appended to
``--markdown PATH``. Needs network access to PyPI the first time and ``strip`` (binutils).
The stacks and their workloads are defined in ``tools/stacks.py`` (the tests use them too).
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from wheelfix.installed.scan import scan as scan_in_process
from wheelfix.installed.slim import disk_bytes

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # tools/ holds what the tests share with the benchmarks
    sys.path.insert(0, str(REPO))
from tools.stacks import (  # noqa: E402
    SMOKES,
    STACKS,
    ensure_stack,
    installed_versions,
    run_smoke,
)

# -- serverless-python-requirements' slim rules, re-implemented from its documentation --------
#: Its documented default ``slimPatterns``; with ``slim: true`` it also runs ``strip`` on
#: every ``*.so`` (``strip: true`` is the default).
SERVERLESS_PATTERNS = ("**/*.py[c|o]", "**/__pycache__*", "**/*.dist-info*")


def serverless_slim(root: Path, *, strip: str = "strip") -> int:
    """Apply the rules to ``root`` in place; return how many ``*.so`` files ``strip`` failed on.

    A path matches when its last component matches a pattern's last component (``**/``
    means any depth); a matching folder goes with everything in it.
    """
    names = [p.rpartition("/")[2] for p in SERVERLESS_PATTERNS]
    for dirpath, dirnames, filenames in os.walk(root, topdown=True):
        here = Path(dirpath)
        for d in list(dirnames):
            if any(fnmatch_name(d, n) for n in names) and not (here / d).is_symlink():
                shutil.rmtree(here / d)
                dirnames.remove(d)
        for f in filenames:
            if any(fnmatch_name(f, n) for n in names):
                (here / f).unlink()
    failed = 0
    for so in sorted(root.rglob("*.so")):
        if so.is_file() and not so.is_symlink():
            done = subprocess.run([strip, str(so)], capture_output=True, check=False)
            failed += done.returncode != 0
    return failed


def fnmatch_name(name: str, pattern: str) -> bool:
    """Shell-style match of one path component (case-sensitive, as on Linux)."""
    return fnmatch.fnmatchcase(name, pattern)


# -- measurements ------------------------------------------------------------------------------
def read_every_file(root: Path, *, sha256: bool = False) -> int:
    """The floor: read every regular file once, one thread; with ``sha256``, also hash it
    (what RECORD checks need). Returns the bytes read."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)  # noqa: PTH118 - hot loop, plain strings
            if os.path.islink(path):  # noqa: PTH114
                continue
            with open(path, "rb") as fh:  # noqa: PTH123
                data = fh.read()
            if sha256:
                hashlib.sha256(data).digest()
            total += len(data)
    return total


def summarize(error: str) -> str:
    """One table-friendly line for an error: numpy hides its cause under a long preamble."""
    kind = error.partition(":")[0]
    lines = [ln.strip() for ln in error.splitlines() if ln.strip()]
    cause = next((ln for ln in lines if ln.startswith("Original error was:")), None)
    text = f"{kind}: {cause}" if cause else " ".join(lines)
    return text.replace("|", "\\|").replace("`", "'")[:200]


def best_of(repeat: int, action: Callable[[], object]) -> float:
    """Best wall-clock seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


@dataclass
class Tree:
    """One variant of the stack: its size and how the smoke workload went on it."""

    label: str
    path: Path
    size: int
    seconds: float | None = None
    note: str = ""
    smoke: dict[str, str | None] | None = None


def read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def first_line_of(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not found"
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "?"


def machine_facts(python3: str, wheelfix: list[str]) -> dict[str, str]:
    cpuinfo = read_text("/proc/cpuinfo")
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor() or "unknown",
    )
    memory = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in read_text("/proc/meminfo").splitlines()
            if ln.startswith("MemTotal")
        ),
        "?",
    )
    os_name = next(
        (
            ln.split("=", 1)[1].strip().strip('"')
            for ln in read_text("/etc/os-release").splitlines()
            if ln.startswith("PRETTY_NAME=")
        ),
        platform.system(),
    )
    try:
        wheelfix_version = metadata.version("wheelfix")
    except metadata.PackageNotFoundError:
        wheelfix_version = "not installed"
    smoke_python = first_line_of([python3, "-S", "-c", "import sys; print(sys.version)"])
    return {
        "cpu": model,
        "nproc": f"{len(os.sched_getaffinity(0))} usable of {os.cpu_count()}",
        "memory": memory,
        "os": f"{os_name}, kernel {platform.release()}",
        "python (this script, wheelfix)": f"{platform.python_implementation()} "
        f"{platform.python_version()}",
        "python3 for the smoke workload": f"{python3} -S ({smoke_python})",
        "wheelfix": f"{wheelfix_version} (command: {' '.join(wheelfix)})",
        "strip": first_line_of(["strip", "--version"]),
        "load average at start (1, 5, 15 min)": " ".join(read_text("/proc/loadavg").split()[:3]),
    }


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (``.cache/stacks/...``)."""
    try:
        return path.relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


#: The floor as a command: the same loop as ``read_every_file``, in a fresh interpreter.
FLOOR_SCRIPT = """
import os, sys
total = 0
for dirpath, _dirnames, filenames in os.walk(sys.argv[1]):
    for name in filenames:
        path = os.path.join(dirpath, name)
        if os.path.islink(path):
            continue
        with open(path, "rb") as fh:
            total += len(fh.read())
print(total)
"""


def slim_and_smoke(
    name: str, stack: Path, tmp: Path, wheelfix: list[str], python3: str, log: Callable[[str], None]
) -> list[Tree]:
    """The stack as installed, slimmed by wheelfix, slimmed by the serverless rules; each
    with its size and its smoke workload."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    smoke_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MPLBACKEND": "Agg",
        "LANG": "C.UTF-8",
        "HOME": str(home),
    }
    expected = installed_versions(stack)
    trees = [Tree("as installed (pip install --target)", stack, disk_bytes(stack))]

    copy = tmp / f"{name}-wheelfix"
    shutil.copytree(stack, copy, symlinks=True)
    log(f"{name}: wheelfix slim --apply on a copy")
    start = time.perf_counter()
    done = subprocess.run(
        [*wheelfix, "slim", "--apply", "--no-config", "--format", "json", str(copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    note = f"exit {done.returncode}"
    try:
        report = json.loads(done.stdout)
        if report.get("kept"):
            note += f"; kept: {', '.join(report['kept'])}"
        if report.get("restored"):
            note += f"; restored: {report['restored']}"
    except ValueError:
        note += f"; no JSON report: {done.stderr.strip()[-300:]}"
    trees.append(
        Tree("`wheelfix slim --apply` (default categories)", copy, disk_bytes(copy), seconds, note)
    )

    copy = tmp / f"{name}-serverless"
    shutil.copytree(stack, copy, symlinks=True)
    log(f"{name}: serverless-python-requirements slim rules on another copy")
    start = time.perf_counter()
    failed = serverless_slim(copy)
    seconds = time.perf_counter() - start
    trees.append(
        Tree(
            "serverless-python-requirements `slim: true` rules",
            copy,
            disk_bytes(copy),
            seconds,
            f"strip failed on {failed} files" if failed else "",
        )
    )

    for tree in trees:
        log(f"{name}: smoke workload on: {tree.label}")
        env = {**smoke_env, "PYTHONPATH": str(tree.path)}
        tree.smoke = run_smoke([python3, "-S", "-B"], SMOKES[name], expected, env=env)
    return trees


def stack_report(name: str, stack: Path, trees: list[Tree]) -> list[str]:
    expected = installed_versions(stack)
    files = sum(len(f) for _d, _s, f in os.walk(stack))
    size = trees[0].size
    lines = [
        f"#### {name}: {len(expected)} distributions, {files:,} files, {_mib(size)} on disk",
        "",
        ", ".join(f"{n} {v}" for n, v in expected.items()),
        "",
        "| tree | bytes on disk | vs installed | time to slim | note |",
        "|---|---:|---:|---:|---|",
    ]
    for tree in trees:
        change = f"{100 * (tree.size - size) / size:+.1f} %"
        took = f"{tree.seconds:.1f} s" if tree.seconds is not None else ""
        lines.append(
            f"| {tree.label} | {tree.size:,} ({_mib(tree.size)}) | {change} | {took} "
            f"| {tree.note} |"
        )
    lines += [
        "",
        "| smoke step | " + " | ".join(t.label for t in trees) + " |",
        "|---|" + "---|" * len(trees),
    ]
    for step in SMOKES[name]:
        cells = []
        for tree in trees:
            error = (tree.smoke or {}).get(step)
            cells.append("ok" if error is None else f"**failed**: `{summarize(error)}`")
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument(
        "--stacks",
        default="scientific,analytics,web",
        help="stacks to slim (comma-separated; default all three)",
    )
    parser.add_argument("--markdown", type=Path, help="append the report to this file")
    parser.add_argument(
        "--python3",
        default=shutil.which("python3") or sys.executable,
        help="interpreter for the smoke workload (run with -S)",
    )
    parser.add_argument(
        "--wheelfix",
        default=f"{sys.executable} -m wheelfix",
        help="how to run wheelfix (default: python -m wheelfix)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.stacks.split(",") if n.strip()]
    unknown = sorted(set(names) - set(STACKS))
    if unknown:
        parser.error(f"unknown stack(s): {', '.join(unknown)}; known: {', '.join(STACKS)}")

    def log(message: str) -> None:
        print(f"bench_env: {message}", file=sys.stderr, flush=True)

    wheelfix = args.wheelfix.split()
    stacks = {name: ensure_stack(name, log=log) for name in dict.fromkeys(["scientific", *names])}
    facts = machine_facts(args.python3, wheelfix)
    stack = stacks["scientific"]
    files = sum(len(f) for _d, _s, f in os.walk(stack))
    size = disk_bytes(stack)

    # (a) scan against the floors, interleaved round by round after one warming run of each.
    command_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    scan_command = [*wheelfix, "scan", "--format", "json", str(stack)]
    floor_command = [sys.executable, "-S", "-c", FLOOR_SCRIPT, str(stack)]
    scan_errors: list[str] = []

    def run_scan() -> None:
        done = subprocess.run(
            scan_command, capture_output=True, text=True, check=False, env=command_env
        )
        try:
            json.loads(done.stdout)
        except ValueError:
            scan_errors.append(f"exit {done.returncode}: {done.stderr.strip()[-400:]}")

    measures: dict[str, Callable[[], object]] = {
        "floor-command": lambda: subprocess.run(floor_command, capture_output=True, check=True),
        "floor-in-process": lambda: read_every_file(stack),
        "scan": run_scan,
        "hash": lambda: read_every_file(stack, sha256=True),
        "start": lambda: subprocess.run(
            [*wheelfix, "--version"], capture_output=True, check=True, env=command_env
        ),
        "in-process": lambda: scan_in_process(stack),
    }
    for action in measures.values():
        action()
    times: dict[str, list[float]] = {key: [] for key in measures}
    for round_ in range(args.repeat):
        log(f"round {round_ + 1}/{args.repeat}: floors, scan and the breakdown")
        for key, action in measures.items():
            times[key].append(best_of(1, action))
    best = {key: min(values) for key, values in times.items()}
    floor, strict, scan = best["floor-command"], best["floor-in-process"], best["scan"]

    # (b) sizes and smoke, on copies.
    sections: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-env-") as tmp:
        for name in names:
            trees = slim_and_smoke(name, stacks[name], Path(tmp), wheelfix, args.python3, log)
            sections += stack_report(name, stacks[name], trees)
            for tree in trees[1:]:
                shutil.rmtree(tree.path, ignore_errors=True)

    # -- report --
    ratio = scan / floor
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"### bench_env, {stamp}",
        "",
        f"Command: `python bench/bench_env.py --repeat {args.repeat} --stacks {','.join(names)}`.",
        "",
        *(f"- {key}: {value}" for key, value in facts.items()),
        "",
        f"Scan speed on `{shown(stack)}/` ({files:,} files, {_mib(size)} on disk), "
        f"wall clock, best of {args.repeat} (interleaved, page cache warm):",
        "",
        "| measurement | seconds | vs floor (command) | vs floor (in this process) |",
        "|---|---:|---:|---:|",
        f"| floor as a command: `python -S` reads every file once (`os.walk` + "
        f"`open().read()`, 1 thread) | {floor:.2f} | 1.00x | {floor / strict:.2f}x |",
        f"| floor in this process: the same loop, no interpreter start | {strict:.2f} "
        f"| {strict / floor:.2f}x | 1.00x |",
        f"| `wheelfix scan --format json STACK` | {scan:.2f} | **{ratio:.2f}x** "
        f"({'met' if ratio <= 2 else 'missed'}: target ≤ 2x) | {scan / strict:.2f}x |",
        "| *breakdown:* read + sha256 every file (1 thread, in this process) | "
        f"{best['hash']:.2f} | {best['hash'] / floor:.2f}x | {best['hash'] / strict:.2f}x |",
        f"| *breakdown:* `wheelfix --version` (interpreter start and imports) | "
        f"{best['start']:.2f} | {best['start'] / floor:.2f}x | {best['start'] / strict:.2f}x |",
        f"| *breakdown:* `wheelfix.installed.scan.scan(STACK)` in this process | "
        f"{best['in-process']:.2f} | {best['in-process'] / floor:.2f}x "
        f"| {best['in-process'] / strict:.2f}x |",
        "",
        "Sizes and smoke workloads (`python3 -S -B`, `PYTHONPATH=TREE`; steps in "
        "`bench/bench_env.py`'s `SMOKES`):",
        "",
        *sections,
    ]
    if scan_errors:
        lines += ["", "Scan runs without a JSON report: " + "; ".join(scan_errors)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
