"""What every HTTP request goes through: its ID, its metrics and, when asked, its access line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter, time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.problems import ANSWERED_ERROR
from ..core.routing import ROUTE_TEMPLATE
from . import metrics
from .logging import json_line, sole_json_handler
from .request_id import HEADER, request_id_from, request_id_var

# Logged when the app returns without answering: the client went away first (nginx's code).
CLIENT_CLOSED_REQUEST = 499
# From here on a request was refused or failed: it gets an access line whatever the setting.
LOGGED_FROM_STATUS = 400

# Named after the service's package, not this module: `<package>.access`, as documented.
access_logger = logging.getLogger(f"{__name__.partition('.')[0]}.access")

_HEADER_NAME = HEADER.lower().encode()

# Where code serving a request leaves fields for its access line (the caller's subject).
ACCESS_LOG_FIELDS = "access_log_fields"
# Where code serving a request leaves what adds headers to its response, whoever answers it.
RESPONSE_HEADERS = "response_headers"

Headers = list[tuple[bytes, bytes]]


def access_log_fields(scope: Scope) -> dict[str, object]:
    """The request's fields for its access line, to add to while serving it."""
    fields: dict[str, object] = scope.setdefault(ACCESS_LOG_FIELDS, {})
    return fields


def add_response_headers(scope: Scope, headers: Callable[[], Headers]) -> None:
    """Have the response to the request carry `headers()`, called as it starts: an error
    handler's or a cached read's answer too, without another wrapper of `send`."""
    scope.setdefault(RESPONSE_HEADERS, []).append(headers)


def route_template(scope: Scope) -> str:
    """The template of the route that served the request (`/api/v1/items/{item_id}`)."""
    answered_for: str | None = scope.get(ROUTE_TEMPLATE)
    if answered_for is not None:
        return answered_for
    # FastAPI serves included routers in place: the matched route knows its own path only,
    # the request's route context the whole template. (Older FastAPI copied the routes.)
    context = scope.get("fastapi", {}).get("effective_route_context")
    route = scope.get("route") if context is None else context
    template: str = getattr(route, "path_format", metrics.UNMATCHED_ROUTE)
    return template


class ObservabilityMiddleware:
    """Request ID and metrics for every HTTP request, and an access log line for every one
    (`log_every_request`) or only for those answered 400 and above, left unanswered (499)
    or taking `slow_seconds` or more. The response carries the ID, and the headers others
    asked for (`add_response_headers`).

    Pure ASGI, and one layer rather than three, so a request pays for one wrapper of
    `send` and one clock read at each end; nothing is allocated that a log line or a
    metric does not need. The app wraps its whole stack in it (see `main.Service`), so
    the 500s Starlette's outermost error middleware sends are counted and carry the ID.
    """

    def __init__(
        self, app: ASGIApp, *, log_every_request: bool = True, slow_seconds: float = 0.5
    ) -> None:
        self.app = app
        self.log_every_request = log_every_request
        self.slow_seconds = slow_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        token = request_id_var.set(request_id)
        id_header = (_HEADER_NAME, request_id.encode())
        status = CLIENT_CLOSED_REQUEST
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), id_header]
                for added in scope.get(RESPONSE_HEADERS, ()):
                    headers += added()
                message["headers"] = headers
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                answered = True
            await send(message)

        method = metrics.HTTP_REQUESTS.started(scope["method"])
        started = perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Starlette raises again what its error handler has answered (a 500), for the
            # server to log: which would log it twice and drop the keep-alive connection. The
            # handler logged it; the access line names it. Unanswered, the server must close.
            if not answered:
                raise
        finally:
            seconds = perf_counter() - started
            route = route_template(scope)
            metrics.HTTP_REQUESTS.answered(method, route, status, seconds)
            unusual = status >= LOGGED_FROM_STATUS or seconds >= self.slow_seconds
            if (self.log_every_request or unusual) and access_logger.isEnabledFor(logging.INFO):
                log_access(scope, route, status, seconds)
            request_id_var.reset(token)


def log_access(scope: Scope, route: str, status: int, seconds: float) -> None:
    """The request's access log line; the JSON formatter adds its request ID."""
    client = scope.get("client")
    method, path, milliseconds = scope["method"], scope["path"], seconds * 1000
    fields = {
        "method": method,
        "route": route,
        "path": path,
        "status": status,
        "duration_ms": round(milliseconds, 3),
        "client": client[0] if client else None,
    }
    if error := scope.get(ANSWERED_ERROR):
        fields["error"] = error
    if added := scope.get(ACCESS_LOG_FIELDS):
        fields.update(added)
    message = "%s %s %d %.1f ms"
    arguments = (method, path, status, milliseconds)
    handler = sole_json_handler(access_logger)
    if handler is not None:
        # The usual set-up: the same JSON line, without building a LogRecord and passing it
        # along the handler chain (together, most of the cost of a line).
        line = json_line(time(), "INFO", access_logger.name, message % arguments, fields)
        handler.write_line(line)
        return
    record = access_logger.makeRecord(
        access_logger.name, logging.INFO, __file__, 0, message, arguments, None, extra=fields
    )
    access_logger.handle(record)
