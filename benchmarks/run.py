"""The benchmark: one run, one machine, one data set; prints figure | measured | floor/target | ratio | verdict.

    .venv/bin/python -m benchmarks.run [--backend sqlite|postgres|both] [--size small|large] [--days N]

See benchmarks/README.md for what each figure measures and how its floor is taken.
Longer than 600 lines because each figure's set-up, measurement and floor read best side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import pickle
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from benchmarks.figures import FigureContext, figure_modules, figure_rows
from benchmarks.process_cpu import machine_busy_s, process_table
from benchmarks.volume import VOLUME_CALLS_PER_DAY, volume_in_child, volume_rows

warnings.filterwarnings("ignore")  # Dagster preview/beta warnings; the figures are what this prints
os.environ.setdefault("PYTHONWARNINGS", "ignore")
# The benchmark's days are fixed (UNTIL); fact partitions must reach back to them whatever today is.
os.environ.setdefault("ASKPRO_FACTS_START_DATE", "2026-01-01")

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PY = sys.executable
SLUG = "bench-large"
BRANCH_NUMBER = "+4930700000001"
UNTIL = dt.date(2026, 9, 14)  # a fixed day of the simulator's activity year: same data every run
DETAIL_PATHS = ("/v2/get-call/", "/get-retell-llm/", "/get-agent/", "/get-agent-versions/", "/list-agent-versions/")
FLOOR_PROCESSES, FLOOR_THREADS = 2, 4  # the retell resource's defaults: 2 helpers, 8 requests in flight
PG_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")

# "30 days x 7,000 calls and x 3,000 bookings": read as 7,000 calls and 3,000 bookings over the 30 days;
# 3,000 / 30 = 100 bookings a day is exactly the simulator's per-day cap. Weekdays carry the mean,
# weekends less, so the counts actually synced are printed with the results.
SIZES = {
    "large": dict(event_types=5000, staff=2000, schedules_per_staff=1, agents=1000, phones=2000,
                  calls_per_day=260, bookings_per_day=100, days=30, webhook_events=20000, concurrency=16),
    "small": dict(event_types=300, staff=100, schedules_per_staff=1, agents=40, phones=100,
                  calls_per_day=60, bookings_per_day=20, days=5, webhook_events=3000, concurrency=16),
}  # fmt: skip

TENANTS_YAML = f"""\
tenants:
  - slug: {SLUG}
    name: Benchmark Praxis Groß
    timezone: Europe/Berlin
    calcom:
      api_version: v2
      api_key_env: BENCH_CALCOM_API_KEY
      webhook_secret_env: BENCH_CALCOM_WEBHOOK_SECRET
    retell:
      api_key_env: BENCH_RETELL_API_KEY
    branches:
      - id: hauptstelle
        name: Hauptstelle
        calcom_event_type_id: 5001
        phone_numbers: ["{BRANCH_NUMBER}"]
"""
WEBHOOK_SECRET = "whsec-bench-0123456789"
# Receiver processes (`askpro webhooks serve --workers`). On 2 cores shared with PostgreSQL and the load
# generator one process measured best (medians 2,778 vs 2,461 events/s with two, benchmarks/RESULTS.md).
RECEIVER_WORKERS = int(os.environ.get("BENCH_RECEIVER_WORKERS", "1"))
FINDINGS_HEADING = "## Findings, fixes, before/after"


def bench_tenant(size: str, tmp: Path) -> tuple[Path, dict]:
    """Write the benchmark's tenants file into `tmp` and point ASKPRO_TENANTS_FILE at it; returns the
    file and the simulator's spec overrides for `size` (what `SimulatorProcess` takes)."""
    s = SIZES[size]
    tenants_file = tmp / "tenants.yaml"
    tenants_file.write_text(TENANTS_YAML, encoding="utf-8")
    os.environ["ASKPRO_TENANTS_FILE"] = str(tenants_file)
    phones = [BRANCH_NUMBER] + [f"+49307{n:08d}" for n in range(2, s["phones"] + 1)]
    overrides = {SLUG: dict(event_types=s["event_types"], staff=s["staff"], schedules_per_staff=s["schedules_per_staff"],
                            agents=s["agents"], phone_numbers=phones, calls_per_day=s["calls_per_day"],
                            bookings_per_day=s["bookings_per_day"])}  # fmt: skip
    return tenants_file, overrides


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- databases -------------------------------------------------------------------------------


class ScratchDatabases:
    """SQLite files in a temp dir, or scratch PostgreSQL databases that are dropped at the end."""

    def __init__(self, backend: str, tmp: Path):
        self.backend, self.tmp, self.created, self.n = backend, tmp, [], 0

    def new(self, label: str) -> str:
        self.n += 1
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp / f'{label}-{self.n}.db'}"
        import psycopg2

        name = f"askpro_bench_{os.getpid()}_{label}_{self.n}".replace("-", "_")
        conn = psycopg2.connect(**PG_ADMIN)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
            cur.execute(f"CREATE DATABASE {name}")
        conn.close()
        self.created.append(name)
        return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"

    def drop_all(self) -> None:
        if not self.created:
            return
        import psycopg2

        conn = psycopg2.connect(**PG_ADMIN)
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in self.created:
                cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.close()
        self.created = []


# ---- recording the sync's requests (for the fetch floor) ---------------------------------------


class Recorder:
    """Wraps httpx.Client.send so the requests a sync sends can be replayed by plain httpx.

    Requests sent from helper processes (the Retell detail worker) are recorded by
    `benchmarks/record_hook/sitecustomize.py`, which `recording()` puts on their PYTHONPATH.
    """

    def __init__(self, spool: Path):
        import httpx

        self.requests: list[tuple[str, str, list, bytes]] = []
        self.active = False
        self.spool = spool
        original = httpx.Client.send
        recorder = self

        def send(client, request, **kwargs):
            if recorder.active:
                recorder.requests.append(
                    (request.method, str(request.url), request.headers.multi_items(), request.content)
                )
            return original(client, request, **kwargs)

        httpx.Client.send = send

    @contextmanager
    def recording(self):
        """Record this process's requests and those of helper processes started meanwhile."""
        self.spool.mkdir(parents=True, exist_ok=True)
        saved = {name: os.environ.get(name) for name in ("BENCH_RECORD_DIR", "PYTHONPATH")}
        hook = str(BENCH_DIR / "record_hook")
        os.environ["BENCH_RECORD_DIR"] = str(self.spool)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (hook, saved["PYTHONPATH"]) if p)
        self.active = True
        try:
            yield self
        finally:
            self.active = False
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            for spooled in sorted(self.spool.glob("*.pickle")):
                with spooled.open("rb") as stream:
                    while True:
                        try:
                            self.requests.append(pickle.load(stream))
                        except EOFError:
                            break
                spooled.unlink()

    def replay(self, processes: int = FLOOR_PROCESSES, threads: int = FLOOR_THREADS) -> tuple[float, int, int]:
        """Download the same requests with plain httpx clients: no parsing, no writes, at the sync's
        own concurrency (its listings one after another, its detail requests 8 at a time from two
        helper processes), so the floor is what the same fan-out costs with nothing else to do.

        The recorded listings (POSTs and paged GETs the sync sends in turn) are replayed in turn
        from this process while the detail GETs run beside them, split over `processes` processes
        of `threads` threads: the sync's best case, where no listing waits for a detail.
        """
        listings = [r for r in self.requests if not _is_detail(r[1])]
        details = [r for r in self.requests if _is_detail(r[1])]
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(processes)
        try:
            pool.map_async(_replay_part, [([], 1)] * processes).get(timeout=120)  # started before the clock
            started = time.perf_counter()
            parts = pool.map_async(_replay_part, [(details[i::processes], threads) for i in range(processes)])
            total = _replay_part((listings, 1)) + sum(parts.get(timeout=600))
            seconds = time.perf_counter() - started
        finally:
            _close_pool(pool)
        return seconds, len(self.requests), total


def _close_pool(pool, timeout_s: float = 60) -> None:
    """End a pool's workers without `Pool.terminate`, which can hang for good: it races the pool's own
    thread that replaces workers, then waits for a worker it never signalled (seen here in a quiet run,
    stuck after the first round). Closing lets each worker finish and exit; the join is bounded."""
    pool.close()
    joiner = threading.Thread(target=pool.join, daemon=True)
    joiner.start()
    joiner.join(timeout_s)
    if joiner.is_alive():
        raise TimeoutError(f"fetch-floor workers did not exit within {timeout_s:.0f} s")


def _is_detail(url: str) -> bool:
    return any(part in url for part in DETAIL_PATHS)


def _replay_part(part: tuple[list, int]) -> int:
    """Bytes received for `requests`, `threads` at a time on one shared httpx client."""
    import httpx

    requests, threads = part
    if not requests:
        return 0
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=threads)) as client:

        def fetch(recorded) -> int:
            method, url, headers, content = recorded
            return len(client.request(method, url, headers=headers, content=content).content)

        if threads <= 1:
            return sum(map(fetch, requests))
        with ThreadPoolExecutor(threads) as pool:
            return sum(pool.map(fetch, requests, timeout=600))


# ---- the figures ------------------------------------------------------------------------------


def _written(report) -> dict[str, int]:
    out = Counter()
    for tenant in report.tenants:
        for table in tenant.tables:
            out["rows"] += table.rows
            out["inserted"] += table.inserted
            out["updated"] += table.updated
            out["deleted"] += table.deleted
    return dict(out)


def _rows_by_table(report) -> dict[str, int]:
    return {t.table: t.rows for tenant in report.tenants for t in tenant.tables}


def timed_sync(config, url: str, instance, days: int, select=None):
    from askpro_pipelines.sync import run_sync

    os.environ["ASKPRO_WAREHOUSE_URL"] = url
    started = time.perf_counter()
    report = run_sync(config, select=select, days=days, until=UNTIL, instance=instance)
    seconds = time.perf_counter() - started
    report.runs_ok = all(t.success for t in report.tenants)
    report.failed_checks = sorted({c for t in report.tenants for c in t.failed_checks})
    if not report.success:
        errors = [e for t in report.tenants for e in t.errors] + [c for t in report.tenants for c in t.failed_checks]
        log(f"sync reported failures: {errors[:5]}")
    return seconds, report


def _median_run(runs: list[tuple[float, dict]]) -> tuple[float, dict]:
    """The run with the median time (its CPU split with it)."""
    return sorted(runs, key=lambda run: run[0])[len(runs) // 2]


def _rounds(floors: list, syncs: list, agains: list, dlts: list[dict]) -> list[dict]:
    """Each round's seconds (floor, full, second sync, dlt) and its ratios, taken under one load."""
    rounds = []
    for i, ((floor_s, _), (sync_s, _), (again_s, _)) in enumerate(zip(floors, syncs, agains, strict=True)):
        dlt_s = dlts[i].get("seconds") if i < len(dlts) else None
        rounds.append({"floor_s": round(floor_s, 2), "full_s": round(sync_s, 2), "second_s": round(again_s, 2),
                       "dlt_s": round(dlt_s, 2) if dlt_s else None, "full_per_floor": round(sync_s / floor_s, 3),
                       "second_per_full": round(again_s / sync_s, 3),
                       "full_per_dlt": round(sync_s / dlt_s, 3) if dlt_s else None})  # fmt: skip
    return rounds


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _round_ratio(r: dict, key: str) -> float | None:
    """The median over the rounds of one ratio (None when no round has it)."""
    values = [x[key] for x in r.get("rounds", []) if x.get(key) is not None]
    return _median(values) if values else None


def _median_dlt(dlts: list[dict]) -> dict:
    """The median dlt run (its seconds and details), with every run's seconds; a skip if none ran."""
    ran = [d for d in dlts if "skipped" not in d]
    if not ran:
        return dlts[0] if dlts else {"skipped": "not run"}
    median = sorted(ran, key=lambda d: d["seconds"])[len(ran) // 2]
    return {**median, "runs": [round(d["seconds"], 2) for d in ran]}


def _proc_cpu_s(pid: int) -> float:
    """user + system CPU seconds of a process (all threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reaped_children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuSplit:
    """CPU seconds over a timed block: this (client) process, its helper processes (the Retell detail
    worker, reaped when the run's resources are torn down) and the simulator process."""

    def __init__(self, simulator_pid: int):
        self.pid = simulator_pid

    def __enter__(self) -> Self:
        self.t0, self.c0, self.s0 = time.perf_counter(), time.process_time(), _proc_cpu_s(self.pid)
        self.h0 = _reaped_children_cpu_s()
        return self

    def __exit__(self, *exc_info) -> None:
        self.result = {"wall_s": round(time.perf_counter() - self.t0, 2),
                       "client_cpu_s": round(time.process_time() - self.c0, 2),
                       "helper_cpu_s": round(_reaped_children_cpu_s() - self.h0, 2),
                       "simulator_cpu_s": round(_proc_cpu_s(self.pid) - self.s0, 2)}  # fmt: skip


def _vm_hwm_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    if pid != "self":
        raise ValueError(f"no VmHWM for process {pid}")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class HelperPeaks:
    """Polls this process's children (the Retell detail helpers) for their peak RSS (VmHWM) while a
    block runs: their memory belongs to the backfill too, and ru_maxrss cannot tell it (see below)."""

    def __init__(self, interval_s: float = 0.05):
        self.interval_s = interval_s
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()

    def _children(self) -> list[int]:
        pids = []
        for children in Path("/proc/self/task").glob("*/children"):
            pids += [int(p) for p in children.read_text().split()]
        return pids

    def _poll(self) -> None:
        while not self._stop.wait(self.interval_s):
            for pid in self._children():
                try:
                    # Between fork and exec a child still is a copy of this process (and its VmHWM says
                    # so): count it once it runs the helper.
                    if b"detail_worker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                        continue
                    self.peaks[pid] = max(self.peaks.get(pid, 0.0), _vm_hwm_mb(pid))
                except (OSError, ValueError):  # it just exited
                    pass

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


def backfill_child(days: int) -> None:
    """Child-process mode: one facts backfill of `days` days; prints wall time and peak RSS as JSON."""
    from dagster import DagsterInstance

    from askpro_pipelines.sync import FACT_ASSETS, run_sync
    from askpro_pipelines.tenants import load_tenants

    config = load_tenants()
    started = time.perf_counter()
    with HelperPeaks() as helpers:
        report = run_sync(config, select=FACT_ASSETS, days=days, until=UNTIL, instance=DagsterInstance.ephemeral())
    seconds = time.perf_counter() - started
    own = _vm_hwm_mb()
    print(json.dumps({
        "seconds": seconds,
        # VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so a child forked from this large
        # parent would report the parent's RSS; VmHWM is the peak of this process image only.
        # The total adds each helper's own peak: an upper bound, as if all peaked at once.
        "maxrss_mb": own + sum(helpers.peaks.values()),
        "own_maxrss_mb": own,
        "helpers_maxrss_mb": sorted(helpers.peaks.values()),
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "success": all(t.success for t in report.tenants),
        "errors": [e for t in report.tenants for e in t.errors][:3],
        "rows": _rows_by_table(report),
    }))  # fmt: skip


def backfill_in_child(url: str, days: int) -> dict:
    env = {**os.environ, "ASKPRO_WAREHOUSE_URL": url}
    out = subprocess.run(
        [PY, "-m", "benchmarks.run", "--_backfill-child", str(days)], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"backfill child failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def load_time() -> list[float]:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([PY, "-c", "import askpro_pipelines.definitions"], cwd=ROOT, check=True, env=os.environ.copy())
        times.append(time.perf_counter() - started)
    return times


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _load(port: int, requests: list[bytes], concurrency: int):
    latencies: list[float] = []
    statuses: Counter = Counter()
    queue = iter(requests)
    length = re.compile(rb"content-length:\s*(\d+)", re.I)

    async def worker():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for raw in queue:
            t0 = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            match = length.search(head)
            if match:
                await reader.readexactly(int(match.group(1)))
            latencies.append(time.perf_counter() - t0)
            statuses[int(head[9:12])] += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def _cpu_now(receiver_pid: int) -> dict[str, float]:
    """CPU seconds so far: the receiver's processes (all threads; its children are the workers of
    `--workers N`), this process (the load generator), the machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = process_table()
    pids = [pid for pid, p in table.items() if pid == receiver_pid or p["ppid"] == receiver_pid]
    threads = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                name = (task / "comm").read_text().strip()
                parts = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the thread ended meanwhile
                continue
            threads[f"receiver {pid} thread {task.name} {name}"] = (int(parts[11]) + int(parts[12])) / ticks
    return {
        "receiver": sum(table[pid]["own"] for pid in pids),
        "load_generator": time.process_time(),
        "machine": machine_busy_s(),
        **threads,
    }


def _cpu_per_event(before: dict[str, float], after: dict[str, float], events: int) -> dict[str, float]:
    """Microseconds of CPU per event during the load; 'rest' is the machine less the two (PostgreSQL, mostly)."""
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    spent["rest"] = spent["machine"] - spent["receiver"] - spent["load_generator"]
    return {name: round(seconds / events * 1e6, 1) for name, seconds in spent.items()}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def webhook_figures(world, url: str, n_events: int, concurrency: int, tenants_file: Path) -> dict:
    """Receiver (`askpro webhooks serve` subprocess) under a loopback load, then one sensor tick."""
    from dagster import DagsterInstance, build_sensor_context

    from askpro_pipelines.resources.tenants import TenantsResource
    from askpro_pipelines.resources.warehouse import WarehouseResource
    from askpro_pipelines.sensors.webhooks import (
        calcom_webhook_sensor,
        retell_webhook_sensor,
    )
    from askpro_pipelines.warehouse import Warehouse
    from askpro_simulator.webhooks import deliveries_for_day, retell_signature

    retell_key = os.environ["BENCH_RETELL_API_KEY"]
    deliveries = []
    day = UNTIL
    while len(deliveries) < n_events and day > UNTIL - dt.timedelta(days=200):
        deliveries += deliveries_for_day(world, SLUG, day, WEBHOOK_SECRET, retell_key)
        day -= dt.timedelta(days=1)
    deliveries = deliveries[:n_events]
    warehouse = Warehouse.from_url(url)
    warehouse.create_tables()
    warehouse.dispose()

    port = _free_port()
    env = {**os.environ, "ASKPRO_WAREHOUSE_URL": url, "ASKPRO_TENANTS_FILE": str(tenants_file)}
    server = subprocess.Popen(
        [str(Path(PY).parent / "askpro"), "webhooks", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(RECEIVER_WORKERS)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"receiver did not start: {server.stderr.read()[-2000:]}")
            time.sleep(0.1)
        now_ms = int(time.time() * 1000)  # Retell signatures are valid for 5 minutes: sign now
        raw = []
        for provider, body, headers in deliveries:
            if provider == "retell":
                headers = {**headers, "x-retell-signature": retell_signature(retell_key, body, now_ms)}
            head = f"POST /webhooks/{provider}/{SLUG} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "content-length")
            head += f"Content-Length: {len(body)}\r\n\r\n"
            raw.append(head.encode("latin-1") + body)
        # Optional: sample the receiver with py-spy during the load (BENCH_PYSPY=path-to-py-spy, output BENCH_PYSPY_OUT).
        spy = None
        if os.environ.get("BENCH_PYSPY"):
            spy = subprocess.Popen([os.environ["BENCH_PYSPY"], "record", "--pid", str(server.pid), "--format", "raw",
                                    "--rate", "250", "--nonblocking", "-o", os.environ.get("BENCH_PYSPY_OUT", "receiver.raw")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            time.sleep(1.0)
        # A short warm-up on other bytes would duplicate events; the first requests pay the connections.
        cpu_before = _cpu_now(server.pid)
        seconds, latencies, statuses = asyncio.run(_load(port, raw, concurrency))
        cpu = _cpu_per_event(cpu_before, _cpu_now(server.pid), len(raw))
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=30)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()

    providers = Counter(p for p, _, _ in deliveries)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", [SLUG])
    resources = {"warehouse": WarehouseResource(url=url), "tenants": TenantsResource(path=str(tenants_file))}
    ticks = []
    for sensor in (retell_webhook_sensor, calcom_webhook_sensor):
        started = time.perf_counter()
        with build_sensor_context(instance=instance, resources=resources) as context:
            result = sensor(context)
        ticks.append({"sensor": sensor.name, "seconds": time.perf_counter() - started,
                      "run_requests": len(result.run_requests),
                      "events": sum(int(r.tags.get("askpro/webhook_events", 0)) for r in result.run_requests)})  # fmt: skip
    return {
        "events": len(deliveries),
        "providers": dict(providers),
        "concurrency": concurrency,
        "seconds": seconds,
        "per_s": statuses[200] / seconds,
        "statuses": {str(k): v for k, v in statuses.items()},
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
        "sensor_ticks": ticks,
        "cpu_us_per_event": cpu,
    }


def dlt_peer(dlt_python: str | None, url: str, simulator_url: str, days: int, tmp: Path, timeout_s: int = 540) -> dict:
    """Figure 2: dlt's rest_api source over the same endpoints into the same kind of database (own venv)."""
    if not dlt_python:
        return {"skipped": "no interpreter with dlt (pass --dlt-python or install the `bench` extra)"}
    env = {**os.environ, "BENCH_WAREHOUSE_URL": url, "ASKPRO_SIMULATOR_URL": simulator_url, "BENCH_DAYS": str(days),
           "BENCH_UNTIL": UNTIL.isoformat(), "BENCH_DLT_DIR": str(tmp / "dlt")}  # fmt: skip
    started = time.perf_counter()
    out = subprocess.run(
        [dlt_python, str(BENCH_DIR / "dlt_peer.py")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        log(f"dlt stderr: {out.stderr[-3000:]}")
        return {"skipped": f"dlt run failed: {out.stderr.strip().splitlines()[-1:]}"}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_seconds"] = seconds
    return result


# ---- one backend ------------------------------------------------------------------------------


def run_backend(
    backend: str, size: str, days: int, tmp: Path, dlt_python: str | None, skip: set[str], repeat: int = 3
) -> dict:
    from dagster import DagsterInstance

    from askpro_pipelines.tenants import load_tenants
    from benchmarks.sim_server import SimulatorProcess, build_world

    s = SIZES[size]
    tenants_file, overrides = bench_tenant(size, tmp)
    os.environ["BENCH_CALCOM_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    os.environ["ASKPRO_DATA_DIR"] = str(tmp / "data")
    config = load_tenants()
    dbs = ScratchDatabases(backend, tmp)
    out: dict = {"backend": backend, "size": size, "days": days, "spec": {k: v for k, v in s.items()}}
    recorder = Recorder(tmp / "recorded")
    try:
        started = time.perf_counter()
        # The simulator runs in its own process (benchmarks/sim_server.py), so on 2 cores it does not share
        # the sync's GIL; the floor, the dlt peer and the backfill children all talk to the same server.
        with SimulatorProcess(tenants_file, overrides) as simulator:
            out["simulator_start_s"] = time.perf_counter() - started
            out["simulator"] = {"process": "separate", "pid": simulator.process.pid, "url": simulator.url}
            log(
                f"{backend}: simulator process {simulator.process.pid} up at {simulator.url} in {out['simulator_start_s']:.1f}s"
            )

            if "sync" not in skip:
                # Warm-up + recording: a full sync into a throw-away database, so the simulator has rendered
                # (and cached) every page before the timed sync and the fetch floor see them.
                cpu = out["cpu"] = {}  # wall vs CPU of the sync process and of the simulator process
                with recorder.recording(), CpuSplit(simulator.process.pid) as split:
                    cold_s, cold = timed_sync(config, dbs.new("warmup"), DagsterInstance.ephemeral(), days)
                out["cold_sync_s"], cpu["warm_up"] = cold_s, split.result
                log(f"{backend}: warm-up sync {cold_s:.1f}s, {len(recorder.requests)} requests recorded")

                # The floor, figure 1, figure 3 and the dlt peer (figure 2) alternate `repeat` times, one
                # round each; each figure is the median of its runs and each ratio the median of the rounds'
                # ratios (on a shared, loaded 2-core machine one run varies by ±15-30 %; a round's runs
                # share its load).
                floors, syncs, agains, dlts = [], [], [], []
                for attempt in range(repeat):
                    with CpuSplit(simulator.process.pid) as split:
                        floor_s, n_requests, n_bytes = recorder.replay()
                    floors.append((floor_s, split.result))
                    log(f"{backend}: fetch floor {floor_s:.1f}s ({n_requests} requests, {n_bytes / 1e6:.1f} MB)")

                    # Figure 1: the full sync (every asset, facts of `days` days) into a fresh database.
                    url = dbs.new(f"main{attempt}")
                    instance = DagsterInstance.ephemeral()
                    with CpuSplit(simulator.process.pid) as split:
                        sync_s, report = timed_sync(config, url, instance, days)
                    syncs.append((sync_s, split.result))
                    log(f"{backend}: full sync {sync_s:.1f}s")

                    # Figure 3: the same sync again into the same database, nothing changed.
                    with CpuSplit(simulator.process.pid) as split:
                        again_s, again = timed_sync(config, url, instance, days)
                    agains.append((again_s, split.result))
                    log(f"{backend}: second sync {again_s:.1f}s, written {_written(again)}")

                    # Figure 2: dlt into the same backend (own fresh database).
                    if "dlt" not in skip:
                        dlts.append(
                            dlt_peer(
                                dlt_python, dbs.new(f"dlt{attempt}"), os.environ["ASKPRO_SIMULATOR_URL"], days, tmp
                            )
                        )
                        log(f"{backend}: dlt {dlts[-1]}")
                floor_s, cpu["fetch_floor"] = _median_run(floors)
                sync_s, cpu["full_sync"] = _median_run(syncs)
                again_s, cpu["second_sync"] = _median_run(agains)
                out["rounds"] = _rounds(floors, syncs, agains, dlts)
                out["fetch_floor"] = {
                    "seconds": floor_s,
                    "requests": n_requests,
                    "bytes": n_bytes,
                    "runs": [round(f, 2) for f, _ in floors],
                }
                out["full_sync"] = {"seconds": sync_s, "success": report.runs_ok, "failed_checks": report.failed_checks, "written": _written(report),
                                    "rows": _rows_by_table(report), "runs": [round(t, 2) for t, _ in syncs]}  # fmt: skip
                out["second_sync"] = {"seconds": again_s, "success": again.runs_ok, "written": _written(again),
                                      "runs": [round(t, 2) for t, _ in agains]}  # fmt: skip
                if "dlt" not in skip:
                    out["dlt"] = _median_dlt(dlts)

            # Figure 4: backfills of facts in a child process, 10 days vs `days` days, fresh databases.
            if "backfill" not in skip:
                short = max(1, days // 3)
                out["backfill"] = {}
                for n in sorted({short, days}):
                    out["backfill"][str(n)] = backfill_in_child(dbs.new(f"bf{n}"), n)
                    log(f"{backend}: backfill {n} days {out['backfill'][str(n)]}")

            # Figure 5: webhook receiver + sensor.
            if "webhooks" not in skip:
                # Deliveries are built from the same deterministic world the child serves (built here, after
                # the timed syncs, so it does not sit in this process's heap while they run).
                world = build_world(str(tenants_file), overrides)
                out["webhooks"] = webhook_figures(
                    world, dbs.new("wh"), s["webhook_events"], s["concurrency"], tenants_file
                )
                log(f"{backend}: webhooks {out['webhooks']}")

            # Figures of their own modules (benchmarks/figures.py: FIGURE_MODULES).
            ctx = FigureContext(backend=backend, size=size, days=days, tmp=tmp, tenants_file=tenants_file,
                                spec_overrides=overrides, simulator_url=os.environ["ASKPRO_SIMULATOR_URL"], new_database=dbs.new,
                                skip=frozenset(skip))  # fmt: skip
            for name, module in figure_modules(skip):
                out.setdefault("figures", {})[name] = module.measure(ctx)
                log(f"{backend}: {name} {out['figures'][name]}")
    finally:
        dbs.drop_all()
    return out


# ---- the table --------------------------------------------------------------------------------


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def table_rows(r: dict) -> list[tuple[str, str, str, str, str]]:
    rows = []
    b = r["backend"]
    if "full_sync" not in r:
        return rows + _later_rows(r)
    fs, fl = r["full_sync"], r["fetch_floor"]
    ratio = _round_ratio(r, "full_per_floor") or fs["seconds"] / fl["seconds"]
    runs = lambda fig: (  # noqa: E731
        f" (median of {', '.join(f'{t:.1f}' for t in fig['runs'])})" if len(fig.get("runs", [])) > 1 else ""
    )
    rows.append((f"1 full sync [{b}]", f"{fs['seconds']:.1f} s{runs(fs)}", f"fetch floor {fl['seconds']:.1f} s{runs(fl)} ({fl['requests']} req); target ≤1.3×",
                 f"{ratio:.2f}×", _verdict(ratio <= 1.3 and fs["success"])))  # fmt: skip
    d = r.get("dlt")
    if d is None or "skipped" in d:
        rows.append(
            (
                f"2 dlt rest_api peer [{b}]",
                "not measured",
                "target ours/dlt ≤0.33",
                "-",
                d["skipped"] if d else "skipped",
            )
        )
    else:
        ratio = _round_ratio(r, "full_per_dlt") or fs["seconds"] / d["seconds"]
        rows.append((f"2 dlt rest_api peer [{b}]", f"dlt {d['seconds']:.1f} s{runs(d)} ({d.get('scope', '')})", "target ours/dlt ≤0.33",
                     f"{ratio:.2f}", _verdict(ratio <= 0.33)))  # fmt: skip
    w = r["second_sync"]["written"]
    changed = w.get("inserted", 0) + w.get("updated", 0) + w.get("deleted", 0)
    again = _round_ratio(r, "second_per_full") or r["second_sync"]["seconds"] / fs["seconds"]
    rows.append((f"3 second sync, no change [{b}]", f"{r['second_sync']['seconds']:.1f} s{runs(r['second_sync'])}; ins/upd/del {w.get('inserted', 0)}/{w.get('updated', 0)}/{w.get('deleted', 0)}",
                 "0 rows written, ≤0.25× of full", f"{again:.2f}× of full", _verdict(changed == 0 and again <= 0.25)))  # fmt: skip
    return rows + _later_rows(r)


def _later_rows(r: dict) -> list[tuple]:
    return _builtin_later_rows(r) + figure_rows(r["backend"], r.get("figures", {}))


def _builtin_later_rows(r: dict) -> list[tuple]:
    from askpro_pipelines.sensors.webhooks import TICK_SECONDS

    rows = []
    b = r["backend"]
    for n, bf in sorted((r.get("backfill") or {}).items(), key=lambda kv: int(kv[0])):
        helpers = (
            f" = {bf['own_maxrss_mb']:.0f} + helpers {' + '.join(f'{h:.0f}' for h in bf['helpers_maxrss_mb'])}"
            if bf.get("helpers_maxrss_mb")
            else ""
        )
        rows.append((f"4 backfill {n} days [{b}]", f"{bf['seconds']:.1f} s; peak RSS {bf['maxrss_mb']:.0f} MB{helpers}",
                     "≤300 MB, flat in days", "-", _verdict(bf["maxrss_mb"] <= 300 and bf["success"])))  # fmt: skip
    bfs = r.get("backfill") or {}
    if len(bfs) == 2:
        a, z = (bfs[k] for k in sorted(bfs, key=int))
        rows.append((f"4 RSS growth {min(map(int, bfs))}→{max(map(int, bfs))} days [{b}]", f"{z['maxrss_mb'] - a['maxrss_mb']:+.0f} MB",
                     "no growth with days", f"{z['maxrss_mb'] / a['maxrss_mb']:.2f}×", _verdict(z["maxrss_mb"] <= a["maxrss_mb"] * 1.1)))  # fmt: skip
    wh = r.get("webhooks")
    if wh:
        rows.append((f"5 receiver throughput [{b}]", f"{wh['per_s']:.0f} events/s ({wh['events']} ev, {wh['concurrency']} conns)",
                     "≥3,000/s", f"{wh['per_s'] / 3000:.2f}× of target", _verdict(wh["per_s"] >= 3000)))  # fmt: skip
        rows.append((f"5 receiver latency [{b}]", f"p50 {wh['p50_ms']:.1f} ms, p99 {wh['p99_ms']:.1f} ms",
                     "p99 ≤25 ms", f"{wh['p99_ms'] / 25:.2f}× of target", _verdict(wh["p99_ms"] <= 25)))  # fmt: skip
        if wh.get("cpu_us_per_event"):
            cpu = wh["cpu_us_per_event"]
            rows.append((f"5 receiver CPU per event [{b}]",
                         f"receiver {cpu['receiver']:.0f} µs, load generator {cpu['load_generator']:.0f} µs, rest (database) {cpu['rest']:.0f} µs",
                         "2 cores at 3,000/s: ≤667 µs all together", f"{cpu['machine'] / 667:.2f}× of budget", "info"))  # fmt: skip
        tick = max(t["seconds"] for t in wh["sensor_ticks"])
        rows.append((f"5 landing → run request [{b}]", f"one tick {tick * 1000:.0f} ms ({sum(t['run_requests'] for t in wh['sensor_ticks'])} run requests)",
                     f"bound: {TICK_SECONDS} s interval + tick", f"≤{TICK_SECONDS + tick:.1f} s", "info"))  # fmt: skip
    return rows


def load_rows(times: list[float]) -> list[tuple]:
    best = min(times)
    return [("6 code location load", f"{best:.2f} s (best of {len(times)}: {', '.join(f'{t:.2f}' for t in times)})", "≤1.5 s",
             f"{best / 1.5:.2f}× of target", _verdict(best <= 1.5))]  # fmt: skip


def render(rows: list[tuple]) -> str:
    head = ("figure", "measured", "floor/target", "ratio", "verdict")
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(5)]
    line = lambda row: "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def _uptime() -> str:
    """`uptime` now: the machine is shared, its load says how far wall times are slowed."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "load average " + " / ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> dict:
    import dagster
    import sqlalchemy

    try:
        pg = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "show server_version"],
                            capture_output=True, text=True, timeout=10).stdout.strip() or "unavailable"  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        pg = "unavailable"
    mem_kb = next(
        (int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")), 0
    )
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(), "dagster": dagster.__version__, "sqlalchemy": sqlalchemy.__version__,
        "postgresql": pg, "platform": platform.platform(),
        # Shared with other engineers' test runs: the load says how busy the 2 cores were meanwhile.
        "load_average_1_5_15": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
    }  # fmt: skip


def write_results(path: Path, info: dict, results: list[dict], rows: list[tuple], argv: list[str]) -> None:
    lines = [
        "# Benchmark results", "",
        f"Command: `.venv/bin/python -m benchmarks.run {' '.join(argv)}`", "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), "",
        render(rows), "",
        "## Data actually synced", "",
    ]  # fmt: skip
    for r in results:
        if "full_sync" not in r:
            continue
        lines.append(f"- {r['backend']}: spec {r['spec']}; rows per table {r['full_sync']['rows']}; "
                     f"fetch floor {r['fetch_floor']}; warm-up (cold simulator) sync {r['cold_sync_s']:.1f} s")  # fmt: skip
        for i, rnd in enumerate(r.get("rounds", []), 1):
            lines.append(f"- {r['backend']} round {i} (floor, full, second sync, dlt alternated): {rnd}")
        if r.get("cpu"):
            lines.append(f"- {r['backend']} CPU seconds, sync (client) process vs simulator process: {r['cpu']}")
        if r.get("webhooks"):
            w = r["webhooks"]
            lines.append(f"- {r['backend']} webhooks: {w['events']} events {w['providers']}, statuses {w['statuses']}, "
                         f"max latency {w['max_ms']:.1f} ms, sensor ticks {w['sensor_ticks']}")  # fmt: skip
        if r.get("backfill"):
            for n, bf in r["backfill"].items():
                lines.append(f"- {r['backend']} backfill {n} days: rows {bf['rows']}, success {bf['success']}")
    lines += ["", "Raw figures: `benchmarks/results.json`.", ""]
    # The hand-written analysis (profiles, fixes, before/after) is kept across runs.
    previous = path.read_text(encoding="utf-8") if path.exists() else ""
    if FINDINGS_HEADING in previous:
        lines.append(previous[previous.index(FINDINGS_HEADING) :].rstrip() + "\n")
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--size", choices=list(SIZES), default="large")
    parser.add_argument("--days", type=int, default=None, help="fact days (default: 30 large, 5 small)")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated: sync,dlt,backfill,webhooks,load,volume and the figure modules' names (freshness, fleet)",
    )
    parser.add_argument("--dlt-python", default=os.environ.get("BENCH_DLT_PYTHON"),
                        help="interpreter with dlt installed (default: this one if it imports dlt)")  # fmt: skip
    parser.add_argument("--no-write", action="store_true", help="do not write benchmarks/RESULTS.md")
    parser.add_argument("--repeat", type=int, default=3, help="fetch floor and full sync runs (median reported)")
    parser.add_argument("--_backfill-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._backfill_child is not None:
        backfill_child(args._backfill_child)
        return 0
    days = args.days or SIZES[args.size]["days"]
    skip = {s for s in args.skip.split(",") if s}
    dlt_python = args.dlt_python
    if not dlt_python:
        probe = subprocess.run([PY, "-c", "import dlt"], capture_output=True)
        dlt_python = PY if probe.returncode == 0 else None
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    os.environ.setdefault("DAGSTER_HOME", "")
    os.environ.pop("DAGSTER_HOME")  # ephemeral instances only

    load_before = _uptime()
    results, rows = [], []
    load = None
    if "load" not in skip:
        load = load_time()
        rows += load_rows(load)
        log(f"load times {load}")
    for backend in backends:
        tmp = Path(tempfile.mkdtemp(prefix=f"askpro-bench-{backend}-"))
        try:
            result = run_backend(backend, args.size, days, tmp, dlt_python, skip, max(1, args.repeat))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        results.append(result)
        rows += table_rows(result)
    if "volume" not in skip:
        volume = {}
        for label, calls_per_day in VOLUME_CALLS_PER_DAY.items():
            volume[label] = volume_in_child(calls_per_day, ROOT)
            log(f"volume {label}: {volume[label]}")
        results.append({"backend": "sqlite", "volume": volume})
        rows += volume_rows(volume, _verdict)
    table = render(rows)
    print(table)
    if not args.no_write:
        info = {**machine(), "uptime_before": load_before, "uptime_after": _uptime()}
        (BENCH_DIR / "results.json").write_text(
            json.dumps({"machine": info, "load_s": load, "results": results}, indent=1, default=str)
        )
        write_results(BENCH_DIR / "RESULTS.md", info, results, rows, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
