"""Platform tags and the auditwheel policy data: parsing, ordering, forbidden symbols.

The policies are the JSON files shipped inside the installed auditwheel package (real data,
not a copy); the shape errors are reached with a broken copy of that data on ``sys.path``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wheelfix.errors import ToolError, UsageError
from wheelfix.linux import policy
from wheelfix.linux.policy import Libc, TagInfo, parse_platform_tag, policies_for


@pytest.mark.parametrize(
    ("tag", "base", "arch", "libc"),
    [
        ("manylinux_2_17_x86_64", "manylinux_2_17", "x86_64", Libc.GLIBC),
        ("manylinux_2_28_aarch64", "manylinux_2_28", "aarch64", Libc.GLIBC),
        ("manylinux1_x86_64", "manylinux_2_5", "x86_64", Libc.GLIBC),
        ("manylinux2010_i686", "manylinux_2_12", "i686", Libc.GLIBC),
        ("manylinux2014_ppc64le", "manylinux_2_17", "ppc64le", Libc.GLIBC),
        ("musllinux_1_2_x86_64", "musllinux_1_2", "x86_64", Libc.MUSL),
        ("musllinux_1_1_armv7l", "musllinux_1_1", "armv7l", Libc.MUSL),
        ("linux_x86_64", "linux", "x86_64", None),
        ("linux_s390x", "linux", "s390x", None),
        ("android_24_arm64_v8a", "android_24", "aarch64", Libc.ANDROID),
        ("android_21_armeabi_v7a", "android_21", "armv7l", Libc.ANDROID),
        ("android_30_x86", "android_30", "i686", Libc.ANDROID),
    ],
)
def test_parse_linux_tags(tag: str, base: str, arch: str, libc: Libc | None) -> None:
    info = parse_platform_tag(tag)
    assert info == TagInfo(tag, base, arch)
    assert info.libc is libc


@pytest.mark.parametrize(
    "tag",
    [
        "any",
        "win_amd64",
        "macosx_11_0_arm64",
        "",
        "linux",
        "manylinux_2_x86_64",
        "manylinux_x_17_x86_64",
        "musllinux1_x86_64",
        "manylinux_2_17_",
        "android_24_mips",  # not a PEP 738 ABI
    ],
)
def test_parse_rejects_what_is_not_a_linux_tag(tag: str) -> None:
    assert parse_platform_tag(tag) is None


def test_legacy_alias_keeps_the_tag_as_written() -> None:
    info = parse_platform_tag("manylinux2014_x86_64")
    assert info is not None
    assert (info.tag, info.base) == ("manylinux2014_x86_64", "manylinux_2_17")


def test_glibc_policies_are_ordered_from_linux_to_the_oldest_glibc() -> None:
    policies = policies_for(Libc.GLIBC, "x86_64")
    priorities = [p.priority for p in policies.policies]
    assert priorities == sorted(priorities)
    assert policies.linux.name == "linux_x86_64"
    assert policies.linux.is_linux
    assert policies.highest.name == "manylinux_2_5_x86_64"
    assert "manylinux1_x86_64" in policies.highest.aliases
    names = [p.name for p in policies.policies]
    assert names.index("manylinux_2_28_x86_64") < names.index("manylinux_2_17_x86_64")
    assert all(p.arch == "x86_64" and p.libc is Libc.GLIBC for p in policies.policies)


def test_by_tag_understands_aliases_and_refuses_other_arches() -> None:
    policies = policies_for(Libc.GLIBC, "x86_64")
    found = policies.by_tag("manylinux2014_x86_64")
    assert found is not None
    assert found.name == "manylinux_2_17_x86_64"
    assert policies.by_tag("manylinux_2_17_aarch64") is None
    assert policies.by_tag("macosx_11_0_arm64") is None
    assert policies.by_tag("manylinux_2_99_x86_64") is None


def test_versions_decide_the_best_policy() -> None:
    policies = policies_for(Libc.GLIBC, "x86_64")
    assert policies.best_for_versions([]).name == "manylinux_2_5_x86_64"
    assert policies.best_for_versions(["GLIBC_2.25"]).name == "manylinux_2_26_x86_64"
    assert policies.best_for_versions(["GLIBC_99.0"]).name == "linux_x86_64"
    m17 = policies.by_tag("manylinux_2_17_x86_64")
    assert m17 is not None
    assert m17.missing_versions(["GLIBC_2.25", "GLIBC_2.2.5", "GLIBC_2.28"]) == [
        "GLIBC_2.25",
        "GLIBC_2.28",
    ]
    assert m17.missing_versions(["UNKNOWNLIB_1.0"]) == []  # not versioned by the policy
    assert policies.linux.missing_versions(["GLIBC_99.0"]) == []


def test_unknown_arch_has_only_linux() -> None:
    policies = policies_for(Libc.GLIBC, "no_such_arch")
    assert [p.name for p in policies.policies] == ["linux_no_such_arch"]
    assert policies.highest is policies.linux


def test_musl_keeps_linux_and_one_policy() -> None:
    default = policies_for(Libc.MUSL, "x86_64")
    assert [p.name for p in default.policies] == ["linux_x86_64", "musllinux_1_2_x86_64"]
    claimed = policies_for(Libc.MUSL, "x86_64", "musllinux_1_1")
    assert [p.name for p in claimed.policies] == ["linux_x86_64", "musllinux_1_1_x86_64"]


def test_musl_libc_soname_uses_musls_arch_spelling() -> None:
    assert "libc.musl-x86.so.1" in policies_for(Libc.MUSL, "i686").highest.whitelist
    assert "libc.musl-x86_64.so.1" in policies_for(Libc.MUSL, "x86_64").highest.whitelist
    assert "libc.so" not in policies_for(Libc.MUSL, "x86_64").highest.whitelist


def test_android_keeps_the_newest_level_the_claim_allows() -> None:
    newest = policies_for(Libc.ANDROID, "aarch64")
    assert newest.linux.is_linux
    assert newest.highest.name.startswith("android_")
    assert newest.highest.name.endswith("_arm64_v8a")
    claimed = policies_for(Libc.ANDROID, "aarch64", "android_24")
    assert claimed.highest.name == "android_24_arm64_v8a"
    too_old = policies_for(Libc.ANDROID, "aarch64", "android_1")
    assert [p.name for p in too_old.policies] == ["linux_aarch64"]


def test_blacklisted_symbols_come_from_every_policy_file() -> None:
    names = policy.blacklisted_symbols()
    assert "_dist_code" in names  # zlib's internal table, forbidden by manylinux
    assert all(isinstance(n, str) and n for n in names)
    glibc = policies_for(Libc.GLIBC, "x86_64").highest.blacklist
    assert set().union(*glibc.values()) <= names


@pytest.fixture
def broken_auditwheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A stand-in ``auditwheel`` package first on ``sys.path`` whose policy files a test
    writes; the real package (and the caches) are back afterwards."""
    folder = tmp_path / "auditwheel" / "policy"
    folder.mkdir(parents=True)
    (tmp_path / "auditwheel" / "__init__.py").write_text("", encoding="utf-8")
    for name in list(sys.modules):
        if name == "auditwheel" or name.startswith("auditwheel."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    clear = (policy._raw_policies.cache_clear, policies_for.cache_clear)
    for c in (*clear, policy.blacklisted_symbols.cache_clear):
        c()
    yield folder
    for c in (*clear, policy.blacklisted_symbols.cache_clear):
        c()


def test_policy_file_that_is_not_a_list(broken_auditwheel: Path) -> None:
    (broken_auditwheel / "manylinux-policy.json").write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(UsageError, match="unexpected shape"):
        policies_for(Libc.GLIBC, "x86_64")


def test_policy_entry_with_a_wrongly_shaped_field(broken_auditwheel: Path) -> None:
    entry = {
        "name": "manylinux_2_5",
        "priority": 100,
        "aliases": [],
        "symbol_versions": {"x86_64": {"GLIBC": ["2.2.5"]}},
        "lib_whitelist": "libc.so.6",  # a string, not a list
        "blacklist": {},
    }
    text = json.dumps([entry])
    (broken_auditwheel / "manylinux-policy.json").write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match="lib_whitelist"):
        policies_for(Libc.GLIBC, "x86_64")


def test_missing_policy_file_is_a_tool_error(broken_auditwheel: Path) -> None:
    with pytest.raises(ToolError) as info:
        policies_for(Libc.MUSL, "x86_64")
    assert info.value.tool == "auditwheel"
    assert info.value.exit_code == 3
