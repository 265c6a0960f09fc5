"""Time ``wheelfix check`` against its peers and against the floor, on the same real wheels.

For each wheel, in one invocation of this script:

* **floor**: open the zip and read + sha256 every member once (this process, zipfile + hashlib);
* **auditwheel**: ``auditwheel show --json WHEEL`` (subprocess);
* **pydistcheck**: ``pydistcheck WHEEL`` (subprocess, all checks: run from an empty folder
  so no ``pyproject.toml`` can ``--select``/``--ignore`` any, with no ``--select``/``--ignore``);
* **wheelfix**: ``wheelfix check --format json WHEEL`` (subprocess);

and then **batch**: ``wheelfix check -j 2 --format json`` on all the wheels at once, against the
sum of the single-wheel runs. Each figure is the best wall-clock time (``time.perf_counter``)
of ``--repeat`` runs; the page cache is warmed first by reading every wheel once.

A tool that fails is recorded with its error and the script goes on. The report is Markdown on
stdout (and appended to ``--markdown PATH``): machine facts, timings, ratios, and the verdicts
of auditwheel next to wheelfix's.

Run ``python bench/bench_check.py --help``; the wheels default to the bench set of
``tools/realwheels.py`` (scipy and torch).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

# tools/ (shared with the tests) lives at the repository root
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools import realwheels as wheels

TOOLS: tuple[str, ...] = ("floor", "auditwheel", "pydistcheck", "wheelfix")
"""Per-wheel measurements, in the order they are run and shown."""

ALL_TOOLS: tuple[str, ...] = (*TOOLS, "batch")
"""Everything ``--tools`` accepts."""

DEBUG_TOOLS: tuple[str, ...] = ("objdump", "readelf", "nm", "llvm-objdump", "llvm-nm", "dsymutil")
"""Programs pydistcheck's debug-symbol check runs; its cost depends on which are installed."""


@dataclass
class Run:
    """One run of one tool on one or more wheels."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    error: str | None
    """``None`` when the run counts as a success, else a one-line reason."""


@dataclass
class Measurement:
    """All runs of one tool on one wheel (or on the batch)."""

    tool: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)

    @property
    def ok_runs(self) -> list[Run]:
        """The runs that succeeded."""
        return [r for r in self.runs if r.error is None]

    @property
    def best(self) -> float | None:
        """Best wall-clock time of the successful runs, if any."""
        ok = self.ok_runs
        return min(r.seconds for r in ok) if ok else None

    @property
    def error(self) -> str | None:
        """The first failure, if no run succeeded."""
        if self.ok_runs or not self.runs:
            return None
        return self.runs[0].error

    @property
    def last_ok(self) -> Run | None:
        """The last successful run (whose output is used for the verdicts)."""
        ok = self.ok_runs
        return ok[-1] if ok else None


@dataclass
class WheelInfo:
    """A wheel under test, with a few facts about it."""

    label: str
    path: Path
    size: int
    members: int
    uncompressed: int


# ---------------------------------------------------------------------------------- helpers


def read_text(path: str) -> str:
    """A file's text, or '' if it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def dist_version(name: str) -> str:
    """Installed version of a distribution, or 'not installed'."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def first_line_of(cmd: list[str]) -> str:
    """First line a command prints, or 'not found'."""
    if shutil.which(cmd[0]) is None:
        return "not found"
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"error: {exc}"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "?"


def machine_facts(wheelfix_cmd: list[str]) -> dict[str, str]:
    """Facts about this machine and the tools' versions, for the report."""
    cpuinfo = read_text("/proc/cpuinfo")
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor() or "unknown",
    )
    meminfo = read_text("/proc/meminfo")
    mem = next(
        (ln.split(":", 1)[1].strip() for ln in meminfo.splitlines() if "MemTotal" in ln), "?"
    )
    os_name = next(
        (
            ln.split("=", 1)[1].strip().strip('"')
            for ln in read_text("/etc/os-release").splitlines()
            if ln.startswith("PRETTY_NAME=")
        ),
        platform.system(),
    )
    debug_tools = ", ".join(t for t in DEBUG_TOOLS if shutil.which(t)) or "none"
    return {
        "cpu": model,
        "nproc": f"{len(os.sched_getaffinity(0))} usable of {os.cpu_count()}",
        "memory": mem,
        "os": f"{os_name}, kernel {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "auditwheel": dist_version("auditwheel"),
        "pydistcheck": dist_version("pydistcheck"),
        "wheelfix": f"{dist_version('wheelfix')} (command: {shlex.join(wheelfix_cmd)})",
        "binutils (pydistcheck uses them)": first_line_of(["objdump", "--version"]),
        "debug-symbol tools on PATH": debug_tools,
        "load average at start (1, 5, 15 min)": " ".join(read_text("/proc/loadavg").split()[:3]),
    }


def wheel_info(label: str, path: Path) -> WheelInfo:
    """Size and member counts of a wheel; also warms the page cache by reading it whole."""
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    return WheelInfo(
        label=label,
        path=path,
        size=path.stat().st_size,
        members=len(infos),
        uncompressed=sum(i.file_size for i in infos),
    )


def floor(path: Path) -> int:
    """Read and sha256 every member of the wheel once; return the number of bytes read."""
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            digest = hashlib.sha256()
            with zf.open(info) as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
                    total += len(block)
    return total


def parse_json(text: str) -> Any:
    """Parse a tool's JSON output; tolerate text before the first '{'."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object in output")
    return json.loads(text[start:])


def tail(text: str, lines: int = 3) -> str:
    """The last few non-empty lines of some output, joined by ' | '."""
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(kept[-lines:])[:400]


# ---------------------------------------------------------------------------------- runners


def run_subprocess(
    cmd: list[str],
    *,
    cwd: Path | None,
    timeout: float,
    judge: Callable[[subprocess.CompletedProcess[str]], str | None],
) -> Run:
    """Run a command once, timing it; ``judge`` turns its result into an error or ``None``."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env=tool_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except FileNotFoundError as exc:
        return Run(time.perf_counter() - start, -1, "", "", f"not found: {exc.filename}")
    except subprocess.TimeoutExpired:
        return Run(time.perf_counter() - start, -1, "", "", f"timed out after {timeout:g} s")
    seconds = time.perf_counter() - start
    return Run(seconds, proc.returncode, proc.stdout, proc.stderr, judge(proc))


def judge_auditwheel(proc: subprocess.CompletedProcess[str]) -> str | None:
    """auditwheel show: exit 0 and a JSON object on stdout."""
    if proc.returncode != 0:
        return f"exit {proc.returncode}: {tail(proc.stderr or proc.stdout)}"
    try:
        parse_json(proc.stdout)
    except ValueError as exc:
        return f"bad JSON: {exc}"
    return None


def judge_pydistcheck(proc: subprocess.CompletedProcess[str]) -> str | None:
    """pydistcheck: exit 0 (no issues) or 1 (issues found) both mean it ran."""
    if proc.returncode in (0, 1) and "checking '" in proc.stdout:
        return None
    return f"exit {proc.returncode}: {tail(proc.stderr or proc.stdout)}"


def judge_wheelfix(proc: subprocess.CompletedProcess[str]) -> str | None:
    """wheelfix check --format json: any exit code, as long as a report with results came out."""
    try:
        report = parse_json(proc.stdout)
    except ValueError as exc:
        return f"exit {proc.returncode}, {exc}: {tail(proc.stderr or proc.stdout)}"
    if not isinstance(report, dict) or not isinstance(report.get("results"), list):
        return f"exit {proc.returncode}: JSON has no 'results' list"
    return None


def tool_env() -> dict[str, str]:
    """The environment the tools run in: this one, but allowed to write bytecode.

    Every tool is measured as pip installs it, with its modules compiled (pip compiles them
    at install time; an editable install compiles them on first import). With
    ``PYTHONDONTWRITEBYTECODE`` set, as on some CI machines, every run would compile every
    module from source again, which measures the compiler, not the tool. The first of the
    ``--repeat`` runs writes the bytecode; best-of-N keeps a later run.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def installed_script(name: str) -> str:
    """A console script installed beside this interpreter, else ``name`` (found on PATH)."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else name


def default_wheelfix_cmd() -> list[str]:
    """The ``wheelfix`` script installed beside this interpreter, else ``wheelfix`` on PATH,
    else the in-tree ``wheelfix.cli.app:main`` via python -c.

    The script beside ``sys.executable`` comes first because the one on PATH may be a
    version manager's shim (pyenv's is a shell script that adds tens of milliseconds of its
    own to every run)."""
    exe = installed_script("wheelfix")
    if exe != "wheelfix" or shutil.which(exe):
        return [exe]
    return [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {str(wheels.REPO_ROOT)!r}); "
        "from wheelfix.cli import main; sys.exit(main())",
    ]


# ---------------------------------------------------------------------------------- report


def fmt_s(seconds: float | None, runs: int, repeat: int) -> str:
    """A time cell: seconds with 3 significant figures, noting a different run count."""
    if seconds is None:
        return "failed"
    text = (
        f"{seconds:.3f}" if seconds < 1 else f"{seconds:.2f}" if seconds < 10 else f"{seconds:.1f}"
    )
    return text if runs == repeat else f"{text} (n={runs})"


def fmt_ratio(num: float | None, den: float | None) -> str:
    """A ratio cell, or 'n/a'."""
    if num is None or den is None or den <= 0:
        return "n/a"
    return f"{num / den:.1f}x" if num / den >= 10 else f"{num / den:.2f}x"


def verdict_cells(aw: Measurement | None, wf: Measurement | None) -> list[str]:
    """auditwheel's overall_tag, sym_tag, external_libs; wheelfix's consistent, repairable, libs."""
    cells = ["-", "-", "-"]
    if aw is not None and (run := aw.last_ok) is not None:
        data = parse_json(run.stdout)
        libs = sorted(data.get("external_libs") or {})
        cells = [
            f"`{data.get('overall_tag')}`",
            f"`{data.get('sym_tag')}`",
            ", ".join(f"`{x}`" for x in libs) or "(none)",
        ]
    elif aw is not None:
        cells = ["failed", "failed", "failed"]
    wcells = ["-", "-", "-"]
    if wf is not None and (run := wf.last_ok) is not None:
        results = parse_json(run.stdout).get("results") or [{}]
        first = results[0] if isinstance(results[0], dict) else {}
        raw_tags = first.get("tags")
        tags: dict[str, Any] = raw_tags if isinstance(raw_tags, dict) else {}
        ext = first.get("external_libraries")
        keys = sorted(str(k) for k in ext) if isinstance(ext, dict | list) else []

        def show(value: object) -> str:
            if value is None:
                return "(missing)"
            if isinstance(value, list):
                return ", ".join(f"`{v}`" for v in value) or "(none)"
            return f"`{value}`"

        wcells = [
            show(tags.get("consistent")),
            show(tags.get("repairable")),
            ", ".join(f"`{k}`" for k in keys) or "(none)",
        ]
    elif wf is not None:
        wcells = ["failed", "failed", "failed"]
    return cells + wcells


def render(
    *,
    started: dt.datetime,
    command: str,
    facts: dict[str, str],
    infos: list[WheelInfo],
    results: dict[str, dict[str, Measurement]],
    batch: Measurement | None,
    tools: Sequence[str],
    repeat: dict[str, int],
) -> str:
    """The Markdown report."""
    out: list[str] = []
    out.append(f"### bench_check, {started:%Y-%m-%d %H:%M} UTC\n")
    out.append(f"Command: `{command}`\n")
    out.extend(f"- {key}: {value}" for key, value in facts.items())
    out.append(
        "- runs: best of "
        + ", ".join(f"{t} {repeat[t]}" for t in ALL_TOOLS if t in tools)
        + "; wall-clock, warm page cache\n"
    )

    headers = {
        "floor": "floor (zip read + sha256)",
        "auditwheel": "`auditwheel show --json`",
        "pydistcheck": "`pydistcheck`",
        "wheelfix": "`wheelfix check --format json`",
    }
    shown = [t for t in TOOLS if t in tools]
    out.append(
        "| wheel | size MB | members | uncompressed MB | "
        + " | ".join(f"{headers[t]} s" for t in shown)
        + " |"
    )
    out.append("|---|---:|---:|---:|" + "---:|" * len(shown))
    for info in infos:
        row = results[info.label]
        cells = [fmt_s(row[t].best, len(row[t].ok_runs), repeat[t]) for t in shown]
        size_mb = f"{info.size / 1e6:.{1 if info.size >= 1e6 else 2}f}"
        out.append(
            f"| {info.label} | {size_mb} | {info.members} | "
            f"{info.uncompressed / 1e6:.1f} | " + " | ".join(cells) + " |"
        )
    out.append("")

    ratios: list[tuple[str, str, str]] = [
        ("wheelfix/floor", "wheelfix", "floor"),
        ("auditwheel/wheelfix", "auditwheel", "wheelfix"),
        ("pydistcheck/wheelfix", "pydistcheck", "wheelfix"),
        ("auditwheel/floor", "auditwheel", "floor"),
        ("pydistcheck/floor", "pydistcheck", "floor"),
    ]
    ratios = [r for r in ratios if r[1] in tools and r[2] in tools]
    if ratios:
        out.append("| wheel | " + " | ".join(r[0] for r in ratios) + " |")
        out.append("|---|" + "---:|" * len(ratios))
        for info in infos:
            row = results[info.label]
            out.append(
                f"| {info.label} | "
                + " | ".join(fmt_ratio(row[a].best, row[b].best) for _, a, b in ratios)
                + " |"
            )
        out.append("")

    if batch is not None:
        single = [results[i.label]["wheelfix"].best for i in infos if "wheelfix" in tools]
        total = sum(s for s in single if s is not None) if single and None not in single else None
        out.append(
            "| batch | `wheelfix check -j 2` on all at once s | sum of single runs s | ratio |"
        )
        out.append("|---|---:|---:|---:|")
        names = " + ".join(i.label for i in infos) if len(infos) <= 3 else f"{len(infos)} wheels"
        out.append(
            f"| {names} | "
            f"{fmt_s(batch.best, len(batch.ok_runs), repeat['batch'])} | "
            f"{fmt_s(total, repeat['wheelfix'], repeat['wheelfix']) if total else 'n/a'} | "
            f"{fmt_ratio(batch.best, total)} |"
        )
        out.append("")

    if "auditwheel" in tools or "wheelfix" in tools:
        out.append(
            "| wheel | auditwheel overall_tag | auditwheel sym_tag | auditwheel external_libs "
            "| wheelfix tags.consistent | wheelfix tags.repairable | wheelfix external_libraries |"
        )
        out.append("|---|---|---|---|---|---|---|")
        for info in infos:
            row = results[info.label]
            cells = verdict_cells(row.get("auditwheel"), row.get("wheelfix"))
            out.append(f"| {info.label} | " + " | ".join(cells) + " |")
        out.append("")

    errors: list[str] = []
    for info in infos:
        for tool, m in results[info.label].items():
            if m.error is not None:
                errors.append(f"- {info.label} / {tool}: `{shlex.join(m.command)}`: {m.error}")
    if batch is not None and batch.error is not None:
        errors.append(f"- batch: `{shlex.join(batch.command)}`: {batch.error}")
    if errors:
        out.append("Errors:\n")
        out.extend(errors)
        out.append("")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python bench/bench_check.py",
        description="Time wheelfix check against auditwheel show, pydistcheck and the floor.",
    )
    parser.add_argument(
        "wheels",
        nargs="*",
        metavar="WHEEL",
        help="keys or set names from tools/realwheels.py, or paths to .whl files (default: bench)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument(
        "--repeat-tool",
        action="append",
        default=[],
        metavar="TOOL=N",
        help="override --repeat for one tool (floor, auditwheel, pydistcheck, wheelfix, batch)",
    )
    parser.add_argument(
        "--tools",
        default=",".join(ALL_TOOLS),
        help=f"comma-separated subset of {','.join(ALL_TOOLS)} (default: all)",
    )
    parser.add_argument(
        "--wheelfix",
        default=None,
        metavar="CMD",
        help=(
            "command that runs wheelfix, from an empty folder (default: the `wheelfix` script "
            "beside this interpreter, else on PATH, else this checkout); another checkout: "
            '"env PYTHONPATH=CHECKOUT python -m wheelfix"'
        ),
    )
    parser.add_argument("-j", "--jobs", type=int, default=2, help="-j for the batch run")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per subprocess")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also append the report")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write raw timings as JSON")
    return parser.parse_args(argv)


def resolve_wheels(names: Sequence[str]) -> list[tuple[str, Path]]:
    """Labels and paths: cached pinned wheels by key/set, or .whl paths as given."""
    out: list[tuple[str, Path]] = []
    for name in names or ["bench"]:
        if name.endswith(".whl"):
            path = Path(name).resolve()  # the tools run from an empty folder
            out.append((" ".join(path.name.split("-")[:2]), path))
            continue
        for spec in wheels.expand([name]):
            out.append((f"{spec.key} {spec.version}", wheels.fetch(spec.key)))
    labels = [label for label, _ in out]
    return [
        (label if labels.count(label) == 1 else f"{label} #{n}", path)
        for n, (label, path) in enumerate(out, 1)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    args = parse_args(argv)
    started = dt.datetime.now(dt.timezone.utc)
    command = shlex.join(
        ["python", "bench/bench_check.py", *(sys.argv[1:] if argv is None else argv)]
    )

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(ALL_TOOLS))
    if unknown:
        print(
            f"error: unknown tools {unknown}; choose from {', '.join(ALL_TOOLS)}", file=sys.stderr
        )
        return 2
    repeat = dict.fromkeys(ALL_TOOLS, args.repeat)
    for item in args.repeat_tool:
        tool, _, count = item.partition("=")
        if tool not in repeat or not count.isdigit() or int(count) < 1:
            print(f"error: bad --repeat-tool {item!r}", file=sys.stderr)
            return 2
        repeat[tool] = int(count)

    wheelfix_cmd = shlex.split(args.wheelfix) if args.wheelfix else default_wheelfix_cmd()
    wheels_found = resolve_wheels(args.wheels)
    infos = [wheel_info(label, path) for label, path in wheels_found]
    facts = machine_facts(wheelfix_cmd)

    results: dict[str, dict[str, Measurement]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-check-") as empty:
        empty_dir = Path(empty)

        def commands(path: Path) -> dict[str, list[str]]:
            return {
                "floor": ["<in-process>", "floor", str(path)],
                "auditwheel": [installed_script("auditwheel"), "show", "--json", str(path)],
                "pydistcheck": [installed_script("pydistcheck"), str(path)],
                "wheelfix": [*wheelfix_cmd, "check", "--format", "json", str(path)],
            }

        for info in infos:
            cmds = commands(info.path)
            results[info.label] = {t: Measurement(t, cmds[t]) for t in TOOLS if t in tools}

        judges = {
            "auditwheel": judge_auditwheel,
            "pydistcheck": judge_pydistcheck,
            "wheelfix": judge_wheelfix,
        }
        # Every tool runs from an empty folder: no pyproject.toml there can configure it,
        # and `python -m wheelfix` there imports the wheelfix PYTHONPATH names (from the
        # repository root, the checkout would shadow it).
        cwds = {"auditwheel": empty_dir, "pydistcheck": empty_dir, "wheelfix": empty_dir}

        # Rounds interleave the tools, so a slow drift of the machine hits them all alike.
        for round_no in range(max(repeat[t] for t in tools)):
            for info in infos:
                for tool in TOOLS:
                    if tool not in tools or round_no >= repeat[tool]:
                        continue
                    m = results[info.label][tool]
                    if m.runs and not m.ok_runs:
                        continue  # it failed once: do not spend time failing again
                    print(
                        f"[round {round_no + 1}] {info.label}: {tool} ...",
                        file=sys.stderr,
                        flush=True,
                    )
                    if tool == "floor":
                        start = time.perf_counter()
                        floor(info.path)
                        m.runs.append(Run(time.perf_counter() - start, 0, "", "", None))
                    else:
                        m.runs.append(
                            run_subprocess(
                                m.command, cwd=cwds[tool], timeout=args.timeout, judge=judges[tool]
                            )
                        )
                    print(
                        f"    {m.runs[-1].seconds:.3f} s"
                        + (f"  ({m.runs[-1].error})" if m.runs[-1].error else ""),
                        file=sys.stderr,
                        flush=True,
                    )

        batch: Measurement | None = None
        if "batch" in tools and len(infos) > 1:
            batch = Measurement(
                "batch",
                [
                    *wheelfix_cmd,
                    "check",
                    "-j",
                    str(args.jobs),
                    "--format",
                    "json",
                    *(str(i.path) for i in infos),
                ],
            )
            for round_no in range(repeat["batch"]):
                if batch.runs and not batch.ok_runs:
                    break
                print(f"[round {round_no + 1}] batch ...", file=sys.stderr, flush=True)
                batch.runs.append(
                    run_subprocess(
                        batch.command, cwd=empty_dir, timeout=args.timeout, judge=judge_wheelfix
                    )
                )
                print(f"    {batch.runs[-1].seconds:.3f} s", file=sys.stderr, flush=True)

    report = render(
        started=started,
        command=command,
        facts=facts,
        infos=infos,
        results=results,
        batch=batch,
        tools=tools,
        repeat=repeat,
    )
    sys.stdout.write(report)
    if args.markdown is not None:
        with args.markdown.open("a", encoding="utf-8") as fh:
            fh.write("\n" + report)
    if args.json is not None:
        raw = {
            "started": started.isoformat(),
            "command": command,
            "machine": facts,
            "wheels": [
                {
                    "label": i.label,
                    "path": str(i.path),
                    "size": i.size,
                    "members": i.members,
                    "uncompressed": i.uncompressed,
                    "tools": {
                        t: {
                            "command": m.command,
                            "seconds": [r.seconds for r in m.runs],
                            "best": m.best,
                            "error": m.error,
                        }
                        for t, m in results[i.label].items()
                    },
                }
                for i in infos
            ],
            "batch": None
            if batch is None
            else {
                "command": batch.command,
                "seconds": [r.seconds for r in batch.runs],
                "best": batch.best,
                "error": batch.error,
            },
        }
        args.json.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
