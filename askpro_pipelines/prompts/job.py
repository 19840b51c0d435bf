"""`push_agent_prompt`: the prompt push as a Dagster job, launched from the UI, never scheduled.

Its config is the command's options (`askpro prompts push`); the op fails (red in the UI) unless
the push succeeded, with the audit row's id, steps and the error line as metadata.
"""

from typing import Any

from dagster import Config, Failure, MetadataValue, OpExecutionContext, job, op
from pydantic import Field

from askpro_pipelines.prompts.files import prompts_dir
from askpro_pipelines.prompts.push import PushRequest, push_prompt
from askpro_pipelines.resources.retell import RetellResource
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource


class PushConfig(Config):
    tenant: str = Field(description="Tenant slug.")
    agent: str = Field(description="Retell agent id (agent_...).")
    publish: bool = Field(default=False, description="Publish the draft as a new agent version.")
    repoint_numbers: bool = Field(default=False, description="Move numbers that pinned the previous published version.")
    since_diff: int | None = Field(default=None, description="The draft's last_modification_timestamp the diff showed.")
    actor: str | None = Field(default=None, description="Who pushes (default: ASKPRO_ACTOR, else the login name).")
    prompts_dir: str | None = Field(
        default=None, description="Prompts folder (default: ASKPRO_PROMPTS_DIR, else ./prompts)."
    )


@op(description="Push one agent's prompt file to Retell (draft, optional publish and re-point), verified and audited.")
def push_prompt_op(
    context: OpExecutionContext,
    config: PushConfig,
    retell: RetellResource,
    warehouse: WarehouseResource,
    tenants: TenantsResource,
) -> None:
    request = PushRequest(
        tenant=config.tenant,
        agent_id=config.agent,
        publish=config.publish,
        repoint_numbers=config.repoint_numbers,
        expected_modification_timestamp=config.since_diff,
        actor=config.actor,
    )
    result = push_prompt(request, tenants.load(), prompts_dir(config.prompts_dir), retell, warehouse.warehouse)
    steps = "\n".join(f"- {s['step']}: {s['detail']}" for s in result.steps) or "none"
    metadata: dict[str, Any] = {
        "push_id": result.push_id,
        "outcome": result.outcome,
        "steps": MetadataValue.md(steps),
        "diff": MetadataValue.md(f"```diff\n{result.diff}\n```" if result.diff else "no change"),
    }
    if result.outcome != "succeeded":
        raise Failure(description=result.error, metadata=metadata)
    context.log.info(f"push {result.push_id}: {result.outcome}\n{steps}")


@job(
    description="Push an agent's prompt file to Retell; launch from the Launchpad with the push's config. Never scheduled."
)
def push_agent_prompt() -> None:
    push_prompt_op()
