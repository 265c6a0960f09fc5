"""Time ``wheelfix check`` on macOS and Windows wheels against the floor, in process.

For each wheel of the ``native`` set of ``bench/wheels.py`` (numpy and Pillow for macOS arm64,
macOS x86_64 and win_amd64, two universal2 wheels), best of ``--repeat`` runs:

* **floor**: open the zip and read + sha256 every member once (zipfile + hashlib);
* **check**: ``wheelfix.check([WHEEL], jobs=1)`` in this process (no interpreter start-up);
* **parse**: wheelfix's Mach-O/PE readers alone over every binary member (bytes in memory);
* **peer parse**: the peers' parsers over the same binaries: macholib (delocate's) on files
  written to a temp folder beforehand, pefile as delvewheel calls it (``fast_load`` and then
  the import, delay-import and debug directories);
* **delvewheel show** (Windows wheels, ``--delvewheel``): the peer's own command, once.

``delocate-listdeps`` cannot run on Linux (it needs ``otool``), so it has no column.
Prints Markdown (and appends it to ``--markdown PATH``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import pefile
from macholib.MachO import MachO

import wheelfix
from wheelfix.formats.macho import is_macho, parse_macho
from wheelfix.formats.pe import is_pe, parse_pe

# tools/ (shared with the tests) lives at the repository root
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools import realwheels as wheels


def best_of(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def floor(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            hashlib.sha256(archive.read(info)).digest()


def binaries(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        out = []
        for info in archive.infolist():
            data = archive.read(info)
            if is_macho(data) or is_pe(data):
                out.append((info.filename, data))
        return out


def ours(members: list[tuple[str, bytes]]) -> None:
    for _, data in members:
        parse_macho(data) if is_macho(data) else parse_pe(data)


def peers(members: list[tuple[str, bytes]], folder: Path) -> Callable[[], None]:
    files = []
    for name, data in members:
        if is_macho(data):
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            files.append(str(target))

    def run() -> None:
        for path in files:
            MachO(path)
        for _, data in members:
            if is_pe(data):
                pe = pefile.PE(data=data, fast_load=True)
                pe.parse_data_directories(directories=[1, 6, 13])

    return run


def delvewheel_show(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "delvewheel", "show", "--ignore-existing", str(path)],
        capture_output=True,
        check=True,
        timeout=900,
    )
    return time.perf_counter() - start


def row(key: str, path: Path, repeat: int, with_delvewheel: bool) -> list[str]:
    members = binaries(path)
    with tempfile.TemporaryDirectory() as tmp:
        peer = best_of(repeat, peers(members, Path(tmp)))
    floor_s = best_of(repeat, lambda: floor(path))
    check_s = best_of(repeat, lambda: wheelfix.check([path], jobs=1))
    parse_s = best_of(repeat, lambda: ours(members))
    show = f"{delvewheel_show(path):.2f}" if with_delvewheel and "windows" in key else "-"
    size = sum(len(d) for _, d in members)
    return [
        key,
        f"{path.stat().st_size / 1e6:.1f}",
        f"{len(members)} ({size / 1e6:.1f} MB)",
        f"{floor_s:.3f}",
        f"{check_s:.3f}",
        f"{check_s / floor_s:.2f}x",
        f"{parse_s * 1e3:.1f}",
        f"{peer * 1e3:.1f}",
        show,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/bench_native.py", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--delvewheel", action="store_true", help="also time delvewheel show")
    parser.add_argument("--markdown", type=Path, metavar="PATH")
    args = parser.parse_args(argv)
    head = [
        "wheel",
        "size MB",
        "binaries (bytes)",
        "floor s",
        "`wheelfix.check` s",
        "check/floor",
        "wheelfix parse ms",
        "macholib/pefile parse ms",
        "`delvewheel show` s",
    ]
    lines = [
        f"### bench_native, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `python bench/bench_native.py {' '.join(argv or sys.argv[1:])}`; "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"macholib {metadata.version('macholib')}, pefile {metadata.version('pefile')}, "
        f"delvewheel {metadata.version('delvewheel')}; best of {args.repeat}.",
        "",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
    ]
    for key in wheels.NATIVE_SET:
        cells = row(key, wheels.fetch(key), args.repeat, args.delvewheel)
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown is not None:
        with args.markdown.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
