"""Renderers: Markdown, HTML, charts, CSV/JSON, Prometheus rules, iCalendar, JUnit."""
