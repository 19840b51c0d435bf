"""The production package never imports the simulator, and neither package has an import cycle.

Static: every module's imports, read with `ast` (top level, inside functions, under
TYPE_CHECKING). Dynamic: importing the code location and the CLI loads no simulator module.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("askpro_pipelines", "askpro_simulator")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((ROOT / package).rglob("*.py"))}


def _imported(module: str, path: Path) -> set[str]:
    """Every module name an `import` or `from ... import` anywhere in the file names."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names.add(target)
            # `from pkg import sub` may import the submodule pkg.sub
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def _internal_edges(package: str) -> dict[str, set[str]]:
    """module -> the package's modules it imports (resolved to modules that exist)."""
    modules = _modules(package)
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name in _imported(module, path):
            # the longest existing module that the name is or lies in
            parts = name.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            if parts and ".".join(parts) != module:
                targets.add(".".join(parts))
        edges[module] = targets
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path, or None; a package's own __init__ importing its submodules is
    not a cycle back into the package (Python loads the package before its submodules)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if node.startswith(target + "."):
                continue  # a submodule importing its parent package's __init__
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_production_package_never_imports_the_simulator_statically():
    offenders = [
        f"{module} imports {name}"
        for module, path in _modules("askpro_pipelines").items()
        for name in sorted(_imported(module, path))
        if name == "askpro_simulator" or name.startswith("askpro_simulator.")
    ]
    assert offenders == []


def test_the_static_check_sees_lazy_and_type_checking_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from askpro_simulator.server import Simulator\n"
        "def later():\n    import askpro_simulator.world\n    from askpro_simulator import demo\n"
    )
    names = _imported("probe", probe)
    assert {"askpro_simulator.server", "askpro_simulator.world", "askpro_simulator.demo"} <= names


def test_loading_the_code_location_and_the_cli_loads_no_simulator_module():
    code = (
        "import sys\n"
        "import askpro_pipelines.definitions, askpro_pipelines.cli, askpro_pipelines.sync\n"
        "print(sorted(m for m in sys.modules if m == 'askpro_simulator' or m.startswith('askpro_simulator.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "ASKPRO_ENV": "demo"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package):
    edges = _internal_edges(package)
    assert len(edges) > 5  # the walk found the package's modules
    assert _cycle(edges) is None, " -> ".join(_cycle(edges) or [])


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}}) == ["p.a", "p.b", "p.c", "p.a"]
    assert _cycle({"p": {"p.a"}, "p.a": {"p"}}) is None


def test_simulator_modules_stay_small_unless_they_say_why():
    too_long = []
    for module, path in _modules("askpro_simulator").items():
        lines = path.read_text("utf-8").splitlines()
        if len(lines) > 600 and "longer than" not in "\n".join(lines[:15]):
            too_long.append(f"{module}: {len(lines)} lines")
    assert too_long == []
