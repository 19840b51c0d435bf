"""The asset graph's shape as a reviewed snapshot: every asset with its group, partitions, deps,
checks, owners, tags and kinds. A structural change shows as a diff of
tests/__snapshots__/asset_graph.json in review, so it is made on purpose.

Refresh after a deliberate change, then review the diff:

    ASKPRO_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_asset_graph_snapshot.py
"""

import json
import os
from pathlib import Path
from typing import Any

from dagster import (
    DynamicPartitionsDefinition,
    MultiPartitionsDefinition,
    PartitionsDefinition,
    TimeWindowPartitionsDefinition,
)

from askpro_pipelines.definitions import defs

SNAPSHOT = Path(__file__).parent / "__snapshots__" / "asset_graph.json"
UPDATE_ENV = "ASKPRO_UPDATE_SNAPSHOTS"


def _partitions(definition: PartitionsDefinition | None) -> Any:
    """The partitioning's shape; dates that move with the calendar or the environment are left out."""
    if definition is None:
        return None
    if isinstance(definition, MultiPartitionsDefinition):
        return {"multi": {d.name: _partitions(d.partitions_def) for d in definition.partitions_defs}}
    if isinstance(definition, DynamicPartitionsDefinition):
        return {"dynamic": definition.name}
    if isinstance(definition, TimeWindowPartitionsDefinition):
        return {"time_window": {"cron": definition.cron_schedule, "fmt": definition.fmt}}
    return {type(definition).__name__: None}


def asset_graph_shape() -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets: dict[str, Any] = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        checks = graph.get_check_keys_for_assets({spec.key})
        assets[spec.key.to_user_string()] = {
            "group": spec.group_name,
            "partitions": _partitions(spec.partitions_def),
            "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
            "checks": sorted(check.name for check in checks),
            "owners": sorted(spec.owners),
            "tags": dict(sorted((k, v) for k, v in spec.tags.items() if not k.startswith("dagster/kind/"))),
            "kinds": sorted(spec.kinds),
            "automation": spec.automation_condition is not None,
        }
    return {"assets": assets}


def test_asset_graph_matches_the_reviewed_snapshot():
    shape = asset_graph_shape()
    text = json.dumps(shape, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), f"no snapshot yet: run with {UPDATE_ENV}=1 and review {SNAPSHOT.name}"
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert shape == expected, (
        f"the asset graph changed: if on purpose, refresh with {UPDATE_ENV}=1 and review the diff of {SNAPSHOT}"
    )
