"""Freshness: how long a signed webhook takes to reach its table, with the daemon on the production instance config.

`python -m benchmarks.freshness [--events 30]` alone, or as a figure module of `benchmarks.run`
(`FIGURE_MODULES`; `--skip freshness` leaves it out). PostgreSQL only: the production instance stores
on it.

Set-up, all real processes on loopback: the demo tenants (`askpro_pipelines/demo_tenants.yaml`) served
by the simulator in its own process; a Dagster instance made from `deploy/dagster.yaml` unchanged
(PostgreSQL storage, the queued run coordinator dequeuing every second, one run per tenant, pools) in a
scratch database; `dagster-daemon run` on the repository's `workspace.yaml`, so the sensors and
schedules run as they do in production; `askpro webhooks serve` as the receiver; a fresh warehouse.
`ASKPRO_ENV=demo` is the one difference from a deployment: an instance stored on PostgreSQL otherwise
counts as production, which refuses the simulator.

Each measured event is a `call_ended` (Retell) or `BOOKING_CREATED` (Cal.com) delivery of a call or
booking not yet in the warehouse, each on a tenant-day no other event touches, sent one at a time
with a seeded random gap (so the sends fall at every phase of the sensor's tick). Its latency runs
from the receiver's answer to the first poll (every 50 ms) that finds its row in `retell_calls` or
`calcom_bookings`. The split comes from the run that carried it (`webhook_events.run_key` → the
Dagster run with that run key): waiting for the sensor (answer → run created), the queue (created →
launched: the dequeue interval and the one-run-per-tenant limit), run start (launched → the run
process reports start: process spawn, code load) and the sync itself (→ row visible).
"""

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks import pooler

ROOT = Path(__file__).resolve().parent.parent
SKIP_NAME = "freshness"
TARGET_P95_S = 10.0
DEMO_TENANTS = ROOT / "askpro_pipelines" / "demo_tenants.yaml"
FIRST_DAY = dt.date(2026, 9, 14)  # events are taken from this day backwards: fixed data, past partitions
GAP_S = (2.0, 6.0)  # seconds between sends, uniform
START_TIMEOUT_S = 240.0  # daemon + code server + first sensor ticks
LAND_TIMEOUT_S = 120.0  # per event, after its send
POLL_S = 0.05
SECRET_PREFIX = "whsec-fresh-"
SEGMENTS = ("sensor", "queue", "run_start", "sync")


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] freshness: {message}", file=sys.stderr, flush=True)


class _Processes:
    """Child processes (their output in log files) that are always stopped, newest first."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = (self.logs / f"{name}.log").open("wb")
        child = subprocess.Popen(
            args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        self.children.append((name, child))
        return child

    def check_alive(self) -> None:
        for name, child in self.children:
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited (rc {child.returncode}): {self.tail(name)}")

    def tail(self, name: str, chars: int = 3000) -> str:
        return (self.logs / f"{name}.log").read_text("utf-8", "replace")[-chars:]

    def stop_all(self) -> None:
        for _name, child in reversed(self.children):
            if child.poll() is None:
                child.terminate()
        for _name, child in reversed(self.children):
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def stack_home(work: Path) -> tuple[Path, Path]:
    """`work` and the Dagster home in it, holding the production instance config unchanged."""
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    return work, home


def stack_environ(
    extra: dict[str, str],
    home: Path,
    instance_url: str,
    warehouse_url: str,
    tenants_file: Path,
    work: Path,
    first_day: str,
) -> dict[str, str]:
    """The environment of the production-config stack (daemon, webserver, run workers): `deploy/dagster.yaml`'s
    variables, the tenants, the warehouse, the first fact day, and `extra` (key and secret variables)."""
    return {
        **os.environ,
        **extra,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": instance_url,
        "ASKPRO_ENV": "demo",  # the one difference from a deployment: it lets the simulator in
        "ASKPRO_TENANTS_FILE": str(tenants_file),
        "ASKPRO_WAREHOUSE_URL": warehouse_url,
        "ASKPRO_DATA_DIR": str(work / "data"),
        "ASKPRO_FACTS_START_DATE": first_day,
        "PYTHONWARNINGS": "ignore",
    }


def _wait(what: str, ready: Callable[[], bool], timeout_s: float, processes: _Processes) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        processes.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout_s:.0f} s")
        time.sleep(0.2)


def _candidates(world, config, secrets: dict[str, str], keys: dict[str, str]) -> Iterator[dict]:
    """Call-ended and booking-created deliveries, one per (tenant, table, day), newest days first."""
    from askpro_simulator.webhooks import deliveries_for_day

    tenants = [t for t in config.tenants]
    for back in range(0, 120):
        day = FIRST_DAY - dt.timedelta(days=back)
        for tenant in tenants:
            found: dict[str, dict] = {}
            retell_key = keys.get(tenant.slug, "")
            for provider, body, headers in deliveries_for_day(
                world, tenant.slug, day, secrets[tenant.slug], retell_key
            ):
                payload = json.loads(body)
                if provider == "retell" and tenant.retell and payload.get("event") == "call_ended":
                    call = payload["call"]
                    found.setdefault("retell", dict(table="retell_calls", column="call_id", id=call["call_id"]))
                    found["retell"].setdefault("body", body)
                    found["retell"].setdefault("headers", headers)
                elif (
                    provider == "calcom"
                    and tenant.calcom.webhook_secret_env
                    and payload.get("triggerEvent") == "BOOKING_CREATED"
                ):
                    found.setdefault(
                        "calcom", dict(table="calcom_bookings", column="uid", id=payload["payload"]["uid"])
                    )
                    found["calcom"].setdefault("body", body)
                    found["calcom"].setdefault("headers", headers)
            for provider, event in sorted(found.items()):
                yield {**event, "provider": provider, "tenant": tenant.slug, "send_day": day.isoformat()}


def _interleaved(candidates: Iterator[dict], n: int) -> list[dict]:
    """n events alternating Retell and Cal.com, each (tenant, table) day used once."""
    by_provider: dict[str, list[dict]] = {"retell": [], "calcom": []}
    for event in candidates:
        by_provider[event["provider"]].append(event)
        if all(len(v) >= n for v in by_provider.values()):
            break
    out = []
    for i in range(n):
        queue = by_provider["retell" if i % 2 == 0 else "calcom"] or by_provider["retell"] or by_provider["calcom"]
        if not queue:
            break
        out.append(queue.pop(0))
    return out


def _segments(answered: float, created: float, launched: float, started: float, seen: float) -> dict[str, float]:
    """The run's timeline clipped to [answered, seen], so the parts add up to the latency."""
    bounds = [answered]
    for t in (created, launched, started):
        bounds.append(min(max(bounds[-1], t), seen))
    bounds.append(seen)
    return {name: bounds[i + 1] - bounds[i] for i, name in enumerate(SEGMENTS)}


def _run_timeline(instance, run_key: str) -> dict | None:
    from dagster import DagsterEventType, RunsFilter

    records = instance.get_run_records(RunsFilter(tags={"dagster/run_key": run_key}), limit=1)
    if not records:
        return None
    record = records[0]
    run = record.dagster_run
    times = {}
    for kind in (DagsterEventType.RUN_DEQUEUED, DagsterEventType.RUN_STARTING, DagsterEventType.RUN_START):
        # RUN_STARTING: the queue daemon handed it to the launcher (RUN_DEQUEUED where a version emits it)
        logs = instance.all_logs(run.run_id, of_type=kind)
        times[kind] = logs[0].timestamp if logs else None
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "tenant": run.tags.get("askpro/tenant"),
        "partition": run.tags.get("dagster/partition"),
        "created": record.create_timestamp.timestamp(),
        "launched": times[DagsterEventType.RUN_STARTING] or times[DagsterEventType.RUN_DEQUEUED],
        "started": times[DagsterEventType.RUN_START],
        "ended": record.end_time,
        "status": run.status.value,
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure_freshness(
    tmp: Path, new_database: Callable[[str], str], n_events: int = 30, seed: int = 7, pgbouncer: bool = False
) -> dict:
    """Start the deployment-shaped stack, send `n_events` signed webhooks one by one, time each to its row."""
    import httpx
    import sqlalchemy as sa
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    from askpro_pipelines.partitions import TENANTS
    from askpro_pipelines.tenants import load_tenants
    from askpro_simulator.webhooks import retell_signature
    from benchmarks.sim_server import SimulatorProcess, build_world

    work, home = stack_home(tmp / "freshness")
    tenants_file = work / "tenants.yaml"
    shutil.copy(DEMO_TENANTS, tenants_file)
    config = load_tenants(str(tenants_file))
    secrets = {t.slug: f"{SECRET_PREFIX}{t.slug}" for t in config.tenants}
    secret_env = {t.calcom.webhook_secret_env: secrets[t.slug] for t in config.tenants if t.calcom.webhook_secret_env}
    instance_url, warehouse_url = new_database("fresh_instance"), new_database("fresh_wh")
    port = _free_port()
    processes = _Processes(work)
    py_bin = Path(sys.executable).parent
    bouncer_dir = None
    with SimulatorProcess(tenants_file, {}) as simulator:
        keys = {t.slug: simulator.env[t.retell.api_key_env] for t in config.tenants if t.retell}
        env = stack_environ(secret_env, home, instance_url, warehouse_url, tenants_file, work, "2026-01-01")
        subprocess.run([str(py_bin / "askpro"), "warehouse", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=300)  # fmt: skip
        world = build_world(str(tenants_file), {})
        events = _interleaved(_candidates(world, config, secrets, keys), n_events + 2)
        warm_up, events = events[:2], events[2:]
        engine = sa.create_engine(warehouse_url, pool_pre_ping=True)
        try:
            started = time.perf_counter()
            if pgbouncer:  # the instance database through PgBouncer, as deploy/pgbouncer recommends
                instance_url, _bouncer, bouncer_dir = pooler.start_in_front_of(instance_url, processes, _free_port)
                env["DAGSTER_PG_URL"] = instance_url
            processes.start("daemon", [str(py_bin / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")], env)
            processes.start(
                "receiver",
                [str(py_bin / "askpro"), "webhooks", "serve", "--host", "127.0.0.1", "--port", str(port)],
                env,
            )
            with _environ({"DAGSTER_HOME": str(home), "DAGSTER_PG_URL": instance_url}):
                instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
                base = f"http://127.0.0.1:{port}"

                def receiver_up() -> bool:
                    try:
                        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
                    except httpx.HTTPError:
                        return False

                _wait("receiver", receiver_up, 60, processes)
                slugs = {t.slug for t in config.tenants}
                _wait("tenant partitions (tenants sensor)",
                      lambda: slugs <= set(instance.get_dynamic_partitions(TENANTS)), START_TIMEOUT_S, processes)  # fmt: skip
                setup_s = time.perf_counter() - started
                _log(f"stack up in {setup_s:.1f} s; warm-up with {len(warm_up)} events")

                def send(event: dict) -> float:
                    headers = dict(event["headers"])
                    if event["provider"] == "retell":
                        headers["x-retell-signature"] = retell_signature(
                            keys[event["tenant"]], event["body"], int(time.time() * 1000)
                        )
                    response = httpx.post(
                        f"{base}/webhooks/{event['provider']}/{event['tenant']}",
                        content=event["body"], headers=headers, timeout=10,
                    )  # fmt: skip
                    answered = time.time()
                    if response.status_code != 200:
                        raise RuntimeError(f"receiver answered {response.status_code} for {event['tenant']} "
                                           f"{event['provider']} {event['id']}: {response.text[:300]}")  # fmt: skip
                    return answered

                def present(event: dict) -> bool:
                    table = sa.table(event["table"], sa.column("tenant"), sa.column(event["column"]))
                    query = (
                        sa.select(sa.func.count())
                        .select_from(table)
                        .where(table.c.tenant == event["tenant"], table.c[event["column"]] == event["id"])
                    )
                    with engine.connect() as conn:
                        return bool(conn.execute(query).scalar())

                def land(event: dict) -> float:
                    deadline = time.monotonic() + LAND_TIMEOUT_S
                    while not present(event):
                        processes.check_alive()
                        if time.monotonic() > deadline:
                            raise TimeoutError(
                                f"{event['tenant']} {event['table']} {event['id']} not landed within {LAND_TIMEOUT_S:.0f} s; "
                                f"daemon log: {processes.tail('daemon')}"
                            )
                        time.sleep(POLL_S)
                    return time.time()

                for event in warm_up:  # the code server's first sensor ticks and run launches
                    send(event)
                    land(event)
                rng = random.Random(seed)
                measured = []
                for event in events:
                    if present(event):  # covered by an earlier event's run (same tenant-day): not a fair sample
                        continue
                    time.sleep(rng.uniform(*GAP_S))
                    answered = send(event)
                    seen = land(event)
                    measured.append({**{k: event[k] for k in ("provider", "tenant", "table", "id")},
                                     "answered": answered, "seen": seen, "latency_s": seen - answered})  # fmt: skip
                    _log(f"{event['tenant']} {event['provider']} {event['id']}: {seen - answered:.2f} s")
                # The run keys are settled by the next sensor tick; read them and the runs' timelines.
                store = sa.table("webhook_events", sa.column("tenant"), sa.column("entity_id"), sa.column("run_key"))
                with engine.connect() as conn:
                    run_keys = {
                        (tenant, entity): key
                        for tenant, entity, key in conn.execute(
                            sa.select(store.c.tenant, store.c.entity_id, store.c.run_key)
                        )
                    }
                for sample in measured:
                    key = run_keys.get((sample["tenant"], sample["id"]))
                    run = _run_timeline(instance, key) if key else None
                    sample["run"] = run
                    if run and run["launched"] and run["started"]:
                        sample["split"] = _segments(sample["answered"], run["created"], run["launched"], run["started"],
                                                    sample["seen"])  # fmt: skip
                # Every run of the window, for the reader who wants to see what held the queue.
                all_runs = [
                    {
                        "job": r.dagster_run.job_name,
                        "tenant": r.dagster_run.tags.get("askpro/tenant"),
                        "partition": r.dagster_run.tags.get("dagster/partition"),
                        "by": r.dagster_run.tags.get("dagster/sensor_name")
                        or r.dagster_run.tags.get("dagster/schedule_name"),
                        "created": r.create_timestamp.timestamp(),
                        "started": r.start_time,
                        "ended": r.end_time,
                        "status": r.dagster_run.status.value,
                        "derived": r.dagster_run.tags.get("askpro/derived"),
                        "scheduled": "dagster/schedule_name" in r.dagster_run.tags,
                    }
                    for r in instance.get_run_records()
                ]
                schedule_runs = [run["by"] for run in all_runs if run["scheduled"]]
                instance.dispose()
        finally:
            engine.dispose()
            processes.stop_all()
            if bouncer_dir is not None:
                shutil.rmtree(bouncer_dir, ignore_errors=True)
    return {**_summary(measured, setup_s, schedule_runs), "runs": all_runs, "pgbouncer": pgbouncer}


def _summary(measured: list[dict], setup_s: float, schedule_runs: list[str]) -> dict:
    latencies = [m["latency_s"] for m in measured]
    split = [m["split"] for m in measured if "split" in m]
    total = sum(sum(s.values()) for s in split) or 1.0
    return {
        "events": len(measured),
        "landed": len(latencies),
        "p50_s": statistics.median(latencies) if latencies else None,
        "p95_s": _percentile(latencies, 0.95) if latencies else None,
        "max_s": max(latencies) if latencies else None,
        "split_share": {name: sum(s[name] for s in split) / total for name in SEGMENTS},
        "split_median_s": {name: statistics.median(s[name] for s in split) for name in SEGMENTS} if split else {},
        "with_run": len(split),
        "schedule_runs_during": schedule_runs,
        "setup_s": setup_s,
        "samples": measured,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(ctx) -> dict:
    if ctx.backend != "postgres":
        return {"skipped": "the production instance config stores on PostgreSQL"}
    # The deployment deploy/ describes: the instance database through PgBouncer, when it is installed.
    pgbouncer = pooler.pgbouncer_binary() is not None
    return measure_freshness(ctx.tmp, ctx.new_database, n_events=30 if ctx.size == "large" else 10, pgbouncer=pgbouncer)


def rows(backend: str, result: dict) -> list[tuple[str, str, str, str, str]]:
    if "skipped" in result:
        return []
    if not result.get("landed"):
        return [(f"7 webhook → row [{backend}]", "nothing landed", f"p95 ≤{TARGET_P95_S:.0f} s", "-", "MISS")]
    share = ", ".join(f"{name} {result['split_share'][name]:.0%}" for name in SEGMENTS)
    return [
        (
            f"7 webhook → row, daemon{', PgBouncer' if result.get('pgbouncer') else ''} [{backend}]",
            f"p50 {result['p50_s']:.1f} s, p95 {result['p95_s']:.1f} s, max {result['max_s']:.1f} s "
            f"({result['landed']} of {result['events']} landed); split {share}",
            f"p95 ≤{TARGET_P95_S:.0f} s",
            f"{result['p95_s'] / TARGET_P95_S:.2f}× of target",
            "PASS" if result["p95_s"] <= TARGET_P95_S and result["landed"] == result["events"] else "MISS",
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.freshness", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", help="write the whole result (every sample and run) as JSON here")
    parser.add_argument("--pgbouncer", action="store_true", help="reach the instance database through PgBouncer")
    args = parser.parse_args(argv)
    from benchmarks.figures import measure_on_scratch_postgres

    result = measure_on_scratch_postgres(
        "askpro-fresh-",
        lambda tmp, new_database: measure_freshness(tmp, new_database, args.events, args.seed, args.pgbouncer),
    )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("samples", "runs")}, indent=1, default=str))
    for row in rows("postgres", result):
        print(" | ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
