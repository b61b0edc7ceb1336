"""Only `bot` (and benchmarks) build adapters: nothing in `core` outside `core/adapters`, and
nothing in `handlers`, imports an adapter. import-linter's forbidden contracts do not look at
imports from a package into its own sub-package, so this one is checked here, over every
module, new ones included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    p
    for package in ("core", "handlers")
    for p in (ROOT / package).rglob("*.py")
    if "adapters" not in p.relative_to(ROOT).parts
)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_check_sees_the_modules():
    assert len(MODULES) > 20


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_adapter_is_imported_outside_the_composition_root(path):
    offending = sorted(n for n in imported(path) if n.startswith("core.adapters"))
    assert offending == [], f"{path.relative_to(ROOT)} imports {offending}"
