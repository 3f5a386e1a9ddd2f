"""Stream provisioning (DESIGN.md §3): idempotent, and a command of its own, never a side effect of publishing."""

from __future__ import annotations

import msgspec
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError

from schemas.subjects import DLQ_PREFIX, DLQ_STREAM, STREAM_OF_CHANNEL, stream_subjects

DAY_S = 86_400.0


class StreamLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Retention of one stream: max_age_s 0 keeps messages forever, max_bytes -1 is unlimited."""

    max_age_s: float
    max_bytes: int = -1


class LogConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How the log's streams are provisioned.

    duplicate_window_s must be longer than the longest edge retry (a spool
    drained after an outage republishes with the same ids).
    """

    replicas: int = 1
    duplicate_window_s: float = 2 * 3600.0
    limits: dict[str, StreamLimits] = msgspec.field(
        default_factory=lambda: {
            "FF_TRACKS": StreamLimits(30 * DAY_S),
            "FF_STATUS": StreamLimits(30 * DAY_S),
            "FF_LAYOUT": StreamLimits(0.0),
            "FF_DERIVED": StreamLimits(400 * DAY_S),
            "FF_ALERTS": StreamLimits(400 * DAY_S),
            "FF_POS": StreamLimits(400 * DAY_S),
            DLQ_STREAM: StreamLimits(400 * DAY_S),
        }
    )


class StreamChange(msgspec.Struct, frozen=True):
    """What `ensure_streams` did to one stream: action is created, updated or unchanged."""

    stream: str
    action: str
    changes: tuple[str, ...] = ()


def stream_configs(config: LogConfig) -> list[js_api.StreamConfig]:
    """Return the JetStream config of every footfall stream."""
    subjects: dict[str, list[str]] = {name: stream_subjects(ch) for ch, name in STREAM_OF_CHANNEL.items()}
    subjects[DLQ_STREAM] = [f"{DLQ_PREFIX}.>"]
    out = []
    for name, subs in subjects.items():
        limits = config.limits.get(name)
        if limits is None:
            raise ValueError(f"log config has no limits for stream {name!r}; known: {sorted(config.limits)}")
        out.append(
            js_api.StreamConfig(
                name=name,
                subjects=subs,
                storage=js_api.StorageType.FILE,
                retention=js_api.RetentionPolicy.LIMITS,
                discard=js_api.DiscardPolicy.OLD,
                max_age=limits.max_age_s,
                max_bytes=limits.max_bytes,
                duplicate_window=config.duplicate_window_s,
                num_replicas=config.replicas,
                deny_delete=True,
                deny_purge=True,
            )
        )
    return out


# The settings footfall owns; anything else on a stream is left as the operator set it.
_MANAGED = ("subjects", "max_age", "max_bytes", "duplicate_window", "num_replicas", "deny_delete", "deny_purge")


async def ensure_streams(js: JetStreamContext, config: LogConfig) -> list[StreamChange]:
    """Create missing streams and update changed settings; running it twice changes nothing."""
    results = []
    for wanted in stream_configs(config):
        assert wanted.name is not None
        try:
            info = await js.stream_info(wanted.name)
        except NotFoundError:
            await js.add_stream(wanted)
            results.append(StreamChange(wanted.name, "created"))
            continue
        current = info.config
        changes = []
        for attr in _MANAGED:
            before, after = getattr(current, attr), getattr(wanted, attr)
            if attr in ("max_age", "duplicate_window"):
                before, after = float(before or 0.0), float(after or 0.0)
            if before != after:
                changes.append(f"{attr}: {before!r} -> {after!r}")
        if changes:
            await js.update_stream(wanted)
            results.append(StreamChange(wanted.name, "updated", tuple(changes)))
        else:
            results.append(StreamChange(wanted.name, "unchanged"))
    return results
