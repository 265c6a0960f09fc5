"""Shared fixtures: a wheel factory, the committed sample wheels, compiled ELF fixtures.

The helpers behind them live in ``tests/wheelmaker.py`` (plain functions, usable from
session-scoped fixtures and from any test module).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from wheelmaker import Files, MakeWheel, build_wheel

# Expensive, session-wide fixtures (sample builds, the runner root filesystem, a wheel
# compiled from a PyPI sdist) live in tests/expensive.py.
pytest_plugins = ["expensive", "images"]

REPO = Path(__file__).resolve().parents[1]
ELF_FIXTURES = Path(__file__).resolve().parent / "unit" / "formats" / "elf_fixtures"


@pytest.fixture
def make_wheel(tmp_path: Path) -> MakeWheel:
    """Build a wheel in ``tmp_path`` with a correct RECORD unless told otherwise."""

    def make(
        files: Files,
        *,
        name: str = "demo",
        version: str = "1.0",
        tag: str = "py3-none-any",
        record: bool | str = True,
        wheel_text: str | None = None,
        metadata_text: str | None = None,
        filename: str | None = None,
        root_is_purelib: bool | None = None,
    ) -> Path:
        return build_wheel(
            tmp_path,
            files,
            name=name,
            version=version,
            tag=tag,
            record=record,
            wheel_text=wheel_text,
            metadata_text=metadata_text,
            filename=filename,
            root_is_purelib=root_is_purelib,
        )

    return make


@pytest.fixture(scope="session")
def sample_wheels_dir() -> Path:
    """``<repo>/sample_wheels``: the committed real ELF wheels (``wfdemo_*``)."""
    return REPO / "sample_wheels"


@pytest.fixture(scope="session")
def elf_fixtures(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, Path]:
    """``tests/unit/formats/elf_fixtures/wfelf.c`` compiled once per session: variant -> file.

    Variants: ``release``, ``debug``, ``stripped``, ``program``, ``object`` (``.o``), and
    where the toolchain allows ``isa`` (x86-64-v3 ISA note) and ``archive`` (``.a``). Skips
    the requesting tests when there is no C compiler.
    """
    spec = importlib.util.spec_from_file_location(
        "build_elf_fixtures", ELF_FIXTURES / "build_elf_fixtures.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    out_dir = tmp_path_factory.mktemp("elf-fixtures")
    try:
        built: dict[str, Path] = module.build_all(out_dir)
    except module.FixtureBuildError as exc:
        pytest.skip(f"cannot build the ELF fixtures: {exc}")
    return built
