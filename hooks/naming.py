"""Jinja filters and tests that derive and check the names a service is built from."""

from __future__ import annotations

import keyword
import re
import sys
import unicodedata
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

_NON_SLUG = re.compile(r"[^a-z0-9]+")
# No quotes or backslashes either: the address is written inside TOML and YAML strings.
_EMAIL = re.compile(r'^[^@\s"\\]+@[^@\s"\\]+\.[^@\s"\\]+$')
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
# As long as the longest project_slug (53, Helm's limit): paths and imports that name the
# package fit the lines the template's boundary tests render.
MAX_PACKAGE_NAME = 53


def slugify(value: str) -> str:
    """Lower-case ASCII words joined by hyphens: "Orders Service" -> "orders-service"."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return _NON_SLUG.sub("-", ascii_text.lower()).strip("-")


def identifier(value: str) -> str:
    """The slug as a Python identifier: "orders-service" -> "orders_service"."""
    return slugify(value).replace("-", "_")


def package_name_problem(value: str) -> str:
    """Why a package name cannot be used, or "" when it can."""
    if not value.isidentifier() or not value.isascii():
        return f"'{value}' is not a Python identifier: use lower-case letters, digits and underscores, starting with a letter"
    if value != value.lower():
        return f"'{value}' must be lower case (PEP 8 package names)"
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return f"'{value}' is a Python keyword"
    if value in sys.stdlib_module_names:
        return f"'{value}' shadows the standard library module of the same name"
    if len(value) > MAX_PACKAGE_NAME:
        return f"'{value}' must be at most {MAX_PACKAGE_NAME} characters, not {len(value)}"
    return ""


def is_email(value: str) -> bool:
    """Whether the value looks like one e-mail address (name@domain.tld)."""
    return bool(_EMAIL.match(value))


def is_slug(value: str) -> bool:
    """Whether the value is a lower-case, hyphen-separated slug."""
    return bool(value) and slugify(value) == value


def is_semver(value: str) -> bool:
    """Whether the value is a MAJOR.MINOR.PATCH version."""
    return bool(_SEMVER.match(value))


class NamingExtension(Extension):
    """Register the naming filters and tests with Copier's Jinja environment."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        filters: dict[str, Any] = environment.filters
        filters["slugify"] = slugify
        filters["identifier"] = identifier
        filters["package_name_problem"] = package_name_problem
        tests: dict[str, Any] = environment.tests
        tests["email"] = is_email
        tests["slug"] = is_slug
        tests["semver"] = is_semver
