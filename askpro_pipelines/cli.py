"""`askpro`: the command line for data/ops staff.

    askpro sync [--tenant SLUG ...] [--select ASSETS]   full sync through Dagster, summary table
    askpro tenants validate                              check the tenants file
    askpro simulator serve [--port N]                    serve the demo tenants from the simulator
    askpro webhooks serve | list | replay                the webhook receiver and its landing table
    askpro backfill --from D --to D [--tenant SLUG …]    re-sync facts of a day range after an outage
"""

import argparse
import datetime as dt
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from askpro_pipelines.sync import FACT_ASSETS, SyncReport, run_sync, simulator_for
from askpro_pipelines.tenants import (
    SIMULATOR_URL_ENV,
    TENANTS_FILE_ENV,
    TenantsConfig,
    TenantsFileError,
    load_tenants,
)
from askpro_pipelines.warehouse import display_url, resolve_warehouse_url

if TYPE_CHECKING:
    from askpro_pipelines.webhooks.store import WebhookStore


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: set[int]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[object]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=False)))

    print(fmt(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))


def print_report(report: SyncReport) -> None:
    """The per-tenant, per-table counts table, then one line per failed tenant."""
    print("\nComprehensive Sync")
    rows: list[Sequence[object]] = []
    totals = [0, 0, 0, 0]
    for tenant in report.tenants:
        for table in sorted(tenant.tables, key=lambda t: t.table):
            counts = [table.rows, table.inserted, table.updated, table.deleted]
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
            rows.append([tenant.tenant, table.table, *counts])
    rows.append(["TOTAL", "", *totals])
    _print_table(["tenant", "table", "rows", "inserted", "updated", "deleted"], rows, right={2, 3, 4, 5})

    print()
    status_rows = []
    for tenant in report.tenants:
        if not tenant.success:
            status = "FAILED"
        elif tenant.failed_checks:
            status = "CHECKS FAILED"
        else:
            status = "ok"
        checks = f"{tenant.checks_run - len(tenant.failed_checks)}/{tenant.checks_run}"
        status_rows.append([tenant.tenant, status, checks, f"{tenant.seconds:.2f}s", tenant.run_id or ""])
    _print_table(["tenant", "status", "checks passed", "time", "run id"], status_rows, right={2, 3})

    for tenant in report.tenants:
        for error in tenant.errors:
            print(f"\nERROR tenant {tenant.tenant}: {error}", file=sys.stderr)
        if tenant.failed_checks:
            print(f"\nCHECKS FAILED tenant {tenant.tenant}: {', '.join(tenant.failed_checks)}", file=sys.stderr)


def _use_simulator(config: TenantsConfig, mode: str) -> bool:
    if mode == "on":
        return True
    if mode == "off" or os.environ.get(SIMULATOR_URL_ENV):
        return False
    referenced = [name for t in config.tenants for name in t.secret_env_names()]
    return not any(os.environ.get(name) for name in referenced)


def _run_against_source(args: argparse.Namespace, config: TenantsConfig, **sync_arguments: Any) -> SyncReport:
    """Sync against the real APIs, or the bundled simulator when no key is set (or --simulator on)."""
    if _use_simulator(config, args.simulator):
        with simulator_for(config, seed=args.seed) as simulator:
            print(f"no API keys set: serving {len(config.tenants)} tenant(s) from the bundled simulator at {simulator.base_url}")
            return run_sync(load_tenants(), log_level=args.log_level, **sync_arguments)
    config.require_secrets()
    return run_sync(config, log_level=args.log_level, **sync_arguments)


def cmd_sync(args: argparse.Namespace) -> int:
    if args.tenants_file:
        os.environ[TENANTS_FILE_ENV] = args.tenants_file
    config = load_tenants()
    select = [s.strip() for s in args.select.split(",") if s.strip()] if args.select else None
    print(f"warehouse: {display_url(resolve_warehouse_url())}")
    report = _run_against_source(args, config, tenant_slugs=args.tenant, select=select, days=args.days)
    print_report(report)
    return 0 if report.success else 1


def cmd_tenants_validate(args: argparse.Namespace) -> int:
    config = load_tenants(args.tenants_file)
    for tenant in config.tenants:
        branches = ", ".join(f"{b.id} (event type {b.calcom_event_type_id}, {len(b.phone_numbers)} number(s))" for b in tenant.branches)
        print(f"{tenant.slug}: {tenant.name} [{tenant.timezone}, Cal.com {tenant.calcom.api_version}] {branches}")
    missing = config.missing_secrets()
    if missing:
        print("not set (the simulator is used when none is set): " + "; ".join(missing))
    print(f"ok: {len(config.tenants)} tenant(s)")
    return 0


def cmd_simulator_serve(args: argparse.Namespace) -> int:
    config = load_tenants(args.tenants_file, environ={k: v for k, v in os.environ.items() if k != SIMULATOR_URL_ENV})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with simulator_for(config, seed=args.seed, port=args.port) as simulator:
        url = simulator.base_url
        print(f"simulator serving {len(config.tenants)} tenant(s) at {url}")
        print("to point Dagster at it, export:")
        print(f"  export {SIMULATOR_URL_ENV}={url}")
        for tenant in config.tenants:
            # Only the simulator's own fake keys, which simulator_for just set; never a real secret.
            for name in [tenant.calcom.api_key_env] + ([tenant.retell.api_key_env] if tenant.retell else []):
                print(f"  export {name}={os.environ[name]}")
        print("Ctrl-C stops it.", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


def _store() -> "WebhookStore":
    from askpro_pipelines.warehouse import Warehouse
    from askpro_pipelines.webhooks.store import WebhookStore

    return WebhookStore(Warehouse.from_url(resolve_warehouse_url()).engine)


def cmd_webhooks_serve(args: argparse.Namespace) -> int:
    from askpro_pipelines.webhooks.server import serve

    load_tenants()  # a broken tenants file fails here, not on the first delivery
    print(f"webhook receiver on http://{args.host}:{args.port} -> {display_url(resolve_warehouse_url())}", flush=True)
    serve(host=args.host, port=args.port)
    return 0


def cmd_webhooks_list(args: argparse.Namespace) -> int:
    store = _store()
    events = store.list(status=args.status, tenant=args.tenant, provider=args.provider, limit=args.limit)
    rows = [
        [
            e.id,
            e.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.tenant,
            e.provider,
            e.event_type,
            e.entity_id or "",
            str(e.event_day or ""),
            e.status,
            e.attempts,
            (e.last_error or "")[:60],
        ]
        for e in events
    ]
    _print_table(["id", "received (UTC)", "tenant", "provider", "event", "entity", "day", "status", "attempts", "last error"], rows, right={0, 8})
    counts = store.counts()
    print("\n" + ", ".join(f"{p} {s}: {n}" for (p, s), n in sorted(counts.items())) if counts else "\nno events")
    return 0


def cmd_webhooks_replay(args: argparse.Namespace) -> int:
    if not args.id and not args.since:
        print("error: give --id (repeatable) or --since", file=sys.stderr)
        return 2
    since = dt.datetime.fromisoformat(args.since) if args.since else None
    count = _store().requeue(ids=args.id or None, since=since, tenant=args.tenant, provider=args.provider)
    print(f"re-queued {count} event(s); the webhook sensors pick them up on their next tick")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    first, last = dt.date.fromisoformat(args.date_from), dt.date.fromisoformat(args.date_to)
    if last < first:
        print("error: --to is before --from", file=sys.stderr)
        return 2
    if args.tenants_file:
        os.environ[TENANTS_FILE_ENV] = args.tenants_file
    config = load_tenants()
    select = [s.strip() for s in args.select.split(",") if s.strip()] if args.select else FACT_ASSETS
    print(f"warehouse: {display_url(resolve_warehouse_url())}; days {first} … {last}, one run per tenant")
    report = _run_against_source(
        args, config, tenant_slugs=args.tenant, select=select, days=(last - first).days + 1, until=last
    )
    print_report(report)
    return 0 if report.success else 1


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenants-file", metavar="PATH", help=f"tenants YAML (default: ${TENANTS_FILE_ENV}, else the demo file)")
    parser.add_argument(
        "--simulator",
        choices=["auto", "on", "off"],
        default="auto",
        help="serve tenants from the bundled simulator: auto = when no API key is set (default)",
    )
    parser.add_argument("--seed", type=int, default=42, help="simulator seed (default 42)")
    parser.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="Dagster console log level"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="askpro", description="AskPro Pipelines: Cal.com and Retell AI into the warehouse.")
    sub = parser.add_subparsers(dest="command", required=True)

    sync = sub.add_parser("sync", help="full sync of the chosen tenants through Dagster")
    sync.add_argument("--tenant", action="append", metavar="SLUG", help="tenant to sync (repeatable; default: all)")
    sync.add_argument("--select", metavar="ASSETS", help="comma-separated assets, e.g. calcom_event_types,staff")
    sync.add_argument("--days", type=int, default=1, help="facts (bookings, calls, outcomes) of the last N days (default 1: today)")
    _source_arguments(sync)
    sync.set_defaults(func=cmd_sync)

    tenants = sub.add_parser("tenants", help="tenants file tools").add_subparsers(dest="tenants_command", required=True)
    validate = tenants.add_parser("validate", help="validate the tenants file and list tenants")
    validate.add_argument("--tenants-file", metavar="PATH")
    validate.set_defaults(func=cmd_tenants_validate)

    simulator = sub.add_parser("simulator", help="the bundled Cal.com/Retell simulator").add_subparsers(
        dest="simulator_command", required=True
    )
    serve = simulator.add_parser("serve", help="serve the tenants file's tenants until Ctrl-C")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument("--tenants-file", metavar="PATH")
    serve.set_defaults(func=cmd_simulator_serve)

    webhooks = sub.add_parser("webhooks", help="the webhook receiver and its landing table").add_subparsers(
        dest="webhooks_command", required=True
    )
    serve_hooks = webhooks.add_parser("serve", help="run the receiver (POST /webhooks/calcom|retell/{tenant})")
    serve_hooks.add_argument("--host", default="127.0.0.1")
    serve_hooks.add_argument("--port", type=int, default=8088)
    serve_hooks.set_defaults(func=cmd_webhooks_serve)
    listing = webhooks.add_parser("list", help="inspect landed events (newest first)")
    listing.add_argument("--status", choices=["pending", "queued", "processed", "dead"])
    listing.add_argument("--tenant")
    listing.add_argument("--provider", choices=["calcom", "retell"])
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=cmd_webhooks_list)
    replay = webhooks.add_parser("replay", help="re-queue events (dead letters, or everything since a time)")
    replay.add_argument("--id", type=int, action="append", help="event id (repeatable)")
    replay.add_argument("--since", help="ISO time, e.g. 2026-11-24T06:00 (UTC unless an offset is given)")
    replay.add_argument("--tenant")
    replay.add_argument("--provider", choices=["calcom", "retell"])
    replay.set_defaults(func=cmd_webhooks_replay)

    backfill = sub.add_parser("backfill", help="re-sync bookings, calls and outcomes of a day range (one run per tenant)")
    backfill.add_argument("--tenant", action="append", metavar="SLUG", help="tenant (repeatable; default: all)")
    backfill.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
    backfill.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD")
    backfill.add_argument("--select", metavar="ASSETS", help="comma-separated fact assets (default: all facts)")
    _source_arguments(backfill)
    backfill.set_defaults(func=cmd_backfill)
    return parser


def _quiet_dagster_feature_warnings() -> None:
    """Dagster's beta/preview notices (partitioned checks, backfill policies) are for developers,
    not for ops staff reading a sync summary; the test suite and `dagster dev` still show them."""
    from dagster import BetaWarning, PreviewWarning

    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `askpro` command; exit 0 only when everything succeeded."""
    _quiet_dagster_feature_warnings()
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
        return status
    except TenantsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
