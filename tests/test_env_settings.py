"""Secrets reach resources through Dagster's EnvVar: Dagster resolves the value, config shows the name."""

from dagster import EnvVar, build_resources

from askpro_pipelines.definitions import env_setting
from askpro_pipelines.resources.alerts import AlertsResource


def test_a_set_variable_is_bound_as_envvar_and_resolved_by_dagster(monkeypatch):
    monkeypatch.setenv("ASKPRO_SMTP_PASSWORD", "pw-0f9e8d")
    monkeypatch.delenv("ASKPRO_ALERT_WEBHOOK_URL", raising=False)
    assert env_setting("ASKPRO_ALERT_WEBHOOK_URL") is None  # optional and unset: the field stays off

    bound = env_setting("ASKPRO_SMTP_PASSWORD")
    assert isinstance(bound, EnvVar) and bound.env_var_name == "ASKPRO_SMTP_PASSWORD"
    resource = AlertsResource(smtp_password=bound)
    assert "pw-0f9e8d" not in repr(resource)  # the resource holds the name until Dagster resolves it
    with build_resources({"alerts": resource}) as resources:
        assert resources.alerts.smtp_password == "pw-0f9e8d"
