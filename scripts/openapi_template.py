"""Write template/openapi.json.jinja: the OpenAPI document each answer set's service exports.

The document differs between answers only where an answer changes the API (`auth`). This
renders the default service once per such answer, exports each one's document with
`make openapi`, and merges them line by line into one Jinja template: the shared lines as
they are, the others inside `{% if auth == ... %}` blocks, the names as placeholders.

    uv run python scripts/openapi_template.py          # rewrite the template
    uv run python scripts/openapi_template.py --check  # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.rendering import REPO_ROOT, commit_all, render, run

TEMPLATE = REPO_ROOT / "template" / "openapi.json.jinja"
NAME = "Orders Service"
DESCRIPTION = f"{NAME}: a typed FastAPI service."
# The answer whose values change the API, and the values in the order the template tests them.
QUESTION, VALUES = "auth", ("oidc", "none")


def exported(answers: dict[str, str], scratch: Path) -> list[str]:
    """The lines of the document a render with `answers` exports, names as placeholders."""
    project = render({"project_name": NAME, **answers}, scratch / "-".join(answers.values()))
    commit_all(project, "Render")
    run(["make", "install", "openapi"], project)
    text = (project / "openapi.json").read_text(encoding="utf-8")
    text = text.replace(f'"{DESCRIPTION}"', '"{{ description }}"')
    text = text.replace(f'"{NAME}"', '"{{ project_name }}"')
    return text.splitlines(keepends=True)


def merged(first: list[str], second: list[str]) -> str:
    """One template: `first` where QUESTION is VALUES[0], `second` otherwise."""
    lines: list[str] = []
    matcher = difflib.SequenceMatcher(a=first, b=second, autojunk=False)
    for operation, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if operation == "equal":
            lines += first[a_start:a_end]
            continue
        if a_end == a_start:
            lines.append(f"{{% if {QUESTION} != '{VALUES[0]}' %}}\n")
        else:
            lines.append(f"{{% if {QUESTION} == '{VALUES[0]}' %}}\n")
            lines += first[a_start:a_end]
            if b_end > b_start:
                lines.append("{% else %}\n")
        lines += second[b_start:b_end]
        lines.append("{% endif %}\n")
    return "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the template is stale")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        documents = [exported({QUESTION: value}, Path(scratch)) for value in VALUES]
    template = merged(*documents)
    if options.check:
        if TEMPLATE.read_text(encoding="utf-8") != template:
            print(f"{TEMPLATE} is stale: run scripts/openapi_template.py")
            return 1
        return 0
    TEMPLATE.write_text(template, encoding="utf-8")
    print(f"wrote {TEMPLATE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
