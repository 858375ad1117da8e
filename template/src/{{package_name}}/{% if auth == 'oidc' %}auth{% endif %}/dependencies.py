"""`authenticated`: the caller of a route, with the scopes the route requires (RFC 6750)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, Request, Security, params
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from starlette.exceptions import HTTPException

from ..config import ENV_PREFIX
from ..core.problems import problem_responses
from ..observability.middleware import access_log_fields
from ..state import app_state
from .keys import ProviderUnavailableError
from .principal import Principal
from .verifier import TOKEN_VERIFIER, InvalidTokenError

# Where the request keeps its verified principal, or why it has none: one verification
# however often it is asked for (the rate limit asks, and with different scopes FastAPI
# calls `authenticated` once each).
PRINCIPAL = "principal"
RETRY_AFTER_SECONDS = "5"

bearer = HTTPBearer(
    scheme_name="accessToken",
    bearerFormat="JWT",
    description="An access token (RFC 9068 JWT) from the service's OpenID provider.",
    auto_error=False,
)


async def authenticated(
    security_scopes: SecurityScopes,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The request's principal; 401 without a valid token, 403 without a scope it needs."""
    principal = await _principal(request, credentials)
    if isinstance(principal, HTTPException):
        raise principal
    settings = app_state(request.app).settings
    required = [*settings.oidc_required_scopes, *security_scopes.scopes]
    if missing := [scope for scope in required if scope not in principal.scopes]:
        raise HTTPException(
            HTTPStatus.FORBIDDEN,
            f"The access token lacks the scope {' '.join(missing)}.",
            {
                "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{" ".join(required)}"'
            },
        )
    return principal


async def caller(request: Request) -> str | None:
    """Who sent the request, by a valid access token's subject; None without one. The
    rate limiter counts an authenticated caller's requests by it, from any address."""
    principal = await _principal(request, await bearer(request))
    return None if isinstance(principal, HTTPException) else principal.subject


def requires(*scopes: str) -> params.Security:
    """A route's or router's dependency on a principal with every one of `scopes`."""
    return params.Security(authenticated, scopes=list(scopes))


Authenticated = Annotated[Principal, Security(authenticated)]


def requires_roles(*roles: str) -> params.Depends:
    """A route's or router's dependency on a principal holding every one of `roles` (the
    token's `roles`, or Keycloak's realm roles): for what a scope cannot say."""

    async def holding_roles(principal: Authenticated) -> Principal:
        if missing := [role for role in roles if role not in principal.roles]:
            raise HTTPException(
                HTTPStatus.FORBIDDEN, f"The caller lacks the role {' '.join(missing)}."
            )
        return principal

    return params.Depends(holding_roles)


def auth_responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` of a protected route: 401 and 403, with their challenge."""
    responses = problem_responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    for status, meaning in (
        (HTTPStatus.UNAUTHORIZED, "the token is missing or invalid"),
        (HTTPStatus.FORBIDDEN, "the token lacks a scope the route needs"),
    ):
        responses[status]["headers"] = {
            "WWW-Authenticate": {
                "description": f"The Bearer challenge (RFC 6750): {meaning}",
                "schema": {"type": "string"},
            }
        }
    return responses


async def _principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal | HTTPException:
    """The request's principal, or the refusal to answer without one: verified once."""
    known: Principal | HTTPException | None = request.scope.get(PRINCIPAL)
    if known is not None:
        return known
    try:
        known = await _verified(request, credentials)
    except HTTPException as refusal:
        known = refusal
    else:
        access_log_fields(request.scope).update(subject=known.subject, client_id=known.client_id)
    request.scope[PRINCIPAL] = known
    return known


async def _verified(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    verifier = app_state(request.app)[TOKEN_VERIFIER]
    if verifier is None:
        raise HTTPException(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"No OpenID provider is configured: set {ENV_PREFIX}OIDC_ISSUER and "
            f"{ENV_PREFIX}OIDC_AUDIENCE (`make run` starts a local one).",
        )
    if credentials is None:
        # RFC 6750, section 3.1: a request without credentials gets no error code.
        raise HTTPException(
            HTTPStatus.UNAUTHORIZED,
            "An access token is required: send `Authorization: Bearer <token>`.",
            {"WWW-Authenticate": "Bearer"},
        )
    try:
        return await verifier.verify(credentials.credentials)
    except InvalidTokenError as error:
        raise HTTPException(
            HTTPStatus.UNAUTHORIZED,
            str(error),
            {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{error}"'},
        ) from None
    except ProviderUnavailableError:
        raise HTTPException(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "The OpenID provider's keys cannot be fetched to verify the access token.",
            {"Retry-After": RETRY_AFTER_SECONDS},
        ) from None
