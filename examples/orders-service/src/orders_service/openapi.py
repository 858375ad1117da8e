"""Export the OpenAPI document: `python -m <package>.openapi openapi.json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .main import create_app


def render_openapi() -> str:
    """The OpenAPI document as committed: indented JSON with a final newline."""
    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m <package>.openapi PATH", file=sys.stderr)  # noqa: T201
        return 2
    Path(argv[0]).write_text(render_openapi(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
