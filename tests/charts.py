"""Render a generated project's Helm chart with Helm's own engine, and read what it made."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import yaml
from kubernetes_validate.utils import (  # type: ignore[import-untyped]
    SchemaNotFoundError,
    ValidationError,
    all_versions,
    validate,
)
from packaging.specifiers import SpecifierSet
from packaging.version import Version

RELEASE = "orders-service"
NAMESPACE = "orders"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    """The objects one `helm template` of a chart produced, and its NOTES.txt."""

    manifests: list[Manifest]
    notes: str

    def kinds(self) -> list[str]:
        """The kinds of the objects, sorted, with repeats."""
        return sorted(manifest["kind"] for manifest in self.manifests)

    def all(self, kind: str) -> list[Manifest]:
        """Every object of a kind."""
        return [manifest for manifest in self.manifests if manifest["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> Manifest:
        """The single object of a kind (and name): fails when there is none or several."""
        found = [m for m in self.all(kind) if name is None or m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def workload(self) -> Manifest:
        """The Deployment, or the Rollout that replaces it."""
        found = self.all("Deployment") + self.all("Rollout")
        assert len(found) == 1, f"expected one Deployment or Rollout, found {len(found)}"
        return found[0]

    def pod_specs(self) -> Iterator[tuple[str, Manifest]]:
        """`Kind/name` and pod spec of every object that runs pods."""
        for manifest in self.manifests:
            name = f"{manifest['kind']}/{manifest['metadata']['name']}"
            if manifest["kind"] == "Pod":
                yield name, manifest["spec"]
            elif manifest["kind"] in {"Deployment", "Rollout"}:
                yield name, manifest["spec"]["template"]["spec"]


def chart_dir(project: Path) -> Path:
    """The chart of a rendered project (the only one under charts/)."""
    charts = sorted(path.parent for path in project.glob("charts/*/Chart.yaml"))
    assert len(charts) == 1, f"expected one chart under {project}/charts, found {charts}"
    return charts[0]


def render_chart(chart: Path, values: Mapping[str, Any]) -> Rendered:
    """`helm template` of chart with values (schema-checked), split into objects."""
    with helm_python.Chart.load(chart) as loaded:
        files = loaded.render(dict(values), name=RELEASE, namespace=NAMESPACE)
    manifests: list[Manifest] = []
    notes = ""
    for name, text in sorted(files.items()):
        if name.endswith("NOTES.txt"):
            notes = text
            continue
        manifests += [doc for doc in yaml.safe_load_all(text) if doc]
    return Rendered(manifests, notes)


def ci_values(chart: Path) -> dict[str, Any]:
    """The values the project's CI lints and renders chart with (chart-testing's ci/*-values.yaml):
    what the chart requires beyond its defaults; none when it needs nothing more."""
    files = sorted(chart.glob("ci/*-values.yaml"))
    assert len(files) <= 1, f"CI renders {chart} with one values file, not {files}"
    loaded: dict[str, Any] = yaml.safe_load(files[0].read_text()) if files else {}
    return loaded


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """base with override merged in, mappings key by key, as Helm merges values."""
    result = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def claimed_kube_versions(chart: Path) -> list[str]:
    """The Kubernetes versions kubernetes-validate has schemas for that Chart.yaml's kubeVersion admits."""
    constraint = yaml.safe_load((chart / "Chart.yaml").read_text())["kubeVersion"]
    # Helm's "-0" suffix admits pre-releases; packaging spells the bound without it.
    specifier = SpecifierSet(
        ",".join(re.sub(r"-0$", "", part.replace(" ", "")) for part in constraint.split(","))
    )
    shipped: list[str] = sorted(set(all_versions()), key=Version)
    return [version for version in shipped if Version(version) in specifier]


def kubernetes_errors(manifest: Manifest, version: str) -> list[str]:
    """What `kubernetes-validate --strict` says is wrong with manifest for a Kubernetes version."""
    try:
        validate(manifest, version, strict=True)
    except ValidationError as error:
        return [f"{manifest['kind']}/{manifest['metadata']['name']} on {version}: {error.message}"]
    except SchemaNotFoundError as error:
        return [f"{manifest['kind']}/{manifest['metadata']['name']}: {error.message}"]
    return []


def as_deployment(rollout: Manifest) -> Manifest:
    """A Deployment with a Rollout's pod template, to validate that template by the core schema."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": rollout["metadata"],
        "spec": {"selector": rollout["spec"]["selector"], "template": rollout["spec"]["template"]},
    }


def value_paths(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of values.yaml's leaves: scalars, lists and empty mappings."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from value_paths(value, f"{path}.")
        else:
            yield path


def documented_params(values_text: str) -> set[str]:
    """The paths values.yaml documents with bitnami's `## @param <path> <text>` comments."""
    return set(re.findall(r"^\s*## @param (\S+) ", values_text, flags=re.MULTILINE))
