"""The project modules a script imports, found by reading source (nothing is executed).

Every ``import`` and ``from ... import`` counts, wherever it stands (inside functions,
under ``if``): DVC must rerun a stage when any code it may run changes. The one exception
is a block under ``if TYPE_CHECKING:``, which Python never runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "gantrack"


def module_file(source_root: Path, dotted: str) -> Path | None:
    """The file of module ``dotted`` under ``source_root`` (a package's ``__init__.py``)."""
    base = source_root.joinpath(*dotted.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def imported_modules(path: Path, dotted: str | None = None) -> set[str]:
    """Dotted names of the ``gantrack`` modules ``path`` imports (submodules named by
    ``from package import name`` included; ``dotted`` resolves relative imports)."""
    names: set[str] = set()
    for node in _executed_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = (dotted or "").split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name == PACKAGE or name.startswith(PACKAGE + ".")}


def import_closure(script: Path, source_root: Path) -> set[Path]:
    """Every project source file that running ``script`` may import, transitively.

    Importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` too, so they count.
    """
    found: set[Path] = set()
    pending = [(script, None)]
    while pending:
        path, dotted = pending.pop()
        for name in imported_modules(path, dotted):
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                prefix = ".".join(parts[:end])
                file = module_file(source_root, prefix)
                if file is not None and file not in found:
                    found.add(file)
                    pending.append((file, prefix))
    return found


def _executed_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (never executed)."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
