"""Migrations that `copier update` runs (copier.yml `_migrations`) so renames keep the user's work.

`rename OLD NEW`, after the update. Copier carries a user's edits over by path: when the
template renames a file, NEW arrives as the template wrote it and the edits made to OLD are
dropped without a word (OLD is deleted as a file the template no longer has). This merges
them back into NEW, three ways, as Copier merges an unrenamed file: the previous version's
render of OLD is the base, the user's OLD (still in HEAD: the update is not committed yet) is
"before updating", the new NEW is "after updating", and a conflict is left inline with the
markers Copier uses. A user who had deleted OLD does not get NEW either.

`rename-answer OLD NEW`, before the update. Copier reads the answers file again after the
`before` migrations, so the renamed question receives the user's answer instead of its default.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import copier
import yaml

DEFAULT_ANSWERS_FILE = ".copier-answers.yml"
# The labels of Copier's own inline conflicts: its markers are what users and hooks look for.
LABELS = ("before updating", "last update", "after updating")


def committed(path: str) -> bytes | None:
    """The file as HEAD has it (the project before this update), or None when it has none."""
    # `./`: the path is relative to the project, which may be a subdirectory of the repository.
    show = ["git", "show", f"HEAD:./{path}"]
    shown = subprocess.run(show, capture_output=True, check=False)  # noqa: S603
    return shown.stdout if shown.returncode == 0 else None


def render_previous(answers_file: str, destination: Path) -> Path:
    """Render the template version the project was on, with its answers then, into destination."""
    recorded = committed(answers_file)
    if recorded is None:
        msg = f"{answers_file} is not committed: cannot tell which template version to merge from"
        raise SystemExit(msg)
    answers: dict[str, Any] = yaml.safe_load(recorded)
    copier.run_copy(
        str(answers["_src_path"]),
        destination,
        data={key: value for key, value in answers.items() if not key.startswith("_")},
        vcs_ref=str(answers["_commit"]),
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    return destination


def rename(old: str, new: str, answers_file: str) -> str:
    """Carry the user's edits (or deletion) of old over to new; say what happened."""
    target = Path(new)
    if not target.is_file():
        return f"{new}: not rendered, nothing to carry over"
    yours = committed(old)
    with tempfile.TemporaryDirectory() as scratch:
        base = render_previous(answers_file, Path(scratch) / "previous") / old
        if not base.is_file():
            return f"{old}: not rendered by the previous version, nothing to carry over"
        if yours is None:
            target.unlink()
            return f"{new}: removed, as you had deleted {old}"
        if yours == base.read_bytes():
            return f"{old}: unchanged since the template wrote it, nothing to carry over"
        template = Path(scratch) / "template"
        template.write_bytes(target.read_bytes())
        target.write_bytes(yours)
        labels = [argument for label in LABELS for argument in ("-L", label)]
        merge = ["git", "merge-file", *labels, "--", str(target), str(base), str(template)]
        conflicts = subprocess.run(merge, check=False).returncode  # noqa: S603
    if not 0 <= conflicts <= 127:  # git merge-file counts conflicts, up to 127
        msg = f"`git merge-file` failed on {new} (exit {conflicts})"
        raise SystemExit(msg)
    if conflicts:
        return f"{new}: your edits of {old} conflict with the template's in {conflicts} places"
    return f"{new}: your edits of {old} carried over"


def rename_answer(old: str, new: str, answers_file: str) -> str:
    """Rename a question in the answers file, keeping the user's answer; say what happened."""
    path = Path(answers_file)
    text = path.read_text(encoding="utf-8")
    answers: dict[str, Any] = yaml.safe_load(text) or {}
    if old not in answers or new in answers:
        return f"{answers_file}: no answer {old!r} to rename"
    renamed = {new if key == old else key: value for key, value in answers.items()}
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    dumped = yaml.safe_dump(renamed, sort_keys=False, allow_unicode=True)
    path.write_text(header + dumped, encoding="utf-8")
    return f"{answers_file}: answer {old!r} is now {new!r}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers-file", default=DEFAULT_ANSWERS_FILE)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("rename", "after the update: carry the user's edits of a renamed file over"),
        ("rename-answer", "before the update: rename a question in the answers file"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("old")
        command.add_argument("new")
    arguments = parser.parse_args(argv)
    migrate = rename if arguments.command == "rename" else rename_answer
    print(f"migration: {migrate(arguments.old, arguments.new, arguments.answers_file)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
