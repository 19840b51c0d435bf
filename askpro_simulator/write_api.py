"""Routes that change the world: Cal.com v2 slots (read from schedules and bookings) and Retell's
LLM update, publish and phone-number writes (retell_writes.py), re-rendering the tenant's views.

Kept apart from the read-only API mixins because a write re-renders `TenantViews`, which is built
from those mixins: importing it there would be a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from askpro_simulator import retell_writes, slots
from askpro_simulator.responses import ApiBase, ApiError, Ctx, Payload, bare_one, v2_one
from askpro_simulator.views import TenantViews


class WriteApi(ApiBase):
    """GET /v2/slots and Retell's writes; mixed into the server's application."""

    def v2_slots(self, ctx: Ctx) -> Payload:
        """GET /v2/slots?eventTypeId&start&end&timeZone: free starts from the world (slots.py)."""
        raw_id, zone = ctx.query.get("eventTypeId", ""), ctx.query.get("timeZone") or "UTC"
        event_type_id = self._path_int(raw_id, "eventTypeId")
        self._check_owner(ctx, "event_type", event_type_id, f"event type {event_type_id}")
        try:
            first, last = date.fromisoformat(ctx.query.get("start", "")), date.fromisoformat(ctx.query.get("end", ""))
            ZoneInfo(zone)
        except (ValueError, KeyError):
            raise ApiError(400, "start and end must be YYYY-MM-DD dates and timeZone an IANA zone") from None
        if last < first or (last - first).days > slots.MAX_RANGE_DAYS:
            raise ApiError(400, f"end must be on or after start and at most {slots.MAX_RANGE_DAYS} days later")
        found = slots.free_slots(ctx.tenant, event_type_id, first, last, zone)
        return v2_one("v2_slots", slots.slots_body(found)["data"])

    def _retell_write(self, ctx: Ctx, write: Callable[[], Any]) -> Any:
        """Run a write (retell_writes.py), re-render the tenant's views from the changed world."""
        try:
            changed = write()
        except retell_writes.WriteError as exc:
            raise ApiError(exc.status, exc.message) from None
        self.views[ctx.tenant.slug] = TenantViews(ctx.tenant)
        return changed

    def retell_update_llm(self, ctx: Ctx, llm_id: str) -> Payload:
        self._check_owner(ctx, "llm", llm_id, f"llm {llm_id}")
        body = self._json_body(ctx)
        version = ctx.query.get("version")
        draft = self._retell_write(ctx, lambda: retell_writes.update_llm(ctx.tenant, llm_id, version, body))
        return bare_one("retell_llm", self.views[ctx.tenant.slug].retell_llms[llm_id][draft.version])

    def retell_publish_agent(self, ctx: Ctx, agent_id: str) -> Payload:
        agent = self._agent(ctx, agent_id)  # type: ignore[attr-defined]  # RetellApi's, mixed in beside
        body = self._json_body(ctx)
        published = self._retell_write(ctx, lambda: retell_writes.publish(ctx.tenant, agent.agent_id, body))
        records = self.views[ctx.tenant.slug].retell_agent_versions[agent.agent_id].records
        return bare_one("retell_agent", next(r for r in records if r["version"] == published.version))

    def retell_update_phone_number(self, ctx: Ctx, phone_number: str) -> Payload:
        self._check_owner(ctx, "phone_number", phone_number, f"phone number {phone_number}")
        body = self._json_body(ctx)
        self._retell_write(ctx, lambda: retell_writes.update_phone_number(ctx.tenant, phone_number, body))
        return bare_one("retell_phone_number", self.views[ctx.tenant.slug].retell_phone_number_by_number[phone_number])
