"""The layers of the code base, stated as rules over its imports, and no import circles.

Read from the source (every ``import`` statement, module level or inside a function, under
``TYPE_CHECKING`` or not), so a rule cannot be dodged by importing late:

- the pure logic at the root of ``transforms`` imports neither I/O (``transforms.io``),
  presentation (``transforms.report``), the sample generator (``transforms.sample``),
  ``models``, ``flows`` nor Prefect;
- ``transforms.io`` imports no presentation, generator, models, flows or Prefect;
- ``transforms.report`` and ``transforms.sample`` import no models, flows or Prefect (and not
  each other);
- ``models`` imports no flows, presentation or Prefect;
- among all project modules, no module imports itself through others (no circle).

README "Layout" shows how to draw the same graph by hand.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "transforms", "models")


def module_name(path: Path) -> str:
    """transforms/io/warehouse.py -> transforms.io.warehouse; a package's __init__: the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Every module of the three packages, by dotted name."""
    return {
        module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }


def imported_names(path: Path, name: str) -> Iterator[str]:
    """Every module name an import statement of the file names (relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def project_imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a 'from package import module' counts)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {t for t in imported_names(path, name) if t in modules and t != name}
        graph[name] = targets
    return graph


def all_imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> every top-level or dotted name it imports (third-party included)."""
    return {name: set(imported_names(path, name)) for name, path in modules.items()}


def layer(name: str) -> str:
    """The layer a module belongs to."""
    if name.startswith(("transforms.io", "transforms.report", "transforms.sample")):
        return ".".join(name.split(".")[:2])
    if name.startswith("transforms"):
        return "transforms"
    return name.split(".")[0]


FORBIDDEN = {
    "transforms": ("transforms.io", "transforms.report", "transforms.sample", "models", "flows"),
    "transforms.io": ("transforms.report", "transforms.sample", "models", "flows"),
    "transforms.report": ("transforms.sample", "models", "flows"),
    "transforms.sample": ("transforms.report", "models", "flows"),
    "models": ("transforms.report", "transforms.sample", "flows"),
}
NO_PREFECT = ("transforms", "transforms.io", "transforms.report", "transforms.sample", "models")


def violations(imports: dict[str, set[str]]) -> list[str]:
    """'module imports target' for every import that breaks a layer rule."""
    found = []
    for name, targets in sorted(imports.items()):
        own = layer(name)
        for target in sorted(targets):
            banned = FORBIDDEN.get(own, ())
            if any(target == b or target.startswith(f"{b}.") for b in banned):
                found.append(f"{name} ({own}) imports {target}")
            if own in NO_PREFECT and target.split(".")[0] in {"prefect", "prefect_dask"}:
                found.append(f"{name} ({own}) imports {target}")
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_layer_keeps_its_imports() -> None:
    assert violations(all_imports(project_modules())) == []


def test_no_import_circle() -> None:
    assert circles(project_imports(project_modules())) == []


@pytest.mark.parametrize(
    ("imports", "expected"),
    [
        ({"transforms.matching": {"transforms.io.warehouse"}}, 1),
        ({"transforms.fiscal": {"prefect"}}, 1),
        ({"models.pmt": {"flows.pmt"}}, 1),
        ({"transforms.io.ingest": {"transforms.report.html"}}, 1),
        ({"transforms.report.html": {"transforms.io.warehouse", "transforms.contract"}}, 0),
        ({"flows.audit": {"prefect", "transforms.io.warehouse", "models.pmt"}}, 0),
    ],
)
def test_the_rules_catch_a_broken_layer(imports: dict[str, set[str]], expected: int) -> None:
    """The checker itself: a pure module importing I/O is caught, flows may import anything."""
    assert len(violations(imports)) == expected


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def layer_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Which layer imports which (a module's own layer left out)."""
    edges: dict[str, set[str]] = {}
    for name, targets in graph.items():
        edges.setdefault(layer(name), set()).update(
            layer(t) for t in targets if layer(t) != layer(name)
        )
    return edges


if __name__ == "__main__":  # python -m tests.test_layers: the import graph, by layer
    modules = project_modules()
    graph = project_imports(modules)
    for source, targets in sorted(layer_graph(graph).items()):
        print(f"{source:<18} -> {', '.join(sorted(targets)) or '(nothing of the project)'}")
    print(f"{len(modules)} modules, {sum(map(len, graph.values()))} imports between them")
    print(f"import circles: {circles(graph) or 'none'}")
    print(f"layer rule violations: {violations(all_imports(modules)) or 'none'}")
