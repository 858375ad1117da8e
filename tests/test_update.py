"""`copier update` carries a project to the template's next version and keeps the user's work.

As simple-modern-uv tests it: render from the previous version, commit, change something,
update; then no rejected hunks, and no difference from a fresh render of the new version
except what the user changed. The two versions are snapshots of this working tree, the
second with one file added, so the test needs no release history.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import copier
import pytest

from tests.rendering import (
    GIT_IDENTITY,
    REPO_ROOT,
    commit_all,
    render,
    rendered_files,
    run,
)

ANSWERS = {"project_name": "Orders Service"}
ADDED_IN_V2 = "UPGRADING.md"
USER_FILE = "NOTES.md"
USER_LINE = "# Kept across template updates.\n"


def tag(repo: Path, name: str) -> None:
    """Commit repo's work tree and tag it."""
    commit_all(repo, f"Template {name}")
    run(["git", *GIT_IDENTITY, "tag", name], repo)


@pytest.fixture(scope="module")
def template_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository of this template with tags v1 and v2 (v2 adds one file)."""
    repo = tmp_path_factory.mktemp("template") / "repo"
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], REPO_ROOT)
    for relative in filter(None, listed.split("\0")):
        source = REPO_ROOT / relative
        if source.is_file():  # skips files deleted but not yet staged
            (repo / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / relative)
    run(["git", "init", "--quiet", "--initial-branch=main"], repo)
    tag(repo, "v1")
    (repo / "template" / ADDED_IN_V2).write_text("Read this before updating.\n")
    tag(repo, "v2")
    return repo


def user_changes(project: Path) -> None:
    """What a user does to a project: add a file, extend one the template owns."""
    (project / USER_FILE).write_text("Team notes.\n")
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write(USER_LINE)


def tree(project: Path) -> dict[str, bytes]:
    """Every file of project but git's own, by relative path."""
    return {
        path.relative_to(project).as_posix(): path.read_bytes() for path in rendered_files(project)
    }


def test_update_keeps_user_changes_and_brings_new_files(
    template_versions: Path, tmp_path: Path
) -> None:
    project = render(ANSWERS, tmp_path / "updated", src=template_versions, vcs_ref="v1")
    commit_all(project, "Render v1")
    user_changes(project)
    commit_all(project, "User changes")

    copier.run_update(
        str(project), vcs_ref="v2", defaults=True, overwrite=True, unsafe=True, quiet=True
    )

    fresh = render(ANSWERS, tmp_path / "fresh", src=template_versions, vcs_ref="v2")
    user_changes(fresh)
    assert not list(project.rglob("*.rej")), "the update left rejected hunks"
    assert (project / ADDED_IN_V2).is_file(), "the file added in v2 did not arrive"
    updated, expected = tree(project), tree(fresh)
    differing = sorted(
        name for name in updated.keys() | expected.keys() if updated.get(name) != expected.get(name)
    )
    assert differing == [], "after the update, these differ from a fresh v2 render + user changes"
