"""Every supported answer set renders cleanly; a pairwise set of them passes its own gates.

Cheap static checks run for every set. The expensive gates (`make install`, `make check`,
`make fmt` leaving the project clean, pre-commit) run for nine combinations of the options
in which every pair of two options' values appears at least once. One option at a time never
combines two, and two options that break type checks together is the failure
s3rius/FastAPI-template's issue 173 records. Each of the nine is named at a boundary of what
copier.yml accepts: the shortest names, the longest, digits, an explicit package name, non-ASCII.

Every one of the 288 combinations runs the same gates on demand (`pytest -m combinations`,
deselected otherwise), as the scheduled workflow .github/workflows/combinations.yml does with
the newest dependency releases the index serves.
"""

from __future__ import annotations

import itertools
import re
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier.errors import UserMessageError

from tests.rendering import (
    REPO_ROOT,
    commit_all,
    long_lines,
    porcelain,
    read_text,
    render,
    rendered_files,
    run,
)

NAME = "Orders Service"
SLUG = "orders-service"
PACKAGE = "orders_service"

# The options that change what is generated, each with every value copier.yml offers
# (test_options_are_copier_ymls_choices keeps the two in step). license only changes the
# LICENSE file: it has static cases of its own.
OPTIONS: dict[str, tuple[Any, ...]] = {
    "database": ("sqlite", "postgresql"),
    "cache": ("memory", "redis"),
    "vault": ("none", "agent", "api"),
    "auth": ("oidc", "none"),
    "helm": (True, False),
    "github_actions": (True, False),
    "python_version": ("3.11", "3.12", "3.13"),
}

Combination = dict[str, Any]
Pair = tuple[tuple[str, Any], tuple[str, Any]]


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

    @property
    def combination(self) -> Combination:
        """The value of each of OPTIONS this set renders with."""
        return {option: self.answer(option) for option in OPTIONS}


DEFAULTS: dict[str, Any] = {
    "project_slug": SLUG,
    "package_name": PACKAGE,
    "python_version": "3.12",
    "license": "Proprietary",
    "database": "sqlite",
    "cache": "memory",
    "vault": "none",
    "auth": "oidc",
    "helm": True,
    "github_actions": True,
}


@dataclass(frozen=True)
class Names:
    """Answers that name the service, and the names copier derives from them."""

    label: str
    given: dict[str, str]
    derived: dict[str, str] = field(default_factory=dict)


ORDERS = Names("orders", {"project_name": NAME})
SHORTEST = Names(
    "shortest-names", {"project_name": "A"}, {"project_slug": "a", "package_name": "a"}
)
# The most copier.yml accepts: a 64-character name, a 53-character slug (Helm's limit for
# release names; the name's own slug would be longer, so it is given) and the package named
# after it, a 160-character description, a 64-character author. Lines that grow with these
# must still fit black's and ruff's 100 columns.
LONGEST = Names(
    "longest-names",
    {
        "project_name": "International Payments Settlement and Reconciliation Gateway Svc",
        "project_slug": "international-payments-settlement-reconciliation-gw-x",
        "description": (
            "Settles and reconciles international payments across gateways, banks and ledgers, "
            "with audit trails, retries, idempotency keys and daily reports to finance ops."
        ),
        "author_name": "Payments Platform Engineering and Settlement Reconciliation Grps",
        "author_email": "payments-platform-settlement-reconciliation@payments.example.com",
    },
    {"package_name": "international_payments_settlement_reconciliation_gw_x"},
)
DIGITS = Names(
    "digits",
    {"project_name": "Service 42"},
    {"project_slug": "service-42", "package_name": "service_42"},
)
EXPLICIT_PACKAGE = Names(
    "explicit-package",
    {"project_name": "Billing Gateway", "package_name": "billing"},
    {"project_slug": "billing-gateway"},
)
UNICODE = Names(
    "unicode-name",
    {"project_name": "Café Orders"},
    {"project_slug": "cafe-orders", "package_name": "cafe_orders"},
)


def combination_id(combination: Mapping[str, Any]) -> str:
    """`postgresql-redis-vault-api-helm-actions-py3.13`: every option's value, in OPTIONS' order."""
    return "-".join(
        [
            combination["database"],
            combination["cache"],
            f"vault-{combination['vault']}",
            "oidc" if combination["auth"] == "oidc" else "no-auth",
            "helm" if combination["helm"] else "no-helm",
            "actions" if combination["github_actions"] else "no-actions",
            f"py{combination['python_version']}",
        ]
    )


def gated(combination: Combination, names: Names, case_id: str = "") -> Case:
    """The combination under the given names, with its project's own gates.

    Only the values that differ from copier.yml's defaults are given: the rest are its own.
    """
    changed = {option: value for option, value in combination.items() if value != DEFAULTS[option]}
    return Case(
        case_id or f"{combination_id(combination)}-{names.label}",
        {**names.given, **changed},
        gates=True,
        derived=names.derived,
    )


def row(
    database: str,
    cache: str,
    vault: str,
    auth: str,
    helm: bool,
    github_actions: bool,
    python: str,
) -> Combination:
    """One combination of OPTIONS, its values in OPTIONS' order."""
    values = (database, cache, vault, auth, helm, github_actions, python)
    return dict(zip(OPTIONS, values, strict=True))


# Every option on, the longest names.
FULL_OPTIONS = gated(row("postgresql", "redis", "api", "oidc", True, True, "3.13"), LONGEST)
# Every default: the service the README's quick start generates. tests/test_readme.py runs
# its gates where a newcomer makes it, rather than on a second render of the same answers.
README_SERVICE = gated(
    row("sqlite", "memory", "none", "oidc", True, True, "3.12"), ORDERS, "defaults"
)
# Every pair of two options' values in nine combinations, the fewest possible: vault and
# python_version alone have nine pairs. test_the_gated_cases_cover_every_pair proves it.
PAIRWISE = [
    README_SERVICE,
    gated(row("sqlite", "redis", "none", "none", True, True, "3.11"), DIGITS),
    gated(row("postgresql", "memory", "none", "oidc", False, False, "3.13"), SHORTEST),
    gated(row("sqlite", "memory", "agent", "oidc", True, False, "3.11"), EXPLICIT_PACKAGE),
    gated(row("postgresql", "memory", "agent", "none", True, True, "3.12"), UNICODE),
    gated(row("sqlite", "redis", "agent", "none", False, True, "3.13"), LONGEST),
    gated(row("postgresql", "memory", "api", "oidc", False, True, "3.11"), SHORTEST),
    gated(row("sqlite", "redis", "api", "none", False, False, "3.12"), ORDERS),
    FULL_OPTIONS,
]

SUPPORTED = [
    *PAIRWISE,
    Case("license-MIT", {"license": "MIT"}),
    Case("license-Apache-2.0", {"license": "Apache-2.0"}),
]

# All 288, for `pytest -m combinations`: each under the longest names.
EVERY_COMBINATION = [
    dict(zip(OPTIONS, values, strict=True)) for values in itertools.product(*OPTIONS.values())
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


# A line black cannot split: a string literal alone, perhaps as a keyword argument.
LONE_STRING = re.compile(r'^\s*(\w+=)?[rbuf]*"[^"]*",?$')
LINE_LENGTH = 100  # the rendered pyproject.toml's, for black and ruff


def names_of(case: Case) -> set[str]:
    """The names that grow the lines of a render: its name, slug, package, settings prefix.

    Those under ten characters are left out: they also occur as words ("a", "billing").
    """
    package = case.answer("package_name")
    names = {case.data["project_name"], case.answer("project_slug"), package, package.upper()}
    return {name for name in names if len(name) >= 10}


def test_lines_that_name_the_service_fit(case: Case, project: Path) -> None:
    """At any name copier.yml accepts, a Python line naming the service stays in 100 columns.

    Written so in the template, not reformatted after rendering: black and ruff must leave the
    render as it is, at the shortest names and at the longest.
    """
    names = names_of(case)

    def too_long(relative: str, text: str) -> list[str]:
        if not relative.endswith(".py"):
            return []
        return [
            f"line {number}: {len(line)} columns"
            for number, line in enumerate(text.splitlines(), start=1)
            if len(line) > LINE_LENGTH
            and any(name in line for name in names)
            and not LONE_STRING.match(line)
        ]

    found = problems(project, too_long)
    assert not found, "lines that grew with the names past 100 columns:\n" + "\n".join(found)


def test_answers_recorded(case: Case, project: Path) -> None:
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    expected = {question: case.answer(question) for question in DEFAULTS}
    naming = ("project_name", "description", "author_name", "author_email")
    expected |= {question: case.data[question] for question in naming if question in case.data}
    assert {question: recorded.get(question) for question in expected} == expected
    assert "_src_path" in recorded
    assert "_commit" in recorded


def test_project_is_a_git_repository(project: Path) -> None:
    branch = run(["git", "symbolic-ref", "--short", "HEAD"], project).strip()
    assert branch == "main"


def test_copy_writes_a_lock_that_matches_pyproject(project: Path) -> None:
    """`docker build .` and `uv sync --frozen` need uv.lock from the first minute."""
    assert (project / "uv.lock").is_file(), "copier copy wrote no uv.lock"
    run(["uv", "lock", "--check"], project)
    assert (
        "exclude-newer" not in (project / "uv.lock").read_text()
    ), "the cutoff stayed in uv.lock's options: later locks could not move past it"


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
        "src/<package>/cache/redis.py": (package / "cache" / "redis.py").is_file(),
        "src/<package>/vault/": (package / "vault").exists(),
        ".github/workflows/*.yml": any(project.glob(".github/workflows/*.y*ml")),
        "charts/*/Chart.yaml": any(project.glob("charts/*/Chart.yaml")),
    }
    expected = {
        "src/<package>/__init__.py": True,
        "src/<package>/cache/redis.py": case.answer("cache") == "redis",
        "src/<package>/vault/": case.answer("vault") != "none",
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


# The gated sets ----------------------------------------------------------------------------


def pairs(combination: Combination) -> set[Pair]:
    """Every pair of two options' values in the combination."""
    return set(itertools.combinations(combination.items(), 2))


def test_options_are_copier_ymls_choices() -> None:
    """OPTIONS holds every option of copier.yml but license, with every value it offers."""
    questions = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
    offered = {}
    for question, spec in questions.items():
        if question.startswith("_") or spec.get("when") is False or question == "license":
            continue
        if choices := spec.get("choices"):
            values = choices.values() if isinstance(choices, dict) else choices
            offered[question] = set(values)
        elif spec.get("type") == "bool":
            offered[question] = {True, False}
    assert {option: set(values) for option, values in OPTIONS.items()} == offered


def test_the_gated_cases_cover_every_pair() -> None:
    gated_cases = [case for case in SUPPORTED if case.gates]
    every_pair = set().union(*map(pairs, EVERY_COMBINATION))
    covered = set().union(*(pairs(case.combination) for case in gated_cases))
    missing = sorted(map(str, every_pair - covered))
    assert not missing, "pairs of option values no gated case renders:\n" + "\n".join(missing)
    assert len(EVERY_COMBINATION) == len({combination_id(c) for c in EVERY_COMBINATION}) == 288


@pytest.mark.parametrize(
    ("question", "longer"),
    [
        ("project_name", f"{LONGEST.given['project_name']}X"),
        ("project_slug", f"{LONGEST.given['project_slug']}x"),
        ("package_name", f"{LONGEST.derived['package_name']}x"),
        ("description", f"{LONGEST.given['description']}X"),
        ("author_name", f"{LONGEST.given['author_name']}X"),
    ],
)
def test_the_longest_names_are_the_longest_accepted(
    question: str, longer: str, tmp_path: Path
) -> None:
    """One character more is refused: the gated cases render at copier.yml's very limits."""
    with pytest.raises(UserMessageError, match=f"question '{question}'"):
        render({**LONGEST.given, question: longer}, tmp_path / "refused")


def passes_its_own_gates(case: Case, project: Path, domain: str = "") -> float:
    """Install, check, format and pre-commit in the rendered project; the seconds they took.

    The project's own CI passes, and formatting leaves the render as it is. With `domain`,
    `make domain NAME=<domain>` (and `make openapi`) first: the gates then cover both.
    The pre-commit hooks, the same file in every render, run where they meet the most: every
    option on (and in the README's service, tests/test_readme.py).
    """
    __tracebackhide__ = True
    started = time.monotonic()
    assert (project / "uv.lock").is_file(), f"{case.id}: `copier copy` wrote no uv.lock"
    commit_all(project, "Render from the template")
    run(["make", "install"], project)
    # The lock the copy wrote already matches pyproject.toml: installing changes nothing.
    assert porcelain(project) == "", f"{case.id}: `make install` changed the fresh render"
    if domain:
        run(["make", "domain", f"NAME={domain}", "openapi"], project)
        commit_all(project, f"Add the {domain} domain")
        added = run(["git", "diff", "--name-only", "HEAD~1", "HEAD"], project).splitlines()
        assert not long_lines(project, added), f"{case.id}: the {domain} domain's long lines"
    run(["make", "check"], project)
    assert porcelain(project) == "", f"{case.id}: `make check` changed or left files behind"
    run(["make", "fmt"], project)
    assert porcelain(project) == "", f"{case.id}: `make fmt` changed the freshly rendered project"
    if case.combination == FULL_OPTIONS.combination:
        runs_its_hooks(project)
    return time.monotonic() - started


def runs_its_hooks(project: Path) -> None:
    """The project's pre-commit hooks pass on every file, offline (local hooks only)."""
    run(["uv", "run", "--no-sync", "pre-commit", "run", "--all-files"], project)


@pytest.mark.slow
@pytest.mark.parametrize(
    "gated_case",
    [case for case in SUPPORTED if case.gates and case is not README_SERVICE],
    ids=lambda case: case.id,
)
def test_project_passes_its_own_gates(
    gated_case: Case, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    project = render(gated_case.data, tmp_path / SLUG)
    # Every option on, the longest names: gated with a domain added, which covers the render
    # as well (tests/test_domain_scaffold.py adds one to the default render).
    domain = "orders" if gated_case is FULL_OPTIONS else ""
    seconds = passes_its_own_gates(gated_case, project, domain)
    record_property(f"measure: gates of {gated_case.id}, seconds", round(seconds))


@pytest.mark.slow
@pytest.mark.combinations
@pytest.mark.parametrize("combination", EVERY_COMBINATION, ids=combination_id)
def test_every_combination_passes_its_own_gates(
    combination: Combination, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    case = gated(combination, LONGEST)
    project = render(case.data, tmp_path / SLUG)
    seconds = passes_its_own_gates(case, project)
    record_property(f"measure: gates of {case.id}, seconds", round(seconds))


def with_matrix(text: str, entry: Mapping[str, Any]) -> str:
    """text with each `${{ matrix.<key> }}` in it replaced by the matrix entry's value."""
    for key, value in entry.items():
        text = text.replace(f"${{{{ matrix.{key} }}}}", str(value))
    return text


def test_the_scheduled_workflow_runs_every_combination() -> None:
    """combinations.yml's jobs select the 288 between them, each once, with the newest releases."""
    loaded = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "combinations.yml").read_text())
    assert set(loaded[True]) == {"schedule", "workflow_dispatch"}  # YAML 1.1 reads `on` as true
    job = loaded["jobs"]["gates"]
    assert job["env"]["TEMPLATE_NEWEST_DEPENDENCIES"] == "1"
    assert any("-m combinations -k $SELECTED" in step.get("run", "") for step in job["steps"])
    matrix = job["strategy"]["matrix"]
    selected = []
    for values in itertools.product(*matrix.values()):
        pattern = with_matrix(job["env"]["SELECTED"], dict(zip(matrix, values, strict=True)))
        selected += [
            combination_id(combination)
            for combination in EVERY_COMBINATION
            if pattern in f"[{combination_id(combination)}]"
        ]
    assert sorted(selected) == sorted(map(combination_id, EVERY_COMBINATION))
