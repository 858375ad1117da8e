"""Unit tests of the Jinja filters, tests and globals in hooks/naming.py and hooks/answers.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest
from copier.errors import UserMessageError

from hooks import answers, naming


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


@pytest.mark.parametrize("value", ["orders_service", "orders", "service2", "_private", "o" * 53])
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
        ("o" * 54, f"'{'o' * 54}' must be at most 53 characters, not 54"),
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
        ('quote"d@example.com', False),
        ("back\\slash@example.com", False),
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


# A copier.yml with each kind of rule check_answers() reads: a validator, choices (labelled),
# a default derived from an earlier answer, a computed value, and check_answers() itself.
COPIER_YML = """\
_jinja_extensions: []
checked:
  type: bool
  default: "{{ check_answers() }}"
  when: false
name:
  type: str
  placeholder: Orders
  validator: "{% if name | length > 6 %}name must be at most 6 characters{% endif %}"
slug:
  type: str
  default: "{{ name | slugify }}"
  validator: "{% if slug is not slug %}slug '{{ slug }}' is not a slug{% endif %}"
colour:
  type: str
  choices:
    Red (the default): red
    Blue: blue
  default: red
computed:
  type: str
  default: "{{ name }}!"
  validator: "never checked"
  when: "{{ name == 'never' }}"
"""


class TestCheckAnswers:
    """check_answers() refuses, in one line, what copier.yml's own rules refuse."""

    @pytest.fixture
    def template(self, tmp_path: Path) -> Path:
        (tmp_path / "copier.yml").write_text(COPIER_YML)
        return tmp_path

    def check(
        self,
        template: Path,
        data: dict[str, Any],
        defaults: bool = True,
        recorded: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> str:
        """Render check_answers() as Copier renders the computed question's default."""
        extensions = [naming.NamingExtension, answers.AnswersExtension]
        environment = jinja2.Environment(extensions=extensions, autoescape=False)  # noqa: S701
        conf = {
            "src_path": template,
            "data": data,
            "defaults": defaults,
            "settings": SimpleNamespace(defaults=settings or {}),
        }
        context = {**(recorded or {}), **data, "_copier_conf": conf}
        return environment.from_string("{{ check_answers() }}").render(context)

    def test_accepts_right_answers(self, template: Path) -> None:
        assert self.check(template, {"name": "Orders", "colour": "blue"}) == "True"

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (
                {"name": "Orders Service"},
                "Validation error for question 'name': name must be at most 6 characters",
            ),
            (
                {"name": "Orders", "colour": "green"},
                "Validation error for question 'colour': colour 'green' is not supported: "
                "choose red or blue",
            ),
            (
                {"name": "Orders", "slug": "Orders"},
                "Validation error for question 'slug': slug 'Orders' is not a slug",
            ),
        ],
    )
    def test_refuses_given_answer(self, template: Path, data: dict[str, Any], message: str) -> None:
        with pytest.raises(UserMessageError) as refused:
            self.check(template, data)
        assert str(refused.value) == message

    def test_refuses_derived_default_naming_it(self, template: Path) -> None:
        with pytest.raises(UserMessageError) as refused:
            self.check(template, {"name": "★"})
        assert str(refused.value) == (
            "Validation error for question 'slug': slug '' is not a slug; "
            "it is the default: give slug explicitly"
        )

    def test_refuses_user_settings_default(self, template: Path) -> None:
        with pytest.raises(UserMessageError, match=r"^Validation error for question 'colour'"):
            self.check(template, {"name": "Orders"}, settings={"colour": "green"})

    def test_refuses_missing_answer_without_default(self, template: Path) -> None:
        with pytest.raises(UserMessageError) as refused:
            self.check(template, {})
        assert str(refused.value) == (
            "Question 'name' has no default: answer it, e.g. with --data name=\"Orders\""
        )

    def test_leaves_prompt_answers_to_the_prompt(self, template: Path) -> None:
        # Without --defaults, Copier asks: the validator checks what is typed, and asks again.
        assert self.check(template, {}, defaults=False) == "True"
        assert self.check(template, {"name": "★"}, defaults=False) == "True"

    def test_leaves_recorded_answers_to_copier(self, template: Path) -> None:
        # An update's answers file: Copier drops a wrong one itself and derives it anew.
        recorded = {"name": "Orders", "slug": "Not A Slug"}
        assert self.check(template, {}, recorded=recorded) == "True"

    def test_leaves_computed_values_unchecked(self, template: Path) -> None:
        # `computed` is asked only when name is "never": otherwise Copier does not check it.
        assert self.check(template, {"name": "Orders"}) == "True"
        with pytest.raises(UserMessageError, match=r"^Validation error for question 'computed'"):
            self.check(template, {"name": "never"})


@pytest.mark.parametrize(
    ("values", "expected"),
    [(["a"], "a"), (["a", "b"], "a or b"), (["a", "b", "c"], "a, b or c")],
)
def test_listed(values: list[str], expected: str) -> None:
    assert answers.listed(values) == expected


def test_template_checks_answers_first() -> None:
    """The computed question that calls check_answers() comes before every asked one."""
    questions = answers.questions(Path(__file__).resolve().parent.parent / "copier.yml")
    first, spec = next(iter(questions.items()))
    assert (first, spec["when"], spec["default"]) == (
        "answers_checked",
        False,
        "{{ check_answers() }}",
    )
