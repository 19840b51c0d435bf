"""Figure 7 of benchmarks.run: memory in volume, a 30-day backfill of about 20,000 and 200,000 calls."""

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

# calls_per_day is the simulator's weekday mean (weekends carry fewer): these give ≈20,000 and
# ≈200,000 calls over 30 days (the counts actually written are reported).
VOLUME_CALLS_PER_DAY = {"20k": 830, "200k": 8300}


def volume_in_child(calls_per_day: int, root: Path, days: int = 30, timeout_s: int = 1800) -> dict:
    """A 30-day backfill of calls and transcripts of one busy tenant (benchmarks.busy_backfill, its own
    process and simulator, SQLite): peak memory of the run's process and its helpers."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.busy_backfill", "--calls-per-day", str(calls_per_day), "--days", str(days), "--json"],
        cwd=root, capture_output=True, text=True, timeout=timeout_s,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"volume backfill failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def volume_rows(volume: dict, verdict: Callable[[bool], str]) -> list[tuple]:
    rows = []
    for v in volume.values():
        calls = v["rows"].get("retell_calls", 0)
        helpers = " + ".join(f"{h:.0f}" for h in v["helpers_peak_mb"]) or "-"
        rows.append((f"7 backfill 30 days, {calls:,} calls [sqlite]",
                     f"{v['seconds']:.0f} s; peak RSS {v['peak_mb']:.0f} MB = {v['own_peak_mb']:.0f} + helpers {helpers}",
                     "≤300 MB, all processes", f"{v['peak_mb'] / 300:.2f}× of target", verdict(v["peak_mb"] <= 300 and v["success"])))  # fmt: skip
    if len(volume) == 2:
        small, large = (volume[k] for k in VOLUME_CALLS_PER_DAY)
        growth = large["peak_mb"] / small["peak_mb"]
        rows.append(("7 memory growth ×10 calls [sqlite]", f"{large['peak_mb'] - small['peak_mb']:+.0f} MB",
                     "≤20 % more", f"{growth:.2f}×", verdict(growth <= 1.2)))  # fmt: skip
    return rows
