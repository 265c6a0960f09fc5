"""Compile ``wfelf.c`` into the ELF files the unit tests corrupt.

Run once per test session (see the ``elf_fixtures`` fixture in ``tests/conftest.py``) or by
hand::

    python tests/unit/formats/elf_fixtures/build_elf_fixtures.py OUT_DIR

Only the host toolchain is used: ``gcc`` for everything, ``ar`` for the static archive.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "wfelf.c"

# A shared library with what the reader looks at: a SONAME, an RPATH, both hash tables
# (so each can be corrupted) and libm as a dependency even if the optimiser inlines sqrt.
_SHARED = (
    "-fPIC",
    "-shared",
    "-Wl,-soname,libwfelf.so.1",
    "-Wl,-rpath,/opt/wfelf/lib",
    "-Wl,--hash-style=both",
    "-Wl,--no-as-needed",
)
_LIBS = ("-lm",)
_VARIANTS: dict[str, tuple[str, ...]] = {
    "release": ("-O2",),
    "debug": ("-O2", "-g"),
    "stripped": ("-O2", "-s"),
}
# Without the C runtime start files the GNU property note of our object survives linking,
# so the library carries GNU_PROPERTY_X86_ISA_1_NEEDED (x86-64-v3).
_ISA_FLAGS = ("-O2", "-march=x86-64-v3", "-mneeded", "-nostartfiles")


class FixtureBuildError(RuntimeError):
    """The toolchain is missing or a compile failed."""


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise FixtureBuildError(f"{' '.join(argv)} failed:\n{proc.stderr}")


def build_all(out_dir: Path) -> dict[str, Path]:
    """Build every variant into ``out_dir``; return variant name -> file.

    ``release``, ``debug``, ``stripped`` (shared libraries), ``program`` (an executable),
    ``object`` (``.o``), and where the toolchain allows ``isa`` and ``archive`` (``.a``).
    """
    gcc = shutil.which("gcc")
    if gcc is None:
        raise FixtureBuildError("gcc not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    built: dict[str, Path] = {}
    for variant, flags in _VARIANTS.items():
        target = out_dir / f"libwfelf-{variant}.so"
        _run([gcc, *flags, *_SHARED, "-o", str(target), str(SOURCE), *_LIBS])
        built[variant] = target
    if platform.machine() == "x86_64":
        target = out_dir / "libwfelf-isa.so"
        _run([gcc, *_ISA_FLAGS, *_SHARED, "-o", str(target), str(SOURCE), *_LIBS])
        built["isa"] = target
    program = out_dir / "wfelf-program"
    _run([gcc, "-O2", "-DWFELF_MAIN", "-o", str(program), str(SOURCE), *_LIBS])
    built["program"] = program
    obj = out_dir / "wfelf.o"
    _run([gcc, "-O2", "-fPIC", "-c", "-o", str(obj), str(SOURCE)])
    built["object"] = obj
    ar = shutil.which("ar")
    if ar is not None:
        archive = out_dir / "libwfelf.a"
        _run([ar, "rcs", str(archive), str(obj)])
        built["archive"] = archive
    return built


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: build_elf_fixtures.py OUT_DIR\n")
        return 2
    for variant, path in build_all(Path(argv[0])).items():
        sys.stdout.write(f"{variant}: {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
