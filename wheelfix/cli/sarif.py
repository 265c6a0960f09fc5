"""SARIF 2.1.0 from the reports' versioned JSON documents, for code-scanning UIs.

Pure functions: a ``--format json`` document in, a SARIF log out. Nothing here reads the
report objects, so what code scanning sees is exactly what the JSON contract says.

- one rule per check code, in ``Check`` order: name, short and full description and help
  from docs/checks.md (shipped as ``rules.json`` beside this module, see
  :func:`rules_from_checks_md`), a help URI to the code's section, and a default level
  from the code's severity;
- one result per finding, with a physical location (the Dockerfile line; the wheel, the
  image, or the file in site-packages) and, for what lives inside an archive or tree, a
  logical location (``wheel/member``, ``image/path``, ``distribution/path``);
- ``partialFingerprints["wheelfix/v1"]``: a hash of what identifies the finding across
  runs (code, input, member with versions taken out, message with numbers taken out), so a
  code-scanning service tracks it from one run to the next. Line numbers are left out.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from wheelfix import __version__
from wheelfix.findings import Check

__all__ = [
    "CHECKS_URL",
    "DOCS_URL",
    "KINDS",
    "Located",
    "fingerprints",
    "locate",
    "rule_url",
    "rules_from_checks_md",
    "to_sarif",
    "unreadable",
]

#: Where the documentation lives; help URIs point at the sections of checks.md there.
DOCS_URL = "https://github.com/wheelfix/wheelfix/blob/main/docs/"
CHECKS_URL = DOCS_URL + "checks.md"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
#: The commands whose JSON documents carry findings.
KINDS = ("check", "scan", "image", "dockerfile")
FINGERPRINT = "wheelfix/v1"

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_FAMILY = {
    "1": "platform-tags",
    "2": "shared-libraries",
    "3": "debug-info",
    "4": "contents",
    "5": "integrity",
    "6": "installed-environment",
    "7": "container-image",
    "8": "dockerfile",
}
_LINE_RE = re.compile(r"^(?P<file>.*):(?P<line>[1-9]\d{0,8})$")
# ``name-1.2.3.dist-info`` and ``.data`` folders carry the version; a finding in them is
# the same finding in the next release.
_VERSIONED_DIR_RE = re.compile(r"^([^/]+?)-[^-/]+(\.dist-info|\.data)(?=/|$)")


@dataclass(frozen=True, slots=True)
class Located:
    """A finding with where a code-scanning UI or an annotation can put it."""

    finding: Mapping[str, Any]
    #: the file on disk: the wheel, the image, the Dockerfile, the file in site-packages
    file: str
    line: int | None
    #: ``wheel/member``, ``image/path``, ``distribution/path``; ``None`` for a Dockerfile
    logical: str | None
    #: what identifies the finding across runs (see the module docstring)
    identity: str


def rule_url(check: Check) -> str:
    """The help URI of a code: its section of docs/checks.md (GitHub's anchor form)."""
    return f"{CHECKS_URL}#{check.code.lower()}-{check.slug}"


def _sarif_level(severity: str) -> str:
    return _LEVEL.get(severity, "warning")


# --- rule metadata from docs/checks.md --------------------------------------------------


def _subsection(body: str, heading: str) -> str:
    match = re.search(rf"^### {heading}[ \t]*\n(.*?)(?=^### |\Z)", body, re.S | re.M)
    return match.group(1).strip() if match else ""


def _absolute_links(markdown: str) -> str:
    """Relative links of the docs (``concepts.md``, ``#wf201-...``) made absolute."""

    def fix(match: re.Match[str]) -> str:
        target = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            return match.group(0)
        if target.startswith("#"):
            return f"[{match.group(1)}]({CHECKS_URL}{target})"
        return f"[{match.group(1)}]({DOCS_URL}{target})"

    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", fix, markdown)


def _plain(markdown: str) -> str:
    """Markdown as plain text: links become their text, paragraphs one line each."""
    text = re.sub(r"\[([^\]]+)\]\([^)\s]+\)", r"\1", markdown)
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        # keep list items on lines of their own, join wrapped lines
        items: list[str] = []
        for line in lines:
            if line.startswith(("- ", "* ")) or not items:
                items.append(line)
            else:
                items[-1] += " " + line
        paragraphs.append("\n".join(items))
    return "\n\n".join(p for p in paragraphs if p)


def _first_sentence(text: str) -> str:
    """The first sentence that says something (not "Reported by `wheelfix ...`.")."""
    flat = " ".join(text.split("\n\n", maxsplit=1)[0].split())
    sentences = re.split(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+(?=[A-Za-z`(])", flat)
    useful = [s for s in sentences if not s.startswith("Reported by")]
    return (useful or sentences)[0]


def rules_from_checks_md(markdown: str) -> dict[str, dict[str, str]]:
    """The rule texts per code, read from docs/checks.md's ``## WFnnn name`` sections.

    ``short`` is the first informative sentence of *Meaning*, ``full`` all of it, ``help``
    the *Fix* section; the ``*_markdown`` forms keep the formatting with absolute links.
    """
    heads = list(re.finditer(r"^## (WF\d{3}) \S+[ \t]*$", markdown, re.M))
    ends = [m.start() for m in re.finditer(r"^## ", markdown, re.M)] + [len(markdown)]
    out: dict[str, dict[str, str]] = {}
    for head in heads:
        end = next(e for e in ends if e > head.start())
        body = markdown[head.end() : end]
        meaning, fix = _subsection(body, "Meaning"), _subsection(body, "Fix")
        out[head.group(1)] = {
            "short": _first_sentence(_plain(meaning)),
            "full": _plain(meaning),
            "full_markdown": _absolute_links(meaning),
            "help": _plain(fix),
            "help_markdown": _absolute_links(fix),
        }
    return out


@lru_cache(maxsize=1)
def _shipped_rules() -> dict[str, dict[str, str]]:
    text = resources.files("wheelfix.cli").joinpath("rules.json").read_text(encoding="utf-8")
    loaded: dict[str, dict[str, str]] = json.loads(text)
    return loaded


def _rule(check: Check, texts: Mapping[str, str]) -> dict[str, object]:
    title = check.slug.replace("-", " ")
    return {
        "id": check.code,
        "name": check.slug,
        "shortDescription": {"text": texts.get("short") or title},
        "fullDescription": {
            "text": texts.get("full") or title,
            "markdown": texts.get("full_markdown") or title,
        },
        "help": {
            "text": texts.get("help") or check.hint,
            "markdown": texts.get("help_markdown") or check.hint,
        },
        "helpUri": rule_url(check),
        "defaultConfiguration": {"level": _sarif_level(check.severity.label)},
        "properties": {
            "tags": ["wheelfix", _FAMILY.get(check.code[2], "other")],
            "severity": check.severity.label,
        },
    }


# --- locations ----------------------------------------------------------------------------


def _member(path: str) -> str:
    return _VERSIONED_DIR_RE.sub(r"\1\2", path)


def _wheel_project(filename: str) -> str:
    return re.sub(r"[-_.]+", "-", filename.split("-", 1)[0]).lower()


def _numbers_out(message: str) -> str:
    return re.sub(r"\d+(?:\.\d+)*", "#", message)


def _locate_check(document: Mapping[str, Any]) -> Iterator[Located]:
    for result in document.get("results", ()):
        wheel, filename = str(result["path"]), str(result["filename"])
        project = _wheel_project(filename)
        for finding in result.get("findings", ()):
            member = finding.get("path")
            logical = f"{filename}/{member}" if member else filename
            identity = f"check|{project}|{finding['code']}|{_member(member or '')}"
            yield Located(finding, wheel, None, logical, identity)


def _locate_scan(document: Mapping[str, Any]) -> Iterator[Located]:
    root = str(document["root"]).rstrip("/") or "/"
    groups: list[tuple[str | None, Sequence[Mapping[str, Any]]]] = [
        (str(d["name"]), d.get("findings", ())) for d in document.get("distributions", ())
    ]
    groups.append((None, document.get("findings", ())))
    for dist, findings in groups:
        for finding in findings:
            path = finding.get("path")
            file = f"{root}/{path}" if path else root
            logical = "/".join(p for p in (dist, path) if p) or root
            identity = f"scan|{dist or ''}|{finding['code']}|{_member(path or '')}"
            yield Located(finding, file, None, logical, identity)


def _locate_image(document: Mapping[str, Any]) -> Iterator[Located]:
    image, name = str(document["path"]), str(document.get("image") or document["path"])
    for finding in document.get("findings", ()):
        path = finding.get("path")
        logical = f"{name}/{str(path).lstrip('/')}" if path else name
        message = "" if path else _numbers_out(str(finding["message"]))
        yield Located(finding, image, None, logical, f"image|{finding['code']}|{path}|{message}")


def _locate_dockerfile(document: Mapping[str, Any]) -> Iterator[Located]:
    dockerfile = str(document["path"])
    for finding in document.get("findings", ()):
        where = _LINE_RE.match(str(finding.get("path") or ""))
        line = int(where.group("line")) if where else None
        message = _numbers_out(str(finding["message"]))
        identity = f"dockerfile|{dockerfile}|{finding['code']}|{message}"
        yield Located(finding, dockerfile, line, None, identity)


_LOCATORS = {
    "check": _locate_check,
    "scan": _locate_scan,
    "image": _locate_image,
    "dockerfile": _locate_dockerfile,
}


def locate(kind: str, *documents: Mapping[str, Any]) -> list[Located]:
    """Every finding of ``--format json`` documents with its location, in document order."""
    if kind not in _LOCATORS:
        raise ValueError(f"no findings in a {kind!r} document (choose from {', '.join(KINDS)})")
    return [item for document in documents for item in _LOCATORS[kind](document)]


# --- the log --------------------------------------------------------------------------------


def _uri(path: str) -> str:
    """A URI reference for a path as the user gave it: relative paths stay relative (code
    scanning resolves them against the checkout), absolute ones become ``file://``."""
    posix = path.replace("\\", "/")
    if posix.startswith("/"):
        return "file://" + quote(posix)
    return quote(str(PurePosixPath(posix)))


def _result(item: Located, index: int, fingerprint: str) -> dict[str, object]:
    finding = item.finding
    physical: dict[str, object] = {"artifactLocation": {"uri": _uri(item.file)}}
    if item.line is not None:
        physical["region"] = {"startLine": item.line}
    location: dict[str, object] = {"physicalLocation": physical}
    if item.logical is not None:
        location["logicalLocations"] = [
            {
                "name": item.logical.rsplit("/", 1)[-1] or item.logical,
                "fullyQualifiedName": item.logical,
                "kind": "resource",
            }
        ]
    properties: dict[str, object] = {"severity": finding["severity"], "hint": finding["hint"]}
    if finding.get("bytes") is not None:
        properties["bytes"] = finding["bytes"]
    return {
        "ruleId": finding["code"],
        "ruleIndex": index,
        "level": _sarif_level(str(finding["severity"])),
        "message": {"text": str(finding["message"])},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT: fingerprint},
        "properties": properties,
    }


def fingerprints(items: Sequence[Located]) -> list[str]:
    """One hash per finding; repeats of one identity are numbered in document order."""
    seen: dict[str, int] = {}
    out = []
    for item in items:
        seen[item.identity] = seen.get(item.identity, 0) + 1
        key = f"{item.identity}|{seen[item.identity]}"
        out.append(hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32])
    return out


def unreadable(kind: str, *documents: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(path, message)`` of the inputs ``check`` could not read: not findings, but the
    run must say so."""
    if kind != "check":
        return []
    return [
        (str(r["path"]), str(r["error"]["message"]))
        for document in documents
        for r in document.get("results", ())
        if r.get("error")
    ]


def _notification(path: str, message: str) -> dict[str, object]:
    return {
        "level": "error",
        "message": {"text": f"{path}: {message}"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(path)}}}],
    }


def to_sarif(kind: str, document: Mapping[str, Any], *more: Mapping[str, Any]) -> dict[str, object]:
    """A SARIF 2.1.0 log with one run for the ``--format json`` document(s) of ``kind``
    (``dockerfile`` takes several files; their results share the run)."""
    items = locate(kind, document, *more)
    checks = list(Check)
    texts = _shipped_rules()
    index = {check.code: i for i, check in enumerate(checks)}
    results = [
        _result(item, index[str(item.finding["code"])], fingerprint)
        for item, fingerprint in zip(items, fingerprints(items), strict=True)
    ]
    notifications = [_notification(*bad) for bad in unreadable(kind, document, *more)]
    invocation: dict[str, object] = {
        "executionSuccessful": not notifications,
        "exitCode": max(int(d.get("exit_code", 0)) for d in (document, *more)),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "wheelfix",
                        "version": str(document.get("wheelfix_version", __version__)),
                        "semanticVersion": str(document.get("wheelfix_version", __version__)),
                        "informationUri": DOCS_URL,
                        "rules": [_rule(c, texts.get(c.code, {})) for c in checks],
                    }
                },
                "automationDetails": {"id": f"wheelfix/{kind}/"},
                "invocations": [invocation],
                "results": results,
                "properties": {"schema_version": document.get("schema_version")},
            }
        ],
    }
