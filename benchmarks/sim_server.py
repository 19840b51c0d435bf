"""The benchmark's simulator in its own process: `python -m benchmarks.sim_server --tenants-file F --spec-overrides JSON`.

Builds `Simulator(SimulatorConfig)` exactly as `askpro_simulator.demo.simulator_for(config, seed,
spec_overrides=...)` does (`config_from_tenants` of the tenants file, then the per-slug overrides),
serves it on `--port` (0 = any free port), prints ONE JSON line on stdout
`{"url": ..., "env": {VAR: value, ...}}` (the base URL and the key variables `simulator_for` would set)
and serves until SIGTERM/SIGINT, or until its stdin reaches EOF (the parent died), then stops.

The parent side is `SimulatorProcess` below (used by benchmarks/run.py): it starts this module, sets
the environment from that line (incl. ASKPRO_SIMULATOR_URL), and always terminates the child.
So the server and the sync no longer share one GIL: on 2 cores each gets its own.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parent.parent


def _sim_config(tenants_file: str, seed: int, overrides: dict):
    from askpro_pipelines.tenants import load_tenants
    from askpro_simulator.demo import demo_keys, sim_config_for

    config = load_tenants(tenants_file)
    sim_config = sim_config_for(config, seed, overrides)
    return sim_config, demo_keys(config, sim_config)


def build_world(tenants_file: str, overrides: dict, seed: int = 42):
    """The same (deterministic) world the child serves, for callers that need it locally (webhook deliveries)."""
    from askpro_simulator.world import build_world as _build

    return _build(_sim_config(tenants_file, seed, overrides)[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim_server", description=__doc__.splitlines()[0])
    parser.add_argument("--tenants-file", required=True)
    parser.add_argument("--spec-overrides", default="{}", help="JSON {slug: {SimTenantSpec field: value}}")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    from askpro_pipelines.tenants import SIMULATOR_URL_ENV
    from askpro_simulator.demo import demo_budgets
    from askpro_simulator.server import Simulator

    sim_config, env = _sim_config(args.tenants_file, args.seed, json.loads(args.spec_overrides))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def watch_stdin() -> None:  # the parent holds our stdin: EOF means it is gone
        try:  # os.read, not sys.stdin: a daemon thread inside a buffered read aborts interpreter shutdown
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    simulator = Simulator(sim_config, host=args.host, port=args.port)
    url = simulator.start()
    try:
        env = {**env, SIMULATOR_URL_ENV: url, **demo_budgets()}  # the demo's request budgets, as simulator_for
        print(json.dumps({"url": url, "env": env, "pid": os.getpid()}), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
    return 0


class SimulatorProcess:
    """Parent side: start the simulator child, point the environment at it, always stop it on exit."""

    def __init__(self, tenants_file: Path, spec_overrides: dict, seed: int = 42, python: str = sys.executable,
                 start_timeout_s: float = 120.0):  # fmt: skip
        self.args = [python, "-m", "benchmarks.sim_server", "--tenants-file", str(tenants_file),
                     "--spec-overrides", json.dumps(spec_overrides), "--seed", str(seed)]  # fmt: skip
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.env: dict[str, str] = {}
        self._saved: dict[str, str | None] = {}

    def __enter__(self) -> Self:
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )  # fmt: skip
        try:
            line = self._first_line()
            info = json.loads(line)
        except BaseException:
            self._stop()
            raise
        self.url, self.env = info["url"], info["env"]
        self._saved = {name: os.environ.get(name) for name in self.env}
        os.environ.update(self.env)
        return self

    def _first_line(self) -> str:
        deadline = time.monotonic() + self.start_timeout_s
        fd = self.process.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"simulator process did not report its URL within {self.start_timeout_s:.0f} s")
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError(f"simulator process exited during start-up (rc {self.process.wait()})")
                buf += chunk
            elif self.process.poll() is not None:
                raise RuntimeError(f"simulator process exited during start-up (rc {self.process.returncode})")
        return buf.split(b"\n", 1)[0].decode()

    def _stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.process = None

    def __exit__(self, *exc_info) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved = {}
        self._stop()


if __name__ == "__main__":
    sys.exit(main())
