"""A name is refused or accepted alike by the documented schema and by the service."""

from __future__ import annotations

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from orders_service.core.text import (
    NAME_PATTERN,
    NAME_RULE,
    Name,
)

NAMES = TypeAdapter(Name)


@pytest.mark.parametrize(
    "name", ["\u0085", "First\u2028line", "\ufeffFirst", "\u00a0", " First", "First\n", "a\rb"]
)
def test_whitespace_at_the_ends_and_line_breaks_are_refused_in_words(name: str) -> None:
    with pytest.raises(ValidationError) as refused:
        NAMES.validate_python(name)

    assert refused.value.errors()[0]["msg"] == NAME_RULE
    assert re.fullmatch(NAME_PATTERN, name) is None, "the schema's pattern refuses it too"


@pytest.mark.parametrize("name", ["A", "Widget", "Two words", "Ünïcödé\u00a0name", "a"])
def test_visible_ends_are_accepted(name: str) -> None:
    assert NAMES.validate_python(name) == name
    assert re.fullmatch(NAME_PATTERN, name) is not None
