"""After `copier update`: name the files it left with conflicts, and fail when there are any.

Copier merges the template's changes into the service's and exits 0 even when some did not
apply cleanly. Run by Copier after every update (a `_migrations` entry without a version), in
the service's directory, this lists the files that hold conflict markers (Copier records them
as unmerged in git's index) and any `*.rej` file, and exits 1 so the update does not read as
a success. The service keeps everything the update wrote.
"""

from __future__ import annotations

import subprocess
import sys


def git_lines(*args: str) -> list[str]:
    """Non-empty output lines of a git command run in the current directory."""
    command = ["git", *args]
    output = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    return [line for line in output.stdout.splitlines() if line]


def unresolved() -> list[str]:
    """Unmerged paths and untracked `*.rej` files, sorted, each once."""
    # `ls-files --unmerged` prints one line per stage: "<mode> <object> <stage>\t<path>".
    unmerged = {line.split("\t", 1)[1] for line in git_lines("ls-files", "--unmerged")}
    rejected = git_lines("ls-files", "--others", "--", "*.rej")
    return sorted(unmerged.union(rejected))


def report(paths: list[str]) -> str:
    """What the user reads: the files, and how to finish the update."""
    listed = "\n".join(f"  {path}" for path in paths)
    return (
        f"copier update left conflicts to resolve in {len(paths)} file(s):\n{listed}\n"
        'Edit each "<<<<<<< before updating" ... ">>>>>>> after updating" block into what you\n'
        "want (or apply a .rej file by hand and delete it), `git add` each file, then run\n"
        "`make install check`. `make` refuses to run any target until then."
    )


def main() -> int:
    paths = unresolved()
    if not paths:
        return 0
    print(report(paths), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
