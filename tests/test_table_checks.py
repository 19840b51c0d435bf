"""The table checks run as one step per table: fewer steps per run, every check still reported."""

import pytest
from dagster import AssetCheckResult, AssetCheckSpec, AssetKey, AssetSelection, asset, materialize

from askpro_pipelines.definitions import defs
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.table_checks import TABLE_CHECKS, TableCheck, all_checks, table_step


def test_one_step_per_checked_table_with_every_check_kept():
    specs = {check.spec.key for check in TABLE_CHECKS}
    assert len(specs) == len(TABLE_CHECKS)  # no check defined twice
    defined = [key for step in all_checks for key in step.check_keys]
    assert sorted(defined, key=str) == sorted(specs, key=str)
    assert len(all_checks) == len({key.asset_key for key in specs})  # one step per table
    for step in all_checks:
        assert len({key.asset_key for key in step.check_keys}) == 1
    # the names the UI, alerts and tests know are unchanged
    graph = defs.resolve_asset_graph()
    for name in ("calcom_bookings_unique_keys", "retell_calls_no_quarantined_records", "phone_numbers_have_agent"):
        assert any(key.name == name for key in graph.asset_check_keys), name
    drift = [key for key in specs if key.name == "api_responses_match_models"]
    assert len(drift) == 7


def _passing(name: str) -> TableCheck:
    return TableCheck(
        AssetCheckSpec(name, asset="table"), lambda context, warehouse, tenants: AssetCheckResult(passed=True)
    )


def _raising(context, warehouse, tenants) -> AssetCheckResult:
    raise RuntimeError("the rule has a bug")


@pytest.fixture
def resources(sqlite_url):
    return {"warehouse": WarehouseResource(url=sqlite_url), "tenants": TenantsResource()}


def test_a_check_that_raises_fails_the_step_after_the_others_reported(resources):
    @asset(name="table")
    def table() -> None:
        return None

    step = table_step(
        AssetKey("table"),
        [_passing("first"), TableCheck(AssetCheckSpec("broken", asset="table"), _raising), _passing("last")],
    )
    result = materialize([table, step], resources=resources, raise_on_error=False)
    assert not result.success
    reported = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert reported == {"first": True, "last": True}
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "the rule has a bug" in str(failure.step_failure_data.error)


def test_a_run_may_select_some_checks_of_a_table(resources):
    @asset(name="table")
    def table() -> None:
        return None

    step = table_step(AssetKey("table"), [_passing("first"), _passing("second")])
    second = next(key for key in step.check_keys if key.name == "second")
    result = materialize([table, step], resources=resources, selection=AssetSelection.checks(second))
    assert result.success
    assert {e.check_name for e in result.get_asset_check_evaluations()} == {"second"}
