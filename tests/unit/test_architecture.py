"""The dependency rule of docs/architecture.md, read off the imports of every module.

deploy → gateway → services → messaging → tenants: a module imports only from its own room
or a room below it; the agreement service and the connectors never import each other (they
talk over the bus); the agency-side package imports nothing of the platform (it ships apart);
and no modules import each other in a circle. Imports inside functions count (a lazy import is
still a dependency); those under ``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("deploy", "gateway", "services", "messaging", "tenants")
RANK = {room: rank for rank, room in enumerate(ROOMS)}
#: Services that talk to each other only over the bus.
SERVICES = ("services.agreements", "services.connectors")
#: Ships to the agencies on its own: imports no room of the platform.
AGENCY_PACKAGE = "services.connectors.agency"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> Iterator[str]:
    """Absolute names of what ``path`` imports (relative imports resolved)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    stack: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            # ``from package import module`` names the module, not its package's __init__
            # (which Python has already begun to run when a submodule imports a sibling);
            # ``from module import name`` names the module. _graph keeps what exists.
            yield from (f"{target}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))


def _sources() -> dict[str, Path]:
    return {
        _module_name(path): path
        for room in ROOMS
        for path in sorted((ROOT / room).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    }


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    graph: dict[str, set[str]] = {}
    for module, path in sources.items():
        targets = set()
        for name in _imports(path):
            if name.split(".")[0] not in RANK:
                continue
            # The longest prefix that is one of our modules.
            while name and name not in sources:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def _room(module: str) -> str:
    return module.split(".")[0]


def _service(module: str) -> str | None:
    return next((s for s in SERVICES if module == s or module.startswith(s + ".")), None)


def test_imports_run_downward_only() -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if RANK[_room(target)] < RANK[_room(module)]
    )
    assert upward == []


def test_the_services_talk_only_over_the_bus() -> None:
    crossing = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if _service(module) and _service(target) and _service(module) != _service(target)
    )
    assert crossing == []


def test_the_agency_package_imports_nothing_of_the_platform() -> None:
    graph = _graph()
    agency = [m for m in graph if m == AGENCY_PACKAGE or m.startswith(AGENCY_PACKAGE + ".")]
    assert agency, f"{AGENCY_PACKAGE} not found"
    leaks = sorted(
        f"{module} imports {target}"
        for module in agency
        for target in graph[module]
        if not (target == AGENCY_PACKAGE or target.startswith(AGENCY_PACKAGE + "."))
    )
    assert leaks == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
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


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert _cycles(_graph()) == []


def test_the_checks_see_what_they_look_for() -> None:
    """The reading of imports finds a known downward import, a relative one and a circle."""
    graph = _graph()
    assert "tenants.settings" in graph["deploy.wiring"]
    assert "services.agreements.context" in graph["services.agreements.app"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
