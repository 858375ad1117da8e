"""The GitHub workflows and bot configurations, generated and the template's own, are sound.

GitHub is out of reach, so nothing here runs a workflow. actionlint (which runs shellcheck on
the `run:` scripts when shellcheck is on PATH) and check-jsonschema's vendored schemas check
every file statically, for every supported answer set that ships workflows; then the parsed
files are checked for what the docs promise: the jobs, least privilege, timeouts, actions
pinned by commit, and bots that leave the template's pins to `copier update`.
"""

from __future__ import annotations

import re
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.rendering import REPO_ROOT, render, run
from tests.test_generation import SUPPORTED, Case

SCRIPTS = Path(sysconfig.get_path("scripts"))
ACTIONLINT = SCRIPTS / "actionlint"
CHECK_JSONSCHEMA = SCRIPTS / "check-jsonschema"
SHELLCHECK = SCRIPTS / "shellcheck"

SHIPS_WORKFLOWS = [case for case in SUPPORTED if case.answer("github_actions")]
PYTHON_VERSIONS = ("3.11", "3.12", "3.13")  # copier.yml's choices for python_version
PINNED = re.compile(r"^\s*-?\s*uses: (?P<action>[\w.-]+/[\w.-]+)@(?P<ref>\S+)(?P<comment>.*)$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^ # v\d+\.\d+\.\d+$")

Workflow = dict[str, Any]

# One worker renders every answer set once for the whole module.
pytestmark = pytest.mark.xdist_group("workflows")


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every supported answer set that ships GitHub Actions, rendered once, by case id."""
    root = tmp_path_factory.mktemp("workflows")
    return {case.id: render(case.data, root / case.id, tasks=False) for case in SHIPS_WORKFLOWS}


@pytest.fixture(scope="module")
def default_project(projects: dict[str, Path]) -> Path:
    return projects["defaults"]


def workflow_files(project: Path) -> list[Path]:
    files = sorted((project / ".github" / "workflows").glob("*.y*ml"))
    assert files, f"no workflow in {project}"
    return files


def every_workflow_file(projects: dict[str, Path]) -> list[Path]:
    """The rendered workflows of every answer set, then the template repository's own."""
    return [path for project in projects.values() for path in workflow_files(project)] + (
        workflow_files(REPO_ROOT)
    )


def load(path: Path) -> Workflow:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    return {"on" if key is True else key: value for key, value in loaded.items()}


def workflow(project: Path, name: str) -> Workflow:
    return load(project / ".github" / "workflows" / name)


def steps(job: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from job.get("steps", [])


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    """The job's one step that uses action (owner/name)."""
    found = [step for step in steps(job) if step.get("uses", "").startswith(f"{action}@")]
    assert len(found) == 1, f"expected one step using {action}, found {len(found)}"
    return found[0]


def scripts(job: dict[str, Any]) -> str:
    """The job's `run:` scripts, one after the other."""
    return "\n".join(step["run"] for step in steps(job) if "run" in step)


def tool(path: Path) -> str:
    assert path.is_file(), f"{path.name} is missing from the tooling environment: `make install`"
    return str(path)


# Static analysis --------------------------------------------------------------------------


def test_actionlint_passes_every_workflow(projects: dict[str, Path], tmp_path: Path) -> None:
    files = every_workflow_file(projects)
    # actionlint skips the `run:` scripts without a word when shellcheck is missing.
    shellcheck = tool(SHELLCHECK)
    run([tool(ACTIONLINT), "-no-color", "-shellcheck", shellcheck, *map(str, files)], tmp_path)


@pytest.mark.parametrize(
    "schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"]
)
def test_every_workflow_matches_the_schema(
    schema: str, projects: dict[str, Path], tmp_path: Path
) -> None:
    files = every_workflow_file(projects)
    run([tool(CHECK_JSONSCHEMA), "--builtin-schema", schema, *map(str, files)], tmp_path)


@pytest.mark.parametrize(
    ("name", "schema"),
    [("dependabot.yml", "vendor.dependabot"), ("renovate.json", "vendor.renovate")],
)
def test_bot_configurations_match_their_schemas(
    name: str, schema: str, projects: dict[str, Path], tmp_path: Path
) -> None:
    files = [str(project / ".github" / name) for project in projects.values()]
    run([tool(CHECK_JSONSCHEMA), "--builtin-schema", schema, *files], tmp_path)


# What every workflow promises -------------------------------------------------------------


def test_workflows_grant_nothing_by_default_and_every_job_is_bounded(
    projects: dict[str, Path],
) -> None:
    problems = []
    for path in every_workflow_file(projects):
        loaded = load(path)
        if loaded.get("permissions") != {}:
            problems.append(f"{path}: top-level permissions should be {{}}")
        if "concurrency" not in loaded:
            problems.append(f"{path}: no concurrency group")
        for name, job in loaded["jobs"].items():
            if not isinstance(job.get("permissions"), dict):
                problems.append(f"{path}: job {name} does not declare its permissions")
            if not isinstance(job.get("timeout-minutes"), int):
                problems.append(f"{path}: job {name} has no timeout")
    assert not problems, "\n".join(problems)


def test_actions_are_pinned_by_commit_with_their_version(projects: dict[str, Path]) -> None:
    problems, commits = [], dict[str, set[str]]()
    for path in every_workflow_file(projects):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if (pinned := PINNED.match(line)) is None:
                continue
            where, action = f"{path}:{number}", pinned["action"]
            if not COMMIT.match(pinned["ref"]):
                problems.append(f"{where}: {action} is not pinned by a full commit SHA")
            if not VERSION_COMMENT.match(pinned["comment"]):
                problems.append(f"{where}: {action} lacks its `# vX.Y.Z` comment")
            commits.setdefault(action, set()).add(pinned["ref"] + pinned["comment"])
    problems += [
        f"{action} is pinned differently across files: {sorted(pins)}"
        for action, pins in commits.items()
        if len(pins) > 1
    ]
    assert commits, "no `uses:` line found"
    assert not problems, "\n".join(problems)


def test_setup_uv_installs_the_uv_of_the_dockerfile(projects: dict[str, Path]) -> None:
    for project in projects.values():
        dockerfile = (project / "Dockerfile").read_text()
        pinned = re.search(r"^ARG UV_VERSION=(\S+)$", dockerfile, re.MULTILINE)
        assert pinned, "the Dockerfile pins no UV_VERSION"
        for path in workflow_files(project):
            for job in load(path)["jobs"].values():
                for step in steps(job):
                    if step.get("uses", "").startswith("astral-sh/setup-uv@"):
                        assert step["with"]["version"] == pinned[1], f"{path}: uv version"


# ci.yml ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SHIPS_WORKFLOWS, ids=lambda case: case.id)
def test_ci_runs_every_gate(case: Case, projects: dict[str, Path]) -> None:
    ci = workflow(projects[case.id], "ci.yml")
    expected = {"lint", "test", "pre-commit", "openapi", "image", "audit"}
    expected |= {"helm"} if case.answer("helm") else set()
    assert set(ci["jobs"]) == expected
    assert set(ci["on"]) == {"pull_request", "push"}
    jobs = ci["jobs"]
    assert "make lint typecheck" in scripts(jobs["lint"])
    assert "make test" in scripts(jobs["test"])
    assert "pre-commit run --all-files" in scripts(jobs["pre-commit"])
    assert "make openapi" in scripts(jobs["openapi"])
    assert "git diff --exit-code -- openapi.json" in scripts(jobs["openapi"])


@pytest.mark.parametrize("case", SHIPS_WORKFLOWS, ids=lambda case: case.id)
def test_tests_run_on_every_supported_python(case: Case, projects: dict[str, Path]) -> None:
    test = workflow(projects[case.id], "ci.yml")["jobs"]["test"]
    target = case.answer("python_version")
    expected = [version for version in PYTHON_VERSIONS if version >= target]
    assert test["strategy"]["matrix"]["python"] == expected
    assert step_using(test, "astral-sh/setup-uv")["with"]["python-version"] == (
        "${{ matrix.python }}"
    )


@pytest.mark.parametrize("case", SHIPS_WORKFLOWS, ids=lambda case: case.id)
def test_tests_also_run_against_the_production_servers(
    case: Case, projects: dict[str, Path]
) -> None:
    """As tests/test_services.py runs the suite: TEST_DATABASE_URL and TEST_CACHE_URL."""
    test = workflow(projects[case.id], "ci.yml")["jobs"]["test"]
    expected: dict[str, str] = {}
    if case.answer("database") == "postgresql":
        expected["postgres"] = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    if case.answer("cache") == "redis":
        expected["redis"] = "redis://127.0.0.1:6379/0"
    assert set(test.get("services", {})) == set(expected)
    assert sorted(test.get("env", {}).values()) == sorted(expected.values())


def test_coverage_is_gated_reported_and_kept(default_project: Path) -> None:
    test = workflow(default_project, "ci.yml")["jobs"]["test"]
    assert "make test" in scripts(test)  # pytest --cov with the project's fail_under
    assert 'coverage report --format=markdown --fail-under=0 >> "$GITHUB_STEP_SUMMARY"' in (
        scripts(test)
    )
    upload = step_using(test, "actions/upload-artifact")
    assert upload["with"]["path"] == "coverage.xml"
    assert upload["if"] == "${{ !cancelled() }}"


def test_image_is_linted_built_with_the_actions_cache_and_not_pushed_from_pull_requests(
    default_project: Path,
) -> None:
    image = workflow(default_project, "ci.yml")["jobs"]["image"]
    assert step_using(image, "hadolint/hadolint-action")["with"]["failure-threshold"] == "info"
    step_using(image, "docker/setup-buildx-action")
    build = step_using(image, "docker/build-push-action")["with"]
    assert build["push"] == "${{ github.event_name != 'pull_request' }}"
    assert (build["cache-from"], build["cache-to"]) == ("type=gha", "type=gha,mode=max")
    login = step_using(image, "docker/login-action")
    assert login["if"] == "${{ github.event_name != 'pull_request' }}"


def test_chart_is_linted_rendered_and_validated(default_project: Path) -> None:
    helm = workflow(default_project, "ci.yml")["jobs"]["helm"]
    assert helm["env"]["CHART"] == "charts/orders-service"
    script = scripts(helm)
    assert 'helm lint --strict "$CHART"' in script
    assert 'helm template ci "$CHART"' in script
    assert "kubernetes-validate@" in script
    assert "--strict" in script


def test_dependency_audit_is_wired_to_the_lock_file(default_project: Path) -> None:
    """Only the wiring: offline, pip-audit skips every package and still reports no finding."""
    script = scripts(workflow(default_project, "ci.yml")["jobs"]["audit"])
    exported = re.search(r"uv export .*--output-file (\S+)", script)
    assert exported, "the audit job does not export the locked dependencies"
    assert "--no-emit-project" in exported[0]
    audited = re.search(r"pip-audit@[\d.]+ (.*)", script)
    assert audited, "the audit job does not run a pinned pip-audit"
    options = audited[1].split()
    assert {"--strict", "--require-hashes", "--disable-pip"} <= set(options)
    assert options[options.index("--requirement") + 1] == exported[1]


# release.yml -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SHIPS_WORKFLOWS, ids=lambda case: case.id)
def test_release_publishes_image_chart_and_notes(case: Case, projects: dict[str, Path]) -> None:
    release = workflow(projects[case.id], "release.yml")
    assert release["on"] == {"push": {"tags": ["v*.*.*"]}}
    jobs = release["jobs"]
    expected = {"version", "image", "release"} | ({"chart"} if case.answer("helm") else set())
    assert set(jobs) == expected
    assert "uv version --short" in scripts(jobs["version"])

    build = step_using(jobs["image"], "docker/build-push-action")["with"]
    assert (build["push"], build["sbom"], build["provenance"]) == (True, True, "mode=max")
    attest = step_using(jobs["image"], "actions/attest")["with"]
    assert attest["subject-digest"] == "${{ steps.build.outputs.digest }}"
    assert jobs["image"]["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
        "artifact-metadata": "write",
    }
    if case.answer("helm"):
        assert "helm package" in scripts(jobs["chart"])
        assert re.search(r"helm push .* \"oci://ghcr\.io/", scripts(jobs["chart"]))
    assert "gh release create" in scripts(jobs["release"])
    assert set(jobs["release"]["needs"]) == expected - {"release"}


# template-update.yml and the bots ----------------------------------------------------------


def test_template_update_runs_weekly_and_on_demand(default_project: Path) -> None:
    update = workflow(default_project, "template-update.yml")
    assert set(update["on"]) == {"schedule", "workflow_dispatch"}
    job = update["jobs"]["update"]
    script = scripts(job)
    assert "copier check-update" in script
    assert "copier update --trust --defaults --conflict inline" in script
    assert "git diff --name-only --diff-filter=U" in script, "conflicts must fail the run"
    assert "uv lock" in script, "the lock file is regenerated, not merged"
    pull_request = step_using(job, "peter-evans/create-pull-request")["with"]
    assert pull_request["branch"] == "template-update"


def test_dependabot_leaves_the_template_pins_to_copier_update(default_project: Path) -> None:
    config = yaml.safe_load((default_project / ".github" / "dependabot.yml").read_text())
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(updates) == {"github-actions", "docker", "uv"}
    used = {
        pinned["action"]
        for path in workflow_files(default_project)
        for line in path.read_text().splitlines()
        if (pinned := PINNED.match(line))
    }
    ignored = {rule["dependency-name"] for rule in updates["github-actions"]["ignore"]}
    assert used <= ignored, f"Dependabot would bump the template's pins of {used - ignored}"
    assert {rule["dependency-name"] for rule in updates["docker"]["ignore"]} == {"python"}
    assert updates["uv"]["versioning-strategy"] == "lockfile-only"


def test_renovate_only_brings_template_updates(default_project: Path) -> None:
    config = yaml.safe_load((default_project / ".github" / "renovate.json").read_text())
    assert config["enabledManagers"] == ["copier"]
    assert config["ignoreScripts"] is False, "the template needs `copier update --trust`"
