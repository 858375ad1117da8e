"""Throw-away git repositories of this template, with release tags, for the update tests.

`copier update` moves a project between tags of a template repository. These build one in
a temp dir: each version is a snapshot of this work tree (uncommitted changes included, as
`render` includes them), optionally changed by a function, committed and given an annotated
SemVer tag, as the template's releases are.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.rendering import GIT_IDENTITY, REPO_ROOT, commit_all, run

# Changes a snapshot of the template (the repository's root) into another version of it.
Transform = Callable[[Path], None]

RELEASE_TAG = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def work_tree_files(root: Path = REPO_ROOT) -> list[str]:
    """Files of root's work tree that git tracks or would track (ignored ones left out)."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], root)
    # A file deleted but not yet staged is still listed: only what exists is the work tree.
    return [name for name in filter(None, listed.split("\0")) if (root / name).is_file()]


def lay_snapshot(repo: Path) -> None:
    """Make repo's work tree (all but .git) a copy of this repository's work tree."""
    for child in repo.iterdir():
        if child.name == ".git":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for name in work_tree_files():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, repo / name)


def release(repo: Path, tag: str) -> None:
    """Commit repo's work tree and give the commit an annotated release tag."""
    commit_all(repo, f"Template {tag}")
    run(["git", *GIT_IDENTITY, "tag", "--annotate", tag, "--message", f"Template {tag}"], repo)


def build(repo: Path, versions: Sequence[tuple[str, Transform | None]]) -> Path:
    """A template repository at repo with one tagged commit per (tag, transform), in order."""
    repo.mkdir(parents=True)
    run(["git", "init", "--quiet", "--initial-branch=main"], repo)
    for tag, transform in versions:
        lay_snapshot(repo)
        if transform is not None:
            transform(repo)
        release(repo, tag)
    return repo


def release_tags(root: Path = REPO_ROOT) -> list[str]:
    """root's release tags (vMAJOR.MINOR.PATCH), oldest first."""
    tags = [tag for tag in run(["git", "tag", "--list"], root).split() if RELEASE_TAG.match(tag)]
    return sorted(tags, key=version)


def version(tag: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a release tag."""
    matched = RELEASE_TAG.match(tag)
    assert matched, f"{tag!r} is not a release tag"
    major, minor, patch = (int(part) for part in matched.groups())
    return major, minor, patch


def next_minor(tag: str) -> str:
    """The release after tag that a new feature makes: v1.4.2 -> v1.5.0."""
    major, minor, _ = version(tag)
    return f"v{major}.{minor + 1}.0"


@dataclass(frozen=True)
class Releases:
    """A template repository whose newest tag, head, is this work tree."""

    repo: Path
    previous: str
    head: str
    # True when this repository has no release yet and previous is made up by a transform.
    synthetic: bool


def previous_and_head(repo: Path, synthetic_previous: Transform) -> Releases:
    """This repository's last release and its work tree tagged as the next one.

    Before the first release, the previous version is this work tree changed by
    synthetic_previous (tagged v0.1.0, the work tree v0.2.0).
    """
    tags = release_tags()
    if not tags:
        first, second = "v0.1.0", "v0.2.0"
        build(repo, [(first, synthetic_previous), (second, None)])
        return Releases(repo, previous=first, head=second, synthetic=True)
    run(["git", "clone", "--quiet", str(REPO_ROOT), str(repo)], REPO_ROOT.parent)
    lay_snapshot(repo)
    head = next_minor(tags[-1])
    release(repo, head)
    return Releases(repo, previous=tags[-1], head=head, synthetic=False)
