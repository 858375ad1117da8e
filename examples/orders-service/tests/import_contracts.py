"""An import-linter contract for domains, which no static list can name: `make domain`
adds them. Run by `lint-imports` (pyproject.toml's `contract_types`).

A domain is a subpackage of the service with a `domain` module. Infrastructure imports no
domain, and a domain imports no other domain's modules (its package, the public face, at
most).
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output


class DomainsContract(Contract):
    type_name = "domains"

    infrastructure = fields.ListField(subfield=fields.ModuleField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        (root,) = self.session_options["root_packages"]
        domains = sorted(
            child for child in graph.find_children(root) if f"{child}.domain" in graph.modules
        )
        infrastructure = [module.name for module in self.infrastructure]  # type: ignore[attr-defined]
        broken: list[dict[str, Any]] = []
        for package in infrastructure + domains:
            for importer in sorted({package} | graph.find_descendants(package)):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    owner = owner_of(imported, domains)
                    if owner is None or owner == package:
                        continue
                    if package in domains and imported == owner:
                        continue  # another domain's package: its public face
                    for detail in graph.get_import_details(importer=importer, imported=imported):
                        broken.append(
                            {
                                "importer": importer,
                                "imported": imported,
                                "line": detail["line_number"],
                                "why": "infrastructure" if package in infrastructure else package,
                            }
                        )
        return ContractCheck(
            kept=not broken,
            warnings=None,
            metadata={"broken": broken, "domains": domains},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for entry in check.metadata["broken"]:
            whose = (
                "Infrastructure imports no domain"
                if entry["why"] == "infrastructure"
                else f"The {entry['why']} domain imports no other domain's modules"
            )
            output.print_error(
                f"{whose}: {entry['importer']} imports {entry['imported']} " f"(l.{entry['line']})."
            )
            output.new_line()


def owner_of(module: str, domains: list[str]) -> str | None:
    """The domain `module` belongs to, if any."""
    for domain in domains:
        if module == domain or module.startswith(f"{domain}."):
            return domain
    return None
