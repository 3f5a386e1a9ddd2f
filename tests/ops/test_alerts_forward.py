"""`footfall alerts forward` as a process (issue 18 must-hold): every alert reaches the receiver at least once
across the forwarder's own SIGKILL and a receiver answering 503 for a while; repeats carry the same
Idempotency-Key and body, every signature verifies; a bad secret file is a clear error and exit code 2.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from schemas.codec import decode_json
from stream.embedded import EmbeddedNats
from stream.provision import LogConfig, ensure_streams
from stream.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify
from tests.stream.test_webhook import alerts, publish
from tests.stream.webhook_receiver import Receiver

REPO = Path(__file__).resolve().parents[2]
SECRET = b"forward-secret"


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


def _forward(*args: str) -> list[str]:
    return [sys.executable, "-m", "ops.cli", "--log-format", "json", "alerts", "forward", *args]


def _start(url: str, webhook: str, secret: Path, log: Path) -> subprocess.Popen[bytes]:
    args = _forward("--url", url, "--webhook", webhook, "--secret-file", str(secret), "--store", "store-1",
                    "--durable", "labour", "--ack-wait", "1.5", "--backoff-max", "0.2", "--seed", "5")  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(args, env=_env(), stdout=out, stderr=out)


async def test_every_alert_arrives_across_sigkill_and_503s(
    fresh_nats: EmbeddedNats, js: JetStreamContext, tmp_path: Path
) -> None:
    await ensure_streams(js, LogConfig())
    first, later = alerts(30), alerts(10, start=30)
    await publish(js, first)
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET + b"\n")  # the trailing newline is not part of the secret
    log = tmp_path / "forward.log"
    with Receiver(delay_s=0.03) as receiver:
        receiver.script(503, 4)  # the receiver is down for a while at the start
        proc = _start(fresh_nats.url, receiver.url, secret, log)
        try:
            await asyncio.to_thread(receiver.wait_for, lambda: len(receiver.delivered_keys()) >= 12)
            proc.kill()  # SIGKILL mid-stream: an alert in flight, acks not yet sent
            proc.wait(10)
            await publish(js, later)
            receiver.script(503, 3)  # and down again when the forwarder comes back
            proc = _start(fresh_nats.url, receiver.url, secret, log)
            want = {e.event_id for e in first + later}
            await asyncio.to_thread(receiver.wait_for, lambda: receiver.delivered_keys() >= want, 60)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        requests = receiver.snapshot()

    assert receiver.delivered_keys() == want
    assert sum(r.status == 503 for r in requests) == 7
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for request in requests:
        assert verify(SECRET, request.body, request.headers[SIGNATURE_HEADER]), request
        key = request.headers[IDEMPOTENCY_HEADER]
        assert decode_json(request.body).event_id == key
        bodies[key].add(request.body)
    assert all(len(b) == 1 for b in bodies.values())  # a repeat is the same body under the same key
    # Resumed from the durable: only the alert in flight at the kill can come twice.
    assert sum(200 <= r.status < 300 for r in requests) <= len(want) + 1
    # The 503s were retried: each alert answered 503 was delivered later under the same key.
    for i, request in enumerate(requests):
        if request.status == 503:
            key = request.headers[IDEMPOTENCY_HEADER]
            assert any(r.status == 204 and r.headers[IDEMPOTENCY_HEADER] == key for r in requests[i + 1 :])
    text = log.read_text()
    assert '"webhook failed; will retry"' in text and '"forwarder stopped"' in text


@pytest.mark.parametrize("content", [None, b"", b"  \n"])
def test_bad_secret_file_is_a_clear_error_with_exit_code_2(tmp_path: Path, content: bytes | None) -> None:
    secret = tmp_path / "webhook.secret"
    if content is not None:
        secret.write_bytes(content)
    result = subprocess.run(
        _forward("--url", "nats://127.0.0.1:1", "--webhook", "http://127.0.0.1:1/x", "--secret-file", str(secret)),
        env=_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert str(secret) in result.stderr
    assert ("does not exist" if content is None else "is empty") in result.stderr
    assert "Traceback" not in result.stderr
