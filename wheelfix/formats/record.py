"""RECORD: one row model, one parser, one writer and one digest for every reader.

A RECORD (the wheel spec; PEP 376 for installed distributions) is CSV with three fields per
row: a path relative to the root, ``algorithm=urlsafe-base64-digest`` without padding, and
the size in bytes. Wheels and installed trees read it with the same rules here; what a row
*means* differs (in a wheel a path that climbs out is an error, in site-packages a console
script under ``../../bin``), so each caller decides what to do with :attr:`RecordRow.inside`
and :attr:`RecordRow.safe_in_wheel`.

Every value is bounded: a size has at most :data:`MAX_SIZE_DIGITS` ASCII digits (Python's
``int()`` refuses strings of thousands of digits with an error of its own), a field at
most :data:`MAX_FIELD` characters, and unknown hash names are data, never a crash.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "MAX_FIELD",
    "MAX_SIZE_DIGITS",
    "STRONG_ALGORITHMS",
    "RecordProblem",
    "RecordRow",
    "digest",
    "encode_digest",
    "normalise",
    "parse_record",
    "record_text",
]

#: Hash names a RECORD may use beyond sha256; the readers compute these too.
STRONG_ALGORITHMS = ("sha384", "sha512")
#: A size with more digits than this is malformed (10**20 bytes is 100 exabytes).
MAX_SIZE_DIGITS = 20
#: The longest field accepted (paths are far shorter; csv's own limit is 131072).
MAX_FIELD = 65536


def encode_digest(raw: bytes) -> str:
    """A binary digest as RECORD writes it: urlsafe base64 without ``=`` padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def digest(data: bytes, algorithm: str = "sha256") -> str:
    """The digest part of a RECORD hash field (without ``algorithm=``)."""
    return encode_digest(hashlib.new(algorithm, data).digest())


def normalise(path: str) -> str:
    """The one path rule: POSIX normalisation, only when it can change anything.

    Backslashes are kept (they are ordinary characters on POSIX; a wheel path holding one is
    unsafe, see :attr:`RecordRow.safe_in_wheel`). ``..foo/x`` stays inside: only a whole
    ``..`` component climbs.
    """
    if "/." in path or path.startswith(".") or "//" in path or path.endswith("/"):
        return posixpath.normpath(path)
    return path


def _size(text: str) -> int | None:
    """ASCII digits only (``"²".isdigit()`` is true, ``int("²")`` fails), and few of them."""
    if text.isascii() and text.isdigit() and len(text) <= MAX_SIZE_DIGITS:
        return int(text)
    return None


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One well-formed row (three fields). ``size`` is ``None`` when the field is empty or
    not a bounded decimal number; ``size_text`` keeps what was written."""

    line: int
    raw_path: str
    path: str
    algorithm: str
    digest: str
    size: int | None
    size_text: str

    @classmethod
    def from_fields(cls, fields: list[str], line: int) -> RecordRow:
        raw, hash_field, size_text = fields
        algorithm, _, value = hash_field.partition("=")
        return cls(line, raw, normalise(raw), algorithm, value, _size(size_text), size_text)

    @property
    def hash_field(self) -> str:
        return f"{self.algorithm}={self.digest}" if self.algorithm or self.digest else ""

    @property
    def inside(self) -> bool:
        """False for rows that climb out of the root (or are absolute)."""
        norm = self.path
        return bool(norm) and not (norm == ".." or norm.startswith(("../", "/")))

    @property
    def safe_in_wheel(self) -> bool:
        """Whether a wheel may list this path: inside, relative, no drive, no backslash,
        no NUL or other control character."""
        raw = self.raw_path
        return (
            self.inside
            and not (len(raw) > 1 and raw[1] == ":")
            and "\\" not in raw
            and all(ord(c) >= 0x20 for c in raw)
        )

    def to_fields(self) -> tuple[str, str, str]:
        return (self.raw_path, self.hash_field, self.size_text)


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """A line that is not a row: wrong column count, bad CSV, an over-long field."""

    line: int
    message: str


def _lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """Numbered CSV rows. Without quotes or carriage returns, splitting at ``\\n`` and
    ``,`` is exactly what csv does, several times faster; other text goes through csv."""
    if '"' in text or "\r" in text:
        reader = csv.reader(io.StringIO(text, newline=""))
        for fields in reader:
            yield reader.line_num, fields
    else:
        for number, line in enumerate(text.split("\n"), start=1):
            yield number, line.split(",")


def parse_record(text: str) -> tuple[list[RecordRow], list[RecordProblem]]:
    """Every row of a RECORD, and every line that is not one. Never raises."""
    rows: list[RecordRow] = []
    problems: list[RecordProblem] = []
    numbered = _lines(text)
    line = 0
    while True:
        try:
            line, fields = next(numbered)
        except StopIteration:
            break
        except csv.Error as exc:  # csv stops at the first bad line: nothing after it is read
            problems.append(RecordProblem(line + 1, f"not valid CSV ({exc})"))
            break
        if fields in ([], [""]):
            continue
        if len(fields) != 3:
            problems.append(RecordProblem(line, f"{len(fields)} columns, expected 3"))
        elif any(len(f) > MAX_FIELD for f in fields):
            problems.append(RecordProblem(line, f"a field is longer than {MAX_FIELD} characters"))
        elif not fields[0]:
            problems.append(RecordProblem(line, "empty path"))
        else:
            rows.append(RecordRow.from_fields(fields, line))
    return rows, problems


def record_text(rows: Iterable[tuple[str, str, str]]) -> str:
    """RECORD text for ``(path, hash field, size)`` rows, ``\\n`` line ends."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
