"""Make the new service a git repository (pre-commit and `copier update` need one).

Idempotent: a destination already inside a work tree is left alone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys


def inside_work_tree() -> bool:
    """Whether the current directory belongs to a git work tree."""
    result = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and result.stdout.strip() == "true"


def main() -> int:
    if shutil.which("git") is None:
        print("git not found: skipping `git init`", file=sys.stderr)
        return 0
    if inside_work_tree():
        return 0
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main"], check=True)  # noqa: S607
    return 0


if __name__ == "__main__":
    sys.exit(main())
