"""Helpers for validating wheelfix's JSON documents against the schemas in docs/schema/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

REPO = Path(__file__).resolve().parents[1]

Document = dict[str, Any]


def docs_schema(name: str) -> Path:
    return REPO / "docs" / "schema" / f"{name}.schema.json"


def package_schema(name: str) -> Path:
    return REPO / "wheelfix" / "schema" / f"{name}.schema.json"


def load_schema(name: str) -> Document:
    loaded: Document = json.loads(docs_schema(name).read_text(encoding="utf-8"))
    return loaded


def schema_errors(name: str, document: object) -> list[str]:
    validator = jsonschema.Draft202012Validator(load_schema(name))
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def round_trip(document: dict[str, object]) -> Document:
    """What a consumer of `--format json` sees (tuples become lists, and so on)."""
    loaded: Document = json.loads(json.dumps(document))
    return loaded
