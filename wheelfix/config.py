"""Settings from ``[tool.wheelfix]`` in the nearest ``pyproject.toml``, then the command line.

Command-line options win over the file. Unknown keys are an error, so a typo never
silently disables a gate.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from wheelfix.errors import UsageError
from wheelfix.findings import Selection

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["Config", "SlimConfig", "find_pyproject", "load_config"]

_CONTENT_INT_KEYS = {  # key -> ContentRules field; documented in docs/checks.md
    "duplicate-min-size": "duplicate_min_size",
    "max-compressed-size": "max_compressed_size",
    "max-unpacked-size": "max_unpacked_size",
    "max-files": "max_files",
    "max-path-length": "max_path_length",
}
_CONTENT_LIST_KEYS = ("expected-files", "unexpected-files", "toplevel", "package", "src-dir")
_KEYS = frozenset(
    {
        "fail-on",
        "select",
        "ignore",
        "target",
        "jobs",
        "max-uncompressed",
        "mixed-extensions",
        "exclude",
        *_CONTENT_INT_KEYS,
        *_CONTENT_LIST_KEYS,
    }
)
_SLIM_KEYS = frozenset({"categories", "keep", "strip", "python"})


@dataclass(frozen=True, slots=True, kw_only=True)
class SlimConfig:
    """``[tool.wheelfix.slim]``: the defaults of ``wheelfix slim``."""

    categories: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    strip: str | None = None
    python: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The settings of one run, for every command: the file's values, then the command line's.

    ``[tool.wheelfix]`` holds the keys every report understands (``fail-on``, ``select``,
    ``ignore``) and those of ``check`` (``target``, ``jobs``, ``max-uncompressed``);
    ``[tool.wheelfix.slim]`` those of ``slim``. :meth:`update` applies what the command
    line gave: a value given there wins, one not given leaves the file's.
    """

    fail_on: str | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    target: str | None = None
    jobs: int | None = None
    max_uncompressed: int | None = None
    #: content-check keys as given (``ContentRules`` field -> value), see ``content_rules``
    contents: tuple[tuple[str, object], ...] = ()
    #: ``package`` and ``src-dir``, resolved against the pyproject.toml's folder
    packages: tuple[Path, ...] = ()
    src_dirs: tuple[Path, ...] = ()
    #: ``exclude``: soname patterns provided at run time by something else
    exclude: tuple[str, ...] = ()
    slim: SlimConfig = field(default_factory=SlimConfig)
    #: the pyproject.toml the values came from, if any
    source: Path | None = None

    def update(self, **given: object) -> Config:
        """A copy with every value that was given (not ``None``, not empty) replacing ours."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(given) - known)
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(unknown)}")
        chosen = {k: v for k, v in given.items() if v is not None and v != ()}
        return replace(self, **chosen)  # type: ignore[arg-type]

    def selection(self) -> Selection:
        """``select``/``ignore`` resolved to checks; ``UsageError`` names an unknown entry."""
        origin = f"{self.source} [tool.wheelfix]" if self.source else ""
        return Selection.resolve(self.select, self.ignore, origin=origin)


def load_config(start: Path | None = None) -> Config:
    """The nearest ``pyproject.toml``'s settings (``Config()`` when there is none).

    Every value is validated here, codes included, so a typo is an error before any work."""
    found = _table(start, "wheelfix")
    if found is None:
        return Config()
    path, table = found
    config = _main_table(path, {k: v for k, v in table.items() if k != "slim"})
    slim = table.get("slim", {})
    if not isinstance(slim, dict):
        raise UsageError(f"{path}: [tool.wheelfix.slim] must be a table")
    config = replace(config, slim=_slim_table(path, slim))
    config.selection()  # validate the codes now, naming the file
    return config


def find_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _codes(value: object, key: str, source: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{source}: [tool.wheelfix] {key} must be a list of code prefixes")
    return tuple(v.strip() for v in value if v.strip())


def _table(start: Path | None, *names: str) -> tuple[Path, dict[str, Any]] | None:
    """The nearest pyproject.toml and its ``[tool.NAMES...]`` table (``{}`` if absent), or
    ``None`` when there is no pyproject.toml. ``UsageError`` for one that cannot be read."""
    path = find_pyproject(start or Path.cwd())
    if path is None:
        return None
    header = "[" + ".".join(("tool", *names)) + "]"
    try:
        table: Any = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read {header}: {exc}") from None
    for name in names:
        table = table.get(name, {}) if isinstance(table, dict) else table
    if not isinstance(table, dict):
        raise UsageError(f"{path}: {header} must be a table")
    return path, table


def _main_table(path: Path, flat: dict[str, Any]) -> Config:
    unknown = sorted(set(flat) - _KEYS)
    if unknown:
        raise UsageError(f"{path}: unknown key(s) in [tool.wheelfix]: {', '.join(unknown)}")
    jobs = flat.get("jobs")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 0):
        raise UsageError(f"{path}: [tool.wheelfix] jobs must be a non-negative integer")
    max_unc = flat.get("max-uncompressed")
    if max_unc is not None and (
        not isinstance(max_unc, int) or isinstance(max_unc, bool) or max_unc <= 0
    ):
        raise UsageError(f"{path}: [tool.wheelfix] max-uncompressed must be a positive integer")
    for key in ("fail-on", "target"):
        if key in flat and not isinstance(flat[key], str):
            raise UsageError(f"{path}: [tool.wheelfix] {key} must be a string")
    contents, packages, src_dirs = _content_keys(flat, path)
    return Config(
        contents=contents,
        exclude=_strings(flat.get("exclude", []), "exclude", path),
        packages=packages,
        src_dirs=src_dirs,
        fail_on=flat.get("fail-on"),
        select=_codes(flat.get("select", []), "select", path),
        ignore=_codes(flat.get("ignore", []), "ignore", path),
        target=flat.get("target"),
        jobs=jobs,
        max_uncompressed=max_unc,
        source=path,
    )


def _strings(value: object, key: str, source: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{source}: [tool.wheelfix] {key} must be a list of strings")
    return tuple(value)


def _content_keys(
    flat: dict[str, Any], path: Path
) -> tuple[tuple[tuple[str, object], ...], tuple[Path, ...], tuple[Path, ...]]:
    """The content-check keys of ``[tool.wheelfix]``, validated."""
    out: list[tuple[str, object]] = []
    for key, attr in _CONTENT_INT_KEYS.items():
        value = flat.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UsageError(f"{path}: [tool.wheelfix] {key} must be a non-negative integer")
        out.append((attr, value))
    for key in ("expected-files", "unexpected-files", "toplevel"):
        if key in flat:
            out.append((key.replace("-", "_"), _strings(flat[key], key, path)))
    if "mixed-extensions" in flat:
        groups = flat["mixed-extensions"]
        if not isinstance(groups, list) or not all(
            isinstance(g, list) and all(isinstance(e, str) and e.startswith(".") for e in g)
            for g in groups
        ):
            raise UsageError(
                f"{path}: [tool.wheelfix] mixed-extensions must be a list of lists of "
                'extensions, e.g. [[".yaml", ".yml"]]'
            )
        out.append(("mixed_extensions", tuple(tuple(g) for g in groups)))
    folders = [
        tuple(path.parent / p for p in _strings(flat.get(key, []), key, path))
        for key in ("package", "src-dir")
    ]
    return tuple(out), folders[0], folders[1]


def _slim_table(path: Path, table: dict[str, Any]) -> SlimConfig:
    unknown = sorted(set(table) - _SLIM_KEYS)
    if unknown:
        raise UsageError(f"{path}: unknown key(s) in [tool.wheelfix.slim]: {', '.join(unknown)}")
    lists = {}
    for key in ("categories", "keep"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{path}: [tool.wheelfix.slim] {key} must be a list of strings")
        lists[key] = tuple(value)
    for key in ("strip", "python"):
        if key in table and not isinstance(table[key], str):
            raise UsageError(f"{path}: [tool.wheelfix.slim] {key} must be a string")
    return SlimConfig(
        categories=lists["categories"],
        keep=lists["keep"],
        strip=table.get("strip"),
        python=table.get("python"),
    )
