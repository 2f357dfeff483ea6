"""The runtime's modules import each other in one direction: claim → run → record → follow → outbox, no circle."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "executions"
REGISTRATION = {"apps"}  # AppConfig.ready imports modules so that they register themselves: not a dependency


def _imports(path: Path) -> set[str]:
    """Sibling modules a module imports (at the top or inside a function), by relative import."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [alias.name for alias in node.names] if node.module is None else [node.module.split(".")[0]]
            found |= {name for name in names if (PACKAGE / f"{name}.py").exists() and name != path.stem}
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle, as the modules on it; [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return []

    for module in sorted(graph):
        if module not in state and (found := visit(module, [module])):
            return found
    return []


def test_the_executions_modules_import_each_other_without_a_circle():
    graph = {path.stem: _imports(path) for path in PACKAGE.glob("*.py") if path.stem not in REGISTRATION}
    assert _cycle(graph) == []


def test_the_circle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_a_task_is_found_by_name_in_a_process_that_never_imported_its_module():
    """A fresh interpreter (a web process): starting a run must reach the worker's task without importing it first."""
    import os
    import subprocess
    import sys

    code = (
        "import django; django.setup()\n"
        "import sys; assert 'executions.tasks' not in sys.modules\n"
        "from executions.broker import task\n"
        "print(task('executions.tasks.run_execution').name, task('executions.tasks.deliver_outbox').name)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "faos.settings"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent, env=env)
    assert done.stdout.split() == ["executions.tasks.run_execution", "executions.tasks.deliver_outbox"], done.stderr
