"""Pages of the dashboard (placeholder until the front end lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from ops.serve.api import DashboardApi


def pages(api: DashboardApi) -> list[BaseRoute]:
    return []
