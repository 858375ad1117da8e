"""The cached-read route: what it answers, it answers as the route would, and it skips no
dependency of the route."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import pytest
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Request,
    Response,
)
from fastapi.dependencies.models import Dependant
from httpx import AsyncClient
from starlette.routing import NoMatchFound

from orders_service.cache.aside import CacheAside
from orders_service.cache.fast_reads import (
    CachedReadRoute,
    answered_from_cache,
    guard_steps,
)
from orders_service.cache.store import MemoryCache
from tests.apps import client_of

calls: list[str] = []


async def require_key(x_key: Annotated[str, Header()]) -> None:
    calls.append("require_key")
    if x_key != "open":
        raise HTTPException(403, "wrong key")


async def session() -> AsyncIterator[str]:
    calls.append("session opened")
    yield "session"
    calls.append("session closed")


async def audited(tasks: BackgroundTasks) -> None:
    tasks.add_task(calls.append, "audited")


async def load_documents(key: Annotated[None, Depends(require_key)]) -> dict[str, bytes]:
    """A loader that itself depends on a check: the check stays when the loader goes."""
    calls.append("load_documents")
    return {"a": b'{"id":"a"}'}


DocumentsDep = Annotated[dict[str, bytes], Depends(load_documents)]


def make_app(cache: CacheAside) -> FastAPI:
    router = APIRouter(prefix="/documents", dependencies=[Depends(audited)])

    @router.get("/{doc_id}")
    @answered_from_cache("documents:{doc_id}", loaders=[load_documents])
    async def read_document(
        doc_id: str, documents: DocumentsDep, _: Annotated[str, Depends(session)]
    ) -> Response:
        calls.append("route")
        body = documents.get(doc_id)
        if body is None:
            raise HTTPException(404, "no such document")
        await cache.cache.set(f"documents:{doc_id}", body, 60)
        return Response(body, media_type="application/json")

    @router.post("/{doc_id}")
    async def write_document(doc_id: str) -> None:
        calls.append("write")

    app = FastAPI()
    app.include_router(router)
    app.router.routes[:0] = CachedReadRoute.for_app(app, cache=lambda: cache)
    return app


@pytest.fixture
def cache() -> CacheAside:
    return CacheAside(MemoryCache(max_entries=10), ttl_seconds=60, miss_ttl_seconds=5)


@pytest.fixture
async def client(cache: CacheAside) -> AsyncIterator[AsyncClient]:
    calls.clear()
    async with client_of(make_app(cache)) as client:
        yield client


async def test_a_hit_skips_the_loader_and_solves_everything_else(client: AsyncClient) -> None:
    missed = await client.get("/documents/a", headers={"x-key": "open"})
    calls.clear()

    hit = await client.get("/documents/a", headers={"x-key": "open"})

    assert (missed.status_code, hit.status_code) == (200, 200)
    assert hit.content == missed.content == b'{"id":"a"}'
    assert hit.headers["content-type"] == "application/json"
    assert sorted(calls) == sorted(
        ["require_key", "session opened", "session closed", "audited"]
    ), "every dependency but the loader, yield teardown and background task included"


async def test_a_refusing_dependency_refuses_a_hit(client: AsyncClient) -> None:
    await client.get("/documents/a", headers={"x-key": "open"})
    calls.clear()

    refused = await client.get("/documents/a", headers={"x-key": "wrong"})
    missing_header = await client.get("/documents/a")

    assert (refused.status_code, refused.json()) == (403, {"detail": "wrong key"})
    assert missing_header.status_code == 422
    assert missing_header.json()["detail"][0]["loc"] == ["header", "x-key"]
    assert "route" not in calls


async def test_misses_other_methods_and_overridden_loaders_go_to_the_route(
    cache: CacheAside,
) -> None:
    calls.clear()
    app = make_app(cache)
    async with client_of(app) as client:
        missing = await client.get("/documents/b", headers={"x-key": "open"})
        written = await client.post("/documents/a")
        await client.get("/documents/a", headers={"x-key": "open"})
        app.dependency_overrides[load_documents] = lambda: {"a": b'{"id":"overridden"}'}
        overridden = await client.get("/documents/a", headers={"x-key": "open"})

    assert missing.status_code == 404
    assert written.status_code == 200
    assert overridden.json() == {"id": "overridden"}
    assert calls.count("route") == 3
    assert calls.count("write") == 1


def test_urls_are_the_routes(cache: CacheAside) -> None:
    app = make_app(cache)
    (cached,) = [route for route in app.router.routes if isinstance(route, CachedReadRoute)]

    assert cached.path == "/documents/{doc_id}"
    assert app.url_path_for("read_document", doc_id="a") == "/documents/a"
    with pytest.raises(NoMatchFound):
        cached.url_path_for("read_document", doc_id="a")


def test_a_loaders_own_dependencies_stay(cache: CacheAside) -> None:
    app = make_app(cache)
    (cached,) = [route for route in app.router.routes if isinstance(route, CachedReadRoute)]

    solved = [dependency.call for dependency in cached.guards.dependencies]

    # The router's, then the endpoint's: the loader replaced by what it depends on.
    assert solved == [audited, require_key, session]


async def counted(request: Request) -> None:
    calls.append(f"counted {request.url.path}")


def counted_in_a_thread(request: Request) -> None:
    calls.append("counted in a thread")


@pytest.mark.parametrize(("dependency", "direct"), [(counted, True), (counted_in_a_thread, False)])
async def test_request_only_async_dependencies_are_awaited_without_the_solver(
    cache: CacheAside, dependency: Callable[[Request], Any], direct: bool
) -> None:
    app = FastAPI()

    @app.get("/plain/{doc_id}", dependencies=[Depends(dependency)])
    @answered_from_cache("plain:{doc_id}")
    async def read_plain(doc_id: str) -> Response:
        raise AssertionError("a hit never reaches the route")

    app.router.routes[:0] = CachedReadRoute.for_app(app, cache=lambda: cache)
    (cached,) = [route for route in app.router.routes if isinstance(route, CachedReadRoute)]
    await cache.cache.set("plain:a", b"{}", 60)
    calls.clear()
    async with client_of(app) as client:
        hit = await client.get("/plain/a")

    assert (hit.status_code, hit.content) == (200, b"{}")
    assert len(calls) == 1
    (step,) = guard_steps(cached.guards.dependencies, cached.path)
    assert (not isinstance(step, Dependant)) is direct


async def counted_again(request: Request) -> None:
    calls.append("counted again")


@pytest.mark.parametrize("key", ["open", None])
async def test_awaited_and_solved_dependencies_run_in_the_routes_order(
    cache: CacheAside, key: str | None
) -> None:
    router = APIRouter(dependencies=[Depends(require_key)])

    @router.get("/plain/{doc_id}", dependencies=[Depends(counted_again)])
    @answered_from_cache("plain:{doc_id}")
    async def read_plain(doc_id: str) -> Response:
        return Response(b"{}", media_type="application/json")

    app = FastAPI(dependencies=[Depends(counted)])
    app.include_router(router)
    app.router.routes[:0] = CachedReadRoute.for_app(app, cache=lambda: cache)
    (cached,) = [route for route in app.router.routes if isinstance(route, CachedReadRoute)]
    headers = {} if key is None else {"x-key": key}
    async with client_of(app) as client:
        calls.clear()
        routed = await client.get("/plain/a", headers=headers)  # a miss: the route answers
        on_the_route = list(calls)
        await cache.cache.set("plain:a", b"{}", 60)
        calls.clear()
        hit = await client.get("/plain/a", headers=headers)

    steps = guard_steps(cached.guards.dependencies, cached.path)
    assert [isinstance(step, Dependant) for step in steps] == [False, True, False]
    assert hit.status_code == routed.status_code == (200 if key else 422)
    assert hit.json() == routed.json()
    assert calls == on_the_route, "a missing header is refused after every dependency ran"
    assert on_the_route[0] == "counted /plain/a"
    assert on_the_route[-1] == "counted again"


async def test_a_dependency_the_solver_meets_again_runs_once(cache: CacheAside) -> None:
    async def checked(
        _: Annotated[None, Depends(counted)], x_key: Annotated[str, Header()]
    ) -> None:
        calls.append("checked")

    app = FastAPI(dependencies=[Depends(counted), Depends(checked)])

    @app.get("/plain/{doc_id}")
    @answered_from_cache("plain:{doc_id}")
    async def read_plain(doc_id: str) -> Response:
        return Response(b"{}", media_type="application/json")

    app.router.routes[:0] = CachedReadRoute.for_app(app, cache=lambda: cache)
    (cached,) = [route for route in app.router.routes if isinstance(route, CachedReadRoute)]
    await cache.cache.set("plain:a", b"{}", 60)
    async with client_of(app) as client:
        calls.clear()
        hit = await client.get("/plain/a", headers={"x-key": "k"})

    (step,) = guard_steps(cached.guards.dependencies, cached.path)
    assert isinstance(step, Dependant), "counted goes to the solver, whose cache runs it once"
    assert hit.status_code == 200
    assert calls == ["counted /plain/a", "checked"]


@pytest.mark.parametrize("use_cache", [True, False])
async def test_a_dependency_declared_at_two_levels_is_awaited_as_on_the_route(
    cache: CacheAside, use_cache: bool
) -> None:
    app = FastAPI(dependencies=[Depends(counted)])

    @app.get("/plain/{doc_id}", dependencies=[Depends(counted, use_cache=use_cache)])
    @answered_from_cache("plain:{doc_id}")
    async def read_plain(doc_id: str) -> Response:
        return Response(b"{}", media_type="application/json")

    app.router.routes[:0] = CachedReadRoute.for_app(app, cache=lambda: cache)
    async with client_of(app) as client:
        calls.clear()
        routed = await client.get("/plain/a")  # a miss: the route answers
        on_the_route = list(calls)
        await cache.cache.set("plain:a", b"{}", 60)
        calls.clear()
        hit = await client.get("/plain/a")

    assert routed.status_code == hit.status_code == 200
    assert on_the_route, "the route solved no dependency: the comparison would prove nothing"
    assert calls == on_the_route
