"""The domains contract catches what `lint-imports` is there for."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

from tests.import_contracts import DomainsContract

MODULES = {
    "core/__init__.py": "",
    "core/db.py": "",
    "cache/__init__.py": "",
    "cache/bloom.py": "from ..orders import service\n",
    "items/__init__.py": "",
    "items/domain.py": "",
    "items/service.py": "from ..core import db\nfrom .. import orders\n",
    "orders/__init__.py": "",
    "orders/domain.py": "",
    "orders/service.py": "from ..items.service import db\n",
    "helpers.py": "from .items import service\n",
}


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[grimp.ImportGraph]:
    for name, text in MODULES.items():
        path = tmp_path / "shop" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "shop" / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        yield grimp.build_graph("shop", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))


def test_infrastructure_and_cross_domain_imports_break_it(graph: grimp.ImportGraph) -> None:
    contract = DomainsContract(
        "domains",
        session_options={"root_packages": ["shop"]},
        contract_options={"infrastructure": ["shop.core", "shop.cache"]},
    )

    check = contract.check(graph, verbose=False)

    assert not check.kept
    assert check.metadata["domains"] == ["shop.items", "shop.orders"]
    broken = {(entry["importer"], entry["imported"]) for entry in check.metadata["broken"]}
    # Another domain's package is its public face; helpers.py is neither infrastructure
    # nor a domain.
    assert broken == {
        ("shop.cache.bloom", "shop.orders.service"),
        ("shop.orders.service", "shop.items.service"),
    }
