"""Bounded, total readers for untrusted text: files, numbers, UTF-8 and JSON shapes.

Every reader of user input goes through these helpers so that the same rules hold
everywhere (DESIGN.md, rule 9):

- a file is opened without blocking and refused unless it is a regular file (a FIFO would
  wait for a writer forever, ``/dev/zero`` never ends), and never read past a size cap;
- a decimal number is refused above a digit cap before :func:`int` sees it (Python refuses
  more than 4300 digits with a ``ValueError``, and a huge number is never a real size);
- text is decoded strictly, naming the first bad byte;
- JSON is parsed with a digit cap and a nesting cap, and every value is checked for the
  shape the caller expects before it is used, naming where it sits
  (``manifest.json[0].Layers[2]: expected a string, got an object``).

Each failure is a :class:`MalformedInputError` (exit code 2) with one line that names the
input and the reason. Callers may prefix it with the archive that holds the input.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from typing import IO, Any

from wheelfix.errors import WheelfixError

__all__ = [
    "MAX_DIGITS",
    "MAX_JSON_DEPTH",
    "MalformedInputError",
    "decode_text",
    "describe",
    "excerpt",
    "expect_int",
    "expect_list",
    "expect_object",
    "expect_str",
    "load_json",
    "open_regular",
    "parse_decimal",
    "read_capped",
    "read_regular",
    "where",
]

#: Digits accepted in a decimal number: 20 hold any 64-bit size, with room to spare.
MAX_DIGITS = 20
#: Nesting accepted in a JSON document (image manifests and configs need fewer than 10).
MAX_JSON_DEPTH = 64


class MalformedInputError(WheelfixError):
    """An input that cannot be read safely or does not have the expected form (exit code 2).

    ``subject`` names the input (a path, a member, a JSON path) and ``reason`` says what is
    wrong with it.
    """

    def __init__(self, subject: str, reason: str) -> None:
        self.subject = subject
        self.reason = reason
        super().__init__(f"{subject}: {reason}")


def excerpt(text: str, limit: int = 60) -> str:
    """``repr`` of ``text``, shortened so that a hostile value cannot flood a message."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


# -- files -------------------------------------------------------------------------------------
def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISFIFO(mode):
        return "not a regular file (a FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "not a regular file (a device)"
    if stat.S_ISSOCK(mode):
        return "not a regular file (a socket)"
    return "not a regular file"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if exc.errno == errno.ELOOP:
        return "is a symbolic link (not followed here)"
    return f"cannot be read ({exc.strerror or exc})"


def open_regular(
    path: str | os.PathLike[str],
    *,
    follow_symlinks: bool = True,
    dir_fd: int | None = None,
) -> IO[bytes]:
    """Open a regular file for reading, refusing anything else without blocking.

    ``O_NONBLOCK`` makes opening a FIFO return at once; :func:`os.fstat` on the open
    descriptor then decides, so a file swapped between a check and the open cannot slip
    through. ``follow_symlinks=False`` refuses a symbolic link as the last component (for
    names that come from inside an input; paths the user typed are followed).
    """
    subject = os.fspath(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as exc:
        raise MalformedInputError(subject, _os_reason(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            # Back to blocking reads: they never wait on a regular file anyway.
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    raise MalformedInputError(subject, _kind(mode))


def read_capped(stream: IO[bytes], limit: int, subject: str) -> bytes:
    """At most ``limit`` bytes of ``stream``; more than that is an error, never truncation."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise MalformedInputError(subject, f"larger than the limit of {limit} bytes")
    return data


def read_regular(
    path: str | os.PathLike[str], limit: int, *, follow_symlinks: bool = True
) -> bytes:
    """The bytes of a regular file no larger than ``limit`` (checked before reading)."""
    subject = os.fspath(path)
    with open_regular(path, follow_symlinks=follow_symlinks) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise MalformedInputError(
                subject, f"is {size} bytes, larger than the limit of {limit} bytes"
            )
        try:
            return read_capped(fh, limit, subject)
        except OSError as exc:
            raise MalformedInputError(subject, _os_reason(exc)) from None


# -- numbers and text --------------------------------------------------------------------------
def parse_decimal(text: str, subject: str, *, max_digits: int = MAX_DIGITS) -> int:
    """A non-negative decimal integer of ASCII digits, at most ``max_digits`` of them."""
    # str.isdigit() accepts digits such as "²" that int() rejects: ASCII only.
    if not (text.isascii() and text.isdigit()):
        raise MalformedInputError(subject, f"{excerpt(text)} is not a number (decimal digits)")
    if len(text) > max_digits:
        raise MalformedInputError(
            subject, f"number with {len(text)} digits (more than {max_digits})"
        )
    return int(text)


def decode_text(data: bytes, subject: str) -> str:
    """``data`` as strict UTF-8; the error names the offset of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise MalformedInputError(
            subject, f"not UTF-8 text (byte 0x{bad} at offset {exc.start})"
        ) from None


# -- JSON --------------------------------------------------------------------------------------
def _json_int(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > MAX_DIGITS:
        raise ValueError(f"number with {len(digits)} digits (more than {MAX_DIGITS})")
    return int(text)


def _json_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _depth(data: bytes) -> int:
    """Deepest bracket nesting, strings skipped: checked before the recursive parser runs."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def load_json(data: bytes, subject: str) -> Any:  # noqa: ANN401 - a JSON document: check it with expect_*
    """Parse a JSON document: strict UTF-8, numbers with a digit cap, nesting with a cap."""
    text = decode_text(data, subject)
    if _depth(data) > MAX_JSON_DEPTH:
        raise MalformedInputError(subject, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_int=_json_int, parse_constant=_json_constant)
    except (ValueError, RecursionError) as exc:
        raise MalformedInputError(subject, f"not JSON ({exc})") from None


def describe(value: object) -> str:
    """The JSON kind of ``value``, with its article: ``an object``, ``a list``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__


def where(path: str, key: str | int) -> str:
    """The JSON path of ``key`` inside ``path``: ``a[0]`` for an index, ``a.key`` for a key."""
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"


def _expected(path: str, wanted: str, value: object) -> MalformedInputError:
    return MalformedInputError(path, f"expected {wanted}, got {describe(value)}")


def expect_object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _expected(path, "an object", value)
    return value


def expect_list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _expected(path, "a list", value)
    return value


def expect_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _expected(path, "a string", value)
    return value


def expect_int(value: object, path: str, *, minimum: int = 0) -> int:
    """An integer (not a boolean, not a float) no smaller than ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _expected(path, "an integer", value)
    if value < minimum:
        raise MalformedInputError(path, f"expected an integer >= {minimum}, got {value}")
    return value
