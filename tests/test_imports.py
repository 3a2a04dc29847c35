"""The package's imports flow one way: interfaces -> services -> stores, with no circles.

Every import counts, also those inside functions (they run too, only later); imports
under ``if TYPE_CHECKING:`` do not. ``platform.py`` wires services together and is the
one module that may reach every layer; only interfaces may import it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).parents[1] / "src"

# Below everything: what any module may use.
NEUTRAL = {"slipway.errors", "slipway.settings", "slipway.names", "slipway.archives",
           "slipway.sigv4", "slipway._lazy", "slipway._http", "slipway.wire"}  # fmt: skip
WIRING = "slipway.platform"
# Modules whose last name says they face users or the network (remote clients are the
# SDK's HTTP half).
_INTERFACE_MODULES = {"api", "cli", "sdk", "client", "tracker", "estimator", "tuner",
                      "analytics", "_render"}  # fmt: skip
_INTERFACE_PACKAGES = {"server", "studio", "operator", "sql", "sagemaker", "s3"}
# Pure formats that entities validate with (they import nothing of slipway but errors).
_ENTITY_HELPERS = {"slipway.monitor.formats", "slipway.monitor.schedule"}
# The data plane (invocations, V2) and the inference container contract's own server
# (`slipway endpoints serve`).
_INTERFACE_OTHER = {"slipway.serving.gateway", "slipway.serving.dataplane", "slipway.serving.v2",
                    "slipway.serving._v2_request", "slipway.serving.container"}  # fmt: skip
_INTERFACE_TOP = {"slipway", "slipway.cli", "slipway._cli_output", "slipway.demo",
                  "slipway.__main__", "slipway._sdk"}  # fmt: skip
LAYERS = {"store": 0, "service": 1, "interface": 2}


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SOURCE / "slipway").rglob("*.py"):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    if (
        module in _INTERFACE_TOP | _INTERFACE_OTHER
        or parts[1] in _INTERFACE_PACKAGES
        or parts[-1] in _INTERFACE_MODULES
    ):
        return "interface"
    # Entities (pydantic models) sit with the stores: repositories return them.
    if (
        parts[1] == "store"
        or parts[-1] in ("tables", "repository", "models")
        or module in _ENTITY_HELPERS
    ):
        return "store"
    return "service"


def _imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        # A module's own packages are being imported already when it runs: not an edge.
        graph[module] = {
            target
            for target in _imports(path)
            if target in modules and target != module and not module.startswith(f"{target}.")
        }
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return _graph()


def test_no_module_imports_itself_through_a_circle(graph: dict[str, set[str]]) -> None:
    assert _cycles(graph) == []


def test_imports_flow_from_interfaces_to_services_to_stores(
    graph: dict[str, set[str]],
) -> None:
    upward = []
    for module, targets in sorted(graph.items()):
        if module == WIRING or module in NEUTRAL:
            continue
        for target in sorted(targets):
            if target in NEUTRAL:
                continue
            if target == WIRING:
                allowed = _layer(module) == "interface"
            else:
                allowed = LAYERS[_layer(target)] <= LAYERS[_layer(module)]
            if not allowed:
                upward.append(f"{module} ({_layer(module)}) -> {target}")
    assert upward == []


def test_neutral_modules_import_only_each_other(graph: dict[str, set[str]]) -> None:
    reaching = [f"{m} -> {t}" for m in NEUTRAL for t in graph[m] if t not in NEUTRAL]
    assert reaching == []


def test_the_walk_sees_imports_inside_functions() -> None:
    """A circle closed by an import inside a function is found, as at run time."""
    graph = {"a": {"b"}, "b": {"a"}}
    assert _cycles(graph) == [["a", "b"]]
    assert "slipway.tuning.loop" in _graph()["slipway.tuning.service"]
