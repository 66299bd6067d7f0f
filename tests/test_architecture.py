"""The layering the project depends on: layers <- gis_app <- routing <- field_api, never back,
and an optimizer that knows nothing of Django."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["layers", "gis_app", "routing", "field_api"]


def imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(ORDER)


@pytest.mark.parametrize("app", ORDER)
def test_an_app_imports_only_apps_below_it(app):
    allowed = set(ORDER[: ORDER.index(app) + 1])
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_apps(path) - allowed)
        for path in (ROOT / app).rglob("*.py")
        if imported_apps(path) - allowed
    }
    assert offenders == {}


def test_the_optimizer_runs_without_django():
    code = (
        "import sys; import routing.problem, routing.solver, routing.evaluation.solomon; "
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- the shape of the code: no cycles, imports at the top, parts short enough to read ----------------------

PACKAGES = ORDER
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    found = {}
    for app in PACKAGES:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules `name` imports anywhere in its file, functions included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            # `import a.b.c` depends on a.b.c (and Python loads a and a.b first: packages count too).
            parts = target.split(".")
            out |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & known
    out.discard(name)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert _cycles(graph) == [["a.x", "a.y", "a.z"]]


@pytest.mark.parametrize("app", PACKAGES)
def test_no_import_cycle_inside_an_app(app):
    modules = _modules()
    known = set(modules)
    # A package's __init__ re-exports its parts: the edge from a part up to its own package is not a cycle
    # Python has to resolve at import time (the package is already half-loaded when the part runs).
    graph = {
        name: {d for d in _imports(name, path, known) if d.split(".")[0] == app and not name.startswith(d + ".")}
        for name, path in modules.items()
        if name.split(".")[0] == app
    }
    assert _cycles(graph) == []


def _function_imports(path: Path) -> list[tuple[int, str]]:
    """Imports inside a function with no comment on their line or the line above saying why."""
    lines = path.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(lines))
    unexplained = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Import | ast.ImportFrom):
                here, above = lines[node.lineno - 1], lines[node.lineno - 2] if node.lineno > 1 else ""
                if "#" not in here and not above.strip().startswith("#"):
                    unexplained.append((node.lineno, here.strip()))
    return unexplained


def test_imports_sit_at_the_top_unless_a_comment_says_why():
    offenders = {
        f"{path.relative_to(ROOT)}:{line}": text
        for path in _modules().values()
        for line, text in _function_imports(path)
    }
    assert offenders == {}


def _long_parts(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = []
    if len(text.splitlines()) > MAX_MODULE_LINES:
        found.append(f"module of {len(text.splitlines())} lines")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{node.name}() of {length} lines")
    return found


def test_no_module_or_function_is_too_long_to_read_at_one_sitting():
    offenders = {str(path.relative_to(ROOT)): parts for path in _modules().values() if (parts := _long_parts(path))}
    assert offenders == {}


def test_the_readme_names_each_package_and_its_job():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout") :]
    for package in [*PACKAGES, "gis_app/citydata", "fixtures", "tests", "benchmarks", "scripts"]:
        assert f"`{package}/`" in layout, package
