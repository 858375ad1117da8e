"""The app factory, and the app uvicorn serves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, params
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .api.health import router as health_router
from .api.router import router as api_router
from .config import SERVICE, Settings, get_settings
from .core.problems import Problem, add_problem_handlers
from .items.cached_reads import CachedItemReads
from .observability.logging import configure_logging
from .observability.metrics import record_build
from .observability.metrics import router as metrics_router
from .observability.middleware import ObservabilityMiddleware
from .observability.tracing import create_tracing
from .ratelimit.limiter import RateLimitHeaders, open_rate_limiter
from .state import open_state

if TYPE_CHECKING:
    from .observability.otel import Tracing

TAGS = [
    {"name": "items", "description": "The example resource: create, read, list, update, delete."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


class Service(FastAPI):
    """FastAPI inside the observability middleware, with problem+json in its OpenAPI."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Outside every other middleware, Starlette's error handler included: its 500s are
        # counted, logged and carry the request ID (and the rate limit's headers) too.
        self._observed = ObservabilityMiddleware(RateLimitHeaders(super().__call__))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._observed(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        # A middleware that answers requests itself (`innermost`, a fast path) runs inside
        # every other, whatever the order they were added in: what it answers has passed them.
        self.user_middleware.sort(key=lambda entry: getattr(entry.cls, "innermost", False))
        return super().build_middleware_stack()

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = get_openapi(
                title=self.title,
                version=self.version,
                openapi_version=self.openapi_version,
                description=self.description,
                routes=self.routes,
                tags=self.openapi_tags,
            )
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = Problem.model_json_schema()
            self.openapi_schema = schema
        return self.openapi_schema


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    tracing: Tracing | None = app.state.tracing
    async with (
        open_state(app.state.settings) as state,
        open_rate_limiter(app.state.settings) as rate_limiter,
    ):
        app.state.resources = state
        app.state.rate_limiter = rate_limiter
        if tracing is not None:
            tracing.start(state.engine)
        try:
            yield
        finally:
            if tracing is not None:
                tracing.stop()


def operation_id(route: APIRoute) -> str:
    """Operation IDs from endpoint names (`create_item`), stable for generated clients."""
    return route.name


def create_app(
    settings: Settings | None = None,
    *,
    api: APIRouter = api_router,
    dependencies: Sequence[params.Depends] = (),
) -> FastAPI:
    """The service: `api` is served beside the probes and metrics, and `dependencies`
    apply to every route (as FastAPI's own `dependencies=`).
    """
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = Service(
        dependencies=dependencies,
        title="Orders Service",
        description="Orders Service: a typed FastAPI service.",
        version=version(SERVICE),
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.rate_limiter = None
    app.state.tracing = create_tracing(settings)
    add_problem_handlers(app)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(api)
    app.add_middleware(CachedItemReads, service=app)
    if app.state.tracing is not None:
        app.state.tracing.instrument_app(app)
    record_build(SERVICE, app.version)
    return app


app = create_app()
