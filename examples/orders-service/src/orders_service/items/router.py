"""Items endpoints: thin, documented, and free of business rules."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from ..auth.dependencies import auth_responses, requires
from ..cache.fast_reads import answered_from_cache
from ..core.problems import problem_responses
from ..ratelimit.limiter import LimitedRoute, api_rate_limit, rate_limit_responses
from .dependencies import ItemServiceDep, get_item_service
from .schemas import ItemCreate, ItemPage, ItemRead, ItemUpdate
from .service import cache_key

# The scopes an access token needs for each kind of route.
READ = "items:read"
WRITE = "items:write"

# Deep offsets make the database skip that many rows on every request.
MAX_OFFSET = 10_000

CREATED = {
    "description": "Created",
    "headers": {
        "Location": {
            "description": "The new item's URL",
            "schema": {"type": "string", "format": "uri-reference"},
        }
    },
}

router = APIRouter(
    prefix="/items",
    tags=["items"],
    route_class=LimitedRoute,
    # Every route needs a valid access token, and names the scope it needs besides.
    dependencies=[requires(), Depends(api_rate_limit)],
    responses={**auth_responses(), **rate_limit_responses()},
)


@router.post(
    "",
    summary="Create an item",
    dependencies=[requires(WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses={status.HTTP_201_CREATED: CREATED, **problem_responses(400, 409, 415, 422)},
)
async def create_item(
    data: ItemCreate, service: ItemServiceDep, request: Request, response: Response
) -> ItemRead:
    item = await service.create(data)
    # A path, under the app's root path: a relative reference needs no trust in Host.
    response.headers["Location"] = request.url_for("read_item", item_id=str(item.id)).path
    return item


@router.get(
    "",
    summary="List items",
    dependencies=[requires(READ)],
    responses=problem_responses(422),
)
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
    dependencies=[requires(READ)],
    response_model=ItemRead,
    responses=problem_responses(404, 422),
)
@answered_from_cache(cache_key("{item_id}"), loaders=[get_item_service])
async def read_item(item_id: UUID, service: ItemServiceDep) -> Response:
    # The hot path (cache hits are answered before routing: cache/fast_reads.py): the cached
    # JSON goes out as it is, without a parse and re-serialise.
    body = await service.get_json(item_id)
    return Response(body, media_type="application/json")


@router.patch(
    "/{item_id}",
    summary="Update an item",
    dependencies=[requires(WRITE)],
    responses=problem_responses(400, 404, 409, 415, 422),
)
async def update_item(item_id: UUID, data: ItemUpdate, service: ItemServiceDep) -> ItemRead:
    return await service.update(item_id, data)


@router.delete(
    "/{item_id}",
    summary="Delete an item",
    dependencies=[requires(WRITE)],
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,  # no body, so no Content-Type
    responses=problem_responses(404, 422),
)
async def delete_item(item_id: UUID, service: ItemServiceDep) -> None:
    await service.delete(item_id)
