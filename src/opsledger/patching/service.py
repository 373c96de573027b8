"""The patching capability's interface: what other capabilities and the command line use."""

from __future__ import annotations

from opsledger.patching.attribution import FindingsLeftOut as FindingsLeftOut
from opsledger.patching.attribution import attributed_json as attributed_json
from opsledger.patching.attribution import finding_services as finding_services
from opsledger.patching.cadence import SECURITY_BANDS as SECURITY_BANDS
from opsledger.patching.cadence import ErrorBudgetFreeze as ErrorBudgetFreeze
from opsledger.patching.cadence import Posture as Posture
from opsledger.patching.cadence import assess_posture as assess_posture
from opsledger.patching.cadence import freeze_interval as freeze_interval
from opsledger.patching.cadence import window_slots as window_slots
from opsledger.patching.plan import STATUS_WORDS as STATUS_WORDS
from opsledger.patching.plan import finding_json as finding_json
from opsledger.patching.plan import placement_json as placement_json
from opsledger.patching.section import findings_left_out as findings_left_out
from opsledger.patching.section import known_service_names as known_service_names
from opsledger.patching.section import patch_view as patch_view
from opsledger.patching.section import security_result as security_result
from opsledger.patching.section import write_patch_plan as write_patch_plan
