"""Who is acting: a stakeholder of the roster, named by email (``--by``) and role (``--as``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from opsledger.core.errors import InputError
from opsledger.core.options import Role

if TYPE_CHECKING:
    from opsledger.core.config import Config, JustificationPolicy, Stakeholder


def stakeholder_for(config: Config, role: Role, email: str | None = None) -> Stakeholder:
    """Return the person in the roster who holds ``role`` (and ``email``, if given)."""
    holders = config.stakeholders_with(role)
    if email:
        holders = [s for s in holders if s.email.lower() == email.lower()]
    if not holders:
        who = f" with email {email}" if email else ""
        raise InputError(
            f"no stakeholder{who} holds the role '{role.value}' in opsledger.yaml; "
            "add them under 'stakeholders:'"
        )
    if len(holders) > 1:
        emails = ", ".join(s.email for s in holders)
        raise InputError(f"several stakeholders hold '{role.value}' ({emails}); pass --by EMAIL")
    return holders[0]


def acting_stakeholder(
    config: Config,
    role: Role | None,
    email: str | None,
    allowed: Sequence[Role] | None = None,
    action: str = "act",
) -> Stakeholder:
    """Return the stakeholder named by ``email`` and/or ``role``, checked against ``allowed``.

    With both, the roster must hold that person in that role. With the email alone, the
    person's role is the one they hold (among ``allowed``, when given); with the role alone,
    its only holder.
    """
    if role is None and not email:
        raise InputError("say who acts: --by EMAIL (the person) and/or --as ROLE (their role)")
    if role is not None:
        if allowed is not None and role not in allowed:
            wanted = ", ".join(r.value for r in allowed)
            raise InputError(f"the role '{role.value}' may not {action}; allowed: {wanted}")
        return stakeholder_for(config, role, email)
    entries = [s for s in config.stakeholders if s.email.lower() == (email or "").lower()]
    if not entries:
        raise InputError(
            f"no stakeholder with email {email} in opsledger.yaml; add them under 'stakeholders:'"
        )
    if allowed is not None:
        permitted = [s for s in entries if s.role in allowed]
        if not permitted:
            held = ", ".join(s.role.value for s in entries)
            wanted = ", ".join(r.value for r in allowed)
            raise InputError(
                f"{email} holds {held}, which may not {action}; allowed: {wanted}"
            )
        entries = permitted
    if len(entries) > 1:
        held = ", ".join(s.role.value for s in entries)
        raise InputError(f"{email} holds several roles ({held}); pass --as ROLE")
    return entries[0]


def check_justification(text: str, policy: JustificationPolicy, what: str) -> str:
    """Return ``text`` stripped; raise :class:`InputError` when it says too little."""
    stripped = " ".join(text.split())
    words = len(stripped.split())
    if len(stripped) < policy.min_chars or words < policy.min_words:
        raise InputError(
            f"{what} '{stripped}' is too short: write at least {policy.min_words} words and "
            f"{policy.min_chars} characters saying why (policies.justification in "
            "opsledger.yaml)"
        )
    return stripped
