"""Kubernetes-style probes: liveness says the process runs, readiness that it can serve."""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus

from fastapi import APIRouter, Response
from pydantic import BaseModel

from ..state import StateDep

router = APIRouter(tags=["health"])


class Status(StrEnum):
    OK = "ok"
    UNAVAILABLE = "unavailable"


class Liveness(BaseModel):
    status: Status


class Readiness(BaseModel):
    status: Status
    checks: dict[str, Status]


@router.get("/livez", summary="Liveness probe")
async def livez() -> Liveness:
    """Answers while the process can serve HTTP; checks no dependency."""
    return Liveness(status=Status.OK)


@router.get(
    "/readyz",
    summary="Readiness probe",
    responses={
        HTTPStatus.SERVICE_UNAVAILABLE: {
            "model": Readiness,
            "description": "A dependency the service cannot serve without is down",
        }
    },
)
async def readyz(state: StateDep, response: Response) -> Readiness:
    """Answers 503 while the database is down; reports the cache (and Vault) without
    failing on them, since the service serves on without the cache."""
    dependencies = state.dependencies()
    checks = {
        name: Status.OK if await dependency.check() else Status.UNAVAILABLE
        for name, dependency in dependencies.items()
    }
    ready = all(
        status is Status.OK for name, status in checks.items() if dependencies[name].required
    )
    if not ready:
        response.status_code = HTTPStatus.SERVICE_UNAVAILABLE
    return Readiness(status=Status.OK if ready else Status.UNAVAILABLE, checks=checks)
