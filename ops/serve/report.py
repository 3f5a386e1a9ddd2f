"""The weekly insight report (placeholder)."""

from __future__ import annotations

from ops.serve import insights
from ops.serve.config import Targets


class ReportError(RuntimeError):
    """A report that could not be rendered."""


def weekly(query: insights.Query, store_id: str, week: str, window: insights.Window, targets: Targets) -> object:
    raise NotImplementedError


def render_html(data: object) -> str:
    raise NotImplementedError


def html_to_pdf(html: str) -> bytes:
    raise NotImplementedError
