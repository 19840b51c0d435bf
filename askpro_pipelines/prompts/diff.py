"""Desired prompt files against the live draft of each agent: what a push would change.

The diff is readable (a unified diff per text field, `old → new` per setting) and never shows a
secret: both sides go through the redaction module's detectors first. It carries the draft's
`last_modification_timestamp`, so a push can refuse when the draft moved after the diff.
"""

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from askpro_pipelines.models.prompts import LlmState
from askpro_pipelines.models.retell import AgentVersion
from askpro_pipelines.prompts.files import DesiredPrompt
from askpro_pipelines.redaction import redact_secrets

if TYPE_CHECKING:
    from askpro_pipelines.resources.retell import RetellClient


class PromptPushError(Exception):
    """A push or diff cannot go on; the message names tenant, agent and record."""


@dataclass
class AgentDiff:
    desired: DesiredPrompt
    draft: AgentVersion  # the agent's newest version
    live: LlmState  # that version's LLM, managed fields
    published_version: int | None  # the newest published version before any push
    changes: dict[str, Any] = field(default_factory=dict)  # field -> desired value, where it differs

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def title(self) -> str:
        published = f"v{self.published_version}" if self.published_version is not None else "none"
        return (
            f"{self.desired.tenant}/{self.desired.agent_id}: draft v{self.draft.version} "
            f"(llm {self.live.llm_id} v{self.live.version}, last_modification_timestamp "
            f"{self.live.last_modification_timestamp}), published {published}"
        )

    def render(self) -> str:
        """The readable diff (secrets masked); empty when nothing would change."""
        lines = []
        for name, wanted in self.changes.items():
            current = self.live.text.get(name) if name in self.live.text else self.live.settings.get(name)
            if isinstance(wanted, str) and (current is None or isinstance(current, str)):
                before = (redact_secrets(current) or "").splitlines(keepends=True)
                after = redact_secrets(wanted).splitlines(keepends=True)
                diff = difflib.unified_diff(before, after, f"live/{name}", f"desired/{name}", lineterm="")
                lines += [line.rstrip("\n") for line in diff]
            else:
                lines.append(f"{name}: {current!r} → {wanted!r}")
        return "\n".join(lines)


def live_state(client: "RetellClient", desired: DesiredPrompt) -> tuple[AgentVersion, LlmState, int | None]:
    """(draft version, its LLM's managed fields, newest published version) of the file's agent."""
    versions = client.versions_of_agent(desired.agent_id)
    if not versions:
        raise PromptPushError(f"tenant {desired.tenant}: agent {desired.agent_id} has no versions")
    draft = versions[-1]
    if draft.response_engine_type != "retell-llm" or draft.llm_id is None:
        raise PromptPushError(
            f"tenant {desired.tenant}: agent {desired.agent_id} v{draft.version} uses "
            f"{draft.response_engine_type or 'no'} response engine, not a retell-llm prompt"
        )
    published = [v.version for v in versions if v.is_published]
    return draft, client.llm_state(draft.llm_id, draft.llm_version), (published[-1] if published else None)


def diff_agent(client: "RetellClient", desired: DesiredPrompt) -> AgentDiff:
    draft, live, published = live_state(client, desired)
    current = {**live.text, **live.settings}
    changes = {name: value for name, value in desired.managed.items() if current.get(name) != value}
    return AgentDiff(desired, draft, live, published, changes)
