"""Alert sensors: a failed run or a failed asset check becomes one message naming tenant, asset,
partition and the first line of the error, sent through the `alerts` resource.

Both sensors are side effects only (they never request runs) and read the instance through public
APIs only. The run failure sensor relies on Dagster's run-status cursor; the check sensor keeps
its own cursor, the storage id of the last finished run it looked at, and starts at the end of
the event log so that turning it on never replays history.
"""

import os
import re
from collections.abc import Sequence
from typing import Literal

from dagster import (
    AssetCheckEvaluation,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DefaultSensorStatus,
    EventLogRecord,
    RunFailureSensorContext,
    RunStatusChangeRecordsFilter,
    SensorEvaluationContext,
    SensorResult,
    run_failure_sensor,
    sensor,
)
from dagster_shared.error import SerializableErrorInfo

from askpro_pipelines.partitions import tenant_day_partitions
from askpro_pipelines.resources.alerts import Alert, AlertsResource

TENANT_TAG = "askpro/tenant"
# Dagster's own run tags (their constants are not public API).
PARTITION_TAG = "dagster/partition"
TENANT_DIMENSION_TAG = "dagster/partition/tenant"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
UI_URL_ENV = "ASKPRO_DAGSTER_UI_URL"

FINISHED_RUN_BATCH = 100  # finished runs read per tick
Finished = Literal[DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED]
FINISHED: tuple[Finished, ...] = (
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.RUN_CANCELED,
)
MAX_CHECK_ALERTS_PER_TICK = 20  # a burst of failures is spread over ticks instead of flooding the channel
MAX_NAMED_STEPS = 3

# "pkg.module.ClassName: message" -> "ClassName: message"; builtins already come unqualified.
_QUALIFIED_CLASS_RE = re.compile(r"^(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)(?=: |:$|$)")


class AlertDeliveryError(Exception):
    """Alerts are configured but no channel accepted the message: fail the tick so it is visible."""


# ---- pure helpers ----------------------------------------------------------------------------


def first_error_line(error: SerializableErrorInfo | None) -> str | None:
    """First line of the user's error under Dagster's wrappers, e.g. "ValueError: Cal.com down".

    Dagster wraps user exceptions (DagsterExecutionStepExecutionError, resource init errors, …)
    and keeps the original as `cause`; the user's own exception chain is left alone, because
    its outermost message is the one the author wrote for humans.
    """
    while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    if error is None:
        return None
    line = next((part.strip() for part in error.message.splitlines() if part.strip()), "")
    return _QUALIFIED_CLASS_RE.sub(r"\1", line) or error.cls_name


def tenant_of_partition(key: str | None) -> str | None:
    """The tenant in a dimension key ("praxis-x") or a fact key ("2026-01-05|praxis-x")."""
    if not key:
        return None
    if "..." in key:  # a single-run range: only one tenant if both ends agree
        start, _, end = key.partition("...")
        tenant = tenant_of_partition(start)
        return tenant if tenant == tenant_of_partition(end) else None
    if "|" not in key:
        return key
    if key.count("|") != 1:
        return None
    return tenant_day_partitions.get_partition_key_from_str(key).keys_by_dimension["tenant"]


def run_partition(tags: dict[str, str]) -> str | None:
    """The run's partition: a single key, or "start...end" for a single-run backfill range."""
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}...{end}"
    return None


def run_tenant(tags: dict[str, str]) -> str | None:
    """The tenant a run worked for: the project's tag, else read from the partition."""
    return tags.get(TENANT_TAG) or tags.get(TENANT_DIMENSION_TAG) or tenant_of_partition(run_partition(tags))


def run_url(run_id: str | None) -> str | None:
    """Link to the run in the Dagster UI when ASKPRO_DAGSTER_UI_URL is set (read at tick time)."""
    base = os.environ.get(UI_URL_ENV, "").strip().rstrip("/")
    return f"{base}/runs/{run_id}" if base and run_id else None


def _join_steps(step_keys: list[str]) -> str | None:
    if not step_keys:
        return None
    named = " + ".join(step_keys[:MAX_NAMED_STEPS])
    more = len(step_keys) - MAX_NAMED_STEPS
    return named + (f" (+{more} more)" if more > 0 else "")


# ---- building alerts -------------------------------------------------------------------------


def run_failure_alert(
    run: DagsterRun, failure_event: DagsterEvent | None, step_failures: Sequence[DagsterEvent]
) -> Alert:
    """An alert for a failed run: failed steps (= assets for asset jobs) and the first step's error."""
    step_keys = list(dict.fromkeys(event.step_key for event in step_failures if event.step_key))

    error_line = next(
        (line for event in step_failures if (line := first_error_line(event.step_failure_data.error))), None
    )
    if error_line is None and failure_event is not None:
        # No step failed: the run itself broke (launch, run worker, resources outside steps).
        data = failure_event.event_specific_data
        error_line = first_error_line(getattr(data, "error", None)) or failure_event.message

    tags = dict(run.tags)
    return Alert(
        kind="run_failure",
        tenant=run_tenant(tags),
        asset=_join_steps(step_keys),
        partition=run_partition(tags),
        error_first_line=error_line or "run failed without an error message",
        run_id=run.run_id,
        job=run.job_name,
        url=run_url(run.run_id),
    )


def check_failure_alert(evaluation: AssetCheckEvaluation, run_id: str | None, job: str | None) -> Alert:
    """An alert for one failed asset check evaluation."""
    description = evaluation.description or f"{evaluation.severity.value} severity check did not pass"
    return Alert(
        kind="check_failure",
        tenant=tenant_of_partition(evaluation.partition),
        asset=evaluation.asset_key.to_user_string(),
        partition=evaluation.partition,
        error_first_line=description,
        run_id=run_id or None,
        job=job,
        url=run_url(run_id or None),
        check=evaluation.check_name,
    )


def finished_runs(instance: DagsterInstance, after: int | None, limit: int) -> list[EventLogRecord]:
    """Run success/failure/cancel records after a storage id, oldest first (newest one when `after` is None).

    Run status changes live in the index shard even on the run-sharded SQLite of `dagster dev`,
    so their storage ids order runs across the whole instance.
    """
    records: list[EventLogRecord] = []
    for event_type in FINISHED:
        result = instance.fetch_run_status_changes(
            RunStatusChangeRecordsFilter(event_type=event_type, after_storage_id=after),
            limit=limit if after is not None else 1,
            ascending=after is not None,
        )
        records.extend(result.records)
    records.sort(key=lambda record: record.storage_id)
    return records[:limit] if after is not None else records[-1:]


def failed_checks(instance: DagsterInstance, run_id: str) -> list[AssetCheckEvaluation]:
    """The failed check evaluations of one run, in order (the per-run read Dagster's own
    `RunFailureSensorContext.get_step_failure_events` uses)."""
    records = instance.get_records_for_run(run_id=run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    evaluations = [r.event_log_entry.get_dagster_event().asset_check_evaluation_data for r in records]
    return [evaluation for evaluation in evaluations if not evaluation.passed]


def _deliver(alerts: AlertsResource, alert: Alert) -> list[str]:
    """Send, and tell "not configured" (fine) from "configured but nothing accepted it" (an error)."""
    delivered = alerts.send(alert)
    if not delivered and alerts.configured_channels():
        raise AlertDeliveryError(f"no alert channel accepted: {alert.title}")
    return delivered


# ---- sensors ---------------------------------------------------------------------------------


@run_failure_sensor(
    monitor_all_code_locations=False,
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Sends an alert (webhook and/or e-mail) for every failed run of this code location, "
    "naming tenant, failed assets, partition and the first line of the error.",
)
def run_failure_alert_sensor(context: RunFailureSensorContext, alerts: AlertsResource) -> None:
    """One alert per failed run; a delivery failure fails the tick (Dagster then records it on the run)."""
    alert = run_failure_alert(context.dagster_run, context.failure_event, context.get_step_failure_events())
    delivered = _deliver(alerts, alert)
    if delivered:
        context.log.info(f"Sent via {', '.join(delivered)}: {alert.title}")


@sensor(
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Sends an alert (webhook and/or e-mail) for every failed asset check evaluation, "
    "naming tenant, asset, check, partition and the first line of the check's description.",
)
def check_failure_alert_sensor(context: SensorEvaluationContext, alerts: AlertsResource) -> SensorResult:
    """Alert on failed check evaluations of the runs finished after the cursor.

    Checks run in the same run as their table, so the runs that finished since the last tick
    (public `fetch_run_status_changes`) carry every new evaluation. The cursor is the storage id
    of the last finished run handled, plus `:N` when the first N alerts of the next run were
    sent but a later one reached no channel: the next tick retries from there without repeating
    the alerts already sent.
    """
    if context.cursor is None:
        newest = finished_runs(context.instance, None, 1)
        start = newest[0].storage_id if newest else 0
        return SensorResult(skip_reason=f"Watching check evaluations after event {start}.", cursor=str(start))

    position, _, done_in_next = context.cursor.partition(":")
    cursor, skip = int(position), int(done_in_next or 0)
    sent = 0
    for record in finished_runs(context.instance, cursor, FINISHED_RUN_BATCH):
        run_id = record.event_log_entry.run_id
        job = record.event_log_entry.job_name
        failures = failed_checks(context.instance, run_id)
        if sent + len(failures) - skip > MAX_CHECK_ALERTS_PER_TICK and sent:
            break  # a burst is spread over ticks instead of flooding the channel
        for index, evaluation in enumerate(failures):
            if index < skip:
                continue
            alert = check_failure_alert(evaluation, run_id, job)
            try:
                _deliver(alerts, alert)
            except AlertDeliveryError as exc:
                context.log.error(f"{exc}; retrying from run {run_id} next tick")
                summary = f"Sent {sent} check failure alert(s); delivery failed."
                return SensorResult(skip_reason=summary, cursor=f"{cursor}:{index}" if index else str(cursor))
            sent += 1
        cursor, skip = record.storage_id, 0

    summary = f"Sent {sent} check failure alert(s)." if sent else "No new failed checks."
    return SensorResult(skip_reason=summary, cursor=str(cursor))
