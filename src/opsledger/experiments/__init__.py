"""A/B experiments: assignment, planning, statistics and decisions."""
