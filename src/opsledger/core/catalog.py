"""The services a workspace knows: its configuration and its catalogs (file and Backstage)."""

from __future__ import annotations

from opsledger.core.config_names import CATALOG_INPUTS, merge_catalogs
from opsledger.core.inputs import Context
from opsledger.model.handover import CatalogService


def catalog(ctx: Context) -> list[CatalogService]:
    """Return the catalog entries, the service catalog file first, one entry per name."""
    return merge_catalogs(ctx.inputs.records(key) for key in CATALOG_INPUTS)


def known_services(ctx: Context) -> dict[str, int | None]:
    """Return every service the workspace knows (config, catalog components) with its tier.

    Backstage systems and resources group or support services; they are not owned the way
    a deployed component is, so ownership and coverage are checked per component.
    """
    services: dict[str, int | None] = {s.name: s.tier for s in ctx.workspace.config.services}
    for entry in catalog(ctx):
        if entry.kind == "component":
            services.setdefault(entry.name, entry.tier)
    return services
