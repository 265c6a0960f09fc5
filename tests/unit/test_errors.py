"""The exception family: one root, exit codes per class, fields the CLI and callers read."""

from __future__ import annotations

import pytest

from wheelfix.errors import InvalidWheelError, ToolError, UsageError, WheelfixError


def test_every_error_is_a_wheelfix_error() -> None:
    for cls in (UsageError, InvalidWheelError, ToolError):
        assert issubclass(cls, WheelfixError)
    assert issubclass(WheelfixError, Exception)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (WheelfixError("x"), 2),
        (UsageError("bad option"), 2),
        (InvalidWheelError("a.whl", "not a zip"), 2),
        (ToolError("patchelf", "not found"), 3),
    ],
)
def test_exit_codes(error: WheelfixError, code: int) -> None:
    assert error.exit_code == code


def test_usage_error_message_is_the_argument() -> None:
    assert str(UsageError("unknown code WF999")) == "unknown code WF999"


def test_invalid_wheel_without_member() -> None:
    error = InvalidWheelError("dist/a.whl", "not a zip file")
    assert (error.path, error.reason, error.member) == ("dist/a.whl", "not a zip file", None)
    assert str(error) == "dist/a.whl: not a zip file"


def test_invalid_wheel_names_the_member() -> None:
    error = InvalidWheelError("dist/a.whl", "climbs out of the archive", member="../x")
    assert error.member == "../x"
    assert str(error) == "dist/a.whl: ../x: climbs out of the archive"


def test_invalid_wheel_empty_member_is_still_named() -> None:
    # "" is a member name (an odd one), not "no member": only None leaves it out.
    assert str(InvalidWheelError("a.whl", "bad", member="")) == "a.whl: : bad"


def test_tool_error_fields_and_message_without_stderr() -> None:
    error = ToolError("auditwheel", "exited with status 1")
    assert (error.tool, error.reason, error.stderr) == ("auditwheel", "exited with status 1", "")
    assert str(error) == "auditwheel: exited with status 1"


def test_tool_error_message_carries_stripped_stderr() -> None:
    error = ToolError("strip", "failed", stderr="  strip: out.so: file format not recognized\n")
    assert error.stderr == "  strip: out.so: file format not recognized\n"  # kept as given
    assert str(error) == "strip: failed\nstrip: out.so: file format not recognized"


def test_tool_error_blank_stderr_adds_nothing() -> None:
    assert str(ToolError("patchelf", "too old", stderr=" \n\t")) == "patchelf: too old"


def test_caught_through_the_root() -> None:
    with pytest.raises(WheelfixError) as info:
        raise ToolError("auditwheel", "missing")
    assert info.value.exit_code == 3
