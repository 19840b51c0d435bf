"""What `askpro` prints: the summary tables on the terminal, Dagster's own output in a log file.

Ops staff read the summary; step logs, stack traces and Dagster's notices are for whoever digs
into a failure, so during a sync they go to a log file whose path the summary prints.
"""

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from askpro_pipelines.deployment import demo_banner
from askpro_pipelines.sync import SyncReport
from askpro_pipelines.warehouse.store import default_data_dir


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: set[int]) -> None:
    """A plain aligned text table; `right` holds the indexes of right-aligned (numeric) columns."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[object]) -> str:
        line = "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        )
        return line.rstrip()

    print(fmt(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))


def print_report(report: SyncReport, title: str, log_path: Path | None = None) -> None:
    """The counts table, one row per Dagster run (to find it in the UI), then one line per error."""
    print(f"\n{title}")
    banner = demo_banner(report.simulator_url)
    if banner:
        print(banner)
    rows: list[Sequence[object]] = []
    totals = [0, 0, 0, 0]
    for tenant in report.tenants:
        # One line per table: a table both runs write (api_health) shows the two runs' sums.
        per_table: dict[str, list[int]] = {}
        for table in tenant.tables:
            counts = [table.rows, table.inserted, table.updated, table.deleted]
            summed = per_table.setdefault(table.table, [0, 0, 0, 0])
            per_table[table.table] = [a + b for a, b in zip(summed, counts, strict=True)]
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
        rows.extend([tenant.tenant, name, *counts] for name, counts in sorted(per_table.items()))
    rows.append(["TOTAL", "", *totals])
    print_table(["tenant", "table", "rows", "inserted", "updated", "deleted"], rows, right={2, 3, 4, 5})

    print()
    run_rows = []
    for tenant in report.tenants:
        for run in tenant.runs:
            status = (
                "ok" if run.success and not run.checks_failed else ("FAILED" if not run.success else "CHECKS FAILED")
            )
            checks = f"{run.checks_run - run.checks_failed}/{run.checks_run}"
            run_rows.append([tenant.tenant, run.job, status, checks, f"{run.seconds:.1f}s", run.run_id])
    print_table(["tenant", "job", "status", "checks passed", "time", "run id"], run_rows, right={3, 4})

    failed = [t for t in report.tenants if t.errors or t.failed_checks]
    if failed and log_path is not None:
        print(f"\nstep logs and stack traces: {log_path}")
    sys.stdout.flush()
    for tenant in report.tenants:
        for note in tenant.notes:
            print(f"NOTE tenant {tenant.tenant}: {note}", file=sys.stderr)
    for tenant in failed:
        for error in tenant.errors:
            print(f"ERROR tenant {tenant.tenant}: {error}", file=sys.stderr)
        if tenant.failed_checks:
            print(f"CHECKS FAILED tenant {tenant.tenant}: {', '.join(tenant.failed_checks)}", file=sys.stderr)


def new_log_path(command: str) -> Path:
    """A fresh log file for one command under $ASKPRO_DATA_DIR/logs."""
    directory = default_data_dir() / "logs"
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = directory / f"askpro-{command}-{stamp}-{os.getpid()}.log"
    return path


@contextlib.contextmanager
def output_to(log_path: Path) -> Iterator[None]:
    """Send everything written meanwhile to `log_path`: Python's streams and file descriptors 1 and 2,
    so Dagster's console logs, warnings and helper processes' output all land there."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log_path, "a", buffering=1, encoding="utf-8") as log:
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            log.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
