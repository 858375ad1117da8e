"""Wrong answers are refused in one line that says what to do, and nothing is written.

Copier parses each answer at its own turn and stops with a traceback on a wrong one given
with --data or derived by --defaults. copier.yml's computed first question checks them all
beforehand against the questions' own `choices` and `validator`s (hooks/answers.py) and
raises Copier's UserMessageError, which its CLI prints as one line: the question, the
problem and the allowed values, worded as the validator words it at the prompt.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from copier.errors import UserMessageError

from tests.rendering import REPO_ROOT, render, run, subprocess_env, tools_bin

NAME = {"project_name": "Orders Service"}
PYTHONS = ["3.11", "3.12", "3.13"]
README = REPO_ROOT / "README.md"
# This environment's Copier, with copier-template-extensions beside it.
COPIER = Path(sys.executable).with_name("copier")
# The README's example of a refusal: the command, then the line it stops with.
README_EXAMPLE = re.compile(
    r"For example, `(?P<command>copier copy [^`]+)` stops with `(?P<line>[^`]+)`"
)
# What Copier 9 prints, verbatim, when copier-template-extensions is not installed.
NO_EXTENSIONS = (
    "Copier could not load some Jinja extensions:\n"
    "No module named 'copier_template_extensions'\n"
    "Make sure to install these extensions alongside Copier itself.\n"
    "See the docs at https://copier.readthedocs.io/en/latest/configuring/#jinja_extensions\n"
)
# Project names of 59 characters: within project_name's 64, but the slug they derive is not.
LONG_NAME = "Orders Service Orders Service Orders Service Orders Service"
LONG_SLUG = "orders-service-orders-service-orders-service-orders-service"


def invalid(question: str, message: str) -> str:
    """The refusal of an answer given with --data: the validator's message, as Copier words it."""
    return f"Validation error for question '{question}': {message}"


def derived(question: str, message: str) -> str:
    """The refusal of a default that --defaults derived from earlier answers."""
    return invalid(question, f"{message}; it is the default: give {question} explicitly")


def not_a_choice(question: str, value: str, choices: list[str]) -> str:
    """The refusal of an answer that is not one of the question's choices."""
    allowed = f"{', '.join(choices[:-1])} or {choices[-1]}"
    return invalid(question, f"{question} '{value}' is not supported: choose {allowed}")


UNSUPPORTED = [
    pytest.param(
        {},
        "Question 'project_name' has no default: answer it, e.g. with --data "
        'project_name="Orders Service"',
        id="project_name-missing",
    ),
    pytest.param(
        {"project_name": ""},
        invalid(
            "project_name",
            'project_name must not be empty: give the service a name such as "Orders Service"',
        ),
        id="project_name-empty",
    ),
    pytest.param(
        {"project_name": "   "},
        invalid(
            "project_name",
            'project_name must not be empty: give the service a name such as "Orders Service"',
        ),
        id="project_name-whitespace",
    ),
    pytest.param(
        {"project_name": 'Orders "Service"'},
        invalid(
            "project_name",
            "project_name must not contain double quotes, backslashes or line breaks",
        ),
        id="project_name-double-quote",
    ),
    pytest.param(
        {"project_name": "Orders\\Service"},
        invalid(
            "project_name",
            "project_name must not contain double quotes, backslashes or line breaks",
        ),
        id="project_name-backslash",
    ),
    pytest.param(
        {"project_name": "O" * 65},
        invalid("project_name", "project_name must be at most 64 characters, not 65"),
        id="project_name-too-long",
    ),
    pytest.param(
        {"project_name": f"  {'O' * 65}  "},
        invalid("project_name", "project_name must be at most 64 characters, not 65"),
        id="project_name-too-long-trimmed",
    ),
    pytest.param(
        {**NAME, "project_slug": "Orders_Service"},
        invalid(
            "project_slug",
            "project_slug 'Orders_Service' must be lower-case letters and digits separated "
            "by single hyphens, e.g. orders-service",
        ),
        id="project_slug-not-a-slug",
    ),
    pytest.param(
        {**NAME, "project_slug": "o" * 54},
        invalid(
            "project_slug",
            f"project_slug '{'o' * 54}' must be at most 53 characters, not 54 "
            "(Helm release names are limited to 53)",
        ),
        id="project_slug-too-long",
    ),
    pytest.param(
        {"project_name": LONG_NAME},
        derived(
            "project_slug",
            f"project_slug '{LONG_SLUG}' must be at most 53 characters, not 59 "
            "(Helm release names are limited to 53)",
        ),
        id="project_slug-derived-too-long",
    ),
    pytest.param(
        {"project_name": "★"},
        derived(
            "project_slug",
            "project_slug '' must be lower-case letters and digits separated "
            "by single hyphens, e.g. orders-service",
        ),
        id="project_slug-derived-empty",
    ),
    pytest.param(
        {**NAME, "package_name": "1-not-valid"},
        invalid(
            "package_name",
            "'1-not-valid' is not a Python identifier: use lower-case letters, digits and "
            "underscores, starting with a letter",
        ),
        id="package_name-not-identifier",
    ),
    pytest.param(
        {**NAME, "package_name": "class"},
        invalid("package_name", "'class' is a Python keyword"),
        id="package_name-keyword",
    ),
    pytest.param(
        {**NAME, "package_name": "json"},
        invalid(
            "package_name",
            "'json' shadows the standard library module of the same name",
        ),
        id="package_name-stdlib",
    ),
    pytest.param(
        {**NAME, "package_name": "Orders"},
        invalid("package_name", "'Orders' must be lower case (PEP 8 package names)"),
        id="package_name-upper-case",
    ),
    pytest.param(
        {**NAME, "package_name": "o" * 54},
        invalid("package_name", f"'{'o' * 54}' must be at most 53 characters, not 54"),
        id="package_name-too-long",
    ),
    pytest.param(
        {"project_name": "Class"},
        derived("package_name", "'class' is a Python keyword"),
        id="package_name-derived-from-project_name",
    ),
    pytest.param(
        {"project_name": "Calendar"},
        derived("package_name", "'calendar' shadows the standard library module of the same name"),
        id="package_name-derived-stdlib",
    ),
    pytest.param(
        {**NAME, "description": "  "},
        invalid("description", "description must not be empty"),
        id="description-empty",
    ),
    pytest.param(
        {**NAME, "description": "First line.\nSecond line."},
        invalid(
            "description",
            "description must be one line without double quotes or backslashes",
        ),
        id="description-multi-line",
    ),
    pytest.param(
        {**NAME, "description": 'The "orders" service.'},
        invalid(
            "description",
            "description must be one line without double quotes or backslashes",
        ),
        id="description-double-quote",
    ),
    pytest.param(
        {**NAME, "description": "d" * 161},
        invalid("description", "description must be at most 160 characters, not 161"),
        id="description-too-long",
    ),
    pytest.param(
        {**NAME, "author_name": ""},
        invalid("author_name", "author_name must not be empty"),
        id="author_name-empty",
    ),
    pytest.param(
        {**NAME, "author_name": 'The "Platform" Team'},
        invalid(
            "author_name",
            "author_name must not contain double quotes, backslashes or line breaks",
        ),
        id="author_name-double-quote",
    ),
    pytest.param(
        {**NAME, "author_name": "a" * 65},
        invalid("author_name", "author_name must be at most 64 characters, not 65"),
        id="author_name-too-long",
    ),
    pytest.param(
        {**NAME, "author_email": "not-an-email"},
        invalid(
            "author_email",
            "author_email 'not-an-email' is not an e-mail address (expected name@domain.tld)",
        ),
        id="author_email-not-an-email",
    ),
    pytest.param(
        {**NAME, "author_email": 'ops"@example.com'},
        invalid(
            "author_email",
            "author_email 'ops\"@example.com' is not an e-mail address (expected name@domain.tld)",
        ),
        id="author_email-double-quote",
    ),
    pytest.param(
        {**NAME, "python_version": "2.7"},
        not_a_choice("python_version", "2.7", PYTHONS),
        id="python_version-2.7",
    ),
    pytest.param(
        {**NAME, "python_version": "3.10"},
        not_a_choice("python_version", "3.10", PYTHONS),
        id="python_version-3.10",
    ),
    pytest.param(
        {**NAME, "database": "mysql"},
        not_a_choice("database", "mysql", ["sqlite", "postgresql"]),
        id="database-mysql",
    ),
    pytest.param(
        {**NAME, "cache": "memcached"},
        not_a_choice("cache", "memcached", ["memory", "redis"]),
        id="cache-memcached",
    ),
    pytest.param(
        {**NAME, "vault": "consul"},
        not_a_choice("vault", "consul", ["none", "agent", "api"]),
        id="vault-consul",
    ),
    pytest.param(
        {**NAME, "license": "GPL"},
        not_a_choice("license", "GPL", ["MIT", "Apache-2.0", "Proprietary"]),
        id="license-GPL",
    ),
]


@pytest.mark.parametrize(("answers", "message"), UNSUPPORTED)
def test_refused_with_message(answers: dict[str, Any], message: str, tmp_path: Path) -> None:
    dst = tmp_path / "project"
    with pytest.raises(UserMessageError) as refused:
        render(answers, dst)
    assert str(refused.value) == message
    assert not dst.exists(), "a refused answer must not leave a half-rendered project behind"


def test_refusal_leaves_existing_destination_untouched(tmp_path: Path) -> None:
    dst = tmp_path / "project"
    dst.mkdir()
    (dst / "notes.txt").write_text("mine\n")
    with pytest.raises(UserMessageError, match=r"^Validation error for question 'database'"):
        render({**NAME, "database": "mysql"}, dst)
    assert [path.name for path in dst.iterdir()] == ["notes.txt"]
    assert (dst / "notes.txt").read_text() == "mine\n"


def refused_by_cli(copier: Path, arguments: list[str], cwd: Path) -> str:
    """The output of a copier command that must fail: stdout and stderr, no traceback."""
    done = subprocess.run(
        [str(copier), *arguments],
        cwd=cwd,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, f"copier exited {done.returncode}, expected 1:\n{output}"
    assert "Traceback" not in output, output
    return output


def test_readme_example_is_what_the_copier_cli_prints(tmp_path: Path) -> None:
    example = README_EXAMPLE.search(" ".join(README.read_text().split()))
    assert example, "README.md's paragraph on wrong answers lost its example command and line"
    command = shlex.split(example["command"])
    assert command[-2:] == ["$PWD", "../orders-service"], command
    clone = tmp_path / "clone"  # the README's commands run in a clone: "$PWD" is the template
    clone.mkdir()
    arguments = [*command[2:-2], str(REPO_ROOT), command[-1]]
    output = refused_by_cli(COPIER, ["copy", *arguments], clone)
    assert example["line"] in output.splitlines()
    assert not (tmp_path / "orders-service").exists()


def test_copier_alone_names_the_missing_extension(tmp_path: Path) -> None:
    """Copier stops before the first question; the README names the package to install."""
    venv = tmp_path / "copier-alone"
    uv = str(tools_bin() / "uv")
    run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], tmp_path)
    copier = f"copier=={importlib.metadata.version('copier')}"
    run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), copier],
        tmp_path,
    )
    dst = tmp_path / "orders-service"
    arguments = ["copy", "--trust", "--defaults", "-d", "project_name=Orders Service"]
    output = refused_by_cli(
        venv / "bin" / "copier", [*arguments, str(REPO_ROOT), str(dst)], tmp_path
    )
    assert NO_EXTENSIONS in output
    assert not dst.exists()
    readme = " ".join(README.read_text().split())
    for line in NO_EXTENSIONS.splitlines()[:2]:
        assert f"`{line}`" in readme, f"README.md should quote Copier's `{line}`"
    assert "`pip install copier-template-extensions`" in readme
