"""Dependencies: requirements.txt is what production runs, pinned; requirements-dev.txt adds the tools."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
DEV_TOOLS = {"pytest", "pytest-django", "pytest-env", "pytest-xdist", "factory-boy", "hypothesis", "time-machine"}
DEV_TOOLS |= {"playwright"}
DEV_TOOLS |= {"ruff", "schemathesis"}
NOT_APP_CODE = {"tests", "bench", ".venv", "var", "node_modules"}


def requirements(name: str) -> tuple[list[str], list[Requirement]]:
    """The file's include lines (`-r …`) and its requirements, comments left out."""
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / name).read_text().splitlines()]
    includes = [line for line in lines if line.startswith("-")]
    return includes, [Requirement(line) for line in lines if line and not line.startswith("-")]


def names(reqs: list[Requirement]) -> set[str]:
    return {canonicalize_name(req.name) for req in reqs}


def closure(reqs: list[Requirement]) -> set[str]:
    """Every distribution these requirements install (with their extras), as installed here."""
    seen: set[str] = set()
    todo = [(req.name, set(req.extras)) for req in reqs]
    while todo:
        name, extras = todo.pop()
        if canonicalize_name(name) in seen:
            continue
        seen.add(canonicalize_name(name))
        for line in metadata.requires(name) or []:
            dep = Requirement(line)
            if dep.marker is None or any(dep.marker.evaluate({"extra": extra}) for extra in extras or {""}):
                todo.append((dep.name, set(dep.extras)))
    return seen


def app_imports() -> set[str]:
    """Top-level modules imported by the code production runs (not tests or benchmarks)."""
    files = [ROOT / "manage.py", ROOT / "gunicorn.conf.py"]
    for package in ROOT.iterdir():
        if package.name not in NOT_APP_CODE and (package / "__init__.py").is_file():
            files += package.rglob("*.py")
    modules = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules


def test_runtime_requirements_hold_no_test_tools():
    includes, runtime = requirements("requirements.txt")
    assert includes == [] and runtime
    assert all(len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==" for req in runtime), "pin all"
    assert not names(runtime) & DEV_TOOLS, "test and development tools belong in requirements-dev.txt"
    assert {"gunicorn", "whitenoise", "redis"} <= names(runtime)

    dev_includes, dev = requirements("requirements-dev.txt")
    first = next(line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if line.strip()[:1] != "#")
    assert first == "-r requirements.txt" and dev_includes == [first]
    assert all(str(next(iter(req.specifier))).startswith("==") for req in dev)
    assert names(dev) >= DEV_TOOLS and not names(dev) & names(runtime)


def test_every_package_the_app_imports_is_installed_by_the_runtime_requirements():
    installed = closure(requirements("requirements.txt")[1])
    by_module = metadata.packages_distributions()
    missing = {
        module: by_module[module]
        for module in app_imports()
        if module in by_module and module not in sys.stdlib_module_names
        if not {canonicalize_name(dist) for dist in by_module[module]} & installed
    }
    assert not missing, f"imported by the app but not in requirements.txt: {missing}"


def test_make_test_installs_the_dev_requirements_and_make_run_only_the_runtime_ones():
    def planned(target: str) -> str:
        result = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    for target in ("test", "lint"):
        assert re.search(r"pip install .*-r requirements-dev\.txt", planned(target)), target
    for target in ("run", "setup"):
        plan = planned(target)
        assert "-r requirements.txt" in plan and "requirements-dev.txt" not in plan, target
