"""Stream provisioning (DESIGN.md §3): idempotent, and a command of its own, never a side effect of publishing.

Configuration is a `LogConfig`, read from JSON or TOML by `load_config`
(unknown keys are an error) and adjusted by command-line flags. Limits given
for some streams are merged over the defaults of the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import nats.errors
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import APIError, NotFoundError

from schemas.subjects import DLQ_PREFIX, DLQ_STREAM, STREAM_OF_CHANNEL, stream_subjects
from stream.errors import ConfigError, LogUnavailable, ProvisionError
from stream.publisher import MAX_PAYLOAD_BYTES

# The streams refuse what the publisher would (DESIGN.md §6.1), also from a client that is not footfall's:
# the privacy bound on the payload, plus room for headers (JetStream counts them: Nats-Msg-Id, trace
# headers). Dead letters carry a refused message's payload and reason headers, so FF_DLQ has no bound.
HEADER_ALLOWANCE_BYTES = 4 * 1024
MAX_STORED_MSG_BYTES = MAX_PAYLOAD_BYTES + HEADER_ALLOWANCE_BYTES

DAY_S = 86_400.0

Seconds = Annotated[float, msgspec.Meta(ge=0.0, description="seconds")]


class StreamLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Retention of one stream: max_age_s (seconds) 0 keeps messages forever, max_bytes -1 is unlimited."""

    max_age_s: Seconds
    max_bytes: Annotated[int, msgspec.Meta(ge=-1, description="bytes; -1 is unlimited")] = -1


def default_limits() -> dict[str, StreamLimits]:
    """Retention per stream: tracks and status 30 days, layout forever, derived/alerts/pos/DLQ 400 days."""
    return {
        "FF_TRACKS": StreamLimits(30 * DAY_S),
        "FF_STATUS": StreamLimits(30 * DAY_S),
        "FF_LAYOUT": StreamLimits(0.0),
        "FF_DERIVED": StreamLimits(400 * DAY_S),
        "FF_ALERTS": StreamLimits(400 * DAY_S),
        "FF_POS": StreamLimits(400 * DAY_S),
        DLQ_STREAM: StreamLimits(400 * DAY_S),
    }


class LogConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How the log's streams are provisioned.

    replicas: 1 on the embedded server, 3 in a cluster.
    duplicate_window_s (seconds) must be longer than the longest edge retry
    (a spool drained after an outage republishes with the same ids).
    limits: per stream name; streams not named keep their defaults.
    """

    replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    duplicate_window_s: Annotated[float, msgspec.Meta(gt=0.0, description="seconds")] = 2 * 3600.0
    limits: dict[str, StreamLimits] = msgspec.field(default_factory=default_limits)


class StreamChange(msgspec.Struct, frozen=True):
    """What `ensure_streams` did to one stream: action is created, updated or unchanged."""

    stream: str
    action: str
    changes: tuple[str, ...] = ()


def stream_names() -> list[str]:
    """Every footfall stream, in provisioning order."""
    return [*STREAM_OF_CHANNEL.values(), DLQ_STREAM]


def read_config_file(path: Path, what: str) -> object:
    """A .json or .toml file decoded to plain values (ConfigError naming `what` and the path if it cannot
    be read, has another suffix or does not parse): what each config's own checks then convert."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    suffix = Path(path).suffix.lower()
    if suffix not in (".json", ".toml"):
        raise ConfigError(f"{what} {path} must end in .json or .toml, got {suffix!r}")
    try:
        return msgspec.json.decode(data) if suffix == ".json" else msgspec.toml.decode(data)
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{what} {path}: {exc}") from exc


def load_config(path: Path) -> LogConfig:
    """Read a LogConfig from a .json or .toml file; ConfigError names the bad field and value."""
    raw = read_config_file(path, "log config")
    try:
        config = msgspec.convert(raw, LogConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"log config {path}: {exc}") from exc
    return with_defaults(config)


def with_defaults(config: LogConfig) -> LogConfig:
    """Merge the config's limits over the defaults; ConfigError for a stream footfall does not have."""
    unknown = sorted(set(config.limits) - set(stream_names()))
    if unknown:
        raise ConfigError(f"log config names unknown stream(s) {unknown}; known: {stream_names()}")
    return msgspec.structs.replace(config, limits={**default_limits(), **config.limits})


def stream_configs(config: LogConfig) -> list[js_api.StreamConfig]:
    """Return the JetStream config of every footfall stream."""
    subjects: dict[str, list[str]] = {name: stream_subjects(ch) for ch, name in STREAM_OF_CHANNEL.items()}
    subjects[DLQ_STREAM] = [f"{DLQ_PREFIX}.>"]
    out = []
    for name, subs in subjects.items():
        limits = config.limits.get(name)
        if limits is None:
            raise ConfigError(f"log config has no limits for stream {name!r}; known: {sorted(config.limits)}")
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
                max_msg_size=MAX_STORED_MSG_BYTES if name != DLQ_STREAM else -1,
            )
        )
    return out


# The settings footfall owns; anything else on a stream is left as the operator set it.
_MANAGED = (
    "subjects",
    "storage",
    "max_age",
    "max_bytes",
    "duplicate_window",
    "num_replicas",
    "deny_delete",
    "deny_purge",
    "sources",
    "max_msg_size",
)


def _source_key(source: js_api.StreamSource) -> str:
    """A source as one comparable string: the server echoes sources back with fields we never set."""
    api = source.external.api if source.external is not None else ""
    return f"{source.name} filter={source.filter_subject or '>'} api={api or '(local)'}"


def _diff(current: js_api.StreamConfig, wanted: js_api.StreamConfig) -> list[str]:
    changes = []
    for attr in _MANAGED:
        before, after = getattr(current, attr), getattr(wanted, attr)
        if attr in ("max_age", "duplicate_window"):
            before, after = float(before or 0.0), float(after or 0.0)
        elif attr in ("deny_delete", "deny_purge"):
            before, after = bool(before), bool(after)
        elif attr == "subjects":
            before, after = sorted(before or []), sorted(after or [])
        elif attr == "sources":
            before, after = sorted(map(_source_key, before or [])), sorted(map(_source_key, after or []))
        if before != after:
            changes.append(f"{attr}: {_show(before)} -> {_show(after)}")
    return changes


def _show(value: object) -> str:
    return str(value.value) if isinstance(value, js_api.StorageType) else repr(value)


async def ensure_streams(js: JetStreamContext, config: LogConfig) -> list[StreamChange]:
    """Create missing streams and update changed settings; running it twice changes nothing.

    Raises ProvisionError when the server refuses a stream (e.g. replicas > 1
    on a single server, or a setting JetStream cannot change in place) and
    LogUnavailable when JetStream does not answer.
    """
    return await ensure_stream_configs(js, stream_configs(config))


async def ensure_stream_configs(js: JetStreamContext, streams: list[js_api.StreamConfig]) -> list[StreamChange]:
    """Like ensure_streams for stream definitions made elsewhere (a hub's sourcing streams, a leaf's own)."""
    results = []
    for wanted in streams:
        name = wanted.name
        assert name is not None
        try:
            try:
                info = await js.stream_info(name)
            except NotFoundError:
                await js.add_stream(wanted)
                results.append(StreamChange(name, "created"))
                continue
            changes = _diff(info.config, wanted)
            if changes:
                # Keep settings footfall does not manage as the operator set them.
                merged = info.config.evolve(**{attr: getattr(wanted, attr) for attr in _MANAGED})
                await js.update_stream(merged)
                results.append(StreamChange(name, "updated", tuple(changes)))
            else:
                results.append(StreamChange(name, "unchanged"))
        except APIError as exc:
            raise ProvisionError(f"provisioning stream {name}: {exc.description or exc} (code {exc.err_code})") from exc
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError, TimeoutError) as exc:
            raise LogUnavailable(
                f"provisioning stream {name}: JetStream did not answer ({type(exc).__name__})"
            ) from exc
        except nats.errors.ConnectionClosedError as exc:
            raise LogUnavailable(f"provisioning stream {name}: connection closed") from exc
    return results
