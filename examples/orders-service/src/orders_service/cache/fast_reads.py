"""Cache hits of read routes, answered before FastAPI routes the request.

A read route whose endpoint answers the cached bytes as they are (`Response(body)`) opts
in with one declaration:

    @router.get("/{item_id}")
    @answered_from_cache("items:{item_id}", loaders=[get_item_service])
    async def read_item(item_id: UUID, service: ItemServiceDep) -> Response: ...

`key` is formatted with the request's path parameters as sent, so an id spelt otherwise
than the cache keys it misses and goes to the route, which parses it. `loaders` are the
dependencies the endpoint loads with (its service): a cache hit needs none of them.

`CachedReadRoute` is a route the app puts in front of its own, so what it answers has passed
every middleware and its errors reach the app's exception handlers. On a hit it runs
every other dependency of the route, at every level (app, routers, route, and theirs), in
the route's order: authentication, the rate limit and a team's own checks run and refuse
exactly as they would on the route. FastAPI's own solver runs those with parameters,
sub-dependencies or `yield`; one that takes the request alone is awaited directly, at a
fraction of the solver's cost. On a miss, or while a loader is overridden (in tests), the
request goes on to the route, which loads, caches and answers. What it saves is the rest
of routing, the endpoint's own parameters and its response handling.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import solve_dependencies
from fastapi.exceptions import RequestValidationError
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.background import BackgroundTasks
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from ..core.routing import ROUTE_TEMPLATE
from ..observability.metrics import record_cache_hit
from .aside import CacheAside

MARK = "__answered_from_cache__"
# Set on a request the route in front passed on, so routing does not offer it again.
PASSED = "cached_reads.passed"


# What a dependency may declare and still be called directly: the request, and nothing else.
OTHER_INPUTS = (
    "path_params",
    "query_params",
    "header_params",
    "cookie_params",
    "body_params",
    "dependencies",
    "websocket_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
)


@dataclass(frozen=True, slots=True)
class CachedRead:
    key: str
    loaders: frozenset[Callable[..., Any]]
    media_type: str


def answered_from_cache[E: Callable[..., Any]](
    key: str, *, loaders: Iterable[Callable[..., Any]] = (), media_type: str = "application/json"
) -> Callable[[E], E]:
    """Let `CachedReadRoute` answer this endpoint's cache hits (the cached bytes under `key`)."""

    def mark(endpoint: E) -> E:
        setattr(endpoint, MARK, CachedRead(key, frozenset(loaders), media_type))
        return endpoint

    return mark


def without(
    dependencies: Iterable[Dependant], loaders: frozenset[Callable[..., Any]]
) -> Iterator[Dependant]:
    """The dependencies a hit must still solve: all but the loaders, whose own
    dependencies (authentication, say) stay."""
    for dependency in dependencies:
        if dependency.call in loaders:
            yield from without(dependency.dependencies, loaders)
        else:
            yield dependency


# A step of the guards: a dependency awaited with the request, or ones FastAPI solves.
Step = Callable[[Request], Awaitable[Any]] | Dependant


def guard_steps(dependencies: list[Dependant], path: str) -> list[Step]:
    """The dependencies in order, each `async` callable of the request alone (the rate limit,
    the app's state) as a plain await, the others (parameters, sub-dependencies, `yield`, a
    plain `def`) grouped for FastAPI's solver. One awaited directly that the solver would
    also meet, beneath another, goes to the solver, whose cache then runs it once; a
    repeated one is awaited once unless it opts out of that cache (`use_cache=False`)."""
    solved: set[Callable[..., Any] | None] = set()
    for dependency in dependencies:
        if not _direct(dependency):
            solved |= _calls(dependency)
    steps: list[Step] = []
    awaited: set[Callable[..., Any]] = set()
    for dependency in dependencies:
        call = dependency.call
        if call is not None and _direct(dependency) and call not in solved:
            if dependency.use_cache and call in awaited:
                continue
            awaited.add(call)
            name = dependency.request_param_name
            steps.append(call if name is None else _with_request(call, name))
        elif steps and isinstance(steps[-1], Dependant):
            steps[-1].dependencies.append(dependency)
        else:
            steps.append(Dependant(dependencies=[dependency], path=path))
    return steps


def _direct(dependency: Dependant) -> bool:
    call = dependency.call
    asynchronous = inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - an instance with an async __call__
    )
    return asynchronous and not any(getattr(dependency, f) for f in OTHER_INPUTS)


def _calls(dependency: Dependant) -> set[Callable[..., Any] | None]:
    """The dependency's call and those of everything beneath it."""
    calls = {dependency.call}
    for beneath in dependency.dependencies:
        calls |= _calls(beneath)
    return calls


def _with_request(
    call: Callable[..., Awaitable[Any]], name: str
) -> Callable[[Request], Awaitable[Any]]:
    return lambda request: call(**{name: request})


class CachedReadRoute(BaseRoute):
    """A route in front of the app's own that answers one opted-in read's cache hits."""

    def __init__(self, app: FastAPI, route: RouteContext, cache: Callable[[], CacheAside]) -> None:
        self._app = app
        self._route = route
        self._cache = cache
        self.read: CachedRead = getattr(route.endpoint, MARK)
        # What routing, metrics and traces name the request by: the route's own template.
        self.path = self.path_format = str(route.path_format)
        self._prefix = self.path.partition("{")[0]
        self.guards = Dependant(
            dependencies=list(without(route.dependant.dependencies, self.read.loaders)),
            path=self.path,
        )
        self._steps = guard_steps(self.guards.dependencies, self.path)
        awaited = [step for step in self._steps if not isinstance(step, Dependant)]
        # The steps when none needs the solver: then a hit needs no exit stacks either.
        self._awaited_only = awaited if len(awaited) == len(self._steps) else None

    @classmethod
    def for_app(cls, app: FastAPI, cache: Callable[[], CacheAside]) -> list[CachedReadRoute]:
        """One for each GET route of the app that opted in."""
        return [
            cls(app, route, cache)
            for route in iter_route_contexts(app.routes)
            if hasattr(route.endpoint, MARK) and "GET" in (route.methods or ())
        ]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "GET" or PASSED in scope:
            return Match.NONE, {}
        root_path: str = scope.get("root_path", "")
        if not scope["path"].startswith(self._prefix, len(root_path)):
            return Match.NONE, {}
        match, child_scope = self._route.matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        return Match.FULL, {"path_params": child_scope["path_params"]}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # the route it answers for has the name

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = None
        if not self._app.dependency_overrides.keys() & self.read.loaders:
            body = await self._cache().peek(self.read.key.format_map(scope["path_params"]))
        if body is None:
            scope[PASSED] = True
            await self._app.router(scope, receive, send)
            return
        request = Request(scope, receive, send)
        # An override may replace any dependency with one that needs the solver.
        overridden = bool(self._app.dependency_overrides)
        if self._awaited_only is not None and not overridden:
            for call in self._awaited_only:
                await call(request)
            await self._answer(scope, receive, send, body)
            return
        steps: list[Step] = [self.guards] if overridden else self._steps
        async with AsyncExitStack() as request_stack:
            scope["fastapi_inner_astack"] = request_stack
            async with AsyncExitStack() as function_stack:
                scope["fastapi_function_astack"] = function_stack
                background = await self._solve(request, steps, request_stack)
            await self._answer(scope, receive, send, body, background)

    async def _solve(
        self, request: Request, steps: list[Step], request_stack: AsyncExitStack
    ) -> BackgroundTasks | None:
        """The steps in order, as the route's solver runs them: one cache of results, one set
        of background tasks, and invalid parameters refused once every dependency has run.
        (What dependencies set on a `Response` parameter FastAPI drops for an endpoint that
        answers a Response, as this one does.)"""
        cache: dict[Any, Any] = {}
        background: BackgroundTasks | None = None
        errors: list[Any] = []
        for step in steps:
            if not isinstance(step, Dependant):
                await step(request)
                continue
            solved = await solve_dependencies(
                request=request,
                dependant=step,
                background_tasks=background,
                dependency_overrides_provider=self._app,
                dependency_cache=cache,
                async_exit_stack=request_stack,
                embed_body_fields=False,
            )
            errors += solved.errors
            background = solved.background_tasks
        if errors:
            raise RequestValidationError(errors)
        return background

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: bytes,
        background: BackgroundTasks | None = None,
    ) -> None:
        record_cache_hit()
        scope[ROUTE_TEMPLATE] = self.path
        await Response(body, media_type=self.read.media_type, background=background)(
            scope, receive, send
        )
