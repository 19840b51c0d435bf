"""Per-step timings of warm full syncs of the benchmark tenant, from each run's event log.

    .venv/bin/python -m benchmarks.step_times [--size small|large] [--days N] [--repeat 1]
        [--detail-processes 2] [--detail-concurrency 8]

Shows which steps the wall time goes to (the "serial" and "helper" phases in RESULTS.md) and lets the
Retell detail settings be compared on the same simulator process.
"""

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def main() -> None:
    from benchmarks import run as bench

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="large", choices=list(bench.SIZES))
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--detail-processes", type=int, default=2)
    parser.add_argument("--detail-concurrency", type=int, default=8)
    parser.add_argument("--min-step-s", type=float, default=0.05, help="list steps at least this long")
    parser.add_argument("--second", action="store_true", help="also time a second sync, nothing changed (figure 3)")
    args = parser.parse_args()
    days = args.days or bench.SIZES[args.size]["days"]
    tmp = Path(tempfile.mkdtemp(prefix="askpro-steps-"))
    tenants_file, overrides = bench.bench_tenant(args.size, tmp)
    os.environ.pop("DAGSTER_HOME", None)
    from dagster import DagsterInstance

    from askpro_pipelines.sync import run_sync
    from askpro_pipelines.tenants import load_tenants
    from benchmarks.sim_server import SimulatorProcess

    retell = {"detail_processes": args.detail_processes, "detail_concurrency": args.detail_concurrency}
    with SimulatorProcess(tenants_file, overrides):
        config = load_tenants()
        bench.timed_sync(
            config, f"sqlite:///{tmp / 'warm.db'}", DagsterInstance.ephemeral(), days
        )  # warm the simulator
        for attempt in range(args.repeat):
            instance = DagsterInstance.ephemeral()
            os.environ["ASKPRO_WAREHOUSE_URL"] = f"sqlite:///{tmp / f'main{attempt}.db'}"
            shown: set[str] = set()
            for label in ("full", "second") if args.second else ("full",):
                started, cpu, helpers = time.perf_counter(), time.process_time(), bench._reaped_children_cpu_s()
                run_sync(
                    config,
                    days=days,
                    until=bench.UNTIL,
                    instance=instance,
                    run_config={"resources": {"retell": {"config": retell}}},
                )
                print(f"{label} sync {time.perf_counter() - started:.2f} s, sync process CPU {time.process_time() - cpu:.2f} s, "
                      f"helpers' CPU {bench._reaped_children_cpu_s() - helpers:.2f} s ({retell})")  # fmt: skip
                print_steps(instance, shown, args.min_step_s)


def print_steps(instance, shown: set[str], min_step_s: float) -> None:
    """Each run not shown yet: its wall time and its steps of at least `min_step_s`."""
    from dagster import DagsterEventType

    for run in reversed(instance.get_runs()):
        if run.run_id in shown:
            continue
        shown.add(run.run_id)
        logs = instance.all_logs(run.run_id)
        first, last = logs[0].timestamp, logs[-1].timestamp
        print(f"  {run.job_name}: {last - first:.2f} s")
        begun: dict[str, float] = {}
        for entry in logs:
            if not entry.is_dagster_event:
                continue
            kind = entry.dagster_event.event_type
            if kind == DagsterEventType.STEP_START:
                begun[entry.step_key] = entry.timestamp
            elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                took = entry.timestamp - begun[entry.step_key]
                if took >= min_step_s:
                    print(f"    at {begun[entry.step_key] - first:5.2f} s  {took:5.2f} s  {entry.step_key}")


if __name__ == "__main__":
    main()
