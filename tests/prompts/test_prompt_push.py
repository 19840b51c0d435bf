"""Prompt files → `askpro prompts diff` → `push --publish --repoint-numbers` → read-back, end to end
over loopback HTTP against the simulator's Retell versioning rules; the refusals (draft changed
since the diff, secret-looking text, missing keys); a failure part-way; the audit row joining to
the synced agent-version history; and the same push as a Dagster job."""

import re

import httpx
import pytest
import sqlalchemy as sa
import yaml
from dagster import DagsterInstance

from askpro_pipelines.cli import main
from askpro_pipelines.definitions import defs
from askpro_pipelines.sync import run_sync
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.prompt_pushes import read_pushes
from askpro_pipelines.warehouse.tables import prompt_pushes, retell_agent_versions
from askpro_simulator import Fault

NUMBER = "+4930123456701"
NEW_PROMPT = "Du bist die Rezeption der Praxis Mitte.\nSiezen, kurz antworten.\nTermine nur über Cal.com.\n"


@pytest.fixture
def setup(simulator, sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    monkeypatch.setenv("ASKPRO_PROMPTS_DIR", str(tmp_path / "prompts"))
    tenant = simulator.world.tenants["praxis-v2"]
    agent = tenant.agents[0]
    # Pin the number to the agent's current published version, as a careful operator would.
    published = agent.latest_published.version
    body = {"inbound_agents": [{"agent_id": agent.agent_id, "agent_version": published, "weight": 1}]}
    response = httpx.patch(
        f"{simulator.retell_base_url}/update-phone-number/{NUMBER}",
        json=body,
        headers={"Authorization": f"Bearer {tenant.spec.retell_key}"},
    )
    assert response.status_code == 200
    warehouse = Warehouse.from_url(sqlite_url)
    yield simulator, agent, tmp_path / "prompts", warehouse
    warehouse.dispose()


def write_prompt(folder, agent_id, prompt=NEW_PROMPT, **extra):
    path = folder / "praxis-v2" / f"{agent_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "tenant": "praxis-v2",
        "agent_id": agent_id,
        "general_prompt": prompt,
        "begin_message": "Praxis Mitte, guten Tag!",
    }
    content.update(extra)
    path.write_text(yaml.safe_dump(content, allow_unicode=True))
    return path


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def diff_timestamp(out):
    return int(re.search(r"last_modification_timestamp (\d+)", out).group(1))


def llm_of(sim, agent, version):
    tenant = sim.world.tenants["praxis-v2"]
    response = httpx.get(
        f"{sim.retell_base_url}/get-retell-llm/{agent.llm_id}",
        params={"version": version},
        headers={"Authorization": f"Bearer {tenant.spec.retell_key}"},
    )
    return response.json()


def test_diff_push_publish_repoint_read_back(setup, capsys):
    sim, agent, folder, warehouse = setup
    old_published = agent.latest_published.version
    write_prompt(folder, agent.agent_id, settings={"model_temperature": 0.1})

    code, out, _ = cli(capsys, "prompts", "diff", "--tenant", "praxis-v2")
    assert code == 1
    assert "+Du bist die Rezeption der Praxis Mitte." in out and "model_temperature: 0.2 → 0.1" in out
    stamp = diff_timestamp(out)

    code, out, err = cli(
        capsys,
        "prompts",
        "push",
        "--tenant",
        "praxis-v2",
        "--agent",
        agent.agent_id,
        "--publish",
        "--repoint-numbers",
        "--since-diff",
        str(stamp),
        "--actor",
        "alice",
    )
    assert code == 0, err
    assert [
        line.split(":")[0]
        for line in out.splitlines()
        if line.split(":")[0]
        in {"diff", "update_llm", "verify_draft", "publish", "verify_published", "repoint", "verify_repoint"}
    ] == ["diff", "update_llm", "verify_draft", "publish", "verify_published", "repoint", "verify_repoint"]

    # The simulator's ground truth: a new published version with the file's prompt, frozen; a new draft; the number moved.
    published = [v for v in agent.versions if v.is_published][-1]
    assert published.version > old_published and not agent.latest.is_published
    llm = llm_of(sim, agent, published.version)
    assert (llm["general_prompt"], llm["begin_message"], llm["model_temperature"]) == (
        NEW_PROMPT,
        "Praxis Mitte, guten Tag!",
        0.1,
    )
    number = next(p for p in sim.world.tenants["praxis-v2"].phone_numbers if p.phone_number == NUMBER)
    assert [(b.agent_id, b.agent_version) for b in number.inbound_agents] == [(agent.agent_id, published.version)]

    # Nothing differs any more: the new draft started as a copy of what was published.
    assert cli(capsys, "prompts", "diff", "--tenant", "praxis-v2")[0] == 0

    (row,) = read_pushes(warehouse, "praxis-v2", agent.agent_id)
    assert row["outcome"] == "succeeded" and row["actor"] == "alice" and row["error"] is None
    assert (row["published_version_before"], row["published_version"]) == (old_published, published.version)
    assert row["repointed_numbers"] == [NUMBER] and "+Du bist die Rezeption" in row["diff"]
    assert row["draft_modified_before"] == stamp and row["finished_at"] >= row["started_at"]

    # The audit joins to the agent-version history once the Retell tables are synced.
    report = run_sync(
        load_tenants(),
        tenant_slugs=["praxis-v2"],
        select=["retell_agent_versions"],
        instance=DagsterInstance.ephemeral(),
    )
    assert all(t.success for t in report.tenants)
    p, v = prompt_pushes, retell_agent_versions
    join = sa.select(p.c.push_id, v.c.is_published, v.c.prompt_hash).join(
        v, sa.and_(v.c.tenant == p.c.tenant, v.c.agent_id == p.c.agent_id, v.c.version == p.c.published_version)
    )
    with warehouse.engine.connect() as conn:
        ((push_id, is_published, prompt_hash),) = list(conn.execute(join))
    assert push_id == row["push_id"] and is_published and prompt_hash


def test_refused_when_the_draft_changed_since_the_diff(setup, capsys):
    sim, agent, folder, warehouse = setup
    write_prompt(folder, agent.agent_id)
    code, out, _ = cli(capsys, "prompts", "diff")
    stamp = diff_timestamp(out)
    # A colleague edits the draft in Retell's dashboard meanwhile.
    tenant = sim.world.tenants["praxis-v2"]
    httpx.patch(
        f"{sim.retell_base_url}/update-retell-llm/{agent.llm_id}",
        json={"general_prompt": "Kollegin war schneller."},
        headers={"Authorization": f"Bearer {tenant.spec.retell_key}"},
    ).raise_for_status()
    code, out, err = cli(
        capsys, "prompts", "push", "--tenant", "praxis-v2", "--agent", agent.agent_id, "--since-diff", str(stamp)
    )
    assert code == 2 and "changed since the diff" in err and agent.agent_id in err
    assert llm_of(sim, agent, agent.latest.version)["general_prompt"] == "Kollegin war schneller."
    (row,) = read_pushes(warehouse, "praxis-v2", agent.agent_id)
    assert row["outcome"] == "refused" and [s["step"] for s in row["steps"]] == ["diff"]


def test_refused_for_secret_looking_text(setup, capsys):
    sim, agent, folder, warehouse = setup
    secret = "cal_live_0123456789abcdef0123456789abcdef"
    write_prompt(folder, agent.agent_id, prompt=f"Buche mit api_key: {secret} direkt.")
    before = llm_of(sim, agent, agent.latest.version)["general_prompt"]
    code, out, err = cli(capsys, "prompts", "push", "--tenant", "praxis-v2", "--agent", agent.agent_id, "--publish")
    assert code == 2 and "looks like a secret in general_prompt" in err
    assert secret not in out + err
    assert llm_of(sim, agent, agent.latest.version)["general_prompt"] == before
    (row,) = read_pushes(warehouse, "praxis-v2", agent.agent_id)
    assert row["outcome"] == "refused" and secret not in str(row)
    code, out, _ = cli(capsys, "prompts", "diff", "--tenant", "praxis-v2")
    assert "would be refused" in out and secret not in out


def test_refused_without_keys_and_bad_files(setup, capsys, monkeypatch):
    sim, agent, folder, warehouse = setup
    write_prompt(folder, agent.agent_id)
    monkeypatch.delenv("TEST_V2_RETELL_API_KEY")
    code, _, err = cli(capsys, "prompts", "push", "--tenant", "praxis-v2", "--agent", agent.agent_id)
    assert code == 2 and "missing keys" in err and "TEST_V2_RETELL_API_KEY" in err
    write_prompt(folder, agent.agent_id, settings={"voice_id": "x"})
    code, _, err = cli(capsys, "prompts", "diff")
    assert code == 2 and "field settings" in err and "voice_id" in err
    assert [r["outcome"] for r in read_pushes(warehouse)] == ["refused"]


def test_failure_part_way_leaves_a_record(setup, capsys):
    sim, agent, folder, warehouse = setup
    write_prompt(folder, agent.agent_id)
    sim.add_fault(Fault(kind="status", status=500, path_prefix="/retell/publish-agent-version", count=-1))
    code, out, err = cli(capsys, "prompts", "push", "--tenant", "praxis-v2", "--agent", agent.agent_id, "--publish")
    sim.clear_faults()
    assert code == 1 and "failed" in err and "publish-agent-version" in err
    (row,) = read_pushes(warehouse, "praxis-v2", agent.agent_id)
    assert row["outcome"] == "failed" and row["published_version"] is None
    assert [s["step"] for s in row["steps"]] == ["diff", "update_llm", "verify_draft"]
    assert llm_of(sim, agent, row["draft_version_after"])["general_prompt"] == NEW_PROMPT  # the draft was updated


def test_the_dagster_job_pushes_with_the_same_config(setup):
    sim, agent, folder, warehouse = setup
    write_prompt(folder, agent.agent_id)
    job = defs.resolve_job_def("push_agent_prompt")
    config = {
        "ops": {
            "push_prompt_op": {
                "config": {"tenant": "praxis-v2", "agent": agent.agent_id, "publish": True, "actor": "ui"}
            }
        }
    }
    result = job.execute_in_process(run_config=config, instance=DagsterInstance.ephemeral())
    assert result.success
    (row,) = read_pushes(warehouse, "praxis-v2", agent.agent_id)
    assert row["outcome"] == "succeeded" and row["actor"] == "ui" and row["published_version"] is not None
    assert not any(s.job_name == "push_agent_prompt" for s in defs.schedules)
