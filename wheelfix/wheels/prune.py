"""What may be removed from a wheel, by category: a plan first, then applying it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from wheelfix.categories import Category, classify, kept_reasons, read_bounded, runtime_sources
from wheelfix.errors import UsageError
from wheelfix.formats.writer import iter_files

__all__ = ["PruneItem", "PrunePlan", "apply_plan", "parse_categories", "plan_prune", "prune_plan"]

_ALIASES = {c.value: c for c in Category} | {
    "build": Category.BUILD_LEFTOVERS,
    "leftovers": Category.BUILD_LEFTOVERS,
    "maps": Category.SOURCE_MAPS,
    "static": Category.STATIC,
}


def parse_categories(values: Iterable[str]) -> frozenset[Category]:
    """``tests,sources`` (comma-separated, repeatable) to categories; ``all`` for every one."""
    out: set[Category] = set()
    for value in values:
        for word in (w.strip().lower() for w in value.split(",")):
            if not word:
                continue
            if word == "all":
                out.update(Category)
            elif word in _ALIASES:
                out.add(_ALIASES[word])
            else:
                choices = ", ".join(sorted(c.value for c in Category))
                raise UsageError(f"unknown prune category {word!r} (choose from {choices}, all)")
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class PruneItem:
    path: str
    category: Category
    size: int


@dataclass(frozen=True, slots=True)
class PrunePlan:
    """What to delete, and what the categories select but the wheel's code reads at run
    time (group -> why, see ``categories.runtime_sources``)."""

    items: list[PruneItem]
    kept: dict[str, str] = field(default_factory=dict)


def prune_plan(root: Path, categories: frozenset[Category]) -> PrunePlan:
    """Files under an unpacked wheel that the categories select. ``*.dist-info`` never is;
    sources the wheel's own ``.py`` files name are kept (``PrunePlan.kept`` says why)."""
    files = {path.relative_to(root).as_posix(): path for path in iter_files(root)}
    spared = {}
    if Category.SOURCES in categories:
        base = os.fspath(root)
        spared = runtime_sources(list(files), lambda rel: read_bounded(f"{base}/{rel}"))
    items = []
    for rel, path in files.items():
        category = classify(rel)
        if category is not None and category in categories and rel not in spared:
            items.append(PruneItem(rel, category, path.stat().st_size))
    return PrunePlan(items, kept_reasons(spared))


def plan_prune(root: Path, categories: frozenset[Category]) -> list[PruneItem]:
    """``prune_plan(...).items``: the files to delete."""
    return prune_plan(root, categories).items


def apply_plan(root: Path, plan: list[PruneItem]) -> None:
    for item in plan:
        (root / item.path).unlink()
    # Empty folders left behind would be recreated by nobody: remove them, deepest first.
    for start in sorted({(root / i.path).parent for i in plan}, key=lambda p: -len(p.parts)):
        folder = start
        while folder != root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
