"""Unsupported answers are refused with a message that says what to do, and nothing is written.

copier checks `choices` before the question's own validator, so a value outside the
choices is refused with copier's "Invalid choice" message, which lists the choices.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.rendering import render

NAME = {"project_name": "Orders Service"}


def invalid(question: str, message: str) -> str:
    """The message copier gives when a question's validator refuses the answer."""
    return f"Validation error for question '{question}': {message}"


def not_a_choice(question: str, value: str, choices: list[str]) -> str:
    """The message copier gives when an answer is not one of the question's choices."""
    return f"Invalid choice for '{question}': '{value}' is not in {choices}"


PYTHONS = ["3.11", "3.12", "3.13"]

UNSUPPORTED = [
    pytest.param(
        {"project_name": ""},
        invalid(
            "project_name",
            "project_name must not be empty: give the service a name such as",
        ),
        id="project_name-empty",
    ),
    pytest.param(
        {"project_name": "   "},
        invalid("project_name", "project_name must not be empty"),
        id="project_name-whitespace",
    ),
    pytest.param(
        {"project_name": 'Orders "Service"'},
        invalid(
            "project_name",
            "project_name must not contain double quotes, backslashes or line breaks",
        ),
        id="project_name-double-quote",
    ),
    pytest.param(
        {"project_name": "Orders\\Service"},
        invalid(
            "project_name",
            "project_name must not contain double quotes, backslashes or line breaks",
        ),
        id="project_name-backslash",
    ),
    pytest.param(
        {**NAME, "project_slug": "Orders_Service"},
        invalid(
            "project_slug",
            "project_slug 'Orders_Service' must be lower-case letters and digits separated "
            "by single hyphens, e.g. orders-service",
        ),
        id="project_slug-not-a-slug",
    ),
    pytest.param(
        {**NAME, "project_slug": "o" * 54},
        invalid("project_slug", "project_slug must be at most 53 characters"),
        id="project_slug-too-long",
    ),
    pytest.param(
        {**NAME, "package_name": "1-not-valid"},
        invalid("package_name", "'1-not-valid' is not a Python identifier: use lower-case"),
        id="package_name-not-identifier",
    ),
    pytest.param(
        {**NAME, "package_name": "class"},
        invalid("package_name", "'class' is a Python keyword"),
        id="package_name-keyword",
    ),
    pytest.param(
        {**NAME, "package_name": "json"},
        invalid(
            "package_name",
            "'json' shadows the standard library module of the same name",
        ),
        id="package_name-stdlib",
    ),
    pytest.param(
        {**NAME, "package_name": "Orders"},
        invalid("package_name", "'Orders' must be lower case (PEP 8 package names)"),
        id="package_name-upper-case",
    ),
    pytest.param(
        {"project_name": "Class"},
        invalid("package_name", "'class' is a Python keyword"),
        id="package_name-derived-from-project_name",
    ),
    pytest.param(
        {**NAME, "description": "  "},
        invalid("description", "description must not be empty"),
        id="description-empty",
    ),
    pytest.param(
        {**NAME, "description": "First line.\nSecond line."},
        invalid(
            "description",
            "description must be one line without double quotes or backslashes",
        ),
        id="description-multi-line",
    ),
    pytest.param(
        {**NAME, "description": 'The "orders" service.'},
        invalid(
            "description",
            "description must be one line without double quotes or backslashes",
        ),
        id="description-double-quote",
    ),
    pytest.param(
        {**NAME, "author_name": ""},
        invalid("author_name", "author_name must not be empty"),
        id="author_name-empty",
    ),
    pytest.param(
        {**NAME, "author_email": "not-an-email"},
        invalid(
            "author_email",
            "author_email 'not-an-email' is not an e-mail address (expected name@domain.tld)",
        ),
        id="author_email-not-an-email",
    ),
    pytest.param(
        {**NAME, "python_version": "2.7"},
        not_a_choice("python_version", "2.7", PYTHONS),
        id="python_version-2.7",
    ),
    pytest.param(
        {**NAME, "python_version": "3.10"},
        not_a_choice("python_version", "3.10", PYTHONS),
        id="python_version-3.10",
    ),
    pytest.param(
        {**NAME, "database": "mysql"},
        not_a_choice("database", "mysql", ["sqlite", "postgresql"]),
        id="database-mysql",
    ),
    pytest.param(
        {**NAME, "cache": "memcached"},
        not_a_choice("cache", "memcached", ["memory", "redis"]),
        id="cache-memcached",
    ),
    pytest.param(
        {**NAME, "vault": "consul"},
        not_a_choice("vault", "consul", ["none", "agent", "api"]),
        id="vault-consul",
    ),
    pytest.param(
        {**NAME, "license": "GPL"},
        not_a_choice("license", "GPL", ["MIT", "Apache-2.0", "Proprietary"]),
        id="license-GPL",
    ),
]


@pytest.mark.parametrize(("answers", "message"), UNSUPPORTED)
def test_refused_with_message(answers: dict[str, Any], message: str, tmp_path: Path) -> None:
    dst = tmp_path / "project"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        render(answers, dst)
    assert not dst.exists(), "a refused answer must not leave a half-rendered project behind"


def test_refusal_leaves_existing_destination_untouched(tmp_path: Path) -> None:
    dst = tmp_path / "project"
    dst.mkdir()
    (dst / "notes.txt").write_text("mine\n")
    with pytest.raises(ValueError, match="Invalid choice for 'database'"):
        render({**NAME, "database": "mysql"}, dst)
    assert [path.name for path in dst.iterdir()] == ["notes.txt"]
    assert (dst / "notes.txt").read_text() == "mine\n"
