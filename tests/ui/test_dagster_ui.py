"""The Dagster UI as a person uses it: the asset graph, then a materialization launched by clicking.

`dagster dev -w workspace.yaml` serves the code location against the bundled simulator (demo
tenants) and a tmp SQLite warehouse; headless Chromium opens the global asset lineage, checks the
four asset groups, opens `calcom_event_types`, clicks Materialize, picks the tenant partition
`praxis-am-stadtpark`, launches, follows the toast to the run and waits for it to succeed.
A second test opens `phone_assignments` of a synced tenant and reads what ops staff read there:
every column with its description, and the phone → agent → branch → event type table.
Screenshots of each stage land in $ASKPRO_TEST_ARTIFACTS (default test-artifacts/ui/).

Run: scripts/install-ui-test-deps .venv && .venv/bin/pytest -m ui tests/ui -v
"""

import re
import time

import pytest
import sqlalchemy as sa

from askpro_pipelines.assets.table_metadata import column_description
from askpro_pipelines.warehouse.tables import metadata as warehouse_tables

ASSET_GROUPS = ["calcom", "retell", "askpro", "landing"]
ASSET = "calcom_event_types"
TENANT = "praxis-am-stadtpark"
RUN_TIMEOUT_S = 180
SCREENSHOTS = ["01-asset-graph.png", "02-partition-dialog.png", "03-run-success.png"]

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status tags { key value } assetSelection { path } }
  }
}
"""
RUNS_QUERY = """
query Runs($runIds: [String!]) {
  runsOrError(filter: {runIds: $runIds}) {
    ... on Runs { results { runId status } }
  }
}
"""


def _fresh_screenshots(artifacts_dir, names: list[str]) -> dict:
    """Paths of a test's screenshots, the previous run's removed: only this run's count."""
    shots = {name: artifacts_dir / name for name in names}
    for path in shots.values():
        path.unlink(missing_ok=True)
    return shots


def _assert_screenshots(shots: dict) -> None:
    for path in shots.values():
        assert path.is_file() and path.stat().st_size > 0, f"screenshot missing or empty: {path}"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"not a PNG: {path}"


def _dismiss_community_dialog(page) -> None:
    """A new DAGSTER_HOME greets the first visitor with a newsletter dialog; skip it whenever it shows."""
    dialog = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
    page.add_locator_handler(dialog, lambda d: d.get_by_role("button", name="Skip").click())


def _wait_for_run_outcome(page, ui, run_id: str) -> str:
    """Bounded wait for the run page to show the run finished; returns the status shown by GraphQL."""
    success = page.get_by_text("RUN_SUCCESS", exact=True)
    failure = page.get_by_text(re.compile(r"^(RUN_FAILURE|RUN_CANCELED)$"))
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        if success.first.is_visible() or failure.first.is_visible():
            break
        page.wait_for_timeout(500)
    runs = ui.graphql(RUNS_QUERY, {"runIds": [run_id]})["runsOrError"]["results"]
    return runs[0]["status"] if runs else "UNKNOWN"


@pytest.mark.ui
def test_asset_graph_and_materialize_from_the_ui(dagster_ui, page, playwright_sync_api, artifacts_dir):
    expect = playwright_sync_api.expect
    ui = dagster_ui
    shots = _fresh_screenshots(artifacts_dir, SCREENSHOTS)
    _dismiss_community_dialog(page)

    # -- The global asset lineage, reached through the navigation, shows the four groups. --
    page.goto(f"{ui.base_url}/")
    page.get_by_role("navigation").get_by_role("link", name=re.compile(r"Lineage$")).click()
    expect(page).to_have_url(re.compile(r"/asset-groups"))
    expect(page.get_by_text("Global asset lineage", exact=True)).to_be_visible()
    graph = page.locator("svg foreignObject")  # the nodes of the graph canvas (not the sidebar's tree)
    for group in ASSET_GROUPS:
        expect(graph.get_by_text(group, exact=True).first).to_be_visible()
    # Each group node reads "N assets (fetching statuses)" until the statuses arrive.
    expect(graph.get_by_text(re.compile(r"fetching statuses"))).to_have_count(0)
    page.screenshot(path=str(shots["01-asset-graph.png"]), animations="disabled")

    # -- The asset page: Materialize, one tenant partition, launch. --
    page.goto(f"{ui.base_url}/assets/{ASSET}")
    expect(page.get_by_text(ASSET, exact=True).first).to_be_visible()
    page.get_by_role("button", name=re.compile(r"Materialize…$")).click()

    dialog = page.get_by_role("dialog").filter(has_text=f"Launch runs to materialize {ASSET}")
    expect(dialog).to_be_visible()
    dialog.get_by_text("Select a partition or create one").click()
    option = page.get_by_role("menuitem", name=TENANT)
    option.click()
    expect(option.get_by_role("checkbox")).to_be_checked()
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    launch = dialog.get_by_role("button", name="Launch 1 run")
    expect(launch).to_be_enabled()
    # The dialog with the partition list still open: the chosen tenant ticked, "Launch 1 run" below.
    page.screenshot(path=str(shots["02-partition-dialog.png"]), animations="disabled")
    page.keyboard.press("Escape")  # closes the partition list, not the dialog
    expect(dialog).to_be_visible()
    launch.click()

    # -- Follow the toast to the run and wait for it to finish. --
    toast = page.get_by_role("region", name=re.compile("Notifications"))
    expect(toast.get_by_text(re.compile(r"Launched run"))).to_be_visible()
    toast.get_by_role("link", name="View").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    run_id = re.search(r"/runs/([0-9a-f-]{36})", page.url).group(1)

    status = _wait_for_run_outcome(page, ui, run_id)
    assert status == "SUCCESS", f"run {run_id} ended {status}; dagster log tail:\n{ui.log_tail()}"
    expect(page.get_by_text("RUN_SUCCESS", exact=True).first).to_be_visible()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()  # the run's status tag
    expect(page.get_by_text(f"partition: {TENANT}", exact=True)).to_be_visible()
    page.screenshot(path=str(shots["03-run-success.png"]), animations="disabled")

    # -- The run came from the UI, for that asset and partition, and wrote that tenant's rows. --
    run = ui.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert tags.get("dagster/from_ui") == "true", tags
    assert tags.get("dagster/partition") == TENANT, tags
    assert [a["path"] for a in run["assetSelection"]] == [[ASSET]]
    engine = sa.create_engine(ui.warehouse_url)
    try:
        with engine.connect() as conn:
            tenants = dict(conn.execute(sa.text(f"select tenant, count(*) from {ASSET} group by tenant")).all())
    finally:
        engine.dispose()
    assert set(tenants) == {TENANT} and tenants[TENANT] > 0, tenants

    _assert_screenshots(shots)


CHAIN_SCREENSHOTS = ["04-columns.png", "05-phone-chain.png"]


@pytest.mark.ui
@pytest.mark.ui_synced
def test_asset_page_shows_column_descriptions_and_the_phone_chain(dagster_ui, page, playwright_sync_api, artifacts_dir):
    expect = playwright_sync_api.expect
    ui = dagster_ui
    shots = _fresh_screenshots(artifacts_dir, CHAIN_SCREENSHOTS)
    _dismiss_community_dialog(page)

    page.goto(f"{ui.base_url}/assets/phone_assignments")
    page_load_ms = 60_000  # the first visit builds the asset page on a shared, slow machine
    expect(page.get_by_text("Latest materialization", exact=True)).to_be_visible(timeout=page_load_ms)

    # -- Columns: every column of the table contract, each with its description. --
    columns = page.locator("table").filter(has_text="Column name").first
    expect(columns).to_be_visible(timeout=page_load_ms)
    for column in warehouse_tables.tables["phone_assignments"].columns:
        row = columns.locator("tr").filter(has=page.get_by_text(column.name, exact=True))
        expect(row).to_have_count(1)
        expect(row).to_contain_text(column_description(column))
    columns.screenshot(path=str(shots["04-columns.png"]), animations="disabled")

    # -- The latest materialization's phone chain: one line per number and branch, as in the warehouse. --
    # The markdown table sits inside the metadata table: the innermost table with that header.
    chain = page.locator("table").filter(has=page.locator("th", has_text="→ event type")).last
    expect(chain).to_be_attached(timeout=page_load_ms)
    chain.scroll_into_view_if_needed()
    expect(chain).to_be_visible()
    for header in ("phone number", "→ agent + version", "→ branch", "→ event type"):
        expect(chain.get_by_text(header, exact=True)).to_be_visible()
    engine = sa.create_engine(ui.warehouse_url)
    try:
        with engine.connect() as conn:
            assignments = conn.execute(
                sa.text(
                    "select phone_number, agent_id, branch_id, branch_name, event_type_id, event_type_title "
                    "from phone_assignments where tenant = :t"
                ),
                {"t": TENANT},
            ).all()
    finally:
        engine.dispose()
    assert assignments, "the synced tenant has no phone assignments"
    expect(chain.locator("tbody tr")).to_have_count(len(assignments))
    for a in assignments:
        line = chain.locator("tr").filter(has_text=a.phone_number)
        expect(line).to_contain_text(f"({a.agent_id})")
        expect(line).to_contain_text(f"{a.branch_name} ({a.branch_id})")
        expect(line).to_contain_text(f"{a.event_type_title} ({a.event_type_id})")
    chain.screenshot(path=str(shots["05-phone-chain.png"]), animations="disabled")

    _assert_screenshots(shots)
