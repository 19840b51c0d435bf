"""call_analysis over a week of the demo tenants' simulated calls, against the simulator's ground truth.

The demo tenants are synced from the simulator over real HTTP (bookings, calls, transcripts with
tool calls), then `call_analysis` runs as `askpro sync` runs it. Every call's row and every
per-day figure must equal what the simulator recorded about the call (`SimCall.truth`): intent,
tools, booking result, tool generation, language, transfer, silent/abandoned markers and the
matched Cal.com booking. One tenant's booking tool sometimes reports a booking Cal.com never got,
so its agreement figure drops and the check warns, naming those calls.
"""

import datetime as dt
from collections import Counter

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from askpro_pipelines.analytics.call_analysis import AGREEMENT_THRESHOLD
from askpro_pipelines.partitions import tenant_day_key
from askpro_pipelines.phone_chain import normalize_phone_number
from askpro_pipelines.sync import run_sync
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse import Warehouse
from askpro_simulator.demo import simulator_for

LAST_DAY = dt.date(2026, 11, 22)
DAYS = [LAST_DAY - dt.timedelta(days=n) for n in range(6, -1, -1)]
PHANTOM_TENANT = "salon-schoenhaar"
SELECT = ["calcom_bookings", "retell_calls", "retell_call_transcripts", "call_analysis"]
COMPARED = [
    "intent",
    "language",
    "booking_tool_generation",
    "availability_checked",
    "booking_tool_called",
    "booking_result",
    "booked_uid",
    "calcom_booking_uid",
    "booking_confirmed",
    "branch_id",
    "transferred",
    "silent",
    "abandoned",
    "disconnection_reason",
    "duration_ms",
    "call_successful",
    "user_sentiment",
]


@pytest.fixture
def synced_week(warehouse_url, monkeypatch):
    """The bundled demo tenants, a week synced from the simulator (SQLite and PostgreSQL)."""
    monkeypatch.delenv("ASKPRO_TENANTS_FILE", raising=False)
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", warehouse_url)
    tenants = load_tenants()
    overrides = {PHANTOM_TENANT: {"phantom_booking_share": 0.25}}
    with simulator_for(tenants, spec_overrides=overrides) as sim:
        instance = DagsterInstance.ephemeral()
        report = run_sync(tenants, select=SELECT, days=len(DAYS), until=LAST_DAY, instance=instance)
        yield sim, Warehouse.from_url(warehouse_url), report, instance, tenants


def _expected_row(call, branch_by_number):
    truth = call.truth
    booked = truth.booking_result == "booked"
    ours = call.from_number if call.direction == "outbound" else call.to_number
    return {
        "intent": truth.intent,
        "language": truth.language,
        "booking_tool_generation": truth.tool_generation,
        "availability_checked": truth.availability_checked,
        "booking_tool_called": truth.booking_tool_called,
        "booking_result": truth.booking_result,
        # the uid the tool answered with, else the one the agent wrote into the call
        "booked_uid": (truth.reported_uid or call.metadata.get("booking_uid")) if booked else None,
        "calcom_booking_uid": call.booking_uid,  # the booking the call really made (none for a phantom)
        "booking_confirmed": (call.booking_uid is not None) if booked else None,
        "branch_id": branch_by_number.get(ours),
        "transferred": truth.transferred,
        "silent": truth.silent,
        "abandoned": truth.abandoned,
        "disconnection_reason": call.disconnection_reason,
        "duration_ms": call.duration_ms,
        "call_successful": call.call_analysis.get("call_successful"),
        "user_sentiment": call.call_analysis.get("user_sentiment"),
    }


def _expected_figures(rows):
    count = Counter()
    for row in rows:
        count["calls"] += 1
        count[f"intent_{row['intent']}"] += 1
        count["availability_checked"] += row["availability_checked"]
        count["booking_tool_called"] += row["booking_tool_called"]
        if row["booking_result"]:
            count[f"result_{row['booking_result']}"] += 1
        if row["booking_tool_generation"]:
            count[f"generation_{row['booking_tool_generation']}"] += 1
        count[f"language_{row['language']}"] += 1
        for flag in ("transferred", "silent", "abandoned"):
            count[flag] += row[flag]
        count["booked_confirmed"] += row["booking_confirmed"] is True
    names = [
        "calls",
        *(f"intent_{i}" for i in ("book", "reschedule", "cancel", "question", "other")),
        "availability_checked",
        "booking_tool_called",
        "result_booked",
        "result_no_slot",
        "result_error",
        "generation_legacy_cal",
        "generation_custom",
        "language_de",
        "language_en",
        "language_unknown",
        "transferred",
        "silent",
        "abandoned",
        "booked_confirmed",
    ]
    figures = {name: count[name] for name in names}
    if count["result_booked"]:
        figures["booked_agreement"] = round(count["booked_confirmed"] / count["result_booked"], 4)
    return figures


def _figures(instance, slug, day):
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("call_analysis"), asset_partitions=[str(tenant_day_key(slug, day))]),
        limit=1,
    ).records
    assert records, (slug, day)
    return {name: value.value for name, value in records[0].asset_materialization.metadata.items()}


def test_every_call_and_figure_matches_the_simulators_ground_truth(synced_week):
    sim, wh, report, instance, tenants = synced_week
    assert all(t.success for t in report.tenants), [t.errors for t in report.tenants]
    seen = Counter()
    for tenant in tenants.tenants:
        branch_by_number = {normalize_phone_number(n): b.id for b in tenant.branches for n in b.phone_numbers}
        booked = confirmed = 0
        for day in DAYS:
            calls = sim.world.calls_on(tenant.slug, day)
            rows = {r["call_id"]: r for r in wh.read_slice("call_analysis", tenant.slug, day=day)}
            assert set(rows) == {c.call_id for c in calls}, (tenant.slug, day)
            expected_rows = []
            for call in calls:
                expected = _expected_row(call, branch_by_number)
                got = {name: rows[call.call_id][name] for name in COMPARED}
                assert got == expected, (tenant.slug, day, call.call_id, call.truth.scenario)
                expected_rows.append(expected)
                seen[call.truth.scenario] += 1
                seen[f"language:{call.truth.language}"] += 1
                seen[f"generation:{call.truth.tool_generation}"] += 1
            figures, expected_figures = _figures(instance, tenant.slug, day), _expected_figures(expected_rows)
            assert {name: figures.get(name) for name in expected_figures} == expected_figures, (tenant.slug, day)
            assert ("booked_agreement" in figures) == ("booked_agreement" in expected_figures)
            booked += sum(1 for r in expected_rows if r["booking_result"] == "booked")
            confirmed += sum(1 for r in expected_rows if r["booking_confirmed"])
        agreement = confirmed / booked
        result = next(t for t in report.tenants if t.tenant == tenant.slug)
        if tenant.slug == PHANTOM_TENANT:
            assert agreement < AGREEMENT_THRESHOLD
            assert "call_analysis_bookings_confirmed" in result.warned_checks and not result.failed_checks
            note = next(n for n in result.notes if "call_analysis_bookings_confirmed" in n)
            assert f"tenant {tenant.slug}: {booked - confirmed} booked calls without a Cal.com booking" in note
            phantoms = [
                c.call_id for day in DAYS for c in sim.world.calls_on(tenant.slug, day) if c.truth.scenario == "phantom"
            ]
            assert len(phantoms) == booked - confirmed
            assert all(call_id in note for call_id in phantoms[:5])
        else:
            assert agreement == 1.0 and "call_analysis_bookings_confirmed" not in result.warned_checks
    # the week holds every scenario, both languages and both tool generations
    for needed in (
        "booking",
        "phantom",
        "no_slot",
        "tool_error",
        "transfer",
        "reschedule",
        "cancel",
        "hours",
        "silent",
        "abandoned",
        "not_connected",
        "language:de",
        "language:en",
        "generation:legacy_cal",
        "generation:custom",
    ):
        assert seen[needed], needed
