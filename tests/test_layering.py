"""The package's layering, read from its import statements: the pure model depends on no later stage,
the memory of normal motion not on the generator, the library not on the maintainers' scripts, and no
module on another module's private names."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "svdgan"


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
