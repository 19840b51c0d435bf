"""`askpro availability --phone … --at … [--tenant T] [--offline]`.

Exit codes: 0 the time is free, 1 it is not (the nearest alternatives are printed), 2 no answer
(a number with no branch, a branch with no event type, Cal.com unreachable, no snapshot): one line
on stderr saying why.
"""

import argparse
import datetime as dt
import sys
from typing import Any

from askpro_pipelines.availability.answer import (
    DEFAULT_SEARCH_DAYS,
    Unanswerable,
    live_answer,
    local_time,
    offline_answer,
    render,
    resolve_target,
)
from askpro_pipelines.resources.calcom import CalcomResource
from askpro_pipelines.tenants import TenantsFileError, load_tenants
from askpro_pipelines.warehouse import Warehouse, resolve_warehouse_url

# An operator waits at the command line: fewer, shorter attempts than a sync run.
CLI_ATTEMPTS = 2
CLI_TIMEOUT_S = 10.0


def cmd_availability(args: argparse.Namespace, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.UTC)
    warehouse = Warehouse.from_url(resolve_warehouse_url())
    try:
        warehouse.create_tables()
        target = resolve_target(args.phone, load_tenants(args.tenants_file), warehouse, args.tenant)
        at = local_time(args.at, target.zone)
        if args.offline:
            answer = offline_answer(target, at, warehouse, now)
        else:
            try:
                calcom = CalcomResource(max_attempts=CLI_ATTEMPTS, timeout_s=CLI_TIMEOUT_S)
                client = calcom.availability_client_for(target.tenant)
            except TenantsFileError as exc:
                raise Unanswerable(str(exc)) from None
            answer = live_answer(target, at, client, now, days=args.days)
    except Unanswerable as exc:
        print(f"no answer: {exc}", file=sys.stderr)
        return 2
    finally:
        warehouse.dispose()
    for line in render(answer, now):
        print(line)
    return 0 if answer.free else 1


def add_parser(sub: "argparse._SubParsersAction[Any]") -> None:
    """Register `availability` on the askpro command's subparsers."""
    parser = sub.add_parser("availability", help="is a time free for a dialled number? else the 3 nearest alternatives")
    parser.add_argument("--phone", required=True, help="the dialled number, e.g. +4930123456701 or 030 123456701")
    parser.add_argument("--at", required=True, help="local time in the tenant's zone, e.g. 2026-12-03T10:00")
    parser.add_argument("--tenant", metavar="SLUG", help="the tenant (default: whichever lists the number)")
    parser.add_argument("--offline", action="store_true", help="answer from the latest branch_availability snapshot")
    parser.add_argument("--days", type=int, default=DEFAULT_SEARCH_DAYS, help="days after --at to search (default 7)")
    parser.add_argument(
        "--tenants-file", metavar="PATH", help="tenants YAML (default: $ASKPRO_TENANTS_FILE, else the demo file)"
    )
    parser.set_defaults(func=cmd_availability)
