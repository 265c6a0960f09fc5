"""The envelope every command's report shares: schema and tool versions, exit code, JSON.

Each report (``check``, ``repair``, ``scan``, ``slim``, ``image``, ``dockerfile``) is a
frozen dataclass deriving from :class:`Report`. It says what its document holds
(:meth:`Report.json_body`), which findings it carries (:meth:`Report.all_findings`) and how
its exit code is decided; the envelope around the body is written here, once. The JSON is
a contract: ``schema_version`` changes only when a key changes meaning or disappears, and
every document is validated against its schema in ``docs/schema/`` by the tests.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator

from wheelfix import __version__
from wheelfix.findings import Finding, Severity, gate_exit_code

__all__ = ["SCHEMA_VERSION", "FindingsReport", "Report", "findings_json", "gate_label"]

SCHEMA_VERSION = 1


class Report(abc.ABC):
    """Base of the six reports. Subclasses are frozen dataclasses with ``slots=True``."""

    __slots__ = ()

    @property
    @abc.abstractmethod
    def exit_code(self) -> int:
        """The command's exit code for this report (docs/cli.md)."""

    @abc.abstractmethod
    def json_body(self) -> dict[str, object]:
        """The report's own keys, in the order the document shows them."""

    @abc.abstractmethod
    def all_findings(self) -> Iterator[Finding]:
        """Every finding the report carries, wherever it sits in the document."""

    def to_json(self) -> dict[str, object]:
        """The versioned JSON document: the envelope around :meth:`json_body`."""
        return {
            "schema_version": SCHEMA_VERSION,
            "wheelfix_version": __version__,
            **self.json_body(),
            "exit_code": self.exit_code,
        }

    def gate(self, fail_on: Severity | None) -> int:
        """1 when a finding is at or above ``fail_on``, else 0 (``None``: never)."""
        return gate_exit_code(self.all_findings(), fail_on)


class FindingsReport(Report):
    """A report whose findings are one flat tuple, gated by its own ``fail_on``."""

    __slots__ = ()

    findings: tuple[Finding, ...]
    fail_on: Severity | None

    @property
    def exit_code(self) -> int:
        return self.gate(self.fail_on)

    def all_findings(self) -> Iterator[Finding]:
        return iter(self.findings)


def findings_json(findings: Iterable[Finding]) -> list[dict[str, object]]:
    return [f.to_json() for f in findings]


def gate_label(fail_on: Severity | None) -> str:
    return fail_on.label if fail_on is not None else "never"
