"""`python -m askpro_pipelines.simulator`: serve the demo tenants until Ctrl-C.

Useful for pointing a separately started pipeline (ASKPRO_SIMULATOR_URL) or curl at the fake
APIs; faults can be injected with POST /_sim/faults.
"""

import argparse
import signal
import threading

from askpro_pipelines.simulator.server import Simulator
from askpro_pipelines.simulator.world import demo_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m askpro_pipelines.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free port)")
    parser.add_argument("--seed", type=int, default=42, help="world seed (default 42)")
    args = parser.parse_args(argv)

    simulator = Simulator(demo_config(seed=args.seed), host=args.host, port=args.port)
    stop_requested = threading.Event()
    # SIGTERM (e.g. from a process manager) stops as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    url = simulator.start()
    try:
        print(f"simulator serving at {url}")
        print(f"  Cal.com base URL {simulator.calcom_base_url}, Retell base URL {simulator.retell_base_url}")
        for tenant in simulator.world.tenants.values():
            print(
                f"  {tenant.slug}: calcom key {tenant.spec.calcom_key}  retell key {tenant.spec.retell_key}  "
                f"org {tenant.organization.id}  team {tenant.team.id}  "
                f"event types {', '.join(str(et.id) for et in tenant.event_types)}"
            )
        print("faults: POST/DELETE /_sim/faults; Ctrl-C to stop", flush=True)
        while not stop_requested.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
