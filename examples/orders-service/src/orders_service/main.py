"""The app factory, and the app uvicorn serves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from functools import partial
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, params
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .api.health import router as health_router
from .api.router import router as api_router
from .auth.dependencies import caller
from .auth.docs import add_sign_in, swagger_ui_sign_in
from .auth.verifier import TOKEN_VERIFIER, open_token_verifier
from .cache.fast_reads import CachedReadRoute
from .config import SERVICE, AccessLog, Settings, get_settings
from .core.problems import Problem, add_problem_handlers
from .core.routing import resolve_routes
from .domains import DOMAINS
from .observability.logging import configure_logging
from .observability.metrics import record_build
from .observability.metrics import router as metrics_router
from .observability.middleware import ObservabilityMiddleware
from .observability.tracing import create_tracing
from .ratelimit.limiter import RateLimiter, RateLimitHeaders, open_rate_limiter
from .state import Dependency, app_state, open_state, opened_state

if TYPE_CHECKING:
    from .observability.otel import Tracing

HEALTH = {"name": "health", "description": "Liveness and readiness probes."}


class Service(FastAPI):
    """FastAPI inside the observability middleware, with problem+json in its OpenAPI."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._routes_resolved = False
        # What adds to the generated OpenAPI document, in order (see `openapi`).
        self.openapi_extensions: list[Callable[[dict[str, Any]], None]] = []
        # Outside every other middleware, Starlette's error handler included: its 500s are
        # counted, logged and carry the request ID (and the rate limit's headers) too.
        self._observed = ObservabilityMiddleware(
            RateLimitHeaders(super().__call__, limiter=self._rate_limiter),
            log_every_request=settings.access_log is AccessLog.ALL,
            slow_seconds=settings.access_log_slow_seconds,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._observed(scope, receive, send)

    def _rate_limiter(self) -> RateLimiter | None:
        state = opened_state(self)
        return None if state is None else state.rate_limiter

    def build_middleware_stack(self) -> ASGIApp:
        # Built on the first request, when every route is in place: included routers' routes
        # are matched where they are (core/routing.py), and cached reads answered by a route
        # in front of them, inside every middleware.
        if not self._routes_resolved:
            cached_reads = CachedReadRoute.for_app(self, cache=lambda: app_state(self).cache)
            self.router.routes[:] = [*cached_reads, *resolve_routes(self.router.routes)]
            self._routes_resolved = True
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
            for extend in self.openapi_extensions:
                extend(schema)
            self.openapi_schema = schema
        return self.openapi_schema


def lifespan(
    settings: Settings, tracing: Tracing | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the app's state, then each domain's work; close them in reverse at shutdown."""

    @asynccontextmanager
    async def running(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_state(settings) as state,
            open_rate_limiter(settings, identify=caller) as rate_limiter,
            open_token_verifier(settings) as token_verifier,
            AsyncExitStack() as domains,
        ):
            state.rate_limiter = rate_limiter
            state[TOKEN_VERIFIER] = token_verifier
            if token_verifier is not None:
                # Reported, not required: tokens still verify with the keys fetched before.
                state.checks["identity_provider"] = Dependency(
                    token_verifier.keys.check, required=False
                )
            for domain in DOMAINS:
                if domain.lifespan is not None:
                    await domains.enter_async_context(domain.lifespan(state))
            app.state.opened = state
            if tracing is not None:
                tracing.start(state.engine)
            try:
                yield
            finally:
                if tracing is not None:
                    tracing.stop()
                del app.state.opened

    return running


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
    tracing = create_tracing(settings)
    app = Service(
        settings,
        # The service traces, counts and logs its requests itself (observability/): FastAPI's
        # own telemetry would do it twice, and checks its settings on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        dependencies=dependencies,
        title="Orders Service",
        description="Orders Service: a typed FastAPI service.",
        version=version(SERVICE),
        openapi_tags=[domain.tag for domain in DOMAINS] + [HEALTH],
        generate_unique_id_function=operation_id,
        lifespan=lifespan(settings, tracing),
    )
    add_problem_handlers(app)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(api)
    if settings.oidc_issuer is not None and settings.oidc_docs_client_id is not None:
        # Swagger UI's Authorize signs in at the provider, besides taking a pasted token.
        app.openapi_extensions.append(partial(add_sign_in, issuer=settings.oidc_issuer))
        app.swagger_ui_init_oauth = swagger_ui_sign_in(settings.oidc_docs_client_id, app.openapi())
    if tracing is not None:
        tracing.instrument_app(app)
    record_build(SERVICE, app.version)
    return app


app = create_app()
