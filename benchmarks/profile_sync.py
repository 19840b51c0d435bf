"""Profile one warm full sync of the benchmark tenant (figure 1), to see where time goes beyond the fetch floor.

    .venv/bin/python -m benchmarks.profile_sync [--size small|large] [--days N] [--top 35] [--py-spy PATH]

cProfile sees only the main thread (the Retell detail fetches run on worker threads and show up as lock
waits); with `--py-spy PATH` py-spy samples whichever thread holds the GIL (`--gil`), i.e. where this process spends its CPU, and prints the functions
holding the most samples, plus the collapsed stacks in `--out` (default /tmp/askpro-sync.pyspy).
"""

import argparse
import cProfile
import io
import os
import pstats
import signal
import subprocess
import tempfile
import warnings
from collections import Counter
from pathlib import Path

warnings.filterwarnings("ignore")


def main() -> None:
    from benchmarks import run as bench

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="large", choices=list(bench.SIZES))
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument(
        "--py-spy", dest="py_spy", default=None, help="path to py-spy: sample whichever thread holds the GIL"
    )
    parser.add_argument("--out", default="/tmp/askpro-sync.pyspy", help="collapsed stacks written by py-spy")
    parser.add_argument(
        "--second", action="store_true", help="profile a second sync into the warm-up's database (figure 3)"
    )
    args = parser.parse_args()
    days = args.days or bench.SIZES[args.size]["days"]
    tmp = Path(tempfile.mkdtemp(prefix="askpro-prof-"))
    tenants_file, overrides = bench.bench_tenant(args.size, tmp)
    os.environ.pop("DAGSTER_HOME", None)
    from dagster import DagsterInstance

    from askpro_pipelines.tenants import load_tenants
    from benchmarks.sim_server import SimulatorProcess

    # The simulator in its own process, as in benchmarks.run: the profile holds only the sync's own frames.
    with SimulatorProcess(tenants_file, overrides):
        config = load_tenants()
        warm_instance = DagsterInstance.ephemeral()
        bench.timed_sync(config, f"sqlite:///{tmp / 'warm.db'}", warm_instance, days)  # warm the simulator
        # The profiled sync: a full one into a fresh database, or (--second) the same again, nothing changed.
        target = (f"sqlite:///{tmp / 'warm.db'}", warm_instance) if args.second else None
        if args.py_spy:
            spy = subprocess.Popen([args.py_spy, "record", "--pid", str(os.getpid()), "--rate", "250", "--format", "raw",
                                    "--output", args.out, "--gil", "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            seconds, _ = bench.timed_sync(
                config, *(target or (f"sqlite:///{tmp / 'main.db'}", DagsterInstance.ephemeral())), days
            )
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        else:
            profiler = cProfile.Profile()
            profiler.enable()
            seconds, _ = bench.timed_sync(
                config, *(target or (f"sqlite:///{tmp / 'main.db'}", DagsterInstance.ephemeral())), days
            )
            profiler.disable()
    print(f"profiled {'second' if args.second else 'full'} sync: {seconds:.1f} s (simulator in its own process)")
    if args.py_spy:
        print_collapsed(Path(args.out), args.top)
        return
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(args.top)
        print(out.getvalue())


def print_collapsed(path: Path, top: int) -> None:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks (all threads)."""
    own, inclusive, total = Counter(), Counter(), 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] for f in stack.split(";")[1:]
        ]
        n = int(count)
        total += n
        if frames:
            own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    for title, counts in (("self", own), ("inclusive", inclusive)):
        print(f"\n{title} samples ({total} in all)")
        for frame, n in counts.most_common(top):
            print(f"{100 * n / total:6.1f}%  {frame}")


if __name__ == "__main__":
    main()
