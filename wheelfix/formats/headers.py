"""The header block of WHEEL and METADATA files, read as ``email.parser.HeaderParser`` reads it.

Both files are RFC 822 style header blocks (the wheel spec and the core metadata spec say
so), and the tools that write and install wheels read them with the standard library's
email parser. wheelfix reads them here, with that parser's rules, for two reasons: the email
package costs a command line about 20 ms of imports (a fifth of ``wheelfix check``'s start),
and only four or five header values are ever needed.

The rules, as ``email.feedparser`` applies them with the default ``compat32`` policy:

- lines end at ``\\r\\n``, ``\\r`` or ``\\n`` (no other line break counts);
- the block ends at the first line that is neither a header line (a name of printable ASCII
  without ``:`` followed by ``:``), nor a continuation (it starts with a space or a tab),
  nor a ``From `` envelope line; an empty line is such a line;
- a continuation line joins the header before it, line break included; one before any
  header is dropped, and so is a header line with an empty name;
- a header's value is the text after the first ``:`` without its leading spaces and tabs
  and without the final line break; names compare without regard to case; ``get`` returns
  the first of repeated headers and ``get_all`` every one in order.

``tests/unit/formats/test_headers.py`` compares this reader with ``HeaderParser`` on
generated blocks. Callers bound the text they pass (see ``HEADER_LIMIT`` in the checks).
"""

from __future__ import annotations

import re

__all__ = ["Headers", "parse_headers"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")
_HEADER_LINE = re.compile(r"From |[\x21-\x39\x3b-\x7e]*:|[\t ]")


class Headers:
    """Header fields in file order; lookups ignore case."""

    __slots__ = ("fields",)

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self.fields = fields

    def get(self, name: str, default: str = "") -> str:
        """The first value of ``name``, or ``default`` when the block has none."""
        wanted = name.lower()
        for key, value in self.fields:
            if key.lower() == wanted:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in file order (empty when there is none)."""
        wanted = name.lower()
        return [value for key, value in self.fields if key.lower() == wanted]


def parse_headers(text: str) -> Headers:
    """The header fields at the start of ``text`` (what follows them is ignored)."""
    lines = []
    for match in _LINE.finditer(text):
        line = match.group()
        if not line or not _HEADER_LINE.match(line):
            break
        lines.append(line)
    fields: list[tuple[str, str]] = []
    current: list[str] = []

    def finish() -> None:
        if current:
            name, value = current[0].split(":", 1)
            joined = value.lstrip(" \t") + "".join(current[1:])
            fields.append((name, joined.rstrip("\r\n")))
            current.clear()

    for number, line in enumerate(lines):
        if line[0] in " \t":
            if current:
                current.append(line)
            continue  # a continuation before any header is dropped
        finish()
        if line.startswith("From "):
            if number == len(lines) - 1 and number > 0:
                break  # a last ``From `` line starts the body
            continue  # an envelope line, first or misplaced, is not a header
        if line.startswith(":"):
            continue  # no name: dropped
        current.append(line)
    finish()
    return Headers(fields)
