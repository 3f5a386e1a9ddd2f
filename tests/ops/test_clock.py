"""The times commands take (ISO 8601 with a zone) and default to (yesterday at opening)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ops.clock import OPENING_HOUR, iso_ns, yesterday_opening_ns


def test_iso_times_need_a_zone_and_keep_microseconds() -> None:
    assert iso_ns("2026-01-01T10:00:00Z") == 1_767_261_600_000_000_000
    assert iso_ns("2026-01-01T11:00:00.000250+01:00") == 1_767_261_600_000_250_000
    with pytest.raises(ValueError, match=r"'2026-01-01T10:00' has no time zone"):
        iso_ns("2026-01-01T10:00")
    with pytest.raises(ValueError, match="got 'yesterday'"):
        iso_ns("yesterday")


def test_the_default_start_is_yesterday_at_opening_in_the_given_zone() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    now = datetime(2026, 12, 6, 0, 30, tzinfo=berlin_winter)  # just after midnight: yesterday is the 5th
    start = datetime.fromtimestamp(yesterday_opening_ns(now) / 1e9, tz=UTC).astimezone(berlin_winter)
    assert (start.date().isoformat(), start.hour, start.minute) == ("2026-12-05", OPENING_HOUR, 0)
