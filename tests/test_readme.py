"""The README's quick-start commands work as written, from a fresh clone of this repository.

The commands are read from README.md (the fenced block after the quick-start marker), never
copied here, so editing the README changes what runs. The first generates a service from a
clone; the second, `make test`, is this suite itself: it is checked to be what CI runs
rather than run again from inside it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests import template_repo
from tests.rendering import REPO_ROOT, commit_all, run

README = REPO_ROOT / "README.md"
MARKER = "<!-- quick-start:"
FENCE = re.compile(r"^```sh\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def quick_start(text: str) -> list[str]:
    """The commands of the first `sh` block after the marker, comments and blanks dropped."""
    _, marker, after = text.partition(MARKER)
    assert marker, f"README.md has no {MARKER} ... --> marker before its quick-start block"
    block = FENCE.search(after)
    assert block, "no ```sh block follows the quick-start marker"
    lines = (line.strip() for line in block.group("body").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_quick_start_has_the_two_commands() -> None:
    commands = quick_start(README.read_text())
    assert len(commands) == 2, f"expected two quick-start commands, found {commands}"
    assert "copier copy" in commands[0]
    assert commands[1] == "make test"


def test_make_test_is_what_ci_runs() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test( |$)", ci, re.MULTILINE), ".ci/run no longer runs `make test`"


def generated_destination(command: str, clone: Path) -> Path:
    """Where the copier command writes: its last argument, relative to the clone."""
    return (clone / shlex.split(command)[-1]).resolve()


@pytest.mark.slow
def test_first_command_generates_a_service_that_passes_its_gates(tmp_path: Path) -> None:
    clone = tmp_path / "fastapi-service-template"
    run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], tmp_path)
    # HEAD plus this work tree's changes, committed: a clean clone of what is being tested.
    template_repo.lay_snapshot(clone)
    commit_all(clone, "The work tree under test")
    first = quick_start(README.read_text())[0]

    run(["bash", "-euo", "pipefail", "-c", first], clone)

    service = generated_destination(first, clone)
    assert (service / ".copier-answers.yml").is_file(), f"nothing generated at {service}"
    run(["make", "install", "check"], service)
