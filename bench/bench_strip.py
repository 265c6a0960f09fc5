"""Strip what auditwheel already touched: ``wheelfix repair --strip`` on repaired PyPI wheels.

For each wheel (Pillow, numpy, scipy, torch: every library in them was modified by patchelf
when upstream ran auditwheel), this measures:

* the bytes ``wheelfix check`` calls recoverable (WF301 debug information + WF302 symbol
  tables) and how many of them ``wheelfix repair --strip`` removed (the same check on the
  output);
* the output size and wall time of ``wheelfix repair --strip`` against
  ``auditwheel repair --strip`` (GNU strip after patchelf), and how many of the libraries
  auditwheel wrote have a PT_LOAD whose ``p_offset`` is no longer congruent to ``p_vaddr``
  modulo ``p_align`` (the loader refuses those: auditwheel #716).

    python bench/bench_strip.py [--only pillow,numpy] [--repeat 1] [--markdown bench/RESULTS.md]
                                [--deps FOLDER]

Each output then runs a workload with this machine's python (``--deps`` names a folder
with what torch imports and this machine lacks, for example
``pip install --no-deps --target FOLDER fsspec``).

wheelfix runs from this checkout (``python -m wheelfix`` with ``PYTHONPATH`` set to it).
torch (~190 MB) is only fetched here, never by the tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tools/ is shared with the tests

import wheelfix  # noqa: E402
from tools import realwheels as wheels  # noqa: E402
from wheelfix.formats.elf import CorruptElfError, read_layout  # noqa: E402

_PT_LOAD = 1
LABELS = {
    "pillow": "Pillow 13.0.0",
    "numpy": "numpy 2.3.5",
    "scipy": "scipy 1.16.3",
    "torch": "torch 2.13.0+cpu",
}


@dataclass
class Outcome:
    seconds: float
    size: int
    recoverable_left: int
    misaligned: int
    ok: bool
    note: str = ""
    output: Path | None = None


def recoverable(wheel: Path) -> int:
    """WF301 + WF302 bytes, as ``wheelfix check`` counts them."""
    (result,) = wheelfix.check(wheel).results
    return result.sizes.debug_info + result.sizes.symbol_table


def misaligned(wheel: Path) -> int:
    """Shared objects in the wheel with a PT_LOAD the loader would refuse."""
    count = 0
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if ".so" not in info.filename.rsplit("/", 1)[-1]:
                continue
            data = zf.read(info)
            try:
                segments = read_layout(data).segments
            except CorruptElfError:
                continue
            count += any(
                s.type == _PT_LOAD and s.align > 1 and (s.offset - s.vaddr) % s.align
                for s in segments
            )
    return count


#: torch's test programs in torch/bin need libc10.so and libtorch*.so with an RPATH that
#: does not lead to torch/lib (test_shim: $ORIGIN only): no tool can graft them, so both
#: tools are told to leave them out.
EXTRA = {
    "torch": ["--exclude", "libc10.so", "--exclude", "libtorch.so", "--exclude", "libtorch_cpu.so"],
}

WORKLOADS = {
    "pillow": "from PIL import Image; Image.linear_gradient('L').resize((123, 77), Image.LANCZOS)",
    "numpy": "import numpy as np; a = np.ones((300, 300)); assert (a @ a)[0, 0] == 300",
    "scipy": "import numpy as np, scipy.fft; assert np.allclose(scipy.fft.ifft(scipy.fft.fft("
    "np.ones(64))).real, 1)",
    "torch": "import torch; a = torch.ones(256, 256); assert float((a @ a)[0, 0]) == 256.0",
}


def works(key: str, outputs: list[Path], deps: Path | None) -> str:
    """Run the wheel's workload with this machine's python on the unpacked outputs (scipy
    needs numpy's output too); ``ok`` or the first error it printed (the cause)."""
    with tempfile.TemporaryDirectory() as tmp:
        for wheel in outputs:
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(tmp)
        path = os.pathsep.join([tmp, *([str(deps)] if deps else [])])
        done = subprocess.run(
            [sys.executable, "-c", WORKLOADS[key]],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": path},
            cwd=tmp,
        )
    if done.returncode == 0:
        return "ok"
    lines = done.stderr.strip().splitlines() or ["?"]
    errors = [line for line in lines if "Error:" in line and line.split("Error:", 1)[1].strip()]
    # The first error printed is the cause (numpy re-raises the loader's ImportError with a
    # generic message of its own).
    return (errors[:1] or lines[-1:])[0].strip()[:100]


def run(command: list[str], out_dir: Path) -> Outcome:
    out_dir.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - start
    produced = sorted(out_dir.glob("*.whl"))
    if done.returncode != 0 or len(produced) != 1:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        return Outcome(seconds, 0, 0, 0, False, f"exit {done.returncode}: {last[0][:120]}")
    out = produced[0]
    return Outcome(seconds, out.stat().st_size, recoverable(out), misaligned(out), True, "", out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(wheels.STRIP_SET))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--deps", type=Path, help="folder with torch's pure-Python dependencies")
    args = parser.parse_args()
    keys = [k for k in args.only.split(",") if k]
    tools = {
        # level all, the nearest to GNU strip --strip-all, which auditwheel runs
        "wheelfix repair --strip": [sys.executable, "-m", "wheelfix", "repair", "--strip", "-w"],
        # keeps .comment and the annobin notes (the default until 0.2)
        "wheelfix repair --strip=unneeded": [
            sys.executable,
            "-m",
            "wheelfix",
            "repair",
            "--strip=unneeded",
            "-w",
        ],
        "auditwheel repair --strip": [
            sys.executable,
            "-m",
            "auditwheel",
            "repair",
            "--strip",
            "-w",
        ],
    }
    lines = [
        f"### bench_strip, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Command: `python bench/bench_strip.py --only {','.join(keys)} --repeat {args.repeat}`",
        "",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"CPython {platform.python_version()}; best of {args.repeat}, wall clock",
        "- recoverable: WF301 + WF302 bytes `wheelfix check` reports on the input; removed: "
        "recoverable minus what `check` still reports on the output",
        "- misaligned: shared objects in the output with a PT_LOAD whose p_offset is not "
        "congruent to p_vaddr modulo p_align (the loader refuses them)",
        "",
        "- workload: the wheel's workload (`WORKLOADS`) with this machine's python on the "
        "unpacked output: a resize, a matmul, an FFT, a torch matmul",
        "",
        "| wheel | size in | recoverable | tool | time s | size out | removed | % | misaligned "
        "| workload |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for key in keys:
            wheel = wheels.fetch(key)
            size_in, before = wheel.stat().st_size, recoverable(wheel)
            for tool, prefix in tools.items():
                label = tool.replace(" ", "_").replace("=", "_")
                runs = [
                    run(
                        [*prefix, f"{tmp}/{label}/{key}-{n}", *EXTRA.get(key, []), str(wheel)],
                        Path(tmp) / label / f"{key}-{n}",
                    )
                    for n in range(args.repeat)
                ]
                ok = [r for r in runs if r.ok]
                outcome = min(ok, key=lambda r: r.seconds) if ok else runs[-1]
                print(f"{key} | {tool}: {outcome}", file=sys.stderr)
                if outcome.ok and outcome.output is not None:
                    removed = before - outcome.recoverable_left
                    share = f"{100 * removed / before:.1f}" if before else "-"
                    outputs = [outcome.output]
                    if key == "scipy":
                        outputs += sorted((Path(tmp) / label).glob("numpy-*/*.whl"))[:1]
                    row = [
                        f"{outcome.seconds:.2f}",
                        f"{outcome.size:,}",
                        f"{removed:,}",
                        share,
                        str(outcome.misaligned),
                        works(key, outputs, args.deps),
                    ]
                else:
                    row = [f"{outcome.seconds:.2f}", "failed", outcome.note, "", "", ""]
                cells = [LABELS.get(key, key), f"{size_in:,}", f"{before:,}", tool, *row]
                lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with args.markdown.open("a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
