"""Where every wheel check code comes from: each function beside the codes it can report.

``check`` runs a function only when the :class:`~wheelfix.findings.Selection` keeps at
least one of its codes. The *analyses* (WHEEL/METADATA and the platform verdict) always run,
because the report's tags, libraries and sizes come from them; only their findings are
filtered. ``tests/unit/wheels/test_registry.py`` keeps this table and the modules in step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wheelfix.findings import Check, Finding
from wheelfix.wheels.checks import WheelView
from wheelfix.wheels.checks.contents import ContentRules, check_contents
from wheelfix.wheels.checks.debug import check_debug
from wheelfix.wheels.checks.integrity import check_record
from wheelfix.wheels.checks.sbom import check_sbom

__all__ = ["ANALYSES", "WHEEL_CHECKS", "RegisteredCheck"]


@dataclass(frozen=True, slots=True)
class RegisteredCheck:
    """A check function and every code it may report."""

    function: Callable[..., list[Finding]]
    codes: frozenset[Check]
    #: whether ``function`` also takes the run's :class:`ContentRules`
    takes_rules: bool = False

    def run(self, view: WheelView, rules: ContentRules) -> list[Finding]:
        return self.function(view, rules) if self.takes_rules else self.function(view)


#: Skipped when none of their codes is selected.
WHEEL_CHECKS: tuple[RegisteredCheck, ...] = (
    RegisteredCheck(
        check_record,
        frozenset({
            Check.RECORD_MISSING, Check.RECORD_MALFORMED, Check.RECORD_UNSAFE_PATH,
            Check.RECORD_DUPLICATE, Check.MISSING_FILE, Check.UNLISTED_FILE, Check.WEAK_HASH,
            Check.RECORD_HASH_MISMATCH, Check.RECORD_SIZE_MISMATCH,
        }),
    ),
    RegisteredCheck(check_debug, frozenset({Check.DEBUG_INFO, Check.SYMBOL_TABLE})),
    RegisteredCheck(check_sbom, frozenset({Check.SBOM_UNCOVERED})),
    RegisteredCheck(
        check_contents,
        frozenset({
            Check.BUILD_LEFTOVERS, Check.BYTECODE, Check.CASE_COLLISION,
            Check.COMMON_TOP_LEVEL, Check.DUPLICATE_CONTENTS, Check.EMPTY_LIBRARY,
            Check.EMPTY_WHEEL, Check.EXPECTED_FILE_MISSING, Check.INIT_AT_TOP_LEVEL,
            Check.MISSING_FROM_PACKAGE, Check.MIXED_EXTENSIONS,
            Check.MODULE_NOT_IMPORTABLE, Check.MULTIPLE_TOP_LEVEL, Check.NON_ASCII_PATH,
            Check.NON_MODULE_TOP_LEVEL, Check.NOT_IN_PACKAGE, Check.PATH_TOO_LONG,
            Check.PTH_IMPORT, Check.SOURCES, Check.SOURCE_MAPS, Check.SPACE_IN_PATH,
            Check.STATIC_ARCHIVES, Check.TESTS, Check.TOO_MANY_FILES,
            Check.TOP_LEVEL_MISSING, Check.TOP_LEVEL_UNDECLARED,
            Check.TOP_LEVEL_WITHOUT_MODULES, Check.UNEXPECTED_FILE,
            Check.UNPACKED_TOO_LARGE, Check.WHEEL_TOO_LARGE,
        }),
        takes_rules=True,
    ),
)  # fmt: skip

#: Always run (the report needs their results); function -> the codes their findings carry.
#: A code may come from more than one place (WF301 from ELF, Mach-O and PE files alike).
ANALYSES: dict[str, frozenset[Check]] = {
    "wheelfix.wheels.checks.integrity.check_metadata": frozenset({
        Check.WHEEL_METADATA, Check.WHEEL_VERSION_NEWER, Check.TAG_MISMATCH,
        Check.METADATA_MISMATCH, Check.ENTRY_POINT_NAME, Check.DATA_SCHEME,
    }),
    "wheelfix.wheels.checks.platform.analyze_platform": frozenset({
        Check.TAG_OVERCLAIMS, Check.LINUX_TAG, Check.WRONG_ARCH, Check.WRONG_LIBC,
        Check.TARGET_INCOMPATIBLE, Check.BLACKLISTED_SYMBOL, Check.ISA_EXTENSION,
        Check.ELF_IN_PURELIB, Check.NOT_ELF, Check.CORRUPT_ELF, Check.PYFPE,
        Check.EXTERNAL_LIBRARY, Check.LIBRARY_NOT_FOUND, Check.ABSOLUTE_RPATH,
        Check.LIBPYTHON_LINKED, Check.NO_POLICY_FOR_ARCH, Check.LIBRARY_FROM_OTHER_DISTRIBUTION,
        Check.UNKNOWN_PLATFORM_TAG,
    }),
    "wheelfix.wheels.checks.macos.analyze_macos": frozenset({
        Check.ABSOLUTE_RPATH, Check.CORRUPT_MACHO, Check.DEBUG_INFO, Check.EXTERNAL_LIBRARY,
        Check.FOREIGN_BINARY,
        Check.LIBPYTHON_LINKED, Check.LIBRARY_NOT_FOUND, Check.SYMBOL_TABLE,
        Check.TAG_OVERCLAIMS, Check.TARGET_INCOMPATIBLE, Check.WRONG_ARCH,
    }),
    "wheelfix.wheels.checks.windows.analyze_windows": frozenset({
        Check.CORRUPT_PE, Check.DEBUG_INFO, Check.EXTERNAL_LIBRARY, Check.SYMBOL_TABLE,
        Check.TARGET_INCOMPATIBLE, Check.WRONG_ARCH,
    }),
    "wheelfix.wheels.checks.native.foreign_findings": frozenset({
        Check.ELF_IN_PURELIB, Check.FOREIGN_BINARY, Check.NOT_NATIVE_LIBRARY,
        Check.TARGET_INCOMPATIBLE,
    }),
}  # fmt: skip
