"""The webhook landing table as an external asset: the receiver writes it, Dagster shows its lineage."""

from dagster import AssetSpec

webhook_events = AssetSpec(
    "webhook_events",
    group_name="landing",
    kinds={"sql"},
    description=(
        "Cal.com and Retell webhook deliveries, stored by `askpro webhooks serve` after signature checks "
        "(deduplicated per delivery). The webhook sensors read it and request runs for what changed."
    ),
)
