"""The package's import graph, read from the source with ``ast``: no cycles, and no IPython or
ipywidgets below the front layer.

Every ``import`` counts, at module level or inside a function (a function-level import is
still a dependency, only a later one); imports under ``if TYPE_CHECKING:`` do not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import mlenv_magics

PACKAGE_DIR = Path(mlenv_magics.__file__).resolve().parent
ROOT = "mlenv_magics"
UI_PACKAGES = ("IPython", "ipywidgets")
# The layers that must work without a notebook: they report through callbacks and return data.
UI_FREE_LAYERS = (
    f"{ROOT}.data",
    f"{ROOT}.transfer",
    f"{ROOT}.cache",
    f"{ROOT}.archives",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(path): path
    for path in sorted(PACKAGE_DIR.rglob("*.py"))
    if "__pycache__" not in path.parts
}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for alternative in child.orelse:  # the `else:` of TYPE_CHECKING runs
                yield from _imports_in(alternative)
            continue
        yield from _imports_in(child)


def _imports_in(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def _resolve(importer: str, statement: ast.ImportFrom) -> str:
    if not statement.level:
        return statement.module or ""
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (statement.level - 1)]
    return ".".join([*base, statement.module] if statement.module else base)


def imported_names(importer: str) -> set[str]:
    """Every module ``importer`` names in an import statement (ours and third-party)."""
    tree = ast.parse(MODULES[importer].read_text(encoding="utf-8"), str(MODULES[importer]))
    names: set[str] = set()
    for statement in _imports(tree):
        if isinstance(statement, ast.Import):
            names.update(alias.name for alias in statement.names)
            continue
        target = _resolve(importer, statement)
        for alias in statement.names:
            submodule = f"{target}.{alias.name}"
            # `from . import errors` imports the submodule; `from .errors import X`, the module.
            names.add(submodule if submodule in MODULES else target)
    return names


GRAPH = {
    module: {name for name in imported_names(module) if name in MODULES and name != module}
    for module in MODULES
}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def import_path(start: str, is_goal: callable) -> list[str] | None:  # type: ignore[valid-type]
    """The shortest chain of our modules from ``start`` to one for which ``is_goal`` holds."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        module = queue.pop(0)
        if is_goal(module):
            return paths[module]
        for target in sorted(GRAPH[module]):
            if target not in paths:
                paths[target] = [*paths[module], target]
                queue.append(target)
    return None


def _in_layer(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def imports_ui(module: str) -> bool:
    return any(
        name == ui or name.startswith(ui + ".")
        for name in imported_names(module)
        for ui in UI_PACKAGES
    )


# The checks on the checks: hand-written graphs and sources.


def test_a_cycle_is_found_and_a_tree_is_not() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_type_checking_imports_do_not_count_and_function_imports_do(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import hidden\nelse:\n    import shown_else\n"
        "def later():\n    import in_function\n"
        "class Lazy:\n    def method(self):\n        from deep import thing\n"
    )
    found = {
        alias.name if isinstance(s, ast.Import) else s.module or ""
        for s in _imports(ast.parse(source))
        for alias in s.names
    }
    assert found == {"typing", "shown_else", "in_function", "deep"}


def test_the_graph_sees_the_package() -> None:
    assert f"{ROOT}.magics" in MODULES and f"{ROOT}.errors" in GRAPH[f"{ROOT}.cli"]
    assert "IPython.core.magic" in imported_names(f"{ROOT}.magics")


# The package itself.


def test_no_import_cycle() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


LAYER_MODULES = sorted(
    module for module in MODULES if any(_in_layer(module, layer) for layer in UI_FREE_LAYERS)
)


@pytest.mark.parametrize("module", LAYER_MODULES)
def test_data_transfer_cache_and_archive_layers_reach_no_ui(module: str) -> None:
    chain = import_path(module, imports_ui)
    assert chain is None, f"{module} reaches IPython or ipywidgets: " + " -> ".join(chain or [])


def test_nothing_below_the_public_api_imports_the_package_root() -> None:
    front = {f"{ROOT}.__main__", f"{ROOT}.api", f"{ROOT}.magics", f"{ROOT}.cli"}
    importers = sorted(
        module for module, targets in GRAPH.items() if ROOT in targets and module not in front
    )
    assert importers == []
