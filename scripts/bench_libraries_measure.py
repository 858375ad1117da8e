"""The measurements of bench_libraries.py, run inside a rendered service's virtualenv.

Times the service's hand-written pieces against the maintained libraries that do the same
job, side by side in one process: each candidate's loop runs in turn, three rounds, and the
best round counts. Libraries that did not install are reported as such, not skipped.

Everything third-party is imported by name (`import_module`): this file is type-checked in
the template repository, where neither the service nor the libraries are installed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import io
import logging
import os
import random
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import IO, Any

PACKAGE = "orders_service"
ROUNDS = 3
MISSING = "not installed"

# The candidates of issue 12, by the module each section imports.
LIBRARIES = {
    "limits": "limits",
    "rbloom": "rbloom",
    "purgatory": "purgatory",
    "aiobreaker": "aiobreaker",
    "python-json-logger": "pythonjsonlogger.json",
    "structlog": "structlog",
    "prometheus-fastapi-instrumentator": "prometheus_fastapi_instrumentator",
}


@dataclass(frozen=True)
class Row:
    """One library timed against ours for one operation (nanoseconds per operation)."""

    operation: str
    ours_ns: float
    library: str
    theirs_ns: float | None
    note: str


def library(name: str) -> ModuleType | None:
    """The library's module, or None when it did not install."""
    try:
        return import_module(LIBRARIES[name])
    except ImportError:
        return None


def ours(module: str) -> ModuleType:
    return import_module(f"{PACKAGE}.{module}")


def best_ns(rounds: list[float], count: int) -> float:
    return min(rounds) / count * 1e9


def time_sync(candidates: dict[str, Callable[[], object]], count: int) -> dict[str, float]:
    """Nanoseconds per call of each candidate: rounds interleaved, best round kept."""
    seconds: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(ROUNDS):
        for name, call in candidates.items():
            gc.collect()
            started = time.perf_counter()
            for _ in range(count):
                call()
            seconds[name].append(time.perf_counter() - started)
    return {name: best_ns(rounds, count) for name, rounds in seconds.items()}


async def time_async(
    candidates: dict[str, Callable[[], Awaitable[object]]], count: int
) -> dict[str, float]:
    """As time_sync, awaiting each call."""
    seconds: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(ROUNDS):
        for name, call in candidates.items():
            gc.collect()
            started = time.perf_counter()
            for _ in range(count):
                await call()
            seconds[name].append(time.perf_counter() - started)
    return {name: best_ns(rounds, count) for name, rounds in seconds.items()}


def cycling(keys: list[str]) -> Callable[[], str]:
    """A function returning the keys in turn, forever."""
    position = -1
    size = len(keys)

    def following() -> str:
        nonlocal position
        position = (position + 1) % size
        return keys[position]

    return following


def retained_bytes(build: Callable[[], object]) -> int:
    """Bytes still allocated after build() returns, while its result lives."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return after - before


# (1) Rate limiting ---------------------------------------------------------------------


async def rate_limits(scale: float, facts: list[str]) -> list[Row]:
    limiter_module = ours("ratelimit.limiter")
    clients = 10_000
    keys = [f"api:ip:10.0.{n // 256}.{n % 256}" for n in range(clients)]
    count = int(100_000 * scale)
    limit, window = 100, 60.0  # every hit below is admitted: ~30 per client, 100 allowed

    limiter = limiter_module.RateLimiter(limiter_module.MemoryRequestLog(), limit, window)
    ours_key = cycling(keys)

    async def ours_hit() -> object:
        return await limiter.hit(ours_key())

    candidates: dict[str, Callable[[], Awaitable[object]]] = {"ours": ours_hit}
    limits = library("limits")
    if limits is not None:
        strategies = import_module("limits.aio.strategies")
        storage = import_module("limits.aio.storage")
        item = limits.RateLimitItemPerMinute(limit)
        for label, strategy in (
            ("moving-window", strategies.MovingWindowRateLimiter),
            ("sliding-window-counter", strategies.SlidingWindowCounterRateLimiter),
        ):
            candidates.update(limits_calls(label, strategy(storage.MemoryStorage()), item, keys))
    timings = await time_async(candidates, count)

    notes = {
        "moving-window": "a log of each client's hits too: exact reset; Redis via Lua (no module)",
        "sliding-window-counter": "2 counters per client: the last window assumed even; Redis via Lua",
    }
    rows = []
    for name, theirs in timings.items():
        if name == "ours":
            continue
        label, _, calls = name.partition(": ")
        note = notes[label] + ("" if calls == "hit + stats" else "; no headers' data")
        rows.append(Row(f"rate limit, {calls}", timings["ours"], f"limits {label}", theirs, note))
    if limits is None:
        rows.append(Row("rate limit, hit + stats", timings["ours"], "limits", None, MISSING))
        return rows
    facts.extend(await limiter_memory(limiter_module, limits))
    facts.extend(await retry_after(limiter_module, limits))
    return rows


def limits_calls(
    label: str, strategy: Any, item: Any, keys: list[str]
) -> dict[str, Callable[[], Awaitable[object]]]:
    """`limits`' calls for one request: the hit alone, and the hit with what headers need."""
    hit_key, stats_key = cycling(keys), cycling(keys)

    async def hit() -> object:
        return await strategy.hit(item, hit_key())

    async def hit_and_stats() -> object:
        key = stats_key()
        admitted = await strategy.hit(item, key)
        return admitted, await strategy.get_window_stats(item, key)

    return {f"{label}: hit only": hit, f"{label}: hit + stats": hit_and_stats}


async def limiter_memory(limiter_module: ModuleType, limits: ModuleType) -> list[str]:
    """Bytes kept per client after 20 hits each, with keys built as requests build them."""
    clients, hits = 2_000, 20
    strategies = import_module("limits.aio.strategies")
    storage = import_module("limits.aio.storage")
    item = limits.RateLimitItemPerMinute(100)

    async def fill(hit: Callable[[str], Awaitable[object]]) -> None:
        for _ in range(hits):
            for n in range(clients):
                await hit(f"api:ip:10.1.{n // 256}.{n % 256}")

    async def measured(make: Callable[[], Callable[[str], Awaitable[object]]]) -> int:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        hit = make()
        await fill(hit)
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return (after - before) // clients

    def ours_hit() -> Callable[[str], Awaitable[object]]:
        limiter = limiter_module.RateLimiter(limiter_module.MemoryRequestLog(), 100, 60.0)
        return limiter.hit  # type: ignore[no-any-return]

    def limits_hit(strategy: Any) -> Callable[[], Callable[[str], Awaitable[object]]]:
        def make() -> Callable[[str], Awaitable[object]]:
            limiter = strategy(storage.MemoryStorage())

            async def hit(key: str) -> object:
                return await limiter.hit(item, key)

            return hit

        return make

    return [
        f"rate limit memory, {clients} clients x {hits} hits (limit 100/min): "
        f"ours {await measured(ours_hit)} B/client, "
        f"limits moving-window {await measured(limits_hit(strategies.MovingWindowRateLimiter))} B/client, "
        f"limits sliding-window-counter "
        f"{await measured(limits_hit(strategies.SlidingWindowCounterRateLimiter))} B/client"
    ]


async def retry_after(limiter_module: ModuleType, limits: ModuleType) -> list[str]:
    """What each tells a refused client to wait, against when it is admitted again.

    A limit of 4 per 2 s, requests at 0, 0.5, 1.0 and 1.5 s, then one more at 1.5 s: it is
    refused, and the first request leaves the window at 2.0 s, so the true wait is 0.5 s.
    Each candidate is then asked every 10 ms until it admits a request.
    """
    strategies = import_module("limits.aio.strategies")
    storage = import_module("limits.aio.storage")
    item = limits.RateLimitItemPerSecond(4, 2)

    ours_log = limiter_module.MemoryRequestLog()

    async def ours_hit() -> tuple[bool, float]:
        now = time.time()
        admitted, _, oldest = await ours_log.hit("client", now, 4, 2.0)
        return admitted, oldest + 2.0 - now

    def limits_hit(strategy: Any) -> Callable[[], Awaitable[tuple[bool, float]]]:
        limiter = strategy(storage.MemoryStorage())

        async def hit() -> tuple[bool, float]:
            admitted = await limiter.hit(item, "client")
            stats = await limiter.get_window_stats(item, "client")
            return admitted, stats.reset_time - time.time()

        return hit

    async def probe(name: str, hit: Callable[[], Awaitable[tuple[bool, float]]]) -> str:
        for n in range(4):
            if n:
                await asyncio.sleep(0.5)
            await hit()
        sent = time.time()
        admitted, told = await hit()
        if admitted:
            return f"{name}: admitted a 5th request in 2 s"
        for _ in range(300):
            if (await hit())[0]:
                return f"{name}: told {told:.2f} s, admitted after {time.time() - sent:.2f} s"
            await asyncio.sleep(0.01)
        return f"{name}: told {told:.2f} s, still refused after 3 s"

    told = await asyncio.gather(
        probe("ours", ours_hit),
        probe("limits moving-window", limits_hit(strategies.MovingWindowRateLimiter)),
        probe(
            "limits sliding-window-counter",
            limits_hit(strategies.SlidingWindowCounterRateLimiter),
        ),
    )
    return ["Retry-After, 4 per 2 s, refused at 1.5 s (true wait 0.50 s): " + "; ".join(told)]


# (2) Bloom filter ------------------------------------------------------------------------


def stable_hash(key: str) -> int:
    """A 128-bit hash that is the same in every process (rbloom's default, hash(), is not)."""
    digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
    return int.from_bytes(digest, "little", signed=True)


async def bloom_filters(scale: float, facts: list[str]) -> list[Row]:
    bloom = ours("cache.bloom")
    capacity, error_rate = 1_000_000, 0.01
    rng = random.Random(12)  # noqa: S311 - ids to add, not secrets
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(capacity)]
    absent = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(200_000)]
    count = int(200_000 * scale)

    # Since issue 12, the service's in-memory filter is rbloom's behind the async `Filter`.
    ours_filter = bloom.MemoryFilter(capacity, error_rate)
    started = time.perf_counter()
    await ours_filter.add(ids)
    ours_bulk = (time.perf_counter() - started) / capacity * 1e9
    ours_fp = sum([await ours_filter.might_contain(key) for key in absent]) / len(absent)

    add_key, present_key, absent_key = cycling(ids), cycling(ids), cycling(absent)

    async def ours_add() -> object:
        return await ours_filter.add([add_key()])

    async def ours_present() -> object:
        return await ours_filter.might_contain(present_key())

    async def ours_absent() -> object:
        return await ours_filter.might_contain(absent_key())

    ours_timings = await time_async(
        {"add": ours_add, "present": ours_present, "absent": ours_absent}, count
    )
    facts.append(
        f"Bloom filter, 1M ids at 1 %: ours (rbloom, hash()), false positives {ours_fp:.2%}"
    )
    operations = {"add": "Bloom add, one id", "present": "Bloom contains, an added id"}
    operations["absent"] = "Bloom contains, an absent id"
    rbloom = library("rbloom")
    if rbloom is None:
        return [Row(operations["add"], ours_timings["add"], "rbloom", None, MISSING)]

    rows = []
    for label, hash_func in (("rbloom, hash()", None), ("rbloom, blake2b", stable_hash)):
        theirs = (
            rbloom.Bloom(capacity, error_rate)
            if hash_func is None
            else rbloom.Bloom(capacity, error_rate, hash_func)
        )
        started = time.perf_counter()
        theirs.update(ids)
        bulk = (time.perf_counter() - started) / capacity * 1e9
        their_fp = sum(key in theirs for key in absent) / len(absent)
        facts.append(
            f"{label}: {theirs.size_in_bits / 8 / 1e6:.2f} MB, false positives {their_fp:.2%}"
        )
        timings = time_sync(rbloom_calls(theirs, ids, absent), count)
        note = (
            "hash() differs per process: cannot be shared or kept; in memory only"
            if hash_func is None
            else "same bits in every process; in memory only (save_bytes), no Redis"
        )
        rows.append(Row("Bloom add, 1M ids in bulk", ours_bulk, label, bulk, note))
        rows.extend(
            Row(operations[op], ours_timings[op], label, timings[op], note) for op in operations
        )
    return sorted(rows, key=lambda row: row.operation)


def rbloom_calls(bloom: Any, ids: list[str], absent: list[str]) -> dict[str, Callable[[], object]]:
    add_key, present_key, absent_key = cycling(ids), cycling(ids), cycling(absent)
    return {
        "add": lambda: bloom.add(add_key()),
        "present": lambda: present_key() in bloom,
        "absent": lambda: absent_key() in bloom,
    }


# (3) Circuit breaker ---------------------------------------------------------------------


async def breakers(scale: float) -> list[Row]:
    resilience = ours("core.resilience")
    count = int(200_000 * scale)

    async def call() -> int:
        return 1

    breaker = resilience.CircuitBreaker("cache", failure_threshold=5, reset_seconds=10.0)

    async def guarded() -> object:
        # As cache/aside.py calls the cache: the fallback instead of an exception.
        if not breaker.allow():
            return None
        try:
            result = await call()
        except Exception:
            breaker.record_failure()
            return None
        breaker.record_success()
        return result

    candidates: dict[str, Callable[[], Awaitable[object]]] = {"bare": call, "ours": guarded}
    purgatory = library("purgatory")
    if purgatory is not None:
        factory = purgatory.AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=10)
        candidates["purgatory"] = factory("cache")(call)
    aiobreaker = library("aiobreaker")
    if aiobreaker is not None:
        from datetime import timedelta

        their_breaker = aiobreaker.CircuitBreaker(
            fail_max=5, timeout_duration=timedelta(seconds=10)
        )

        async def aiobreaker_call() -> object:
            return await their_breaker.call_async(call)

        candidates["aiobreaker"] = aiobreaker_call
    timings = await time_async(candidates, count)
    bare = timings.pop("bare")
    notes = {
        "purgatory": "async; state shareable in Redis (async client); raises when open",
        "aiobreaker": "async; Redis storage calls a sync client; raises when open",
    }
    return [
        Row(
            "breaker, closed, overhead per call",
            timings["ours"] - bare,
            name,
            None if name not in timings else timings[name] - bare,
            notes[name] if name in timings else MISSING,
        )
        for name in notes
    ]


# (4) JSON log lines ----------------------------------------------------------------------

ACCESS_FIELDS = {
    "method": "GET",
    "route": "/api/v1/items/{item_id}",
    "path": "/api/v1/items/0b6f3c1e-5d0a-4a47-9a53-8f3c9b1e2d4f",
    "status": 200,
    "duration_ms": 0.412,
    "client": "10.0.0.7",
}
MESSAGE = "GET /api/v1/items/0b6f3c1e-5d0a-4a47-9a53-8f3c9b1e2d4f 200 0.4 ms"
REQUEST_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def log_writers(stream: IO[str]) -> dict[str, Callable[[], object]]:
    """One access line per call, written to stream, by each candidate."""
    log = ours("observability.logging")
    writers: dict[str, Callable[[], object]] = {}

    handler = log.ServiceHandler(stream)
    handler.setFormatter(log.JsonFormatter())
    direct = isolated_logger("bench.ours.direct", handler)
    sole = log.sole_json_handler(direct)
    if sole is not handler:
        raise RuntimeError("the access line's direct path does not apply: nothing to compare")
    name = "orders_service.access"
    writers["ours, straight to the handler"] = lambda: sole.write_line(
        log.json_line(time.time(), "INFO", name, MESSAGE, dict(ACCESS_FIELDS))
    )
    via_logging = isolated_logger("bench.ours.logging", handler)
    writers["ours, through logging"] = lambda: via_logging.info(MESSAGE, extra=ACCESS_FIELDS)

    json_logger = library("python-json-logger")
    if json_logger is not None:
        their_handler = logging.StreamHandler(stream)
        their_handler.setFormatter(
            json_logger.JsonFormatter(
                "{levelname}{name}{message}",
                style="{",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp=True,
            )
        )
        theirs = isolated_logger("bench.python_json_logger", their_handler)
        fields = {**ACCESS_FIELDS, "request_id": REQUEST_ID}
        writers["python-json-logger"] = lambda: theirs.info(MESSAGE, extra=fields)

    structlog = library("structlog")
    if structlog is not None:
        processors = structlog.processors
        bound = structlog.wrap_logger(
            structlog.WriteLogger(stream),
            processors=[
                structlog.contextvars.merge_contextvars,
                processors.add_log_level,
                processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
                processors.EventRenamer("message"),
                processors.JSONRenderer(),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        ).bind(logger=name)
        writers["structlog"] = lambda: bound.info(MESSAGE, **ACCESS_FIELDS)
    return writers


def isolated_logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


@dataclass
class RequestContext:
    """The request ID each candidate's line carries, set as the service sets it."""

    request_id_var: Any
    structlog: ModuleType | None

    def __enter__(self) -> None:
        self.token = self.request_id_var.set(REQUEST_ID)
        if self.structlog is not None:
            self.structlog.contextvars.bind_contextvars(request_id=REQUEST_ID)

    def __exit__(self, *_: object) -> None:
        self.request_id_var.reset(self.token)
        if self.structlog is not None:
            self.structlog.contextvars.clear_contextvars()


def log_lines(scale: float, devnull: IO[str], facts: list[str]) -> list[Row]:
    context = RequestContext(ours("observability.request_id").request_id_var, library("structlog"))
    count = int(100_000 * scale)
    with context:
        sample = io.StringIO()
        for name, write in log_writers(sample).items():
            write()
            facts.append(f"log line, {name}: {sample.getvalue().splitlines()[-1]}")
        timings = time_sync(log_writers(devnull), count)
    ours_ns = timings.pop("ours, straight to the handler")
    notes = {
        "ours, through logging": "the same line as a LogRecord through the handler chain",
        "python-json-logger": "a logging.Formatter: the LogRecord and handler chain remain",
        "structlog": "no LogRecord; uvicorn's and libraries' logs still need a stdlib bridge",
    }
    return [
        Row(
            "JSON access line",
            ours_ns,
            name,
            timings.get(name),
            notes[name] if name in timings else MISSING,
        )
        for name in notes
    ]


# (5) Request metrics ---------------------------------------------------------------------


def bare_app() -> Any:
    """A FastAPI app with one templated route, as the bench's bare route."""
    fastapi = import_module("fastapi")
    app = fastapi.FastAPI()

    async def read_item(item_id: str) -> dict[str, object]:
        return {"id": item_id, "name": "Benchmarked"}

    app.add_api_route("/api/v1/items/{item_id}", read_item, methods=["GET"])
    return app


def asgi_request(app: Any) -> Callable[[], Awaitable[object]]:
    """One GET of the route, called directly (no sockets); checks the first answer."""
    sent: list[dict[str, Any]] = []
    checked = False

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if not checked:
            sent.append(message)

    async def request() -> object:
        nonlocal checked
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/v1/items/0b6f3c1e",
            "raw_path": b"/api/v1/items/0b6f3c1e",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"accept", b"application/json")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)
        if not checked:
            if sent[0]["status"] != 200:
                raise RuntimeError(f"the route answered {sent[0]}: not a request to time")
            checked = True
        return None

    return request


def series(prefixes: tuple[str, ...]) -> int:
    registry = import_module("prometheus_client").REGISTRY
    return sum(
        len(family.samples) for family in registry.collect() if family.name.startswith(prefixes)
    )


async def request_metrics(scale: float, devnull: IO[str], facts: list[str]) -> list[Row]:
    middleware = ours("observability.middleware")
    access = middleware.access_logger
    count = int(20_000 * scale)
    candidates = {
        "bare": asgi_request(bare_app()),
        "ours": asgi_request(middleware.ObservabilityMiddleware(bare_app())),
    }
    instrumentator = library("prometheus-fastapi-instrumentator")
    if instrumentator is not None:
        instrumented = bare_app()
        instrumentator.Instrumentator().instrument(instrumented)
        candidates["instrumentator"] = asgi_request(instrumented)

    access.setLevel(logging.WARNING)  # metrics and request ID only: the library logs nothing
    timings = await time_async(candidates, count)
    log = ours("observability.logging")
    handler = log.ServiceHandler(devnull)
    handler.setFormatter(log.JsonFormatter())
    isolated_logger(access.name, handler)
    logged = await time_async({"ours": candidates["ours"]}, count)
    bare = timings.pop("bare")
    facts.append(
        f"whole request, bare FastAPI route called as ASGI: {bare / 1000:.1f} us; "
        f"ours adds {(timings['ours'] - bare) / 1000:.1f} us, "
        f"{(logged['ours'] - bare) / 1000:.1f} us with its JSON access line"
        + (
            f"; the instrumentator adds {(timings['instrumentator'] - bare) / 1000:.1f} us"
            if "instrumentator" in timings
            else ""
        )
    )
    if "instrumentator" not in timings:
        return [
            Row("request, metrics middleware", timings["ours"], "instrumentator", None, MISSING)
        ]
    ours_series = series(("http_server_",))
    their_series = series(("http_request", "http_response"))
    facts.append(
        f"series after one route answered 200: ours {ours_series}, instrumentator {their_series}"
    )
    note = (
        "matches every route a 2nd time; labels handler x status x method, "
        "bounded too; no request ID"
    )
    return [
        Row(
            "request + metrics (+ request ID)",
            timings["ours"],
            "instrumentator",
            timings["instrumentator"],
            note,
        )
    ]


def request_counting(scale: float) -> list[Row]:
    """What the middleware records per request, against prometheus-client's own types doing
    the same (each child resolved once, as the middleware did with them)."""
    metrics = ours("observability.metrics")
    prometheus = import_module("prometheus_client")
    registry = prometheus.CollectorRegistry()
    labels = ["method", "route", "status_class"]
    counter = prometheus.Counter("bench_requests_total", "-", labels, registry=registry)
    histogram = prometheus.Histogram(
        "bench_request_duration_seconds",
        "-",
        labels,
        buckets=metrics.LATENCY_BUCKETS,
        registry=registry,
    )
    active = prometheus.Gauge("bench_active", "-", ["method"], registry=registry).labels("GET")
    by_request = {("GET", "/livez", 2): (counter.labels(*LIVEZ), histogram.labels(*LIVEZ))}
    requests = metrics.HttpRequests()

    def ours_request() -> object:
        method = requests.started("GET")
        requests.answered(method, "/livez", 200, 0.003)
        return None

    def their_request() -> object:
        active.inc()
        active.dec()
        count, duration = by_request[("GET", "/livez", 2)]
        count.inc()
        duration.observe(0.003)
        return None

    timings = time_sync({"ours": ours_request, "theirs": their_request}, int(200_000 * scale))
    note = "in flight, count, duration; ours described in the same types when scraped"
    return [
        Row(
            "request metrics",
            timings["ours"],
            "prometheus-client types",
            timings["theirs"],
            note,
        )
    ]


LIVEZ = ("GET", "/livez", "2xx")


# The table -------------------------------------------------------------------------------


def duration(nanoseconds: float | None) -> str:
    if nanoseconds is None:
        return MISSING
    if nanoseconds >= 10_000:
        return f"{nanoseconds / 1000:.1f} us"
    return f"{nanoseconds:.0f} ns"


def table(rows: list[Row]) -> Iterator[str]:
    header = ("operation", "ours", "library", "theirs", "theirs/ours", "note")
    cells = [
        (
            row.operation,
            duration(row.ours_ns),
            row.library,
            duration(row.theirs_ns),
            "-" if row.theirs_ns is None else f"{row.theirs_ns / row.ours_ns:.2f}",
            row.note,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header) - 1)]
    for line in [header, *cells]:
        yield "  ".join(
            cell.ljust(width) for cell, width in zip(line, widths, strict=False)
        ) + "  " + line[-1]


async def measure(scale: float, devnull: IO[str]) -> None:
    facts: list[str] = []
    rows = await rate_limits(scale, facts)
    rows += await bloom_filters(scale, facts)
    rows += await breakers(scale)
    rows += log_lines(scale, devnull, facts)
    rows += await request_metrics(scale, devnull, facts)
    rows += request_counting(scale)
    for line in table(rows):
        print(line)
    print()
    for fact in facts:
        print(fact)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count")
    options = parser.parse_args()
    for name in LIBRARIES:
        if library(name) is None:
            print(f"{name}: {MISSING}")
    # Where the log lines go: written, as in production, but not kept.
    with Path(os.devnull).open("w") as devnull:
        asyncio.run(measure(options.scale, devnull))


if __name__ == "__main__":
    main()
