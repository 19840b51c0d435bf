"""The chain that matters: phone number → Retell agent + version → branch → Cal.com event type → staff.

`assignment_rows` builds the `phone_assignments` table from the synced Retell and Cal.com tables
and the tenants file's branches. `resolve_phone_number` answers "who picks up this number and
what does it book?" from that table, for any common way of writing a German or E.164 number.
"""

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from askpro_pipelines.tenants import Tenant
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.tables import phone_assignments

DEFAULT_COUNTRY_CODE = "49"
_SEPARATORS = re.compile(r"[\s\-./()]")


class InvalidPhoneNumber(ValueError):
    """The text cannot be read as a phone number."""


def normalize_phone_number(text: str, default_country_code: str = DEFAULT_COUNTRY_CODE) -> str:
    """E.164 from the ways people write numbers: "030 1234567", "+49 (0)30 1234567", "004930…".

    A national number (leading 0) gets the default country code (Germany).
    """
    raw = text.strip()
    if not raw:
        raise InvalidPhoneNumber("empty phone number")
    cleaned = raw.replace("(0)", "")
    cleaned = _SEPARATORS.sub("", cleaned)
    if cleaned.startswith("+"):
        digits = cleaned[1:]
    elif cleaned.startswith("00"):
        digits = cleaned[2:]
    elif cleaned.startswith("0"):
        digits = default_country_code + cleaned[1:]
    else:
        raise InvalidPhoneNumber(f"{text!r} has no country code and no leading 0")
    if not digits.isdigit() or not 7 <= len(digits) <= 15 or digits.startswith("0"):
        raise InvalidPhoneNumber(f"{text!r} is not a phone number")
    return "+" + digits


def resolve_version(
    bound: str | None, versions: Iterable[Mapping[str, Any]], tags: Mapping[str, Any] | None
) -> int | None:
    """The version a call reaches: a number as is, latest / latest_published, or a tag such as prod."""
    if bound is None:
        return None
    if bound.isdigit():
        return int(bound)
    known = list(versions)
    if bound == "latest":
        return max((v["version"] for v in known), default=None)
    if bound == "latest_published":
        return max((v["version"] for v in known if v.get("is_published")), default=None)
    tagged = (tags or {}).get(bound)
    return int(tagged) if tagged is not None else None


def assignment_rows(tenant: Tenant, warehouse: Warehouse) -> list[dict[str, Any]]:
    """One row per (number, branch): every number Retell has or the tenants file names."""
    numbers = {r["phone_number"]: r for r in warehouse.read_slice("retell_phone_numbers", tenant.slug)}
    versions_by_agent: dict[str, list[dict[str, Any]]] = {}
    for v in warehouse.read_slice(
        "retell_agent_versions", tenant.slug, ["agent_id", "version", "is_published", "agent_name"]
    ):
        versions_by_agent.setdefault(v["agent_id"], []).append(v)
    tags = {a["agent_id"]: a["tags"] for a in warehouse.read_slice("retell_agents", tenant.slug, ["agent_id", "tags"])}
    titles = {
        r["event_type_id"]: r["title"]
        for r in warehouse.read_slice("calcom_event_types", tenant.slug, ["event_type_id", "title"])
    }
    hosts = Counter(
        r["event_type_id"] for r in warehouse.read_slice("staff_event_types", tenant.slug, ["event_type_id"])
    )

    branches_by_number: dict[str, list[Any]] = {}
    for branch in tenant.branches:
        for number in branch.phone_numbers:
            branches_by_number.setdefault(number, []).append(branch)

    rows = []
    for number in sorted(set(numbers) | set(branches_by_number)):
        retell = numbers.get(number) or {}
        agent_id = retell.get("inbound_agent_id")
        bound = retell.get("inbound_agent_version")
        agent_versions = versions_by_agent.get(agent_id or "", [])
        resolved = resolve_version(bound, agent_versions, tags.get(agent_id))
        match = next((v for v in agent_versions if v["version"] == resolved), None)
        base = {
            "phone_number": number,
            "agent_id": agent_id,
            "agent_version": bound,
            "agent_version_resolved": resolved,
            "agent_version_published": match["is_published"] if match else None,
            "agent_name": match["agent_name"] if match else None,
        }
        for branch in branches_by_number.get(number) or [None]:
            event_type_id = str(branch.calcom_event_type_id) if branch else None
            rows.append(
                {
                    **base,
                    "branch_id": branch.id if branch else None,
                    "branch_name": branch.name if branch else None,
                    "event_type_id": event_type_id,
                    "event_type_title": titles.get(event_type_id),
                    "hosting_staff_count": hosts.get(event_type_id, 0) if event_type_id in titles else None,
                }
            )
    return rows


@dataclass(frozen=True)
class Assignment:
    """Where a call to this number goes, as last synced."""

    tenant: str
    phone_number: str
    agent_id: str | None
    agent_version: str | None
    agent_version_resolved: int | None
    branch_id: str | None
    branch_name: str | None
    event_type_id: str | None
    event_type_title: str | None
    hosting_staff_count: int | None


@dataclass(frozen=True)
class NotFound:
    """No synced assignment for this number (`reason` says why)."""

    phone_number: str | None
    reason: str

    def __bool__(self) -> bool:
        return False


def resolve_phone_number(number: str, warehouse: Warehouse, tenant: str | None = None) -> Assignment | NotFound:
    """The assignment of any common spelling of a number, or a NotFound that says why."""
    try:
        normalized = normalize_phone_number(number)
    except InvalidPhoneNumber as exc:
        return NotFound(None, str(exc))
    t = phone_assignments
    query = sa.select(t).where(t.c.phone_number == normalized)
    if tenant:
        query = query.where(t.c.tenant == tenant)
    with warehouse.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    if not rows:
        return NotFound(normalized, f"{normalized} is not assigned in the synced phone_assignments table")
    if len(rows) > 1:
        places = ", ".join(f"{r['tenant']}/{r['branch_id']}" for r in rows)
        return NotFound(normalized, f"{normalized} is mapped to several branches ({places}); fix the tenants file")
    row = rows[0]
    return Assignment(**{field: row[field] for field in Assignment.__dataclass_fields__})
