"""Fixtures shared by the ops tests."""

from tests.ops.dashboard_fixture import dash

__all__ = ["dash"]
