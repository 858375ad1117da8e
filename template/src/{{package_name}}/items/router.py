"""Items endpoints: thin, documented, and free of business rules."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status

from ..problems import problem_responses
from ..rate_limit import api_rate_limit, rate_limit_responses
from .dependencies import ItemServiceDep
from .schemas import ItemCreate, ItemPage, ItemRead, ItemUpdate

# Deep offsets make the database skip that many rows on every request.
MAX_OFFSET = 10_000

router = APIRouter(
    prefix="/items",
    tags=["items"],
    dependencies=[Depends(api_rate_limit)],
    responses=rate_limit_responses(),
)


@router.post(
    "",
    summary="Create an item",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 409, 422),
)
async def create_item(data: ItemCreate, service: ItemServiceDep) -> ItemRead:
    return await service.create(data)


@router.get("", summary="List items", responses=problem_responses(422))
async def list_items(
    service: ItemServiceDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page")] = 20,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Items to skip; filter rather than page deeper")
    ] = 0,
) -> ItemPage:
    return await service.page(limit=limit, offset=offset)


@router.get(
    "/{item_id}",
    summary="Read an item",
    response_model=ItemRead,
    responses=problem_responses(404, 422),
)
async def read_item(item_id: UUID, service: ItemServiceDep, response: Response) -> Response:
    # The hot path (cache hits are answered before routing: cached_reads.py): the cached JSON
    # goes out as it is, without a parse and re-serialise. FastAPI adds the headers the
    # dependencies set (the rate limit's) only to responses it builds, so they are added here.
    body = await service.get_json(item_id)
    return Response(body, media_type="application/json", headers=response.headers)


@router.patch(
    "/{item_id}", summary="Update an item", responses=problem_responses(400, 404, 409, 422)
)
async def update_item(item_id: UUID, data: ItemUpdate, service: ItemServiceDep) -> ItemRead:
    return await service.update(item_id, data)


@router.delete(
    "/{item_id}",
    summary="Delete an item",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 422),
)
async def delete_item(item_id: UUID, service: ItemServiceDep) -> None:
    await service.delete(item_id)
