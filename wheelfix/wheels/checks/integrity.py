"""Integrity: RECORD against the archive (the archive is the truth), WHEEL and METADATA."""

from __future__ import annotations

import csv
import io
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from packaging.tags import parse_tag
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelfix.findings import Check, Finding
from wheelfix.formats.bounded import MalformedInputError, excerpt, parse_decimal
from wheelfix.formats.headers import parse_headers
from wheelfix.formats.wheelfile import SUPPORTED_WHEEL_MAJOR, TEXT_LIMIT, wheel_version
from wheelfix.wheels.checks import WheelView

__all__ = ["WheelMetadata", "check_metadata", "check_record"]

#: Hashes the wheel spec allows besides sha256 (md5 and sha1 are refused).
STRONG_ALGORITHMS = ("sha384", "sha512")
#: Characters of headers read from WHEEL and METADATA (real ones: a few kilobytes).
HEADER_LIMIT = 1 << 20
_BLANK_LINE = re.compile(r"\n\r?\n")
#: Tags one compressed ``Tag`` line may expand to (real wheels need a few dozen).
MAX_TAGS_PER_LINE = 4096
_DATA_SCHEMES = frozenset({"purelib", "platlib", "headers", "scripts", "data"})


@dataclass(frozen=True, slots=True)
class WheelMetadata:
    root_is_purelib: bool
    tags: tuple[str, ...]


def check_record(view: WheelView) -> list[Finding]:
    record_name = f"{view.dist_info}/RECORD"
    text = view.texts.get(record_name)
    sizes = {m.name: m.size for m in view.members}
    if text is None:
        return [
            Finding(
                check=Check.RECORD_MISSING,
                path=record_name,
                message=f"RECORD {_why_unread(record_name, sizes)}",
            )
        ]
    out: list[Finding] = []
    listed: set[str] = set()
    for lineno, row in _rows(text, out, record_name):
        if len(row) != 3:
            out.append(
                Finding(
                    check=Check.RECORD_MALFORMED,
                    path=record_name,
                    message=f"line {lineno}: {len(row)} columns, expected 3",
                )
            )
            continue
        path, hash_field, size_field = row
        norm = posixpath.normpath(path) if path else path
        if _unsafe(path, norm):
            out.append(
                Finding(
                    check=Check.RECORD_UNSAFE_PATH,
                    path=record_name,
                    message=f"line {lineno}: unsafe path {excerpt(path)}",
                )
            )
            continue
        if norm in listed:
            out.append(
                Finding(
                    check=Check.RECORD_DUPLICATE,
                    path=norm,
                    message=f"line {lineno}: {excerpt(norm, 200)} is listed more than once",
                )
            )
            continue
        listed.add(norm)
        if norm not in sizes:
            out.append(
                Finding(
                    check=Check.MISSING_FILE,
                    path=norm,
                    message=f"RECORD lists {excerpt(norm, 200)}, which is not in the archive",
                )
            )
            continue
        if norm == record_name or norm.endswith((".dist-info/RECORD.jws", ".dist-info/RECORD.p7s")):
            continue
        digest = view.digests[norm]
        algo = hash_field.partition("=")[0]
        if algo in STRONG_ALGORITHMS:
            digest = view.other_digests.get(norm, (algo, ""))[1]
        out += _check_row(norm, hash_field, size_field, sizes[norm], digest, lineno)
    return out + _unlisted(view.dist_info, sizes, listed)


def _unsafe(path: str, norm: str) -> bool:
    """A RECORD path that is empty, absolute, climbs out, names a drive or holds a backslash."""
    return (
        not path
        or path.startswith("/")
        or norm == ".."
        or norm.startswith("../")
        or (len(path) > 1 and path[1] == ":")
        or "\\" in path
    )


def _unlisted(dist_info: str, sizes: Mapping[str, int], listed: set[str]) -> list[Finding]:
    """Members RECORD does not list (RECORD itself and its signatures need not be)."""
    exempt = {f"{dist_info}/RECORD", f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
    return [
        Finding(
            check=Check.UNLISTED_FILE,
            path=name,
            bytes=sizes[name],
            message=f"{name} is in the archive but not in RECORD",
        )
        for name in sorted(set(sizes) - listed - exempt)
    ]


def _why_unread(name: str, sizes: dict[str, int]) -> str:
    """Why a dist-info text is not in the view: absent, too big to read as text, or not UTF-8."""
    if name not in sizes:
        return "is missing"
    if sizes[name] > TEXT_LIMIT:
        return f"is {sizes[name]} bytes, above the limit of {TEXT_LIMIT} for a text file"
    return "is not UTF-8 text"


def record_algorithms(text: str | None) -> dict[str, str]:
    """Paths whose RECORD row uses a hash stronger than sha256 (the reader computes it too)."""
    out: dict[str, str] = {}
    if text is None:
        return out
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            if len(row) == 3:
                algo = row[1].partition("=")[0]
                if algo in STRONG_ALGORITHMS:
                    out[posixpath.normpath(row[0])] = algo
    except csv.Error:
        pass  # reported by check_record
    return out


def _rows(text: str, out: list[Finding], record_name: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if not row:
                continue
            yield reader.line_num, row
    except csv.Error as exc:
        out.append(
            Finding(
                check=Check.RECORD_MALFORMED,
                path=record_name,
                message=f"line {reader.line_num}: not valid CSV ({exc})",
            )
        )


def _check_row(
    path: str, hash_field: str, size_field: str, size: int, digest: str, lineno: int
) -> list[Finding]:
    out = []
    algo, sep, value = hash_field.partition("=")
    if not sep or not value:
        out.append(
            Finding(
                check=Check.RECORD_MALFORMED,
                path=path,
                message=f"line {lineno}: no hash for {path}",
            )
        )
    elif algo in ("md5", "sha1"):
        out.append(
            Finding(
                check=Check.WEAK_HASH,
                path=path,
                message=f"line {lineno}: {algo} hash is not allowed",
            )
        )
    elif algo != "sha256" and algo not in STRONG_ALGORITHMS:
        out.append(
            Finding(
                check=Check.RECORD_MALFORMED,
                path=path,
                message=f"line {lineno}: hash algorithm {excerpt(algo)} not checked",
            )
        )
    elif value.rstrip("=") != digest:
        out.append(
            Finding(
                check=Check.RECORD_HASH_MISMATCH,
                path=path,
                bytes=size,
                message=f"{algo} of {path} differs from RECORD",
            )
        )
    try:
        declared = parse_decimal(size_field, f"line {lineno}: size")
    except MalformedInputError as exc:
        out.append(Finding(check=Check.RECORD_MALFORMED, path=path, message=str(exc)))
        return out
    if declared != size:
        out.append(
            Finding(
                check=Check.RECORD_SIZE_MISMATCH,
                path=path,
                bytes=size,
                message=f"{path} is {size} bytes, RECORD says {declared}",
            )
        )
    return out


def check_metadata(view: WheelView) -> tuple[WheelMetadata, list[Finding]]:
    """WHEEL, METADATA, entry points and ``.data`` layout."""
    out: list[Finding] = []
    wheel_name = f"{view.dist_info}/WHEEL"
    text = view.texts.get(wheel_name)
    root_is_purelib = False
    tags: tuple[str, ...] = ()
    if text is None:
        sizes = {m.name: m.size for m in view.members}
        why = _why_unread(wheel_name, sizes)
        out.append(Finding(check=Check.WHEEL_METADATA, path=wheel_name, message=f"WHEEL {why}"))
    elif (block := _header_block(text)) is None:
        out.append(_headers_too_big(Check.WHEEL_METADATA, wheel_name))
    else:
        headers = parse_headers(block)
        out += _check_wheel_version(block, headers.get("Wheel-Version").strip(), wheel_name)
        purelib = headers.get("Root-Is-Purelib").strip().lower()
        if purelib not in ("true", "false"):
            out.append(
                Finding(
                    check=Check.WHEEL_METADATA,
                    path=wheel_name,
                    message=f"Root-Is-Purelib is {excerpt(purelib) if purelib else 'missing'}",
                )
            )
        root_is_purelib = purelib == "true"
        tag_lines = tuple(t.strip() for t in headers.get_all("Tag"))
        tags = tag_lines
        expanded: set[str] = set()
        for t in tag_lines:
            expanded |= _expand_tag(t, wheel_name, out)
        from_name = {str(t) for t in view.name.tags}
        if not tag_lines:
            out.append(
                Finding(
                    check=Check.WHEEL_METADATA, path=wheel_name, message="WHEEL has no Tag lines"
                )
            )
        elif expanded != from_name:
            extra = sorted(expanded - from_name)
            missing = sorted(from_name - expanded)
            detail = "; ".join(
                part
                for part in (
                    f"only in WHEEL: {', '.join(extra)}" if extra else "",
                    f"only in the filename: {', '.join(missing)}" if missing else "",
                )
                if part
            )
            out.append(
                Finding(
                    check=Check.TAG_MISMATCH,
                    path=wheel_name,
                    message=f"WHEEL Tag lines disagree with the filename ({detail})",
                )
            )
    out += _check_metadata_file(view)
    out += _check_entry_points(view)
    out += _check_data_dirs(view)
    return WheelMetadata(root_is_purelib, tags), out


def _header_block(text: str) -> str | None:
    """The header lines of an email-style file (up to the first blank line), or ``None``
    when they exceed ``HEADER_LIMIT``: the email parser takes seconds per 10 MiB of headers,
    and the body after the blank line (a long description) is never needed."""
    end = _BLANK_LINE.search(text)
    block = text if end is None else text[: end.start() + 1]
    return block if len(block) <= HEADER_LIMIT else None


def _headers_too_big(check: Check, path: str) -> Finding:
    name = posixpath.basename(path)
    message = f"{name} headers are longer than {HEADER_LIMIT} characters: not read"
    return Finding(check=check, path=path, message=message)


def _expand_tag(tag: str, wheel_name: str, out: list[Finding]) -> set[str]:
    """The tags one ``Tag`` line stands for; a compressed set that would expand to more than
    ``MAX_TAGS_PER_LINE`` is reported instead of expanded (1.5 KB could ask for a million)."""
    parts = tag.split("-")
    count = 1
    for part in parts:
        count *= len(part.split("."))
    if len(parts) == 3 and count > MAX_TAGS_PER_LINE:
        out.append(
            Finding(
                check=Check.WHEEL_METADATA,
                path=wheel_name,
                message=f"Tag {excerpt(tag)} expands to {count} tags "
                f"(more than {MAX_TAGS_PER_LINE}): not expanded",
            )
        )
        return {tag}
    try:
        return {str(x) for x in parse_tag(tag)}
    except ValueError:
        return {tag}


def _check_wheel_version(text: str, raw: str, wheel_name: str) -> list[Finding]:
    version = wheel_version(text)
    if version is None:
        message = f"Wheel-Version {excerpt(raw)} is not MAJOR.MINOR (at most 6 digits each)"
        return [Finding(check=Check.WHEEL_METADATA, path=wheel_name, message=message)]
    major, minor = version
    if major > SUPPORTED_WHEEL_MAJOR:
        # WheelArchive refuses these before any check runs; a view built another way
        # still must not pass.
        message = f"Wheel-Version {major}.{minor} is not supported"
        return [Finding(check=Check.WHEEL_METADATA, path=wheel_name, message=message)]
    if major == SUPPORTED_WHEEL_MAJOR and minor > 0:
        message = f"Wheel-Version {major}.{minor} is newer than {SUPPORTED_WHEEL_MAJOR}.0"
        return [Finding(check=Check.WHEEL_VERSION_NEWER, path=wheel_name, message=message)]
    return []


def _check_metadata_file(view: WheelView) -> list[Finding]:
    path = f"{view.dist_info}/METADATA"
    text = view.texts.get(path)
    if text is None:
        why = _why_unread(path, {m.name: m.size for m in view.members})
        return [Finding(check=Check.METADATA_MISMATCH, path=path, message=f"METADATA {why}")]
    block = _header_block(text)
    if block is None:
        return [_headers_too_big(Check.METADATA_MISMATCH, path)]
    headers = parse_headers(block)
    name, version = headers.get("Name"), headers.get("Version")
    problems = []
    if canonicalize_name(name) != view.name.name:
        problems.append(f"Name {excerpt(name)} is not {view.name.name!r}")
    try:
        if Version(version) != view.name.version:
            problems.append(f"Version {excerpt(version)} is not {view.name.version}")
    except (InvalidVersion, ValueError):
        # packaging calls int() on each release part: thousands of digits raise ValueError.
        problems.append(f"Version {excerpt(version)} is not a valid version")
    if problems:
        return [Finding(check=Check.METADATA_MISMATCH, path=path, message="; ".join(problems))]
    return []


def _check_entry_points(view: WheelView) -> list[Finding]:
    path = f"{view.dist_info}/entry_points.txt"
    text = view.texts.get(path)
    if text is None:
        return []
    out = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif "=" in line and section in ("console_scripts", "gui_scripts"):
            name = line.split("=", 1)[0].strip()
            if "/" in name or "\\" in name or name in ("", ".", ".."):
                out.append(
                    Finding(
                        check=Check.ENTRY_POINT_NAME,
                        path=path,
                        message=f"script name {excerpt(name)} in [{excerpt(section)}] is "
                        "not a plain file name",
                    )
                )
    return out


def _check_data_dirs(view: WheelView) -> list[Finding]:
    data_dir = view.dist_info[: -len(".dist-info")] + ".data"
    out = []
    schemes: set[str] = set()
    for member in view.members:
        top, _, rest = member.name.partition("/")
        if top.endswith(".data") and top != data_dir:
            out.append(
                Finding(
                    check=Check.DATA_SCHEME,
                    path=member.name,
                    message=f"{top}/ does not match the dist-info name",
                )
            )
        elif top == data_dir:
            scheme = rest.split("/", 1)[0]
            if scheme not in _DATA_SCHEMES and scheme not in schemes:
                out.append(
                    Finding(
                        check=Check.DATA_SCHEME,
                        path=member.name,
                        message=f"unknown install scheme {scheme!r} under {top}/",
                    )
                )
            schemes.add(scheme)
    return out
