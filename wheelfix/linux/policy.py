"""manylinux / musllinux policies, read from the data files shipped inside auditwheel.

auditwheel's policy JSON is the single source of truth for which libraries a tag may link
to, which symbol versions it may require and which symbols are forbidden. We read it as
data (never import auditwheel's Python modules, whose internals change every release) and
do the tag arithmetic here.

Priorities follow auditwheel: a higher priority is an *older*, more widely compatible
platform; the generic ``linux`` policy has priority 0.
"""

from __future__ import annotations

import enum
import functools
import importlib.resources
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from wheelfix.errors import ToolError, UsageError

__all__ = [
    "ANDROID_ABIS",
    "Libc",
    "Policy",
    "PolicySet",
    "TagInfo",
    "parse_platform_tag",
    "policies_for",
]


class Libc(enum.Enum):
    GLIBC = "glibc"
    MUSL = "musl"
    #: Android's bionic (PEP 738 ``android_<api>_<abi>`` tags)
    ANDROID = "android"

    @property
    def prefix(self) -> str:
        return {"glibc": "manylinux", "musl": "musllinux", "android": "android"}[self.value]


# musl's loader is called ld-musl-<arch>.so.1 and its libc soname libc.musl-<arch>.so.1; the
# <arch> spelling is musl's own, not the wheel tag's.
_T = TypeVar("_T")
_MUSL_ARCH = {"i686": "x86", "armv7l": "armv7"}
_LEGACY_ALIASES = {
    "manylinux1": "manylinux_2_5",
    "manylinux2010": "manylinux_2_12",
    "manylinux2014": "manylinux_2_17",
}
_TAG_RE = re.compile(r"^(?P<base>(?:many|musl)linux_\d+_\d+|manylinux\d+|linux)_(?P<arch>.+)$")
_ANDROID_RE = re.compile(r"^(?P<base>android_\d+)_(?P<abi>.+)$")
#: Android ABI names in tags (PEP 738) -> the architecture names of ELF files and policies
ANDROID_ABIS = {"arm64_v8a": "aarch64", "x86_64": "x86_64", "armeabi_v7a": "armv7l", "x86": "i686"}


@dataclass(frozen=True, slots=True)
class TagInfo:
    """A platform tag split into its parts, e.g. ``manylinux_2_17`` + ``x86_64``."""

    tag: str
    base: str
    arch: str

    @property
    def libc(self) -> Libc | None:
        if self.base.startswith("musllinux"):
            return Libc.MUSL
        if self.base.startswith("manylinux"):
            return Libc.GLIBC
        if self.base.startswith("android"):
            return Libc.ANDROID
        return None


def parse_platform_tag(tag: str) -> TagInfo | None:
    """Split a Linux platform tag; ``None`` for tags that are not about Linux (``any``, macOS)."""
    android = _ANDROID_RE.match(tag)
    if android is not None and android["abi"] in ANDROID_ABIS:
        return TagInfo(tag, android["base"], ANDROID_ABIS[android["abi"]])
    m = _TAG_RE.match(tag)
    if m is None:
        return None
    base = _LEGACY_ALIASES.get(m["base"], m["base"])
    return TagInfo(tag, base, m["arch"])


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """One platform policy for one architecture."""

    base: str
    arch: str
    libc: Libc
    priority: int
    aliases: tuple[str, ...]
    symbol_versions: Mapping[str, frozenset[str]]
    whitelist: frozenset[str]
    blacklist: Mapping[str, frozenset[str]]

    @property
    def name(self) -> str:
        if self.libc is Libc.ANDROID and not self.is_linux:
            abi = next(k for k, v in ANDROID_ABIS.items() if v == self.arch)
            return f"{self.base}_{abi}"
        return f"{self.base}_{self.arch}"

    @property
    def is_linux(self) -> bool:
        return self.priority == 0

    def __lt__(self, other: Policy) -> bool:
        return self.priority < other.priority

    def missing_versions(self, required: Iterable[str]) -> list[str]:
        """Symbol versions (``GLIBC_2.34``) that this policy does not allow, sorted."""
        if self.is_linux:
            return []
        missing = []
        for version in required:
            prefix, _, number = version.partition("_")
            allowed = self.symbol_versions.get(prefix)
            if allowed is not None and number not in allowed:
                missing.append(version)
        return sorted(missing)


class PolicySet:
    """The policies that apply to one (libc, architecture), ordered from ``linux`` upwards."""

    def __init__(self, libc: Libc, arch: str, policies: list[Policy]) -> None:
        self.libc = libc
        self.arch = arch
        self.policies = sorted(policies)

    def __iter__(self) -> Iterable[Policy]:  # pragma: no cover - convenience
        return iter(self.policies)

    @property
    def linux(self) -> Policy:
        return self.policies[0]

    @property
    def highest(self) -> Policy:
        return self.policies[-1]

    def by_tag(self, tag: str) -> Policy | None:
        info = parse_platform_tag(tag)
        if info is None or info.arch != self.arch:
            return None
        for p in self.policies:
            if p.base == info.base:
                return p
        return None

    def best_for_versions(self, required: Iterable[str]) -> Policy:
        needed = list(required)
        for p in reversed(self.policies):
            if not p.missing_versions(needed):
                return p
        return self.linux


def _field(raw: Mapping[str, object], key: str, kind: type[_T]) -> _T:
    value = raw.get(key)
    if not isinstance(value, kind):
        raise UsageError(f"auditwheel policy data: {key!r} has an unexpected shape")
    return value


@functools.cache
def _raw_policies(libc: Libc) -> list[dict[str, object]]:
    name = f"{libc.prefix}-policy.json"
    try:
        resource = importlib.resources.files("auditwheel").joinpath("policy").joinpath(name)
        text = resource.read_text()
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise ToolError(
            "auditwheel", f"cannot read its policy data ({name}): {exc}; is auditwheel installed?"
        ) from None
    data = json.loads(text)
    if not isinstance(data, list):
        raise UsageError(f"auditwheel policy file {name} has an unexpected shape")
    return data


def _musl_soname(soname: str, arch: str) -> str:
    if soname == "libc.so":
        return f"libc.musl-{_MUSL_ARCH.get(arch, arch)}.so.1"
    return soname


@functools.cache
def policies_for(libc: Libc, arch: str, musl_base: str | None = None) -> PolicySet:
    """The policy set for ``libc``/``arch``.

    musl has no symbol versioning, so nothing in a binary says which musllinux version it
    needs. For musl we keep one policy: ``musl_base`` (the one the filename claims) or the
    newest known, next to ``linux`` — as auditwheel does.
    """
    policies: list[Policy] = []
    for raw in _raw_policies(libc):
        base = str(raw["name"])
        versions = _field(raw, "symbol_versions", dict)
        if base != "linux" and arch not in versions:
            continue
        whitelist = _field(raw, "lib_whitelist", list)
        blacklist = _field(raw, "blacklist", dict)
        aliases = _field(raw, "aliases", list)
        policies.append(
            Policy(
                base=base,
                arch=arch,
                libc=libc,
                priority=int(str(raw["priority"])),
                aliases=tuple(f"{a}_{arch}" for a in aliases),
                symbol_versions={k: frozenset(v) for k, v in (versions.get(arch) or {}).items()},
                whitelist=frozenset(
                    _musl_soname(s, arch) if libc is Libc.MUSL else s for s in whitelist
                ),
                blacklist={k: frozenset(v) for k, v in blacklist.items()},
            )
        )
    if libc is Libc.ANDROID:
        # One policy, like auditwheel: the newest API level the claimed one allows
        # (``musl_base`` carries the claimed ``android_<api>``).
        claimed = _api_level(musl_base)
        fitting = sorted(
            (p for p in policies if not p.is_linux and _api_level(p.base) <= claimed),
            key=lambda p: _api_level(p.base),
        )
        policies = [p for p in policies if p.is_linux] + fitting[-1:]
    if libc is Libc.MUSL:
        musl = sorted(p for p in policies if not p.is_linux)
        if musl:
            chosen = next((p for p in musl if p.base == musl_base), musl[0])
            policies = [p for p in policies if p.is_linux or p is chosen]
    return PolicySet(libc, arch, policies)


def _api_level(base: str | None) -> int:
    """``android_24`` -> 24; an unknown or missing level counts as the newest."""
    if base is None or not base.startswith("android_"):
        return 1 << 30
    return int(base.removeprefix("android_"))


@functools.cache
def blacklisted_symbols() -> frozenset[str]:
    """Every symbol name any policy forbids: the names whose binding the ELF reader reports."""
    names: set[str] = set()
    for libc in Libc:
        for raw in _raw_policies(libc):
            for symbols in _field(raw, "blacklist", dict).values():
                names.update(symbols)
    return frozenset(names)
