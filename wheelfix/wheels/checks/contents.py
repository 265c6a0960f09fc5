"""Contents: tests, bytecode, sources, static archives, leftovers, source maps, .pth code."""

from __future__ import annotations

import posixpath
from collections import defaultdict

from wheelfix.categories import Category, classify, test_root
from wheelfix.findings import Check, Finding
from wheelfix.formats.wheelfile import Member
from wheelfix.units import human
from wheelfix.wheels.checks import WheelView

__all__ = ["check_contents"]

_CHECKS = {
    Category.TESTS: Check.TESTS,
    Category.BYTECODE: Check.BYTECODE,
    Category.SOURCES: Check.SOURCES,
    Category.STATIC: Check.STATIC_ARCHIVES,
    Category.BUILD_LEFTOVERS: Check.BUILD_LEFTOVERS,
    Category.SOURCE_MAPS: Check.SOURCE_MAPS,
    Category.CACHES: Check.BUILD_LEFTOVERS,
}
_NOUNS = {  # (singular, plural)
    Category.TESTS: ("test file", "test files"),
    Category.BYTECODE: ("bytecode file", "bytecode files"),
    Category.SOURCES: ("C/C++/Cython/Fortran source", "C/C++/Cython/Fortran sources"),
    Category.STATIC: ("static archive or object file", "static archives or object files"),
    Category.BUILD_LEFTOVERS: ("build/editor/VCS leftover", "build/editor/VCS leftovers"),
    Category.SOURCE_MAPS: ("source map", "source maps"),
    Category.CACHES: ("tool cache file", "tool cache files"),
}


def check_contents(view: WheelView) -> list[Finding]:
    groups: dict[tuple[Category, str], list[Member]] = defaultdict(list)
    for member in view.members:
        category = classify(member.name)
        if category is None and member.name in view.static_archives:
            category = Category.STATIC
        if category is None:
            continue
        if category is Category.TESTS:
            key = test_root(member.name) or posixpath.dirname(member.name)
        else:
            key = posixpath.dirname(member.name) or "."
        groups[(category, key)].append(member)
    out = []
    for (category, folder), members in sorted(
        groups.items(), key=lambda kv: (kv[0][0].value, kv[0][1])
    ):
        total = sum(m.size for m in members)
        examples = ", ".join(posixpath.basename(m.name) for m in members[:3])
        more = f" and {len(members) - 3} more" if len(members) > 3 else ""
        out.append(
            Finding(
                check=_CHECKS[category],
                path=folder + "/"
                if category is Category.TESTS
                else (members[0].name if len(members) == 1 else folder + "/"),
                bytes=total,
                message=f"{len(members)} {_NOUNS[category][len(members) != 1]} ({human(total)}): "
                f"{examples}{more}",
            )
        )
    out += _pth_findings(view)
    out += _case_collisions(view)
    return out


def _pth_findings(view: WheelView) -> list[Finding]:
    out = []
    for name, text in sorted(view.texts.items()):
        if not name.endswith(".pth"):
            continue
        lines = [ln for ln in text.splitlines() if ln.startswith(("import ", "import\t"))]
        if lines:
            out.append(
                Finding(
                    check=Check.PTH_IMPORT,
                    path=name,
                    message=f"runs code at every interpreter start: {lines[0][:80]!r}",
                )
            )
    return out


def _case_collisions(view: WheelView) -> list[Finding]:
    seen: dict[str, str] = {}
    out = []
    for member in view.members:
        folded = member.name.casefold()
        if folded in seen:
            out.append(
                Finding(
                    check=Check.CASE_COLLISION,
                    path=member.name,
                    message=f"{member.name} and {seen[folded]} differ only by case",
                )
            )
        else:
            seen[folded] = member.name
    return out
