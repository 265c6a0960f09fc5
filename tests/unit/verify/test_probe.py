"""The import probe, as the other interpreter runs it: ``python -c SOURCE FOLDER MODULE...``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from wheelfix.verify.runner import IMPORT_PROBE


def run(folder: Path, *modules: str, code: str = "") -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-I", "-B", "-c", IMPORT_PROBE, str(folder), *modules],
        input=code,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_imports_report_errors_and_loaded_files(tmp_path: Path) -> None:
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "__init__.py").write_text("from . import helper\n")
    (tmp_path / "good" / "helper.py").write_text("VALUE = 1\n")
    (tmp_path / "bad.py").write_text("import no_such_module_here\n")
    result = run(tmp_path, "good", "bad", code="import good\nassert good.helper.VALUE == 1\n")
    modules = result["modules"]
    assert isinstance(modules, dict)
    assert modules["good"] is None
    assert modules["<code>"] is None
    assert str(modules["bad"]).startswith("ModuleNotFoundError: ")
    assert result["loaded"] == ["good/__init__.py", "good/helper.py"]
    assert result["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_failing_code_is_reported_not_raised(tmp_path: Path) -> None:
    result = run(tmp_path, code="raise SystemExit(3)\n")
    modules = result["modules"]
    assert isinstance(modules, dict)
    assert modules["<code>"] == "SystemExit: 3"


def test_the_probe_is_the_module_source() -> None:
    from wheelfix.verify import probe

    assert Path(probe.__file__).read_text(encoding="utf-8") == IMPORT_PROBE
