"""The documentation says what the template does: generated tables, real paths, a clean build."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from scripts import options_page
from tests.markdown import sh_commands
from tests.rendering import REPO_ROOT, render, run
from tests.test_readme import QUICK_START

DOCS = REPO_ROOT / "docs"
STANDARDS = DOCS / "standards.md"
# In the catalogue, each standard's `- **Where:**` line lists paths only, in backticks.
WHERE = re.compile(r"^- \*\*Where:\*\* (?P<paths>.*)$", re.MULTILINE)
CODE = re.compile(r"`([^`]+)`")
PLACEHOLDERS = {"<package>": "orders_service", "<slug>": "orders-service"}


def test_options_tables_match_copier_yml() -> None:
    stale = options_page.stale(options_page.load_config())
    assert stale == [], f"options tables out of date in {stale}: run `make docs-options`"


def test_options_table_lists_every_question_once() -> None:
    config = options_page.load_config()
    generated = options_page.table(config, escape_pipes=False)
    listed = re.findall(r"^\| `([a-z_]+)` \|", generated, re.MULTILINE)
    assert listed == list(options_page.questions(config))


def catalogue_paths(text: str) -> dict[str, list[str]]:
    """Each standard's heading with the paths its **Where** line names."""
    found: dict[str, list[str]] = {}
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        heading = section.splitlines()[0]
        if where := WHERE.search(section):
            found[heading] = CODE.findall(where.group("paths"))
    return found


def test_catalogue_lists_the_issues_standards() -> None:
    standards = {heading.lower() for heading in catalogue_paths(STANDARDS.read_text())}
    expected = {
        "typing",
        "formatting",
        "linting",
        "tests and coverage",
        "api documentation",
        "container hardening",
        "chart hardening",
        "secrets",
        "observability",
        "caching",
        "rate limiting",
        "resilience",
        "ci/cd",
        "supply chain",
        "update policy",
    }
    assert expected <= standards, f"missing from the catalogue: {sorted(expected - standards)}"


def test_catalogue_paths_exist_in_a_default_render(tmp_path: Path) -> None:
    paths = catalogue_paths(STANDARDS.read_text())
    assert all(paths.values()), f"standards without paths: {[h for h, p in paths.items() if not p]}"
    project = render({"project_name": "Orders Service"}, tmp_path / "orders-service", tasks=False)
    missing = []
    for heading, names in paths.items():
        for name in names:
            relative = name
            for placeholder, value in PLACEHOLDERS.items():
                relative = relative.replace(placeholder, value)
            if not (project / relative).exists():
                missing.append(f"{heading}: {name}")
    assert missing == [], "the catalogue names paths a default render lacks:\n" + "\n".join(missing)


def test_getting_started_shows_the_readmes_commands() -> None:
    readme = sh_commands((REPO_ROOT / "README.md").read_text(), QUICK_START)
    page = (DOCS / "getting-started.md").read_text()
    first_block = re.search(r"^```sh\n(.*?)^```$", page, re.MULTILINE | re.DOTALL)
    assert first_block, "docs/getting-started.md has no sh block"
    lines = [line.strip() for line in first_block.group(1).splitlines()]
    assert [line for line in lines if line and not line.startswith("#")] == readme


def test_site_builds_strictly(tmp_path: Path) -> None:
    """No broken link or anchor, no page missing from nav: mkdocs --strict fails on each."""
    site = tmp_path / "site"
    build = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    run(build, REPO_ROOT, timeout=120)
    built = {path.parent.name for path in site.glob("*/index.html")}
    pages = {path.stem for path in DOCS.glob("*.md") if path.stem != "index"}
    assert pages <= built, f"pages not built: {sorted(pages - built)}"
