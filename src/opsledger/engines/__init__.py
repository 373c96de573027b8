"""Where SLI counts come from: DuckDB (embedded), Prometheus (HTTP API), Spark."""
