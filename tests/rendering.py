"""Render the template and run commands in the result, keeping output for failure messages."""

from __future__ import annotations

import os
import signal
import subprocess
import sysconfig
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import copier
from copier.errors import DirtyLocalWarning

REPO_ROOT = Path(__file__).resolve().parent.parent

# Fixed rather than per-run, so a rerun finds the rendered projects' dependencies cached.
SHARED_DIR = Path(tempfile.gettempdir()) / "fastapi-service-template-tests"

GIT_IDENTITY = ("-c", "user.name=Template Tests", "-c", "user.email=template-tests@example.com")

# Directories whose contents are never the template's output.
NOT_RENDERED = frozenset({".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache"})

NOT_INHERITED = frozenset({"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"})

TAIL_LINES = 80
DEFAULT_TIMEOUT = 600.0


class CommandFailedError(AssertionError):
    """A command exited non-zero or timed out; the message carries its output's tail."""


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last lines of text, with a marker when some were cut."""
    kept = text.splitlines()[-lines:]
    cut = len(text.splitlines()) - len(kept)
    header = [f"[... {cut} earlier lines cut ...]"] if cut else []
    return "\n".join(header + kept)


def newest_dependencies() -> dict[str, str]:
    """With TEMPLATE_NEWEST_DEPENDENCIES=1, answers that lock the index's newest releases."""
    if os.environ.get("TEMPLATE_NEWEST_DEPENDENCIES") != "1":
        return {}
    now = datetime.now(UTC).replace(microsecond=0)
    return {"dependencies_cutoff": now.isoformat().replace("+00:00", "Z")}


def render(
    answers: Mapping[str, Any],
    dst: Path,
    src: Path = REPO_ROOT,
    vcs_ref: str = "HEAD",
    *,
    tasks: bool = True,
) -> Path:
    """Render the template at src into dst as `copier copy` does, and return dst.

    At HEAD, copier includes the work tree's uncommitted changes. Without `tasks`, the
    render is the template's files alone: no `git init`, no uv.lock (3 s of a 5 s render),
    for checks that only read what was rendered.
    """
    with warnings.catch_warnings():
        # Rendering the working tree, uncommitted changes included, is the point here.
        warnings.simplefilter("ignore", DirtyLocalWarning)
        copier.run_copy(
            str(src),
            str(dst),
            data={**newest_dependencies(), **answers},
            defaults=True,
            unsafe=True,
            vcs_ref=vcs_ref,
            quiet=True,
            skip_tasks=not tasks,
        )
    return dst


def tools_bin() -> Path:
    """A directory holding only this environment's `uv`, to put first on PATH.

    Only `uv` is exposed: a rendered Makefile that calls `pre-commit` or `python`
    directly must find its own, not this harness's.
    """
    scripts = Path(sysconfig.get_path("scripts"))
    target = SHARED_DIR / "bin"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("uv", "uvx"):
        source = scripts / name
        if not source.exists():
            continue
        link = target / name
        staging = target / f".{name}.{os.getpid()}"
        staging.unlink(missing_ok=True)
        staging.symlink_to(source)
        staging.replace(link)  # atomic: parallel workers may do this at once
    return target


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for commands run in a rendered project."""
    # This repository's venv and pytest session (xdist's worker ids included) are not
    # the rendered project's: its own tests must run as they would on a fresh checkout.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in NOT_INHERITED and not name.startswith("PYTEST_")
    }
    env["PATH"] = os.pathsep.join([str(tools_bin()), env.get("PATH", "")])
    env.setdefault("UV_CACHE_DIR", str(SHARED_DIR / "uv-cache"))
    env.setdefault("PRE_COMMIT_HOME", str(SHARED_DIR / "pre-commit"))
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def run(
    cmd: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """Run cmd in cwd and return its output (stderr merged into stdout).

    Raises CommandFailedError, with the tail of the output, on a non-zero exit or a timeout.
    """
    __tracebackhide__ = True  # the failure is the command's: show the test's line, not this
    shown = " ".join(cmd)
    # A new session, so a timeout can end `make` and everything it started.
    with subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=subprocess_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            message = f"`{shown}` timed out after {timeout:.0f} s in {cwd}"
            raise CommandFailedError(failure(message, output)) from None
    if process.returncode != 0:
        message = f"`{shown}` exited {process.returncode} in {cwd}"
        raise CommandFailedError(failure(message, output))
    return output


def failure(message: str, output: str) -> str:
    """message, where the whole output was saved, and the output's tail."""
    logs = SHARED_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=logs, prefix="failed-", suffix=".log", delete=False
    ) as log:
        log.write(f"{message}\n{output}")
    return f"{message} (whole output: {log.name})\n{tail(output)}"


def commit_all(project: Path, message: str) -> None:
    """Stage and commit everything in project with a fixed identity.

    Without the project's pre-commit hook: the tests run those gates themselves, by name.
    """
    __tracebackhide__ = True
    run(["git", "add", "-A"], project)
    commit = ["commit", "--quiet", "--no-verify", "--allow-empty", "-m", message]
    run(["git", *GIT_IDENTITY, *commit], project)


def porcelain(project: Path) -> str:
    """`git status --porcelain` of project: empty when nothing changed since the last commit."""
    return run(["git", "status", "--porcelain", "--untracked-files=all"], project).strip()


def rendered_files(project: Path) -> Iterator[Path]:
    """Files of a rendered project, without git's or tools' own directories."""
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if path.is_file() and not NOT_RENDERED.intersection(relative.parts):
            yield path


def read_text(path: Path) -> str | None:
    """The file's text, or None for a binary file."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def long_lines(project: Path, relative_paths: Iterable[str], limit: int = 100) -> list[str]:
    """Lines past `limit` columns (black's and ruff's in a render) in the Python files among
    the paths."""
    return [
        f"{path}:{number}"
        for path in relative_paths
        if path.endswith(".py")
        for number, line in enumerate((project / path).read_text().splitlines(), start=1)
        if len(line) > limit
    ]
