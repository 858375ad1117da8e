"""Every supported answer set renders cleanly; a representative subset passes its own gates.

In the manner of cookiecutter-django's test_cookiecutter_generation.py: one option at a
time plus one render with everything on keeps the matrix small, and cheap static checks
run for every set while the expensive `make check` runs for the options that change code.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.rendering import commit_all, porcelain, read_text, render, rendered_files, run

NAME = "Orders Service"
SLUG = "orders-service"
PACKAGE = "orders_service"


@dataclass(frozen=True)
class Case:
    """One supported answer set, and whether its project's own gates run."""

    id: str
    answers: dict[str, Any] = field(default_factory=dict)
    gates: bool = False
    derived: dict[str, Any] = field(default_factory=dict)

    @property
    def data(self) -> dict[str, Any]:
        """The answers given to copier (the project name is always given)."""
        return {"project_name": NAME, **self.answers}

    def answer(self, question: str) -> Any:
        """The answer the render ends up with: given, derived, or copier.yml's default."""
        return self.data.get(question, self.derived.get(question, DEFAULTS[question]))


DEFAULTS: dict[str, Any] = {
    "project_slug": SLUG,
    "package_name": PACKAGE,
    "python_version": "3.12",
    "license": "Proprietary",
    "database": "sqlite",
    "cache": "memory",
    "vault": "none",
    "helm": True,
    "github_actions": True,
}

SUPPORTED = [
    Case("defaults", gates=True),
    Case("python-3.11", {"python_version": "3.11"}, gates=True),
    Case("python-3.13", {"python_version": "3.13"}, gates=True),
    Case("license-MIT", {"license": "MIT"}),
    Case("license-Apache-2.0", {"license": "Apache-2.0"}),
    Case("database-postgresql", {"database": "postgresql"}, gates=True),
    Case("cache-redis", {"cache": "redis"}, gates=True),
    Case("vault-agent", {"vault": "agent"}, gates=True),
    Case("vault-api", {"vault": "api"}, gates=True),
    Case("no-helm", {"helm": False}),
    Case("no-github-actions", {"github_actions": False}),
    Case(
        "unicode-name",
        {"project_name": "Café Orders"},
        derived={"project_slug": "cafe-orders", "package_name": "cafe_orders"},
    ),
    Case(
        "all-on",
        {"database": "postgresql", "cache": "redis", "vault": "api", "python_version": "3.13"},
        gates=True,
    ),
]

JINJA_BLOCKS = (re.compile(r"\{%.*?%\}"), re.compile(r"\{#.*?#\}"))
JINJA_EXPRESSION = re.compile(r"\{\{.*?\}\}")


@pytest.fixture(scope="module", params=SUPPORTED, ids=lambda case: case.id)
def case(request: pytest.FixtureRequest) -> Case:
    """Each supported answer set in turn."""
    supported: Case = request.param
    return supported


@pytest.fixture(scope="module")
def project(case: Case, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The answer set rendered once, for the static checks (which only read it)."""
    return render(case.data, tmp_path_factory.mktemp(case.id) / SLUG)


def text_files(project: Path) -> Iterator[tuple[Path, str]]:
    """Each rendered text file with its content."""
    for path in rendered_files(project):
        if (text := read_text(path)) is not None:
            yield path, text


def problems(project: Path, check: Callable[[str, str], list[str]]) -> list[str]:
    """check(relative path, text) over every text file, as `path: problem` lines."""
    found = []
    for path, text in text_files(project):
        relative = path.relative_to(project).as_posix()
        found += [f"{relative}: {problem}" for problem in check(relative, text)]
    return found


def uses_braces_itself(relative: str) -> bool:
    """Whether `{{ }}` is the file's own syntax: Helm templates, GitHub Actions workflows."""
    parts = Path(relative).parts
    in_chart_templates = len(parts) > 3 and parts[0] == "charts" and parts[2] == "templates"
    return in_chart_templates or relative.startswith(".github/workflows/")


def unrendered_jinja(relative: str, text: str) -> list[str]:
    """Jinja delimiters that survived rendering, by line."""
    patterns = list(JINJA_BLOCKS)
    if not uses_braces_itself(relative):
        patterns.append(JINJA_EXPRESSION)
    return [
        f"line {number}: {match.group()!r}"
        for number, line in enumerate(text.splitlines(), start=1)
        for pattern in patterns
        for match in pattern.finditer(line)
    ]


def whitespace_debris(_relative: str, text: str) -> list[str]:
    """What conditional blocks leave behind: stray blank lines and trailing spaces."""
    if not text:
        return []  # an empty file (py.typed, a bare __init__.py) is fine
    lines = text.split("\n")
    found = []
    if not lines[0].strip():
        found.append("starts with a blank line")
    if not text.endswith("\n") or text.endswith("\n\n"):
        found.append("does not end with exactly one newline")
    blank_run = 0
    for number, line in enumerate(lines, start=1):
        if line != line.rstrip():
            found.append(f"line {number}: trailing whitespace")
        blank_run = blank_run + 1 if not line.strip() else 0
        if blank_run == 3:
            found.append(f"line {number}: three or more blank lines in a row")
    return found


def test_no_unrendered_jinja(project: Path) -> None:
    found = problems(project, unrendered_jinja)
    assert not found, "Jinja left unrendered:\n" + "\n".join(found)


def test_no_template_names_left(project: Path) -> None:
    names = [
        path.relative_to(project).as_posix()
        for path in rendered_files(project)
        if path.name.endswith(".jinja") or "{{" in path.name or "{%" in path.name
    ]
    assert not names, f"file names still carrying template syntax: {names}"


def test_no_whitespace_debris(project: Path) -> None:
    found = problems(project, whitespace_debris)
    assert not found, "whitespace debris:\n" + "\n".join(found)


def test_answers_recorded(case: Case, project: Path) -> None:
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    expected = {question: case.answer(question) for question in DEFAULTS}
    expected["project_name"] = case.data["project_name"]
    assert {question: recorded.get(question) for question in expected} == expected
    assert "_src_path" in recorded
    assert "_commit" in recorded


def test_project_is_a_git_repository(project: Path) -> None:
    branch = run(["git", "symbolic-ref", "--short", "HEAD"], project).strip()
    assert branch == "main"


def test_render_inside_a_repository_nests_no_repository(tmp_path: Path) -> None:
    outer = tmp_path / "monorepo"
    outer.mkdir()
    run(["git", "init", "--quiet"], outer)
    project = render({"project_name": NAME}, outer / "services" / SLUG)
    assert not (project / ".git").exists()


def mismatches(expected: dict[str, bool], found: dict[str, bool]) -> list[str]:
    """`name: expected present, found absent` for each name where the two disagree."""
    word = {True: "present", False: "absent"}
    return [
        f"{name}: expected {word[wanted]}, found {word[found[name]]}"
        for name, wanted in expected.items()
        if found[name] != wanted
    ]


def test_conditional_files(case: Case, project: Path) -> None:
    package = project / "src" / case.answer("package_name")
    found = {
        "src/<package>/__init__.py": (package / "__init__.py").is_file(),
        "src/<package>/redis_cache.py": (package / "redis_cache.py").is_file(),
        ".github/workflows/*.yml": any(project.glob(".github/workflows/*.y*ml")),
        "charts/*/Chart.yaml": any(project.glob("charts/*/Chart.yaml")),
    }
    expected = {
        "src/<package>/__init__.py": True,
        "src/<package>/redis_cache.py": case.answer("cache") == "redis",
        ".github/workflows/*.yml": case.answer("github_actions"),
        "charts/*/Chart.yaml": case.answer("helm"),
    }
    wrong = mismatches(expected, found)
    assert not wrong, "\n".join(wrong)


def requirement_names(requirements: list[str]) -> set[str]:
    """Distribution names of PEP 508 requirements, without extras or versions."""
    return {re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0] for requirement in requirements}


def test_pyproject_follows_answers(case: Case, project: Path) -> None:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert pyproject["name"] == case.answer("project_slug")
    assert pyproject["requires-python"] == f">={case.answer('python_version')}"
    assert (project / ".python-version").read_text() == f"{case.answer('python_version')}\n"
    dependencies = requirement_names(pyproject["dependencies"])
    found = {name: name in dependencies for name in ("asyncpg", "redis", "hvac", "python-dotenv")}
    expected = {
        "asyncpg": case.answer("database") == "postgresql",
        "redis": case.answer("cache") == "redis",
        "hvac": case.answer("vault") == "api",
        "python-dotenv": case.answer("vault") == "agent",
    }
    wrong = mismatches(expected, found)
    assert not wrong, "runtime dependencies:\n" + "\n".join(wrong)


def test_license_matches_answer(case: Case, project: Path) -> None:
    text = (project / "LICENSE").read_text()
    markers = {"MIT": "MIT License", "Apache-2.0": "Apache License"}
    found = {name for name, marker in markers.items() if marker in text}
    expected = {case.answer("license")} & markers.keys()
    assert found == expected, f"LICENSE for {case.answer('license')} reads:\n{text[:300]}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "gated", [case for case in SUPPORTED if case.gates], ids=lambda case: case.id
)
def test_project_passes_its_own_gates(gated: Case, tmp_path: Path) -> None:
    """Install, check, and format: the project's own CI passes and formatting is stable."""
    project = render(gated.data, tmp_path / SLUG)
    commit_all(project, "Render from the template")
    run(["make", "install"], project)
    written = [line for line in porcelain(project).splitlines() if not line.endswith(" uv.lock")]
    assert not written, "`make install` wrote more than uv.lock:\n" + "\n".join(written)
    commit_all(project, "Lock dependencies")  # `uv sync` writes uv.lock on first install
    run(["make", "check"], project)
    assert porcelain(project) == "", "`make check` changed or left files behind"
    run(["make", "fmt"], project)
    assert porcelain(project) == "", "`make fmt` changed the freshly rendered project"
    run(["uv", "run", "--no-sync", "pre-commit", "run", "--all-files"], project)
