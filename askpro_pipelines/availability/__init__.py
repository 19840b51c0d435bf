"""Availability with alternatives: live answers for a dialled number, and the branch_availability snapshot."""
