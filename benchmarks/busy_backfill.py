"""A backfill of one busy tenant's calls and transcripts (issue 15: 5,000-8,200 calls a day hung).

    .venv/bin/python -m benchmarks.busy_backfill [--calls-per-day 5000] [--days 10]
        [--detail-processes 2] [--detail-concurrency 8]

Runs `retell_calls` + `retell_call_tables`' transcripts for the days as one single-run range, against
the simulator in its own process (the small benchmark world, `calls_per_day` raised), and prints the
wall time, the CPU of the sync process and of its detail helpers, the peak memory of both (VmHWM,
the helpers' added as if all peaked at once) and the rows written; `--json` prints it as one JSON line. Run it under
`timeout`: a hang shows as no output.
"""

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def main() -> None:
    from benchmarks import run as bench

    parser = argparse.ArgumentParser()
    parser.add_argument("--calls-per-day", type=int, default=5000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--detail-processes", type=int, default=2)
    parser.add_argument("--detail-concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="askpro-busy-"))
    tenants_file, overrides = bench.bench_tenant("small", tmp)
    overrides[bench.SLUG]["calls_per_day"] = args.calls_per_day
    os.environ.pop("DAGSTER_HOME", None)
    os.environ["ASKPRO_WAREHOUSE_URL"] = f"sqlite:///{tmp / 'busy.db'}"
    from dagster import DagsterInstance

    from askpro_pipelines.sync import run_sync
    from askpro_pipelines.tenants import load_tenants
    from benchmarks.sim_server import SimulatorProcess

    retell = {"detail_processes": args.detail_processes, "detail_concurrency": args.detail_concurrency}
    with SimulatorProcess(tenants_file, overrides):  # reaped at the end: its CPU is not the helpers'
        started, cpu, helpers = time.perf_counter(), time.process_time(), bench._reaped_children_cpu_s()
        with bench.HelperPeaks() as peaks:
            report = run_sync(load_tenants(), select=["retell_calls", "retell_call_transcripts"], days=args.days,
                              until=bench.UNTIL, instance=DagsterInstance.ephemeral(),
                              run_config={"resources": {"retell": {"config": retell}}})  # fmt: skip
        wall, cpu, helpers = (
            time.perf_counter() - started,
            time.process_time() - cpu,
            bench._reaped_children_cpu_s() - helpers,
        )
    rows = {table.table: table.rows for tenant in report.tenants for table in tenant.tables}
    errors = [error.splitlines()[0] for tenant in report.tenants for error in tenant.errors]
    own, helper_peaks = bench._vm_hwm_mb(), sorted(peaks.peaks.values())
    if args.json:
        print(json.dumps({"calls_per_day": args.calls_per_day, "days": args.days, "seconds": wall, "cpu_s": cpu,
                          "helpers_cpu_s": helpers, "peak_mb": own + sum(helper_peaks), "own_peak_mb": own,
                          "helpers_peak_mb": helper_peaks, "success": report.success, "rows": rows, "errors": errors}))  # fmt: skip
        return
    print(f"{args.days} days x {args.calls_per_day} calls/day ({retell}): {wall:.1f} s, sync process CPU "
          f"{cpu:.1f} s, helpers' CPU {helpers:.1f} s, peak RSS {own + sum(helper_peaks):.0f} MB = {own:.0f} + "
          f"helpers {' + '.join(f'{h:.0f}' for h in helper_peaks) or '-'}, "
          f"success {report.success}; rows {rows} {errors}")  # fmt: skip


if __name__ == "__main__":
    main()
