"""GitHub Actions annotations (workflow commands) from the reports' JSON documents.

One line per finding, ``::error file=F,line=N,title=T::MESSAGE``, which GitHub shows on
the pull request and in the job summary without any upload step. Info findings become
``::notice``. The locations are the ones SARIF uses (:func:`wheelfix.cli.sarif.locate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wheelfix.cli.sarif import locate, unreadable

__all__ = ["to_annotations"]

_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(text: str) -> str:
    """The message part: ``%``, CR and LF are encoded, as the runner decodes them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A ``key=value`` property: also ``:`` and ``,``, which end a value."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_annotations(kind: str, document: Mapping[str, Any], *more: Mapping[str, Any]) -> str:
    """The workflow commands for every finding of ``--format json`` document(s), one per
    line, then a plain summary line."""
    lines = []
    counts = {"error": 0, "warning": 0, "info": 0}
    for item in locate(kind, document, *more):
        finding = item.finding
        properties = [f"file={_escape_property(item.file)}"]
        if item.line is not None:
            properties.append(f"line={item.line}")
        title = f"{finding['code']} {finding['name']}"
        properties.append(f"title={_escape_property(title)}")
        where = f"{item.logical}: " if item.logical else ""
        message = f"{where}{finding['message']} (hint: {finding['hint']})"
        severity = str(finding["severity"])
        counts[severity] = counts.get(severity, 0) + 1
        command = _COMMAND.get(severity, "warning")
        lines.append(f"::{command} {','.join(properties)}::{_escape_data(message)}")
    bad = unreadable(kind, document, *more)
    for path, reason in bad:
        text = f"{path}: {reason}"
        lines.append(f"::error file={_escape_property(path)}::{_escape_data(text)}")
    summary = ", ".join(
        f"{n} {severity}{'s' if n != 1 and severity != 'info' else ''}"
        for severity, n in counts.items()
    )
    unread = f", {len(bad)} unreadable" if bad else ""
    lines.append(f"wheelfix {kind}: {summary}{unread}")
    return "".join(line + "\n" for line in lines)
