"""Markdown links built from addresses and names that workspace files supply.

A service catalog arrives through pull requests. Its dashboard and runbook addresses end up
in Markdown that people open on GitHub, in editors and as HTML, so an address such as
``javascript:...`` or ``data:text/html,...`` must never become a link, and neither an
address nor a service name may close the link early and start markup of its own.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

LINKABLE_SCHEMES = frozenset({"http", "https"})

# Kept as they are in a link destination: RFC 3986 reserved and unreserved characters, less
# the ones that end a Markdown link or autolink ("(", ")", "<", ">") or open markup ("[",
# "]", "*", "'"). "%" stays so that addresses already percent-encoded are not encoded twice.
_DESTINATION_SAFE = "-._~:/?#@!$&+,;=%"

# Characters that end or restructure a link's text (brackets, code spans, escapes) or open
# raw HTML ("<", ">"), each replaced by a look-alike that Markdown gives no meaning.
_TEXT_REPLACEMENTS = str.maketrans(
    {"[": "(", "]": ")", "`": "'", "\\": "/", "<": "\u2039", ">": "\u203a"}
)


def unlinkable_reason(url: str) -> str | None:
    """Return why ``url`` must not be linked, or None when it is an absolute http(s) URL."""
    text = url.strip()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        # urlsplit silently drops tabs and newlines, so "java\tscript:" would pass as
        # the scheme "javascript"; refuse control characters outright.
        return "it contains control characters"
    try:
        parts = urlsplit(text)
    except ValueError:
        return "it is not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in LINKABLE_SCHEMES:
        shown = f"the scheme '{scheme}:'" if scheme else "no scheme"
        return f"it has {shown} (only http and https addresses are linked)"
    if not parts.netloc:
        return "it names no host"
    return None


def link_destination(url: str) -> str | None:
    """Return ``url`` ready for a Markdown link destination, or None if it must not be linked.

    Characters that could end the link are percent-encoded, which keeps the address working.
    """
    if unlinkable_reason(url) is not None:
        return None
    return quote(url.strip(), safe=_DESTINATION_SAFE)


def link_text(text: str) -> str:
    """Return ``text`` unable to end a link's text early.

    The characters are replaced rather than backslash-escaped, because table cells are
    escaped again afterwards and an escaped backslash would undo the escape.
    """
    return " ".join(text.translate(_TEXT_REPLACEMENTS).split())


def md_link(text: str, destination: str) -> str:
    """Return a Markdown link; ``destination`` must come from :func:`link_destination` or be
    a file name opsledger made itself."""
    return f"[{link_text(text)}]({destination})"


def heading_anchor(heading: str) -> str:
    """Return the anchor GitHub gives a Markdown heading, for links within a report.

    Lower case, punctuation other than "-" and "_" removed, each space made a hyphen
    (the rule of GitHub's heading ids; headings here are opsledger's own titles).
    """
    kept = "".join(c for c in heading.strip().lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")
