"""Unit tests of the Jinja filters and tests in hooks/naming.py."""

from __future__ import annotations

import jinja2
import pytest

from hooks import naming


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Orders Service", "orders-service"),
        ("orders-service", "orders-service"),
        ("  Orders   Service  ", "orders-service"),
        ("Orders_Service", "orders-service"),
        ("Café Orders", "cafe-orders"),
        ("Ünïcödé", "unicode"),
        ("API v2: Orders!", "api-v2-orders"),
        ("--orders--", "orders"),
        ("123 Service", "123-service"),
        ("★", ""),
        ("", ""),
    ],
)
def test_slugify(value: str, expected: str) -> None:
    assert naming.slugify(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("orders-service", "orders_service"),
        ("Orders Service", "orders_service"),
        ("Café Orders", "cafe_orders"),
        ("orders", "orders"),
    ],
)
def test_identifier(value: str, expected: str) -> None:
    assert naming.identifier(value) == expected


@pytest.mark.parametrize("value", ["orders_service", "orders", "service2", "_private"])
def test_package_name_problem_accepts(value: str) -> None:
    assert naming.package_name_problem(value) == ""


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1-not-valid", "'1-not-valid' is not a Python identifier"),
        ("orders-service", "'orders-service' is not a Python identifier"),
        ("", "'' is not a Python identifier"),
        ("café", "'café' is not a Python identifier"),
        ("Orders", "'Orders' must be lower case (PEP 8 package names)"),
        ("class", "'class' is a Python keyword"),
        ("match", "'match' is a Python keyword"),
        ("json", "'json' shadows the standard library module of the same name"),
        ("asyncio", "'asyncio' shadows the standard library module of the same name"),
    ],
)
def test_package_name_problem_explains(value: str, problem: str) -> None:
    assert naming.package_name_problem(value).startswith(problem)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("platform@example.com", True),
        ("first.last+tag@sub.example.org", True),
        ("not-an-email", False),
        ("name@localhost", False),
        ("two@at@example.com", False),
        ("space in@example.com", False),
        ("", False),
    ],
)
def test_is_email(value: str, expected: bool) -> None:
    assert naming.is_email(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("orders-service", True),
        ("orders", True),
        ("api-v2", True),
        ("Orders-Service", False),
        ("orders_service", False),
        ("orders--service", False),
        ("-orders", False),
        ("orders-", False),
        ("", False),
    ],
)
def test_is_slug(value: str, expected: bool) -> None:
    assert naming.is_slug(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.1.0", True),
        ("1.20.300", True),
        ("01.0.0", False),
        ("1.0", False),
        ("1.0.0-rc1", False),
        ("v1.0.0", False),
    ],
)
def test_is_semver(value: str, expected: bool) -> None:
    assert naming.is_semver(value) is expected


class TestNamingExtension:
    """The extension makes the helpers available to templates under their Jinja names."""

    @pytest.fixture
    def environment(self) -> jinja2.Environment:
        # Copier renders text, not HTML: no escaping, as in Copier itself.
        extensions = [naming.NamingExtension]
        return jinja2.Environment(extensions=extensions, autoescape=False)  # noqa: S701

    def test_filters(self, environment: jinja2.Environment) -> None:
        template = environment.from_string(
            "{{ name | slugify }} {{ name | identifier }} [{{ 'json' | package_name_problem }}]"
        )
        rendered = template.render(name="Orders Service")
        expected = "orders-service orders_service ['json' shadows the standard library"
        assert rendered.startswith(expected)

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("{{ 'a@b.io' is email }}", "True"),
            ("{{ 'a@b' is email }}", "False"),
            ("{{ 'orders-service' is slug }}", "True"),
            ("{{ 'Orders' is slug }}", "False"),
            ("{{ '1.2.3' is semver }}", "True"),
            ("{{ '1.2' is semver }}", "False"),
        ],
    )
    def test_tests(self, environment: jinja2.Environment, source: str, expected: str) -> None:
        assert environment.from_string(source).render() == expected
