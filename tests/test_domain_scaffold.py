"""`make domain NAME=orders` in a generated service adds a domain that passes every gate.

Every service ships a Copier template of its own, scaffolds/domain/ (its delimiters `{[ ]}`
and `[% %]` keep the service template's render from touching it). The service's Makefile
runs it: tasks/add.py refuses a name that cannot be a new domain before anything is written,
then Copier writes the package, its table's Alembic revision, its tests and its line in
domains.py (tasks/register.py). Each answer set is rendered and installed once, and then:
`make domain NAME=orders`, `make openapi check`, and the new paths in openapi.json. Bad names
go through `make` against the default render, and each must leave `git status` as it was.

The scripts' own rules (names, singulars, Alembic heads, domains.py's shape) are tested
in process, without a render.
"""

from __future__ import annotations

import importlib.util
import json
import keyword
import re
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.rendering import (
    REPO_ROOT,
    CommandFailedError,
    commit_all,
    long_lines,
    porcelain,
    render,
    run,
)

SCAFFOLD = REPO_ROOT / "template" / "scaffolds" / "domain"
TEMPLATE_PACKAGE = REPO_ROOT / "template" / "src" / "{{package_name}}"

DEFAULT = {"project_name": "Orders Service"}
# Every option at its heaviest and the longest names are gated with a domain added by
# tests/test_generation.py (its FULL_OPTIONS case).
ANSWER_SETS = {"default": DEFAULT}
PACKAGES = {"default": "orders_service"}

ORDERS = "/api/v1/orders"
ORDER = "/api/v1/orders/{order_id}"


def load(script: str) -> ModuleType:
    """One of the scaffold's task scripts, imported from its file."""
    path = SCAFFOLD / "tasks" / f"{script}.py"
    spec = importlib.util.spec_from_file_location(f"domain_scaffold_{script}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


add = load("add")
register = load("register")


# The scripts' rules, in process ----------------------------------------------------------


REFUSED = {
    "": "NAME is missing: make domain NAME=orders",
    "Orders!": "NAME 'Orders!' is not a lower-case identifier",
    "2orders": "NAME '2orders' is not a lower-case identifier",
    "my-orders": "NAME 'my-orders' is not a lower-case identifier",
    "orders_": "NAME 'orders_' is not a lower-case identifier",
    "class": "NAME 'class' is a Python keyword",
    "match": "NAME 'match' is a Python keyword",
    "list": "NAME 'list' would shadow the Python builtin",
    "email": "NAME 'email' would shadow the standard library module",
    "items": "NAME 'items' is taken: ",
    "annotations": "NAME 'annotations' is taken: ",
    "x" * 41: "is 41 characters: at most 40",
    **{
        name: f"NAME '{name}' is taken by the service's infrastructure"
        for name in (
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
    },
}


@pytest.mark.parametrize(
    ("name", "message"),
    [pytest.param(name, message, id=name[:12] or "missing") for name, message in REFUSED.items()],
)
def test_names_that_cannot_be_a_new_domain_are_refused(name: str, message: str) -> None:
    """Against the service template's own package: items/ and domains.py are there."""
    with pytest.raises(add.RefusedError) as refused:
        add.check_name(name, TEMPLATE_PACKAGE, REPO_ROOT / "template" / "tests")

    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("name", ["orders", "purchase_orders", "v2_orders", "x" * 40])
def test_names_of_new_domains_are_accepted(name: str) -> None:
    add.check_name(name, TEMPLATE_PACKAGE, REPO_ROOT / "template" / "tests")


@pytest.mark.parametrize(
    ("name", "singular"),
    [
        ("orders", "order"),
        ("purchase_orders", "purchase_order"),
        ("categories", "category"),
        ("addresses", "address"),
        ("boxes", "box"),
        ("batches", "batch"),
        ("invoices", "invoice"),
        ("inventory", "inventory"),
        ("status", "status"),
        ("analysis", "analysis"),
    ],
)
def test_singulars(name: str, singular: str) -> None:
    assert add.singular_of(name) == singular


def test_a_keyword_singular_is_refused() -> None:
    assert keyword.iskeyword(add.singular_of("classes"))
    with pytest.raises(add.RefusedError, match="SINGULAR 'class' is a Python keyword"):
        add.check_identifier("SINGULAR", add.singular_of("classes"), "order")


def revision(versions: Path, name: str, down: str | tuple[str, ...] | None) -> None:
    (versions / f"{name}_step.py").write_text(
        f'"""A step."""\n\nrevision: str = {name!r}\ndown_revision = {down!r}\n'
    )


def test_the_new_revision_follows_the_single_head(tmp_path: Path) -> None:
    assert add.head(tmp_path) == "", "no revision yet: the domain's is the first"
    revision(tmp_path, "0001", None)
    revision(tmp_path, "0002", "0001")
    revision(tmp_path, "a1b2", "0002")
    revision(tmp_path, "c3d4", "0002")
    with pytest.raises(add.RefusedError, match=r"2 heads \(a1b2, c3d4\): merge them first"):
        add.head(tmp_path)

    revision(tmp_path, "e5f6", ("a1b2", "c3d4"))  # what `alembic merge heads` writes

    assert add.head(tmp_path) == "e5f6"


def test_the_template_package_has_one_head() -> None:
    versions = TEMPLATE_PACKAGE / "migrations" / "versions"
    assert add.head(versions) in {name for name, _ in add.revisions(versions)}


DOMAINS_PY = (TEMPLATE_PACKAGE / "domains.py").read_text()


def test_registration_adds_the_import_and_the_entry(tmp_path: Path) -> None:
    domains = tmp_path / "domains.py"
    domains.write_text(DOMAINS_PY)

    for name in ("orders", "accounts", "orders"):  # the second `orders` changes nothing
        assert register.main([str(domains), name]) == 0

    text = domains.read_text()
    assert text.count("from .orders.domain import orders\n") == 1
    assert "DOMAINS: list[Domain] = [\n    items,\n    orders,\n    accounts,\n]\n" in text
    imports = [line for line in text.splitlines() if line.startswith("from .")]
    assert imports == sorted(imports), "where isort puts them: `make fmt` changes nothing"


@pytest.mark.parametrize(
    "edited",
    [
        DOMAINS_PY.replace("DOMAINS: list[Domain] = [\n    items,\n]", "DOMAINS = [items]"),
        DOMAINS_PY.replace("DOMAINS: list[Domain] = [\n    items,\n]", "DOMAINS = list(DOMAINS)"),
        "DOMAINS: list[Domain] = [\n]\n",
    ],
    ids=["one-line-list", "no-list", "no-imports"],
)
def test_a_domains_py_of_another_shape_names_the_lines_to_add(
    edited: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    domains = tmp_path / "domains.py"
    domains.write_text(edited)

    assert register.main([str(domains), "orders"]) == 1

    assert domains.read_text() == edited
    message = capsys.readouterr().err
    assert "no longer has the shape `make domain` edits" in message
    assert "\n    from .orders.domain import orders\n" in message
    assert "\n    orders,\n" in message


# In a generated service -------------------------------------------------------------------


class Services:
    """Each answer set rendered (and installed) once per module, on first use."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self._tmp = tmp
        self._rendered: dict[str, Path] = {}
        self._installed: set[str] = set()

    def rendered(self, key: str) -> Path:
        if key not in self._rendered:
            project = render(ANSWER_SETS[key], self._tmp.mktemp(key) / "service")
            commit_all(project, "Render from the template")
            self._rendered[key] = project
        return self._rendered[key]

    def installed(self, key: str) -> Path:
        project = self.rendered(key)
        if key not in self._installed:
            run(["make", "install"], project)
            assert porcelain(project) == "", "`make install` changed the fresh render"
            self._installed.add(key)
        return project


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Services:
    return Services(tmp_path_factory)


def scaffold_files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


# A scaffold file or name the service's own answers shape: `auth` decides whether a domain's
# routes need scopes, so the service's Copier renders these (its delimiters, not the scaffold's).
SERVICE_CONDITION = re.compile(r"\{% if auth == 'oidc' %\}(.*?)\{% endif %\}")


@pytest.mark.xdist_group("domain-default")
def test_every_service_ships_the_scaffold_as_it_is(services: Services) -> None:
    """Its own copier.yml included, which Copier's default exclusions would drop; the files
    the service's answers shape rendered for them (the default answers `auth=oidc`)."""
    project = services.rendered("default")
    shipped = scaffold_files(project / "scaffolds" / "domain")

    expected: dict[str, bytes | None] = {}
    for relative, source in scaffold_files(SCAFFOLD).items():
        name = SERVICE_CONDITION.sub(r"\1", relative)
        expected[name.removesuffix(".jinja")] = None if name.endswith(".jinja") else source
    assert shipped.keys() == expected.keys()
    for name, verbatim in expected.items():
        if verbatim is None:
            assert b"{%" not in shipped[name], f"{name}: the service's Jinja is left in it"
        else:
            assert shipped[name] == verbatim, f"{name} differs from the scaffold's"
    config = yaml.safe_load((SCAFFOLD / "copier.yml").read_text())
    assert config["_templates_suffix"] != ".jinja"
    assert config["_envops"]["variable_start_string"] != "{{"


@pytest.mark.slow
@pytest.mark.xdist_group("domain-default")
@pytest.mark.parametrize(
    "name",
    ["", "Orders!", "2orders", "my-orders", "class", "items", "core", "vault", "openapi"],
    ids=lambda name: name or "missing",
)
def test_make_domain_refuses_a_bad_name_before_writing_anything(
    services: Services, name: str
) -> None:
    project = services.installed("default")
    before = porcelain(project)

    with pytest.raises(CommandFailedError) as refused:
        run(["make", "domain", f"NAME={name}"], project)

    output = str(refused.value).split("\n", 1)[1]
    lines = [line for line in output.splitlines() if line.startswith("make domain: ")]
    assert len(lines) == 1, output
    assert "Error 1" in output
    assert porcelain(project) == before, "a refused name wrote something"


MODULES = (
    "__init__",
    "dependencies",
    "domain",
    "exceptions",
    "models",
    "repository",
    "router",
    "schemas",
    "service",
)
TEST_MODULES = (
    "__init__",
    "factories",
    "test_cached_reads",
    "test_migration",
    "test_router",
    "test_scopes",  # the default services check access tokens (auth=oidc)
    "test_service",
)


def operations(document: dict[str, Any], path: str) -> set[str]:
    return set(document["paths"].get(path, {}))


@pytest.mark.slow
@pytest.mark.xdist_group("domain-default")
def test_make_domain_adds_a_domain_that_passes_every_gate(
    services: Services, record_property: Callable[[str, object], None]
) -> None:
    key = "default"
    project = services.installed(key)
    package = PACKAGES[key]
    started = time.monotonic()
    head = run(["uv", "run", "--no-sync", "alembic", "heads"], project).split()[0]

    run(["make", "domain", "NAME=orders"], project)

    added = added_files(project)
    domain = {f"src/{package}/orders/{module}.py" for module in MODULES}
    tests = {f"tests/orders/{module}.py" for module in TEST_MODULES}
    revisions = [path for path in added if "/migrations/versions/" in path]
    assert domain | tests <= set(added), sorted(domain | tests - set(added))
    assert len(revisions) == 1, added
    assert set(added) == domain | tests | set(revisions) | {".copier-answers.domain-orders.yml"}
    assert modified_files(project) == [f"src/{package}/domains.py"]
    new_head = run(["uv", "run", "--no-sync", "alembic", "heads"], project).split()[0]
    assert f'down_revision: str | None = "{head}"' in (project / revisions[0]).read_text()
    assert revisions[0].endswith(f"/{new_head}_create_orders.py")
    assert not long_lines(project, [*added, *modified_files(project)])

    run(["make", "openapi", "check"], project)

    document = json.loads((project / "openapi.json").read_text())
    assert operations(document, ORDERS) == {"get", "post"}
    assert operations(document, ORDER) == {"get", "patch", "delete"}
    assert {"name": "orders", "description": "Orders: create, read, list, update, delete."} in (
        document["tags"]
    )
    commit_all(project, "Add the orders domain")
    run(["make", "fmt"], project)
    assert porcelain(project) == "", "`make fmt` changed the domain `make domain` wrote"
    seconds = round(time.monotonic() - started)
    record_property(f"measure: make domain, then make openapi check, {key}, seconds", seconds)


def added_files(project: Path) -> list[str]:
    return sorted(
        line[3:]
        for line in run(
            ["git", "status", "--porcelain", "--untracked-files=all"], project
        ).splitlines()
        if line.startswith("?? ")
    )


def modified_files(project: Path) -> list[str]:
    return sorted(
        line[3:]
        for line in run(["git", "status", "--porcelain"], project).splitlines()
        if line.startswith(" M ")
    )
