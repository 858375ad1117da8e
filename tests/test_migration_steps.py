"""A generated service's migration steps work as its README writes them, on a fresh checkout.

The commands are read from the service's README (the `sh` block after "After changing the
models:"), never copied here. They run in a new render whose model gained a column, with
no database yet: they must write a revision that adds the column, and that revision must
pass `make lint` as written (Alembic's post-write hooks run the project's ruff and black).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.markdown import sh_commands
from tests.rendering import commit_all, render, run
from tests.test_generation import NAME, PACKAGE, SLUG

MIGRATION_STEPS = "After changing the models:"
# Appended to models.py, whose last lines are the Item class's columns.
NEW_COLUMN = "    note: Mapped[str | None] = mapped_column(String(500))\n"


def migration_commands(readme: str) -> list[str]:
    """The commands of the `sh` block after MIGRATION_STEPS in the service's README."""
    return sh_commands(readme, MIGRATION_STEPS, where="the service README")


@pytest.mark.slow
def test_the_readme_steps_write_a_revision_that_passes_lint(tmp_path: Path) -> None:
    project = render({"project_name": NAME}, tmp_path / SLUG)
    run(["make", "install"], project)
    commit_all(project, "Render and lock")
    package = project / "src" / PACKAGE
    models = package / "items" / "models.py"
    models.write_text(models.read_text() + NEW_COLUMN)
    versions = package / "migrations" / "versions"
    existing = set(versions.glob("*.py"))

    steps = migration_commands((project / "README.md").read_text())
    assert steps, "the service README's migration block has no command"
    for step in steps:
        run(["sh", "-c", step], project)

    [revision] = set(versions.glob("*.py")) - existing
    assert 'op.add_column("items", sa.Column("note"' in revision.read_text()
    run(["make", "lint"], project)
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], project)
    assert {line[3:] for line in status.splitlines()} == {
        f"src/{PACKAGE}/items/models.py",
        f"src/{PACKAGE}/migrations/versions/{revision.name}",
    }, "the steps wrote more than the revision"
