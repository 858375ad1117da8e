"""Render examples/orders-service, the example service, from this work tree.

    python scripts/example.py           # regenerate examples/orders-service
    python scripts/example.py --check   # exit 1, naming the files, when it has drifted

The template is rendered with copier's Python API into a temp dir, as `copier copy` would,
then synchronised into examples/orders-service (the render's `.git` left out). Its
`.copier-answers.yml` names the template by a path relative to the example, `../..`, so
`copier update` run from examples/orders-service finds this repository. `_commit` is the one
line a committed render cannot get right (a commit cannot name itself): it is compared
without it, and kept as it is when nothing else changed, so a regeneration touches only the
files the template changed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.rendering import render as render_template  # noqa: E402 - needs ROOT on sys.path
from tests.rendering import run  # noqa: E402

EXAMPLE = ROOT / "examples" / "orders-service"
# Documented in examples/README.md: keep the two in step.
ANSWERS: Mapping[str, Any] = {
    "project_name": "Orders Service",
    "database": "postgresql",
    "cache": "redis",
    "vault": "api",
}
ANSWERS_FILE = ".copier-answers.yml"
SRC_PATH = "../.."
COMMIT_LINE = re.compile(r"^_commit: .*\n", re.MULTILINE)
SRC_PATH_LINE = re.compile(r"^_src_path: .*$", re.MULTILINE)
# The example is a service a team has taken further: a domain of its own, added with the
# service's `make domain` (a fixed revision id, so every run writes the same files).
ADD_DOMAIN = (
    "make",
    "domain",
    "NAME=orders",
    "REVISION=0003",
    'DOMAIN_ARGS=-d created="2026-12-01 00:00:00"',
)


def render(dst: Path) -> Path:
    """The example's answers rendered from this work tree (HEAD and its changes) into dst."""
    # At HEAD, uncommitted changes are part of the render: the example shows this work tree.
    render_template(ANSWERS, dst, src=ROOT)
    run(["make", "install"], dst)
    run(ADD_DOMAIN, dst)
    run(["make", "openapi"], dst)
    point_answers_here(dst)
    return dst


def point_answers_here(project: Path) -> None:
    """Name the template in project's answers as the example does: this repository, `../..`."""
    answers = project / ANSWERS_FILE
    answers.write_text(SRC_PATH_LINE.sub(f"_src_path: {SRC_PATH}", answers.read_text()))


def tracked_example_files(example: Path = EXAMPLE) -> list[str]:
    """Files of the committed example as git sees them: tracked, or new and not ignored.

    What the example's own .gitignore leaves out (.venv, .data, caches) is not the example.
    """
    # Tracked (-c) and untracked but not ignored (-o --exclude-standard), NUL-separated.
    listed = subprocess.run(
        ["git", "ls-files", "-z", "-c", "-o", "--exclude-standard", "."],  # noqa: S607
        cwd=example,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sorted(name for name in filter(None, listed.split("\0")) if (example / name).is_file())


def rendered_files(project: Path) -> list[str]:
    """Files of a render, relative to it, as its git sees them (no .venv, no caches)."""
    return tracked_example_files(project)


def comparable(name: str, data: bytes) -> bytes:
    """A file's content as compared: the answers file without its `_commit` line."""
    if name == ANSWERS_FILE:
        return COMMIT_LINE.sub("", data.decode()).encode()
    return data


def differences(
    rendered: Path, example: Path = EXAMPLE, ignore: frozenset[str] = frozenset()
) -> list[str]:
    """Files that differ between a render and the example, or exist in one only."""
    fresh = set(rendered_files(rendered))
    committed = set(tracked_example_files(example)) if example.is_dir() else set()
    found = []
    for name in sorted((fresh | committed) - ignore):
        if name not in committed:
            found.append(f"{name}: missing from the example")
        elif name not in fresh:
            found.append(f"{name}: not in a fresh render")
        elif comparable(name, (rendered / name).read_bytes()) != comparable(
            name, (example / name).read_bytes()
        ):
            found.append(f"{name}: differs")
    return found


def sync(rendered: Path, example: Path = EXAMPLE) -> None:
    """Make example hold the render's files, as `rsync --delete` would; keep `_commit` alone.

    Files the example's .gitignore leaves out (a .venv from trying it) are left in place.
    """
    if not differences(rendered, example):
        return
    fresh = set(rendered_files(rendered))
    stale = set(tracked_example_files(example)) - fresh if example.is_dir() else set()
    for name in stale:
        (example / name).unlink()
    for name in fresh:
        (example / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(rendered / name, example / name)
    for directory in sorted(example.rglob("*"), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the example drifted")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temp:
        rendered = render(Path(temp) / EXAMPLE.name)
        if args.check:
            found = differences(rendered)
            for line in found:
                print(f"examples/{EXAMPLE.name}/{line}")
            if found:
                print("the example drifted from the template: run `make example`")
            return 1 if found else 0
        sync(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
