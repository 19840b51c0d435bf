"""cProfile of one warm full sync of the benchmark tenant (figure 1), to see where time goes beyond the fetch floor.

    .venv/bin/python -m benchmarks.profile_sync [--size small|large] [--days N] [--top 35]
"""

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def main() -> None:
    from benchmarks import run as bench

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="large", choices=list(bench.SIZES))
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    s = bench.SIZES[args.size]
    days = args.days or s["days"]
    tmp = Path(tempfile.mkdtemp(prefix="askpro-prof-"))
    (tmp / "tenants.yaml").write_text(bench.TENANTS_YAML, encoding="utf-8")
    os.environ["ASKPRO_TENANTS_FILE"] = str(tmp / "tenants.yaml")
    os.environ.pop("DAGSTER_HOME", None)
    from dagster import DagsterInstance

    from askpro_pipelines.sync import simulator_for
    from askpro_pipelines.tenants import load_tenants

    config = load_tenants()
    phones = [bench.BRANCH_NUMBER] + [f"+49307{n:08d}" for n in range(2, s["phones"] + 1)]
    overrides = {bench.SLUG: dict(event_types=s["event_types"], staff=s["staff"], agents=s["agents"], phone_numbers=phones,
                                  calls_per_day=s["calls_per_day"], bookings_per_day=s["bookings_per_day"])}  # fmt: skip
    with simulator_for(config, spec_overrides=overrides):
        bench.timed_sync(config, f"sqlite:///{tmp / 'warm.db'}", DagsterInstance.ephemeral(), days)  # warm the simulator
        profiler = cProfile.Profile()
        profiler.enable()
        seconds, _ = bench.timed_sync(config, f"sqlite:///{tmp / 'main.db'}", DagsterInstance.ephemeral(), days)
        profiler.disable()
    print(f"profiled full sync: {seconds:.1f} s (includes the simulator thread's share of the GIL)")
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
