"""`make chaos-local` in a PostgreSQL + Redis render: the service under load while its
dependencies are killed, frozen, restarted and stopped, and while it is stopped itself.

The rendered script starts its own PostgreSQL, Redis and OpenID provider on loopback and
asserts each experiment (loadtests/faults.py in the render); here it must pass with every
experiment run. Its summary table is recorded as a measurement of the run.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.rendering import CommandFailedError, commit_all, render, run
from tests.servers import ServerError, postgres_bin

ANSWERS = {"project_name": "Orders Service", "database": "postgresql", "cache": "redis"}
# Each experiment's row in the summary table: none may be left out.
EXPERIMENTS = (
    "no fault",
    "Redis killed",
    "Redis frozen",
    "PostgreSQL restarted",
    "PostgreSQL stopped",
    "both stopped",
    "SIGTERM, writes in flight",
)
# The script bounds itself at about a minute; past this something hangs.
CHAOS_TIMEOUT_SECONDS = 300.0


def summary(output: str) -> str:
    """The script's report: its table, the writes line and the verdicts, without make's echo."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("| experiment")), None)
    return "\n".join(lines[start:] if start is not None else lines[-20:])


@pytest.mark.slow
def test_chaos_local_passes(tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    # The servers are the script's own, but a missing binary must fail here, never skip.
    try:
        postgres_bin()
    except ServerError as error:
        pytest.fail(str(error), pytrace=False)
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server not found on PATH: install it (apt-get install redis-server)")

    project = render(ANSWERS, tmp_path / "orders-service")
    commit_all(project, "Render from the template")
    run(["make", "install"], project)

    started = time.monotonic()
    try:
        output = run(["make", "chaos-local"], project, timeout=CHAOS_TIMEOUT_SECONDS)
    except CommandFailedError as failure:
        record_property("measure: chaos-local (failed)", "\n" + summary(str(failure)))
        raise
    seconds = time.monotonic() - started
    report = summary(output)
    # The run's "measurements" section prints it (conftest.py).
    record_property("measure: chaos-local", f"{seconds:.0f} s\n{report}")

    assert "chaos-local: every check passed" in output, report
    rows = [line.split("|")[1].strip() for line in report.splitlines() if line.startswith("| ")]
    missing = [name for name in EXPERIMENTS if not any(row.startswith(name) for row in rows)]
    assert not missing, f"experiments left out of the run: {missing}\n{report}"
