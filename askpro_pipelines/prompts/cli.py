"""`askpro prompts diff [--tenant T]` and `askpro prompts push --tenant T --agent A [--publish] [--repoint-numbers]`.

diff exits 0 when nothing differs, 1 when a push would change something, 2 when it cannot tell
(a bad prompt file, a missing key, Retell unreachable). push exits 0 when it succeeded, 1 when it
failed part-way (the audit row and the printed steps say what was done), 2 when it was refused.
"""

import argparse
import sys
from typing import Any

from askpro_pipelines.prompts.diff import PromptPushError, diff_agent
from askpro_pipelines.prompts.files import PromptFileError, load_prompts, prompts_dir
from askpro_pipelines.prompts.push import PushRequest, push_prompt, secret_fields
from askpro_pipelines.resources.http import ApiError
from askpro_pipelines.resources.retell import RetellResource
from askpro_pipelines.tenants import TenantsFileError, load_tenants
from askpro_pipelines.warehouse import Warehouse, resolve_warehouse_url

TENANTS_HELP = "tenants YAML (default: $ASKPRO_TENANTS_FILE, else the demo file)"
EXIT_BY_OUTCOME = {"succeeded": 0, "failed": 1, "refused": 2}


def _retell() -> RetellResource:
    """The operator waits: few attempts, and no helper processes for a handful of requests."""
    return RetellResource(max_attempts=3, detail_processes=0)


def cmd_prompts_diff(args: argparse.Namespace) -> int:
    try:
        tenants = load_tenants(args.tenants_file)
        desired_all = load_prompts(prompts_dir(args.prompts_dir), tenants, args.tenant)
        retell = _retell()
        changed = 0
        for desired in desired_all:
            diff = diff_agent(retell.client_for(tenants.get(desired.tenant)), desired)
            print(f"== {diff.title}")
            secrets = secret_fields(desired)
            if secrets:
                print(f"   a push would be refused: what looks like a secret in {', '.join(secrets)}")
            if diff.changed:
                changed += 1
                print(diff.render())
            else:
                print("   no change")
    except (PromptFileError, TenantsFileError, ApiError, PromptPushError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"{changed} of {len(desired_all)} agent(s) would change")
    return 1 if changed else 0


def cmd_prompts_push(args: argparse.Namespace) -> int:
    request = PushRequest(
        tenant=args.tenant,
        agent_id=args.agent,
        publish=args.publish,
        repoint_numbers=args.repoint_numbers,
        expected_modification_timestamp=args.since_diff,
        actor=args.actor,
    )
    warehouse = Warehouse.from_url(resolve_warehouse_url())
    try:
        warehouse.create_tables()
        result = push_prompt(
            request, load_tenants(args.tenants_file), prompts_dir(args.prompts_dir), _retell(), warehouse
        )
    except TenantsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        warehouse.dispose()
    if result.diff:
        print(result.diff)
    for step in result.steps:
        print(f"{step['step']}: {step['detail']}")
    print(f"push {result.push_id}: {result.outcome}")
    if result.error:
        print(f"{result.outcome}: {result.error}", file=sys.stderr)
    return EXIT_BY_OUTCOME[result.outcome]


def add_parser(sub: "argparse._SubParsersAction[Any]") -> None:
    """Register `prompts diff|push` on the askpro command's subparsers."""
    prompts = sub.add_parser("prompts", help="agent prompts kept in files: diff against and push to Retell")
    commands = prompts.add_subparsers(dest="prompts_command", required=True, metavar="COMMAND")

    diff = commands.add_parser("diff", help="desired vs live draft of each agent (exit 1 when something differs)")
    diff.add_argument("--tenant", metavar="SLUG", help="only this tenant's prompt files (default: all)")
    diff.add_argument(
        "--prompts-dir", metavar="PATH", help="the prompts folder (default: $ASKPRO_PROMPTS_DIR, else ./prompts)"
    )
    diff.add_argument("--tenants-file", metavar="PATH", help=TENANTS_HELP)
    diff.set_defaults(func=cmd_prompts_diff)

    push = commands.add_parser("push", help="update the agent's draft, optionally publish and re-point its numbers")
    push.add_argument("--tenant", required=True, metavar="SLUG", help="the tenant")
    push.add_argument(
        "--agent", required=True, metavar="AGENT_ID", help="the Retell agent (its prompt file is <tenant>/<agent>.yaml)"
    )
    push.add_argument("--publish", action="store_true", help="publish the draft as a new agent version")
    push.add_argument(
        "--repoint-numbers", action="store_true", help="move numbers that pinned the previous published version"
    )
    push.add_argument(
        "--since-diff",
        type=int,
        metavar="TIMESTAMP",
        help="the draft's last_modification_timestamp the diff showed: refuse if it moved",
    )
    push.add_argument("--actor", help="who pushes (default: $ASKPRO_ACTOR, else the login name)")
    push.add_argument(
        "--prompts-dir", metavar="PATH", help="the prompts folder (default: $ASKPRO_PROMPTS_DIR, else ./prompts)"
    )
    push.add_argument("--tenants-file", metavar="PATH", help=TENANTS_HELP)
    push.set_defaults(func=cmd_prompts_push)
