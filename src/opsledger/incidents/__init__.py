"""Incidents: KPIs, postmortem follow-up, escalation and paging configuration."""
