"""Actions and connectors reach the runtime only through the ports it hands them (ActionContext), never by import;
the plain engine (executions.engine: errors, problems) is theirs to use."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "integrations"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def runtime(module: str) -> bool:
    return module.split(".")[0] == "executions" and not module.startswith("executions.engine")


def test_no_action_or_connector_imports_the_runtime():
    files = [*sorted((ROOT / "actions").glob("*.py")), *sorted((ROOT / "connectors").glob("*.py"))]
    assert len(files) > 20  # the registries are there (a wrong path would make this pass on nothing)
    offenders = {str(path.relative_to(ROOT.parent)): sorted(filter(runtime, imported_modules(path))) for path in files}
    assert {path: mods for path, mods in offenders.items() if mods} == {}
