"""Options several commands share, written once, and the run's settings built from them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from wheelfix.config import Config, load_config

__all__ = ["gate_options", "output_format", "settings"]

F = TypeVar("F", bound=Callable[..., object])

_SEVERITIES = ("error", "warning", "info", "never")


def output_format(schema: str) -> Callable[[F], F]:
    """``--format text|json``; JSON follows ``docs/schema/<schema>.schema.json``."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=f"Output format. JSON follows docs/schema/{schema}.schema.json.",
    )


def gate_options(func: F) -> F:
    """``--fail-on``, ``--select``, ``--ignore`` and ``--no-config``: a report's gate.

    None has a default here: a value not given on the command line comes from
    ``[tool.wheelfix]`` (see :func:`settings`), and then from the library's default.
    """
    decorators = (
        click.option(
            "--fail-on",
            type=click.Choice(_SEVERITIES),
            help="Lowest severity that makes the exit code 1.  [default: error]",
        ),
        click.option(
            "--select",
            multiple=True,
            metavar="CODES",
            help="Only run and report these codes, prefixes or names "
            "(comma-separated, repeatable), e.g. WF2,WF301.",
        ),
        click.option(
            "--ignore",
            multiple=True,
            metavar="CODES",
            help="Do not run or report these codes, prefixes or names, e.g. WF4 or WF302.",
        ),
        click.option("--no-config", is_flag=True, help="Ignore [tool.wheelfix] in pyproject.toml."),
    )
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def settings(no_config: bool, **given: object) -> Config:
    """The file's settings (unless ``--no-config``) with the command line's on top.

    ``select``/``ignore`` entries are split on commas, and the result is validated (an
    unknown code is a usage error) before the command does any work."""
    base = Config() if no_config else load_config()
    for key in ("select", "ignore"):
        values = given.get(key)
        if isinstance(values, tuple):
            given[key] = tuple(
                part.strip() for value in values for part in value.split(",") if part.strip()
            )
    config = base.update(**given)
    config.selection()
    return config
