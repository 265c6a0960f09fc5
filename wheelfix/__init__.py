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
    "check": "wheels.audit",
    "InvalidWheelError": "errors",
    "ToolError": "errors",
    "UsageError": "errors",
    "WheelfixError": "errors",
    "Check": "findings",
    "Finding": "findings",
    "Severity": "findings",
    "RepairReport": "wheels.repair",
    "RepairResult": "wheels.repair",
    "repair": "wheels.repair",
    "CheckReport": "wheels.results",
    "ElfSummary": "wheels.results",
    "Sizes": "wheels.results",
    "Tags": "wheels.results",
    "WheelResult": "wheels.results",
    "RunnerProof": "verify.runner",
    "prove_in_root": "verify.runner",
    "DistReport": "installed.scan",
    "EnvReport": "installed.scan",
    "scan": "installed.scan",
    "SlimAction": "installed.slim",
    "SlimResult": "installed.slim",
    "recover": "installed.slim",
    "slim": "installed.slim",
    "StripLevel": "formats.strip",
    "DockerfileReport": "containers.dockerfile",
    "analyze_dockerfile": "containers.dockerfile",
    "ImageReport": "containers.image",
    "InvalidImageError": "containers.image",
    "analyze_image": "containers.image",
    "Limits": "formats.wheelfile",
}

__all__ = [
    "Check",
    "CheckReport",
    "DistReport",
    "DockerfileReport",
    "ElfSummary",
    "EnvReport",
    "Finding",
    "ImageReport",
    "InvalidImageError",
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
    "analyze_dockerfile",
    "analyze_image",
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
    from wheelfix.containers.dockerfile import DockerfileReport, analyze_dockerfile
    from wheelfix.containers.image import ImageReport, InvalidImageError, analyze_image
    from wheelfix.errors import InvalidWheelError, ToolError, UsageError, WheelfixError
    from wheelfix.findings import Check, Finding, Severity
    from wheelfix.formats.strip import StripLevel
    from wheelfix.formats.wheelfile import Limits
    from wheelfix.installed.scan import DistReport, EnvReport, scan
    from wheelfix.installed.slim import SlimAction, SlimResult, recover, slim
    from wheelfix.verify.runner import RunnerProof, prove_in_root
    from wheelfix.wheels.audit import check
    from wheelfix.wheels.repair import RepairReport, RepairResult, repair
    from wheelfix.wheels.results import CheckReport, ElfSummary, Sizes, Tags, WheelResult
