"""The package's import graph has no cycles and no upward imports (the layer order of docs/architecture.md).

Every ``import`` / ``from ... import`` in src/videorft counts, the ones inside functions too: a lazy import still
ties the lower layer to the upper one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Lowest first (docs/architecture.md, "Layers"). A package may import its own layer's modules only within
#: itself, and any lower layer; peers in one layer (training, evaluation) stay apart.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("dataclass_cli", "files", "run_folder", "runtime"),
    ("video",),
    ("rewards",),
    ("data",),
    ("models",),
    ("inputs",),
    ("training", "evaluation"),
    ("integrations", "demo"),
    ("cli",),
)


def module_names(src: Path = SRC) -> dict[str, Path]:
    names = {}
    for path in src.joinpath("videorft").rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module -> the videorft modules it imports (``from pkg import name`` resolves to ``pkg.name`` when that
    is a module, else to ``pkg``)."""
    modules = module_names(src)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != module:
                    graph[module].add(target)
                    break  # ``from pkg import mod``: the module, not also the package
    return graph


def layer_of(module: str) -> tuple[int, str]:
    parts = module.split(".")
    if len(parts) == 1:
        return -1, ""  # the package root holds only the version
    for rank, names in enumerate(LAYERS):
        if parts[1] in names:
            return rank, parts[1]
    raise AssertionError(f"{module}: its package is in no layer of LAYERS")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in sorted(graph.items()):
        rank, top = layer_of(module)
        for target in sorted(targets):
            target_rank, target_top = layer_of(target)
            if target_rank > rank or (target_rank == rank and target_top != top):
                bad.append(f"{module} -> {target}")
    return bad


def test_every_package_has_a_layer():
    tops = {m.split(".")[1] for m in module_names() if m.count(".") >= 1}
    assert tops <= {name for layer in LAYERS for name in layer}


def test_the_import_graph_has_no_cycles():
    assert cycles(import_graph()) == []


def test_no_module_imports_from_a_higher_layer():
    assert upward_imports(import_graph()) == []


def test_the_checks_catch_a_cycle_and_an_upward_import(tmp_path: Path):
    pkg = tmp_path / "videorft"
    for name, text in {
        "__init__.py": "",
        "video/__init__.py": "",
        "video/a.py": "from videorft.video import b\n",
        "video/b.py": "def f():\n    from videorft.video.a import g\n",  # a lazy import counts
        "data/__init__.py": "",
        "data/c.py": "from .. import training\n",
        "training/__init__.py": "from videorft.evaluation import runner\n",
        "evaluation/__init__.py": "",
        "evaluation/runner.py": "",
    }.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["videorft.video.a", "videorft.video.b"]]
    assert upward_imports(graph) == [
        "videorft.data.c -> videorft.training",
        "videorft.training -> videorft.evaluation.runner",
    ]


@pytest.mark.parametrize("doc", ["docs/architecture.md"])
def test_the_layer_order_is_documented(doc: str):
    text = (SRC.parent / doc).read_text(encoding="utf-8")
    order = " < ".join("/".join(names) for names in LAYERS)
    assert order in text, f"{doc} should state the layer order: {order}"
