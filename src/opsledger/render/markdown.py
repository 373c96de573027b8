"""Markdown rendering through Jinja2 templates shipped with the package."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from opsledger.render.links import link_text
from opsledger.render.sections import headline_of, md_escape, status_label


def md_link_text(value: object) -> str:
    """Return ``value`` safe as the text of a Markdown link (and inert as HTML)."""
    return md_escape(link_text(str(value)))


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("opsledger", "render/templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Markdown: values are escaped with the md filter instead
    )
    env.filters["md"] = md_escape
    env.filters["linktext"] = md_link_text
    env.globals["status_label"] = status_label
    env.globals["headline_of"] = headline_of
    return env


def render_template(name: str, **values: Any) -> str:
    return environment().get_template(name).render(**values)
