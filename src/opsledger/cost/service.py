"""The cost capability's interface: what other capabilities and the command line use."""

from __future__ import annotations

from opsledger.cost.capacity import CapacitySettings as CapacitySettings
from opsledger.cost.section import capacity_json as capacity_json
from opsledger.cost.section import capacity_view as capacity_view
from opsledger.cost.section import cost_json as cost_json
from opsledger.cost.section import cost_result as cost_result
from opsledger.cost.section import cost_view as cost_view
from opsledger.cost.section import currency_label as currency_label
from opsledger.cost.section import inputs_text as inputs_text
from opsledger.cost.section import mapping_text as mapping_text
from opsledger.cost.spend import TOTAL as TOTAL
from opsledger.cost.spend import MonthForecast as MonthForecast
from opsledger.cost.spend import SkippedCostForecast as SkippedCostForecast
