"""Markdown rendering through Jinja2 templates shipped with the package."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from opsledger.render.sections import md_escape


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
    return env


def render_template(name: str, **values: Any) -> str:
    return environment().get_template(name).render(**values)
