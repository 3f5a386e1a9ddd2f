"""Alerts: business rules over the zone processor's samples, raised and cleared in frame time."""
