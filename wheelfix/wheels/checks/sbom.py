"""Software bills of materials in a wheel (PEP 770): read them, and find what they miss.

A wheel may carry CycloneDX JSON documents under ``<name>.dist-info/sboms/``; auditwheel
6.8+ writes ``auditwheel.cdx.json`` naming the distribution package each grafted library
came from. The reader is bounded and total: a document over :data:`MAX_SBOM_BYTES`, one
that is not JSON, nests too deep or has the wrong shape is kept as an ``error`` note and
contributes no components; it never raises.

A grafted library (a file in a top-level ``*.libs/`` folder) is *covered* when a component
of some SBOM names it. auditwheel's components carry no file name, only the package, so the
match is by name: the library's original soname (auditwheel renames ``libyaml-0.so.2`` to
``libyaml-0-1a2b3c4d.so.2``) against the component's package name, compared on letters and
digits only: ``libyaml-0`` + ``2`` matches Debian's ``libyaml-0-2``, ``libpq`` + ``5``
matches ``libpq5``; so does the stem without its version (RPM's ``libyaml``) or without
``lib`` (``FreeType`` for ``libfreetype``), and, for names of five characters or more, a
name that starts with the stem (``libopenblas0-pthread``) or that the stem starts with
(``libwebp`` for ``libwebpdemux``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from wheelfix.findings import Check, Finding
from wheelfix.wheels.checks import WheelView

__all__ = [
    "MAX_COMPONENTS",
    "MAX_SBOM_BYTES",
    "SbomComponent",
    "SbomDocument",
    "check_sbom",
    "is_sbom_member",
    "original_soname",
    "parse_sbom",
    "read_sboms",
]

#: A bigger document is not read (auditwheel's are a few hundred bytes per library).
MAX_SBOM_BYTES = 4 << 20
#: Components beyond this many are not listed (the document is still counted).
MAX_COMPONENTS = 10_000
#: Longest string kept from a component field; longer ones make the component invalid.
_MAX_FIELD = 4096

#: auditwheel adds ``-<8 hex digits>`` to the name part; a wheel repaired twice has two
_GRAFTED = re.compile(r"^(?P<base>[^/]+?)(?:-[0-9a-f]{8})+\.(?P<ext>[^/]*)$")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_VERSION_SUFFIX = re.compile(r"[-_.]?[0-9.]+$")
_MIN_PREFIX = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class SbomComponent:
    """One ``components[]`` entry: what the checks and the JSON report use of it."""

    type: str
    name: str
    version: str | None = None
    purl: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"type": self.type, "name": self.name, "version": self.version, "purl": self.purl}


@dataclass(frozen=True, slots=True, kw_only=True)
class SbomDocument:
    """One SBOM file in the wheel; ``error`` says why it was ignored (then no components)."""

    path: str
    spec_version: str | None = None
    tools: tuple[str, ...] = ()
    components: tuple[SbomComponent, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "spec_version": self.spec_version,
            "tools": list(self.tools),
            "components": [c.to_json() for c in self.components],
            "error": self.error,
        }


def is_sbom_member(name: str, dist_info: str) -> bool:
    """``<dist-info>/sboms/*.cdx.json`` (or any ``.json`` there): the files PEP 770 reserves."""
    prefix = f"{dist_info}/sboms/"
    return name.startswith(prefix) and "/" not in name[len(prefix) :] and name.endswith(".json")


def _text(value: object) -> str | None:
    if isinstance(value, str) and len(value) <= _MAX_FIELD:
        return value
    return None


def _component(raw: object) -> SbomComponent | None:
    if not isinstance(raw, dict):
        return None
    name, kind = _text(raw.get("name")), _text(raw.get("type"))
    if not name or kind is None:
        return None
    return SbomComponent(
        type=kind, name=name, version=_text(raw.get("version")), purl=_text(raw.get("purl"))
    )


def _tools(metadata: object) -> tuple[str, ...]:
    """Tool names from ``metadata.tools``: a list (CycloneDX 1.4) or ``{"components": [...]}``."""
    if not isinstance(metadata, dict):
        return ()
    tools = metadata.get("tools")
    if isinstance(tools, dict):
        tools = tools.get("components")
    if not isinstance(tools, list):
        return ()
    names = (_text(t.get("name")) for t in tools[:100] if isinstance(t, dict))
    return tuple(n for n in names if n)


def parse_sbom(path: str, data: bytes) -> SbomDocument:
    """Read one CycloneDX JSON document; anything unusable is an ``error``, never raised."""
    if len(data) > MAX_SBOM_BYTES:
        return SbomDocument(path=path, error=f"larger than {MAX_SBOM_BYTES} bytes: not read")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: deeply nested arrays; ValueError also covers huge integers
        return SbomDocument(path=path, error=f"not JSON: {str(exc)[:200]}")
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        return SbomDocument(
            path=path, error='not a CycloneDX document (no "bomFormat": "CycloneDX")'
        )
    raw = doc.get("components", [])
    if not isinstance(raw, list):
        return SbomDocument(path=path, error='"components" is not a list')
    components = [c for c in map(_component, raw[:MAX_COMPONENTS]) if c is not None]
    return SbomDocument(
        path=path,
        spec_version=_text(doc.get("specVersion")),
        tools=_tools(doc.get("metadata")),
        components=tuple(components),
        error=None
        if len(components) == len(raw)
        else f"{len(raw) - len(components)} "
        "components without a name and type (or over the limit) were ignored",
    )


def read_sboms(view: WheelView) -> tuple[SbomDocument, ...]:
    """Every SBOM document in the wheel, in member order."""
    out = []
    for member in view.members:
        if not is_sbom_member(member.name, view.dist_info):
            continue
        text = view.texts.get(member.name)
        if text is None:
            reason = "not read (not UTF-8, or too large)"
            out.append(SbomDocument(path=member.name, error=reason))
            continue
        out.append(parse_sbom(member.name, text.encode("utf-8")))
    return tuple(out)


def original_soname(filename: str) -> str:
    """The soname a grafted file came from: ``libyaml-0-1a2b3c4d.so.2`` -> ``libyaml-0.so.2``."""
    match = _GRAFTED.match(filename)
    return filename if match is None else f"{match['base']}.{match['ext']}"


def _squash(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def _covered(filename: str, names: frozenset[str]) -> bool:
    soname = original_soname(filename)
    stem, _, rest = soname.partition(".so")
    major = rest.lstrip(".").split(".", 1)[0]
    base = _squash(stem)
    # RPM and apk name the package after the library without its version (``libyaml``);
    # a project's own SBOM names the upstream project (``FreeType`` for libfreetype)
    unversioned = _squash(_VERSION_SUFFIX.sub("", stem))
    wanted = {base + _squash(major), base, unversioned}
    wanted |= {w.removeprefix("lib") for w in wanted}
    return any(
        n in wanted
        # a longer package name (libopenblas0-pthread), or a project that builds several
        # libraries (libwebp: libwebpdemux); short names would match too much (libz, libzstd)
        or (len(base) >= _MIN_PREFIX and n.startswith(base))
        or (len(n) >= _MIN_PREFIX and base.startswith(n))
        for n in names
    )


def grafted_libraries(view: WheelView) -> list[str]:
    """ELF files in a top-level ``*.libs/`` folder: what auditwheel (or a peer) grafted."""
    return [
        path
        for path in sorted(view.elves)
        if path.count("/") == 1 and path.split("/", 1)[0].endswith(".libs")
    ]


def check_sbom(view: WheelView) -> list[Finding]:
    """WF210: a grafted library that no SBOM component names."""
    documents = read_sboms(view)
    names = frozenset(_squash(c.name) for d in documents for c in d.components)
    ignored = [d.path for d in documents if d.error is not None and not d.components]
    note = f"; ignored: {', '.join(ignored)}" if ignored else ""
    where = f"{len(documents)} SBOM document(s)" if documents else "no SBOM in the wheel"
    out = []
    for path in grafted_libraries(view):
        if _covered(path.rsplit("/", 1)[-1], names):
            continue
        soname = original_soname(path.rsplit("/", 1)[-1])
        out.append(
            Finding(
                check=Check.SBOM_UNCOVERED,
                path=path,
                bytes=view.elves[path].file_size,
                message=f"grafted library (from {soname}) that no SBOM component names "
                f"({where}{note})",
            )
        )
    return out
