"""Backtesting alert rules on history: FF_DERIVED's samples folded with candidate rules, in memory.

`footfall alerts backtest` (ops/commands/alerts_backtest.py) reads the store's layouts (FF_LAYOUT) and its
samples and zone and visit events (FF_DERIVED, in stream order: what the live processor folds; line
crossings skipped by their tag, undecoded), substitutes the candidate rules for the rules of every layout
version, and folds them with the live `AlertProcessor`, in batches, without a runner or checkpoints: nothing is
published and nothing is written to the store. The alert intervals are the ones the live processor
would publish for the same rules on the same log (the same fold, the same layouts by event time).

A rules file (.json or .toml) holds a list of rules with the fields of `AlertRule`, checked as strictly as
a layout config file (unknown keys, unknown metric or severity, bounds), and then against every layout
version of the store in force during the window (zone ids and kinds, clear_below, radius_m, unique ids):
each error names the rule and the field.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from projections.alerts.processor import FOLDED_METRICS, AlertProcessor
from projections.derived import DERIVED_EVENTS
from projections.layouts import LayoutHistory
from projections.projection import SeqEvent
from schemas.codec import convert, decode
from schemas.errors import SchemaError
from schemas.events import (
    AlertCleared,
    AlertRaised,
    AnyEvent,
    Event,
    LayoutPublished,
    OccupancySampled,
    QueueSampled,
    event_tag,
)
from schemas.layout import AlertRule, StoreLayout, rule_reason
from schemas.subjects import STREAM_OF_CHANNEL, Channel, subject
from stream.layouts import LayoutReader
from stream.replay import replay

DERIVED_STREAM = STREAM_OF_CHANNEL[Channel.ZONES]
FIRST_INTERVALS = 5  # intervals listed per rule by default
_NS = 1_000_000_000


class RulesFileError(ValueError):
    """A rules file that cannot be used: the message names the file, the rule and the field."""


class BacktestError(ValueError):
    """The log cannot be backtested as asked (no layout for the store, several stores and none chosen)."""


# --- the rules file ---------------------------------------------------------------------------------------


def load_rules(path: Path) -> tuple[AlertRule, ...]:
    """Read and check a rules file: a JSON list of rules, or {"rules": [...]} in JSON or TOML ([[rules]])."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulesFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            raw: Any = msgspec.toml.decode(data)
        elif suffix == ".json":
            raw = msgspec.json.decode(data)
        else:
            raise RulesFileError(f"{path}: a rules file is .json or .toml, got {suffix or 'no suffix'!r}")
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise RulesFileError(f"{path}: not valid {suffix[1:].upper()}: {exc}") from None
    return parse_rules(raw, str(path))


def parse_rules(raw: Any, source: str = "rules") -> tuple[AlertRule, ...]:
    """Check parsed builtins (a list of rule objects, or {"rules": [...]}) into rules; RulesFileError names
    the rule (index and rule_id) and the field."""
    if isinstance(raw, dict):
        unknown = [key for key in raw if key != "rules"]
        if unknown:
            raise RulesFileError(f"{source}: unknown key {unknown[0]!r} (a rules file has only `rules`)")
        raw = raw.get("rules", [])
    if not isinstance(raw, list) or not raw:
        raise RulesFileError(f"{source}: expected a non-empty list of rules (JSON [...], or `rules` / [[rules]])")
    rules = []
    for i, item in enumerate(raw):
        rule_id = item.get("rule_id") if isinstance(item, dict) else None
        name = f"rules[{i}]" + (f" (rule_id {rule_id!r})" if isinstance(rule_id, str) else "")
        if not isinstance(item, dict):
            raise RulesFileError(f"{source}: {name}: expected an object with the fields of a rule, got {item!r}")
        try:
            rules.append(convert(item, AlertRule))
        except SchemaError as exc:
            where = exc.path.removeprefix("$.").removeprefix("$") or "rule"
            got = f", got {exc.value!r}" if exc.has_value else ""
            reason = exc.reason.removeprefix(f"rule_id {rule_id!r}: ").removeprefix(f"{where} ")
            raise RulesFileError(f"{source}: {name}: field {where}: {reason}{got}") from None
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.rule_id in seen:
            raise RulesFileError(f"{source}: rules[{i}] (rule_id {rule.rule_id!r}): field rule_id: used twice")
        seen.add(rule.rule_id)
    return tuple(rules)


def check_rules(rules: Sequence[AlertRule], versions: Sequence[LayoutPublished], source: str = "rules") -> None:
    """Check the rules against every layout version given (the ones in force in the window), as a layout with
    them substituted for its rules; RulesFileError names the rule, the field and the layout version."""
    for published in versions:
        zones = {z.zone_id: z for z in published.layout.zones}
        for i, rule in enumerate(rules):
            reason = rule_reason(rule, zones)
            if reason is not None:
                raise RulesFileError(
                    f"{source}: rules[{i}] (rule_id {rule.rule_id!r}): field {reason[0]}: {reason[1]} "
                    f"(layout version {published.version} of store {published.store_id!r})"
                )
        try:
            msgspec.structs.replace(published.layout, rules=tuple(rules)).__post_init__()
        except ValueError as exc:
            raise RulesFileError(f"{source}: {exc} (layout version {published.version})") from None


def with_rules(versions: Sequence[LayoutPublished], rules: Sequence[AlertRule] | None) -> LayoutHistory:
    """A store's layout history with `rules` substituted in every version (None: the rules as published)."""
    history = LayoutHistory(versions[0].store_id)
    for published in versions:
        if rules is None:
            history.add(published)
        else:
            layout = msgspec.structs.replace(published.layout, rules=tuple(rules))
            history.add(msgspec.structs.replace(published, layout=layout))
    return history


def in_window(versions: Sequence[LayoutPublished], from_ns: int | None, to_ns: int | None) -> list[LayoutPublished]:
    """The layout versions in force at some time in [from_ns, to_ns) (all of them without bounds)."""
    ordered = sorted(versions, key=lambda v: (v.effective_from_ns, v.version))
    out = []
    for i, published in enumerate(ordered):
        ends = ordered[i + 1].effective_from_ns if i + 1 < len(ordered) else None
        starts_before_end = to_ns is None or published.effective_from_ns < to_ns
        if starts_before_end and (from_ns is None or ends is None or ends > from_ns):
            out.append(published)
    return out or ordered[-1:]


# --- the fold ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """One alert: raised and cleared (None while open at the end of the window), in ns; peak; reason."""

    raised_ns: int
    cleared_ns: int | None
    peak: float
    reason: str  # cleared, inactive, closed, or open

    @property
    def duration_s(self) -> float | None:
        return None if self.cleared_ns is None else (self.cleared_ns - self.raised_ns) / _NS


@dataclass
class RuleResult:
    """What one rule did over the window."""

    rule: AlertRule
    intervals: list[Interval] = field(default_factory=list)

    @property
    def folded(self) -> bool:
        """Whether the alert processor folds this rule.

        The others (unattended_dwell_s) need people's positions, which derived events do not carry.
        """
        rule = self.rule
        return rule.is_known and rule.metric in FOLDED_METRICS


class _Collector:
    """Folds samples with one AlertProcessor and turns its events and rows into intervals per rule."""

    def __init__(self, rules: Sequence[AlertRule], layouts: dict[str, LayoutHistory]) -> None:
        self.processor = AlertProcessor()
        self.layouts = layouts
        self.results = {rule.rule_id: RuleResult(rule) for rule in rules}
        self._open: dict[str, Interval] = {}
        self.events: list[Event] = []

    def fold(self, batch: list[SeqEvent]) -> None:
        result = self.processor.fold(batch, self.layouts)
        if not result.events:
            return
        rows = result.rows["alerts"].to_pylist()
        if len(rows) != len(result.events):
            raise AssertionError(f"alert processor gave {len(result.events)} events but {len(rows)} rows")
        self.events.extend(result.events)
        for event, row in zip(result.events, rows, strict=True):
            rule_id = event.rule_id  # type: ignore[attr-defined]
            if isinstance(event, AlertRaised):
                self._open[rule_id] = Interval(event.ts_ns, None, float(row["peak"]), "open")
            elif isinstance(event, AlertCleared):
                opened = self._open.pop(rule_id)
                self._rule(rule_id).intervals.append(
                    Interval(opened.raised_ns, event.ts_ns, float(row["peak"]), str(row["reason"]))
                )

    def finish(self) -> dict[str, RuleResult]:
        """Alerts open at the end of the window are reported open, with their peak so far."""
        for rule_id, opened in sorted(self._open.items()):
            open_now = self.processor.open_alerts()
            peak = next((p for (_, rule), (_, p) in open_now.items() if rule == rule_id), opened.peak)
            self._rule(rule_id).intervals.append(Interval(opened.raised_ns, None, peak, "open"))
        self._open.clear()
        return self.results

    def _rule(self, rule_id: str) -> RuleResult:
        if rule_id not in self.results:  # a rule of an older layout version, no longer current
            raise AssertionError(f"alert for rule {rule_id!r} not in the rule set")
        return self.results[rule_id]


@dataclass
class Backtest:
    """A backtest's outcome: per rule set (candidate, and current with compare) the results per rule."""

    store_id: str
    time_zone: str
    from_ns: int | None
    to_ns: int | None
    sets: dict[str, dict[str, RuleResult]]
    first_sample_ns: int | None
    last_sample_ns: int | None
    samples: int
    messages: int
    wall_s: float
    events: dict[str, list[Event]] = field(default_factory=dict)

    @property
    def history_s(self) -> float:
        """Seconds of frame time the samples covered."""
        if self.first_sample_ns is None or self.last_sample_ns is None:
            return 0.0
        return (self.last_sample_ns - self.first_sample_ns) / _NS

    @property
    def days(self) -> int:
        """Local calendar days (the layout's time zone) from the first sample to the last, inclusive."""
        if self.first_sample_ns is None or self.last_sample_ns is None:
            return 0
        tz = StoreLayout(time_zone=self.time_zone).tz
        first = dt.datetime.fromtimestamp(self.first_sample_ns / _NS, tz=tz).date()
        last = dt.datetime.fromtimestamp(self.last_sample_ns / _NS, tz=tz).date()
        return (last - first).days + 1

    def iso(self, ts_ns: int | None) -> str | None:
        """An instant as ISO 8601 in the store's time zone, to the millisecond."""
        if ts_ns is None:
            return None
        tz = StoreLayout(time_zone=self.time_zone).tz
        when = dt.datetime.fromtimestamp(ts_ns // 1_000_000 / 1000, tz=tz)
        return when.isoformat(timespec="milliseconds")

    def summary(self, result: RuleResult, intervals: int = FIRST_INTERVALS) -> dict[str, Any]:
        """A rule's figures: alerts, alert minutes (open alerts counted to the last sample), median and
        longest duration of the cleared ones, alerts per day, the first intervals."""
        rule, items = result.rule, result.intervals
        closed = [i.duration_s for i in items if i.duration_s is not None]
        end = self.last_sample_ns or 0
        minutes = sum((i.cleared_ns if i.cleared_ns is not None else max(end, i.raised_ns)) - i.raised_ns
                      for i in items) / _NS / 60  # fmt: skip
        return {
            "rule_id": rule.rule_id, "zone_id": rule.zone_id, "metric": rule.metric, "threshold": rule.threshold,
            "folded": result.folded, "alerts": len(items), "open": sum(i.cleared_ns is None for i in items),
            "alert_minutes": round(minutes, 3),
            "median_duration_s": round(statistics.median(closed), 3) if closed else None,
            "longest_duration_s": round(max(closed), 3) if closed else None,
            "alerts_per_day": round(len(items) / self.days, 3) if self.days else None,
            "intervals": [
                {"raised": self.iso(i.raised_ns), "cleared": self.iso(i.cleared_ns), "peak": i.peak,
                 "duration_s": None if i.duration_s is None else round(i.duration_s, 3), "reason": i.reason}
                for i in items[:intervals]
            ],
        }  # fmt: skip

    def report(self, intervals: int = FIRST_INTERVALS) -> dict[str, Any]:
        """The JSON report: the window, the timing, and per rule set its rules' summaries."""
        return {
            "store_id": self.store_id, "time_zone": self.time_zone,
            "from": self.iso(self.from_ns), "to": self.iso(self.to_ns),
            "first_sample": self.iso(self.first_sample_ns), "last_sample": self.iso(self.last_sample_ns),
            "days": self.days, "samples": self.samples, "messages_read": self.messages,
            "timing": {"wall_s": round(self.wall_s, 3), "history_s": round(self.history_s, 3),
                       "ratio_to_real_time": round(self.history_s / self.wall_s, 1) if self.wall_s > 0 else None},
            **{name: [self.summary(r, intervals) for r in results.values()] for name, results in self.sets.items()},
        }  # fmt: skip


class _Tagged(msgspec.Struct):
    type: str = ""


_tag_decoder = msgspec.msgpack.Decoder(_Tagged)
# What the live processor folds: the samples, and the zone and visit events customers_per_staff counts staff
# on the floor by (a backtest that read samples alone counted no staff, and raised that rule all day).
_FOLDED_TYPES = tuple(t for t in DERIVED_EVENTS if t not in AlertProcessor.ignored_types)
_FOLDED_TAGS = frozenset(event_tag(t) for t in _FOLDED_TYPES)


def _decode_folded(data: bytes) -> AnyEvent | None:
    """The event in a payload if the alert processor folds its type, else None (its tag is all that is read)."""
    try:
        if _tag_decoder.decode(data).type not in _FOLDED_TAGS:
            return None
    except msgspec.DecodeError:
        pass  # the full decode says what is wrong
    event = decode(data)
    return event if isinstance(event, _FOLDED_TYPES) else None


async def read_layouts(nc: NatsClient) -> dict[str, list[LayoutPublished]]:
    """Every LayoutPublished of the log, per store, in log order."""
    try:
        published = await LayoutReader(nc.jetstream()).read_new()
    except NotFoundError:
        return {}
    out: dict[str, list[LayoutPublished]] = {}
    for event in published:
        out.setdefault(event.store_id, []).append(event)
    return out


def choose_store(layouts: dict[str, list[LayoutPublished]], store_id: str | None) -> str:
    """The store to backtest: the one named, or the only one with a layout."""
    if store_id is not None:
        if store_id not in layouts:
            known = ", ".join(sorted(layouts)) or "none"
            raise BacktestError(f"store {store_id!r} has no layout in FF_LAYOUT (stores with one: {known})")
        return store_id
    if len(layouts) != 1:
        known = ", ".join(sorted(layouts)) or "none"
        raise BacktestError(f"name the store with --store (stores with a layout: {known})")
    return next(iter(layouts))


async def backtest(
    nc: NatsClient, rules: Sequence[AlertRule], versions: Sequence[LayoutPublished], *, from_ns: int | None = None,
    to_ns: int | None = None, compare: bool = False, batch: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> Backtest:  # fmt: skip
    """Fold the store's samples in [from_ns, to_ns) (frame time) with `rules` in place of each layout's rules
    (and, with compare, with the rules as published too); publishes and writes nothing.

    `versions`: the store's LayoutPublished events (read_layouts); the rules must pass check_rules.
    progress(seq, last_seq): after each batch read, the FF_DERIVED position and the stream's last sequence.
    """
    store_id = versions[0].store_id
    started = time.perf_counter()
    collectors = {"candidate": _Collector(rules, {store_id: with_rules(versions, rules)})}
    if compare:
        current = {r.rule_id: r for v in versions for r in v.layout.rules}  # every rule any version had
        collectors["current"] = _Collector(list(current.values()), {store_id: with_rules(versions, None)})
    js = nc.jetstream()
    try:
        last_seq = int((await js.stream_info(DERIVED_STREAM)).state.last_seq or 0)
    except NotFoundError:
        last_seq = 0
    first = last = None
    samples = messages = 0
    low = from_ns if from_ns is not None else -(2**63)
    high = to_ns if to_ns is not None else 2**63 - 1
    if last_seq:
        chunks = replay(nc, DERIVED_STREAM, filter_subject=subject(Channel.ZONES, store_id), batch=batch,
                        decoder=_decode_folded)  # fmt: skip
        async for chunk in chunks:
            messages += len(chunk)
            events = [SeqEvent(r.stream_seq, r.event) for r in chunk
                      if r.event is not None and low <= r.event.ts_ns < high]  # fmt: skip
            sampled = [e.event.ts_ns for e in events if isinstance(e.event, QueueSampled | OccupancySampled)]
            if sampled:
                samples += len(sampled)
                first = min(sampled) if first is None else min(first, *sampled)
                last = max(last or sampled[-1], *sampled)
            if events:
                for collector in collectors.values():
                    collector.fold(events)
            if progress is not None:
                progress(chunk[-1].stream_seq, last_seq)
    sets = {name: c.finish() for name, c in collectors.items()}
    wall_s = time.perf_counter() - started
    time_zone = versions[-1].layout.time_zone
    return Backtest(store_id, time_zone, from_ns, to_ns, sets, first, last, samples, messages, wall_s,
                    {name: c.events for name, c in collectors.items()})  # fmt: skip
