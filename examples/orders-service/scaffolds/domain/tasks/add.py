"""`make domain NAME=...`: refuse a name that cannot be a new domain, then run Copier.

    python scaffolds/domain/tasks/add.py --package PKG --name NAME [--singular S] -- COPIER...

Run by the Makefile from the service's root, before anything is written: a refused name
is one line on stderr and exit status 1. Otherwise it runs the Copier command given after
`--`, adding the answers it derived: the names, the domain's answers file, and the Alembic
revision that creates the domain's table on top of the current head. Standard library
only: it runs with the service's Python, before Copier.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import keyword
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path

# Lower-case words joined by single underscores: a package, a table and a URL segment.
IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
# The longest constraint name the revision gives, ix_<name>_created_at, stays within
# PostgreSQL's 63-character identifiers.
MAX_LENGTH = 40
# The service's own packages and modules: taken now, or by a later answer (vault/).
INFRASTRUCTURE = (
    "core",
    "cache",
    "api",
    "observability",
    "ratelimit",
    "auth",
    "vault",
    "migrations",
    "state",
    "config",
    "main",
    "domain",
    "domains",
    "openapi",
)


class RefusedError(Exception):
    """A name that cannot be a new domain; the message says why, in one line."""


def singular_of(name: str) -> str:
    """One of them: orders -> order, categories -> category, addresses -> address.

    English has exceptions (people, children): `make domain NAME=people SINGULAR=person`.
    """
    if name.endswith("ies"):
        return f"{name[:-3]}y"
    if name.endswith(("sses", "xes", "ches", "shes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith(("ss", "us", "is")):
        return name[:-1]
    return name


def check_identifier(what: str, value: str, example: str) -> None:
    """Refuse a value that cannot name a Python package, a table or a class."""
    if not IDENTIFIER.match(value):
        raise RefusedError(
            f"{what} '{value}' is not a lower-case identifier: use lower-case letters and digits, "
            f"starting with a letter, in words joined by single underscores (e.g. {example})"
        )
    if len(value) > MAX_LENGTH:
        raise RefusedError(
            f"{what} '{value}' is {len(value)} characters: at most {MAX_LENGTH}, "
            "so that the names of its table's constraints fit the database's limit"
        )
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        raise RefusedError(f"{what} '{value}' is a Python keyword: choose another, e.g. {example}")


def check_name(name: str, package: Path, tests: Path) -> None:
    """Refuse a name the domain cannot have in this service."""
    if not name:
        raise RefusedError("NAME is missing: make domain NAME=orders")
    check_identifier("NAME", name, "orders or purchase_orders")
    if name in dir(builtins):
        raise RefusedError(f"NAME '{name}' would shadow the Python builtin of the same name")
    if name in sys.stdlib_module_names:
        raise RefusedError(f"NAME '{name}' would shadow the standard library module '{name}'")
    if name in INFRASTRUCTURE:
        raise RefusedError(
            f"NAME '{name}' is taken by the service's infrastructure "
            f"({', '.join(INFRASTRUCTURE)})"
        )
    for taken in (package / name, package / f"{name}.py", tests / name):
        if taken.exists():
            raise RefusedError(f"NAME '{name}' is taken: {taken.as_posix()} exists")
    domains = package / "domains.py"
    if domains.is_file() and name in bound_names(domains):
        raise RefusedError(f"NAME '{name}' is taken: {domains.as_posix()} already defines it")


def bound_names(module: Path) -> set[str]:
    """The names a module's top level imports or assigns."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def revisions(versions: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Each revision in the versions directory, with the revisions it follows."""
    for script in sorted(versions.glob("*.py")):
        values = literals(script)
        revision, follows = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str):
            continue
        if isinstance(follows, str):
            yield revision, (follows,)
        elif isinstance(follows, tuple | list):
            yield revision, tuple(str(down) for down in follows)
        else:
            yield revision, ()


def literals(script: Path) -> dict[str, object]:
    """The literal values a script assigns to names at its top level."""
    values: dict[str, object] = {}
    target: ast.expr
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name):
            with suppress(ValueError):
                values[target.id] = ast.literal_eval(value)
    return values


def head(versions: Path) -> str:
    """The revision no other follows ("" before the first); refused when there are several."""
    found = dict(revisions(versions))
    followed = {down for downs in found.values() for down in downs}
    heads = sorted(set(found) - followed)
    if len(heads) > 1:
        raise RefusedError(
            f"the migrations have {len(heads)} heads ({', '.join(heads)}): merge them first, "
            'with `uv run alembic merge heads -m "merge heads"`'
        )
    return heads[0] if heads else ""


def answers(
    name: str, singular: str, package: str, versions: Path, revision: str = ""
) -> list[str]:
    """Copier's command-line answers for the domain."""
    data = {
        "name": name,
        "singular": singular,
        "package": package,
        # By default a random id, as Alembic draws one: never one the template's own use.
        "revision": revision or uuid.uuid4().hex[-12:],
        "down_revision": head(versions),
    }
    arguments = ["--answers-file", f".copier-answers.domain-{name}.yml"]
    for question, value in data.items():
        arguments += ["--data", f"{question}={value}"]
    return arguments


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """The options before `--`, and the Copier command after it."""
    split = list(argv).index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description="Check a domain's name, then run Copier.")
    parser.add_argument("--package", required=True, help="the service's package, under src/")
    parser.add_argument("--singular", default="", help="one of them, when not NAME less its s")
    parser.add_argument("--name", default="", help="the domain, plural and lower case")
    parser.add_argument("--revision", default="", help="its table's revision id (random)")
    return parser.parse_args(argv[:split]), list(argv[split + 1 :])


def main(argv: Sequence[str]) -> int:
    options, copier = parse(argv)
    name: str = options.name
    package = Path("src") / options.package
    try:
        check_name(name, package, Path("tests"))
        singular = options.singular or singular_of(name)
        check_identifier("SINGULAR", singular, "order or purchase_order")
        versions = package / "migrations" / "versions"
        arguments = answers(name, singular, options.package, versions, options.revision)
    except RefusedError as refused:
        sys.stderr.write(f"make domain: {refused}\n")
        return 1
    if not copier:
        sys.stderr.write("make domain: no Copier command after `--`\n")
        return 2
    command = [*copier, *arguments]
    sys.stderr.write(" ".join(command) + "\n")
    sys.stderr.flush()
    return subprocess.run(command, check=False).returncode  # noqa: S603 - the Makefile gives it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
