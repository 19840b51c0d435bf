"""Which listed agent versions a re-sync may take from the warehouse instead of get-agent?version=N."""

import datetime as dt

from askpro_pipelines.models.retell import AgentVersion, ListedVersion, StoredVersion, listed_version_from_raw
from askpro_pipelines.resources.retell import _still_stored

MODIFIED = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)


def _stored(version: int, *, whole: bool, modified: dt.datetime = MODIFIED) -> StoredVersion:
    row = AgentVersion(
        agent_id="agent_a",
        version=version,
        agent_name="Empfang",
        is_published=True,
        voice_id="11labs-Anna" if whole else None,
        language="de-DE" if whole else None,
        webhook_url=None,
        response_engine_type="retell-llm" if whole else None,
        llm_id="llm_a",
        llm_version=version,
        last_modified=modified,
        prompt="Sie sind die Praxis.",
    )
    return StoredVersion(row, whole)


def test_a_listing_item_reads_published_flag_and_modified_time():
    item = listed_version_from_raw(
        {"version": 3.0, "is_published": True, "last_modification_timestamp": int(MODIFIED.timestamp() * 1000)},
        agent_id="agent_a",
    )
    assert item == ListedVersion(3, True, MODIFIED)


def test_a_published_version_listed_as_stored_is_reused():
    stored = _stored(2, whole=False)
    assert _still_stored(ListedVersion(2, True, MODIFIED), stored, newest=3) is stored.row


def test_drafts_moved_times_and_unknown_versions_are_fetched():
    stored = _stored(2, whole=True)
    assert _still_stored(ListedVersion(2, False, MODIFIED), stored, newest=2) is None  # a draft may change
    later = MODIFIED + dt.timedelta(seconds=1)
    assert _still_stored(ListedVersion(2, True, later), stored, newest=2) is None  # changed since stored
    assert _still_stored(ListedVersion(2, True, None), stored, newest=2) is None  # no time to compare
    assert _still_stored(ListedVersion(2, True, MODIFIED), None, newest=2) is None  # never stored


def test_the_newest_version_is_reused_only_with_the_agent_row_stored_at_it():
    # The agent's row (voice, language, webhook) comes from its newest version: without those fields
    # stored at that version, it is fetched, e.g. when a newer version was deleted at the source.
    assert _still_stored(ListedVersion(2, True, MODIFIED), _stored(2, whole=False), newest=2) is None
    whole = _stored(2, whole=True)
    assert _still_stored(ListedVersion(2, True, MODIFIED), whole, newest=2) is whole.row
