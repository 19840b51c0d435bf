"""AskPro Pipelines: a Dagster code location syncing Cal.com and Retell AI into a warehouse."""
