"""wheelfix: check, repair and slim Python wheels for small, provably working containers.

The public API is what ``__all__`` lists; everything else is private and may change.
"""

from __future__ import annotations

__version__ = "0.1.0"

from wheelfix.audit import check
from wheelfix.errors import InvalidWheelError, ToolError, UsageError, WheelfixError
from wheelfix.findings import Check, Finding, Severity
from wheelfix.repair import RepairReport, RepairResult, repair
from wheelfix.results import CheckReport, ElfSummary, Sizes, Tags, WheelResult
from wheelfix.runner import RunnerProof, prove_in_root
from wheelfix.scan import EnvReport, scan
from wheelfix.slim import SlimResult, recover, slim
from wheelfix.strip import StripLevel
from wheelfix.wheelfile import Limits

__all__ = [
    "Check",
    "CheckReport",
    "ElfSummary",
    "EnvReport",
    "Finding",
    "InvalidWheelError",
    "Limits",
    "RepairReport",
    "RepairResult",
    "RunnerProof",
    "Severity",
    "Sizes",
    "SlimResult",
    "StripLevel",
    "Tags",
    "ToolError",
    "UsageError",
    "WheelResult",
    "WheelfixError",
    "__version__",
    "check",
    "prove_in_root",
    "recover",
    "repair",
    "scan",
    "slim",
]
