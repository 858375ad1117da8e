"""Write the new service's uv.lock, resolved as of the date the template was last tested.

Run by Copier in the new service's directory after `copier copy`, with the cutoff as the
only argument (an RFC 3339 timestamp, copier.yml's `dependencies_cutoff`). The lock takes no
release newer than the cutoff, so a new service starts on versions the template's CI ran
against. A second `uv lock` without the cutoff then drops it from the lock's options while
keeping every version: later `uv lock --upgrade` runs, and Dependabot or Renovate, move on
from there as usual.

Without uv, or when locking fails, the service is still rendered (a failed task would make
Copier delete it, answers and all): this says so, and `make lock` writes the lock later.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Sequence

LATER = "uv.lock was not written: run `make lock` in the new service (it installs uv if needed)"


def uv_command() -> list[str] | None:
    """How to run uv: from PATH, else the uv package installed beside Copier, else None."""
    if found := shutil.which("uv"):
        return [found]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    return None


def lock(uv: Sequence[str], cutoff: str) -> int:
    """Lock as of cutoff, then once more without it; uv's exit status."""
    for extra in (["--exclude-newer", cutoff], []):
        command = [*uv, "lock", "--quiet", *extra]
        status = subprocess.run(command, check=False).returncode  # noqa: S603
        if status != 0:
            return status
    return 0


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: lock.py CUTOFF (an RFC 3339 timestamp)", file=sys.stderr)
        return 2
    uv = uv_command()
    if uv is None:
        print(f"uv not found on PATH: {LATER}", file=sys.stderr)
        return 0
    if lock(uv, argv[0]) != 0:
        print(f"`uv lock` failed (its message is above): {LATER}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
