"""The package's layers and the import rules between them, checked by reading every module's imports.

A module may import modules of its own layer or of a lower one, never of a higher one; inside a layer
split in stages (the CLI: reading <- model <- views <- commands), the same holds between its stages; the
core imports nothing outside the standard library but orjson (so never Celery); no two modules import
each other, directly or through others (imports inside functions count: a lazy import is still an arrow).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "selinon_celery_trace"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("core",)),
    ("sinks", ("sinks",)),
    ("api", ("trace", "testing")),
    ("celery", ("celery", "auto")),
    ("cli", ("cli", "__main__")),
    ("package", ("",)),  # the package's __init__: the public names, importing what it re-exports
)
"""Lowest first: (layer, the top-level modules or folders of the package in it)."""

STAGES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "cli": (
        ("reading", ("reading",)),
        ("model", ("model",)),
        ("views", ("views",)),
        ("commands", ("commands", "")),  # "": the cli package's __init__, which gathers the commands
    ),
}
"""Layers split in stages, lowest first: layer folder -> (stage, the sub-packages of that folder in it)."""

CORE_THIRD_PARTY = frozenset({"orjson"})


@dataclass(frozen=True)
class Violation:
    module: str
    imported: str
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}: {self.rule}"


def layer_of(module: str) -> int:
    """The index in LAYERS of a module of the package (``selinon_celery_trace.x.y``)."""
    parts = module.split(".")[1:]
    head = parts[0] if parts else ""
    for index, (_, members) in enumerate(LAYERS):
        if head in members:
            return index
    raise ValueError(f"{module} belongs to no layer: add it to LAYERS")


def stage_of(module: str) -> tuple[str, int] | None:
    """(folder, index in its STAGES) of a module in a layer split in stages; None for other modules."""
    parts = module.split(".")[1:]
    if not parts or parts[0] not in STAGES:
        return None
    head = parts[1] if len(parts) > 1 else ""
    for index, (_, members) in enumerate(STAGES[parts[0]]):
        if head in members:
            return parts[0], index
    raise ValueError(f"{module} belongs to no stage of {parts[0]}/: add it to STAGES")


def _stage_rule(module: str, imported: str) -> str | None:
    """The broken rule when ``module`` imports a later stage of its own layer, else None."""
    here, there = stage_of(module), stage_of(imported)
    if here is None or there is None or here[0] != there[0] or there[1] <= here[1]:
        return None
    stages = STAGES[here[0]]
    return f"{here[0]} {stages[here[1]][0]} is below {here[0]} {stages[there[1]][0]}"


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package under ``root`` (the folder holding the package), by dotted name."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement in the module, at any depth."""
    is_package = path.name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    result = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            result.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                target = node.module or ""
            # `from package import name`: the name is a module when one is called so.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                result.append((candidate if candidate in known else target, node.lineno))
    return result


def _lazy_names(path: Path) -> set[str]:
    # The package __init__'s lazily re-exported modules (its _LAZY table) count as its imports.
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_LAZY" for t in node.targets):
            value = ast.literal_eval(node.value)
            return {f"{PACKAGE}.{name}" for name in value.values()}
    return set()


def check(root: Path) -> list[Violation]:
    """Every violation of the rules in the package under ``root``."""
    known = modules(root)
    graph: dict[str, set[str]] = {name: set() for name in known}
    violations = []
    for module, path in known.items():
        imports = _imports(module, path, known)
        if module == PACKAGE:
            imports += [(name, 0) for name in _lazy_names(path)]
        for imported, line in imports:
            top = imported.split(".")[0]
            if top != PACKAGE:
                if (
                    layer_of(module) == 0
                    and top not in sys.stdlib_module_names
                    and top not in CORE_THIRD_PARTY
                    and top != "__future__"
                ):
                    violations.append(Violation(module, imported, line, "the core imports no third party"))
                continue
            if imported == module or imported not in known:
                continue
            graph[module].add(imported)
            if layer_of(imported) > layer_of(module):
                rule = f"{LAYERS[layer_of(module)][0]} is below {LAYERS[layer_of(imported)][0]}"
                violations.append(Violation(module, imported, line, rule))
            elif (rule := _stage_rule(module, imported)) is not None:
                violations.append(Violation(module, imported, line, rule))
    violations.extend(_cycles(graph))
    return violations


def _cycles(graph: dict[str, set[str]]) -> list[Violation]:
    """One violation per import circle (a package importing its own submodules is not one)."""
    found = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if nxt.startswith(node + "."):
                continue  # a package's __init__ importing its own modules
            if state.get(nxt) == 1:
                circle = path[path.index(nxt) :]
                found.append(Violation(node, nxt, 0, "import circle: " + " -> ".join([*circle, nxt])))
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found
