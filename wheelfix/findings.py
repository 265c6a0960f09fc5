"""Findings: what a check reports, as data with stable codes.

Codes never change meaning once released; a retired code is never reused. Every code has
a section in ``docs/checks.md`` (meaning, common causes, fix) — a test keeps the two in step.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Check", "Finding", "Scope", "Selection", "Severity", "gate_exit_code"]


class Severity(enum.IntEnum):
    """How bad a finding is. Ordered: ``INFO < WARNING < ERROR``."""

    INFO = 10
    WARNING = 20
    ERROR = 30

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def gate(cls, value: Severity | str | None) -> Severity | None:
        """A ``--fail-on`` value: a severity, its name, or ``"never"``/``None`` (no gate).

        Raises :class:`~wheelfix.UsageError` for anything else."""
        if value is None or isinstance(value, Severity):
            return value
        if value.strip().lower() == "never":
            return None
        try:
            return cls.parse(value)
        except ValueError:
            from wheelfix.errors import UsageError  # noqa: PLC0415 - errors imports nothing back

            raise UsageError(
                f"unknown severity {value!r} (choose from info, warning, error, never)"
            ) from None

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None


class Scope(enum.Enum):
    """What a check looks at; the hundreds digit of its code says it (WF1xx-WF5xx: wheels)."""

    WHEEL = "wheel"
    INSTALLED = "installed"
    IMAGE = "image"
    DOCKERFILE = "dockerfile"


_SCOPES = {"6": Scope.INSTALLED, "7": Scope.IMAGE, "8": Scope.DOCKERFILE}


class Check(enum.Enum):
    """The registry of check codes: code, name, default severity, hint.

    Every finding any command reports is one of these members. The function that produces a
    code is registered beside the checks of its scope (``wheels/checks/__init__.py`` for
    wheels); :class:`Selection` resolves ``--select``/``--ignore`` to members before any
    check runs.
    """

    # --- WF1xx: platform tags --------------------------------------------------------------
    TAG_OVERCLAIMS = (
        "WF101",
        "tag-overclaims",
        Severity.ERROR,
        "rebuild in an older manylinux/musllinux image, or retag honestly with `wheelfix repair`",
    )
    LINUX_TAG = (
        "WF102",
        "linux-platform-tag",
        Severity.WARNING,
        "run `wheelfix repair` to graft libraries and retag for other machines",
    )
    TAG_MISMATCH = (
        "WF103",
        "wheel-tag-mismatch",
        Severity.ERROR,
        "make the WHEEL file's Tag lines list exactly the tags in the filename",
    )
    WRONG_ARCH = (
        "WF104",
        "wrong-architecture",
        Severity.ERROR,
        "build the binary for the architecture in the tag, or fix the tag",
    )
    WRONG_LIBC = (
        "WF105",
        "wrong-libc",
        Severity.ERROR,
        "build glibc binaries for manylinux tags and musl binaries for musllinux tags",
    )
    TARGET_INCOMPATIBLE = (
        "WF106",
        "target-incompatible",
        Severity.ERROR,
        "build (or repair) the wheel for the target platform",
    )
    BLACKLISTED_SYMBOL = (
        "WF107",
        "blacklisted-symbol",
        Severity.WARNING,
        "stop using the symbol, or link the library statically under a private name",
    )
    ISA_EXTENSION = (
        "WF108",
        "isa-extension",
        Severity.WARNING,
        "build for the baseline ISA (e.g. -march=x86-64) and dispatch at run time",
    )
    ELF_IN_PURELIB = (
        "WF109",
        "binary-in-pure-wheel",
        Severity.ERROR,
        "set Root-Is-Purelib: false and give the wheel a platform tag",
    )
    NOT_ELF = (
        "WF110",
        "shared-object-not-elf",
        Severity.WARNING,
        "remove the file or make it a real shared library",
    )
    CORRUPT_ELF = (
        "WF111",
        "corrupt-elf",
        Severity.ERROR,
        "rebuild the file; a loader will refuse it",
    )
    PYFPE = (
        "WF112",
        "pyfpe-jbuf",
        Severity.WARNING,
        "rebuild against a Python built without --with-fpectl",
    )
    NO_POLICY_FOR_ARCH = (
        "WF113",
        "no-policy-for-architecture",
        Severity.WARNING,
        "keep the linux_ARCH tag and serve the wheel from your own index",
    )
    UNKNOWN_PLATFORM_TAG = (
        "WF114",
        "unknown-platform-tag",
        Severity.ERROR,
        "tag the wheel with the manylinux_X_Y/musllinux_X_Y tag its binaries satisfy "
        "(`wheelfix repair` does it)",
    )
    # --- WF12x: macOS (Mach-O) and Windows (PE) binaries ------------------------------------
    CORRUPT_MACHO = (
        "WF120",
        "corrupt-macho",
        Severity.ERROR,
        "rebuild the file; dyld will refuse it",
    )
    CORRUPT_PE = (
        "WF121",
        "corrupt-pe",
        Severity.ERROR,
        "rebuild the file; the Windows loader will refuse it",
    )
    FOREIGN_BINARY = (
        "WF122",
        "foreign-binary",
        Severity.ERROR,
        "build the extension for the operating system in the tag, or fix the tag",
    )
    NOT_NATIVE_LIBRARY = (
        "WF123",
        "library-not-native",
        Severity.WARNING,
        "remove the file or make it a real .dylib/.dll/.pyd",
    )
    # --- WF2xx: shared libraries -----------------------------------------------------------
    EXTERNAL_LIBRARY = (
        "WF201",
        "external-library",
        Severity.ERROR,
        "run `wheelfix repair` to graft it into the wheel, or link it statically",
    )
    LIBRARY_NOT_FOUND = (
        "WF202",
        "library-not-found",
        Severity.ERROR,
        "install the library (or its -dev package) where you repair, or set LD_LIBRARY_PATH",
    )
    ABSOLUTE_RPATH = (
        "WF203",
        "absolute-rpath",
        Severity.WARNING,
        "use $ORIGIN-relative RPATHs; `wheelfix repair` rewrites them",
    )
    LIBPYTHON_LINKED = (
        "WF204",
        "libpython-linked",
        Severity.WARNING,
        "do not link extensions against libpython (the interpreter provides the symbols)",
    )
    LIBRARY_FROM_OTHER_DISTRIBUTION = (
        "WF205",
        "library-from-other-distribution",
        Severity.INFO,
        "install the distribution that provides it together with this wheel",
    )
    SBOM_UNCOVERED = (
        "WF210",
        "sbom-uncovered",
        Severity.INFO,
        "repair with `wheelfix repair` (auditwheel 6.8+ names the package each grafted "
        "library came from in *.dist-info/sboms/), or add an SBOM that names it",
    )
    # --- WF3xx: debug information ----------------------------------------------------------
    DEBUG_INFO = (
        "WF301",
        "debug-info",
        Severity.WARNING,
        "`wheelfix repair --strip` (or build with -g0) removes it",
    )
    SYMBOL_TABLE = (
        "WF302",
        "symbol-table",
        Severity.INFO,
        "`wheelfix repair --strip=unneeded` removes it; .dynsym is kept",
    )
    # --- WF4xx: contents -------------------------------------------------------------------
    TESTS = (
        "WF401",
        "test-files",
        Severity.INFO,
        "exclude tests from the wheel (package data / MANIFEST rules) or prune them",
    )
    BYTECODE = (
        "WF402",
        "bytecode",
        Severity.WARNING,
        "do not ship .pyc; installers compile at install time",
    )
    SOURCES = (
        "WF403",
        "compiled-sources",
        Severity.INFO,
        "exclude C/C++/Cython/Fortran sources from the wheel unless they are API",
    )
    STATIC_ARCHIVES = (
        "WF404",
        "static-archive-or-object",
        Severity.WARNING,
        "exclude build intermediates (.a, .o) unless users link against them",
    )
    BUILD_LEFTOVERS = (
        "WF405",
        "build-leftover",
        Severity.WARNING,
        "exclude editor, VCS and build-tool leftovers from the wheel",
    )
    SOURCE_MAPS = (
        "WF406",
        "source-map",
        Severity.INFO,
        "exclude *.map files from production wheels",
    )
    PTH_IMPORT = (
        "WF407",
        "pth-executes-code",
        Severity.WARNING,
        "avoid import lines in .pth files: they run at every interpreter start",
    )
    CASE_COLLISION = (
        "WF408",
        "case-collision",
        Severity.WARNING,
        "rename one of the files: they collide on case-insensitive filesystems",
    )
    DUPLICATE_CONTENTS = (
        "WF409",
        "duplicate-contents",
        Severity.WARNING,
        "delete the stale copy (often build/lib/ left from an earlier build) and rebuild",
    )
    NON_MODULE_TOP_LEVEL = (
        "WF410",
        "non-module-at-top-level",
        Severity.WARNING,
        "move the file into your package, or into *.dist-info (licenses: license-files)",
    )
    MODULE_NOT_IMPORTABLE = (
        "WF411",
        "module-not-importable",
        Severity.WARNING,
        "rename the folder or module to a Python identifier (no '-', spaces or keywords)",
    )
    COMMON_TOP_LEVEL = (
        "WF412",
        "common-top-level-name",
        Severity.WARNING,
        "exclude the folder from the packages, or declare it with `--toplevel NAME`",
    )
    INIT_AT_TOP_LEVEL = (
        "WF413",
        "init-at-top-level",
        Severity.WARNING,
        "package the folder that holds __init__.py, not its contents (src layout)",
    )
    EMPTY_LIBRARY = (
        "WF414",
        "empty-library",
        Severity.WARNING,
        "declare your modules (py_modules / packages) so the build backend finds them",
    )
    EMPTY_WHEEL = (
        "WF415",
        "empty-wheel",
        Severity.WARNING,
        "declare your modules or data files; only *.dist-info was packaged",
    )
    MULTIPLE_TOP_LEVEL = (
        "WF416",
        "multiple-top-level-entries",
        Severity.WARNING,
        "package only your own top-level package, or declare them with `--toplevel`",
    )
    TOP_LEVEL_WITHOUT_MODULES = (
        "WF417",
        "top-level-without-modules",
        Severity.WARNING,
        "put data inside a package, or add the package's modules (and __init__.py)",
    )
    MISSING_FROM_PACKAGE = (
        "WF418",
        "missing-package-files",
        Severity.ERROR,
        "include the files (package data rules), or delete them from the source tree",
    )
    NOT_IN_PACKAGE = (
        "WF419",
        "files-not-in-package",
        Severity.WARNING,
        "delete the stale build/ folder and rebuild; the source tree has no such file",
    )
    TOP_LEVEL_MISSING = (
        "WF420",
        "declared-top-level-missing",
        Severity.ERROR,
        "make the build backend package it, or remove it from `--toplevel`",
    )
    TOP_LEVEL_UNDECLARED = (
        "WF421",
        "undeclared-top-level",
        Severity.WARNING,
        "exclude it from the wheel, or add it to `--toplevel`",
    )
    WHEEL_TOO_LARGE = (
        "WF422",
        "archive-too-large",
        Severity.WARNING,
        "ship less (prune tests, strip debug info) or raise max-compressed-size",
    )
    UNPACKED_TOO_LARGE = (
        "WF423",
        "unpacked-too-large",
        Severity.WARNING,
        "ship less (prune tests, strip debug info) or raise max-unpacked-size",
    )
    TOO_MANY_FILES = (
        "WF424",
        "too-many-files",
        Severity.WARNING,
        "exclude tests, data and generated files, or raise max-files",
    )
    MIXED_EXTENSIONS = (
        "WF425",
        "mixed-file-extensions",
        Severity.INFO,
        "use one spelling of the extension (e.g. only .yaml) throughout",
    )
    NON_ASCII_PATH = (
        "WF426",
        "non-ascii-path",
        Severity.WARNING,
        "rename the file with ASCII characters; some tools and filesystems mangle others",
    )
    SPACE_IN_PATH = (
        "WF427",
        "space-in-path",
        Severity.WARNING,
        "rename the file without spaces; scripts and build tools split on them",
    )
    PATH_TOO_LONG = (
        "WF428",
        "path-too-long",
        Severity.WARNING,
        "shorten the path (Windows limits full paths to 260 characters by default)",
    )
    EXPECTED_FILE_MISSING = (
        "WF429",
        "expected-file-missing",
        Severity.ERROR,
        "make the build include a file matching the pattern, or drop it from expected-files",
    )
    UNEXPECTED_FILE = (
        "WF430",
        "unexpected-file",
        Severity.WARNING,
        "exclude CI and tooling configuration from the distribution",
    )
    # --- WF5xx: integrity ------------------------------------------------------------------
    RECORD_MISSING = (
        "WF501",
        "record-missing",
        Severity.ERROR,
        "rebuild the wheel with a standard build backend",
    )
    RECORD_MALFORMED = (
        "WF502",
        "record-malformed",
        Severity.ERROR,
        "each RECORD row is path,sha256=<urlsafe-b64>,size",
    )
    RECORD_HASH_MISMATCH = (
        "WF503",
        "record-hash-mismatch",
        Severity.ERROR,
        "the file changed after RECORD was written; rebuild or rewrite RECORD",
    )
    RECORD_SIZE_MISMATCH = (
        "WF504",
        "record-size-mismatch",
        Severity.ERROR,
        "the file changed after RECORD was written; rebuild or rewrite RECORD",
    )
    UNLISTED_FILE = (
        "WF505",
        "file-not-in-record",
        Severity.ERROR,
        "every file in the wheel must have a RECORD row",
    )
    MISSING_FILE = (
        "WF506",
        "record-lists-missing-file",
        Severity.ERROR,
        "remove the row or add the file",
    )
    WEAK_HASH = (
        "WF507",
        "record-weak-hash",
        Severity.ERROR,
        "use sha256 (md5 and sha1 are not allowed in RECORD)",
    )
    RECORD_UNSAFE_PATH = (
        "WF508",
        "record-unsafe-path",
        Severity.ERROR,
        "RECORD paths are relative to the wheel root and never climb out of it",
    )
    RECORD_DUPLICATE = (
        "WF509",
        "record-duplicate-row",
        Severity.ERROR,
        "list each file exactly once",
    )
    WHEEL_VERSION_NEWER = (
        "WF510",
        "wheel-version-newer",
        Severity.WARNING,
        "this tool knows Wheel-Version 1.0; check the file with a newer tool",
    )
    WHEEL_METADATA = (
        "WF511",
        "wheel-metadata-invalid",
        Severity.ERROR,
        "WHEEL needs Wheel-Version, Root-Is-Purelib and Tag lines",
    )
    DATA_SCHEME = (
        "WF512",
        "data-scheme-invalid",
        Severity.ERROR,
        "use only purelib, platlib, headers, scripts and data under .data/",
    )
    ENTRY_POINT_NAME = (
        "WF513",
        "entry-point-name-invalid",
        Severity.ERROR,
        "console script names cannot contain path separators",
    )
    METADATA_MISMATCH = (
        "WF514",
        "metadata-mismatch",
        Severity.ERROR,
        "METADATA Name and Version must match the filename",
    )

    # --- WF6xx: installed environments (scan / slim) ---------------------------------------
    RECORD_DRIFT = (
        "WF601",
        "record-drift",
        Severity.WARNING,
        "reinstall the distribution; something changed its files after installation",
    )
    DUPLICATE_FILES = (
        "WF602",
        "duplicate-files",
        Severity.INFO,
        "`wheelfix slim --apply` can hard-link identical files (category dedupe)",
    )
    CANNOT_VERIFY = (
        "WF603",
        "cannot-verify",
        Severity.WARNING,
        "reinstall with pip so the distribution has a RECORD; slim leaves it alone",
    )
    OUTSIDE_ROOT = (
        "WF604",
        "record-outside-root",
        Severity.INFO,
        "nothing to do: scripts and headers live outside site-packages; never touched",
    )
    UNOWNED_FILES = (
        "WF605",
        "unowned-files",
        Severity.INFO,
        "files no RECORD lists cannot be verified or uninstalled; reinstall or remove them",
    )
    INTERRUPTED_SLIM = (
        "WF606",
        "interrupted-slim",
        Severity.WARNING,
        "`wheelfix slim --recover PATH` rolls it back (`slim --apply` does so first, too)",
    )

    # --- WF7xx: container images -----------------------------------------------------------
    WASTED_BYTES = (
        "WF701",
        "wasted-bytes",
        Severity.WARNING,
        "delete files in the same RUN that creates them; a later RUN only adds a whiteout",
    )
    PACKAGE_CACHE = (
        "WF702",
        "package-cache",
        Severity.WARNING,
        "pip install --no-cache-dir (or PIP_NO_CACHE_DIR=1); apt: rm -rf /var/lib/apt/lists/*",
    )
    CONTEXT_LEFTOVERS = (
        "WF703",
        "build-context-leftovers",
        Severity.WARNING,
        "add .git, venvs, notebooks and IDE folders to .dockerignore",
    )
    BUILD_TOOLS = (
        "WF704",
        "build-tools-in-image",
        Severity.WARNING,
        "compile in a builder stage; install only runtime packages in the final one",
    )
    IMAGE_GATE = (
        "WF705",
        "image-efficiency-gate",
        Severity.ERROR,
        "reduce wasted bytes, or relax --lowest-efficiency / --highest-wasted-*",
    )
    # --- WF8xx: Dockerfiles -----------------------------------------------------------------
    COPY_WHOLE_CONTEXT = (
        "WF801",
        "copy-context-without-dockerignore",
        Severity.WARNING,
        "add a .dockerignore (.git, venvs, notebooks, IDE folders) or COPY only what you need",
    )
    FULL_BASE_IMAGE = (
        "WF802",
        "full-python-base",
        Severity.INFO,
        "use python:X.Y-slim (Debian, glibc) for the runtime stage",
    )
    PIP_CACHE = (
        "WF803",
        "pip-cache-kept",
        Severity.WARNING,
        "pip install --no-cache-dir, or ENV PIP_NO_CACHE_DIR=1",
    )
    LATE_CLEANUP = (
        "WF804",
        "cleanup-in-later-run",
        Severity.WARNING,
        "delete in the same RUN that creates the files",
    )
    BUILD_TOOLS_FINAL_STAGE = (
        "WF805",
        "build-tools-in-final-stage",
        Severity.WARNING,
        "install compilers and -dev packages in a builder stage; copy wheels to the runner",
    )
    ALPINE_MANYLINUX = (
        "WF806",
        "alpine-with-manylinux-wheels",
        Severity.ERROR,
        "use a Debian-based (-slim) image, or provide musllinux wheels",
    )

    def __init__(self, code: str, slug: str, severity: Severity, hint: str) -> None:
        self.code = code
        self.slug = slug
        self.severity = severity
        self.hint = hint

    @property
    def scope(self) -> Scope:
        return _SCOPES.get(self.code[2], Scope.WHEEL)

    @classmethod
    def by_code(cls, code: str) -> Check:
        for check in cls:
            if check.code == code:
                return check
        raise KeyError(code)


_CODE_PREFIX = re.compile(r"WF\d{0,3}")


@dataclass(frozen=True, slots=True)
class Selection:
    """The checks a run reports: ``--select``/``--ignore`` resolved to registry members.

    Entries are codes or code prefixes (``WF2``, ``WF301``) or check names (``debug-info``).
    An entry that names no check is a usage error, found before anything runs, so a typo
    never silently turns a gate off.
    """

    checks: frozenset[Check]

    @classmethod
    def every(cls) -> Selection:
        return cls(frozenset(Check))

    @classmethod
    def resolve(
        cls, select: Iterable[str] = (), ignore: Iterable[str] = (), *, origin: str = ""
    ) -> Selection:
        """``origin`` names where the entries came from (a config file) in errors."""
        chosen = set(Check)
        selected = [_members(entry, "select", origin) for entry in _entries(select)]
        if selected:
            chosen = set().union(*selected)
        for entry in _entries(ignore):
            chosen -= _members(entry, "ignore", origin)
        return cls(frozenset(chosen))

    def __contains__(self, check: object) -> bool:
        return check in self.checks

    def any_of(self, checks: Iterable[Check]) -> bool:
        """True when at least one of ``checks`` is selected (so its function must run)."""
        return not self.checks.isdisjoint(checks)

    def keep(self, findings: Iterable[Finding]) -> list[Finding]:
        return [f for f in findings if f.check in self.checks]


def _entries(values: Iterable[str]) -> list[str]:
    """Split comma-separated entries; a lone string is one value, not its characters."""
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _members(entry: str, option: str, origin: str) -> set[Check]:
    where = f"{origin}: " if origin else ""
    upper = entry.upper()
    if _CODE_PREFIX.fullmatch(upper):
        found = {c for c in Check if c.code.startswith(upper)}
    else:
        found = {c for c in Check if c.slug == entry.lower()}
    if not found:
        from wheelfix.errors import UsageError  # noqa: PLC0415 - errors imports nothing back

        raise UsageError(
            f"{where}{option} {entry!r} matches no check code or name "
            "(codes look like WF2, WF301; every code is listed in docs/checks.md)"
        )
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing a check found.

    ``path`` is inside the wheel (or the tree), ``None`` when the finding is about the whole.
    """

    check: Check
    message: str
    path: str | None = None
    bytes: int | None = None
    severity: Severity | None = None
    #: how to fix it, where the check's general hint (written for wheels) does not fit
    fix: str | None = None

    @property
    def code(self) -> str:
        return self.check.code

    @property
    def name(self) -> str:
        return self.check.slug

    @property
    def level(self) -> Severity:
        return self.severity if self.severity is not None else self.check.severity

    @property
    def hint(self) -> str:
        return self.fix if self.fix is not None else self.check.hint

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.level.label,
            "path": self.path,
            "message": self.message,
            "bytes": self.bytes,
            "hint": self.hint,
        }


def gate_exit_code(findings: Iterable[Finding], fail_on: Severity | None) -> int:
    """The exit code a ``--fail-on`` gate gives: 1 when any finding is at or above
    ``fail_on``, else 0 (always 0 with no gate)."""
    if fail_on is None:
        return 0
    return 1 if any(f.level >= fail_on for f in findings) else 0
