"""Shared set-up of the template's tests: environment for subprocesses and the server fixtures."""

from __future__ import annotations

import os

import pytest

# Before anything runs a subprocess. uv must use the machine's Pythons (pyenv's shims
# expose python3.11, 3.12 and 3.13 with this PYENV_VERSION), never download one.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
os.environ.setdefault("PYENV_VERSION", "3.11.7:3.12.1:3.13.0")
# copier commits a dirty template in its clone, and the harness commits rendered projects:
# neither may depend on the machine's git configuration.
for _name, _value in {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
}.items():
    os.environ.setdefault(_name, _value)
# Python's default: compiled modules are cached in __pycache__. A machine that turns that off
# (PYTHONDONTWRITEBYTECODE) makes every process the tests start, from `uv run` to a rendered
# service's own test suite, compile each module it imports again: 3.9 s instead of 1.0 s to
# import a default render's app, a third of the generated suite's time.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

pytest_plugins = ("tests.servers",)

# Measurements that tests record with `record_property("measure: <what>", value)`:
# printed at the end of the run (pytest-xdist carries them back from its workers).
MEASURE_PREFIX = "measure: "


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The slow tests first, in their order: pytest-xdist hands out tests in this order, and a
    # worker that starts a two-minute test last keeps the run going while the other waits.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    measures = [
        (name.removeprefix(MEASURE_PREFIX), value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport) and report.when == "call"
        for name, value in report.user_properties
        if name.startswith(MEASURE_PREFIX)
    ]
    if measures:
        terminalreporter.section("measurements")
        for name, value in sorted(measures):
            terminalreporter.write_line(f"{name}: {value}")
