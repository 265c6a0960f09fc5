"""Options several commands share, written once, and the run's settings built from them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:  # imported when settings are built: repair never needs them
    from wheelfix.config import Config

__all__ = ["Gate", "gate_options", "output_format", "quiet_option", "settings"]

F = TypeVar("F", bound=Callable[..., object])

_SEVERITIES = ("error", "warning", "info", "never")


def output_format(help_text: str) -> Callable[[F], F]:
    """``--format`` of the commands that report findings: text, json, sarif, github, gitlab."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "sarif", "github", "gitlab"]),
        default="text",
        show_default=True,
        help=help_text + " sarif: SARIF 2.1.0 for code scanning; github: GitHub Actions "
        "annotations; gitlab: a GitLab Code Quality report.",
    )


quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="Text output: only problems and the summary."
)


@dataclass(frozen=True, slots=True)
class Gate:
    """What ``--fail-on``, ``--select``, ``--ignore`` and ``--no-config`` were given."""

    fail_on: str | None
    select: tuple[str, ...]
    ignore: tuple[str, ...]
    no_config: bool

    def settings(self, **given: object) -> Config:
        """The run's settings: the file's, then these options, then ``given``."""
        return settings(
            self.no_config,
            fail_on=self.fail_on,
            select=self.select,
            ignore=self.ignore,
            **given,
        )


def gate_options(func: Callable[..., object]) -> Callable[..., object]:
    """``--fail-on``, ``--select``, ``--ignore`` and ``--no-config``, handed to the command
    as one ``gate: Gate`` argument.

    None has a default here: a value not given on the command line comes from
    ``[tool.wheelfix]`` (see :func:`settings`), and then from the library's default.
    """

    @functools.wraps(func)
    def command(
        *args: object,
        fail_on: str | None,
        select: tuple[str, ...],
        ignore: tuple[str, ...],
        no_config: bool,
        **kwargs: object,
    ) -> object:
        return func(*args, gate=Gate(fail_on, select, ignore, no_config), **kwargs)

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
    wrapped: Callable[..., object] = command
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return wrapped


def settings(no_config: bool, **given: object) -> Config:
    """The file's settings (unless ``--no-config``) with the command line's on top.

    ``select``/``ignore`` entries are split on commas, and the result is validated (an
    unknown code is a usage error) before the command does any work."""
    from wheelfix.config import Config, load_config  # noqa: PLC0415 - see the imports

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
