"""The package's shape, checked: no import cycle (imports inside functions included), arrows one way.

Read from the source with ``ast``, so it costs nothing to run and fails the moment a change adds a cycle or hides
one behind an import inside a function.
"""

import ast
import importlib
from pathlib import Path

import pytest

import bempathy

PACKAGE = Path(bempathy.__file__).parent

# Imports of bempathy modules that may sit inside a function: each pulls in torch or trl (the ``import`` is
# deferred so the app and the small commands start fast), never to dodge a cycle.
ALLOWED_DEFERRED = {
    ("bempathy.model.chat", "bempathy.model.tiny"),
    ("bempathy.model.tokenizer", "bempathy.model.tiny"),
    ("bempathy.serve.openai_backend", "bempathy.model.tiny"),
    ("bempathy.serve.openai_backend", "bempathy.model.tokenizer"),
    ("bempathy.serve.vllm_command", "bempathy.model.tiny"),
    ("bempathy.train.gpu_memory", "bempathy.config"),
    ("bempathy.train.strategies", "bempathy.train.sft"),
    ("bempathy.ui.context", "bempathy.model.tiny"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _target(name: str) -> str | None:
    """The bempathy module an imported dotted name lives in (``bempathy.x.Y`` -> ``bempathy.x``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> list[tuple[str, bool]]:
    """(imported bempathy module, is the import inside a function) for each import in ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            deferred = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - child.level + 1], base]).strip(".")
                names = [f"{base}.{alias.name}" for alias in child.names]
            for name in names:
                target = _target(name) if name.startswith("bempathy") else None
                if target and target not in (module, "bempathy"):  # the top package imports lazily
                    found.append((target, in_function))
            visit(child, deferred)

    visit(tree, False)
    return found


def graph() -> dict[str, set[str]]:
    return {module: {target for target, _ in imports_of(module)} for module in MODULES}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted: a non-empty list is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return groups


def test_cycle_finder_finds_a_planted_cycle():
    """The check below can fail: a two-module loop through a third is reported, a chain is not."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycles_even_through_imports_inside_functions():
    assert cycles(graph()) == []


def test_imports_inside_functions_are_only_the_heavy_ones():
    deferred = {(module, target) for module in MODULES for target, inside in imports_of(module) if inside}
    assert deferred <= ALLOWED_DEFERRED, f"new deferred bempathy imports: {sorted(deferred - ALLOWED_DEFERRED)}"


@pytest.mark.parametrize(
    ("outside", "forbidden"),
    [
        ("bempathy", "bempathy.ui"),  # the UI calls the library, never the reverse
        ("bempathy.serve", "bempathy.train"),  # serving never imports the trainer
        ("bempathy.rating", "bempathy.train"),
        ("bempathy.safety", "bempathy.model"),  # the crisis layer stays usable with no model loaded
    ],
)
def test_arrows_point_one_way(outside, forbidden):
    edges = graph()
    offenders = sorted(
        (module, target)
        for module, targets in edges.items()
        if module.startswith(outside) and not module.startswith(forbidden)
        for target in targets
        if target.startswith(forbidden)
    )
    assert offenders == []


def test_every_subpackage_says_what_it_is_for():
    for init in PACKAGE.rglob("__init__.py"):
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), init


def test_public_names_resolve_to_their_one_home():
    for name, home in bempathy._PUBLIC.items():
        assert getattr(bempathy, name) is getattr(importlib.import_module(home), name)
        assert getattr(bempathy, name).__module__ == home
    with pytest.raises(AttributeError):
        _ = bempathy.NoSuchName
