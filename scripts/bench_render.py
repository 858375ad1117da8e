"""Time `copier copy` of the default answers: mean and max seconds over N renders.

A measurement to read, not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import copier
from copier.errors import DirtyLocalWarning

REPO_ROOT = Path(__file__).resolve().parent.parent


def render_seconds(src: Path, dst: Path, project_name: str) -> float:
    """Seconds one `copier copy` of src into dst takes, its tasks included."""
    started = time.perf_counter()
    copier.run_copy(
        str(src),
        str(dst),
        data={"project_name": project_name},
        defaults=True,
        unsafe=True,
        vcs_ref="HEAD",
        quiet=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=10, help="renders to time (10)")
    parser.add_argument("--src", type=Path, default=REPO_ROOT, help="template (this repository)")
    parser.add_argument("--project-name", default="Orders Service", help="the one answer given")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    warnings.simplefilter("ignore", DirtyLocalWarning)
    os.environ.setdefault("GIT_AUTHOR_NAME", "Template Bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "template-bench@example.com")
    os.environ.setdefault("GIT_COMMITTER_NAME", "Template Bench")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "template-bench@example.com")
    with tempfile.TemporaryDirectory(prefix="bench-render-") as workdir:
        seconds = [
            render_seconds(args.src, Path(workdir) / f"run-{run}", args.project_name)
            for run in range(args.runs)
        ]
    print(
        f"copier copy of {args.src} ({args.runs} runs): "
        f"mean {statistics.mean(seconds):.3f} s, max {max(seconds):.3f} s, "
        f"min {min(seconds):.3f} s"
    )


if __name__ == "__main__":
    main()
