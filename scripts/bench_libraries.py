"""The generated service's hand-written pieces against the maintained libraries, side by side.

Renders the default service, installs it and the candidate libraries (limits, rbloom,
purgatory, aiobreaker, python-json-logger, structlog, prometheus-fastapi-instrumentator)
into its virtualenv, then runs bench_libraries_measure.py there: rate limiting, Bloom
filter, circuit breaker, JSON log line and request metrics, each timed against the
libraries in one process (requests as direct ASGI calls, no sockets). Prints a table
(ours, theirs, the ratio and what behaves differently) and the facts behind the decisions
in docs/architecture.md: memory, Retry-After, false positives, series.

A measurement to read, not a test: `uv run python scripts/bench_libraries.py [--scale 0.2]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.rendering import REPO_ROOT, CommandFailedError, render, run, subprocess_env

MEASURE = Path(__file__).resolve().parent / "bench_libraries_measure.py"

LIBRARIES = (
    "limits",
    "rbloom",
    "purgatory",
    "aiobreaker",
    "python-json-logger",
    "structlog",
    "prometheus-fastapi-instrumentator",
)


def install_libraries(project: Path) -> list[str]:
    """Install the candidates into the project's venv; returns those PyPI could not give."""
    install = ["uv", "pip", "install", "--python", str(project / ".venv/bin/python")]
    try:
        run([*install, *LIBRARIES], project)
    except CommandFailedError:
        # One at a time, so one that fails to install leaves the others measured.
        missing = []
        for name in LIBRARIES:
            try:
                run([*install, name], project)
            except CommandFailedError:
                missing.append(name)
        return missing
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count (1.0)")
    options = parser.parse_args()
    if options.scale <= 0:
        parser.error("--scale must be positive")
    os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
    os.environ.setdefault("PYENV_VERSION", "3.11.7:3.12.1:3.13.0")

    with tempfile.TemporaryDirectory(prefix="bench-libraries-") as scratch:
        project = render(
            {"project_name": "Orders Service"},
            Path(scratch) / "orders-service",
            src=Path(os.environ.get("BENCH_TEMPLATE", REPO_ROOT)),
        )
        run(["make", "install"], project)
        for name in install_libraries(project):
            print(f"{name}: did not install from PyPI here")
        measured = subprocess.run(  # noqa: S603 - this repository's script, the render's python
            [str(project / ".venv/bin/python"), str(MEASURE), "--scale", str(options.scale)],
            cwd=project,
            env=subprocess_env(),
            check=False,
        )
    return measured.returncode


if __name__ == "__main__":
    sys.exit(main())
