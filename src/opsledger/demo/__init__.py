"""A realistic, seeded example workspace for the quickstart, tests and benchmarks."""
