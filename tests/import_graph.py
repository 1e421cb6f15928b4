"""The package's import graph, read from the source (function-level imports included).

``python tests/import_graph.py`` prints every module's imports inside the
package, the function-level imports with their line, and any cycle (exit 1
if there is one).  ``tests/test_layout.py`` asserts the same properties.

An edge is an import statement.  A submodule's implicit import of its parent
package is not one: Python initialises the parent before the child, and a
package ``__init__`` importing its own children (``matrices``, ``workflows``,
``rules``) is how their registries are built, as pydeps and grimp count it.

>>> resolve("bn_behaviour.rules.result", 1, "checks", ["run_checks"], {"bn_behaviour.rules.checks"})
['bn_behaviour.rules.checks']
>>> resolve("bn_behaviour.rules", 1, "", ["tf1"], {"bn_behaviour.rules.tf1"}, package=True)  # from . import tf1
['bn_behaviour.rules.tf1']
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "bn_behaviour"


@dataclass(frozen=True)
class Import:
    source: str  #: importing module
    target: str  #: imported module (a package's module, or a third-party top-level name)
    line: int
    nested: bool  #: inside a function (runs when called, not when the module is imported)


def modules() -> dict[str, Path]:
    """Module name -> file, for every module of the package."""
    out = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def resolve(source: str, level: int, module: str, names: list[str], known: set[str], package: bool = False) -> list:
    """The modules an import statement of ``source`` names (``from . import x`` names submodule ``x``)."""
    if level:
        base = source.split(".")
        base = base[: len(base) - level + (1 if package else 0)]
        module = ".".join(base + ([module] if module else []))
    targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in known]
    return targets or [module]


def imports(name: str, path: Path, known: set[str]) -> list[Import]:
    tree = ast.parse(path.read_text())
    package = path.name == "__init__.py"
    out = []

    def visit(node, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend(Import(name, a.name, child.lineno, nested) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                targets = resolve(name, child.level, child.module or "", [a.name for a in child.names], known, package)
                out.extend(Import(name, t, child.lineno, nested) for t in targets)
            visit(child, inner)

    visit(tree, False)
    return out


def graph() -> dict[str, list[Import]]:
    mods = modules()
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def internal_edges(g: dict[str, list[Import]]) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a module importing a package also runs its ``__init__``)."""
    edges: dict[str, set[str]] = {}
    for name, imps in g.items():
        edges[name] = {i.target for i in imps if i.target in g and i.target != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle found by depth-first search (each reported once, from its smallest module)."""
    found, seen = [], set()

    def dfs(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                key = frozenset(path)
                if key not in seen:
                    seen.add(key)
                    found.append(path + [start])
            elif nxt not in path and nxt > start:
                dfs(start, nxt, path + [nxt])

    for start in sorted(edges):
        dfs(start, start, [start])
    return found


def main() -> int:
    g = graph()
    edges = internal_edges(g)
    for name in sorted(edges):
        print(f"{name} -> {', '.join(sorted(edges[name])) or '-'}")
    print("\nfunction-level imports:")
    for name, imps in sorted(g.items()):
        for i in imps:
            if i.nested:
                print(f"  {name}:{i.line} imports {i.target}")
    found = cycles(edges)
    print(f"\n{len(edges)} modules, {sum(map(len, edges.values()))} internal imports, {len(found)} cycles")
    for c in found:
        print("  cycle: " + " -> ".join(c))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
