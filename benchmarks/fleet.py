"""Fleet: one facts tick and one dimensions tick of N demo-size tenants, with the daemon on the production instance config.

`python -m benchmarks.fleet --tenants N [--out result.json]` alone, or as a figure module of `benchmarks.run`
(`FIGURE_MODULES`; `--skip fleet` leaves it out; 200 tenants with `--size large`, 20 otherwise). PostgreSQL
only: the production instance stores on it. The question (issue: "measure a fleet"): on this 2-core machine,
does one facts tick of every tenant finish within its 15 minutes, and one dimensions tick within its hour,
and do four facts ticks and one dimensions tick fit in the hour they share?

Set-up as in benchmarks/freshness.py (the same processes, environment and `deploy/dagster.yaml` unchanged:
PostgreSQL storage, queued runs, 8 runs at a time, one per tenant, the API pools), except the tenants: a
generated file of N copies of the three demo tenants, each keeping its shape (Cal.com v2 or v1, its branches,
Retell) with a slug, key variables, event type ids and numbers of its own (the simulator refuses an id or a
number twice), all served by one simulator process. `dagster-webserver` runs beside the daemon on the same
workspace. The schedules are stopped in the instance before the daemon starts, so no tick comes from the
clock: each tick here is the real schedule definition evaluated as the code server evaluates it
(`evaluate_tick`, the repository's resources, the current time, in a fresh process) and its RunRequests are
submitted through the webserver's GraphQL (`DagsterGraphQLClient.submit_job_execution`) with the tags the
daemon's scheduler gives a scheduled run (the partition or range tags, schedule name, run key, scheduled
time). The daemon's queue then dequeues and launches them under the instance's limits, as in production.

Ticks: every tenant's first dimensions (onboarding, the automation sensor stopped), then the facts tick and
a dimensions tick in steady state, the queue drained after each (derived runs of the automation sensor are
reported on their own). Per tick: wall time from the first submission to the last run's end, runs
succeeded and failed, each run's timeline from the event log (queue wait: created → RUN_STARTING; run start: → RUN_START; duration:
→ end), runs per hour (runs ÷ wall), and whether it fits its interval. Every run's materialized partitions
are compared with what its request asked for, and the warehouse is checked for rows of every tenant.

CPU: /proc is sampled every 0.5 s and each process's CPU is attributed to a class (the daemon, its code
server, the run workers, the webserver, the PostgreSQL backends of the instance and of the warehouse, the
simulator, this process). A process that exits between samples is not lost: its parent's cutime/cstime
grows by its final CPU when the parent reaps it, and that jump, less what the samples already counted of the
exited children, goes to the children's class (the daemon's code server spawns the run workers, so its
children's CPU is the run workers'). Only processes whose parent is not watched (PostgreSQL backends are the
postmaster's) lose the CPU of their last < 0.5 s. The run workers' CPU is split at each run's first
STEP_START (its process's CPU interpolated between samples): before it is orchestration (process spawn,
imports, code load, run start), the steps after it are the API work and the writes. /proc/stat gives the
machine's total over the same window, as a check (the machine is shared: "other" is what no class took).
"""

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmarks import pooler, webserver_api
from benchmarks.figures import measure_on_scratch_postgres
from benchmarks.freshness import (
    DEMO_TENANTS,
    ROOT,
    _environ,
    _free_port,
    _percentile,
    _Processes,
    _wait,
    stack_environ,
    stack_home,
)
from benchmarks.process_cpu import CpuSampler, cpu_split
from benchmarks.webserver_api import LOCATION, REPOSITORY

SKIP_NAME = "fleet"
TICKS = (  # (name, schedule, interval the tick must finish within, the automation sensor running)
    # Every tenant's first dimensions, with the automation stopped: new phone assignments re-derive a
    # tenant's whole history once (onboarding), not what an hourly tick costs. Started after it, the
    # sensor's first evaluation is its initial one and requests nothing.
    ("onboarding", "dimensions_hourly", 3600.0, False),
    ("facts", "facts_every_15_minutes", 900.0, True),
    ("dimensions", "dimensions_hourly", 3600.0, True),
)
AUTOMATION_SENSOR = "derived_assets_automation"
START_TIMEOUT_S = 300.0  # webserver + daemon + code servers + the tenants sensor's first tick
DRAIN_QUIET_S = 75.0  # the automation sensor ticks at most every 60 s: a quiet tick and then some
DRAIN_TIMEOUT_S = 900.0
TERMINAL = ("SUCCESS", "FAILURE", "CANCELED")
ORCHESTRATION = ("daemon", "daemon code server", "webserver", "run start", "postgres instance", "pgbouncer")
API_WORK = ("run steps", "simulator", "postgres warehouse")


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] fleet: {message}", file=sys.stderr, flush=True)


def _tick_timeout_s(interval_s: float, n_runs: int) -> float:
    """Long enough to see a MISS happen, bounded so a stuck queue ends the benchmark."""
    return max(2 * interval_s, 30.0 * n_runs + 300.0)


# ---- the fleet's tenants ------------------------------------------------------------------------


def write_fleet_tenants(path: Path, n: int) -> list[dict]:
    """N copies of the demo tenants in turn, each with its own slug, key variables, event type ids and numbers."""
    demo = yaml.safe_load(DEMO_TENANTS.read_text("utf-8"))["tenants"]
    tenants = []
    for i in range(1, n + 1):
        tenant = json.loads(json.dumps(demo[(i - 1) % len(demo)]))  # a deep copy

        tenant["slug"] = f"fleet-{i:04d}-{tenant['slug']}"
        tenant["name"] = f"{tenant['name']} ({i})"
        for provider in ("calcom", "retell"):
            for key in ("api_key_env", "webhook_secret_env"):
                if key in tenant.get(provider, {}):
                    tenant[provider][key] = f"FLEET_{i:04d}_{tenant[provider][key]}"
        number = 0
        for branch in tenant["branches"]:
            branch["calcom_event_type_id"] = i * 10_000 + int(
                branch["calcom_event_type_id"]
            )  # below the sim's id blocks
            numbers = []
            for _ in branch["phone_numbers"]:
                number += 1
                numbers.append(f"+4931{i:05d}{number:02d}")
            branch["phone_numbers"] = numbers
        tenants.append(tenant)
    path.write_text(yaml.safe_dump({"tenants": tenants}, allow_unicode=True, sort_keys=False), "utf-8")
    return tenants


# ---- one tick, as the daemon's code server evaluates it ----------------------------------------


def _evaluate_tick(schedule_name: str, at: dt.datetime) -> list[dict]:
    """The schedule's resolved RunRequests (the `--_tick` child: run with the stack's environment).

    As `dagster._grpc.impl.get_external_schedule_execution` does: the repository's resources, a
    context on the instance at the scheduled time, `evaluate_tick` (which adds `dagster/partition`
    for a partition key and `dagster/schedule_name`).
    """
    from dagster import DagsterInstance, build_schedule_context

    from askpro_pipelines.definitions import defs

    repo = defs.get_repository_def()
    schedule = repo.get_schedule_def(schedule_name)
    resources = {k: v for k, v in repo.get_top_level_resources().items() if k in schedule.required_resource_keys}
    with DagsterInstance.get() as instance:
        with build_schedule_context(
            instance=instance, scheduled_execution_time=at, resources=resources, repository_def=repo
        ) as context:
            data = schedule.evaluate_tick(context)
    if not data.run_requests:
        raise RuntimeError(f"{schedule_name} requested no runs: {data.skip_message}")
    return [
        {"job": schedule.job_name, "run_key": r.run_key, "tags": dict(r.tags), "partition": r.partition_key}
        for r in data.run_requests
    ]


def _requests(schedule_name: str, at: dt.datetime, env: dict[str, str]) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.fleet", "--_tick", schedule_name, "--_at", at.isoformat()],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"evaluating {schedule_name} failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _run_tags(request: dict, at: dt.datetime) -> dict[str, str]:
    """The tags the daemon's scheduler gives a scheduled run (`_create_scheduler_run`); job tags come with the job."""
    tags = {**request["tags"], "dagster/scheduled_execution_time": at.astimezone(dt.UTC).isoformat()}
    if request["run_key"]:
        tags["dagster/run_key"] = request["run_key"]
    return tags


# ---- runs, from the event log -------------------------------------------------------------------


def _run_detail(instance, record) -> dict:
    """One run's timeline, process and materialized partitions from its event log."""
    from dagster import DagsterEventType

    run = record.dagster_run
    out = {
        "run_id": run.run_id,
        "job": run.job_name,
        "tenant": run.tags.get("askpro/tenant"),
        "partition": run.tags.get("dagster/partition"),
        "range": [run.tags.get("dagster/asset_partition_range_start"), run.tags.get("dagster/asset_partition_range_end")],
        "derived": run.tags.get("askpro/derived"),
        "retry_of": run.tags.get("dagster/parent_run_id"),
        "status": run.status.value,
        "created": record.create_timestamp.timestamp(),
        "ended": record.end_time,
        "launched": None, "started": None, "first_step": None, "last_step_end": None, "pid": None,
        "materialized": [], "failure": None,
    }  # fmt: skip
    materialized = set()
    for entry in instance.all_logs(run.run_id):
        event = entry.dagster_event
        if event is None:
            continue
        kind, t = event.event_type, entry.timestamp
        if kind == DagsterEventType.RUN_STARTING and out["launched"] is None:
            out["launched"] = t
        elif kind == DagsterEventType.RUN_START and out["started"] is None:
            out["started"] = t
        elif kind == DagsterEventType.STEP_START:
            out["first_step"] = t if out["first_step"] is None else min(out["first_step"], t)
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED):
            out["last_step_end"] = max(out["last_step_end"] or t, t)
            if kind == DagsterEventType.STEP_FAILURE and out["failure"] is None:
                out["failure"] = f"{event.step_key}: {(entry.message or '')[:300]}"
        elif kind == DagsterEventType.ASSET_MATERIALIZATION and event.partition:
            materialized.add(event.partition)
        elif (
            kind == DagsterEventType.ENGINE_EVENT
            and out["pid"] is None
            and "Started process for run" in (entry.message or "")
        ):
            pid = event.engine_event_data.metadata.get("pid") if event.engine_event_data else None
            out["pid"] = int(pid.value) if pid is not None else None
        elif kind == DagsterEventType.RUN_FAILURE and out["failure"] is None:
            out["failure"] = (entry.message or "")[:300]
    out["materialized"] = sorted(materialized)
    return out


def _intended(run: dict) -> set[str]:
    """The partitions a run was asked for: its partition, or every day of its range (one tenant)."""
    from askpro_pipelines.partitions import split_tenant_day, tenant_day_key

    if run["partition"]:
        return {run["partition"]}
    first, last = run["range"]
    if not first or not last:
        return set()
    (tenant, day), (_, end) = split_tenant_day(first), split_tenant_day(last)
    days = set()
    while day <= end:
        days.add(str(tenant_day_key(tenant, day)))
        day += dt.timedelta(days=1)
    return days


def _stats(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {}
    return {"p50": statistics.median(values), "p95": _percentile(values, 0.95), "max": max(values), "n": len(values)}


def _tick_summary(name: str, interval_s: float, runs: list[dict], submit_start: float, submit_s: float,
                  timed_out: bool) -> dict:  # fmt: skip
    ends = [r["ended"] for r in runs if r["ended"]]
    wall = (max(ends) - submit_start) if ends else None
    done = [r for r in runs if r["status"] in TERMINAL]
    ok = [r for r in runs if r["status"] == "SUCCESS"]
    return {
        "tick": name,
        "interval_s": interval_s,
        "runs": len(runs),
        "succeeded": len(ok),
        "failed": len(runs) - len(ok),
        "finished": len(done),
        "timed_out": timed_out,
        "submit_s": submit_s,
        "wall_s": wall,
        "runs_per_hour": len(done) / (wall / 3600) if wall else None,
        "fits": bool(wall is not None and not timed_out and wall <= interval_s and len(ok) == len(runs)),
        "queue_wait_s": _stats([r["launched"] - r["created"] for r in runs if r["launched"]]),
        "run_start_s": _stats([r["started"] - r["launched"] for r in runs if r["started"] and r["launched"]]),
        "duration_s": _stats([r["ended"] - r["started"] for r in runs if r["ended"] and r["started"]]),
        "partitions_as_asked": sum(1 for r in runs if r["status"] == "SUCCESS" and set(r["materialized"]) == _intended(r)),
        "failures": [f"{r['tenant']} {r['run_id']}: {r['failure']}" for r in runs if r["status"] != "SUCCESS"][:20],
    }  # fmt: skip


# ---- the measurement ----------------------------------------------------------------------------


def measure_fleet(
    tmp: Path, new_database, n_tenants: int = 20, drain_timeout_s: float = DRAIN_TIMEOUT_S, pgbouncer: bool = False
) -> dict:
    """Start the deployment-shaped stack for N tenants, run one facts and one dimensions tick, measure both.

    `pgbouncer`: the stack reaches the instance database through PgBouncer (benchmarks/pooler.py), as
    deploy/ recommends; the warehouse stays direct (its engines pool their connections themselves)."""
    import sqlalchemy as sa
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
    from dagster._core.instance.ref import InstanceRef
    from dagster_graphql import DagsterGraphQLClient

    from askpro_pipelines.partitions import TENANTS, facts_start_date
    from benchmarks.sim_server import SimulatorProcess

    work, home = stack_home(tmp / "fleet")
    tenants_file = work / "tenants.yaml"
    tenants = write_fleet_tenants(tenants_file, n_tenants)
    slugs = {t["slug"] for t in tenants}
    secret_env = {
        t["calcom"]["webhook_secret_env"]: f"whsec-fleet-{t['slug']}" for t in tenants if t["calcom"].get("webhook_secret_env")
    }  # fmt: skip
    instance_url, warehouse_url = new_database("fleet_instance"), new_database("fleet_wh")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    processes = _Processes(work)
    py_bin = Path(sys.executable).parent
    sampler: CpuSampler | None = None
    result: dict = {"tenants": n_tenants, "instance_pooler": "pgbouncer (session pooling)" if pgbouncer else "none"}
    instance_db = instance_url.rsplit("/", 1)[1]
    stack_instance_url = instance_url
    bouncer_dir: Path | None = None
    started = time.perf_counter()
    with SimulatorProcess(tenants_file, {}, start_timeout_s=300) as simulator:
        # The production default history (ASKPRO_HISTORY_DAYS), not the benchmark's 2026-01-01: the
        # automation's derived runs cover every day of it.
        first_day = facts_start_date(environ={}).isoformat()
        roots = {simulator.process.pid: "simulator", os.getpid(): "benchmark"}
        if pgbouncer:
            stack_instance_url, bouncer, bouncer_dir = pooler.start_in_front_of(instance_url, processes, _free_port)
            roots[bouncer.pid] = "pgbouncer"
        env = stack_environ(
            {**simulator.env, **secret_env}, home, stack_instance_url, warehouse_url, tenants_file, work, first_day
        )
        subprocess.run([str(py_bin / "askpro"), "warehouse", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=300)  # fmt: skip
        engine = sa.create_engine(warehouse_url, pool_pre_ping=True)
        try:
            webserver = processes.start(
                "webserver",
                [str(py_bin / "dagster-webserver"), "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
                env,
            )  # fmt: skip

            _wait("webserver with the code location", lambda: webserver_api.location_loaded(base),
                  START_TIMEOUT_S, processes)  # fmt: skip
            result["schedules_stopped"] = webserver_api.stop_schedules(base)
            automation_running = TICKS[0][3]  # set before the daemon starts: no evaluation before the first tick
            webserver_api.set_sensor(base, AUTOMATION_SENSOR, automation_running)
            daemon = processes.start(
                "daemon", [str(py_bin / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")], env
            )
            databases = {
                instance_url.rsplit("/", 1)[1]: "postgres instance",
                warehouse_url.rsplit("/", 1)[1]: "postgres warehouse",
            }
            sampler = CpuSampler({daemon.pid: "daemon", webserver.pid: "webserver", **roots}, databases)
            sampler.start()
            with _environ({"DAGSTER_HOME": str(home), "DAGSTER_PG_URL": stack_instance_url}):
                instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
                _wait("tenant partitions (tenants sensor)",
                      lambda: slugs <= set(instance.get_dynamic_partitions(TENANTS)), START_TIMEOUT_S, processes)  # fmt: skip
                result["setup_s"] = time.perf_counter() - started
                _log(f"stack up with {n_tenants} tenant partitions in {result['setup_s']:.1f} s")
                client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=120)
                active = [s for s in DagsterRunStatus if s.value not in TERMINAL]

                def idle() -> bool:
                    return not instance.get_run_records(RunsFilter(statuses=active), limit=1)

                for name, schedule_name, interval_s, automation in TICKS:
                    if automation != automation_running:
                        webserver_api.set_sensor(base, AUTOMATION_SENSOR, automation)
                        automation_running = automation
                    try:
                        _wait("an empty queue", idle, drain_timeout_s, processes)
                    except TimeoutError:  # a tick left work behind: measure the next one on top of it, and say so
                        _log(f"{name}: runs of the previous tick still queued or running")
                    busy_before = not idle()
                    sessions_before = pooler.instance_sessions(instance_db)
                    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
                    requests = _requests(schedule_name, at, env)
                    _log(f"{name}: {schedule_name} requested {len(requests)} runs; submitting")
                    submit_start = time.time()
                    for request in requests:
                        client.submit_job_execution(request["job"], repository_location_name=LOCATION,
                                                    repository_name=REPOSITORY, tags=_run_tags(request, at))  # fmt: skip
                    submit_s = time.time() - submit_start
                    _log(f"{name}: submitted {len(requests)} runs in {submit_s:.1f} s")
                    tick_filter = RunsFilter(tags={"dagster/schedule_name": schedule_name})
                    expected = len(requests)
                    timeout_s = _tick_timeout_s(interval_s, expected)

                    def tick_done(tick_filter=tick_filter, expected=expected) -> bool:
                        records = instance.get_run_records(tick_filter)
                        return len(records) >= expected and all(r.dagster_run.status.value in TERMINAL for r in records)

                    timed_out = False
                    try:
                        _wait(f"the {name} tick's {len(requests)} runs", tick_done, timeout_s, processes)
                    except TimeoutError as exc:
                        timed_out = True
                        _log(f"{name}: {exc}")
                    tick_end = time.time()
                    # Drain: the automation sensor's derived runs, run retries; then a quiet automation tick.
                    last_activity = tick_end
                    drain_deadline = time.monotonic() + drain_timeout_s
                    while not timed_out and time.monotonic() < drain_deadline:
                        processes.check_alive()
                        recent = instance.get_run_records(
                            RunsFilter(created_after=dt.datetime.fromtimestamp(submit_start, dt.UTC))
                        )
                        stamps = [r.create_timestamp.timestamp() for r in recent] + [
                            r.end_time or time.time() for r in recent
                        ]
                        last_activity = max([last_activity, *stamps])
                        if idle() and time.time() - last_activity >= DRAIN_QUIET_S:
                            break
                        time.sleep(1.0)
                    else:
                        _log(f"{name}: the queue did not drain within {drain_timeout_s:.0f} s; going on")
                    drained = time.time()
                    records = instance.get_run_records(
                        RunsFilter(created_after=dt.datetime.fromtimestamp(submit_start, dt.UTC))
                    )
                    details = [_run_detail(instance, r) for r in records]
                    tick_runs = [
                        d
                        for d in details
                        if d["run_id"] in {r.dagster_run.run_id for r in instance.get_run_records(tick_filter)}
                    ]
                    derived = [d for d in details if d not in tick_runs]
                    summary = _tick_summary(name, interval_s, tick_runs, submit_start, submit_s, timed_out)
                    tick_last_end = max([r["ended"] for r in tick_runs if r["ended"]], default=tick_end)
                    summary["cpu"] = cpu_split(sampler, tick_runs, submit_start, tick_last_end, ORCHESTRATION, API_WORK)
                    summary["derived"] = {
                        "runs": len(derived),
                        "succeeded": sum(1 for d in derived if d["status"] == "SUCCESS"),
                        "jobs": sorted({d["job"] for d in derived}),
                        "last_end_after_tick_s": (max(d["ended"] for d in derived if d["ended"]) - tick_last_end)
                        if any(d["ended"] for d in derived) else None,
                        "cpu": cpu_split(sampler, derived, tick_last_end, drained, ORCHESTRATION, API_WORK),
                    }  # fmt: skip
                    time.sleep(1.0)  # backends report their session counts within a second
                    connections = pooler.instance_sessions(instance_db) - sessions_before
                    summary["instance_connections"] = {
                        "total": connections,
                        "per_run": connections / max(1, len(tick_runs) + len(derived)),
                    }
                    summary["drain_s"] = drained - tick_end
                    summary["drained"] = idle()
                    summary["queue_busy_at_submission"] = busy_before
                    summary["rows"] = _warehouse_rows(engine, name)
                    summary["run_list"] = tick_runs + derived
                    result[name] = summary
                    _log(f"{name}: {_brief(summary)}")
                result["daemon_log_errors"] = _errors(processes.tail("daemon", 200_000))
                instance.dispose()
        finally:
            if sampler is not None:
                sampler.stop()
            engine.dispose()
            processes.stop_all()
            if bouncer_dir is not None:
                shutil.rmtree(bouncer_dir, ignore_errors=True)
    return result


def _warehouse_rows(engine, tick: str) -> dict:
    """Rows per tenant in one table the tick writes: every tenant should have some."""
    import sqlalchemy as sa

    table = "calcom_bookings" if tick == "facts" else "calcom_event_types"
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.text(f"SELECT tenant, count(*) FROM {table} GROUP BY tenant")).all())
    return {"table": table, "tenants_with_rows": sum(1 for v in counts.values() if v), "rows": sum(counts.values())}


def _errors(log: str) -> list[str]:
    lines = [line for line in log.splitlines() if " - ERROR - " in line or "Traceback" in line or "Exception" in line]
    return lines[-20:]


def _brief(s: dict) -> str:
    start = s["run_start_s"]
    text = f"{s['wall_s'] or 0:.0f} s for {s['runs']} runs ({s['succeeded']} ok)"
    if start:
        text += f"; run start p50 {start['p50']:.1f} s / p95 {start['p95']:.1f} s"
    if s["runs_per_hour"]:
        text += f"; {s['runs_per_hour']:.0f} runs/h"
    if s["derived"]["runs"]:
        text += f"; + {s['derived']['runs']} derived runs ({s['derived']['succeeded']} ok)"
    if s.get("instance_connections"):
        text += f"; {s['instance_connections']['per_run']:.0f} new connections to PostgreSQL per run"
    return text


def _cpu_brief(cpu: dict) -> str:
    if not cpu:
        return "no CPU samples"
    c = cpu["classes"]
    per = cpu["per_run_median_s"]
    orch = ", ".join(f"{name} {c.get(name, 0.0):.0f}" for name in ORCHESTRATION)
    api = ", ".join(f"{name} {c.get(name, 0.0):.0f}" for name in API_WORK)
    text = f"orchestration {cpu['orchestration_s']:.0f} s ({orch}) vs API work {cpu['api_work_s']:.0f} s ({api})"
    if per["before_first_step"] is not None:
        steps = f"{per['steps']:.1f}" if per["steps"] is not None else "?"
        text += f"; per run p50 {per['before_first_step']:.1f} s before the first step, {steps} s in steps"
    return text + f"; machine {cpu['machine_busy_s']:.0f} CPU s in {cpu['window_s']:.0f} s"


# ---- the figure module --------------------------------------------------------------------------


def measure(ctx) -> dict:
    if ctx.backend != "postgres":
        return {"skipped": "the production instance config stores on PostgreSQL"}
    # The deployment deploy/ describes: the instance database through PgBouncer, when it is installed.
    return measure_fleet(ctx.tmp, ctx.new_database, n_tenants=200 if ctx.size == "large" else 20,
                         pgbouncer=pooler.pgbouncer_binary() is not None)  # fmt: skip


def rows(backend: str, result: dict) -> list[tuple[str, str, str, str, str]]:
    if "skipped" in result:
        return []
    n = f"{result['tenants']} tenants"
    if result.get("instance_pooler", "none") != "none":
        n += ", PgBouncer"
    out = []
    for name, _schedule, interval_s, _automation in TICKS:
        s = result.get(name)
        if not s:
            out.append((f"8 fleet {name} tick, {n} [{backend}]", "not measured", f"≤{interval_s:.0f} s", "-", "MISS"))
            continue
        ratio = f"{s['wall_s'] / interval_s:.2f}× of interval" if s["wall_s"] else "-"
        out.append((f"8 fleet {name} tick, {n} [{backend}]", _brief(s), f"≤{interval_s:.0f} s", ratio,
                    "PASS" if s["fits"] else "MISS"))  # fmt: skip
    facts, dims = result.get("facts"), result.get("dimensions")
    if facts and dims and facts["wall_s"] and dims["wall_s"]:
        # An hour holds four facts ticks and one dimensions tick; each tick keeps both cores busy, so
        # their walls add up (derived runs come on top: reported with each tick).
        hour_s = 4 * facts["wall_s"] + dims["wall_s"]
        out.append((f"8 fleet hour: 4 facts + 1 dimensions tick, {n} [{backend}]", f"{hour_s:.0f} s busy",
                    "≤3600 s", f"{hour_s / 3600:.2f}× of the hour", "PASS" if hour_s <= 3600 else "MISS"))  # fmt: skip
    cpu = "; ".join(f"{name}: {_cpu_brief(result[name]['cpu'])}" for name, _s, _i, _a in TICKS if result.get(name))
    out.append((f"8 fleet CPU, {n} [{backend}]", cpu or "not measured", "-", "-", "info"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--out", help="write the whole result (every run, CPU per class) as JSON here")
    parser.add_argument("--drain-timeout", type=float, default=DRAIN_TIMEOUT_S,
                        help="seconds to wait for the derived runs after a tick (default %(default)s)")  # fmt: skip
    parser.add_argument("--pgbouncer", action="store_true",
                        help="reach the instance database through PgBouncer (benchmarks/pooler.py)")  # fmt: skip
    parser.add_argument("--_tick", help=argparse.SUPPRESS)  # child: evaluate this schedule, print its requests
    parser.add_argument("--_at", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._tick:
        print(json.dumps(_evaluate_tick(args._tick, dt.datetime.fromisoformat(args._at))))
        return 0
    result = measure_on_scratch_postgres(
        "askpro-fleet-",
        lambda tmp, new_database: measure_fleet(
            tmp, new_database, n_tenants=args.tenants, drain_timeout_s=args.drain_timeout, pgbouncer=args.pgbouncer
        ),
    )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    brief = {
        k: ({kk: vv for kk, vv in v.items() if kk != "run_list"} if isinstance(v, dict) else v)
        for k, v in result.items()
    }
    print(json.dumps(brief, indent=1, default=str))
    for row in rows("postgres", result):
        print(" | ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
