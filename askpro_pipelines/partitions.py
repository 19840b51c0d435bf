"""Partitions: one per tenant, kept in step with the tenants file by the tenants sensor."""

from dagster import DynamicPartitionsDefinition

# Slugs are [a-z0-9-], so they never contain the ',' or '|' that break UI backfills.
tenant_partitions = DynamicPartitionsDefinition(name="tenants")
