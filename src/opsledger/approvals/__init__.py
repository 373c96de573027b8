"""Hash-chained ledgers, stakeholder approvals and gate waivers."""
