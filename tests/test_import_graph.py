"""The import graph of ``xdub`` and ``xdub_daemon`` has no cycles between the layers that must
not know each other: audio features and the sampler, the CLI and the daemon, the networks and
their weights.

The graph is read from the source with ``ast``: every ``import``, at module level or inside a
function, is an edge; imports under ``if TYPE_CHECKING:`` are not (they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"xdub": REPO_ROOT / "xdub", "xdub_daemon": REPO_ROOT / "daemon"}

Graph = dict[str, set[str]]


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module by dotted name: its file and whether it is a package's ``__init__``."""
    found = {}
    for package, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imported(module: str, path: Path, is_package: bool) -> set[str]:
    """Dotted names ``module`` imports (modules, or names inside them)."""
    names = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: None if is_package else -1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> Graph:
    """Module -> the project modules it imports."""
    modules = _modules()
    graph: Graph = {}
    for module, (path, is_package) in modules.items():
        targets = set()
        for name in _imported(module, path, is_package):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
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


def _in(module: str, group: str) -> bool:
    return module == group or module.startswith(group + ".")


def edges_between(graph: Graph, source: str, target: str) -> list[tuple[str, str]]:
    """Imports from modules of group ``source`` into modules of group ``target``."""
    return sorted(
        (module, imported)
        for module, targets in graph.items()
        if _in(module, source)
        for imported in targets
        if _in(imported, target)
    )


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph()


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        ("xdub.sample", "xdub.audio"),  # the sampler cuts audio windows; audio knows no sampler
        ("xdub_daemon", "xdub.cli"),  # the daemon reads the CLI's option flags; never the reverse
        ("xdub.job", "xdub.media"),  # the job's options name media settings; media knows no job
    ],
)
def test_no_cycle_between_layers(graph: Graph, lower: str, upper: str) -> None:
    assert edges_between(graph, lower, upper) == [] or edges_between(graph, upper, lower) == [], (
        f"{lower} -> {upper}: {edges_between(graph, lower, upper)}; "
        f"{upper} -> {lower}: {edges_between(graph, upper, lower)}"
    )


def test_networks_do_not_import_weights(graph: Graph) -> None:
    assert edges_between(graph, "xdub.model", "xdub.weights") == []


KNOWN_PACKAGE_CYCLES = [["xdub.cli", "xdub.setup"]]
"""``xdub setup`` (a CLI command) runs the installer's steps, which build and install the host
plugins (``xdub.cli.plugins``) and run ``xdub models download`` through the CLI."""


def _package(module: str) -> str:
    return "xdub_daemon" if module.startswith("xdub_daemon") else ".".join(module.split(".")[:2])


def test_no_other_cycle_between_packages(graph: Graph) -> None:
    packages: Graph = {}
    for module, targets in graph.items():
        packages.setdefault(_package(module), set()).update(
            _package(target) for target in targets if _package(target) != _package(module)
        )
    assert cycles(packages) == KNOWN_PACKAGE_CYCLES


@pytest.mark.parametrize("package", ["xdub", "xdub_daemon"])
def test_no_module_cycle_inside_a_package(graph: Graph, package: str) -> None:
    inside = {module: targets for module, targets in graph.items() if _in(module, package)}
    assert cycles(inside) == []


def test_graph_sees_lazy_imports_and_skips_type_checking(tmp_path: Path) -> None:
    """The reader itself: a function-level import is an edge, a TYPE_CHECKING one is not."""
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from xdub.errors import XdubError\n"
        "def f():\n    from xdub.paths import data_dir\n"
    )
    assert _imported("xdub.m", source, False) == {
        "typing",
        "typing.TYPE_CHECKING",
        "xdub.paths",
        "xdub.paths.data_dir",
    }
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
