"""Orders Service: a typed FastAPI service."""
