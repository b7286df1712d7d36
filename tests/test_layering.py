"""The package's layering, read from its import statements, those inside functions too: the folders
in the order the data moves, none importing a later one, no import circles, the memory of normal
motion not on the generator, the library not on the maintainers' scripts, and no module on another
module's private names."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "svdgan"

# Lowest first: a module may import its own layer and those before it, never a later one.
LAYERS = [
    ("errors", "defaults", "utils"),
    ("config",),
    ("sources",),
    ("data",),
    ("model",),
    ("objects",),
    ("memory",),
    ("training",),
    ("scoring",),
    ("evaluation",),
    ("live",),
    ("serve",),
    ("deploy",),
    ("api", "demo", "cli", "__init__", "__main__", "weights"),
]


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) of every import in a file, lazy ones inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.ImportFrom):  # relative: the package writes absolute imports
            found.append(("." * node.level + (node.module or ""), [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return found


def modules_of(folder: Path) -> dict[Path, list[tuple[str, list[str]]]]:
    return {p: imports(p) for p in folder.rglob("*.py")}


def test_the_model_imports_no_later_stage():
    later = ("svdgan.scoring", "svdgan.live", "svdgan.serve", "svdgan.evaluation", "svdgan.training",
             "svdgan.memory", "svdgan.sources", "svdgan.deploy", "svdgan.api")
    bad = [(p.name, m) for p, found in modules_of(PACKAGE / "model").items() for m, _ in found if m.startswith(later)]
    assert not bad


def test_the_memory_of_normal_motion_does_not_import_the_generator():
    bad = [(p.name, m) for p, found in modules_of(PACKAGE / "memory").items() for m, _ in found
           if m.startswith(("svdgan.model", "svdgan.scoring.video", "svdgan.scoring.stream", "svdgan.training"))]
    assert not bad


def test_the_memory_reaches_the_model_only_through_the_generator_on_objects():
    """An object's error is an attribute like its size: objects/appearance.py is the one module
    of objects/ that runs the model, and nothing there trains it."""
    found = modules_of(PACKAGE / "objects")
    runs_model = sorted(p.name for p, imported in found.items()
                        if any(m.startswith("svdgan.model") for m, _ in imported))
    assert runs_model == ["appearance.py"]
    assert not [p.name for p, imported in found.items() for m, _ in imported if m.startswith("svdgan.training")]


def test_nothing_in_the_library_imports_the_maintainers_scripts():
    bad = [(p.name, m) for p, found in modules_of(PACKAGE).items() for m, _ in found
           if m.split(".")[0] in ("benchmarks", "research")]
    assert not bad


@pytest.mark.parametrize("folder", [PACKAGE, ROOT / "benchmarks", ROOT / "research"], ids=lambda p: p.name)
def test_no_module_imports_another_modules_private_names(folder):
    bad = [(p.name, m, n) for p, found in modules_of(folder).items() for m, names in found for n in names
           if n.startswith("_") and m != "__future__"]
    assert not bad


def test_imports_are_absolute_so_a_module_reads_the_same_wherever_it_moves():
    bad = [(p.name, m) for p, found in modules_of(PACKAGE).items() for m, _ in found if m.startswith(".")]
    assert not bad


def test_the_layout_page_names_every_subpackage():
    page = (ROOT / "docs" / "architecture.md").read_text()
    subpackages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert subpackages and [s for s in subpackages if f"`{s}/`" not in page] == []


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """svdgan module -> the svdgan modules it imports, wherever the import statement stands."""
    names = {module_name(p, package) for p in package.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        found = set()
        for module, imported in imports(path):
            if not module.startswith("svdgan"):
                continue
            found |= {f"{module}.{n}" for n in imported if f"{module}.{n}" in names}  # from a package import module
            if module in names and (module != "svdgan" or not imported):
                found.add(module)
        edges[module_name(path, package)] = found - {module_name(path, package)}
    return edges


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    return next(i for i, names in enumerate(LAYERS) if top in names)


def climbing(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in edges.items() for b in targets
                  if b != "svdgan" and layer(b) > layer(a))


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, as the modules along it (a depth-first search for edges back)."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_every_folder_and_top_level_module_has_a_layer():
    assert all(layer(m) >= 0 for m in graph())


def test_no_module_imports_a_later_layer_even_inside_a_function():
    assert climbing(graph()) == []


def test_there_are_no_import_circles_even_through_imports_inside_functions():
    assert circles(graph()) == []


def test_the_checks_see_an_import_inside_a_function_that_climbs_a_layer(tmp_path):
    package = tmp_path / "svdgan"
    (package / "memory").mkdir(parents=True)
    (package / "scoring").mkdir()
    for init in (package / "__init__.py", package / "memory" / "__init__.py", package / "scoring" / "__init__.py"):
        init.write_text("")
    (package / "memory" / "bank.py").write_text("def later():\n    from svdgan.scoring.fusion import fuse\n")
    (package / "scoring" / "fusion.py").write_text("from svdgan.memory import bank\n\ndef fuse():\n    pass\n")
    edges = graph(package)
    assert climbing(edges) == [("svdgan.memory.bank", "svdgan.scoring.fusion")]
    assert circles(edges) == [["svdgan.memory.bank", "svdgan.scoring.fusion", "svdgan.memory.bank"]]
