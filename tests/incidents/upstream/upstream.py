"""Where the upstream incident, alert and catalog files live, and small builders around them."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

UPSTREAM = Path(__file__).parents[2] / "fixtures" / "upstream"
PAGERDUTY = UPSTREAM / "pagerduty" / "demisto-content" / "incidents.json"
OPSGENIE_PAGE = UPSTREAM / "opsgenie" / "demisto-content" / "get_alerts.json"
OPSGENIE_LAST_PAGE = UPSTREAM / "opsgenie" / "demisto-content" / "get_alerts_without_next.json"
OPSGENIE_INCIDENTS = UPSTREAM / "opsgenie" / "demisto-content" / "get_incidents.json"
BACKSTAGE = UPSTREAM / "backstage"


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def pagerduty_with_ids(*ids: str) -> dict[str, Any]:
    """Return the upstream incident list with its blanked ids filled in, in order."""
    data = copy.deepcopy(load(PAGERDUTY))
    for incident, identifier in zip(data["incidents"], ids, strict=True):
        incident["id"] = identifier
    return data


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path
