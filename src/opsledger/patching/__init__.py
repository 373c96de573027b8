"""Vulnerability findings, patch cadence and the dependency update plan."""
