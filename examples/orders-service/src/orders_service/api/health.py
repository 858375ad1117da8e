"""Kubernetes-style probes: liveness says the process runs, readiness that it can serve."""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum
from http import HTTPStatus

from fastapi import APIRouter, Response
from pydantic import BaseModel

from ..state import AppState, Dependency, StateDep

# A check slower than this has failed: a frozen dependency must not hold the probe past the
# kubelet's timeout (1 s by default), nor fail liveness, which checks nothing.
CHECK_TIMEOUT_SECONDS = 0.5

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
            "description": "Nothing can be served: the database is down, the cache too",
        }
    },
)
async def readyz(state: StateDep, response: Response) -> Readiness:
    """Reports every dependency; answers 503 only when the pod can serve nothing: a required
    dependency (the database) failing for longer than the grace period while what stands in
    for it (the cache, for reads) fails too. Every pod shares the database: were they all to
    leave rotation the moment it fails, the reads the cache still serves would go with them."""
    dependencies = state.dependencies()
    answers = await asyncio.gather(*(answered(d) for d in dependencies.values()))
    checks = dict(zip(dependencies, answers, strict=True))
    now = time.monotonic()
    for name, status in checks.items():
        if status is Status.OK:
            state.down_since.pop(name, None)
        else:
            state.down_since.setdefault(name, now)
    ready = not any(
        leaves_nothing_to_serve(name, dependency, checks, state, now)
        for name, dependency in dependencies.items()
    )
    if not ready:
        response.status_code = HTTPStatus.SERVICE_UNAVAILABLE
    return Readiness(status=Status.OK if ready else Status.UNAVAILABLE, checks=checks)


async def answered(dependency: Dependency) -> Status:
    """The dependency's check, failed when it raises or outlasts CHECK_TIMEOUT_SECONDS."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return Status.OK if await dependency.check() else Status.UNAVAILABLE
    except Exception:  # noqa: BLE001 - a check that fails in any way reports it down
        return Status.UNAVAILABLE


def leaves_nothing_to_serve(
    name: str, dependency: Dependency, checks: dict[str, Status], state: AppState, now: float
) -> bool:
    """Whether a required dependency is down past the grace period, its fallback down too."""
    if not dependency.required or checks[name] is Status.OK:
        return False
    if now - state.down_since[name] < state.settings.readiness_grace_seconds:
        return False
    return dependency.fallback is None or checks.get(dependency.fallback) is not Status.OK
