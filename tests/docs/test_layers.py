"""The layers of docs/architecture.md ("The code") hold in the code: no module imports from a
layer above its own, not even inside a function."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Bottom to top, as the table lists them (top row last). A package may import from its own
# layer and from the layers below.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"constants", "ids", "errors", "settings", "log"}),
    frozenset({"messages"}),
    frozenset({"store", "broker"}),
    frozenset({"providers", "leads", "contract"}),
    frozenset({"workflow"}),
    frozenset({"actors"}),
    frozenset({"worker"}),
    frozenset({"bench"}),
    frozenset({"cli"}),
)
# The package's public names and ``python -m leadgen`` sit above every layer.
TOP = {"__init__", "__main__"}


def layer_of(module: str) -> int:
    """The layer of ``leadgen.PART...``; len(LAYERS) for the package's own entry points."""
    part = module.split(".")[1] if "." in module else "__init__"
    if part in TOP:
        return len(LAYERS)
    for index, parts in enumerate(LAYERS):
        if part in parts:
            return index
    raise AssertionError(f"leadgen.{part} is in no layer of docs/architecture.md")


def imports(path: Path) -> list[tuple[int, str]]:
    """Every leadgen module ``path`` imports, with the line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "leadgen":
                found += [(node.lineno, f"leadgen.{alias.name}") for alias in node.names]
            elif node.module.startswith("leadgen."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("leadgen.")]
    return found


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    """Every import of every module of leadgen/ goes down the layers or stays in its own."""
    upward = []
    checked = 0
    for path in sorted((ROOT / "leadgen").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for line, imported in imports(path):
            checked += 1
            if layer_of(imported) > layer_of(module):
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    assert checked > 300  # the walk really saw the package
    assert upward == []


def test_every_package_of_leadgen_has_a_layer() -> None:
    """A new package or top-level module must be placed in the table before it is used."""
    package = ROOT / "leadgen"
    modules = {p.stem for p in package.glob("*.py")}
    packages = {p.parent.name for p in package.glob("*/__init__.py")}
    assert {"cli", "workflow", "ids"} <= modules | packages
    for part in sorted(modules | packages):
        layer_of(f"leadgen.{part}")
