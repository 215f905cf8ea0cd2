"""The shape the house style asks for, checked on the package's source: modules with one job (at most 450 lines),
no import circle between them (lazy imports inside functions included), and no private name of another library
(``from lib import _x``, or ``something._x`` on anything but ``self``, ``cls`` or ``super()``: a custom marshmallow
field overriding ``_serialize``/``_deserialize`` calls ``super()``, the documented way to extend it)."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "raf_network"
MAX_LINES = 450


def _modules():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


MODULES = _modules()


def _imports(name, path):
    """The package modules ``name`` imports anywhere in its source (``from pkg import submodule`` counts as the
    submodule, not the package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            candidates = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                          for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                found.add(candidate)
    return found


def _reachable(graph, start):
    seen, todo = set(), list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def _on_cycles(graph):
    """The modules that import themselves through others."""
    return sorted(node for node in graph if node in _reachable(graph, node))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_module_has_at_most_450_lines(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it along its jobs"


def test_no_import_circle():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert _on_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _on_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c"]


def _private_uses(source):
    uses = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and not (node.module or "").startswith(
                "raf_network"):
            uses += [f"from {node.module} import {alias.name}" for alias in node.names
                     if alias.name.startswith("_") and not alias.name.startswith("__")]
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                continue
            if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "super":
                continue
            uses.append(f"line {node.lineno}: {ast.unparse(node)}")
    return uses


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_of_another_library(name):
    assert _private_uses(MODULES[name].read_text(encoding="utf-8")) == []


def test_the_private_name_check_sees_one():
    assert _private_uses("from firebase_admin import messaging\nmessaging._MessagingService\n") == [
        "line 2: messaging._MessagingService"]
    assert _private_uses("from marshmallow.decorators import _hooks\n") == ["from marshmallow.decorators import _hooks"]
