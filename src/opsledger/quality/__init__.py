"""Quality gates, performance hotspots, canary comparison and rollback runbooks."""
