"""Register a new domain in domains.py: its import, and its entry at the end of DOMAINS.

    python scaffolds/domain/tasks/register.py src/<package>/domains.py NAME

Copier runs it after writing the domain. domains.py is the team's file: when it no longer
has the shape this edits (`DOMAINS: list[Domain] = [` ... `]`, one import per domain), it
fails with the two lines to add by hand.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

LIST_START = "DOMAINS: list[Domain] = ["
LIST_END = "]"
# The package's own imports (`from .domain import Domain`, `from .items.domain import items`).
RELATIVE_IMPORT = re.compile(r"^from \.([\w.]+) import \w+$")


class ShapeError(Exception):
    """domains.py is not laid out as the template wrote it."""


def registered(lines: list[str], name: str) -> list[str]:
    """The lines of domains.py with the domain imported, and listed last in DOMAINS."""
    import_line, entry = f"from .{name}.domain import {name}", f"    {name},"
    if LIST_START not in lines:
        raise ShapeError
    start = lines.index(LIST_START)
    if LIST_END not in lines[start:]:
        raise ShapeError
    end = lines.index(LIST_END, start)
    if entry not in lines[start:end]:
        lines = [*lines[:end], entry, *lines[end:]]
    if import_line in lines[:start]:
        return lines
    imports = {
        n: m[1] for n, line in enumerate(lines[:start]) if (m := RELATIVE_IMPORT.match(line))
    }
    if not imports:
        raise ShapeError
    # Where isort puts it: among the package's imports, in the order of their modules.
    module = f"{name}.domain"
    position = next((n for n, other in imports.items() if other > module), max(imports) + 1)
    return [*lines[:position], import_line, *lines[position:]]


def main(argv: list[str]) -> int:
    domains, name = Path(argv[0]), argv[1]
    try:
        lines = registered(domains.read_text(encoding="utf-8").splitlines(), name)
    except (OSError, ShapeError):
        sys.stderr.write(
            f"{domains.as_posix()} no longer has the shape `make domain` edits: register the "
            f"domain by hand, adding\n    from .{name}.domain import {name}\nto its imports and\n"
            f"    {name},\nto DOMAINS, then run `make fmt`.\n"
        )
        return 1
    domains.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
