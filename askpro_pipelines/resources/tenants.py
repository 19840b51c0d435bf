"""The tenants file as a Dagster resource, so assets, checks and sensors read one source."""

from dagster import ConfigurableResource
from pydantic import Field

from askpro_pipelines.tenants import Tenant, TenantsConfig, load_tenants


class TenantsResource(ConfigurableResource):  # type: ignore[type-arg]  # not parametrised in Dagster's own usage
    """Loads the tenants file on use, so edits are picked up without reloading the code location."""

    path: str | None = Field(
        default=None, description="Tenants YAML. Empty: ASKPRO_TENANTS_FILE, else the bundled demo file."
    )

    def load(self) -> TenantsConfig:
        """The validated tenants file (raises TenantsFileError naming tenant and field)."""
        return load_tenants(self.path)

    def get(self, slug: str) -> Tenant:
        """One tenant by partition key; an unknown tenant is a clear error."""
        return self.load().get(slug)
