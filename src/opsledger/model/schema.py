"""The schema version of each family of documents opsledger writes.

Every JSON document (and the history database) carries its family's version as the integer
``schema_version``; a reader refuses a version newer than the one it knows. A change that
removes, renames or retypes a field raises the family's version; adding a field does not.
"""

from __future__ import annotations

REVIEW = 1  # reports/ops/review.json
QUALITY_GATES = 1  # the quality gate report of ``opsledger quality check``
EXPERIMENTS = 1  # experiment plans and analyses
COVERAGE_PLAN = 2  # the support coverage plan (forecast, staffing, rotation)
AUTOMATION_CANDIDATES = 1  # automation-candidates.json
PROCEDURE_EVIDENCE = 1  # JSON evidence a procedure step writes (intake, gate report, canary)
RUN_STATE = 1  # a procedure's persisted run state
KPI_HISTORY = 1  # the KPI history database
SLO_RESULTS = 1  # the JSON Lines records of ``opsledger slo export``
