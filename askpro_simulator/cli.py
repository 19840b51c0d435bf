"""`askpro-demo`: the demo's command line (also `python -m askpro_simulator`).

    askpro-demo sync [askpro sync options]       start the simulator, point the tenants at it, sync
    askpro-demo backfill [askpro backfill options]   the same for a day range
    askpro-demo serve [--port N] [--seed N]      serve the tenants until Ctrl-C, print what to export

The production command `askpro` never starts the simulator; this one never talks to a real API:
it refuses when a tenant's API key variable already holds a key.
"""

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

from askpro_pipelines import cli as askpro_cli
from askpro_pipelines.deployment import ConfigurationError, refuse_demo_in_production
from askpro_pipelines.tenants import SIMULATOR_URL_ENV, TENANTS_FILE_ENV, TenantsConfig, load_tenants
from askpro_simulator.demo import DEMO_BUDGETS, simulator_for


def _demo_tenants(tenants_file: str | None) -> TenantsConfig:
    """The tenants to serve, refusing when one already has an API key of its own."""
    refuse_demo_in_production()
    if tenants_file:
        os.environ[TENANTS_FILE_ENV] = tenants_file
    environ = {k: v for k, v in os.environ.items() if k != SIMULATOR_URL_ENV}
    config = load_tenants(environ=environ)
    for tenant in config.tenants:
        for name in tenant.api_key_env_names():
            if os.environ.get(name):
                raise ConfigurationError(
                    f"tenant {tenant.slug}: {name} is set; the demo never sends a real key to the simulator "
                    f"(unset it, or run `askpro sync` against the real APIs)"
                )
    return config


def _run(command: str, argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"askpro-demo {command}", add_help=False, allow_abbrev=False)
    parser.add_argument("--tenants-file")
    parser.add_argument("--seed", type=int, default=42)
    known, rest = parser.parse_known_args(argv)
    config = _demo_tenants(known.tenants_file)
    with simulator_for(config, seed=known.seed) as simulator:
        print(f"DEMO: serving {len(config.tenants)} tenant(s) from the bundled simulator at {simulator.base_url}")
        return askpro_cli.main([command, *rest])


def _serve(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="askpro-demo serve", description="serve the tenants until Ctrl-C")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free port)")
    parser.add_argument("--seed", type=int, default=42, help="world seed (default 42)")
    parser.add_argument("--tenants-file", metavar="PATH", help=f"tenants YAML (default: ${TENANTS_FILE_ENV}, else the demo file)")
    args = parser.parse_args(argv)
    config = _demo_tenants(args.tenants_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # a process manager stops it as Ctrl-C does
    with simulator_for(config, seed=args.seed, port=args.port) as simulator:
        print(f"DEMO: simulator serving {len(config.tenants)} tenant(s) at {simulator.base_url}")
        print("to point Dagster at it, export:")
        print(f"  export {SIMULATOR_URL_ENV}={simulator.base_url}")
        for tenant in config.tenants:
            # Only the simulator's own demo keys, which simulator_for just set; never a real secret.
            for name in tenant.api_key_env_names():
                print(f"  export {name}={os.environ[name]}")
        for name in DEMO_BUDGETS:  # the demo's request budgets (simulator_for set them unless already set)
            print(f"  export {name}={os.environ[name]}")
        print("faults: POST/DELETE /_sim/faults; Ctrl-C stops it.", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `askpro-demo`; exit 2 on a refused configuration."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"} or args[0] not in {"sync", "backfill", "serve"}:
        print(__doc__, file=sys.stderr if args and args[0] not in {"-h", "--help"} else sys.stdout)
        return 0 if args and args[0] in {"-h", "--help"} else 2
    try:
        if args[0] == "serve":
            return _serve(args[1:])
        return _run(args[0], args[1:])
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
