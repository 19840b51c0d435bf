"""CPU seconds per class of process, sampled from /proc: what the fleet benchmark splits into
orchestration and API work (the method is in benchmarks/fleet.py's docstring)."""

import os
import statistics
import sys
import threading
import time

SAMPLE_S = 0.5

_TICK = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def machine_busy_s() -> float:
    """CPU seconds the machine has been busy (all cores, /proc/stat)."""
    fields = [int(v) for v in (_read("/proc/stat") or "cpu 0").splitlines()[0].split()[1:]]
    fields += [0] * (8 - len(fields))
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _TICK


def process_table() -> dict[int, dict]:
    """Every process now: pid -> comm, ppid, own CPU s, reaped children's CPU s, start tick."""
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        text = _read(f"/proc/{name}/stat")
        if not text:
            continue
        close = text.rindex(")")
        comm, rest = text[text.index("(") + 1 : close], text[close + 2 :].split()
        procs[int(name)] = {
            "comm": comm,
            "ppid": int(rest[1]),
            "own": (int(rest[11]) + int(rest[12])) / _TICK,
            "ch": (int(rest[13]) + int(rest[14])) / _TICK,
            "start": int(rest[19]),
        }
    return procs


class CpuSampler(threading.Thread):
    """Samples /proc every SAMPLE_S and accumulates CPU seconds per class (see the module docstring).

    `roots` names a process per class (daemon, webserver, simulator); their descendants inherit the
    class, except the daemon's code server and the run workers it spawns. PostgreSQL backends are told
    apart by the database in their process title. Each run worker's own tree is also recorded as a
    series of (time, cumulative CPU s), for the per-run split.
    """

    def __init__(self, roots: dict[int, str], databases: dict[str, str], interval_s: float = SAMPLE_S):
        super().__init__(name="fleet-cpu-sampler", daemon=True)
        self.roots, self.databases, self.interval_s = roots, databases, interval_s
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.acc: dict[str, float] = {}
        self.snapshots: list[tuple[float, float, dict[str, float]]] = []  # (time, machine busy s, acc)
        self.run_series: dict[tuple[int, int], list[tuple[float, float]]] = {}  # (pid, start) -> [(t, cpu s)]
        self.last: dict[tuple[int, int], dict] = {}
        self.cmdlines: dict[tuple[int, int], str] = {}
        self.samples = 0
        self.sample_cpu_s = 0.0

    def run(self) -> None:
        while not self.stop_event.is_set():
            began = time.process_time()
            try:
                self._sample()
            except Exception as exc:  # noqa: BLE001 - a sampler must not take the benchmark down
                print(f"[{time.strftime('%H:%M:%S')}] cpu sampler: {exc!r}", file=sys.stderr, flush=True)
            self.sample_cpu_s += time.process_time() - began
            self.stop_event.wait(self.interval_s)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)

    def _cmdline(self, key: tuple[int, int], settled: bool = True) -> str:
        """A process's command line; re-read while it may still change (after fork, before exec)."""
        if key in self.cmdlines and settled:
            return self.cmdlines[key]
        text = (_read(f"/proc/{key[0]}/cmdline") or "").replace("\0", " ")
        self.cmdlines[key] = text
        return text

    def _scan(self) -> dict[tuple[int, int], dict]:
        return {(pid, p["start"]): {**p, "pid": pid} for pid, p in process_table().items()}

    def _classify(self, procs: dict[tuple[int, int], dict]) -> None:
        """Set `cls` (whose CPU a process's own time is) and `child_cls` (whose its reaped children's is)."""
        by_pid = {key[0]: key for key in procs}
        memo: dict[tuple[int, int], str | None] = {}

        def cls_of(key: tuple[int, int]) -> str | None:
            if key in memo:
                return memo[key]
            memo[key] = None  # cycles cannot happen, but a half-built answer must not recurse
            p = procs[key]
            result: str | None = None
            if p["pid"] in self.roots:
                result = self.roots[p["pid"]]
            elif p["comm"] == "postgres" or p["comm"].startswith("postgres"):
                title = self._cmdline(key, settled=False)
                result = next((c for db, c in self.databases.items() if f" {db} " in f" {title} "), None)
            elif p["ppid"] in by_pid:
                parent = by_pid[p["ppid"]]
                parent_cls = cls_of(parent)
                if parent_cls == "daemon":
                    grpc = "api grpc" in self._cmdline(key, settled=False)
                    result = "daemon code server" if grpc else "daemon"
                elif parent_cls == "daemon code server":
                    tracker = "resource_tracker" in self._cmdline(key, settled=False)
                    result = "daemon code server" if tracker else "run worker"
                    p["run_root"] = not tracker
                else:
                    result = parent_cls
            memo[key] = result
            return result

        for key, p in procs.items():
            p["cls"] = cls_of(key)
            p["child_cls"] = "run worker" if p["cls"] == "daemon code server" else p["cls"]

    def _sample(self) -> None:
        now = time.time()
        busy = machine_busy_s()
        procs = self._scan()
        self._classify(procs)
        first = not self.last
        with self.lock:
            if not first:
                for key, p in procs.items():
                    if p["cls"] is None:
                        continue
                    prev = self.last.get(key) or {"own": 0.0, "ch": 0.0}
                    self.acc[p["cls"]] = self.acc.get(p["cls"], 0.0) + p["own"] - prev["own"]
                    self.acc[p["child_cls"]] = self.acc.get(p["child_cls"], 0.0) + p["ch"] - prev["ch"]
                by_pid = {key[0]: p for key, p in procs.items()}
                for key, q in self.last.items():
                    if key in procs or q["cls"] is None:
                        continue
                    parent = by_pid.get(q["ppid"])
                    if parent is not None and parent["cls"] is not None:  # reaped: counted in its parent's jump
                        self.acc[parent["child_cls"]] -= q["own"] + q["ch"]
            self.snapshots.append((now, busy, dict(self.acc)))
            self._run_trees(procs, now)
            self.last = {key: p for key, p in procs.items() if p["cls"] is not None}
            self.cmdlines = {key: v for key, v in self.cmdlines.items() if key in procs}
            self.samples += 1

    def _run_trees(self, procs: dict[tuple[int, int], dict], now: float) -> None:
        children: dict[int, list[dict]] = {}
        for p in procs.values():
            children.setdefault(p["ppid"], []).append(p)
        for key, p in procs.items():
            if not p.get("run_root"):
                continue
            total, stack = 0.0, [p]
            while stack:
                node = stack.pop()
                total += node["own"] + node["ch"]
                stack.extend(children.get(node["pid"], []))
            self.run_series.setdefault(key, []).append((now, total))

    def window(self, start: float, end: float) -> dict:
        """CPU seconds per class and of the whole machine between the samples nearest to start and end."""
        with self.lock:
            snaps = list(self.snapshots)
        if len(snaps) < 2:
            return {}
        a = min(snaps, key=lambda s: abs(s[0] - start))
        b = min(snaps, key=lambda s: abs(s[0] - end))
        classes = {name: b[2].get(name, 0.0) - a[2].get(name, 0.0) for name in set(a[2]) | set(b[2])}
        return {"from": a[0], "to": b[0], "machine_busy_s": b[1] - a[1], "classes": classes}


def cpu_at(series: list[tuple[float, float]], t: float) -> tuple[float, bool]:
    """The cumulative CPU of a series at time t, interpolated; False when t is after its last sample."""
    if not series:
        return 0.0, False
    if t <= series[0][0]:
        return series[0][1], True
    for (t0, v0), (t1, v1) in zip(series, series[1:], strict=False):
        if t0 <= t <= t1:
            return v0 + (v1 - v0) * (t - t0) / ((t1 - t0) or 1.0), True
    return series[-1][1], False


def cpu_split(
    sampler: CpuSampler,
    runs: list[dict],
    start: float,
    end: float,
    orchestration: tuple[str, ...],
    api_work: tuple[str, ...],
) -> dict:
    """The window's CPU per class, the run workers' split at each run's first step, and per-run medians."""
    window = sampler.window(start, end)
    if not window:
        return {}
    classes = dict(window["classes"])
    by_pid: dict[int, list[tuple[tuple[int, int], list]]] = {}
    for key, series in sampler.run_series.items():
        by_pid.setdefault(key[0], []).append((key, series))
    pre, steps, observed = [], [], []
    for run in runs:
        candidates = by_pid.get(run["pid"] or -1, [])
        # the process of this run: same pid, alive when the run reported its start
        series = next(
            (s for _k, s in candidates if run["started"] and s[0][0] - 5 <= run["started"] <= s[-1][0] + 5), None
        )
        if not series or not run["first_step"]:
            continue
        before, _ = cpu_at(series, run["first_step"])
        pre.append(before)
        observed.append(series[-1][1])
        if run["last_step_end"]:
            after, inside = cpu_at(series, run["last_step_end"])
            if inside:
                steps.append(after - before)
        run["cpu"] = {"before_first_step_s": before, "observed_s": series[-1][1]}
    run_total = classes.pop("run worker", 0.0)
    start_part = sum(pre)
    classes["run start"] = start_part
    classes["run steps"] = run_total - start_part  # the steps, the run's end and the exit
    machine = window["machine_busy_s"]
    return {
        "window_s": window["to"] - window["from"],
        "machine_busy_s": machine,
        "classes": classes,
        "other_s": machine - sum(classes.values()),
        "orchestration_s": sum(classes.get(c, 0.0) for c in orchestration),
        "api_work_s": sum(classes.get(c, 0.0) for c in api_work),
        "runs_with_cpu": len(pre),
        "per_run_median_s": {
            "before_first_step": statistics.median(pre) if pre else None,
            "steps": statistics.median(steps) if steps else None,
            "observed_total": statistics.median(observed) if observed else None,
        },
        "samples": sampler.samples,
        "sampler_cpu_s": sampler.sample_cpu_s,
    }
