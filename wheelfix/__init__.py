"""wheelfix: check, repair and slim Python wheels for small, provably working containers.

The public API is what ``__all__`` lists; everything else is private and may change. Names
are imported on first use (PEP 562), so ``import wheelfix`` and a command that needs one
part of it do not pay for the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

#: public name -> the private module that defines it
_HOMES = {
    "check": "audit",
    "InvalidWheelError": "errors",
    "ToolError": "errors",
    "UsageError": "errors",
    "WheelfixError": "errors",
    "Check": "findings",
    "Finding": "findings",
    "Severity": "findings",
    "RepairReport": "repairer",
    "RepairResult": "repairer",
    "repair": "repairer",
    "CheckReport": "results",
    "ElfSummary": "results",
    "Sizes": "results",
    "Tags": "results",
    "WheelResult": "results",
    "RunnerProof": "runner",
    "prove_in_root": "runner",
    "DistReport": "scanner",
    "EnvReport": "scanner",
    "scan": "scanner",
    "SlimAction": "slimmer",
    "SlimResult": "slimmer",
    "recover": "slimmer",
    "slim": "slimmer",
    "StripLevel": "strip",
    "Limits": "wheelfile",
}

__all__ = [
    "Check",
    "CheckReport",
    "DistReport",
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
    "SlimAction",
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


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'wheelfix' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"wheelfix.{home}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from wheelfix.audit import check
    from wheelfix.errors import InvalidWheelError, ToolError, UsageError, WheelfixError
    from wheelfix.findings import Check, Finding, Severity
    from wheelfix.repairer import RepairReport, RepairResult, repair
    from wheelfix.results import CheckReport, ElfSummary, Sizes, Tags, WheelResult
    from wheelfix.runner import RunnerProof, prove_in_root
    from wheelfix.scanner import DistReport, EnvReport, scan
    from wheelfix.slimmer import SlimAction, SlimResult, recover, slim
    from wheelfix.strip import StripLevel
    from wheelfix.wheelfile import Limits
