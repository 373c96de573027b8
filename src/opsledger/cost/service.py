"""The cost capability's interface: what other capabilities and the command line use."""

from __future__ import annotations

from opsledger.cost.capacity import CapacitySettings as CapacitySettings
from opsledger.cost.capacity_report import capacity_json as capacity_json
from opsledger.cost.capacity_report import capacity_view as capacity_view
from opsledger.cost.capacity_report import start_capacity_view as start_capacity_view
from opsledger.cost.months import MonthSpend as MonthSpend
from opsledger.cost.scoping import LeftOutSeries as LeftOutSeries
from opsledger.cost.scoping import LeftOutSpend as LeftOutSpend
from opsledger.cost.scoping import SpendVsTarget as SpendVsTarget
from opsledger.cost.section import cost_json as cost_json
from opsledger.cost.section import currency_label as currency_label
from opsledger.cost.section import forecast_text as forecast_text
from opsledger.cost.section import inputs_text as inputs_text
from opsledger.cost.section import left_out_text as left_out_text
from opsledger.cost.section import mapping_text as mapping_text
from opsledger.cost.section import month_spend_text as month_spend_text
from opsledger.cost.section import months_table as months_table
from opsledger.cost.section import targets_table as targets_table
from opsledger.cost.spend import TOTAL as TOTAL
from opsledger.cost.spend import MonthForecast as MonthForecast
from opsledger.cost.spend import SkippedCostForecast as SkippedCostForecast
from opsledger.cost.view import CostView as CostView
from opsledger.cost.view import cost_result as cost_result
from opsledger.cost.view import cost_view as cost_view
from opsledger.cost.view import spend_vs_target as spend_vs_target
