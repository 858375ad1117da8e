"""The README's commands work as written, on a machine with nothing but Python, git and make.

The commands are read from README.md (the fenced `sh` block after each marker), never copied
here, so editing the README changes what runs. They run with a newcomer's PATH: the
machine's own, without any directory that holds uv or Copier, so only what the quick start
itself installs is there. The quick start generates a service from a clone; the service's
steps install and check it, and the rest of the gates the other answer sets get in
test_generation.py run on it; then the template changes in a new commit, and the documented
update command must bring the change into the service.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from tests import template_repo
from tests.markdown import sh_commands
from tests.rendering import GIT_IDENTITY, REPO_ROOT, commit_all, porcelain, run
from tests.test_generation import README_SERVICE, runs_its_hooks

README = REPO_ROOT / "README.md"
QUICK_START = "<!-- quick-start:"
SERVICE_STEPS = "<!-- service-steps:"
UPDATE = "<!-- update:"
NOT_A_NEWCOMERS = ("uv", "uvx", "copier")
UPSTREAM_CHANGE = "The template changed after this service was generated.\n"


def newcomers_path() -> str:
    """This machine's PATH without the directories that hold uv or Copier."""
    kept = [
        directory
        for directory in os.environ.get("PATH", "").split(os.pathsep)
        if directory
        and not any(Path(directory, tool).exists() for tool in NOT_A_NEWCOMERS)
        and ".venv" not in Path(directory).parts
    ]
    path = os.pathsep.join(kept)
    for tool in NOT_A_NEWCOMERS:
        assert shutil.which(tool, path=path) is None, f"{tool} is still on the newcomer's PATH"
    return path


def test_quick_start_has_the_two_commands() -> None:
    quick_start = sh_commands(README.read_text(), QUICK_START)
    assert len(quick_start) == 2, f"expected two quick-start commands, found {quick_start}"
    assert "copier copy" in quick_start[0]
    assert quick_start[1] == "make test"


def test_make_test_is_what_ci_runs() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test( |$)", ci, re.MULTILINE), ".ci/run no longer runs `make test`"


def generated_destination(command: str, clone: Path) -> Path:
    """Where the copier command writes: its last argument, relative to the clone."""
    return (clone / shlex.split(command)[-1]).resolve()


def assert_is_the_readme_service(service: Path) -> None:
    """The quick start generates the answer set test_generation.py leaves to this test."""
    answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
    expected = {**README_SERVICE.data, **README_SERVICE.combination}
    assert {question: answers[question] for question in expected} == expected


def change_the_template(clone: Path) -> None:
    """A new commit of the template, as its maintainers make one after the service exists."""
    readme = clone / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\n" + UPSTREAM_CHANGE)
    run(["git", *GIT_IDENTITY, "commit", "--quiet", "--all", "-m", "A newer standard"], clone)


@pytest.mark.slow
def test_a_newcomer_generates_checks_and_updates_a_service(tmp_path: Path) -> None:
    text = README.read_text()
    newcomer = {"PATH": newcomers_path()}
    clone = tmp_path / "fastapi-service-template"
    run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], tmp_path)
    # HEAD plus this work tree's changes, committed: a clean clone of what is being tested.
    template_repo.lay_snapshot(clone)
    commit_all(clone, "The work tree under test")
    generate = sh_commands(text, QUICK_START)[0]

    run(["bash", "-euo", "pipefail", "-c", generate], clone, env=newcomer)

    service = generated_destination(generate, clone)
    assert (service / ".copier-answers.yml").is_file(), f"nothing generated at {service}"
    assert (service / "uv.lock").is_file(), "copier copy left no uv.lock"
    assert_is_the_readme_service(service)
    commit_all(service, "The service as generated")
    for command in sh_commands(text, SERVICE_STEPS):
        run(["bash", "-euo", "pipefail", "-c", command], service, env=newcomer)
    # The rest of its gates (tests/test_generation.py's for the other answer sets).
    assert porcelain(service) == "", "`make install check` changed or left files behind"
    run(["make", "fmt"], service, env=newcomer)
    assert porcelain(service) == "", "`make fmt` changed the generated service"
    runs_its_hooks(service)

    change_the_template(clone)
    for command in sh_commands(text, UPDATE):
        run(["bash", "-euo", "pipefail", "-c", command], service, env=newcomer)

    assert UPSTREAM_CHANGE in (service / "README.md").read_text(), "the update did not arrive"
