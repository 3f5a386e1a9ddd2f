"""Wall-clock times that commands take and default to: ISO 8601 with a zone, and "yesterday at opening"."""

from __future__ import annotations

from datetime import datetime, timedelta

# The hour a simulated store opens, in the machine's local time zone (the layout has no zone yet).
OPENING_HOUR = 9


def iso_ns(value: str) -> int:
    """Nanoseconds since the epoch of an ISO 8601 date-time that names its zone ("2026-12-05T09:00+01:00", "...Z").

    Raises ValueError naming the value: a time without a zone would be read differently on every machine.
    """
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected an ISO 8601 date-time such as 2026-12-05T09:00:00+01:00, got {value!r}") from None
    if when.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; add one, e.g. {value}Z or {value}+01:00")
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1_000


def yesterday_opening_ns(now: datetime | None = None, hour: int = OPENING_HOUR) -> int:
    """Yesterday at `hour`:00 local time, in ns since the epoch: recent history that every table keeps.

    now: the present (default: the clock, in the machine's zone); an aware `now` keeps its own zone.
    """
    local = datetime.now().astimezone() if now is None else now if now.tzinfo else now.astimezone()
    start = (local - timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return int(start.timestamp()) * 1_000_000_000
