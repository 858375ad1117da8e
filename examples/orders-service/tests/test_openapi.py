"""The committed OpenAPI document matches the code, and documents every operation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orders_service.openapi import main, render_openapi

COMMITTED = Path(__file__).parents[1] / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from_file: dict[str, Any] = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return from_file


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_committed_document_matches_the_code() -> None:
    committed = COMMITTED.read_text(encoding="utf-8")

    assert committed == render_openapi(), "openapi.json is stale: run `make openapi` and commit it"


def test_is_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")


def test_every_operation_has_a_summary_and_tags(document: dict[str, Any]) -> None:
    for name, operation in operations(document):
        assert operation.get("summary"), f"{name} has no summary"
        assert operation.get("tags"), f"{name} has no tags"


def test_errors_are_documented_as_problems(document: dict[str, Any]) -> None:
    for name, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                assert "application/problem+json" in response["content"], f"{name} {status}"
    assert "Problem" in document["components"]["schemas"]


def test_export_writes_the_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"

    assert main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_openapi()
    assert main([]) == 2
