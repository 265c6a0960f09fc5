"""Human-readable sizes and percentages used in messages and tables."""

from __future__ import annotations

import pytest

from wheelfix.units import human, percent


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1024 * 1024 - 1, "1024.0 KiB"),  # rounds up in print, stays in its unit
        (1024 * 1024, "1.0 MiB"),
        (5 * 1024**3, "5.0 GiB"),
        (3 * 1024**4, "3072.0 GiB"),  # GiB is the largest unit
        (-512, "-512 B"),
        (-2048, "-2.0 KiB"),  # a size that grew is shown as a negative saving
    ],
)
def test_human(n: int, text: str) -> None:
    assert human(n) == text


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [
        (0, 100, "0 %"),
        (1, 3, "33 %"),
        (2, 3, "67 %"),
        (100, 100, "100 %"),
        (150, 100, "150 %"),
        (5, 0, "0 %"),  # nothing to divide by: 0 %, not ZeroDivisionError
        (0, 0, "0 %"),
        (-1, 4, "-25 %"),
    ],
)
def test_percent(part: int, whole: int, text: str) -> None:
    assert percent(part, whole) == text
