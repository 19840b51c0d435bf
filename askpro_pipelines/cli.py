"""`askpro`: the command line for data/ops staff.

    askpro sync [--tenant SLUG ...] [--select ASSETS]   full sync through Dagster, summary table
    askpro tenants validate                              check the tenants file
    askpro simulator serve [--port N]                    serve the demo tenants from the simulator
"""

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

from askpro_pipelines.sync import SyncReport, run_sync, simulator_for
from askpro_pipelines.tenants import SIMULATOR_URL_ENV, TENANTS_FILE_ENV, TenantsConfig, TenantsFileError, load_tenants
from askpro_pipelines.warehouse import display_url, resolve_warehouse_url


def _print_table(headers: Sequence[str], rows: list[Sequence[object]], right: set[int]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[object]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

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
            totals = [a + b for a, b in zip(totals, counts)]
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


def cmd_sync(args: argparse.Namespace) -> int:
    if args.tenants_file:
        os.environ[TENANTS_FILE_ENV] = args.tenants_file
    config = load_tenants()
    select = [s.strip() for s in args.select.split(",") if s.strip()] if args.select else None
    print(f"warehouse: {display_url(resolve_warehouse_url())}")
    if _use_simulator(config, args.simulator):
        with simulator_for(config, seed=args.seed) as simulator:
            print(f"no API keys set: serving {len(config.tenants)} tenant(s) from the bundled simulator at {simulator.base_url}")
            report = run_sync(load_tenants(), args.tenant, select, log_level=args.log_level)
    else:
        config.require_secrets()
        report = run_sync(config, args.tenant, select, log_level=args.log_level)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="askpro", description="AskPro Pipelines: Cal.com and Retell AI into the warehouse.")
    sub = parser.add_subparsers(dest="command", required=True)

    sync = sub.add_parser("sync", help="full sync of the chosen tenants through Dagster")
    sync.add_argument("--tenant", action="append", metavar="SLUG", help="tenant to sync (repeatable; default: all)")
    sync.add_argument("--select", metavar="ASSETS", help="comma-separated assets, e.g. calcom_event_types,staff")
    sync.add_argument("--tenants-file", metavar="PATH", help=f"tenants YAML (default: ${TENANTS_FILE_ENV}, else the demo file)")
    sync.add_argument(
        "--simulator",
        choices=["auto", "on", "off"],
        default="auto",
        help="serve tenants from the bundled simulator: auto = when no API key is set (default)",
    )
    sync.add_argument("--seed", type=int, default=42, help="simulator seed (default 42)")
    sync.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="Dagster console log level"
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `askpro` command; exit 0 only when everything succeeded."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TenantsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
