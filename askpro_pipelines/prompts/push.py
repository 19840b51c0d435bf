"""A guarded prompt push: desired file → the agent's draft LLM → (publish) → (re-point numbers),
every step read back and verified, every push audited in `prompt_pushes`.

Refused before anything is written: an unknown tenant or missing prompt file, text that looks
like a secret (the redaction module's detectors), a tenant whose Retell key is not set, a
re-point without a publish, and a draft that changed since the diff was taken (its
`last_modification_timestamp`, compared with the value the diff showed and again just before
the write). A failure part-way ends the push with outcome `failed`; the audit row lists the steps
that were done, so the operator knows what to check or undo.
"""

import getpass
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from askpro_pipelines.prompts.diff import AgentDiff, PromptPushError, diff_agent
from askpro_pipelines.prompts.files import DesiredPrompt, PromptFileError, find_prompt
from askpro_pipelines.redaction import redact_secrets
from askpro_pipelines.resources.http import ApiError
from askpro_pipelines.tenants import TenantsConfig, TenantsFileError
from askpro_pipelines.warehouse.prompt_pushes import now_utc, start_push, update_push
from askpro_pipelines.warehouse.store import Warehouse

if TYPE_CHECKING:
    from askpro_pipelines.models.prompts import LlmState
    from askpro_pipelines.resources.retell import RetellClient, RetellResource

ACTOR_ENV = "ASKPRO_ACTOR"


class Refused(Exception):
    """The push was refused before it wrote anything; the message says why."""


@dataclass
class PushRequest:
    tenant: str
    agent_id: str
    publish: bool = False
    repoint_numbers: bool = False
    expected_modification_timestamp: int | None = None  # the draft's value the diff showed
    actor: str | None = None


@dataclass
class PushResult:
    push_id: str
    outcome: str  # succeeded | refused | failed
    error: str | None = None
    diff: str = ""
    draft_version: int | None = None
    published_version: int | None = None
    repointed: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)


def resolve_actor(explicit: str | None) -> str:
    """Who pushes: the option, else ASKPRO_ACTOR, else the login name."""
    return explicit or os.environ.get(ACTOR_ENV) or getpass.getuser()


def secret_fields(desired: DesiredPrompt) -> list[str]:
    """Managed text fields holding anything the redaction module would mask."""
    return [
        name for name, value in desired.managed.items() if isinstance(value, str) and redact_secrets(value) != value
    ]


def _mismatches(desired: DesiredPrompt, state: "LlmState") -> list[str]:
    current = {**state.text, **state.settings}
    return [name for name, value in desired.managed.items() if current.get(name) != value]


class _Push:
    """One push's state and audit row; `run` performs it."""

    def __init__(
        self, request: PushRequest, tenants: TenantsConfig, folder: Path, retell: "RetellResource", warehouse: Warehouse
    ) -> None:
        self.request, self.tenants, self.folder, self.retell, self.warehouse = (
            request,
            tenants,
            folder,
            retell,
            warehouse,
        )
        self.where = f"tenant {request.tenant} agent {request.agent_id}"
        self.result = PushResult(push_id=str(uuid.uuid4()), outcome="running")

    def step(self, name: str, detail: str) -> None:
        self.result.steps.append({"step": name, "at": now_utc().isoformat(), "detail": detail})
        update_push(self.warehouse, self.result.push_id, steps=list(self.result.steps))

    def run(self) -> PushResult:
        request = self.request
        start_push(
            self.warehouse,
            {
                "push_id": self.result.push_id,
                "tenant": request.tenant,
                "agent_id": request.agent_id,
                "actor": resolve_actor(request.actor),
                "started_at": now_utc(),
            },
        )
        try:
            self._perform()
            self.result.outcome = "succeeded"
        except Refused as exc:
            self.result.outcome, self.result.error = "refused", f"{self.where}: {exc}"
        except (ApiError, PromptPushError) as exc:
            self.result.outcome, self.result.error = "failed", f"{self.where}: {str(exc).splitlines()[0]}"
        update_push(
            self.warehouse,
            self.result.push_id,
            outcome=self.result.outcome,
            error=self.result.error,
            finished_at=now_utc(),
            steps=list(self.result.steps),
        )
        return self.result

    def _perform(self) -> None:
        request = self.request
        if request.repoint_numbers and not request.publish:
            raise Refused("--repoint-numbers needs --publish (numbers pin published versions)")
        try:
            tenant = self.tenants.get(request.tenant)
            desired = find_prompt(self.folder, self.tenants, tenant.slug, request.agent_id)
        except (TenantsFileError, PromptFileError) as exc:
            raise Refused(str(exc)) from None
        secrets = secret_fields(desired)
        if secrets:
            raise Refused(f"the prompt file holds what looks like a secret in {', '.join(secrets)}; remove it")
        try:
            tenant.retell_api_key()
        except TenantsFileError as exc:
            raise Refused(f"missing keys: {exc}") from None
        client = self.retell.client_for(tenant)
        diff = diff_agent(client, desired)
        self.result.diff = diff.render()
        update_push(
            self.warehouse,
            self.result.push_id,
            llm_id=diff.live.llm_id,
            published_version_before=diff.published_version,
            draft_version_before=diff.draft.version,
            draft_modified_before=diff.live.last_modification_timestamp,
            diff=self.result.diff,
        )
        self.step(
            "diff", diff.title + (f"; {len(diff.changes)} field(s) differ" if diff.changed else "; nothing differs")
        )
        expected = request.expected_modification_timestamp
        if expected is not None and diff.live.last_modification_timestamp != expected:
            raise Refused(
                f"the live draft changed since the diff was taken (last_modification_timestamp {expected}, "
                f"now {diff.live.last_modification_timestamp}); take a new diff"
            )
        draft_version = self._update_draft(client, diff, desired)
        self.result.draft_version = draft_version
        update_push(self.warehouse, self.result.push_id, draft_version_after=draft_version)
        if request.publish:
            self._publish(client, diff, desired)
        if request.repoint_numbers:
            self._repoint(client, diff)

    def _update_draft(self, client: "RetellClient", diff: AgentDiff, desired: DesiredPrompt) -> int | None:
        if not diff.changed:
            self.step("update_llm", "skipped: the draft already matches the file")
            return diff.live.version
        latest = client.llm_state(diff.live.llm_id, diff.live.version)
        if latest.last_modification_timestamp != diff.live.last_modification_timestamp:
            raise Refused(
                f"the live draft changed while pushing (last_modification_timestamp "
                f"{diff.live.last_modification_timestamp}, now {latest.last_modification_timestamp}); take a new diff"
            )
        edited = client.update_llm(diff.live.llm_id, diff.changes)
        self.step("update_llm", f"llm {edited.llm_id} draft v{edited.version}: {', '.join(diff.changes)}")
        back = client.llm_state(edited.llm_id, edited.version)
        wrong = _mismatches(desired, back)
        if wrong:
            raise PromptPushError(f"llm {edited.llm_id} v{edited.version}: read-back differs in {', '.join(wrong)}")
        self.step("verify_draft", f"llm {edited.llm_id} v{edited.version} matches the file")
        return edited.version

    def _publish(self, client: "RetellClient", diff: AgentDiff, desired: DesiredPrompt) -> None:
        published = client.publish_agent(desired.agent_id)
        self.result.published_version = published.version
        update_push(self.warehouse, self.result.push_id, published_version=published.version)
        self.step("publish", f"agent {desired.agent_id} v{published.version} published")
        again = client.agent(desired.agent_id, published.version)
        if not again.is_published or again.llm_id != diff.live.llm_id:
            raise PromptPushError(f"agent {desired.agent_id} v{published.version}: read-back is not published")
        wrong = _mismatches(desired, client.llm_state(again.llm_id, again.llm_version))
        if wrong:
            raise PromptPushError(
                f"llm {again.llm_id} v{again.llm_version}: published read-back differs in {', '.join(wrong)}"
            )
        self.step(
            "verify_published", f"agent {desired.agent_id} v{published.version} is published with the file's prompt"
        )

    def _repoint(self, client: "RetellClient", diff: AgentDiff) -> None:
        agent_id, old, new = self.request.agent_id, diff.published_version, self.result.published_version
        if old is None:
            self.step("repoint", "skipped: no version was published before, so no number pinned one")
            return
        for number in client.phone_numbers():
            inbound = [b for b in number.bindings if b.direction == "inbound"]
            if not any(b.agent_id == agent_id and b.agent_version == str(old) for b in inbound):
                continue
            wanted = [
                {
                    "agent_id": b.agent_id,
                    "agent_version": new
                    if (b.agent_id == agent_id and b.agent_version == str(old))
                    else _version(b.agent_version),
                    "weight": 1.0 if b.weight is None else b.weight,
                }
                for b in inbound
            ]
            client.repoint_number(number.phone_number, wanted)
            self.result.repointed.append(number.phone_number)
            update_push(self.warehouse, self.result.push_id, repointed_numbers=list(self.result.repointed))
            self.step("repoint", f"{number.phone_number}: agent {agent_id} v{old} → v{new}")
            back = [b for b in client.phone_number(number.phone_number).bindings if b.direction == "inbound"]
            if [(b.agent_id, b.agent_version) for b in back] != [
                (w["agent_id"], str(w["agent_version"])) for w in wanted
            ]:
                raise PromptPushError(f"phone number {number.phone_number}: read-back bindings differ")
            self.step("verify_repoint", f"{number.phone_number} answers with v{new}")
        if not self.result.repointed:
            self.step("repoint", f"no number pinned agent {agent_id} v{old}")


def _version(value: str | None) -> int | str | None:
    """A binding's version as Retell takes it back: an int, a tag, or None."""
    return int(value) if value is not None and value.isdigit() else value


def push_prompt(
    request: PushRequest, tenants: TenantsConfig, folder: Path, retell: "RetellResource", warehouse: Warehouse
) -> PushResult:
    """Perform and audit one push; the result says what happened (it never raises for a refusal)."""
    return _Push(request, tenants, folder, retell, warehouse).run()
