"""Write the options tables of README.md and docs/options.md from copier.yml's questions.

Each file holds its table between `<!-- options:start -->` and `<!-- options:end -->`; the
rest of the file is prose. `--check` writes nothing and exits 1 when a table is stale.

    python scripts/options_page.py           # rewrite the tables
    python scripts/options_page.py --check   # fail when they disagree with copier.yml
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COPIER_YML = ROOT / "copier.yml"
START = "<!-- options:start -->"
END = "<!-- options:end -->"
NOTE = "<!-- generated from copier.yml by `make docs-options`: edit copier.yml, not this table -->"


@dataclass(frozen=True)
class Target:
    """A file holding an options table, and how its Markdown renderer reads a table cell."""

    path: Path
    # GitHub-flavoured Markdown splits cells at a `|` even inside backticks; Python-Markdown
    # (mkdocs) does not, and would show the backslash.
    escape_pipes: bool


TARGETS = (
    Target(ROOT / "README.md", escape_pipes=True),
    Target(ROOT / "docs" / "options.md", escape_pipes=False),
)


def questions(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """copier.yml's questions in order: every key that is not configuration (`_*`).

    Questions that are never asked (`when: false`, values the template sets) are left out.
    """
    return {
        name: spec
        for name, spec in config.items()
        if not name.startswith("_") and spec.get("when", True) is not False
    }


def code(value: object) -> str:
    """value as inline code, as YAML spells it (`true`, not `True`)."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"`{text}`"


def default_cell(spec: Mapping[str, Any]) -> str:
    if "default" not in spec:
        return "(required)"
    return code(spec["default"])


def choices_cell(spec: Mapping[str, Any]) -> str:
    """The values a choice question accepts (copier.yml may label them: the values count)."""
    choices = spec.get("choices")
    if choices is None:
        return ""
    values = choices.values() if isinstance(choices, Mapping) else choices
    return ", ".join(code(value) for value in values)


def table(config: Mapping[str, Any], escape_pipes: bool) -> str:
    """The Markdown table of the questions: name, type, default, choices, help."""
    rows = [
        "| Question | Type | Default | Choices | Help |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, spec in questions(config).items():
        cells = [
            f"`{name}`",
            str(spec.get("type", "str")),
            default_cell(spec),
            choices_cell(spec),
            " ".join(str(spec.get("help", "")).split()),
        ]
        if escape_pipes:
            cells = [cell.replace("|", "\\|") for cell in cells]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def with_table(text: str, generated: str, path: Path) -> str:
    """text with the part between the markers replaced by the generated table."""
    before, start, rest = text.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{path}: no {START} ... {END} block for the options table")
    return f"{before}{START}\n{NOTE}\n\n{generated}\n\n{END}{after}"


def load_config(path: Path = COPIER_YML) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    return config


def expected(target: Target, config: Mapping[str, Any]) -> str:
    """What target's file should hold."""
    text = target.path.read_text()
    return with_table(text, table(config, target.escape_pipes), target.path)


def stale(config: Mapping[str, Any]) -> list[Path]:
    """The files whose options table disagrees with config."""
    return [
        target.path for target in TARGETS if target.path.read_text() != expected(target, config)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail on a stale table")
    args = parser.parse_args(argv)
    config = load_config()
    if args.check:
        found = stale(config)
        for path in found:
            print(f"{path.relative_to(ROOT)}: options table out of date: run `make docs-options`")
        return 1 if found else 0
    for target in TARGETS:
        target.path.write_text(expected(target, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
