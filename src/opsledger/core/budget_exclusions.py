"""Time kept out of SLIs and error budgets: the ``error_budget_exclusions`` section.

Three kinds of declaration, each with a reason and the stakeholder who approved it:

- ``maintenance``: one stretch of planned maintenance, from ``start`` to ``end``;
- ``change_windows``: every occurrence of a change window (``change_windows[].name``),
  optionally only those starting between two days; an approved change window is one named
  here, with its approver;
- ``corrections``: the impact of one incident (a third-party outage, say), by incident id.

Each applies to every SLO of the services it names (default: every service; for a change
window, the window's services; for a correction, the incident's service), or only to the
SLOs listed. The schema checks each entry on its own; :func:`reference_errors` checks what
the entries name against the rest of the file (approvers against the stakeholder roster,
change windows against ``change_windows``), each error at its key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from opsledger.core.options import iana_zone
from opsledger.core.problems import closest

SECTION = "error_budget_exclusions"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Declared(_Strict):
    """What every exclusion says: why, who approved it, and which SLOs it applies to."""

    reason: str = Field(min_length=1, description="why the time does not count")
    approved_by: str = Field(pattern=EMAIL, description="email of a stakeholder")
    services: list[str] = Field(default_factory=list)
    slos: list[str] = Field(
        default_factory=list, description="'service/name' or a name; empty: every SLO"
    )


class MaintenanceExclusion(_Declared):
    """One stretch of planned maintenance; a start or end without an offset is read in
    ``timezone``."""

    name: str = Field(min_length=1)
    start: datetime
    end: datetime
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return iana_zone(value)

    @model_validator(mode="after")
    def _order(self) -> MaintenanceExclusion:
        if self.span()[1] <= self.span()[0]:
            raise ValueError("maintenance ends before it starts")
        return self

    def span(self) -> tuple[datetime, datetime]:
        """Return ``[start, end)`` as UTC instants."""
        zone = ZoneInfo(self.timezone)
        return tuple(  # type: ignore[return-value]
            (when if when.tzinfo else when.replace(tzinfo=zone)).astimezone(UTC)
            for when in (self.start, self.end)
        )


class ChangeWindowExclusion(_Declared):
    """Every occurrence of a change window, or those starting from ``valid_from`` to
    ``valid_until`` (days in the window's time zone, both included)."""

    change_window: str = Field(min_length=1, description="change_windows[].name")
    valid_from: date | None = None
    valid_until: date | None = None

    @model_validator(mode="after")
    def _order(self) -> ChangeWindowExclusion:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class IncidentCorrection(_Declared):
    """An incident's impact, from its start (else creation) to its resolution, not counted."""

    incident: str = Field(min_length=1, description="the incident's id")


class BudgetExclusions(_Strict):
    maintenance: list[MaintenanceExclusion] = Field(default_factory=list)
    change_windows: list[ChangeWindowExclusion] = Field(default_factory=list)
    corrections: list[IncidentCorrection] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.maintenance or self.change_windows or self.corrections)


def reference_errors(
    exclusions: BudgetExclusions,
    emails: Iterable[str],
    windows: dict[str, Sequence[str]],
) -> list[InitErrorDetails]:
    """Return one located error per name an exclusion uses that the file does not declare.

    ``emails``: the stakeholders' addresses; ``windows``: each change window's services.
    An approver must be a stakeholder; a change window must exist, and the services an
    entry names for it must be among the window's own (when it names any).
    """
    roster = {email.casefold(): email for email in emails}
    errors: list[InitErrorDetails] = []

    def add(loc: tuple[str | int, ...], value: str, message: str) -> None:
        errors.append(InitErrorDetails(
            type=PydanticCustomError("unknown_reference", "{message}", {"message": message}),
            loc=(SECTION, *loc), input=value))

    kinds: list[tuple[str, Sequence[_Declared]]] = [
        ("maintenance", exclusions.maintenance),
        ("change_windows", exclusions.change_windows),
        ("corrections", exclusions.corrections),
    ]
    for kind, entries in kinds:
        for index, entry in enumerate(entries):
            if entry.approved_by.casefold() not in roster:
                close = closest(entry.approved_by, roster.values())
                hint = (f"; did you mean '{close}'?" if close else
                        "; add the approver under 'stakeholders'" if not roster else "")
                add((kind, index, "approved_by"), entry.approved_by,
                    f"'{entry.approved_by}' is not in the stakeholder roster "
                    f"(stakeholders[].email){hint}")
    for index, item in enumerate(exclusions.change_windows):
        if item.change_window not in windows:
            close = closest(item.change_window, windows)
            add(("change_windows", index, "change_window"), item.change_window,
                f"no change window is named '{item.change_window}' (change_windows[].name)"
                + (f"; did you mean '{close}'?" if close else ""))
            continue
        own = windows[item.change_window]
        for s, service in enumerate(item.services):
            if own and service not in own:
                add(("change_windows", index, "services", s), service,
                    f"service '{service}' is not among the services of change window "
                    f"'{item.change_window}' ({', '.join(own)})")
    seen: dict[str, int] = {}
    for index, correction in enumerate(exclusions.corrections):
        if correction.incident in seen:
            add(("corrections", index, "incident"), correction.incident,
                f"incident '{correction.incident}' is corrected twice "
                f"(also corrections[{seen[correction.incident]}])")
        seen.setdefault(correction.incident, index)
    names: dict[str, int] = {}
    for index, maintenance in enumerate(exclusions.maintenance):
        if maintenance.name in names:
            add(("maintenance", index, "name"), maintenance.name,
                f"maintenance '{maintenance.name}' is declared twice "
                f"(also maintenance[{names[maintenance.name]}])")
        names.setdefault(maintenance.name, index)
    return errors
