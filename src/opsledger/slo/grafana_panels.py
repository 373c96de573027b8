"""Grafana dashboard JSON from :mod:`opsledger.slo.grafana`'s specs, built with the Grafana
Foundation SDK (its builders lay the panels out on the 24-column grid).

Imported only by the command that writes dashboards: the SDK is large.
"""

from __future__ import annotations

import json
from string import ascii_uppercase
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import prometheus as prometheus_models

from opsledger.slo.grafana import TAG, DashboardSpec, PanelKind, PanelSpec, Query

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
REFRESH = "1m"


def dashboard_json(spec: DashboardSpec) -> dict[str, Any]:
    """Return the dashboard as Grafana's JSON model (a plain dict, ready to write)."""
    builder = (
        dashboard_builders.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(list(spec.tags))
        .editable()
        .time(spec.time_from, "now")
        .refresh(REFRESH)
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dashboard_builders.DatasourceVariable(DATASOURCE_VARIABLE)
            .label("Prometheus")
            .type("prometheus")
        )
        .link(
            dashboard_builders.DashboardLink("SLO dashboards")
            .type(models.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    panel_id = 0
    for row in spec.rows:
        panel_id += 1
        builder = builder.with_row(dashboard_builders.Row(row.title).id(panel_id))
        for panel in row.panels:
            panel_id += 1
            builder = builder.with_panel(_panel(panel, panel_id))
    document: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return document


def _target(query: Query, ref_id: str, table_format: bool) -> prometheus.Dataquery:
    target = (
        prometheus.Dataquery()
        .expr(query.expr)
        .ref_id(ref_id)
        .datasource(DATASOURCE)
        .legend_format(query.legend or "__auto")
    )
    target = target.instant() if query.instant else target.range()
    if table_format:
        target = target.format(prometheus_models.PromQueryFormat.TABLE)
    return target


def _thresholds(spec: PanelSpec) -> dashboard_builders.ThresholdsConfig:
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=value, color=colour) for value, colour in spec.thresholds])
    )


def _panel(spec: PanelSpec, panel_id: int) -> Any:
    """Return the SDK builder of one panel: type-specific options, then what all share."""
    builder: Any
    if spec.kind is PanelKind.STAT:
        builder = (
            stat.Panel()
            .graph_mode(common.BigValueGraphMode.NONE)
            .color_mode(common.BigValueColorMode.VALUE)
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        )
    elif spec.kind is PanelKind.TIMESERIES:
        builder = timeseries.Panel().legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        if spec.threshold_lines:
            builder = builder.thresholds_style(
                common_builders.GraphThresholdsStyleConfig().mode(
                    common.GraphTresholdsStyleMode.DASHED
                )
            )
    elif spec.kind is PanelKind.STATE_TIMELINE:
        builder = statetimeline.Panel().show_value(common.VisibilityMode.NEVER)
    elif spec.kind is PanelKind.BAR_GAUGE:
        builder = (
            bargauge.Panel()
            .orientation(common.VizOrientation.HORIZONTAL)
            .display_mode(common.BarGaugeDisplayMode.BASIC)
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        )
    else:
        builder = _table(spec)
    builder = (
        builder.id(panel_id)
        .title(spec.title)
        .datasource(DATASOURCE)
        .span(spec.width)
        .height(spec.height)
    )
    for index, query in enumerate(spec.queries):
        builder = builder.with_target(
            _target(query, ascii_uppercase[index], spec.kind is PanelKind.TABLE)
        )
    if spec.description:
        builder = builder.description(spec.description)
    if spec.unit:
        builder = builder.unit(spec.unit)
    if spec.decimals is not None:
        builder = builder.decimals(spec.decimals)
    if spec.minimum is not None:
        builder = builder.min(spec.minimum)
    if spec.maximum is not None:
        builder = builder.max(spec.maximum)
    if spec.thresholds:
        builder = builder.thresholds(_thresholds(spec))
    if spec.no_value:
        builder = builder.no_value(spec.no_value)
    return builder


def _table(spec: PanelSpec) -> table.Panel:
    """Return a table joining the queries' instant values into one row per SLO."""
    builder = table.Panel().cell_height(common.TableCellHeight.SM)
    columns = {
        f"Value #{ascii_uppercase[i]}": q.column for i, q in enumerate(spec.queries) if q.column
    }
    if columns:
        builder = builder.with_transformation(
            models.DataTransformerConfig(id_val="merge", options={})
        ).with_transformation(
            models.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "renameByName": {**columns, "sloth_service": "service", "sloth_slo": "SLO"},
                },
            )
        )
    else:
        builder = builder.with_transformation(
            models.DataTransformerConfig(
                id_val="organize", options={"excludeByName": {"Time": True, "Value": True}}
            )
        )
    for query in spec.queries:
        if query.column and query.unit:
            builder = builder.override_by_name(
                query.column, [models.DynamicConfigValue(id_val="unit", value=query.unit)]
            )
    if spec.sort_by:
        builder = builder.sort_by(
            [common_builders.TableSortByFieldState().display_name(spec.sort_by).desc(False)]
        )
    return builder
