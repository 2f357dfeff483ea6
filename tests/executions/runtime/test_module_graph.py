"""The executions modules import each other without a circle, and the runtime package keeps its order: a task goes
claim → run → record → follow → outbox, and each of those imports only what comes after it; the runtime's lower
half (what the business services call) imports no business module; its __init__ imports none of its modules."""

import ast
from pathlib import Path

from executions import runtime

PACKAGE = Path(__file__).resolve().parents[3] / "executions"
REGISTRATION = {"apps"}  # AppConfig.ready imports modules so that they register themselves: not a dependency
FLOW = ["runtime.loop", "runtime.claim", "runtime.run", "runtime.record", "runtime.follow", "runtime.outbox"]
LOWER = {
    "runtime.broker",
    "runtime.leases",
    "runtime.outbox",
    "runtime.routing",
    "runtime.run_log",
    "runtime.starts",
    "runtime.state",
}
SHARED = {"models", "querysets", "scopes"}  # the rows and the names of their scopes: below every module


def _modules() -> dict[str, Path]:
    """executions' modules by dotted name: "services", "runtime.claim", and "runtime" for the package's __init__."""
    found = {path.stem: path for path in PACKAGE.glob("*.py") if path.stem not in {"__init__", *REGISTRATION}}
    found |= {f"runtime.{path.stem}": path for path in (PACKAGE / "runtime").glob("*.py") if path.stem != "__init__"}
    return found | {"runtime": PACKAGE / "runtime" / "__init__.py"}


def _imports(name: str, path: Path, known) -> set[str]:
    """The modules of `known` that a module imports (at the top or inside a function), by relative import.

    Importing runtime.X from outside the package runs the package's __init__ first: that is an import of it too.
    """
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or node.level == 0 or node.level - 1 > len(package):
            continue
        base = package[: len(package) - (node.level - 1)]
        module = base + (node.module.split(".") if node.module else [])
        for target in [module, *(module + [alias.name] for alias in node.names)]:
            found |= {".".join(target[:n]) for n in range(len(target), 0, -1) if ".".join(target[:n]) in known}
    inside = name == "runtime" or name.startswith("runtime.")
    return {module for module in found if module != name and not (inside and module == "runtime")}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


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
    assert _cycle(_graph()) == []


def test_the_graph_sees_imports_into_out_of_and_inside_the_runtime_package():
    """A graph that missed the package's imports would find no circle in anything (and prove nothing)."""
    graph = _graph()
    assert {"runtime", "runtime.routing", "runtime.run_log", "runtime.broker"} <= graph["services"]
    assert {"services", "runtime.state", "runtime.routing"} <= graph["runtime.claim"]
    assert {"runtime.claim", "runtime.run", "runtime.record"} <= graph["runtime.loop"]
    assert {"approvals", "tasks_service", "replaying", "runtime.ports"} <= graph["runtime.run"]


def test_a_task_goes_claim_run_record_follow_outbox_and_each_imports_only_what_comes_after_it():
    graph = _graph()
    assert {name: sorted(graph[name] & set(FLOW[: index + 1])) for index, name in enumerate(FLOW)} == {
        name: [] for name in FLOW
    }


def test_the_runtimes_lower_half_imports_no_business_module():
    """services, approvals, events … import outbox, routing, broker, run_log and state: these import none of them."""
    graph = _graph()
    assert {name: sorted(graph[name] - LOWER - SHARED) for name in LOWER} == {name: [] for name in LOWER}


def test_the_runtime_package_imports_its_entry_points_on_first_use_not_with_the_package():
    """An eager `from .loop import execution_run` in __init__ would close a circle through every business module
    that imports the lower half (approvals → runtime → loop → run → approvals)."""
    graph = _graph()
    assert graph["runtime"] == set()
    assert _cycle({**graph, "runtime": {"runtime.loop"}})  # what the circle check would say to an eager import
    assert {name: getattr(runtime, name).__module__ for name in runtime.ENTRY_POINTS} == {
        name: f"executions.runtime.{module}" for name, module in runtime.ENTRY_POINTS.items()
    }


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
        "from executions.runtime.broker import task\n"
        "print(task('executions.tasks.run_execution').name, task('executions.tasks.deliver_outbox').name)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "faos.settings"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent, env=env)
    assert done.stdout.split() == ["executions.tasks.run_execution", "executions.tasks.deliver_outbox"], done.stderr
