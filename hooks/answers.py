"""Refuse a wrong answer in one line, before Copier parses it.

Copier checks each answer at its own turn, and an answer given with `--data`, or a default
derived with `--defaults`, that breaks a rule stops it with a ValueError traceback. The
computed first question of copier.yml calls `check_answers()`, which applies copier.yml's
own rules (each question's `choices` and `validator`) to every answer Copier is about to
take without asking, and raises UserMessageError at the first wrong one: Copier prints its
message as one line and exits 1, before writing anything. Answers typed at the prompt are
left to the `validator`, which shows the same message and asks again. (A default derived
from answers typed at the prompt is checked by Copier as it offers it, with a traceback when
wrong: only a hook in each question could run between the answer and that check.)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from copier.errors import UserMessageError
from jinja2 import Environment, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context

Question = Mapping[str, Any]

# Rendered `when` conditions Copier reads as false (YAML's false and null spellings).
FALSE = frozenset({"", "0", "false", "f", "no", "n", "off", "none", "null", "~"})


def questions(copier_yml: Path) -> dict[str, Question]:
    """copier.yml's questions in order: every key that is not configuration (`_*`)."""
    config: dict[str, Any] = yaml.safe_load(copier_yml.read_text(encoding="utf-8"))
    return {
        name: spec
        for name, spec in config.items()
        if not name.startswith("_") and isinstance(spec, Mapping)
    }


def listed(values: list[str]) -> str:
    """Values as prose: "a", "a or b", "a, b or c"."""
    return " or ".join(filter(None, [", ".join(values[:-1]), values[-1]]))


def choice_values(choices: list[Any] | Mapping[str, Any]) -> list[str]:
    """The values a choice question accepts (copier.yml may label them: the values count)."""
    values = choices.values() if isinstance(choices, Mapping) else choices
    return [str(value) for value in values]


def render(environment: Environment, source: str, answers: Mapping[str, Any]) -> str:
    """source rendered with answers, as Copier renders copier.yml's templated values."""
    return environment.from_string(source).render(answers)


def problem(
    environment: Environment, name: str, spec: Question, value: Any, answers: Mapping[str, Any]
) -> str:
    """Why value is a wrong answer to the question, by copier.yml's rules, or ""."""
    if (choices := spec.get("choices")) is not None:
        values = choice_values(choices)
        if str(value) not in values:
            return f"{name} '{value}' is not supported: choose {listed(values)}"
    if validator := spec.get("validator"):
        try:
            return render(environment, validator, {**answers, name: value}).strip()
        except Exception as error:  # as Copier does: a validator that fails refuses with its error
            return str(error)
    return ""


def asked(environment: Environment, spec: Question, answers: Mapping[str, Any]) -> bool:
    """Whether the question is asked (`when`): Copier leaves computed values unchecked."""
    when = spec.get("when", True)
    if isinstance(when, str):
        return render(environment, when, answers).strip().lower() not in FALSE
    return bool(when)


def refusal(name: str, message: str, derived: bool) -> UserMessageError:
    """The one-line refusal of an answer, worded as Copier words a validator's."""
    if derived:
        message += f"; it is the default: give {name} explicitly"
    return UserMessageError(f"Validation error for question '{name}': {message}")


def default_answer(
    environment: Environment,
    conf: Mapping[str, Any],
    name: str,
    spec: Question,
    answers: Mapping[str, Any],
) -> Any:
    """The default --defaults takes: the user's (Copier settings) or copier.yml's, rendered."""
    default = conf["settings"].defaults.get(name, spec.get("default"))
    if default is None:
        example = f'"{spec["placeholder"]}"' if spec.get("placeholder") else "..."
        raise UserMessageError(
            f"Question '{name}' has no default: answer it, e.g. with --data {name}={example}"
        )
    return render(environment, default, answers) if isinstance(default, str) else default


@pass_context
def check_answers(context: Context) -> bool:
    """Refuse the first answer given with --data, or derived by --defaults, that is wrong.

    Answers asked at the prompt meet their validator there; answers recorded by an earlier
    copy (an update's) are Copier's to check: it drops a wrong one and asks or derives anew.
    """
    environment = context.environment
    conf = context["_copier_conf"]
    given: Mapping[str, Any] = conf["data"]
    answers = dict(context.get_all())
    for name, spec in questions(Path(conf["src_path"]) / "copier.yml").items():
        if name in given:
            value = given[name]
        elif conf["defaults"] and name not in answers and asked(environment, spec, answers):
            value = default_answer(environment, conf, name, spec, answers)
        else:
            continue
        if spec.get("type") == "str":
            value = str(value)
        answers[name] = value
        if message := problem(environment, name, spec, value, answers):
            raise refusal(name, message, derived=name not in given)
    return True


class AnswersExtension(Extension):
    """Register `check_answers()` with Copier's Jinja environment."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["check_answers"] = check_answers
