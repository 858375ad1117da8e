"""CHANGELOG.md follows the rules the release workflow enforces with scripts/changelog.py."""

from __future__ import annotations

import pytest

from scripts.changelog import DEFAULT_PATH, ChangelogError, check_newer, notes, problems

RELEASED = """\
# Changelog

## [Unreleased]

### For services

- Something new.

## [1.1.0] - 2026-11-20

### For services

- Renamed `ci.yml` to `checks.yml`.

### Migrations

`hooks/migrate.py rename` carries your edits of ci.yml over.

## [1.0.0] - 2026-10-01

### Migrations

None.
"""


def test_the_repository_changelog_follows_the_rules() -> None:
    assert problems(DEFAULT_PATH.read_text(encoding="utf-8")) == []


def test_notes_are_the_versions_section() -> None:
    assert notes(RELEASED, "1.1.0") == (
        "### For services\n\n- Renamed `ci.yml` to `checks.yml`.\n\n"
        "### Migrations\n\n`hooks/migrate.py rename` carries your edits of ci.yml over.\n"
    )


def test_a_version_without_a_section_has_no_notes() -> None:
    with pytest.raises(ChangelogError, match=r"no section \[1\.2\.0\]"):
        notes(RELEASED, "1.2.0")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (RELEASED.replace("# Changelog", "# Changes"), "`# Changelog`"),
        (RELEASED.replace("[1.1.0] - 2026-11-20", "[1.1.0]"), "[1.1.0] has no date"),
        (RELEASED.replace("[1.0.0]", "[1.2.0]"), "newest first"),
        (RELEASED.replace("[1.1.0]", "[1.1]"), "[1.1] is not a MAJOR.MINOR.PATCH"),
        (RELEASED.replace("### Migrations\n\nNone.\n", ""), "[1.0.0] does not say"),
        (RELEASED.replace("## [Unreleased]", "## Unreleased"), "is not `## [X.Y.Z]"),
        (RELEASED.replace("## [Unreleased]\n", "") + "\n## [Unreleased]\n", "must be the first"),
    ],
)
def test_broken_rules_are_named(text: str, problem: str) -> None:
    assert any(problem in found for found in problems(text)), problems(text)


def test_a_release_must_be_new_and_newest() -> None:
    check_newer("1.2.0", ["v1.0.0", "v1.1.0", "not-a-release"])
    for version, tags, message in (
        ("1.1.0", ["v1.1.0"], "already released"),
        ("1.0.5", ["v1.1.0"], "older than the newest release, 1.1.0"),
        ("1.2", [], "not MAJOR.MINOR.PATCH"),
    ):
        with pytest.raises(ChangelogError, match=message):
            check_newer(version, tags)
