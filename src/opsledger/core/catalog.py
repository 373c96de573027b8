"""The services a workspace knows: its configuration and its catalogs (file and Backstage)."""

from __future__ import annotations

from datetime import datetime

from opsledger.core.config import Service
from opsledger.core.config_names import CATALOG_INPUTS, merge_catalogs
from opsledger.core.inputs import Context
from opsledger.core.scope import Scope, resolve_scope, team_services
from opsledger.core.workspace import Workspace
from opsledger.model.handover import CatalogService


def catalog(ctx: Context) -> list[CatalogService]:
    """Return the catalog entries in the run's scope, the service catalog file first, one
    entry per name."""
    scope = ctx.scope
    return [e for e in _whole_catalog(ctx) if scope.covers(e.name, e.team)]


def _whole_catalog(ctx: Context) -> list[CatalogService]:
    return merge_catalogs(ctx.inputs.records(key) for key in CATALOG_INPUTS)


def known_services(ctx: Context) -> dict[str, int | None]:
    """Return every service the workspace knows (config, catalog components) with its tier.

    Backstage systems and resources group or support services; they are not owned the way
    a deployed component is, so ownership and coverage are checked per component.
    """
    services: dict[str, int | None] = {s.name: s.tier for s in ctx.workspace.config.services}
    for entry in _whole_catalog(ctx):
        if entry.kind == "component":
            services.setdefault(entry.name, entry.tier)
    scope = ctx.scope
    return {name: tier for name, tier in services.items() if scope.covers(name)}


def configured_services(ctx: Context) -> list[Service]:
    """Return the services ``opsledger.yaml`` lists that are in the run's scope."""
    scope = ctx.scope
    return [s for s in ctx.workspace.config.services if scope.covers(s.name)]


def teams(ctx: Context) -> dict[str, frozenset[str]]:
    """Return each team's services: ``owner`` in opsledger.yaml first, then the catalogs'
    team for the services it does not own."""
    owners = [(s.name, s.owner) for s in ctx.workspace.config.services]
    owners += [(e.name, e.team) for e in _whole_catalog(ctx) if e.kind == "component"]
    return team_services(owners)


def scope_of(ctx: Context, team: str | None = None, service: str | None = None) -> Scope:
    """Return the scope of ``--team`` / ``--service`` in this workspace (neither: every
    service); an unknown name is an input error with a "did you mean"."""
    known = {s.name for s in ctx.workspace.config.services}
    known |= {e.name for e in _whole_catalog(ctx) if e.kind == "component"}
    return resolve_scope(team, service, teams(ctx), known)


def open_scoped(workspace: Workspace, now: datetime | None = None, *,
                team: str | None = None, service: str | None = None) -> Context:
    """Open a run over the workspace; with ``team`` or ``service``, over that team's or
    service's records only (an unknown name is an input error, exit 2)."""
    ctx = Context.open(workspace, now)
    if team is None and service is None:
        return ctx
    return ctx.scoped(scope_of(ctx, team, service))
