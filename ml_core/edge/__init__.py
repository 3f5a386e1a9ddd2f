"""Per-detector settings of the edge's later stages (tracker, re-linking, floor gate), as named profiles."""

from __future__ import annotations

from ml_core.edge.profile import PROFILE_NAMES, EdgeProfile, edge_profile

__all__ = ["PROFILE_NAMES", "EdgeProfile", "edge_profile"]
