"""`askpro`: the command line for data/ops staff.

    askpro sync [--tenant SLUG ...] [--select ASSETS]   sync through Dagster, summary table
    askpro backfill --from D --to D [--tenant SLUG …]    re-sync facts of a day range after an outage
    askpro tenants validate                              check the tenants file
    askpro webhooks serve | list | replay                the webhook receiver and its landing table
    askpro instance prepare                              create/repair the shared local Dagster instance
    askpro report --tenant SLUG [--week 2026-W48]        write a tenant's weekly report (HTML)

The demo (the bundled simulator) is the simulator package's own command, `askpro-demo`; in
production (ASKPRO_ENV=production, or a PostgreSQL instance) every command refuses the demo defaults.
A bad argument is one line on stderr and exit 2; sync and backfill exit 1 when a tenant or a
check failed. Runs are recorded in the shared local instance, so `make dev` shows them.
"""

import argparse
import datetime as dt
import os
import re
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from askpro_pipelines.cli_output import new_log_path, output_to, print_report, print_table
from askpro_pipelines.deployment import check_mode
from askpro_pipelines.instance import InstanceError, dagster_home, prepare_home
from askpro_pipelines.sync import (
    DIMENSIONS_JOB,
    FACT_ASSETS,
    FACTS_JOB,
    SelectionError,
    SyncReport,
    history_start,
    run_sync,
    split_selection,
    tenant_today,
)
from askpro_pipelines.tenants import (
    TENANTS_FILE_ENV,
    TenantsConfig,
    TenantsFileError,
    load_tenants,
)
from askpro_pipelines.warehouse import display_url, resolve_warehouse_url
from askpro_pipelines.warehouse.migrate import WarehouseSchemaError
from askpro_pipelines.warehouse.store import ALLOW_DELETIONS_CONFIG

if TYPE_CHECKING:
    from askpro_pipelines.webhooks.store import WebhookStore


class UsageError(ValueError):
    """An argument that parses but cannot be used (unknown tenant, a day out of range, …)."""


# ---- argument types: each rejects a bad value with one line ----


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise argparse.ArgumentTypeError(f"{text!r} is not a calendar day ({exc})") from None
        raise argparse.ArgumentTypeError(f"{text!r} is not a day; expected YYYY-MM-DD") from None


def _moment(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time; expected e.g. 2026-11-24T06:00 or 2026-11-24T06:00+01:00"
        ) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not allowed; give 1 or more")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port number (0-65535)")
    return value


def _asset_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give one or more comma-separated asset names")
    return names


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block): what was wrong and where to read more."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---- sync and backfill ----


def _load_config(args: argparse.Namespace) -> TenantsConfig:
    if args.tenants_file:
        os.environ[TENANTS_FILE_ENV] = args.tenants_file
    config = load_tenants()
    for slug in args.tenant or []:
        config.get(slug)  # an unknown tenant is a usage error before anything starts
    return config


def _run(args: argparse.Namespace, config: TenantsConfig, title: str, **sync_arguments: Any) -> int:
    """Sync the tenants' APIs (in demo mode: the simulator ASKPRO_SIMULATOR_URL names);
    Dagster's output goes to a log file unless --verbose; then the summary."""
    config.require_secrets()
    log_path = None if args.verbose else new_log_path(args.command)
    print(f"warehouse: {display_url(resolve_warehouse_url())}")
    print(f"Dagster instance: {dagster_home()} (make dev shows these runs)")
    if log_path:
        print(f"log: {log_path}")
    arguments = {"tenant_slugs": args.tenant, "log_level": args.log_level, **sync_arguments}
    if getattr(args, "allow_deletions", False):
        arguments["run_config"] = ALLOW_DELETIONS_CONFIG
    report = _quietly(log_path, config, arguments)
    print_report(report, title, log_path)
    return 0 if report.success else 1


def _quietly(log_path: Path | None, config: TenantsConfig, arguments: dict[str, Any]) -> SyncReport:
    if log_path is None:
        return run_sync(config, **arguments)
    with output_to(log_path):
        return run_sync(config, **arguments)


def cmd_sync(args: argparse.Namespace) -> int:
    config = _load_config(args)
    by_job = split_selection(args.select)
    if by_job[FACTS_JOB]:
        first = min(tenant_today(config.get(slug)) for slug in args.tenant or config.slugs) - dt.timedelta(
            days=args.days - 1
        )
        if first < history_start():
            raise UsageError(
                f"--days {args.days} reaches back to {first}, before the first day of the fact partitions ({history_start()})"
            )
    days = "today" if args.days == 1 else f"the last {args.days} days"
    title = "Sync" if not args.select else f"Sync of {', '.join(args.select)}"
    return _run(
        args, config, f"{title} (facts: {days})" if by_job[FACTS_JOB] else title, select=args.select, days=args.days
    )


def cmd_backfill(args: argparse.Namespace) -> int:
    first, last = args.date_from, args.date_to
    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    config = _load_config(args)
    by_job = split_selection(args.select or FACT_ASSETS)
    if by_job[DIMENSIONS_JOB]:
        names = ", ".join(key.to_user_string() for key in by_job[DIMENSIONS_JOB])
        raise UsageError(
            f"backfill takes fact assets ({', '.join(FACT_ASSETS)}), not {names}; `askpro sync --select` syncs those"
        )
    if first < history_start():
        raise UsageError(f"--from {first} is before the first day of the fact partitions ({history_start()})")
    for slug in args.tenant or config.slugs:
        today = tenant_today(config.get(slug))
        if last > today:
            raise UsageError(
                f"--to {last} is in the future for tenant {slug} (today there is {today}); backfill refuses future days"
            )
    print(f"days {first} … {last}, one run per tenant")
    return _run(
        args,
        config,
        f"Backfill {first}..{last}",
        select=args.select or FACT_ASSETS,
        days=(last - first).days + 1,
        until=last,
    )


def cmd_tenants_validate(args: argparse.Namespace) -> int:
    config = load_tenants(args.tenants_file)
    for tenant in config.tenants:
        branches = ", ".join(
            f"{b.id} (event type {b.calcom_event_type_id}, {len(b.phone_numbers)} number(s))" for b in tenant.branches
        )
        print(f"{tenant.slug}: {tenant.name} [{tenant.timezone}, Cal.com {tenant.calcom.api_version}] {branches}")
    missing = config.missing_secrets()
    if missing:
        print("not set (`askpro-demo sync` runs the demo when none is set): " + "; ".join(missing))
    print(f"ok: {len(config.tenants)} tenant(s)")
    return 0


def _store() -> "WebhookStore":
    from askpro_pipelines.warehouse import Warehouse
    from askpro_pipelines.webhooks.store import WebhookStore

    return WebhookStore(Warehouse.from_url(resolve_warehouse_url()).engine)


def cmd_webhooks_serve(args: argparse.Namespace) -> int:
    from askpro_pipelines.webhooks.server import serve

    load_tenants()  # a broken tenants file fails here, not on the first delivery
    print(f"webhook receiver on http://{args.host}:{args.port} -> {display_url(resolve_warehouse_url())}", flush=True)
    serve(host=args.host, port=args.port, workers=args.workers)
    return 0


def cmd_webhooks_list(args: argparse.Namespace) -> int:
    if args.tenant:
        load_tenants().get(args.tenant)
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
    print_table(
        ["id", "received (UTC)", "tenant", "provider", "event", "entity", "day", "status", "attempts", "last error"],
        rows,
        right={0, 8},
    )
    counts = store.counts()
    print("\n" + ", ".join(f"{p} {s}: {n}" for (p, s), n in sorted(counts.items())) if counts else "\nno events")
    return 0


def cmd_webhooks_replay(args: argparse.Namespace) -> int:
    if not args.id and not args.since:
        raise UsageError("give --id (repeatable) or --since")
    if args.tenant:
        load_tenants().get(args.tenant)
    count = _store().requeue(ids=args.id or None, since=args.since, tenant=args.tenant, provider=args.provider)
    print(f"re-queued {count} event(s); the webhook sensors pick them up on their next tick")
    return 0


def cmd_instance_prepare(args: argparse.Namespace) -> int:
    print(prepare_home())
    return 0


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tenant", action="append", metavar="SLUG", help="a tenant of the tenants file (repeatable; default: all)"
    )
    parser.add_argument(
        "--tenants-file", metavar="PATH", help=f"tenants YAML (default: ${TENANTS_FILE_ENV}, else the demo file)"
    )
    parser.add_argument(
        "--log-level",
        default="DEBUG",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="level of Dagster's logs (default DEBUG: every step event; INFO: the assets' own messages)",
    )
    parser.add_argument("--verbose", action="store_true", help="show Dagster's step logs here instead of in a log file")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; every option carries help text (a test checks)."""
    parser = _Parser(prog="askpro", description="AskPro Pipelines: Cal.com and Retell AI into the warehouse.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sync = sub.add_parser("sync", help="sync the chosen tenants through Dagster and print the counts")
    sync.add_argument(
        "--select",
        type=_asset_names,
        metavar="ASSETS",
        help="comma-separated assets (default: all), e.g. calcom_event_types,staff",
    )
    sync.add_argument(
        "--days",
        type=_positive_int,
        default=1,
        help="facts (bookings, calls, outcomes) of the last N days (default 1: today)",
    )
    sync.add_argument(
        "--allow-deletions",
        action="store_true",
        help="accept a sync that deletes more than the guarded share of a tenant's rows in a table (history keeps them)",
    )
    _source_arguments(sync)
    sync.set_defaults(func=cmd_sync)

    backfill = sub.add_parser("backfill", help="re-sync bookings, calls and outcomes of past days (one run per tenant)")
    backfill.add_argument(
        "--from", dest="date_from", type=_day, required=True, metavar="YYYY-MM-DD", help="first day (tenant-local)"
    )
    backfill.add_argument(
        "--to",
        dest="date_to",
        type=_day,
        required=True,
        metavar="YYYY-MM-DD",
        help="last day (tenant-local); not after today",
    )
    backfill.add_argument(
        "--select",
        type=_asset_names,
        metavar="ASSETS",
        help=f"comma-separated fact assets (default: {','.join(FACT_ASSETS)})",
    )
    _source_arguments(backfill)
    backfill.set_defaults(func=cmd_backfill)

    tenants = sub.add_parser("tenants", help="tenants file tools").add_subparsers(
        dest="tenants_command", required=True, metavar="COMMAND"
    )
    validate = tenants.add_parser("validate", help="validate the tenants file and list tenants")
    validate.add_argument(
        "--tenants-file", metavar="PATH", help=f"tenants YAML (default: ${TENANTS_FILE_ENV}, else the demo file)"
    )
    validate.set_defaults(func=cmd_tenants_validate)

    webhooks = sub.add_parser("webhooks", help="the webhook receiver and its landing table").add_subparsers(
        dest="webhooks_command", required=True, metavar="COMMAND"
    )
    serve_hooks = webhooks.add_parser("serve", help="run the receiver (POST /webhooks/calcom|retell/{tenant})")
    serve_hooks.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve_hooks.add_argument("--port", type=_port, default=8088, help="port to listen on (default 8088)")
    serve_hooks.add_argument(
        "--workers", type=_positive_int, default=1,
        help="processes serving one port (default 1; one process uses one core, see the README)",
    )  # fmt: skip
    serve_hooks.set_defaults(func=cmd_webhooks_serve)
    listing = webhooks.add_parser("list", help="inspect landed events (newest first)")
    listing.add_argument(
        "--status", choices=["pending", "queued", "processed", "dead"], help="only events in this state"
    )
    listing.add_argument("--tenant", metavar="SLUG", help="only this tenant's events")
    listing.add_argument("--provider", choices=["calcom", "retell"], help="only this provider's events")
    listing.add_argument("--limit", type=_positive_int, default=50, help="at most N events (default 50)")
    listing.set_defaults(func=cmd_webhooks_list)
    replay = webhooks.add_parser("replay", help="re-queue events (dead letters, or everything since a time)")
    replay.add_argument("--id", type=_positive_int, action="append", help="event id (repeatable)")
    replay.add_argument(
        "--since", type=_moment, metavar="TIME", help="ISO time, e.g. 2026-11-24T06:00 (UTC unless an offset is given)"
    )
    replay.add_argument("--tenant", metavar="SLUG", help="only this tenant's events")
    replay.add_argument("--provider", choices=["calcom", "retell"], help="only this provider's events")
    replay.set_defaults(func=cmd_webhooks_replay)

    instance = sub.add_parser(
        "instance", help="the local Dagster instance the CLI and `make dev` share"
    ).add_subparsers(dest="instance_command", required=True, metavar="COMMAND")
    prepare = instance.add_parser(
        "prepare", help="create or repair it, print its directory ($ASKPRO_DATA_DIR/dagster_home or $DAGSTER_HOME)"
    )
    prepare.set_defaults(func=cmd_instance_prepare)

    _warehouse_commands(sub)

    # Availability and prompt pushes (issue 13) keep their commands in their own modules.
    from askpro_pipelines.availability import cli as availability_cli
    from askpro_pipelines.prompts import cli as prompts_cli
    from askpro_pipelines.report import cli as report_cli

    availability_cli.add_parser(sub)
    prompts_cli.add_parser(sub)
    report_cli.add_parser(sub)  # the weekly tenant report (issue 12)
    return parser


def _warehouse_commands(sub: "argparse._SubParsersAction[_Parser]") -> None:
    """`askpro warehouse|history|quarantine ...`: the logic lives in askpro_pipelines/warehouse/."""
    from askpro_pipelines.warehouse import migrate

    schema = sub.add_parser("warehouse", help="the warehouse schema: status, upgrade").add_subparsers(
        dest="warehouse_command", required=True
    )
    for name, command, text in (
        ("status", migrate.cmd_status, "where the warehouse's schema stands (exit 1 unless current)"),
        ("upgrade", migrate.cmd_upgrade, "apply the schema migrations (adopts a first-release warehouse)"),
    ):
        parser = schema.add_parser(name, help=text)
        parser.add_argument("--url", help="SQLAlchemy URL (default: $ASKPRO_WAREHOUSE_URL, else the local SQLite file)")
        parser.set_defaults(func=lambda args, command=command: command(resolve_warehouse_url(args.url)))

    from askpro_pipelines.warehouse import history

    past = sub.add_parser("history", help="the warehouse's history of the dimensions").add_subparsers(
        dest="history_command", required=True
    )
    phone = past.add_parser(
        "phone", help="a number's chain (agent, version, prompt, branch, event type, staff) at an instant"
    )
    phone.add_argument("number", help="any common spelling, e.g. +4930123456701 or 030 123456701")
    phone.add_argument("--at", help="ISO time, e.g. 2026-11-24T10:00 (UTC unless an offset is given; default: now)")
    phone.add_argument("--tenant", metavar="SLUG", help="only this tenant's numbers")
    phone.set_defaults(
        func=lambda args: history.cmd_history_phone(resolve_warehouse_url(), args.number, args.at, args.tenant)
    )

    from askpro_pipelines.warehouse import quarantine

    held = sub.add_parser(
        "quarantine", help="records that failed validation and were kept out of their table"
    ).add_subparsers(dest="quarantine_command", required=True)
    listing = held.add_parser("list", help="quarantined records: tenant, entity, record id, error, first/last seen")
    listing.add_argument("--tenant", metavar="SLUG", help="only this tenant's records")
    listing.add_argument("--payload", action="store_true", help="also print each record's (redacted) payload")
    listing.set_defaults(func=lambda args: quarantine.cmd_list(resolve_warehouse_url(), args.tenant, args.payload))


def _quiet_dagster_notices() -> None:
    """Dagster's beta/preview/superseded notices are for developers, not for ops staff reading a
    sync summary; the test suite and `dagster dev` still show them."""
    from dagster import BetaWarning, PreviewWarning, SupersessionWarning

    for category in (BetaWarning, PreviewWarning, SupersessionWarning):
        warnings.filterwarnings("ignore", category=category)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `askpro` command: 0 ok, 1 a tenant or check failed, 2 a bad argument."""
    _quiet_dagster_notices()
    args = build_parser().parse_args(argv)
    command = " ".join(part for part in (args.command, getattr(args, f"{args.command}_command", None)) if part)
    try:
        check_mode()
        status: int = args.func(args)
        return status
    except (UsageError, TenantsFileError, SelectionError, WarehouseSchemaError) as exc:
        print(f"askpro {command}: error: {exc}", file=sys.stderr)
        return 2
    except InstanceError as exc:
        print(f"askpro {command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"askpro {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for the user, the traceback in a file
        log_path = new_log_path(args.command)
        log_path.write_text(traceback.format_exc())
        first_line = (str(exc).strip().splitlines() or [""])[0]
        print(f"askpro {command}: error: {type(exc).__name__}: {first_line} (traceback: {log_path})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
