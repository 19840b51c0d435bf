"""`askpro report --tenant T [--week 2026-W48] [--out DIR]`: write one tenant's weekly report now.

Prints the path written; exit 0. A bad tenant or week (malformed, or not begun in the tenant's
time zone) is one line on stderr and exit 2. The default week is the last complete one in the
tenant's time zone; the current week may be asked for and is marked "in progress".
"""

import argparse
import sys
from pathlib import Path
from typing import Any

from askpro_pipelines.report.output import report_dir, write_report
from askpro_pipelines.report.week import BadWeek, IsoWeek, check_week, last_complete_week
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse import Warehouse, resolve_warehouse_url
from askpro_pipelines.warehouse.migrate import ensure_schema


def _week(text: str) -> IsoWeek:
    try:
        return IsoWeek.parse(text)
    except BadWeek as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_report(args: argparse.Namespace) -> int:
    tenant = load_tenants(args.tenants_file).get(args.tenant)  # unknown: TenantsFileError, exit 2
    week = args.week or last_complete_week(tenant.timezone)
    try:
        check_week(week, tenant.timezone)
    except BadWeek as exc:
        print(f"askpro report: error: {exc}", file=sys.stderr)
        return 2
    folder = Path(args.out).resolve() if args.out else report_dir()
    warehouse = Warehouse.from_url(resolve_warehouse_url())
    try:
        ensure_schema(warehouse.engine)  # a behind PostgreSQL warehouse: WarehouseSchemaError, exit 2
        written = write_report(warehouse, tenant, week, folder)
    finally:
        warehouse.dispose()
    print(written.path)
    return 0


def add_parser(sub: "argparse._SubParsersAction[Any]") -> None:
    """Register `report` on the askpro command's subparsers."""
    parser = sub.add_parser("report", help="write a tenant's weekly report (one self-contained HTML file)")
    parser.add_argument("--tenant", required=True, metavar="SLUG", help="the tenant")
    parser.add_argument(
        "--week", type=_week, metavar="YYYY-Www", help="ISO week, e.g. 2026-W48 (default: the last complete week)"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="folder for <tenant>/<week>.html (default: $ASKPRO_REPORT_DIR, else $ASKPRO_DATA_DIR/reports)",
    )
    parser.add_argument(
        "--tenants-file", metavar="PATH", help="tenants YAML (default: $ASKPRO_TENANTS_FILE, else the demo file)"
    )
    parser.set_defaults(func=cmd_report)
