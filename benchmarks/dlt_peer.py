"""Figure 2, the peer: dlt's rest_api source over the same simulator endpoints into the same kind of database.

Run by benchmarks/run.py with an interpreter that has dlt (the `bench` extra); it does not import
askpro_pipelines. Environment: ASKPRO_SIMULATOR_URL, BENCH_CALCOM_API_KEY, BENCH_RETELL_API_KEY,
BENCH_WAREHOUSE_URL, BENCH_DAYS, BENCH_UNTIL (YYYY-MM-DD), BENCH_DLT_DIR. Prints one JSON line.

Scope: the same endpoints our full sync reads (Cal.com v2 event types, teams and team event types,
organization users and schedules, bookings; Retell agents, agent versions, each version's LLM, phone
numbers, v3 list-calls and one get-call per call), configured as a competent dlt user would: the
per-record detail resources (agent versions, LLMs, call details) `parallelized`, the same page sizes
and calls filter as our sync, and `max_table_nesting=0` where we do not keep the nesting (a call's
word-level `transcript_object`, kept as one JSON column instead of child tables). No normalisation
into our models and no asset checks.
"""

import datetime as dt
import json
import os
import sys
import time
from zoneinfo import ZoneInfo

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

import dlt  # noqa: E402
import requests  # noqa: E402
from dlt.sources.rest_api import rest_api_source  # noqa: E402


def main() -> None:
    base = os.environ["ASKPRO_SIMULATOR_URL"].rstrip("/")
    cal_key, retell_key = os.environ["BENCH_CALCOM_API_KEY"], os.environ["BENCH_RETELL_API_KEY"]
    url = os.environ["BENCH_WAREHOUSE_URL"]
    days = int(os.environ.get("BENCH_DAYS", "1"))
    until = dt.date.fromisoformat(os.environ["BENCH_UNTIL"])
    zone = ZoneInfo(os.environ.get("BENCH_TIMEZONE", "Europe/Berlin"))
    first = until - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)

    started = time.perf_counter()
    me = requests.get(f"{base}/calcom/v2/me", headers={"Authorization": f"Bearer {cal_key}"}, timeout=60).json()["data"]
    org = me["organizationId"]
    offset = {"type": "offset", "limit": 250, "offset_param": "skip", "limit_param": "take", "total_path": None,
              "stop_after_empty_page": True}  # fmt: skip
    calcom = rest_api_source(
        {
            "client": {"base_url": f"{base}/calcom/v2/", "auth": {"type": "bearer", "token": cal_key}},
            "resource_defaults": {"write_disposition": "replace", "endpoint": {"data_selector": "data"}},
            "resources": [
                {"name": "event_types", "endpoint": {"path": "event-types", "headers": {"cal-api-version": "2024-06-14"},
                                                     "paginator": "single_page"}},
                {"name": "teams", "endpoint": {"path": "teams", "paginator": "single_page"}},
                {"name": "team_event_types", "endpoint": {"path": "teams/{resources.teams.id}/event-types",
                                                          "headers": {"cal-api-version": "2024-06-14"}, "paginator": "single_page"}},
                {"name": "users", "endpoint": {"path": f"organizations/{org}/users", "paginator": offset}},
                {"name": "schedules", "endpoint": {"path": f"organizations/{org}/schedules", "paginator": offset,
                                                   "headers": {"cal-api-version": "2024-06-11"}}},
                {"name": "bookings", "endpoint": {
                    "path": "bookings", "paginator": offset, "headers": {"cal-api-version": "2024-08-13"},
                    "params": {"afterStart": start.isoformat().replace("+00:00", "Z"),
                               "beforeEnd": end.isoformat().replace("+00:00", "Z"), "sortStart": "asc"}}},
            ],
        }
    )  # fmt: skip
    retell = rest_api_source(
        {
            "client": {"base_url": f"{base}/retell/", "auth": {"type": "bearer", "token": retell_key}},
            "resource_defaults": {"write_disposition": "replace"},
            "resources": [
                {"name": "agents", "endpoint": {
                    "path": "v2/list-agents", "method": "POST", "json": {}, "data_selector": "items",
                    "params": {"limit": 100, "sort_order": "ascending"},
                    "paginator": {"type": "cursor", "cursor_path": "pagination_key", "cursor_param": "pagination_key"}}},
                {"name": "agent_versions", "parallelized": True, "endpoint": {
                    "path": "get-agent-versions/{resources.agents.agent_id}", "paginator": "single_page", "data_selector": "$"}},
                {"name": "llms", "parallelized": True, "endpoint": {
                    "path": "get-retell-llm/{resources.agent_versions.response_engine.llm_id}",
                    "params": {"version": "{resources.agent_versions.version}"}, "paginator": "single_page", "data_selector": "$"}},
                {"name": "phone_numbers", "endpoint": {
                    "path": "v2/list-phone-numbers", "params": {"limit": 100}, "data_selector": "items",
                    "paginator": {"type": "cursor", "cursor_path": "pagination_key", "cursor_param": "pagination_key"}}},
                {"name": "calls", "endpoint": {
                    "path": "v3/list-calls", "method": "POST", "data_selector": "items",
                    "json": {"filter_criteria": {"start_timestamp": {"op": "bt", "type": "range",
                                                                     "value": [int(start.timestamp() * 1000), int(end.timestamp() * 1000) - 1]}},
                             "sort_order": "ascending", "limit": 1000},
                    "paginator": {"type": "cursor", "cursor_path": "pagination_key", "cursor_body_path": "pagination_key"}}},
                {"name": "call_details", "parallelized": True, "max_table_nesting": 0, "endpoint": {
                    "path": "v2/get-call/{resources.calls.call_id}", "paginator": "single_page", "data_selector": "$"}},
            ],
        }
    )  # fmt: skip
    if url.startswith("sqlite"):
        destination = dlt.destinations.sqlalchemy(credentials=url)
    else:
        # dlt insists on a password field; trust auth ignores it.
        plain = url.replace("postgresql+psycopg2://", "postgresql://").replace("://postgres@", "://postgres:bench@")
        destination = dlt.destinations.postgres(credentials=plain)
    pipeline = dlt.pipeline(
        pipeline_name="askpro_bench_peer",
        destination=destination,
        dataset_name="dlt_peer",
        pipelines_dir=os.environ.get("BENCH_DLT_DIR"),
        dev_mode=False,
    )
    info = pipeline.run([calcom, retell])
    seconds = time.perf_counter() - started
    counts = {}
    trace = pipeline.last_trace
    if trace and trace.last_normalize_info:
        counts = {k: v for k, v in trace.last_normalize_info.row_counts.items() if not k.startswith("_dlt")}
    print(json.dumps({"seconds": seconds, "scope": "rest_api, same endpoints, parallelized details, call details unnested",
                      "top_level_rows": {k: v for k, v in counts.items() if "__" not in k},
                      "all_rows": sum(counts.values()), "loads": len(info.loads_ids)}))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
