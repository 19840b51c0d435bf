"""Cal.com v1 and v2 payloads normalise into the same typed records, and bad records fail by name."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from askpro_pipelines.models.calcom import (
    WEEKDAY_NAMES,
    DateOverride,
    EventType,
    EventTypeHost,
    Staff,
    event_type_from_v1,
    event_type_from_v2,
    iso_weekday_from_v1,
    iso_weekday_from_v2,
    normalise_scheduling_type,
    schedule_from_v1,
    schedule_from_v2,
    staff_from_host,
    staff_from_v1_user,
    staff_from_v2_membership,
    staff_from_v2_user,
)
from askpro_pipelines.models.errors import RecordError
from tests.fixtures import api_example as example

# JavaScript getDay() order, written out independently of the code under test.
JS_DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
UUID_HOST = "7f3c1f0e-2b8a-4c55-9d0e-5a1b2c3d4e5f"


def v1_event_types() -> dict[int, dict]:
    items = (
        example("calcom_v1_event_types.json")["event_types"] + example("calcom_v1_team_event_types.json")["event_types"]
    )
    return {item["id"]: item for item in items}


def v2_event_types() -> dict[int, dict]:
    items = example("calcom_v2_event_types.json")["data"] + example("calcom_v2_team_event_types.json")["data"]
    return {item["id"]: item for item in items}


def v1_schedules() -> dict[int, dict]:
    return {item["id"]: item for item in example("calcom_v1_schedules.json")["schedules"]}


def v2_schedules() -> dict[int, dict]:
    return {item["id"]: item for item in example("calcom_v2_schedules.json")["data"]}


def v1_user() -> dict:
    return example("calcom_v1_users.json")["users"][0]


def comparable(event_type: EventType) -> EventType:
    """Drop what only one API version carries: location vocabularies differ, host names/priority are v2-only."""
    hosts = [h.model_copy(update={"name": None, "username": None, "priority": None}) for h in event_type.hosts]
    return event_type.model_copy(update={"locations": [], "hosts": hosts})


def error_of(parser, *args, **kwargs) -> RecordError:
    with pytest.raises(RecordError) as caught:
        parser(*args, **kwargs)
    return caught.value


# ---- event types ----------------------------------------------------------------------------


@pytest.mark.parametrize("event_type_id", [1204551, 1204552, 1204777])
def test_v1_and_v2_event_types_normalise_to_equal_records(event_type_id):
    from_v1 = event_type_from_v1(v1_event_types()[event_type_id])
    from_v2 = event_type_from_v2(v2_event_types()[event_type_id])

    assert comparable(from_v1) == comparable(from_v2)
    assert from_v1.event_type_id == from_v2.event_type_id == str(event_type_id)
    # Locations are kept as given; both versions still carry the same address.
    assert from_v1.locations[0]["address"] == from_v2.locations[0]["address"] == "Parkstraße 12, 10115 Berlin"


def test_v1_event_type_by_id_matches_the_list_item():
    single = example("calcom_v1_event_type_by_id.json")["event_type"]
    assert event_type_from_v1(single) == event_type_from_v1(v1_event_types()[1204551])


def test_personal_event_type_fields():
    event_type = event_type_from_v2(v2_event_types()[1204552])
    assert event_type.model_dump() == {
        "event_type_id": "1204552",
        "title": "Krankengymnastik",
        "slug": "krankengymnastik",
        "length_minutes": 60,
        "description": "Behandlung nach ärztlicher Verordnung (KG).",
        "hidden": False,
        "team_id": None,
        "owner_staff_id": "41872",
        "schedule_id": "95611",
        "scheduling_type": None,
        "price": 0,
        "currency": "eur",
        "minimum_booking_notice": 1440,
        "before_event_buffer": 5,
        "after_event_buffer": 10,
        "slot_interval": 30,
        "locations": [{"type": "address", "address": "Parkstraße 12, 10115 Berlin", "public": True}],
        # The owner appears as ownerId and in users[]: one entry, owner role, name from users[].
        "hosts": [
            {
                "staff_id": "41872",
                "role": "owner",
                "mandatory": None,
                "priority": None,
                "name": "Dr. Anna Schneider",
                "username": "anna-schneider",
            }
        ],
    }


def test_v1_personal_event_type_owner_comes_from_user_id_and_owner():
    event_type = event_type_from_v1(v1_event_types()[1204551])
    assert event_type.owner_staff_id == "41872"
    assert event_type.hosts == [EventTypeHost(staff_id="41872", role="owner", username="anna-schneider")]


def test_team_event_type_hosts():
    from_v1 = event_type_from_v1(v1_event_types()[1204777])
    from_v2 = event_type_from_v2(v2_event_types()[1204777])

    assert from_v1.team_id == from_v2.team_id == "18234"
    assert from_v1.owner_staff_id is from_v2.owner_staff_id is None
    assert from_v1.hosts == [
        EventTypeHost(staff_id="41872", role="host", mandatory=False),
        EventTypeHost(staff_id="41903", role="host", mandatory=False),
    ]
    assert from_v2.hosts == [
        EventTypeHost(
            staff_id="41872",
            role="host",
            mandatory=False,
            priority="medium",
            name="Dr. Anna Schneider",
            username="anna-schneider",
        ),
        EventTypeHost(
            staff_id="41903", role="host", mandatory=False, priority="high", name="Jonas Weber", username="jonas-weber"
        ),
    ]


def test_v2_users_that_are_not_the_owner_get_the_user_role():
    raw = v2_event_types()[1204551]
    raw["users"].append({"id": 41903, "name": "Jonas Weber", "username": "jonas-weber"})
    hosts = event_type_from_v2(raw).hosts
    assert [(h.staff_id, h.role) for h in hosts] == [("41872", "owner"), ("41903", "user")]


def test_hosts_are_deduplicated_with_the_owner_first():
    raw = v2_event_types()[1204777]
    raw["ownerId"] = 41903  # the owner is also listed as a host
    hosts = event_type_from_v2(raw).hosts
    assert [(h.staff_id, h.role) for h in hosts] == [("41903", "owner"), ("41872", "host")]
    # The owner entry keeps the details only the host entry had.
    assert hosts[0] == EventTypeHost(
        staff_id="41903", role="owner", mandatory=False, priority="high", name="Jonas Weber", username="jonas-weber"
    )


def test_uuid_host_ids_are_kept_as_strings():
    raw_v2 = v2_event_types()[1204777]
    raw_v2["hosts"][1]["userId"] = UUID_HOST
    raw_v1 = v1_event_types()[1204777]
    raw_v1["hosts"][1]["userId"] = UUID_HOST

    for event_type in (event_type_from_v2(raw_v2), event_type_from_v1(raw_v1)):
        assert [h.staff_id for h in event_type.hosts] == ["41872", UUID_HOST]

    host = event_type_from_v2(raw_v2).hosts[1]
    assert staff_from_host(host) == Staff(
        staff_id=UUID_HOST,
        name="Jonas Weber",
        email=None,
        username="jonas-weber",
        time_zone=None,
        default_schedule_id=None,
        week_start=None,
        locale=None,
        role=None,
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ROUND_ROBIN", "roundRobin"),
        ("COLLECTIVE", "collective"),
        ("MANAGED", "managed"),
        ("roundRobin", "roundRobin"),
        ("collective", "collective"),
        ("managed", "managed"),
        ("round_robin", "roundRobin"),
        ("", None),
        (None, None),
    ],
)
def test_scheduling_type_is_lower_camel(given, expected):
    assert normalise_scheduling_type(given) == expected
    raw = v1_event_types()[1204777]
    raw["schedulingType"] = given
    assert event_type_from_v1(raw).scheduling_type == expected


def test_records_are_frozen():
    event_type = event_type_from_v2(v2_event_types()[1204551])
    with pytest.raises(ValidationError):
        event_type.title = "changed"


# ---- schedules ------------------------------------------------------------------------------


@pytest.mark.parametrize("schedule_id", [95611, 95612])
def test_v1_and_v2_schedules_normalise_to_equal_records(schedule_id):
    defaults = {"41872": staff_from_v1_user(v1_user()).default_schedule_id}
    from_v1 = schedule_from_v1(v1_schedules()[schedule_id], default_schedule_ids=defaults)
    from_v2 = schedule_from_v2(v2_schedules()[schedule_id])
    assert from_v1 == from_v2


def test_v1_is_default_accepts_int_ids_in_the_mapping():
    assert schedule_from_v1(v1_schedules()[95612], default_schedule_ids={"41872": 95611}).is_default is False


def test_v1_is_default_is_unknown_without_the_users_default_schedule():
    from_v1 = schedule_from_v1(v1_schedules()[95611])
    assert from_v1.is_default is None
    assert from_v1 == schedule_from_v2(v2_schedules()[95611]).model_copy(update={"is_default": None})


def test_lunch_break_splits_a_day_into_two_intervals():
    for schedule in (schedule_from_v1(v1_schedules()[95611]), schedule_from_v2(v2_schedules()[95611])):
        monday = [(i.start_time, i.end_time) for i in schedule.intervals if i.weekday == 1]
        assert monday == [("08:00", "12:30"), ("13:30", "18:00")]
        # Rows for Mon-Thu (two each) plus Friday.
        assert len(schedule.intervals) == 4 * 2 + 1
        assert schedule.time_zone == "Europe/Berlin"
        assert schedule.staff_id == "41872"


def test_overrides_including_the_day_off():
    for schedule in (schedule_from_v1(v1_schedules()[95611]), schedule_from_v2(v2_schedules()[95611])):
        assert schedule.overrides == [
            DateOverride(date=datetime.date(2026, 10, 3), start_time="00:00", end_time="00:00"),
            DateOverride(date=datetime.date(2026, 12, 24), start_time="08:00", end_time="12:00"),
        ]
        assert [o.is_day_off for o in schedule.overrides] == [True, False]


def test_v1_override_date_is_taken_as_written_not_shifted():
    raw = v1_schedules()[95612]
    raw["timeZone"] = "America/Los_Angeles"  # midnight UTC would be the previous evening there
    raw["availability"].append(
        {"id": 1, "date": "2026-10-03T00:00:00.000Z", "days": [], "startTime": "00:00:00", "endTime": "00:00:00"}
    )
    assert schedule_from_v1(raw).overrides[0].date == datetime.date(2026, 10, 3)


def test_sunday_and_monday_mapping():
    raw_v1 = v1_schedules()[95612]
    raw_v1["availability"][0]["days"] = [0, 1]
    raw_v2 = v2_schedules()[95612]
    raw_v2["availability"][0]["days"] = ["Sunday", "monday"]  # case is forgiven

    for schedule in (schedule_from_v1(raw_v1), schedule_from_v2(raw_v2)):
        assert [i.weekday for i in schedule.intervals] == [1, 7]
    assert iso_weekday_from_v1(0) == 7
    assert iso_weekday_from_v1(1) == 1
    assert iso_weekday_from_v2("Sunday") == 7
    assert iso_weekday_from_v2("Monday") == 1


def test_null_time_zone_falls_back_to_the_given_default():
    raw = v1_schedules()[95612]
    raw["timeZone"] = None
    assert schedule_from_v1(raw).time_zone == "Europe/London"
    assert schedule_from_v1(raw, default_time_zone="Europe/Berlin").time_zone == "Europe/Berlin"
    raw_v2 = v2_schedules()[95612]
    raw_v2["timeZone"] = None
    assert schedule_from_v2(raw_v2, default_time_zone="Europe/Berlin").time_zone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("08:00", "08:00"),
        ("08:00:00", "08:00"),
        ("23:59", "23:59"),
        ("23:59:59", "23:59"),
        ("24:00", "24:00"),
        ("24:00:00", "24:00"),
    ],
)
def test_accepted_times(given, expected):
    raw = v2_schedules()[95612]
    raw["availability"][0]["endTime"] = given
    assert schedule_from_v2(raw).intervals[0].end_time == expected


@pytest.mark.parametrize("bad", ["25:99", "24:30", "12:60", "8:00", "08:00:60", "0800", "", "08:00 ", 800, None])
def test_rejected_times(bad):
    raw = v1_schedules()[95612]
    raw["availability"][0]["startTime"] = bad
    error = error_of(schedule_from_v1, raw)
    assert (error.entity, error.record_id) == ("schedules", "95612")
    assert error.message.startswith("availability.0.startTime: ")


@pytest.mark.parametrize("bad", [7, -1, True, "1", 1.0])
def test_rejected_v1_weekdays(bad):
    raw = v1_schedules()[95612]
    raw["availability"][0]["days"] = [6, bad]
    error = error_of(schedule_from_v1, raw)
    assert error.message.startswith("availability.0.days.1: weekday must be an integer 0-6")


@pytest.mark.parametrize("bad", ["Funday", "Mon", "", 1])
def test_rejected_v2_weekdays(bad):
    raw = v2_schedules()[95612]
    raw["availability"][0]["days"] = [bad]
    error = error_of(schedule_from_v2, raw)
    assert error.message.startswith("availability.0.days.0: weekday must be an English day name")


def test_rejected_dates_and_time_zones():
    raw = v2_schedules()[95611]
    raw["overrides"][0]["date"] = "03.10.2026"
    assert error_of(schedule_from_v2, raw).message.startswith("overrides.0.date: Input should be a date")

    raw = v2_schedules()[95611]
    raw["timeZone"] = "Europe/Atlantis"
    assert (
        str(error_of(schedule_from_v2, raw))
        == "entity=schedules record=95611: timeZone: unknown IANA time zone 'Europe/Atlantis'"
    )


@given(st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=7))
def test_v1_day_lists_map_to_iso_weekdays_and_round_trip_with_v2_names(days):
    expected = sorted({7 if d == 0 else d for d in days})
    for d in days:
        iso = iso_weekday_from_v1(d)
        assert iso == (7 if d == 0 else d)
        assert WEEKDAY_NAMES[iso - 1] == JS_DAY_NAMES[d]
        assert iso_weekday_from_v2(JS_DAY_NAMES[d]) == iso

    row = {"startTime": "09:00", "endTime": "13:00"}
    from_v1 = schedule_from_v1(
        {"id": 1, "userId": 2, "name": "s", "timeZone": "Europe/Berlin", "availability": [{**row, "days": days}]}
    )
    from_v2 = schedule_from_v2(
        {
            "id": 1,
            "ownerId": 2,
            "name": "s",
            "timeZone": "Europe/Berlin",
            "availability": [{**row, "days": [JS_DAY_NAMES[d] for d in days]}],
            "overrides": [],
        }
    )
    assert [i.weekday for i in from_v1.intervals] == expected
    assert from_v1.model_copy(update={"is_default": None}) == from_v2.model_copy(update={"is_default": None})


# ---- staff ----------------------------------------------------------------------------------


def test_v1_user():
    assert staff_from_v1_user(v1_user()) == Staff(
        staff_id="41872",
        name="Dr. Anna Schneider",
        email="anna.schneider@praxis-stadtpark.example",
        username="anna-schneider",
        time_zone="Europe/Berlin",
        default_schedule_id="95611",
        week_start="Monday",
        locale="de",
        role="USER",
    )


def test_v2_user_matches_v1_user_apart_from_the_platform_role():
    # /v2/me and org users use the same field names as v1 /users for these columns.
    keys = ["id", "username", "name", "email", "timeZone", "defaultScheduleId", "weekStart", "locale"]
    raw_v2 = {key: v1_user()[key] for key in keys} | {"avatarUrl": None, "organizationId": None}
    assert staff_from_v2_user(raw_v2) == staff_from_v1_user(v1_user()).model_copy(update={"role": None})


def test_v2_memberships():
    members = [staff_from_v2_membership(raw) for raw in example("calcom_v2_team_memberships.json")["data"]]
    assert [(m.staff_id, m.role, m.username) for m in members] == [
        ("41872", "OWNER", "anna-schneider"),
        ("41903", "MEMBER", "jonas-weber"),
    ]
    from_v1 = staff_from_v1_user(v1_user())
    comparable_fields = {"staff_id", "name", "email", "username"}
    assert members[0].model_dump(include=comparable_fields) == from_v1.model_dump(include=comparable_fields)


def test_staff_ids_of_hosts_match_the_listed_users():
    member_ids = {staff_from_v2_membership(raw).staff_id for raw in example("calcom_v2_team_memberships.json")["data"]}
    assert {h.staff_id for h in event_type_from_v2(v2_event_types()[1204777]).hosts} == member_ids


# ---- errors ---------------------------------------------------------------------------------


def test_record_error_names_entity_record_and_field():
    raw = v2_event_types()[1204551]
    raw["lengthInMinutes"] = "30"
    error = error_of(event_type_from_v2, raw)
    assert isinstance(error, ValueError)
    assert (error.entity, error.record_id, error.message) == (
        "event_types",
        "1204551",
        "lengthInMinutes: Input should be a valid integer",
    )
    assert str(error) == "entity=event_types record=1204551: lengthInMinutes: Input should be a valid integer"


def test_record_error_never_echoes_the_payload():
    raw = v2_event_types()[1204551]
    raw["hidden"] = "nope"
    message = str(error_of(event_type_from_v2, raw))
    assert message == "entity=event_types record=1204551: hidden: Input should be a valid boolean"
    assert "Erstberatung" not in message and "Parkstraße" not in message


@pytest.mark.parametrize(
    ("parser", "raw", "record_id", "message"),
    [
        (
            event_type_from_v2,
            lambda: {k: v for k, v in v2_event_types()[1204551].items() if k != "title"},
            "1204551",
            "title: Field required",
        ),
        (
            event_type_from_v2,
            lambda: {k: v for k, v in v2_event_types()[1204551].items() if k != "id"},
            None,
            "id: Field required",
        ),
        (
            event_type_from_v2,
            lambda: v2_event_types()[1204551] | {"id": 12.5},
            None,
            "id: Input should be an integer or string id",
        ),
        (
            event_type_from_v2,
            lambda: v2_event_types()[1204551] | {"ownerId": True},
            "1204551",
            "ownerId: Input should be an integer or string id",
        ),
        (
            event_type_from_v1,
            lambda: v1_event_types()[1204551] | {"length": None},
            "1204551",
            "length: Input should be a valid integer",
        ),
        (
            event_type_from_v1,
            lambda: v1_event_types()[1204551] | {"locations": "Berlin"},
            "1204551",
            "locations: Input should be a valid list",
        ),
        (
            event_type_from_v1,
            lambda: v1_event_types()[1204777] | {"hosts": [{"userId": 41872, "isFixed": "yes"}]},
            "1204777",
            "hosts.0.isFixed: Input should be a valid boolean",
        ),
        (
            staff_from_v1_user,
            lambda: v1_user() | {"defaultScheduleId": ""},
            "41872",
            "defaultScheduleId: Input should be a non-empty id",
        ),
        (staff_from_v2_user, lambda: {"username": "x"}, None, "id: Field required"),
        (
            staff_from_v2_membership,
            lambda: {"userId": 41903, "user": {"name": 5}, "role": "MEMBER"},
            "41903",
            "user.name: Input should be a valid string",
        ),
        (staff_from_v2_membership, lambda: {"userId": 41903}, "41903", "role: Field required"),
        (
            schedule_from_v2,
            lambda: {k: v for k, v in v2_schedules()[95611].items() if k != "name"},
            "95611",
            "name: Field required",
        ),
        (
            schedule_from_v1,
            lambda: v1_schedules()[95611] | {"userId": None},
            "95611",
            "userId: Input should be an integer or string id",
        ),
    ],
)
def test_malformed_records(parser, raw, record_id, message):
    error = error_of(parser, raw())
    assert (error.record_id, error.message) == (record_id, message)


def test_a_record_that_is_not_an_object():
    error = error_of(event_type_from_v2, [1, 2])
    assert str(error) == "entity=event_types record=?: expected an object, got list"


def test_old_v2_event_type_shape_is_named():
    raw = v2_event_types()[1204551]
    raw["length"] = raw.pop("lengthInMinutes")
    error = error_of(event_type_from_v2, raw)
    assert error.record_id == "1204551"
    assert error.message.startswith("lengthInMinutes: missing but 'length' present")
    assert "looks like an old API shape: check the cal-api-version header" in error.message


def test_v1_payloads_given_to_the_v2_parser_are_named():
    error = error_of(event_type_from_v2, v1_event_types()[1204551])
    assert "check the cal-api-version header" in error.message
    error = error_of(event_type_from_v1, v2_event_types()[1204551])
    assert "looks like a v2 payload" in error.message


def test_old_v2_schedule_shape_is_named():
    raw = {"id": 95611, "name": "Praxiszeiten", "workingHours": [], "dateOverrides": [], "isDefault": True}
    error = error_of(schedule_from_v2, raw)
    assert error.record_id == "95611"
    assert "looks like an old API shape: check the cal-api-version header" in error.message
