"""The architecture's rules, checked on the source: import direction, a pure domain, thin app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "chalicelib"
# domain <- usecases <- adapters <- bootstrap <- app.py: a layer may import those left of it.
LAYERS = ["domain", "usecases", "adapters", "bootstrap"]
# Modules any layer may use: the error tree (pure).
SHARED = {"chalicelib.errors"}
# The two top-level modules outside the layers, and the layers that may import each: settings are
# read by the composition root only (it hands explicit values down); the one Logger/Metrics is
# for use cases, adapters and the root, never the pure domain.
INFRASTRUCTURE = {
    "chalicelib.settings": {"bootstrap"},
    "chalicelib.observability": {"usecases", "adapters", "bootstrap"},
}
TOP_LEVEL = {"__init__", "errors", "settings", "observability", "bootstrap"}
IO_MODULES = {
    "boto3", "botocore", "openai", "httpx", "httpx2", "chalice", "aws_lambda_powertools", "os", "requests",
    "socket", "urllib", "time", "datetime", "random", "uuid", "subprocess", "pathlib", "mcp", "moto",
}  # fmt: skip


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "chalicelib" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def modules_in(layer: str) -> list[Path]:
    target = LIB / layer
    return sorted(target.rglob("*.py")) if target.is_dir() else [LIB / f"{layer}.py"]


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_flow_one_way(layer: str) -> None:
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in modules_in(layer)
        for module in imported_modules(path)
        if (target := layer_of(module)) is not None and target not in allowed
    ]
    assert wrong == []


def test_domain_imports_no_io_environment_or_clock() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in modules_in("domain")
        for module in imported_modules(path)
        if module.split(".")[0] in IO_MODULES
        or (module.startswith("chalicelib.") and layer_of(module) != "domain" and module not in SHARED)
    ]
    assert wrong == []


def test_usecases_reach_outside_systems_only_through_ports() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in modules_in("usecases")
        for module in imported_modules(path)
        if module.split(".")[0]
        in {"boto3", "botocore", "openai", "httpx", "httpx2", "chalice", "mcp", "moto", "aws_lambda_powertools"}
    ]
    assert wrong == []


def test_every_module_is_in_a_layer_or_is_named_infrastructure() -> None:
    loose = [
        str(path.relative_to(ROOT))
        for path in sorted(LIB.glob("*.py"))
        if path.stem not in TOP_LEVEL and path.stem not in LAYERS
    ]
    assert loose == []
    assert all((LIB / f"{name.split('.')[1]}.py").exists() for name in INFRASTRUCTURE)


@pytest.mark.parametrize("module", sorted(INFRASTRUCTURE))
def test_settings_and_observability_are_imported_only_by_their_layers(module: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for layer in LAYERS
        if layer not in INFRASTRUCTURE[module]
        for path in modules_in(layer)
        if module in imported_modules(path)
    ]
    assert wrong == []


def test_only_settings_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for path in sorted(LIB.rglob("*.py"))
        if "os.environ" in path.read_text() or "getenv" in path.read_text()
    ]
    assert readers == []  # settings.py reads it through pydantic-settings


def test_app_is_thin_and_imports_no_sdk() -> None:
    source = (ROOT / "app.py").read_text()
    assert len(source.splitlines()) <= 250
    assert not {m.split(".")[0] for m in imported_modules(ROOT / "app.py")} & {"boto3", "botocore", "openai", "httpx"}
