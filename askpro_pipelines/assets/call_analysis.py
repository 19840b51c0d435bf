"""`call_analysis`: what each call was about and whether its booking reached Cal.com.

The rules are in askpro_pipelines/analytics/ (pure functions), the reads in
warehouse/call_analysis.py; this module only walks the partitions, writes and reports.
"""

from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from askpro_pipelines.analytics.call_analysis import (
    AGREEMENT_THRESHOLD,
    analyse_calls,
    analysis_rows,
    figures,
    reported_uids,
    unconfirmed_bookings,
)
from askpro_pipelines.assets.askpro import GROUP, follows_every_updated_day
from askpro_pipelines.assets.facts import fact_metadata, tenant_days
from askpro_pipelines.checks import check_result
from askpro_pipelines.partitions import tenant_day_key, tenant_day_partitions
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.warehouse.call_analysis import more_bookings, read_call_day

AGREEMENT_CHECK = "call_analysis_bookings_confirmed"


@asset(
    partitions_def=tenant_day_partitions,
    group_name=GROUP,
    kinds={"sql"},
    deps=["retell_calls", "retell_call_transcripts", "calcom_bookings", "phone_assignments"],
    # the branch of each call comes from today's phone assignments: a new assignment re-derives the days
    automation_condition=follows_every_updated_day(changed_only=["phone_assignments"]),
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec(
            AGREEMENT_CHECK,
            asset="call_analysis",
            partitions_def=tenant_day_partitions,
            description=f"Warns when fewer than {AGREEMENT_THRESHOLD:.0%} of the calls we count as booked have "
            "a matching Cal.com booking, naming each unmatched call.",
        )
    ],
    description=(
        "Per call: intent, booking tools and their result, tool generation, language, transfer, silent and "
        "abandoned markers, Retell's own analysis, and the Cal.com booking matched to it. Rules: "
        "askpro_pipelines/analytics/ and the README (Call analysis)."
    ),
)
def call_analysis(
    context: AssetExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult:  # type: ignore[type-arg]
    wh = warehouse.warehouse
    written, unconfirmed, booked, label = [], [], 0, ""
    for tenant, day in tenant_days(context, tenants.get):
        inputs = read_call_day(wh, tenant, day)
        analysed = analyse_calls(inputs.calls, inputs.transcripts)
        known = {b["uid"] for b in inputs.bookings}
        bookings = inputs.bookings + more_bookings(wh, tenant, [u for u in reported_uids(analysed) if u not in known])
        rows = analysis_rows(analysed, bookings, inputs.branch_by_number)
        written.append(wh.replace_slice("call_analysis", tenant.slug, rows, day=day))
        day_figures = figures(rows)
        booked += int(day_figures["result_booked"])
        unconfirmed += unconfirmed_bookings(tenant.slug, day, rows)
        label = label or tenant.slug
        context.add_asset_metadata(
            {
                name: MetadataValue.float(v) if isinstance(v, float) else MetadataValue.int(v)
                for name, v in day_figures.items()
            },
            partition_key=tenant_day_key(tenant.slug, day),
        )
    share = (booked - len(unconfirmed)) / booked if booked else 1.0
    problems = unconfirmed if share < AGREEMENT_THRESHOLD else []
    check = check_result(
        label or "-",
        f"booked calls without a Cal.com booking (agreement {share:.1%} < {AGREEMENT_THRESHOLD:.0%})",
        problems,
        booked,
        severity=AssetCheckSeverity.WARN,
        asset_key="call_analysis",
        check_name=AGREEMENT_CHECK,
    )
    # the figures are per partition (above): a range run's totals would overwrite each day's
    metadata = fact_metadata("call_analysis", written, warehouse.display_url)
    selected = AssetCheckKey(AssetKey("call_analysis"), AGREEMENT_CHECK) in context.selected_asset_check_keys
    return MaterializeResult(metadata=metadata, check_results=[check] if selected else [])


call_analysis_assets = [call_analysis]
