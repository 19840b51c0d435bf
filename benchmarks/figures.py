"""Figure modules beside the built-in figures of benchmarks.run, so a new figure is a module of its own.

A figure module (listed in `FIGURE_MODULES`) has:

- `SKIP_NAME: str` — the word of `--skip` that leaves it out;
- `measure(ctx: FigureContext) -> dict` — run once per backend while the benchmark's simulator process is
  up; the dict lands in results.json under the backend's `figures[<module name>]`;
- `rows(backend: str, result: dict) -> list[tuple[str, str, str, str, str]]` — its table rows
  (figure, measured, floor/target, ratio, verdict), printed and written to RESULTS.md after the built-in ones.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

# Add a module's dotted name here to have `benchmarks.run` measure it and report its rows.
FIGURE_MODULES: tuple[str, ...] = ("benchmarks.freshness", "benchmarks.fleet")


@dataclass(frozen=True)
class FigureContext:
    """What one backend's run offers a figure module."""

    backend: str  # sqlite | postgres
    size: str  # small | large
    days: int
    tmp: Path  # scratch directory of this backend's run, removed afterwards
    tenants_file: Path  # the benchmark tenant (its key variables are set in os.environ)
    spec_overrides: dict  # the simulator's spec overrides (sim_server.build_world rebuilds the same world)
    simulator_url: str
    new_database: Callable[[str], str]  # label -> URL of a fresh scratch database, dropped at the end
    skip: frozenset[str] = field(default_factory=frozenset)


def figure_modules(skip: set[str] | frozenset[str]) -> list[tuple[str, ModuleType]]:
    """The registered figure modules not left out by `--skip`."""
    modules = [(name, importlib.import_module(name)) for name in FIGURE_MODULES]
    return [(name, module) for name, module in modules if module.SKIP_NAME not in skip]


def figure_rows(backend: str, figures: dict) -> list[tuple]:
    """The table rows of the figure modules measured for one backend."""
    return [row for name, result in figures.items() for row in importlib.import_module(name).rows(backend, result)]


def measure_on_scratch_postgres(prefix: str, measure: Callable[[Path, Callable[[str], str]], dict]) -> dict:
    """A figure module's measurement run alone (its own `main`): a scratch directory and scratch PostgreSQL
    databases, both removed afterwards."""
    import tempfile

    from benchmarks.run import ScratchDatabases

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        dbs = ScratchDatabases("postgres", Path(tmp))
        try:
            return measure(Path(tmp), dbs.new)
        finally:
            dbs.drop_all()
