"""What the items API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ..core.text import Name, OptionalName

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
