"""CHANGELOG.md for the release workflow: check its shape, print a version's notes.

Standard library only: the release workflow runs it with the runner's python3.

    python3 scripts/changelog.py check            # the file follows the rules below
    python3 scripts/changelog.py notes 1.4.0      # the section of 1.4.0, for the tag and release
    git tag --list | python3 scripts/changelog.py newer 1.4.0   # 1.4.0 is above every tag

Rules: sections `## [Unreleased]` (first, if any) and `## [MAJOR.MINOR.PATCH] - YYYY-MM-DD`,
newest first; a released section says under `### Migrations` whether `copier update` runs one.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "CHANGELOG.md"
UNRELEASED = "Unreleased"
HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
MIGRATIONS = re.compile(r"^### Migrations\n+(?P<text>[^#\s].*)", re.MULTILINE)


class ChangelogError(Exception):
    """The changelog, or the version asked for, breaks a rule; the message says which."""


@dataclass(frozen=True)
class Section:
    name: str
    date: str | None
    body: str

    @property
    def version(self) -> tuple[int, int, int] | None:
        """(major, minor, patch), or None for Unreleased or a malformed name."""
        return semver(self.name)


def semver(text: str) -> tuple[int, int, int] | None:
    matched = SEMVER.match(text)
    if matched is None:
        return None
    major, minor, patch = (int(part) for part in matched.groups())
    return major, minor, patch


def sections(text: str) -> list[Section]:
    """The `## ` sections of a changelog, in order, each with its body stripped."""
    found: list[Section] = []
    name: str | None = None
    date: str | None = None
    body: list[str] = []
    for line in [*text.splitlines(), "## [end]"]:
        if line.startswith("## "):
            if name is not None:
                found.append(Section(name, date, "\n".join(body).strip()))
            heading = HEADING.match(line)
            if heading is None:
                msg = f"heading {line!r} is not `## [X.Y.Z] - YYYY-MM-DD` or `## [Unreleased]`"
                raise ChangelogError(msg)
            name, date, body = heading["name"], heading["date"], []
        elif name is not None:
            body.append(line)
    return found


def problems(text: str) -> list[str]:
    """What breaks the rules in a changelog's text (empty when nothing does)."""
    if not text.startswith("# Changelog\n"):
        return ["the first line is not `# Changelog`"]
    try:
        found = sections(text)
    except ChangelogError as error:
        return [str(error)]
    wrong: list[str] = []
    released = [section for section in found if section.name != UNRELEASED]
    if any(section.name == UNRELEASED for section in found[1:]):
        wrong.append("[Unreleased] must be the first section")
    for section in found:
        if section.name == UNRELEASED:
            if section.date is not None:
                wrong.append("[Unreleased] has no date")
            continue
        if section.version is None:
            wrong.append(f"[{section.name}] is not a MAJOR.MINOR.PATCH version")
        if section.date is None:
            wrong.append(f"[{section.name}] has no date (`## [X.Y.Z] - YYYY-MM-DD`)")
        if MIGRATIONS.search(section.body) is None:
            wrong.append(f"[{section.name}] does not say under `### Migrations` if one runs")
    versions = [section.version for section in released if section.version is not None]
    if versions != sorted(versions, reverse=True) or len(set(versions)) != len(versions):
        wrong.append("released versions are not strictly newest first")
    return wrong


def notes(text: str, version: str) -> str:
    """The body of version's section: the release's notes."""
    for section in sections(text):
        if section.name == version:
            if not section.body:
                msg = f"[{version}] has no notes"
                raise ChangelogError(msg)
            return section.body + "\n"
    msg = f"CHANGELOG.md has no section [{version}]: move the [Unreleased] notes under it"
    raise ChangelogError(msg)


def check_newer(version: str, tags: Iterable[str]) -> None:
    """Refuse a version that is not SemVer, already tagged, or not above every release tag."""
    wanted = semver(version)
    if wanted is None:
        msg = f"{version!r} is not MAJOR.MINOR.PATCH"
        raise ChangelogError(msg)
    released = [v for tag in tags if (v := semver(tag.strip().removeprefix("v"))) is not None]
    if wanted in released:
        msg = f"v{version} is already released"
        raise ChangelogError(msg)
    if released and wanted < max(released):
        newest = ".".join(map(str, max(released)))
        msg = f"{version} is older than the newest release, {newest}"
        raise ChangelogError(msg)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_PATH)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="check the changelog's shape")
    for name, help_text in (
        ("notes", "print the notes of a version"),
        ("newer", "refuse a version not above every tag read from stdin"),
    ):
        commands.add_parser(name, help=help_text).add_argument("version")
    arguments = parser.parse_args(argv)
    text = arguments.file.read_text(encoding="utf-8")
    try:
        if arguments.command == "check":
            if wrong := problems(text):
                raise ChangelogError("; ".join(wrong))
        elif arguments.command == "notes":
            sys.stdout.write(notes(text, arguments.version))
        else:
            check_newer(arguments.version, sys.stdin.read().split())
    except ChangelogError as error:
        print(f"changelog: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
