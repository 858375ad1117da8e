"""examples/orders-service is exactly what the template renders, fresh or by `copier update`.

The example is committed so readers can browse a real generated repository; these tests keep
it true. When one fails after a template change, run `make example` and commit the result.
"""

from __future__ import annotations

import re
from pathlib import Path

import copier
import pytest
import yaml

from scripts import example
from tests import template_repo
from tests.rendering import REPO_ROOT, commit_all, render, run
from tests.template_repo import Releases
from tests.test_update import synthetic_previous

EXAMPLES_README = REPO_ROOT / "examples" / "README.md"
ANSWER_ROW = re.compile(r"^\| `(?P<question>[a-z_]+)` \| `(?P<answer>[^`]*)` \|", re.MULTILINE)


def skipped_if_exists() -> frozenset[str]:
    """copier.yml's `_skip_if_exists`: the service's files after the first copy."""
    config = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
    return frozenset(config.get("_skip_if_exists", []))


def test_example_is_a_fresh_render(tmp_path: Path) -> None:
    rendered = example.render(tmp_path / example.EXAMPLE.name)
    drift = example.differences(rendered)
    assert drift == [], "examples/orders-service drifted; run `make example`:\n" + "\n".join(drift)


def test_example_answers_are_documented() -> None:
    documented = {
        row["question"]: row["answer"] for row in ANSWER_ROW.finditer(EXAMPLES_README.read_text())
    }
    assert documented == dict(example.ANSWERS), "examples/README.md and scripts/example.py differ"


def test_example_records_its_template() -> None:
    answers = yaml.safe_load((example.EXAMPLE / example.ANSWERS_FILE).read_text())
    assert answers["_src_path"] == example.SRC_PATH
    assert isinstance(answers.get("_commit"), str), "the example's answers lack `_commit`"
    assert (example.EXAMPLE / example.SRC_PATH / "copier.yml").resolve() == (
        REPO_ROOT / "copier.yml"
    )


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    """The template's previous release and this work tree as the next one."""
    repo = tmp_path_factory.mktemp("template") / "repo"
    return template_repo.previous_and_head(repo, synthetic_previous)


def test_update_from_the_previous_release_gives_the_example(
    releases: Releases, tmp_path: Path
) -> None:
    """The example's answers rendered at the previous release, its domain added as a team
    adds it, then updated: the example, the added domain untouched and nothing in conflict."""
    destination = tmp_path / example.EXAMPLE.name
    project = render(example.ANSWERS, destination, src=releases.repo, vcs_ref=releases.previous)
    commit_all(project, f"Render {releases.previous}")
    run(["make", "install"], project)
    run(example.ADD_DOMAIN, project)
    run(["make", "openapi"], project)
    commit_all(project, "Add the orders domain")
    added = {name: (project / name).read_bytes() for name in changed_files(project, "HEAD~1")}

    copier.run_update(str(project), defaults=True, overwrite=True, unsafe=True, quiet=True)

    assert {name: (project / name).read_bytes() for name in added} == added

    example.point_answers_here(project)
    # The service's own files after the first copy: an update leaves them, by design.
    drift = example.differences(project, ignore=skipped_if_exists())
    assert drift == [], "the update differs from the committed example:\n" + "\n".join(drift)


def changed_files(project: Path, since: str) -> list[str]:
    """Files a commit of project added or changed since `since`."""
    listed = run(["git", "diff", "--name-only", since, "HEAD"], project)
    return [name for name in listed.splitlines() if name and (project / name).is_file()]
