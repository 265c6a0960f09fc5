"""GitLab Code Quality reports from the reports' JSON documents.

GitLab shows a ``codequality`` report artifact (a JSON array in the Code Climate issue
format) in the merge request widget and its diff. Each finding becomes one issue with the
same location and fingerprint as in SARIF (:mod:`wheelfix.cli.sarif`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wheelfix.cli.sarif import fingerprints, locate

__all__ = ["to_code_quality"]

#: Code Quality severities are info, minor, major, critical, blocker.
_SEVERITY = {"error": "critical", "warning": "minor", "info": "info"}


def to_code_quality(
    kind: str, document: Mapping[str, Any], *more: Mapping[str, Any]
) -> list[dict[str, object]]:
    """One Code Quality issue per finding of ``--format json`` document(s).

    GitLab needs a line for every issue; a finding about a wheel, an image or a file in
    site-packages is put on line 1 of that file."""
    items = locate(kind, document, *more)
    out: list[dict[str, object]] = []
    for item, fingerprint in zip(items, fingerprints(items), strict=True):
        finding = item.finding
        where = f"{item.logical}: " if item.logical else ""
        out.append(
            {
                "type": "issue",
                "check_name": f"{finding['code']} {finding['name']}",
                "description": f"{finding['code']} {where}{finding['message']}",
                "content": {"body": str(finding["hint"])},
                "categories": ["Performance" if finding["code"][2] in "3478" else "Compatibility"],
                "severity": _SEVERITY.get(str(finding["severity"]), "minor"),
                "fingerprint": fingerprint,
                "location": {"path": item.file, "lines": {"begin": item.line or 1}},
            }
        )
    return out
