"""An Alertmanager routing configuration from the escalation matrix.

The route tree has one branch per service (``service="<name>"``) with two children: pages
(``severity`` ``page``/``critical`` or SEV1/SEV2 — the severities the matrix pages for)
go to the rotation's page receiver at any hour and repeat at the SEV1 update interval;
everything else goes to the rotation's ticket receiver during business hours only
(``active_time_intervals``). Receivers are per rotation. Their URLs come from the
``incidents.escalation`` settings (default ``http://localhost:9095/alerts/<rotation>``,
an endpoint you run); a PagerDuty receiver is added only when a routing key *file* is
configured, so the output never holds a secret.
"""

from __future__ import annotations

from typing import Any

import yaml

from opsledger.core.incident_policy import WEEKDAYS, IncidentPolicy
from opsledger.incidents.escalation import EscalationMatrix, ServiceEscalation

DEFAULT_RECEIVER = "opsledger-unrouted"
BUSINESS_HOURS = "business-hours"
PAGE_LABELS = ("page", "critical")
TICKET_LABELS = ("ticket", "warning", "info")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def matcher(label: str, value: str, regex: bool = False) -> str:
    """Return an Alertmanager matcher with the value quoted and escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{label}{"=~" if regex else "="}"{escaped}"'


def _minutes(value: float) -> str:
    return f"{max(1, round(value))}m"


def _webhook(policy: IncidentPolicy, rotation: str, kind: str) -> dict[str, Any]:
    settings = policy.escalation
    own = settings.receivers.get(rotation)
    url = (own.webhook_url if own and own.webhook_url
           else settings.webhook_url_template.replace("{rotation}", rotation))
    return {"url": f"{url.rstrip('/')}/{kind}", "send_resolved": True}


def _receivers(rotation: str, policy: IncidentPolicy) -> list[dict[str, Any]]:
    own = policy.escalation.receivers.get(rotation)
    page: dict[str, Any] = {"name": f"{rotation}-page",
                            "webhook_configs": [_webhook(policy, rotation, "page")]}
    if own and own.pagerduty_routing_key_file:
        page["pagerduty_configs"] = [{
            "routing_key_file": own.pagerduty_routing_key_file,
            "url": own.pagerduty_url,
            "send_resolved": True,
        }]
    ticket = {"name": f"{rotation}-ticket",
              "webhook_configs": [_webhook(policy, rotation, "ticket")]}
    return [page, ticket]


def _business_days(policy: IncidentPolicy) -> list[str]:
    days = [_DAY_NAMES[WEEKDAYS.index(d)] for d in policy.business_days]
    return days


def _service_route(service: ServiceEscalation, policy: IncidentPolicy) -> dict[str, Any]:
    paged = [t.severity for t in service.targets if t.pages]
    ticketed = [t.severity for t in service.targets if not t.pages]
    sev1 = next(t for t in service.targets if t.severity == "SEV1")
    routes: list[dict[str, Any]] = [{
        "matchers": [matcher("severity", "|".join((*PAGE_LABELS, *paged)), regex=True)],
        "receiver": f"{service.rotation}-page",
        "group_wait": "30s",
        "repeat_interval": _minutes(sev1.update_minutes),
    }]
    routes.append({
        "matchers": [matcher("severity", "|".join((*TICKET_LABELS, *ticketed)), regex=True)],
        "receiver": f"{service.rotation}-ticket",
        "active_time_intervals": [BUSINESS_HOURS],
        "repeat_interval": "24h",
    })
    return {
        "matchers": [matcher("service", service.service)],
        "receiver": f"{service.rotation}-page",
        "routes": routes,
    }


def alertmanager_config(matrix: EscalationMatrix, policy: IncidentPolicy) -> dict[str, Any]:
    """Return the configuration as plain data (see the module docstring)."""
    receivers: list[dict[str, Any]] = [{
        "name": DEFAULT_RECEIVER,
        "webhook_configs": [_webhook(policy, "unrouted", "all")],
    }]
    for rotation in matrix.rotations:
        receivers.extend(_receivers(rotation, policy))
    return {
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["alertname", "service"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [_service_route(s, policy) for s in matrix.services],
        },
        "time_intervals": [{
            "name": BUSINESS_HOURS,
            "time_intervals": [{
                "weekdays": _business_days(policy),
                "times": [{
                    "start_time": f"{policy.business_start_hour:02d}:00",
                    "end_time": f"{policy.business_end_hour:02d}:00",
                }],
                "location": policy.timezone,
            }],
        }],
        "receivers": receivers,
    }


def alertmanager_yaml(matrix: EscalationMatrix, policy: IncidentPolicy) -> str:
    """Return ``alertmanager.yml`` text for the matrix."""
    header = ("# Generated by opsledger from the escalation matrix; edit receivers in the\n"
              "# 'incidents.escalation' section of opsledger.yaml, not here.\n")
    body = yaml.safe_dump(alertmanager_config(matrix, policy), sort_keys=False,
                          default_flow_style=False, allow_unicode=True)
    return header + body
