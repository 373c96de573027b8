"""How a table or chart that shows only part of its rows says so, and where the rest are."""

from __future__ import annotations

from opsledger.render.sections import md_escape


def shown_note(shown: int, total: int, what: str, where: str) -> str:
    """Return "showing N of M <what>; all M in <where>", or "" when nothing is left out."""
    if shown >= total:
        return ""
    return f"showing {shown} of {total} {what}; all {total} in {where}"


def note_lines(note: str, detail: str = "") -> list[str]:
    """Return a list's "showing N of M" note as an italic Markdown paragraph (none if empty)."""
    if not note:
        return []
    text = note[:1].upper() + note[1:] + (f" ({detail})" if detail else "")
    return [f"_{md_escape(text)}._", ""]


def truncation(shown: int, total: int, what: str, where: str, rule: str
               ) -> dict[str, object] | None:
    """Return a chart's note on the rows it leaves out (None when it draws them all).

    ``rule`` says which rows are drawn, so the reader knows what the cut kept.
    """
    note = shown_note(shown, total, what, where)
    return {"shown": shown, "total": total, "note": note, "rule": rule} if note else None
