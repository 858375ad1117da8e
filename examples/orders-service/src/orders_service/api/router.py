"""Version 1 of the public API: every domain's router under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from ..items.router import router as items_router

router = APIRouter(prefix="/api/v1")
router.include_router(items_router)
