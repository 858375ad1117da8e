"""Kubernetes-style probes: liveness says the process runs, readiness that it can serve."""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus

from fastapi import APIRouter, Response
from pydantic import BaseModel

from .deps import StateDep

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
        HTTPStatus.SERVICE_UNAVAILABLE: {"model": Readiness, "description": "A dependency is down"}
    },
)
async def readyz(state: StateDep, response: Response) -> Readiness:
    """Answers 200 when every dependency answers (database, cache, ...), 503 otherwise."""
    checks = {
        name: Status.OK if await check() else Status.UNAVAILABLE
        for name, check in state.readiness_checks().items()
    }
    ready = all(check is Status.OK for check in checks.values())
    if not ready:
        response.status_code = HTTPStatus.SERVICE_UNAVAILABLE
    return Readiness(status=Status.OK if ready else Status.UNAVAILABLE, checks=checks)
