"""The command line: parse, call the library, render, map to an exit code. Nothing else.

Exit codes (docs/cli.md): 0 clean; 1 findings at or above --fail-on; 2 usage error or an
input that could not be read; 3 a required external tool missing or failing; 4 an internal
error (a bug in wheelfix).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import itertools
import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

import click

from wheelfix import __version__
from wheelfix.cli.options import Gate, gate_options, output_format, quiet_option, settings
from wheelfix.errors import UsageError, WheelfixError

# Each command imports what it needs when it runs: a command line pays for one command.
if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


__all__ = ["main"]

EXIT_INTERNAL = 4
_F = TypeVar("_F", bound=Callable[..., Any])
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def _color_wanted(stream: object) -> bool:
    """``--color always|never`` wins; ``auto`` colours a terminal unless ``NO_COLOR`` is set
    to anything but the empty string (https://no-color.org)."""
    ctx = click.get_current_context(silent=True)
    choice = (ctx.find_object(dict) or {}).get("color", "auto") if ctx else "auto"
    if choice != "auto":
        return bool(choice == "always")
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _console(stream: object = None) -> Console:
    from rich.console import Console  # rich costs import time; JSON output never needs it

    file = stream if stream is not None else sys.stdout
    tty = bool(getattr(file, "isatty", lambda: False)())
    color = _color_wanted(file)
    # Plain, unwrapped lines when not a terminal: CI logs and pipes read them as they are.
    # No colour means no escape sequence at all (not even bold), so color_system is None.
    return Console(
        file=file,  # type: ignore[arg-type]
        highlight=False,
        soft_wrap=not tty,
        force_terminal=True if color else None,  # None: a terminal stays one, uncoloured
        color_system="auto" if color and tty else ("standard" if color else None),
        width=None if tty else 160,
    )


def _import_text_output() -> None:
    """Import what text output needs (rich takes ~25 ms, part of it on the first line
    printed): ``repair`` does it while it waits for auditwheel."""
    importlib.import_module("wheelfix.cli.render")
    _console(io.StringIO()).print("[green]✓[/] -> :warning:")


def _stderr_console() -> Console:
    """The console of the progress lines on stderr: no escape sequence without colour."""
    from rich.console import Console

    color = _color_wanted(sys.stderr)
    return Console(file=sys.stderr, color_system="auto" if color else None)


def _parse_size(text: str) -> int:
    m = _SIZE_RE.match(text)
    if m is None:
        raise click.BadParameter(f"{text!r} is not a size such as 8G or 500M")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m[2].lower()]
    return int(m[1]) * scale


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(dict)["debug"] = True


def _set_color(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["color"] = value


#: ``--debug`` after the command name too (``wheelfix scan --debug PATH``): people append it.
_debug_anywhere = click.option(
    "--debug", is_flag=True, hidden=True, expose_value=False, callback=_set_debug
)
#: ``--color`` before or after the command name, on every command.
_color_option = click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    expose_value=False,
    callback=_set_color,
    help="Colour text output: auto (a terminal, unless NO_COLOR is set), always, never.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="wheelfix")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@_color_option
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Check, repair and slim Python wheels for small, provably working containers."""
    ctx.ensure_object(dict)["debug"] = debug


_CHECK_EPILOG = """\b
Examples:
  wheelfix check dist/*.whl
  wheelfix check --format json dist/*.whl > report.json
  wheelfix check --target musllinux_1_2_x86_64 dist/*.whl   # will it install on Alpine?
  wheelfix check --fail-on warning --ignore WF4 dist/*.whl
  wheelfix check --format sarif dist/ > wheelfix.sarif   # code scanning (docs/ci.md)

\b
Exit codes:
  0  nothing at or above --fail-on
  1  findings at or above --fail-on
  2  usage error, or an input that could not be read as a wheel
     (the other inputs are still checked and reported)
  3  a required external tool is missing or failed
  4  internal error (a bug in wheelfix)

Defaults come from [tool.wheelfix] in the nearest pyproject.toml (keys: fail-on, select,
ignore, target, jobs, max-uncompressed, and the content-check keys in docs/checks.md).
Every check code is explained in docs/checks.md.
"""


@cli.command("check", epilog=_CHECK_EPILOG)
@_debug_anywhere
@_color_option
@click.argument("wheels", nargs=-1, required=True, type=click.Path(path_type=Path))
@output_format("Output format. JSON follows docs/schema/check.schema.json.")
@gate_options
@click.option(
    "--target",
    metavar="PLATFORM",
    help="Also ask: can this wheel install on PLATFORM (e.g. musllinux_1_2_x86_64)?",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    help="Parallel workers; 0 means all cores.  [default: 0]",
)
@click.option(
    "--max-uncompressed",
    metavar="SIZE",
    help="Refuse wheels that expand beyond SIZE (e.g. 8G).  [default: 8G]",
)
@click.option(
    "--toplevel",
    multiple=True,
    metavar="NAMES",
    help="The library's intended top-level packages/modules (WF412, WF416, WF420/1).",
)
@click.option(
    "--package",
    "packages",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="A package folder the wheel must match (WF418/WF419).",
)
@click.option(
    "--src-dir",
    "src_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="A folder whose contents the wheel must match (WF418/WF419).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="SONAME",
    help="A library (fnmatch pattern) provided at run time by something else; never external.",
)
@click.option("-v", "--verbose", count=True, help="Hints, per-file ELF detail, library paths.")
@quiet_option
@click.pass_context
def check_cmd(
    ctx: click.Context,
    wheels: tuple[Path, ...],
    fmt: str,
    gate: Gate,
    target: str | None,
    jobs: int | None,
    max_uncompressed: str | None,
    toplevel: tuple[str, ...],
    packages: tuple[Path, ...],
    src_dirs: tuple[Path, ...],
    exclude: tuple[str, ...],
    verbose: int,
    quiet: bool,
) -> None:
    """Audit wheels (or every *.whl in a folder): tag, libraries, debug info, contents, RECORD.

    Source distributions (.tar.gz, NAME-VERSION.zip) get the content checks that apply.
    """

    def run() -> int:
        from wheelfix.cli.render import render_text
        from wheelfix.formats.wheelfile import Limits
        from wheelfix.wheels.audit import check as run_check
        from wheelfix.wheels.checks.contents import content_rules

        config = gate.settings(
            target=target,
            jobs=jobs,
            max_uncompressed=_parse_size(max_uncompressed) if max_uncompressed else None,
            packages=packages,
            src_dirs=src_dirs,
            exclude=exclude,
        )
        rules = content_rules(
            config.contents,
            toplevel=toplevel,
            packages=config.packages,
            src_dirs=config.src_dirs,
        )
        limit = config.max_uncompressed
        limits = Limits(max_total_size=limit) if limit else Limits()
        inputs = _wheel_inputs(wheels)
        with _per_wheel_progress("checking", len(inputs), fmt) as on_result:
            report = run_check(
                [os.fspath(w) for w in inputs],
                target=config.target,
                select=config.select,
                ignore=config.ignore,
                fail_on=config.fail_on or "error",
                jobs=config.jobs or 0,
                limits=limits,
                on_result=on_result,
                contents=rules,
                exclude=config.exclude,
            )
        _emit(fmt, report, lambda c: render_text(report, c, verbose=verbose, quiet=quiet), "check")
        for result in report.results:
            if result.error is not None and fmt != "text":
                click.echo(f"wheelfix: error: {result.error}", err=True)
        return report.exit_code

    ctx.exit(_guard(ctx, run))


#: ``--strip`` alone, and slim's default level: ``wheelfix.formats.strip.DEFAULT_LEVEL``
#: (written out so that ``--help`` does not import the strip engine; a test keeps them equal).
DEFAULT_STRIP = "all"


class _RepairCommand(click.Command):
    """``--strip`` is a flag and ``--strip=LEVEL`` sets the level; never eat the next word.

    A plain optional-value option would read ``--strip dist/x.whl`` as level ``dist/x.whl``.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rewritten: list[str] = []
        for arg in args:
            if arg.startswith("--strip="):
                level = arg.split("=", 1)[1]
                if level not in ("debug", "unneeded", "all"):
                    raise click.BadParameter(
                        f"{level!r} is not one of 'debug', 'unneeded', 'all'",
                        ctx=ctx,
                        param_hint="'--strip=LEVEL'",
                    )
                rewritten += ["--strip-level", level]
            else:
                rewritten.append(arg)
        _refuse_spaced_strip_level(ctx, args)
        return super().parse_args(ctx, rewritten)


def _refuse_spaced_strip_level(ctx: click.Context, args: list[str]) -> None:
    """``--strip debug`` reads ``debug`` as a wheel; say how to write what was meant."""
    for flag, level in itertools.pairwise(args):
        if flag == "--strip" and level in ("debug", "unneeded", "all") and not Path(level).exists():
            raise click.UsageError(
                f"'--strip {level}' would read {level!r} as a wheel: write --strip={level} "
                f"(--strip alone means {DEFAULT_STRIP})",
                ctx=ctx,
            )


_REPAIR_EPILOG = """\b
Examples:
  wheelfix repair --strip -w wheelhouse/ dist/*.whl
  wheelfix repair --strip=debug --prune tests,sources -w wheelhouse/ dist/*.whl
  wheelfix repair --strip -w wheelhouse/ --verify-in /srv/runner-rootfs dist/*.whl
  # cibuildwheel: repair-wheel-command = "wheelfix repair --strip -w {dest_dir} {wheel}"

\b
Strip levels (--strip alone means all):
  debug     DWARF debug sections only
  unneeded  debug sections and the static symbol table (.symtab/.strtab, .gnu_debugdata)
  all       as unneeded, plus .comment and annobin build notes
\b
Prune categories (--prune, comma-separated; none by default):
  tests, sources, bytecode, build-leftovers, caches, source-maps, static-archives, all

\b
Exit codes:
  0  every wheel repaired (and verified)
  1  a wheel could not be repaired as asked (a library to graft is missing, its RECORD
     does not match its files, --plat is below what it can reach) or its output failed
     verification; nothing was written for it
  2  usage error, or an input that could not be read as a wheel
  3  auditwheel, patchelf or chroot missing or failing
  4  internal error (a bug in wheelfix)
"""


@cli.command("repair", cls=_RepairCommand, epilog=_REPAIR_EPILOG)
@_debug_anywhere
@_color_option
@click.argument("wheels", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-w",
    "--wheel-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the repaired wheels (created if missing).",
)
@click.option(
    "--plat",
    default="auto",
    show_default=True,
    help="Target platform tag for auditwheel (e.g. manylinux_2_28_x86_64).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="SONAME",
    help="Do not graft this library (repeatable; wildcards allowed).",
)
@click.option(
    "--strip",
    "strip_flag",
    is_flag=True,
    help="Strip debug info and symbol tables (or --strip=LEVEL).",
)
@click.option("--strip-level", type=click.Choice(["debug", "unneeded", "all"]), hidden=True)
@click.option(
    "--keep-debug",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Write what --strip removes to DIR/.build-id/xx/*.debug.",
)
@click.option(
    "--prune",
    multiple=True,
    metavar="CATEGORIES",
    help="Remove these content categories (comma-separated, repeatable).",
)
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Check each output; a wheel that still fails is not written.",
)
@click.option(
    "--verify-in",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="ROOTFS",
    help="Also import each output inside this root filesystem (chroot).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=0,
    help="Wheels repaired at once; 0 means all cores.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--force", is_flag=True, help="Overwrite existing output wheels.")
@quiet_option
@click.option(
    "--allow-record-mismatch", is_flag=True, help="Repair even if RECORD does not match the files."
)
@click.pass_context
def repair_cmd(
    ctx: click.Context,
    wheels: tuple[Path, ...],
    wheel_dir: Path,
    plat: str,
    exclude: tuple[str, ...],
    strip_flag: bool,
    strip_level: str | None,
    keep_debug: Path | None,
    prune: tuple[str, ...],
    verify: bool,
    verify_in: Path | None,
    jobs: int,
    fmt: str,
    force: bool,
    quiet: bool,
    allow_record_mismatch: bool,
) -> None:
    """Graft external libraries, strip, prune; write wheels the runner stage can install.

    WHEELS are wheel files or folders (every *.whl in them)."""
    from wheelfix.wheels.auditwheel import standing_by

    def run() -> int:
        if wheel_dir.exists() and not wheel_dir.is_dir():
            raise UsageError(f"{wheel_dir}: exists and is not a folder")
        wheel_dir.mkdir(parents=True, exist_ok=True)
        level = strip_level or (DEFAULT_STRIP if strip_flag else None)
        inputs = _wheel_inputs(wheels)
        # Before the repair code is imported: auditwheel's import overlaps that one too.
        warm = _import_text_output if fmt == "text" else None
        with standing_by([os.fspath(w) for w in inputs], while_waiting=warm):
            return repair_and_report(level, inputs)

    def repair_and_report(level: str | None, inputs: list[Path]) -> int:
        from wheelfix.wheels.repair import repair

        with _per_wheel_progress("repairing", len(inputs), fmt) as on_result:
            report = repair(
                [os.fspath(w) for w in inputs],
                wheel_dir,
                strip=level,
                prune=prune,
                plat=plat,
                exclude=exclude,
                verify=verify,
                verify_in=verify_in,
                force=force,
                jobs=jobs,
                on_result=on_result,
                keep_debug=keep_debug,
                allow_record_mismatch=allow_record_mismatch,
            )
        from wheelfix.cli.render import render_repair

        _emit(fmt, report, lambda console: render_repair(report, console, quiet=quiet))
        for result in report.results:
            if result.error is not None and fmt == "json":
                click.echo(f"wheelfix: error: {result.input}: {result.error}", err=True)
        return report.exit_code

    ctx.exit(_guard(ctx, run))


_SCAN_EPILOG = """\b
Examples:
  wheelfix scan                          # this interpreter's site-packages
  wheelfix scan /opt/app/lib/python3.11/site-packages --format json
  wheelfix scan /srv/target -v           # every distribution and every finding

\b
Exit codes: 0 no finding at or above --fail-on (default error); 1 findings at or above it;
2 usage error (the path is missing or not a folder); 4 internal error.
"""


@cli.command("scan", epilog=_SCAN_EPILOG)
@_debug_anywhere
@_color_option
@click.argument("path", required=False, type=click.Path(path_type=Path, file_okay=False))
@output_format("Output format. JSON follows docs/schema/scan.schema.json.")
@gate_options
@click.option("-v", "--verbose", count=True, help="Every distribution and info findings.")
@quiet_option
@click.pass_context
def scan_cmd(
    ctx: click.Context,
    path: Path | None,
    fmt: str,
    gate: Gate,
    verbose: int,
    quiet: bool,
) -> None:
    """Audit an installed environment: sizes, debug info, tests, duplicates, broken imports."""
    from wheelfix.installed.scan import scan

    def run() -> int:
        config = gate.settings()
        ticker = _FileTicker.on_terminal("scanning") if fmt == "text" else None
        try:
            report = scan(
                path,
                fail_on=config.fail_on or "error",
                select=config.select,
                ignore=config.ignore,
                on_file=ticker.tick if ticker else None,
            )
        finally:
            if ticker is not None:
                ticker.stop()
        from wheelfix.cli.render import render_scan

        _emit(fmt, report, lambda c: render_scan(report, c, verbose=verbose, quiet=quiet), "scan")
        return report.exit_code

    ctx.exit(_guard(ctx, run))


_SLIM_EPILOG = """\b
Examples:
  wheelfix slim /opt/app/site-packages               # dry run: the plan, nothing changes
  wheelfix slim --apply /opt/app/site-packages
  wheelfix slim --apply --only tests,strip --keep 'scipy/*/tests/data/*' PATH
  wheelfix slim --recover PATH                       # only undo an interrupted --apply

\b
Categories (default: strip, tests, sources, build-leftovers, caches, dedupe):
  strip            debug info and symbol tables of ELF files (--strip-level)
  tests            folders named tests/ or test/ inside packages
  sources          C/C++/Cython/Fortran sources (headers, .pxd and sources the
                   package reads at run time are kept)
  build-leftovers  VCS/editor/build-tool files
  caches           tool caches (.pytest_cache, .mypy_cache, ...)
  dedupe           byte-identical files become hard links to one copy
  source-maps, static-archives, bytecode   (opt-in; bytecode costs start-up time)

\b
Never removed: *.dist-info (importlib.metadata and pip need it). Distributions without a
RECORD are left alone. Every change is journaled; modules that stop importing are
restored. Exit codes: 0 done (or planned); 1 some distribution had to be restored;
2 usage error; 4 internal error.
"""


@cli.command("slim", epilog=_SLIM_EPILOG)
@_debug_anywhere
@_color_option
@click.argument("path", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--apply", "do_apply", is_flag=True, help="Carry out the plan (default: dry run).")
@click.option(
    "--recover",
    "do_recover",
    is_flag=True,
    help="Only roll back what an interrupted --apply left, then stop.",
)
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="CATEGORIES",
    help="Use exactly these categories (comma-separated).",
)
@click.option(
    "--also",
    multiple=True,
    metavar="CATEGORIES",
    help="Add categories to the default set, e.g. --also bytecode.",
)
@click.option(
    "--keep",
    multiple=True,
    metavar="PATTERN",
    help="Never touch paths matching this glob (repeatable).",
)
@click.option(
    "--strip-level",
    type=click.Choice(["debug", "unneeded", "all"]),
    help=f"Strip level for the strip category.  [default: {DEFAULT_STRIP}]",
)
@click.option(
    "--keep-debug",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Write what the strip removes to DIR/.build-id/xx/*.debug.",
)
@click.option("--python", metavar="PYTHON", help="Interpreter for the import checks.")
@click.option("--no-verify", is_flag=True, help="Skip the import checks (not recommended).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--no-config", is_flag=True, help="Ignore [tool.wheelfix.slim].")
@click.pass_context
def slim_cmd(
    ctx: click.Context,
    path: Path | None,
    do_apply: bool,
    do_recover: bool,
    only: tuple[str, ...],
    also: tuple[str, ...],
    keep: tuple[str, ...],
    strip_level: str | None,
    keep_debug: Path | None,
    python: str | None,
    no_verify: bool,
    fmt: str,
    no_config: bool,
) -> None:
    """Slim an installed environment safely (dry run unless --apply)."""
    from wheelfix.installed.slim import DEFAULT_CATEGORIES, recover, slim

    def run() -> int:
        if do_recover:
            if do_apply or fmt != "text":
                raise UsageError("--recover takes neither --apply nor --format json")
            from wheelfix.installed.tree import default_site_packages

            root = path or default_site_packages()
            done = recover(root)
            click.echo(f"{root}: {done or 'nothing to roll back'}")
            return 0
        config = settings(no_config).slim
        categories = list(only) or list(config.categories) or list(DEFAULT_CATEGORIES)
        result = slim(
            path,
            apply=do_apply,
            categories=[*categories, *also],
            keep=[*config.keep, *keep],
            strip=strip_level or config.strip or DEFAULT_STRIP,
            python=python or config.python,
            verify=not no_verify,
            keep_debug=keep_debug,
            on_progress=(lambda msg: click.echo(f"wheelfix: {msg}", err=True))
            if fmt == "text" and sys.stderr.isatty()
            else None,
        )
        from wheelfix.cli.render import render_slim

        _emit(fmt, result, lambda console: render_slim(result, console))
        return result.exit_code

    ctx.exit(_guard(ctx, run))


_IMAGE_EPILOG = """\b
Examples:
  docker save myapp:latest -o myapp.tar && wheelfix image myapp.tar
  wheelfix image --format json oci-layout-folder/
  wheelfix image --lowest-efficiency 0.95 --highest-wasted-bytes 20M myapp.tar   # CI gate

\b
Inputs: a docker save archive (classic or OCI-style), an OCI image layout folder, or an OCI
archive. Layers are streamed once; nothing is extracted to disk.
Exit codes: 0 nothing at or above --fail-on; 1 findings (or a gate) at or above it;
2 an input that cannot be read as an image; 4 internal error.
"""


@cli.command("image", epilog=_IMAGE_EPILOG)
@_debug_anywhere
@_color_option
@click.argument("image", type=click.Path(path_type=Path))
@click.option(
    "--base-layers",
    type=click.IntRange(min=0),
    metavar="N",
    help="The first N layers are the base image (default: history).",
)
@click.option(
    "--lowest-efficiency",
    type=click.FloatRange(0, 1),
    metavar="RATIO",
    help="Gate: fail when final/written bytes is below RATIO (e.g. 0.95).",
)
@click.option(
    "--highest-wasted-bytes",
    metavar="SIZE",
    help="Gate: fail when more than SIZE bytes are wasted (e.g. 20M).",
)
@click.option(
    "--highest-wasted-percent",
    type=click.FloatRange(0, 1),
    metavar="RATIO",
    help="Gate: fail when wasted/written is above RATIO (e.g. 0.1).",
)
@output_format("Output format. JSON follows docs/schema/image.schema.json.")
@gate_options
@click.option("-v", "--verbose", count=True, help="Hints and the biggest entries per layer.")
@quiet_option
@click.pass_context
def image_cmd(
    ctx: click.Context,
    image: Path,
    base_layers: int | None,
    lowest_efficiency: float | None,
    highest_wasted_bytes: str | None,
    highest_wasted_percent: float | None,
    fmt: str,
    gate: Gate,
    verbose: int,
    quiet: bool,
) -> None:
    """Audit a container image: layers, wasted bytes, the Python environment inside."""
    from wheelfix.containers.image import analyze_image

    def run() -> int:
        config = gate.settings()
        report = analyze_image(
            image,
            base_layers=base_layers,
            lowest_efficiency=lowest_efficiency,
            highest_wasted_bytes=_parse_size(highest_wasted_bytes)
            if highest_wasted_bytes
            else None,
            highest_wasted_percent=highest_wasted_percent,
            fail_on=config.fail_on or "error",
            select=config.select,
            ignore=config.ignore,
        )
        from wheelfix.cli.render import render_image

        _emit(fmt, report, lambda c: render_image(report, c, verbose=verbose, quiet=quiet), "image")
        return report.exit_code

    ctx.exit(_guard(ctx, run))


_DOCKERFILE_EPILOG = """\b
Examples:
  wheelfix dockerfile Dockerfile
  wheelfix dockerfile --wheelhouse wheelhouse/ docker/alpine.Dockerfile   # the Alpine question
  wheelfix dockerfile --format json --fail-on warning Dockerfile          # CI gate
  wheelfix dockerfile --format github .                                   # annotations

\b
Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 the file cannot
be read (or --wheelhouse is not a folder); 4 internal error. Codes WF801-WF806 are
explained in docs/checks.md.
"""


@cli.command("dockerfile", epilog=_DOCKERFILE_EPILOG)
@_debug_anywhere
@_color_option
@click.argument(
    "paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--wheelhouse",
    type=click.Path(path_type=Path, file_okay=False),
    help="Wheels the image installs (checks an Alpine base).",
)
@output_format("Output format. JSON (one PATH only) follows docs/schema/dockerfile.schema.json.")
@gate_options
@click.option("-v", "--verbose", count=True, help="Show each finding's hint.")
@quiet_option
@click.pass_context
def dockerfile_cmd(
    ctx: click.Context,
    paths: tuple[Path, ...],
    wheelhouse: Path | None,
    fmt: str,
    gate: Gate,
    verbose: int,
    quiet: bool,
) -> None:
    """Read Dockerfiles for the size lessons before anything is built (codes WF8xx).

    PATH is a Dockerfile, or a folder with a Dockerfile (or Containerfile) in it."""
    from wheelfix.containers.dockerfile import analyze_dockerfile

    def run() -> int:
        config = gate.settings()
        if fmt == "json" and len(paths) > 1:
            raise UsageError(
                "--format json takes one Dockerfile (sarif, github and gitlab take several)"
            )
        reports = [
            analyze_dockerfile(
                _dockerfile_in(path),
                wheelhouse=wheelhouse,
                fail_on=config.fail_on or "error",
                select=config.select,
                ignore=config.ignore,
            )
            for path in paths
        ]
        from wheelfix.cli.render import render_dockerfile

        def render(console: Console) -> None:
            for report in reports:
                render_dockerfile(report, console, verbose=verbose, quiet=quiet)

        _emit(fmt, reports[0], render, "dockerfile", more=reports[1:])
        return max(r.exit_code for r in reports)

    ctx.exit(_guard(ctx, run))


def _dockerfile_in(path: Path) -> Path:
    """A Dockerfile given as such, or the ``Dockerfile`` (else ``Containerfile``) of a folder,
    as ``docker build DIR`` and ``podman build DIR`` look for them."""
    if not path.is_dir():
        return path
    for name in ("Dockerfile", "Containerfile"):
        if (path / name).is_file():
            return path / name
    raise UsageError(f"{path}: no Dockerfile or Containerfile in this folder")


def _wheel_inputs(paths: Sequence[Path]) -> list[Path]:
    """Wheels as given; a folder stands for the ``*.whl`` files in it, in name order."""
    out: list[Path] = []
    for path in paths:
        if not path.is_dir():
            out.append(path)
            continue
        found = sorted(p for p in path.glob("*.whl") if p.is_file())
        if not found:
            raise UsageError(f"{path}: no *.whl files in this folder")
        out += found
    return out


class _Document(Protocol):
    def to_json(self) -> dict[str, object]: ...


def _emit(
    fmt: str,
    document: _Document,
    render: Callable[[Console], None],
    kind: str | None = None,
    *,
    more: Sequence[_Document] = (),
) -> None:
    """JSON, SARIF, GitHub annotations or GitLab Code Quality on stdout, all made from the
    JSON document; or the
    text rendering on a console (plain when not a terminal)."""
    if fmt == "json":
        click.echo(json.dumps(document.to_json(), indent=2))
    elif fmt in ("sarif", "github", "gitlab") and kind is not None:
        # Through JSON text and back: exactly what a consumer of --format json would read.
        documents = [json.loads(json.dumps(d.to_json())) for d in (document, *more)]
        if fmt == "sarif":
            from wheelfix.cli.sarif import to_sarif

            click.echo(json.dumps(to_sarif(kind, *documents), indent=2))
        elif fmt == "gitlab":
            from wheelfix.cli.codequality import to_code_quality

            click.echo(json.dumps(to_code_quality(kind, *documents), indent=2))
        else:
            from wheelfix.cli.annotations import to_annotations

            click.echo(to_annotations(kind, *documents), nl=False)
    else:
        render(_console())


@contextlib.contextmanager
def _per_wheel_progress(
    what: str, count: int, fmt: str
) -> Iterator[Callable[[object], None] | None]:
    """A transient bar on a terminal (text output, two wheels or more) and the callback
    that advances it per result; ``None`` otherwise."""
    if fmt != "text" or count < 2 or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=_stderr_console(),
        transient=True,
    )
    task = progress.add_task(what, total=count)
    progress.start()
    try:
        yield lambda _result: progress.advance(task)
    finally:
        progress.stop()


class _FileTicker:
    """``N files, SIZE read`` on stderr while a tree is read, for terminals only.

    Refreshed from the reading itself, never from a thread of its own: a second thread
    would make the reader fall back from worker processes to threads (parallel.py). Ticks
    may come from several reading threads at once.
    """

    def __init__(self, progress: Progress, task: TaskID) -> None:
        import threading
        import time

        self._progress, self._task = progress, task
        self._lock = threading.Lock()
        self._clock = time.monotonic
        self._files = self._bytes = 0
        self._shown = 0.0

    @classmethod
    def on_terminal(cls, what: str) -> _FileTicker | None:
        if not sys.stderr.isatty():
            return None
        from rich.progress import Progress, SpinnerColumn, TextColumn

        progress = Progress(
            SpinnerColumn(),
            TextColumn(f"{what}: {{task.fields[files]:,}} files, {{task.fields[size]}} read"),
            console=_stderr_console(),
            auto_refresh=False,
            transient=True,
        )
        task = progress.add_task(what, total=None, files=0, size="0 B")
        progress.start()
        return cls(progress, task)

    def tick(self, size: int) -> None:
        from wheelfix.units import human

        with self._lock:
            self._files += 1
            self._bytes += size
            now = self._clock()
            if now - self._shown >= 0.1:
                self._shown = now
                self._progress.update(
                    self._task,
                    files=self._files,
                    size=human(self._bytes),
                    refresh=True,
                )

    def stop(self) -> None:
        self._progress.stop()


def _guard(ctx: click.Context, run: Callable[[], int]) -> int:
    """Map errors to exit codes: one line on stderr, a traceback only with --debug."""
    debug = bool(ctx.obj and ctx.obj.get("debug"))
    try:
        return run()
    except WheelfixError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"wheelfix: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("wheelfix: interrupted", err=True)
        return 130
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no raw tracebacks
        if debug:
            traceback.print_exc()
        click.echo(
            f"wheelfix: internal error: {type(exc).__name__}: {exc} (rerun as "
            "`wheelfix --debug COMMAND ...` and report it)",
            err=True,
        )
        return EXIT_INTERNAL


def main(argv: Sequence[str] | None = None) -> NoReturn:
    cli.main(args=list(argv) if argv is not None else None, prog_name="wheelfix")
    raise SystemExit(0)  # pragma: no cover - click always exits
