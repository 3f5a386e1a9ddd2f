"""`footfall alerts forward`: POST each alert on FF_ALERTS to a webhook, signed, at least once."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from ops.cli import CommandTree
from ops.runtime import add_log_arguments

_HELP = """\
Forward alerts (AlertRaised, AlertCleared on ff.v1.<store>.alerts, stream
FF_ALERTS) to a webhook until stopped. Each alert is POSTed as its JSON (the
schema `footfall schemas export` writes: alert_raised / alert_cleared) with

  X-Footfall-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the secret>
  Idempotency-Key:      <the alert's event_id>
  X-Footfall-Event-Type: alert_raised | alert_cleared

Delivery is at least once: an alert is acked on the log only after a 2xx, so
after a crash or a lost answer it is POSTed again, with the same body and key;
the receiver drops repeats by Idempotency-Key. Connection errors, timeouts,
5xx, 408 and 429 are retried with exponential back-off (capped at
--backoff-max, with jitter), alerts kept in log order. Any other answer (4xx,
3xx) refuses the alert for good: it is dead-lettered to ff.dlq.v1.<durable>
(FF_DLQ, with the status and reason) and the next one goes.

The position is a durable consumer (--durable) on the server: a restarted
forwarder resumes after its last delivered alert; a new durable starts from
the oldest alert kept. An alert held by a forwarder that was killed is sent
again --ack-wait seconds later. SIGTERM or Ctrl-C stop after the alert in
hand. The secret file holds the shared secret (surrounding whitespace is not
part of it); it must exist and not be empty.
"""


def register(tree: CommandTree) -> None:
    tree.group("alerts", "Alert rules: backtest on history, forward to labour systems.")
    p = tree.add("alerts forward", "POST each alert to a webhook (HMAC-signed, at least once, resumable).", _forward,
                 description=_HELP)  # fmt: skip
    p.add_argument("--webhook", required=True, metavar="URL", help="http(s) URL the alerts are POSTed to")
    p.add_argument("--secret-file", required=True, type=Path, metavar="FILE", help="file holding the HMAC secret")
    p.add_argument("--store", default=None, metavar="STORE", help="forward this store's alerts only (default: all)")
    p.add_argument("--durable", default=None, metavar="NAME",
                   help="durable consumer name: the forwarder's position (default: alerts-webhook)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds one POST may take (default: 10)")
    p.add_argument("--backoff-max", type=float, default=30.0, metavar="S",
                   help="longest wait between retries of one alert, seconds (default: 30)")  # fmt: skip
    p.add_argument("--ack-wait", type=float, default=30.0, metavar="S",
                   help="seconds after which an alert held by a forwarder that died is sent again; "
                   "fixed when the durable is created (default: 30)")  # fmt: skip
    p.add_argument("--seed", type=int, default=None, help="seed of the back-off jitter (default: random)")
    add_log_arguments(p)


def _forward(args: argparse.Namespace) -> int:
    from ops.logging import get_logger
    from ops.runtime import log_url
    from schemas.ids import is_valid_id
    from stream.webhook import (
        DEFAULT_DURABLE,
        ForwardEvent,
        WebhookConfig,
        WebhookConfigError,
        WebhookForwarder,
        check_webhook_url,
        load_secret,
    )

    def refuse(message: str) -> int:
        print(f"footfall alerts forward: {message}", file=sys.stderr)
        return 2

    durable = args.durable or DEFAULT_DURABLE
    if args.store is not None and not is_valid_id(args.store):
        return refuse(f"--store must match [a-z0-9][a-z0-9_-]{{0,31}}, got {args.store!r}")
    if not is_valid_id(durable):
        return refuse(f"--durable must match [a-z0-9][a-z0-9_-]{{0,31}}, got {durable!r}")
    for name, value in (
        ("--timeout", args.timeout),
        ("--backoff-max", args.backoff_max),
        ("--ack-wait", args.ack_wait),
    ):
        if not value > 0:
            return refuse(f"{name} must be positive, got {value}")
    try:
        check_webhook_url(args.webhook)
        secret = load_secret(args.secret_file)
    except WebhookConfigError as exc:
        return refuse(str(exc))
    config = WebhookConfig(
        webhook_url=args.webhook, secret=secret, store=args.store, durable=durable, timeout_s=args.timeout,
        backoff_initial_s=min(0.5, args.backoff_max), backoff_max_s=args.backoff_max, ack_wait_s=args.ack_wait,
        seed=args.seed,
    )  # fmt: skip
    log = get_logger("footfall.alerts.forward").bind(webhook=args.webhook, durable=durable)

    def report(event: ForwardEvent) -> None:
        if event.kind == "delivered":
            log.info("alert delivered", event_id=event.event_id, seq=event.stream_seq, status=event.status,
                     attempt=event.attempt)  # fmt: skip
        elif event.kind == "retry":
            log.warning("webhook failed; will retry", event_id=event.event_id, seq=event.stream_seq,
                        status=event.status, detail=event.detail, attempt=event.attempt,
                        retry_in_s=round(event.delay_s, 3))  # fmt: skip
        elif event.kind == "dead_lettered":
            log.error("webhook refused alert; dead-lettered", event_id=event.event_id, seq=event.stream_seq,
                      status=event.status, detail=event.detail, dlq=f"ff.dlq.v1.{durable}")  # fmt: skip
        elif event.kind == "log_unavailable":
            log.warning("log unavailable; reconnecting", detail=event.detail, retry_in_s=round(event.delay_s, 3))
        else:
            log.info("forwarding", detail=event.detail, store=args.store or "*")

    async def run(url: str) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        stats = await WebhookForwarder(url, config, report=report).run(stop)
        log.info("forwarder stopped", delivered=stats.delivered, retries=stats.retries,
                 dead_lettered=stats.dead_lettered, reconnects=stats.reconnects)  # fmt: skip

    with log_url(args) as url:
        asyncio.run(run(url))
    return 0
