"""Version 1 of the public API: every domain's router under /api/v1.

Dependencies given here (`APIRouter(prefix="/api/v1", dependencies=[...])`) apply to every
domain's routes, cached reads included.
"""

from __future__ import annotations

from fastapi import APIRouter

from ..domains import DOMAINS

router = APIRouter(prefix="/api/v1")
for domain in DOMAINS:
    router.include_router(domain.router)
