"""Retell's write endpoints in the simulator, with its versioning rules (reference §11.2).

- the newest version of an agent is an editable draft; published versions are frozen (an edit
  naming one answers 400);
- `PATCH /update-retell-llm/{llm_id}` edits the draft's LLM (the agent's version N pins LLM
  version N in this world) and moves its `last_modification_timestamp`;
- `POST /publish-agent-version/{agent_id}` publishes the draft in place and opens a new draft
  that starts as a copy of it;
- numbers pin versions: publishing moves no number; `PATCH /update-phone-number/{number}`
  replaces its `inbound_agents` (and `outbound_agents`) with bindings to existing versions.

The functions change the world and return what changed; server.py renders the answers. Kept
apart from server.py so the write rules read in one place and move with the simulator.
"""

from typing import Any

from askpro_simulator.accounts import SimAgent, SimAgentBinding, SimAgentVersion, SimPhoneNumber
from askpro_simulator.world import TenantWorld

# LLM fields the simulator lets a client change (what a prompt push manages, and a little more).
LLM_FIELDS = frozenset(
    {"general_prompt", "begin_message", "general_tools", "model", "model_temperature", "start_speaker", "states"}
)
VERSION_TAGS = frozenset({"latest_published", "latest"})
TIMESTAMP_STEP_MS = 1_000


class WriteError(Exception):
    """A refused write: the HTTP status and Retell's message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _next_timestamp(tenant: TenantWorld) -> int:
    """Later than every timestamp of the tenant's account: the world's clock is fixed, writes still move on."""
    known = [v.last_modification_timestamp for a in tenant.agents for v in a.versions]
    known += [p.last_modification_timestamp for p in tenant.phone_numbers]
    return max(known, default=0) + TIMESTAMP_STEP_MS


def draft_of(tenant: TenantWorld, agent: SimAgent) -> SimAgentVersion:
    """The agent's draft, opened as a copy of the newest version when every version is published."""
    latest = agent.latest
    if not latest.is_published:
        return latest
    draft = SimAgentVersion(
        version=latest.version + 1,
        is_published=False,
        version_title=latest.version_title,
        last_modification_timestamp=_next_timestamp(tenant),
        llm_changes=dict(latest.llm_changes),
    )
    agent.versions.append(draft)
    return draft


def agent_by_llm(tenant: TenantWorld, llm_id: str) -> SimAgent:
    for agent in tenant.agents:
        if agent.llm_id == llm_id:
            return agent
    raise WriteError(404, "Cannot find requested asset under given api key.")


def update_llm(tenant: TenantWorld, llm_id: str, version: str | None, body: dict[str, Any]) -> SimAgentVersion:
    """Apply the body to the LLM's draft; `version` (query) may name the draft, never a published one."""
    agent = agent_by_llm(tenant, llm_id)
    unknown = sorted(set(body) - LLM_FIELDS)
    if unknown:
        raise WriteError(400, f"Unknown or read-only field(s): {', '.join(unknown)}")
    if not body:
        raise WriteError(400, "Nothing to update: the body names no field.")
    for name in ("general_prompt", "begin_message"):
        if name in body and not (body[name] is None or isinstance(body[name], str)):
            raise WriteError(400, f"{name} must be a string")
    if version is not None:
        named = [v for v in agent.versions if str(v.version) == version]
        if not named:
            raise WriteError(404, "Cannot find requested asset under given api key.")
        if named[0].is_published:
            raise WriteError(400, f"Version {version} is published and cannot be modified; edit the draft.")
    draft = draft_of(tenant, agent)
    draft.llm_changes.update(body)
    draft.last_modification_timestamp = _next_timestamp(tenant)
    return draft


def publish(tenant: TenantWorld, agent_id: str, body: dict[str, Any]) -> SimAgentVersion:
    """Publish the draft in place and open the next draft; returns the version just published."""
    agent = tenant.agent(agent_id)
    draft = draft_of(tenant, agent)
    title = body.get("version_title")
    if title is not None and not isinstance(title, str):
        raise WriteError(400, "version_title must be a string")
    draft.is_published = True
    if title:
        draft.version_title = title
    draft.last_modification_timestamp = _next_timestamp(tenant)
    agent.versions.append(
        SimAgentVersion(
            version=draft.version + 1,
            is_published=False,
            version_title=draft.version_title,
            last_modification_timestamp=_next_timestamp(tenant),
            llm_changes=dict(draft.llm_changes),
        )
    )
    return draft


def _bindings(tenant: TenantWorld, raw: Any, field: str) -> list[SimAgentBinding]:
    if not isinstance(raw, list):
        raise WriteError(400, f"{field} must be a list")
    bindings = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("agent_id"), str):
            raise WriteError(400, f"{field}: each item needs an agent_id")
        try:
            agent = tenant.agent(item["agent_id"])
        except KeyError:
            raise WriteError(404, f"{field}: agent {item['agent_id']} not found") from None
        version = item.get("agent_version")
        if isinstance(version, bool) or not (isinstance(version, int) or version in VERSION_TAGS or version in agent.tags):
            raise WriteError(400, f"{field}: agent_version must be a version number or a tag")
        if isinstance(version, int) and version not in {v.version for v in agent.versions}:
            raise WriteError(400, f"{field}: agent {agent.agent_id} has no version {version}")
        weight = item.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= 1:
            raise WriteError(400, f"{field}: weight must be in (0, 1]")
        bindings.append(SimAgentBinding(agent.agent_id, version, weight))
    if bindings and abs(sum(b.weight for b in bindings) - 1) > 1e-9:
        raise WriteError(400, f"{field}: weights must add up to 1")
    return bindings


def update_phone_number(tenant: TenantWorld, phone_number: str, body: dict[str, Any]) -> SimPhoneNumber:
    """Replace the number's bindings named in the body (other fields are read-only here)."""
    number = next((p for p in tenant.phone_numbers if p.phone_number == phone_number), None)
    if number is None:
        raise WriteError(404, "Cannot find requested asset under given api key.")
    allowed = {"inbound_agents", "outbound_agents", "nickname"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise WriteError(400, f"Unknown or read-only field(s): {', '.join(unknown)}")
    if "inbound_agents" in body:
        number.inbound_agents = _bindings(tenant, body["inbound_agents"], "inbound_agents")
    if "outbound_agents" in body:
        number.outbound_agents = _bindings(tenant, body["outbound_agents"], "outbound_agents")
    if isinstance(body.get("nickname"), str):
        number.nickname = body["nickname"]
    number.last_modification_timestamp = _next_timestamp(tenant)
    return number
