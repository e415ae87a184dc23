"""The layout shows the flow: every import between packages and rooms points down it.

The graph is read from the source with `ast` (lazy imports inside functions count too), so a
new module cannot slip an upward import past the rule."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("embeddings", "engine", "chat_ingest", "api", "cli")
# What each top-level package may import of ours (DESIGN.md, "Packages and what each may import").
MAY_IMPORT: dict[str, set[str]] = {
    "embeddings": set(),
    "engine": {"embeddings"},
    "chat_ingest": {"engine", "embeddings"},
    "api": {"engine", "embeddings", "chat_ingest"},
    "cli": {"engine", "embeddings", "chat_ingest", "api"},
}
# engine's core modules, which every room may use; they import no room.
CORE = {
    *("settings", "errors", "db", "models", "background", "outbox", "apikeys", "status"),
    "users",
}
# engine's rooms in flow order, then the modules that compose them: each may import only what
# comes before it in this list (and the core).
FLOW = [
    "text",
    "facts",
    "intents",
    "search",
    "customers",
    "drafting",
    "email",
    "measure",
    "pipeline",
    "runtime",
    "evals",
]
MAX_TOP_LEVEL_ENGINE_MODULES = 12


def module_name(path: Path) -> str:
    """The dotted module a source file defines."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module of ours a source file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in OURS)
    return found


def source_files() -> list[Path]:
    """Our packages' source files, the database migrations aside (they are frozen history)."""
    return [
        path
        for package in OURS
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def known_modules() -> set[str]:
    """Every module and package of ours."""
    return {module_name(path) for path in source_files()}


def graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (an imported name resolves to its module)."""
    modules = known_modules()
    edges: dict[str, set[str]] = {}
    for path in source_files():
        targets = set()
        for name in imports_of(path):
            while name not in modules and "." in name:
                name = name.rsplit(".", 1)[0]
            targets.add(name)
        edges[module_name(path)] = targets - {module_name(path)}
    return edges


def engine_place(module: str) -> int | None:
    """Where an engine module stands in the flow: -1 for the core, None for the package."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    if parts[1] in CORE:
        return -1
    return FLOW.index(parts[1])


def is_upward(module: str, target: str) -> bool:
    """Whether an engine module importing an engine target goes against the flow."""
    here, there = engine_place(module), engine_place(target)
    if here is None or there is None:
        return False
    if here == -1:  # the core imports only the core
        return there != -1
    same_room = module.split(".")[1] == target.split(".")[1]
    return there > here or (there == here and not same_room)


def test_every_engine_module_has_a_place_in_the_flow() -> None:
    """A new engine module is core or in a room; nothing lands beside them unplaced."""
    unplaced = [
        module
        for module in known_modules()
        if module.startswith("engine.")
        and module.split(".")[1] not in CORE
        and module.split(".")[1] not in FLOW
    ]
    assert unplaced == []


def test_engine_keeps_few_top_level_modules() -> None:
    """engine/ is rooms (subpackages) over a few core modules, not a flat heap."""
    flat = [p.name for p in (ROOT / "engine").glob("*.py") if p.name != "__init__.py"]
    assert len(flat) <= MAX_TOP_LEVEL_ENGINE_MODULES, sorted(flat)


def test_packages_import_only_what_they_may() -> None:
    """embeddings imports nothing of ours, engine never imports a face, and so on."""
    wrong = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if target.split(".")[0] != module.split(".")[0]
        and target.split(".")[0] not in MAY_IMPORT[module.split(".")[0]]
    ]
    assert wrong == []


def test_engine_imports_point_down_the_flow() -> None:
    """A room imports only the core and the rooms before it; the core imports no room."""
    upward = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        if module.startswith("engine.")
        for target in targets
        if target.startswith("engine.") and is_upward(module, target)
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    """No chain of imports between our modules comes back to where it started."""
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            # A package's __init__ importing its own modules is how a package re-exports.
            if module.startswith(target + ".") or target.startswith(module + "."):
                continue
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("engine.customers.consent", "from engine.drafting.review import X", True),
        ("engine.drafting.review", "from engine.customers.consent import X", False),
        ("engine.models", "from engine.facts.gate import X", True),
        ("engine.facts.gate", "import engine.search.service", True),
        ("engine.evals.facts", "from engine.pipeline import X", False),
    ],
)
def test_the_rule_catches_an_upward_import(module: str, source: str, expected: bool) -> None:
    """The rule itself: the import test would fail on the upward imports this issue removed."""
    (target,) = imports_of_source(source)
    assert is_upward(module, target) is expected


def imports_of_source(source: str) -> set[str]:
    """The modules one line of source imports."""
    tree = ast.parse(source)
    node = tree.body[0]
    if isinstance(node, ast.ImportFrom) and node.module:
        return {node.module}
    assert isinstance(node, ast.Import)
    return {alias.name for alias in node.names}
