"""Orders endpoints: thin, documented, and free of business rules."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from ..auth.dependencies import auth_responses, requires
from ..cache.fast_reads import answered_from_cache
from ..core.problems import problem_responses
from ..ratelimit.limiter import LimitedRoute, api_rate_limit, rate_limit_responses
from .dependencies import OrderServiceDep, get_order_service
from .schemas import OrderCreate, OrderPage, OrderRead, OrderUpdate
from .service import cache_key

# The scopes an access token needs for each kind of route.
READ = "orders:read"
WRITE = "orders:write"

# Deep offsets make the database skip that many rows on every request.
MAX_OFFSET = 10_000

CREATED = {
    "description": "Created",
    "headers": {
        "Location": {
            "description": "The new order's URL",
            "schema": {"type": "string", "format": "uri-reference"},
        }
    },
}

router = APIRouter(
    prefix="/orders",
    tags=["orders"],
    route_class=LimitedRoute,
    # Every route needs a valid access token, and names the scope it needs besides.
    dependencies=[requires(), Depends(api_rate_limit)],
    responses={**auth_responses(), **rate_limit_responses()},
)


@router.post(
    "",
    summary="Create an order",
    dependencies=[requires(WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses={status.HTTP_201_CREATED: CREATED, **problem_responses(400, 409, 415, 422)},
)
async def create_order(
    data: OrderCreate, service: OrderServiceDep, request: Request, response: Response
) -> OrderRead:
    created = await service.create(data)
    # A path, under the app's root path: a relative reference needs no trust in Host.
    response.headers["Location"] = request.url_for("read_order", order_id=str(created.id)).path
    return created


@router.get(
    "",
    summary="List orders",
    dependencies=[requires(READ)],
    responses=problem_responses(422),
)
async def list_orders(
    service: OrderServiceDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Orders per page")] = 20,
    offset: Annotated[
        int,
        Query(ge=0, le=MAX_OFFSET, description="Orders to skip; filter rather than page deeper"),
    ] = 0,
) -> OrderPage:
    return await service.page(limit=limit, offset=offset)


@router.get(
    "/{order_id}",
    summary="Read an order",
    dependencies=[requires(READ)],
    response_model=OrderRead,
    responses=problem_responses(404, 422),
)
@answered_from_cache(cache_key("{order_id}"), loaders=[get_order_service])
async def read_order(order_id: UUID, service: OrderServiceDep) -> Response:
    # Cache hits are answered before routing (cache/fast_reads.py); on a miss the JSON the
    # service cached goes out as it is, without a parse and re-serialise.
    body = await service.get_json(order_id)
    return Response(body, media_type="application/json")


@router.patch(
    "/{order_id}",
    summary="Update an order",
    dependencies=[requires(WRITE)],
    responses=problem_responses(400, 404, 409, 415, 422),
)
async def update_order(order_id: UUID, data: OrderUpdate, service: OrderServiceDep) -> OrderRead:
    return await service.update(order_id, data)


@router.delete(
    "/{order_id}",
    summary="Delete an order",
    dependencies=[requires(WRITE)],
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,  # no body, so no Content-Type
    responses=problem_responses(404, 422),
)
async def delete_order(order_id: UUID, service: OrderServiceDep) -> None:
    await service.delete(order_id)
