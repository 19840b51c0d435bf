"""Prompt push: desired agent prompts kept in files, diffed against and pushed to Retell, audited."""
