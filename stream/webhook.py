"""Forwarding alerts from FF_ALERTS to a webhook: signed JSON POSTs, at least once, from a durable consumer.

Each message of FF_ALERTS (filtered to one store's `ff.v1.<store>.alerts`, or every store's) is POSTed
to the webhook as the event's JSON (`schemas.codec.encode_json`, the shape `footfall schemas export`
describes), with

    Content-Type: application/json
    X-Footfall-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with the secret>
    Idempotency-Key: <the event's event_id>
    X-Footfall-Event-Type: alert_raised | alert_cleared

The message is acked only after the receiver answered 2xx, so delivery is at least once: after a
crash, a timeout or a lost answer the same alert is POSTed again with the same Idempotency-Key and
the same body (so the same signature), and a receiver drops repeats by that key.

Answers and what the forwarder does with them:

- 2xx: delivered; ack.
- a connection error, a timeout, 5xx, 408 or 429: retried, the same alert, with exponential back-off
  (backoff_initial_s doubling up to backoff_max_s, each wait drawn in [d/2, d] from a random.Random of
  its own, seeded by the caller) until it is delivered or the forwarder is stopped. A Retry-After of
  a number of seconds on 429/503 lengthens a wait, never beyond backoff_max_s. While it waits the
  forwarder tells the server the alerts it holds are in progress, so none is handed out again meanwhile.
  Later alerts wait too: alerts reach the receiver in log order.
- any other answer (4xx, and 3xx: redirects are not followed, a POST must not turn into a GET): the
  receiver refuses this alert for good, and sending it again cannot help. The alert is dead-lettered
  (`ff.dlq.v1.<durable>` on FF_DLQ, with the status and the start of the answer in the
  Footfall-Reason header) and acked, and the next alert goes. Dead-lettering rather than logging and
  acking: the refused alert stays on the log, with the reason, where an operator can read it and send
  it again once the receiver is fixed, and the forwarder does not stall every later alert behind one
  the receiver will never take. Dropping it with a log line would lose it for the receiver with
  nothing left to resend from but FF_ALERTS itself.

Position: the durable consumer (`durable`, created on first start with DeliverPolicy.ALL, so a new
forwarder sends the stream's whole history) keeps the position on the server; a restarted forwarder
resumes after its last ack. An alert the forwarder held when it died is delivered again once
ack_wait_s has passed since the server last heard of it. ack_wait_s and the filter are fixed when the
durable is created; a later start binds the durable as it is.

Stopping: `stop` (SIGTERM in the CLI) is honoured between alerts. A POST in flight is finished and its
alert acked on 2xx; an alert waiting for a retry is not acked but handed back (nak), as are the
fetched alerts not yet sent, so a restart sends them at once.

This module logs nothing: what happens is reported through `report(ForwardEvent)`, and the CLI
(`footfall alerts forward`) decides what to log. Errors of the log are LogError/LogUnavailable; a bad
secret file or webhook URL is WebhookConfigError.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import hashlib
import hmac
import random
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nats.aio.client import Client as NatsClient

from schemas.codec import encode_json
from schemas.subjects import PREFIX, STREAM_OF_CHANNEL, Channel
from stream.connect import connect
from stream.consumer import Delivered, PullConsumer
from stream.errors import LogError, LogUnavailable

SIGNATURE_HEADER = "X-Footfall-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_TYPE_HEADER = "X-Footfall-Event-Type"
ALERTS_STREAM = STREAM_OF_CHANNEL[Channel.ALERTS]
DEFAULT_DURABLE = "alerts-webhook"
USER_AGENT = "footfall-alerts-forward/1"

_RETRY_STATUS = frozenset({408, 429})
_WIP = b"+WIP"
_NAK = b"-NAK"
_ANSWER_CHARS = 200  # of a refusing answer's body, kept in the dead letter's reason


class WebhookConfigError(LogError):
    """The forwarder cannot start: a secret file missing, unreadable or empty, or a bad webhook URL."""


def load_secret(path: Path) -> bytes:
    """The HMAC key in `path`: its bytes without surrounding whitespace (a trailing newline is not part of it)."""
    try:
        secret = path.read_bytes().strip()
    except FileNotFoundError:
        raise WebhookConfigError(f"secret file {path} does not exist") from None
    except IsADirectoryError:
        raise WebhookConfigError(f"secret file {path} is a directory") from None
    except OSError as exc:
        raise WebhookConfigError(f"secret file {path} cannot be read: {exc.strerror or exc}") from None
    if not secret:
        raise WebhookConfigError(f"secret file {path} is empty: it must hold the shared HMAC secret")
    return secret


def check_webhook_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host, else WebhookConfigError."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookConfigError(f"webhook URL must be http:// or https:// with a host, got {url!r}")
    return url


def sign(secret: bytes, body: bytes) -> str:
    """The X-Footfall-Signature value of `body`: "sha256=" and the hex HMAC-SHA256 keyed with `secret`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, signature: str) -> bool:
    """Whether `signature` (a header value) is the signature of `body`, compared in constant time."""
    return hmac.compare_digest(sign(secret, body), signature)


def alerts_filter(store: str | None) -> str:
    """The subject a forwarder reads: one store's alerts, or every store's."""
    return f"{PREFIX}.{store or '*'}.{Channel.ALERTS.value}"


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REFUSED = "refused"


@dataclass(frozen=True)
class Answer:
    """What one POST came to: an HTTP status (0 when there was none), and why, for a report."""

    status: int
    detail: str = ""
    retry_after_s: float | None = None

    @property
    def outcome(self) -> Outcome:
        if 200 <= self.status < 300:
            return Outcome.DELIVERED
        if self.status == 0 or self.status >= 500 or self.status in _RETRY_STATUS:
            return Outcome.RETRY
        return Outcome.REFUSED


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 3xx comes back as an HTTPError, i.e. as the answer it is


_opener = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> Answer:
    """POST `body` to `url` (blocking: run it in a thread) and return the answer; never raises for HTTP or I/O."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout_s) as response:
            response.read()
            return Answer(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            text = _read_text(exc)
        return Answer(exc.code, text, _retry_after(exc.headers.get("Retry-After")))
    except urllib.error.URLError as exc:
        return Answer(0, f"{type(exc.reason).__name__}: {exc.reason}")
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed answer (http.client errors are OSError)
        return Answer(0, f"{type(exc).__name__}: {exc}")


def _read_text(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read(4 * _ANSWER_CHARS)
    except OSError:
        return ""
    return " ".join(raw.decode("utf-8", "replace").split())[:_ANSWER_CHARS]


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: the back-off decides
    return seconds if seconds >= 0 else None


@dataclass(frozen=True)
class ForwardEvent:
    """What the forwarder just did, for the caller to log.

    kind: "delivered", "retry" (the alert will be sent again after delay_s), "dead_lettered" (refused),
    "log_unavailable" (the log was lost; reconnecting after delay_s), "connected".
    attempt counts the POSTs of this alert since it was fetched (1 for the first).
    """

    kind: str
    event_id: str = ""
    stream_seq: int = 0
    status: int = 0
    detail: str = ""
    attempt: int = 0
    delay_s: float = 0.0


@dataclass
class ForwardStats:
    delivered: int = 0
    retries: int = 0
    dead_lettered: int = 0
    reconnects: int = 0


@dataclass(frozen=True)
class WebhookConfig:
    """Where and how to forward. Seconds throughout; seed: of the back-off jitter (None: from the OS)."""

    webhook_url: str
    secret: bytes
    store: str | None = None
    durable: str = DEFAULT_DURABLE
    timeout_s: float = 10.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    ack_wait_s: float = 30.0
    batch: int = 16
    max_deliver: int = 1000
    seed: int | None = None

    def __post_init__(self) -> None:
        check_webhook_url(self.webhook_url)
        if not self.secret:
            raise WebhookConfigError("the webhook secret is empty")
        if not (0 < self.backoff_initial_s <= self.backoff_max_s):
            raise ValueError("need 0 < backoff_initial_s <= backoff_max_s")
        if self.timeout_s <= 0 or self.ack_wait_s <= 0 or self.batch < 1:
            raise ValueError("timeout_s and ack_wait_s must be positive and batch at least 1")


class Backoff:
    """Exponential back-off with jitter: the n-th wait (n from 0) is drawn in [d/2, d], d = min(max, initial * 2**n)."""

    def __init__(self, initial_s: float, max_s: float, rng: random.Random) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._rng = rng

    def delay(self, attempt: int, at_least_s: float | None = None) -> float:
        ceiling = min(self._max_s, self._initial_s * 2.0 ** min(attempt, 62))
        wait = self._rng.uniform(ceiling / 2.0, ceiling)
        if at_least_s is not None:
            wait = max(wait, min(at_least_s, self._max_s))
        return wait


Poster = Callable[[str, bytes, dict[str, str], float], Answer]
Reporter = Callable[[ForwardEvent], None]


class WebhookForwarder:
    """Reads FF_ALERTS with a durable pull consumer and POSTs each alert to the webhook (see the module doc)."""

    def __init__(
        self,
        nats_url: str,
        config: WebhookConfig,
        *,
        report: Reporter | None = None,
        poster: Poster = post,
    ) -> None:
        self._url = nats_url
        self._config = config
        self._report = report or (lambda _event: None)
        self._post = poster
        self._backoff = Backoff(config.backoff_initial_s, config.backoff_max_s, random.Random(config.seed))
        self.stats = ForwardStats()
        self._held: list[Delivered] = []

    async def run(self, stop: asyncio.Event) -> ForwardStats:
        """Forward until `stop` is set. The first connection failing raises LogUnavailable; a connection lost
        later is re-made with back-off (reported as "log_unavailable")."""
        first = True
        failures = 0
        while not stop.is_set():
            try:
                nc = await connect(self._url, name=f"footfall-alerts-forward-{self._config.durable}")
            except LogUnavailable:
                if first:
                    raise
                nc = None
            if nc is not None:
                first = False
                try:
                    await self._forward(nc, stop)
                    return self.stats
                except LogUnavailable as exc:
                    error: LogError = exc
                finally:
                    with contextlib.suppress(Exception):
                        await nc.close()
            else:
                error = LogUnavailable(f"cannot connect to {self._url}")
            delay = self._backoff.delay(failures)
            failures += 1
            self.stats.reconnects += 1
            self._report(ForwardEvent("log_unavailable", detail=str(error), delay_s=delay))
            await _wait(stop, delay)
        return self.stats

    async def _forward(self, nc: NatsClient, stop: asyncio.Event) -> None:
        config = self._config
        consumer = PullConsumer(
            nc, ALERTS_STREAM, config.durable, filter_subject=alerts_filter(config.store), batch=config.batch,
            ack_wait_s=config.ack_wait_s, max_deliver=config.max_deliver,
        )  # fmt: skip
        await consumer.open()
        self._report(ForwardEvent("connected", detail=f"{ALERTS_STREAM} durable {config.durable}"))
        try:
            while not stop.is_set():
                batch = await consumer.fetch(timeout_s=1.0)
                for i, delivered in enumerate(batch):
                    self._held = batch[i:]  # in hand: this alert and the fetched ones behind it
                    if stop.is_set() or not await self._deliver(nc, consumer, delivered, stop):
                        await _hand_back(nc, batch[i:])
                        return
        finally:
            await consumer.close()

    async def _deliver(self, nc: NatsClient, consumer: PullConsumer, delivered: Delivered, stop: asyncio.Event) -> bool:
        """POST one alert until delivered or refused (True: acked) or until stop while waiting (False)."""
        event = delivered.event
        body = encode_json(event)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(self._config.secret, body),
            IDEMPOTENCY_HEADER: event.event_id,
            EVENT_TYPE_HEADER: str(type(event).__struct_config__.tag),
        }
        attempt = 0
        while True:
            attempt += 1
            answer = await self._post_keeping_alive(nc, delivered, body, headers)
            outcome = answer.outcome
            report = ForwardEvent("", event.event_id, delivered.stream_seq, answer.status, answer.detail, attempt)
            if outcome is Outcome.DELIVERED:
                await consumer.ack([delivered])
                self.stats.delivered += 1
                self._report(dataclasses.replace(report, kind="delivered"))
                return True
            if outcome is Outcome.REFUSED:
                await consumer.reject(delivered, f"webhook answered {answer.status}: {answer.detail}".strip())
                self.stats.dead_lettered += 1
                self._report(dataclasses.replace(report, kind="dead_lettered"))
                return True
            delay = self._backoff.delay(attempt - 1, answer.retry_after_s)
            self.stats.retries += 1
            self._report(dataclasses.replace(report, kind="retry", delay_s=delay))
            if not await self._wait_keeping_alive(nc, delivered, stop, delay):
                return False

    async def _post_keeping_alive(
        self, nc: NatsClient, delivered: Delivered, body: bytes, headers: dict[str, str]
    ) -> Answer:
        """POST in a thread while telling the server, every third of ack_wait_s, that the alert is in hand."""
        task = asyncio.ensure_future(
            asyncio.to_thread(self._post, self._config.webhook_url, body, headers, self._config.timeout_s)
        )
        while True:
            done, _ = await asyncio.wait({task}, timeout=self._config.ack_wait_s / 3.0)
            if done:
                return task.result()
            await _in_progress(nc, self._held)

    async def _wait_keeping_alive(
        self, nc: NatsClient, delivered: Delivered, stop: asyncio.Event, delay: float
    ) -> bool:
        """Wait `delay` seconds (False if stop came first), keeping the alert in hand on the server."""
        loop = asyncio.get_running_loop()
        end = loop.time() + delay
        while (left := end - loop.time()) > 0:
            await _in_progress(nc, self._held)
            if await _wait(stop, min(left, self._config.ack_wait_s / 3.0)):
                return False
        return True


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if `stop` was set (at once or meanwhile)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _in_progress(nc: NatsClient, held: list[Delivered]) -> None:
    """Reset the ack timer of every alert in hand, so none is handed out again while an earlier one retries."""
    with contextlib.suppress(Exception):  # losing the connection shows at the next ack or fetch
        for item in held:
            await nc.publish(item.reply.decode(), _WIP)


async def _hand_back(nc: NatsClient, delivered: list[Delivered]) -> None:
    """Nak alerts fetched but not delivered, so the next start gets them at once rather than after ack_wait."""
    with contextlib.suppress(Exception):
        for item in delivered:
            await nc.publish(item.reply.decode(), _NAK)
        await nc.flush()
