"""`python -m <package>`: serve the app with production server settings."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import uvicorn
from pydantic import ValidationError

from .config import explain, get_settings
from .vault.client import VaultError


def stop_cleanly(signum: int, frame: FrameType | None) -> None:
    """SIGTERM once uvicorn's graceful shutdown is done: it raises the signal again for the
    handler it found, and a stop that was asked for and carried out exits 0, not 143."""
    sys.exit(0)


def main() -> None:
    # A setting the service cannot run with stops it with one readable line for the pod's
    # log (never a traceback, nor the value, which may be a secret) and a non-zero exit.
    try:
        settings = get_settings()
    except ValidationError as error:
        sys.exit(f"{__package__} cannot start: {explain(error)}")
    except VaultError as error:
        sys.exit(f"{__package__} cannot start: {error}")
    signal.signal(signal.SIGTERM, stop_cleanly)
    uvicorn.run(
        f"{__package__}.main:app",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        log_config=None,
        # The app writes one cheap access line per request (middleware.py), with its ID.
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
