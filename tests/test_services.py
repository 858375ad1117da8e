"""The rendered project's whole suite passes against real PostgreSQL and Redis servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rendering import commit_all, render, run
from tests.servers import (
    Server,
    postgres_query,
    postgres_rows_written,
    redis_answers,
    redis_commands_processed,
)

ANSWERS = {
    "project_name": "Orders Service",
    "database": "postgresql",
    "cache": "redis",
    "vault": "api",
}


def test_servers_answer_on_loopback(postgres: Server, redis: Server) -> None:
    """The harness's own servers work, whatever state the template is in."""
    assert postgres_query(postgres, "select 1") == "1"
    assert redis_answers(redis.port)


@pytest.mark.slow
def test_suite_passes_against_servers(postgres: Server, redis: Server, tmp_path: Path) -> None:
    project = render(ANSWERS, tmp_path / "orders-service")
    commit_all(project, "Render from the template")
    run(["make", "install"], project)
    rows, commands = postgres_rows_written(postgres), redis_commands_processed(redis)

    env = {"TEST_DATABASE_URL": postgres.url, "TEST_CACHE_URL": redis.url}
    output = run(["make", "test"], project, env=env)

    assert " passed" in output, f"`make test` ran no test:\n{output[-2000:]}"
    summary = [line for line in output.splitlines() if " passed" in line][-1]
    # Tests that need the real servers skip without them: here every one of them must run.
    assert "skipped" not in summary, summary
    # The servers' own counters show the suite used them rather than its in-process stand-ins.
    assert postgres_rows_written(postgres) > rows, "the suite wrote nothing to PostgreSQL"
    assert redis_commands_processed(redis) > commands + 1, "the suite sent nothing to Redis"
