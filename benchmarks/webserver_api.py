"""The few webserver GraphQL calls the fleet benchmark makes: stop the schedules, so no tick comes from
the clock, and stop or start a sensor between ticks (benchmarks/fleet.py)."""

import httpx

LOCATION, REPOSITORY = "askpro_pipelines", "__repository__"

_SCHEDULES = """query { schedulesOrError(repositorySelector: {repositoryLocationName: "%s", repositoryName: "%s"}) {
  __typename ... on Schedules { results { name scheduleState { id status } } } ... on PythonError { message } } }"""
_STOP_SCHEDULE = """mutation Stop($id: String) { stopRunningSchedule(id: $id) { __typename
  ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }"""
_SENSOR = """query Sensor($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) { __typename
  ... on Sensor { sensorState { id status } } ... on PythonError { message } } }"""
_STOP_SENSOR = """mutation Stop($id: String) { stopSensor(id: $id) { __typename
  ... on StopSensorMutationResult { instigationState { status } } ... on PythonError { message } } }"""
_START_SENSOR = """mutation Start($selector: SensorSelector!) { startSensor(sensorSelector: $selector) { __typename
  ... on Sensor { sensorState { status } } ... on PythonError { message } } }"""


def graphql(base: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def location_loaded(base: str) -> bool:
    """The webserver answers and has loaded the code location."""
    try:
        return graphql(base, _SCHEDULES % (LOCATION, REPOSITORY))["schedulesOrError"]["__typename"] == "Schedules"
    except (httpx.HTTPError, RuntimeError, KeyError):  # not up yet
        return False


def stop_schedules(base: str) -> list[str]:
    """Stop every schedule in the instance, so no tick comes from the clock during the measurement."""
    data = graphql(base, _SCHEDULES % (LOCATION, REPOSITORY))["schedulesOrError"]
    if data["__typename"] != "Schedules":
        raise RuntimeError(f"schedules: {data}")
    stopped = []
    for schedule in data["results"]:
        result = graphql(base, _STOP_SCHEDULE, {"id": schedule["scheduleState"]["id"]})["stopRunningSchedule"]
        if result["__typename"] != "ScheduleStateResult" or result["scheduleState"]["status"] != "STOPPED":
            raise RuntimeError(f"stopping {schedule['name']}: {result}")
        stopped.append(schedule["name"])
    return stopped


def set_sensor(base: str, name: str, running: bool) -> None:
    """Start or stop one sensor of the code location; raises unless it ends in that state."""
    selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name}
    if running:
        result = graphql(base, _START_SENSOR, {"selector": selector})["startSensor"]
        status = result.get("sensorState", {}).get("status")
    else:
        sensor = graphql(base, _SENSOR, {"selector": selector})["sensorOrError"]
        if sensor["__typename"] != "Sensor":
            raise RuntimeError(f"sensor {name}: {sensor}")
        result = graphql(base, _STOP_SENSOR, {"id": sensor["sensorState"]["id"]})["stopSensor"]
        status = result.get("instigationState", {}).get("status")
    if status != ("RUNNING" if running else "STOPPED"):
        raise RuntimeError(f"{'starting' if running else 'stopping'} sensor {name}: {result}")
