"""The exceptions wheelfix raises: one root, a few subclasses that carry fields.

Every error that leaves the library is a :class:`WheelfixError`. The CLI maps each
subclass to an exit code (see ``docs/cli.md``): bad input is 2, a missing or failing
external tool is 3.
"""

from __future__ import annotations


class WheelfixError(Exception):
    """Root of every error wheelfix raises on purpose."""

    exit_code = 2


class UsageError(WheelfixError):
    """Options or configuration that cannot be honoured (exit code 2)."""


class InvalidWheelError(WheelfixError):
    """An input that cannot be read as a wheel (exit code 2).

    ``member`` names the archive member at fault, when there is one.
    """

    def __init__(self, path: str, reason: str, *, member: str | None = None) -> None:
        self.path = path
        self.reason = reason
        self.member = member
        where = f"{path}: {member}" if member is not None else path
        super().__init__(f"{where}: {reason}")


class ToolError(WheelfixError):
    """A required external program is missing, too old or failed (exit code 3)."""

    exit_code = 3

    def __init__(self, tool: str, reason: str, *, stderr: str = "") -> None:
        self.tool = tool
        self.reason = reason
        self.stderr = stderr
        tail = f"\n{stderr.strip()}" if stderr.strip() else ""
        super().__init__(f"{tool}: {reason}{tail}")
