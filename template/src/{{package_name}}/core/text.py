"""Text fields the domains' schemas share: a name, documented and enforced alike."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints, ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

NAME_RULE = "must not start or end with whitespace, or contain a line break"
# Whitespace and line breaks spelt out: the schema's regular expressions (ECMAScript's) and
# pydantic's (Rust's) read `\s` and `.` differently (U+0085, U+2028, U+FEFF).
SPACE = r"\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
LINE_BREAK = r"\n\r\u0085\u2028\u2029"
NAME_PATTERN = rf"^[^{SPACE}](?:[^{LINE_BREAK}]*[^{SPACE}])?$"


def _name_rule(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """The name pattern's refusal in words, rather than the regular expression."""
    try:
        return handler(value)
    except ValidationError as error:
        if any(e["type"] == "string_pattern_mismatch" for e in error.errors()):
            raise PydanticCustomError("string_pattern_mismatch", NAME_RULE) from None
        raise


# The documented constraints are the ones enforced: no silent stripping, which would accept
# input longer than maxLength. A name starts and ends with a visible character.
NameText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NAME_PATTERN)]
Name = Annotated[NameText, WrapValidator(_name_rule)]
# Optional, but never null: the schema says so, and an update model's validator enforces it.
OptionalName = Annotated[NameText | SkipJsonSchema[None], WrapValidator(_name_rule)]
