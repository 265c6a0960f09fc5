"""Rendering reports: text for people (rich; plain when not a terminal) and JSON for machines."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from wheelfix.findings import Finding, Severity
from wheelfix.units import human, percent
from wheelfix.wheels.results import CheckReport, WheelResult

if TYPE_CHECKING:
    from rich.console import Console

    from wheelfix.containers.dockerfile import DockerfileReport
    from wheelfix.containers.image import ImageReport
    from wheelfix.installed.scan import EnvReport
    from wheelfix.installed.slim import SlimResult
    from wheelfix.wheels.repair import RepairReport

__all__ = [
    "render_dockerfile",
    "render_image",
    "render_repair",
    "render_scan",
    "render_slim",
    "render_text",
]

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_MARK = {"ok": "[green]✓[/]", "findings": "[yellow]![/]", "error": "[bold red]✗[/]"}


def _counts(result: WheelResult) -> str:
    parts = []
    for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        n = sum(1 for f in result.findings if f.level is severity)
        if n:
            label = severity.label + ("s" if n > 1 and severity is not Severity.INFO else "")
            parts.append(f"[{_STYLE[severity]}]{n} {label}[/]")
    return ", ".join(parts) if parts else "[green]no findings[/]"


def _summary(result: WheelResult) -> str:
    from rich.markup import escape

    name = escape(result.filename)
    if result.error is not None:
        # The error already starts with the path: name the file once, as given.
        where, sep, reason = result.error.partition(": ")
        if not sep or where != result.path:
            where, reason = result.filename, result.error
        return f"{_MARK['error']} {escape(where)}: [bold red]cannot be read[/] — {escape(reason)}"
    sizes = result.sizes
    bits = [human(sizes.compressed)]
    tags = result.tags
    satisfied = None if tags is None else tags.consistent or tags.native_consistent
    if tags is not None and satisfied is not None:
        claimed = ".".join(tags.claimed)
        tag_text = f"claims {claimed}, satisfies {satisfied}"
        if tags.repairable and tags.repairable != tags.consistent:
            tag_text += f", repairable to {tags.repairable}"
        bits.append(tag_text)
    elif tags is not None:
        bits.append("no binaries")
    if sizes.debug_info or sizes.symbol_table:
        bits.append(
            f"debug {human(sizes.debug_info)} + symtab {human(sizes.symbol_table)} "
            f"({percent(sizes.debug_info + sizes.symbol_table, sizes.elf)} of ELF)"
        )
    return f"{_MARK[result.status]} {name} ({escape('; '.join(bits))}): {_counts(result)}"


def _is_terminal(console: Console) -> bool:
    """Whether the console writes to a terminal (``--color always`` does not make a pipe one)."""
    return bool(getattr(console.file, "isatty", lambda: False)())


_ELF_COLUMNS = ("ELF file", "arch", "libc", "size", "debug", "symtab", "needs")


def _print_elf_files(console: Console, result: WheelResult) -> None:
    """A table on a terminal; elsewhere one plain line per file, never wrapped or padded,
    so logs and ``grep`` read them as they are."""
    from rich.markup import escape

    rows = [
        (
            elf.path,
            elf.arch or "?",
            elf.libc or "-",
            human(elf.size),
            human(elf.debug_info),
            human(elf.symbol_table),
            ", ".join(elf.needed) or "-",
        )
        for elf in result.elf_files
    ]
    if not _is_terminal(console):
        for path, arch, libc, size, debug, symtab, needs in rows:
            console.print(
                f"  ELF {escape(path)}: arch {arch}, libc {libc}, size {size}, debug {debug}, "
                f"symtab {symtab}, needs {escape(needs)}",
                soft_wrap=True,
            )
        return
    from rich.table import Table

    table = Table(title=None, box=None, pad_edge=False, show_edge=False)
    for col in _ELF_COLUMNS:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


def render_text(
    report: CheckReport, console: Console, *, verbose: int = 0, quiet: bool = False
) -> None:
    """One summary line per wheel, its findings, the verdict; ``quiet``: only the wheels
    with findings or errors, and the verdict."""
    from rich.markup import escape  # rich is imported only when text is rendered

    for result in report.results:
        if quiet and result.status == "ok":
            continue
        console.print(_summary(result))
        if result.error is not None:
            continue
        _print_findings(console, result.findings, verbose=verbose)
        if verbose and result.elf_files:
            _print_elf_files(console, result)
            savings = result.strip_savings
            if savings.get("all"):
                console.print(
                    "  strip would recover: "
                    + ", ".join(f"{level} {human(n)}" for level, n in savings.items())
                )
        if verbose and result.external_library_paths:
            for soname, location in result.external_library_paths.items():
                needers = ", ".join(result.external_libraries.get(soname, ()))
                console.print(
                    f"  external {escape(soname)} -> {escape(location or 'not found')} "
                    f"(needed by {escape(needers)})"
                )
    total = len(report.results)
    failing = report.exit_code
    verdict = {0: "[green]passed[/]", 1: "[red]failed[/]", 2: "[red]failed (unreadable input)[/]"}
    gate = report.fail_on.label if report.fail_on is not None else "never"
    console.print(
        f"{total} wheel{'s' if total != 1 else ''} checked; gate --fail-on {gate}: "
        f"{verdict.get(failing, str(failing))}"
    )


def render_repair(report: RepairReport, console: Console, *, quiet: bool = False) -> None:
    from rich.markup import escape

    for r in report.results:
        name = escape(r.input.rsplit("/", 1)[-1])
        if r.error is not None:
            console.print(f"{_MARK['error']} {name}: [bold red]not repaired[/] — {escape(r.error)}")
            continue
        if quiet:
            continue
        saved = r.size_in - r.size_out
        parts = [
            f"{human(r.size_in)} -> {human(r.size_out)}"
            + (f" ({percent(saved, r.size_in)} smaller)" if saved > 0 else ""),
            f"tag {'.'.join(r.tag_in)} -> {'.'.join(r.tag_out)}",
        ]
        if r.grafted:
            libs = ", ".join(f"{k} ({human(v)})" for k, v in sorted(r.grafted.items()))
            parts.append(f"grafted {libs}")
        if r.stripped:
            parts.append(
                f"stripped {human(sum(r.stripped.values()))} from {len(r.stripped)} file"
                + ("s" if len(r.stripped) != 1 else "")
            )
        if r.pruned:
            parts.append(f"pruned {len(r.pruned)} files ({human(sum(r.pruned.values()))})")
        if r.proof is not None:
            parts.append(f"imports in {r.proof.root} (python {r.proof.python})")
        console.print(f"{_MARK['ok']} {name} -> {escape(str(r.output))}")
        console.print(f"  {escape('; '.join(parts))}")
        for rel, reason in sorted(r.strip_skipped.items()):
            console.print(f"  [yellow]not stripped[/] {escape(rel)}: {escape(reason)}")
        for rel, reason in sorted(r.kept.items()):
            console.print(f"  [yellow]not pruned[/] {escape(rel)}: {escape(reason)}")
    failed = sum(1 for r in report.results if r.error is not None)
    total = len(report.results)
    console.print(f"{total - failed} of {total} wheel{'s' if total != 1 else ''} repaired")


def render_scan(
    report: EnvReport, console: Console, *, verbose: int = 0, top: int = 25, quiet: bool = False
) -> None:
    from rich.markup import escape
    from rich.table import Table

    if quiet:
        _print_scan_findings(console, report, verbose=verbose)
        console.print(f"total {human(report.total)} in {escape(report.root)}")
        return

    table = Table(box=None, pad_edge=False, show_edge=False)
    for col in (
        "distribution",
        "version",
        "files",
        "size",
        "ELF",
        "debug+symtab",
        "tests",
        "findings",
    ):
        table.add_column(col, justify="left" if col in ("distribution", "version") else "right")
    shown = report.distributions if verbose else report.distributions[:top]
    for d in shown:
        worst = max((f.level for f in d.findings), default=None)
        mark = "" if worst is None else f"[{_STYLE[worst]}]{len(d.findings)}[/]"
        table.add_row(
            escape(d.name),
            escape(d.version),
            str(d.files),
            human(d.total),
            human(d.elf),
            human(d.debug_info + d.symbol_table),
            human(d.categories.get("tests", 0)),
            mark,
        )
    console.print(table)
    if len(report.distributions) > len(shown):
        console.print(f"  … and {len(report.distributions) - len(shown)} more (-v for all)")
    owned = sum(1 for d in report.distributions if d.dist_info is not None)
    unowned = " and files no RECORD lists" if len(report.distributions) > owned else ""
    console.print(
        f"total {human(report.total)} in {owned} distribution{'s' if owned != 1 else ''}{unowned}"
    )
    if not owned:
        from wheelfix.installed.tree import NO_DISTRIBUTIONS

        console.print(f"[yellow]note:[/] {escape(NO_DISTRIBUTIONS)}")
    savings = ", ".join(f"{k} {human(v)}" for k, v in report.savings.items() if v)
    console.print(f"slim could save: {savings or 'nothing'}")
    _print_scan_findings(console, report, verbose=verbose)


def _print_scan_findings(console: Console, report: EnvReport, *, verbose: int) -> None:
    minimum = Severity.INFO if verbose else Severity.WARNING
    findings = [f for d in report.distributions for f in d.findings] + list(report.findings)
    shown_findings = [f for f in findings if f.level >= minimum]
    _print_findings(console, sorted(shown_findings, key=lambda f: (-f.level, f.code)), verbose=0)


def render_slim(result: SlimResult, console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    if result.recovered:
        console.print(f"[yellow]{escape(result.recovered)}[/]")
    if result.pending:
        console.print(f"[yellow]{escape(result.pending)}[/]")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    for path, why in result.refused.items():
        console.print(f"[red]refused[/] {escape(path)}: {escape(why)} (left as it was)")
    table = Table(box=None, pad_edge=False, show_edge=False)
    for col in ("category", "files", "bytes"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for category, (files, size) in result.by_category.items():
        table.add_row(category, str(files), human(size))
    console.print(table)
    saved = result.before - result.after
    if result.applied and not result.plan and not result.restored:
        console.print(f"{escape(result.root)}: nothing to slim ({human(result.before)})")
        for dist in result.skipped:
            console.print(f"  [yellow]left alone[/] {escape(dist)}: no RECORD")
        return
    verb = "slimmed" if result.applied else "would slim"
    console.print(
        f"{escape(result.root)}: {verb} {human(result.before)} -> {human(result.after)} "
        f"({percent(saved, result.before)} smaller)"
    )
    for path, why in result.kept.items():
        console.print(f"  [yellow]kept[/] {escape(path)}: {escape(why)}")
    for dist, why in result.restored.items():
        console.print(
            f"  [red]restored[/] {escape(dist)}: stopped importing after slim ({escape(why)})"
        )
    for dist in result.skipped:
        console.print(f"  [yellow]left alone[/] {escape(dist)}: no RECORD")
    if not result.applied:
        console.print("dry run: nothing changed (use --apply)")


def _print_findings(console: Console, findings: Iterable[Finding], *, verbose: int) -> None:
    from rich.markup import escape

    for f in findings:
        where = f"{escape(f.path)}: " if f.path else ""
        console.print(
            f"  [{_STYLE[f.level]}]{f.level.label:<7}[/] [bold]{f.code}[/] {f.name}  "
            f"{where}{escape(f.message)}"
        )
        if verbose:
            console.print(f"          [dim]hint: {escape(f.hint)}[/]")


def render_image(
    report: ImageReport, console: Console, *, verbose: int = 0, quiet: bool = False
) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(
        f"[bold]{escape(report.name)}[/] ({escape(report.path)}): {human(report.final)} in "
        f"{len(report.layers)} layers, libc {report.libc or 'unknown'}; "
        f"wasted {human(report.wasted)}, efficiency {report.efficiency:.1%}; "
        f"base {human(report.base_bytes)}, application {human(report.app_bytes)}"
    )
    if quiet:
        _print_findings(console, report.findings, verbose=verbose)
        return
    table = Table(box=None, pad_edge=False, show_edge=False)
    for col in ("#", "size", "compressed", "+", "~", "-", "instruction"):
        table.add_column(col, justify="left" if col == "instruction" else "right", overflow="fold")
    for layer in report.layers:
        table.add_row(
            f"{layer.index}{' (base)' if layer.base else ''}",
            human(layer.uncompressed),
            human(layer.compressed),
            str(layer.added),
            str(layer.changed),
            str(layer.removed),
            escape(layer.instruction),
        )
    console.print(table)
    if verbose:
        for layer in report.layers:
            for path, size in layer.biggest:
                console.print(f"  layer {layer.index}: {human(size):>10}  /{escape(path)}")
    if report.environments:
        console.print("Python environments: " + ", ".join(escape(e) for e in report.environments))
    _print_findings(console, report.findings, verbose=verbose)


def render_dockerfile(
    report: DockerfileReport, console: Console, *, verbose: int = 0, quiet: bool = False
) -> None:
    """The summary line and the findings (``quiet`` changes nothing: that is all there is)."""
    from rich.markup import escape

    del quiet

    count = len(report.findings)
    console.print(
        f"{escape(report.path)}: {report.stages} stage{'s' if report.stages != 1 else ''}, "
        f"{count} finding{'s' if count != 1 else ''}"
    )
    _print_findings(console, report.findings, verbose=verbose)
