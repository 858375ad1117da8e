"""`copier update` brings a newer standard into a service and keeps the service's own work.

As simple-modern-uv tests it: render from the previous release, commit, change what a team
changes, update; then no rejected hunk, no conflict, and no difference from a fresh render of
the new version except what the user changed. Each test builds a throw-away template
repository with release tags (tests/template_repo.py): the previous release is this
repository's last tag, or, before the first one, a synthetic older version of this work tree.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

from tests import template_repo
from tests.rendering import (
    CommandFailedError,
    commit_all,
    read_text,
    render,
    rendered_files,
    run,
)
from tests.template_repo import Releases
from tests.test_generation import PAIRWISE, Case

ANSWERS = {"project_name": "Orders Service"}
SLUG = "orders-service"
PACKAGE = "orders_service"

GITHUB_DIR = "template/{% if github_actions %}.github{% endif %}"
# What a synthetic previous version lacks: the update must bring it.
ADDED_SINCE_PREVIOUS = f"{GITHUB_DIR}/workflows/template-update.yml"
# A line the synthetic previous version has at the top of the files users edit below: the
# update must remove it (a template change) and keep the users' edits (further down) intact.
SUPERSEDED = "# Superseded by the next release of the template.\n"
EDITED_TEMPLATE_FILES = (
    "template/src/*/items/router.py*",
    "template/*charts*/*/values.yaml*",
    "template/pyproject.toml*",
)
# Files the update leaves to the user (copier.yml `_skip_if_exists`) or never renders.
USER_OWNED = frozenset({"openapi.json", "uv.lock"})

ROUTER = f"src/{PACKAGE}/items/router.py"
VALUES = f"charts/{SLUG}/values.yaml"
USER_ROUTE = """

@router.get("/{item_id}/name", summary="Read an item's name", responses=problem_responses(404, 422))
async def read_item_name(item_id: UUID, service: ItemServiceDep) -> str:
    item = await service.get(item_id)
    return item.name
"""
USER_REPLICAS = "replicaCount: 3"
USER_DEPENDENCY = '    "anyio>=4.4,<5",\n'
CONFLICT_MARKER = re.compile(r"^(<<<<<<<|>>>>>>>)( |$)", re.MULTILINE)


def synthetic_previous(repo: Path) -> None:
    """The template as a release before this work tree might have been."""
    (repo / ADDED_SINCE_PREVIOUS).unlink()
    for pattern in EDITED_TEMPLATE_FILES:
        matches = sorted(repo.glob(pattern))
        assert len(matches) == 1, f"{pattern} should name one template file, not {matches}"
        matches[0].write_text(SUPERSEDED + matches[0].read_text())


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    """The template's previous release and this work tree as the next one."""
    repo = tmp_path_factory.mktemp("template") / "repo"
    return template_repo.previous_and_head(repo, synthetic_previous)


def update(project: Path, **options: Any) -> None:
    """`copier update --trust --defaults` in project, to the newest release unless told."""
    copier.run_update(
        str(project), defaults=True, overwrite=True, unsafe=True, quiet=True, **options
    )


def answers(project: Path) -> dict[str, Any]:
    recorded: dict[str, Any] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return recorded


def tree(project: Path) -> dict[str, str | None]:
    """Every file of project but git's and tools' own, by relative path (text, or None)."""
    return {
        path.relative_to(project).as_posix(): read_text(path) for path in rendered_files(project)
    }


def leftovers(project: Path) -> list[str]:
    """Rejected hunks and conflict markers that an update left in project."""
    found = [path.relative_to(project).as_posix() for path in project.rglob("*.rej")]
    found += [
        f"{name}: conflict markers"
        for name, text in tree(project).items()
        if text is not None and CONFLICT_MARKER.search(text)
    ]
    return found


def differences(project: Path, expected: Path, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Files that differ between two projects (or exist in one only), but those ignored."""
    found, wanted = tree(project), tree(expected)
    return sorted(
        name
        for name in found.keys() | wanted.keys()
        if name not in ignore and found.get(name) != wanted.get(name)
    )


def add_route(project: Path) -> None:
    router = project / ROUTER
    router.write_text(router.read_text() + USER_ROUTE)


def change_replicas(project: Path) -> None:
    values = project / VALUES
    text, count = re.subn(r"^replicaCount: \d+$", USER_REPLICAS, values.read_text(), flags=re.M)
    assert count == 1, f"{VALUES} has no top-level replicaCount to change"
    values.write_text(text)


def add_dependency(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    lines = pyproject.read_text().splitlines(keepends=True)
    start = lines.index("dependencies = [\n")
    end = lines.index("]\n", start)
    pyproject.write_text("".join([*lines[:end], USER_DEPENDENCY, *lines[end:]]))


def typical_edits(project: Path) -> None:
    """What a team does to its service: a route, a deployment value, a dependency."""
    add_route(project)
    change_replicas(project)
    add_dependency(project)


def check_update(project: Path) -> dict[str, Any]:
    """`copier check-update --output-format json` in project."""
    output = run(
        [sys.executable, "-m", "copier", "check-update", "--output-format", "json"], project
    )
    reported: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return reported


@pytest.mark.slow
def test_previous_release_updates_to_head_and_keeps_user_edits(
    releases: Releases, tmp_path: Path
) -> None:
    project = render(ANSWERS, tmp_path / SLUG, src=releases.repo, vcs_ref=releases.previous)
    commit_all(project, f"Render {releases.previous}")
    run(["make", "install"], project)
    commit_all(project, "Lock dependencies")
    typical_edits(project)
    run(["make", "install", "openapi"], project)
    commit_all(project, "A route, three replicas, a dependency")

    update(project)

    assert answers(project)["_commit"] == releases.head
    assert leftovers(project) == [], "the update left rejected hunks or conflicts"
    assert USER_ROUTE in (project / ROUTER).read_text()
    assert USER_REPLICAS in (project / VALUES).read_text()
    assert USER_DEPENDENCY in (project / "pyproject.toml").read_text()
    assert "/name" in (project / "openapi.json").read_text(), "the user's openapi.json was lost"
    fresh = render(
        ANSWERS, tmp_path / "fresh", src=releases.repo, vcs_ref=releases.head, tasks=False
    )
    typical_edits(fresh)
    differing = differences(project, fresh, ignore=USER_OWNED)
    assert differing == [], "these differ from a fresh render of the new release + the edits"

    run(["make", "install", "openapi", "check"], project)


def gated_with_redis() -> Case:
    """A gated answer set with cache=redis and this module's names (test_generation.py)."""
    [case] = [
        case
        for case in PAIRWISE
        if case.answer("cache") == "redis" and case.answer("project_slug") == SLUG
    ]
    return case


@pytest.mark.slow
def test_changing_an_answer_adds_the_redis_wiring(releases: Releases, tmp_path: Path) -> None:
    # Changed, the answers are a set whose render the gates run (test_generation.py): files
    # equal to that render pass them as well. The update's own part is the lock and the
    # environment `make install` brings in step, with Redis's client.
    target = gated_with_redis()
    before = {**target.data, "cache": "memory"}
    project = render(before, tmp_path / SLUG, src=releases.repo, vcs_ref=releases.head)
    commit_all(project, "Render")
    run(["make", "install"], project)
    commit_all(project, "Lock dependencies")

    update(project, data={"cache": "redis"}, vcs_ref=releases.head)

    assert answers(project)["cache"] == "redis"
    assert leftovers(project) == []
    fresh = render(target.data, tmp_path / "fresh", src=releases.repo, tasks=False)
    assert differences(project, fresh, ignore=USER_OWNED) == []
    assert (project / "src" / PACKAGE / "cache" / "redis.py").is_file()
    run(["make", "install"], project)
    assert 'name = "redis"' in (project / "uv.lock").read_text()
    run(
        ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider", "tests/cache"], project
    )


def test_deleted_files_stay_deleted_and_check_update_sees_the_release(
    releases: Releases, tmp_path: Path
) -> None:
    project = render(ANSWERS, tmp_path / SLUG, src=releases.repo, vcs_ref=releases.previous)
    deleted = [project / ".github" / "dependabot.yml", project / ".github" / "renovate.json"]
    for path in deleted:
        path.unlink()
    commit_all(project, "No dependency bots here")

    before = check_update(project)
    update(project)
    after = check_update(project)

    assert before == {
        "update_available": True,
        "current_version": releases.previous.removeprefix("v"),
        "latest_version": releases.head.removeprefix("v"),
    }
    assert after["update_available"] is False
    assert [path for path in deleted if path.exists()] == []
    assert leftovers(project) == []


def test_generated_pre_commit_refuses_conflict_leftovers(tmp_path: Path) -> None:
    project = render(ANSWERS, tmp_path / SLUG)
    commit_all(project, "Render")  # pre-commit refuses to run on an uncommitted configuration
    conflicted = project / "notes.md"
    conflicted.write_text(
        "<<<<<<< before updating\nmine\n=======\ntheirs\n>>>>>>> after updating\n"
    )
    rejected = project / "Makefile.rej"
    rejected.write_text("@@ -1 +1 @@\n-a\n+b\n")
    for hook, path in (("conflict-markers", conflicted), ("copier-rejects", rejected)):
        pre_commit = [sys.executable, "-m", "pre_commit", "run", hook, "--files", path.name]
        with pytest.raises(CommandFailedError) as refused:
            run(pre_commit, project)
        assert path.name in str(refused.value), f"{hook} did not name {path.name}"


# An update that cannot merge: it fails, names the files, and make names them until resolved

MAKEFILE_LINE = "LOAD_USERS ?= 20\n"
CONFLICT_BLOCK = re.compile(r"^<<<<<<< before updating\n.*?^>>>>>>> after updating\n", re.M | re.S)


def more_load_users(repo: Path) -> None:
    """The next release raises the default load of `make loadtest`."""
    makefile = repo / "template" / "Makefile.jinja"
    text = makefile.read_text()
    assert text.count(MAKEFILE_LINE) == 1, f"Makefile.jinja should have one {MAKEFILE_LINE!r}"
    makefile.write_text(text.replace(MAKEFILE_LINE, "LOAD_USERS ?= 25\n"))


@pytest.fixture(scope="module")
def conflicting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository whose v1.1.0 changes a line of the Makefile."""
    repo = tmp_path_factory.mktemp("conflicting") / "repo"
    return template_repo.build(repo, [("v1.0.0", None), ("v1.1.0", more_load_users)])


def test_an_update_with_conflicts_fails_and_names_them(conflicting: Path, tmp_path: Path) -> None:
    project = render(ANSWERS, tmp_path / SLUG, src=conflicting, vcs_ref="v1.0.0")
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text().replace(MAKEFILE_LINE, "LOAD_USERS ?= 50\n"))
    commit_all(project, "Our own load")

    copier_update = [sys.executable, "-m", "copier", "update", "--trust", "--defaults"]
    with pytest.raises(CommandFailedError) as update_failed:
        run(copier_update, project)
    told = str(update_failed.value)
    assert "conflicts to resolve in 1 file(s):\n  Makefile\n" in told, told
    assert "now follows the template's newer standard" not in told
    assert "Traceback" not in told
    # Nothing is lost: both sides are in the file, and the rest of the update applied.
    merged = makefile.read_text()
    assert "LOAD_USERS ?= 50" in merged
    assert "LOAD_USERS ?= 25" in merged
    assert answers(project)["_commit"] == "v1.1.0"

    with pytest.raises(CommandFailedError) as make_refused:
        run(["make", "help"], project)
    assert "copier update left conflicts in Makefile" in str(make_refused.value)

    makefile.write_text(CONFLICT_BLOCK.sub("LOAD_USERS ?= 40\n", merged))  # resolved
    run(["git", "add", "Makefile"], project)
    assert "install" in run(["make", "help"], project)
    assert leftovers(project) == []


# A rename of a generated file and of a question, each carried by a migration ---------------

RENAMED_FROM = f"{GITHUB_DIR}/workflows/ci.yml.jinja"
RENAMED_TO = f"{GITHUB_DIR}/workflows/checks.yml.jinja"
MIGRATIONS = "\n_migrations:\n"
RENAME_MIGRATIONS = """\
  - version: v2.0.0
    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/migrate.py",
              "--answers-file", "{{ _copier_conf.answers_file }}",
              "rename-answer", "author_name", "owner_name"]
    when: "{{ _stage == 'before' }}"
  - version: v2.0.0
    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/migrate.py",
              "--answers-file", "{{ _copier_conf.answers_file }}",
              "rename", ".github/workflows/ci.yml", ".github/workflows/checks.yml"]
    when: "{{ _stage == 'after' }}"
"""
USER_COMMENT = "# The payments team deploys on Tuesdays.\n"


def renames(repo: Path) -> None:
    """v2: ci.yml becomes checks.yml, the question author_name becomes owner_name."""
    (repo / RENAMED_FROM).rename(repo / RENAMED_TO)
    for path in [repo / "copier.yml", *(repo / "template").rglob("*")]:
        if path.is_file() and (text := read_text(path)) is not None and "author_name" in text:
            path.write_text(text.replace("author_name", "owner_name"))
    config = repo / "copier.yml"
    text = config.read_text()
    assert text.count(MIGRATIONS) == 1, "copier.yml should declare one `_migrations:` list"
    config.write_text(text.replace(MIGRATIONS, MIGRATIONS + RENAME_MIGRATIONS))


@pytest.fixture(scope="module")
def renaming(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository whose v2.0.0 renames a file and a question, with migrations."""
    repo = tmp_path_factory.mktemp("renaming") / "repo"
    return template_repo.build(repo, [("v1.0.0", None), ("v2.0.0", renames)])


def comment_ci(project: Path, workflow: str) -> None:
    """The user's edit of the CI workflow: a line in the middle of the file."""
    path = project / ".github" / "workflows" / workflow
    text = path.read_text()
    path.write_text(text.replace("\njobs:\n", f"\n{USER_COMMENT}jobs:\n", 1))


def test_renames_carried_by_migrations_keep_the_users_work(renaming: Path, tmp_path: Path) -> None:
    owner = {**ANSWERS, "author_name": "Payments Team"}
    project = render(owner, tmp_path / SLUG, src=renaming, vcs_ref="v1.0.0")
    comment_ci(project, "ci.yml")
    commit_all(project, "A note in CI")

    update(project)

    workflows = project / ".github" / "workflows"
    assert not (workflows / "ci.yml").exists()
    assert USER_COMMENT in (workflows / "checks.yml").read_text(), "the edit of ci.yml was lost"
    assert leftovers(project) == []
    recorded = answers(project)
    assert (recorded.get("owner_name"), "author_name" in recorded) == ("Payments Team", False)
    fresh = render({**ANSWERS, "owner_name": "Payments Team"}, tmp_path / "fresh", src=renaming)
    comment_ci(fresh, "checks.yml")
    assert differences(project, fresh, ignore=USER_OWNED) == []


def test_a_rename_keeps_a_deleted_file_deleted(renaming: Path, tmp_path: Path) -> None:
    project = render(ANSWERS, tmp_path / SLUG, src=renaming, vcs_ref="v1.0.0")
    (project / ".github" / "workflows" / "ci.yml").unlink()
    commit_all(project, "CI lives elsewhere")

    update(project)

    workflows = project / ".github" / "workflows"
    assert not (workflows / "ci.yml").exists()
    assert not (workflows / "checks.yml").exists()
