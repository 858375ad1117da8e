"""What the items API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

NAME_RULE = "must not start or end with whitespace, or contain a line break"


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
NameText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^\S(?:.*\S)?$")]
Name = Annotated[NameText, WrapValidator(_name_rule)]
# Optional, but never null: the schema says so, and ItemUpdate's validator enforces it.
OptionalName = Annotated[NameText | SkipJsonSchema[None], WrapValidator(_name_rule)]
Description = Annotated[str, StringConstraints(max_length=2000)]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(examples=["Widget"])
    description: Description | None = Field(default=None, examples=["A small widget"])


class ItemUpdate(BaseModel):
    """A partial update: fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: OptionalName = None
    description: Description | None = None

    @model_validator(mode="after")
    def _name_is_not_null(self) -> Self:
        if "name" in self.model_fields_set and self.name is None:
            msg = "name cannot be null"
            raise ValueError(msg)
        return self


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime


class ItemPage(BaseModel):
    """One page of items and the total across all pages."""

    items: list[ItemRead]
    total: int = Field(ge=0)
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)
