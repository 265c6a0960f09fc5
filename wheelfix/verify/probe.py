"""The import probe, run by *another* interpreter: ``python -c SOURCE FOLDER MODULE...``.

The runner proof runs it with the bare root filesystem's ``python3`` (inside ``chroot``),
and slim's import checks with the environment's interpreter (``--python``); neither has
wheelfix installed, so it is handed over as source (:data:`wheelfix.verify.runner.IMPORT_PROBE`)
and uses the standard library only. It puts FOLDER first on ``sys.path``, imports each
MODULE, then runs code read from stdin, and prints one JSON line: the error (or ``null``)
per module (``"<code>"`` for the code), the interpreter's version, and ``loaded``: the files
of every module the imports loaded from inside FOLDER (relative, ``/``-separated).
"""

from __future__ import annotations

import importlib
import json
import os
import sys


def probe(folder: str, names: list[str], code: str) -> dict[str, object]:
    """Import ``names`` (and run ``code``) with ``folder`` first on ``sys.path``."""
    real = os.path.realpath(folder)
    sys.path.insert(0, folder)
    modules: dict[str, str | None] = {}
    for name in names:
        try:
            importlib.import_module(name)
            modules[name] = None
        except BaseException as exc:  # noqa: BLE001 - every failure is the answer
            modules[name] = f"{type(exc).__name__}: {exc}"
    if code.strip():
        try:
            exec(compile(code, "<proof>", "exec"), {})  # noqa: S102 - the caller's own workload
            modules["<code>"] = None
        except BaseException as exc:  # noqa: BLE001 - every failure is the answer
            modules["<code>"] = f"{type(exc).__name__}: {exc}"
    return {
        "python": "%d.%d" % sys.version_info[:2],  # noqa: UP031 - runs on old Pythons too
        "modules": modules,
        "loaded": sorted(_loaded_from(real)),
    }


def _loaded_from(folder: str) -> set[str]:
    loaded = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            rel = os.path.relpath(os.path.realpath(path), folder)
            if rel != ".." and not rel.startswith("../"):
                loaded.add(rel.replace(os.sep, "/"))
    return loaded


def main() -> None:
    print(json.dumps(probe(sys.argv[1], sys.argv[2:], sys.stdin.read())))


if __name__ == "__main__":
    main()
