"""What the deployed code imports is what requirements.txt pins (chalice package installs only
that into the Lambda zip): a module reached only through another package's dependencies could
change or vanish under us."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# chalice: `chalice package` adds its own runtime to the zip; it is pinned in requirements-dev.txt.
PACKAGED_BY_CHALICE = {"chalice"}


def third_party_imports() -> set[str]:
    found: set[str] = set()
    for path in [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in {"chalicelib", "__future__"}}


def pinned() -> set[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    names = (re.match(r"^([A-Za-z0-9_.\[\]-]+)==", line.strip()) for line in lines)
    return {re.sub(r"[-_.]+", "-", m.group(1).split("[")[0]).lower() for m in names if m}


def test_every_module_the_deployed_code_imports_is_pinned_in_requirements() -> None:
    distributions = packages_distributions()
    unpinned = {
        module: distributions.get(module)
        for module in sorted(third_party_imports() - PACKAGED_BY_CHALICE)
        if not {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(module, [module])} & pinned()
    }
    assert unpinned == {}
