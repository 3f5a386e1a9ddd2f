"""Opt-in scenarios for a simulated day: bursts of extra parties that breach alert rules.

A day without scenarios (ShopperConfig.bursts empty, the default) is exactly the day it always was: a
burst's parties draw from their own random generator, never from the day's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Burst:
    """Extra parties arriving from start_s for duration_s (seconds after opening), a Poisson process at
    parties_per_hour (at least min_gap_s apart), each party heading for one place.

    zone_id: the product zone every party of the burst visits (a crowd at a promotion), dwelling a
    lognormal time of median dwell_s seconds (the day's sigma); None: straight to the checkout queue (a
    checkout surge). buy_probability: the chance a party then queues and buys (else it leaves by the
    nearest door).
    """

    start_s: float
    duration_s: float
    parties_per_hour: float
    zone_id: str | None = None
    dwell_s: float = 30.0
    buy_probability: float = 1.0
    min_gap_s: float = 1.0

    def __post_init__(self) -> None:
        if self.start_s < 0:
            raise ValueError(f"burst start_s must be >= 0 seconds, got {self.start_s}")
        if self.duration_s <= 0:
            raise ValueError(f"burst duration_s must be > 0 seconds, got {self.duration_s}")
        if self.parties_per_hour <= 0:
            raise ValueError(f"burst parties_per_hour must be > 0, got {self.parties_per_hour}")
        if self.dwell_s <= 0:
            raise ValueError(f"burst dwell_s must be > 0 seconds, got {self.dwell_s}")
        if not 0.0 <= self.buy_probability <= 1.0:
            raise ValueError(f"burst buy_probability must be in [0, 1], got {self.buy_probability}")
        if self.min_gap_s < 0:
            raise ValueError(f"burst min_gap_s must be >= 0 seconds, got {self.min_gap_s}")

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


# Offset mixed into the day's seed for the bursts' generator, so bursts never draw from the day's.
BURST_SEED_SALT = 18


def checkout_surge(start_s: float, duration_s: float = 300.0, parties_per_hour: float = 420.0) -> Burst:
    """Parties that go straight to the checkout queue (grab and go) faster than one till serves them."""
    return Burst(start_s, duration_s, parties_per_hour)


def promotion_crowd(
    zone_id: str, start_s: float, duration_s: float = 360.0, parties_per_hour: float = 300.0, dwell_s: float = 120.0
) -> Burst:
    """Parties drawn to a promotion in one product zone, staying a while; a third of them buy."""
    return Burst(start_s, duration_s, parties_per_hour, zone_id=zone_id, dwell_s=dwell_s, buy_probability=0.3)


@dataclass(frozen=True)
class StaffBreak:
    """Floor staff stay in the back office from start_s for duration_s (seconds after opening): a staff gap.

    A floor staff member who would be out on a task during it comes back first and stays in until it ends;
    the cashiers keep serving.
    """

    start_s: float
    duration_s: float

    def __post_init__(self) -> None:
        if self.start_s < 0:
            raise ValueError(f"staff break start_s must be >= 0 seconds, got {self.start_s}")
        if self.duration_s <= 0:
            raise ValueError(f"staff break duration_s must be > 0 seconds, got {self.duration_s}")

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s
