"""RFC 9457 problem details: every error the API returns has this shape."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from .outages import OUTAGE_TYPES, DependencyUnavailableError, is_outage

PROBLEM_MEDIA_TYPE = "application/problem+json"
JSON_MEDIA_TYPE = "application/json"
# The headers that name the media types a method accepts (RFC 5789, and the W3C's LDP).
ACCEPT_HEADERS = {"PATCH": "Accept-Patch", "POST": "Accept-Post"}
PATH_PARAMETER = re.compile(r"\{[^/}]+\}")
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

# The problem type of a dependency outage: stable, so clients and dashboards can match it.
DEPENDENCY_UNAVAILABLE = "urn:problem-type:dependency-unavailable"
# Where a problem handler leaves the class of the error it answered, for the access line.
ANSWERED_ERROR = "answered_error"
# Per error class, one traceback in this many seconds: a broken code path fails every
# request that takes it, and the first traceback says all the others would.
TRACEBACK_INTERVAL_SECONDS = 60.0

logger = logging.getLogger(__name__)


# RFC 9110's reason phrases, which Python adopted only in 3.13.
_RFC_9110_PHRASES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def reason_phrase(status: int) -> str:
    """The standard phrase for `status`, the same on every Python version."""
    return _RFC_9110_PHRASES.get(status) or HTTPStatus(status).phrase


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(default="about:blank", description="URI identifying the problem type")
    title: str = Field(description="Short summary of the problem type")
    status: int = Field(description="HTTP status code")
    detail: str | None = Field(default=None, description="Explanation of this occurrence")
    instance: str | None = Field(default=None, description="URI of the request that failed")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Validation errors, one per invalid field"
    )


class DomainError(Exception):
    """An error a service raises that maps to one HTTP status."""

    status_code: int = HTTPStatus.BAD_REQUEST

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(DomainError):
    status_code = HTTPStatus.NOT_FOUND


class ConflictError(DomainError):
    status_code = HTTPStatus.CONFLICT


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem+json bodies."""
    return {
        status: {
            "description": reason_phrase(status),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def problem_response(
    request: Request, status: int, detail: str | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response for `status`, titled with its standard phrase."""
    problem = Problem(
        title=reason_phrase(status),
        status=status,
        detail=detail,
        instance=request.url.path,
        **extra,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
    return problem_response(request, exc.status_code, exc.detail)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    response = problem_response(request, exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED and (methods := allowed_methods(request)):
        response.headers["Allow"] = ", ".join(methods)
    return response


def allowed_methods(request: Request) -> list[str] | None:
    """The methods the OpenAPI document lists for this path, or None for undocumented paths.

    Starlette's Allow header names only the methods of the first route matching the path.
    """
    paths: dict[str, dict[str, Any]] = request.app.openapi()["paths"]
    for template, operations in paths.items():
        pattern = "[^/]+".join(re.escape(part) for part in PATH_PARAMETER.split(template))
        if re.fullmatch(pattern, request.url.path):
            return sorted(method.upper() for method in operations if method in HTTP_METHODS)
    return None


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 for content that breaks the schema; 400 for a body that is not JSON at all, and
    415 for one not sent as JSON."""
    body_errors = [error for error in exc.errors() if error["loc"][:1] == ("body",)]
    # FastAPI parses a body as JSON only when its Content-Type says JSON, else passes bytes.
    if body_errors and isinstance(exc.body, bytes):
        return _unsupported_media_type(request)
    if malformed := [error for error in body_errors if error["type"] == "json_invalid"]:
        return _malformed_json(request, malformed[0])
    errors = [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    return problem_response(
        request, HTTPStatus.UNPROCESSABLE_ENTITY, "The request is not valid.", errors=errors
    )


def _malformed_json(request: Request, error: dict[str, Any]) -> JSONResponse:
    reason, position = error["ctx"]["error"], error["loc"][-1]
    detail = f"The body is not valid JSON: {reason} at character {position}."
    return problem_response(request, HTTPStatus.BAD_REQUEST, detail)


def _unsupported_media_type(request: Request) -> JSONResponse:
    sent = request.headers.get("content-type")
    detail = f"The body must be {JSON_MEDIA_TYPE}" + (f", not {sent}." if sent else ".")
    response = problem_response(request, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, detail)
    if accept := ACCEPT_HEADERS.get(request.method):
        response.headers[accept] = JSON_MEDIA_TYPE
    return response


async def _dependency_error(request: Request, exc: Exception) -> JSONResponse:
    """503 for a dependency outage (no traceback: nothing in the code is wrong); anything
    else of these types is a bug, for the 500 handler."""
    if not is_outage(exc):
        raise exc
    request.scope[ANSWERED_ERROR] = type(exc).__name__
    retry_after = getattr(
        exc, "retry_after_seconds", DependencyUnavailableError.retry_after_seconds
    )
    response = problem_response(
        request,
        HTTPStatus.SERVICE_UNAVAILABLE,
        "A service this request needs is unavailable: retry later.",
        type=DEPENDENCY_UNAVAILABLE,
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


class Tracebacks:
    """Logs a 500's traceback, at most once per error class in `interval_seconds`."""

    def __init__(
        self,
        interval_seconds: float = TRACEBACK_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval_seconds
        self._clock = clock
        self._logged_at: dict[type[BaseException], float] = {}

    def log(self, request: Request, exc: BaseException) -> None:
        now = self._clock()
        last = self._logged_at.get(type(exc))
        if last is not None and now - last < self._interval:
            return
        self._logged_at[type(exc)] = now
        logger.error(
            "Unhandled %s (its traceback is logged once per %g s)",
            type(exc).__name__,
            self._interval,
            extra={"path": request.url.path},
            exc_info=exc,
        )


tracebacks = Tracebacks()


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    request.scope[ANSWERED_ERROR] = type(exc).__name__
    tracebacks.log(request, exc)
    return problem_response(request, HTTPStatus.INTERNAL_SERVER_ERROR)


ProblemHandler = Callable[[Request, Any], Coroutine[Any, Any, Response]]

HANDLERS: dict[type[Exception], ProblemHandler] = {
    DomainError: _domain_error,
    HTTPException: _http_error,
    RequestValidationError: _validation_error,
    DependencyUnavailableError: _dependency_error,
    **dict.fromkeys(OUTAGE_TYPES, _dependency_error),
    Exception: _unexpected_error,
}


def add_problem_handlers(app: FastAPI) -> None:
    """Turn domain, HTTP, validation and unexpected errors into problem+json."""
    for exception_class, handler in HANDLERS.items():
        app.add_exception_handler(exception_class, handler)
